"""The ``fiber`` intervention of scenarios, and the planned-routes layer of the web map.

::

    - type: fiber
      budget_vnd: 30000000000       # or villages: all_gaps, ids: […], where: {…}

Both use `ictgis.fiber.FiberPlan`: the shared-trench plan from the existing fiber network along the roads. A
scenario connects all gap villages, chosen ones (ids or a filter), or as many as a budget allows (households
maximised); the connected villages get ``fiber`` = true and the plan's segments are added to ``fiber_routes``.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import pandas as pd

from ...io import Dataset
from .._base import VILLAGE_WHERE, Context, CostLine, Intervention, Outcome, select_villages
from ..fields import BaseIds, Checker, Filter

logger = logging.getLogger(__name__)


def villages_without_4g(ds: Dataset, threshold_dbm: float | None) -> pd.Series | None:
    """Villages without 4G (for the double-gap score), by the coverage model when the data allow it."""
    if ds.dem_path is None or ds.get("bts_sites") is None:
        return None
    from ... import coverage
    from ..._errors import LayerError

    try:
        result = coverage.compute(ds, technology="4G", threshold_dbm=threshold_dbm, progress=lambda f, m: None)
    except LayerError:
        return None
    return pd.Series(~result.villages["covered"].to_numpy(dtype=bool), index=result.villages["id"].to_numpy())


def apply_fiber(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Connect villages to fiber; see the module docstring."""
    from ...fiber import CostModel, FiberPlan

    villages = ds["villages"]
    gaps = ~villages["fiber"].astype("boolean").fillna(False).astype(bool)
    wanted = gaps.copy()
    if "ids" in spec or "where" in spec:
        wanted &= select_villages(villages, {k: spec[k] for k in ("ids", "where") if k in spec},
                                  communes=ds.get("communes"))
    # Gap villages not asked for are left out of the plan (treated as not needing fiber here); the base is a copy.
    planned = villages.copy()
    planned.loc[gaps & ~wanted, "fiber"] = True
    work = ds.copy()
    work.layers["villages"] = planned
    model = CostModel.from_usd(usd_to_vnd=ctx.usd, installation=spec.get("installation", "aerial"))
    plan = FiberPlan.from_dataset(work, cost_model=model,
                                  no_4g=villages_without_4g(ds, ctx.params.get("rsrp_threshold_dbm")))
    plan.solve(budget_vnd=spec.get("budget_vnd"))
    table, segments = plan.villages, plan.plan
    assert table is not None and segments is not None  # set by solve()
    connected = table.loc[table["selected"].astype(bool) & table["reachable"].astype(bool), "id"].tolist() \
        if spec.get("budget_vnd") is not None else table.loc[table["reachable"].astype(bool), "id"].tolist()
    if spec.get("budget_vnd") is not None:
        segments = segments[segments["phase"] == 1]
    new_villages = villages.copy()
    new_villages.loc[new_villages["id"].isin(connected), "fiber"] = True
    ds.layers["villages"] = new_villages
    routes = ds["fiber_routes"]
    added = gpd.GeoDataFrame({"id": [f"PLAN-{s}" for s in segments["seg_id"]], "kind": "access",
                              "install": segments["install"].to_numpy(), "operator": "planned"},
                             geometry=segments.geometry.to_numpy(), crs=segments.crs)
    merged = pd.concat([routes, added[[c for c in added.columns if c in routes.columns or c == "geometry"]]],
                       ignore_index=True)
    ds.layers["fiber_routes"] = gpd.GeoDataFrame(merged, geometry=routes.geometry.name, crs=routes.crs)
    s = plan.summary
    if spec.get("budget_vnd") is not None:
        capex, km, hh = float(s["cost_vnd"]), float(s["route_km"]), int(s["households_connected"])
    else:
        capex, km, hh = float(s["full_plan"]["cost_vnd"]), float(s["full_plan"]["route_km"]), \
            int(s["full_plan"]["households"])
    out = Outcome(changed={"villages", "fiber_routes"})
    out.costs.append(CostLine(ctx.label, f"fiber to {len(connected)} villages ({km:,.1f} km)", len(connected), capex,
                              capex * ctx.p("fiber_opex_share_per_year")))
    out.extra = {"villages_asked": int(wanted.sum()), "villages_connected": len(connected),
                 "households_connected": hh, "route_km": round(km, 1), "cost_vnd": round(capex),
                 "unreachable": s.get("unreachable", []),
                 "ranking": table[["id", "name", "rank", "score", "selected", "phase", "households",
                                   "cost_alone_vnd", "cost_shared_vnd"]].head(50).to_dict(orient="records")}
    out.notes.append(f"{len(connected)} of {int(wanted.sum())} villages connected: {km:,.1f} km, "
                     f"{capex:,.0f} VND, {hh:,} households")
    return out


def check(chk: Checker, path: tuple, spec: dict) -> None:
    """Require a choice of villages."""
    if not ({"villages", "ids", "where", "budget_vnd"} & set(spec)):
        chk.add(path, "fiber needs villages: all_gaps, ids, where or budget_vnd")


def check_base(chk: Checker, path: tuple, spec: dict, ids: BaseIds) -> None:
    """Report village ids the base data do not hold."""
    for j, vid in enumerate(spec.get("ids") or []):
        if str(vid) not in ids["villages"]:
            chk.add((*path, "ids", j), f"village id {vid!r} does not exist in the base data")


INTERVENTION = Intervention(
    "fiber",
    {"villages": ("all_gaps",), "ids": list, "where": Filter(frozenset(VILLAGE_WHERE), "village"),
     "budget_vnd": float, "installation": ("aerial", "underground")},
    apply_fiber, check=check, check_base=check_base, order=60)
