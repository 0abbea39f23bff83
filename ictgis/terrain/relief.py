"""Shaded relief of a :class:`~ictgis.terrain.dem.Dem`, for the web basemap."""

from __future__ import annotations

import math

import numpy as np

from .dem import Dem


def hillshade(dem: Dem, *, azimuth: float = 315.0, altitude: float = 45.0, z_factor: float = 1.0) -> np.ndarray:
    """Shaded relief (Horn's slope and aspect), for the web basemap.

    Parameters
    ----------
    dem
        Elevation model.
    azimuth
        Direction the light comes from, degrees clockwise from north.
    altitude
        Height of the light above the horizon, degrees.
    z_factor
        Vertical exaggeration.

    Returns
    -------
    numpy.ndarray
        uint8 brightness 1–255, 0 where the DEM has no data.
    """
    z = np.pad(dem.elevation.astype(np.float64) * z_factor, 1, mode="edge")
    res = dem.resolution_m
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * res)  # rises to the east
    dzdy = ((a + 2 * b + c) - (g + 2 * h + i)) / (8 * res)  # rises to the north
    # Unit normal (−dz/dx, −dz/dy, 1) dotted with the unit vector toward the light (east, north, up).
    az, alt = math.radians(azimuth), math.radians(altitude)
    light = (math.sin(az) * math.cos(alt), math.cos(az) * math.cos(alt), math.sin(alt))
    shade = (-dzdx * light[0] - dzdy * light[1] + light[2]) / np.sqrt(1 + dzdx ** 2 + dzdy ** 2)
    out = np.clip(np.rint(1 + 254 * np.clip(shade, 0, 1)), 1, 255)
    out[~np.isfinite(shade) | np.isnan(dem.elevation)] = 0
    return out.astype(np.uint8)
