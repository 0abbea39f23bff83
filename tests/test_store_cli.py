"""``ictgis db …`` and ``--db/--as-of`` on the analysis commands: exit codes, JSON shapes, same results as files."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import tiny_layers, write_layers

from ictgis.cli import main


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


@pytest.fixture()
def imported(store_url, tiny_dir, tmp_path):
    assert run("db", "init", "--db", store_url).exit_code == 0
    first = run("db", "import", tiny_dir, "--db", store_url, "--author", "Lan", "--message", "first")
    assert first.exit_code == 0, first.output
    layers = tiny_layers()
    layers["villages"].loc[layers["villages"]["id"] == "V05", "fiber"] = 0
    second = write_layers(tmp_path / "second", layers)
    out = run("db", "import", second, "--db", store_url, "--author", "Minh", "--message", "fiber lost", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["id"] > 1
    return store_url, tiny_dir, second


def test_db_log_and_diff_json(imported, tmp_path):
    url, _, _ = imported
    log = run("db", "log", "--db", url, "--json")
    assert log.exit_code == 0
    entries = json.loads(log.output)
    assert [e["message"] for e in entries] == ["first", "fiber lost"]
    assert all({"id", "time", "author", "message"} <= set(e) for e in entries)
    assert entries[0]["time"].endswith("Z") and entries[0]["id"] < entries[1]["id"]
    diff = run("db", "diff", "--db", url, "--from", entries[0]["id"], "--to", entries[1]["id"], "--json",
               "--out", tmp_path / "changes.gpkg")
    assert diff.exit_code == 0, diff.output
    layers = json.loads(diff.output)["layers"]
    assert layers["villages"] == {"added": [], "removed": [], "changed": ["V05"]}
    assert layers["bts_sites"] == {"added": [], "removed": [], "changed": []}
    import pyogrio

    changed = pyogrio.read_dataframe(tmp_path / "changes.gpkg", layer="villages")
    assert changed[["change", "feature_key"]].values.tolist() == [["changed", "V05"]]
    assert str(changed["fiber"].iloc[0]) == "False"   # the new version (io.write_layers writes booleans as text)


def test_db_export_as_of_and_analysis_from_the_store(imported, tmp_path):
    url, first_dir, second_dir = imported
    export = run("db", "export", "--db", url, "--as-of", "1", "--out", tmp_path / "old")
    assert export.exit_code == 0, export.output
    from_export = run("indicators", tmp_path / "old", "--json")
    from_files = run("indicators", first_dir, "--json")
    from_store = run("indicators", "--db", url, "--as-of", "1", "--json")
    assert from_files.exit_code == from_store.exit_code == from_export.exit_code == 0
    a, b, c = (json.loads(r.output) for r in (from_files, from_store, from_export))
    for d in (a, b, c):
        d.pop("data_dir")   # the folder read: None for a store
    assert a == b == c
    now = json.loads(run("indicators", "--db", url, "--json").output)
    later = json.loads(run("indicators", second_dir, "--json").output)
    now.pop("data_dir"), later.pop("data_dir")
    assert now == later and now != a
    valid = run("validate", "--db", url, "--json")
    assert valid.exit_code == 0 and json.loads(valid.output)["valid"] is True


def test_db_errors_exit_2_with_a_clear_message(tmp_path, tiny_dir):
    no_db = run("db", "log", env={"DATABASE_URL": ""})
    assert no_db.exit_code == 2 and "pass --db FILE.gpkg" in no_db.output
    missing = run("db", "log", "--db", tmp_path / "none.gpkg")
    assert missing.exit_code == 2 and "ictgis db init" in missing.output
    url = tmp_path / "s.gpkg"
    assert run("db", "init", env={"DATABASE_URL": str(url)}).exit_code == 0   # DATABASE_URL names the store
    assert run("db", "log", "--json", env={"DATABASE_URL": str(url)}).output.strip() == "[]"
    bad_ref = run("db", "diff", "--db", url, "--from", "yesterday", "--to", "1")
    assert bad_ref.exit_code == 2 and "neither a changeset id nor a date" in bad_ref.output
    no_author = run("db", "import", tiny_dir, "--db", url, "--message", "m")
    assert no_author.exit_code == 2 and "--author" in no_author.output
    both = run("indicators", tiny_dir, "--db", url)
    assert both.exit_code == 2 and "either DATA_DIR" in both.output
    as_of_alone = run("indicators", tiny_dir, "--as-of", "1")
    assert as_of_alone.exit_code == 2 and "--as-of needs --db" in as_of_alone.output
    empty = run("indicators", "--db", url)
    assert empty.exit_code == 2 and "no data now" in empty.output
    assert run("db", "import", tiny_dir, "--db", url, "--author", "a", "--message", "m").exit_code == 0
    again = run("db", "import", tiny_dir, "--db", url, "--author", "a", "--message", "m", "--json")
    assert again.exit_code == 0 and json.loads(again.output) is None


def test_scenario_run_on_a_state_of_the_store(imported, tmp_path):
    url, first_dir, _ = imported
    text = "name: s\nbase: /nowhere\ninterventions:\n  - type: power\n    to: solar\n"
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    assert run("scenario", "validate", tmp_path / "s.yaml", "--db", url).exit_code == 0
    from_store = run("scenario", "run", tmp_path / "s.yaml", "--out", tmp_path / "a", "--db", url, "--as-of", "1")
    assert from_store.exit_code == 0, from_store.output
    (tmp_path / "f.yaml").write_text(text.replace("/nowhere", str(first_dir)), encoding="utf-8")
    from_files = run("scenario", "run", tmp_path / "f.yaml", "--out", tmp_path / "b")
    assert from_files.exit_code == 0, from_files.output
    for name in ("indicators_before.json", "indicators_after.json"):
        a, b = (json.loads((tmp_path / d / name).read_text(encoding="utf-8")) for d in "ab")

        assert a == b
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["base"]["changeset"] == 1 and manifest["base"]["store"]


def test_serve_reads_the_store_into_a_data_folder(imported):
    from ictgis import io
    from ictgis.cli._options import dataset_folder

    url, first_dir, _ = imported
    with dataset_folder(None, db=url, as_of="1") as folder:
        served = io.load(folder)
        counts = {n: len(f) for n, f in io.load(first_dir).layers.items()}
        assert {n: len(f) for n, f in served.layers.items()} == counts
    assert not folder.exists()   # removed when the server stops
