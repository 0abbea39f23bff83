"""Numba kernels of the viewshed: the reference-plane scan of Wang et al. (2000).

As gdal_viewshed's default "edge" mode; :mod:`ictgis.terrain.viewsheds` is their Python side.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Viewshed cell values.
VISIBLE, HIDDEN, NODATA = 1, 0, 255


@njit(cache=True, error_model="numpy")
def _scan_row(elev, row, dy, ocol, zobs, obs_h, tgt_h, kc, rc2, last, this, out_row):
    """One row of the scan, `dy` rows from the observer's; `last` holds the horizon heights of the row before."""
    ncols = elev.shape[1]
    half = out_row.shape[0] // 2
    # Centre cell, in the observer's column.
    if dy == 0:  # the observer's own cell: visible; its horizon height is never used
        out_row[half] = VISIBLE
        this[half] = -obs_h
    else:
        ref = last[half] * dy / (dy - 1) if dy > 1 else -np.inf
        z = elev[row, ocol] - kc * dy * dy - zobs
        if np.isnan(z):  # nodata: transparent, keeps the horizon
            this[half] = ref if dy > 1 else -obs_h
        else:
            out_row[half] = VISIBLE if z + tgt_h >= ref else HIDDEN
            this[half] = max(z, ref)
    for side in (-1, 1):
        for dx in range(1, half + 1):
            col = ocol + side * dx
            if col < 0 or col >= ncols or dx * dx + dy * dy > rc2:
                break
            k = half + side * dx
            kp = k - side  # one cell nearer to the observer along the row
            if dy <= 1 and dx == 1:
                ref = -np.inf  # next to the observer
            elif dy == 0:
                ref = this[kp] * dx / (dx - 1)
            elif dx > dy:
                ref = (last[kp] * dy + this[kp] * (dx - dy)) / (dx - 1)
            elif dx == dy:
                ref = last[kp] * dx / (dx - 1)
            else:
                ref = (last[kp] * dx + last[k] * (dy - dx)) / (dy - 1)
            z = elev[row, col] - kc * (dx * dx + dy * dy) - zobs
            if np.isnan(z):  # nodata: transparent, keeps the horizon
                this[k] = ref if ref > -np.inf else -obs_h
            else:
                out_row[k] = VISIBLE if z + tgt_h >= ref else HIDDEN
                this[k] = max(z, ref)


@njit(cache=True)
def _scan_site(elev, orow, ocol, obs_h, tgt_h, res, radius_m, curv, out):
    """Fill `out` (square window centred on the observer, pre-filled with 255) with 1 visible / 0 hidden.

    Heights are relative to the observer's eye and lowered by the curvature; a horizon height extrapolated
    from the observer through a point at distance i - 1 to distance i is ``z · i / (i - 1)``.
    """
    nrows = elev.shape[0]
    half = out.shape[0] // 2
    zobs = elev[orow, ocol] + obs_h
    rc2 = (radius_m / res) ** 2
    kc = curv * res * res  # curvature drop per squared cell offset
    first = np.empty(out.shape[0])
    _scan_row(elev, orow, 0, ocol, zobs, obs_h, tgt_h, kc, rc2, first, first, out[half])
    for step in (-1, 1):
        last = first.copy()
        this = np.empty(out.shape[0])
        for dy in range(1, half + 1):
            row = orow + step * dy
            if row < 0 or row >= nrows or dy * dy > rc2:
                break
            _scan_row(elev, row, dy, ocol, zobs, obs_h, tgt_h, kc, rc2, last, this, out[half + step * dy])
            last, this = this, last


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
