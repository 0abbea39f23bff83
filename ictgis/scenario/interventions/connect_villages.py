"""The ``connect_villages`` intervention: the cheapest technology for each village without fiber (the last mile).

::

    - type: connect_villages
      method: cheapest
      budget_vnd: 30000000000        # optional: the most households within this net present cost
      technologies: [fiber, microwave, satellite, fwa]   # optional, default all four

`ictgis.lastmile.plan_last_mile` on the scenario's dataset at that point (so sites added before count for fixed
wireless and as microwave hubs), with the scenario's parameters (discount rate, horizon, exchange rate, fiber opex
share). Villages connected by fiber get ``fiber`` = true and the used segments of the shared plan are added to
``fiber_routes``; every connected village gets its technology in a ``lastmile`` column of the village layer. One
cost line per technology (capex and yearly opex).
"""

from __future__ import annotations

import logging

import geopandas as gpd
import pandas as pd

from ...io import Dataset
from .._base import Context, CostLine, Intervention, Outcome, need_layer
from ..fields import Checker

logger = logging.getLogger(__name__)


def apply_connect_villages(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Connect the villages without fiber by their cheapest technology; see the module docstring."""
    from ...lastmile import TECHNOLOGIES, TECHNOLOGY_VI, plan_last_mile

    villages = need_layer(ds, "villages", "connect_villages")
    result = plan_last_mile(ds, technologies=spec.get("technologies"), budget_vnd=spec.get("budget_vnd"),
                            params=ctx.params)
    table = result.villages
    tech_of = dict(zip(table["id"], table["technology"], strict=True))
    new = villages.copy()
    ids = new["id"].astype(str)
    new["lastmile"] = ids.map(tech_of).fillna(new.get("lastmile", "")).astype(object)
    fiber_ids = [i for i, t in tech_of.items() if t == "fiber"]
    new.loc[ids.isin(fiber_ids), "fiber"] = True
    ds.layers["villages"] = new
    out = Outcome(changed={"villages"})
    if len(result.fiber) and ds.get("fiber_routes") is not None:
        routes = ds["fiber_routes"]
        seg = result.fiber
        added = gpd.GeoDataFrame({"id": [f"LM-{s}" for s in seg["seg_id"]], "kind": "access", "install": "aerial",
                                  "operator": "planned"}, geometry=seg.geometry.to_numpy(), crs=seg.crs)
        merged = pd.concat([routes, added[[c for c in added.columns if c in routes.columns or c == "geometry"]]],
                           ignore_index=True)
        ds.layers["fiber_routes"] = gpd.GeoDataFrame(merged, geometry=routes.geometry.name, crs=routes.crs)
        out.changed.add("fiber_routes")
    chosen = table[table["technology"] != ""]
    for t in TECHNOLOGIES:
        rows = chosen[chosen["technology"] == t]
        if len(rows):
            out.costs.append(CostLine(ctx.label, f"{TECHNOLOGY_VI[t]} ({t}): {len(rows)} villages", len(rows),
                                      float(rows["capex_vnd"].sum()), float(rows["opex_vnd_per_year"].sum())))
    s = result.summary
    out.extra = {k: s[k] for k in ("villages", "villages_connected", "households_connected", "by_technology",
                                   "households_by_technology", "capex_vnd", "opex_vnd_per_year", "npv_vnd",
                                   "fiber_only_npv_vnd", "budget_vnd")}
    by = ", ".join(f"{t} {n}" for t, n in s["by_technology"].items() if n)
    out.notes.append(f"{s['villages_connected']} of {s['villages']} villages connected ({by}): "
                     f"{s['households_connected']:,} households, NPV {s['npv_vnd']:,.0f} VND"
                     + ("" if s["fiber_only_npv_vnd"] is None else
                        f" (fiber only {s['fiber_only_npv_vnd']:,.0f} VND)"))
    return out


def check(chk: Checker, path: tuple, spec: dict) -> None:
    """Check the technologies named."""
    from ...lastmile import TECHNOLOGIES

    techs = spec.get("technologies")
    if not isinstance(techs, list):
        return
    if not techs:
        chk.add((*path, "technologies"), "name at least one technology")
    for j, t in enumerate(techs):
        if str(t) not in TECHNOLOGIES:
            chk.add((*path, "technologies", j), f"unknown technology {t!r}; known: {', '.join(TECHNOLOGIES)}")


INTERVENTION = Intervention(
    "connect_villages",
    {"method": ("cheapest",), "budget_vnd": float, "technologies": list},
    apply_connect_villages, required=("method",), check=check, order=62)
