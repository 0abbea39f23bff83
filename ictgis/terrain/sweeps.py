"""One radial Fresnel sweep of a :class:`~ictgis.terrain.dem.Dem` (method: `sweep_kernels.radial_sweep`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constants import DEFAULT_K_FACTOR, SPEED_OF_LIGHT_M_PER_US
from .dem import Dem
from .parallel import PARALLEL_LOCK
from .sweep_kernels import radial_sweep
from .viewsheds import observer_cells


@dataclass(frozen=True, eq=False)
class Sweep:
    """Result of :func:`sweep`: `distance_m` and `v_max` on a window of the DEM's grid from (`row0`, `col0`)."""

    row0: int
    col0: int
    distance_m: np.ndarray
    v_max: np.ndarray


def sweep(dem: Dem, x: float, y: float, *, tx_height_m: float, rx_height_m: float = 1.5, radius_m: float,
          frequency_mhz: float, k_factor: float = DEFAULT_K_FACTOR) -> Sweep:
    """Run :func:`radial_sweep` for one site of a :class:`Dem` at `frequency_mhz` (see there for the method).

    Raises
    ------
    LayerError
        If the site is outside the DEM or on nodata.
    """
    observer_cells(dem, [x], [y], label="site")
    t = dem.transform
    with PARALLEL_LOCK:
        row0, col0, dist, vmax = radial_sweep(dem.elevation, t.c, t.f, dem.resolution_m, float(x), float(y),
                                          float(tx_height_m), float(rx_height_m), float(radius_m),
                                          SPEED_OF_LIGHT_M_PER_US / frequency_mhz, float(k_factor))
    return Sweep(int(row0), int(col0), dist, vmax)
