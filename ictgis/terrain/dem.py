"""Digital elevation models: the :class:`Dem` grid, reading (with resampling) and writing GeoTIFFs on it."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import CRS

from .._errors import CRSError, LayerError, Problem

logger = logging.getLogger(__name__)

#: DEFLATE level of the GeoTIFFs `write_raster` writes (1–12 with GDAL's libdeflate; GDAL's default is 6): with the
#: predictor, level 3 writes a 30 m province RSRP grid about twice as fast as level 6 for a file 2 % larger.
DEFLATE_LEVEL = 3
#: `write_raster` compresses on GDAL's threads from this many cells up (a 30 m province grid has 33 M).
THREADS_FROM_CELLS = 4_000_000
#: Working memory (MB) of GDAL's warper when it resamples a grid (``warp_mem_limit``; GDAL's default is 64): its
#: chunk buffers are allocated anew for every chunk, and smaller ones are reused instead of touching fresh memory
#: (a 90 → 30 m province DEM: a third of the page faults and about a third less CPU; the values do not depend on it).
WARP_MEM_MB = 16
#: `write_raster` hands the array to GDAL by strips of this many rows (a row of 256 × 256 tiles): the NaN → nodata
#: and dtype conversions then copy one strip at a time, never the whole grid.
STRIP_ROWS = 256

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



def _open_projected(path: Path, *, name_in_error: bool):
    """Open a DEM with rasterio; return (dataset, pyproj CRS), or raise when it is unreadable or not projected."""
    import rasterio

    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise LayerError(f"cannot read the DEM {path}: {exc}") from None
    crs = _pyproj_crs(src.crs)
    if crs is None:
        src.close()
        raise CRSError(f"{path.name} has no CRS: assign one (e.g. gdal_edit.py -a_srs EPSG:9205 {path.name})")
    if not crs.is_projected:
        src.close()
        try:
            Dem(np.zeros((1, 1), np.float32), Affine(1, 0, 0, 0, -1, 0), crs, 1.0)  # raises the CRSError
        except CRSError as exc:
            raise CRSError(f"{path.name}: {exc}" if name_in_error else str(exc)) from None
    return src, crs

def _read_band(src) -> np.ndarray:
    """Band 1 as float32 with NaN where the dataset's mask says no data.

    The same values as ``src.read(1, masked=True).astype(np.float32).filled(np.nan)`` with fewer passes and copies
    when the mask is just a nodata value (or none); other masks (mask bands, alpha) take that slower path.
    """
    from rasterio.dtypes import in_dtype_range
    from rasterio.enums import MaskFlags

    flags = set(src.mask_flag_enums[0])
    nodata = src.nodatavals[0]
    if flags == {MaskFlags.all_valid}:
        return src.read(1, out_dtype=np.float32)
    if flags == {MaskFlags.nodata} and nodata is not None:
        raw = src.read(1)
        band = raw.astype(np.float32, copy=False)
        if np.isnan(nodata):
            return band
        if in_dtype_range(nodata, raw.dtype):
            band[raw == raw.dtype.type(nodata)] = np.nan
        return band
    return src.read(1, masked=True).astype(np.float32).filled(np.nan)


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
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    path = Path(path)
    src, crs = _open_projected(path, name_in_error=False)
    with src:
        t = src.transform
        band = _read_band(src)
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
                  src_nodata=np.nan, dst_nodata=np.nan, resampling=method, num_threads=os.cpu_count() or 1,
                  init_dest_nodata=False,  # `out` starts as NaN: no second pass to fill it
                  warp_mem_limit=WARP_MEM_MB)
        logger.info("resampled DEM %s from %.2f m to %.2f m cells (%s): %d × %d → %d × %d", path.name, native,
                    resolution_m, method.name, src.height, src.width, rows, cols)
        return Dem(out, dst_t, crs, resolution_m)


def check_dem(path: str | Path, *, max_resolution_m: float | None = None,
              province_bounds: tuple[float, float, float, float] | None = None, province_crs: object = None
              ) -> list[str]:
    """Check a DEM file without reading its cells: CRS, cell size, and whether it covers the province.

    Parameters
    ----------
    path
        The DEM (GeoTIFF or any raster GDAL reads).
    max_resolution_m
        Cells coarser than this give a warning (default ``settings.dem_max_resolution_m``, 100 m).
    province_bounds, province_crs
        Bounds of the commune polygons and their CRS; when given, a DEM that misses them is an error and one that
        covers only part of them a warning.

    Returns
    -------
    list of str
        Warnings, each naming the file.

    Raises
    ------
    CRSError
        If the DEM has no CRS or a geographic one (the error `read_dem` gives, naming the file).
    LayerError
        If the file cannot be read, or lies wholly outside the province.
    """
    from .. import settings
    from ..crs import transformer

    path = Path(path)
    limit = settings.dem_max_resolution_m if max_resolution_m is None else float(max_resolution_m)
    src, crs = _open_projected(path, name_in_error=True)
    with src:
        unit_m = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        t = src.transform
        cell_m = max(abs(t.a), abs(t.e)) * unit_m
        left, bottom, right, top = src.bounds
    warnings_: list[str] = []
    if cell_m > limit:
        warnings_.append(f"{path.name}: cells of {cell_m:.0f} m are coarser than {limit:.0f} m: coverage computed "
                         "on it will be too coarse to trust (valleys and ridges narrower than a cell vanish); use a "
                         "30 m DEM (e.g. SRTM 1 arc-second) reprojected to the province's grid")
    if province_bounds is not None:
        xs = np.array([left, right, right, left, (left + right) / 2, (left + right) / 2, left, right])
        ys = np.array([bottom, bottom, top, top, bottom, top, (bottom + top) / 2, (bottom + top) / 2])
        target = CRS.from_user_input(province_crs) if province_crs is not None else crs
        with np.errstate(all="ignore"):
            px, py = transformer(crs, target).transform(xs, ys, errcheck=False)
        px, py = np.asarray(px, dtype=float), np.asarray(py, dtype=float)
        minx, miny, maxx, maxy = province_bounds
        if not (np.isfinite(px).all() and np.isfinite(py).all()):
            share = 0.0
        else:
            w = max(0.0, min(maxx, px.max()) - max(minx, px.min()))
            h = max(0.0, min(maxy, py.max()) - max(miny, py.min()))
            share = w * h / max((maxx - minx) * (maxy - miny), 1e-9)
        if share <= 0:
            raise LayerError(f"{path.name}: the DEM does not cover the province", [Problem(
                path.name, f"the DEM ({crs.name}: x {left:.0f}..{right:.0f}, y {bottom:.0f}..{top:.0f}) does not "
                "overlap the commune polygons: its CRS or georeferencing is wrong")])
        if share < 0.99:
            warnings_.append(f"{path.name}: the DEM covers only {share:.0%} of the province's extent: coverage "
                             "is computed on the DEM only")
    for message in warnings_:
        logger.warning(message)
    return warnings_


def write_raster(path: str | Path, array: np.ndarray, dem: Dem, *, nodata: float | None, dtype: str | np.dtype,
                 tiled: bool = True, overviews: bool = True, compress: str | None = "deflate",
                 window: tuple[int, int] | None = None, predictor: bool | None = None,
                 threads: int | str | None = None) -> Path:
    """Write a single-band GeoTIFF on the DEM's grid, atomically (temporary name beside it, then rename).

    `array` covers the DEM's grid, or a window of it whose upper-left cell is `window` = (row0, col0). NaN in
    float arrays is written as `nodata`. Tiles are 256 × 256; overviews (factors of 2 down to about 256 cells,
    nearest for integers, average for floats) are internal.

    Parameters
    ----------
    compress
        GeoTIFF compression (``deflate``: every GDAL, QGIS and ArcGIS reads it), or None.
    predictor
        With compression: the TIFF predictor that shrinks smooth grids (2, horizontal differencing, for integers;
        3, floating point, for floats), which the readers undo; the values are unchanged. Default: for floats only
        (class and index grids of integers compress better without it).
    threads
        GDAL threads compressing tiles and computing overviews (``NUM_THREADS``, ``GDAL_NUM_THREADS``; a number or
        ``ALL_CPUS``); the file does not depend on it. Default: ``ALL_CPUS`` from `THREADS_FROM_CELLS` cells up,
        else 1 (on small rasters the threads cost more than they save).

    Raises
    ------
    LayerError
        If the array does not match the DEM's grid.
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.windows import Window

    from .._files import atomic_path

    array = np.asarray(array)
    row0, col0 = window or (0, 0)
    if window is None and array.shape != dem.shape:
        raise LayerError(f"array shape {array.shape} does not match the DEM's grid {dem.shape}")
    transform = dem.transform @ Affine.translation(col0, row0)
    profile = {"driver": "GTiff", "height": array.shape[0], "width": array.shape[1], "count": 1,
               "dtype": np.dtype(dtype).name, "crs": _rio_crs(dem.crs), "transform": transform, "nodata": nodata}
    if tiled:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    integer = np.issubdtype(np.dtype(dtype), np.integer)
    if threads is None:
        threads = "ALL_CPUS" if array.size >= THREADS_FROM_CELLS else 1
    if compress:
        profile.update(compress=compress, num_threads=threads)
        if predictor is None:
            predictor = not integer
        if predictor and compress.lower() in ("deflate", "lzw", "zstd"):
            profile.update(predictor=2 if integer else 3)
        if compress.lower() == "deflate":
            profile.update(zlevel=DEFLATE_LEVEL)
    fill = float(nodata) if nodata is not None and np.issubdtype(array.dtype, np.floating) else None
    overview_options = {"ZLEVEL_OVERVIEW": str(DEFLATE_LEVEL)} if compress and compress.lower() == "deflate" else {}
    with atomic_path(path) as tmp, rasterio.Env(GDAL_NUM_THREADS=str(threads), **overview_options), \
            rasterio.open(tmp, "w", **profile) as dst:
        # by strips of tile rows: no grid-sized copy (NaN → nodata, dtype, rasterio's own copy of a 2-D array)
        for r0 in range(0, array.shape[0], STRIP_ROWS):
            part = array[r0:r0 + STRIP_ROWS]
            if fill is not None:
                part = np.where(np.isnan(part), fill, part)
            dst.write(part.astype(dtype, copy=False), 1, window=Window(0, r0, part.shape[1], part.shape[0]))
        factors: list[int] = []
        while overviews and max(array.shape) / 2 ** (len(factors) + 1) >= 256:
            factors.append(2 ** (len(factors) + 1))
        if factors:
            method = Resampling.nearest if integer else Resampling.average
            dst.build_overviews(factors, method)
            dst.update_tags(ns="rio_overview", resampling=method.name)
    return Path(path)


def write_windows(paths: Iterable[str | Path], windows: Iterable[tuple[int, int, np.ndarray]], dem: Dem, *,
                  nodata: float | None, dtype: str | np.dtype, compress: str | None = "packbits") -> list[Path]:
    """Write many small single-band GeoTIFFs, each a window of the DEM's grid, each atomically.

    What :func:`write_raster` writes for one window without overviews (tiles of 256 × 256, one GDAL thread), with
    one rasterio environment, one CRS and one profile for all the files: for the hundreds of small windows of
    ``ictgis viewshed --crop``, where opening an environment and converting the CRS per file add up.

    Parameters
    ----------
    paths
        Output files, one per window.
    windows
        ``(row0, col0, array)`` per file: the window's upper-left cell in the DEM's grid and its values.
    dem
        The grid the windows lie on (its transform and CRS).
    nodata, dtype, compress
        As :func:`write_raster` (PackBits by default: baseline TIFF, quick on runs of the same value).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    import rasterio

    from .._files import atomic_path

    base = {"driver": "GTiff", "count": 1, "dtype": np.dtype(dtype).name, "crs": _rio_crs(dem.crs),
            "nodata": nodata, "tiled": True, "blockxsize": 256, "blockysize": 256}
    if compress:
        base.update(compress=compress, num_threads=1)
    written = []
    with rasterio.Env(GDAL_NUM_THREADS="1"):
        for path, (row0, col0, array) in zip(paths, windows, strict=True):
            values = np.asarray(array)
            if nodata is not None and np.issubdtype(values.dtype, np.floating) and np.isnan(values).any():
                values = np.where(np.isnan(values), nodata, values)
            profile = base | {"height": values.shape[0], "width": values.shape[1],
                              "transform": dem.transform @ Affine.translation(col0, row0)}
            with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
                dst.write(values.astype(dtype, copy=False)[np.newaxis])  # 3-D: rasterio copies a 2-D band
            written.append(Path(path))
    return written
