"""Which targets each site would serve (`coverage_matrix`): point-to-point RSRP by the model of the raster.

The Python side of :func:`ictgis.coverage.kernels.pair_rsrp`, used to choose new sites
(:mod:`ictgis.scenario.add_sites`).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from .. import radio, settings
from .._errors import LayerError, Problem
from ..constants import DEFAULT_K_FACTOR, SPEED_OF_LIGHT_M_PER_US
from ..io import Dataset, assign_commune
from ..terrain import PARALLEL_LOCK, Dem, read_dem
from .kernels import pair_rsrp
from .model import MAX_RADIUS_M, loss_coefficients, site_environment, tr38901_coefficients, unobstructed_reach_km

__all__ = ["coverage_matrix"]


def coverage_matrix(ds: Dataset, sites: gpd.GeoDataFrame, targets: gpd.GeoDataFrame, *, technology: str = "4G",
                    threshold_dbm: float | None = None, max_distance_m: float | None = None,
                    environment: str | None = None, k_factor: float = DEFAULT_K_FACTOR, rx_height_m: float = 1.5,
                    dem: Dem | None = None):
    """Which targets (villages) each site (e.g. a candidate) would serve at the threshold, by the raster's model.

    Every (site, target) pair within reach is evaluated on the bilinear terrain profile between them: Hata (by
    the environment of the site's commune) + knife-edge J(v) of the dominant obstacle, as
    `ictgis.coverage.compute` does per cell.

    Parameters
    ----------
    ds
        Dataset (communes for the environments, the DEM).
    sites
        Points with optional `height_m`, `band_mhz` (link budget defaults otherwise) and `commune`.
    targets
        Points (villages) in the same CRS.
    technology, threshold_dbm, max_distance_m, environment, k_factor, rx_height_m, dem
        As in `ictgis.coverage.compute`; `max_distance_m` defaults to each site's unobstructed reach at the
        threshold.

    Returns
    -------
    (scipy.sparse.csr_matrix, numpy.ndarray)
        Boolean coverage matrix sites × targets, and the RSRP of every evaluated pair as a sparse matrix of the
        same shape (dBm, only pairs within reach are stored).
    """
    from scipy import sparse

    threshold = settings.rsrp_threshold_dbm if threshold_dbm is None else float(threshold_dbm)
    if dem is None:
        if ds.dem_path is None:
            raise LayerError("a coverage matrix needs a DEM", [Problem("dem.tif", "not found")])
        dem = read_dem(ds.dem_path)
    frame = sites.copy()
    frame["tech"] = technology.upper()
    if "commune" not in frame:
        frame = assign_commune(frame, ds["communes"])
    params = radio.site_parameters(frame, technology)
    env = np.array([environment] * len(frame), dtype=object) if environment else \
        site_environment(frame, ds["communes"])
    a_coef, b_coef = loss_coefficients(params, env, rx_height_m=rx_height_m, calibration_db=radio.CALIBRATION_DB)
    ref = params.reference_eirp_dbm + params.rx_gain_dbi - params.body_loss_db
    fspl_c = 32.45 + 20.0 * np.log10(params.frequency_mhz)
    nr_coef = tr38901_coefficients(params, env, rx_height_m=rx_height_m, calibration_db=radio.CALIBRATION_DB)
    reach = unobstructed_reach_km(a_coef, b_coef, nr_coef, fspl_c, ref - threshold) * 1000.0
    reach = np.minimum(reach, max_distance_m) if max_distance_m else np.minimum(reach, MAX_RADIUS_M)
    sx, sy = frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()
    tx, ty = targets.geometry.x.to_numpy(), targets.geometry.y.to_numpy()
    from scipy.spatial import cKDTree

    tree = cKDTree(np.column_stack([tx, ty]))
    lists = tree.query_ball_point(np.column_stack([sx, sy]), r=reach)
    pair_s = np.repeat(np.arange(len(frame)), [len(x) for x in lists]).astype(np.int64)
    pair_t = np.fromiter((t for x in lists for t in x), dtype=np.int64, count=len(pair_s))
    t0 = dem.transform
    with PARALLEL_LOCK:
        rsrp = pair_rsrp(dem.elevation, t0.c, t0.f, dem.resolution_m, sx, sy, params.height_m, rx_height_m,
                         SPEED_OF_LIGHT_M_PER_US / params.frequency_mhz, k_factor, a_coef, b_coef,
                         fspl_c, ref, tx, ty, pair_s, pair_t, nr_coef)
    shape = (len(frame), len(targets))
    values = sparse.csr_matrix((rsrp, (pair_s, pair_t)), shape=shape)
    ok = rsrp >= threshold
    covered = sparse.csr_matrix((np.ones(int(ok.sum()), dtype=bool), (pair_s[ok], pair_t[ok])), shape=shape)
    return covered, values
