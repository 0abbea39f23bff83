"""New-site placement: candidate sites and the maximal covering location problem (MCLP).

- **Candidates** (`generate_candidates`, `read_candidates`): local high ground near villages without signal, plus
  points near roads, thinned to a minimum spacing, each priced by the cost model below.
- **Optimisation** (`MaximalCovering`, from :mod:`ictgis.mclp`, where the solver on arrays lives): from a boolean
  coverage matrix candidate × village (RSRP ≥ threshold, from the coverage engine: `ictgis.coverage.coverage_matrix`,
  the raster's model with the data folder's land cover; a candidate is a new site without cells, so it is
  omnidirectional), populations and the villages existing sites already cover, choose the new sites covering the
  most people, by count (``n_sites``) or budget
  (``budget_vnd``, knapsack MCLP), greedy or exact (HiGHS), with the LP bound.

Cost model (USD, from :mod:`ictgis.settings`; converted with ``ictgis.settings.usd_to_vnd``)
------------------------------------------------------------------------------------------
The module constants below are the settings' values, under the names this module has always exported; the sources
are in ``docs/sources.md`` §4 (Oughton's open rural 4G cost model): per sector antenna 1,500 + radio unit 4,000
(3 sectors); per site power/battery 5,000, tower 5,000, civil works 5,000, transport 5,000, installation 5,000 —
41,500 itemised. Oughton puts a rural 3-sector greenfield 4G site at ≈ 48–50 k USD before backhaul; the 7,500 USD
remainder (`SITE_OTHER_USD`: site acquisition, planning, contingency) is our assumption to reach 49,000. Backhaul:
a fiber spur at 5 USD/m (Oughton's rural rate) from the nearest road (fiber assumed to run along roads), or
microwave at 30,000 USD (Oughton: 30–80 k), whichever is cheaper; microwave when no road layer is given. Power: a
site within `GRID_DISTANCE_M` of the power grid (or of a road, when no grid layer is given) is on the grid, covered
by the power/battery line; an off-grid site adds `OFFGRID_POWER_USD` (``settings.solar_kit_usd``: solar +
batteries; our assumption, not in Oughton's model).

The solver on arrays, with its example, is :mod:`ictgis.mclp`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy import ndimage
from scipy.spatial import cKDTree

from . import settings
from ._errors import CRSError, LayerError
from .layers import Field, LayerSchema
from .mclp import MaximalCovering, SitingProblem

if TYPE_CHECKING:
    from affine import Affine

logger = logging.getLogger(__name__)

__all__ = [
    "FIBER_RURAL_USD_PER_M", "GREENFIELD_USD", "GRID_DISTANCE_M", "MICROWAVE_BACKHAUL_USD", "OFFGRID_POWER_USD",
    "SECTORS", "SECTOR_ANTENNA_USD", "SECTOR_RADIO_USD", "SITE_CIVIL_USD", "SITE_INSTALL_USD", "SITE_OTHER_USD",
    "SITE_POWER_USD", "SITE_TOWER_USD", "SITE_TRANSPORT_USD", "CANDIDATES_SCHEMA", "MaximalCovering", "SitingProblem",
    "generate_candidates", "read_candidates", "site_cost_vnd",
]

# ------------------------------------------------- cost model (settings; docs/sources.md §4, Oughton, USD)
SECTORS: int = settings.sectors_per_site
SECTOR_ANTENNA_USD: float = settings.sector_antenna_usd
SECTOR_RADIO_USD: float = settings.sector_radio_usd
SITE_POWER_USD: float = settings.site_power_usd
SITE_TOWER_USD: float = settings.site_tower_usd
SITE_CIVIL_USD: float = settings.site_civil_usd
SITE_TRANSPORT_USD: float = settings.site_transport_usd
SITE_INSTALL_USD: float = settings.site_install_usd
SITE_OTHER_USD: float = settings.site_other_usd
GREENFIELD_USD: float = settings.site_greenfield_usd  # 49,000
FIBER_RURAL_USD_PER_M: float = settings.fiber_usd_per_m["rural"]
MICROWAVE_BACKHAUL_USD: float = settings.microwave_backhaul_usd
OFFGRID_POWER_USD: float = settings.solar_kit_usd
GRID_DISTANCE_M: float = 1_000.0

CANDIDATES_SCHEMA = LayerSchema(
    name="candidates", geometry="Point", id_field="id", label_vi="Vị trí ứng viên",
    description="Candidate sites for new BTS.",
    fields=(Field("id", "str", True, "Candidate id", aliases=("ma_tram", "site_id", "candidate", "ma")),
            Field("cost_vnd", "float", False, "Capex of the site (VND)", aliases=("cost", "chi_phi")),
            Field("grid", "bool", False, "Grid power available", aliases=("dien_luoi",)),
            Field("dist_road_m", "float", False, "Distance to a road (m)", aliases=("dist_road_", "dist_road")),
            Field("elev_m", "float", False, "Ground elevation (m)", aliases=("elev", "do_cao"))))
"""Schema of a user file of candidate sites (`read_candidates`, through `ictgis.io.read_layer`)."""


# ========================================================================================== candidates
def site_cost_vnd(dist_road_m: np.ndarray | float, grid: np.ndarray | bool, *, usd_to_vnd: float | None = None
                  ) -> np.ndarray:
    """Capex of a new greenfield 4G site, in VND (module docstring: cost model, docs/sources.md §4).

    Parameters
    ----------
    dist_road_m
        Distance to the nearest road (NaN when unknown: microwave backhaul).
    grid
        Whether the site can take grid power.
    usd_to_vnd
        Exchange rate (default ``settings.usd_to_vnd``).

    Returns
    -------
    numpy.ndarray
        Cost per site, VND.
    """
    rate = settings.usd_to_vnd if usd_to_vnd is None else float(usd_to_vnd)
    d = np.asarray(dist_road_m, dtype=float)
    backhaul = np.where(np.isnan(d), MICROWAVE_BACKHAUL_USD,
                        np.minimum(FIBER_RURAL_USD_PER_M * np.nan_to_num(d), MICROWAVE_BACKHAUL_USD))
    power = np.where(np.asarray(grid, dtype=bool), 0.0, OFFGRID_POWER_USD)
    return (GREENFIELD_USD + backhaul + power) * rate


def _read_dem(dem: object) -> tuple[np.ndarray, Affine, CRS | None]:
    """Return (elevation with NaN for no data, affine transform, CRS or None) from a path, tuple or object."""
    if isinstance(dem, (str, Path)):
        from .terrain import read_dem

        grid = read_dem(dem)
        return grid.elevation.astype(float), grid.transform, grid.crs
    if isinstance(dem, tuple):
        z, transform, *rest = dem
        crs = rest[0] if rest else None
    else:
        z = next((getattr(dem, n) for n in ("elevation", "array", "z", "values") if hasattr(dem, n)), None)
        transform, crs = getattr(dem, "transform", None), getattr(dem, "crs", None)
        if z is None or transform is None:
            raise TypeError("dem must be a GeoTIFF path, (array, transform[, crs]) or have array and transform")
    return np.asarray(z, dtype=float), transform, CRS(crs) if crs is not None else None


def _nearest_distance(points: np.ndarray, layer: gpd.GeoDataFrame | None) -> np.ndarray:
    if layer is None or layer.empty:
        return np.full(len(points), np.nan)
    geoms = np.asarray(layer.geometry.values, dtype=object)
    tree = shapely.STRtree(geoms[~shapely.is_missing(geoms)])
    (idx_in, _), dist = tree.query_nearest(points, return_distance=True, all_matches=False)
    out = np.full(len(points), np.nan)
    out[idx_in] = dist
    return out


def generate_candidates(dem: object, villages: gpd.GeoDataFrame, *, uncovered_mask: Sequence[bool] | None = None,
                        roads: gpd.GeoDataFrame | None = None, grid_power: gpd.GeoDataFrame | None = None,
                        spacing_m: float = 1_500.0, search_radius_m: float = 4_000.0, n_max: int = 2_000,
                        per_village: int = 3, road_buffer_m: float = 300.0, grid_distance_m: float = GRID_DISTANCE_M,
                        usd_to_vnd: float | None = None) -> gpd.GeoDataFrame:
    """Generate candidate sites on high ground near villages without signal, and near roads.

    For each uncovered village, the `per_village` highest local maxima of the DEM (maxima over a window of
    `spacing_m`) within `search_radius_m`, the highest cell there when it holds fewer maxima, and the highest cell
    within `road_buffer_m` of a road; then thinned (highest first) so no two candidates are closer than
    `spacing_m`, and the `n_max` with the most uncovered population within `search_radius_m` kept.

    Parameters
    ----------
    dem
        DEM GeoTIFF path, ``(array, transform[, crs])``, or an object with ``elevation``/``array`` and
        ``transform``; north-up, in the villages' CRS (EPSG:9205).
    villages
        Village points with `population`.
    uncovered_mask
        True for villages without signal (default: all).
    roads
        Road lines: distance to road (fiber backhaul), road candidates, grid power proxy.
    grid_power
        Power lines or substations; when None, a site within `grid_distance_m` of a road counts as on the grid.
    spacing_m, search_radius_m, n_max, per_village, road_buffer_m, grid_distance_m
        See above.
    usd_to_vnd
        Exchange rate for the cost model (default ``settings.usd_to_vnd``).

    Returns
    -------
    geopandas.GeoDataFrame
        `id` (C0001 …, best first), `kind` (peak, highest, road), `elev_m`, `dist_road_m`, `grid`, `uncov_pop`,
        `cost_vnd`, point geometry in the villages' CRS.

    Raises
    ------
    CRSError
        If the villages have no CRS or the DEM's CRS differs.
    LayerError
        If `population` is missing or the mask length is wrong.
    """
    if villages.crs is None:
        raise CRSError("villages: the layer has no CRS")
    if "population" not in villages:
        raise LayerError("villages: generating candidates needs a population attribute")
    z, transform, dem_crs = _read_dem(dem)
    if dem_crs is not None and not dem_crs.equals(CRS(villages.crs)):
        raise CRSError(f"the DEM is in {dem_crs.name}, the villages in {CRS(villages.crs).name}: reproject the DEM")
    if transform.b != 0 or transform.d != 0:
        raise CRSError("the DEM must be north-up (no rotation)")
    mask = np.ones(len(villages), dtype=bool) if uncovered_mask is None else np.asarray(uncovered_mask, bool)
    if mask.shape != (len(villages),):
        raise LayerError(f"uncovered_mask has {mask.size} values for {len(villages)} villages")
    crs = villages.crs
    empty = gpd.GeoDataFrame({c: pd.Series([], dtype=t) for c, t in (("id", str), ("kind", str), ("elev_m", float),
                              ("dist_road_m", float), ("grid", bool), ("uncov_pop", float), ("cost_vnd", float))},
                             geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    vx = shapely.get_x(villages.geometry.values)[mask]
    vy = shapely.get_y(villages.geometry.values)[mask]
    vpop = np.nan_to_num(villages["population"].to_numpy(dtype=float, na_value=np.nan))[mask]
    if not mask.any():
        return empty
    dx, dy = abs(transform.a), abs(transform.e)
    nrow, ncol = z.shape
    zf = np.where(np.isfinite(z), z, -np.inf)
    win = max(3, int(round(spacing_m / dx)) | 1)
    peaks = (zf == ndimage.maximum_filter(zf, size=win, mode="nearest")) & np.isfinite(z)
    near_road = None
    if roads is not None and not roads.empty:
        from rasterio import features

        lines = [g for g in roads.to_crs(crs).geometry.values if g is not None and not g.is_empty]
        burnt = features.rasterize(((g, 1) for g in lines), out_shape=z.shape, transform=transform,
                                   all_touched=True, dtype="uint8").astype(bool)
        if burnt.any():
            near_road = ndimage.distance_transform_edt(~burnt, sampling=(dy, dx)) <= road_buffer_m
    inv = ~transform
    cols, rows = inv @ (vx, vy)
    rows, cols = np.floor(rows).astype(int), np.floor(cols).astype(int)
    ri, ci = int(np.ceil(search_radius_m / dy)), int(np.ceil(search_radius_m / dx))
    picked: dict[int, str] = {}
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        r0, r1, c0, c1 = max(r - ri, 0), min(r + ri + 1, nrow), max(c - ci, 0), min(c + ci + 1, ncol)
        if r0 >= r1 or c0 >= c1:
            continue  # village off the DEM
        rr, cc = np.mgrid[r0:r1, c0:c1]
        disc = ((rr - r) * dy) ** 2 + ((cc - c) * dx) ** 2 <= search_radius_m ** 2
        disc &= np.isfinite(z[r0:r1, c0:c1])
        flat = (rr * ncol + cc)[disc]
        zz = zf[r0:r1, c0:c1][disc]
        pk = peaks[r0:r1, c0:c1][disc]
        order = np.lexsort((flat[pk], -zz[pk]))[:per_village]
        for f in flat[pk][order].tolist():
            picked.setdefault(f, "peak")
        if order.size < per_village and flat.size:
            picked.setdefault(int(flat[np.lexsort((flat, -zz))[0]]), "highest")
        if near_road is not None:
            on = near_road[r0:r1, c0:c1][disc]
            if on.any():
                picked.setdefault(int(flat[on][np.lexsort((flat[on], -zz[on]))[0]]), "road")
    if not picked:
        return empty
    cells = np.fromiter(picked, dtype=np.int64)
    kinds = np.array([picked[int(f)] for f in cells])
    crow, ccol = np.divmod(cells, ncol)
    px, py = transform @ (ccol + 0.5, crow + 0.5)  # type: ignore[operator]  # affine maps arrays; typed for floats
    elev = z[crow, ccol]
    xy = np.column_stack([px, py])
    tree = cKDTree(xy)
    keep = np.zeros(len(cells), dtype=bool)
    gone = np.zeros(len(cells), dtype=bool)
    for i in np.lexsort((cells, -elev)).tolist():
        if not gone[i]:
            keep[i] = True
            gone[tree.query_ball_point(xy[i], spacing_m * (1 - 1e-9))] = True
    cells, kinds, xy, elev = cells[keep], kinds[keep], xy[keep], elev[keep]
    near = cKDTree(np.column_stack([vx, vy])).query_ball_point(xy, search_radius_m)
    score = np.array([float(vpop[n].sum()) for n in near])
    order = np.lexsort((cells, -elev, -score))[:n_max]
    cells, kinds, xy, elev, score = cells[order], kinds[order], xy[order], elev[order], score[order]
    points = shapely.points(xy)
    dist_road = _nearest_distance(points, roads.to_crs(crs) if roads is not None else None)
    if grid_power is not None:
        grid = _nearest_distance(points, grid_power.to_crs(crs)) <= grid_distance_m
    else:
        grid = np.nan_to_num(dist_road, nan=np.inf) <= grid_distance_m
    out = gpd.GeoDataFrame({"id": [f"C{i + 1:04d}" for i in range(len(cells))], "kind": kinds,
                            "elev_m": np.round(elev, 1), "dist_road_m": np.round(dist_road, 1),
                            "grid": grid.astype(bool), "uncov_pop": score,
                            "cost_vnd": np.round(site_cost_vnd(dist_road, grid, usd_to_vnd=usd_to_vnd))},
                           geometry=gpd.GeoSeries(points, crs=crs), crs=crs)
    logger.info("%d candidate sites (%d peaks, %d highest cells, %d near roads) for %d uncovered villages",
                len(out), (kinds == "peak").sum(), (kinds == "highest").sum(), (kinds == "road").sum(), len(vx))
    return out


def read_candidates(path: str | Path, *, crs: object = None, layer: str | None = None,
                    usd_to_vnd: float | None = None) -> gpd.GeoDataFrame:
    """Read candidate sites from a user file (any format `ictgis.io` reads) into the working CRS.

    Parameters
    ----------
    path
        Point file with an `id` (aliases ma_tram, site_id, candidate) and optionally `cost_vnd`, `grid`,
        `dist_road_m`, `elev_m`.
    crs
        CRS to assume when the file has none.
    layer
        Layer inside a GeoPackage.
    usd_to_vnd
        Exchange rate for sites without `cost_vnd` (cost model, from `dist_road_m` and `grid` when present).

    Returns
    -------
    geopandas.GeoDataFrame
        `id`, `cost_vnd` (always filled), the optional attributes present, geometry.

    Raises
    ------
    LayerError
        Listing every problem (missing id, duplicate ids, bad numbers, non-point geometry …).
    """
    from . import io
    from ._validate import Collector

    path = Path(path)
    if not path.exists():
        collector = Collector()
        collector.add(path.name, "file not found for the candidate sites")
        collector.raise_if_any(path.name)
    frame = io.read_layer(path, CANDIDATES_SCHEMA, crs=crs, layer=layer)
    assert frame is not None  # without a collector, read_layer raises instead of returning None
    out = frame.copy()
    nan = pd.Series(np.nan, index=out.index)
    grid = out["grid"].fillna(False).to_numpy(dtype=bool) if "grid" in out else np.zeros(len(out), dtype=bool)
    model = site_cost_vnd(out.get("dist_road_m", nan).to_numpy(dtype=float, na_value=np.nan), grid,
                          usd_to_vnd=usd_to_vnd)
    given = out.get("cost_vnd", nan).to_numpy(dtype=float, na_value=np.nan)
    out["cost_vnd"] = np.where(np.isnan(given), np.round(model), given)
    return out
