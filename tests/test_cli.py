"""The ictgis command line (click's CliRunner) and the installed entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from conftest import tiny_layers, write_layers

from ictgis.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_validate_valid(tiny_dir):
    result = run("validate", str(tiny_dir))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("valid:")
    assert "villages" in result.output and "no overlaps, no gaps" in result.output


def test_validate_lists_every_problem_and_exits_2(tmp_path):
    layers = tiny_layers()
    villages = layers["villages"].copy()
    villages["population"] = villages["population"].astype(object)
    villages.loc[0, "population"] = "nhiều"
    villages.loc[1, "commune"] = "00000"
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"], "villages": villages})
    result = run("validate", str(folder))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "villages.shp row 1 (id V01), column population: population is 'nhiều'" in result.output
    assert "villages.shp row 2 (id V02), column commune: commune code '00000' matches no commune" in result.output


def test_indicators_json_and_xlsx(tiny_dir, tmp_path):
    xlsx = tmp_path / "out.xlsx"
    result = run("indicators", str(tiny_dir), "--json", "--xlsx", str(xlsx))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["postal"]["service_points"] == 3
    assert xlsx.exists()
    table = run("indicators", str(tiny_dir))
    assert "Bán kính phục vụ bình quân" in table.output
    english = run("indicators", str(tiny_dir), "--lang", "en", "--structure", "2025")
    assert "Average service radius" in english.output


def test_clean_writes_a_new_file_and_never_the_input(tiny_dir, tmp_path):
    out = tmp_path / "clean" / "communes.gpkg"
    result = run("clean", str(tiny_dir), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.exists()
    refused = run("clean", str(tiny_dir), "--out", str(tiny_dir / "communes.shp"))
    assert refused.exit_code == 2


def test_entry_point_prints_no_traceback(tmp_path):
    exe = Path(sys.executable).parent / "ictgis"
    if not exe.exists():
        exe = shutil.which("ictgis")
    assert exe, "the ictgis command is installed with the package"
    proc = subprocess.run([str(exe), "validate", str(tmp_path / "missing")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "not a folder of layers" in proc.stderr


def test_postal_command(tiny_dir, tmp_path):
    out = tmp_path / "postal"
    result = run("postal", str(tiny_dir), "--out", str(out), "--threshold-km", "3")
    assert result.exit_code == 0, result.output
    assert "3 service points" in result.output and "miss a QCVN 1:2008 norm" in result.output
    summary = json.loads((out / "postal_summary.json").read_text(encoding="utf-8"))
    assert {c["code"] for c in summary["communes_failing_norms"]} == {"03124", "03325"}
    assert summary["villages_beyond_threshold"] >= 2
    assert {p.name for p in out.iterdir()} == {"postal_communes.csv", "postal_villages.csv", "postal_villages.xlsx",
                                               "postal_summary.json"}


def test_postal_kinds_unknown_exit_2_listing_the_valid_ones(tiny_dir, tmp_path):
    for args in (["indicators", str(tiny_dir), "--postal-kinds", "cap4"],
                 ["postal", str(tiny_dir), "--out", str(tmp_path / "p"), "--kinds", "cap4"]):
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert "'cap4'" in result.output and "bdvhx (Điểm BĐVHX)" in result.output
    assert not (tmp_path / "p").exists()


def test_postal_kinds_in_vietnamese(tiny_dir):
    result = run("indicators", str(tiny_dir), "--json", "--postal-kinds", "Điểm BĐVHX,CAP1")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["postal"]["service_points"] == 2 and data["postal"]["kinds_counted"] == ["bdvhx", "cap1"]


def test_postal_prints_no_none_and_whole_people(tiny_dir, tmp_path):
    out = tmp_path / "postal"
    result = run("postal", str(tiny_dir), "--out", str(out), "--kinds", "kt1")
    assert result.exit_code == 0, result.output
    assert "None" not in result.output and "no service point of the counted kinds" in result.output
    result = run("postal", str(tiny_dir), "--out", str(out))
    assert "3 service points, radius 3.26 km, 7,667 people per point" in result.output
    communes = (out / "postal_communes.csv").read_text(encoding="utf-8-sig")
    assert ",7000," in communes and "7000.0" not in communes
    villages = (out / "postal_villages.csv").read_text(encoding="utf-8-sig").splitlines()
    header = villages[0].replace('"', "").split(",")
    assert {"distance_km", "distance_by", "reason", "reason_vi"} <= set(header)
