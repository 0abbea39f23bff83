"""The department's indicator table, computed from the layers.

`compute` returns a JSON-ready dict — a stable contract used by scripts and the web app — with the province-level
indicators under `postal`, `mobile`, `fiber` and `broadcast`, plus `communes` and `districts` breakdowns.
An indicator whose layer is missing is None (unavailable), not an error. Figures are rounded as the department
publishes them: 2 decimals for km, whole people, 1 decimal for percentages.

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

from . import admin, labels, postal
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
            area_km2: float | None = None) -> dict:
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
    polygon_area = float(communes.geometry.area.sum() / 1e6)
    area = area_km2 if area_km2 is not None else (dataset.area_km2 or polygon_area)
    _check_area(polygon_area, area, dataset)
    population = float(communes["population"].astype("Float64").sum())
    households = float(communes["households"].astype("Float64").sum()) if "households" in communes \
        and communes["households"].notna().all() else None
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

    result["postal"] = _postal(dataset, units, old_to_new, table, is_xa, population, area, postal_kinds)
    result["mobile"] = _mobile(dataset, old_to_new, table)
    result["fiber"] = _fiber(dataset, old_to_new, table)
    result["broadcast"] = _broadcast(units, table)
    result["communes"] = _records(table)
    result["districts"] = _records(_by_district(table)) if "district" in table else None
    return result


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
    counted = postal.counted_points(po, kinds=kinds)
    n = len(counted)
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
    radius = postal.service_radius_km(area, n)
    ppp = postal.people_per_point(population, n)
    return {
        "service_points": n,
        "service_radius_km": _r(radius, 2),
        "people_per_point": _r(ppp),
        "xa_total": int(is_xa.sum()),
        "xa_with_cultural_post_office": with_bdvhx,
        "xa_with_cultural_post_office_pct": _pct(with_bdvhx, int(is_xa.sum())),
        "xa_without_cultural_post_office": [{"code": c, "name": nm} for c, nm in
                                            zip(without.index, without["name"], strict=True)],
        "points_by_kind": {k: int(v) for k, v in po["kind"].value_counts().sort_index().items()},
        "kinds_counted": sorted(counted["kind"].unique().tolist()) if kinds else "all",
        "units_failing_norms": int((per_unit["failures"] != "").sum()),
    }


def _mobile(dataset, old_to_new, table) -> dict:
    bts = dataset.get("bts_sites")
    keys = ("bts_sites", "sites_2g", "sites_3g", "sites_4g", "sites_5g", "sites_diesel", "sites_solar",
            "operators", "sites_by_operator")
    if bts is None:
        return dict.fromkeys(keys)
    tech = site_technologies(bts)
    power = bts["power"] if "power" in bts else pd.Series([None] * len(bts), index=bts.index)
    unit = _unit_of(bts, old_to_new)
    table["bts_sites"] = unit.value_counts().reindex(table.index, fill_value=0).to_numpy()
    table["sites_4g"] = unit[tech["4G"]].value_counts().reindex(table.index, fill_value=0).to_numpy()
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
    routes = dataset.get("fiber_routes")
    route_km = _r(float(routes.geometry.length.sum() / 1000), 1) if routes is not None else None
    if villages is None:
        return {"villages": None, "villages_with_fiber": None, "villages_without_fiber": None,
                "villages_fiber_pct": None, "route_km": route_km}
    unit = _unit_of(villages, old_to_new)
    table["villages"] = unit.value_counts().reindex(table.index, fill_value=0).to_numpy()
    out = {"villages": len(villages), "route_km": route_km}
    if "fiber" not in villages or villages["fiber"].isna().all():
        return out | {"villages_with_fiber": None, "villages_without_fiber": None, "villages_fiber_pct": None}
    fiber = villages["fiber"].astype("boolean")
    known = fiber.notna()
    with_fiber = int(fiber.fillna(False).sum())
    without = int((~fiber.fillna(True)).sum())
    counts = unit[fiber.fillna(False).to_numpy(dtype=bool)].value_counts()
    table["villages_fiber"] = counts.reindex(table.index, fill_value=0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        table["villages_fiber_pct"] = 100.0 * table["villages_fiber"] / table["villages"].where(table["villages"] > 0)
    return out | {"villages_with_fiber": with_fiber, "villages_without_fiber": without,
                  "villages_fiber_pct": _pct(with_fiber, int(known.sum())),
                  "villages_status_unknown": int((~known).sum())}


def _broadcast(units, table) -> dict:
    if "radio" not in units or units["radio"].isna().all():
        return {"units_total": len(units), "units_with_radio": None, "units_with_radio_pct": None}
    radio = units["radio"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    table["radio"] = radio
    return {"units_total": len(units), "units_with_radio": int(radio.sum()),
            "units_with_radio_pct": _pct(int(radio.sum()), len(units))}


def _by_district(table: pd.DataFrame) -> pd.DataFrame:
    sums = [c for c in ("area_km2", "population", "post_points", "bdvhx", "bts_sites", "sites_4g", "villages",
                        "villages_fiber", "radio") if c in table]
    grouped = table.groupby("district")[sums].sum()
    grouped["units"] = table.groupby("district").size()
    if "post_points" in grouped:
        with np.errstate(divide="ignore", invalid="ignore"):
            points = grouped["post_points"].where(grouped["post_points"] > 0)
            grouped["postal_radius_km"] = np.sqrt(grouped["area_km2"] / (np.pi * points))
            grouped["people_per_point"] = grouped["population"] / points
    if "villages_fiber" in grouped:
        grouped["villages_fiber_pct"] = 100.0 * grouped["villages_fiber"] / grouped["villages"].where(
            grouped["villages"] > 0)
    grouped.index.name = "district"
    return grouped


ROUNDING = {"area_km2": 2, "postal_radius_km": 2, "people_per_point": 0, "population": 0, "villages_fiber_pct": 1}


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
    "fiber.villages_fiber_pct", "broadcast.units_total", "broadcast.units_with_radio",
    "broadcast.units_with_radio_pct",
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
        lines.append(f"  {label:<{width}}  {shown:>10}  {unit}")
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
    """Write the indicator table (one row per indicator) and the breakdowns to a Vietnamese XLSX, atomically."""
    from ._files import atomic_path
    from .sheets import Sheet, write_workbook

    sheets = [Sheet("Chỉ tiêu", header=[labels.HEADINGS[k].vi for k in ("group", "indicator", "value", "unit")],
                    rows=as_rows(result), widths=XLSX_WIDTHS)]
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
