"""Running a scenario: interventions applied to a copy of the base data, indicators before and after, costs.

`run` never modifies the base: every intervention works on a copy. Results are written into the output folder
atomically (see `ictgis.scenario.outputs`), so a half-finished run never looks finished.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import indicators, settings
from .._errors import Problem, ScenarioError
from ..io import Dataset, load
from ._base import Context, CostLine
from .model import Scenario, read, rebased
from .outputs import write_outputs
from .registry import INTERVENTIONS

logger = logging.getLogger(__name__)


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
    "fiber.underground_km", "fiber.underground_pct", "fiber.underground_pct_urban", "broadcast.units_with_radio",
    "broadcast.units_with_it_radio", "sharing.towers", "sharing.sites_shared", "sharing.sites_shared_pct",
)

#: Hooks that add analysis results (coverage …) to the indicators: f(dataset, params) -> dict of extra keys.
def measure(ds: Dataset, *, structure: str, params: dict) -> tuple[dict, dict]:
    """Compute the indicators of a dataset, with 3G/4G populated-area coverage when it has a DEM.

    Returns
    -------
    tuple
        The indicator contract (coverage as ``mobile.populated_area_<tech>_pct`` …) and the coverage results by
        technology (``{"4G": CoverageResult, …}``; empty without a DEM).
    """
    result = indicators.compute(ds, structure=structure, sharing_distance_m=params.get("sharing_distance_m"))
    if ds.dem_path is None:
        return result, {}
    from ..coverage import populated_area_coverage

    calibration = None
    if params.get("calibration"):
        from ..calibration import read_calibration

        calibration = read_calibration(params["calibration"])
    found = populated_area_coverage(ds, technologies=("3G", "4G"), threshold_dbm=params.get("rsrp_threshold_dbm"),
                                    calibration=calibration, clutter_loss_db=params.get("clutter_loss_db"))
    result.setdefault("mobile", {}).update(found.values)
    return result, found.results


def compute_indicators(ds: Dataset, *, structure: str, params: dict) -> dict:
    """Compute the indicators of a dataset (with populated-area coverage when it has a DEM); see `measure`."""
    return measure(ds, structure=structure, params=params)[0]


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
    base_ds = load(sc.base)  # its repairs reach the caller as DataWarnings (the CLI prints them)
    params = dict(sc.parameters)
    work = base_ds.copy()
    report(0.1, "indicators before")
    before, _ = measure(base_ds, structure=sc.structure, params=params)
    costs: list[CostLine] = []
    notes: list[str] = []
    changed: set[str] = set()
    extras = []
    n = max(1, len(sc.interventions))
    for i, item in enumerate(sc.interventions):
        label = item.get("label") or f"{i + 1}. {item['type']}"
        report(0.15 + 0.6 * i / n, f"applying {label}")
        outcome = INTERVENTIONS[item["type"]].apply(work, item, Context(params=params, label=label))
        costs.extend(outcome.costs)
        notes.extend(f"{label}: {m}" for m in outcome.notes)
        changed |= outcome.changed
        extras.append({"intervention": label, "type": item["type"], **outcome.extra})
    report(0.8, "indicators after")
    after, after_coverage = measure(work, structure=sc.structure, params=params)
    delta = delta_table(before, after)
    cost_table = cost_frame(costs, params=params)
    report(0.9, f"writing {out_dir}")
    write_outputs(sc, out_dir, base=base_ds, work=work, before=before, after=after, delta=delta, costs=cost_table,
                  notes=notes, extras=extras, changed=changed, params=params, base_info=base_info,
                  after_coverage=after_coverage.get("4G"))
    report(1.0, "done")
    return RunResult(out_dir=out_dir, before=before, after=after, delta=delta, costs=cost_table, notes=notes)


def delta_rows(before: dict, after: dict, keys: tuple[str, ...] = KEY_INDICATORS) -> list[dict]:
    """Before/after/change of the key indicators, one dict per indicator available before or after.

    Keys of each row: ``indicator``, ``before``, ``after``, ``change`` (None where unavailable). The web run page
    and `delta_table` show these rows.
    """
    rows = []
    for key in keys:
        b, a = indicators.lookup(before, key), indicators.lookup(after, key)
        if b is None and a is None:
            continue
        d = None if (b is None or a is None) else round(a - b, 2)
        rows.append({"indicator": key, "before": b, "after": a, "change": d})
    return rows


def delta_table(before: dict, after: dict, keys: tuple[str, ...] = KEY_INDICATORS) -> pd.DataFrame:
    """Before/after/change of the key indicators (None where unavailable); the rows of `delta_rows`."""
    return pd.DataFrame(delta_rows(before, after, keys), columns=["indicator", "before", "after", "change"])


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
