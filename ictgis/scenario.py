"""Investment scenarios: YAML files of interventions, validated, run on copies of the base layers, compared.

A scenario file::

    name: plan-2022
    description: Kế hoạch 2022 của Sở TT&TT
    base: ../data/shapefiles        # data folder, relative to this file
    structure: "2019"               # or "2025"
    parameters:                     # overrides of ictgis.settings (costs, rates, threshold …)
      usd_to_vnd: 25400
      discount_rate: 0.05
      horizon_years: 10
    interventions:
      - type: power                 # diesel → solar for the chosen sites (default: all diesel sites)
        to: solar
      - type: upgrade_sites
        sites: {where: {has: 3G, lacks: 4G}}
        add: [4G]
      - type: post_offices
        add: missing_bdvhx
      - type: project
        name: Nền tảng đô thị thông minh
        capex_vnd: 110000000000

`run` never modifies the base: every intervention works on a copy. Results are written into the output folder
atomically (a temporary folder renamed at the end; `manifest.json` is written last), so a half-finished run never
looks finished.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import platform
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import geopandas as gpd
import pandas as pd
import yaml

from . import __version__, indicators, settings, yamlfile
from ._errors import IctgisError, Problem, ScenarioError
from ._files import atomic_dir
from .interventions import APPLY, Context, CostLine
from .io import Dataset, load, write_layer
from .sheets import write_csv

logger = logging.getLogger(__name__)

TOP_KEYS = {"name": str, "description": str, "base": str, "structure": str, "parameters": dict,
            "interventions": list}
PARAMETERS = {
    "rsrp_threshold_dbm": float, "usd_to_vnd": float, "discount_rate": float, "horizon_years": int,
    "opex_share_per_year": float, "site_greenfield_usd": float, "site_upgrade_usd": float,
    "site_rent_usd_per_year": float, "solar_kit_usd": float, "grid_connection_usd": float,
    "diesel_litres_per_year": float, "diesel_vnd_per_litre": float, "co2_kg_per_litre_diesel": float,
    "bdvhx_capex_vnd": float, "bdvhx_opex_vnd_per_year": float, "fiber_opex_share_per_year": float,
}
SITE_SELECTION = {"ids": list, "where": dict}
SITE_WHERE = {"power", "operator", "has", "lacks", "only", "commune", "district"}
VILLAGE_WHERE = {"commune", "district", "fiber", "min_households", "min_population"}
INTERVENTIONS: dict[str, dict[str, object]] = {
    "power": {"to": ("solar", "grid"), "sites": SITE_SELECTION, "label": str},
    "upgrade_sites": {"add": list, "sites": SITE_SELECTION, "band_mhz": float, "label": str},
    "retire": {"technology": ("2G", "3G", "4G", "5G"), "sites": SITE_SELECTION, "label": str},
    "add_sites": {"sites": list, "optimize": dict, "label": str},
    "post_offices": {"add": ("missing_bdvhx",), "points": list, "label": str},
    "fiber": {"villages": ("all_gaps",), "ids": list, "where": dict, "budget_vnd": float,
              "installation": ("aerial", "underground"), "label": str},
    "project": {"name": str, "capex_vnd": float, "opex_vnd_per_year": float, "start_year": int, "years": int,
                "label": str},
}
REQUIRED = {"upgrade_sites": ("add",), "retire": ("technology",), "project": ("name", "capex_vnd")}
OPTIMIZE_KEYS = {"n_sites": int, "budget_vnd": float, "cover_all": bool, "technology": str, "candidates": str,
                 "operator": str,
                 "height_m": float}


@dataclass
class Scenario:
    """A parsed, checked scenario file."""

    path: Path
    name: str
    description: str
    base: Path
    structure: str
    parameters: dict
    interventions: list[dict]
    text_sha256: str
    lines: dict[tuple, int] = field(default_factory=dict, repr=False)


# ------------------------------------------------------------------------------------------- reading/checking
def _line_map(node: yaml.Node, path: tuple = ()) -> dict[tuple, int]:
    """Map each key path of a YAML document to its 1-based line."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, key.value)
            lines[sub] = key.start_mark.line + 1
            lines.update({k: v for k, v in _line_map(value, sub).items() if k != sub})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_map(item, (*path, i)))
    return lines


class _Checker:
    def __init__(self, file: str, lines: dict[tuple, int]):
        self.file, self.lines, self.problems = file, lines, []

    def add(self, path: tuple, message: str) -> None:
        line = None
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                line = self.lines[path[:cut]]
                break
        self.problems.append(Problem(self.file, f"line {line}: {message}" if line else message,
                                     row=line, column=".".join(map(str, path)) or None))

    def typed(self, path: tuple, value: object, kind: object) -> bool:
        if isinstance(kind, tuple):
            if value not in kind:
                self.add(path, f"{value!r} is not one of {', '.join(map(str, kind))}")
                return False
            return True
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            self.add(path, f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__} {value!r}")
        return ok


def read(path: str | Path, *, check_base: bool = True, base: str | Path | None = None) -> Scenario:
    """Read and check a scenario file, raising one ScenarioError that lists every problem with its line.

    Parameters
    ----------
    path
        The YAML file.
    check_base
        Also load the base data to check site and village ids named by interventions.
    base
        Data folder to use instead of the file's ``base:`` (e.g. a dataset version chosen in the web app); the
        file itself is not changed.

    Raises
    ------
    ScenarioError
        Unknown keys, wrong types, negative budgets or costs, unknown ids … each with its line number; a file
        larger than 1 MB or expanding through its aliases beyond `ictgis.yamlfile.MAX_VALUES` values.
    """
    path = Path(path)
    label = path.name
    try:
        doc = yamlfile.read(path, error=ScenarioError, label=label)  # bounded: size, aliases, depth
    except FileNotFoundError:
        raise ScenarioError(f"{path}: scenario file not found") from None
    text, root, data = doc.text, doc.root, doc.data
    lines = _line_map(root) if root is not None else {}
    chk = _Checker(label, lines)
    if not isinstance(data, dict):
        raise ScenarioError(f"{label}: a scenario is a mapping", [Problem(label, "expected keys " +
                                                                          ", ".join(TOP_KEYS))])
    for key, value in data.items():
        if key not in TOP_KEYS:
            chk.add((key,), f"unknown key '{key}' (known: {', '.join(TOP_KEYS)})")
        else:
            chk.typed((key,), value, TOP_KEYS[key])
    for key in ("name", "interventions"):
        if key not in data:
            chk.add((), f"missing required key '{key}'")
    structure = str(data.get("structure", "2019"))
    if structure not in ("2019", "2025"):
        chk.add(("structure",), f"structure {structure!r} is not 2019 or 2025")
    params = data.get("parameters") or {}
    if isinstance(params, dict):
        for key, value in params.items():
            if key not in PARAMETERS:
                chk.add(("parameters", key), f"unknown parameter '{key}'")
            elif chk.typed(("parameters", key), value, PARAMETERS[key]) and value < 0 and key != \
                    "rsrp_threshold_dbm":
                chk.add(("parameters", key), f"{key} must not be negative")
    items = data.get("interventions") if isinstance(data.get("interventions"), list) else []
    for i, item in enumerate(items):
        _check_intervention(chk, ("interventions", i), item)
    if base is not None:
        base = Path(base).resolve()
    elif "base" in data:
        base = (path.parent / str(data.get("base", settings.default_data_dir))).resolve()
    else:
        base = _default_base()
    if chk.problems:
        raise ScenarioError(f"{len(chk.problems)} problem(s) in {label}:", chk.problems)
    scenario = Scenario(path=path, name=str(data["name"]), description=str(data.get("description", "")),
                        base=base, structure=structure, parameters=dict(params), interventions=list(items),
                        text_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), lines=lines)
    if check_base:
        _check_against_base(scenario, chk)
        if chk.problems:
            raise ScenarioError(f"{len(chk.problems)} problem(s) in {label}:", chk.problems)
    return scenario


def rebased(scenario: Scenario, base: str | Path) -> Scenario:
    """Return a copy of a read scenario that runs on another data folder, checked against it.

    Raises
    ------
    ScenarioError
        When `base` does not load or lacks ids the interventions name.
    """
    sc = dataclasses.replace(scenario, base=Path(base).resolve())
    chk = _Checker(sc.path.name, sc.lines)
    _check_against_base(sc, chk)
    if chk.problems:
        raise ScenarioError(f"{len(chk.problems)} problem(s) in {sc.path.name}:", chk.problems)
    return sc


def _default_base() -> Path:
    from .io import default_data_dir

    return default_data_dir().resolve()


def _check_intervention(chk: _Checker, path: tuple, item: object) -> None:
    if not isinstance(item, dict):
        chk.add(path, "an intervention is a mapping with a 'type'")
        return
    kind = item.get("type")
    if kind not in INTERVENTIONS:
        chk.add((*path, "type"), f"unknown intervention type {kind!r} (known: {', '.join(INTERVENTIONS)})")
        return
    allowed = INTERVENTIONS[kind]
    for key, value in item.items():
        if key == "type":
            continue
        if key not in allowed:
            chk.add((*path, key), f"unknown key '{key}' for {kind} (known: {', '.join(allowed)})")
            continue
        spec = allowed[key]
        if spec is SITE_SELECTION:
            _check_site_selection(chk, (*path, key), value)
        elif chk.typed((*path, key), value, spec) and isinstance(value, (int, float)) and value < 0:
            chk.add((*path, key), f"{key} must not be negative")
    for key in REQUIRED.get(kind, ()):
        if key not in item:
            chk.add(path, f"{kind} needs '{key}'")
    if kind == "upgrade_sites" and isinstance(item.get("add"), list):
        for j, tech in enumerate(item["add"]):
            if str(tech).upper() not in ("4G", "5G", "3G"):
                chk.add((*path, "add", j), f"cannot add technology {tech!r} (4G, 5G)")
    if kind == "add_sites":
        if ("sites" in item) == ("optimize" in item):
            chk.add(path, "add_sites needs either 'sites' (a list) or 'optimize'")
        for j, site in enumerate(item.get("sites") or []):
            if not isinstance(site, dict) or "id" not in site or not (
                    {"x", "y"} <= set(site) or {"lon", "lat"} <= set(site)):
                chk.add((*path, "sites", j), "a new site needs id and x, y (EPSG:9205) or lon, lat")
        opt = item.get("optimize")
        if isinstance(opt, dict):
            for key, value in opt.items():
                if key not in OPTIMIZE_KEYS:
                    chk.add((*path, "optimize", key), f"unknown key '{key}' (known: {', '.join(OPTIMIZE_KEYS)})")
                elif chk.typed((*path, "optimize", key), value, OPTIMIZE_KEYS[key]) and \
                        isinstance(value, (int, float)) and value < 0:
                    chk.add((*path, "optimize", key), f"{key} must not be negative")
            if not ({"n_sites", "budget_vnd", "cover_all"} & set(opt)):
                chk.add((*path, "optimize"), "optimize needs n_sites, budget_vnd or cover_all: true")
    if kind == "fiber":
        if not ({"villages", "ids", "where", "budget_vnd"} & set(item)):
            chk.add(path, "fiber needs villages: all_gaps, ids, where or budget_vnd")
        for key in set(item.get("where") or {}) - VILLAGE_WHERE if isinstance(item.get("where"), dict) else ():
            known = ", ".join(sorted(VILLAGE_WHERE))
            chk.add((*path, "where", key), f"unknown village filter '{key}' (known: {known})")
    if kind == "post_offices" and not ({"add", "points"} & set(item)):
        chk.add(path, "post_offices needs add: missing_bdvhx or points")


def _check_site_selection(chk: _Checker, path: tuple, value: object) -> None:
    if not isinstance(value, dict):
        chk.add(path, "a site selection is a mapping with ids and/or where")
        return
    for key, sub in value.items():
        if key not in SITE_SELECTION:
            chk.add((*path, key), f"unknown key '{key}' (known: ids, where)")
        elif chk.typed((*path, key), sub, SITE_SELECTION[key]) and key == "where":
            for wkey in sub:
                if wkey not in SITE_WHERE:
                    known = ", ".join(sorted(SITE_WHERE))
                    chk.add((*path, key, wkey), f"unknown site filter '{wkey}' (known: {known})")


def _check_against_base(scenario: Scenario, chk: _Checker) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            base = load(scenario.base)
    except IctgisError as exc:
        chk.add(("base",), f"base data {scenario.base} does not load: {str(exc).splitlines()[0]}")
        return
    sites = set(base["bts_sites"]["id"]) if "bts_sites" in base else set()
    villages = set(base["villages"]["id"]) if "villages" in base else set()
    for i, item in enumerate(scenario.interventions):
        path = ("interventions", i)
        selection = item.get("sites") if isinstance(item.get("sites"), dict) else {}
        for j, sid in enumerate(selection.get("ids") or []):
            if str(sid) not in sites:
                chk.add((*path, "sites", "ids", j), f"site id {sid!r} does not exist in the base data")
        if item.get("type") == "add_sites":
            for j, site in enumerate(item.get("sites") or []):
                if isinstance(site, dict) and str(site.get("id")) in sites:
                    chk.add((*path, "sites", j), f"new site id {site['id']!r} already exists")
        if item.get("type") == "fiber":
            for j, vid in enumerate(item.get("ids") or []):
                if str(vid) not in villages:
                    chk.add((*path, "ids", j), f"village id {vid!r} does not exist in the base data")


def json_schema() -> dict:
    """Return a JSON Schema (draft 2020-12) of scenario files, built from the same tables `read` checks against.

    Editors that understand JSON Schema (e.g. VS Code's YAML support) use it for completion and checks; `read`
    remains the authority (it also checks ids against the base data and reports line numbers).
    """

    def of(kind: object) -> dict:
        if isinstance(kind, tuple):
            return {"enum": list(kind)}
        if kind is SITE_SELECTION:
            return {"type": "object", "additionalProperties": False,
                    "properties": {"ids": {"type": "array", "items": {"type": ["string", "integer"]}},
                                   "where": {"type": "object", "propertyNames": {"enum": sorted(SITE_WHERE)}}}}
        return {str: {"type": "string"}, float: {"type": "number", "minimum": 0},
                int: {"type": "integer", "minimum": 0}, bool: {"type": "boolean"},
                list: {"type": "array"}, dict: {"type": "object"}}[kind]

    variants = []
    for name, keys in INTERVENTIONS.items():
        props = {"type": {"const": name}} | {k: of(v) for k, v in keys.items()}
        if name == "add_sites":
            props["optimize"] = {"type": "object", "additionalProperties": False,
                                 "properties": {k: of(v) for k, v in OPTIMIZE_KEYS.items()}}
        if name == "fiber":
            props["where"] = {"type": "object", "propertyNames": {"enum": sorted(VILLAGE_WHERE)}}
        variants.append({"type": "object", "additionalProperties": False, "properties": props,
                         "required": ["type", *REQUIRED.get(name, ())]})
    params = {k: ({"type": "number"} if k == "rsrp_threshold_dbm" else of(v)) for k, v in PARAMETERS.items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ictgis scenario", "type": "object", "additionalProperties": False,
        "required": ["name", "interventions"],
        "properties": {
            "name": {"type": "string"}, "description": {"type": "string"}, "base": {"type": "string"},
            "structure": {"enum": ["2019", "2025"]},
            "parameters": {"type": "object", "additionalProperties": False, "properties": params},
            "interventions": {"type": "array", "items": {"oneOf": variants}},
        },
    }


# ------------------------------------------------------------------------------------------------- running
@dataclass
class RunResult:
    """What `run` wrote and computed."""

    out_dir: Path
    before: dict
    after: dict
    delta: pd.DataFrame
    costs: pd.DataFrame
    notes: list[str]


KEY_INDICATORS: tuple[str, ...] = (
    "postal.service_points", "postal.service_radius_km", "postal.people_per_point",
    "postal.xa_with_cultural_post_office", "postal.xa_with_cultural_post_office_pct", "mobile.bts_sites",
    "mobile.sites_3g", "mobile.sites_4g", "mobile.sites_5g", "mobile.sites_diesel", "mobile.sites_solar",
    "mobile.populated_area_3g_pct", "mobile.populated_area_4g_pct", "mobile.villages_covered_4g",
    "fiber.villages_with_fiber", "fiber.villages_without_fiber", "fiber.villages_fiber_pct", "fiber.route_km",
    "broadcast.units_with_radio",
)

#: Hooks that add analysis results (coverage …) to the indicators: f(dataset, params) -> dict of extra keys.
INDICATOR_HOOKS: list[Callable[[Dataset, dict], dict]] = []


def compute_indicators(ds: Dataset, *, structure: str, params: dict) -> dict:
    """Compute the indicators of a dataset plus what analysis hooks add (e.g. 4G populated-area coverage)."""
    result = indicators.compute(ds, structure=structure)
    hooks = list(INDICATOR_HOOKS)
    if ds.dem_path is not None:
        from .coverage import indicator_hook

        hooks.append(indicator_hook)
    for hook in hooks:
        for key, value in hook(ds, params).items():
            group, name = key.split(".", 1)
            result.setdefault(group, {})[name] = value
    return result


def run(scenario: Scenario | str | Path, out_dir: str | Path, *, force: bool = False,
        progress: Callable[[float, str], None] | None = None, base: str | Path | None = None,
        base_info: dict | None = None) -> RunResult:
    """Apply a scenario to copies of its base layers and write before/after indicators, costs and layers.

    Parameters
    ----------
    scenario
        A `Scenario` or the path of a scenario file.
    out_dir
        Output folder, written atomically; an existing finished run is replaced only with `force`.
    force
        Replace an existing output folder.
    progress
        Called with (fraction done, message) as the run advances.
    base
        Data folder to run on instead of the scenario's base (the file is not changed; the ids it names are
        checked against this folder).
    base_info
        Facts about the base data recorded in ``manifest.json`` under ``base`` (JSON values), e.g. the web app's
        ``dataset_version``.

    Returns
    -------
    RunResult

    Raises
    ------
    ScenarioError
        Problems in the scenario file, or ids it names that `base` does not hold.
    """
    if isinstance(scenario, Scenario):
        sc = scenario if base is None else rebased(scenario, base)
    else:
        sc = read(scenario, base=base)
    out_dir = Path(out_dir)
    if out_dir.exists() and not force:
        raise ScenarioError(f"{out_dir} exists", [Problem(str(out_dir), "output folder exists: choose another or "
                                                          "use --force")])
    report = progress or (lambda f, m: logger.info("%3.0f%% %s", 100 * f, m))
    report(0.0, f"loading {sc.base}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = load(sc.base)
    params = dict(sc.parameters)
    work = base.copy()
    report(0.1, "indicators before")
    before = compute_indicators(base, structure=sc.structure, params=params)
    costs: list[CostLine] = []
    notes: list[str] = []
    changed: set[str] = set()
    extras = []
    n = max(1, len(sc.interventions))
    for i, item in enumerate(sc.interventions):
        label = item.get("label") or f"{i + 1}. {item['type']}"
        report(0.15 + 0.6 * i / n, f"applying {label}")
        outcome = APPLY[item["type"]](work, item, Context(params=params, label=label))
        costs.extend(outcome.costs)
        notes.extend(f"{label}: {m}" for m in outcome.notes)
        changed |= outcome.changed
        extras.append({"intervention": label, "type": item["type"], **outcome.extra})
    report(0.8, "indicators after")
    after = compute_indicators(work, structure=sc.structure, params=params)
    delta = delta_table(before, after)
    cost_table = cost_frame(costs, params=params)
    report(0.9, f"writing {out_dir}")
    _write_outputs(sc, out_dir, base=base, work=work, before=before, after=after, delta=delta, costs=cost_table,
                   notes=notes, extras=extras, changed=changed, params=params, base_info=base_info)
    report(1.0, "done")
    return RunResult(out_dir=out_dir, before=before, after=after, delta=delta, costs=cost_table, notes=notes)


def delta_table(before: dict, after: dict, keys: tuple[str, ...] = KEY_INDICATORS) -> pd.DataFrame:
    """Before/after/change of the key indicators (None where unavailable)."""
    rows = []
    for key in keys:
        b, a = indicators.lookup(before, key), indicators.lookup(after, key)
        if b is None and a is None:
            continue
        d = None if (b is None or a is None) else round(a - b, 2)
        rows.append({"indicator": key, "before": b, "after": a, "change": d})
    return pd.DataFrame(rows, columns=["indicator", "before", "after", "change"])


def cost_frame(lines: list[CostLine], *, params: dict) -> pd.DataFrame:
    """Cost table: one row per cost line with NPV over the horizon, plus a total row."""
    rate = float(params.get("discount_rate", settings.discount_rate))
    horizon = int(params.get("horizon_years", settings.horizon_years))
    rows = [{"intervention": c.intervention, "item": c.item, "quantity": c.quantity,
             "capex_vnd": round(c.capex_vnd), "opex_vnd_per_year": round(c.opex_vnd_per_year),
             "npv_vnd": round(c.npv_vnd(rate=rate, horizon=horizon))} for c in lines]
    frame = pd.DataFrame(rows, columns=["intervention", "item", "quantity", "capex_vnd", "opex_vnd_per_year",
                                        "npv_vnd"])
    total = {"intervention": "TOTAL", "item": f"NPV at {rate:.0%} over {horizon} years", "quantity": None,
             "capex_vnd": int(frame["capex_vnd"].sum()), "opex_vnd_per_year": int(frame["opex_vnd_per_year"].sum()),
             "npv_vnd": int(frame["npv_vnd"].sum())}
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def changes(base: Dataset, work: Dataset) -> gpd.GeoDataFrame:
    """Return what a scenario changed, feature by feature, in EPSG:4326.

    New and removed sites, post offices and fiber routes; sites with technologies added (`upgraded`) or switched
    off (`retired`) or another power source (`power`); villages newly on fiber (`connected`). Columns: `layer`,
    `id`, `name`, `change`, `detail`.
    """
    from .crs import to_crs
    from .layers import parse_tech

    rows: list[dict] = []

    def add(row, layer: str, change: str, detail: str) -> None:
        rows.append({"layer": layer, "id": str(row.get("id", "")), "name": str(row.get("name", "") or ""),
                     "change": change, "detail": detail, "geometry": row.geometry})

    for layer in ("bts_sites", "post_offices", "fiber_routes", "villages"):
        old, new = base.get(layer), work.get(layer)
        if old is None or new is None or "id" not in new:
            continue
        old_by_id = old.set_index("id")
        for _, row in new[~new["id"].isin(old["id"])].iterrows():
            add(row, layer, "added", _describe(row))
        for _, row in old[~old["id"].isin(new["id"])].iterrows():
            add(row, layer, "removed", _describe(row))
        for _, row in new[new["id"].isin(old["id"])].iterrows():
            before = old_by_id.loc[row["id"]]
            if "tech" in row:
                was, now = set(parse_tech(before["tech"])), set(parse_tech(row["tech"]))
                if now - was:
                    add(row, layer, "upgraded", "+" + ",".join(sorted(now - was)))
                if was - now:
                    add(row, layer, "retired", "−" + ",".join(sorted(was - now)))
            if "power" in row and str(row["power"]) != str(before["power"]):
                add(row, layer, "power", f"{before['power']} → {row['power']}")
            if "fiber" in row and bool(row["fiber"]) and not bool(before["fiber"] if pd.notna(before["fiber"])
                                                                   else False):
                add(row, layer, "connected", "fiber")
    if not rows:
        return gpd.GeoDataFrame({k: [] for k in ("layer", "id", "name", "change", "detail")}, geometry=[],
                                crs="EPSG:4326")
    return to_crs(gpd.GeoDataFrame(rows, geometry="geometry", crs=work.crs), "EPSG:4326")


def _describe(row) -> str:
    parts = [f"{k}: {row[k]}" for k in ("tech", "power", "kind", "install") if k in row and pd.notna(row[k])]
    return ", ".join(parts)


def _json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=_default) + "\n",
                    encoding="utf-8")


def _default(value: object):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value))


def _file_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "ictgis": __version__}
    for dist in ("numpy", "pandas", "geopandas", "shapely", "pyproj", "pyogrio", "rasterio", "networkx", "scipy",
                 "openpyxl", "PyYAML"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _write_outputs(sc: Scenario, out_dir: Path, *, base, work, before, after, delta, costs, notes, extras, changed,
                   params, base_info: dict | None = None) -> None:
    with atomic_dir(out_dir) as tmp:
        before_public = {k: v for k, v in before.items() if k != "data_dir"}
        after_public = {k: v for k, v in after.items() if k != "data_dir"}
        _json(tmp / "indicators_before.json", before_public)
        _json(tmp / "indicators_after.json", after_public)
        write_csv(delta, tmp / "delta.csv")
        write_csv(costs, tmp / "costs.csv")
        _json(tmp / "costs.json", costs.to_dict(orient="records"))
        _write_xlsx(tmp / "scenario.xlsx", sc, delta, costs)
        for name in sorted(changed):
            if name in work.layers:
                write_layer(work[name], tmp / "layers.gpkg", layer=name)
        after_cov = work.analyses.get("coverage_4g")
        if after_cov is not None:  # the "after" 4G coverage, for Google Earth
            from .coverage import write_kmz

            write_kmz(after_cov, tmp / "coverage_4g_after.kmz")
        diff = changes(base, work)
        (tmp / "changes.geojson").write_text(diff.to_json(drop_id=True, ensure_ascii=False), encoding="utf-8")
        summary = {"name": sc.name, "description": sc.description, "structure": sc.structure,
                   "key_indicators": delta.to_dict(orient="records"),
                   "cost_total_capex_vnd": int(costs["capex_vnd"].iloc[-1]),
                   "cost_total_opex_vnd_per_year": int(costs["opex_vnd_per_year"].iloc[-1]),
                   "cost_total_npv_vnd": int(costs["npv_vnd"].iloc[-1]),
                   "interventions": extras, "notes": notes, "changed_layers": sorted(changed),
                   "changes": {f"{layer}:{change}": int(n) for (layer, change), n in
                               diff.groupby(["layer", "change"]).size().items()} if len(diff) else {}}
        _json(tmp / "summary.json", summary)
        manifest = {"scenario": {"file": sc.path.name, "sha256": sc.text_sha256, "name": sc.name},
                    "base": {**(base_info or {}), "folder": sc.base.name, "files": _file_hashes(sc.base)},
                    "parameters": {k: params.get(k, getattr(settings, k, None)) for k in sorted(PARAMETERS)
                                   if hasattr(settings, k) or k in params},
                    "versions": _versions(),
                    "outputs": _file_hashes(tmp)}
        _json(tmp / "manifest.json", manifest)  # written last: its presence marks a finished run


LABELS_VI = {
    "postal.service_points": "Số điểm phục vụ bưu chính", "postal.service_radius_km": "Bán kính phục vụ (km)",
    "postal.people_per_point": "Số dân/điểm phục vụ", "postal.xa_with_cultural_post_office": "Số xã có BĐVHX",
    "postal.xa_with_cultural_post_office_pct": "Tỷ lệ xã có BĐVHX (%)", "mobile.bts_sites": "Số trạm BTS",
    "mobile.sites_3g": "Trạm 3G", "mobile.sites_4g": "Trạm 4G", "mobile.sites_5g": "Trạm 5G",
    "mobile.sites_diesel": "Trạm chạy diesel", "mobile.sites_solar": "Trạm năng lượng mặt trời",
    "mobile.populated_area_4g_pct": "Vùng dân cư được phủ sóng 4G (%)",
    "mobile.populated_area_3g_pct": "Vùng dân cư được phủ sóng 3G (%)",
    "mobile.villages_covered_4g": "Thôn, bản có sóng 4G", "fiber.villages_with_fiber": "Thôn, bản có cáp quang",
    "fiber.villages_without_fiber": "Thôn, bản chưa có băng rộng cố định",
    "fiber.villages_fiber_pct": "Tỷ lệ thôn, bản có cáp quang (%)", "fiber.route_km": "Chiều dài tuyến cáp (km)",
    "broadcast.units_with_radio": "Số đơn vị có đài truyền thanh",
}


def _write_xlsx(path: Path, sc: Scenario, delta: pd.DataFrame, costs: pd.DataFrame) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from .sheets import append_row

    wb = Workbook()
    ws = wb.active
    ws.title = "Chỉ tiêu"
    append_row(ws, [f"Kịch bản: {sc.name}"])
    append_row(ws, ["Chỉ tiêu", "Trước", "Sau", "Thay đổi"])
    for row in delta.itertuples(index=False):
        append_row(ws, [LABELS_VI.get(row.indicator, row.indicator), row.before, row.after, row.change])
    cs = wb.create_sheet("Chi phí")
    append_row(cs, ["Hạng mục đầu tư", "Nội dung", "Số lượng", "Vốn đầu tư (VNĐ)", "Chi phí vận hành/năm (VNĐ)",
                    "Giá trị hiện tại (VNĐ)"])
    for row in costs.itertuples(index=False):
        append_row(cs, [("TỔNG" if row.intervention == "TOTAL" else row.intervention), row.item,
                        None if pd.isna(row.quantity) else row.quantity, row.capex_vnd, row.opex_vnd_per_year,
                        row.npv_vnd])
    for sheet in wb.worksheets:
        for cell in sheet[1 if sheet is cs else 2]:
            cell.font = Font(bold=True)
        for column in sheet.columns:
            width = max(len(str(c.value)) if c.value is not None else 0 for c in column)
            sheet.column_dimensions[column[0].column_letter].width = min(60, max(12, width + 2))
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, (int, float)) and abs(cell.value) >= 1000:
                    cell.number_format = "#,##0"
    wb.save(path)


# ----------------------------------------------------------------------------------------------- comparing
def compare(run_dirs: list[str | Path]) -> pd.DataFrame:
    """Key indicators (after) and costs of finished runs side by side, one column per run."""
    columns = {}
    for run_dir in map(Path, run_dirs):
        if not (run_dir / "manifest.json").exists():
            raise ScenarioError(f"{run_dir} is not a finished scenario run",
                                [Problem(str(run_dir), "no manifest.json (unfinished or not a run folder)")])
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        after = json.loads((run_dir / "indicators_after.json").read_text(encoding="utf-8"))
        col = {key: indicators.lookup(after, key) for key in KEY_INDICATORS}
        col["cost.capex_vnd"] = summary["cost_total_capex_vnd"]
        col["cost.opex_vnd_per_year"] = summary["cost_total_opex_vnd_per_year"]
        col["cost.npv_vnd"] = summary["cost_total_npv_vnd"]
        name = summary["name"]
        while name in columns:
            name += "'"
        columns[name] = col
    before_dir = Path(run_dirs[0])
    before = json.loads((before_dir / "indicators_before.json").read_text(encoding="utf-8"))
    base = {key: indicators.lookup(before, key) for key in KEY_INDICATORS} | {
        "cost.capex_vnd": 0, "cost.opex_vnd_per_year": 0, "cost.npv_vnd": 0}
    frame = pd.DataFrame({"base": base, **columns})
    frame.index.name = "indicator"
    return frame.dropna(how="all")
