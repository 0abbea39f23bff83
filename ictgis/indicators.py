"""The department's indicator table, computed from the layers.

`compute` returns a JSON-ready dict — a stable contract used by scripts and the web app — with the province-level
indicators under `postal`, `mobile`, `fiber`, `broadcast` and `sharing`, plus `communes` and `districts`
breakdowns, ``itu_codes`` (indicator key → ITU ICT indicator code, where one exists: docs/sources.md §3.10) and
``unavailable`` (indicator key → why it could not be computed). An indicator whose layer or attribute is missing is
None (unavailable), not an error and never a silent 0; for the newer indicators (sharing, undergrounding, radio
stations using IT) ``unavailable`` says why, and ``ictgis indicators`` prints it as a warning. Figures are rounded
as the department publishes them: 2 decimals for km, whole people, 1 decimal for percentages.

Denominators differ by indicator: postal and internet-point indicators count xã only; the radio-station indicator
counts all commune-level units (docs/sources.md §1.2, §1.4).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from . import admin, infrastructure, labels, postal, settings
from ._errors import LayerError, Problem
from .io import Dataset
from .layers import parse_tech

logger = logging.getLogger(__name__)

CONTRACT_VERSION = 1


def _pct(part: float, whole: float) -> float | None:
    return None if not whole else round(100.0 * part / whole, 1)


def _r(value: float | None, digits: int = 0) -> float | int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(round(value)) if digits == 0 else round(float(value), digits)


def _units(dataset: Dataset, structure: str) -> tuple[gpd.GeoDataFrame, pd.Series | None]:
    """Return the unit polygons of a structure and, for 2025, the map old code → new code."""
    communes = dataset["communes"]
    if structure == "2019":
        return communes, None
    if structure != "2025":
        raise LayerError(f"unknown structure {structure!r}",
                         [Problem("--structure", "expected one of " + ", ".join(admin.STRUCTURES))])
    merged = admin.aggregate_2025(communes, file=Path(dataset.sources.get("communes", "communes")).name)
    old_to_new = {}
    for code, olds in zip(merged["code"], merged["old_codes"], strict=True):
        for old in olds.split(","):
            old_to_new[old] = code
    return merged, pd.Series(old_to_new)


def _unit_of(frame: gpd.GeoDataFrame, old_to_new: pd.Series | None) -> pd.Series:
    codes = frame["commune"].astype(object)
    return codes if old_to_new is None else codes.map(old_to_new)


def site_technologies(bts: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return one boolean column per technology (2G … 5G) for each site."""
    parsed = [parse_tech(t) for t in bts["tech"]]
    return pd.DataFrame({t: [t in p for p in parsed] for t in ("2G", "3G", "4G", "5G")}, index=bts.index)


def compute(dataset: Dataset, *, structure: str = "2019", postal_kinds: tuple[str, ...] | None = None,
            area_km2: float | None = None, sharing_distance_m: float | None = None) -> dict:
    """Compute the department's indicators for a dataset.

    Parameters
    ----------
    dataset
        Layers from `ictgis.io.load`.
    structure
        ``"2019"`` (10 districts, 129 units) or ``"2025"`` (45 communes, no districts).
    postal_kinds
        Post office kinds counted as service points (default: all, as the department counts 168).
    area_km2
        Official province area for the service radius; default the layers.yaml `area_km2`, else the area of the
        commune polygons.
    sharing_distance_m
        BTS records this close stand on one tower (default `ictgis.settings.sharing_distance_m`, 50 m); see
        `ictgis.infrastructure`.

    Returns
    -------
    dict
        JSON-ready; see the module docstring and README for the keys.

    Examples
    --------
    >>> from ictgis import io
    >>> result = compute(io.load())  # doctest: +SKIP
    >>> result["postal"]["service_radius_km"]  # doctest: +SKIP
    4.25
    """
    units, old_to_new = _units(dataset, structure)
    communes = dataset["communes"]
    polygon_area, area, population, households = _province(dataset, area_km2)
    kinds = units["kind"] if "kind" in units else pd.Series([None] * len(units), index=units.index)
    is_xa = (kinds == "xa").fillna(False).to_numpy(dtype=bool)

    result: dict = {
        "contract": CONTRACT_VERSION,
        "structure": structure,
        "data_dir": str(dataset.data_dir) if dataset.data_dir else None,
        "province": {
            "area_km2": _r(area, 2),
            "polygon_area_km2": _r(polygon_area, 2),
            "population": _r(population),
            "households": _r(households),
            "units_total": len(units),
            "xa": int(is_xa.sum()),
            "phuong": int((kinds == "phuong").sum()),
            "thi_tran": int((kinds == "thi_tran").sum()),
            "districts": None if structure == "2025" else _n_districts(communes),
        },
    }
    table = pd.DataFrame(index=pd.Index(units["code"].to_numpy(), name="code"))
    table["name"] = units["name"].to_numpy()
    table["kind"] = kinds.to_numpy()
    if structure == "2019" and "district" in units:
        table["district"] = units["district"].to_numpy()
    table["area_km2"] = units.geometry.area.to_numpy() / 1e6
    table["population"] = units["population"].astype("Float64").to_numpy()

    unavailable: dict[str, str] = {}
    result["postal"] = _postal(dataset, units, old_to_new, table, is_xa, population, area, postal_kinds)
    result["mobile"] = _mobile(dataset, old_to_new, table)
    result["fiber"] = _fiber(dataset, old_to_new, table)
    result["fiber"].update(_underground(dataset, units, table, unavailable))
    result["broadcast"] = _broadcast(units, table, unavailable)
    result["sharing"] = _sharing(dataset, old_to_new, table, unavailable, distance_m=sharing_distance_m)
    result["itu_codes"] = {k: lab.itu for k, lab in labels.INDICATORS.items() if lab.itu}
    result["unavailable"] = unavailable
    for key, why in unavailable.items():
        logger.info("%s is not computed: %s", key, why)
    result["communes"] = _records(table)
    result["districts"] = _records(_by_district(table)) if "district" in table else None
    return result


#: The layers `headline` reads (the others may be left out of its dataset).
HEADLINE_LAYERS = ("communes", "villages", "bts_sites", "post_offices")


def headline(dataset: Dataset, *, postal_kinds: tuple[str, ...] | None = None,
             area_km2: float | None = None) -> dict:
    """Compute the province totals of the postal, mobile and village-fiber indicators, nothing else.

    The values are those `compute` gives (the same code computes them) without its per-unit tables, towers and
    undergrounding: a few milliseconds instead of a tenth of a second on the demo, for charts of many states.
    Only the layers of `HEADLINE_LAYERS` are read.

    Parameters
    ----------
    dataset
        Layers from `ictgis.io.load` or `ictgis.store.Store.dataset` (`HEADLINE_LAYERS` are enough).
    postal_kinds, area_km2
        As for `compute`.

    Returns
    -------
    dict
        ``province`` (``area_km2``, ``polygon_area_km2``, ``population``, ``households``), ``postal``
        (``service_points``, ``service_radius_km``, ``people_per_point``), ``mobile`` (as in `compute`) and
        ``fiber`` (as in `compute`, without ``route_km``): ``lookup(headline(ds), key) == lookup(compute(ds), key)``
        for every key it has.

    Raises
    ------
    LayerError
        For a province area that cannot be true, as `compute`.
    """
    polygon_area, area, population, households = _province(dataset, area_km2)
    po = dataset.get("post_offices")
    if po is None:
        postal_totals = dict.fromkeys(("service_points", "service_radius_km", "people_per_point"))
    else:
        postal_totals = _postal_totals(po, area, population, postal_kinds)[1]
    bts = dataset.get("bts_sites")
    fiber = _fiber_totals(dataset.get("villages"), None)
    fiber.pop("route_km")
    return {
        "province": {"area_km2": _r(area, 2), "polygon_area_km2": _r(polygon_area, 2), "population": _r(population),
                     "households": _r(households)},
        "postal": postal_totals,
        "mobile": _mobile_totals(bts, None if bts is None else site_technologies(bts)),
        "fiber": fiber,
    }


def _province(dataset: Dataset, area_km2: float | None) -> tuple[float, float, float, float | None]:
    """Return the polygons' area, the province area (checked), the population and the households."""
    communes = dataset["communes"]
    polygon_area = float(communes.geometry.area.sum() / 1e6)
    area = area_km2 if area_km2 is not None else (dataset.area_km2 or polygon_area)
    _check_area(polygon_area, area, dataset)
    population = float(communes["population"].astype("Float64").sum())
    households = float(communes["households"].astype("Float64").sum()) if "households" in communes \
        and communes["households"].notna().all() else None
    return polygon_area, area, population, households


def _check_area(polygon_area: float, area: float, dataset: Dataset) -> None:
    """Refuse a province area of 0, NaN or infinity: it is never a true figure, always a CRS or data problem."""
    source = Path(dataset.sources.get("communes", "communes")).name
    if not (math.isfinite(polygon_area) and polygon_area > 0):
        raise LayerError(f"{source}: the commune polygons cover {polygon_area} km²", [Problem(
            source, f"the commune polygons cover {polygon_area} km² in {dataset.crs.name}: their coordinates do "
            "not fit the CRS (run `ictgis validate`, which suggests the right one)", column="geometry")])
    try:
        value = float(area)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise LayerError(f"the province area is {area!r} km²", [Problem(
            "area_km2", f"the province area is {area!r} km²: expected a positive number (--area-km2 or area_km2: "
            "in layers.yaml)")])


def _n_districts(communes: gpd.GeoDataFrame) -> int | None:
    if "dist_code" in communes and communes["dist_code"].notna().any():
        return int(communes["dist_code"].nunique())
    if "district" in communes and communes["district"].notna().any():
        return int(communes["district"].nunique())
    return None


def _postal(dataset, units, old_to_new, table, is_xa, population, area, kinds) -> dict:
    po = dataset.get("post_offices")
    keys = ("service_points", "service_radius_km", "people_per_point", "xa_total", "xa_with_cultural_post_office",
            "xa_with_cultural_post_office_pct", "xa_without_cultural_post_office", "points_by_kind",
            "kinds_counted", "units_failing_norms")
    if po is None:
        return dict.fromkeys(keys) | {"xa_total": int(is_xa.sum())}
    counted, totals = _postal_totals(po, area, population, kinds)
    unit_of_point = _unit_of(po, old_to_new)
    per_unit = postal.postal_by_unit(units, po, unit_of_point=unit_of_point, kinds=kinds)
    table["post_points"] = per_unit["points"].to_numpy()
    table["bdvhx"] = per_unit["bdvhx"].to_numpy()
    table["postal_radius_km"] = per_unit["radius_km"].to_numpy()
    table["people_per_point"] = per_unit["people_per_point"].to_numpy()
    table["postal_norms_failed"] = per_unit["failures"].to_numpy()
    xa_codes = table.index[is_xa]
    with_bdvhx = int((table.loc[xa_codes, "bdvhx"] > 0).sum())
    without = table.loc[xa_codes][table.loc[xa_codes, "bdvhx"] == 0]
    return {
        **totals,
        "xa_total": int(is_xa.sum()),
        "xa_with_cultural_post_office": with_bdvhx,
        "xa_with_cultural_post_office_pct": _pct(with_bdvhx, int(is_xa.sum())),
        "xa_without_cultural_post_office": [{"code": c, "name": nm} for c, nm in
                                            zip(without.index, without["name"], strict=True)],
        "points_by_kind": {k: int(v) for k, v in po["kind"].value_counts().sort_index().items()},
        "kinds_counted": sorted(counted["kind"].unique().tolist()) if kinds else "all",
        "units_failing_norms": int((per_unit["failures"] != "").sum()),
    }


def _postal_totals(po: gpd.GeoDataFrame, area: float, population: float,
                   kinds: tuple[str, ...] | None) -> tuple[gpd.GeoDataFrame, dict]:
    """Return the counted service points and the province's number, service radius and people per point."""
    counted = postal.counted_points(po, kinds=kinds)
    n = len(counted)
    return counted, {"service_points": n, "service_radius_km": _r(postal.service_radius_km(area, n), 2),
                     "people_per_point": _r(postal.people_per_point(population, n))}


def _mobile(dataset, old_to_new, table) -> dict:
    bts = dataset.get("bts_sites")
    if bts is None:
        return _mobile_totals(None, None)
    tech = site_technologies(bts)
    unit = _unit_of(bts, old_to_new)
    table["bts_sites"] = unit.value_counts().reindex(table.index, fill_value=0).to_numpy()
    table["sites_4g"] = unit[tech["4G"]].value_counts().reindex(table.index, fill_value=0).to_numpy()
    return _mobile_totals(bts, tech)


def _mobile_totals(bts: gpd.GeoDataFrame | None, tech: pd.DataFrame | None) -> dict:
    """Return the province's site counts (`tech`: `site_technologies` of `bts`)."""
    keys = ("bts_sites", "sites_2g", "sites_3g", "sites_4g", "sites_5g", "sites_diesel", "sites_solar",
            "operators", "sites_by_operator")
    if bts is None or tech is None:
        return dict.fromkeys(keys)
    power = bts["power"] if "power" in bts else pd.Series([None] * len(bts), index=bts.index)
    return {
        "bts_sites": len(bts),
        "sites_2g": int(tech["2G"].sum()),
        "sites_3g": int(tech["3G"].sum()),
        "sites_4g": int(tech["4G"].sum()),
        "sites_5g": int(tech["5G"].sum()),
        "sites_diesel": int((power == "diesel").sum()) if "power" in bts else None,
        "sites_solar": int((power == "solar").sum()) if "power" in bts else None,
        "operators": int(bts["operator"].nunique()),
        "sites_by_operator": {k: int(v) for k, v in bts["operator"].value_counts().sort_index().items()},
    }


def _fiber(dataset, old_to_new, table) -> dict:
    villages = dataset.get("villages")
    out = _fiber_totals(villages, dataset.get("fiber_routes"))
    if villages is None:
        return out
    unit = _unit_of(villages, old_to_new)
    table["villages"] = unit.value_counts().reindex(table.index, fill_value=0).to_numpy()
    if out["villages_with_fiber"] is None:
        return out
    fiber = villages["fiber"].astype("boolean")
    counts = unit[fiber.fillna(False).to_numpy(dtype=bool)].value_counts()
    table["villages_fiber"] = counts.reindex(table.index, fill_value=0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        table["villages_fiber_pct"] = 100.0 * table["villages_fiber"] / table["villages"].where(table["villages"] > 0)
    return out


def _fiber_totals(villages: gpd.GeoDataFrame | None, routes: gpd.GeoDataFrame | None) -> dict:
    """Return the province's villages with and without fiber and the route length."""
    route_km = _r(float(routes.geometry.length.sum() / 1000), 1) if routes is not None else None
    if villages is None:
        return {"villages": None, "villages_with_fiber": None, "villages_without_fiber": None,
                "villages_fiber_pct": None, "route_km": route_km}
    out = {"villages": len(villages), "route_km": route_km}
    if "fiber" not in villages or villages["fiber"].isna().all():
        return out | {"villages_with_fiber": None, "villages_without_fiber": None, "villages_fiber_pct": None}
    fiber = villages["fiber"].astype("boolean")
    known = fiber.notna()
    with_fiber = int(fiber.fillna(False).sum())
    without = int((~fiber.fillna(True)).sum())
    return out | {"villages_with_fiber": with_fiber, "villages_without_fiber": without,
                  "villages_fiber_pct": _pct(with_fiber, int(known.sum())),
                  "villages_status_unknown": int((~known).sum())}


def _broadcast(units, table, unavailable: dict) -> dict:
    it_keys = {"units_with_it_radio": None, "units_with_it_radio_pct": None}
    if "radio_it" not in units or units["radio_it"].isna().all():
        unavailable["broadcast.units_with_it_radio"] = (
            "the communes layer has no radio_it attribute (does the commune's radio station use IT/telecom: "
            "có/không; aliases dai_cntt, dai_ip)")
    if "radio" not in units or units["radio"].isna().all():
        return {"units_total": len(units), "units_with_radio": None, "units_with_radio_pct": None} | it_keys
    radio = units["radio"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    table["radio"] = radio
    out = {"units_total": len(units), "units_with_radio": int(radio.sum()),
           "units_with_radio_pct": _pct(int(radio.sum()), len(units))} | it_keys
    if "broadcast.units_with_it_radio" not in unavailable:
        it = units["radio_it"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        table["radio_it"] = it
        n_it = int(it.sum())
        out |= {"units_with_it_radio": n_it, "units_with_it_radio_pct": _pct(n_it, int(radio.sum()))}
    return out


def _sharing(dataset, old_to_new, table, unavailable: dict, *, distance_m: float | None) -> dict:
    """Towers and towers shared by ≥ 2 operators (`ictgis.infrastructure`), per unit and for the province."""
    d = settings.sharing_distance_m if distance_m is None else float(distance_m)
    out = {"towers": None, "sites_shared": None, "sites_shared_pct": None, "distance_m": d,
           "tower_ids": None}
    bts = dataset.get("bts_sites")
    if bts is None or len(bts) == 0:
        unavailable["sharing.sites_shared"] = "there is no bts_sites layer"
        return out
    frame = bts.copy()
    frame["commune"] = _unit_of(bts, old_to_new).to_numpy()
    towers = infrastructure.towers(frame, distance_m=d)
    table["towers"] = towers["commune"].value_counts().reindex(table.index, fill_value=0).to_numpy()
    table["towers_shared"] = towers.loc[towers["shared"], "commune"].value_counts().reindex(
        table.index, fill_value=0).to_numpy()
    n, shared = len(towers), int(towers["shared"].sum())
    return out | {"towers": n, "sites_shared": shared, "sites_shared_pct": _pct(shared, n),
                  "bts_on_shared_towers": int(towers.loc[towers["shared"], "records"].sum()),
                  "tower_ids": "tower" in bts and bool(bts["tower"].notna().any())}


def _underground(dataset, units, table, unavailable: dict) -> dict:
    """Fiber underground: km and share, for the province, per unit and in phường/thị trấn apart from xã."""
    keys = ("underground_km", "underground_pct", "underground_km_urban", "underground_pct_urban",
            "underground_km_xa", "underground_pct_xa", "underground_unknown_km")
    out = dict.fromkeys(keys)
    routes = dataset.get("fiber_routes")
    if routes is None or len(routes) == 0:
        unavailable["fiber.underground_km"] = "there is no fiber_routes layer"
        return out
    install = infrastructure.route_install(routes)
    if install.isna().all():
        unavailable["fiber.underground_km"] = (
            "the fiber_routes layer has no install attribute (aerial/underground; Vietnamese treo/ngầm, aliases "
            "lap_dat, hinh_thuc)")
        return out
    km = infrastructure.fiber_km_by_commune(routes, dataset["communes"])
    unit_codes = pd.Index(units["code"].to_numpy())
    if not km.index.equals(unit_codes):  # 2025 structure: old communes summed into new ones
        mapping = {old: new for new, olds in zip(units["code"], units["old_codes"], strict=True)
                   for old in str(olds).split(",")} if "old_codes" in units else {}
        km = km.groupby(km.index.map(lambda c: mapping.get(c, c))).sum().reindex(unit_codes, fill_value=0.0)
    table["fiber_km"] = km["fiber_km"].to_numpy()
    table["underground_km"] = km["underground_km"].to_numpy()
    known = (km["underground_km"] + km["aerial_km"]).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        table["underground_pct"] = np.where(known > 0, 100.0 * km["underground_km"].to_numpy() / known, np.nan)
    by_line = routes.geometry.length.to_numpy() / 1000.0
    under = float(by_line[(install == "underground").to_numpy()].sum())
    known_total = float(by_line[install.notna().to_numpy()].sum())
    urban = (table["kind"].isin(["phuong", "thi_tran"])).to_numpy()
    xa = (table["kind"] == "xa").to_numpy()

    def part(mask):
        u = float(km["underground_km"].to_numpy()[mask].sum())
        k = float(known[mask].sum())
        return _r(u, 2), (None if k <= 0 else _pct(u, k))

    u_urban, p_urban = part(urban)
    u_xa, p_xa = part(xa)
    return {"underground_km": _r(under, 2), "underground_pct": None if known_total <= 0 else _pct(under, known_total),
            "underground_km_urban": u_urban, "underground_pct_urban": p_urban, "underground_km_xa": u_xa,
            "underground_pct_xa": p_xa, "underground_unknown_km": _r(float(by_line[install.isna().to_numpy()].sum()),
                                                                     2)}


def _by_district(table: pd.DataFrame) -> pd.DataFrame:
    sums = [c for c in ("area_km2", "population", "post_points", "bdvhx", "bts_sites", "sites_4g", "villages",
                        "villages_fiber", "radio", "radio_it", "towers", "towers_shared", "fiber_km",
                        "underground_km") if c in table]
    grouped = table.groupby("district")[sums].sum()
    grouped["units"] = table.groupby("district").size()
    if "post_points" in grouped:
        with np.errstate(divide="ignore", invalid="ignore"):
            points = grouped["post_points"].where(grouped["post_points"] > 0)
            grouped["postal_radius_km"] = np.sqrt(grouped["area_km2"] / (np.pi * points))
            grouped["people_per_point"] = grouped["population"] / points
    if "underground_km" in grouped:
        known = table.groupby("district")["fiber_km"].sum()
        grouped["underground_pct"] = 100.0 * grouped["underground_km"] / known.where(known > 0)
    if "villages_fiber" in grouped:
        grouped["villages_fiber_pct"] = 100.0 * grouped["villages_fiber"] / grouped["villages"].where(
            grouped["villages"] > 0)
    grouped.index.name = "district"
    return grouped


ROUNDING = {"area_km2": 2, "postal_radius_km": 2, "people_per_point": 0, "population": 0, "villages_fiber_pct": 1,
            "underground_pct": 1, "fiber_km": 2, "underground_km": 2}


def _records(table: pd.DataFrame) -> list[dict]:
    rows = []
    for key, row in table.iterrows():
        rec = {table.index.name: key}
        for column, value in row.items():
            if isinstance(value, (np.bool_, bool)):
                rec[column] = bool(value)
            elif isinstance(value, (int, np.integer)):
                rec[column] = int(value)
            elif isinstance(value, (float, np.floating)):
                rec[column] = _r(float(value), ROUNDING.get(column, 2)) if not pd.isna(value) else None
            elif value is pd.NA or value is None:
                rec[column] = None
            else:
                rec[column] = value
        rows.append(rec)
    return rows


# ------------------------------------------------------------------------------------------ presentation
#: The indicators of the department's table, in order (labels, units and groups: `ictgis.labels.INDICATORS`).
TABLE_INDICATORS: tuple[str, ...] = (
    "postal.service_points", "postal.service_radius_km", "postal.people_per_point", "postal.xa_total",
    "postal.xa_with_cultural_post_office", "postal.xa_with_cultural_post_office_pct", "mobile.bts_sites",
    "mobile.sites_3g", "mobile.sites_4g", "mobile.sites_diesel", "mobile.operators", "mobile.populated_area_4g_pct",
    "mobile.populated_area_3g_pct", "fiber.villages", "fiber.villages_with_fiber", "fiber.villages_without_fiber",
    "fiber.villages_fiber_pct", "fiber.underground_km", "fiber.underground_pct", "fiber.underground_pct_urban",
    "fiber.underground_pct_xa", "broadcast.units_total", "broadcast.units_with_radio",
    "broadcast.units_with_radio_pct", "broadcast.units_with_it_radio", "sharing.towers", "sharing.sites_shared",
    "sharing.sites_shared_pct",
)


def lookup(result: dict, key: str):
    """Return ``result["a"]["b"]`` for key ``"a.b"`` (None when absent)."""
    node = result
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def as_rows(result: dict, *, lang: str = "vi") -> list[tuple[str, str, object, str]]:
    """Return (group, label, value, unit) rows of the indicator table, in Vietnamese or English."""
    rows = []
    for key in TABLE_INDICATORS:
        lab = labels.INDICATORS[key]
        rows.append((labels.GROUPS[lab.group], lab.text(lang), lookup(result, key), lab.unit))
    return rows


def format_table(result: dict, *, lang: str = "vi") -> str:
    """Format the indicator table for a terminal ("—" for unavailable)."""
    rows = as_rows(result, lang=lang)
    width = max(len(r[1]) for r in rows)
    lines = []
    group = None
    for g, label, value, unit in rows:
        if g != group:
            lines.append(g.upper())
            group = g
        shown = "—" if value is None else (f"{value:,}" if isinstance(value, int) else f"{value}")
        lines.append(f"  {label:<{width}}  {shown:>10}  {unit}".rstrip())
    codes = {k: labels.itu_code(k) for k in TABLE_INDICATORS if labels.itu_code(k)}
    if codes:
        lines.append("ITU: " + ", ".join(f"{labels.INDICATORS[k].text(lang)} = {c}" for k, c in codes.items()))
    return "\n".join(lines)


#: Column widths of the indicator workbook: as wide as the text, within (min, max) characters.
XLSX_WIDTHS = (10, 60)


def _cell_vi(column: str, value: object) -> object:
    """Return a breakdown cell as the Vietnamese workbook shows it: Có/Không, and Xã/Phường/Thị trấn for kinds."""
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if column == "kind" and isinstance(value, str):
        from .layers import VALUE_TERMS

        return VALUE_TERMS["kind@communes"].get(value, (value,))[0]
    return value


def write_xlsx(result: dict, path: str | Path) -> Path:
    """Write the indicator table (one row per indicator) and the breakdowns to a Vietnamese XLSX, atomically.

    The indicator sheet's last column is the ITU indicator code (``Mã ITU``; empty where ITU has none).
    """
    from ._files import atomic_path
    from .sheets import Sheet, write_workbook

    rows = [[*row, labels.itu_code(key) or ""] for key, row in zip(TABLE_INDICATORS, as_rows(result), strict=True)]
    sheets = [Sheet("Chỉ tiêu", header=[labels.HEADINGS[k].vi for k in ("group", "indicator", "value", "unit", "itu")],
                    rows=rows, widths=XLSX_WIDTHS)]
    for sheet_name, records in (("Theo xã", result.get("communes")), ("Theo huyện", result.get("districts"))):
        if not records:
            continue
        columns = list(records[0])
        sheets.append(Sheet(sheet_name, header=[labels.FIELDS[c].heading() if c in labels.FIELDS else c
                                                for c in columns],
                            rows=[[_cell_vi(c, v) for c, v in rec.items()] for rec in records],
                            widths=XLSX_WIDTHS))
    with atomic_path(path) as tmp:
        write_workbook(tmp, sheets)
    return Path(path)
