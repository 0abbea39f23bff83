"""Build the whole demo province in memory: every step in order, then the DEM."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine

from .cells import demo_cells, demo_landcover
from .communes import Work, given_communes, load_units, synthetic_communes
from .fiber import fiber_and_gaps, fiber_routes
from .geography import AREA_KM2, CRS, REMOTE_DISTRICTS, Frame
from .grid import Grid
from .post import commune_remoteness, post_offices
from .roads import main_roads, roads_layer
from .sites import bts_sites, colocate
from .terrain import Terrain, province_outline
from .villages import villages

logger = logging.getLogger(__name__)

N_RADIO = 97
N_RADIO_IT = 24
"""Commune radio stations using IT/telecom (docs/sources.md §1.4: 24 of the 97)."""


WORK_RES_M = 250.0


@dataclass
class DemoProvince:
    """The generated province: vector layers (EPSG:9205) and the DEM.

    Attributes
    ----------
    communes, villages, bts_sites, fiber_routes, post_offices, roads, districts
        The layers, with the attribute names of :mod:`ictgis.layers`.
    dem
        Elevation (m), int16, nodata -32768 outside the province (plus a 5 km margin).
    dem_transform
        Affine transform of `dem`.
    crs
        CRS of everything (``"EPSG:9205"``).
    uncovered_villages
        Ids of the villages deliberately left > 11 km from any 4G site (the remote "white zones").
    cells
        The cells (sectors) of the 3G/4G sites (:func:`ictgis.demo.cells.demo_cells`).
    landcover
        ESA WorldCover classes on the DEM grid (uint8, 0 outside; :func:`ictgis.demo.cells.demo_landcover`).
    """

    communes: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    bts_sites: gpd.GeoDataFrame
    fiber_routes: gpd.GeoDataFrame
    post_offices: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    dem: np.ndarray
    dem_transform: Affine
    crs: str = CRS
    uncovered_villages: tuple[str, ...] = field(default=())
    cells: pd.DataFrame | None = None
    landcover: np.ndarray | None = None

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """Return the vector layers by name."""
        return {"communes": self.communes, "villages": self.villages, "bts_sites": self.bts_sites,
                "fiber_routes": self.fiber_routes, "post_offices": self.post_offices, "roads": self.roads,
                "districts": self.districts}


def _dem(w: Work, terrain: Terrain, outline, resolution_m: float) -> tuple[np.ndarray, Affine]:
    """Int16 DEM over the province plus 5 km, nodata beyond; the same landscape at every resolution."""
    grid = Grid.around(outline.bounds, resolution_m, 6000.0)
    z = terrain.elevation(w.fin.unscale_grid(grid))
    inside = grid.rasterize([shapely.buffer(outline, 5000.0)]) == 1
    return np.where(inside, np.round(z), -32768).astype(np.int16), grid.transform


def _point_communes(communes: gpd.GeoDataFrame, points: np.ndarray) -> np.ndarray:
    """Code of the commune that contains each point (the first one when polygons overlap)."""
    pi, ci = communes.sindex.query(points, predicate="within")
    first = np.full(len(points), -1)
    first[pi[::-1]] = ci[::-1]
    return np.where(first >= 0, communes.code.to_numpy()[np.maximum(first, 0)], "")


def build_demo(*, seed: int = 2021, dem_resolution_m: float = 90.0,
               communes: gpd.GeoDataFrame | None = None) -> DemoProvince:
    """Generate the demo province.

    Parameters
    ----------
    seed
        Random seed; the same seed gives the same province.
    dem_resolution_m
        Cell size of the DEM (m). The vector layers do not depend on it.
    communes
        Real commune polygons (with ``code``, ``name``, ``population`` and optionally ``kind``, ``district``,
        ``dist_code``) to build the province on instead of generated ones. Village populations are then scaled to
        each commune's population and the province-wide figures hold only approximately.

    Returns
    -------
    DemoProvince
        All layers in EPSG:9205 and the DEM.
    """
    t0 = time.perf_counter()
    units = load_units()
    rng = np.random.default_rng(seed)
    if communes is None:
        frame = Frame.synthetic(AREA_KM2 * 1e6)
        outline = province_outline(seed, AREA_KM2 * 1e6, frame)
    else:
        frame = Frame()
        outline = shapely.union_all(communes.to_crs(CRS).geometry.values)
    terrain = Terrain(seed, frame)
    grid = Grid.around(outline.bounds, WORK_RES_M, 4000.0)
    w = Work(grid, terrain.elevation(grid), np.empty(0, dtype=np.int64), gpd.GeoDataFrame(), np.empty(0),
              {}, frame, Frame(), rng)
    w = synthetic_communes(units, w, terrain, outline) if communes is None else given_communes(communes, units, w)
    logger.info("communes ready (%.1f s)", time.perf_counter() - t0)
    net = main_roads(w)
    vil, vcells = villages(w, net)
    track = np.where(np.isin(vil.commune, w.communes.code[w.communes.dist_code.isin(REMOTE_DISTRICTS)])
                     | (vil.population < 250), 4, 3)
    net.connect(vcells, track)
    logger.info("roads and villages ready (%.1f s)", time.perf_counter() - t0)
    gap = fiber_and_gaps(w, net, vil, vcells)
    sites = bts_sites(w, net, vil, gap)
    remoteness = commune_remoteness(w, net)
    post = post_offices(w, remoteness)
    fiber = fiber_routes(w, net, vil, vcells)
    roads = roads_layer(net, w.grid)
    com = w.communes.copy()
    com["population"] = vil.groupby("commune").population.sum().reindex(com.code).fillna(0).astype(int).to_numpy()
    com["households"] = vil.groupby("commune").households.sum().reindex(com.code).fillna(0).astype(int).to_numpy()
    xa = np.flatnonzero(com.kind.to_numpy() == "xa")
    no_radio = xa[np.argsort(-remoteness[xa], kind="stable")][: max(0, len(com) - N_RADIO)]
    com["radio"] = 1
    com.loc[no_radio, "radio"] = 0
    # IT/telecom-based stations: the 24 least remote units with a station (towns first), deterministic.
    with_radio = np.flatnonzero(com["radio"].to_numpy() == 1)
    com["radio_it"] = 0
    com.loc[with_radio[np.argsort(remoteness[with_radio], kind="stable")][:N_RADIO_IT], "radio_it"] = 1
    com = com[["code", "name", "kind", "dist_code", "district", "population", "households", "radio", "radio_it",
               "geometry"]]
    districts = com.dissolve(by="dist_code", as_index=False, sort=True)[["dist_code", "district", "geometry"]]
    districts = districts.rename(columns={"dist_code": "code", "district": "name"})
    sites = colocate(sites)
    sites["commune"] = _point_communes(com, sites.geometry.values)
    post["commune"] = _point_communes(com, post.geometry.values)
    dem, transform = _dem(w, terrain, shapely.union_all(com.geometry.values), dem_resolution_m)
    cells = demo_cells(sites, vil, roads, com, seed=seed)
    cover = demo_landcover(dem, transform, vil, sites, com, seed=seed)
    logger.info("demo province built in %.1f s", time.perf_counter() - t0)
    return DemoProvince(com, vil, sites, fiber, post, roads, districts, dem, transform,
                        uncovered_villages=tuple(vil.id.iloc[gap]), cells=cells, landcover=cover)
