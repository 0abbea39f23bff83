"""Coverage of many provinces on Dask, partitioned by output tile (``ictgis coverage … --workers N``).

The output grid is the one a single-process run computes on (the DEM's grid, or the DEM resampled to
`resolution_m` with the same upper-left corner, as :func:`ictgis.terrain.read_dem` does). It is cut into square
tiles of `tile_size` cells (default `TILE_SIZE`). One task per tile that some site reaches:

1. the sites that reach the tile (distance from the site to the tile ≤ its sweep radius: the largest of its
   transmitters' radii — the default link-budget radius of each cell, with the cell's band, height, power and gain,
   capped at 20 km, or ``--radius-m``) are taken **in the global order** of the technology's sites, with their
   cells (the rows of the cells table of those sites, in the table's order), so that the transmitters of the tile
   are those of the single-process run in the same order: the engine's strongest-first order and its ties are
   the same, and its server (transmitter) index is mapped back to the global index;
2. the task reads its own DEM window from the file — the tile plus a halo of the largest reach among those sites
   plus two cells, on the global grid (a rasterio window read; resampled windows are warped onto the global grid's
   cells) — and, when the data has a land cover, the land cover on that window (`ictgis.landcover.read_landcover`
   onto the window's cells: the canopy surface and the clutter loss are then computed on the window by the engine),
   so neither raster travels through the scheduler, and every ray from a site to a cell of the tile lies inside the
   window;
3. it runs :func:`ictgis.coverage.compute` on that window, crops the result to the tile and writes
   ``tiles/rsrp_<tech>_<row>_<col>.tif`` and ``tiles/server_<tech>_…tif``, and returns the values at the villages
   of the tile (a few numbers).

The cells table (``cells.csv`` of the folder, or a store's) is read and checked once by the caller (antenna pattern
files are read by each task from ``antennas/`` of the data folder); the land-cover settings of ``layers.yaml``
apply in every task as in one process. Tasks are submitted heaviest first (site sweeps weighted by the cells of
their discs), so that the last tasks to finish are short ones.

``rsrp_<tech>.vrt`` and ``server_<tech>.vrt`` (GDAL virtual mosaics, relative paths to ``tiles/``) open in rasterio
and QGIS as one raster; tiles no site reaches are left out (nodata). The village table is assembled from the
per-tile samples, the nearest site is found over all sites, and the commune table and the summary are reduced per
province (``province`` column; ``provinces`` in the summary). The whole national raster is never in one process.
Results are identical, cell for cell and row for row, to a single-process ``ictgis coverage`` on the same folder,
whatever the tile size or the number of workers. The KMZ overlay is not written for national runs.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine

from .. import landcover as lc
from .. import radio, settings
from .._errors import LayerError, Problem
from .._files import atomic_dir
from .._validate import Collector
from ..cells import Transmitters, find_cells, read_cells, transmitters
from ..coverage import (
    MAX_RADIUS_M,
    NO_SIGNAL_DBM,
    commune_table,
    compute,
    floor_of,
    loss_coefficients,
    site_environment,
    sites_of,
    tr38901_coefficients,
    unobstructed_reach_km,
    village_table,
)
from ..io import Dataset, read_mapping
from ..sheets import write_csv
from ..terrain import Dem, write_raster

logger = logging.getLogger(__name__)

__all__ = ["TILE_SIZE", "GridSpec", "TileTask", "dataset_cells", "dataset_landcover", "grid_of", "run_coverage",
           "run_tile", "site_radii"]

#: Default tile size (cells): 2048 cells are 61 km at 30 m, 184 km at 90 m.
TILE_SIZE = 2048


@dataclass(frozen=True)
class GridSpec:
    """The output grid: transform, size, CRS (WKT) and whether it is the DEM file's own grid."""

    transform: Affine
    width: int
    height: int
    crs_wkt: str
    native: bool

    @property
    def resolution_m(self) -> float:
        """Cell size (m)."""
        return float(self.transform.a)


def grid_of(dem_path: str | Path, resolution_m: float | None = None) -> GridSpec:
    """Return the grid a single-process run computes on (the rules of :func:`ictgis.terrain.read_dem`)."""
    import rasterio

    with rasterio.open(dem_path) as src:
        t = src.transform
        square = t.b == 0 and t.d == 0 and math.isclose(abs(t.a), abs(t.e), rel_tol=1e-6)
        if resolution_m is None and not square:
            resolution_m = max(abs(t.a), abs(t.e))
        if resolution_m is None or (square and math.isclose(resolution_m, abs(t.a), rel_tol=1e-9)):
            return GridSpec(t, src.width, src.height, src.crs.to_wkt(), True)
        left, bottom, right, top = src.bounds
        cols = max(1, round((right - left) / resolution_m))
        rows = max(1, round((top - bottom) / resolution_m))
        return GridSpec(Affine(resolution_m, 0.0, left, 0.0, -resolution_m, top), cols, rows, src.crs.to_wkt(),
                        False)


def read_window(dem_path: str | Path, grid: GridSpec, rows: tuple[int, int], cols: tuple[int, int]) -> Dem:
    """Read the cells `rows` × `cols` (half-open) of the output grid from the DEM file, as a `Dem`."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject
    from rasterio.windows import Window, from_bounds

    (r0, r1), (c0, c1) = rows, cols
    with rasterio.open(dem_path) as src:
        if grid.native:
            win = Window(c0, r0, c1 - c0, r1 - r0)
            band = src.read(1, window=win, masked=True).astype(np.float32).filled(np.nan)
            return Dem(band, src.transform @ Affine.translation(c0, r0), src.crs, grid.resolution_m)
        t = grid.transform
        dst_t = Affine(t.a, 0.0, t.c + c0 * t.a, 0.0, t.e, t.f + r0 * t.e)
        bounds = (dst_t.c, dst_t.f + (r1 - r0) * t.e, dst_t.c + (c1 - c0) * t.a, dst_t.f)
        src_win = from_bounds(*bounds, transform=src.transform).round_offsets(op="floor").round_lengths(op="ceil")
        src_win = Window(src_win.col_off - 2, src_win.row_off - 2, src_win.width + 4, src_win.height + 4)
        src_win = src_win.intersection(Window(0, 0, src.width, src.height))
        band = src.read(1, window=src_win, masked=True).astype(np.float32).filled(np.nan)
        out = np.full((r1 - r0, c1 - c0), np.nan, np.float32)
        method = Resampling.average if grid.resolution_m > abs(src.transform.a) else Resampling.bilinear
        src_t = src.transform @ Affine.translation(src_win.col_off, src_win.row_off)
        reproject(band, out, src_transform=src_t, src_crs=src.crs, dst_transform=dst_t,
                  dst_crs=src.crs, src_nodata=np.nan, dst_nodata=np.nan, resampling=method)
        return Dem(out, dst_t, src.crs, grid.resolution_m)


def site_radii(ds: Dataset, sites: gpd.GeoDataFrame, technology: str, *, threshold_dbm: float,
               radius_m: float | None, calibration: Any = None, rx_height_m: float = 1.5,
               floor_dbm: float | None = None) -> np.ndarray:
    """Sweep radius (m) of every row of `sites`: `radius_m`, or the default rule of :func:`ictgis.coverage.compute`.

    By default, where the signal without terrain loss reaches `floor_dbm` (`RADIUS_MARGIN_DB` below the threshold
    when None).

    `sites` may be the transmitters' frame (`ictgis.cells.Transmitters.frame`: one row per cell with its band,
    height, power and gain), whose radii are those the engine gives each transmitter.
    """
    if radius_m is not None:
        return np.full(len(sites), float(radius_m))
    params = radio.site_parameters(sites, technology)
    env = site_environment(sites, ds["communes"])
    calib = dict(radio.CALIBRATION_DB) | (dict(calibration.environment_db) if calibration is not None else {})
    a_coef, b_coef = loss_coefficients(params, env, rx_height_m=rx_height_m, calibration_db=calib)
    nr_coef = tr38901_coefficients(params, env, rx_height_m=rx_height_m, calibration_db=calib)
    ref = params.reference_eirp_dbm + params.rx_gain_dbi - params.body_loss_db
    fspl_c = 32.45 + 20.0 * np.log10(params.frequency_mhz)
    floor = floor_of(threshold_dbm, floor_dbm)
    reach = unobstructed_reach_km(a_coef, b_coef, nr_coef, fspl_c, ref - floor)
    return np.clip(reach * 1000.0, 1000.0, MAX_RADIUS_M)


def dataset_cells(ds: Dataset, mapping: dict) -> tuple[pd.DataFrame | None, str]:
    """Return the cells table a single-process run of `ds` uses (the folder's ``cells`` file, else a store's).

    Returns
    -------
    tuple
        The table (None: no cells) and its label for messages (the file name).
    """
    found = find_cells(ds.data_dir, mapping)
    if found is None:
        return ds.cells, "cells"
    path, spec = found
    cells = read_cells(path, fields=spec.get("fields"), encoding=spec.get("encoding") or mapping.get("encoding"),
                       sheet=spec.get("layer"))
    return cells, path.name


def dataset_landcover(ds: Dataset, mapping: dict) -> tuple[Path | None, dict[int, int] | None]:
    """Return the land-cover GeoTIFF a single-process run of `ds` uses (None: none) and ``layers.yaml``'s classes."""
    spec = lc.landcover_spec(mapping, file=mapping.get("_path", "layers.yaml")) if mapping else {}
    path = lc.find_landcover(ds.data_dir, spec) or ds.landcover_path
    return (None if path is None else Path(path)), (spec.get("classes") or None)


def _transmitters(ds: Dataset, sites: gpd.GeoDataFrame, technology: str, cells: pd.DataFrame | None,
                  label: str) -> Transmitters:
    """Return the transmitters of a single-process run (checks the cells table and its pattern files once)."""
    bts = ds.get("bts_sites")
    return transmitters(sites, technology, cells, data_dir=ds.data_dir, label=label,
                        all_site_ids=set(bts["id"].astype(str)) if bts is not None else None)


@dataclass
class TileTask:
    """One tile: its cells on the global grid, its sites (global positions) and the villages it holds."""

    row: int
    col: int
    rows: tuple[int, int]
    cols: tuple[int, int]
    window_rows: tuple[int, int]
    window_cols: tuple[int, int]
    site_positions: np.ndarray  # positions in the global site order, increasing
    sites: gpd.GeoDataFrame
    communes: gpd.GeoDataFrame  # code and kind of the sites' communes
    village_index: np.ndarray  # rows of the village layer whose cell is in the tile
    village_cells: np.ndarray  # (n, 2) global row, col
    cells: pd.DataFrame | None = None  # the rows of the cells table of the tile's sites (None: no cells)
    transmitter_positions: np.ndarray | None = None  # global transmitter index of the tile's transmitters
    weight: float = 0.0  # estimated cost: the cells of the sweeps' discs


def run_tile(task: TileTask, *, dem_path: str, grid: GridSpec, out_dir: str, technology: str,
             threshold_dbm: float, operator: str | None, radius_m: float | None, crs: Any,
             calibration: Any = None, data_dir: str | None = None, landcover_path: str | None = None,
             landcover_classes: dict[int, int] | None = None, floor_dbm: float | None = None) -> dict:
    """Compute one tile (a Dask task): read the DEM (and land-cover) window, run the engine, write the tile.

    `data_dir` is the data folder of the run (its ``layers.yaml`` land-cover settings and ``antennas/``); the
    land cover, when `landcover_path` is given, is read onto the window's cells with `landcover_classes`.

    Returns
    -------
    dict
        ``village_index``, ``rsrp`` and ``server`` (global index) at the tile's villages, the tile's file names and
        its ``seconds``.
    """
    t, cpu, started = time.perf_counter(), time.process_time(), time.time()
    dem = read_window(dem_path, grid, task.window_rows, task.window_cols)
    classes: np.ndarray | bool = False
    if landcover_path is not None:
        classes = lc.read_landcover(landcover_path, dem, classes=landcover_classes)
    ds = Dataset(layers={"bts_sites": task.sites, "communes": task.communes}, sources={}, crs=crs,
                 data_dir=None if data_dir is None else Path(data_dir))
    result = compute(ds, technology=technology, threshold_dbm=threshold_dbm, operator=operator, radius_m=radius_m,
                     dem=dem, progress=lambda f, m: None, calibration=calibration, floor_dbm=floor_dbm,
                     cells=False if task.cells is None else task.cells, landcover=classes)
    wr, wc = task.rows[0] - task.window_rows[0], task.cols[0] - task.window_cols[0]
    h, w = task.rows[1] - task.rows[0], task.cols[1] - task.cols[0]
    rsrp = result.rsrp_dbm[wr:wr + h, wc:wc + w]
    local = result.server[wr:wr + h, wc:wc + w]
    positions = task.site_positions if task.transmitter_positions is None else task.transmitter_positions
    if len(result.site_ids) != len(positions):
        raise RuntimeError(f"tile {task.row}, {task.col}: {len(result.site_ids)} transmitters, expected "
                           f"{len(positions)}")
    server = np.where(local >= 0, positions[np.maximum(local, 0)], -1).astype(np.int32)
    tag = technology.lower()
    names = {kind: f"tiles/{kind}_{tag}_{task.row:04d}_{task.col:04d}.tif" for kind in ("rsrp", "server")}
    out = Path(out_dir)
    write_raster(out / names["rsrp"], np.where(np.isnan(rsrp), NO_SIGNAL_DBM, rsrp).astype(np.float32), dem,
                 nodata=NO_SIGNAL_DBM, dtype="float32", window=(wr, wc), overviews=False)
    write_raster(out / names["server"], server, dem, nodata=-1, dtype="int32", window=(wr, wc), overviews=False)
    vr, vc = task.village_cells[:, 0] - task.rows[0], task.village_cells[:, 1] - task.cols[0]
    return {"row": task.row, "col": task.col, "rows": task.rows, "cols": task.cols, "files": names,
            "village_index": task.village_index, "rsrp": rsrp[vr, vc].astype(np.float64), "server": server[vr, vc],
            "sites": len(task.sites), "transmitters": len(positions), "seconds": time.perf_counter() - t,
            "cpu_seconds": time.process_time() - cpu, "started": started, "finished": time.time(),
            "worker": _worker_name()}


def _worker_name() -> str:
    """Address of the Dask worker running the task ("local" outside Dask)."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


def schedule_figures(results: list[dict]) -> dict:
    """Where the wall time of the tasks went: their span, and how long the first worker to finish sat idle.

    ``span_s`` is from the first task's start to the last task's end; ``tail_s`` from the moment the first worker
    ran out of tasks to the end (the straggling last tiles: 0 when every worker finishes together).
    """
    if not results:
        return {"span_s": 0.0, "tail_s": 0.0}
    last: dict[str, float] = {}
    for r in results:
        last[r["worker"]] = max(last.get(r["worker"], 0.0), r["finished"])
    end = max(last.values())
    return {"span_s": round(end - min(r["started"] for r in results), 2),
            "tail_s": round(end - min(last.values()), 2) if len(last) > 1 else 0.0}


def _tiles(grid: GridSpec, tile_size: int, xs: np.ndarray, ys: np.ndarray, radii: np.ndarray,
           sites: gpd.GeoDataFrame, communes: gpd.GeoDataFrame, v_rows: np.ndarray, v_cols: np.ndarray,
           tx: Transmitters | None = None, cells: pd.DataFrame | None = None) -> list[TileTask]:
    """Cut the grid into tasks (see the module docstring); `radii` is each site's largest transmitter radius."""
    t, res = grid.transform, grid.resolution_m
    cell_site = cells["site"].astype(str).to_numpy() if cells is not None and len(cells) else None
    site_ids = sites["id"].astype(str).to_numpy()
    kinds = communes[["code", "kind"]] if "kind" in communes else communes[["code"]]
    tasks = []
    for i, r0 in enumerate(range(0, grid.height, tile_size)):
        r1 = min(r0 + tile_size, grid.height)
        for j, c0 in enumerate(range(0, grid.width, tile_size)):
            c1 = min(c0 + tile_size, grid.width)
            x0, x1 = t.c + c0 * t.a, t.c + c1 * t.a
            y1, y0 = t.f + r0 * t.e, t.f + r1 * t.e
            d = np.hypot(np.maximum.reduce([x0 - xs, np.zeros_like(xs), xs - x1]),
                         np.maximum.reduce([y0 - ys, np.zeros_like(ys), ys - y1]))
            pos = np.flatnonzero(d <= radii + res)
            if pos.size == 0:
                continue
            halo = int(math.ceil(radii[pos].max() / res)) + 2
            sub = sites.iloc[pos]
            com = kinds[kinds["code"].isin(sub["commune"])] if "commune" in sub else kinds.iloc[:0]
            vin = np.flatnonzero((v_rows >= r0) & (v_rows < r1) & (v_cols >= c0) & (v_cols < c1))
            sub_cells = None if cell_site is None or cells is None else cells[np.isin(cell_site, site_ids[pos])]
            tx_pos = None if tx is None else np.flatnonzero(np.isin(tx.site_row, pos))
            rr = radii[pos]  # cost: every sweep covers its disc (the window holds it, but at the grid's edges)
            tasks.append(TileTask(i, j, (r0, r1), (c0, c1), (max(0, r0 - halo), min(grid.height, r1 + halo)),
                                  (max(0, c0 - halo), min(grid.width, c1 + halo)), pos, sub,
                                  gpd.GeoDataFrame(com.copy()), vin, np.column_stack([v_rows[vin], v_cols[vin]]),
                                  sub_cells, tx_pos, float(np.sum(rr * rr)) / (res * res)))
    return tasks


def write_vrt(path: Path, grid: GridSpec, tiles: list[dict], *, kind: str, dtype: str, nodata: float) -> Path:
    """Write a GDAL VRT mosaic of the tile GeoTIFFs (paths relative to the VRT) on the global grid."""
    t = grid.transform
    sources = "".join(
        f'    <SimpleSource><SourceFilename relativeToVRT="1">{escape(tile["files"][kind])}</SourceFilename>'
        f'<SourceBand>1</SourceBand><SrcRect xOff="0" yOff="0" xSize="{tile["cols"][1] - tile["cols"][0]}" '
        f'ySize="{tile["rows"][1] - tile["rows"][0]}"/><DstRect xOff="{tile["cols"][0]}" yOff="{tile["rows"][0]}" '
        f'xSize="{tile["cols"][1] - tile["cols"][0]}" ySize="{tile["rows"][1] - tile["rows"][0]}"/>'
        "</SimpleSource>\n" for tile in sorted(tiles, key=lambda x: (x["row"], x["col"])))
    path.write_text(
        f'<VRTDataset rasterXSize="{grid.width}" rasterYSize="{grid.height}">\n'
        f'  <SRS dataAxisToSRSAxisMapping="1,2">{escape(grid.crs_wkt)}</SRS>\n'
        f"  <GeoTransform>{t.c!r}, {t.a!r}, {t.b!r}, {t.f!r}, {t.d!r}, {t.e!r}</GeoTransform>\n"
        f'  <VRTRasterBand dataType="{dtype}" band="1">\n    <NoDataValue>{nodata:g}</NoDataValue>\n'
        f"{sources}  </VRTRasterBand>\n</VRTDataset>\n", encoding="utf-8")
    return path


def _village_table(villages: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, value: np.ndarray, serving: np.ndarray,
                   threshold: float, tx: Transmitters) -> pd.DataFrame:
    """Build the village table of a single-process run, plus `province`, from the sampled values."""
    table = village_table(villages, sites, value, serving, threshold, site_ids=tx.site_ids, cell_ids=tx.cell_ids)
    if "province" in villages:
        table["province"] = villages["province"].astype(str).to_numpy()
    return table


def _commune_table(table: pd.DataFrame, communes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per-commune reduction of the village table (the columns of a single-process run, plus `province`)."""
    per = commune_table(table, communes)
    if "province" in communes:
        per["province"] = communes["province"].astype(str).to_numpy()
    return per


def _figures(table: pd.DataFrame) -> dict:
    pop = float(table["population"].sum())
    covered = float(table.loc[table["covered"], "population"].sum())
    return {"populated_area_pct": round(100.0 * covered / pop, 1) if pop else None,
            "villages_total": len(table), "villages_covered": int(table["covered"].sum()),
            "villages_covered_pct": round(100.0 * table["covered"].mean(), 1) if len(table) else None,
            "population_total": int(pop), "population_covered": int(covered)}


def run_coverage(ds: Dataset, out_dir: str | Path, *, client: Any = None, technology: str = "4G",
                 resolution_m: float | None = None, threshold_dbm: float | None = None, operator: str | None = None,
                 radius_m: float | None = None, tile_size: int = TILE_SIZE, calibration: Any = None,
                 progress: bool = False, floor_dbm: float | None = None) -> dict:
    """Compute coverage by tiles through a Dask `client` (or in this process when None) and write the outputs.

    Parameters
    ----------
    ds
        Dataset of one or many provinces (``province`` column) with a DEM file.
    out_dir
        Output folder (replaced atomically); with a cluster of several machines it must be on a shared filesystem.
    client
        A ``distributed.Client`` (see :func:`ictgis.national.dask_client`); None runs the tiles one by one here.
    technology, resolution_m, threshold_dbm, operator, radius_m, calibration, floor_dbm
        As for :func:`ictgis.coverage.compute`.
    tile_size
        Tile side in cells.
    progress
        Show Dask's progress bar.

    Returns
    -------
    dict
        The summary written to ``summary_<tech>.json``.
    """
    if ds.dem_path is None:
        raise LayerError("coverage needs a DEM (dem.tif in the data folder)", [Problem("dem.tif", "not found")])
    if tile_size < 16:
        raise ValueError(f"tile_size must be at least 16 cells, not {tile_size}")
    technology = technology.upper()
    threshold = settings.rsrp_threshold_dbm if threshold_dbm is None else float(threshold_dbm)
    floor = floor_of(threshold, floor_dbm)
    grid = grid_of(ds.dem_path, resolution_m)
    sites = sites_of(ds, technology, operator=operator)
    mapping = read_mapping(Path(ds.data_dir), Collector()) if ds.data_dir is not None else {}
    cells, cells_label = dataset_cells(ds, mapping)
    landcover_path, landcover_classes = dataset_landcover(ds, mapping)
    if cells is not None and len(cells) == 0:
        cells = None
    tx = _transmitters(ds, sites, technology, cells, cells_label)
    tx_radii = site_radii(ds, tx.frame, technology, threshold_dbm=threshold, radius_m=radius_m,
                          calibration=calibration, floor_dbm=floor)
    radii = np.zeros(len(sites))
    np.maximum.at(radii, tx.site_row, tx_radii)
    xs, ys = sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()
    villages = ds.get("villages")
    t = grid.transform
    if villages is not None:
        v_cols = np.floor((villages.geometry.x.to_numpy() - t.c) / t.a).astype(np.int64)
        v_rows = np.floor((villages.geometry.y.to_numpy() - t.f) / t.e).astype(np.int64)
    else:
        v_rows = v_cols = np.empty(0, dtype=np.int64)
    tasks = _tiles(grid, tile_size, xs, ys, radii, sites, ds["communes"], v_rows, v_cols, tx,
                   None if cells is None else cells.reset_index(drop=True))
    order = sorted(range(len(tasks)), key=lambda k: -tasks[k].weight)  # heaviest first (stable on ties)
    tag = technology.lower()
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    with atomic_dir(out_dir) as tmp:
        (tmp / "tiles").mkdir()
        kwargs = {"dem_path": str(ds.dem_path), "grid": grid, "out_dir": str(tmp), "technology": technology,
                  "threshold_dbm": threshold, "operator": operator, "radius_m": radius_m, "crs": ds.crs,
                  "calibration": calibration, "data_dir": None if ds.data_dir is None else str(ds.data_dir),
                  "landcover_path": None if landcover_path is None else str(landcover_path),
                  "landcover_classes": landcover_classes, "floor_dbm": floor}
        logger.info("%s coverage in %d tiles of %d cells (%d × %d grid of %g m), %d sites, %d transmitters%s",
                    technology, len(tasks), tile_size, grid.height, grid.width, grid.resolution_m, len(sites),
                    len(tx.cell_ids), "" if landcover_path is None else f", land cover {landcover_path.name}")
        if client is None:
            results = [run_tile(tasks[k], **kwargs) for k in order]
        else:
            from distributed import as_completed
            from distributed import progress as dask_progress

            # one future per tile, heaviest first: the scheduler runs higher priorities first
            futures = [client.submit(run_tile, tasks[k], pure=False, priority=len(order) - rank, **kwargs)
                       for rank, k in enumerate(order)]
            if progress:
                dask_progress(futures)
            results = [f.result() for f in as_completed(futures)]
        wall = time.perf_counter() - t0
        value = np.full(len(v_rows), np.nan)
        serving = np.full(len(v_rows), -1, dtype=np.int64)
        for res in results:
            value[res["village_index"]] = res["rsrp"]
            serving[res["village_index"]] = res["server"]
        write_vrt(tmp / f"rsrp_{tag}.vrt", grid, results, kind="rsrp", dtype="Float32", nodata=NO_SIGNAL_DBM)
        write_vrt(tmp / f"server_{tag}.vrt", grid, results, kind="server", dtype="Int32", nodata=-1)
        write_csv(pd.DataFrame({"index": range(len(tx.site_ids)), "site_id": tx.site_ids, "cell_id": tx.cell_ids}),
                  tmp / f"servers_{tag}.csv")
        summary: dict[str, Any] = {"technology": technology, "threshold_dbm": threshold,
                   "floor_dbm": floor, "operator": operator or "all",
                   "resolution_m": grid.resolution_m, "grid": [grid.height, grid.width], "sites": len(sites),
                   "compute_s": round(wall, 2),
                   "tiles": {"size_cells": tile_size, "computed": len(results),
                             "total": math.ceil(grid.height / tile_size) * math.ceil(grid.width / tile_size),
                             "task_seconds": round(sum(r["seconds"] for r in results), 2),
                             "site_sweeps": int(sum(r["sites"] for r in results)),
                             "task_cpu_seconds": round(sum(r["cpu_seconds"] for r in results), 2),
                             "window_cells_max": max(((t.window_rows[1] - t.window_rows[0])
                                                      * (t.window_cols[1] - t.window_cols[0]) for t in tasks),
                                                     default=0),
                             "seconds": sorted((round(r["seconds"], 2) for r in results), reverse=True)}
                  | schedule_figures(results),
                   "radius_m": {"min": float(tx_radii.min()), "max": float(tx_radii.max())},
                   "transmitters": len(tx.cell_ids), "sectors": int(tx.use_pat.sum()),
                   "landcover": None if landcover_path is None else landcover_path.name}
        if villages is not None:
            table = _village_table(villages, sites, value, serving, threshold, tx)
            communes = _commune_table(table, ds["communes"])
            write_csv(table, tmp / f"villages_{tag}.csv")
            write_csv(communes, tmp / f"communes_{tag}.csv")
            summary |= _figures(table)
            if "province" in table:
                summary["provinces"] = {code: _figures(part) for code, part in table.groupby("province", sort=True)}
        if client is not None:
            from .cluster import warmup_seconds

            warm = warmup_seconds(client)
            summary["workers"] = {"count": len(warm), "warmup_s": {k: round(v, 2) for k, v in sorted(warm.items())}}
        summary["note"] = ("national run: per-province tables; sites serve across province borders (one national "
                           "best-server raster); no KMZ")
        (tmp / f"summary_{tag}.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    logger.info("%s coverage: %d tiles in %.1f s (task time %.1f s)", technology, len(results), wall,
                summary["tiles"]["task_seconds"])
    return summary
