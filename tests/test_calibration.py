"""``ictgis calibrate``: the ridge fit on planted offsets, messy measurement files, applying a calibration."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from conftest import X0, Y0, tiny_layers, write_layers
from test_coverage import write_dem

from ictgis import LayerError, calibration, coverage, io, radio
from ictgis.cli import main

PLANTED = {"rural": 6.0, "suburban": -4.0}  # dB of loss the model misses (predicted − measured)
#: Grassland and cropland: classes without clutter loss or canopy of their own, so the model's prediction is that of
#: the bare terrain and the offsets are what the measurements plant.
PLANTED_LC = {30: 2.0, 40: -2.0}


def test_fit_recovers_planted_offsets_and_shrinks_small_groups():
    rng = np.random.default_rng(1)
    env = np.array(["rural"] * 300 + ["suburban"] * 300 + ["urban"] * 3, dtype=object)
    planted = np.array([PLANTED.get(e, 6.0) for e in env])
    error = planted + rng.normal(0.0, 3.0, env.size)
    env_db, lc_db = calibration.fit_offsets(error, env, ridge_points=10)
    assert lc_db == {}
    assert env_db["rural"] == pytest.approx(6.0 * 300 / 310, abs=0.5)
    assert env_db["suburban"] == pytest.approx(-4.0 * 300 / 310, abs=0.5)
    # 3 points with +6 dB: pulled towards 0 (3/13 of their mean), far from the unregularised mean
    assert 0.0 < env_db["urban"] < 3.0
    assert abs(float(error[-3:].mean()) - env_db["urban"]) > 3.0
    assert calibration.fit_offsets(error, env, ridge_points=0)[0]["urban"] == pytest.approx(error[-3:].mean(),
                                                                                            abs=0.01)
    # land-cover classes take what the environments leave
    lc = np.where(np.arange(env.size) % 2 == 0, 30, 40)
    error2 = error + np.array([PLANTED_LC[c] for c in lc])
    env2, lc2 = calibration.fit_offsets(error2, env, lc, ridge_points=10)
    assert lc2[30] == pytest.approx(2.0, abs=0.6) and lc2[40] == pytest.approx(-2.0, abs=0.6)
    assert env2["rural"] == pytest.approx(env_db["rural"], abs=0.5)
    cv = calibration.cross_validated_rmse(error2, env, lc, folds=5)
    assert 2.5 < cv < 3.6  # the noise, σ = 3 dB


@pytest.fixture()
def province(tmp_path):
    layers = tiny_layers()
    communes = layers["communes"]
    communes.loc[0, "name"] = "Xã Noong Bua"  # S1 → rural
    communes.loc[2, "name"] = "Thị trấn Nà Tấu"  # S3 → suburban
    folder = write_layers(tmp_path / "p", layers)
    write_dem(folder)
    with rasterio.open(folder / "dem.tif") as dem:
        classes = np.where(np.arange(dem.width)[None, :] < dem.width // 2, 30, 40).repeat(dem.height, axis=0)
        profile = dem.profile | {"dtype": "uint8", "nodata": 0}
    with rasterio.open(folder / "landcover.tif", "w", **profile) as dst:
        dst.write(classes.astype("uint8"), 1)
    return folder


def synthetic_measurements(folder, path, *, n=600, seed=2):
    """Excel-style CSV (';', decimal commas, 'Level'): the model's raster with planted offsets and 3 dB noise."""
    ds = io.load(folder)
    result = coverage.compute(ds, technology="4G", calibration_db=dict.fromkeys(radio.CALIBRATION_DB, 0.0),
                              progress=lambda f, m: None)
    env_of_site = coverage.site_environment(coverage.sites_of(ds, "4G"), ds["communes"])
    rng = np.random.default_rng(seed)
    x = X0 + rng.uniform(0, 10_000, n)
    y = Y0 + rng.uniform(0, 10_000, n)
    rows, cols = result.dem.cell_of(x, y)
    pred = result.rsrp_dbm[rows, cols].astype(float)
    env = env_of_site[result.server[rows, cols]]
    lc = np.where(x < X0 - 500 + 110 * 50, 30, 40)
    level = pred - np.array([PLANTED[e] for e in env]) - np.array([PLANTED_LC[c] for c in lc]) \
        + rng.normal(0, 3.0, n)
    level[:5] = -150.0  # below the floor
    x[5:8] = X0 + 30_000  # outside the DEM: no prediction
    pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs="EPSG:9205").to_crs(4326)
    lines = ["lon;lat;Level;operator"] + [f"{p.x:.7f};{p.y:.7f};{v:.1f};Viettel".replace(".", ",")
                                          for p, v in zip(pts, level, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_calibrate_end_to_end_and_apply(province, tmp_path):
    csv = synthetic_measurements(province, tmp_path / "drive test.csv")
    runner = CliRunner()
    out = tmp_path / "calib"
    res = runner.invoke(main, ["calibrate", str(province), "--tech", "4g", "--measurements", str(csv),
                               "--out", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "calibration.json").read_text(encoding="utf-8"))
    assert doc["counts"] == {"read": 600, "used": 592, "below_floor": 5, "out_of_reach": 3}
    assert doc["environment_db"]["rural"] == pytest.approx(6.0, abs=1.0)
    assert doc["environment_db"]["suburban"] == pytest.approx(-4.0, abs=1.0)
    assert doc["landcover_db"]["30"] == pytest.approx(2.0, abs=1.0)
    assert doc["landcover_db"]["40"] == pytest.approx(-2.0, abs=1.0)
    assert sum(doc["points"]["environment"].values()) == 592
    assert doc["before"]["rmse_db"] > 4.5 and doc["after"]["rmse_db"] == pytest.approx(3.0, abs=0.6)
    assert doc["cross_validated_rmse_db"] == pytest.approx(doc["after"]["rmse_db"], abs=0.5)
    assert doc["acceptance"]["met"] is True
    assert (out / "calibration_scatter.png").stat().st_size > 5000
    residuals = gpd.read_file(out / "residuals.gpkg")
    assert len(residuals) == 600 and residuals.crs.to_epsg() == 9205
    assert (residuals["status"] == "below_floor").sum() == 5 and set(residuals["operator"]) == {"Viettel"}
    assert "RMSE" in res.output

    plain = tmp_path / "cov0"
    cal = tmp_path / "cov1"
    assert runner.invoke(main, ["coverage", str(province), "--out", str(plain), "--no-kmz"]).exit_code == 0
    res = runner.invoke(main, ["coverage", str(province), "--out", str(cal), "--no-kmz", "--calibration",
                               str(out / "calibration.json")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    summary = json.loads((cal / "summary_4g.json").read_text(encoding="utf-8"))
    assert summary["calibration"]["file"] == "calibration.json"
    assert len(summary["calibration"]["sha256"]) == 64
    assert json.loads((plain / "summary_4g.json").read_text(encoding="utf-8"))["calibration"] is None
    with rasterio.open(plain / "rsrp_4g.tif") as a, rasterio.open(cal / "rsrp_4g.tif") as b, \
            rasterio.open(plain / "server_4g.tif") as s:
        diff, server = b.read(1) - a.read(1), s.read(1)
    # west half (class 30) of the cells S1 serves (rural): − (rural + class 30 offsets)
    west = (server == 0) & (np.arange(diff.shape[1])[None, :] < 100)
    expected = -(doc["environment_db"]["rural"] + doc["landcover_db"]["30"])
    assert np.median(diff[west]) == pytest.approx(expected, abs=0.01)


def test_messy_measurements(tmp_path):
    good = tmp_path / "ok.csv"
    good.write_text("sep=;\nLongitude;Latitude;RSRP;Cell\n103,0150;21,3850;-95,5;A1\n103,02;21,39;-101;A2\n",
                    encoding="cp1258")
    m = calibration.read_measurements(good)
    assert m["rsrp_dbm"].tolist() == [-95.5, -101.0] and m["cell"].tolist() == ["A1", "A2"]
    assert m.crs.to_epsg() == 4326 and m.geometry.x.iloc[0] == pytest.approx(103.015)
    bad = tmp_path / "bad.csv"
    bad.write_text("lon;lat;Level\n103,01;21,38;-90\n;21,39;-91\n103,03;21,40;abc\n", encoding="utf-8")
    with pytest.raises(LayerError) as err:
        calibration.read_measurements(bad)
    where = {(p.file, p.row, p.column) for p in err.value.problems}
    assert ("bad.csv", 2, "lon/lat") in where and ("bad.csv", 3, "Level") in where
    nolevel = tmp_path / "nolevel.csv"
    nolevel.write_text("lon,lat,quality\n103.01,21.38,good\n", encoding="utf-8")
    with pytest.raises(LayerError, match="signal level"):
        calibration.read_measurements(nolevel)
    xy = tmp_path / "xy.csv"
    xy.write_text("x,y,signal_dbm\n502000,2362000,-88\n", encoding="utf-8")
    with pytest.raises(LayerError, match="need a CRS"):
        calibration.read_measurements(xy)
    assert calibration.read_measurements(xy, crs="EPSG:9205").crs.to_epsg() == 9205


def test_cli_bad_measurements_exit_2_without_traceback(province, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("lon;lat;Level\n;21,39;-91\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["calibrate", str(province), "--measurements", str(bad), "--out",
                                    str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "bad.csv" in res.output and "row 1" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_bad_calibration_file_is_a_clear_error(tmp_path):
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"format": calibration.FORMAT, "environment_db": {"rural": "six"}}), encoding="utf-8")
    with pytest.raises(LayerError, match="rural"):
        calibration.read_calibration(path)
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(LayerError, match="not a calibration file"):
        calibration.read_calibration(path)


def test_scenario_parameter_applies_the_calibration(province, tmp_path):
    from ictgis import ScenarioError, scenario
    from ictgis.scenario.runner import measure

    cal = tmp_path / "cal" / "calibration.json"
    cal.parent.mkdir()
    cal.write_text(json.dumps({"format": calibration.FORMAT, "technology": "4G",
                               "environment_db": {"rural": 10.0, "suburban": 10.0}}), encoding="utf-8")
    text = f"name: calibrated\nbase: {province}\nparameters:\n  calibration: cal/calibration.json\ninterventions: []\n"
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    sc = scenario.read(tmp_path / "s.yaml")
    assert sc.parameters["calibration"] == str(cal.resolve())
    values, results = measure(io.load(province), structure=sc.structure, params=sc.parameters)
    assert results["4G"].summary["calibration"]["file"] == "calibration.json"
    assert results["3G"].summary["calibration"] is None  # fitted for 4G only
    plain, _ = measure(io.load(province), structure=sc.structure, params={})
    assert values["mobile"]["populated_area_4g_pct"] <= plain["mobile"]["populated_area_4g_pct"]
    (tmp_path / "s.yaml").write_text(text.replace("cal/", "nowhere/"), encoding="utf-8")
    with pytest.raises(ScenarioError, match="calibration file"):
        scenario.read(tmp_path / "s.yaml")


def test_no_scatter_without_matplotlib(province, tmp_path, monkeypatch):
    import sys

    csv = synthetic_measurements(province, tmp_path / "m.csv", n=60)
    for name in [m for m in sys.modules if m.startswith("matplotlib")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    doc = calibration.calibrate(io.load(province), csv, tmp_path / "o", progress=lambda f, m: None)
    assert doc["scatter_png"] is None and not (tmp_path / "o" / "calibration_scatter.png").exists()
    assert (tmp_path / "o" / "calibration.json").exists()


def test_measurements_from_a_geopackage(tmp_path):
    path = tmp_path / "points.gpkg"
    frame = gpd.GeoDataFrame({"signal_dbm": [-80.0, -99.5], "site": ["S1", "S3"]},
                             geometry=gpd.points_from_xy([X0 + 100, X0 + 200], [Y0 + 100, Y0 + 200]), crs="EPSG:9205")
    frame.to_file(path, layer="m", driver="GPKG")
    m = calibration.read_measurements(path)
    assert m["rsrp_dbm"].tolist() == [-80.0, -99.5] and m["site"].tolist() == ["S1", "S3"]
    assert m.crs.to_epsg() == 9205
