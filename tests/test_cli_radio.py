"""``ictgis profile`` on a tiny synthetic DEM (EPSG:9205): flat at 500 m with one 100 m ridge."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

import ictgis.cli.radio as cli_radio
from ictgis import link, radio, terrain
from ictgis.cli import main

X0, Y_TOP, RES = 500_000.0, 2_363_000.0, 30.0  # 200 × 100 pixels of 30 m: 6 km × 3 km
START, END = "500315,2361515", "505715,2361515"  # pixel centres of row 49, columns 10 and 190: 5.4 km apart


def write_dem(path, elevation: np.ndarray, crs: str = "EPSG:9205", nodata: float | None = None):
    profile = {"driver": "GTiff", "width": elevation.shape[1], "height": elevation.shape[0], "count": 1,
               "dtype": "float32", "crs": crs, "transform": Affine(RES, 0.0, X0, 0.0, -RES, Y_TOP), "nodata": nodata}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(elevation.astype("float32"), 1)
    return path


@pytest.fixture
def flat_dem(tmp_path):
    return write_dem(tmp_path / "flat.tif", np.full((100, 200), 500.0))


@pytest.fixture
def ridge_dem(tmp_path):
    z = np.full((100, 200), 500.0)
    z[:, 99:102] = 600.0  # a 90 m wide ridge centred on x = 503,015 (2.7 km from START)
    return write_dem(tmp_path / "ridge.tif", z)


def run(*args: str):
    return CliRunner().invoke(main, ["profile", *args], catch_exceptions=False)


def test_flat_profile_has_line_of_sight(flat_dem):
    result = run("--dem", str(flat_dem), "--from", START, "--to", END, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["distance_km"] == pytest.approx(5.4)
    assert report["samples"] == 181 and report["step_m"] == pytest.approx(30.0)
    assert report["crs"] == "EPSG:9205"
    assert report["line_of_sight"] is True and report["min_clearance_pct_f1"] > 0
    # Only the ground next to the 1.5 m receiver touches the Fresnel zone (v just above −0.78): ~1 dB, no more.
    diffraction = report["diffraction_db"]
    assert 0.0 <= diffraction["single_knife_edge"] == diffraction["deygout"] == diffraction["epstein_peterson"] < 2.0
    flat_far = json.loads(run("--dem", str(flat_dem), "--from", START, "--to", END, "--json", "--rx-height-m", "10")
                          .output)
    assert flat_far["diffraction_db"]["deygout"] == 0.0
    assert report["path_loss_db"]["free_space"] == pytest.approx(radio.free_space_loss_db(5.4, 1800.0), abs=0.01)
    assert report["path_loss_db"]["hata_urban"] > report["path_loss_db"]["hata_suburban"] > \
        report["path_loss_db"]["hata_rural"]


def test_ridge_blocks_the_line_of_sight(ridge_dem):
    result = run("--dem", str(ridge_dem), "--from", START, "--to", END, "--json", "--k-factor", "1000")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["line_of_sight"] is False
    assert report["min_clearance_at_km"] == pytest.approx(2.7, abs=0.05)
    assert report["min_clearance_pct_f1"] < -100
    # Samples fall on pixel centres, so the ridge is three 600 m samples at 2.67, 2.70, 2.73 km; the dominant one
    # is found by hand: line from 530 m (tx) to 501.5 m (rx) over 5.4 km.
    line = 530.0 - 28.5 * np.array([2670.0, 2700.0, 2730.0]) / 5400.0
    d1 = np.array([2670.0, 2700.0, 2730.0])
    v = radio.fresnel_v(600.0 - line, d1, 5400.0 - d1, 299.792458 / 1800)
    diffraction = report["diffraction_db"]
    assert diffraction["single_knife_edge"] == pytest.approx(radio.knife_edge_loss_db(v.max()), abs=0.05)
    assert diffraction["deygout"] >= diffraction["single_knife_edge"] > 20
    assert diffraction["epstein_peterson"] > 20  # two edges 60 m apart: EP may fall below the single edge
    totals = report["total_loss_db"]
    assert totals["hata_rural+deygout"] == pytest.approx(report["path_loss_db"]["hata_rural"]
                                                         + diffraction["deygout"], abs=0.02)


def test_text_output_and_png(ridge_dem, tmp_path):
    png = tmp_path / "profile.png"
    result = run("--dem", str(ridge_dem), "--from", START, "--to", END, "--png", str(png), "--tx-height-m", "40",
                 "--frequency-mhz", "700")
    assert result.exit_code == 0, result.output
    assert "line of sight     no" in result.output
    for label in ("free space", "Hata rural", "Hata suburban", "Hata urban", "+ Deygout", "+ Epstein–Peterson",
                  "% of F1", "700 MHz"):
        assert label in result.output, label
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_profile_of_the_dem_file_bilinear_between_pixels(tmp_path):
    z = np.tile(np.arange(200, dtype=float) * 2.0, (100, 1))  # rises 2 m per pixel eastwards
    dem = terrain.read_dem(write_dem(tmp_path / "ramp.tif", z))
    distance_m, elevation_m = terrain.profile(dem, 500_030.0, 2_361_500.0, 500_330.0, 2_361_500.0, step_m=10.0)
    assert distance_m.size == 31 and np.allclose(np.diff(distance_m), 10.0)
    # x = 500,030 is half-way between the centres of columns 0 and 1 (elevations 0 and 2) → 1 m.
    assert elevation_m[0] == pytest.approx(1.0) and elevation_m[-1] == pytest.approx(21.0)
    assert np.allclose(np.diff(elevation_m), 2.0 / 3.0)
    report = link.profile_report(distance_m, elevation_m, crs="EPSG:9205")
    assert report["samples"] == 31 and report["step_m"] == 10.0 and report["distance_km"] == 0.3


@pytest.mark.parametrize(("start", "message"), [
    ("499000,2361515", "outside the DEM"),
    ("abc", "malformed coordinates"),
    ("1,2,3", "is not 'X,Y'"),
    ("nan,5", "malformed coordinates"),
])
def test_bad_points_exit_2(flat_dem, start, message):
    result = run("--dem", str(flat_dem), "--from", start, "--to", END)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_same_point_nodata_and_geographic_dem_exit_2(tmp_path, flat_dem):
    same = run("--dem", str(flat_dem), "--from", START, "--to", START)
    assert same.exit_code == 2 and "same point" in same.output
    z = np.full((100, 200), 500.0)
    z[40:60, 100] = -9999.0
    holed = write_dem(tmp_path / "holed.tif", z, nodata=-9999.0)
    result = run("--dem", str(holed), "--from", START, "--to", END)
    assert result.exit_code == 2 and "nodata" in result.output
    geographic = write_dem(tmp_path / "geo.tif", np.full((100, 200), 500.0), crs="EPSG:4326")
    result = run("--dem", str(geographic), "--from", START, "--to", END)
    assert result.exit_code == 2 and "geographic" in result.output


def test_parse_xy():
    assert cli_radio.parse_xy(" 512000.5 , 2365000 ") == (512000.5, 2365000.0)
    assert math.isfinite(cli_radio.parse_xy("-1,2")[0])
