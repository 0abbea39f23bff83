"""What the run and compare pages show of a finished run, read from its outputs and put in the page's language.

A run's folder holds ``indicators_before.json``, ``indicators_after.json``, ``costs.json`` and ``summary.json``
(`ictgis.scenario.outputs`). Here they become: the indicators that changed (first, as ``93,9 → 98,5 %``) and those
that did not; the results that were only in summary.json (CO₂ and diesel avoided, households connected, sites
added …) summed over the interventions; the costs in "tỷ đồng"; and, for a comparison, the baseline, each run, the
difference, capex/opex/NPV and the cost per household connected and per person newly covered by 4G.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import g

from ictgis import indicators, labels
from ictgis.scenario import KEY_INDICATORS, delta_rows

from . import formats, jobs

#: Results of the interventions (``summary.json`` → ``interventions``) the run page sums and shows:
#: key → (Vietnamese, English, unit, decimals). Money in VND is shown in "tỷ đồng".
RESULTS: dict[str, tuple[str, str, str, int]] = {
    "households_connected": ("Hộ gia đình được kết nối cáp quang", "Households connected to fiber", "hộ", 0),
    "villages_connected": ("Thôn, bản được kéo cáp quang", "Villages connected to fiber", "thôn, bản", 0),
    "route_km": ("Chiều dài tuyến cáp mới", "New fiber route length", "km", 1),
    "sites_added": ("Trạm BTS mới", "New BTS sites", "trạm", 0),
    "sites_upgraded": ("Trạm được nâng cấp", "Sites upgraded", "trạm", 0),
    "points_added": ("Điểm BĐVHX mới", "New commune post offices", "điểm", 0),
    "diesel_sites_converted": ("Trạm bỏ máy nổ diesel", "Sites off diesel", "trạm", 0),
    "fuel_saved_litres_per_year": ("Dầu diesel tiết kiệm mỗi năm", "Diesel avoided per year", "lít", 0),
    "fuel_saved_vnd_per_year": ("Tiền dầu tiết kiệm mỗi năm", "Fuel cost avoided per year", "VND", 2),
    "co2_avoided_t_per_year": ("CO₂ giảm phát thải mỗi năm", "CO₂ avoided per year", "tấn", 1),
    "sites_removed": ("Trạm bị gỡ bỏ", "Sites removed", "trạm", 0),
}
UNITS_EN = {"hộ": "households", "thôn, bản": "villages", "trạm": "sites", "điểm": "points", "lít": "L",
            "tấn": "t"}


def _lang() -> str:
    return g.get("lang", "vi")


def load_json(folder: Path, name: str):
    """Return a JSON output of a run (None when missing or unreadable)."""
    path = folder / name
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def out_folder(record: dict) -> Path | None:
    """Return the output folder of a finished run (None otherwise)."""
    folder = jobs.runner().run_dir(record["id"])
    if folder is None or record.get("status") != "done":
        return None
    return folder / "out"


def show(key: str, value: object, *, sign: bool = False) -> str:
    """Format an indicator's value by its unit, with the unit (``94,4 %``, ``4,25 km``, ``3.670``)."""
    lab = labels.INDICATORS.get(key)
    unit = lab.unit if lab is not None else ""
    if unit == "%":
        return formats.percent(value, sign=sign)
    if unit == "km":
        return formats.km(value, decimals=2) if not sign else formats.number(value, decimals=2, sign=True) + " km"
    return formats.number(value, decimals=None if not isinstance(value, float) or value != int(value) else 0,
                          sign=sign)


def indicator_rows(before: dict, after: dict) -> tuple[list[dict], list[dict]]:
    """Return the key indicators that changed and those that did not, each with its texts in the page's language."""
    changed, same = [], []
    for row in delta_rows(before, after):
        lab = labels.label(row["indicator"])
        item = {"key": row["indicator"], "label": lab.text(_lang()), "unit": lab.unit,
                "before": show(row["indicator"], row["before"]), "after": show(row["indicator"], row["after"]),
                "change": "" if row["change"] is None else show(row["indicator"], row["change"], sign=True)}
        (changed if row["change"] not in (None, 0, 0.0) else same).append(item)
    return changed, same


def results(summary: dict | None) -> list[dict]:
    """Return the interventions' results of ``summary.json`` summed by kind (`RESULTS`), with their texts."""
    totals: dict[str, float] = {}
    for item in (summary or {}).get("interventions") or []:
        for key, value in item.items():
            if key in RESULTS and isinstance(value, (int, float)) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0.0) + float(value)
    out = []
    for key, (vi, en, unit, decimals) in RESULTS.items():
        if key not in totals:
            continue
        value = totals[key]
        if unit == "VND":
            text = formats.billion_vnd(value)
        else:
            text = formats.number(value, decimals=decimals) + " " + (UNITS_EN.get(unit, unit) if _lang() == "en"
                                                                       else unit)
        out.append({"key": key, "label": en if _lang() == "en" else vi, "value": value, "text": text})
    return out


def cost_rows(folder: Path | None) -> list[dict]:
    """Return the run's cost lines (``costs.json``) with capex, opex per year and NPV in "tỷ đồng"."""
    rows = load_json(folder, "costs.json") if folder is not None else None
    if not isinstance(rows, list):
        return []
    return [r | {"capex_text": formats.billion_vnd(r.get("capex_vnd"), unit=False),
                 "opex_text": formats.billion_vnd(r.get("opex_vnd_per_year"), unit=False),
                 "npv_text": formats.billion_vnd(r.get("npv_vnd"), unit=False),
                 "total": r.get("intervention") == "TOTAL"} for r in rows]


def run_view(record: dict) -> dict:
    """Return everything the run page shows of a run (empty parts while it is not finished)."""
    folder = out_folder(record)
    summary = load_json(folder, "summary.json") if folder is not None else None
    manifest = load_json(folder, "manifest.json") if folder is not None else None
    before = load_json(folder, "indicators_before.json") if folder is not None else None
    after = load_json(folder, "indicators_after.json") if folder is not None else None
    changed, same = indicator_rows(before, after) if before is not None and after is not None else ([], [])
    base = (manifest or {}).get("base") or {}
    return {"name": (summary or {}).get("name") or record.get("scenario"),
            "description": (summary or {}).get("description") or "",
            "changed": changed, "same": same, "results": results(summary), "costs": cost_rows(folder),
            "dataset_folder": base.get("dataset_folder") or base.get("folder") or record.get("dataset_folder"),
            "notes": (summary or {}).get("notes") or []}


def _total(summary: dict | None, key: str) -> float | None:
    value = (summary or {}).get(key)
    return float(value) if isinstance(value, (int, float)) else None


def compare_view(records: list[dict]) -> dict:
    """Return the comparison of finished runs: baseline, each run, the difference (last − first), the costs.

    The baseline is the first run's "before" indicators (the data it ran on). Costs per household connected and
    per person newly covered by 4G divide the run's capex by its households connected (fiber) and by the 4G
    population covered after minus before.
    """
    outs = [out_folder(r) for r in records]
    after = [load_json(f, "indicators_after.json") if f is not None else None for f in outs]
    before = [load_json(f, "indicators_before.json") if f is not None else None for f in outs]
    summaries = [load_json(f, "summary.json") if f is not None else None for f in outs]
    baseline = before[0]
    rows = []
    for key in KEY_INDICATORS:
        lab = labels.label(key)
        values = [indicators.lookup(r, key) if r else None for r in after]
        base = indicators.lookup(baseline, key) if baseline else None
        if base is None and all(v is None for v in values):
            continue
        diff = None
        if len(values) >= 2 and all(isinstance(v, (int, float)) for v in (values[0], values[-1])):
            diff = round(values[-1] - values[0], 2)
        rows.append({"label": lab.text(_lang()), "unit": lab.unit, "baseline": show(key, base),
                     "values": [show(key, v) for v in values],
                     "diff": "" if diff is None else show(key, diff, sign=True), "changed": diff not in (None, 0)})
    money = []
    for key, label_key in (("cost_total_capex_vnd", "capex"), ("cost_total_opex_vnd_per_year", "opex"),
                           ("cost_total_npv_vnd", "npv")):
        values = [_total(s, key) for s in summaries]
        diff = values[-1] - values[0] if len(values) >= 2 and None not in (values[0], values[-1]) else None
        money.append({"key": label_key, "values": [formats.billion_vnd(v) for v in values],
                      "diff": "" if diff is None else ("+" if diff > 0 else "") + formats.billion_vnd(diff)})
    per = []
    for i, s in enumerate(summaries):
        capex = _total(s, "cost_total_capex_vnd")
        households = sum(float(item.get("households_connected") or 0) for item in (s or {}).get("interventions")
                         or [])
        a, b = (indicators.lookup(after[i], "mobile.population_covered_4g") if after[i] else None,
                indicators.lookup(before[i], "mobile.population_covered_4g") if before[i] else None)
        people = (a - b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
        per.append({"households": formats.number(households), "people": formats.number(people),
                    "per_household": formats.billion_vnd(capex / households, decimals=3)
                    if capex is not None and households > 0 else "—",
                    "per_person": formats.billion_vnd(capex / people, decimals=3)
                    if capex is not None and people else "—"})
    return {"rows": rows, "money": money, "per": per, "complete": all(a is not None for a in after)}
