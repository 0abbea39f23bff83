"""``ictgis viewshed``: viewsheds of one observer or of a file of sites, written as GeoTIFFs on the DEM's grid."""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from ..constants import REFRACTION_COEFF

logger = logging.getLogger(__name__)

#: Sites computed together (one numba batch) before their files are written.
SITES_PER_BATCH = 16
#: Windows written with --crop get overviews only when larger than this many cells a side.
CROP_OVERVIEWS_FROM = 2048


@click.command()
@click.option("--dem", "dem_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Elevation model (GeoTIFF) in a projected CRS.")
@click.option("--x", "x", type=float, default=None, help="Observer easting in the DEM's CRS.")
@click.option("--y", "y", type=float, default=None, help="Observer northing in the DEM's CRS.")
@click.option("--sites", "sites_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Many observers: CSV id,x,y[,height_m] in the DEM's CRS, or a point layer with an id column.")
@click.option("--height-m", "height_m", type=float, default=None,
              help="Observer height above the ground (default for sites without height_m).")
@click.option("--radius-m", "radius_m", type=float, required=True, help="Viewshed radius.")
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path),
              help="Output GeoTIFF (one observer) or folder of <id>.tif (with --sites).")
@click.option("--target-height-m", type=float, default=1.5, show_default=True, help="Target height above ground.")
@click.option("--refraction", type=float, default=REFRACTION_COEFF, show_default=True,
              help="Curvature coefficient as gdal_viewshed -cc: heights drop by refraction · d² / (2 a); 0 ignores "
                   "the curvature.")
@click.option("--resolution-m", type=float, default=None, help="Resample the DEM to this cell size first.")
@click.option("--crop/--no-crop", default=False, show_default=True,
              help="Write only the window around each observer (still on the DEM's grid) instead of the full grid.")
def viewshed(dem_path, x, y, sites_path, height_m, radius_m, out_path, target_height_m, refraction, resolution_m,
             crop) -> None:
    """Viewshed of one observer (--x --y --height-m) or of every site of --sites, as 1 visible / 0 hidden / 255.

    Semantics follow gdal_viewshed (Wang et al. 2000 reference planes, curvature corrected); output GeoTIFFs are
    on the DEM's grid, tiled, deflate-compressed with overviews (--crop windows: PackBits, overviews only above
    2048 cells a side), each written atomically.
    """
    with paused_gc():
        _viewshed(dem_path, x, y, sites_path, height_m, radius_m, out_path, target_height_m, refraction,
                  resolution_m, crop)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block (as it was before, after it).

    Importing numba, rasterio and pyproj and loading the compiled kernels creates some hundred thousand objects
    that live until the process ends; the collector would walk them over and over while they are created (about a
    tenth of the CPU of ``ictgis viewshed --sites`` for 100 sites). The viewshed loop itself leaves no garbage in
    reference cycles, and reference counting frees everything else as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _viewshed(dem_path, x, y, sites_path, height_m, radius_m, out_path, target_height_m, refraction, resolution_m,
              crop) -> None:
    from .. import terrain

    if radius_m <= 0:
        raise click.BadParameter("must be positive", param_hint="--radius-m")
    if sites_path is None:
        if x is None or y is None or height_m is None:
            raise click.UsageError("give --x, --y and --height-m for one observer, or --sites FILE")
    elif x is not None or y is not None:
        raise click.UsageError("give either --x/--y or --sites, not both")
    dem = terrain.read_dem(dem_path, resolution_m=resolution_m)
    curvature = refraction != 0
    if sites_path is None:
        values = terrain.viewshed_many(dem, [x], [y], height_m, target_height_m=target_height_m,
                                       max_radius_m=radius_m, refraction_coeff=refraction, curvature=curvature,
                                       ids=["observer"])
        _write(out_path, values, 0, dem, crop=crop)
        visible = int((values.data[0] == terrain.VISIBLE).sum())
        click.echo(f"{visible} visible cells ({visible * dem.resolution_m ** 2 / 1e6:.2f} km²); wrote {out_path}")
        return
    ids, xs, ys, heights = terrain.read_observers(sites_path, dem.crs, default_height_m=height_m)
    terrain.observer_cells(dem, xs, ys, ids=ids, label=sites_path.name)  # every bad site in one error
    if out_path.exists() and not out_path.is_dir():
        raise click.BadParameter(f"{out_path} is a file; with --sites, --out is a folder", param_hint="--out")
    out_path.mkdir(parents=True, exist_ok=True)
    logger.info("viewsheds of %d sites, radius %.0f m, on %s (%d × %d cells of %.1f m)", len(ids), radius_m,
                dem_path.name, *dem.shape, dem.resolution_m)
    with click.progressbar(length=len(ids), label="viewshed", file=sys.stderr) as bar:
        for start in range(0, len(ids), SITES_PER_BATCH):
            part = slice(start, start + SITES_PER_BATCH)
            values = terrain.viewshed_many(dem, xs[part], ys[part], heights[part], target_height_m=target_height_m,
                                           max_radius_m=radius_m, refraction_coeff=refraction, curvature=curvature,
                                           ids=ids[part])
            if crop and values.data.shape[1] <= CROP_OVERVIEWS_FROM:
                # windows as gdal_viewshed writes them: one rasterio environment, CRS and profile for the batch
                terrain.write_windows([out_path / f"{fid}.tif" for fid in ids[part]],
                                      (values.window(k) for k in range(len(values))), dem, nodata=terrain.NODATA,
                                      dtype="uint8", compress="packbits")
            else:
                for k, fid in enumerate(ids[part]):
                    _write(out_path / f"{fid}.tif", values, k, dem, crop=crop)
            bar.update(len(values))
    click.echo(f"wrote {len(ids)} viewsheds to {out_path}")


def _write(path: Path, values, k: int, dem, *, crop: bool) -> None:
    from .. import terrain

    if crop:
        row0, col0, window = values.window(k)
        # a window is what gdal_viewshed writes: small enough to draw without overviews (below 2048 cells a side);
        # PackBits (baseline TIFF) packs its runs of 0/1/255 at a third of DEFLATE's cost
        terrain.write_raster(path, window, dem, nodata=terrain.NODATA, dtype="uint8", window=(row0, col0),
                             overviews=max(window.shape) > CROP_OVERVIEWS_FROM, compress="packbits")
    else:
        terrain.write_raster(path, values.full(k), dem, nodata=terrain.NODATA, dtype="uint8")
