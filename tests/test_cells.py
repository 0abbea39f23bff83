"""Cells (sectors) and land cover in best-server coverage: flat-terrain known answers, layer checks."""

from __future__ import annotations

import copy
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from conftest import X0, Y0, tiny_layers, write_layers

from ictgis import cells, coverage, io, landcover, settings
from ictgis._errors import LayerError

CELL = 50.0
SITE = (X0 + 4900.0, Y0 + 2500.0)


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    """A plain at 400 m, one 4G site (30 m mast) and two villages 3 km east and 3 km west of it."""
    folder = write_layers(tmp_path_factory.mktemp("flat") / "f", tiny_layers())
    n = 220
    transform = Affine(CELL, 0.0, X0 - 500, 0.0, -CELL, Y0 + 10_500)
    with rasterio.open(folder / "dem.tif", "w", driver="GTiff", width=n, height=n, count=1, dtype="float32",
                       crs="EPSG:9205", transform=transform, nodata=-32768) as dst:
        dst.write(np.full((n, n), 400.0, np.float32), 1)
    ds = io.load(folder)
    site = ds["bts_sites"].iloc[[0]].copy()
    site["height_m"] = 30.0
    site["tech"] = "4G"
    site = site.set_geometry(gpd.GeoSeries([shapely.Point(*SITE)], crs=site.crs, index=site.index))
    vil = ds["villages"].iloc[:2].copy()
    vil["id"] = ["EAST", "WEST"]
    points = [shapely.Point(SITE[0] + 3000, SITE[1]), shapely.Point(SITE[0] - 3000, SITE[1])]
    vil = vil.set_geometry(gpd.GeoSeries(points, crs=vil.crs, index=vil.index))
    ds.layers["bts_sites"], ds.layers["villages"] = site, vil
    return ds


def rsrp(result):
    return dict(zip(result.villages["id"], result.villages["rsrp_dbm"], strict=True))


def run(ds, **kw):
    """Coverage with no floor (down to −200 dBm): these tests compare the model's values behind the antennas."""
    return coverage.compute(ds, technology="4G", radius_m=5000, progress=lambda f, m: None,
                            **{"floor_dbm": -200.0} | kw)


def test_one_sector_east_beats_west_by_its_front_to_back_and_no_cells_is_symmetric(flat):
    omni = rsrp(run(flat))
    assert omni["EAST"] == omni["WEST"]
    sector = run(flat, cells=pd.DataFrame({"site": ["S1"], "azimuth": [90.0], "tilt": [0.0]}))
    got = rsrp(sector)
    assert got["EAST"] - got["WEST"] >= 20.0
    assert got["EAST"] == pytest.approx(omni["EAST"], abs=0.15)  # boresight: the vertical angle is ~0.5°
    assert sector.villages.set_index("id").loc["EAST", "serving_cell"] == "S1-1"
    assert sector.summary["model"]["cells"] == {"transmitters": 1, "sectors": 1, "omnidirectional_sites": 0}


def test_three_sectors_serve_their_own_directions_and_cells_of_other_technologies_change_nothing(flat):
    three = run(flat, cells=pd.DataFrame({"site": ["S1"] * 3, "cell": ["A", "B", "C"],
                                          "azimuth": [90.0, 210.0, 330.0], "tilt": [2.0, 2.0, 2.0]}))
    assert three.cell_ids == ["A", "B", "C"] and three.site_ids == ["S1"] * 3
    served = three.villages.set_index("id")
    assert served.loc["EAST", "serving_cell"] == "A" and served.loc["WEST", "serving_cell"] in ("B", "C")
    assert (served["serving_site"] == "S1").all()
    plain = run(flat, cells=False, landcover=False)
    other = run(flat, cells=pd.DataFrame({"site": ["S1"], "tech": ["3G"], "azimuth": [90.0]}))
    np.testing.assert_array_equal(other.rsrp_dbm, plain.rsrp_dbm)
    np.testing.assert_array_equal(other.server, plain.server)


def test_tree_covered_receiver_loses_the_documented_loss_and_a_forest_on_the_path_diffracts(flat):
    dem_shape = (220, 220)
    crop = np.full(dem_shape, 40, np.uint8)
    base = rsrp(run(flat, landcover=crop))
    assert base == rsrp(run(flat, landcover=False))  # cropland: no loss, no canopy
    row = int((Y0 + 10_500 - SITE[1]) // CELL)
    east = int((SITE[0] + 3000 - (X0 - 500)) // CELL)
    trees = crop.copy()
    trees[row, east] = 10
    got = rsrp(run(flat, landcover=trees))
    assert base["EAST"] - got["EAST"] == pytest.approx(settings.landcover_loss_db[10], abs=1e-3)
    assert got["WEST"] == base["WEST"]
    forest = crop.copy()
    forest[row - 10:row + 11, east - 8:east - 4] = 10  # 200 m of forest 200–400 m before the village
    got = rsrp(run(flat, landcover=forest))
    assert base["EAST"] - got["EAST"] > 10.0  # 15 m canopy over a line of sight ~5 m above the ground there
    bare = rsrp(run(flat, landcover=forest, canopy_m={10: 0.0}))
    assert bare["EAST"] == base["EAST"]
    lighter = rsrp(run(flat, landcover=trees, clutter_loss_db={10: 5.0}))
    assert base["EAST"] - lighter["EAST"] == pytest.approx(5.0, abs=1e-3)


def test_cells_layer_with_vietnamese_headers_and_its_problems(tmp_path, flat):
    path = tmp_path / "cells.csv"
    path.write_text("MA_TRAM,GOC_PHUONG_VI,GOC_NGHIENG,DO_LOI\nS1,90,3,18\nS1,400,2,18\n", encoding="utf-8")
    with pytest.raises(LayerError) as err:
        cells.read_cells(path)
    (problem,) = err.value.problems
    assert (problem.file, problem.row, problem.column) == ("cells.csv", 2, "azimuth")
    path.write_text("MA_TRAM,GOC_PHUONG_VI,GOC_NGHIENG,FILE_ANTEN\nS1,90,3,\nS9,200,2,\nS1,300,2,none.msi\n",
                    encoding="utf-8")
    table = cells.read_cells(path)
    assert list(table["azimuth"]) == [90.0, 200.0, 300.0] and list(table["tilt"]) == [3.0, 2.0, 2.0]
    with pytest.raises(LayerError) as err:
        cells.transmitters(flat["bts_sites"], "4G", table, data_dir=tmp_path, label="cells.csv")
    where = {(p.row, p.column) for p in err.value.problems}
    assert where == {(2, "site"), (3, "pattern")}
    assert "antennas/none.msi" in str(err.value)


def test_landcover_is_read_from_the_folder_by_mode_onto_the_dem(tmp_path, flat):
    dem_t = coverage.compute(flat, technology="4G", radius_m=500, progress=lambda f, m: None).dem
    fine = np.full((660, 660), 40, np.uint8)
    fine[:330, :] = 10  # northern half forest, at 1/3 of the DEM's cell
    fine[330:333, :] = 50
    transform = Affine(CELL / 3, 0.0, X0 - 500, 0.0, -CELL / 3, Y0 + 10_500)
    path = tmp_path / "landcover.tif"
    with rasterio.open(path, "w", driver="GTiff", width=660, height=660, count=1, dtype="uint8",
                       crs="EPSG:9205", transform=transform, nodata=0) as dst:
        dst.write(fine, 1)
    grid = landcover.read_landcover(path, dem_t)
    assert grid.shape == (220, 220) and grid.dtype == np.uint8
    assert (grid[:110] == 10).all() and (grid[110] == 50).all() and (grid[111:] == 40).all()
    remapped = landcover.read_landcover(path, dem_t, classes={10: 20})
    assert (remapped[:110] == 20).all()
    spec = landcover.landcover_spec({"landcover": {"classes": {"1": 10}, "loss_db": {10: "9.5"}}})
    assert spec["classes"] == {1: 10} and spec["loss_db"] == {10: 9.5}
    with pytest.raises(LayerError):
        landcover.landcover_spec({"landcover": {"loss_db": {10: "dense"}}})


def test_clutter_table_defaults_and_overrides():
    table = landcover.class_table(settings.landcover_loss_db, {50: 10.0}, {"10": 14})
    assert table[10] == 14.0 and table[50] == 10.0 and table[40] == 0.0
    grid = landcover.loss_grid(np.array([[10, 50, 40, 0]], np.uint8), table)
    np.testing.assert_array_equal(grid, [[14.0, 10.0, 0.0, 0.0]])
    assert settings.landcover_loss_db[10] == 12.0 and settings.landcover_loss_db[50] == 8.0
    np.testing.assert_array_equal(landcover.canopy_grid(np.array([10, 40], np.uint8)), [15.0, 0.0])


def test_built_up_loss_applies_to_open_area_hata_only(flat):
    row = int((Y0 + 10_500 - SITE[1]) // CELL)
    east = int((SITE[0] + 3000 - (X0 - 500)) // CELL)
    crop = np.full((220, 220), 40, np.uint8)
    town = crop.copy()
    town[row, east] = 50
    for environment, expected in (("urban", 0.0), ("suburban", 0.0), ("rural", settings.landcover_loss_db[50])):
        base = rsrp(run(flat, landcover=crop, environment=environment))
        got = rsrp(run(flat, landcover=town, environment=environment))
        assert base["EAST"] - got["EAST"] == pytest.approx(expected, abs=1e-3), environment


def test_sectors_pruned_together_equal_the_best_of_each_alone(flat):
    table = pd.DataFrame({"site": ["S1"] * 3, "azimuth": [20.0, 140.0, 260.0], "tilt": [3.0, 3.0, 3.0]})
    together = run(flat, cells=table)
    alone = [run(flat, cells=table.iloc[[k]]) for k in range(3)]
    stack = np.stack([np.where(np.isnan(a.rsrp_dbm), -np.inf, a.rsrp_dbm) for a in alone])
    best = stack.max(axis=0)
    got = np.where(np.isnan(together.rsrp_dbm), -np.inf, together.rsrp_dbm)
    np.testing.assert_array_equal(got, best)
    winner = np.where(np.isfinite(best), stack.argmax(axis=0), -1)
    np.testing.assert_array_equal(together.server, winner)


@pytest.mark.parametrize("tech", ["4G", "5G"])
def test_sectors_of_other_powers_swept_together_over_land_cover_equal_each_alone(flat, tech):
    """One sweep serves the three cells (TR 38.901 for 5G): the values of three sweeps, cell by cell."""
    ds = copy.copy(flat)
    ds.layers = dict(flat.layers)
    ds.layers["bts_sites"] = flat["bts_sites"].assign(tech=tech)
    cover = np.full((220, 220), 40, np.uint8)
    cover[:, :110] = 10  # forest on the west half: clutter loss and canopy on the profiles
    cover[60:80, 150:170] = 50
    table = pd.DataFrame({"site": ["S1"] * 3, "azimuth": [0.0, 120.0, 240.0], "tilt": [2.0, 4.0, 6.0],
                          "power_dbm": [46.0, 49.0, 43.0]})
    kw = {"technology": tech, "radius_m": 5000, "progress": lambda f, m: None, "landcover": cover}
    together = coverage.compute(ds, cells=table, **kw)
    alone = [coverage.compute(ds, cells=table.iloc[[k]], **kw) for k in range(3)]
    stack = np.stack([np.where(np.isnan(a.rsrp_dbm), -np.inf, a.rsrp_dbm) for a in alone])
    got = np.where(np.isnan(together.rsrp_dbm), -np.inf, together.rsrp_dbm)
    np.testing.assert_array_equal(got, stack.max(axis=0))
    np.testing.assert_array_equal(together.server, np.where(np.isfinite(got), stack.argmax(axis=0), -1))
    assert len(set(together.server[np.isfinite(got)].ravel().tolist())) == 3


def test_scenario_parameters_take_a_clutter_loss_per_class(tmp_path):
    from ictgis import scenario
    from ictgis._errors import ScenarioError

    good = tmp_path / "s.yaml"
    good.write_text("name: forest\nparameters:\n  clutter_loss_db: {10: 15, 50: 9.5}\ninterventions: []\n",
                    encoding="utf-8")
    assert scenario.read(good, check_base=False).parameters["clutter_loss_db"] == {10: 15, 50: 9.5}
    bad = tmp_path / "b.yaml"
    bad.write_text("name: forest\nparameters:\n  clutter_loss_db: {forest: dense}\ninterventions: []\n",
                   encoding="utf-8")
    with pytest.raises(ScenarioError, match="land-cover class"):
        scenario.read(bad, check_base=False)


# ------------------------------------------------------------------------------ ictgis validate: cells, land cover
def _flat_dem(folder, *, crs="EPSG:9205"):
    transform = Affine(CELL, 0.0, X0 - 500, 0.0, -CELL, Y0 + 10_500)
    with rasterio.open(folder / "dem.tif", "w", driver="GTiff", width=220, height=220, count=1, dtype="float32",
                       crs=crs, transform=transform, nodata=-32768) as dst:
        dst.write(np.full((220, 220), 400.0, np.float32), 1)
    return transform


def _landcover(folder, classes, *, transform, crs="EPSG:9205"):
    with rasterio.open(folder / "landcover.tif", "w", driver="GTiff", width=classes.shape[1],
                       height=classes.shape[0], count=1, dtype="uint8", crs=crs, transform=transform,
                       nodata=0) as dst:
        dst.write(classes, 1)


#: cells as Excel writes them in a Vietnamese locale: BOM, semicolons, decimal commas, CRLF, Vietnamese headers
MESSY_CELLS = ("Mã trạm;Mã cell;Góc phương vị;Góc nghiêng;Độ rộng búp;File anten\r\n"
               "S1;S1-A;45,5;3;65;\r\n"
               "S1;S1-B;400;2;65;\r\n"        # row 2: azimuth out of range
               "S9;S9-A;120;2,5;65;\r\n"      # row 3: no such site
               "S2;S2-A;200;95;65;\r\n"       # row 4: tilt out of range
               "S2;S2-B;300;2;0,5;\r\n"       # row 5: beamwidth out of range
               "S3;S3-A;10;2;65;kathrein.msi\r\n"   # row 6: no such pattern file
               "S4;S4-A;10;2;65;broken.msi\r\n")    # row 7: a pattern file that cannot be read


def _messy_folder(tmp_path, layers=None):
    from conftest import write_layers as write

    folder = write(tmp_path / "d", layers or tiny_layers())
    transform = _flat_dem(folder)
    (folder / "cells.csv").write_bytes(b"\xef\xbb\xbf" + MESSY_CELLS.encode("utf-8"))
    (folder / "antennas").mkdir()
    (folder / "antennas" / "broken.msi").write_text("NAME broken\nHORIZONTAL 360\n0 abc\n", encoding="utf-8")
    return folder, transform


def test_validate_reports_every_problem_of_the_cells_and_the_land_cover_and_exits_2(tmp_path):
    from click.testing import CliRunner

    from ictgis.cli import main

    folder, _ = _messy_folder(tmp_path)
    # a land cover in degrees of another place (its CRS or extent is wrong): it covers none of the DEM
    _landcover(folder, np.full((10, 10), 10, np.uint8), transform=Affine(0.01, 0, 105.0, 0, -0.01, 21.0),
               crs="EPSG:4326")
    result = CliRunner().invoke(main, ["validate", str(folder), "--json"])
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    where = {(p["file"], p["row"], p["column"]) for p in report["problems"]}
    assert {("cells.csv", 2, "azimuth"), ("cells.csv", 3, "site"), ("cells.csv", 4, "tilt"),
            ("cells.csv", 5, "beamwidth"), ("cells.csv", 6, "pattern")} <= where
    assert any(p["file"] == "antennas/broken.msi" for p in report["problems"])
    (cover,) = [p for p in report["problems"] if p["file"] == "landcover.tif"]
    assert "covers none of the DEM" in cover["message"] and "EPSG:4326" in cover["message"]
    text = CliRunner().invoke(main, ["validate", str(folder)])
    assert text.exit_code == 2 and "Traceback" not in text.output
    assert "cells.csv row 3 (id S9), column site: site 'S9' is not in bts_sites" in text.output
    # coverage fails on the same cells (it reads them with the same functions)
    with pytest.raises(LayerError) as err:
        coverage.compute(io.load(folder), technology="4G", landcover=False, progress=lambda f, m: None)
    assert {(p.row, p.column) for p in err.value.problems} >= {(2, "azimuth"), (4, "tilt"), (5, "beamwidth")}


def test_validate_reports_cells_with_the_layers_problems(tmp_path):
    from click.testing import CliRunner

    from ictgis.cli import main

    layers = tiny_layers()
    layers["villages"]["population"] = layers["villages"]["population"].astype(object)
    layers["villages"].loc[0, "population"] = "nhiều"
    folder, _ = _messy_folder(tmp_path, layers)
    result = CliRunner().invoke(main, ["validate", str(folder), "--json"])
    assert result.exit_code == 2
    where = {(p["file"], p["row"], p["column"]) for p in json.loads(result.stdout)["problems"]}
    assert ("villages.shp", 1, "population") in where and ("cells.csv", 2, "azimuth") in where
    assert ("cells.csv", 6, "pattern") in where


def test_land_cover_classes_need_worldcover_codes_or_a_table_in_layers_yaml(tmp_path):
    from click.testing import CliRunner

    from ictgis.cli import main

    folder = write_layers(tmp_path / "d", tiny_layers())
    transform = _flat_dem(folder)
    classes = np.full((220, 220), 40, np.uint8)
    classes[:50] = 7  # not a WorldCover code
    _landcover(folder, classes, transform=transform)
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 2
    assert "landcover.tif" in result.output and "classes 7 are not ESA WorldCover codes" in result.output
    with pytest.raises(LayerError, match="not ESA WorldCover codes"):
        coverage.compute(io.load(folder), technology="4G", radius_m=500, progress=lambda f, m: None)
    (folder / "layers.yaml").write_text("landcover:\n  loss_db: {7: 3}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert "landcover     landcover.tif" in result.output
    (folder / "layers.yaml").write_text("landcover:\n  classes: {7: 10}\n", encoding="utf-8")
    assert CliRunner().invoke(main, ["validate", str(folder)]).exit_code == 0
    # a land cover over a corner of the DEM only: valid, with a warning
    _landcover(folder, np.full((40, 40), 40, np.uint8), transform=transform)
    result = CliRunner().invoke(main, ["validate", str(folder), "--json"])
    assert result.exit_code == 0
    assert any("landcover.tif covers 3 % of the DEM" in w for w in json.loads(result.stdout)["warnings"])
