"""The ictgis command line (click's CliRunner) and the installed entry point."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import shapely
from click.testing import CliRunner
from conftest import X0, Y0, tiny_layers, write_layers

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


REPAIR = re.compile(r"Warning: communes\.shp row 1: invalid geometry \(Self-intersection.*\) repaired with make_valid")


def bowtie_dir(folder: Path) -> Path:
    """The tiny province whose first commune is a self-crossing 'bow tie' (repaired by make_valid on reading)."""
    layers = tiny_layers()
    x, y = X0, Y0
    layers["communes"].loc[0, "geometry"] = shapely.Polygon(
        [(x, y), (x + 5000, y + 5000), (x + 5000, y), (x, y + 5000), (x, y)])
    return write_layers(folder, layers)


def test_commands_print_each_data_repair_once_on_stderr(tmp_path):
    folder = bowtie_dir(tmp_path / "d")
    for args in (["indicators", str(folder)], ["postal", str(folder), "--out", str(tmp_path / "postal")]):
        result = run(*args)
        assert result.exit_code == 0, result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and REPAIR.fullmatch(lines[0]), (args, lines)
        assert "invalid geometry" not in result.stdout


def test_installed_command_prints_a_data_repair_as_one_line(tmp_path):
    """A real process (logging configured by the command): one line, no second copy from the log or warnings."""
    folder = bowtie_dir(tmp_path / "d")
    exe = Path(sys.executable).parent / "ictgis"
    proc = subprocess.run([str(exe if exe.exists() else shutil.which("ictgis")), "indicators", str(folder)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and REPAIR.fullmatch(lines[0]), lines
    assert "BƯU CHÍNH" in proc.stdout


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
