"""Terrain-aware mobile coverage: best-server RSRP, serving site, populated-area coverage.

For every site of a technology, every cell within its radius gets a path loss = Hata (Okumura–Hata below 1500 MHz,
COST-231 above; environment by the site's commune: urban in phường, suburban in thị trấn, rural in xã; never below
free space) + knife-edge diffraction J(v) of the dominant obstacle along the ray from the site (ITU-R P.526; the
sweep is `ictgis.terrain.radial_best_server_serial`, with earth curvature for k = 4/3) + a calibration offset per
environment. Sites at or above 3000 MHz (5G n77/n78) take 3GPP TR 38.901 RMa/UMa instead of Hata, LOS where no
terrain cuts the line of sight and max(LOS + J(v), NLOS) elsewhere (:mod:`ictgis.tr38901`). The received
reference-signal power is the site's reference EIRP (transmit power + antenna gain −
cable loss + the reference-signal share, `ictgis.radio`) minus that loss; the best server of a cell is the site with
the strongest signal.

"Populated-area coverage" is the share of village population whose village location receives at least the
threshold (default −110 dBm) from the best site of the technology, any operator (as ITU SDG 9.c.1 counts); the
share of villages is given beside it. The uncovered villages (lõm sóng) are listed with their best signal and their
nearest site.

One module per job: :mod:`~ictgis.coverage.model` (the `CoverageResult`, the sites of a technology, their
environment and path-loss coefficients, the radius rules), :mod:`~ictgis.coverage.best_server` (`compute`, the
village and commune tables and the summary, `check_inputs` of the cells and land cover) on the numba kernels of
:mod:`~ictgis.coverage.kernels`,
:mod:`~ictgis.coverage.matrix` (`coverage_matrix`, site × village coverage for choosing sites),
:mod:`~ictgis.coverage.indicators` (`populated_area_coverage`) and :mod:`~ictgis.coverage.outputs` (GeoTIFFs,
tables, summary JSON, KMZ, PNG overlays). Every public name is importable from ``ictgis.coverage``.
"""

from __future__ import annotations

from ..constants import DEFAULT_K_FACTOR
from .best_server import check_dataset_inputs, check_inputs, commune_table, compute, village_table
from .indicators import CoverageIndicators, coverage_indicators, populated_area_coverage
from .matrix import coverage_matrix
from .model import (
    ENV_BY_KIND,
    MAX_RADIUS_M,
    RADIUS_MARGIN_DB,
    CoverageResult,
    floor_of,
    loss_coefficients,
    site_environment,
    sites_of,
    tr38901_coefficients,
    unobstructed_reach_km,
)
from .outputs import NO_SIGNAL_DBM, RSRP_CLASSES, colorize, overlay_png, write, write_kmz

__all__ = [
    "DEFAULT_K_FACTOR", "ENV_BY_KIND", "MAX_RADIUS_M", "NO_SIGNAL_DBM", "RADIUS_MARGIN_DB", "RSRP_CLASSES",
    "CoverageIndicators", "CoverageResult", "check_dataset_inputs", "check_inputs", "colorize", "commune_table",
    "compute", "floor_of",
    "coverage_indicators", "coverage_matrix",
    "loss_coefficients", "overlay_png", "populated_area_coverage", "site_environment", "sites_of",
    "tr38901_coefficients", "unobstructed_reach_km", "village_table", "write", "write_kmz",
]
