"""Best-server coverage of one technology over the DEM (`compute`) and its village and commune tables.

The Python side of :mod:`ictgis.coverage.kernels`: the site parameters and path-loss coefficients, the order and
passes of the sweeps, the batches of kernel launches under ``ictgis.terrain.PARALLEL_LOCK``, then the tables and
the summary of a :class:`~ictgis.coverage.model.CoverageResult`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numba
import numpy as np
import pandas as pd

from .. import landcover as lc
from .. import radio, settings, tr38901
from .._errors import IctgisError, LayerError, Problem
from .._validate import Collector
from ..cells import Transmitters, check_cells, check_cells_table, find_cells, read_cells, transmitters
from ..constants import DEFAULT_K_FACTOR, SPEED_OF_LIGHT_M_PER_US
from ..io import Dataset, find_dem, read_mapping
from ..terrain import PARALLEL_LOCK, Dem, read_dem
from ..terrain.sweep_kernels import octant_azimuth
from .kernels import (
    RAY_GROUPS,
    best_server_kernel,
    block_extremes,
    block_minima,
    log_distance_table,
    merge_best,
    new_best,
    share_best,
)
from .model import (
    MAX_RADIUS_M,
    CoverageResult,
    floor_of,
    loss_coefficients,
    site_environment,
    sites_of,
    tr38901_coefficients,
    unobstructed_reach_km,
)

__all__ = [
    "Clutter", "check_dataset_inputs", "check_inputs", "clutter_of", "commune_table", "compute", "transmitters_of",
    "village_table",
]

logger = logging.getLogger(__name__)

#: Outer radii of the passes over the sites before the last (see `compute`; the result does not depend on them).
_PASSES_M = (4_000.0,)

#: Sites per kernel launch (the pruning arrays are refreshed between launches; progress is reported).
_BATCH = 64


def compute(ds: Dataset, *, technology: str = "4G", resolution_m: float | None = None,
            threshold_dbm: float | None = None, operator: str | None = None, radius_m: float | None = None,
            environment: str | None = None, calibration_db: dict | None = None, k_factor: float = DEFAULT_K_FACTOR,
            rx_height_m: float = 1.5, dem: Dem | None = None,
            progress: Callable[[float, str], None] | None = None, cells: pd.DataFrame | bool | None = None,
            landcover: np.ndarray | bool | None = None, clutter_loss_db: dict | None = None,
            canopy_m: dict | None = None, calibration=None, floor_dbm: float | None = None) -> CoverageResult:
    """Compute best-server coverage of a technology over the DEM.

    Parameters
    ----------
    ds
        Dataset with `bts_sites`, `communes`, a DEM and optionally `villages`.
    technology
        "2G", "3G", "4G" or "5G".
    resolution_m
        Cell size to compute on (the DEM is resampled, and a message says so, when it differs).
    threshold_dbm
        Coverage threshold (default ``settings.rsrp_threshold_dbm``, −110 dBm).
    operator
        Only this operator's sites (default: all operators, best server wins).
    radius_m
        Sweep radius of every site; default: where the site's signal without terrain loss falls to the floor,
        capped at 20 km.
    environment
        Hata environment for every site; default by the site's commune kind (urban/suburban/rural).
    calibration_db
        Offset added to the path loss per environment (default ``radio.CALIBRATION_DB``).
    k_factor
        Effective earth-radius factor.
    rx_height_m
        Receiver height above ground.
    dem
        A DEM already read (skips reading ``ds.dem_path``).
    progress
        Called with (fraction, message) between batches of sites.
    cells
        The cells (sectors) table (`ictgis.cells.read_cells`); None reads the data folder's ``cells`` layer when
        there is one; False sweeps every site omnidirectionally.
    landcover
        Land-cover classes on the DEM grid (uint8, `ictgis.landcover.read_landcover`); None reads the data folder's
        ``landcover.tif`` when there is one; False ignores land cover.
    clutter_loss_db
        Loss at the receiver per land-cover class (dB), over ``settings.landcover_loss_db`` and the
        ``landcover: loss_db:`` of ``layers.yaml`` (a calibration adds its per-class offsets here).
    canopy_m
        Canopy height per class (m) over ``settings.landcover_canopy_m`` and ``landcover: canopy_m:``.
    calibration
        A fitted :class:`ictgis.calibration.Calibration` (``ictgis calibrate``): its environment offsets are added
        to the sites' losses (over `calibration_db`), its land-cover offsets are added to the clutter
        loss of their class (when there is land cover); the summary records its file name and hash.
    floor_dbm
        The weakest RSRP the run computes (default: `RADIUS_MARGIN_DB` below the threshold, −115 dBm). A cell whose
        best signal is not above it has no value (NaN) and no server: the sites' radii end where their unobstructed
        signal reaches the floor, so a value below it could not be trusted to be the best server's (a farther site
        left out by its radius might serve the cell better); and the sweeps skip every cell and ray that can no longer
        rise above it. Lower it for a run that must see weaker signals (``ictgis calibrate`` uses the measurement
        floor).

    Returns
    -------
    CoverageResult
    """
    threshold = settings.rsrp_threshold_dbm if threshold_dbm is None else float(threshold_dbm)
    floor = floor_of(threshold, floor_dbm)
    report = progress or (lambda f, m: logger.info("%3.0f%% %s", 100 * f, m))
    if dem is None:
        if ds.dem_path is None:
            raise LayerError("coverage needs a DEM (dem.tif in the data folder)", [Problem("dem.tif", "not found")])
        dem = read_dem(ds.dem_path, resolution_m=resolution_m)
    sites = sites_of(ds, technology, operator=operator)
    mapping = read_mapping(Path(ds.data_dir), Collector()) if ds.data_dir is not None else {}
    tx = transmitters_of(ds, sites, technology, cells=cells, mapping=mapping)
    offsets = dict(calibration.landcover_db) if calibration is not None and calibration.landcover_db else {}
    clutter = clutter_of(ds, dem, landcover=landcover, mapping=mapping, clutter_loss_db=clutter_loss_db,
                         canopy_m=canopy_m, offsets_db=offsets)
    params = radio.site_parameters(tx.frame, technology)
    env = np.array([environment] * len(tx.frame), dtype=object) if environment else \
        site_environment(tx.frame, ds["communes"])
    calib = dict(radio.CALIBRATION_DB) | dict(calibration_db or {})
    if calibration is not None:
        if calibration.technology and calibration.technology != technology.upper():
            logger.warning("calibration %s was fitted for %s, applied to %s", calibration.name,
                           calibration.technology, technology.upper())
        calib |= calibration.environment_db
    a_coef, b_coef = loss_coefficients(params, env, rx_height_m=rx_height_m, calibration_db=calib)
    nr_coef = tr38901_coefficients(params, env, rx_height_m=rx_height_m, calibration_db=calib)
    ref = params.reference_eirp_dbm + params.rx_gain_dbi - params.body_loss_db
    fspl_c = 32.45 + 20.0 * np.log10(params.frequency_mhz)
    if radius_m is None:
        # distance where the unobstructed signal reaches the floor (the losses grow with d)
        reach = unobstructed_reach_km(a_coef, b_coef, nr_coef, fspl_c, ref - floor)
        radii = np.clip(reach * 1000.0, 1000.0, MAX_RADIUS_M)
    else:
        radii = np.full(len(tx.frame), float(radius_m))
    xs, ys = tx.frame.geometry.x.to_numpy(), tx.frame.geometry.y.to_numpy()
    rows, cols = dem.cell_of(xs, ys)
    inside = (rows >= 0) & (rows < dem.shape[0]) & (cols >= 0) & (cols < dem.shape[1])
    inside[inside] &= ~np.isnan(dem.elevation[rows[inside], cols[inside]])
    if not inside.all():
        logger.warning("%d sites lie outside the DEM or on nodata and are left out", int((~inside).sum()))
    # Strongest first (unobstructed reach), so that later sites are pruned more; and in passes: every site out to
    # _PASSES_M[0] first, where it is usually the best server, then on to the next radius, where most cells are
    # then pruned (the sweep's values do not depend on its radius, so passes only change the work).
    strength = (ref - a_coef) / b_coef
    is_nr = nr_coef[:, 0] > 0
    if is_nr.any():
        strength[is_nr] = np.log10(unobstructed_reach_km(a_coef, b_coef, nr_coef, fspl_c, ref)[is_nr])
    lams = SPEED_OF_LIGHT_M_PER_US / params.frequency_mhz  # c / f with f in MHz → metres
    att_min = group_attenuation(tx.pat_h, tx.pat_cap, tx.use_pat)
    loss_lut = lc.loss_tables(clutter.losses, env, offsets_db=offsets) if clutter.used else \
        np.zeros((len(env), 256))
    sw = _sweeps(tx, params, ref, radii, strength, inside, att_min, loss_lut, dem.resolution_m)
    g = sw.first  # each sweep's first transmitter: the values the sweep's transmitters share
    n_threads = max(1, numba.get_num_threads())
    with PARALLEL_LOCK:
        best, server = new_best(n_threads, *dem.shape, np.float32(floor))
    log_d = log_distance_table(dem.resolution_m, float(radii.max()))
    with PARALLEL_LOCK:
        block_zmax, block_loss = block_extremes(dem.elevation, clutter.classes, loss_lut.min(axis=0), clutter.used)
    t0, t = dem.transform, time.perf_counter()
    batch = max(n_threads, _BATCH)
    bounds = [np.zeros(len(sw.radii))] + [np.minimum(sw.radii, r) for r in _PASSES_M] + [sw.radii]
    passes = len(bounds) - 1
    for pas in range(passes):
        inner, outer = bounds[pas], bounds[pas + 1]
        todo = sw.order[outer[sw.order] > inner[sw.order]]
        for start in range(0, len(todo), batch):
            chunk = todo[start:start + batch]
            gc = g[chunk]
            with PARALLEL_LOCK:  # one parallel launch at a time per process (numba's workqueue is not thread-safe)
                block_min = block_minima(best, dem.elevation)
                best_server_kernel(dem.elevation, t0.c, t0.f, dem.resolution_m, xs[gc], ys[gc],
                                   params.height_m[gc], rx_height_m, outer[chunk], lams[gc], k_factor,
                                   a_coef[gc], b_coef[gc], fspl_c[gc], sw.bound_power[chunk], sw.lo[chunk],
                                   sw.hi[chunk], sw.powers, sw.cell_index, sw.cell_r2, best, server, n_threads,
                                   inner[chunk], log_d, block_min, nr_coef[gc], clutter.surface, clutter.classes,
                                   loss_lut[gc], clutter.used, sw.pat_h, sw.pat_v, sw.pat_cap, tx.use_pat[gc],
                                   sw.att_min[chunk], sw.att_cut[chunk], block_zmax, block_loss)
            done = (pas + (start + len(chunk)) / len(todo)) / passes
            report(0.95 * done, f"{technology}: pass {pas + 1}/{passes}, {start + len(chunk)}/{len(todo)} sites")
        if pas < passes - 1 and n_threads > 1:
            with PARALLEL_LOCK:
                share_best(best, server)
    with PARALLEL_LOCK:
        rsrp, srv = merge_best(best, server)
    del best, server
    elapsed = time.perf_counter() - t
    site_ids = tx.site_ids
    villages, communes = _tables(ds, dem, rsrp, srv, site_ids, sites, threshold, tx.cell_ids)
    summary = _summary(technology, threshold, dem, villages, sites, env, calib, radii, elapsed, operator, k_factor)
    summary["floor_dbm"] = floor
    if is_nr.any():
        scen = np.array([tr38901.scenario_of(e) for e in env])
        summary["model"]["path_loss"] = (
            f"3GPP TR 38.901 RMa/UMa at >= {settings.tr38901_from_mhz:g} MHz (LOS where no terrain cuts the line of "
            "sight, + J(v); NLOS = max(LOS + J(v), NLOS formula)), free-space floor"
            + ("" if is_nr.all() else "; the other sites: " + summary["model"]["path_loss"]))
        summary["model"]["tr38901_sites"] = {name: int((is_nr & (scen == name)).sum()) for name in tr38901.SCENARIOS}
    summary["calibration"] = None if calibration is None else calibration.describe()
    summary["model"]["cells"] = {"transmitters": len(tx.cell_ids), "sectors": int(tx.use_pat.sum()),
                                 "omnidirectional_sites": int((~tx.use_pat).sum())}
    summary["model"]["landcover"] = clutter.summary
    report(1.0, f"{technology}: {summary['populated_area_pct']} % of the village population covered")
    return CoverageResult(technology=technology.upper(), threshold_dbm=threshold, dem=dem, rsrp_dbm=rsrp,
                          server=srv, site_ids=site_ids, villages=villages, communes=communes, summary=summary,
                          cell_ids=list(tx.cell_ids))


@dataclass(frozen=True, eq=False)
class Clutter:
    """The land cover of a run on the DEM grid (`clutter_of`).

    Attributes
    ----------
    surface
        Ground + canopy, the profile of the diffraction (the DEM's elevation itself without land cover).
    classes
        Land-cover classes, uint8 (1 × 1 without land cover).
    losses
        Class → clutter loss at the receiver (dB), before `ictgis.landcover.loss_tables` per environment.
    used
        Whether there is land cover.
    summary
        What the coverage summary records of it (None without land cover).
    """

    surface: np.ndarray
    classes: np.ndarray
    losses: dict
    used: bool
    summary: dict | None


def transmitters_of(ds: Dataset, sites: gpd.GeoDataFrame, technology: str, *,
                    cells: pd.DataFrame | bool | None = None, mapping: dict | None = None) -> Transmitters:
    """Return the transmitters of `sites` as `compute` sweeps them (`ictgis.cells.transmitters`).

    `cells` as in `compute` (None: the data folder's cells layer, or a store dataset's; False: every site
    omnidirectional); `mapping` is the data folder's ``layers.yaml`` (`ictgis.io.read_mapping`). Sites without
    cells (new candidates among them) stay omnidirectional.
    """
    mapping = mapping or {}
    if cells is False:
        return transmitters(sites, technology, None)
    label = "cells"
    if cells is None or cells is True:
        found = find_cells(ds.data_dir, mapping)
        if found is None:  # a dataset read from a store carries its cells
            return transmitters(sites, technology, ds.cells, all_site_ids=_site_ids(ds))
        path, spec = found
        cells = read_cells(path, fields=spec.get("fields"), encoding=spec.get("encoding") or mapping.get("encoding"),
                           sheet=spec.get("layer"))
        label = path.name
    return transmitters(sites, technology, cells, data_dir=ds.data_dir, all_site_ids=_site_ids(ds), label=label)


def check_inputs(data_dir: str | Path, *, site_ids: set[str] | None, collector: Collector) -> list[str]:
    """Check the coverage inputs of a data folder beyond its layers: the cells layer and the land cover.

    The checks `compute` makes when it reads them (`ictgis.cells.check_cells`: values and ranges, unknown sites,
    antenna pattern files; `ictgis.landcover.check_landcover`: settings, CRS and extent on the DEM, class codes),
    for ``ictgis validate``; every problem goes to `collector`.

    Parameters
    ----------
    data_dir
        The data folder.
    site_ids
        Ids of its BTS sites (None: the sites of the cells are not checked, e.g. when bts_sites has problems).
    collector
        Where the problems go.

    Returns
    -------
    list of str
        Warnings (a land cover that covers only part of the DEM).
    """
    data_dir = Path(data_dir)
    mapping = read_mapping(data_dir, Collector())  # its own problems are the layers' (`ictgis.io.load`)
    check_cells(data_dir, mapping=mapping, site_ids=site_ids, collector=collector)
    dem = None
    dem_path = find_dem(data_dir, mapping)
    if dem_path is not None and dem_path.exists():
        try:
            dem = read_dem(dem_path)
        except IctgisError:  # the DEM's own problems are ictgis.terrain.dem.check_dem's
            dem = None
    return lc.check_landcover(data_dir, dem, mapping=mapping, collector=collector)


def check_dataset_inputs(ds: Dataset, *, collector: Collector, label: str | None = None) -> list[str]:
    """Check a loaded dataset's cells and land cover as `compute` reads them; every problem goes to `collector`.

    A dataset read from a folder is checked with `check_inputs` (its files); one read from the store (no folder)
    with the cells and land cover it carries: every cell's site must be a BTS site of the dataset (a site removed
    while its cells stay would stop the coverage), and the land cover must read onto the DEM.

    Parameters
    ----------
    ds
        The dataset (`ictgis.io.load` or `ictgis.store.Store.dataset`).
    collector
        Where the problems go (file, row, column).
    label
        File name of the cells in messages for a store's dataset (default ``cells``).

    Returns
    -------
    list of str
        Warnings (a land cover that covers only part of the DEM).
    """
    sites = _site_ids(ds) or set()
    if ds.data_dir is not None and Path(ds.data_dir).is_dir():
        return check_inputs(ds.data_dir, site_ids=sites, collector=collector)
    if ds.cells is not None and len(ds.cells):
        check_cells_table(ds.cells, data_dir=None, site_ids=sites, collector=collector, label=label or "cells")
    if ds.landcover_path is None or ds.dem_path is None:
        return []
    try:
        dem = read_dem(ds.dem_path)
    except IctgisError:  # the DEM's own problems are ictgis.terrain.dem.check_dem's
        return []
    try:
        lc.read_landcover(ds.landcover_path, dem)
    except LayerError as exc:
        collector.problems.extend(exc.problems)
    return []


def _site_ids(ds) -> set[str] | None:
    bts = ds.get("bts_sites")
    return set(bts["id"].astype(str)) if bts is not None else None


def clutter_of(ds: Dataset, dem: Dem, *, landcover: np.ndarray | bool | None = None, mapping: dict | None = None,
               clutter_loss_db: dict | None = None, canopy_m: dict | None = None,
               offsets_db: dict | None = None) -> Clutter:
    """Return the land cover of a run on the DEM grid: the parameters `landcover` … `canopy_m` of `compute`.

    `mapping` is the data folder's ``layers.yaml``; `offsets_db` a calibration's land-cover offsets (only warned
    about when there is no land cover: `ictgis.landcover.loss_tables` adds them).
    """
    mapping = mapping or {}
    offsets = offsets_db or {}
    none = Clutter(dem.elevation, np.zeros((1, 1), np.uint8), {}, False, None)
    if landcover is False:
        return none
    spec = lc.landcover_spec(mapping, file=mapping.get("_path", "layers.yaml")) if mapping else {}
    source = "array"
    if landcover is None or landcover is True:
        path = lc.find_landcover(ds.data_dir, spec) or ds.landcover_path  # a store's dataset carries its own
        if path is None:
            if offsets:
                logger.warning("the calibration has land-cover offsets but the data folder has no land cover: "
                               "not applied")
            return none
        landcover = lc.read_landcover(path, dem, classes=spec.get("classes"), extra_classes=lc.table_classes(spec))
        source = path.name
    classes = np.asarray(landcover, dtype=np.uint8)
    if classes.shape != dem.shape:
        raise LayerError("the land cover is not on the DEM grid",
                         [Problem("landcover", f"shape {classes.shape}, the DEM's is {dem.shape}")])
    losses = lc.class_table(settings.landcover_loss_db, spec.get("loss_db"), clutter_loss_db)
    heights = lc.class_table(settings.landcover_canopy_m, spec.get("canopy_m"), canopy_m)
    surface = lc.canopy_grid(classes, heights)  # float32; the ground is added in place (no grid-sized temporaries)
    if np.result_type(surface, dem.elevation) == surface.dtype == dem.elevation.dtype:
        surface += dem.elevation
    else:
        surface = (dem.elevation + surface).astype(dem.elevation.dtype)
    counts = np.zeros(256, np.int64)
    for r0 in range(0, classes.shape[0], 256):  # by strips: bincount casts to int64, 8 bytes a cell
        counts += np.bincount(classes[r0:r0 + 256].ravel(), minlength=256)
    present = {int(k): int(counts[k]) for k in np.flatnonzero(counts) if k > 0}  # class 0: no data
    summary = {"source": source, "loss_db": {str(k): v for k, v in sorted(losses.items())},
               "canopy_m": {str(k): v for k, v in sorted(heights.items()) if v},
               "cells_per_class": {str(k): v for k, v in present.items()}}
    summary["built_up_in_hata"] = sorted(settings.landcover_in_hata)
    if offsets:
        summary["calibration_offsets_db"] = {str(k): float(v) for k, v in sorted(offsets.items())}
    return Clutter(surface, classes, losses, True, summary)


@dataclass(frozen=True, eq=False)
class _Sweeps:
    """The sweeps of a run: one per site, antenna height and band, serving that site's transmitters together."""

    first: np.ndarray  # per sweep: its first transmitter (position, height, band, loss and clutter are theirs)
    order: np.ndarray  # sweeps inside the DEM, strongest first
    radii: np.ndarray  # per sweep: the largest radius of its transmitters (m)
    bound_power: np.ndarray  # per sweep: upper bound of its transmitters' RSRP at zero loss (dBm)
    att_min: np.ndarray  # per sweep: 8 × RAY_GROUPS smallest attenuation below bound_power by direction group (dB)
    att_cut: np.ndarray  # … the same, less any gain of the vertical patterns (for `_ray_reach`)
    lo: np.ndarray  # per sweep: its transmitters are powers[lo:hi] …
    hi: np.ndarray
    powers: np.ndarray  # per transmitter, grouped by sweep: reference power (dBm)
    cell_index: np.ndarray  # … its number in the server raster (int32)
    cell_r2: np.ndarray  # … its own radius in DEM cells, squared
    pat_h: np.ndarray  # … its antenna tables
    pat_v: np.ndarray
    pat_cap: np.ndarray


def _sweeps(tx: Transmitters, params, ref, radii, strength, inside, att_min, loss_lut, cell_m: float) -> _Sweeps:
    """Group the transmitters that one sweep can serve: same site, antenna height, band and pattern use.

    The terrain profile, path loss, diffraction and clutter loss of a receiver are the same for all of them; only
    the power and the antenna's attenuation differ, so `best_server_kernel` evaluates them together on each cell.
    """
    key = pd.DataFrame({"site": tx.site_row, "h": params.height_m, "f": params.frequency_mhz, "pat": tx.use_pat})
    group = key.groupby(["site", "h", "f", "pat"], sort=False).ngroup().to_numpy()
    perm = np.argsort(group, kind="stable")  # transmitters by sweep, in transmitter order within one
    counts = np.bincount(group)
    hi = np.cumsum(counts)
    lo = hi - counts
    first = perm[lo]
    n = len(counts)
    sweep_radii = np.zeros(n)
    np.maximum.at(sweep_radii, group, radii)
    top_ref = np.full(n, -np.inf)
    np.maximum.at(top_ref, group, ref)
    top_strength = np.full(n, -np.inf)
    np.maximum.at(top_strength, group, strength)
    # a calibration's clutter offsets may be negative: the bound allows for the largest gain
    bound_power = top_ref - np.minimum(0.0, loss_lut[first].min(axis=1))
    att = np.full((n, *att_min.shape[1:]), np.inf)
    np.minimum.at(att, group, att_min + (top_ref[group] - ref)[:, None, None])
    gain_v = np.full(n, np.inf)  # a pattern file's vertical table may be below 0 dB somewhere
    np.minimum.at(gain_v, group, np.where(tx.use_pat, tx.pat_v.min(axis=1), 0.0))
    att_cut = att + np.minimum(gain_v, 0.0)[:, None, None]
    ok = np.flatnonzero(inside[first])
    order = ok[np.argsort(-top_strength[ok], kind="stable")]
    return _Sweeps(first=first, order=order, radii=sweep_radii, bound_power=bound_power, att_min=att, att_cut=att_cut,
                   lo=lo, hi=hi,
                   powers=np.ascontiguousarray(ref[perm], dtype=float), cell_index=perm.astype(np.int32),
                   cell_r2=(radii[perm] / cell_m) ** 2, pat_h=np.ascontiguousarray(tx.pat_h[perm]),
                   pat_v=np.ascontiguousarray(tx.pat_v[perm]), pat_cap=np.ascontiguousarray(tx.pat_cap[perm]))


def group_attenuation(pat_h: np.ndarray, pat_cap: np.ndarray, use_pat: np.ndarray) -> np.ndarray:
    """Smallest horizontal attenuation (dB) of each transmitter over each octant's groups of ray directions.

    Returns an n × 8 × `RAY_GROUPS` array for `useful_radii` (zeros for omnidirectional transmitters): the minimum of
    the 360-degree table over the whole degrees from 1° before to 1° after the directions of the group and of its
    two neighbours in the octant.
    """
    n = len(pat_h)
    out = np.zeros((n, 8, RAY_GROUPS))
    if not np.any(use_pat):
        return out
    edges = np.degrees(np.arctan(np.arange(RAY_GROUPS + 1) / RAY_GROUPS))
    idx = np.empty((8, RAY_GROUPS, 9), np.int64)
    for o in range(8):
        base, sign = octant_azimuth(o)
        for g in range(RAY_GROUPS):
            lo, hi = max(g - 1, 0), min(g + 2, RAY_GROUPS)
            a0, a1 = sorted((base + sign * edges[lo], base + sign * edges[hi]))
            degs = np.minimum(np.arange(np.floor(a0) - 1, np.floor(a0) + 8), np.ceil(a1) + 1)
            idx[o, g] = degs.astype(np.int64) % 360
    att = np.minimum(pat_h[:, idx].min(axis=-1), pat_cap[:, None, None])
    out[use_pat] = att[use_pat]
    return out


def _tables(ds, dem, rsrp, srv, site_ids, sites, threshold, cell_ids=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    villages = ds.get("villages")
    communes = ds["communes"]
    if villages is None:
        return pd.DataFrame(), pd.DataFrame()
    rows, cols = dem.cell_of(villages.geometry.x.to_numpy(), villages.geometry.y.to_numpy())
    ok = (rows >= 0) & (rows < dem.shape[0]) & (cols >= 0) & (cols < dem.shape[1])
    value = np.full(len(villages), np.nan)
    serving = np.full(len(villages), -1)
    value[ok] = rsrp[rows[ok], cols[ok]]
    serving[ok] = srv[rows[ok], cols[ok]]
    table = village_table(villages, sites, value, serving, threshold, site_ids=list(site_ids), cell_ids=cell_ids)
    return table, commune_table(table, communes)


def village_table(villages: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, value: np.ndarray, serving: np.ndarray,
                  threshold: float, *, site_ids: list[str], cell_ids: list[str] | None = None) -> pd.DataFrame:
    """Return the village table of a coverage run from the RSRP and serving index sampled at each village.

    Parameters
    ----------
    villages, sites
        The village layer and the sites of the technology (for the nearest site).
    value, serving
        RSRP (dBm, NaN where none) and serving transmitter index (-1 where none), one per village.
    threshold
        Coverage threshold (dBm).
    site_ids, cell_ids
        Site and cell of each transmitter index (cells default to the sites: omnidirectional).
    """
    near = gpd.sjoin_nearest(villages[[villages.geometry.name]], sites[["id", sites.geometry.name]], how="left",
                             distance_col="_d")
    near = near[~near.index.duplicated(keep="first")].reindex(villages.index)
    table = pd.DataFrame({
        "id": villages["id"].to_numpy(), "name": villages["name"].to_numpy(),
        "commune": villages["commune"].to_numpy(),
        "population": villages["population"].astype("Float64").fillna(0).to_numpy(dtype=float),
        "rsrp_dbm": np.round(value, 1),
        "serving_site": [site_ids[s] if s >= 0 else None for s in serving],
        "serving_cell": [(cell_ids or site_ids)[s] if s >= 0 else None for s in serving],
        "covered": np.nan_to_num(value, nan=-np.inf) >= threshold,
        "nearest_site": near["id"].to_numpy(), "nearest_site_km": np.round(near["_d"].to_numpy() / 1000.0, 2)})
    return table


def commune_table(table: pd.DataFrame, communes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the per-commune reduction of a village table (villages and population covered, percentages)."""
    grouped = table.groupby("commune")
    per = pd.DataFrame({"villages": grouped.size(), "villages_covered": grouped["covered"].sum(),
                        "population": grouped["population"].sum(),
                        "population_covered": grouped.apply(lambda g: g.loc[g["covered"], "population"].sum(),
                                                            include_groups=False)})
    per = per.reindex(communes["code"].to_numpy()).fillna(0)
    per.insert(0, "name", communes["name"].to_numpy())
    if "district" in communes:
        per.insert(1, "district", communes["district"].to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        per["populated_area_pct"] = np.round(100.0 * per["population_covered"] / per["population"], 1)
        per["villages_pct"] = np.round(100.0 * per["villages_covered"] / per["villages"], 1)
    per.index.name = "code"
    for column in ("villages", "villages_covered", "population", "population_covered"):
        per[column] = per[column].astype(int)
    return per.reset_index()


def _summary(technology, threshold, dem, villages, sites, env, calib, radii, elapsed, operator, k_factor) -> dict:
    out = {"technology": technology.upper(), "threshold_dbm": threshold, "operator": operator or "all",
           "resolution_m": dem.resolution_m, "grid": list(dem.shape), "sites": len(sites),
           "compute_s": round(elapsed, 2),
           "model": {"path_loss": "Okumura-Hata / COST-231 Hata + knife-edge J(v) of the dominant obstacle "
                                  "(ITU-R P.526), free-space floor",
                     "environments": {k: int((env == k).sum()) for k in sorted(set(env))},
                     "calibration_db": calib, "k_factor": round(k_factor, 4),
                     "radius_m": {"min": float(radii.min()), "max": float(radii.max())}}}
    if villages is None or len(villages) == 0:
        return out | {"populated_area_pct": None, "villages_total": None, "villages_covered": None,
                      "population_covered": None}
    pop = villages["population"].sum()
    covered = villages.loc[villages["covered"], "population"].sum()
    lom = villages[~villages["covered"]].sort_values("population", ascending=False)
    return out | {
        "populated_area_pct": round(100.0 * covered / pop, 1) if pop else None,
        "villages_total": len(villages), "villages_covered": int(villages["covered"].sum()),
        "villages_covered_pct": round(100.0 * villages["covered"].mean(), 1),
        "population_total": int(pop), "population_covered": int(covered),
        "uncovered_villages": [{"id": r.id, "name": r.name, "commune": r.commune, "population": int(r.population),
                                "best_rsrp_dbm": None if pd.isna(r.rsrp_dbm) else float(r.rsrp_dbm),  # None: not
                                # above the floor (the summary's floor_dbm)
                                "nearest_site": r.nearest_site, "nearest_site_km": float(r.nearest_site_km)}
                               for r in lom.itertuples(index=False)],
    }
