"""Interventions of an investment scenario, applied to a copy of the base layers.

Each intervention type is a function ``apply(dataset, spec, ctx) -> Outcome`` registered in `APPLY`. It changes
the dataset copy it is given (never the base) and returns its cost lines and notes. Costs are in VND: capital
expenditure (capex) once, operating expenditure (opex, negative for savings) every year of the horizon.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import settings
from ._errors import ScenarioError
from .io import Dataset
from .layers import TECHNOLOGIES, parse_tech

logger = logging.getLogger(__name__)


@dataclass
class CostLine:
    """One line of the scenario's cost table."""

    intervention: str
    item: str
    quantity: float
    capex_vnd: float
    opex_vnd_per_year: float = 0.0
    start_year: int = 0
    years: int | None = None  # opex years; None = the whole horizon

    def npv_vnd(self, *, rate: float, horizon: int) -> float:
        """Net present cost over the horizon: capex now (discounted from its start year) plus yearly opex."""
        years = horizon if self.years is None else min(self.years, horizon)
        disc = 1.0 / (1.0 + rate) ** self.start_year
        opex = sum(self.opex_vnd_per_year / (1.0 + rate) ** t for t in range(1, years + 1))
        return self.capex_vnd * disc + opex * disc


@dataclass
class Outcome:
    """What one intervention did."""

    costs: list[CostLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)
    extra: dict = field(default_factory=dict)


@dataclass
class Context:
    """Run-wide parameters and helpers passed to every intervention."""

    params: dict
    label: str = ""

    def p(self, name: str) -> float:
        """Return a parameter (scenario override, else the settings default)."""
        return self.params.get(name, getattr(settings, name))

    @property
    def usd(self) -> float:
        """VND per USD."""
        return float(self.p("usd_to_vnd"))


# ----------------------------------------------------------------------------------------------- selections
def select_sites(bts: gpd.GeoDataFrame, spec: dict, *, communes: gpd.GeoDataFrame | None = None) -> pd.Series:
    """Boolean mask of sites chosen by ``ids`` and/or a ``where`` filter (all conditions must hold).

    ``where`` keys: ``power`` (grid/diesel/solar or a list), ``operator`` (name or list), ``has`` / ``lacks``
    (technologies), ``only`` (exact technology set), ``commune`` (codes), ``district`` (names).
    """
    mask = pd.Series(True, index=bts.index)
    if "ids" in spec:
        mask &= bts["id"].isin([str(i) for i in spec["ids"]])
    where = spec.get("where") or {}
    techs = [set(parse_tech(t)) for t in bts["tech"]]
    for key, value in where.items():
        values = value if isinstance(value, list) else [value]
        if key in ("power", "operator", "commune"):
            mask &= bts[key].isin([str(v) for v in values]) if key in bts else False
        elif key == "has":
            need = set(parse_tech(",".join(map(str, values))))
            mask &= pd.Series([need <= t for t in techs], index=bts.index)
        elif key == "lacks":
            avoid = set(parse_tech(",".join(map(str, values))))
            mask &= pd.Series([not (avoid & t) for t in techs], index=bts.index)
        elif key == "only":
            exact = set(parse_tech(",".join(map(str, values))))
            mask &= pd.Series([t == exact for t in techs], index=bts.index)
        elif key == "district" and communes is not None and "district" in communes:
            codes = communes.loc[communes["district"].isin(values), "code"]
            mask &= bts["commune"].isin(codes)
    return mask


def select_villages(villages: gpd.GeoDataFrame, spec: dict, *, communes: gpd.GeoDataFrame | None = None
                    ) -> pd.Series:
    """Boolean mask of villages chosen by ``ids``, ``all_gaps`` or a ``where`` filter."""
    mask = pd.Series(True, index=villages.index)
    if "ids" in spec:
        mask &= villages["id"].isin([str(i) for i in spec["ids"]])
    if spec.get("all_gaps") or spec.get("villages") == "all_gaps":
        mask &= ~villages["fiber"].astype("boolean").fillna(False).astype(bool)
    where = spec.get("where") or {}
    for key, value in where.items():
        values = value if isinstance(value, list) else [value]
        if key == "commune":
            mask &= villages["commune"].isin([str(v) for v in values])
        elif key == "district" and communes is not None and "district" in communes:
            codes = communes.loc[communes["district"].isin(values), "code"]
            mask &= villages["commune"].isin(codes)
        elif key == "fiber":
            mask &= villages["fiber"].astype("boolean").fillna(False).astype(bool) == bool(value)
        elif key == "min_households":
            mask &= villages["households"].astype("Float64").fillna(0) >= float(value)
        elif key == "min_population":
            mask &= villages["population"].astype("Float64").fillna(0) >= float(value)
    return mask


def _need(ds: Dataset, layer: str, what: str) -> gpd.GeoDataFrame:
    frame = ds.get(layer)
    if frame is None:
        raise ScenarioError(f"{what} needs the {layer} layer, which the base data has not")
    return frame


# ------------------------------------------------------------------------------------------- interventions
def apply_power(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Switch chosen sites (default: all diesel sites) to solar or grid power: capex, fuel saved, CO₂ avoided."""
    bts = _need(ds, "bts_sites", "power").copy()
    target = spec.get("to", "solar")
    selection = spec.get("sites") or {"where": {"power": "diesel"}}
    mask = select_sites(bts, selection, communes=ds.get("communes"))
    was_diesel = mask & (bts["power"] == "diesel")
    n, n_diesel = int(mask.sum()), int(was_diesel.sum())
    bts.loc[mask, "power"] = target
    ds.layers["bts_sites"] = bts
    unit_usd = ctx.p("solar_kit_usd") if target == "solar" else ctx.p("grid_connection_usd")
    litres = n_diesel * ctx.p("diesel_litres_per_year")
    fuel_vnd = litres * ctx.p("diesel_vnd_per_litre")
    co2_t = litres * ctx.p("co2_kg_per_litre_diesel") / 1000.0
    out = Outcome(changed={"bts_sites"})
    out.costs.append(CostLine(ctx.label, f"{target} power for {n} sites", n, n * unit_usd * ctx.usd,
                              -fuel_vnd + (0.0 if target == "grid" else
                                           ctx.p("solar_opex_share_per_year") * n * unit_usd * ctx.usd)))
    out.extra = {"sites": n, "diesel_sites_converted": n_diesel, "fuel_saved_litres_per_year": litres,
                 "fuel_saved_vnd_per_year": fuel_vnd, "co2_avoided_t_per_year": round(co2_t, 1)}
    out.notes.append(f"{n} sites to {target}: {litres:,.0f} L diesel and {co2_t:,.1f} t CO₂ avoided per year")
    return out


def apply_upgrade_sites(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Add technologies (4G, 5G) to chosen sites; optionally set their band."""
    bts = _need(ds, "bts_sites", "upgrade_sites").copy()
    add = set(parse_tech(",".join(spec["add"] if isinstance(spec["add"], list) else [spec["add"]])))
    mask = select_sites(bts, spec.get("sites") or {}, communes=ds.get("communes"))
    changed = 0
    new_tech = []
    for chosen, tech in zip(mask, bts["tech"], strict=True):
        have = set(parse_tech(tech))
        if chosen and not add <= have:
            changed += 1
            have |= add
        new_tech.append(",".join(t for t in TECHNOLOGIES if t in have))
    bts["tech"] = new_tech
    if spec.get("band_mhz") is not None:
        bts.loc[mask, "band_mhz"] = float(spec["band_mhz"])
    ds.layers["bts_sites"] = bts
    capex = changed * ctx.p("site_upgrade_usd") * ctx.usd * len(add)
    out = Outcome(changed={"bts_sites"})
    out.costs.append(CostLine(ctx.label, f"add {'/'.join(sorted(add))} to {changed} sites", changed, capex,
                              capex * ctx.p("opex_share_per_year")))
    out.extra = {"sites_upgraded": changed}
    out.notes.append(f"{'/'.join(sorted(add))} added to {changed} sites ({int(mask.sum()) - changed} had it)")
    return out


def apply_retire(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Switch a technology off (2G/3G sunset); sites left with no technology are removed."""
    bts = _need(ds, "bts_sites", "retire").copy()
    drop = set(parse_tech(spec["technology"]))
    mask = select_sites(bts, spec.get("sites") or {}, communes=ds.get("communes"))
    before = [set(parse_tech(t)) for t in bts["tech"]]
    affected = int(sum(bool(chosen and drop & have) for chosen, have in zip(mask, before, strict=True)))
    bts["tech"] = [",".join(t for t in TECHNOLOGIES if t in (have - drop if chosen else have))
                   for chosen, have in zip(mask, before, strict=True)]
    empty = bts["tech"] == ""
    ds.layers["bts_sites"] = bts[~empty].copy()
    out = Outcome(changed={"bts_sites"})
    out.extra = {"sites_affected": affected, "sites_removed": int(empty.sum())}
    out.notes.append(f"{'/'.join(sorted(drop))} switched off; {int(empty.sum())} sites left with nothing removed")
    return out


def apply_add_sites(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Add explicit new BTS sites (``sites: [{id, x, y, operator, tech, …}]``), or optimised ones (``optimize``)."""
    if spec.get("optimize"):
        from . import scenario_siting

        return scenario_siting.apply_optimize(ds, spec["optimize"], ctx)
    bts = _need(ds, "bts_sites", "add_sites")
    rows = []
    for site in spec["sites"]:
        rows.append({"id": str(site["id"]), "operator": site.get("operator", settings.default_operator),
                     "tech": ",".join(parse_tech(site.get("tech", "4G"))),
                     "band_mhz": float(site["band_mhz"]) if site.get("band_mhz") is not None else np.nan,
                     "height_m": float(site.get("height_m", settings.default_site_height_m)),
                     "power": site.get("power", "grid"),
                     "geometry": _site_point(site, ds)})
    new = gpd.GeoDataFrame(rows, geometry="geometry", crs=bts.crs)
    from .io import assign_commune

    new = assign_commune(new, ds["communes"])
    merged = pd.concat([bts, new[[c for c in new.columns if c in bts.columns or c == "commune"]]],
                       ignore_index=True)
    ds.layers["bts_sites"] = gpd.GeoDataFrame(merged, geometry=bts.geometry.name, crs=bts.crs)
    n = len(new)
    off_grid = int((new["power"] != "grid").sum())
    capex = (n * ctx.p("site_greenfield_usd") + off_grid * ctx.p("solar_kit_usd")) * ctx.usd
    opex = capex * ctx.p("opex_share_per_year") + n * ctx.p("site_rent_usd_per_year") * ctx.usd
    out = Outcome(changed={"bts_sites"})
    out.costs.append(CostLine(ctx.label, f"{n} new sites", n, capex, opex))
    out.extra = {"sites_added": n, "ids": new["id"].tolist()}
    out.notes.append(f"{n} new sites added")
    return out


def _site_point(site: dict, ds: Dataset) -> shapely.Point:
    if "lon" in site and "lat" in site:
        from .crs import transformer

        x, y = transformer("EPSG:4326", ds.crs).transform(float(site["lon"]), float(site["lat"]))
        return shapely.Point(x, y)
    return shapely.Point(float(site["x"]), float(site["y"]))


def apply_post_offices(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Add BĐVHX points: to every xã without one (``add: missing_bdvhx``) and/or explicit points."""
    po = _need(ds, "post_offices", "post_offices")
    communes = ds["communes"]
    rows = []
    if spec.get("add") == "missing_bdvhx":
        has = set(po.loc[po["kind"] == "bdvhx", "commune"])
        todo = communes[(communes["kind"] == "xa") & ~communes["code"].isin(has)]
        villages = ds.get("villages")
        for code, name, geom in zip(todo["code"], todo["name"], todo.geometry, strict=True):
            point = geom.representative_point()
            if villages is not None:
                local = villages[villages["commune"] == code]
                if len(local):
                    point = local.geometry.iloc[int(np.argmax(local["population"].astype(float).to_numpy()))]
            rows.append({"id": f"BDVHX-{code}", "name": f"Điểm BĐVHX {name}", "kind": "bdvhx", "commune": code,
                         "geometry": point})
    for point in spec.get("points") or []:
        rows.append({"id": str(point["id"]), "name": point.get("name", ""), "kind": point.get("kind", "bdvhx"),
                     "commune": None, "geometry": _site_point(point, ds)})
    new = gpd.GeoDataFrame(rows, geometry="geometry", crs=po.crs) if rows else None
    if new is not None:
        from .io import assign_commune

        missing = new["commune"].isna()
        if missing.any():
            new.loc[missing, "commune"] = assign_commune(new[missing], communes)["commune"]
        merged = pd.concat([po, new], ignore_index=True)
        ds.layers["post_offices"] = gpd.GeoDataFrame(merged, geometry=po.geometry.name, crs=po.crs)
    n = 0 if new is None else len(new)
    out = Outcome(changed={"post_offices"})
    out.costs.append(CostLine(ctx.label, f"{n} new BĐVHX points", n, n * ctx.p("bdvhx_capex_vnd"),
                              n * ctx.p("bdvhx_opex_vnd_per_year")))
    out.extra = {"points_added": n}
    out.notes.append(f"{n} BĐVHX points added")
    return out


def apply_fiber(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Connect villages to fiber with the shared-trench planner (ids, a filter, all gaps, or within a budget)."""
    from . import scenario_fiber

    return scenario_fiber.apply_fiber(ds, spec, ctx)


def apply_project(ds: Dataset, spec: dict, ctx: Context) -> Outcome:
    """Add a non-spatial investment line (e.g. the smart-city platform) so the cost table matches the plan."""
    capex = float(spec["capex_vnd"])
    out = Outcome()
    out.costs.append(CostLine(ctx.label, spec.get("name", "project"), 1, capex,
                              float(spec.get("opex_vnd_per_year", 0.0)), int(spec.get("start_year", 0)),
                              spec.get("years")))
    return out


APPLY: dict[str, Callable[[Dataset, dict, Context], Outcome]] = {
    "power": apply_power,
    "upgrade_sites": apply_upgrade_sites,
    "retire": apply_retire,
    "add_sites": apply_add_sites,
    "post_offices": apply_post_offices,
    "fiber": apply_fiber,
    "project": apply_project,
}
