"""Terrain: DEM input/output, viewsheds, radial Fresnel sweeps, profiles and hillshade.

One module per job: :mod:`~ictgis.terrain.dem` (the :class:`Dem`, reading and writing rasters),
:mod:`~ictgis.terrain.viewsheds` on the numba kernels of :mod:`~ictgis.terrain.viewshed_kernels`,
:mod:`~ictgis.terrain.sweeps` on those of :mod:`~ictgis.terrain.sweep_kernels`, :mod:`~ictgis.terrain.profiles`,
:mod:`~ictgis.terrain.observers` (observer sites read from a user file),
:mod:`~ictgis.terrain.relief` (hillshade), and :mod:`~ictgis.terrain.parallel` (``PARALLEL_LOCK``). Every public
name is importable from ``ictgis.terrain``; the names of the numba modules (kernels, sweeps, viewsheds) are imported
on first use, so reading or writing a raster imports no numba.

The DEM lives in a projected CRS (EPSG:9205 for Điện Biên) on square, north-up cells; elevations are float32
metres with NaN for nodata. Observers snap to the centre of the cell that contains them, as in ``gdal_viewshed``.

Viewsheds follow ``gdal_viewshed`` (GDAL 3.6, default "edge" mode): the reference-plane single scan of Wang et al.
(2000, "Generating viewsheds without using sightlines", PE&RS 66(1)). Rows are scanned outward from the observer;
each cell's horizon height is interpolated from its two neighbours nearer to the observer, along the line that
joins the observer to the cell, and the cell is visible when its ground plus the target height is not below that
horizon. Heights are first lowered by the earth's curvature, ``refraction_coeff · d² / (2 a)`` with ``a`` the
semi-major axis of the DEM's ellipsoid: GDAL's ``-cc`` coefficient, where 0.85714 (= 6/7) models refraction as an
earth of 7/6 times the real radius, 1 ignores refraction and 0 ignores the curvature. Cells next to the observer
are always visible. The kernels are compiled with numba (``cache=True``); :func:`warm_up` compiles them up front.

:func:`radial_sweep` casts rays from a site towards every cell of the perimeter of a fixed square (20 km, see
``RAY_RADIUS_M``), cut at its radius, so that the result of a cell does not depend on the radius, and gives,
for every cell within the radius, its distance and the Fresnel–Kirchhoff parameter ``v`` of the dominant
obstacle between the site and that cell (ITU-R P.526 single knife edge, earth of ``k_factor`` × 6,371 km).
"""

from __future__ import annotations

import importlib
import logging
import time
from typing import TYPE_CHECKING

import numpy as np

from ..constants import EARTH_RADIUS_M, REFRACTION_COEFF
from .dem import Dem, read_dem, write_raster, write_windows
from .observers import OBSERVERS_SCHEMA, read_observers
from .parallel import PARALLEL_LOCK
from .profiles import profile
from .relief import hillshade

if TYPE_CHECKING:
    from .sweep_kernels import (
        BLOCK_SHIFT,
        RAY_RADIUS_M,
        radial_best_server_serial,
        radial_sweep,
        radial_sweep_serial,
    )
    from .sweeps import Sweep, sweep
    from .viewshed_kernels import HIDDEN, NODATA, VISIBLE, viewshed_batch  # noqa: F401 (not in __all__)
    from .viewsheds import ViewshedStack, observer_cells, viewshed, viewshed_many

logger = logging.getLogger(__name__)

#: Names of the modules on numba, imported on first use (``from ictgis.terrain import read_dem`` imports no numba:
#: numba and the kernels cost about half a second of CPU to import).
_LAZY = {
    **dict.fromkeys(("BLOCK_SHIFT", "RAY_RADIUS_M", "radial_best_server_serial", "radial_sweep",
                     "radial_sweep_serial"), "sweep_kernels"),
    **dict.fromkeys(("Sweep", "sweep"), "sweeps"),
    **dict.fromkeys(("HIDDEN", "NODATA", "VISIBLE", "viewshed_batch"), "viewshed_kernels"),
    **dict.fromkeys(("ViewshedStack", "observer_cells", "viewshed", "viewshed_many"), "viewsheds"),
}

__all__ = [
    "BLOCK_SHIFT", "EARTH_RADIUS_M", "HIDDEN", "NODATA", "OBSERVERS_SCHEMA", "PARALLEL_LOCK", "RAY_RADIUS_M",
    "REFRACTION_COEFF", "VISIBLE", "Dem", "Sweep", "ViewshedStack", "hillshade", "observer_cells", "profile",
    "radial_best_server_serial", "radial_sweep", "radial_sweep_serial", "read_dem", "read_observers", "sweep",
    "viewshed",
    "viewshed_many", "warm_up", "write_raster", "write_windows",
]


def __getattr__(name: str):
    """Import a name of a numba module on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def warm_up() -> float:
    """Compile (or load from numba's cache) every terrain kernel on a tiny DEM; return the seconds it took."""
    from .sweep_kernels import radial_best_server_serial, radial_sweep, radial_sweep_serial
    from .viewshed_kernels import viewshed_batch

    t0 = time.perf_counter()
    elev = np.arange(49, dtype=np.float32).reshape(7, 7) % 5
    with PARALLEL_LOCK:
        viewshed_batch(elev, np.array([3]), np.array([3]), np.array([10.0]), 1.5, 30.0, 90.0, 1e-8, 3)
        radial_sweep(elev, 0.0, 210.0, 30.0, 105.0, 105.0, 30.0, 1.5, 90.0, 0.333, 4.0 / 3.0)
    radial_sweep_serial(elev, 0.0, 210.0, 30.0, 105.0, 105.0, 30.0, 1.5, 90.0, 0.333, 4.0 / 3.0)
    radial_best_server_serial(elev, 0.0, 210.0, 30.0, 105.0, 105.0, 30.0, 1.5, 90.0, 0.333, 4.0 / 3.0, 130.0, 35.0,
                              32.0, np.full(1, 20.0), np.zeros(1, np.int32), np.full(1, 9.0), np.zeros(10),
                              np.full((7, 7), -np.inf, np.float32),
                              np.full((7, 7), -1, np.int32), np.full((1, 1), -np.inf, np.float32), 0.0,
                              np.full(8, 1e9), np.full((8, 1), 1 << 40, np.int64), np.zeros(11),
                              elev, np.zeros((1, 1), np.uint8), np.zeros(256), False, np.zeros((1, 360)),
                              np.zeros((1, 181)), np.zeros(1), False, 0.0, np.zeros((1, 1)), np.zeros((1, 1)),
                              np.zeros((1, 1)), np.full((7, 7), -np.inf, np.float32))
    elapsed = time.perf_counter() - t0
    logger.debug("terrain kernels ready in %.2f s", elapsed)
    return elapsed
