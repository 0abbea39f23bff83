"""Does a layer's CRS fit its coordinates? Catch a wrong CRS before it turns into a silent wrong number.

A commune file in metres declared in degrees (``--crs EPSG:4326``) transforms to infinite coordinates: without a
check it is "valid", its area is 0 km² and every other layer "lies outside the province (nan km)". Before a layer
is brought to the working CRS, `check_layer` compares its coordinates with its CRS and with the province:

- coordinates impossible in the CRS (not finite, degrees beyond ±180/±90, metres beyond 10⁸) are errors;
- a layer that does not lie in or near the area of use of the province's working CRS (EPSG:9205 for Điện Biên:
  102.14–103.99 °E, 20.89–22.82 °N, plus ``settings.province_extent_margin_m``) is an error; the message says what
  the coordinates look like and suggests the CRS that puts them inside, found by reading the same numbers in the
  working zone, VN-2000 / UTM 48N (EPSG:3405), WGS 84 (EPSG:4326), VN-2000 geographic (EPSG:4756) and the other
  VN-2000 TM-3 zones;
- a stated CRS (``--crs``, ``crs:`` in layers.yaml) that disagrees with the file's own (.prj, GeoPackage) is a
  `CRSWarning` naming both: the file's CRS is used. (Not for the WGS 84 that lon/lat CSV, GeoJSON and KML imply.)

The checks run on the raw coordinates, so they never need a transformation that may fail. (Polygons of no area are
refused by `ictgis._validate.check_geometries`; a province area of 0, NaN or infinity by `ictgis.indicators`.)
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from . import settings
from ._errors import CRSError, CRSWarning
from ._validate import Collector
from .crs import TM3_ZONES, VN_LAT, VN_LON, looks_like_degrees, looks_swapped, parse_crs, transformer

logger = logging.getLogger(__name__)

#: Largest projected coordinate taken as possible (10⁸ m, two and a half times round the earth).
MAX_PROJECTED_M = 1e8
#: Share of a layer's features that must lie near the province for its CRS to count as fitting.
FIT_SHARE = 0.5
#: Share of features a candidate CRS must put near the province to be suggested.
SUGGEST_SHARE = 0.9
#: How many fitting CRSs a message names.
MAX_SUGGESTIONS = 3
MAX_LISTED = 20
KM_PER_DEGREE_LAT = 110.574
KM_PER_DEGREE_LON_EQUATOR = 111.320


@dataclass(frozen=True)
class Extent:
    """Where a province's data may lie: a longitude/latitude box and a margin around it.

    Attributes
    ----------
    west, south, east, north
        The box in degrees.
    margin_m
        How far outside the box data may still reach.
    name
        What the box is, for messages.
    """

    west: float
    south: float
    east: float
    north: float
    margin_m: float
    name: str

    @property
    def margin_deg(self) -> tuple[float, float]:
        """The margin in degrees of longitude and of latitude at the box's middle latitude."""
        lat = math.radians((self.south + self.north) / 2)
        dlat = self.margin_m / 1000 / KM_PER_DEGREE_LAT
        return dlat / max(math.cos(lat), 0.01) * KM_PER_DEGREE_LAT / KM_PER_DEGREE_LON_EQUATOR, dlat

    def contains(self, lon: np.ndarray, lat: np.ndarray, *, margin: bool = True) -> np.ndarray:
        """Flag longitude/latitude pairs inside the box (grown by the margin when `margin`)."""
        mx, my = self.margin_deg if margin else (0.0, 0.0)
        with np.errstate(invalid="ignore"):
            return ((lon >= self.west - mx) & (lon <= self.east + mx) & (lat >= self.south - my)
                    & (lat <= self.north + my))

    def distance_km(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Approximate distance (km) of longitude/latitude pairs from the box; NaN where not finite."""
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        with np.errstate(invalid="ignore", over="ignore"):
            dlon = np.maximum(np.maximum(self.west - lon, lon - self.east), 0.0)
            dlat = np.maximum(np.maximum(self.south - lat, lat - self.north), 0.0)
            kx = KM_PER_DEGREE_LON_EQUATOR * np.cos(np.radians(np.clip(lat, -90, 90)))
            out = np.hypot(dlon * kx, dlat * KM_PER_DEGREE_LAT)
        return np.where(np.isfinite(lon) & np.isfinite(lat), out, np.nan)

    def __str__(self) -> str:
        return f"{self.name}: {self.west:.2f}–{self.east:.2f} °E, {self.south:.2f}–{self.north:.2f} °N"


def province_extent(working: object, *, margin_m: float | None = None) -> Extent:
    """Return where the data of a province in the working CRS `working` may lie: the CRS's area of use.

    A VN-2000 TM-3 zone is used by the provinces of its strip only (EPSG:9205: Điện Biên and Lai Châu), so its area
    of use bounds their data. A CRS without one falls back to Vietnam's box.

    Examples
    --------
    >>> str(province_extent("EPSG:9205"))
    'area of use of EPSG:9205 (VN-2000 / TM-3 103-00): 102.14–103.99 °E, 20.89–22.82 °N'
    """
    crs = parse_crs(working)
    margin = settings.province_extent_margin_m if margin_m is None else float(margin_m)
    area = crs.area_of_use
    if area is None:
        return Extent(VN_LON[0], VN_LAT[0], VN_LON[1], VN_LAT[1], margin, "Vietnam")
    return Extent(*area.bounds, margin, f"area of use of {crs_label(crs)}")


def crs_label(crs: CRS) -> str:
    """``EPSG:9205 (VN-2000 / TM-3 103-00)``, or the CRS's name when it has no EPSG code."""
    code = crs.to_epsg()
    return f"EPSG:{code} ({crs.name})" if code else crs.name


def same_crs(a: CRS, b: CRS) -> bool:
    """Tell whether two CRSs are the same (equal, or identified by the same EPSG code)."""
    if a.equals(b, ignore_axis_order=True):
        return True
    code_a, code_b = a.to_epsg(), b.to_epsg()
    return code_a is not None and code_a == code_b


def candidate_crss(working: object) -> list[CRS]:
    """CRSs a province's data is usually in: its working zone, UTM 48N, WGS 84, VN-2000, then the other zones."""
    codes = [parse_crs(working).to_epsg(), 3405, 4326, 4756, *sorted({e for _, e in TM3_ZONES.values()}), 3406]
    out: list[CRS] = []
    for code in codes:
        if code is not None and all(c.to_epsg() != code for c in out):
            out.append(CRS.from_epsg(code))
    return out


def lonlat(crs: CRS, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Read coordinates in `crs` as longitude/latitude on its own datum; NaN where impossible."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if crs.is_geographic:
        ok = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)
        return np.where(ok, x, np.nan), np.where(ok, y, np.nan)
    ok = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= MAX_PROJECTED_M) & (np.abs(y) <= MAX_PROJECTED_M)
    lon = np.full(len(x), np.nan)
    lat = np.full(len(x), np.nan)
    if ok.any():
        geodetic = crs.geodetic_crs or CRS.from_epsg(4326)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            lo, la = transformer(crs, geodetic).transform(x[ok], y[ok], errcheck=False)
        lo, la = np.asarray(lo, dtype=float), np.asarray(la, dtype=float)
        good = np.isfinite(lo) & np.isfinite(la) & (np.abs(lo) <= 180) & (np.abs(la) <= 90)
        lon[ok] = np.where(good, lo, np.nan)
        lat[ok] = np.where(good, la, np.nan)
    return lon, lat


@dataclass(frozen=True)
class Suggestion:
    """A CRS that puts a layer's coordinates near the province, with the share of features it puts inside."""

    crs: CRS
    share_inside: float

    @property
    def code(self) -> str:
        """``EPSG:9205``."""
        return f"EPSG:{self.crs.to_epsg()}"


def suggest_crs(x: np.ndarray, y: np.ndarray, *, working: object, extent: Extent | None = None,
                exclude: CRS | None = None) -> list[Suggestion]:
    """Return the CRSs that, read into these coordinates, put them in or near the province; best first.

    Parameters
    ----------
    x, y
        One representative coordinate per feature, as written in the file.
    working
        The working CRS (the province's zone), tried first.
    extent
        Where the province's data may lie (default: `province_extent` of `working`).
    exclude
        A CRS not to suggest (the one the layer is declared in).

    Examples
    --------
    >>> [s.code for s in suggest_crs([505_000.0], [2_365_000.0], working="EPSG:9205")][0]
    'EPSG:9205'
    """
    extent = extent or province_extent(working)
    found = []
    for order, crs in enumerate(candidate_crss(working)):
        if exclude is not None and same_crs(crs, exclude):
            continue
        lon, lat = lonlat(crs, x, y)
        near = float(extent.contains(lon, lat).mean()) if len(lon) else 0.0
        if near >= SUGGEST_SHARE:
            inside = float(extent.contains(lon, lat, margin=False).mean())
            found.append((-inside, order, Suggestion(crs, inside)))
    return [s for *_, s in sorted(found, key=lambda t: t[:2])]


def _fmt(value: float) -> str:
    if not math.isfinite(value) or abs(value) >= 1e7:
        return f"{value:.3g}"
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _range(lo: float, hi: float) -> str:
    return _fmt(lo) if lo == hi else f"{_fmt(lo)}..{_fmt(hi)}"


def _remedy(suggestions: list[Suggestion], *, declared_by_file: bool, label: str, tried: str) -> str:
    if not suggestions:
        return (f"none of {tried} puts it inside the province: check the coordinates (a shift, a wrong unit, "
                "another province?)")
    best = suggestions[0].code
    if declared_by_file:
        stem = label.split(":")[0]
        if stem.lower().endswith(".csv"):
            fix = (f"columns named lon/lat are read in EPSG:4326: name them x and y and set crs: {best} in "
                   f"layers.yaml or --crs {best}")
        elif stem.lower().endswith(".shp"):
            fix = (f"the file's CRS is wrong: delete {Path(stem).with_suffix('.prj').name} and set crs: {best} in "
                   f"layers.yaml or --crs {best}")
        else:
            fix = f"the file's CRS is wrong: assign the right one (ogr2ogr -a_srs {best} fixed.gpkg {stem})"
    else:
        fix = f"set crs: {best} in layers.yaml or --crs {best}"
    others = [s.code for s in suggestions[1:MAX_SUGGESTIONS]]
    also = f" ({' or '.join(others)} would also put it near the province)" if others else ""
    return f"{best} puts the data inside the province: {fix}{also}"


def _what_is_wrong(crs: CRS, bounds: tuple[float, float, float, float], lon: np.ndarray, lat: np.ndarray,
                   extent: Extent) -> str:
    minx, miny, maxx, maxy = bounds
    coords = f"coordinates x {_range(minx, maxx)}, y {_range(miny, maxy)}"
    label = crs_label(crs)
    finite = all(math.isfinite(v) for v in bounds)
    if crs.is_geographic:
        if finite and max(abs(v) for v in bounds) <= MAX_PROJECTED_M and not looks_like_degrees(bounds):
            return f"{coords} are metres, but {label} is in degrees"
        if not looks_like_degrees(bounds):
            return f"{coords} are impossible in {label} (degrees go to ±180, ±90)"
    elif not finite or max(abs(v) for v in bounds) > MAX_PROJECTED_M:
        return f"{coords} are impossible in {label} (metres beyond ±{MAX_PROJECTED_M:.0e})"
    elif looks_like_degrees(bounds):
        return f"{coords} look like degrees, but {label} is in metres"
    dist = extent.distance_km(lon, lat)
    where = (f"lie about {np.nanmedian(dist):.0f} km outside the {extent}" if np.isfinite(dist).any()
             else f"do not lie in the {extent}")
    return f"{coords} read in {label} {where}"


def _implicit_wgs84(label: str, crs: CRS) -> bool:
    """Tell whether the format implies the CRS rather than the file declaring it: WGS 84 of CSV, GeoJSON, KML.

    A stated CRS is for files without one, so it is no news that these ignore it.
    """
    suffix = Path(label.split(":")[0]).suffix.lower()
    return suffix == ".csv" or (suffix in (".geojson", ".json", ".kml") and crs.to_epsg() == 4326)


def check_layer(frame: gpd.GeoDataFrame, *, stated: object, working: object, label: str, collector: Collector,
                extent: Extent | None = None) -> bool:
    """Check that a layer's coordinates fit its CRS and lie near the province; record problems.

    Parameters
    ----------
    frame
        The layer as read, with the CRS its file declares (or None).
    stated
        The CRS stated by the user for files without one (``--crs`` or ``crs:`` in layers.yaml), or None.
    working
        The working CRS of the province.
    label
        File name used in messages.
    collector
        Where problems and warnings go.
    extent
        Where the province's data may lie (default: `province_extent` of `working`).

    Returns
    -------
    bool
        False when a problem was recorded (the layer must not be transformed or compared with others), True
        otherwise (also when the layer has no CRS at all: the caller reports that).
    """
    try:
        stated_crs = parse_crs(stated, source=label) if stated is not None else None
    except CRSError:
        return True  # the caller raises its own error for an unusable CRS value
    file_crs = CRS(frame.crs) if frame.crs is not None else None
    if (file_crs is not None and stated_crs is not None and not same_crs(file_crs, stated_crs)
            and not _implicit_wgs84(label, file_crs)):
        message = (f"{label}: the file declares {crs_label(file_crs)} but {crs_label(stated_crs)} is stated "
                   "(--crs or crs: in layers.yaml); the file's own CRS is used")
        logger.warning(message)
        warnings.warn(message, CRSWarning, stacklevel=2)
        collector.notes.append(message)
    crs = file_crs or stated_crs
    if crs is None:
        return True
    geoms = np.asarray(frame.geometry.values, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    rows = np.flatnonzero(present)
    if not len(rows):
        return True
    with np.errstate(invalid="ignore", over="ignore"):
        b = shapely.bounds(geoms[rows])
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    swapped = looks_swapped(cx, cy) if crs.is_geographic else np.zeros(len(rows), dtype=bool)
    rows, b, cx, cy = rows[~swapped], b[~swapped], cx[~swapped], cy[~swapped]  # the caller reports swapped ones
    if not len(rows):
        return True
    limit_x, limit_y = (180.0, 90.0) if crs.is_geographic else (MAX_PROJECTED_M, MAX_PROJECTED_M)
    with np.errstate(invalid="ignore"):
        possible = (np.isfinite(b).all(axis=1) & (np.abs(b[:, [0, 2]]) <= limit_x).all(axis=1)
                    & (np.abs(b[:, [1, 3]]) <= limit_y).all(axis=1))
    extent = extent or province_extent(working)
    lon, lat = lonlat(crs, cx, cy)
    near = possible & extent.contains(lon, lat)
    if near.mean() < FIT_SHARE:
        finite = np.isfinite(b).all(axis=1)
        pick = b[finite] if finite.any() else b
        with np.errstate(invalid="ignore"):
            bounds = (float(np.min(pick[:, 0])), float(np.min(pick[:, 1])), float(np.max(pick[:, 2])),
                      float(np.max(pick[:, 3])))
        wrong = _what_is_wrong(crs, bounds, lon, lat, extent)
        source = ("--crs or crs: in layers.yaml" if file_crs is None else "its lon/lat column names"
                  if label.lower().endswith(".csv") else "its file")
        ok = finite & np.isfinite(cx) & np.isfinite(cy)
        suggestions = suggest_crs(cx[ok], cy[ok], working=working, extent=extent, exclude=crs) if ok.any() else []
        tried = f"EPSG:{parse_crs(working).to_epsg()}, EPSG:3405, EPSG:4326, EPSG:4756 or the other VN-2000 zones"
        remedy = _remedy(suggestions, declared_by_file=file_crs is not None, label=label, tried=tried)
        collector.add(label, f"{wrong}: the CRS (from {source}) does not fit the data; {remedy}", kind="crs_misfit",
                      suggested=", ".join(s.code for s in suggestions[:MAX_SUGGESTIONS]))
        return False
    problems = len(collector.problems)
    for n, i in enumerate(np.flatnonzero(~possible)):
        if n >= MAX_LISTED:
            collector.add(label, f"… and {int((~possible).sum()) - n} more features with impossible coordinates",
                          column="geometry")
            break
        collector.add(label, f"coordinates ({_fmt(cx[i])}, {_fmt(cy[i])}) are impossible in {crs_label(crs)}",
                      row=int(rows[i]) + 1, column="geometry")
    types = shapely.get_type_id(geoms[rows])
    points = bool(np.isin(types, (0, 4)).all())
    far = possible & ~near
    if not points:  # points are compared with the commune polygons afterwards, with their distance
        dist = extent.distance_km(lon, lat)
        for n, i in enumerate(np.flatnonzero(far)):
            if n >= MAX_LISTED:
                collector.add(label, f"… and {int(far.sum()) - n} more features far outside the province",
                              column="geometry")
                break
            collector.add(label, f"lies about {dist[i]:.0f} km outside the {extent}", row=int(rows[i]) + 1,
                          column="geometry")
    return len(collector.problems) == problems
