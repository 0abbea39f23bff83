"""Rasters as PNG images for web maps and Google Earth: warp to EPSG:3857 or 4326, colour by classes, encode.

One helper for every image the project draws (the coverage overlay of the web map, the KMZ of ``ictgis
coverage``, the hillshade basemap). The PNG is written by rasterio's PNG driver (GDAL) through a ``MemoryFile``:
no plotting library is needed.

- `warp` reprojects a grid to a north-up grid in another CRS, at most ``max_px`` pixels on its longest side;
- `classify` turns values into an RGBA image by classes (lower bounds, best first);
- `class_index` and `class_palette` give the same image as class numbers and their colours (a paletted PNG: a
  quarter of the bytes to colour and encode); `warp_classes` warps class numbers (``min``: the best class a pixel
  covers), the pixels of `class_index` after a ``max`` `warp`;
- `encode_png` encodes 1–4 bands of bytes (grey, grey + alpha, RGB, RGBA), or one band with a colour map;
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

#: GDAL warper memory (MB): see `ictgis.terrain.dem.WARP_MEM_MB` (the same reasoning; kept here so that drawing a
#: PNG does not import the terrain package).
WARP_MEM_MB = 16

__all__ = ["class_index", "class_palette", "classed_png", "classify", "encode_png", "latlon_bounds", "warp",
           "warp_classes"]


def _rio_crs(crs: object):
    """Return a rasterio CRS from an EPSG string, a rasterio CRS or a pyproj CRS (through WKT2, never proj4/WKT1)."""
    from rasterio.crs import CRS

    if isinstance(crs, CRS):
        return crs
    if hasattr(crs, "to_wkt"):
        return CRS.from_user_input(crs.to_wkt())
    return CRS.from_user_input(crs)


def _target_grid(shape: tuple[int, int], transform: Affine, src_crs, dst_crs, max_px: int
                 ) -> tuple[Affine, int, int]:
    """Return the north-up grid in `dst_crs` of `warp`: transform, width, height."""
    from rasterio.warp import calculate_default_transform

    rows, cols = shape
    west, north = transform.c, transform.f
    east, south = west + cols * transform.a, north + rows * transform.e
    scale = max(1.0, max(rows, cols) / max_px)
    return calculate_default_transform(src_crs, dst_crs, cols, rows, west, south, east, north,
                                       dst_width=int(cols / scale), dst_height=int(rows / scale))


def warp(values: np.ndarray, *, transform: Affine, crs: object, dst_crs: object = "EPSG:3857", max_px: int = 1600,
         resampling: str = "max") -> tuple[np.ndarray, Affine]:
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

    Returns
    -------
    tuple
        ``(float32 grid, affine transform)`` in `dst_crs`.
    """
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    src_crs, dst_crs = _rio_crs(crs), _rio_crs(dst_crs)
    dst_transform, width, height = _target_grid(values.shape, transform, src_crs, dst_crs, max_px)
    warped = np.full((height, width), np.nan, dtype=np.float32)
    reproject(np.asarray(values, dtype=np.float32), warped, src_transform=transform, src_crs=src_crs,
              dst_transform=dst_transform, dst_crs=dst_crs, src_nodata=np.nan, dst_nodata=np.nan,
              resampling=Resampling[resampling], init_dest_nodata=False,  # `warped` starts as NaN
              num_threads=os.cpu_count() or 1,  # GDAL's warper threads; the grid does not depend on them
              warp_mem_limit=WARP_MEM_MB)
    return warped, dst_transform


def warp_classes(values: np.ndarray, classes: Sequence[tuple[float, tuple[int, int, int, int]]], *,
                 transform: Affine, crs: object, dst_crs: object = "EPSG:4326", max_px: int = 1600
                 ) -> tuple[np.ndarray, Affine]:
    """Warp a grid's class numbers: each pixel the class of the best value it covers (`class_index` of a `warp`).

    The same pixels as ``class_index(warp(values, ..., resampling="max")[0], classes)``, computed the other way
    round: the grid's class numbers (one byte a cell; NaN and values below the last class take ``len(classes)``)
    warped with ``min``, the best class of the cells a pixel covers. A quarter of the bytes for GDAL's warper to
    read and about half its CPU on a 30 m province grid.

    Parameters
    ----------
    values, transform, crs, dst_crs, max_px
        As in `warp`.
    classes
        As in `classify`.

    Returns
    -------
    tuple
        ``(uint8 grid of class numbers, affine transform)`` in `dst_crs`; pixels outside the source take
        ``len(classes)`` (no class).
    """
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    src_crs, dst_crs = _rio_crs(crs), _rio_crs(dst_crs)
    dst_transform, width, height = _target_grid(values.shape, transform, src_crs, dst_crs, max_px)
    index = class_index(values, classes)
    warped = np.full((height, width), len(classes), dtype=np.uint8)
    # no nodata: "no class" is the largest number, so `min` takes it only where a pixel covers nothing better
    reproject(index, warped, src_transform=transform, src_crs=src_crs, dst_transform=dst_transform, dst_crs=dst_crs,
              resampling=Resampling.min, init_dest_nodata=False, num_threads=os.cpu_count() or 1,
              warp_mem_limit=WARP_MEM_MB)
    return warped, dst_transform


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


def class_index(values: np.ndarray, classes: Sequence[tuple[float, tuple[int, int, int, int]]]) -> np.ndarray:
    """Return the class number of each value (uint8): k for ``classes[k]``, ``len(classes)`` for none (or NaN).

    A value takes the first class whose lower bound it reaches, as in `classify`:
    ``class_palette(classes)[class_index(values, classes)]`` is ``classify(values, classes)``.
    """
    if len(classes) > 255:
        raise ValueError(f"at most 255 classes, got {len(classes)}")
    out = np.full(np.shape(values), len(classes), dtype=np.uint8)
    flat, dst = np.ravel(values), out.reshape(-1)
    step = 1 << 20  # by chunks of a million cells: no grid-sized boolean temporaries
    with np.errstate(invalid="ignore"):  # NaN compares False: no class
        for i in range(0, flat.size, step):
            part, into = flat[i:i + step], dst[i:i + step]
            for k in range(len(classes) - 1, -1, -1):  # weakest first: a stronger class overwrites it
                into[part >= classes[k][0]] = k
    return out


def class_palette(classes: Sequence[tuple[float, tuple[int, int, int, int]]]) -> np.ndarray:
    """Return the colours (RGBA, ``(len(classes) + 1, 4)`` uint8) of the numbers of `class_index`; the last is clear."""
    return np.array([color for _, color in classes] + [(0, 0, 0, 0)], dtype=np.uint8).reshape(-1, 4)


def encode_png(bands: np.ndarray, *, colormap: np.ndarray | None = None) -> bytes:
    """Encode an image of bytes as a PNG with rasterio's PNG driver (in memory).

    Parameters
    ----------
    bands
        ``(bands, rows, cols)`` in rasterio's order — 1 band grey, 2 grey + alpha, 3 RGB, 4 RGBA — or one band as
        ``(rows, cols)``; values 0–255 (cast to uint8). An image held as ``(rows, cols, 4)`` (as `classify` returns
        it) goes through ``numpy.moveaxis(image, 2, 0)``.
    colormap
        For one band: the RGBA colour of each value (``(n, 4)``, n ≤ 256, as `class_palette` gives), written as a
        paletted PNG (PLTE, with tRNS for the alpha); every value of the band must be below n.

    Returns
    -------
    bytes
        The PNG file.

    Raises
    ------
    ValueError
        If the array is not 2-D or has not 1–4 bands, or a colour map is given for more than one band.
    """
    import rasterio
    from rasterio.io import MemoryFile

    bands = np.asarray(bands)
    if bands.ndim == 2:
        bands = bands[np.newaxis]
    if bands.ndim != 3 or not 1 <= bands.shape[0] <= 4:
        raise ValueError(f"expected (bands, rows, cols) with 1 to 4 bands, or (rows, cols); got {bands.shape}")
    if colormap is not None and bands.shape[0] != 1:
        raise ValueError(f"a colour map needs one band, got {bands.shape[0]}")
    bands = np.ascontiguousarray(bands, dtype=np.uint8)
    count, height, width = bands.shape
    with warnings.catch_warnings(), MemoryFile() as mem:
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with mem.open(driver="PNG", width=width, height=height, count=count, dtype="uint8") as png:
            png.write(bands)
            if colormap is not None:
                png.write_colormap(1, {k: tuple(int(c) for c in rgba) for k, rgba in enumerate(colormap)})
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
    warped, dst_transform = warp(values, transform=transform, crs=crs, dst_crs=dst_crs, max_px=max_px,
                                 resampling=resampling)
    height, width = warped.shape
    png = encode_png(np.moveaxis(classify(warped, classes), 2, 0))
    return png, latlon_bounds(dst_transform, width, height, dst_crs)
