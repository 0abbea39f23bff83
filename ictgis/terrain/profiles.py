"""Elevation profiles along straight lines of a :class:`~ictgis.terrain.dem.Dem`."""

from __future__ import annotations

import math

import numpy as np

from .dem import Dem


def profile(dem: Dem, x0: float, y0: float, x1: float, y1: float, *, step_m: float | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Elevations along a straight line, sampled bilinearly between cell centres at even spacing.

    Parameters
    ----------
    dem
        Elevation model.
    x0, y0, x1, y1
        Ends of the line in the DEM's CRS.
    step_m
        Largest spacing of the samples (default: the DEM's resolution): the line is cut into
        ``max(ceil(length / step_m), 2)`` equal parts, so both ends are samples.

    Returns
    -------
    distances_m, elevations_m : numpy.ndarray
        Distances from (x0, y0) and elevations as float64 (NaN off the DEM or next to nodata).
    """
    from scipy.ndimage import map_coordinates

    step = float(step_m or dem.resolution_m)
    if step <= 0:
        raise ValueError(f"step_m must be positive, got {step_m}")
    length = math.hypot(x1 - x0, y1 - y0)
    n = max(math.ceil(length / step), 2) + 1
    frac = np.linspace(0.0, 1.0, n)
    distances = frac * length
    xs, ys = x0 + frac * (x1 - x0), y0 + frac * (y1 - y0)
    inv = ~dem.transform
    cols = inv.a * xs + inv.b * ys + inv.c - 0.5
    rows = inv.d * xs + inv.e * ys + inv.f - 0.5
    nrows, ncols = dem.shape
    inside = (cols >= -0.5) & (cols <= ncols - 0.5) & (rows >= -0.5) & (rows <= nrows - 0.5)
    values = map_coordinates(dem.elevation, [rows, cols], order=1, mode="nearest", prefilter=False,
                             output=np.float64)
    return distances, np.where(inside, values, np.nan)
