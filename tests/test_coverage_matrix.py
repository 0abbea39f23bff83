"""The site × village matrix (`coverage_matrix`) with cells and land cover: the raster's model, pair by pair."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from conftest import X0, Y0, tiny_layers, write_layers

from ictgis import coverage, io

CELL = 50.0
N = 220
ORIGIN = (X0 - 500.0, Y0 + 10_500.0)
#: a cell centre, so that the raster's cell of the site and of each village is exactly where the pair starts
SITE = (X0 + 4925.0, Y0 + 4475.0)
#: villages 3 km away along the axes (the raster's rays there sample cell centres, as the pair's profile does)
OFFSETS = {"EAST": (3000.0, 0.0), "WEST": (-3000.0, 0.0), "NORTH": (0.0, 3000.0), "SOUTH": (0.0, -3000.0)}


def _folder(tmp_path, *, cells_csv: str | None = None, landcover: np.ndarray | None = None):
    folder = write_layers(tmp_path / "f", tiny_layers())
    transform = Affine(CELL, 0.0, ORIGIN[0], 0.0, -CELL, ORIGIN[1])
    with rasterio.open(folder / "dem.tif", "w", driver="GTiff", width=N, height=N, count=1, dtype="float32",
                       crs="EPSG:9205", transform=transform, nodata=-32768) as dst:
        dst.write(np.full((N, N), 400.0, np.float32), 1)
    if cells_csv is not None:
        (folder / "cells.csv").write_text(cells_csv, encoding="utf-8")
    if landcover is not None:
        with rasterio.open(folder / "landcover.tif", "w", driver="GTiff", width=N, height=N, count=1,
                           dtype="uint8", crs="EPSG:9205", transform=transform, nodata=0) as dst:
            dst.write(landcover, 1)
    ds = io.load(folder)
    site = ds["bts_sites"].iloc[[0]].copy()  # S1
    site["height_m"] = 30.0
    site["tech"] = "4G"
    site = site.set_geometry(gpd.GeoSeries([shapely.Point(*SITE)], crs=site.crs, index=site.index))
    vil = ds["villages"].iloc[:len(OFFSETS)].copy()
    vil["id"] = list(OFFSETS)
    points = [shapely.Point(SITE[0] + dx, SITE[1] + dy) for dx, dy in OFFSETS.values()]
    vil = vil.set_geometry(gpd.GeoSeries(points, crs=vil.crs, index=vil.index))
    ds.layers["bts_sites"], ds.layers["villages"] = site, vil
    return ds


def _cell_of(x, y):
    return int((ORIGIN[1] - y) // CELL), int((x - ORIGIN[0]) // CELL)


def _matrix(ds, sites=None, **kw):
    sites = ds["bts_sites"] if sites is None else sites
    _, values = coverage.coverage_matrix(ds, sites[["id", "height_m", "geometry"]], ds["villages"],
                                         technology="4G", threshold_dbm=-160.0,
                                         max_distance_m=5000, **kw)
    return values.toarray()


def test_one_sector_east_gives_the_east_village_20_db_more_and_omnidirectional_gives_both_the_same(tmp_path):
    ds = _folder(tmp_path, cells_csv="site,azimuth,tilt\nS1,90,0\n")
    ids = list(ds["villages"]["id"])
    east, west = ids.index("EAST"), ids.index("WEST")
    sector = _matrix(ds)[0]  # the cells of the data folder
    assert sector[east] - sector[west] >= 20.0
    plain = _matrix(ds, cells=False)[0]
    assert plain[east] == plain[west]
    assert sector[east] == pytest.approx(plain[east], abs=0.15)  # boresight: ~0.5° below the horizon
    # a new candidate at the same place (an id no cell names) stays omnidirectional
    candidate = ds["bts_sites"].assign(id="C0001")
    both = _matrix(ds, sites=pd.concat([ds["bts_sites"], candidate]))
    np.testing.assert_array_equal(both[1], plain)
    np.testing.assert_array_equal(both[0], sector)


def test_matrix_equals_the_raster_with_cells_and_land_cover(tmp_path):
    classes = np.full((N, N), 40, np.uint8)  # cropland: no loss, no canopy
    east_r, east_c = _cell_of(SITE[0] + 3000, SITE[1])
    west_r, west_c = _cell_of(SITE[0] - 3000, SITE[1])
    classes[east_r, east_c] = 10  # the east village among trees: their clutter loss
    classes[west_r - 10:west_r + 11, west_c + 4:west_c + 9] = 10  # a forest 200–400 m before the west village
    south_r, south_c = _cell_of(SITE[0], SITE[1] - 3000)
    classes[south_r, south_c] = 50  # built-up (rural Hata: its clutter loss)
    # two sweeps at S1: sectors at 30 m toward the north-east and the south, one at 40 m toward the west
    cells_csv = ("site,cell,azimuth,tilt,height_m\nS1,A,60,4,\nS1,B,170,2,\nS1,C,275,6,40\n")
    ds = _folder(tmp_path, cells_csv=cells_csv, landcover=classes)
    raster = coverage.compute(ds, technology="4G", radius_m=5000, floor_dbm=-200.0, progress=lambda f, m: None)
    assert raster.summary["model"]["landcover"] is not None and raster.summary["model"]["cells"]["sectors"] == 3
    matrix = _matrix(ds)[0]
    for k, (dx, dy) in enumerate(OFFSETS.values()):
        r, c = _cell_of(SITE[0] + dx, SITE[1] + dy)
        assert matrix[k] == pytest.approx(float(raster.rsrp_dbm[r, c]), abs=0.01), list(OFFSETS)[k]
    # and the model's parts are all there: without them the values move by decibels
    bare = _matrix(ds, landcover=False)[0]
    omni = _matrix(ds, cells=False)[0]
    ids = list(OFFSETS)
    assert matrix[ids.index("EAST")] < bare[ids.index("EAST")] - 10.0  # 12 dB under trees
    assert matrix[ids.index("WEST")] < bare[ids.index("WEST")] - 5.0  # the forest on the path
    assert np.abs(matrix - omni).max() > 3.0


def test_no_cells_nor_land_cover_in_the_folder_changes_nothing(tmp_path):
    ds = _folder(tmp_path)
    np.testing.assert_array_equal(_matrix(ds), _matrix(ds, cells=False, landcover=False))


def test_the_web_candidate_is_omnidirectional_in_a_folder_with_cells(tmp_path):
    """The web's candidate site (raster on its window + matrix) in a folder whose cells name other sites."""
    from ictgis_web import candidate

    ds = _folder(tmp_path, cells_csv="site,azimuth,tilt\nS1,90,0\nS1,180,2\n")
    site = ds["bts_sites"].to_crs(4326).geometry.iloc[0]
    got = candidate.evaluate(ds, lon=site.x, lat=site.y + 0.01, height_m=40.0)
    assert got["overlay"] is not None and got["villages_in_reach"] >= 0
