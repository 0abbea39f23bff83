"""Which targets each site would serve (`coverage_matrix`): point-to-point RSRP by the model of the raster.

The Python side of :func:`ictgis.coverage.kernels.pair_rsrp`, used to choose new sites
(:mod:`ictgis.scenario.add_sites`, the web's candidate site) and for the 4G signal at villages of the last-mile
analysis (:mod:`ictgis.lastmile`). It takes the cells (sector antennas) and the land cover of the data folder as
`ictgis.coverage.compute` does, so that a village the raster covers is covered in the matrix for the same site.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import landcover as lc
from .. import radio, settings
from .._errors import LayerError, Problem
from .._validate import Collector
from ..constants import DEFAULT_K_FACTOR, SPEED_OF_LIGHT_M_PER_US
from ..io import Dataset, assign_commune, read_mapping
from ..terrain import PARALLEL_LOCK, Dem, read_dem
from .best_server import clutter_of, transmitters_of
from .kernels import pair_rsrp
from .model import MAX_RADIUS_M, loss_coefficients, site_environment, tr38901_coefficients, unobstructed_reach_km

__all__ = ["coverage_matrix"]


def coverage_matrix(ds: Dataset, sites: gpd.GeoDataFrame, targets: gpd.GeoDataFrame, *, technology: str = "4G",
                    threshold_dbm: float | None = None, max_distance_m: float | None = None,
                    environment: str | None = None, k_factor: float = DEFAULT_K_FACTOR, rx_height_m: float = 1.5,
                    dem: Dem | None = None, cells: pd.DataFrame | bool | None = None,
                    landcover: np.ndarray | bool | None = None, clutter_loss_db: dict | None = None,
                    canopy_m: dict | None = None):
    """Which targets (villages) each site (e.g. a candidate) would serve at the threshold, by the raster's model.

    Every (site, target) pair within reach is evaluated on the bilinear terrain profile between them: Hata (by
    the environment of the site's commune) + knife-edge J(v) of the dominant obstacle, as
    `ictgis.coverage.compute` does per cell. When the data folder has cells and land cover, so does the pair:
    a site with cells gets the best of its cells toward the target (each cell's power, and its antenna's
    attenuation ``min(A_H + A_V, cap)`` at the target's azimuth and angle below the horizon), the target the
    clutter loss of its land-cover class, and the trees' canopy stands on the profile. A site without cells
    for the technology — every new candidate site, whose id is in no cells layer — stays omnidirectional. Without
    cells nor land cover the values are those of the omnidirectional model on bare terrain, exactly.

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
    cells, landcover, clutter_loss_db, canopy_m
        As in `ictgis.coverage.compute` (None reads the data folder's cells layer and ``landcover.tif``; False
        leaves them out). Cells are matched to `sites` by `id`.

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
    mapping = read_mapping(Path(ds.data_dir), Collector()) if ds.data_dir is not None else {}
    tx = transmitters_of(ds, frame, technology, cells=cells, mapping=mapping)
    clutter = clutter_of(ds, dem, landcover=landcover, mapping=mapping, clutter_loss_db=clutter_loss_db,
                         canopy_m=canopy_m)
    params = radio.site_parameters(tx.frame, technology)
    env = np.array([environment] * len(tx.frame), dtype=object) if environment else \
        site_environment(tx.frame, ds["communes"])
    a_coef, b_coef = loss_coefficients(params, env, rx_height_m=rx_height_m, calibration_db=radio.CALIBRATION_DB)
    ref = params.reference_eirp_dbm + params.rx_gain_dbi - params.body_loss_db
    fspl_c = 32.45 + 20.0 * np.log10(params.frequency_mhz)
    nr_coef = tr38901_coefficients(params, env, rx_height_m=rx_height_m, calibration_db=radio.CALIBRATION_DB)
    reach = unobstructed_reach_km(a_coef, b_coef, nr_coef, fspl_c, ref - threshold) * 1000.0
    reach = np.minimum(reach, max_distance_m) if max_distance_m else np.minimum(reach, MAX_RADIUS_M)
    # co-located transmitters of one antenna height and band share a profile (as a sweep of the raster does)
    key = pd.DataFrame({"site": tx.site_row, "h": params.height_m, "f": params.frequency_mhz, "pat": tx.use_pat})
    group = key.groupby(["site", "h", "f", "pat"], sort=False, dropna=False).ngroup().to_numpy()
    perm = np.argsort(group, kind="stable")
    counts = np.bincount(group)
    hi = np.cumsum(counts)
    lo = hi - counts
    first = perm[lo]
    g_reach = np.zeros(len(counts))
    np.maximum.at(g_reach, group, reach)
    sx, sy = tx.frame.geometry.x.to_numpy()[first], tx.frame.geometry.y.to_numpy()[first]
    tx_x, tx_y = targets.geometry.x.to_numpy(), targets.geometry.y.to_numpy()
    from scipy.spatial import cKDTree

    tree = cKDTree(np.column_stack([tx_x, tx_y]))
    lists = tree.query_ball_point(np.column_stack([sx, sy]), r=g_reach)
    pair_s = np.repeat(np.arange(len(first)), [len(x) for x in lists]).astype(np.int64)
    pair_t = np.fromiter((t for x in lists for t in x), dtype=np.int64, count=len(pair_s))
    loss_lut = lc.loss_tables(clutter.losses, env[first]) if clutter.used else np.zeros((len(first), 256))
    t0 = dem.transform
    with PARALLEL_LOCK:
        rsrp = pair_rsrp(dem.elevation, t0.c, t0.f, dem.resolution_m, sx, sy, params.height_m[first], rx_height_m,
                         SPEED_OF_LIGHT_M_PER_US / params.frequency_mhz[first], k_factor, a_coef[first],
                         b_coef[first], fspl_c[first], tx_x, tx_y, pair_s, pair_t, nr_coef[first], clutter.surface,
                         clutter.classes, loss_lut, clutter.used, lo, hi, np.ascontiguousarray(ref[perm], dtype=float),
                         np.ascontiguousarray(tx.pat_h[perm]), np.ascontiguousarray(tx.pat_v[perm]),
                         np.ascontiguousarray(tx.pat_cap[perm]), tx.use_pat[first])
    shape = (len(frame), len(targets))
    site_of = tx.site_row[first]
    pair_site = site_of[pair_s]
    if len(np.unique(site_of)) < len(site_of):  # a site with several sweeps: the best of them per target
        order = np.lexsort((-rsrp, pair_t, pair_site))
        keep = np.ones(len(order), dtype=bool)
        keep[1:] = (np.diff(pair_site[order]) != 0) | (np.diff(pair_t[order]) != 0)
        pair_site, pair_t, rsrp = pair_site[order][keep], pair_t[order][keep], rsrp[order][keep]
    values = sparse.csr_matrix((rsrp, (pair_site, pair_t)), shape=shape)
    ok = rsrp >= threshold
    covered = sparse.csr_matrix((np.ones(int(ok.sum()), dtype=bool), (pair_site[ok], pair_t[ok])), shape=shape)
    return covered, values
