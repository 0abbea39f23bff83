"""Rasters as PNG images for web maps and Google Earth: warp to EPSG:3857 or 4326, colour by classes, encode.

One helper for every image the project draws (the coverage overlay of the web map, the KMZ of ``ictgis
coverage``, the hillshade basemap). The PNG is written by rasterio's PNG driver (GDAL) through a ``MemoryFile``:
no plotting library is needed.

- `warp` reprojects a grid to a north-up grid in another CRS, at most ``max_px`` pixels on its longest side;
- `classify` turns values into an RGBA image by classes (lower bounds, best first); `classify_warped` does both,
  warping one-byte class ranks instead of the values (the same image, faster);
- `encode_png` encodes 1–4 bands of bytes (grey, grey + alpha, RGB, RGBA);
- `latlon_bounds` gives the ``[[south, west], [north, east]]`` of a warped grid, as Leaflet wants them;
- `classed_png` does the four at once.

Examples
--------
>>> import numpy as np
>>> from affine import Affine
>>> values = np.array([[-75.0, -95.0], [-130.0, np.nan]], dtype="float32")
>>> png, bounds = classed_png(values, transform=Affine(90, 0, 500_000, 0, -90, 2_400_000), crs="EPSG:9205",
...                           classes=[(-80.0, (0, 104, 55, 210)), (-100.0, (102, 189, 99, 190))])
>>> png[1:4]
b'PNG'
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np
from affine import Affine

__all__ = ["classed_png", "classify", "classify_warped", "encode_png", "latlon_bounds", "warp"]


def _rio_crs(crs: object):
    """Return a rasterio CRS from an EPSG string, a rasterio CRS or a pyproj CRS (through WKT2, never proj4/WKT1)."""
    from rasterio.crs import CRS

    if isinstance(crs, CRS):
        return crs
    if hasattr(crs, "to_wkt"):
        return CRS.from_user_input(crs.to_wkt())
    return CRS.from_user_input(crs)


def warp(values: np.ndarray, *, transform: Affine, crs: object, dst_crs: object = "EPSG:3857", max_px: int = 1600,
         resampling: str = "max", nodata: float | None = None) -> tuple[np.ndarray, Affine]:
    """Reproject a grid to a north-up grid in `dst_crs`, at most `max_px` pixels on the longer side of the source.

    Parameters
    ----------
    values
        2-D grid; NaN is nodata (it stays NaN, and so do cells outside the source).
    transform
        Affine transform of `values` (north-up).
    crs
        CRS of `values` (EPSG code, rasterio or pyproj CRS).
    dst_crs
        Target CRS: ``EPSG:3857`` for Leaflet, ``EPSG:4326`` for KML.
    max_px
        The source is shrunk by ``max(rows, cols) / max_px`` when larger.
    resampling
        A `rasterio.enums.Resampling` name (``max`` keeps the best value of the cells a pixel covers).
    nodata
        With an integer grid: its nodata value (kept in the result, also outside the source); the grid keeps its
        type. None: the grid is warped as float32 with NaN as nodata.

    Returns
    -------
    tuple
        ``(grid, affine transform)`` in `dst_crs`: float32, or the type of an integer grid given with `nodata`.
    """
    from rasterio.enums import Resampling
    from rasterio.warp import calculate_default_transform, reproject

    rows, cols = values.shape
    src_crs, dst_crs = _rio_crs(crs), _rio_crs(dst_crs)
    west, north = transform.c, transform.f
    east, south = west + cols * transform.a, north + rows * transform.e
    scale = max(1.0, max(rows, cols) / max_px)
    dst_transform, width, height = calculate_default_transform(
        src_crs, dst_crs, cols, rows, west, south, east, north,
        dst_width=int(cols / scale), dst_height=int(rows / scale))
    if nodata is None:
        values, nodata = np.asarray(values, dtype=np.float32), np.nan
    warped = np.full((height, width), nodata, dtype=values.dtype)
    reproject(values, warped, src_transform=transform, src_crs=src_crs, dst_transform=dst_transform,
              dst_crs=dst_crs, src_nodata=nodata, dst_nodata=nodata, resampling=Resampling[resampling],
              num_threads=os.cpu_count() or 1)
    return warped, dst_transform


def classify_warped(values: np.ndarray, classes: Sequence[tuple[float, tuple[int, int, int, int]]], *,
                    transform: Affine, crs: object, dst_crs: object = "EPSG:3857", max_px: int = 1600
                    ) -> tuple[np.ndarray, Affine]:
    """RGBA image of `values` by classes, warped to `dst_crs` keeping the best class of the cells a pixel covers.

    The same image as ``classify(warp(values, resampling="max"), classes)`` (the class of the maximum is the
    maximum of the classes: classes only grow with the value), from a one-byte grid of class ranks, which warps
    faster than the float values.

    Parameters
    ----------
    values, transform, crs, dst_crs, max_px
        As in `warp`.
    classes
        As in `classify`, the lower bounds strictly decreasing.

    Returns
    -------
    tuple
        ``((rows, cols, 4) uint8 image, affine transform)`` in `dst_crs`.

    Raises
    ------
    ValueError
        If the lower bounds are not strictly decreasing.
    """
    lowers = [float(lower) for lower, _ in classes]
    if any(a <= b for a, b in zip(lowers, lowers[1:], strict=False)):
        raise ValueError(f"class lower bounds must be strictly decreasing, got {lowers}")
    ranks = np.zeros(values.shape, dtype=np.uint8)  # 0: below the last class or NaN; len(classes): the best
    palette = np.zeros((len(classes) + 1, 4), dtype=np.uint8)
    for i, (lower, color) in enumerate(classes):
        ranks += values >= lower  # the number of lower bounds a value reaches (NaN reaches none)
        palette[len(classes) - i] = color
    warped, dst_transform = warp(ranks, transform=transform, crs=crs, dst_crs=dst_crs, max_px=max_px,
                                 resampling="max", nodata=0)
    return palette[warped], dst_transform


def classify(values: np.ndarray, classes: Sequence[tuple[float, tuple[int, int, int, int]]]) -> np.ndarray:
    """RGBA image of `values` by classes; transparent below the last class and where NaN.

    Parameters
    ----------
    values
        2-D grid.
    classes
        ``(lower bound, (r, g, b, a))`` pairs, highest bound first: a cell takes the colour of the first class
        whose lower bound it reaches.

    Returns
    -------
    numpy.ndarray
        ``(rows, cols, 4)`` uint8.
    """
    img = np.zeros((*values.shape, 4), dtype=np.uint8)
    filled = np.zeros(values.shape, dtype=bool)
    value = np.nan_to_num(values, nan=-np.inf)
    for lower, color in classes:
        m = (value >= lower) & ~filled
        img[m] = color
        filled |= m
    return img


def encode_png(bands: np.ndarray) -> bytes:
    """Encode an image of bytes as a PNG with rasterio's PNG driver (in memory).

    Parameters
    ----------
    bands
        ``(bands, rows, cols)`` in rasterio's order — 1 band grey, 2 grey + alpha, 3 RGB, 4 RGBA — or one band as
        ``(rows, cols)``; values 0–255 (cast to uint8). An image held as ``(rows, cols, 4)`` (as `classify` returns
        it) goes through ``numpy.moveaxis(image, 2, 0)``.

    Returns
    -------
    bytes
        The PNG file.

    Raises
    ------
    ValueError
        If the array is not 2-D or has not 1–4 bands.
    """
    import rasterio
    from rasterio.io import MemoryFile

    bands = np.asarray(bands)
    if bands.ndim == 2:
        bands = bands[np.newaxis]
    if bands.ndim != 3 or not 1 <= bands.shape[0] <= 4:
        raise ValueError(f"expected (bands, rows, cols) with 1 to 4 bands, or (rows, cols); got {bands.shape}")
    bands = np.ascontiguousarray(bands, dtype=np.uint8)
    count, height, width = bands.shape
    with warnings.catch_warnings(), MemoryFile() as mem:
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with mem.open(driver="PNG", width=width, height=height, count=count, dtype="uint8") as png:
            png.write(bands)
        return mem.read()


def latlon_bounds(transform: Affine, width: int, height: int, crs: object) -> list[list[float]]:
    """``[[south, west], [north, east]]`` in degrees (6 decimals) of a north-up grid.

    Parameters
    ----------
    transform
        Affine transform of the grid.
    width, height
        Grid size in pixels.
    crs
        CRS of the grid.
    """
    from rasterio.warp import transform_bounds

    west, north = transform.c, transform.f
    east, south = west + width * transform.a, north + height * transform.e
    w, s, e, n = transform_bounds(_rio_crs(crs), _rio_crs("EPSG:4326"), west, south, east, north)
    return [[round(s, 6), round(w, 6)], [round(n, 6), round(e, 6)]]


def classed_png(values: np.ndarray, *, transform: Affine, crs: object,
                classes: Sequence[tuple[float, tuple[int, int, int, int]]], dst_crs: object = "EPSG:3857",
                max_px: int = 1600, resampling: str = "max") -> tuple[bytes, list[list[float]]]:
    """Warp a grid to `dst_crs`, colour it by classes and encode it as a PNG.

    Parameters
    ----------
    values, transform, crs, dst_crs, max_px, resampling
        As in `warp`.
    classes
        As in `classify`.

    Returns
    -------
    tuple
        ``(png bytes, [[south, west], [north, east]])``; the bounds are in degrees whatever `dst_crs` is.
    """
    bounds = [float(lower) for lower, _ in classes]
    if resampling == "max" and all(a > b for a, b in zip(bounds, bounds[1:], strict=False)):
        image, dst_transform = classify_warped(values, classes, transform=transform, crs=crs, dst_crs=dst_crs,
                                               max_px=max_px)
    else:
        warped, dst_transform = warp(values, transform=transform, crs=crs, dst_crs=dst_crs, max_px=max_px,
                                     resampling=resampling)
        image = classify(warped, classes)
    height, width = image.shape[:2]
    png = encode_png(np.moveaxis(image, 2, 0))
    return png, latlon_bounds(dst_transform, width, height, dst_crs)
