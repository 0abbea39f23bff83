"""The ``share_towers`` intervention: new sites put on an existing tower of another operator where one is near.

::

    - type: share_towers
      sites: [{id: VNP-NEW1, x: 508000, y: 2368000, operator: VinaPhone, tech: 4G}]
      max_distance_m: 500         # default settings.colocation_max_distance_m

Each new site (given as in ``add_sites``) within ``max_distance_m`` of an existing tower (`ictgis.infrastructure`:
BTS records on one structure) that its operator is not on yet is moved onto that tower: it takes the tower's
position and ``tower`` id, and costs a greenfield site less what co-location saves (`settings.colocation_saving_usd`:
Oughton's tower and civil-works lines, 10,000 USD), paying the tower's owner a yearly co-location fee
(`settings.colocation_rent_usd_per_year`) instead of a site rent. Sites with no tower near are built greenfield, as
``add_sites`` builds them. The outcome's ``saving_vnd`` is the capital cost avoided.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ... import infrastructure, settings
from ...io import Dataset, assign_commune
from ...layers import parse_tech
from .._base import Context, CostLine, Intervention, Outcome, need_layer, site_point
from ..fields import BaseIds, Checker


def apply_share_towers(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Add new sites, co-locating each on a near existing tower of another operator; see the module docstring."""
    bts = need_layer(ds, "bts_sites", "share_towers")
    max_d = float(spec.get("max_distance_m", ctx.p("colocation_max_distance_m")))
    group = infrastructure.tower_groups(bts, distance_m=ctx.p("sharing_distance_m"))
    pts = bts.geometry.to_numpy()
    first = pd.Series(np.arange(len(bts))).groupby(group).first().to_numpy()  # a tower's first record
    tower_pt = pts[first]
    tower_ops = pd.Series(bts["operator"].astype(str).to_numpy()).groupby(group).agg(set).to_numpy()
    has_id = "tower" in bts
    tower_id = [str(bts["tower"].iloc[i]) if has_id and pd.notna(bts["tower"].iloc[i]) and str(bts["tower"].iloc[i])
                else f"T-{bts['id'].iloc[i]}" for i in first]
    base_tower = np.array([tower_id[g] for g in group], dtype=object)
    rows, colocated = [], []
    for site in spec["sites"]:
        point = site_point(site, ds)
        operator = str(site.get("operator", settings.default_operator))
        d = shapely.distance(tower_pt, point)
        free = np.array([operator not in ops for ops in tower_ops], dtype=bool)
        d = np.where(free, d, np.inf)
        best = int(np.argmin(d)) if len(d) else -1
        near = best >= 0 and d[best] <= max_d
        colocated.append(near)
        rows.append({"id": str(site["id"]), "operator": operator,
                     "tech": ",".join(parse_tech(site.get("tech", "4G"))),
                     "band_mhz": float(site["band_mhz"]) if site.get("band_mhz") is not None else np.nan,
                     "height_m": float(site.get("height_m", settings.default_site_height_m)),
                     "power": site.get("power", "grid"), "tower": tower_id[best] if near else None,
                     "distance_m": float(d[best]) if near else None,
                     "geometry": tower_pt[best] if near else point})
    new = assign_commune(gpd.GeoDataFrame(rows, geometry="geometry", crs=bts.crs), ds["communes"])
    old = bts.copy()
    if any(colocated):
        old["tower"] = base_tower  # the hosts keep the id their guests now share
    keep = [c for c in new.columns if c in old.columns or c in ("commune", "tower")]
    merged = pd.concat([old, new[keep]], ignore_index=True)
    ds.layers["bts_sites"] = gpd.GeoDataFrame(merged, geometry=bts.geometry.name, crs=bts.crs)
    co = np.array(colocated, dtype=bool)
    n_co, n_new = int(co.sum()), int((~co).sum())
    greenfield = ctx.p("site_greenfield_usd") * ctx.usd
    saving = ctx.p("colocation_saving_usd") * ctx.usd
    off_grid = (new["power"] != "grid").to_numpy()
    solar = ctx.p("solar_kit_usd") * ctx.usd
    out = Outcome(changed={"bts_sites"})
    if n_co:
        capex = n_co * (greenfield - saving) + int((off_grid & co).sum()) * solar
        opex = capex * ctx.p("opex_share_per_year") + n_co * ctx.p("colocation_rent_usd_per_year") * ctx.usd
        out.costs.append(CostLine(ctx.label, f"{n_co} new sites on existing towers", n_co, capex, opex))
    if n_new:
        capex = n_new * greenfield + int((off_grid & ~co).sum()) * solar
        opex = capex * ctx.p("opex_share_per_year") + n_new * ctx.p("site_rent_usd_per_year") * ctx.usd
        out.costs.append(CostLine(ctx.label, f"{n_new} new sites on new towers", n_new, capex, opex))
    out.extra = {"sites_added": len(new), "sites_colocated": n_co, "sites_greenfield": n_new,
                 "saving_vnd": round(n_co * saving),
                 "colocated": [{"id": r["id"], "tower": r["tower"], "distance_m": round(r["distance_m"], 1)}
                               for r, c in zip(rows, colocated, strict=True) if c]}
    out.notes.append(f"{len(new)} new sites: {n_co} on existing towers of other operators (within {max_d:,.0f} m), "
                     f"{n_new} on new towers; co-location saves {n_co * saving:,.0f} VND")
    return out


def check(chk: Checker, path: tuple, spec: dict) -> None:
    """Require each new site to have an id and a position."""
    sites = spec.get("sites")
    for j, site in enumerate(sites if isinstance(sites, list) else []):
        if not isinstance(site, dict) or "id" not in site or not (
                {"x", "y"} <= set(site) or {"lon", "lat"} <= set(site)):
            chk.add((*path, "sites", j), "a new site needs id and x, y (EPSG:9205) or lon, lat")


def check_base(chk: Checker, path: tuple, spec: dict, ids: BaseIds) -> None:
    """Report new site ids that the base data already hold."""
    for j, site in enumerate(spec.get("sites") or []):
        if isinstance(site, dict) and str(site.get("id")) in ids["bts_sites"]:
            chk.add((*path, "sites", j), f"new site id {site['id']!r} already exists")


INTERVENTION = Intervention("share_towers", {"sites": list, "max_distance_m": float}, apply_share_towers,
                            required=("sites",), check=check, check_base=check_base, order=45)
