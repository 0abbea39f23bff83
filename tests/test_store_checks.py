"""The store keeps the cells consistent with the sites: imports check them, deleting a site takes its cells along,
``validate --db`` finds orphaned cells (both backends)."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from conftest import tiny_layers, write_layers

from ictgis._errors import LayerError
from ictgis.cli import main

CELLS = "site,cell,azimuth,tilt\nS1,S1-A,0,2\nS1,S1-B,120,2\nS2,S2-A,240,4\n"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def with_cells(folder, text: str = CELLS):
    (folder / "cells.csv").write_text(text, encoding="utf-8")
    return folder


def test_import_refuses_cells_of_an_unknown_site_and_writes_nothing(store, tiny_dir, tmp_path):
    folder = with_cells(shutil.copytree(tiny_dir, tmp_path / "d"), CELLS + "S7,S7-A,10,1\n")
    with pytest.raises(LayerError) as caught:
        store.import_dataset(folder, author="Lan", message="orphan cell")
    problem = caught.value.problems[0]
    assert (problem.file, problem.row, problem.column) == ("cells.csv", 4, "site")
    assert store.log() == []
    out = run("db", "import", folder, "--db", store.url, "--author", "Lan", "--message", "m")
    assert out.exit_code == 2 and "cells.csv" in out.output and "S7" in out.output
    assert store.log() == []


def test_deleting_a_site_removes_its_cells_in_the_same_changeset(store, tiny_dir):
    store.import_dataset(with_cells(tiny_dir), author="Lan", message="with cells")
    site = store.feature("bts_sites", "S1")
    cs = store.delete("bts_sites", "S1", expected_version=site.version, author="Minh", message="site dismantled")
    assert "2 cells" in cs.message
    ds = store.dataset()
    assert list(ds.cells["cell"]) == ["S2-A"]
    assert "S1" not in set(ds["bts_sites"]["id"])
    assert store.diff(cs.id - 1, cs.id)["cells"] == {"added": [], "removed": ["S1-A", "S1-B"], "changed": []}
    assert list(store.dataset(cs.id - 1).cells["cell"]) == ["S1-A", "S1-B", "S2-A"]   # history kept
    valid = run("validate", "--db", store.url, "--json")
    assert valid.exit_code == 0, valid.output


def test_validate_db_reports_orphaned_cells(store, tiny_dir):
    store.import_dataset(with_cells(tiny_dir), author="Lan", message="with cells")
    t = store.layer_tables["bts_sites"]
    with store.writing() as conn:   # a store written before deletes took the cells along
        cs = store.new_changeset(conn, author="old", message="site removed alone", kind="edit")
        conn.execute(t.update().where(t.c.feature_key == "S2", t.c.ended_by.is_(None))
                     .values(ended_by=cs.id, valid_to=cs.time))
    out = run("validate", "--db", store.url, "--json")
    assert out.exit_code == 2, out.output
    report = json.loads(out.output)
    assert report["valid"] is False
    assert [(p["row"], p["column"], p["id"]) for p in report["problems"]] == [(3, "site", "S2")]
    assert report["problems"][0]["file"].endswith("#cells")
    assert run("validate", "--db", store.url, "--as-of", "1").exit_code == 0


def test_upload_shaped_import_of_a_loaded_dataset_is_checked_too(store, tiny_dir):
    from ictgis import io

    layers = tiny_layers()
    layers["bts_sites"] = layers["bts_sites"][layers["bts_sites"]["id"] != "S2"]
    folder = with_cells(write_layers(tiny_dir.parent / "nos2", layers))
    with pytest.raises(LayerError, match="S2"):
        store.import_dataset(io.load(folder), author="web", message="upload", kind="upload")
    assert store.log() == []


def test_db_diff_lists_the_changed_cells(store, tiny_dir, tmp_path):
    import pyogrio

    first = store.import_dataset(with_cells(tiny_dir), author="Lan", message="with cells")
    folder = with_cells(shutil.copytree(tiny_dir, tmp_path / "d"),
                        "site,cell,azimuth,tilt\nS1,S1-A,0,6\nS1,S1-B,120,2\nS3,S3-A,90,1\n")
    second = store.import_dataset(folder, author="Minh", message="retilt")
    expected = {"added": ["S3-A"], "removed": ["S2-A"], "changed": ["S1-A"]}
    assert store.diff(first.id, second.id)["cells"] == expected
    assert store.diff(second.id, first.id)["cells"] == {"added": ["S2-A"], "removed": ["S3-A"], "changed": ["S1-A"]}
    assert store.diff(first.id, first.id)["cells"] == {"added": [], "removed": [], "changed": []}
    out = run("db", "diff", "--db", store.url, "--from", first.id, "--to", second.id, "--json",
              "--out", tmp_path / "changes.gpkg")
    assert out.exit_code == 0, out.output
    layers = json.loads(out.output)["layers"]
    assert layers["cells"] == expected and layers["villages"] == {"added": [], "removed": [], "changed": []}
    cells = pyogrio.read_dataframe(tmp_path / "changes.gpkg", layer="cells", read_geometry=False)
    rows = {k: (c, t) for k, c, t in cells[["feature_key", "change", "tilt"]].itertuples(index=False)}
    assert rows == {"S3-A": ("added", 1.0), "S2-A": ("removed", 4.0), "S1-A": ("changed", 6.0)}
    assert "cells" not in store.diff_layers(first.id, second.id)   # the map's change layers: features only
    text = run("db", "diff", "--db", store.url, "--from", first.id, "--to", second.id)
    assert "cells" in text.output
