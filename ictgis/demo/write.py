"""Write the demo province as Shapefiles and a GeoTIFF DEM, byte-identical on every run."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio

from .._files import atomic_dir
from .build import DemoProvince, build_demo

logger = logging.getLogger(__name__)

DBF_DATE = (2021 - 1900, 6, 30)


def _patch_dbf_date(path: Path) -> None:
    """Set the DBF header's last-update date (bytes 1–3) to a fixed day, so re-runs are byte-identical."""
    with open(path, "r+b") as f:
        f.seek(1)
        f.write(bytes(DBF_DATE))


def _write_layers(demo: DemoProvince, folder: Path) -> None:
    for name, gdf in demo.layers().items():
        gdf = gdf.copy()
        for col in gdf.columns:
            if col != "geometry" and gdf[col].dtype == bool:
                gdf[col] = gdf[col].astype(np.int32)
        gdf.to_file(folder / f"{name}.shp", engine="pyogrio", encoding="UTF-8")
        _patch_dbf_date(folder / f"{name}.dbf")
    profile = {"driver": "GTiff", "width": demo.dem.shape[1], "height": demo.dem.shape[0], "count": 1,
               "dtype": "int16", "nodata": -32768, "crs": demo.crs, "transform": demo.dem_transform,
               "compress": "deflate", "predictor": 2, "zlevel": 9, "tiled": True, "blockxsize": 256,
               "blockysize": 256}
    with rasterio.open(folder / "dem.tif", "w", **profile) as dst:
        dst.write(demo.dem, 1)
    if demo.cells is not None:
        demo.cells.to_csv(folder / "cells.csv", index=False, lineterminator="\n", encoding="utf-8")
    if demo.landcover is not None:
        lc_profile = profile | {"dtype": "uint8", "nodata": 0, "predictor": 1}
        with rasterio.open(folder / "landcover.tif", "w", **lc_profile) as dst:
            dst.write(demo.landcover, 1)


def write_demo(out_dir: str | os.PathLike, *, seed: int = 2021, dem_resolution_m: float = 90.0,
               communes: gpd.GeoDataFrame | None = None) -> Path:
    """Build the demo province and write it to `out_dir`.

    One ESRI Shapefile per layer (UTF-8, with a ``.cpg``; booleans as 0/1 integers), ``dem.tif`` (int16,
    nodata -32768, DEFLATE + predictor 2, 256 × 256 tiles, EPSG:9205), ``cells.csv`` (the sectors of the 3G/4G
    sites) and ``landcover.tif`` (uint8 ESA WorldCover classes on the DEM grid, nodata 0, DEFLATE). Everything is
    first written to a temporary folder beside `out_dir` and moved into place only when complete. Re-runs with the
    same arguments give byte-identical files (the DBF header date is fixed to 2021-06-30).

    Parameters
    ----------
    out_dir
        Folder to write to; created if needed. Files of the same names are replaced, others are left alone.
    seed, dem_resolution_m, communes
        As for :func:`build_demo`.

    Returns
    -------
    pathlib.Path
        `out_dir`.
    """
    out = Path(out_dir)
    demo = build_demo(seed=seed, dem_resolution_m=dem_resolution_m, communes=communes)
    existed = out.exists()
    with atomic_dir(out, merge=True) as tmp:
        _write_layers(demo, tmp)
    if not existed:
        return out
    for f in sorted(out.iterdir()):
        if f.is_file():
            logger.info("%s  %8.1f kB  sha256 %s", f.name, f.stat().st_size / 1e3,
                        hashlib.sha256(f.read_bytes()).hexdigest()[:12])
    return out
