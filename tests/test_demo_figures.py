"""The embedded demo reproduces the department's 2021 figures, asserted through `ictgis indicators --json`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ictgis.cli import main


@pytest.fixture(scope="module")
def figures(demo_dir):
    result = CliRunner().invoke(main, ["indicators", str(demo_dir), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_exact_counts(figures):
    p = figures["province"]
    assert (p["units_total"], p["xa"], p["phuong"], p["thi_tran"], p["districts"]) == (129, 115, 9, 5, 10)
    assert p["households"] == 144_396
    assert round(p["population"] / 168) == 3670
    assert figures["fiber"]["villages"] == 1444
    assert figures["fiber"]["villages_with_fiber"] == 1275 and figures["fiber"]["villages_without_fiber"] == 169
    m = figures["mobile"]
    assert (m["bts_sites"], m["sites_3g"], m["sites_4g"], m["sites_diesel"], m["operators"]) == (815, 785, 705, 16, 5)
    assert figures["postal"]["points_by_kind"] == {"bdvhx": 107, "cap1": 2, "cap2": 10, "cap3": 37, "kt1": 1,
                                                   "large_cust": 1, "letterbox": 9, "other": 1}
    assert figures["broadcast"]["units_total"] == 129 and figures["broadcast"]["units_with_radio"] == 97


def test_published_indicators(figures):
    postal = figures["postal"]
    assert postal["service_points"] == 168
    assert postal["service_radius_km"] == 4.25
    assert postal["people_per_point"] == 3670
    assert postal["xa_total"] == 115 and postal["xa_with_cultural_post_office"] == 107
    assert postal["xa_with_cultural_post_office_pct"] == 93.0
    assert len(postal["xa_without_cultural_post_office"]) == 8
    assert figures["fiber"]["villages_fiber_pct"] == 88.3
    assert figures["broadcast"]["units_with_radio_pct"] == 75.2
    assert figures["province"]["area_km2"] == 9541.25


def test_2025_structure(demo_dir):
    result = CliRunner().invoke(main, ["indicators", str(demo_dir), "--json", "--structure", "2025"])
    data = json.loads(result.output)
    assert data["province"]["units_total"] == 45
    assert (data["province"]["xa"], data["province"]["phuong"]) == (42, 3)
    assert data["districts"] is None
    assert data["postal"]["service_points"] == 168 and data["postal"]["service_radius_km"] == 4.25


def test_the_installed_command(demo_dir):
    exe = Path(sys.executable).parent / "ictgis"
    proc = subprocess.run([str(exe), "indicators", "--json"], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout)["postal"]["service_radius_km"] == 4.25


def test_demo_4g_coverage_stays_calibrated_with_cells_and_land_cover():
    """The embedded demo with its cells and land cover, default model: 94.4 ± 1.5 % (the department's figure)."""
    from ictgis import coverage, io

    folder = Path(__file__).resolve().parents[1] / "data" / "shapefiles"
    if not (folder / "cells.csv").exists() or not (folder / "landcover.tif").exists():
        pytest.skip("the embedded demo has no cells or land cover")
    result = coverage.compute(io.load(folder), technology="4G", progress=lambda f, m: None)
    assert result.summary["model"]["cells"]["sectors"] > 1500
    assert result.summary["model"]["landcover"]["source"] == "landcover.tif"
    assert abs(result.summary["populated_area_pct"] - 94.4) <= 1.5
