from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from conftest import tiny_layers, write_layers

from ictgis.cli import main


def run(*args):
    return CliRunner().invoke(main, ["fiber", *map(str, args)])


def test_outputs_exist_and_read_back(tiny_dir: Path, tmp_path: Path):
    out = tmp_path / "out"
    r = run(tiny_dir, "--out", out, "--budget-vnd", "2e9", "--weights", "households=0.5,cost=0.2")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["routes.gpkg", "summary.json", "villages_ranked.csv",
                                                     "villages_ranked.xlsx"]
    layers = dict(pyogrio.list_layers(out / "routes.gpkg"))
    assert set(layers) == {"plan", "village_routes"}
    plan = pyogrio.read_dataframe(out / "routes.gpkg", layer="plan")
    assert {"length_m", "cost_vnd", "villages", "rank", "phase"} <= set(plan.columns)
    assert plan.crs.to_epsg() == 9205 and len(plan) > 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for key in ("villages_without_fiber", "villages_connected", "households_connected", "route_km", "cost_vnd",
                "unreachable"):
        assert key in summary
    assert summary["villages_without_fiber"] == 3
    assert summary["weights"]["households"] == 0.5
    assert summary["cost_vnd"] <= 2e9
    csv = pd.read_csv(out / "villages_ranked.csv", encoding="utf-8-sig", dtype=str)
    assert list(csv.columns[:3]) == ["Thứ tự ưu tiên", "Mã thôn", "Tên thôn, bản"]
    assert len(csv) == 3 and csv["Mã thôn"].iloc[-1] == "V10"
    ws = openpyxl.load_workbook(out / "villages_ranked.xlsx").active
    header = [c.value for c in ws[1]]
    assert header == list(csv.columns)
    assert "Số hộ" in header and "Lý do không kết nối được" in header
    assert ws.freeze_panes == "D2"
    assert "Không kết nối được" not in r.output and "3 villages without fiber" in r.output


def test_rerun_replaces_the_folder_and_leaves_no_temporaries(tiny_dir: Path, tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    assert run(tiny_dir, "--out", out, "--installation", "underground").exit_code == 0
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "tiny"]
    assert json.loads((out / "summary.json").read_text())["cost_model"]["installation"] == "underground"


def test_missing_roads_layer_exits_2(tmp_path: Path):
    layers = tiny_layers()
    del layers["roads"]
    data = write_layers(tmp_path / "noroads", layers)
    r = run(data, "--out", tmp_path / "out")
    assert r.exit_code == 2
    assert "roads" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args", [["--weights", "speed=1"], ["--budget-vnd", "-5"]])
def test_bad_options_exit_2(tiny_dir: Path, tmp_path: Path, args):
    r = run(tiny_dir, "--out", tmp_path / "out", *args)
    assert r.exit_code == 2


def test_routes_from_points_of_presence_when_there_is_no_fiber_routes_layer(tmp_path: Path):
    layers = tiny_layers()
    del layers["fiber_routes"]
    data = write_layers(tmp_path / "nofiber", layers)
    r = run(data, "--out", tmp_path / "refused", "--no-coverage")
    assert r.exit_code == 2 and "--pops" in r.output and not (tmp_path / "refused").exists()
    x0, y0 = 500_000.0, 2_360_000.0
    pops = tmp_path / "pops.csv"  # the exchange 300 m off QL279, an OLT on the commune road
    pops.write_text(f"ma,ten,x,y\nPOP1,Tổng đài Điện Biên Phủ,{x0 + 2000},{y0 + 1500}\n"
                    f"POP2,OLT Nà Tấu,{x0 + 1200},{y0 + 8000}\n", encoding="utf-8")
    out = tmp_path / "out"
    r = run(data, "--out", out, "--no-coverage", "--pops", pops, "--crs", "EPSG:9205")
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["existing_fiber"]["source"] == "routing from 2 points of presence in pops.csv; no fiber_routes layer"
    assert summary["existing_fiber"]["far_from_road"] == [{"id": "POP1", "layer": "pops", "connector_m": 300.0}]
    assert summary["villages_reachable"] == 2  # V10 is more than 5 km from every road
    assert "routing from 2 points of presence in pops.csv" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text(f"ten,x,y\nA,{x0 + 100},{y0 + 1000}\n", encoding="utf-8")
    r = run(data, "--out", tmp_path / "out2", "--no-coverage", "--pops", bad, "--crs", "EPSG:9205")
    assert r.exit_code == 2 and "bad.csv, column id: required attribute 'id'" in r.output
