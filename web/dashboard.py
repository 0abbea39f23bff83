"""The leader's indicator page: each indicator beside its target, gap and status; bar charts per unit.

Charts per district (the 2019 structure) and per commune of the 2025 structure, for the share of villages on fiber,
the 4G populated-area coverage, the postal service radius and the people per postal point — SVG drawn here
(`web.charts`), numbers in the page's language (`web.formats`). The 4G values per unit come from the background
coverage (`web.analyses.coverage_result`); until it lands the chart says it is being computed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pandas as pd
from flask import current_app, g

from ictgis import IctgisError, admin, labels
from ictgis import indicators as ind

from . import data, formats
from .analyses import coverage_errors, coverage_indicators, coverage_result
from .charts import bar_chart
from .targets import STATUS_TEXT, Target, status, targets

logger = logging.getLogger(__name__)

#: The charted indicators: unit-table column, indicator key (for the label and the target), formatter.
CHARTS: tuple[tuple[str, str, Callable[..., str]], ...] = (
    ("villages_fiber_pct", "fiber.villages_fiber_pct", formats.percent),
    ("populated_area_4g_pct", "mobile.populated_area_4g_pct", formats.percent),
    ("postal_radius_km", "postal.service_radius_km", formats.km),
    ("people_per_point", "postal.people_per_point", formats.number),
)


def format_value(key: str, value: object, *, lang: str) -> str:
    """Format an indicator of the table by its unit (%, km, whole numbers)."""
    unit = labels.INDICATORS[key].unit if key in labels.INDICATORS else ""
    if unit == "%":
        return formats.number(value, decimals=1, lang=lang)
    if unit == "km":
        return formats.number(value, decimals=2, lang=lang)
    return formats.number(value, lang=lang)


def indicator_rows(result: dict, *, lang: str, pending: list[str]) -> list[dict]:
    """Rows of the indicator table: value, the plan's baseline, target, gap and status (with its word)."""
    goals = targets(current_app.config.get("INDICATOR_TARGETS"))
    rows = []
    for key, (group, label, value, unit) in zip(ind.TABLE_INDICATORS, ind.as_rows(result, lang=lang), strict=True):
        row = {"key": key, "group": group, "label": label, "unit": unit, "value": value,
               "text": format_value(key, value, lang=lang), "pending": key in pending and value is None,
               "target": None}
        goal: Target | None = goals.get(key)
        if goal is not None:
            state, gap = status(value if isinstance(value, (int, float)) else None, goal)
            word = STATUS_TEXT[state][1 if lang == "en" else 0]
            row.update(target=goal, status=state, status_text=word, gap=gap,
                       target_text=("≥ " if goal.higher_is_better else "≤ ") + format_value(key, goal.value,
                                                                                           lang=lang),
                       gap_text="" if gap is None else format_value(key, gap, lang=lang),
                       baseline_text=format_value(key, goal.baseline, lang=lang) if goal.baseline is not None
                       else "—")
        rows.append(row)
    return rows


def _covered_by(frame: pd.DataFrame, column: str) -> dict:
    grouped = frame.groupby(column)[["population", "population_covered"]].sum()
    pct = (100.0 * grouped["population_covered"] / grouped["population"].where(grouped["population"] > 0)).round(1)
    return {k: (None if pd.isna(v) else float(v)) for k, v in pct.items()}


def coverage_by_unit() -> tuple[dict, dict] | None:
    """Return the 4G populated-area % per district name and per 2025 commune code (None while computed)."""
    ds = data.dataset()
    result = coverage_result(ds, "4G")
    if result is None or result.communes.empty:
        return None
    per = result.communes
    districts = _covered_by(per, "district") if "district" in per else {}
    try:
        merged = data.memo("communes:2025", lambda: admin.aggregate_2025(ds["communes"]))
    except IctgisError:
        return districts, {}
    old_to_new = {old: code for code, olds in zip(merged["code"], merged["old_codes"], strict=True)
                  for old in str(olds).split(",")}
    frame = per.assign(unit=per["code"].map(old_to_new))
    return districts, _covered_by(frame.dropna(subset=["unit"]), "unit")


def charts(*, lang: str, pending: list[str] = ()) -> list[dict]:
    """Return the page's charts, per district (2019) then per commune (2025): ``{"id", "title", "svg" | "pending"}``."""
    goals = targets(current_app.config.get("INDICATOR_TARGETS"))
    cov = coverage_by_unit()
    groups = []
    r2019 = data.indicators("2019")
    if r2019.get("districts"):
        groups.append(("district", r2019["districts"], "district", 0))
    try:
        r2025 = data.indicators("2025")
    except IctgisError as exc:  # codes not in the official list: no 2025 structure for these data
        logger.info("no 2025 charts: %s", str(exc).splitlines()[0])
        r2025 = None
    if r2025 and r2025.get("communes"):
        groups.append(("commune_2025", r2025["communes"], "code", 1))
    out = []
    for unit_kind, records, id_column, cov_index in groups:
        for column, key, fmt in CHARTS:
            title = f"{labels.INDICATORS[key].text(lang)} — {_unit_word(unit_kind, lang)}"
            chart_id = f"chart-{unit_kind}-{column}"
            if column == "populated_area_4g_pct":
                if cov is None:  # being computed (the page reloads when it lands), or no DEM or sites: no chart
                    if key in pending:
                        out.append({"id": chart_id, "title": title, "pending": True})
                    continue
                values = cov[cov_index]
                items = [(r.get("name") or r.get("district") or "", values.get(r.get(id_column))) for r in records]
            else:
                items = [(r.get("name") or r.get("district") or "", r.get(column)) for r in records]
            goal = goals.get(key)

            def show(v, fmt=fmt):
                return fmt(v, lang=lang)

            svg = bar_chart(items, title=title, fmt=show, target=goal.value if goal else None,
                            target_text=(f"{_target_word(lang)} {show(goal.value)}" if goal else ""),
                            higher_is_better=goal.higher_is_better if goal else True, chart_id=chart_id)
            out.append({"id": chart_id, "title": title, "svg": svg})
    return out


def _unit_word(kind: str, lang: str) -> str:
    words = {"district": ("theo huyện (cấu trúc 2019)", "per district (2019 structure)"),
             "commune_2025": ("theo xã, phường (cấu trúc 2025)", "per commune (2025 structure)")}
    return words[kind][1 if lang == "en" else 0]


def _target_word(lang: str) -> str:
    return "target" if lang == "en" else "mục tiêu"


def page_context() -> dict:
    """Everything the indicator page shows, in the request's language."""
    lang = g.get("lang", "vi")
    result = data.indicators()
    ds = data.dataset()
    _values, pending = coverage_indicators(ds)
    pending = [key for key in pending if ind.lookup(result, key) is None]
    return {"rows": indicator_rows(result, lang=lang, pending=pending), "pending": pending,
            "coverage_errors": coverage_errors(ds),
            "communes": result["communes"], "result": result, "charts": charts(lang=lang, pending=pending),
            "version": data.served_version()}
