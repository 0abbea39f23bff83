"""A synthetic country of N demo provinces side by side, for national-scale runs (issue 16).

Every province is the demo province (:func:`~ictgis.demo.build_demo`) built with its own seed (``seed + i``), so
each has its own outline, terrain, communes, villages, sites, roads, fiber and post offices. Province *i* takes the
*i*-th GSO 2-digit code of `PROVINCES` (the 34 provinces since the 2025 merger, starting with Điện Biên, 11, then in
GSO order, wrapping round) and is placed in slot *i* of a grid of `SLOT_COLUMNS` columns of slots of
`SLOT_M` metres, filled row by row from the north-west. The slots adjoin (they tile the plane): the provinces never
overlap, their outlines lie a few kilometres apart inside their slots.

The country is written in the national VN-2000 / UTM 48N grid (EPSG:3405: 102.14–108 °E, 8.33–23.4 °N), which
holds the 36 slots, so a ``layers.yaml`` with ``working_crs: EPSG:3405`` sits beside the layers. Ids are unique
across provinces: village, site, post office, fiber and road ids are prefixed with the province code (``11-V0001``),
commune codes are renumbered ``<province code><nnn>`` (5 digits, ``11001`` …; synthetic, not the GSO list), district
codes ``<province code>-<district>``. Every layer carries ``province``. Each province also brings the demo's
cells (sectors of its 3G/4G sites, ``cells.csv``: site and cell ids prefixed like the sites, with ``province``) and
its land cover (``landcover.tif``: ESA WorldCover classes on the national DEM grid, uint8, nodata 0, a COG like the
DEM), so a national coverage run has the sector antennas and clutter of a single-province one.

The DEM is one national ``dem.tif``: int16, nodata -32768, a cloud-optimised GeoTIFF (GDAL's COG driver: 512 × 512
tiles, DEFLATE + predictor 2, overviews), assembled province by province through a temporary tiled GeoTIFF, so the
national grid is never held in memory. Its origin is a multiple of both 1 km and the cell size, so every province's
DEM falls on the national grid cell for cell (provinces are shifted by whole cells). Same arguments, same bytes.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.windows import Window

from .._files import atomic_dir
from .build import DemoProvince, build_demo
from .write import DBF_DATE

logger = logging.getLogger(__name__)

__all__ = ["COUNTRY_CRS", "PROVINCES", "SLOT_COLUMNS", "SLOT_M", "country_layout", "write_country"]

#: The 34 provinces and cities since the 2025 merger (Nghị quyết 202/2025/QH15): GSO 2-digit code → name, in the
#: order the synthetic country uses them (Điện Biên first, then GSO order, wrapping round).
PROVINCES: dict[str, str] = {
    "11": "Điện Biên", "12": "Lai Châu", "14": "Sơn La", "15": "Lào Cai", "19": "Thái Nguyên", "20": "Lạng Sơn",
    "22": "Quảng Ninh", "24": "Bắc Ninh", "25": "Phú Thọ", "31": "Hải Phòng", "33": "Hưng Yên", "37": "Ninh Bình",
    "38": "Thanh Hóa", "40": "Nghệ An", "42": "Hà Tĩnh", "44": "Quảng Trị", "46": "Huế", "48": "Đà Nẵng",
    "51": "Quảng Ngãi", "52": "Gia Lai", "56": "Khánh Hòa", "66": "Đắk Lắk", "68": "Lâm Đồng", "75": "Đồng Nai",
    "79": "TP Hồ Chí Minh", "80": "Tây Ninh", "82": "Đồng Tháp", "86": "Vĩnh Long", "91": "An Giang",
    "92": "Cần Thơ", "96": "Cà Mau", "01": "Hà Nội", "04": "Cao Bằng", "08": "Tuyên Quang",
}

#: CRS of the synthetic country (VN-2000 / UTM zone 48N).
COUNTRY_CRS = "EPSG:3405"

#: Slot size (x, y) in metres: multiples of 9 km, so of 1 km and of 30, 90 and 250 m cells.
SLOT_M = (153_000.0, 180_000.0)

#: Columns of slots; 4 × 9 slots fit the area of use of EPSG:3405.
SLOT_COLUMNS = 4

#: West and north edges of the slot grid (EPSG:3405 metres).
ORIGIN_M = (190_000.0, 2_585_000.0)

_DEM_MARGIN_M = 18_000.0


def _step(resolution_m: float) -> int:
    """Least common multiple of 1 km and the cell size (m), which must be a whole number of metres."""
    if resolution_m <= 0 or not float(resolution_m).is_integer():
        raise ValueError(f"the DEM cell size of a country must be a whole number of metres, not {resolution_m}")
    return math.lcm(1000, int(resolution_m))


def country_layout(provinces: int) -> list[tuple[str, int, int]]:
    """Province code, column and row of the slot of each of `provinces` provinces (at most 36)."""
    if not 1 <= provinces <= SLOT_COLUMNS * 9:
        raise ValueError(f"a synthetic country holds 1 to {SLOT_COLUMNS * 9} provinces, not {provinces}")
    codes = list(PROVINCES)
    return [(codes[i % len(codes)] if i < len(codes) else f"{60 + i}", i % SLOT_COLUMNS, i // SLOT_COLUMNS)
            for i in range(provinces)]


def _national_grid(provinces: int, resolution_m: float) -> tuple[Affine, int, int]:
    step = _step(resolution_m)
    cols = min(provinces, SLOT_COLUMNS)
    rows = -(-provinces // SLOT_COLUMNS)
    left = math.floor((ORIGIN_M[0] - _DEM_MARGIN_M) / step) * step
    top = math.ceil((ORIGIN_M[1] + _DEM_MARGIN_M) / step) * step
    right = ORIGIN_M[0] + cols * SLOT_M[0] + _DEM_MARGIN_M
    bottom = ORIGIN_M[1] - rows * SLOT_M[1] - _DEM_MARGIN_M
    return (Affine(resolution_m, 0.0, left, 0.0, -resolution_m, top),
            int(math.ceil((right - left) / resolution_m)), int(math.ceil((top - bottom) / resolution_m)))


def _place(demo: DemoProvince, col: int, row: int, resolution_m: float) -> tuple[float, float]:
    """Shift (dx, dy), whole cells, that centres the province in its slot with its DEM on the national grid."""
    _step(resolution_m)
    step = int(resolution_m)
    minx, miny, maxx, maxy = demo.communes.total_bounds
    cx = ORIGIN_M[0] + (col + 0.5) * SLOT_M[0]
    cy = ORIGIN_M[1] - (row + 0.5) * SLOT_M[1]
    t = demo.dem_transform
    new_x0 = step * round((t.c + cx - 0.5 * (minx + maxx)) / step)
    new_y1 = step * round((t.f + cy - 0.5 * (miny + maxy)) / step)
    dx, dy = new_x0 - t.c, new_y1 - t.f
    sx0, sx1 = ORIGIN_M[0] + col * SLOT_M[0], ORIGIN_M[0] + (col + 1) * SLOT_M[0]
    sy1, sy0 = ORIGIN_M[1] - row * SLOT_M[1], ORIGIN_M[1] - (row + 1) * SLOT_M[1]
    if minx + dx < sx0 or maxx + dx > sx1 or miny + dy < sy0 or maxy + dy > sy1:
        raise RuntimeError(f"province in slot ({col}, {row}) is larger than its slot of {SLOT_M} m")
    return float(dx), float(dy)


def _province_layers(demo: DemoProvince, code: str, dx: float, dy: float) -> dict[str, gpd.GeoDataFrame]:
    """Return the province's layers shifted by (dx, dy) in `COUNTRY_CRS`, with unique ids and `province`."""
    communes = demo.communes.reset_index(drop=True)
    new_code = {c: f"{code}{i + 1:03d}" for i, c in enumerate(communes["code"])}
    out = {}
    for name, gdf in demo.layers().items():
        gdf = gdf.copy()
        gdf["geometry"] = gdf.geometry.translate(dx, dy)
        gdf = gdf.set_crs(COUNTRY_CRS, allow_override=True)
        if name == "communes":
            gdf["code"] = gdf["code"].map(new_code)
            gdf["dist_code"] = code + "-" + gdf["dist_code"].astype(str)
        elif name == "districts":
            gdf["code"] = code + "-" + gdf["code"].astype(str)
        else:
            gdf["id"] = code + "-" + gdf["id"].astype(str)
            if "commune" in gdf:
                gdf["commune"] = gdf["commune"].map(new_code).fillna("")
        gdf.insert(0, "province", code)
        out[name] = gdf
    return out


def _patch_dbf_date(path: Path) -> None:
    """Fix the DBF header's last-update date (bytes 1–3), so re-runs are byte-identical."""
    with open(path, "r+b") as f:
        f.seek(1)
        f.write(bytes(DBF_DATE))


def _write_layers(layers: dict[str, list[gpd.GeoDataFrame]], folder: Path) -> None:
    for name, parts in layers.items():
        gdf = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=COUNTRY_CRS)
        for col in gdf.columns:
            if col != "geometry" and gdf[col].dtype == bool:
                gdf[col] = gdf[col].astype(np.int32)
        gdf.to_file(folder / f"{name}.shp", engine="pyogrio", encoding="UTF-8")
        _patch_dbf_date(folder / f"{name}.dbf")


def _paste(dst, grid: np.ndarray, demo: DemoProvince, national: Affine, dx: float, dy: float, nodata: int) -> None:
    """Write a province's raster on its DEM grid into the national one (cells already filled are kept)."""
    res = national.a
    col0 = int(round((demo.dem_transform.c + dx - national.c) / res))
    row0 = int(round((national.f - (demo.dem_transform.f + dy)) / res))
    h, w = grid.shape
    c0, r0 = max(col0, 0), max(row0, 0)
    c1, r1 = min(col0 + w, dst.width), min(row0 + h, dst.height)
    win = Window(c0, r0, c1 - c0, r1 - r0)
    cur = dst.read(1, window=win)
    new = grid[r0 - row0:r1 - row0, c0 - col0:c1 - col0]
    dst.write(np.where(cur == nodata, new, cur), 1, window=win)


def _province_cells(demo: DemoProvince, code: str) -> pd.DataFrame | None:
    """Return the province's cells, site and cell ids prefixed like its sites', with `province`."""
    if demo.cells is None:
        return None
    cells = demo.cells.copy()
    cells["site"] = code + "-" + cells["site"].astype(str)
    if "cell" in cells:
        cells["cell"] = code + "-" + cells["cell"].astype(str)
    cells.insert(0, "province", code)
    return cells


def write_country(out_dir: str | os.PathLike, *, provinces: int, seed: int = 2021,
                  dem_resolution_m: float = 90.0) -> Path:
    """Generate a synthetic country of `provinces` demo provinces and write it to `out_dir`.

    Parameters
    ----------
    out_dir
        Folder to write to (Shapefiles per layer for the whole country, ``dem.tif``, ``landcover.tif``,
        ``cells.csv``, ``layers.yaml``).
    provinces
        Number of provinces, 1 to 36 (each takes about as long to build as the demo province).
    seed
        Seed of the first province; province *i* uses ``seed + i``.
    dem_resolution_m
        Cell size of the DEM, a whole number of metres.

    Returns
    -------
    pathlib.Path
        `out_dir`.

    Examples
    --------
    >>> write_country("/tmp/vn2", provinces=2, dem_resolution_m=250)  # doctest: +SKIP
    """
    out = Path(out_dir)
    national, width, height = _national_grid(provinces, dem_resolution_m)
    layers: dict[str, list[gpd.GeoDataFrame]] = {}
    cells: list[pd.DataFrame] = []
    with atomic_dir(out, merge=True) as tmp:
        scratch, lc_scratch = tmp / "dem_parts.tif", tmp / "landcover_parts.tif"
        profile = {"driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "int16",
                   "nodata": -32768, "crs": COUNTRY_CRS, "transform": national, "tiled": True, "blockxsize": 512,
                   "blockysize": 512, "compress": "deflate", "predictor": 2, "BIGTIFF": "IF_SAFER"}
        lc_profile = profile | {"dtype": "uint8", "nodata": 0, "predictor": 1}
        with rasterio.open(scratch, "w+", **profile) as dst, rasterio.open(lc_scratch, "w+", **lc_profile) as lc:
            for i, (code, col, row) in enumerate(country_layout(provinces)):
                demo = build_demo(seed=seed + i, dem_resolution_m=dem_resolution_m)
                dx, dy = _place(demo, col, row, dem_resolution_m)
                for name, gdf in _province_layers(demo, code, dx, dy).items():
                    layers.setdefault(name, []).append(gdf)
                _paste(dst, demo.dem, demo, national, dx, dy, -32768)
                if demo.landcover is not None:
                    _paste(lc, demo.landcover, demo, national, dx, dy, 0)
                part = _province_cells(demo, code)
                if part is not None:
                    cells.append(part)
                logger.info("province %s (%s) built: %d communes, %d villages, %d sites, %d cells", code,
                            PROVINCES.get(code, "?"), len(demo.communes), len(demo.villages), len(demo.bts_sites),
                            0 if part is None else len(part))
                del demo
        rasterio.shutil.copy(scratch, tmp / "dem.tif", driver="COG", compress="DEFLATE", predictor="2",
                             blocksize=512, overviews="AUTO", BIGTIFF="IF_SAFER")
        rasterio.shutil.copy(lc_scratch, tmp / "landcover.tif", driver="COG", compress="DEFLATE",
                             blocksize=512, overviews="AUTO", resampling="MODE", BIGTIFF="IF_SAFER")
        scratch.unlink()
        lc_scratch.unlink()
        _write_layers(layers, tmp)
        if cells:
            pd.concat(cells, ignore_index=True).to_csv(tmp / "cells.csv", index=False, lineterminator="\n",
                                                       encoding="utf-8")
        codes = [c for c, _, _ in country_layout(provinces)]
        (tmp / "layers.yaml").write_text(
            f"# synthetic country of {provinces} provinces (ictgis demo --provinces): one national working grid\n"
            f"working_crs: {COUNTRY_CRS}\n# provinces: {', '.join(codes)}\n", encoding="utf-8")
    logger.info("country of %d provinces written to %s (DEM %d × %d cells of %g m)", provinces, out, width,
                height, dem_resolution_m)
    return out
