"""The store on both backends (GeoPackage file, PostgreSQL + PostGIS): import, history, as-of, diff, export, edits."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyogrio
import pytest
import shapely
from conftest import X0, Y0, tiny_layers, write_layers
from geopandas.testing import assert_geodataframe_equal

from ictgis import io
from ictgis._errors import EditConflictError, LayerError, StoreError
from ictgis.store import open_store
from ictgis.store.accounts import create_run, get_run, list_users, set_user, update_run

REPO = Path(__file__).resolve().parent.parent


def planted(tmp_path: Path) -> tuple[Path, dict]:
    """The tiny province with one change of each kind per layer; return its folder and what changed."""
    layers = tiny_layers()
    v = layers["villages"]
    v.loc[v["id"] == "V03", "population"] = 3100                   # changed attribute
    v = v[v["id"] != "V10"]                                       # removed
    layers["villages"] = v
    b = layers["bts_sites"]
    b.loc[b["id"] == "S2", "geometry"] = shapely.Point(X0 + 7.5e3, Y0 + 2.5e3)   # moved
    b = b.iloc[[3, 0, 1, 2]].reset_index(drop=True)               # reordered only: not a change
    extra = b.iloc[[0]].copy()
    extra["id"] = "S9"
    layers["bts_sites"] = type(b)(io.pd.concat([b, extra], ignore_index=True), crs=b.crs)  # added
    expected = {"villages": {"added": [], "removed": ["V10"], "changed": ["V03"]},
                "bts_sites": {"added": ["S9"], "removed": [], "changed": ["S2"]}}
    return write_layers(tmp_path / "planted", layers), expected


def same_dataset(a: io.Dataset, b: io.Dataset) -> None:
    assert list(a.layers) == list(b.layers)
    for name in a.layers:
        assert_geodataframe_equal(a[name], b[name])
    assert a.crs == b.crs
    assert a.area_km2 == b.area_km2
    assert (a.dem_path is None) == (b.dem_path is None)
    if a.dem_path is not None:
        assert Path(a.dem_path).read_bytes() == Path(b.dem_path).read_bytes()


def test_demo_import_then_export_gives_the_same_layers(store, demo_dir, tmp_path):
    cs = store.import_dataset(demo_dir, author="Lan", message="demo")
    assert cs.id == 1 and cs.kind == "import" and cs.counts["villages"]["added"] == 1444
    ref = io.load(demo_dir)
    same_dataset(store.dataset(), ref)
    out = store.export(tmp_path / "out")
    same_dataset(io.load(out), ref)
    again = store.export(tmp_path / "again")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {p.name: p.read_bytes() for p in again.iterdir()}


def test_cells_and_land_cover_are_kept_with_their_history_and_exported(store, demo_dir, tmp_path):
    from pandas.testing import assert_frame_equal

    from ictgis.cells import read_cells

    folder = tmp_path / "d"
    shutil.copytree(demo_dir, folder)
    first = store.import_dataset(folder, author="Lan", message="demo with cells")
    original = read_cells(demo_dir / "cells.csv")
    assert first.counts["cells"] == {"added": len(original), "changed": 0, "removed": 0}
    out = store.export(tmp_path / "out")
    assert (out / "landcover.tif").read_bytes() == (demo_dir / "landcover.tif").read_bytes()
    assert_frame_equal(read_cells(out / "cells.csv"), original)
    ds = store.dataset()
    assert Path(ds.landcover_path).read_bytes() == (demo_dir / "landcover.tif").read_bytes()
    # a retilted cell, one removed, and no land cover any more: a second changeset; the first state stays readable
    table = (demo_dir / "cells.csv").read_text(encoding="utf-8").splitlines()
    head, rows = table[0], table[1:]
    cols = rows[0].split(",")
    cols[head.split(",").index("tilt")] = "9"
    (folder / "cells.csv").write_text("\n".join([head, ",".join(cols), *rows[2:]]) + "\n", encoding="utf-8")
    (folder / "landcover.tif").unlink()
    second = store.import_dataset(folder, author="Minh", message="retilt")
    assert second.counts["cells"] == {"added": 0, "changed": 1, "removed": 1}
    now = store.dataset()
    assert now.landcover_path is None and len(now.cells) == len(original) - 1 and now.cells["tilt"].iloc[0] == 9
    then = store.dataset(first.id)
    assert_frame_equal(then.cells.reset_index(drop=True), original[list(then.cells.columns)],
                       check_dtype=False)
    assert Path(then.landcover_path).read_bytes() == (demo_dir / "landcover.tif").read_bytes()
    back = store.export(tmp_path / "back", as_of=first.id)
    assert_frame_equal(read_cells(back / "cells.csv"), original)
    assert not (store.export(tmp_path / "now") / "landcover.tif").exists()


def test_second_import_lists_exactly_the_planted_changes(store, tiny_dir, tmp_path):
    first = store.import_dataset(tiny_dir, author="Lan", message="first")
    folder, expected = planted(tmp_path)
    second = store.import_dataset(folder, author="Minh", message="second")
    assert second.id == first.id + 1
    assert second.counts == {k: {"added": len(v["added"]), "changed": len(v["changed"]),
                                 "removed": len(v["removed"])} for k, v in expected.items()} | {
        "bts_sites": {"added": 1, "changed": 1, "removed": 0, "reordered": 3}}   # S4 moved first: new versions
    changes = store.diff(first.id, second.id)
    assert {k: v for k, v in changes.items() if any(v.values())} == expected
    assert set(changes) == set(io.load(tiny_dir).layers)
    assert store.diff(second.id, first.id)["villages"] == {"added": ["V10"], "removed": [], "changed": ["V03"]}
    layers = store.diff_layers(first.id, second.id)
    assert layers["villages"].set_index("feature_key")["change"].to_dict() == {"V10": "removed", "V03": "changed"}
    assert layers["villages"].set_index("feature_key").loc["V03", "population"] == 3100
    same_dataset(store.dataset(), io.load(folder))  # the new file order too (S4 first)


def test_as_of_by_id_and_by_date(store, tiny_dir, tmp_path):
    first = store.import_dataset(tiny_dir, author="Lan", message="first")
    folder, _ = planted(tmp_path)
    second = store.import_dataset(folder, author="Minh", message="second")
    old, new = io.load(tiny_dir), io.load(folder)
    same_dataset(store.dataset(as_of=first.id), old)
    same_dataset(store.dataset(as_of=str(first.id)), old)
    same_dataset(store.dataset(as_of=first.time.isoformat()), old)   # a time: changesets up to it
    same_dataset(store.dataset(as_of=second.time), new)
    same_dataset(store.dataset(as_of=second.time.date().isoformat()), new)   # a date: the end of that day
    yesterday = (first.time - dt.timedelta(days=1)).date().isoformat()
    assert store.resolve(yesterday) == 0
    with pytest.raises(StoreError, match="no data as of"):
        store.dataset(as_of=yesterday)
    with pytest.raises(StoreError, match="no changeset 9"):
        store.dataset(as_of=9)
    with pytest.raises(StoreError, match="neither a changeset id nor a date"):
        store.resolve("last tuesday")
    assert store.layer("villages", as_of=first.id).set_index("feature_key").loc["V03", "population"] == 3000
    assert store.diff(yesterday, first.id)["villages"]["added"] == [f"V{i:02d}" for i in range(1, 11)]


def test_unchanged_reimport_records_no_changeset(store, tiny_dir, tmp_path):
    assert store.import_dataset(tiny_dir, author="Lan", message="first") is not None
    copy = write_layers(tmp_path / "copy", tiny_layers(), suffix=".gpkg")   # same data, other format
    assert store.import_dataset(copy, author="Lan", message="again") is None
    assert [cs.message for cs in store.log()] == ["first"]


def test_invalid_data_is_refused_and_nothing_written(store, tiny_dir, tmp_path):
    store.import_dataset(tiny_dir, author="Lan", message="first")
    layers = tiny_layers()
    layers["villages"]["population"] = layers["villages"]["population"].astype(object)
    layers["villages"].loc[0, "population"] = "many"
    with pytest.raises(LayerError, match="population is 'many'"):
        store.import_dataset(write_layers(tmp_path / "bad", layers), author="Lan", message="bad")
    assert len(store.log()) == 1


KILLER = textwrap.dedent("""
    import os, signal, sys
    import sqlalchemy as sa
    from ictgis.store import open_store
    store = open_store(sys.argv[1])
    inserts = [0]

    @sa.event.listens_for(store.engine, "after_cursor_execute")
    def _count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO"):
            inserts[0] += 1
            if inserts[0] == int(sys.argv[3]):
                os.kill(os.getpid(), signal.SIG{how})
                raise RuntimeError("injected failure after some rows")

    store.import_dataset(sys.argv[2], author="killed", message="never recorded")
""")


@pytest.mark.parametrize("how", ["KILL", "USR1"])   # SIGKILL mid-transaction; an exception after some rows
def test_import_stopped_half_way_leaves_the_previous_state(store, store_url, tiny_dir, tmp_path, how):
    store.import_dataset(tiny_dir, author="Lan", message="first")
    before = store.dataset()
    folder, _ = planted(tmp_path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    code = KILLER.replace("{how}", how)
    if how == "USR1":
        code = code.replace("os.kill(os.getpid(), signal.SIGUSR1)", "pass")
    done = subprocess.run([sys.executable, "-c", code, store_url, str(folder), "2"], env=env, capture_output=True,
                          text=True, timeout=120)
    if how == "KILL":
        assert done.returncode == -signal.SIGKILL, done.stderr
    else:
        assert done.returncode == 1 and "injected failure" in done.stderr
    with open_store(store_url) as fresh:
        assert [cs.message for cs in fresh.log()] == ["first"]
        same_dataset(fresh.dataset(), before)
        assert fresh.import_dataset(folder, author="Minh", message="second").id > 1   # usable afterwards
        assert [cs.message for cs in fresh.log()] == ["first", "second"]   # (PostgreSQL may skip an id)


def test_edit_with_optimistic_version_check(store, tiny_dir):
    first = store.import_dataset(tiny_dir, author="Lan", message="first")
    site = store.feature("bts_sites", "S1")
    assert site.version == first.id and site.attributes["power"] == "grid"
    saved = store.edit("bts_sites", "S1", expected_version=site.version, attributes={"power": "Năng lượng mặt trời",
                       "tech": "4G/2G"}, author="An", message="solar panel installed")
    assert saved.kind == "edit" and saved.id == first.id + 1
    with pytest.raises(EditConflictError, match="edited by someone else") as err:   # a second planner, same version
        store.edit("bts_sites", "S1", expected_version=site.version, attributes={"height_m": 45.0}, author="Binh",
                   message="taller mast")
    assert err.value.http_status == 409 and err.value.current == saved.id
    now = store.feature("bts_sites", "S1")
    assert now.version == saved.id and now.attributes["power"] == "solar" and now.attributes["tech"] == "2G,4G"
    assert now.attributes["height_m"] == 30.0     # the refused edit wrote nothing
    assert store.diff(first.id, saved.id)["bts_sites"] == {"added": [], "removed": [], "changed": ["S1"]}
    assert store.edit("bts_sites", "S1", expected_version=now.version, attributes={"power": "solar"}, author="An",
                      message="no change") is None
    with pytest.raises(LayerError, match="height_m is 'tall'"):
        store.edit("bts_sites", "S1", expected_version=now.version, attributes={"height_m": "tall"}, author="An",
                   message="bad")
    with pytest.raises(LayerError, match="outside the province"):
        store.edit("bts_sites", "S1", expected_version=now.version, geometry=shapely.Point(X0 + 90e3, Y0),
                   author="An", message="far away")
    moved = store.edit("bts_sites", "S1", expected_version=now.version, geometry=shapely.Point(X0 + 3e3, Y0 + 3e3),
                       author="An", message="moved")
    added = store.add("post_offices", "P9", attributes={"name": "Điểm BĐVHX mới", "kind": "Điểm BĐVHX",
                      "commune": "03325"}, geometry=shapely.Point(X0 + 8e3, Y0 + 8e3), author="An", message="new")
    with pytest.raises(EditConflictError, match="already exists"):
        store.add("post_offices", "P9", attributes={"kind": "bdvhx"}, geometry=shapely.Point(X0 + 8e3, Y0 + 8e3),
                  author="An", message="twice")
    gone = store.delete("villages", "V01", expected_version=first.id, author="An", message="merged")
    with pytest.raises(EditConflictError, match="deleted"):
        store.delete("villages", "V01", expected_version=first.id, author="An", message="again")
    assert [cs.id for cs in store.log()] == [1, saved.id, moved.id, added.id, gone.id]
    ds = store.dataset()
    assert "P9" in set(ds["post_offices"]["id"]) and "V01" not in set(ds["villages"]["id"])
    assert ds["post_offices"].set_index("id").loc["P9", "kind"] == "bdvhx"
    assert store.feature("villages", "V01") is None
    assert store.layer("villages", as_of=first.id)["feature_key"].iloc[0] == "V01"


def test_users_and_runs_are_shared_through_the_store(store, store_url):
    set_user(store, "lan", password_hash="h1", role="planner")
    set_user(store, "lan", password_hash="h2", role="viewer")
    with pytest.raises(StoreError, match="unknown role"):
        set_user(store, "x", password_hash="h", role="admin")
    run = create_run(store, "r1", name="4G", parameters={"budget": 1e9}, owner="lan")
    with open_store(store_url) as other:   # another server process
        assert [(u["name"], u["role"], u["password_hash"]) for u in list_users(other)] == [("lan", "viewer", "h2")]
        update_run(other, "r1", expected_version=run["version"], status="running")
    with pytest.raises(EditConflictError):
        update_run(store, "r1", expected_version=run["version"], status="cancelled")
    done = get_run(store, "r1")
    assert done["status"] == "running" and done["parameters"] == {"budget": 1e9} and done["version"] == 2


def test_a_store_must_be_initialised_first(tmp_path):
    with pytest.raises(StoreError, match="no such store: create it with `ictgis db init"):
        open_store(tmp_path / "none.gpkg").log()
    assert not (tmp_path / "none.gpkg").exists()
    import sqlite3

    sqlite3.connect(tmp_path / "other.gpkg").execute("CREATE TABLE t (a)").connection.close()
    with pytest.raises(StoreError, match="not an ictgis store yet: run `ictgis db init"):
        open_store(tmp_path / "other.gpkg").log()


def test_geopackage_store_opens_in_gdal_with_its_current_views(tmp_path, tiny_dir):
    path = tmp_path / "ictgis.gpkg"
    with open_store(path) as s:
        s.init()
        first = s.import_dataset(tiny_dir, author="Lan", message="first")
        s.delete("villages", "V02", expected_version=first.id, author="An", message="gone")
    names = set(pyogrio.list_layers(path)[:, 0])
    assert {"villages", "villages_current", "bts_sites_current", "changesets"} <= names
    current = pyogrio.read_dataframe(path, layer="villages_current")
    history = pyogrio.read_dataframe(path, layer="villages")
    assert len(current) == 9 and len(history) == 10 and current.crs.to_epsg() == 9205
    assert set(history.loc[history["valid_to"].notna(), "feature_key"]) == {"V02"}
    info = pyogrio.read_info(path, layer="villages")
    assert info["fields"].tolist()[:3] == ["feature_key", "id", "name"]
    spatial = pyogrio.read_dataframe(path, layer="villages_current", bbox=(X0, Y0, X0 + 2e3, Y0 + 2e3))
    assert spatial["id"].tolist() == ["V01"]


def test_two_planners_saving_the_same_feature_at_once(store, tiny_dir):
    from concurrent.futures import ThreadPoolExecutor

    first = store.import_dataset(tiny_dir, author="Lan", message="first")

    def save(height):
        try:
            return store.edit("bts_sites", "S3", expected_version=first.id, attributes={"height_m": height},
                              author=f"planner {height}", message="mast height")
        except EditConflictError as exc:
            return exc

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(save, [41.0, 42.0]))
    saved = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, EditConflictError)]
    assert len(saved) == 1 and len(refused) == 1
    assert store.feature("bts_sites", "S3").attributes["height_m"] == float(saved[0].author.split()[1])
    assert len(store.log()) == 2


def test_layer_states_name_each_layers_last_change_and_partial_or_reused_reads_equal_full_ones(store, tiny_dir):
    first = store.import_dataset(tiny_dir, author="Lan", message="first").id
    site = store.feature("bts_sites", "S1")
    second = store.edit("bts_sites", "S1", expected_version=site.version, attributes={"power": "solar"},
                        author="An", message="solar").id
    third = store.add("post_offices", "P9", attributes={"name": "Điểm mới", "kind": "bdvhx", "commune": "03325"},
                      geometry=shapely.Point(X0 + 8e3, Y0 + 8e3), author="An", message="new").id
    fourth = store.delete("villages", "V01", expected_version=first, author="An", message="merged").id
    ids = [first, second, third, fourth]
    states = {n: store.layer_states(n) for n in ids}
    assert set(states[first].values()) == {first} and set(states[first]) == set(store.dataset(as_of=first).layers)
    assert states[second] == states[first] | {"bts_sites": second}
    assert states[third] == states[second] | {"post_offices": third}
    assert states[fourth] == states[third] | {"villages": fourth}      # a deletion is a change too
    assert store.layer_states(None) == states[fourth]
    previous = None
    for n in ids:
        full = store.dataset(as_of=n)
        partial = store.dataset(as_of=n, layers=("villages", "bts_sites"))
        assert list(partial.layers) == ["communes", "villages", "bts_sites"]
        assert partial.dem_path is None and partial.topology is None and partial.cells is None
        for name in partial.layers:
            assert_geodataframe_equal(partial[name], full[name])
        if previous is not None:
            prev_n, prev = previous
            known = {k: prev[k] for k in prev.layers if states[n][k] == states[prev_n][k]}
            assert 0 < len(known) < len(prev.layers)
            reused = store.dataset(as_of=n, known=known)
            same_dataset(reused, full)
            assert all(reused[k] is known[k] for k in known)
        previous = (n, full)
    for a in [0, *ids]:  # the diff reads only the keys touched in between: the same as comparing whole states
        for b in ids:
            got = store.diff(a, b)
            for name in store.layer_states(b):
                before = {} if a == 0 else dict(zip(*store.layer(name, as_of=a)[["feature_key", "version"]]
                                                    .T.to_numpy(), strict=True))
                after = dict(zip(*store.layer(name, as_of=b)[["feature_key", "version"]].T.to_numpy(), strict=True))
                lo, hi = (before, after) if a <= b else (after, before)
                assert got[name] == {"added": sorted(set(after) - set(before)),
                                     "removed": sorted(set(before) - set(after)),
                                     "changed": sorted(k for k in set(lo) & set(hi) if lo[k] != hi[k])}, (a, b, name)
