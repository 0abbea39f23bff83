"""Terrain: DEM input/output, viewsheds, radial Fresnel sweeps, profiles and hillshade.

The DEM lives in a projected CRS (EPSG:9205 for Điện Biên) on square, north-up cells; elevations are float32
metres with NaN for nodata. Observers snap to the centre of the cell that contains them, as in ``gdal_viewshed``.

Viewsheds follow ``gdal_viewshed`` (GDAL 3.6, default "edge" mode): the reference-plane single scan of Wang et al.
(2000, "Generating viewsheds without using sightlines", PE&RS 66(1)). Rows are scanned outward from the observer;
each cell's horizon height is interpolated from its two neighbours nearer to the observer, along the line that
joins the observer to the cell, and the cell is visible when its ground plus the target height is not below that
horizon. Heights are first lowered by the earth's curvature, ``refraction_coeff · d² / (2 a)`` with ``a`` the
semi-major axis of the DEM's ellipsoid: GDAL's ``-cc`` coefficient, where 0.85714 (= 6/7) models refraction as an
earth of 7/6 times the real radius, 1 ignores refraction and 0 ignores the curvature. Cells next to the observer
are always visible. The kernels are compiled with numba (``cache=True``); :func:`warm_up` compiles them up front.

:func:`radial_sweep` casts rays from a site towards every cell of the perimeter of a fixed square (20 km, see
``RAY_RADIUS_M``), cut at its radius, so that the result of a cell does not depend on the radius, and gives,
for every cell within the radius, its distance and the Fresnel–Kirchhoff parameter ``v`` of the dominant
obstacle between the site and that cell (ITU-R P.526 single knife edge, earth of ``k_factor`` × 6,371 km).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from numba import njit, prange
from pyproj import CRS

from ._errors import CRSError, LayerError, Problem

logger = logging.getLogger(__name__)

#: numba's default "workqueue" threading layer is not thread-safe: parallel kernels launched from two Python threads
#: at once (a web request and a background computation, say) can crash the process. Every Python-level launch of a
#: parallel kernel in ictgis holds this lock.
PARALLEL_LOCK = threading.RLock()

__all__ = [
    "Dem", "Sweep", "ViewshedStack", "hillshade", "observer_cells", "profile",
    "radial_best_server_serial", "radial_sweep", "radial_sweep_serial", "read_dem", "sweep", "viewshed",
    "viewshed_many", "warm_up", "write_raster",
]

#: ``gdal_viewshed -cc`` default: curvature with standard refraction (earth 7/6 larger).
REFRACTION_COEFF = 0.85714
#: Mean earth radius of ITU-R P.452/P.526 (m), for the Fresnel sweep.
EARTH_RADIUS_M = 6_371_000.0
#: Viewshed cell values.
VISIBLE, HIDDEN, NODATA = 1, 0, 255


@dataclass(frozen=True, eq=False)
class Dem:
    """A digital elevation model on square, north-up cells of a projected CRS.

    Parameters
    ----------
    elevation
        2-D float32 elevations in metres, NaN where there is no data.
    transform
        Affine transform of the grid (rasterio convention, upper-left corner).
    crs
        Projected CRS of the grid (kept as its EPSG code when it has one).
    resolution_m
        Cell size in metres.

    Raises
    ------
    CRSError
        If the CRS is missing or geographic.
    LayerError
        If the grid is rotated, not square, or not 2-D.
    """

    elevation: np.ndarray
    transform: Affine
    crs: CRS
    resolution_m: float

    def __post_init__(self) -> None:
        if self.crs is None:
            raise CRSError("the DEM has no CRS: assign one (e.g. gdal_edit.py -a_srs EPSG:9205 dem.tif)")
        crs = self.crs if isinstance(self.crs, CRS) else CRS.from_user_input(self.crs)
        if not crs.is_projected:
            raise CRSError(f"the DEM is in {crs.name}, a geographic CRS; reproject it to the province's "
                           "VN-2000 grid first (e.g. gdalwarp -t_srs EPSG:9205 -tr 30 30 dem.tif dem_9205.tif)")
        elevation = np.asarray(self.elevation, dtype=np.float32)
        t = self.transform
        if elevation.ndim != 2 or min(elevation.shape) < 1:
            raise LayerError(f"the DEM must be a 2-D grid, got shape {elevation.shape}")
        if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0 or not math.isclose(t.a, -t.e, rel_tol=1e-6):
            raise LayerError(f"the DEM grid must be north-up with square cells, got {tuple(t)[:6]}; "
                             "read it with read_dem(path, resolution_m=...) to resample")
        if not math.isclose(self.resolution_m, t.a, rel_tol=1e-6):
            raise LayerError(f"resolution_m {self.resolution_m} does not match the transform's cell size {t.a}")
        object.__setattr__(self, "crs", crs)
        object.__setattr__(self, "elevation", elevation)
        object.__setattr__(self, "resolution_m", float(self.resolution_m))

    @classmethod
    def from_array(cls, elevation: np.ndarray, *, x_min: float, y_max: float, resolution_m: float,
                   crs: object = "EPSG:9205") -> Dem:
        """Build a DEM from an array whose upper-left corner is (`x_min`, `y_max`)."""
        return cls(np.asarray(elevation, dtype=np.float32),
                   Affine(resolution_m, 0.0, x_min, 0.0, -resolution_m, y_max),
                   CRS.from_user_input(crs), resolution_m)

    @property
    def shape(self) -> tuple[int, int]:
        """Rows and columns."""
        return self.elevation.shape

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(x_min, y_min, x_max, y_max) of the grid."""
        rows, cols = self.shape
        t = self.transform
        return t.c, t.f + rows * t.e, t.c + cols * t.a, t.f

    @property
    def semi_major_m(self) -> float:
        """Semi-major axis of the CRS's ellipsoid (what gdal_viewshed uses for the curvature)."""
        ellipsoid = self.crs.ellipsoid
        return ellipsoid.semi_major_metre if ellipsoid is not None else 6_378_137.0

    def cell_of(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the cells containing points (may fall outside the grid)."""
        t = self.transform
        col = np.floor((np.asarray(x, dtype=float) - t.c) / t.a).astype(np.int64)
        row = np.floor((np.asarray(y, dtype=float) - t.f) / t.e).astype(np.int64)
        return row, col


def _rio_crs(crs: CRS):
    import rasterio.crs

    code = crs.to_epsg()
    return rasterio.crs.CRS.from_epsg(code) if code else rasterio.crs.CRS.from_wkt(crs.to_wkt())


def _pyproj_crs(rio_crs) -> CRS | None:
    if rio_crs is None:
        return None
    code = rio_crs.to_epsg()
    return CRS.from_epsg(code) if code else CRS.from_wkt(rio_crs.to_wkt())


def read_dem(path: str | Path, *, resolution_m: float | None = None) -> Dem:
    """Read a single-band DEM with rasterio, optionally resampled to another cell size.

    Parameters
    ----------
    path
        GeoTIFF (or any raster GDAL reads) in a projected CRS.
    resolution_m
        Cell size to resample to (bilinear when finer, average when coarser), on a grid with the same
        upper-left corner. Non-square cells are resampled to the larger side when this is None.

    Returns
    -------
    Dem

    Raises
    ------
    CRSError
        If the raster has no CRS or a geographic one.
    LayerError
        If the file cannot be read.
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    path = Path(path)
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise LayerError(f"cannot read the DEM {path}: {exc}") from None
    with src:
        crs = _pyproj_crs(src.crs)
        if crs is None:
            raise CRSError(f"{path.name} has no CRS: assign one (e.g. gdal_edit.py -a_srs EPSG:9205 {path.name})")
        if not crs.is_projected:
            Dem(np.zeros((1, 1), np.float32), Affine(1, 0, 0, 0, -1, 0), crs, 1.0)  # raises the CRSError
        t = src.transform
        band = src.read(1, masked=True).astype(np.float32).filled(np.nan)
        native = abs(t.a)
        square = t.b == 0 and t.d == 0 and math.isclose(abs(t.a), abs(t.e), rel_tol=1e-6)
        if resolution_m is None and not square:
            resolution_m = max(abs(t.a), abs(t.e))
            logger.warning("%s has %.3f × %.3f m cells: resampling to square %.3f m cells", path.name, abs(t.a),
                           abs(t.e), resolution_m)
        if resolution_m is None or (square and math.isclose(resolution_m, native, rel_tol=1e-9)):
            return Dem(band, t, crs, native)
        left, bottom, right, top = src.bounds
        cols = max(1, round((right - left) / resolution_m))
        rows = max(1, round((top - bottom) / resolution_m))
        dst_t = Affine(resolution_m, 0.0, left, 0.0, -resolution_m, top)
        out = np.full((rows, cols), np.nan, np.float32)
        method = Resampling.average if resolution_m > native else Resampling.bilinear
        reproject(band, out, src_transform=t, src_crs=src.crs, dst_transform=dst_t, dst_crs=src.crs,
                  src_nodata=np.nan, dst_nodata=np.nan, resampling=method)
        logger.info("resampled DEM %s from %.2f m to %.2f m cells (%s): %d × %d → %d × %d", path.name, native,
                    resolution_m, method.name, src.height, src.width, rows, cols)
        return Dem(out, dst_t, crs, resolution_m)


def write_raster(path: str | Path, array: np.ndarray, dem: Dem, *, nodata: float | None, dtype: str | np.dtype,
                 tiled: bool = True, overviews: bool = True, compress: str | None = "deflate",
                 window: tuple[int, int] | None = None) -> Path:
    """Write a single-band GeoTIFF on the DEM's grid, atomically (temporary name beside it, then rename).

    `array` covers the DEM's grid, or a window of it whose upper-left cell is `window` = (row0, col0). NaN in
    float arrays is written as `nodata`. Tiles are 256 × 256; overviews (factors of 2 down to about 256 cells,
    nearest for integers, average for floats) are internal.

    Raises
    ------
    LayerError
        If the array does not match the DEM's grid.
    """
    import rasterio
    from rasterio.enums import Resampling

    from ._files import atomic_path

    array = np.asarray(array)
    row0, col0 = window or (0, 0)
    if window is None and array.shape != dem.shape:
        raise LayerError(f"array shape {array.shape} does not match the DEM's grid {dem.shape}")
    transform = dem.transform @ Affine.translation(col0, row0)
    profile = {"driver": "GTiff", "height": array.shape[0], "width": array.shape[1], "count": 1,
               "dtype": np.dtype(dtype).name, "crs": _rio_crs(dem.crs), "transform": transform, "nodata": nodata}
    if tiled:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    if compress:
        profile.update(compress=compress)
    integer = np.issubdtype(np.dtype(dtype), np.integer)
    if nodata is not None and np.issubdtype(array.dtype, np.floating):
        array = np.where(np.isnan(array), nodata, array)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(array.astype(dtype, copy=False), 1)
        factors = []
        while overviews and max(array.shape) / 2 ** (len(factors) + 1) >= 256:
            factors.append(2 ** (len(factors) + 1))
        if factors:
            method = Resampling.nearest if integer else Resampling.average
            dst.build_overviews(factors, method)
            dst.update_tags(ns="rio_overview", resampling=method.name)
    return Path(path)


# --------------------------------------------------------------------------------------------------------------
# Viewshed: the reference-plane scan (Wang et al. 2000), as gdal_viewshed's default "edge" mode.


@njit(cache=True, error_model="numpy")
def _scan_row(elev, row, dy, ocol, zobs, obs_h, tgt_h, kc, rc2, last, this, out_row):
    """One row of the scan, `dy` rows from the observer's; `last` holds the horizon heights of the row before."""
    ncols = elev.shape[1]
    half = out_row.shape[0] // 2
    # Centre cell, in the observer's column.
    if dy == 0:  # the observer's own cell: visible; its horizon height is never used
        out_row[half] = VISIBLE
        this[half] = -obs_h
    else:
        ref = last[half] * dy / (dy - 1) if dy > 1 else -np.inf
        z = elev[row, ocol] - kc * dy * dy - zobs
        if np.isnan(z):  # nodata: transparent, keeps the horizon
            this[half] = ref if dy > 1 else -obs_h
        else:
            out_row[half] = VISIBLE if z + tgt_h >= ref else HIDDEN
            this[half] = max(z, ref)
    for side in (-1, 1):
        for dx in range(1, half + 1):
            col = ocol + side * dx
            if col < 0 or col >= ncols or dx * dx + dy * dy > rc2:
                break
            k = half + side * dx
            kp = k - side  # one cell nearer to the observer along the row
            if dy <= 1 and dx == 1:
                ref = -np.inf  # next to the observer
            elif dy == 0:
                ref = this[kp] * dx / (dx - 1)
            elif dx > dy:
                ref = (last[kp] * dy + this[kp] * (dx - dy)) / (dx - 1)
            elif dx == dy:
                ref = last[kp] * dx / (dx - 1)
            else:
                ref = (last[kp] * dx + last[k] * (dy - dx)) / (dy - 1)
            z = elev[row, col] - kc * (dx * dx + dy * dy) - zobs
            if np.isnan(z):  # nodata: transparent, keeps the horizon
                this[k] = ref if ref > -np.inf else -obs_h
            else:
                out_row[k] = VISIBLE if z + tgt_h >= ref else HIDDEN
                this[k] = max(z, ref)


@njit(cache=True)
def _scan_site(elev, orow, ocol, obs_h, tgt_h, res, radius_m, curv, out):
    """Fill `out` (square window centred on the observer, pre-filled with 255) with 1 visible / 0 hidden.

    Heights are relative to the observer's eye and lowered by the curvature; a horizon height extrapolated
    from the observer through a point at distance i - 1 to distance i is ``z · i / (i - 1)``.
    """
    nrows = elev.shape[0]
    half = out.shape[0] // 2
    zobs = elev[orow, ocol] + obs_h
    rc2 = (radius_m / res) ** 2
    kc = curv * res * res  # curvature drop per squared cell offset
    first = np.empty(out.shape[0])
    _scan_row(elev, orow, 0, ocol, zobs, obs_h, tgt_h, kc, rc2, first, first, out[half])
    for step in (-1, 1):
        last = first.copy()
        this = np.empty(out.shape[0])
        for dy in range(1, half + 1):
            row = orow + step * dy
            if row < 0 or row >= nrows or dy * dy > rc2:
                break
            _scan_row(elev, row, dy, ocol, zobs, obs_h, tgt_h, kc, rc2, last, this, out[half + step * dy])
            last, this = this, last


@njit(cache=True, parallel=True)
def _viewshed_batch(elev, rows, cols, obs_h, tgt_h, res, radius_m, curv, half):
    n = rows.shape[0]
    out = np.empty((n, 2 * half + 1, 2 * half + 1), np.uint8)
    for i in prange(n):
        out[i] = NODATA
        _scan_site(elev, rows[i], cols[i], obs_h[i], tgt_h, res, radius_m, curv, out[i])
    return out


@dataclass(frozen=True, eq=False)
class ViewshedStack:
    """Viewsheds of many observers, each on a square window of the DEM's grid centred on its observer.

    Attributes
    ----------
    data
        uint8 array (sites, size, size): 1 visible, 0 hidden, 255 beyond the radius, off the DEM or nodata.
    rows0, cols0
        Row and column in the DEM's grid of each window's upper-left cell (may be negative near the edges).
    dem_shape
        Shape of the DEM's grid.
    """

    data: np.ndarray
    rows0: np.ndarray
    cols0: np.ndarray
    dem_shape: tuple[int, int]

    def __len__(self) -> int:
        return self.data.shape[0]

    def window(self, i: int) -> tuple[int, int, np.ndarray]:
        """(row0, col0, values) of site `i`, clipped to the DEM's grid."""
        size = self.data.shape[1]
        r0, c0 = int(self.rows0[i]), int(self.cols0[i])
        rows, cols = self.dem_shape
        ra, ca = max(r0, 0), max(c0, 0)
        rb, cb = min(r0 + size, rows), min(c0 + size, cols)
        return ra, ca, self.data[i, ra - r0:rb - r0, ca - c0:cb - c0]

    def full(self, i: int) -> np.ndarray:
        """Viewshed of site `i` on the whole DEM grid (255 outside its window)."""
        out = np.full(self.dem_shape, NODATA, np.uint8)
        r0, c0, values = self.window(i)
        out[r0:r0 + values.shape[0], c0:c0 + values.shape[1]] = values
        return out


def observer_cells(dem: Dem, xs: np.ndarray, ys: np.ndarray, *, ids: list | None = None,
                   label: str = "observers") -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the observers' cells (`ids` and `label` name them in messages).

    Raises
    ------
    LayerError
        Listing every observer off the DEM, on nodata or without numeric coordinates.
    """
    xs = np.atleast_1d(np.asarray(xs, dtype=float))
    ys = np.atleast_1d(np.asarray(ys, dtype=float))
    finite = np.isfinite(xs) & np.isfinite(ys)
    rows, cols = dem.cell_of(np.where(finite, xs, dem.transform.c), np.where(finite, ys, dem.transform.f))
    nrows, ncols = dem.shape
    problems = []
    for i in range(rows.size):
        fid = None if ids is None else str(ids[i])
        if not finite[i]:
            problems.append(Problem(label, "the coordinates are not numbers", row=i + 1, feature_id=fid))
        elif not (0 <= rows[i] < nrows and 0 <= cols[i] < ncols):
            problems.append(Problem(label, f"observer ({xs[i]:.1f}, {ys[i]:.1f}) is outside the DEM "
                                    f"(bounds {', '.join(f'{b:.0f}' for b in dem.bounds)})", row=i + 1,
                                    feature_id=fid))
        elif np.isnan(dem.elevation[rows[i], cols[i]]):
            problems.append(Problem(label, f"the DEM has no data under observer ({xs[i]:.1f}, {ys[i]:.1f})",
                                    row=i + 1, feature_id=fid))
    if problems:
        n = len(problems)
        raise LayerError(f"{n} observer{'s are' if n > 1 else ' is'} not on the DEM:", problems)
    return rows, cols


def viewshed_many(dem: Dem, xs: np.ndarray, ys: np.ndarray, heights_m: np.ndarray | float, *,
                  target_height_m: float = 1.5, max_radius_m: float, refraction_coeff: float = REFRACTION_COEFF,
                  curvature: bool = True, ids: list | None = None) -> ViewshedStack:
    """Viewsheds of many observers at once (numba, parallel over observers).

    Parameters
    ----------
    dem
        Elevation model.
    xs, ys
        Observer coordinates in the DEM's CRS.
    heights_m
        Observer heights above the ground (one per observer, or one for all).
    target_height_m
        Height above the ground of the targets.
    max_radius_m
        Radius of the viewsheds.
    refraction_coeff
        gdal_viewshed's ``-cc``: the drop ``refraction_coeff · d² / (2 a)`` is taken off every height.
    curvature
        False ignores the earth's curvature (same as ``refraction_coeff=0``).
    ids
        Observer names used in error messages.

    Returns
    -------
    ViewshedStack
        One window of ``2·ceil(max_radius_m / resolution_m) + 1`` cells a side per observer (one byte per cell:
        batch the calls when sites × window cells would not fit in memory).

    Raises
    ------
    LayerError
        Listing every observer outside the DEM or on nodata.
    """
    xs = np.atleast_1d(np.asarray(xs, dtype=float))
    ys = np.atleast_1d(np.asarray(ys, dtype=float))
    heights = np.broadcast_to(np.asarray(heights_m, dtype=float), xs.shape).copy()
    if xs.shape != ys.shape or xs.ndim != 1:
        raise ValueError("xs and ys must be 1-D arrays of the same length")
    if not max_radius_m > 0:
        raise ValueError(f"max_radius_m must be positive, got {max_radius_m}")
    rows, cols = observer_cells(dem, xs, ys, ids=ids)
    half = math.ceil(max_radius_m / dem.resolution_m)
    curv = refraction_coeff / (2.0 * dem.semi_major_m) if curvature else 0.0
    t0 = time.perf_counter()
    with PARALLEL_LOCK:
        data = _viewshed_batch(dem.elevation, rows, cols, heights, float(target_height_m), dem.resolution_m,
                           float(max_radius_m), curv, half)
    logger.debug("viewshed of %d observers (r %.0f m) in %.3f s", xs.size, max_radius_m, time.perf_counter() - t0)
    return ViewshedStack(data, rows - half, cols - half, dem.shape)


def viewshed(dem: Dem, x: float, y: float, *, observer_height_m: float, target_height_m: float = 1.5,
             max_radius_m: float, refraction_coeff: float = REFRACTION_COEFF, curvature: bool = True) -> np.ndarray:
    """Viewshed of one observer on the DEM's grid, as ``gdal_viewshed``.

    Parameters
    ----------
    dem
        Elevation model.
    x, y
        Observer in the DEM's CRS (snapped to the centre of its cell).
    observer_height_m
        Observer height above the ground.
    target_height_m
        Target height above the ground.
    max_radius_m
        Cells farther than this from the observer are 255.
    refraction_coeff
        gdal_viewshed's ``-cc`` (0.85714: standard refraction).
    curvature
        Take the earth's curvature into account.

    Returns
    -------
    numpy.ndarray
        uint8 on the DEM's grid: 1 visible, 0 hidden, 255 beyond the radius or where the DEM has no data.

    Raises
    ------
    LayerError
        If the observer is outside the DEM or on nodata.

    Examples
    --------
    >>> dem = Dem.from_array(np.zeros((5, 5)), x_min=500_000, y_max=2_360_000, resolution_m=30)
    >>> v = viewshed(dem, 500_075, 2_359_925, observer_height_m=10, max_radius_m=60)
    >>> int((v == 1).sum()), int((v == 255).sum())
    (13, 12)
    """
    stack = viewshed_many(dem, [x], [y], observer_height_m, target_height_m=target_height_m,
                          max_radius_m=max_radius_m, refraction_coeff=refraction_coeff, curvature=curvature)
    return stack.full(0)


# --------------------------------------------------------------------------------------------------------------
# Radial Fresnel sweep.

# Octants as (major row, major col, minor row, minor col) unit steps.
_OCTANTS = np.array([[0, 1, -1, 0], [0, 1, 1, 0], [0, -1, -1, 0], [0, -1, 1, 0],
                     [-1, 0, 0, 1], [-1, 0, 0, -1], [1, 0, 0, 1], [1, 0, 0, -1]], dtype=np.int64)


#: The ray set does not depend on the sweep radius: rays are cast as if to the perimeter of the square of half-side
#: ``H = ceil(RAY_RADIUS_M / cell)`` cells (doubled while smaller than the radius in cells) and cut at the radius,
#: so a cell's values depend on the terrain and the site only (identical for any radius that reaches it).
RAY_RADIUS_M = 20_000.0


@njit(cache=True)
def _ray_half(cell_size_m, half):
    """Half-side, in cells, of the square whose perimeter cells the rays aim at (see `RAY_RADIUS_M`)."""
    big = max(int(np.ceil(RAY_RADIUS_M / cell_size_m)), 1)
    while big < half:
        big *= 2  # the rays of 2H contain those of H, active at the same columns: inner results do not change
    return big


#: `_sweep_octant`'s per-group column limits when every ray goes all the way.
_NO_LIMIT = np.full(1, 1 << 40, np.int64)

#: Side of the blocks of the best-server pruning minima (cells, as a power of two; see `coverage._block_minima`).
BLOCK_SHIFT = 3


@njit(cache=True)
def _hull_buffer(cell_size_m, half):
    """Scratch for the rays' hulls of one octant of a sweep of `half` cells."""
    big = _ray_half(cell_size_m, half)
    return np.empty((big + 1, min(half, big) + 2, 3))


@njit(cache=True, inline="always")
def _beats(value, site, best, server):
    """Whether `site`'s `value` takes a cell from (`best`, `server`): higher RSRP, ties to the lower site index.

    Values are compared as stored (float32). The order is total, so the best-server arrays do not depend on the
    order the sites are swept in, nor on which thread sweeps which site.
    """
    value = np.float32(value)  # as it would be stored
    return value > best or (value == best and site < server)


@njit(cache=True)
def _knife_edge_db(v):
    """ITU-R P.526 single knife-edge loss J(v) (dB), 0 for v <= -0.78."""
    if v <= -0.78:
        return 0.0
    t = v - 0.1
    return 6.9 + 20.0 * math.log10(math.sqrt(t * t + 1.0) + t)


@njit(cache=True)
def _ray_limits(group_lim, big, sp0):
    """Last column each ray of an octant must be stepped to, from `group_lim` (per group of ray directions).

    Group g of G holds the rays j with ``floor(j · G / H) = g`` (the last ray in group G - 1). A ray that joins
    part-way (see `_sweep_octant`) copies its lower neighbour's samples, so that neighbour must be stepped up to the
    column before the join whenever the joining ray is used.
    """
    ng = group_lim.shape[0]
    lim = np.empty(big + 1, np.int64)
    for j in range(big + 1):
        lim[j] = group_lim[min(j * ng // big, ng - 1)]
    join = np.zeros(big + 1, np.int64)  # join column of the rays whose step is sp (indexed by sp)
    sp = sp0
    i = 1
    while sp > 1:
        if sp * i > big:
            sp //= 2
            join[sp] = i
        i += 1
    for j in range(big - 1, 0, -1):
        low = j & -j
        if low >= sp0:
            continue
        if lim[j] >= join[low]:
            p = j - low
            if lim[p] < join[low] - 1:
                lim[p] = join[low] - 1
    return lim


@njit(cache=True, error_model="numpy")
def _sweep_octant(elev, orow, ocol, half, octant, row0, col0, hrows, hcols, cell_size_m, ht, rx_height_m, bulge,
                  two_over_lambda, r2min, r2max, fused, dist, vmax, loss_a, loss_b, loss_fs, power, site, log_d, best,
                  server, block_min, hull, group_lim):
    """Cast the rays of one octant (see :func:`radial_sweep`), column by column, and fill the cells they own.

    Ray j goes from the site towards the cell (H, j) of the octant (major, minor offsets), H = `_ray_half`. At
    column i only every ``sp``-th ray is active, sp the largest power of two with ``sp · i <= H`` (rays stay at
    most one cell apart), plus the last ray; a ray joining at a column inherits the samples of its lower neighbour.
    Cells are (row0 + r, col0 + c) for 0 <= r < hrows, 0 <= c < hcols. `hull` (at least H + 1 × min(half, H) + 2 × 3,
    see `_hull_buffer`) is scratch: per ray, the upper hull of its samples (distance, height, slope from the antenna).

    Unless `fused`, each cell's distance and v_max go to `dist` and `vmax` (window from row0, col0). When `fused`,
    the cell's RSRP ``power − max(loss_a + loss_b · log10 d_km, loss_fs + 20 log10 d_km) − J(v_max)`` (`log_d`
    indexed by i² + m²) is written to `best` (grid, row0 = col0 = 0) and `site` to `server` where it beats `best`;
    cells where even the unobstructed signal (or the horizon sample's J) cannot beat it are skipped early.
    `group_lim` (G columns) cuts the rays per group of directions, see `_ray_limits`; at column i the cells whose
    direction m / i falls in a group g with ``group_lim[g] < i`` are skipped (`_NO_LIMIT`: no cut).
    """
    nrows, ncols = elev.shape
    mr, mc, nr, nc = _OCTANTS[octant, 0], _OCTANTS[octant, 1], _OCTANTS[octant, 2], _OCTANTS[octant, 3]
    big = _ray_half(cell_size_m, half)
    nrays = big + 1
    nh = np.zeros(nrays, np.int64)
    steps = np.empty(nrays)
    for j in range(nrays):
        steps[j] = cell_size_m * np.sqrt(1.0 + (j / big) ** 2)
    sp = 1
    while sp * 2 <= big:
        sp *= 2
    lim = _ray_limits(group_lim, big, sp)
    ngroups = group_lim.shape[0]
    for i in range(1, half + 1):
        if i * i > r2max:
            break
        if sp * i > big:  # rays half-way between the active ones join, with their lower neighbour's samples
            sp //= 2
            for j in range(sp, big, 2 * sp):
                p = j - sp
                nh[j] = nh[p]
                hull[j, :nh[p]] = hull[p, :nh[p]]
        # Cells of column i, each with the active ray passing nearest to its centre.
        last_active = (big // sp) * sp
        m = -1
        while m < i:
            m += 1
            g = min(m * ngroups // i, ngroups - 1)
            if group_lim[g] < i:  # no ray of this group of directions is needed here (see `_ray_limits`)
                if g == ngroups - 1:
                    break
                m = ((g + 1) * i + ngroups - 1) // ngroups - 1
                continue
            k = m * m + i * i
            if k > r2max:
                break
            if k <= r2min:
                continue
            r = orow + i * mr + m * nr - row0
            c = ocol + i * mc + m * nc - col0
            if r < 0 or r >= hrows or c < 0 or c >= hcols:
                continue
            clear = 0.0
            if fused:
                ld = log_d[k]
                clear = loss_a + loss_b * ld
                fs = loss_fs + 20.0 * ld
                if clear < fs:
                    clear = fs
                clear = power - clear  # RSRP without terrain loss: an upper bound
                upper = np.float32(clear)  # compared as stored (float32): rounding keeps the order
                if upper < block_min[r >> BLOCK_SHIFT, c >> BLOCK_SHIFT] or upper < best[r, c]:
                    continue  # cannot beat (nor tie) the best
            zc = elev[r + row0, c + col0]
            if np.isnan(zc):
                continue
            target = m * big  # ray position j·i compared with m·H
            j = (target // (i * sp)) * sp
            if j >= last_active:
                j = last_active if 2 * target < (last_active + big) * i else big
            elif 2 * target >= (2 * j + sp) * i:
                j += sp
            d = cell_size_m * np.sqrt(k)
            if not fused:
                dist[r, c] = d
            n = nh[j]
            if n == 0:
                if fused:
                    if _beats(clear, site, best[r, c], server[r, c]):
                        best[r, c] = clear
                        server[r, c] = site
                else:
                    vmax[r, c] = -np.inf
                continue
            b = (zc - d * d * bulge + rx_height_m - ht) / d  # slope of the line of sight
            k2 = two_over_lambda * d
            # v = (a - b) · sqrt(k2 · s / (d - s)) for a hull vertex at distance s and slope a; compared as
            # squares, best² = bn / bd, so that the walk below needs no division nor square root.
            above = hull[j, 0, 2] - b
            bn = above * above * k2 * hull[j, 0, 0]
            bd = max(d - hull[j, 0, 0], 1.0)
            if above > 0.0 and n > 1:
                if fused and np.float32(clear - _knife_edge_db(np.sqrt(bn / bd))) < best[r, c]:
                    continue  # v_max >= the horizon sample's v: cannot beat the best either
                # Obstructed: walk the hull away from the horizon sample while samples stand above the line of
                # sight and could still beat the best (slopes fall and weights grow along the hull).
                last_n = k2 * hull[j, n - 1, 0]
                last_d = max(d - hull[j, n - 1, 0], 1.0)
                for q in range(1, n):
                    above_q = hull[j, q, 2] - b
                    if above_q <= 0.0:
                        break
                    a2 = above_q * above_q
                    if a2 * last_n * bd <= bn * last_d:
                        break
                    cn = a2 * k2 * hull[j, q, 0]
                    cd = max(d - hull[j, q, 0], 1.0)
                    if cn * bd > bn * cd:
                        bn, bd = cn, cd
            v = np.sqrt(bn / bd)
            if above <= 0.0:
                v = -v
            if fused:
                rsrp = clear - _knife_edge_db(v)
                if _beats(rsrp, site, best[r, c], server[r, c]):
                    best[r, c] = rsrp
                    server[r, c] = site
            else:
                vmax[r, c] = v
        # Advance the active rays: sample column i between the two cells each passes, push on its hull.
        j = 0
        m0 = 0
        rem = 0  # j · i = m0 · H + rem, 0 <= rem < H (kept by additions: sp · i <= H)
        while j <= big:
            if lim[j] < i:  # skip the rays no longer needed
                while j < big and lim[j] < i:
                    j += min(sp, big - j)
                if lim[j] < i:
                    break
                m0 = (j * i) // big
                rem = j * i - m0 * big
            if m0 * m0 + i * i > r2max:
                break
            r = orow + i * mr + m0 * nr
            c = ocol + i * mc + m0 * nc
            if 0 <= r < nrows and 0 <= c < ncols:
                frac = rem / big
                z = elev[r, c]
                if frac > 0.0:
                    r1, c1 = r + nr, c + nc
                    if 0 <= r1 < nrows and 0 <= c1 < ncols:
                        z1 = elev[r1, c1]
                        z = z1 if np.isnan(z) else (z if np.isnan(z1) else z + frac * (z1 - z))
                if not np.isnan(z):
                    s = i * steps[j]
                    zs = z - s * s * bulge
                    n = nh[j]
                    while n > 0:
                        if n > 1:
                            s0, z0 = hull[j, n - 2, 0], hull[j, n - 2, 1]
                        else:
                            s0, z0 = 0.0, ht
                        if (hull[j, n - 1, 0] - s0) * (zs - z0) >= (hull[j, n - 1, 1] - z0) * (s - s0):
                            n -= 1
                        else:
                            break
                    hull[j, n, 0] = s
                    hull[j, n, 1] = zs
                    hull[j, n, 2] = (zs - ht) / s
                    nh[j] = n + 1
            if j == big:
                break
            step = min(sp, big - j)
            j += step
            rem += step * i
            while rem >= big:
                rem -= big
                m0 += 1


@njit(cache=True)
def _site_cell(elevation, x_min, y_max, cell_size_m, x, y):
    """Row and column of the site's cell; ValueError when it is outside the grid or on nodata."""
    nrows, ncols = elevation.shape
    orow = int(np.floor((y_max - y) / cell_size_m))
    ocol = int(np.floor((x - x_min) / cell_size_m))
    if not (0 <= orow < nrows and 0 <= ocol < ncols):
        raise ValueError("the site is outside the DEM")
    if np.isnan(elevation[orow, ocol]):
        raise ValueError("the DEM has no data under the site")
    return orow, ocol


@njit(cache=True)
def _sweep_window(elevation, x_min, y_max, cell_size_m, x, y, radius_m):
    nrows, ncols = elevation.shape
    orow, ocol = _site_cell(elevation, x_min, y_max, cell_size_m, x, y)
    half = int(np.ceil(radius_m / cell_size_m))
    row0, col0 = max(orow - half, 0), max(ocol - half, 0)
    row1, col1 = min(orow + half, nrows - 1), min(ocol + half, ncols - 1)
    dist = np.full((row1 - row0 + 1, col1 - col0 + 1), np.nan, np.float32)
    vmax = np.full((row1 - row0 + 1, col1 - col0 + 1), np.nan, np.float32)
    dist[orow - row0, ocol - col0] = 0.0
    vmax[orow - row0, ocol - col0] = -np.inf
    return orow, ocol, half, row0, col0, dist, vmax


@njit(cache=True)
def _plain_sweep_window(elevation, x_min, y_max, cell_size_m, x, y, tx_height_m, radius_m, k_factor):
    """Window and constants of a distance / v_max sweep (shared by `radial_sweep` and its serial twin)."""
    orow, ocol, half, row0, col0, dist, vmax = _sweep_window(elevation, x_min, y_max, cell_size_m, x, y, radius_m)
    ht = elevation[orow, ocol] + tx_height_m
    bulge = 1.0 / (2.0 * k_factor * EARTH_RADIUS_M)
    return orow, ocol, half, row0, col0, dist, vmax, ht, bulge, (radius_m / cell_size_m) ** 2


@njit(cache=True)
def _plain_octant(elevation, o, w, rx_height_m, wavelength_m, cell_size_m):
    """Sweep octant `o` of window `w` (from `_plain_sweep_window`) writing distances and v_max only."""
    orow, ocol, half, row0, col0, dist, vmax, ht, bulge, r2max = w
    no_log, no_best, no_server = np.empty(1), np.empty((1, 1), np.float32), np.empty((1, 1), np.int32)
    _sweep_octant(elevation, orow, ocol, half, o, row0, col0, dist.shape[0], dist.shape[1], cell_size_m, ht,
                  rx_height_m, bulge, 2.0 / wavelength_m, -1.0, r2max, False, dist, vmax, 0.0, 0.0, 0.0, 0.0, 0,
                  no_log, no_best, no_server, no_best, _hull_buffer(cell_size_m, half), _NO_LIMIT)


@njit(cache=True, parallel=True)
def radial_sweep(elevation, x_min, y_max, cell_size_m, x, y, tx_height_m, rx_height_m, radius_m, wavelength_m,
                 k_factor):
    """Distance and dominant-obstacle Fresnel parameter v for every cell within a radius of a site (numba).

    Rays go from the site's cell centre towards every cell of the perimeter of the square of side 2·H + 1,
    H = ceil(`RAY_RADIUS_M` / cell) (doubled while smaller than ceil(r / cell)), and stop at the radius: the ray
    set does not depend on the radius, nor does any cell's result (a smaller radius only cuts the rays). Each ray
    samples the DEM once per cell along its major axis, interpolating between the two cells it passes
    between. Near the site, where rays run less than a cell apart, only every 2^k-th ray is cast; the others start
    where the spacing would pass one cell, with their neighbour's samples so far (off by at most a cell). A cell
    takes the values of the ray passing nearest to its centre. For a receiver at distance d and
    a sample at d1 (d2 = d - d1), with heights lowered by the earth's bulge for an earth of `k_factor`
    × 6,371 km, ``v = h · sqrt(2 / λ · (1/d1 + 1/d2))`` where h is the sample's height above the line from the
    transmitter antenna to the receiver antenna; ``v_max`` is the largest v over the samples before the
    receiver. It is exact when the path is obstructed (``v_max > 0``): the maximum then lies on the upper convex
    hull of the samples, kept incrementally. For clear paths it is the v of the highest-angle sample (the
    horizon), which may be a little lower than the largest v over all samples.

    The 8 octants run in parallel (numba ``prange``); :func:`radial_sweep_serial` is the same without threads,
    for callers that already run sites in parallel.

    Parameters
    ----------
    elevation
        2-D elevations (m), NaN for nodata.
    x_min, y_max
        Upper-left corner of the grid (north-up, square cells).
    cell_size_m
        Cell size.
    x, y
        Site in the grid's CRS.
    tx_height_m, rx_height_m
        Antenna heights above the ground at the site and at every receiver cell.
    radius_m
        Sweep radius.
    wavelength_m
        Radio wavelength (c / f).
    k_factor
        Effective earth radius factor (4/3 standard atmosphere).

    Returns
    -------
    row0, col0 : int
        Upper-left cell of the window in the grid (the window is clipped to the grid).
    distance_m : numpy.ndarray
        float32 distances from the site's cell centre, NaN outside the radius or on nodata.
    v_max : numpy.ndarray
        float32 dominant-obstacle v, -inf where no sample lies between (the site and its neighbours),
        NaN outside the radius or on nodata.

    Raises
    ------
    ValueError
        If the site is outside the grid or on nodata.
    """
    w = _plain_sweep_window(elevation, x_min, y_max, cell_size_m, x, y, tx_height_m, radius_m, k_factor)
    for o in prange(8):
        _plain_octant(elevation, o, w, rx_height_m, wavelength_m, cell_size_m)
    return w[3], w[4], w[5], w[6]


@njit(cache=True)
def radial_sweep_serial(elevation, x_min, y_max, cell_size_m, x, y, tx_height_m, rx_height_m, radius_m,
                        wavelength_m, k_factor):
    """:func:`radial_sweep` on one thread (same arguments and results), to call from a parallel loop."""
    w = _plain_sweep_window(elevation, x_min, y_max, cell_size_m, x, y, tx_height_m, radius_m, k_factor)
    for o in range(8):
        _plain_octant(elevation, o, w, rx_height_m, wavelength_m, cell_size_m)
    return w[3], w[4], w[5], w[6]



@njit(cache=True)
def radial_best_server_serial(elevation, x_min, y_max, cell_size_m, x, y, tx_height_m, rx_height_m, radius_m,
                              wavelength_m, k_factor, loss_a, loss_b, loss_fs, power, site, log_d, best, server,
                              block_min, inner_m, octant_r2, ray_lim):
    """Run the sweep of :func:`radial_sweep` fused with a best-server update, on one thread.

    Every cell within the radius gets ``rsrp = power − max(loss_a + loss_b · log10 d_km, loss_fs + 20 log10 d_km) −
    J(v_max)`` (ITU-R P.526 knife edge of the sweep's v_max; d_km at least 0.02) and, where it beats `best`
    (float32, the DEM's grid; `_beats`: larger, or equal and `site` below `server`), `best` takes it and `server`
    (int32) takes `site`. `log_d[k]` must hold ``log10(max(cell · sqrt(k) / 1000, 0.02))`` for k = 0 … floor((radius
    / cell)²). The values are those of the unfused sweep (exact where a cell's RSRP is written); cells whose
    unobstructed signal cannot beat `best` skip the obstacle search; `block_min` (minima of `best` over blocks of
    2^BLOCK_SHIFT cells, may be stale: not above `best`'s block minima) lets most such cells skip reading `best`.
    Cells within `inner_m` (> 0) of the site are left alone (a first pass with ``radius_m = inner_m`` gives them
    exactly the values this sweep would: the ray set does not depend on the radius). Octant o (see `_OCTANTS`) stops
    at ``min(radius², octant_r2[o]) · cell²``, and its rays of direction group g (`ray_lim[o]`, see `_ray_limits`)
    at column ``ray_lim[o, g]``: the caller must make sure that no cell of a later column whose ray is in that group
    could beat `block_min` (cells of such groups are skipped).
    """
    nrows, ncols = elevation.shape
    orow, ocol = _site_cell(elevation, x_min, y_max, cell_size_m, x, y)
    half = int(np.ceil(radius_m / cell_size_m))
    ht = elevation[orow, ocol] + tx_height_m
    bulge = 1.0 / (2.0 * k_factor * EARTH_RADIUS_M)
    r2max = (radius_m / cell_size_m) ** 2
    r2min = (inner_m / cell_size_m) ** 2 if inner_m > 0.0 else -1.0
    own = loss_a + loss_b * log_d[0]
    own = power - max(own, loss_fs + 20.0 * log_d[0])
    if inner_m <= 0.0 and _beats(own, site, best[orow, ocol], server[orow, ocol]):
        best[orow, ocol] = own
        server[orow, ocol] = site
    no_dist = np.empty((1, 1), np.float32)
    hull = _hull_buffer(cell_size_m, half)
    for o in range(8):
        r2o = min(r2max, octant_r2[o])
        _sweep_octant(elevation, orow, ocol, half, o, 0, 0, nrows, ncols, cell_size_m, ht, rx_height_m, bulge,
                      2.0 / wavelength_m, r2min, r2o, True, no_dist, no_dist, loss_a, loss_b, loss_fs, power, site,
                      log_d, best, server, block_min, hull, ray_lim[o])

@dataclass(frozen=True, eq=False)
class Sweep:
    """Result of :func:`sweep`: `distance_m` and `v_max` on a window of the DEM's grid from (`row0`, `col0`)."""

    row0: int
    col0: int
    distance_m: np.ndarray
    v_max: np.ndarray


def sweep(dem: Dem, x: float, y: float, *, tx_height_m: float, rx_height_m: float = 1.5, radius_m: float,
          frequency_mhz: float, k_factor: float = 4.0 / 3.0) -> Sweep:
    """Run :func:`radial_sweep` for one site of a :class:`Dem` at `frequency_mhz` (see there for the method).

    Raises
    ------
    LayerError
        If the site is outside the DEM or on nodata.
    """
    observer_cells(dem, [x], [y], label="site")
    t = dem.transform
    with PARALLEL_LOCK:
        row0, col0, dist, vmax = radial_sweep(dem.elevation, t.c, t.f, dem.resolution_m, float(x), float(y),
                                          float(tx_height_m), float(rx_height_m), float(radius_m),
                                          299.792458 / frequency_mhz, float(k_factor))
    return Sweep(int(row0), int(col0), dist, vmax)


# --------------------------------------------------------------------------------------------------------------
# Profiles and hillshade.


def profile(dem: Dem, x0: float, y0: float, x1: float, y1: float, *, step_m: float | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Elevations along a straight line, sampled bilinearly between cell centres.

    Parameters
    ----------
    dem
        Elevation model.
    x0, y0, x1, y1
        Ends of the line in the DEM's CRS.
    step_m
        Sampling step (default: the DEM's resolution); the last sample is the end point.

    Returns
    -------
    distances_m, elevations_m : numpy.ndarray
        Distances from (x0, y0) and elevations (NaN off the DEM or next to nodata).
    """
    from scipy.ndimage import map_coordinates

    step = float(step_m or dem.resolution_m)
    if step <= 0:
        raise ValueError(f"step_m must be positive, got {step_m}")
    length = math.hypot(x1 - x0, y1 - y0)
    n = max(2, math.ceil(length / step) + 1)
    distances = np.minimum(np.arange(n) * step, length)
    frac = distances / length if length > 0 else np.zeros(n)
    xs, ys = x0 + frac * (x1 - x0), y0 + frac * (y1 - y0)
    t = dem.transform
    cols = (xs - t.c) / t.a - 0.5
    rows = (ys - t.f) / t.e - 0.5
    nrows, ncols = dem.shape
    inside = (cols >= -0.5) & (cols <= ncols - 0.5) & (rows >= -0.5) & (rows <= nrows - 0.5)
    values = map_coordinates(dem.elevation, [rows, cols], order=1, mode="nearest", prefilter=False)
    return distances, np.where(inside, values, np.nan).astype(np.float64)


def hillshade(dem: Dem, *, azimuth: float = 315.0, altitude: float = 45.0, z_factor: float = 1.0) -> np.ndarray:
    """Shaded relief (Horn's slope and aspect), for the web basemap.

    Parameters
    ----------
    dem
        Elevation model.
    azimuth
        Direction the light comes from, degrees clockwise from north.
    altitude
        Height of the light above the horizon, degrees.
    z_factor
        Vertical exaggeration.

    Returns
    -------
    numpy.ndarray
        uint8 brightness 1–255, 0 where the DEM has no data.
    """
    z = np.pad(dem.elevation.astype(np.float64) * z_factor, 1, mode="edge")
    res = dem.resolution_m
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * res)  # rises to the east
    dzdy = ((a + 2 * b + c) - (g + 2 * h + i)) / (8 * res)  # rises to the north
    # Unit normal (−dz/dx, −dz/dy, 1) dotted with the unit vector toward the light (east, north, up).
    az, alt = math.radians(azimuth), math.radians(altitude)
    light = (math.sin(az) * math.cos(alt), math.cos(az) * math.cos(alt), math.sin(alt))
    shade = (-dzdx * light[0] - dzdy * light[1] + light[2]) / np.sqrt(1 + dzdx ** 2 + dzdy ** 2)
    out = np.clip(np.rint(1 + 254 * np.clip(shade, 0, 1)), 1, 255)
    out[~np.isfinite(shade) | np.isnan(dem.elevation)] = 0
    return out.astype(np.uint8)


def warm_up() -> float:
    """Compile (or load from numba's cache) every terrain kernel on a tiny DEM; return the seconds it took."""
    t0 = time.perf_counter()
    elev = np.arange(49, dtype=np.float32).reshape(7, 7) % 5
    with PARALLEL_LOCK:
        _viewshed_batch(elev, np.array([3]), np.array([3]), np.array([10.0]), 1.5, 30.0, 90.0, 1e-8, 3)
        radial_sweep(elev, 0.0, 210.0, 30.0, 105.0, 105.0, 30.0, 1.5, 90.0, 0.333, 4.0 / 3.0)
    radial_sweep_serial(elev, 0.0, 210.0, 30.0, 105.0, 105.0, 30.0, 1.5, 90.0, 0.333, 4.0 / 3.0)
    radial_best_server_serial(elev, 0.0, 210.0, 30.0, 105.0, 105.0, 30.0, 1.5, 90.0, 0.333, 4.0 / 3.0, 130.0, 35.0,
                              32.0, 20.0, 0, np.zeros(10), np.full((7, 7), -np.inf, np.float32),
                              np.full((7, 7), -1, np.int32), np.full((1, 1), -np.inf, np.float32), 0.0,
                              np.full(8, 1e9), np.full((8, 1), 1 << 40, np.int64))
    elapsed = time.perf_counter() - t0
    logger.debug("terrain kernels ready in %.2f s", elapsed)
    return elapsed
