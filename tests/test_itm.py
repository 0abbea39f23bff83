"""``ictgis profile --model itm`` (real itmlogic calls) and the TR 38.901 lines of the profile report."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from test_cli_radio import END, START, write_dem

from ictgis import link, radio, tr38901
from ictgis.cli import main
from ictgis.itm import itm_loss_db

pytest.importorskip("itmlogic")


@pytest.fixture
def ridge_dem(tmp_path):
    z = np.full((100, 200), 500.0)
    z[:, 99:102] = 600.0
    return write_dem(tmp_path / "ridge.tif", z)


def test_itm_on_a_flat_and_a_ridged_profile():
    d = np.arange(101) * 50.0  # 5 km
    flat = itm_loss_db(d, np.full(101, 400.0), tx_height_m=30.0, rx_height_m=1.5, frequency_mhz=1800.0)
    fs = radio.free_space_loss_db(5.0, 1800.0)
    assert flat["free_space_db"] == pytest.approx(fs, abs=0.01)
    # over flat ground ITM's median lies a few dB to ~20 dB above free space (two-ray ground reflection)
    assert fs < flat["loss_db"] < fs + 25.0
    assert flat["warning"] == 0
    z = np.full(101, 400.0)
    z[50] += 100.0  # a 100 m ridge half-way: far more loss
    ridged = itm_loss_db(d, z, tx_height_m=30.0, rx_height_m=1.5, frequency_mhz=1800.0)
    assert ridged["loss_db"] > flat["loss_db"] + 8.0
    with pytest.raises(ValueError, match="evenly"):
        itm_loss_db(np.array([0.0, 10.0, 30.0]), np.zeros(3), tx_height_m=30.0, rx_height_m=1.5,
                    frequency_mhz=1800.0)


def test_profile_prints_itm_beside_our_models(ridge_dem):
    runner = CliRunner()
    args = ["profile", "--dem", str(ridge_dem), "--from", START, "--to", END, "--model", "itm"]
    report = json.loads(runner.invoke(main, [*args, "--json"], catch_exceptions=False).output)
    itm = report["itm"]
    assert report["path_loss_db"]["free_space"] < itm["loss_db"] < report["path_loss_db"]["free_space"] + 60
    text = runner.invoke(main, args, catch_exceptions=False).output
    assert "ITM (Longley–Rice, median)" in text and "Hata rural" in text


def test_profile_without_itmlogic_is_a_clear_error(ridge_dem, monkeypatch):
    for name in [m for m in sys.modules if m.startswith("itmlogic")] + ["itmlogic"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    result = CliRunner().invoke(main, ["profile", "--dem", str(ridge_dem), "--from", START, "--to", END,
                                       "--model", "itm"])
    assert result.exit_code == 2
    assert 'pip install "ictgis[itm]"' in result.output
    assert "Traceback" not in result.output


def test_profile_report_has_tr38901_from_3_ghz():
    d = np.arange(181) * 30.0
    flat = link.profile_report(d, np.full(181, 500.0), crs="EPSG:9205", tx_height_m=35.0,
                               frequency_mhz=3500.0)
    assert flat["tr38901_db"]["los"] is True
    j = flat["diffraction_db"]["single_knife_edge"]
    assert flat["tr38901_db"]["RMa"] == pytest.approx(tr38901.los_loss_db("RMa", 5400.0, 3500.0, 35.0) + j, abs=0.01)
    z = np.full(181, 500.0)
    z[90] = 600.0
    ridged = link.profile_report(d, z, crs="EPSG:9205", tx_height_m=35.0, frequency_mhz=3500.0)
    assert ridged["tr38901_db"]["los"] is False
    j = ridged["diffraction_db"]["single_knife_edge"]
    los = tr38901.los_loss_db("UMa", 5400.0, 3500.0, 35.0)
    nlos = tr38901.nlos_loss_db("UMa", 5400.0, 3500.0, 35.0)
    assert ridged["tr38901_db"]["UMa"] == pytest.approx(max(los + j, nlos), abs=0.01)
    assert "tr38901_db" not in link.profile_report(d, z, crs="EPSG:9205", frequency_mhz=1800.0)
