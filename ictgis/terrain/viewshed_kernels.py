"""Numba kernels of the viewshed: the reference-plane scan of Wang et al. (2000).

As gdal_viewshed's default "edge" mode; :mod:`ictgis.terrain.viewsheds` is their Python side.

Each quadrant around the observer is cut into its two axes, its diagonal and two octants. A cell's horizon height
comes from its two neighbours one step nearer the observer: along the axes and the diagonal that is the cell before
on the same line (a short serial chain), inside an octant both neighbours lie on the previous line across the
octant's major axis (the previous row below the diagonal, the previous column above it). Scanning each octant line
by line along its major axis leaves no cell waiting on its neighbour in the same line, so the CPU overlaps the
cells' divisions; every cell gets the same arithmetic, in the same order, as a plain row-by-row scan.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Viewshed cell values.
VISIBLE, HIDDEN, NODATA = 1, 0, 255


@njit(cache=True, error_model="numpy")
def _mark(z, ref, obs_h, tgt_h, out, r, c):
    """Classify one cell (relative height `z`, horizon `ref`) into ``out[r, c]``; return the horizon it passes on.

    NaN (nodata) is transparent: it keeps the horizon and stays 255.
    """
    if np.isnan(z):
        return ref if ref > -np.inf else -obs_h
    out[r, c] = VISIBLE if z + tgt_h >= ref else HIDDEN
    return max(z, ref)


@njit(cache=True, error_model="numpy")
def _line(elev, orow, ocol, sr, sc, n, zobs, obs_h, tgt_h, kc, axis_kc, out, half, heights):
    """Cells 1..n along a ray from the observer in steps (`sr`, `sc`) (an axis or a diagonal); fill `heights`.

    ``heights[i]`` is the horizon height of the i-th cell; a cell's horizon is extrapolated from the cell before,
    ``heights[i - 1] · i / (i - 1)``, and the cells next to the observer are always visible.
    """
    heights[0] = -obs_h
    for i in range(1, n + 1):
        row, col = orow + sr * i, ocol + sc * i
        ref = heights[i - 1] * i / (i - 1) if i > 1 else -np.inf
        # heights drop by kc · (dx² + dy²); on the column axis as kc · dy · dy (the rounding of the row scan)
        drop = kc * i * i if axis_kc else kc * (sr * sr * i * i + sc * sc * i * i)
        heights[i] = _mark(elev[row, col] - drop - zobs, ref, obs_h, tgt_h, out, half + sr * i, half + sc * i)


@njit(cache=True, error_model="numpy")
def _octant(elev, orow, ocol, mr, mc, nr, nc, m_lim, n_lim, rc2, zobs, obs_h, tgt_h, kc, out, half, axis, diag,
            prev, cur):
    """Cells 0 < n < m of an octant, line by line along its major axis m (step (`mr`, `mc`); minor (`nr`, `nc`)).

    ``axis[m]`` and ``diag[m]`` hold the horizon heights on the octant's edges (minor index 0 and n = m). Within a
    line the cells depend only on the previous line: ``((H[m-1, n-1] · n + H[m-1, n] · (m - n)) / (m - 1)``.
    """
    prev[0], prev[1] = axis[1], diag[1]
    for m in range(2, m_lim + 1):
        if m * m + 1 > rc2:
            break
        cur[0] = axis[m]
        n_end = min(m - 1, n_lim)
        while n_end > 0 and m * m + n_end * n_end > rc2:
            n_end -= 1
        r0, c0 = orow + mr * m, ocol + mc * m
        for n in range(1, n_end + 1):
            ref = (prev[n - 1] * n + prev[n] * (m - n)) / (m - 1)
            row, col = r0 + nr * n, c0 + nc * n
            z = elev[row, col] - kc * (m * m + n * n) - zobs
            cur[n] = _mark(z, ref, obs_h, tgt_h, out, row - orow + half, col - ocol + half)
        cur[m] = diag[m]
        prev, cur = cur, prev


@njit(cache=True, error_model="numpy")
def _scan_site(elev, orow, ocol, obs_h, tgt_h, res, radius_m, curv, out):
    """Fill `out` (square window centred on the observer, pre-filled with 255) with 1 visible / 0 hidden.

    Heights are relative to the observer's eye and lowered by the curvature; a horizon height extrapolated
    from the observer through a point at distance i - 1 to distance i is ``z · i / (i - 1)``.
    """
    nrows, ncols = elev.shape
    half = out.shape[0] // 2
    zobs = elev[orow, ocol] + obs_h
    rc2 = (radius_m / res) ** 2
    kc = curv * res * res  # curvature drop per squared cell offset
    out[half, half] = VISIBLE
    size = half + 1
    row_axis, col_axis, diag = np.empty(size), np.empty(size), np.empty(size)
    prev, cur = np.empty(size), np.empty(size)
    for sr in (-1, 1):
        rows_lim = min(half, orow if sr < 0 else nrows - 1 - orow)
        for sc in (-1, 1):
            cols_lim = min(half, ocol if sc < 0 else ncols - 1 - ocol)
            n_row = cols_lim
            while n_row > 0 and n_row * n_row > rc2:
                n_row -= 1
            n_col = rows_lim
            while n_col > 0 and n_col * n_col > rc2:
                n_col -= 1
            n_diag = min(rows_lim, cols_lim)
            while n_diag > 0 and 2 * n_diag * n_diag > rc2:
                n_diag -= 1
            _line(elev, orow, ocol, 0, sc, n_row, zobs, obs_h, tgt_h, kc, False, out, half, row_axis)
            _line(elev, orow, ocol, sr, 0, n_col, zobs, obs_h, tgt_h, kc, True, out, half, col_axis)
            _line(elev, orow, ocol, sr, sc, n_diag, zobs, obs_h, tgt_h, kc, False, out, half, diag)
            # below the diagonal (|dx| < |dy|): rows outward; above it: columns outward
            _octant(elev, orow, ocol, sr, 0, 0, sc, rows_lim, cols_lim, rc2, zobs, obs_h, tgt_h, kc, out, half,
                    col_axis, diag, prev, cur)
            _octant(elev, orow, ocol, 0, sc, sr, 0, cols_lim, rows_lim, rc2, zobs, obs_h, tgt_h, kc, out, half,
                    row_axis, diag, prev, cur)


@njit(cache=True, parallel=True)
def viewshed_batch(elev, rows, cols, obs_h, tgt_h, res, radius_m, curv, half):
    """Viewsheds of `n` observers (cells `rows`, `cols`, heights `obs_h`): uint8 windows (n, 2·half + 1, 2·half + 1).

    Parallel over observers (numba ``prange``); launch it under ``PARALLEL_LOCK``. `curv` is the curvature drop
    per squared metre (``refraction_coeff / (2 a)``, 0 to ignore the curvature).
    """
    n = rows.shape[0]
    out = np.empty((n, 2 * half + 1, 2 * half + 1), np.uint8)
    for i in prange(n):
        out[i] = NODATA
        _scan_site(elev, rows[i], cols[i], obs_h[i], tgt_h, res, radius_m, curv, out[i])
    return out
