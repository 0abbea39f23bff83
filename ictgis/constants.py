"""Physical constants and the fixed conventions of the radio and terrain models, each in one place.

These are not planning choices: a user has no reason to change them, so they live here rather than in
:mod:`ictgis.settings` (which holds the documented, overridable defaults: costs, thresholds, heights). The module
imports nothing, so command-line options and numba kernels can use it without loading numpy or numba; the kernels
read these module-level floats as compile-time constants. Sources: ``docs/sources.md`` §5.

Attributes
----------
SPEED_OF_LIGHT_M_S : float
    Speed of light in vacuum, 299,792,458 m/s (exact, SI).
SPEED_OF_LIGHT_M_PER_US : float
    The same in metres per microsecond (299.792458): a wavelength in metres is this over a frequency in MHz.
EARTH_RADIUS_M : float
    Mean earth radius, 6,371 km (ITU-R P.452 / P.526 / P.530 use it for the effective earth).
DEFAULT_K_FACTOR : float
    Effective earth radius factor k = 4/3 of the median standard atmosphere (ITU-R P.453 / P.530): the earth bulge
    between two ends of a path, at d1 and d2 from them, is d1·d2 / (2·k·R).
REFRACTION_COEFF : float
    gdal_viewshed's default curvature coefficient ``-cc 0.85714`` (≈ 1 − 1/7, an earth 7/6 larger, i.e. k ≈ 7/6):
    heights drop by ``REFRACTION_COEFF · d² / (2 a)``, ``a`` the semi-major axis of the DEM's ellipsoid.
MIN_DISTANCE_KM : float
    Hata distances are clipped to ≥ 0.02 km: the formula tends to −∞ at 0 and is an extrapolation below 1 km anyway.
KNIFE_EDGE_V_MIN : float
    ITU-R P.526 single knife edge: the loss J(v) is 0 for v ≤ −0.78 (the edge clears ~0.55 of the first Fresnel
    radius).
"""

from __future__ import annotations

SPEED_OF_LIGHT_M_S: float = 299_792_458.0
SPEED_OF_LIGHT_M_PER_US: float = SPEED_OF_LIGHT_M_S / 1e6  # == 299.792458 exactly (correctly rounded division)
EARTH_RADIUS_M: float = 6_371_000.0
DEFAULT_K_FACTOR: float = 4.0 / 3.0
REFRACTION_COEFF: float = 0.85714
MIN_DISTANCE_KM: float = 0.02
KNIFE_EDGE_V_MIN: float = -0.78
