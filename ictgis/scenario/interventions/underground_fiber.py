"""The ``underground_fiber`` intervention: the aerial fiber of chosen areas put underground, with its cost.

::

    - type: underground_fiber
      where: {kind: [phuong, thi_tran]}      # and/or commune: [codes], district: [names]

Every aerial route (``install`` = aerial) is cut at the boundary of the chosen communes: the part inside becomes an
underground route (id ``<id>-U``; the same id when the whole route is inside), the rest stays aerial. The cost is the
length put underground times the underground rate of each commune's setting (`settings.underground_usd_per_m`:
a new trench, duct and cable at Oughton's 5 / 15 / 25 USD per metre for rural / suburban / urban, from the commune
kind: xã, thị trấn, phường), overridable with ``usd_per_m: {urban: …}``; upkeep is `fiber_opex_share_per_year` of
it. Routes whose installation is unknown are left as they are (and counted in the notes).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ... import settings
from ..._errors import ScenarioError
from ...infrastructure import route_install
from ...io import Dataset
from ...layers import COMMUNE_KINDS
from .._base import Context, CostLine, Intervention, Outcome, need_layer
from ..fields import Checker, Filter

AREA_WHERE = frozenset({"kind", "commune", "district"})


def chosen_communes(communes: gpd.GeoDataFrame, where: dict) -> gpd.GeoDataFrame:
    """Return the communes matching every condition of `where` (``kind``, ``commune`` codes, ``district`` names)."""
    mask = pd.Series(True, index=communes.index)
    for key, value in where.items():
        values = [str(v) for v in (value if isinstance(value, list) else [value])]
        column = {"kind": "kind", "commune": "code", "district": "district"}[key]
        if column not in communes:
            raise ScenarioError(f"underground_fiber: the communes layer has no {column} column for where.{key}")
        mask &= communes[column].astype(str).isin(values)
    return communes[mask]


def apply_underground_fiber(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Put the aerial fiber of chosen communes underground; see the module docstring."""
    routes = need_layer(ds, "fiber_routes", "underground_fiber")
    areas = chosen_communes(ds["communes"], spec["where"])
    rate_usd = dict(settings.underground_usd_per_m, **(spec.get("usd_per_m") or {}))
    install = route_install(routes)
    aerial = (install == "aerial").to_numpy()
    area = shapely.union_all(areas.geometry.to_numpy()) if len(areas) else shapely.Polygon()
    geoms = routes.geometry.to_numpy()
    touched = aerial & shapely.intersects(geoms, area)
    keep, added = [], []
    km_by_setting: dict[str, float] = {}
    for i in np.flatnonzero(touched):
        g = geoms[i]
        inside, outside = shapely.intersection(g, area), shapely.difference(g, area)
        for _, commune in areas.iterrows():
            part = shapely.intersection(g, commune.geometry).length / 1000.0
            if part > 0:
                setting = settings.environment_of_commune_kind.get(str(commune.get("kind")), "rural")
                km_by_setting[setting] = km_by_setting.get(setting, 0.0) + part
        row = routes.iloc[i].copy()
        whole = outside.is_empty or outside.length < 1e-6
        under = row.copy()
        under["id"] = str(row["id"]) if whole else f"{row['id']}-U"
        under["install"] = "underground"
        under[routes.geometry.name] = shapely.line_merge(inside) if inside.geom_type == "MultiLineString" else inside
        added.append(under)
        if not whole:
            row[routes.geometry.name] = shapely.line_merge(outside) if outside.geom_type == "MultiLineString" \
                else outside
            keep.append(row)
    rest = routes[~touched]
    frames = [rest]
    if keep:
        frames.append(gpd.GeoDataFrame(keep, geometry=routes.geometry.name, crs=routes.crs))
    if added:
        frames.append(gpd.GeoDataFrame(added, geometry=routes.geometry.name, crs=routes.crs))
    merged = pd.concat(frames, ignore_index=True)
    ds.layers["fiber_routes"] = gpd.GeoDataFrame(merged, geometry=routes.geometry.name, crs=routes.crs)
    km = sum(km_by_setting.values())
    capex = sum(km_by_setting[s] * 1000.0 * rate_usd.get(s, rate_usd["rural"]) for s in km_by_setting) * ctx.usd
    out = Outcome(changed={"fiber_routes"})
    out.costs.append(CostLine(ctx.label, f"{km:,.1f} km of aerial fiber put underground in {len(areas)} units",
                              round(km, 3), capex, capex * ctx.p("fiber_opex_share_per_year")))
    unknown = int((install.isna().to_numpy() & shapely.intersects(geoms, area)).sum())
    out.extra = {"units": len(areas), "km_underground": round(km, 3),
                 "km_by_setting": {k: round(v, 3) for k, v in km_by_setting.items()},
                 "routes_changed": int(touched.sum()), "routes_install_unknown": unknown,
                 "cost_vnd": round(capex)}
    out.notes.append(f"{km:,.1f} km of aerial fiber in {len(areas)} units put underground ({capex:,.0f} VND)"
                     + (f"; {unknown} routes there have no installation and were left alone" if unknown else ""))
    return out


def check(chk: Checker, path: tuple, spec: dict) -> None:
    """Require a non-empty choice of areas, kinds among xa/phuong/thi_tran, and known settings in usd_per_m."""
    where = spec.get("where")
    if "where" not in spec:
        chk.add(path, "underground_fiber needs 'where' (kind, commune or district)")
    if isinstance(where, dict):
        if not where:
            chk.add((*path, "where"), "where needs kind, commune or district")
        kinds = where.get("kind")
        for j, kind in enumerate(kinds if isinstance(kinds, list) else [kinds] if "kind" in where else []):
            if str(kind) not in COMMUNE_KINDS:
                chk.add((*path, "where", "kind", j), f"{kind!r} is not one of {', '.join(COMMUNE_KINDS)}")
    usd = spec.get("usd_per_m")
    if isinstance(usd, dict):
        for key, value in usd.items():
            if key not in settings.underground_usd_per_m:
                chk.add((*path, "usd_per_m", key), f"unknown setting {key!r} (rural, suburban, urban)")
            elif not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                chk.add((*path, "usd_per_m", key), "expected a number ≥ 0")


INTERVENTION = Intervention("underground_fiber", {"where": Filter(AREA_WHERE, "area"), "usd_per_m": dict},
                            apply_underground_fiber, check=check, order=65)
