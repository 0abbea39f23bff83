"""What users see names files relative to the instance, never by absolute path; metadata files are not served."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import tiny_layers, write_layers
from test_web import login, token
from test_yamlfile import alias_bomb

from ictgis import LayerError, Problem
from ictgis.store import open_store
from ictgis.store.accounts import get_run
from ictgis_web import create_app
from ictgis_web.paths import hidden_roots, is_public_file, public_text

SOURCE = Path(__file__).resolve().parent.parent


@pytest.fixture()
def make_app(tmp_path):
    data_dir = write_layers(tmp_path / "du_lieu", tiny_layers())

    def factory(**config):
        base = {"TESTING": True, "DATA_DIR": str(data_dir), "SECRET_KEY": "test",
                "INSTANCE_PATH": str(tmp_path / "instance"), "SCENARIOS_DIR": str(tmp_path / "kich_ban"),
                "JOB_ISOLATION": "thread"}
        return create_app(base | config)
    return factory


def assert_no_absolute_path(text: str, *folders: Path) -> None:
    for folder in (*folders, SOURCE):
        assert str(folder) not in text, (str(folder), text)


def test_public_text_rewrites_known_and_unknown_absolute_paths():
    roots = hidden_roots({"DATA_DIR": "/srv/gis/du_lieu", "SCENARIOS_DIR": "/srv/gis/kich_ban"}, "/srv/inst")
    text = ("/srv/inst/datasets/3/villages.shp: bad; see /srv/gis/du_lieu/roads.shp and '/srv/gis/kich_ban/a.yaml'"
            f" in {SOURCE}/ictgis/io.py, base /srv/gis/du_lieu, lib /usr/lib/x86_64/libgdal.so.32: oops")
    assert public_text(text, roots) == (
        "datasets/3/villages.shp: bad; see du_lieu/roads.shp and 'kich_ban/a.yaml' in ictgis/io.py, "
        "base du_lieu, lib libgdal.so.32: oops")
    # no path: left alone (units, URLs, relative names)
    plain = "8,000 người/điểm, 3 km/h, http://example.org/a/b, datasets/1/x.shp, VNĐ/năm"
    assert public_text(plain, roots) == plain
    # a folder whose name starts like a hidden one is not touched
    assert public_text("/srv/inst2/x/y.txt", roots) == "y.txt"


@pytest.mark.parametrize(("name", "ok"), [
    ("villages.geojson", True), ("sub/x.csv", True), ("ictgis-version.json", False), ("./ictgis-version.json", False),
    ("x/../ictgis-version.json", False), ("ICTGIS-VERSION.JSON", False), (".hidden", False), ("a//b", False),
    ("", False), ("..\\secret_key", False)])
def test_is_public_file(name, ok):
    assert is_public_file(name, hidden=("ictgis-version.json",)) is ok


def _upload(client, content: bytes, filename: str, layer: str = "villages"):
    return client.post("/data/upload", data={"csrf_token": token(client), "layer": layer,
                                             "file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("path", ["ictgis-version.json", "./ictgis-version.json", "x/../ictgis-version.json",
                                  "%2e/ictgis-version.json", ".//ictgis-version.json", "Ictgis-Version.json"])
def test_version_metadata_is_never_served(make_app, path):
    app = make_app()
    client = app.test_client()
    login(client, app)
    villages = tiny_layers()["villages"].to_crs(4326).to_json().encode()
    assert _upload(client, villages, "thon_ban.geojson").status_code == 201
    assert client.get("/data/versions/1/villages.gpkg", buffered=True).status_code == 200  # changeset 1 as files
    for marker in (".complete", "./.complete", "x/../.complete"):  # the export's own marker is not served either
        assert client.get(f"/data/versions/1/{marker}").status_code == 404
    resp = client.get(f"/data/versions/1/{path}")
    assert resp.status_code == 404
    assert '"uploaded_name"' not in resp.get_data(as_text=True)


def test_upload_problems_name_files_relative_to_the_instance(make_app, tmp_path):
    app = make_app()
    client = app.test_client()
    login(client, app)
    resp = _upload(client, b"not a geopackage", "thon_ban.gpkg")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "upload-problems" in html
    assert "villages.gpkg" in html  # the problem still names the file …
    assert_no_absolute_path(html, tmp_path)  # … without the server's folders


def test_error_pages_and_json_name_files_relative_to_the_instance(make_app, tmp_path):
    app = make_app()
    instance, data_dir = Path(app.instance_path), Path(app.config["DATA_DIR"])

    def broken():
        raise LayerError(f"{instance}/datasets/3/villages.shp: cannot be read",
                         [Problem(f"{data_dir}/roads.shp", "bad geometry", row=2),
                          Problem("x", f"see {SOURCE}/ictgis/io.py")])

    app.add_url_rule("/api/broken", view_func=broken)
    app.add_url_rule("/broken", view_func=broken)
    client = app.test_client()
    body = client.get("/api/broken").get_json()
    assert body["message"] == "datasets/3/villages.shp: cannot be read"
    assert body["problems"] == ["du_lieu/roads.shp row 2: bad geometry", "x: see ictgis/io.py"]
    html = client.get("/broken").get_data(as_text=True)
    assert "datasets/3/villages.shp: cannot be read" in html and "du_lieu/roads.shp row 2" in html
    assert_no_absolute_path(html + json.dumps(body), tmp_path)


def test_run_progress_and_errors_name_files_relative_to_the_instance(make_app, tmp_path):
    def failing(path, out_dir, progress, **_options):
        progress(0.3, f"loading {Path(out_dir).parent}/../../datasets/1/villages.shp")
        progress(0.5, f"reading {data_dir}/roads.shp")
        raise ValueError(f"cannot open {data_dir}/roads.shp")

    app = make_app(JOB_RUNNER=failing)
    data_dir = Path(app.config["DATA_DIR"])
    folder = Path(app.config["SCENARIOS_DIR"])
    folder.mkdir()
    (folder / "plan.yaml").write_text("name: plan\n", encoding="utf-8")
    client = app.test_client()
    login(client, app)
    run_id = client.post("/api/scenarios/plan.yaml/runs", headers={"X-CSRF-Token": token(client)}).get_json()["id"]
    record = app.extensions["ictgis_jobs"].wait(run_id)
    assert record["status"] == "failed"
    api = client.get(f"/api/runs/{run_id}").get_json()
    assert api["message"] == "reading du_lieu/roads.shp"
    assert api["error"] == "ValueError: cannot open du_lieu/roads.shp"
    page = client.get(f"/scenarios/runs/{run_id}").get_data(as_text=True)
    listing = json.dumps(client.get("/api/runs").get_json())
    assert "du_lieu/roads.shp" in page and "du_lieu/roads.shp" in listing
    assert_no_absolute_path(page + listing + json.dumps(api), tmp_path)
    # the record in the store keeps the full text for the server's administrators
    with open_store(Path(app.instance_path) / "ictgis.gpkg") as store:
        assert str(data_dir) in get_run(store, run_id)["error"]


def test_alias_bomb_scenario_is_listed_as_invalid(make_app, tmp_path):
    app = make_app()
    folder = Path(app.config["SCENARIOS_DIR"])
    folder.mkdir()
    (folder / "bomb.yaml").write_text(alias_bomb(), encoding="utf-8")
    (folder / "list.yaml").write_text("- a\n", encoding="utf-8")
    (folder / "plan.yaml").write_text("name: Kế hoạch\ndescription: Mô tả\n", encoding="utf-8")
    client = app.test_client()
    login(client, app)
    files = {f["file"]: f for f in client.get("/api/scenarios").get_json()["scenarios"]}
    assert files["plan.yaml"] == {"file": "plan.yaml", "name": "Kế hoạch", "description": "Mô tả"}
    assert files["bomb.yaml"]["problem"] == ("bomb.yaml row 9: line 9: expands to more than 100,000 values "
                                             "through its aliases (&anchor / *alias)")
    assert files["bomb.yaml"]["description"] == ""
    assert files["list.yaml"]["problem"] == "list.yaml: a scenario is a mapping"
    html = client.get("/scenarios/").get_data(as_text=True)
    assert "Tệp kịch bản không dùng được: bomb.yaml row 9" in html
    assert html.count('action="/scenarios/plan.yaml/run"') == 1 and "/scenarios/bomb.yaml/run" not in html
    assert_no_absolute_path(html, tmp_path)


def test_indicator_api_names_no_server_path_and_the_layers_the_changeset(make_app, tmp_path):
    app = make_app()
    client = app.test_client()
    for structure in ("2019", "2025"):  # served from the store: no folder at all (`dataset` names the changeset)
        body = client.get(f"/api/indicators?structure={structure}").get_json()
        assert not body["data_dir"]
        assert_no_absolute_path(json.dumps(body, ensure_ascii=False), tmp_path)
    assert client.get("/api/layers").get_json()["dataset"] == "1"
    login(client, app)
    frame = tiny_layers()["villages"]
    frame.loc[0, "name"] = "Bản Him Lam"
    assert _upload(client, frame.to_crs(4326).to_json().encode(), "thon_ban.geojson").status_code == 201
    assert not client.get("/api/indicators").get_json()["data_dir"]
    assert client.get("/api/layers").get_json()["dataset"] == "2"
