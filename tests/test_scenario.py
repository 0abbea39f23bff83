"""Scenario files: validation with line numbers, runs on copies, costs, atomic outputs, comparison."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyogrio
import pytest
from click.testing import CliRunner

from ictgis import ScenarioError, scenario
from ictgis.cli import main

GOOD = """\
name: test-plan
description: Kịch bản thử
base: {base}
parameters:
  usd_to_vnd: 25000
  discount_rate: 0.05
  horizon_years: 10
interventions:
  - type: power
    to: solar
  - type: upgrade_sites
    sites: {{where: {{has: 3G, lacks: 4G}}}}
    add: [4G]
  - type: post_offices
    add: missing_bdvhx
  - type: add_sites
    sites:
      - {{id: NEW1, x: 508000, y: 2368000, operator: Viettel, tech: "4G", power: solar}}
  - type: retire
    technology: 2G
  - type: project
    name: Nền tảng đô thị thông minh
    capex_vnd: 110000000000
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def good_base(path: Path) -> str:
    return scenario.read(path, check_base=False).base.as_posix()


def folder_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture()
def good(tmp_path, tiny_dir):
    return write(tmp_path, GOOD.format(base=tiny_dir))


def test_read_good(good, tiny_dir):
    sc = scenario.read(good)
    assert sc.name == "test-plan" and len(sc.interventions) == 6
    assert sc.base == tiny_dir.resolve()


def test_every_problem_with_its_line_number(tmp_path, tiny_dir):
    text = f"""\
name: bad
base: {tiny_dir}
colour: blue
parameters:
  discount_rate: -0.1
  horizon_years: ten
interventions:
  - type: power
    to: wind
  - type: teleport
  - type: upgrade_sites
    sites: {{ids: [S1, NOPE]}}
    add: [6G]
  - type: fiber
    budget_vnd: -5
  - type: add_sites
    sites:
      - {{id: S1, x: 1, y: 2}}
"""
    with pytest.raises(ScenarioError) as exc:
        scenario.read(write(tmp_path, text))
    msgs = [str(p) for p in exc.value.problems]
    text_all = "\n".join(msgs)
    assert "line 3: unknown key 'colour'" in text_all
    assert "line 5: discount_rate must not be negative" in text_all
    assert "line 6: expected int, got str 'ten'" in text_all
    assert "line 9: 'wind' is not one of solar, grid" in text_all
    assert "line 10: unknown intervention type 'teleport'" in text_all
    assert "line 13: cannot add technology '6G'" in text_all
    assert "line 15: budget_vnd must not be negative" in text_all
    # ids are checked against the base data once the file itself is well formed
    fixed = text.replace("colour: blue\n", "").replace("-0.1", "0.1").replace("ten", "10").replace("wind", "solar")
    fixed = fixed.replace("  - type: teleport\n", "").replace("6G", "4G").replace("budget_vnd: -5", "budget_vnd: 5")
    with pytest.raises(ScenarioError) as exc:
        scenario.read(write(tmp_path, fixed, "fixed.yaml"))
    text_all = "\n".join(str(p) for p in exc.value.problems)
    assert "site id 'NOPE' does not exist in the base data" in text_all
    assert "new site id 'S1' already exists" in text_all
    assert all("line " in str(p) for p in exc.value.problems)


def test_run_changes_copies_only_and_reports(good, tiny_dir, tmp_path):
    before_files = folder_hashes(tiny_dir)
    result = scenario.run(good, tmp_path / "out")
    assert folder_hashes(tiny_dir) == before_files  # the base is never modified
    d = result.delta.set_index("indicator")
    assert d.loc["mobile.sites_diesel", "before"] == 1 and d.loc["mobile.sites_diesel", "after"] == 0
    # S4 (diesel, 2G only) goes solar, then is removed by the 2G sunset; the new site is solar
    assert d.loc["mobile.sites_solar", "after"] == 1
    # S2 (2G,3G) gets 4G; the new site has 4G; S4 (2G only) is removed by the 2G sunset
    assert d.loc["mobile.sites_4g", "before"] == 2 and d.loc["mobile.sites_4g", "after"] == 4
    assert d.loc["mobile.bts_sites", "after"] == 4
    assert d.loc["postal.xa_with_cultural_post_office", "after"] == 2
    costs = result.costs.set_index("item")
    assert costs.loc["solar power for 1 sites", "capex_vnd"] == 20_000 * 25_000
    assert costs.loc["Nền tảng đô thị thông minh", "capex_vnd"] == 110_000_000_000
    total = result.costs.iloc[-1]
    assert total["intervention"] == "TOTAL"
    assert total["capex_vnd"] == result.costs.iloc[:-1]["capex_vnd"].sum()
    out = tmp_path / "out"
    names = {p.name for p in out.iterdir()}
    assert {"indicators_before.json", "indicators_after.json", "delta.csv", "costs.csv", "costs.json",
            "scenario.xlsx", "layers.gpkg", "summary.json", "manifest.json"} <= names
    # every changed layer is in the one GeoPackage (it used to keep only the last one written)
    listed = {name for name, _ in pyogrio.list_layers(out / "layers.gpkg")}
    assert listed == set(json.loads((out / "summary.json").read_text(encoding="utf-8"))["changed_layers"])
    assert {"bts_sites", "post_offices"} <= listed
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["base"]["files"] == before_files
    assert "geopandas" in manifest["versions"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_npv_by_hand():
    line = scenario.CostLine("x", "y", 1, capex_vnd=1000.0, opex_vnd_per_year=100.0)
    expected = 1000 + sum(100 / 1.05 ** t for t in range(1, 11))
    assert line.npv_vnd(rate=0.05, horizon=10) == pytest.approx(expected)


def test_runs_are_deterministic(good, tmp_path):
    scenario.run(good, tmp_path / "a")
    scenario.run(good, tmp_path / "b")
    for name in ("indicators_before.json", "indicators_after.json", "delta.csv", "costs.csv", "summary.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_interrupted_run_leaves_no_finished_looking_output(good, tmp_path, monkeypatch):
    def boom(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(scenario.outputs, "write_xlsx", boom)
    with pytest.raises(KeyboardInterrupt):
        scenario.run(good, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_existing_output_needs_force(good, tmp_path):
    scenario.run(good, tmp_path / "out")
    with pytest.raises(ScenarioError, match="exists"):
        scenario.run(good, tmp_path / "out")
    scenario.run(good, tmp_path / "out", force=True)
    assert (tmp_path / "out" / "manifest.json").exists()


def test_cli_validate_run_compare(good, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(main, ["scenario", "validate", str(good)])
    assert ok.exit_code == 0 and ok.output.startswith("valid:")
    bad = write(tmp_path, "name: x\ninterventions:\n  - type: nope\n", "bad.yaml")
    res = runner.invoke(main, ["scenario", "validate", str(bad)])
    assert res.exit_code == 2 and "line 3: unknown intervention type 'nope'" in res.output
    r1 = runner.invoke(main, ["scenario", "run", str(good), "--out", str(tmp_path / "r1")])
    assert r1.exit_code == 0, r1.output
    assert "mobile.sites_4g" in r1.output and "NPV" in r1.output
    only_project = write(tmp_path, f"name: nothing\nbase: {good_base(good)}\ninterventions: []\n", "p.yaml")
    r2 = runner.invoke(main, ["scenario", "run", str(only_project), "--out", str(tmp_path / "r2")])
    assert r2.exit_code == 0, r2.output
    cmp_ = runner.invoke(main, ["scenario", "compare", str(tmp_path / "r1"), str(tmp_path / "r2"),
                                "--csv", str(tmp_path / "c.csv"), "--xlsx", str(tmp_path / "c.xlsx")])
    assert cmp_.exit_code == 0, cmp_.output
    assert "test-plan" in cmp_.output and "nothing" in cmp_.output
    assert (tmp_path / "c.csv").exists() and (tmp_path / "c.xlsx").exists()
    unfinished = tmp_path / "half"
    unfinished.mkdir()
    res = runner.invoke(main, ["scenario", "compare", str(unfinished)])
    assert res.exit_code == 2 and "not a finished scenario run" in res.output


def test_fiber_and_optimized_sites_on_the_tiny_province(tmp_path, tiny_dir):
    from test_coverage import write_dem

    write_dem(tiny_dir, ridge_m=300.0)  # villages east of the ridge lie in the western sites' shadow
    text = f"""\
name: tiny-fiber-4g
base: {tiny_dir}
interventions:
  - type: fiber
    villages: all_gaps
  - type: add_sites
    optimize: {{technology: 4G, n_sites: 1}}
"""
    result = scenario.run(write(tmp_path, text), tmp_path / "out")
    d = result.delta.set_index("indicator")
    assert d.loc["fiber.villages_without_fiber", "after"] < d.loc["fiber.villages_without_fiber", "before"]
    assert d.loc["fiber.route_km", "after"] > d.loc["fiber.route_km", "before"]
    assert d.loc["mobile.sites_4g", "after"] == d.loc["mobile.sites_4g", "before"] + 1
    assert d.loc["mobile.populated_area_4g_pct", "after"] >= d.loc["mobile.populated_area_4g_pct", "before"]
    assert (tmp_path / "out" / "coverage_4g_after.kmz").exists()  # the after-state 4G coverage for Google Earth
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    fiber = summary["interventions"][0]
    assert fiber["villages_connected"] + len(fiber["unreachable"]) == fiber["villages_asked"] == 3
    sites = summary["interventions"][1]
    assert sites["sites_added"] == 1 and sites["lp_bound"] >= sites["population_newly_covered_model"] - 1e-6
    costs = result.costs.set_index("intervention")
    assert costs.loc["1. fiber", "capex_vnd"] > 0 and costs.loc["2. add_sites", "capex_vnd"] > 0


SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def test_shipped_scenarios_are_valid(demo_dir):
    files = sorted(SCENARIOS.glob("*.yaml"))
    assert {f.name for f in files} >= {"plan-2022.yaml", "fiber-every-village.yaml", "4g-every-village.yaml",
                                       "sunset-3g.yaml"}
    for path in files:
        sc = scenario.read(path)  # checks ids against the embedded demo too
        assert sc.base == demo_dir.resolve()


def test_json_schema_is_current_and_accepts_the_shipped_files():
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    committed = json.loads((SCENARIOS / "scenario.schema.json").read_text(encoding="utf-8"))
    assert committed == scenario.json_schema(), "regenerate: ictgis scenario schema > scenarios/scenario.schema.json"
    for path in SCENARIOS.glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), committed)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "interventions": [{"type": "power", "to": "wind"}]}, committed)


def test_base_override_runs_on_another_folder_without_changing_the_file(good, tiny_dir, tmp_path):
    """`base=` replaces the file's `base:` (a dataset version chosen in the web app); `base_info` is recorded."""
    import shutil

    import geopandas as gpd

    other = tmp_path / "version-3"
    shutil.copytree(tiny_dir, other)
    villages = gpd.read_file(other / "villages.shp")
    villages["fiber"] = 1
    villages.to_file(other / "villages.shp")
    text = good.read_text(encoding="utf-8")
    assert scenario.read(good, base=other).base == other.resolve()
    result = scenario.run(good, tmp_path / "out", base=other, base_info={"dataset_version": 3})
    assert good.read_text(encoding="utf-8") == text
    assert result.before["fiber"]["villages_with_fiber"] == 10
    assert scenario.run(good, tmp_path / "orig").before["fiber"]["villages_with_fiber"] == 7
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["base"]["dataset_version"] == 3 and manifest["base"]["folder"] == "version-3"
    assert manifest["base"]["files"] == folder_hashes(other)
    # a read scenario is checked again against the new base: S4 is not in a base without sites
    sc = scenario.read(write(tmp_path, GOOD.format(base=tiny_dir).replace(
        "type: power\n    to: solar", "type: power\n    to: solar\n    sites: {ids: [S4]}"), "ids.yaml"))
    bare = tmp_path / "no-sites"
    shutil.copytree(tiny_dir, bare, ignore=shutil.ignore_patterns("bts_sites.*"))
    with pytest.raises(ScenarioError, match="S4"):
        scenario.run(sc, tmp_path / "bare", base=bare)
    assert not (tmp_path / "bare").exists()



def test_add_sites_not_a_list_is_a_problem_not_a_crash(tmp_path):
    path = write(tmp_path, "name: x\ninterventions:\n  - type: add_sites\n    sites: 5\n")
    with pytest.raises(ScenarioError) as exc:
        scenario.read(path, check_base=False)
    assert [p.message for p in exc.value.problems] == ["line 4: expected list, got int 5"]


WRONG = {str: 5, float: "x", int: 1.5, bool: "x", list: 5, dict: 5}
RIGHT = {str: "a", float: 1.0, int: 1, bool: True, list: [], dict: {}}


@pytest.mark.parametrize("kind", list(scenario.INTERVENTIONS))
def test_schema_and_validator_reject_the_same_values(kind, tmp_path):
    """Both are built from the declarations: a wrong value of any declared key fails in both, on that key."""
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = scenario.json_schema()
    declared = scenario.INTERVENTIONS[kind].keys
    minimal = {"type": kind} | {key: (declared[key][0] if isinstance(declared[key], tuple) else RIGHT[declared[key]])
                                for key in scenario.INTERVENTIONS[kind].required}
    jsonschema.validate({"name": "x", "interventions": [minimal]}, schema)  # so each rejection is the key's
    cases = [(key, "not-an-option" if isinstance(k, tuple) else WRONG.get(k, 5)) for key, k in declared.items()]
    cases += [(key, -1) for key, k in declared.items() if k in (float, int)]
    cases += [("no_such_key", 1)]
    for i, (key, value) in enumerate(cases):
        doc = {"name": "x", "interventions": [minimal | {key: value}]}
        with pytest.raises(ScenarioError) as exc:
            scenario.read(write(tmp_path, yaml.safe_dump(doc), f"{i}.yaml"), check_base=False)
        assert f"interventions.0.{key}" in [p.column for p in exc.value.problems], (key, value)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, schema)


def test_a_new_intervention_type_is_one_declaration(tmp_path, tiny_dir, monkeypatch):
    """Registered in the table, a declaration is validated, in the schema and applied by a run."""

    def apply_survey(ds, spec, ctx):
        out = scenario.Outcome()
        out.costs.append(scenario.CostLine(ctx.label, "survey", spec["villages"], spec["villages"] * 1000.0, 0.0))
        return out

    survey = scenario.Intervention("survey", {"villages": int, "where": scenario.SITE_SELECTION}, apply_survey,
                                   required=("villages",))
    monkeypatch.setitem(scenario.INTERVENTIONS, "survey", survey)
    assert {"const": "survey"} in [v["properties"]["type"] for v in
                                   scenario.json_schema()["properties"]["interventions"]["items"]["oneOf"]]
    bad = write(tmp_path, f"name: s\nbase: {tiny_dir}\ninterventions:\n  - type: survey\n    villages: -2\n"
                          f"    where: {{ids: [NOPE]}}\n  - type: survey\n", "bad.yaml")
    with pytest.raises(ScenarioError) as exc:
        scenario.read(bad)
    assert [p.message for p in exc.value.problems] == ["line 5: villages must not be negative",
                                                       "line 7: survey needs 'villages'"]
    ids = write(tmp_path, f"name: s\nbase: {tiny_dir}\ninterventions:\n  - type: survey\n    villages: 2\n"
                          f"    where: {{ids: [NOPE]}}\n", "ids.yaml")
    with pytest.raises(ScenarioError, match="site id 'NOPE' does not exist"):
        scenario.read(ids)
    good = write(tmp_path, f"name: s\nbase: {tiny_dir}\ninterventions:\n  - {{type: survey, villages: 3}}\n",
                 "good.yaml")
    result = scenario.run(good, tmp_path / "out")
    assert result.costs.set_index("item").loc["survey", "capex_vnd"] == 3000


def test_a_new_module_in_the_interventions_package_is_a_new_type(tmp_path, monkeypatch):
    """Adding an intervention type is one module: the registry finds every module that declares INTERVENTION."""
    import sys

    from ictgis.scenario import interventions, registry

    declare = ("from ictgis.scenario._base import Intervention, Outcome\n"
               "INTERVENTION = Intervention({name!r}, {{'villages': int}}, lambda ds, spec, ctx: Outcome(),\n"
               "                            order=35)\n")
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "survey.py").write_text(declare.format(name="survey"), encoding="utf-8")
    (extra / "helpers.py").write_text("VALUE = 1  # a module without a declaration is not a type\n", encoding="utf-8")
    for name in ("survey", "helpers", "power2"):
        monkeypatch.delitem(sys.modules, f"{interventions.__name__}.{name}", raising=False)
    shipped = list(interventions.__path__)
    monkeypatch.setattr(interventions, "__path__", [*shipped, str(extra)])
    found = registry.discover(interventions.__path__, interventions.__name__)
    assert list(found) == ["power", "upgrade_sites", "retire", "survey", "add_sites", "share_towers", "post_offices",
                           "fiber", "connect_villages", "underground_fiber", "project"]
    assert list(registry.discover(shipped, interventions.__name__)) == list(scenario.INTERVENTIONS)
    (extra / "power2.py").write_text(declare.format(name="power"), encoding="utf-8")
    with pytest.raises(ValueError, match="declared twice"):
        registry.discover(interventions.__path__, interventions.__name__)
    for name in ("survey", "helpers", "power2"):
        sys.modules.pop(f"{interventions.__name__}.{name}", None)
