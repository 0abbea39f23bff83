"""The web app on its store: the base data imported once, uploads and map edits as changesets, conflicts, roll back,
two server processes on one GeoPackage store; the edit API on GeoPackage and PostGIS."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from conftest import X0, Y0, stop_server
from test_web import login, make_data, token, upload
from test_web_uploads import HttpPlanner, _free_port, post_offices_geojson, villages_geojson

from ictgis.store import open_store
from ictgis_web import create_app, data

pytest_plugins = ["store_fixtures"]  # store_url: one store per backend
KM = 1000.0


@pytest.fixture()
def data_dir(tmp_path) -> Path:
    return make_data(tmp_path / "data")


@pytest.fixture()
def make_app(tmp_path, data_dir):
    def factory(**config):
        base = {"TESTING": True, "DATA_DIR": str(data_dir), "SECRET_KEY": "test", "STORE_POLL_S": 0,
                "INSTANCE_PATH": str(tmp_path / "instance"), "SCENARIOS_DIR": str(tmp_path / "scenarios")}
        return create_app(base | config)
    return factory


def wgs84(x: float, y: float) -> list[float]:
    """A point of the tiny province (EPSG:9205 metres) as [lon, lat]."""
    p = gpd.GeoSeries([shapely.Point(x, y)], crs=9205).to_crs(4326).iloc[0]
    return [p.x, p.y]


def planner(app, name: str = "anh", role: str = "planner"):
    client = app.test_client()
    login(client, app, name=name, role=role)
    return client


def send(client, method: str, url: str, body: dict | None = None, *, csrf: bool = True):
    headers = {"X-CSRF-Token": token(client)} if csrf else {}
    return client.open(url, method=method, json=body, headers=headers)


def served_sites(client) -> dict[str, dict]:
    """The BTS sites the map serves (the layer's GeoJSON), by id."""
    doc = client.get("/api/layers/bts_sites.geojson").get_json()
    return {f["properties"]["id"]: f for f in doc["features"]}


# ------------------------------------------------------------------------------------------------ the store
def test_a_fresh_instance_imports_the_base_data_once(make_app, tmp_path):
    app = make_app()
    store_file = Path(app.instance_path) / "ictgis.gpkg"
    assert store_file.exists()
    log = open_store(store_file).log()
    assert [(cs.id, cs.author, cs.kind) for cs in log] == [(1, "system", "import")]
    again = make_app()  # a restart: the store already holds data, nothing is imported again
    assert len(open_store(store_file).log()) == 1
    with again.app_context():
        assert data.served_version() == 1 and len(data.dataset()["villages"]) == 10
        assert data.dataset() is data.dataset()  # read once per changeset


def test_an_upload_is_a_changeset_of_the_uploaded_layer_and_the_map_serves_it(make_app):
    app = make_app()
    client = planner(app, "lan")
    resp = client.post("/data/upload", data={"csrf_token": token(client), "layer": "villages",
                                             "message": "Khảo sát thôn bản 2025",
                                             "file": (__import__("io").BytesIO(villages_geojson(2)), "thon.geojson")},
                       content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert client.get("/api/layers").get_json()["layers"]["villages"]["features"] == 12
    changes = client.get("/data/changes/?format=json").get_json()
    newest = changes["changesets"][0]
    assert (newest["n"], newest["author"], newest["kind"], newest["message"], newest["source"]) == (
        2, "lan", "upload", "Khảo sát thôn bản 2025", "thon.geojson")
    assert newest["counts"] == {"villages": {"added": 2, "changed": 0, "removed": 0}}
    assert changes["served"] == 2
    page = client.get("/data/changes/").get_data(as_text=True)
    assert "Khảo sát thôn bản 2025" in page and "tải lên" in page and "+2 thêm" in page


def test_a_refused_upload_records_nothing(make_app):
    app = make_app()
    client = planner(app)
    assert upload(client, b'{"type": "FeatureCollection", "features": []', "hong.geojson").status_code == 400
    assert [cs.id for cs in data_store(app).log()] == [1]


def data_store(app):
    with app.app_context():
        return data.store()


# ------------------------------------------------------------------------------------------------ map edits
def test_planners_add_move_change_and_delete_a_site_each_a_changeset(make_app):
    app = make_app()
    client = planner(app, "minh")
    site = client.get("/api/features/bts_sites/S1").get_json()
    assert site["version"] == 1 and site["attributes"]["power"] == "grid"
    resp = send(client, "PATCH", "/api/features/bts_sites/S1", {
        "expected_version": 1, "message": "Chuyển sang điện mặt trời", "attributes": {"power": "solar",
                                                                                      "tech": "2G,3G,4G,5G"}})
    assert resp.status_code == 200, resp.get_json()
    edited = resp.get_json()
    assert edited["changeset"]["kind"] == "edit" and edited["changeset"]["author"] == "minh"
    assert edited["feature"]["version"] == edited["changeset"]["id"] == 2
    assert served_sites(client)["S1"]["properties"]["power"] == "solar"
    to = wgs84(X0 + 3 * KM, Y0 + 3 * KM)
    resp = send(client, "PATCH", "/api/features/bts_sites/S1", {"expected_version": 2, "message": "Dời trạm",
                                                               "geometry": {"type": "Point", "coordinates": to}})
    assert resp.status_code == 200 and resp.get_json()["feature"]["version"] == 3
    assert served_sites(client)["S1"]["geometry"]["coordinates"] == pytest.approx(to, abs=1e-5)
    new = {"message": "Trạm mới", "attributes": {"operator": "Viettel", "tech": "4G", "power": "solar"},
           "geometry": {"type": "Point", "coordinates": wgs84(X0 + 4 * KM, Y0 + 6 * KM)}}
    resp = send(client, "POST", "/api/features/bts_sites/S9", new)
    assert resp.status_code == 201 and resp.get_json()["feature"]["attributes"]["id"] == "S9"
    assert send(client, "POST", "/api/features/bts_sites/S9", new).status_code == 409  # the id is taken
    resp = send(client, "DELETE", "/api/features/bts_sites/S4", {"expected_version": 1, "message": "Tháo dỡ"})
    assert resp.status_code == 200 and resp.get_json()["feature"] is None
    assert set(served_sites(client)) == {"S1", "S2", "S3", "S9"}
    village = send(client, "PATCH", "/api/features/villages/V06", {"expected_version": 1, "message": "Đã kéo cáp",
                                                                   "attributes": {"fiber": True}})
    assert village.status_code == 200 and village.get_json()["feature"]["attributes"]["fiber"] is True
    log = data_store(app).log()
    assert [(cs.kind, cs.author) for cs in log[1:]] == [("edit", "minh")] * 5
    audit = [json.loads(line) for line in (Path(app.instance_path) / "logs" / "auth.log").read_text().splitlines()]
    assert [a["event"] for a in audit if a["event"].startswith("feature_")] == [
        "feature_edit", "feature_edit", "feature_add", "feature_delete", "feature_edit"]


def test_edits_are_validated_like_an_import(make_app):
    app = make_app()
    client = planner(app)
    bad_power = send(client, "PATCH", "/api/features/bts_sites/S1", {"expected_version": 1, "message": "x",
                                                                     "attributes": {"power": "wind"}})
    assert bad_power.status_code == 400 and "power" in json.dumps(bad_power.get_json())
    far = send(client, "PATCH", "/api/features/bts_sites/S1", {
        "expected_version": 1, "message": "x", "geometry": {"type": "Point", "coordinates": [105.8, 21.0]}})
    assert far.status_code == 400 and "outside the province" in json.dumps(far.get_json())
    assert send(client, "PATCH", "/api/features/bts_sites/S1", {"expected_version": 1,
                                                                "attributes": {"power": "solar"}}).status_code == 400
    assert send(client, "DELETE", "/api/features/villages/V01", {"expected_version": 1,
                                                                 "message": "x"}).status_code == 403
    assert send(client, "PATCH", "/api/features/communes/03124", {"expected_version": 1, "message": "x"}
                ).status_code == 404
    assert [cs.id for cs in data_store(app).log()] == [1]  # nothing was written


def test_viewers_and_anonymous_users_cannot_edit_and_csrf_is_required(make_app):
    app = make_app()
    viewer = planner(app, "xem", role="viewer")
    body = {"expected_version": 1, "message": "x", "attributes": {"power": "solar"}}
    assert viewer.get("/api/features/bts_sites/S1").status_code == 200  # reading is as public as the map
    for method in ("PATCH", "DELETE", "POST"):
        assert send(viewer, method, "/api/features/bts_sites/S1", body).status_code == 403
    assert send(app.test_client(), "PATCH", "/api/features/bts_sites/S1", body).status_code == 401
    assert send(planner(app), "PATCH", "/api/features/bts_sites/S1", body, csrf=False).status_code == 400
    assert send(viewer, "POST", "/data/changes/1/rollback", {}).status_code == 403
    assert [cs.id for cs in data_store(app).log()] == [1]


def test_a_patch_with_some_attributes_keeps_the_others(make_app):
    """PATCH is partial: the map sends only the fields a planner changed; the rest keep their current values."""
    app = make_app()
    client = planner(app)
    before = client.get("/api/features/bts_sites/S2").get_json()
    resp = send(client, "PATCH", "/api/features/bts_sites/S2", {"expected_version": before["version"],
                                                               "message": "Nâng ăng-ten",
                                                               "attributes": {"height_m": 47.0}})
    assert resp.status_code == 200, resp.get_json()
    after = resp.get_json()["feature"]
    assert after["attributes"]["height_m"] == 47.0
    assert {k: v for k, v in after["attributes"].items() if k != "height_m"} == {
        k: v for k, v in before["attributes"].items() if k != "height_m"}
    assert after["lon"] == before["lon"] and after["lat"] == before["lat"]


# ------------------------------------------------------------------------------------------------ conflicts
def _conflict(app) -> None:
    """Two planners open site S2 (version 1); Anh saves first; Bình's save is refused with the current feature."""
    anh, binh = planner(app, "anh"), planner(app, "binh")
    seen = [c.get("/api/features/bts_sites/S2").get_json()["version"] for c in (anh, binh)]
    assert seen == [1, 1]
    first = send(anh, "PATCH", "/api/features/bts_sites/S2", {"expected_version": 1, "message": "Anh: solar",
                                                              "attributes": {"power": "solar"}})
    assert first.status_code == 200
    second = send(binh, "PATCH", "/api/features/bts_sites/S2", {"expected_version": 1, "message": "Bình: diesel",
                                                                "attributes": {"power": "diesel"}})
    assert second.status_code == 409
    body = second.get_json()
    assert "người khác" in body["message"] and "Someone else saved" in body["message"]
    assert body["current"]["attributes"]["power"] == "solar" and body["current"]["version"] == 2
    assert body["by"] == "anh"  # who won, for the map's conflict message
    gone = send(binh, "DELETE", "/api/features/bts_sites/S2", {"expected_version": 1, "message": "x"})
    assert gone.status_code == 409
    assert anh.get("/api/features/bts_sites/S2").get_json()["attributes"]["power"] == "solar"  # Anh's change kept
    assert [cs.message for cs in data_store(app).log()][1:] == ["Anh: solar"]


def test_two_planners_saving_one_feature_the_second_gets_409_on_each_backend(make_app, store_url):
    app = make_app(STORE_URL=store_url)
    with app.app_context():
        store = data.store()
    assert store.dialect == ("postgresql" if store_url.startswith("postgresql") else "sqlite")
    try:
        _conflict(app)
    finally:
        store.close()  # the pooled connections (PostgreSQL's would be left to the garbage collector)


def test_two_planners_saving_at_the_same_moment_exactly_one_wins(make_app):
    app = make_app()
    clients = [planner(app, "anh"), planner(app, "binh")]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def save(client, power):
        barrier.wait()
        codes.append(send(client, "PATCH", "/api/features/bts_sites/S3", {
            "expected_version": 1, "message": power, "attributes": {"power": power}}).status_code)

    threads = [threading.Thread(target=save, args=(c, p)) for c, p in zip(clients, ("solar", "diesel"), strict=True)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert sorted(codes) == [200, 409]
    log = data_store(app).log()
    assert len(log) == 2 and clients[0].get("/api/features/bts_sites/S3").get_json()["attributes"]["power"] == (
        log[1].message)


# ------------------------------------------------------------------------------------------------ roll back
def test_roll_back_records_a_new_changeset_equal_to_the_old_state(make_app):
    app = make_app()
    client = planner(app)
    assert upload(client, villages_geojson(2), "thon.geojson").status_code == 201
    assert send(client, "DELETE", "/api/features/bts_sites/S4", {"expected_version": 1, "message": "x"}
                ).status_code == 200
    resp = send(client, "POST", "/data/changes/1/rollback", {"message": "Quay về dữ liệu gốc"})
    assert resp.status_code == 201, resp.get_json()
    cs = resp.get_json()["changeset"]
    assert cs["id"] == 4 and cs["message"] == "Quay về dữ liệu gốc" and cs["source"] == "changeset 1"
    store = data_store(app)
    assert store.diff(1, 4) == {name: {"added": [], "removed": [], "changed": []} for name in store.diff(1, 4)}
    assert len(store.dataset(4)["villages"]) == 10 and "S4" in set(store.dataset(4)["bts_sites"]["id"])
    assert store.diff(3, 4)["villages"]["removed"] == ["N0", "N1"]  # history kept: 2 and 3 are still there
    assert [c.id for c in store.log()] == [1, 2, 3, 4]
    assert client.get("/api/layers").get_json()["layers"]["villages"]["features"] == 10
    same = send(client, "POST", "/data/changes/4/rollback", {})  # already the current state: nothing recorded
    assert same.status_code == 200 and same.get_json()["changeset"] is None
    assert send(client, "POST", "/data/changes/99/rollback", {}).status_code == 404
    form = client.post("/data/changes/2/rollback", data={"csrf_token": token(client), "message": ""})
    assert form.status_code == 302 and "done=5" in form.headers["Location"]
    audit = [json.loads(line) for line in (Path(app.instance_path) / "logs" / "auth.log").read_text().splitlines()]
    assert [(a["target"], a["changeset"]) for a in audit if a["event"] == "rollback"] == [(1, 4), (4, None), (2, 5)]


# ------------------------------------------------------------------------------------------------ two processes
@pytest.fixture()
def other_server(tmp_path, data_dir):
    """`ictgis serve --db STORE` in a process of its own, with an instance folder of its own."""
    port = _free_port()
    exe = Path(sys.executable).parent / "ictgis"
    store_file = tmp_path / "shared.gpkg"
    log = (tmp_path / "other.log").open("w")

    def start():
        proc = subprocess.Popen([str(exe), "serve", "--db", str(store_file), "--instance", str(tmp_path / "other"),
                                 "--port", str(port), "--threads", "2"], stdout=log, stderr=subprocess.STDOUT)
        started.append(proc)
        base_url = f"http://127.0.0.1:{port}"
        end = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(base_url + "/login", timeout=5)
                return base_url
            except OSError:
                if proc.poll() is not None or time.monotonic() > end:
                    raise AssertionError((tmp_path / "other.log").read_text()) from None
                time.sleep(0.2)

    started: list = []
    yield store_file, start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=30)
    log.close()


def counts_over_http(base_url: str) -> dict[str, int]:
    layers = json.loads(urllib.request.urlopen(base_url + "/api/layers", timeout=60).read())["layers"]
    return {name: layers[name]["features"] for name in ("villages", "post_offices")}


def test_two_server_processes_on_one_geopackage_store_both_see_each_others_changes(make_app, other_server):
    store_file, start = other_server
    from waitress.server import create_server

    app = make_app(STORE_URL=str(store_file), STORE_POLL_S=1.0)  # creates the store, imports the base data
    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    threading.Thread(target=server.run, daemon=True).start()
    here = f"http://127.0.0.1:{server.effective_port}"
    try:
        there = start()  # the second process finds the data in the store: nothing imported twice
        assert len(open_store(store_file).log()) == 1
        local, remote = HttpPlanner(here), HttpPlanner(there)
        login(app.test_client(), app, name="anh")  # users live in the shared store
        local.login("anh", "mat-khau-123")
        remote.opener.open(there + "/login")
        subprocess.run([str(Path(sys.executable).parent / "ictgis"), "user", "add", "binh", "--role", "planner",
                        "--password-stdin", "--instance", str(store_file.parent / "other"), "--db",
                        str(store_file)], input="mat-khau-123\n", text=True, check=True, capture_output=True)
        remote.login("binh", "mat-khau-123")
        assert remote.upload(post_offices_geojson(), "bc.geojson", "post_offices") == 201
        assert local.upload(villages_geojson(2), "thon.geojson", "villages") == 201
        want = {"villages": 12, "post_offices": 4}
        end = time.monotonic() + 10
        while {counts_over_http(here) == want, counts_over_http(there) == want} != {True} and time.monotonic() < end:
            time.sleep(0.2)
        assert counts_over_http(here) == counts_over_http(there) == want
        log = open_store(store_file).log()
        assert [(cs.kind, cs.author) for cs in log] == [("import", "system"), ("upload", "binh"), ("upload", "anh")]
    finally:
        stop_server(server)
