"""Explicit cleaning of commune polygons: remove overlaps, fill sliver gaps.

Generalised boundaries (like the public 2019 polygons of Điện Biên, ~15 km² of overlaps and ~500 slivers)
overlap their neighbours and leave slivers between them. Validation reports this; cleaning is a separate,
explicit step (`ictgis clean`) so nothing changes a user's boundaries silently.

A hole cleaning cannot fill is reported with its reason (`diagnose_holes`): larger than the sliver limit, touching
no commune, or about the size of a commune while a unit of the official GSO list is missing from the file ("Tà
Lèng (03xxx) is missing: 15.5 km² hole") — a missing unit is never given to a neighbour.

Attributes
----------
MAX_GAP_KM2 : float
    Largest hole filled as a sliver by default (5 km²; the real 2019 polygons' slivers are all under 0.4 km²).
COMMUNE_SIZED_SHARE : float
    A hole at least this share of the smallest commune polygon of the file (0.5) is "commune-sized": when a
    unit of the official list is missing in the districts around it, it is reported as that unit.
MIN_UNIT_KM2 : float
    Floor of the commune-sized area (0.1 km²), so one tiny stray polygon does not make every sliver a unit.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from . import admin

logger = logging.getLogger(__name__)

MAX_GAP_KM2 = 5.0
COMMUNE_SIZED_SHARE = 0.5
MIN_UNIT_KM2 = 0.1
MAX_NAMED = 4  # names listed in a message before "and N others"


@dataclass(frozen=True)
class HoleVerdict:
    """What cleaning can do with one hole inside the union of the commune polygons.

    Attributes
    ----------
    area_km2
        Area of the hole.
    neighbours
        Positions (0-based rows) of the communes touching it.
    reason
        Why `clean_communes` leaves it, in plain words; None when it fills it.
    missing
        GSO codes of the units of the official list that may be this hole (missing from the file, in the districts
        around it), when it is commune-sized.
    """

    area_km2: float
    neighbours: tuple[int, ...]
    reason: str | None = None
    missing: tuple[str, ...] = ()

    @property
    def fillable(self) -> bool:
        """True when `clean_communes` gives the hole to a neighbour."""
        return self.reason is None


def diagnose_holes(communes: gpd.GeoDataFrame, holes: list[shapely.Polygon], *,
                   max_gap_km2: float = MAX_GAP_KM2) -> list[HoleVerdict]:
    """Tell for each hole whether cleaning can fill it, and why not.

    A hole is left when it touches no commune polygon, when it is larger than `max_gap_km2`, or when it is
    commune-sized (see `COMMUNE_SIZED_SHARE`) and units of the official GSO list (:func:`ictgis.admin.units`)
    are missing from the file in the districts of its neighbours: then it is reported as that unit
    ("Tà Lèng (03xxx) is missing: 15.5 km² hole"), or as one of them.

    Parameters
    ----------
    communes
        Commune polygons in a projected CRS, with `code` (GSO codes for the missing-unit check) and `name`.
    holes
        Holes inside the union of the polygons (e.g. the interiors of its parts).
    max_gap_km2
        Largest hole treated as a sliver.

    Returns
    -------
    list of HoleVerdict
        One per hole, in order.
    """
    if not holes:
        return []
    geoms = np.asarray(communes.geometry.values, dtype=object)
    hole_arr = np.asarray(holes, dtype=object)
    areas = shapely.area(hole_arr) / 1e6
    tree = shapely.STRtree(geoms)
    near: list[list[int]] = [[] for _ in holes]
    for h, g in zip(*tree.query(hole_arr, predicate="intersects"), strict=True):
        near[int(h)].append(int(g))
    lonely = [i for i, n in enumerate(near) if not n]
    if lonely:
        for h, g in zip(*tree.query(shapely.buffer(hole_arr[lonely], 1.0), predicate="intersects"), strict=True):
            near[lonely[int(h)]].append(int(g))
    codes = [None if c is None or (isinstance(c, float) and c != c) else str(c)
             for c in (communes["code"] if "code" in communes else [None] * len(communes))]
    names = [str(n) for n in communes["name"]] if "name" in communes else [c or "?" for c in codes]
    sizes = shapely.area(geoms) / 1e6
    commune_sized_km2 = max(COMMUNE_SIZED_SHARE * float(sizes[sizes > 0].min()) if (sizes > 0).any() else 0.0,
                            MIN_UNIT_KM2)
    suspects = {i for i, a in enumerate(areas) if a >= commune_sized_km2 or a > max_gap_km2}
    missing = admin.missing_units(codes) if suspects else None
    table = admin.units().set_index("code")
    verdicts = [HoleVerdict(float(a), tuple(sorted(n))) for a, n in zip(areas, near, strict=True)]
    for i, n in enumerate(near):
        area = float(areas[i])
        if not n:
            verdicts[i] = HoleVerdict(area, (), f"{area:.2f} km² hole touches no commune polygon")
            continue
        if i not in suspects:
            continue
        around = _listing([names[j] for j in sorted(n)])
        candidates = None
        if missing is not None and area >= commune_sized_km2:
            districts = {table.at[codes[j], "dist_code"] for j in n if codes[j] in table.index}
            candidates = missing[missing["dist_code"].isin(districts)]
        if candidates is not None and len(candidates):
            found = tuple(candidates["code"])
            if len(candidates) == 1:
                unit = candidates.iloc[0]
                reason = f"{unit['name']} ({unit['code']}) is missing: {area:.1f} km² hole"
            else:
                units = ", ".join(f"{u} ({c})" for u, c in zip(candidates["name"], candidates["code"], strict=True))
                reason = f"{area:.1f} km² hole between {around}, where units of the GSO list are missing: {units}"
            verdicts[i] = HoleVerdict(area, verdicts[i].neighbours, reason, found)
        elif area > max_gap_km2:
            why = ("no unit of the GSO list is missing around it" if missing is not None else
                   "the codes are not GSO codes, so it cannot be checked against the official list "
                   "(`ictgis match-codes`)")
            verdicts[i] = HoleVerdict(
                area, verdicts[i].neighbours,
                f"{area:.1f} km² hole between {around} is larger than the {max_gap_km2:g} km² sliver limit ({why}); "
                f"if it belongs to them, `--max-gap-km2 {math.ceil(area)}` gives it to the one with the longest "
                "shared border")
    return verdicts


def _listing(items: list[str], *, conjunction: str = "and") -> str:
    if len(items) > MAX_NAMED:
        return f"{', '.join(items[:MAX_NAMED])} {conjunction} {len(items) - MAX_NAMED} others"
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


@dataclass
class CleanReport:
    """What `clean_communes` changed, and the holes it left with the reason for each."""

    overlaps_removed_km2: float
    gaps_filled: int
    gaps_filled_km2: float
    gaps_left: int
    holes_left: list[str] = field(default_factory=list)


def clean_communes(communes: gpd.GeoDataFrame, *, max_gap_km2: float = MAX_GAP_KM2
                   ) -> tuple[gpd.GeoDataFrame, CleanReport]:
    """Return communes without overlaps and with sliver gaps given to a neighbour.

    Overlaps go to the commune that holds the larger share of the overlap's area in its own polygon order
    (first come, first kept, in the layer's order). Each hole inside the union smaller than `max_gap_km2` goes to
    the neighbour sharing the longest boundary with it. Larger holes (real enclaves of another province) stay, and
    so do commune-sized holes where a unit of the official list is missing (see `diagnose_holes`): each hole
    left is in the report with its reason.

    Parameters
    ----------
    communes
        Commune polygons in a projected CRS.
    max_gap_km2
        Largest hole treated as a sliver.

    Returns
    -------
    (geopandas.GeoDataFrame, CleanReport)
        A new frame (the input is not modified) and what was changed.
    """
    geoms = np.asarray(communes.geometry.values, dtype=object).copy()
    before = float(shapely.area(geoms).sum())
    tree = shapely.STRtree(geoms)
    for i in range(len(geoms)):
        neighbours = [j for j in tree.query(geoms[i], predicate="intersects") if j < i]
        if neighbours:
            taken = shapely.union_all(geoms[neighbours])
            geoms[i] = shapely.make_valid(shapely.difference(geoms[i], taken))
    geoms = np.array([_polygonal(g) for g in geoms], dtype=object)
    removed = (before - float(shapely.area(geoms).sum())) / 1e6
    union = shapely.union_all(geoms)
    holes = [shapely.Polygon(r) for part in getattr(union, "geoms", [union]) if part.geom_type == "Polygon"
             for r in part.interiors]
    filled = 0
    filled_area = 0.0
    current = communes.set_geometry(gpd.GeoSeries(geoms, index=communes.index, crs=communes.crs))
    verdicts = diagnose_holes(current, holes, max_gap_km2=max_gap_km2)
    left = [v.reason for v in verdicts if not v.fillable]
    for hole, verdict in zip(holes, verdicts, strict=True):
        if not verdict.fillable:
            continue
        near = np.asarray(verdict.neighbours, dtype=int)
        shared = shapely.length(shapely.intersection(geoms[near], hole.boundary.buffer(0.5)))
        best = near[int(np.argmax(shared))]
        geoms[best] = _polygonal(shapely.union(geoms[best], hole))
        filled += 1
        filled_area += hole.area
    out = communes.copy()
    out = out.set_geometry(gpd.GeoSeries(geoms, index=communes.index, crs=communes.crs))
    report = CleanReport(overlaps_removed_km2=removed, gaps_filled=filled, gaps_filled_km2=filled_area / 1e6,
                         gaps_left=len(left), holes_left=[str(r) for r in left])
    logger.info("cleaned communes: %.2f km² of overlaps removed, %d gaps filled (%.2f km²), %d left",
                removed, filled, filled_area / 1e6, len(left))
    return out, report


def _polygonal(geom):
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()
