"""Numba kernels of the radial Fresnel sweep, alone or fused with a best-server update.

Shared with :mod:`ictgis.coverage`: the octant table, the best-server order (:func:`beats`), the knife-edge loss and
the per-ray limits. :mod:`ictgis.terrain.sweeps` is the Python side of a single sweep.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..constants import (  # module-level floats, frozen into the kernels at compile
    EARTH_RADIUS_M,
    KNIFE_EDGE_V_MIN,
    MIN_DISTANCE_KM,
)

# Octants as (major row, major col, minor row, minor col) unit steps.
OCTANTS = np.array([[0, 1, -1, 0], [0, 1, 1, 0], [0, -1, -1, 0], [0, -1, 1, 0],
                     [-1, 0, 0, 1], [-1, 0, 0, -1], [1, 0, 0, 1], [1, 0, 0, -1]], dtype=np.int64)


#: The ray set does not depend on the sweep radius: rays are cast as if to the perimeter of the square of half-side
#: ``H = ceil(RAY_RADIUS_M / cell)`` cells (doubled while smaller than the radius in cells) and cut at the radius,
#: so a cell's values depend on the terrain and the site only (identical for any radius that reaches it).
RAY_RADIUS_M = 20_000.0


@njit(cache=True)
def _ray_half(cell_size_m, half):
    """Half-side, in cells, of the square whose perimeter cells the rays aim at (see `RAY_RADIUS_M`)."""
    big = max(int(np.ceil(RAY_RADIUS_M / cell_size_m)), 1)
    while big < half:
        big *= 2  # the rays of 2H contain those of H, active at the same columns: inner results do not change
    return big


#: `_sweep_octant`'s per-group column limits when every ray goes all the way.
_NO_LIMIT = np.full(1, 1 << 40, np.int64)


#: atan(k / ATAN_STEPS) in degrees for k = 0 … ATAN_STEPS: the direction of a cell (i, m) of an octant off its major
#: axis is ``atan(m / i)``, looked up (error below 0.03°) rather than computed per cell.
ATAN_STEPS = 1024
ATAN_DEG = np.degrees(np.arctan(np.arange(ATAN_STEPS + 1) / ATAN_STEPS))

#: No antenna pattern / clutter loss / transmitter (the arguments of `_sweep_octant` for sweeps without them).
NO_PATTERN = np.zeros(1)
NO_TABLES = np.zeros((1, 1))
NO_SITES = np.zeros(1, np.int32)
NO_CLASSES = np.zeros((1, 1), np.uint8)


@njit(cache=True)
def octant_azimuth(octant):
    """Azimuth (degrees from north) of an octant's major axis and the sign of its minor offsets' turn."""
    mr, mc, nr, nc = OCTANTS[octant, 0], OCTANTS[octant, 1], OCTANTS[octant, 2], OCTANTS[octant, 3]
    base = math.degrees(math.atan2(mc, -mr)) % 360.0
    minor = math.degrees(math.atan2(nc, -nr)) % 360.0
    sign = 1.0 if abs((minor - base) % 360.0 - 90.0) < 1.0 else -1.0
    return base, sign


@njit(cache=True, inline="always")
def table_lookup(table, x):
    """`table` interpolated linearly at fractional index `x` (clamped to the table's ends)."""
    n = table.shape[0]
    if x <= 0.0:
        return table[0]
    k0 = int(x)
    if k0 >= n - 1:
        return table[n - 1]
    return table[k0] + (x - k0) * (table[k0 + 1] - table[k0])


#: Side of the blocks of the best-server pruning minima (cells, as a power of two; see `coverage.kernels.block_minima`).
BLOCK_SHIFT = 3


@njit(cache=True)
def _hull_buffer(cell_size_m, half):
    """Scratch for the rays' hulls of one octant of a sweep of `half` cells."""
    big = _ray_half(cell_size_m, half)
    return np.empty((big + 1, min(half, big) + 2, 3))


@njit(cache=True, inline="always")
def beats(value, site, best, server):
    """Whether `site`'s `value` takes a cell from (`best`, `server`): higher RSRP, ties to the lower site index.

    Values are compared as stored (float32). The order is total, so the best-server arrays do not depend on the
    order the sites are swept in, nor on which thread sweeps which site.
    """
    value = np.float32(value)  # as it would be stored
    return value > best or (value == best and site < server)


@njit(cache=True)
def knife_edge_db(v):
    """ITU-R P.526 single knife-edge loss J(v) (dB), 0 for v <= -0.78."""
    if v <= KNIFE_EDGE_V_MIN:
        return 0.0
    t = v - 0.1
    return 6.9 + 20.0 * math.log10(math.sqrt(t * t + 1.0) + t)


#: A `tr38901_los_db` / `tr38901_nlos_db` row meaning "no TR 38.901 model" (the A + B·log10 d loss is used).
NO_TR38901 = np.zeros(11)


@njit(cache=True)
def tr38901_los_db(nr, d_m):
    """TR 38.901 LOS loss at 2-D distance `d_m` (≥ 20 m) from a row of `ictgis.tr38901.coefficients`."""
    d_m = max(d_m, 1000.0 * MIN_DISTANCE_KM)
    d3 = math.sqrt(d_m * d_m + nr[2])
    lg = math.log10(d3)
    if d_m < nr[1]:
        return nr[3] + nr[4] * lg + nr[5] * d3
    return nr[6] + nr[7] * lg


@njit(cache=True)
def tr38901_nlos_db(nr, d_m):
    """TR 38.901 NLOS' loss (before the max with LOS) at 2-D distance `d_m` (≥ 20 m), as `tr38901_los_db`."""
    d_m = max(d_m, 1000.0 * MIN_DISTANCE_KM)
    return nr[8] + nr[9] * math.log10(math.sqrt(d_m * d_m + nr[2]))


@njit(cache=True)
def ray_limits(group_lim, big, sp0):
    """Last column each ray of an octant must be stepped to, from `group_lim` (per group of ray directions).

    Group g of G holds the rays j with ``floor(j · G / H) = g`` (the last ray in group G - 1). A ray that joins
    part-way (see `_sweep_octant`) copies its lower neighbour's samples, so that neighbour must be stepped up to the
    column before the join whenever the joining ray is used.
    """
    ng = group_lim.shape[0]
    lim = np.empty(big + 1, np.int64)
    for j in range(big + 1):
        lim[j] = group_lim[min(j * ng // big, ng - 1)]
    join = np.zeros(big + 1, np.int64)  # join column of the rays whose step is sp (indexed by sp)
    sp = sp0
    i = 1
    while sp > 1:
        if sp * i > big:
            sp //= 2
            join[sp] = i
        i += 1
    for j in range(big - 1, 0, -1):
        low = j & -j
        if low >= sp0:
            continue
        if lim[j] >= join[low]:
            p = j - low
            if lim[p] < join[low] - 1:
                lim[p] = join[low] - 1
    return lim


#: Columns between two `_ray_reach` checks of every ray (a power of two).
CUT_EVERY = 8

#: Added to `_ray_reach`'s bound (dB) so that rounding in its arithmetic never cuts a ray that a cell could need.
CUT_MARGIN_DB = 1e-6


@njit(cache=True, inline="always")
def _link_alive(skip, lim, i, sp, big):
    """Link every active ray of an octant (j = 0, sp, 2·sp … and `big`) to the first live one from it on.

    Live: its `lim` reaches column `i`. `skip[j]` is j itself when ray j is live, ``big + 1`` when no ray from j on
    is: the sweep jumps over runs of cut rays instead of stepping through them (rays only ever die: one found dead
    later is stepped past, see `_next_alive`).
    """
    nxt = big if lim[big] >= i else big + 1
    skip[big] = nxt
    j = (big // sp) * sp
    if j == big:
        j -= sp
    while j >= 0:
        if lim[j] >= i:
            nxt = j
        skip[j] = nxt
        j -= sp


@njit(cache=True, inline="always")
def _next_alive(skip, lim, j, i, sp, big):
    """Return the first active ray from `j` on (`_link_alive`) whose `lim` reaches column `i` (``big + 1``: none)."""
    while True:
        nj = skip[j]
        if nj > big:
            return big + 1
        if lim[nj] >= i:
            return nj
        if nj == big:  # died since the links were made
            return big + 1
        j = nj + min(sp, big - nj)


@njit(cache=True)
def _ray_reach(t_lo, t_hi, i, lim_j, big, orow, ocol, mr, mc, nr, nc, nrows, ncols, cell, ht, rx_height_m, bulge,
               two_over_lambda, s_h, a_h, top_power, loss_a, loss_b, loss_fs, r2max, block_min, block_zmax,
               block_loss, att):
    """Last column (<= `lim_j`, >= `i`) up to which a wedge of rays of an octant may serve a cell that beats the best.

    The wedge is a ray and the rays that will join from it (see `_sweep_octant`): after column `i` its cells are
    those (i', m) with ``t_lo <= m · H / i' <= t_hi``, and every ray of it holds the samples of the wedge's first ray
    up to column `i`, whose horizon sample (distance `s_h`, slope `a_h`) is given. The columns after `i` are taken in
    bands of 2^`BLOCK_SHIFT`, from the far end: a band is needed when its cells' upper bound reaches `block_min` of a
    block they lie in. The bound is the strongest transmitter's power `top_power` less the loss at the band's
    nearest cell, the smallest clutter loss of those blocks (`block_loss`), the smallest antenna attenuation of the
    wedge's directions (`att`), and the knife-edge loss J(v) of that horizon sample for a receiver at the highest
    ground of those blocks (`block_zmax`) anywhere in the band: samples added later only raise v_max of an
    obstructed path, so J of that sample stays a lower bound. Returns the last column of the farthest band needed,
    `i` when none is.
    """
    band = 1 << BLOCK_SHIFT
    c1 = min(lim_j, int(math.sqrt(r2max)))
    while c1 > i:
        c0 = max(c1 - band + 1, i + 1)
        m_lo = max(int(math.floor(t_lo * c0 / big)), 0)
        m_hi = min(int(math.ceil(t_hi * c1 / big)), c1)
        ra, rb = orow + c0 * mr + m_lo * nr, orow + c1 * mr + m_hi * nr
        ca, cb = ocol + c0 * mc + m_lo * nc, ocol + c1 * mc + m_hi * nc
        r_lo, r_hi = max(min(ra, rb), 0), min(max(ra, rb), nrows - 1)
        q_lo, q_hi = max(min(ca, cb), 0), min(max(ca, cb), ncols - 1)
        if r_lo <= r_hi and q_lo <= q_hi:
            bmin = np.inf
            zmax = -np.inf
            lmin = np.inf
            for br in range(r_lo >> BLOCK_SHIFT, (r_hi >> BLOCK_SHIFT) + 1):
                for bc in range(q_lo >> BLOCK_SHIFT, (q_hi >> BLOCK_SHIFT) + 1):
                    bmin = min(bmin, block_min[br, bc])
                    zmax = max(zmax, block_zmax[br, bc])
                    lmin = min(lmin, block_loss[br, bc])
            if zmax > -np.inf:  # else: nodata only
                d_lo = cell * math.sqrt(c0 * c0 + m_lo * m_lo)
                d_hi = cell * math.sqrt(c1 * c1 + m_hi * m_hi)
                ld = math.log10(max(d_lo / 1000.0, MIN_DISTANCE_KM))
                loss = max(loss_a + loss_b * ld, loss_fs + 20.0 * ld)
                bound = top_power - loss - lmin - att
                lift = zmax + rx_height_m - ht  # the line of sight's slope is at most lift / d − bulge · d
                b_max = (lift / d_lo if lift >= 0.0 else lift / d_hi) - bulge * d_lo
                above = a_h - b_max
                if above > 0.0:  # obstructed for every receiver of the band: v >= above · sqrt(k2 · s / (d − s))
                    f_lo = math.sqrt(two_over_lambda * d_lo * s_h / max(d_lo - s_h, 1.0))
                    f_hi = math.sqrt(two_over_lambda * d_hi * s_h / max(d_hi - s_h, 1.0))
                    bound -= knife_edge_db(above * min(f_lo, f_hi))
                if np.float32(bound + CUT_MARGIN_DB) >= bmin:
                    return c1
        c1 = c0 - 1
    return i


@njit(cache=True, error_model="numpy")
def _sweep_octant(elev, orow, ocol, half, octant, row0, col0, hrows, hcols, cell_size_m, ht, rx_height_m, bulge,
                  two_over_lambda, r2min, r2max, fused, dist, vmax, loss_a, loss_b, loss_fs, powers, sites, cell_r2,
                  log_d, best, server, block_min, hull, group_lim, tr_row, surface, classes, loss_lut, use_loss, pat_h,
                  pat_v, pat_cap, use_pat, cut, top_power, att_row, block_zmax, block_loss, rival):
    """Cast the rays of one octant (see :func:`radial_sweep`), column by column, and fill the cells they own.

    Ray j goes from the site towards the cell (H, j) of the octant (major, minor offsets), H = `_ray_half`. At
    column i only every ``sp``-th ray is active, sp the largest power of two with ``sp · i <= H`` (rays stay at
    most one cell apart), plus the last ray; a ray joining at a column inherits the samples of its lower neighbour.
    Cells are (row0 + r, col0 + c) for 0 <= r < hrows, 0 <= c < hcols. `hull` (at least H + 1 × min(half, H) + 2 × 3,
    see `_hull_buffer`) is scratch: per ray, the upper hull of its samples (distance, height, slope from the antenna).

    Unless `fused`, each cell's distance and v_max go to `dist` and `vmax` (window from row0, col0). When `fused`,
    the sweep serves K co-located transmitters at once (the cells of a site with one antenna height and band: the
    terrain, the loss and the diffraction are theirs in common; `powers`, `sites`, `cell_r2` and the antenna tables
    have one entry per transmitter): transmitter q's RSRP ``powers[q] − max(loss_a + loss_b · log10 d_km, loss_fs +
    20 log10 d_km) − J(v_max)`` (`log_d` indexed by i² + m²; only where i² + m² <= ``cell_r2[q]``) is written to
    `best` (grid, row0 = col0 = 0) and ``sites[q]`` to `server` where it beats `best` (each transmitter's value is
    computed exactly as a sweep of it alone would); cells where even the best unobstructed signal (or the horizon
    sample's J) cannot beat it are skipped early.
    `group_lim` (G columns) cuts the rays per group of directions, see `ray_limits`; at column i the cells whose
    direction m / i falls in a group g with ``group_lim[g] < i`` are skipped (`_NO_LIMIT`: no cut).
    When ``tr_row[0] > 0`` (a row of `ictgis.tr38901.coefficients`), the fused loss is TR 38.901's instead of
    ``loss_a + loss_b · log10 d_km``: ``max(LOS, free space) + J(v)`` where v_max <= 0, else
    ``max(LOS + J(v), NLOS')`` (`ictgis.tr38901.combined_loss_db`).

    The rays sample `surface` (the ground plus any canopy; `elev` itself when there is none), the receiver stands on
    `elev`. When fused: `use_loss` subtracts ``loss_lut[classes[r, c]]`` (clutter loss at the receiver by its land-cover
    class, dB, 256 values); `use_pat` subtracts each transmitter's antenna attenuation ``min(A_H + A_V, pat_cap[q])``,
    A_H from ``pat_h[q]`` (360 values by azimuth from north, degrees; a cell's azimuth from the `ATAN_DEG` table) and
    A_V from ``pat_v[q]`` (181 values, −90 … 90 degrees below the horizon) at the angle from the antenna to the
    receiver.

    When `cut` (fused only), every `CUT_EVERY` columns once every ray is active, each ray is cut where no cell it
    serves further out could beat `block_min` given the obstacles it has met so far (`_ray_reach`, with the
    strongest power `top_power`, the octant's smallest antenna attenuation per group of directions `att_row` and
    the block maxima of the ground `block_zmax` and minima of the clutter loss `block_loss`): the cells it would
    have served are skipped, the results do not change.
    """
    nrows, ncols = elev.shape
    mr, mc, nr, nc = OCTANTS[octant, 0], OCTANTS[octant, 1], OCTANTS[octant, 2], OCTANTS[octant, 3]
    big = _ray_half(cell_size_m, half)
    nrays = big + 1
    nh = np.zeros(nrays, np.int64)
    steps = np.empty(nrays)
    for j in range(nrays):
        steps[j] = cell_size_m * np.sqrt(1.0 + (j / big) ** 2)
    sp = 1
    while sp * 2 <= big:
        sp *= 2
    lim = ray_limits(group_lim, big, sp)
    skip = np.empty(nrays, np.int64)
    _link_alive(skip, lim, 1, sp, big)
    ngroups = group_lim.shape[0]
    az_base, az_sign = octant_azimuth(octant)
    ncell = powers.shape[0]
    # cells are first checked with the loss at their column's distance (the loss grows with the distance; not for
    # TR 38.901, whose LOS formula changes at its breakpoint), with the bounds the cut uses
    pre = cut and fused and loss_b >= 0.0 and tr_row[0] <= 0.0 and (att_row.shape[0] == ngroups or not use_pat)
    taken = 0  # samples put on the rays' hulls (the work of the sweep)
    clr = np.empty(ncell)  # per transmitter: RSRP so far (-inf: out of its radius)
    plain = np.empty(ncell)  # per transmitter: RSRP before clutter loss and antenna attenuation
    ahs = np.zeros(ncell)  # per transmitter: horizontal attenuation
    for i in range(1, half + 1):
        if i * i > r2max:
            break
        if sp * i > big:  # rays half-way between the active ones join, with their lower neighbour's samples
            sp //= 2
            for j in range(sp, big, 2 * sp):
                p = j - sp
                nh[j] = nh[p]
                hull[j, :nh[p]] = hull[p, :nh[p]]
            _link_alive(skip, lim, i, sp, big)
        # Cells of column i, each with the active ray passing nearest to its centre.
        last_active = (big // sp) * sp
        col_loss = 0.0  # with `pre`: the loss at distance i cells, at most that of any cell of the column
        if pre:
            ld_col = math.log10(max(cell_size_m * i / 1000.0, MIN_DISTANCE_KM))
            col_loss = max(loss_a + loss_b * ld_col, loss_fs + 20.0 * ld_col)
        m = -1
        while m < i:
            m += 1
            g = min(m * ngroups // i, ngroups - 1)
            if group_lim[g] < i:  # no ray of this group of directions is needed here (see `ray_limits`)
                if g == ngroups - 1:
                    break
                m = ((g + 1) * i + ngroups - 1) // ngroups - 1
                continue
            k = m * m + i * i
            if k > r2max:
                break
            if k <= r2min:
                continue
            target = m * big  # ray position j·i compared with m·H
            j = (target // (i * sp)) * sp
            if j >= last_active:
                j = last_active if 2 * target < (last_active + big) * i else big
            elif 2 * target >= (2 * j + sp) * i:
                j += sp
            if lim[j] < i:  # its ray was cut: no cell it serves from here on can beat the best (see `_ray_reach`)
                nj = _next_alive(skip, lim, j, i, sp, big)
                if nj > big:
                    break  # nor can any cell further along the column
                jump = ((nj - sp) * i) // big  # a cell before the first that ray nj can be nearest to
                if jump > m + 1:
                    m = jump - 1
                continue
            r = orow + i * mr + m * nr - row0
            c = ocol + i * mc + m * nc - col0
            if r < 0 or r >= hrows or c < 0 or c >= hcols:
                continue
            cmax = 0.0  # the best transmitter's RSRP without terrain loss: an upper bound
            d = cell_size_m * np.sqrt(k)
            if fused:
                lut = loss_lut[classes[r, c]] if use_loss else 0.0
                if pre and np.float32(top_power - col_loss - lut - (att_row[g] if use_pat else 0.0) + CUT_MARGIN_DB) \
                        < block_min[r >> BLOCK_SHIFT, c >> BLOCK_SHIFT]:
                    continue  # even at the column's smallest loss no transmitter can beat the block
                # log10 of the distance in km, as `log_d[k]` holds it: computed, because reading that table (MBs,
                # a new cache line at nearly every cell) cost more than the logarithm
                ld = math.log10(max(d / 1000.0, MIN_DISTANCE_KM))
                loss = loss_a + loss_b * ld
                fs = loss_fs + 20.0 * ld
                if tr_row[0] > 0.0:
                    loss = tr38901_los_db(tr_row, d)
                if loss < fs:
                    loss = fs
                if use_pat and att_row.shape[0] == ngroups and np.float32(top_power - loss - lut - att_row[g]) < \
                        block_min[r >> BLOCK_SHIFT, c >> BLOCK_SHIFT]:
                    continue  # no transmitter of the site can beat the block in this group of directions
                az = 0.0
                k0 = 0
                k1 = 0
                if use_pat:
                    az = az_base + az_sign * ATAN_DEG[(m * ATAN_STEPS + (i >> 1)) // i]
                    if az < 0.0:
                        az += 360.0
                    elif az >= 360.0:
                        az -= 360.0
                    k0 = int(az)
                    k1 = k0 + 1 if k0 < 359 else 0
                cmax = -np.inf
                for q in range(ncell):
                    if k > cell_r2[q]:
                        clr[q] = -np.inf
                        continue
                    clear = powers[q] - loss
                    plain[q] = clear
                    if use_loss:
                        clear -= lut
                    if use_pat:
                        ah = pat_h[q, k0] + (az - k0) * (pat_h[q, k1] - pat_h[q, k0])
                        if ah > pat_cap[q]:
                            ah = pat_cap[q]
                        ahs[q] = ah
                        clear -= ah
                    clr[q] = clear
                    if clear > cmax:
                        cmax = clear
                upper = np.float32(cmax)  # compared as stored (float32): rounding keeps the order
                if upper < block_min[r >> BLOCK_SHIFT, c >> BLOCK_SHIFT] or upper < best[r, c] or \
                        upper < rival[r, c]:
                    continue  # cannot beat (nor tie) the best
            zc = elev[r + row0, c + col0]
            if np.isnan(zc):
                continue
            if use_pat:
                down = math.degrees(math.atan((ht - zc - rx_height_m) / d))
                cmax = -np.inf
                for q in range(ncell):
                    if clr[q] == -np.inf:
                        continue
                    extra = ahs[q] + table_lookup(pat_v[q], down + 90.0)
                    if extra > pat_cap[q]:
                        extra = pat_cap[q]
                    clr[q] -= extra - ahs[q]
                    if clr[q] > cmax:
                        cmax = clr[q]
                if np.float32(cmax) < best[r, c] or np.float32(cmax) < rival[r, c]:
                    continue
            if not fused:
                dist[r, c] = d
            n = nh[j]
            if n == 0:
                if fused:
                    for q in range(ncell):
                        if clr[q] > -np.inf and beats(clr[q], sites[q], best[r, c], server[r, c]):
                            best[r, c] = clr[q]
                            server[r, c] = sites[q]
                else:
                    vmax[r, c] = -np.inf
                continue
            b = (zc - d * d * bulge + rx_height_m - ht) / d  # slope of the line of sight
            k2 = two_over_lambda * d
            # v = (a - b) · sqrt(k2 · s / (d - s)) for a hull vertex at distance s and slope a; compared as
            # squares, best² = bn / bd, so that the walk below needs no division nor square root.
            above = hull[j, 0, 2] - b
            bn = above * above * k2 * hull[j, 0, 0]
            bd = max(d - hull[j, 0, 0], 1.0)
            if above > 0.0 and n > 1:
                if fused and (np.float32(cmax - knife_edge_db(np.sqrt(bn / bd))) < best[r, c] or
                              np.float32(cmax - knife_edge_db(np.sqrt(bn / bd))) < rival[r, c]):
                    continue  # v_max >= the horizon sample's v: cannot beat the best either
                # Obstructed: walk the hull away from the horizon sample while samples stand above the line of
                # sight and could still beat the best (slopes fall and weights grow along the hull).
                last_n = k2 * hull[j, n - 1, 0]
                last_d = max(d - hull[j, n - 1, 0], 1.0)
                for q in range(1, n):
                    above_q = hull[j, q, 2] - b
                    if above_q <= 0.0:
                        break
                    a2 = above_q * above_q
                    if a2 * last_n * bd <= bn * last_d:
                        break
                    cn = a2 * k2 * hull[j, q, 0]
                    cd = max(d - hull[j, q, 0], 1.0)
                    if cn * bd > bn * cd:
                        bn, bd = cn, cd
            v = np.sqrt(bn / bd)
            if above <= 0.0:
                v = -v
            if fused:
                jv = knife_edge_db(v)
                nlos = tr38901_nlos_db(tr_row, d) if tr_row[0] > 0.0 and v > 0.0 else 0.0  # terrain cuts the LOS
                for q in range(ncell):
                    if clr[q] == -np.inf:
                        continue
                    rsrp = clr[q] - jv
                    if nlos > 0.0:
                        rsrp = min(rsrp, powers[q] - nlos - (plain[q] - clr[q]))
                    if beats(rsrp, sites[q], best[r, c], server[r, c]):
                        best[r, c] = rsrp
                        server[r, c] = sites[q]
            else:
                vmax[r, c] = v
        # Advance the active rays: sample column i between the two cells each passes, push on its hull.
        j = 0
        m0 = 0
        rem = 0  # j · i = m0 · H + rem, 0 <= rem < H (kept by additions: sp · i <= H)
        while j <= big:
            if lim[j] < i:  # skip the rays no longer needed
                j = _next_alive(skip, lim, j, i, sp, big)
                if j > big:
                    break
                m0 = (j * i) // big
                rem = j * i - m0 * big
            if m0 * m0 + i * i > r2max:
                break
            r = orow + i * mr + m0 * nr
            c = ocol + i * mc + m0 * nc
            if 0 <= r < nrows and 0 <= c < ncols:
                frac = rem / big
                z = surface[r, c]
                if frac > 0.0:
                    r1, c1 = r + nr, c + nc
                    if 0 <= r1 < nrows and 0 <= c1 < ncols:
                        z1 = surface[r1, c1]
                        z = z1 if np.isnan(z) else (z if np.isnan(z1) else z + frac * (z1 - z))
                if not np.isnan(z):
                    s = i * steps[j]
                    zs = z - s * s * bulge
                    n = nh[j]
                    while n > 0:
                        if n > 1:
                            s0, z0 = hull[j, n - 2, 0], hull[j, n - 2, 1]
                        else:
                            s0, z0 = 0.0, ht
                        if (hull[j, n - 1, 0] - s0) * (zs - z0) >= (hull[j, n - 1, 1] - z0) * (s - s0):
                            n -= 1
                        else:
                            break
                    hull[j, n, 0] = s
                    hull[j, n, 1] = zs
                    hull[j, n, 2] = (zs - ht) / s
                    nh[j] = n + 1
                    taken += 1
            if j == big:
                break
            step = min(sp, big - j)
            j += step
            rem += step * i
            while rem >= big:
                rem -= big
                m0 += 1
        if cut and (i & (CUT_EVERY - 1)) == 0:
            # Cut each active ray, with the rays that will join from it, where no cell they serve could beat the
            # best any longer given the obstacles met so far.
            j = 0
            while True:
                end = big + 1 if j == big else (big if j == last_active else j + sp)  # the wedge: rays j … end − 1
                t_lo = j - 0.5 * sp
                t_hi = end - 0.5
                far = 0
                for x in range(j, end):
                    far = max(far, lim[x])
                if far > i and nh[j] > 0:
                    g_lo = max(int(t_lo * ngroups / big), 0)
                    g_hi = min(int(t_hi * ngroups / big), ngroups - 1)
                    att = np.inf
                    for g in range(g_lo, g_hi + 1):
                        att = min(att, att_row[g])
                    reach = _ray_reach(t_lo, t_hi, i, far, big, orow, ocol, mr, mc, nr, nc, nrows, ncols, cell_size_m,
                                       ht, rx_height_m, bulge, two_over_lambda, hull[j, 0, 0], hull[j, 0, 2],
                                       top_power, loss_a, loss_b, loss_fs, r2max, block_min, block_zmax, block_loss,
                                       att)
                    for x in range(j, end):
                        if lim[x] > reach:
                            lim[x] = reach
                if end > big:
                    break
                j = end
            _link_alive(skip, lim, i + 1, sp, big)
    return taken


@njit(cache=True)
def _site_cell(elevation, x_min, y_max, cell_size_m, x, y):
    """Row and column of the site's cell; ValueError when it is outside the grid or on nodata."""
    nrows, ncols = elevation.shape
    orow = int(np.floor((y_max - y) / cell_size_m))
    ocol = int(np.floor((x - x_min) / cell_size_m))
    if not (0 <= orow < nrows and 0 <= ocol < ncols):
        raise ValueError("the site is outside the DEM")
    if np.isnan(elevation[orow, ocol]):
        raise ValueError("the DEM has no data under the site")
    return orow, ocol


@njit(cache=True)
def _sweep_window(elevation, x_min, y_max, cell_size_m, x, y, radius_m):
    nrows, ncols = elevation.shape
    orow, ocol = _site_cell(elevation, x_min, y_max, cell_size_m, x, y)
    half = int(np.ceil(radius_m / cell_size_m))
    row0, col0 = max(orow - half, 0), max(ocol - half, 0)
    row1, col1 = min(orow + half, nrows - 1), min(ocol + half, ncols - 1)
    dist = np.full((row1 - row0 + 1, col1 - col0 + 1), np.nan, np.float32)
    vmax = np.full((row1 - row0 + 1, col1 - col0 + 1), np.nan, np.float32)
    dist[orow - row0, ocol - col0] = 0.0
    vmax[orow - row0, ocol - col0] = -np.inf
    return orow, ocol, half, row0, col0, dist, vmax


@njit(cache=True)
def _plain_sweep_window(elevation, x_min, y_max, cell_size_m, x, y, tx_height_m, radius_m, k_factor):
    """Window and constants of a distance / v_max sweep (shared by `radial_sweep` and its serial twin)."""
    orow, ocol, half, row0, col0, dist, vmax = _sweep_window(elevation, x_min, y_max, cell_size_m, x, y, radius_m)
    ht = elevation[orow, ocol] + tx_height_m
    bulge = 1.0 / (2.0 * k_factor * EARTH_RADIUS_M)
    return orow, ocol, half, row0, col0, dist, vmax, ht, bulge, (radius_m / cell_size_m) ** 2


@njit(cache=True)
def _plain_octant(elevation, o, w, rx_height_m, wavelength_m, cell_size_m):
    """Sweep octant `o` of window `w` (from `_plain_sweep_window`) writing distances and v_max only."""
    orow, ocol, half, row0, col0, dist, vmax, ht, bulge, r2max = w
    no_log, no_best, no_server = np.empty(1), np.empty((1, 1), np.float32), np.empty((1, 1), np.int32)
    _sweep_octant(elevation, orow, ocol, half, o, row0, col0, dist.shape[0], dist.shape[1], cell_size_m, ht,
                  rx_height_m, bulge, 2.0 / wavelength_m, -1.0, r2max, False, dist, vmax, 0.0, 0.0, 0.0, NO_PATTERN,
                  NO_SITES, NO_PATTERN, no_log, no_best, no_server, no_best, _hull_buffer(cell_size_m, half), _NO_LIMIT,
                  NO_TR38901, elevation, NO_CLASSES, NO_PATTERN, False, NO_TABLES, NO_TABLES, NO_PATTERN, False, False,
                  0.0, NO_PATTERN, NO_TABLES, NO_TABLES, no_best)


@njit(cache=True, parallel=True)
def radial_sweep(elevation, x_min, y_max, cell_size_m, x, y, tx_height_m, rx_height_m, radius_m, wavelength_m,
                 k_factor):
    """Distance and dominant-obstacle Fresnel parameter v for every cell within a radius of a site (numba).

    Rays go from the site's cell centre towards every cell of the perimeter of the square of side 2·H + 1,
    H = ceil(`RAY_RADIUS_M` / cell) (doubled while smaller than ceil(r / cell)), and stop at the radius: the ray
    set does not depend on the radius, nor does any cell's result (a smaller radius only cuts the rays). Each ray
    samples the DEM once per cell along its major axis, interpolating between the two cells it passes
    between. Near the site, where rays run less than a cell apart, only every 2^k-th ray is cast; the others start
    where the spacing would pass one cell, with their neighbour's samples so far (off by at most a cell). A cell
    takes the values of the ray passing nearest to its centre. For a receiver at distance d and
    a sample at d1 (d2 = d - d1), with heights lowered by the earth's bulge for an earth of `k_factor`
    × 6,371 km, ``v = h · sqrt(2 / λ · (1/d1 + 1/d2))`` where h is the sample's height above the line from the
    transmitter antenna to the receiver antenna; ``v_max`` is the largest v over the samples before the
    receiver. It is exact when the path is obstructed (``v_max > 0``): the maximum then lies on the upper convex
    hull of the samples, kept incrementally. For clear paths it is the v of the highest-angle sample (the
    horizon), which may be a little lower than the largest v over all samples.

    The 8 octants run in parallel (numba ``prange``); :func:`radial_sweep_serial` is the same without threads,
    for callers that already run sites in parallel.

    Parameters
    ----------
    elevation
        2-D elevations (m), NaN for nodata.
    x_min, y_max
        Upper-left corner of the grid (north-up, square cells).
    cell_size_m
        Cell size.
    x, y
        Site in the grid's CRS.
    tx_height_m, rx_height_m
        Antenna heights above the ground at the site and at every receiver cell.
    radius_m
        Sweep radius.
    wavelength_m
        Radio wavelength (c / f).
    k_factor
        Effective earth radius factor (4/3 standard atmosphere).

    Returns
    -------
    row0, col0 : int
        Upper-left cell of the window in the grid (the window is clipped to the grid).
    distance_m : numpy.ndarray
        float32 distances from the site's cell centre, NaN outside the radius or on nodata.
    v_max : numpy.ndarray
        float32 dominant-obstacle v, -inf where no sample lies between (the site and its neighbours),
        NaN outside the radius or on nodata.

    Raises
    ------
    ValueError
        If the site is outside the grid or on nodata.
    """
    w = _plain_sweep_window(elevation, x_min, y_max, cell_size_m, x, y, tx_height_m, radius_m, k_factor)
    for o in prange(8):
        _plain_octant(elevation, o, w, rx_height_m, wavelength_m, cell_size_m)
    return w[3], w[4], w[5], w[6]


@njit(cache=True)
def radial_sweep_serial(elevation, x_min, y_max, cell_size_m, x, y, tx_height_m, rx_height_m, radius_m,
                        wavelength_m, k_factor):
    """:func:`radial_sweep` on one thread (same arguments and results), to call from a parallel loop."""
    w = _plain_sweep_window(elevation, x_min, y_max, cell_size_m, x, y, tx_height_m, radius_m, k_factor)
    for o in range(8):
        _plain_octant(elevation, o, w, rx_height_m, wavelength_m, cell_size_m)
    return w[3], w[4], w[5], w[6]


@njit(cache=True)
def radial_best_server_serial(elevation, x_min, y_max, cell_size_m, x, y, tx_height_m, rx_height_m, radius_m,
                              wavelength_m, k_factor, loss_a, loss_b, loss_fs, powers, sites, cell_r2, log_d, best,
                              server, block_min, inner_m, octant_r2, ray_lim, tr_row, surface, classes, loss_lut,
                              use_loss, pat_h, pat_v, pat_cap, use_pat, top_power, att_cut, block_zmax,
                              block_loss, rival):
    """Run the sweep of :func:`radial_sweep` fused with a best-server update, on one thread.

    The sweep serves the K co-located transmitters of one antenna height and band at a site (the sectors of a site,
    or one omnidirectional site): ``powers``, ``sites`` (their server numbers, int32) and ``cell_r2`` (their own
    radius in cells, squared) have K entries, ``pat_h`` / ``pat_v`` / ``pat_cap`` K rows. Every cell within
    transmitter q's radius gets ``rsrp = powers[q] − max(loss_a + loss_b · log10 d_km, loss_fs + 20 log10 d_km) −
    J(v_max)`` (ITU-R P.526 knife edge of the sweep's v_max; d_km at least 0.02) and, where it beats `best`
    (float32, the DEM's grid; `beats`: larger, or equal and the server number below `server`), `best` takes it and
    `server` (int32) takes ``sites[q]``: exactly what K sweeps of one transmitter each would give, for the terrain
    work of one. `log_d[k]` must hold ``log10(max(cell · sqrt(k) / 1000, 0.02))`` for k = 0 … floor((radius
    / cell)²). The values are those of the unfused sweep (exact where a cell's RSRP is written); cells whose
    unobstructed signal cannot beat `best` skip the obstacle search; `block_min` (minima of `best` over blocks of
    2^BLOCK_SHIFT cells, may be stale: not above `best`'s block minima) lets most such cells skip reading `best`.
    Cells within `inner_m` (> 0) of the site are left alone (a first pass with ``radius_m = inner_m`` gives them
    exactly the values this sweep would: the ray set does not depend on the radius). Octant o (see `OCTANTS`) stops
    at ``min(radius², octant_r2[o]) · cell²``, and its rays of direction group g (`ray_lim[o]`, see `ray_limits`)
    at column ``ray_lim[o, g]``: the caller must make sure that no cell of a later column whose ray is in that group
    could beat `block_min` (cells of such groups are skipped). `tr_row`: a row of `ictgis.tr38901.coefficients` for a
    TR 38.901 site (the loss of `_sweep_octant`), `NO_TR38901` for the A + B·log10 d loss. `surface`, `classes`,
    `loss_lut`, `use_loss`, `pat_h`, `pat_v`, `pat_cap` and `use_pat` are those of `_sweep_octant` (land cover and a
    sector antenna; the site's own cell gets its clutter loss but no antenna attenuation).

    `block_zmax` and `block_loss` (blocks of `block_min`; `ictgis.coverage.kernels.block_extremes`: the highest ground
    and the smallest clutter loss of each block) let the sweep cut its rays where no cell further out could beat
    `block_min` given the obstacles met (see `_ray_reach`; a 1 × 1 array: no cut, as for TR 38.901 sites), with
    `top_power` (at least every transmitter's power) and `att_cut` (8 × G: per octant and group of ray directions, at
    most the smallest total antenna attenuation below `top_power`). Returns the number of ray samples taken.
    """
    nrows, ncols = elevation.shape
    orow, ocol = _site_cell(elevation, x_min, y_max, cell_size_m, x, y)
    half = int(np.ceil(radius_m / cell_size_m))
    ht = elevation[orow, ocol] + tx_height_m
    bulge = 1.0 / (2.0 * k_factor * EARTH_RADIUS_M)
    r2max = (radius_m / cell_size_m) ** 2
    r2min = (inner_m / cell_size_m) ** 2 if inner_m > 0.0 else -1.0
    loss0 = loss_a + loss_b * log_d[0]
    if tr_row[0] > 0.0:
        loss0 = tr38901_los_db(tr_row, 0.0)
    loss0 = max(loss0, loss_fs + 20.0 * log_d[0])
    for q in range(powers.shape[0]):
        own = powers[q] - loss0
        if use_loss:
            own -= loss_lut[classes[orow, ocol]]
        if inner_m <= 0.0 and beats(own, sites[q], best[orow, ocol], server[orow, ocol]):
            best[orow, ocol] = own
            server[orow, ocol] = sites[q]
    no_dist = np.empty((1, 1), np.float32)
    hull = _hull_buffer(cell_size_m, half)
    # rays are cut by `_ray_reach` given block maxima of the ground (not for TR 38.901: its LOS loss is not monotone
    # across its breakpoint)
    cut = block_zmax.shape[0] == block_min.shape[0] and block_zmax.shape[1] == block_min.shape[1] and \
        tr_row[0] <= 0.0
    taken = 0
    for o in range(8):
        r2o = min(r2max, octant_r2[o])
        taken += _sweep_octant(elevation, orow, ocol, half, o, 0, 0, nrows, ncols, cell_size_m, ht, rx_height_m, bulge,
                      2.0 / wavelength_m, r2min, r2o, True, no_dist, no_dist, loss_a, loss_b, loss_fs, powers, sites,
                      cell_r2, log_d, best, server, block_min, hull, ray_lim[o], tr_row, surface, classes, loss_lut,
                      use_loss, pat_h, pat_v, pat_cap, use_pat, cut, top_power, att_cut[min(o, att_cut.shape[0] - 1)],
                      block_zmax, block_loss, rival)
    return taken
