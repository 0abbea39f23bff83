"""The ictgis command line (click's CliRunner) and the installed entry point."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from conftest import X0, Y0, gso_grid, tiny_layers, write_layers

from ictgis import LayerError, Problem
from ictgis._errors import MAX_SHOWN_PROBLEMS
from ictgis.cli import COMMANDS, main


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


def test_freeze_at_exit_freezes_when_the_process_ends_and_the_other_exit_handlers_still_run():
    probe = ("import atexit, gc, logging, sys\n"
             "from ictgis.cli._options import freeze_at_exit\n"
             "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0, flush=True))\n"
             "freeze_at_exit()\nfreeze_at_exit()\n"
             "print('frozen now:', gc.get_freeze_count() > 0)\n"
             "logging.basicConfig(stream=sys.stderr)\nlogging.getLogger('probe').warning('still logged')\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines() == ["frozen now: False", "frozen at exit: True"]
    assert "still logged" in proc.stderr


REPAIR = re.compile(r"Warning: communes\.shp row 1: invalid geometry \(Self-intersection.*\) repaired with make_valid")


def bowtie_dir(folder: Path) -> Path:
    """The tiny province whose first commune is a self-crossing 'bow tie' (repaired by make_valid on reading)."""
    layers = tiny_layers()
    x, y = X0, Y0
    layers["communes"].loc[0, "geometry"] = shapely.Polygon(
        [(x, y), (x + 5000, y + 5000), (x + 5000, y), (x, y + 5000), (x, y)])
    layers["communes"]["radio_it"] = [1, 0, 0, 0]  # every indicator computable: the repair is the only warning
    layers["villages"] = layers["villages"].drop(index=[1, 2])  # not in the repaired bow tie's two triangles
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


def test_a_long_problem_list_ends_with_and_n_more(tmp_path):
    layers = tiny_layers()
    villages = pd.concat([layers["villages"]] * 3, ignore_index=True)
    villages["id"] = [f"V{i:02d}" for i in range(len(villages))]
    villages["population"] = villages["population"].astype(object)
    villages.loc[:14, "population"] = "nhiều"  # 15 rows
    villages.loc[15:, "commune"] = "00000"  # 15 rows
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"], "villages": villages})
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert sum(line.startswith("  - ") for line in lines) == MAX_SHOWN_PROBLEMS
    more = re.fullmatch(r"  … and 10 more \(all in (.+)\)", lines[-1])
    assert more, lines[-1]
    listed = Path(more.group(1)).read_text(encoding="utf-8").splitlines()
    Path(more.group(1)).unlink()
    assert sum(line.startswith("  - ") for line in listed) == 30
    # --json lists every problem
    as_json = CliRunner().invoke(main, ["validate", str(folder), "--json"])
    assert as_json.exit_code == 2
    report = json.loads(as_json.stdout)
    assert report["valid"] is False and len(report["problems"]) == 30
    assert report["problems"][0] == {"file": "villages.shp", "row": 1, "column": "population", "id": "V00",
                                     "message": "population is 'nhiều', expected a whole number ≥ 0",
                                     "kind": "bad_value", "detail": {"value": "nhiều", "expected": "int"}}


def test_an_error_keeps_every_problem():
    problems = [Problem("f.shp", "bad", row=i + 1) for i in range(45)]
    exc = LayerError("45 problems in f:", problems)
    assert len(exc.problems) == 45
    assert str(exc).splitlines()[-1] == "  … and 25 more" and len(str(exc).splitlines()) == 22
    assert len(exc.describe().splitlines()) == 46


def test_missing_codes_are_one_problem_naming_match_codes(tmp_path):
    communes = tiny_layers()["communes"]
    communes["code"] = [None, "03127", None, None]
    folder = write_layers(tmp_path / "d", {"communes": communes})
    result = run("validate", str(folder))
    assert result.exit_code == 2
    assert ("communes.shp, column code: 3 of 4 communes have no code (rows 1, 3, 4); codes are not GSO 5-digit "
            "commune codes: run `ictgis match-codes communes.shp --out communes_gso.shp`") in result.output
    assert "missing value" not in result.output


def test_other_codes_name_match_codes_once(tmp_path):
    communes = tiny_layers()["communes"]
    communes["code"] = ["3020101", "3020102", "3020103", "3020104"]
    folder = write_layers(tmp_path / "d", {"communes": communes}, suffix=".geojson")
    result = run("validate", str(folder))
    assert result.exit_code == 0
    assert result.output.count("match-codes") == 1
    assert ("codes are not GSO 5-digit commune codes (4 of 4, e.g. '3020101'): run `ictgis match-codes "
            "communes.geojson --out communes_gso.geojson`") in result.output
    merged = CliRunner().invoke(main, ["indicators", str(folder), "--structure", "2025"])
    assert merged.exit_code == 2
    # once as the reading warning, once in the error of the 2025 structure: never once per row
    assert merged.output.count("match-codes") == 2 and "communes.geojson, column code:" in merged.output


def test_match_codes_writes_gso_codes_and_lists_what_it_cannot_match(tmp_path):
    communes = gpd.GeoDataFrame(
        {"MA": ["3021101", "3021102", "3021103", "3021104"],
         "TEN": ["Xã Xá Lông", "Xã Huổi Lèng", "Xã Không Có", "Phường Him Lam"],  # Xá Lông: GSO spells Sa Lông
         "HUYEN": ["Huyện Mường Chà", "Huyện Mường Chà", "Huyện Mường Chà", "Thành phố Điện Biên Phủ"]},
        geometry=[shapely.box(X0 + i * 1000, Y0, X0 + i * 1000 + 1000, Y0 + 1000) for i in range(4)], crs=9205)
    source = tmp_path / "xa.shp"
    communes.to_file(source, engine="pyogrio")
    out = tmp_path / "xa_gso.gpkg"
    result = run("match-codes", str(source), "--out", str(out), "--field", "code=MA", "--field", "name=TEN",
                 "--field", "district=HUYEN")
    assert result.exit_code == 2
    assert "matched 3 of 4 communes of xa.shp" in result.output
    assert "  - row 3: Không Có (Huyện Mường Chà), code 3021103" in result.output
    assert "add the GSO code in `code`" in result.output
    written = gpd.read_file(out)
    assert written["code"].fillna("").tolist() == ["03197", "03196", "", "03127"]
    assert written["source_code"].tolist() == ["3021101", "3021102", "3021103", "3021104"]
    # a code added by hand is kept when the file is matched again, and so are the original codes
    written.loc[2, "code"] = "03190"
    fixed = tmp_path / "xa_fixed.gpkg"
    written.to_file(fixed)
    again = run("match-codes", str(fixed), "--out", str(tmp_path / "xa_done.gpkg"))
    assert again.exit_code == 0, again.output
    assert "matched 4 of 4 communes" in again.output
    done = gpd.read_file(tmp_path / "xa_done.gpkg")
    assert done["code"].tolist() == ["03197", "03196", "03190", "03127"]
    assert done["source_code"].tolist() == ["3021101", "3021102", "3021103", "3021104"]
    assert run("match-codes", str(fixed), "--out", str(fixed)).exit_code == 2  # never the input


def test_a_missing_unit_is_reported_and_clean_not_offered(tmp_path):
    folder = write_layers(tmp_path / "d", {"communes": gso_grid(drop=("03262",))})
    result = run("validate", str(folder))
    assert result.exit_code == 0, result.output
    assert "- a gap clean cannot fill: Mùn Chung (03262) is missing: 4.0 km² hole" in result.output
    assert "ictgis clean" not in result.output
    cleaned = CliRunner().invoke(main, ["clean", str(folder), "--out", str(tmp_path / "c.gpkg")])
    assert cleaned.exit_code == 0
    assert "1 gap left as it is:\n  - Mùn Chung (03262) is missing: 4.0 km² hole" in cleaned.output


def test_scenario_commands_print_the_base_data_repairs(tmp_path):
    """A base whose commune needed a repair: `scenario validate` and `scenario run` say so, once, as one line."""
    layers = tiny_layers()
    x0, y0 = X0, Y0
    layers["communes"].loc[0, "geometry"] = shapely.Polygon(  # a bow tie: repaired with make_valid
        [(x0, y0), (x0 + 5000, y0 + 5000), (x0 + 5000, y0), (x0, y0 + 5000), (x0, y0)])
    base = write_layers(tmp_path / "base", layers)
    file = tmp_path / "plan.yaml"
    file.write_text(f"name: plan\nbase: {base.as_posix()}\ninterventions:\n"
                    "  - {type: project, name: Dự án, capex_vnd: 1000}\n", encoding="utf-8")
    for args in (["scenario", "validate", str(file)], ["scenario", "run", str(file), "--out", str(tmp_path / "o")]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        repaired = [line for line in result.output.splitlines() if line.startswith("Warning:") and "repaired" in line]
        assert len(repaired) == 1, result.output


def test_help_imports_no_heavy_library():
    # `ictgis --help` and every command's --help start without geopandas, numba, folium or flask: the commands
    # import what they need when they run (python -X importtime shows the cost)
    probe = ("import sys\nfrom ictgis.cli import main\nfor args in (['--help'], ['viewshed', '--help'], "
             "['coverage', '--help']):\n    try:\n        main(args)\n    except SystemExit:\n        pass\n"
             "print(sorted(m for m in ('geopandas', 'pandas', 'numba', 'folium', 'flask', 'rasterio', 'shapely') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_every_listed_command_loads_under_its_name_and_only_when_asked():
    # the group imports a command's module when that command runs: a name in COMMANDS that does not match its
    # click command, or a module that fails to import, shows up here and not only when a user types that command
    probe = ("import sys\nimport click\nfrom ictgis.cli import COMMANDS, main\n"
             "ctx = click.Context(main)\nbefore = sorted(m for m in sys.modules if m.startswith('ictgis.cli.'))\n"
             "names = {n: main.get_command(ctx, n).name for n in main.list_commands(ctx)}\n"
             "print(before, sorted(names) == sorted(COMMANDS), all(k == v for k, v in names.items()), "
             "main.get_command(ctx, 'nonesuch'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "True", "True", "None"]
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = re.findall(r"^  ([a-z][a-z-]*)  ", result.output.split("Commands:")[1], flags=re.M)
    assert listed == sorted(COMMANDS) and "viewshed" in listed



@pytest.mark.parametrize(("preset", "advised"), [(None, "False"), ("1", "True")])
def test_the_command_line_runs_numpy_without_huge_page_advice_unless_asked(preset, advised):
    """`ictgis` sets NUMPY_MADVISE_HUGEPAGE=0 before numpy is imported (first touches of large arrays are ~10x
    faster on our machines without it); a value the user set is kept."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if preset is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = preset
    code = ("from ictgis.cli import main\n"
            "main(['--version'], standalone_mode=False)\n"
            "import numpy._core.multiarray as m\n"
            "print(m._get_madvise_hugepage())\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split()[-1] == advised
