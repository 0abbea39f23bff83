"""Numba kernels of best-server coverage: the fused sweeps of many sites, their pruning, and the pair profiles.

The Python side is :mod:`ictgis.coverage.best_server` (:func:`best_server_kernel` and its helpers, launched in
batches) and :mod:`ictgis.coverage.matrix` (:func:`pair_rsrp`). The sweep itself, the best-server order and the
knife-edge loss are shared with the terrain sweeps (:mod:`ictgis.terrain.sweep_kernels`). Every kernel is compiled
with ``cache=True``; a caller runs the ``parallel=True`` ones under ``ictgis.terrain.PARALLEL_LOCK`` (numba's
workqueue layer is not thread-safe). Module-level constants are frozen into the kernels when they compile.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from numba.core import cgutils, types
from numba.extending import intrinsic

from ..constants import EARTH_RADIUS_M, KNIFE_EDGE_V_MIN, MIN_DISTANCE_KM
from ..terrain.sweep_kernels import (
    BLOCK_SHIFT,
    OCTANTS,
    beats,
    knife_edge_db,
    radial_best_server_serial,
    table_lookup,
    tr38901_los_db,
    tr38901_nlos_db,
)

__all__ = [
    "best_server_kernel", "bilinear", "block_extremes", "block_minima", "log_distance_table", "merge_best",
    "new_best", "pair_rsrp",
    "share_best", "take", "useful_radii",
]


#: Groups of ray directions per octant for `useful_radii`'s per-group cut of the sweep.
RAY_GROUPS = 64


@njit(cache=True)
def log_distance_table(cell, radius_max):
    """log10 of the distance in km (at least 0.02) of a cell i, m cells off the site, indexed by i² + m²."""
    n = int((radius_max / cell) ** 2) + 1
    out = np.empty(n)
    for k in range(n):
        out[k] = math.log10(max(cell * math.sqrt(k) / 1000.0, MIN_DISTANCE_KM))
    return out


@njit(cache=True)
def useful_radii(block_min, orow, ocol, cell, radius, a, b, fc, power, log_d, ray_lim, tr_row, att_min, block_loss):
    """Return, per octant of the sweep, the squared radius (cells²) a site needs to reach (-1: none).

    Beyond it, the site cannot beat any block's (stale) minimum even without terrain loss. The sweep's values do
    not depend on its radius, so sweeping each octant only this far gives the same best arrays. `ray_lim` (8 × G,
    int64) gets, per octant and group g of ray directions (minor / major offset in [g / G, (g + 1) / G]), the last
    column (major offset) its rays must reach: that of the farthest block the site could beat whose cells may take
    their values from a ray of the group (a cell's ray is within one ray spacing, 1 / major offset, of it).
    `tr_row`: the site's `ictgis.tr38901.coefficients` row (its LOS loss replaces a + b·log10 d when ``tr_row[0] > 0``).
    `att_min` (8 × G) is the smallest antenna attenuation over each group's directions and its neighbours' (zeros:
    omnidirectional), so that a sector's back lobe stops where it can no longer beat anything; it is used for blocks
    from G columns out, where a cell's ray is less than a group away from its direction. `block_loss` (blocks of
    `block_min`): the smallest clutter loss of any receiver of each block (`block_extremes`).
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
            # log10 of the distance (km) as `log_d[k]` holds it: computed, the table is read at a new cache line
            # for nearly every block
            ld = math.log10(max(cell * math.sqrt(k) / 1000.0, MIN_DISTANCE_KM))
            loss = a + b * ld
            if tr_row[0] > 0.0:
                loss = tr38901_los_db(tr_row, cell * math.sqrt(k))
            clear = power - max(loss, fc + 20.0 * ld)
            clear -= block_loss[br, bc]  # every receiver of the block has at least this clutter loss
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
                    i_lo = max(min(r0 * mr + c0 * mc, r1 * mr + c1 * mc), 1)
                    m_lo = max(m_lo, 0)
                    m_hi = min(m_hi, i_hi)
                    t_lo = (m_lo - 1) / i_hi if m_lo >= 1 else 0.0
                    t_hi = (m_hi + 1) / i_lo
                    g0 = int(t_lo * ng)
                    g1 = min(int(t_hi * ng), ng - 1)
                    hit = False
                    for g in range(g0, g1 + 1):
                        if i_lo >= ng and np.float32(clear - att_min[o, g]) < block_min[br, bc]:
                            continue  # the antenna's pattern keeps this group of directions from beating the block
                        hit = True
                        if ray_lim[o, g] < i_hi:
                            ray_lim[o, g] = i_hi
                    if hit and far > need[o]:
                        need[o] = far
    return need


@intrinsic
def take(typingctx, counter):
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
def block_minima(best, elevation):
    """Minimum over blocks of 2^`BLOCK_SHIFT` cells square of the best over all threads' arrays (nodata left out).

    Returned once per thread (the same values): every value in a thread's array was reached by some site, so the
    best over the threads is a lower bound of the final best that each thread may prune with. A block of nodata
    only is +inf.
    """
    n_threads, nrows, ncols = best.shape
    size = 1 << BLOCK_SHIFT
    nbr, nbc = (nrows >> BLOCK_SHIFT) + 1, (ncols >> BLOCK_SHIFT) + 1
    out = np.full((n_threads, nbr, nbc), np.inf, np.float32)
    for br in prange(nbr):
        for r in range(br * size, min(br * size + size, nrows)):
            for c in range(ncols):
                if np.isnan(elevation[r, c]):
                    continue
                top = best[0, r, c]
                for t in range(1, n_threads):
                    if best[t, r, c] > top:
                        top = best[t, r, c]
                bc = c >> BLOCK_SHIFT
                if top < out[0, br, bc]:
                    out[0, br, bc] = top
        for t in range(1, n_threads):
            out[t, br] = out[0, br]
    return out


@njit(cache=True, parallel=True, nogil=True)  # nogil: a web server stays responsive during runs
def best_server_kernel(elev, x_min, y_max, cell, xs, ys, heights, rx_h, radii, lams, k_factor, a_coef, b_coef,
                       fspl_c, bound_power, cell_lo, cell_hi, powers, cell_index, cell_r2, best, server, n_threads,
                       inner, log_d, block_min, nr_coef, surface, classes, loss_lut, use_loss, pat_h, pat_v, pat_cap,
                       use_pat, att_min, att_cut, block_zmax, block_loss):
    """Sweep every site fused with the best-server update (`radial_best_server_serial`), one best array per thread.

    A *site* here is a group of co-located transmitters with one antenna height and band (the sectors of a site, or
    an omnidirectional site): it is swept once, its transmitters ``cell_lo[s] … cell_hi[s] - 1`` (indices into
    `powers`, `cell_index`, `cell_r2`, `pat_h`, `pat_v`, `pat_cap`) evaluated on every cell of the sweep. Sites are
    handed to the threads one at a time as they free up (per-site work varies a lot), in the order given (strongest
    first prunes most: a cell whose unobstructed signal from a site cannot beat its current best skips the obstacle
    search); each thread updates its own `best[t]` / `server[t]`. Which thread sweeps which site does not change the
    result: ties go to the lower transmitter number `cell_index` (`sweep_kernels.beats`). Cells within `inner[s]` of
    site s are left alone (filled by an earlier pass, see `ictgis.coverage.compute`). `log_d` is
    `log_distance_table` out to the largest radius; `block_min` is `block_minima` of `best` (may be stale).
    Per site: `radii` (the largest of its transmitters'), `bound_power` (an upper bound of its transmitters' RSRP
    without terrain, clutter nor antenna loss at zero loss, for `useful_radii`), `att_min` (8 × G, the smallest
    attenuation of its transmitters relative to `bound_power` per group of directions), `nr_coef` (n × 11, a row of
    `ictgis.tr38901.coefficients` for TR 38.901 or zeros for the a + b·log10 d loss), `loss_lut` (n × 256, clutter
    loss per land-cover class, used when `use_loss`) and `use_pat` (False: omnidirectional). `surface` is the ground
    plus canopy, `classes` the land cover (uint8); see `radial_best_server_serial`, which also takes `att_cut` (per
    site, 8 × G), `block_zmax` and `block_loss` (`block_extremes`) to cut the rays that can no longer beat anything.
    """
    n = xs.shape[0]
    ray_lim = np.zeros((n_threads, 8, RAY_GROUPS), np.int64)
    queue = np.zeros(1, np.int64)  # next site to sweep, taken atomically by whichever thread is free
    for t in prange(n_threads):
        while True:
            s = take(queue)
            if s >= n:
                break
            orow, ocol = int(math.floor((y_max - ys[s]) / cell)), int(math.floor((xs[s] - x_min) / cell))
            reach2 = useful_radii(block_min[t], orow, ocol, cell, radii[s], a_coef[s], b_coef[s], fspl_c[s],
                                  bound_power[s], log_d, ray_lim[t], nr_coef[s], att_min[s], block_loss)
            reach = cell * math.sqrt(max(reach2.max(), 0.0))
            if reach <= inner[s]:
                continue
            lo, hi = cell_lo[s], cell_hi[s]
            radial_best_server_serial(elev, x_min, y_max, cell, xs[s], ys[s], heights[s], rx_h, reach, lams[s],
                                      k_factor, a_coef[s], b_coef[s], fspl_c[s], powers[lo:hi], cell_index[lo:hi],
                                      cell_r2[lo:hi], log_d, best[t], server[t], block_min[t], inner[s], reach2,
                                      ray_lim[t], nr_coef[s], surface, classes, loss_lut[s], use_loss, pat_h[lo:hi],
                                      pat_v[lo:hi], pat_cap[lo:hi], use_pat[s], bound_power[s], att_cut[s],
                                      block_zmax, block_loss, best[(t + 1) % n_threads])


@njit(cache=True, parallel=True, nogil=True)
def block_extremes(elevation, classes, class_loss, use_loss):
    """Highest ground and smallest clutter loss over blocks of 2^`BLOCK_SHIFT` cells square (nodata left out).

    `class_loss` (256 values) is the smallest loss of each land-cover class over the sweeps (`classes` is used when
    `use_loss`, else every loss is 0). A block of nodata only gets -inf and +inf.
    """
    nrows, ncols = elevation.shape
    size = 1 << BLOCK_SHIFT
    nbr, nbc = (nrows >> BLOCK_SHIFT) + 1, (ncols >> BLOCK_SHIFT) + 1
    zmax = np.full((nbr, nbc), -np.inf)
    lmin = np.full((nbr, nbc), np.inf)
    for br in prange(nbr):
        for r in range(br * size, min(br * size + size, nrows)):
            for c in range(ncols):
                z = elevation[r, c]
                if np.isnan(z):
                    continue
                bc = c >> BLOCK_SHIFT
                if z > zmax[br, bc]:
                    zmax[br, bc] = z
                loss = class_loss[classes[r, c]] if use_loss else 0.0
                if loss < lmin[br, bc]:
                    lmin[br, bc] = loss
    return zmax, lmin


@njit(cache=True, parallel=True, nogil=True)
def new_best(n_threads, nrows, ncols, floor):
    """Per-thread best arrays: RSRP `floor` (float32), server -1 (first touched by all threads in parallel).

    A value must beat the floor to be kept: what cannot is skipped like what cannot beat another site's.
    """
    best = np.empty((n_threads, nrows, ncols), np.float32)
    server = np.empty((n_threads, nrows, ncols), np.int32)
    for r in prange(nrows):
        for t in range(n_threads):
            for c in range(ncols):
                best[t, r, c] = floor
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
def share_best(best, server):
    """Give every thread's best array the best over all threads (so that each prunes with all sites seen)."""
    n_threads, nrows, ncols = best.shape
    for r in prange(nrows):
        for c in range(ncols):
            top = _top(best, server, r, c)
            for t in range(n_threads):
                best[t, r, c] = best[top, r, c]
                server[t, r, c] = server[top, r, c]


@njit(cache=True, parallel=True, nogil=True)  # nogil: a web server stays responsive during runs
def merge_best(best, server):
    """Best RSRP over the threads' arrays and its server (NaN and -1 where no site rose above the floor)."""
    nrows, ncols = best.shape[1:]
    rsrp = np.empty((nrows, ncols), np.float32)
    srv = np.empty((nrows, ncols), np.int32)
    for r in prange(nrows):
        for c in range(ncols):
            top = _top(best, server, r, c)
            if server[top, r, c] >= 0:
                rsrp[r, c] = best[top, r, c]
                srv[r, c] = server[top, r, c]
            else:
                rsrp[r, c] = np.nan
                srv[r, c] = -1
    return rsrp, srv


# ----------------------------------------------------------------------------------------- point to point
@njit(cache=True)
def bilinear(elev, fr, fc):
    """Elevation interpolated bilinearly at fractional row `fr`, column `fc` (whole numbers at cell centres).

    Before the first or from the last cell centre of a row or column on, the nearest cell's elevation.
    """
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


@njit(cache=True, inline="always")
def _pair_attenuation(pat_h, pat_v, cap, az, down):
    """Antenna attenuation ``min(A_H + A_V, cap)`` toward azimuth `az` and `down` degrees below the horizon.

    As the sweeps compute it (`ictgis.terrain.sweep_kernels`): A_H interpolated in the 360-entry table and capped,
    A_V from the 181-entry table (−90 … 90 degrees).
    """
    k0 = int(az)
    k1 = k0 + 1 if k0 < 359 else 0
    ah = pat_h[k0] + (az - k0) * (pat_h[k1] - pat_h[k0])
    if ah > cap:
        ah = cap
    extra = ah + table_lookup(pat_v, down + 90.0)
    if extra > cap:
        extra = cap
    return extra


@njit(cache=True, parallel=True, nogil=True)  # nogil: a web server stays responsive during runs
def pair_rsrp(elev, x_min, y_max, cell, sx, sy, sh, rx_h, lam, k_factor, a_coef, b_coef, fspl_c, tx, ty,
              pair_s, pair_t, nr_coef, surface, classes, loss_lut, use_loss, tx_lo, tx_hi, powers, pat_h, pat_v,
              pat_cap, use_pat):
    """RSRP for (site, target) pairs: Hata + J(v) of the dominant edge of the bilinear profile between them.

    The profile has the earth bulge ``d1 · d2 / (2 k R)`` added (an obstacle between the ends stands that much
    higher over their chord), as in the sweeps.

    A *site* s here is a group of co-located transmitters with one antenna height and band (as a sweep of
    `best_server_kernel`): its transmitters ``tx_lo[s] … tx_hi[s] - 1`` (reference power `powers`, antenna tables
    `pat_h`, `pat_v`, `pat_cap` when ``use_pat[s]``) share the profile and the loss, and the pair gets the best of
    them. Sites with a TR 38.901 row in `nr_coef` (n × 11, zeros otherwise) take its loss and LOS/NLOS rule (v_max
    > 0 is NLOS), as the raster's kernels do. The profile samples `surface` (ground + canopy; `elev` itself without
    land cover), the ends stand on `elev`; `use_loss` subtracts ``loss_lut[s, classes[r, c]]`` (clutter loss of the
    target's DEM cell); the antenna attenuation is that of the sweeps, at the target's exact azimuth and angle
    below the horizon (none in the site's own cell).
    """
    n = pair_s.shape[0]
    nrows, ncols = elev.shape
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
        za = bilinear(elev, r0, c0) + sh[s]
        zb = bilinear(elev, r1, c1) + rx_h
        steps = int(d / cell)
        vmax = -1e9
        for k in range(1, steps):
            f = k / steps
            d1 = f * d
            d2 = d - d1
            z = bilinear(surface, r0 + f * (r1 - r0), c0 + f * (c1 - c0)) + d1 * d2 * bulge  # the earth bulge
            h = z - (za + (zb - za) * f)
            v = h * math.sqrt(2.0 / lam[s] * (1.0 / d1 + 1.0 / d2))
            if v > vmax:
                vmax = v
        dkm = max(d / 1000.0, MIN_DISTANCE_KM)
        ld = math.log10(dkm)
        loss = a_coef[s] + b_coef[s] * ld
        if nr_coef[s, 0] > 0.0:
            loss = tr38901_los_db(nr_coef[s], d)
        loss = max(loss, fspl_c[s] + 20.0 * ld)
        los_loss = loss
        if vmax > KNIFE_EDGE_V_MIN:
            loss += knife_edge_db(vmax)
        if nr_coef[s, 0] > 0.0 and vmax > 0.0:
            loss = max(loss, los_loss, tr38901_nlos_db(nr_coef[s], d))
        extra = 0.0
        rt = min(max(int(math.floor(r1 + 0.5)), 0), nrows - 1)
        ct = min(max(int(math.floor(c1 + 0.5)), 0), ncols - 1)
        if use_loss:
            extra = loss_lut[s, classes[rt, ct]]
        own = rt == int(math.floor(r0 + 0.5)) and ct == int(math.floor(c0 + 0.5))
        az = 0.0
        down = 0.0
        if use_pat[s] and not own:
            az = math.degrees(math.atan2(dx, dy)) % 360.0
            if az >= 360.0:
                az = 0.0
            down = math.degrees(math.atan((za - zb) / d))
        best = -np.inf
        for q in range(tx_lo[s], tx_hi[s]):
            value = powers[q] - loss
            if use_loss:
                value -= extra
            if use_pat[s] and not own:
                value -= _pair_attenuation(pat_h[q], pat_v[q], pat_cap[q], az, down)
            if value > best:
                best = value
        out[p] = best
    return out
