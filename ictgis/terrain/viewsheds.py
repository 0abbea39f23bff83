"""Viewsheds of one or many observers on a :class:`~ictgis.terrain.dem.Dem`, as ``gdal_viewshed``."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .._errors import LayerError, Problem
from ..constants import REFRACTION_COEFF  # gdal_viewshed's -cc default (earth 7/6 larger): docs/sources.md §5
from .dem import Dem
from .parallel import PARALLEL_LOCK
from .viewshed_kernels import NODATA, viewshed_batch

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ViewshedStack:
    """Viewsheds of many observers, each on a square window of the DEM's grid centred on its observer.

    Attributes
    ----------
    data
        uint8 array (sites, size, size): 1 visible, 0 hidden, 255 beyond the radius, off the DEM or nodata.
    rows0, cols0
        Row and column in the DEM's grid of each window's upper-left cell (may be negative near the edges).
    dem_shape
        Shape of the DEM's grid.
    """

    data: np.ndarray
    rows0: np.ndarray
    cols0: np.ndarray
    dem_shape: tuple[int, int]

    def __len__(self) -> int:
        return self.data.shape[0]

    def window(self, i: int) -> tuple[int, int, np.ndarray]:
        """(row0, col0, values) of site `i`, clipped to the DEM's grid."""
        size = self.data.shape[1]
        r0, c0 = int(self.rows0[i]), int(self.cols0[i])
        rows, cols = self.dem_shape
        ra, ca = max(r0, 0), max(c0, 0)
        rb, cb = min(r0 + size, rows), min(c0 + size, cols)
        return ra, ca, self.data[i, ra - r0:rb - r0, ca - c0:cb - c0]

    def full(self, i: int) -> np.ndarray:
        """Viewshed of site `i` on the whole DEM grid (255 outside its window)."""
        out = np.full(self.dem_shape, NODATA, np.uint8)
        r0, c0, values = self.window(i)
        out[r0:r0 + values.shape[0], c0:c0 + values.shape[1]] = values
        return out


def observer_cells(dem: Dem, xs: ArrayLike, ys: ArrayLike, *, ids: list | None = None,
                   label: str = "observers") -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the observers' cells (`ids` and `label` name them in messages).

    Raises
    ------
    LayerError
        Listing every observer off the DEM, on nodata or without numeric coordinates.
    """
    xs = np.atleast_1d(np.asarray(xs, dtype=float))
    ys = np.atleast_1d(np.asarray(ys, dtype=float))
    finite = np.isfinite(xs) & np.isfinite(ys)
    rows, cols = dem.cell_of(np.where(finite, xs, dem.transform.c), np.where(finite, ys, dem.transform.f))
    nrows, ncols = dem.shape
    problems = []
    for i in range(rows.size):
        fid = None if ids is None else str(ids[i])
        if not finite[i]:
            problems.append(Problem(label, "the coordinates are not numbers", row=i + 1, feature_id=fid))
        elif not (0 <= rows[i] < nrows and 0 <= cols[i] < ncols):
            problems.append(Problem(label, f"observer ({xs[i]:.1f}, {ys[i]:.1f}) is outside the DEM "
                                    f"(bounds {', '.join(f'{b:.0f}' for b in dem.bounds)})", row=i + 1,
                                    feature_id=fid))
        elif np.isnan(dem.elevation[rows[i], cols[i]]):
            problems.append(Problem(label, f"the DEM has no data under observer ({xs[i]:.1f}, {ys[i]:.1f})",
                                    row=i + 1, feature_id=fid))
    if problems:
        n = len(problems)
        raise LayerError(f"{n} observer{'s are' if n > 1 else ' is'} not on the DEM:", problems)
    return rows, cols


def viewshed_many(dem: Dem, xs: ArrayLike, ys: ArrayLike, heights_m: ArrayLike, *,
                  target_height_m: float = 1.5, max_radius_m: float, refraction_coeff: float = REFRACTION_COEFF,
                  curvature: bool = True, ids: list | None = None) -> ViewshedStack:
    """Viewsheds of many observers at once (numba, parallel over observers).

    Parameters
    ----------
    dem
        Elevation model.
    xs, ys
        Observer coordinates in the DEM's CRS.
    heights_m
        Observer heights above the ground (one per observer, or one for all).
    target_height_m
        Height above the ground of the targets.
    max_radius_m
        Radius of the viewsheds.
    refraction_coeff
        gdal_viewshed's ``-cc``: the drop ``refraction_coeff · d² / (2 a)`` is taken off every height.
    curvature
        False ignores the earth's curvature (same as ``refraction_coeff=0``).
    ids
        Observer names used in error messages.

    Returns
    -------
    ViewshedStack
        One window of ``2·ceil(max_radius_m / resolution_m) + 1`` cells a side per observer (one byte per cell:
        batch the calls when sites × window cells would not fit in memory).

    Raises
    ------
    LayerError
        Listing every observer outside the DEM or on nodata.
    """
    xs = np.atleast_1d(np.asarray(xs, dtype=float))
    ys = np.atleast_1d(np.asarray(ys, dtype=float))
    heights = np.broadcast_to(np.asarray(heights_m, dtype=float), xs.shape).copy()
    if xs.shape != ys.shape or xs.ndim != 1:
        raise ValueError("xs and ys must be 1-D arrays of the same length")
    if not max_radius_m > 0:
        raise ValueError(f"max_radius_m must be positive, got {max_radius_m}")
    rows, cols = observer_cells(dem, xs, ys, ids=ids)
    half = math.ceil(max_radius_m / dem.resolution_m)
    curv = refraction_coeff / (2.0 * dem.semi_major_m) if curvature else 0.0
    t0 = time.perf_counter()
    with PARALLEL_LOCK:
        data = viewshed_batch(dem.elevation, rows, cols, heights, float(target_height_m), dem.resolution_m,
                           float(max_radius_m), curv, half)
    logger.debug("viewshed of %d observers (r %.0f m) in %.3f s", xs.size, max_radius_m, time.perf_counter() - t0)
    return ViewshedStack(data, rows - half, cols - half, dem.shape)


def viewshed(dem: Dem, x: float, y: float, *, observer_height_m: float, target_height_m: float = 1.5,
             max_radius_m: float, refraction_coeff: float = REFRACTION_COEFF, curvature: bool = True) -> np.ndarray:
    """Viewshed of one observer on the DEM's grid, as ``gdal_viewshed``.

    Parameters
    ----------
    dem
        Elevation model.
    x, y
        Observer in the DEM's CRS (snapped to the centre of its cell).
    observer_height_m
        Observer height above the ground.
    target_height_m
        Target height above the ground.
    max_radius_m
        Cells farther than this from the observer are 255.
    refraction_coeff
        gdal_viewshed's ``-cc`` (0.85714: standard refraction).
    curvature
        Take the earth's curvature into account.

    Returns
    -------
    numpy.ndarray
        uint8 on the DEM's grid: 1 visible, 0 hidden, 255 beyond the radius or where the DEM has no data.

    Raises
    ------
    LayerError
        If the observer is outside the DEM or on nodata.

    Examples
    --------
    >>> dem = Dem.from_array(np.zeros((5, 5)), x_min=500_000, y_max=2_360_000, resolution_m=30)
    >>> v = viewshed(dem, 500_075, 2_359_925, observer_height_m=10, max_radius_m=60)
    >>> int((v == 1).sum()), int((v == 255).sum())
    (13, 12)
    """
    stack = viewshed_many(dem, [x], [y], observer_height_m, target_height_m=target_height_m,
                          max_radius_m=max_radius_m, refraction_coeff=refraction_coeff, curvature=curvature)
    return stack.full(0)
