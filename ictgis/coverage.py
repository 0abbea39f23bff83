"""Terrain-aware mobile coverage: best-server RSRP, serving site, populated-area coverage.

For every site of a technology, every cell within its radius gets a path loss = Hata (Okumura–Hata below 1500 MHz,
COST-231 above; environment by the site's commune: urban in phường, suburban in thị trấn, rural in xã; never below
free space) + knife-edge diffraction J(v) of the dominant obstacle along the ray from the site (ITU-R P.526; the
sweep is `ictgis.terrain.radial_best_server_serial`, with earth curvature for k = 4/3) + a calibration offset per
environment. The received reference-signal power is the site's reference EIRP (transmit power + antenna gain −
cable loss + the reference-signal share, `ictgis.radio`) minus that loss; the best server of a cell is the site with
the strongest signal.

"Populated-area coverage" is the share of village population whose village location receives at least the
threshold (default −110 dBm) from the best site of the technology, any operator (as ITU SDG 9.c.1 counts); the
share of villages is given beside it. The uncovered villages (lõm sóng) are listed with their best signal and their
nearest site.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
from numba import njit, prange
from numba.core import cgutils, types
from numba.extending import intrinsic

from . import radio, settings
from ._errors import LayerError, Problem
from ._files import atomic_dir
from .constants import DEFAULT_K_FACTOR, EARTH_RADIUS_M, KNIFE_EDGE_V_MIN, MIN_DISTANCE_KM, SPEED_OF_LIGHT_M_PER_US
from .io import Dataset
from .layers import parse_tech
from .sheets import write_csv
from .terrain import PARALLEL_LOCK, Dem, read_dem, write_raster
from .terrain.sweep_kernels import BLOCK_SHIFT, OCTANTS, beats, knife_edge_db, radial_best_server_serial

logger = logging.getLogger(__name__)

NO_SIGNAL_DBM = -9999.0
ENV_BY_KIND = settings.environment_of_commune_kind
#: Sites are swept out to where their signal, without any terrain loss, falls this far below the threshold
#: (so weak-signal areas are mapped too), capped at `MAX_RADIUS_M`.
RADIUS_MARGIN_DB = 5.0
MAX_RADIUS_M = 20_000.0


#: Outer radii of the passes over the sites before the last (see `compute`; the result does not depend on them).
_PASSES_M = (4_000.0,)

#: Sites per kernel launch (the pruning arrays are refreshed between launches; progress is reported).
_BATCH = 64


#: Groups of ray directions per octant for `_useful_radii`'s per-group cut of the sweep.
_RAY_GROUPS = 64


@njit(cache=True)
def _log_distance_table(cell, radius_max):
    """log10 of the distance in km (at least 0.02) of a cell i, m cells off the site, indexed by i² + m²."""
    n = int((radius_max / cell) ** 2) + 1
    out = np.empty(n)
    for k in range(n):
        out[k] = math.log10(max(cell * math.sqrt(k) / 1000.0, MIN_DISTANCE_KM))
    return out


@njit(cache=True)
def _useful_radii(block_min, orow, ocol, cell, radius, a, b, fc, power, log_d, ray_lim):
    """Return, per octant of the sweep, the squared radius (cells²) a site needs to reach (-1: none).

    Beyond it, the site cannot beat any block's (stale) minimum even without terrain loss. The sweep's values do
    not depend on its radius, so sweeping each octant only this far gives the same best arrays. `ray_lim` (8 × G,
    int64) gets, per octant and group g of ray directions (minor / major offset in [g / G, (g + 1) / G]), the last
    column (major offset) its rays must reach: that of the farthest block the site could beat whose cells may take
    their values from a ray of the group (a cell's ray is within one ray spacing, 1 / major offset, of it).
    """
    ng = ray_lim.shape[1]
    ray_lim[:] = 0
    size = 1 << BLOCK_SHIFT
    r2max = (radius / cell) ** 2
    half = int(math.ceil(radius / cell))
    need = np.full(8, -1.0)
    for br in range(max(orow - half, 0) >> BLOCK_SHIFT, min((orow + half) >> BLOCK_SHIFT, block_min.shape[0] - 1) + 1):
        r0, r1 = br * size - orow, br * size + size - 1 - orow
        dr = r0 if r0 > 0 else (-r1 if r1 < 0 else 0)
        fr = max(abs(r0), abs(r1))
        for bc in range(max(ocol - half, 0) >> BLOCK_SHIFT,
                        min((ocol + half) >> BLOCK_SHIFT, block_min.shape[1] - 1) + 1):
            c0, c1 = bc * size - ocol, bc * size + size - 1 - ocol
            dc = c0 if c0 > 0 else (-c1 if c1 < 0 else 0)
            k = dr * dr + dc * dc
            if k > r2max:
                continue
            ld = log_d[k]
            clear = power - max(a + b * ld, fc + 20.0 * ld)
            if np.float32(clear) < block_min[br, bc]:
                continue  # cannot beat nor tie any cell of the block
            fcol = max(abs(c0), abs(c1))
            far = min(float(fr * fr + fcol * fcol) + 1.0, r2max)
            for o in range(8):
                mr, mc, nr, nc = OCTANTS[o, 0], OCTANTS[o, 1], OCTANTS[o, 2], OCTANTS[o, 3]
                # the block in the octant's (major i, minor m) offsets; it overlaps where i >= 0, 0 <= m <= i
                i_hi = max(r0 * mr + c0 * mc, r1 * mr + c1 * mc)
                m_lo = min(r0 * nr + c0 * nc, r1 * nr + c1 * nc)
                m_hi = max(r0 * nr + c0 * nc, r1 * nr + c1 * nc)
                if i_hi >= 0 and m_hi >= 0 and m_lo <= i_hi:
                    if far > need[o]:
                        need[o] = far
                    i_lo = max(min(r0 * mr + c0 * mc, r1 * mr + c1 * mc), 1)
                    m_lo = max(m_lo, 0)
                    m_hi = min(m_hi, i_hi)
                    t_lo = (m_lo - 1) / i_hi if m_lo >= 1 else 0.0
                    t_hi = (m_hi + 1) / i_lo
                    g0 = int(t_lo * ng)
                    g1 = min(int(t_hi * ng), ng - 1)
                    for g in range(g0, g1 + 1):
                        if ray_lim[o, g] < i_hi:
                            ray_lim[o, g] = i_hi
    return need


@intrinsic
def _take(typingctx, counter):
    """Atomically increment ``counter[0]`` (int64 array) and return its value before (a shared work queue)."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, signature.args[0], array,
                                           [context.get_constant(types.intp, 0)])
        return builder.atomic_rmw("add", pointer, context.get_constant(types.int64, 1), "seq_cst")

    return types.int64(counter), codegen


@njit(cache=True, parallel=True, nogil=True)
def _block_minima(best, elevation):
    """Minimum of each thread's best array over blocks of 2^`BLOCK_SHIFT` cells square (nodata left out).

    A block of nodata only is +inf.
    """
    n_threads, nrows, ncols = best.shape
    size = 1 << BLOCK_SHIFT
    nbr, nbc = (nrows >> BLOCK_SHIFT) + 1, (ncols >> BLOCK_SHIFT) + 1
    out = np.full((n_threads, nbr, nbc), np.inf, np.float32)
    for br in prange(nbr):
        for t in range(n_threads):
            for r in range(br * size, min(br * size + size, nrows)):
                for c in range(ncols):
                    bc = c >> BLOCK_SHIFT
                    if best[t, r, c] < out[t, br, bc] and not np.isnan(elevation[r, c]):
                        out[t, br, bc] = best[t, r, c]
    return out


@njit(cache=True, parallel=True, nogil=True)  # nogil: a web server stays responsive during runs
def _best_server_kernel(elev, x_min, y_max, cell, xs, ys, heights, rx_h, radii, lams, k_factor, a_coef, b_coef,
                        fspl_c, ref_eirp, site_index, best, server, n_threads, inner, log_d, block_min):
    """Sweep every site fused with the best-server update (`radial_best_server_serial`), one best array per thread.

    Sites are handed to the threads one at a time as they free up (per-site work varies a lot), in the order given
    (strongest first prunes most: a cell whose unobstructed signal from a site cannot beat its current best skips
    the obstacle search); each thread updates its own `best[t]` / `server[t]`. Which thread sweeps which site does
    not change the result: ties go to the lower site index (`sweep_kernels.beats`). Cells within `inner[s]` of site s
    are left alone (filled by an earlier pass, see `compute`). `log_d` is `_log_distance_table` out to the largest
    radius; `block_min` is `_block_minima` of `best` (may be stale).
    """
    n = xs.shape[0]
    ray_lim = np.zeros((n_threads, 8, _RAY_GROUPS), np.int64)
    queue = np.zeros(1, np.int64)  # next site to sweep, taken atomically by whichever thread is free
    for t in prange(n_threads):
        while True:
            s = _take(queue)
            if s >= n:
                break
            orow, ocol = int(math.floor((y_max - ys[s]) / cell)), int(math.floor((xs[s] - x_min) / cell))
            reach2 = _useful_radii(block_min[t], orow, ocol, cell, radii[s], a_coef[s], b_coef[s], fspl_c[s],
                                   ref_eirp[s], log_d, ray_lim[t])
            reach = cell * math.sqrt(max(reach2.max(), 0.0))
            if reach <= inner[s]:
                continue
            radial_best_server_serial(elev, x_min, y_max, cell, xs[s], ys[s], heights[s], rx_h, reach, lams[s],
                                      k_factor, a_coef[s], b_coef[s], fspl_c[s], ref_eirp[s], site_index[s],
                                      log_d, best[t], server[t], block_min[t], inner[s], reach2, ray_lim[t])


@njit(cache=True, parallel=True, nogil=True)
def _new_best(n_threads, nrows, ncols):
    """Per-thread best arrays: RSRP -inf, server -1 (first touched by all threads: fresh pages fault in parallel)."""
    best = np.empty((n_threads, nrows, ncols), np.float32)
    server = np.empty((n_threads, nrows, ncols), np.int32)
    for r in prange(nrows):
        for t in range(n_threads):
            for c in range(ncols):
                best[t, r, c] = -np.inf
                server[t, r, c] = -1
    return best, server


@njit(cache=True, inline="always")
def _top(best, server, r, c):
    """Return the thread whose best array holds the best of cell (r, c) (`beats` order)."""
    top = 0
    for t in range(1, best.shape[0]):
        if beats(best[t, r, c], server[t, r, c], best[top, r, c], server[top, r, c]):
            top = t
    return top


@njit(cache=True, parallel=True, nogil=True)  # nogil: a web server stays responsive during runs
def _share_best(best, server):
    """Give every thread's best array the best over all threads (so that each prunes with all sites seen)."""
    n_threads, nrows, ncols = best.shape
    for r in prange(nrows):
        for c in range(ncols):
            top = _top(best, server, r, c)
            for t in range(n_threads):
                best[t, r, c] = best[top, r, c]
                server[t, r, c] = server[top, r, c]


@njit(cache=True, parallel=True, nogil=True)  # nogil: a web server stays responsive during runs
def _merge_best(best, server):
    """Best RSRP over the threads' arrays (NaN where no site reaches) and its server (-1 where none)."""
    nrows, ncols = best.shape[1:]
    rsrp = np.empty((nrows, ncols), np.float32)
    srv = np.empty((nrows, ncols), np.int32)
    for r in prange(nrows):
        for c in range(ncols):
            top = _top(best, server, r, c)
            value = best[top, r, c]
            if np.isfinite(value):
                rsrp[r, c] = value
                srv[r, c] = server[top, r, c]
            else:
                rsrp[r, c] = np.nan
                srv[r, c] = -1
    return rsrp, srv


@dataclass
class CoverageResult:
    """Best-server coverage of one technology and what it means for villages and communes."""

    technology: str
    threshold_dbm: float
    dem: Dem
    rsrp_dbm: np.ndarray  # float32, NaN where no site reaches
    server: np.ndarray  # int32 index into site_ids, -1 where none
    site_ids: list[str]
    villages: pd.DataFrame
    communes: pd.DataFrame
    summary: dict = field(default_factory=dict)


def _site_environment(sites: gpd.GeoDataFrame, communes: gpd.GeoDataFrame) -> np.ndarray:
    kinds = communes.set_index("code")["kind"] if "kind" in communes else pd.Series(dtype=object)
    codes = sites["commune"] if "commune" in sites else pd.Series([None] * len(sites), index=sites.index)
    return np.array([ENV_BY_KIND.get(kinds.get(c), "rural") for c in codes], dtype=object)


def sites_of(ds: Dataset, technology: str, *, operator: str | None = None) -> gpd.GeoDataFrame:
    """Return the BTS sites carrying a technology (and operator), raising LayerError when there are none."""
    bts = ds.get("bts_sites")
    if bts is None:
        raise LayerError("coverage needs the bts_sites layer", [Problem("bts_sites", "layer not found")])
    tech = technology.upper()
    mask = np.array([tech in parse_tech(t) for t in bts["tech"]], dtype=bool)
    if operator:
        mask &= (bts["operator"].astype(str).str.casefold() == operator.casefold()).to_numpy()
    sites = bts[mask]
    if sites.empty:
        raise LayerError(f"no {tech} sites" + (f" of {operator}" if operator else ""),
                         [Problem("bts_sites", f"no site lists {tech} in its tech column")])
    return sites


def compute(ds: Dataset, *, technology: str = "4G", resolution_m: float | None = None,
            threshold_dbm: float | None = None, operator: str | None = None, radius_m: float | None = None,
            environment: str | None = None, calibration_db: dict | None = None, k_factor: float = DEFAULT_K_FACTOR,
            rx_height_m: float = 1.5, dem: Dem | None = None,
            progress: Callable[[float, str], None] | None = None) -> CoverageResult:
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
        Sweep radius of every site; default: where the site's signal without terrain loss falls
        `RADIUS_MARGIN_DB` below the threshold, capped at 20 km.
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

    Returns
    -------
    CoverageResult
    """
    threshold = settings.rsrp_threshold_dbm if threshold_dbm is None else float(threshold_dbm)
    report = progress or (lambda f, m: logger.info("%3.0f%% %s", 100 * f, m))
    if dem is None:
        if ds.dem_path is None:
            raise LayerError("coverage needs a DEM (dem.tif in the data folder)", [Problem("dem.tif", "not found")])
        dem = read_dem(ds.dem_path, resolution_m=resolution_m)
    sites = sites_of(ds, technology, operator=operator)
    params = radio.site_parameters(sites, technology)
    env = np.array([environment] * len(sites), dtype=object) if environment else \
        _site_environment(sites, ds["communes"])
    calib = dict(radio.CALIBRATION_DB) | dict(calibration_db or {})
    a_coef = np.empty(len(sites))
    b_coef = np.empty(len(sites))
    for name in sorted(set(env)):
        m = env == name
        a, b = radio.hata_coefficients(params.frequency_mhz[m], params.height_m[m], rx_height_m, environment=name)
        a_coef[m] = np.asarray(a) + calib.get(name, 0.0)
        b_coef[m] = b
    ref = params.reference_eirp_dbm + params.rx_gain_dbi - params.body_loss_db
    fspl_c = 32.45 + 20.0 * np.log10(params.frequency_mhz)
    if radius_m is None:
        # distance where the unobstructed signal reaches threshold − margin (Hata is monotonic in d)
        reach = 10 ** ((ref - (threshold - RADIUS_MARGIN_DB) - a_coef) / b_coef)
        radii = np.clip(reach * 1000.0, 1000.0, MAX_RADIUS_M)
    else:
        radii = np.full(len(sites), float(radius_m))
    xs, ys = sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()
    rows, cols = dem.cell_of(xs, ys)
    inside = (rows >= 0) & (rows < dem.shape[0]) & (cols >= 0) & (cols < dem.shape[1])
    inside[inside] &= ~np.isnan(dem.elevation[rows[inside], cols[inside]])
    if not inside.all():
        logger.warning("%d sites lie outside the DEM or on nodata and are left out", int((~inside).sum()))
    idx = np.flatnonzero(inside)
    # Strongest first (unobstructed reach), so that later sites are pruned more; and in passes: every site out to
    # _PASSES_M[0] first, where it is usually the best server, then on to the next radius, where most cells are
    # then pruned (the sweep's values do not depend on its radius, so passes only change the work).
    strength = (ref - a_coef) / b_coef
    idx = idx[np.argsort(-strength[idx], kind="stable")]
    lams = SPEED_OF_LIGHT_M_PER_US / params.frequency_mhz  # c / f with f in MHz → metres
    n_threads = max(1, numba.get_num_threads())
    with PARALLEL_LOCK:
        best, server = _new_best(n_threads, *dem.shape)
    log_d = _log_distance_table(dem.resolution_m, float(radii.max()))
    t0, t = dem.transform, time.perf_counter()
    batch = max(n_threads, _BATCH)
    bounds = [np.zeros(len(radii))] + [np.minimum(radii, r) for r in _PASSES_M] + [radii]
    passes = len(bounds) - 1
    for pas in range(passes):
        inner, outer = bounds[pas], bounds[pas + 1]
        todo = idx[outer[idx] > inner[idx]]
        for start in range(0, len(todo), batch):
            chunk = todo[start:start + batch]
            with PARALLEL_LOCK:  # one parallel launch at a time per process (numba's workqueue is not thread-safe)
                block_min = _block_minima(best, dem.elevation)
                _best_server_kernel(dem.elevation, t0.c, t0.f, dem.resolution_m, xs[chunk], ys[chunk],
                                    params.height_m[chunk], rx_height_m, outer[chunk], lams[chunk], k_factor,
                                    a_coef[chunk], b_coef[chunk], fspl_c[chunk], ref[chunk], chunk.astype(np.int32),
                                    best, server, n_threads, inner[chunk], log_d, block_min)
            done = (pas + (start + len(chunk)) / len(todo)) / passes
            report(0.95 * done, f"{technology}: pass {pas + 1}/{passes}, {start + len(chunk)}/{len(todo)} sites")
        if pas < passes - 1 and n_threads > 1:
            with PARALLEL_LOCK:
                _share_best(best, server)
    with PARALLEL_LOCK:
        rsrp, srv = _merge_best(best, server)
    del best, server
    elapsed = time.perf_counter() - t
    site_ids = sites["id"].astype(str).tolist()
    villages, communes = _tables(ds, dem, rsrp, srv, site_ids, sites, threshold)
    summary = _summary(technology, threshold, dem, villages, sites, env, calib, radii, elapsed, operator, k_factor)
    report(1.0, f"{technology}: {summary['populated_area_pct']} % of the village population covered")
    return CoverageResult(technology=technology.upper(), threshold_dbm=threshold, dem=dem, rsrp_dbm=rsrp,
                          server=srv, site_ids=site_ids, villages=villages, communes=communes, summary=summary)


def _tables(ds, dem, rsrp, srv, site_ids, sites, threshold) -> tuple[pd.DataFrame, pd.DataFrame]:
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
    near = gpd.sjoin_nearest(villages[[villages.geometry.name]], sites[["id", sites.geometry.name]], how="left",
                             distance_col="_d")
    near = near[~near.index.duplicated(keep="first")].reindex(villages.index)
    table = pd.DataFrame({
        "id": villages["id"].to_numpy(), "name": villages["name"].to_numpy(),
        "commune": villages["commune"].to_numpy(),
        "population": villages["population"].astype("Float64").fillna(0).to_numpy(dtype=float),
        "rsrp_dbm": np.round(value, 1),
        "serving_site": [site_ids[s] if s >= 0 else None for s in serving],
        "covered": np.nan_to_num(value, nan=-np.inf) >= threshold,
        "nearest_site": near["id"].to_numpy(), "nearest_site_km": np.round(near["_d"].to_numpy() / 1000.0, 2)})
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
    return table, per.reset_index()


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
                                "best_rsrp_dbm": None if pd.isna(r.rsrp_dbm) else float(r.rsrp_dbm),
                                "nearest_site": r.nearest_site, "nearest_site_km": float(r.nearest_site_km)}
                               for r in lom.itertuples(index=False)],
    }


# ----------------------------------------------------------------------------------------- point to point
@njit(cache=True)
def _bilinear(elev, fr, fc):
    nr, nc = elev.shape
    r0 = int(math.floor(fr))
    c0 = int(math.floor(fc))
    if r0 < 0 or c0 < 0 or r0 >= nr - 1 or c0 >= nc - 1:
        r = min(max(int(round(fr)), 0), nr - 1)
        c = min(max(int(round(fc)), 0), nc - 1)
        return elev[r, c]
    dr, dc = fr - r0, fc - c0
    top = elev[r0, c0] * (1 - dc) + elev[r0, c0 + 1] * dc
    bottom = elev[r0 + 1, c0] * (1 - dc) + elev[r0 + 1, c0 + 1] * dc
    return top * (1 - dr) + bottom * dr


@njit(cache=True, parallel=True, nogil=True)  # nogil: a web server stays responsive during runs
def _pair_rsrp(elev, x_min, y_max, cell, sx, sy, sh, rx_h, lam, k_factor, a_coef, b_coef, fspl_c, ref, tx, ty,
               pair_s, pair_t):
    """RSRP for (site, target) pairs: Hata + J(v) of the dominant edge of the bilinear profile between them."""
    n = pair_s.shape[0]
    out = np.empty(n, dtype=np.float64)
    bulge = 1.0 / (2.0 * k_factor * EARTH_RADIUS_M)
    for p in prange(n):
        s, t = pair_s[p], pair_t[p]
        dx, dy = tx[t] - sx[s], ty[t] - sy[s]
        d = math.sqrt(dx * dx + dy * dy)
        c0 = (sx[s] - x_min) / cell - 0.5
        r0 = (y_max - sy[s]) / cell - 0.5
        c1 = (tx[t] - x_min) / cell - 0.5
        r1 = (y_max - ty[t]) / cell - 0.5
        za = _bilinear(elev, r0, c0) + sh[s]
        zb = _bilinear(elev, r1, c1) + rx_h
        steps = int(d / cell)
        vmax = -1e9
        for k in range(1, steps):
            f = k / steps
            d1 = f * d
            d2 = d - d1
            z = _bilinear(elev, r0 + f * (r1 - r0), c0 + f * (c1 - c0)) - d1 * d2 * bulge
            h = z - (za + (zb - za) * f)
            v = h * math.sqrt(2.0 / lam[s] * (1.0 / d1 + 1.0 / d2))
            if v > vmax:
                vmax = v
        dkm = max(d / 1000.0, MIN_DISTANCE_KM)
        ld = math.log10(dkm)
        loss = max(a_coef[s] + b_coef[s] * ld, fspl_c[s] + 20.0 * ld)
        if vmax > KNIFE_EDGE_V_MIN:
            loss += knife_edge_db(vmax)
        out[p] = ref[s] - loss
    return out


def coverage_matrix(ds: Dataset, sites: gpd.GeoDataFrame, targets: gpd.GeoDataFrame, *, technology: str = "4G",
                    threshold_dbm: float | None = None, max_distance_m: float | None = None,
                    environment: str | None = None, k_factor: float = DEFAULT_K_FACTOR, rx_height_m: float = 1.5,
                    dem: Dem | None = None):
    """Which targets (villages) each site (e.g. a candidate) would serve at the threshold, by the raster's model.

    Every (site, target) pair within reach is evaluated on the bilinear terrain profile between them: Hata (by
    the environment of the site's commune) + knife-edge J(v) of the dominant obstacle, as `compute` does per cell.

    Parameters
    ----------
    ds
        Dataset (communes for the environments, the DEM).
    sites
        Points with optional `height_m`, `band_mhz` (link budget defaults otherwise) and `commune`.
    targets
        Points (villages) in the same CRS.
    technology, threshold_dbm, max_distance_m, environment, k_factor, rx_height_m, dem
        As in `compute`; `max_distance_m` defaults to each site's unobstructed reach at the threshold.

    Returns
    -------
    (scipy.sparse.csr_matrix, numpy.ndarray)
        Boolean coverage matrix sites × targets, and the RSRP of every evaluated pair as a sparse matrix of the
        same shape (dBm, only pairs within reach are stored).
    """
    from scipy import sparse

    threshold = settings.rsrp_threshold_dbm if threshold_dbm is None else float(threshold_dbm)
    if dem is None:
        if ds.dem_path is None:
            raise LayerError("a coverage matrix needs a DEM", [Problem("dem.tif", "not found")])
        dem = read_dem(ds.dem_path)
    frame = sites.copy()
    frame["tech"] = technology.upper()
    if "commune" not in frame:
        from .io import assign_commune

        frame = assign_commune(frame, ds["communes"])
    params = radio.site_parameters(frame, technology)
    env = np.array([environment] * len(frame), dtype=object) if environment else \
        _site_environment(frame, ds["communes"])
    a_coef, b_coef = np.empty(len(frame)), np.empty(len(frame))
    for name in sorted(set(env)):
        m = env == name
        a, b = radio.hata_coefficients(params.frequency_mhz[m], params.height_m[m], rx_height_m, environment=name)
        a_coef[m] = np.asarray(a) + radio.CALIBRATION_DB.get(name, 0.0)
        b_coef[m] = b
    ref = params.reference_eirp_dbm + params.rx_gain_dbi - params.body_loss_db
    reach = 10 ** ((ref - threshold - a_coef) / b_coef) * 1000.0
    reach = np.minimum(reach, max_distance_m) if max_distance_m else np.minimum(reach, MAX_RADIUS_M)
    sx, sy = frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()
    tx, ty = targets.geometry.x.to_numpy(), targets.geometry.y.to_numpy()
    from scipy.spatial import cKDTree

    tree = cKDTree(np.column_stack([tx, ty]))
    lists = tree.query_ball_point(np.column_stack([sx, sy]), r=reach)
    pair_s = np.repeat(np.arange(len(frame)), [len(x) for x in lists]).astype(np.int64)
    pair_t = np.fromiter((t for x in lists for t in x), dtype=np.int64, count=len(pair_s))
    t0 = dem.transform
    with PARALLEL_LOCK:
        rsrp = _pair_rsrp(dem.elevation, t0.c, t0.f, dem.resolution_m, sx, sy, params.height_m, rx_height_m,
                          SPEED_OF_LIGHT_M_PER_US / params.frequency_mhz, k_factor, a_coef, b_coef,
                          32.45 + 20.0 * np.log10(params.frequency_mhz), ref, tx, ty, pair_s, pair_t)
    shape = (len(frame), len(targets))
    values = sparse.csr_matrix((rsrp, (pair_s, pair_t)), shape=shape)
    ok = rsrp >= threshold
    covered = sparse.csr_matrix((np.ones(int(ok.sum()), dtype=bool), (pair_s[ok], pair_t[ok])), shape=shape)
    return covered, values


# ------------------------------------------------------------------------------------------------------ outputs
RSRP_CLASSES = ((-80.0, (0, 104, 55, 210)), (-90.0, (26, 152, 80, 200)), (-100.0, (102, 189, 99, 190)),
                (-110.0, (217, 239, 139, 180)), (-120.0, (254, 224, 139, 150)))


def colorize(rsrp: np.ndarray, *, threshold_dbm: float) -> np.ndarray:
    """RGBA image of RSRP classes (≥ −80, −90, −100, −110, −120 dBm); transparent below −120 or where no signal."""
    from .rasterpng import classify

    return classify(rsrp, RSRP_CLASSES)


def write(result: CoverageResult, out_dir: str | Path, *, kmz: bool = True) -> Path:
    """Write the coverage outputs into `out_dir` atomically (temporary folder, then renamed).

    Files: ``rsrp_<tech>.tif`` (best-server dBm, float32, tiled, overviews), ``server_<tech>.tif`` (int32 index of
    the serving site, -1 none) with ``servers_<tech>.csv`` (index → site id), ``villages_<tech>.csv``,
    ``communes_<tech>.csv``, ``summary_<tech>.json`` and ``coverage_<tech>.kmz`` (PNG overlay for Google Earth).
    """
    out_dir = Path(out_dir)
    tag = result.technology.lower()
    with atomic_dir(out_dir, merge=True) as tmp:
        rsrp = np.where(np.isnan(result.rsrp_dbm), NO_SIGNAL_DBM, result.rsrp_dbm).astype(np.float32)
        write_raster(tmp / f"rsrp_{tag}.tif", rsrp, result.dem, nodata=NO_SIGNAL_DBM, dtype="float32")
        write_raster(tmp / f"server_{tag}.tif", result.server, result.dem, nodata=-1, dtype="int32")
        write_csv(pd.DataFrame({"index": range(len(result.site_ids)), "site_id": result.site_ids}),
                  tmp / f"servers_{tag}.csv")
        write_csv(result.villages, tmp / f"villages_{tag}.csv")
        write_csv(result.communes, tmp / f"communes_{tag}.csv")
        (tmp / f"summary_{tag}.json").write_text(json.dumps(result.summary, ensure_ascii=False, indent=2),
                                                 encoding="utf-8")
        if kmz:
            write_kmz(result, tmp / f"coverage_{tag}.kmz")
    return out_dir


def write_kmz(result: CoverageResult, path: Path, *, max_size: int = 4096) -> Path:
    """Write a KMZ with the RSRP classes as a PNG ground overlay in EPSG:4326 (for Google Earth)."""
    import zipfile

    from .rasterpng import classify, encode_png, warp

    warped, transform = warp(result.rsrp_dbm, transform=result.dem.transform, crs=result.dem.crs,
                             dst_crs="EPSG:4326", max_px=max_size, resampling="max")
    height, width = warped.shape
    png = encode_png(np.moveaxis(classify(warped, RSRP_CLASSES), 2, 0))
    west, north = transform.c, transform.f
    east, south = west + width * transform.a, north + height * transform.e
    name = f"{result.technology} RSRP ≥ {result.threshold_dbm:g} dBm"
    kml = f"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>{name}</name>
<GroundOverlay><name>{name}</name><color>ffffffff</color><Icon><href>rsrp.png</href></Icon>
<LatLonBox><north>{north:.6f}</north><south>{south:.6f}</south><east>{east:.6f}</east><west>{west:.6f}</west></LatLonBox>
</GroundOverlay></Document></kml>
"""
    from ._files import atomic_path

    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", kml)
        zf.writestr("rsrp.png", png)
    return path


@dataclass
class CoverageIndicators:
    """Populated-area coverage of a dataset per technology: the indicator values and the results behind them.

    Attributes
    ----------
    values
        Indicator keys (``populated_area_4g_pct``, ``villages_covered_4g``, ``population_covered_4g`` … per
        technology) → value; None when unavailable.
    results
        Technology (``"3G"``, ``"4G"``) → its `CoverageResult`, for the technologies that were computed (not those
        without data or without sites).
    """

    values: dict
    results: dict[str, CoverageResult] = field(default_factory=dict)


def populated_area_coverage(ds: Dataset, *, technologies: tuple[str, ...] = ("3G", "4G"),
                            threshold_dbm: float | None = None) -> CoverageIndicators:
    """Populated-area coverage per technology, as indicator values plus the coverage results computed for them.

    Computed at the DEM's own resolution; a technology without sites, or a dataset without DEM or villages, gives
    None values (0 when the dataset has no site of that technology) and no result.

    Parameters
    ----------
    ds
        The layers and DEM; not modified.
    technologies
        Technologies to compute, e.g. ``("3G", "4G")``.
    threshold_dbm
        RSRP threshold (default `ictgis.settings`).

    Returns
    -------
    CoverageIndicators
        The values (``populated_area_<tech>_pct``, ``villages_covered_<tech>``, ``population_covered_<tech>``) and
        the `CoverageResult` of each computed technology.
    """
    values: dict = {}
    results: dict[str, CoverageResult] = {}
    dem = read_dem(ds.dem_path) if ds.dem_path is not None else None
    for tech in technologies:
        tag = tech.lower()
        keys = (f"populated_area_{tag}_pct", f"villages_covered_{tag}", f"population_covered_{tag}")
        if dem is None or ds.get("villages") is None or ds.get("bts_sites") is None:
            values.update(dict.fromkeys(keys))
            continue
        bts = ds["bts_sites"]
        if not any(tech in parse_tech(t) for t in bts["tech"]):
            values.update(dict(zip(keys, (0.0, 0, 0), strict=True)))  # no site of that technology: nothing covered
            continue
        result = compute(ds, technology=tech, threshold_dbm=threshold_dbm, dem=dem, progress=lambda f, m: None)
        results[tech] = result
        s = result.summary
        values.update(dict(zip(keys, (s["populated_area_pct"], s["villages_covered"], s["population_covered"]),
                               strict=True)))
    return CoverageIndicators(values=values, results=results)


def coverage_indicators(ds: Dataset, *, technologies: tuple[str, ...] = ("3G", "4G"),
                        threshold_dbm: float | None = None) -> dict:
    """Populated-area coverage per technology as indicator keys (``populated_area_4g_pct`` …), None when unavailable.

    The values of `populated_area_coverage` (which also returns the coverage results).
    """
    return populated_area_coverage(ds, technologies=technologies, threshold_dbm=threshold_dbm).values


def overlay_png(result: CoverageResult, *, max_px: int = 1600) -> tuple[bytes, list[list[float]]]:
    """RSRP classes of a result as a PNG aligned with Leaflet (EPSG:3857), and ``[[south, west], [north, east]]``."""
    from .rasterpng import classed_png

    return classed_png(result.rsrp_dbm, transform=result.dem.transform, crs=result.dem.crs, classes=RSRP_CLASSES,
                       dst_crs="EPSG:3857", max_px=max_px, resampling="max")
