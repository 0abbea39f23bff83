"""The web app through Flask's test client: every route, API error shapes, auth, CSRF, XSS, uploads, runs."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from conftest import X0, Y0, tiny_layers, write_layers

from ictgis.layers import fold
from ictgis.store import open_store
from ictgis.store.accounts import get_run, get_user
from ictgis_web import create_app, jobs
from ictgis_web.users import UserStore

XSS = "<script>alert(1)</script>"


def write_dem(folder: Path) -> Path:
    """A 100 × 100 DEM of 110 m cells over the tiny province (EPSG:9205)."""
    yy, xx = np.mgrid[0:100, 0:100]
    dem = (500 + 300 * np.sin(xx / 15.0) * np.cos(yy / 11.0) + yy * 3).astype("float32")
    path = folder / "dem.tif"
    with rasterio.open(path, "w", driver="GTiff", width=100, height=100, count=1, dtype="float32", crs="EPSG:9205",
                       transform=Affine(110, 0, X0 - 500, 0, -110, Y0 + 10500), nodata=-9999) as dst:
        dst.write(dem, 1)
    return path


def make_data(folder: Path, *, commune_name: str | None = None) -> Path:
    layers = tiny_layers()
    if commune_name is not None:
        layers["communes"].loc[0, "name"] = commune_name
    write_layers(folder, layers)
    write_dem(folder)
    return folder


@pytest.fixture()
def data_dir(tmp_path):
    return make_data(tmp_path / "data")


@pytest.fixture()
def make_app(tmp_path, data_dir):
    def factory(**config):
        base = {"TESTING": True, "DATA_DIR": str(data_dir), "SECRET_KEY": "test",
                "INSTANCE_PATH": str(tmp_path / "instance"), "SCENARIOS_DIR": str(tmp_path / "scenarios"),
                # test doubles defined inside tests cannot be pickled for a worker process
                "JOB_ISOLATION": "thread" if "JOB_RUNNER" in config else "process"}
        return create_app(base | config)
    return factory


@pytest.fixture()
def app(make_app):
    return make_app()


@pytest.fixture()
def client(app):
    return app.test_client()


def token(client) -> str:
    """Give the client's session a CSRF token and return it."""
    with client.session_transaction() as sess:
        sess.setdefault("csrf_token", "test-token")
        return sess["csrf_token"]


def login(client, app, name: str = "anh", role: str = "planner", password: str = "mat-khau-123"):
    app.extensions["ictgis_users"].add(name, password, role, replace=True)  # in the app's store
    resp = client.post("/login", data={"username": name, "password": password, "csrf_token": token(client)})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return resp


def _has_label(html: str, label: str) -> bool:
    """Folium writes layer names as JS strings with \\u escapes."""
    return label in html or json.dumps(label) in html


# ------------------------------------------------------------------------------------------------ the map
def test_map_page_is_vietnamese_and_offline(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert "Bản đồ hạ tầng thông tin và truyền thông" in html
    assert _has_label(html, "Thôn, bản") and _has_label(html, "Trạm BTS") and _has_label(html, "Địa hình (bóng đổ)")
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith("/") or u.startswith("?") or u.startswith("data:") for u in urls), urls
    assert not re.findall(r"https?://", html)
    # big layers are fetched, not embedded
    assert '"FeatureCollection"' not in html and "/api/layers/villages.geojson" in html


def test_map_page_resources_are_all_served(client, app):
    html = client.get("/").get_data(as_text=True)
    urls = set(re.findall(r'(?:src|href)="(/[^"]+)"', html)) | set(re.findall(r'"url": "(/[^"]+)"', html))
    urls |= set(re.findall(r'L\.imageOverlay\("(/[^"]+)"', html))
    if not (Path(app.config["VENDOR_DIR"]) / "leaflet").exists():
        urls = {u for u in urls if not u.startswith("/vendor/")}
    assert any("hillshade" in u for u in urls)
    for url in urls:
        assert client.get(url.replace("&amp;", "&"), buffered=True).status_code == 200, url  # closes the file


def test_english_switch_is_remembered(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html and _has_label(html, "Villages") and "Tiếng Việt" in html
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    assert '<html lang="vi">' in client.get("/?lang=vi").get_data(as_text=True)
    assert '<html lang="vi">' in client.get("/?lang=xx").get_data(as_text=True)


def test_online_tiles_only_when_configured(make_app):
    html = make_app().test_client().get("/").get_data(as_text=True)
    assert "L.tileLayer" not in html
    app = make_app(TILES_URL="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    resp = app.test_client().get("/")
    assert "L.tileLayer" in resp.get_data(as_text=True)
    assert "https://*.tiles.example.org" in resp.headers["Content-Security-Policy"]


def test_security_headers(client):
    resp = client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "http" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_vendor_assets_are_served(client, app):
    if not (Path(app.config["VENDOR_DIR"]) / "leaflet").exists():
        pytest.skip("npm assets not installed (make install runs npm ci)")
    resp = client.get("/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200 and resp.headers["Content-Encoding"] == "gzip"
    assert client.get("/vendor/leaflet/leaflet.js", headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304
    assert client.get("/vendor/jquery/jquery.min.js").status_code == 200
    assert client.get("/vendor/nope/x.js").status_code == 404
    assert client.get("/vendor/leaflet/../../package.json").status_code == 404
    assert client.get("/vendor/leaflet/..%2f..%2fpackage.json").status_code == 404


def test_indicator_table_page(client):
    resp = client.get("/indicators")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Số điểm phục vụ bưu chính" in html and "Mường Phăng" in html


# ------------------------------------------------------------------------------------------------ the API
def test_api_indicators_contract(client):
    data = client.get("/api/indicators").get_json()
    assert data["postal"]["service_points"] == 3
    assert client.get("/api/indicators?structure=2025").get_json()["province"]["districts"] is None
    bad = client.get("/api/indicators?structure=1999")
    assert bad.status_code == 400 and bad.get_json()["error"] == "BadRequest"


@pytest.mark.parametrize("url", ["/api/nothing-here", "/api/layers/nope.geojson", "/api/layers/..%2fsecret.geojson",
                                 "/api/overlays/nope.png", "/api/overlays/hillshade.png"])
def test_api_unknown_is_json_404(client, url):
    resp = client.get(url)
    assert resp.status_code == 404 and resp.is_json
    assert set(resp.get_json()) == {"error", "message"} and resp.get_json()["error"] == "NotFound"


def test_api_layers_list(client):
    data = client.get("/api/layers").get_json()
    assert data["layers"]["villages"]["features"] == 10
    assert "villages_fiber_pct" in data["choropleths"] and "density" in data["choropleths"]


def _coords(geometry):
    arr = np.asarray(geometry["coordinates"], dtype=object)
    flat = []

    def walk(x):
        if isinstance(x, (list, np.ndarray)) and len(x) and isinstance(x[0], (int, float)):
            flat.append(x)
        else:
            for y in x:
                walk(y)
    walk(arr.tolist())
    return flat


@pytest.mark.parametrize("name", ["communes", "villages", "bts_sites", "fiber_routes", "post_offices", "roads"])
def test_layer_geojson_is_wgs84_and_rounded(client, name):
    resp = client.get(f"/api/layers/{name}.geojson?precision=3")
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    fc = resp.get_json()
    assert fc["type"] == "FeatureCollection" and fc["features"]
    for feature in fc["features"]:
        for lon, lat in _coords(feature["geometry"]):
            assert 102 < lon < 104 and 20.5 < lat < 23
            assert round(lon, 3) == lon and round(lat, 3) == lat


def test_layer_geojson_precision_follows_zoom(client):
    fine = client.get("/api/layers/communes.geojson?zoom=18").get_data(as_text=True)
    coarse = client.get("/api/layers/communes.geojson?zoom=6").get_data(as_text=True)
    assert len(coarse) < len(fine)
    default = client.get("/api/layers/villages.geojson").get_json()
    lon = default["features"][0]["geometry"]["coordinates"][0]
    assert round(lon, 5) == lon  # points keep ~1 m
    props = client.get("/api/layers/communes.geojson").get_json()["features"][0]["properties"]
    assert {"name", "population", "ind_villages_fiber_pct", "ind_density"} <= set(props)


@pytest.mark.parametrize("query", ["zoom=99", "zoom=abc", "precision=0", "precision=9"])
def test_layer_geojson_bad_parameters(client, query):
    resp = client.get(f"/api/layers/communes.geojson?{query}")
    assert resp.status_code == 400 and resp.get_json()["error"] == "BadRequest"


def test_layer_geojson_etag_and_gzip(client):
    first = client.get("/api/layers/villages.geojson", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip" and first.headers["ETag"].startswith('W/"')
    assert json.loads(gzip.decompress(first.data))["type"] == "FeatureCollection"
    again = client.get("/api/layers/villages.geojson", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    other = client.get("/api/layers/villages.geojson?precision=3", headers={"If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200


def test_search_index_folds_like_python(client):
    entries = client.get("/api/search-index.json").get_json()
    kinds = {e[1] for e in entries}
    assert kinds == {"commune", "district", "village"}
    for name, _kind, _ctx, lat, lon, folded in entries:
        assert folded == fold(name) and 20 < lat < 23 and 102 < lon < 104
    assert any(e[0] == "Mường Phăng" and "muong phang" in e[5] for e in entries)


def test_hillshade_png(client, app):
    resp = client.get("/api/hillshade.png")
    assert resp.status_code == 200 and resp.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((Path(app.instance_path) / "cache").glob("hillshade-*.png"))


def test_hillshade_absent_without_dem(tmp_path):
    folder = write_layers(tmp_path / "nodem", tiny_layers())
    client = create_app({"TESTING": True, "DATA_DIR": str(folder), "INSTANCE_PATH": str(tmp_path / "i"),
                         "SECRET_KEY": "t"}).test_client()
    assert client.get("/api/hillshade.png").status_code == 404
    assert "/api/hillshade.png" not in client.get("/").get_data(as_text=True)
    overlay = client.get("/api/overlays/coverage_4g.png")  # no DEM: no coverage, ever
    assert overlay.status_code == 404 and overlay.get_json()["error"] == "NotFound"


def test_analyses_reach_the_map_once_computed(client, app):
    """4G coverage and planned routes, computed in the background by web.analyses, show on the page and layers."""
    from ictgis_web import analyses, data

    with app.test_request_context():
        ds = data.dataset()
        assert analyses.coverage_result(ds, "4G", wait=True) is not None
        assert analyses.planned_routes(ds, wait=True) is not None
        assert analyses.lastmile_layer(ds, wait=True) is not None
    page = client.get("/").get_data(as_text=True)
    assert "/api/overlays/coverage_4g.png" in page and _has_label(page, "Vùng phủ sóng 4G (máy chủ tốt nhất)")
    assert "/api/layers/fiber_planned.geojson" in page and _has_label(page, "Tuyến cáp quang dự kiến")
    png = client.get("/api/overlays/coverage_4g.png")
    assert png.status_code == 200 and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    props = client.get("/api/layers/communes.geojson").get_json()["features"][0]["properties"]
    assert 0 <= props["ind_populated_area_4g_pct"] <= 100
    villages = client.get("/api/layers/villages.geojson").get_json()["features"]
    assert {type(f["properties"]["g4"]) for f in villages} == {bool}
    planned = client.get("/api/layers/fiber_planned.geojson").get_json()["features"]
    assert planned and {"id", "kind", "length_km", "cost_vnd", "villages"} <= set(planned[0]["properties"])
    assert "/api/layers/lastmile.geojson" in page
    last = client.get("/api/layers/lastmile.geojson").get_json()["features"]
    villages_lm = [f["properties"] for f in last if f["geometry"]["type"] == "Point"]
    assert {p["id"] for p in villages_lm} == {"V06", "V08", "V10"}
    assert {p["technology"] for p in villages_lm} <= {"fiber", "microwave", "satellite", "fwa", ""}
    listed = client.get("/api/layers").get_json()
    assert set(listed["overlays"]) == {"coverage_4g", "fiber_planned", "lastmile"}
    assert "populated_area_4g_pct" in listed["choropleths"]


def test_ictgis_error_gives_its_status_and_problems(tmp_path):
    layers = tiny_layers()
    layers["villages"].loc[0, "commune"] = "99999"
    folder = write_layers(tmp_path / "bad", layers)
    client = create_app({"TESTING": True, "DATA_DIR": str(folder), "INSTANCE_PATH": str(tmp_path / "i"),
                         "SECRET_KEY": "t"}).test_client()
    resp = client.get("/api/indicators")
    body = resp.get_json()
    assert resp.status_code == 400 and body["error"] == "LayerError" and body["problems"]
    assert any("99999" in p for p in body["problems"])
    page = client.get("/")
    assert page.status_code == 400 and "99999" in page.get_data(as_text=True)


def test_unexpected_errors_have_no_traceback(client, monkeypatch):
    from ictgis import maps

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(maps, "layer_geojson", boom)
    resp = client.get("/api/layers/roads.geojson?zoom=3")
    assert resp.status_code == 500 and resp.get_json()["error"] == "InternalServerError"
    assert "secret" not in resp.get_data(as_text=True) and "Traceback" not in resp.get_data(as_text=True)


# ------------------------------------------------------------------------------------------------ XSS
def test_script_names_render_as_text(tmp_path):
    folder = make_data(tmp_path / "x", commune_name=XSS)
    client = create_app({"TESTING": True, "DATA_DIR": str(folder), "INSTANCE_PATH": str(tmp_path / "i"),
                         "SECRET_KEY": "t"}).test_client()
    assert XSS not in client.get("/").get_data(as_text=True)
    table = client.get("/indicators").get_data(as_text=True)
    assert XSS not in table and "&lt;script&gt;alert(1)&lt;/script&gt;" in table
    # data stays data: JSON strings, rendered by the client with textContent
    names = [f["properties"]["name"] for f in client.get("/api/layers/communes.geojson").get_json()["features"]]
    assert XSS in names
    assert any(e[0] == XSS for e in client.get("/api/search-index.json").get_json())
    js = (Path(__file__).parent.parent / "web" / "static" / "ictgis-map.js").read_text(encoding="utf-8")
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js


# ------------------------------------------------------------------------------------------------ auth
def test_secret_key_generated_once(tmp_path, data_dir):
    inst = tmp_path / "fresh"
    a = create_app({"DATA_DIR": str(data_dir), "INSTANCE_PATH": str(inst)})
    b = create_app({"DATA_DIR": str(data_dir), "INSTANCE_PATH": str(inst)})
    assert a.config["SECRET_KEY"] == b.config["SECRET_KEY"] and len(a.config["SECRET_KEY"]) == 64
    assert (inst / "secret_key").stat().st_mode & 0o077 == 0


def test_login_logout_and_cookie_flags(client, app):
    UserStore(app.instance_path).add("lan", "mat-khau-123", "viewer")
    bad = client.post("/login", data={"username": "lan", "password": "wrong-pass", "csrf_token": token(client)})
    assert bad.status_code == 401 and "Sai tên đăng nhập" in bad.get_data(as_text=True)
    ok = client.post("/login", data={"username": "lan", "password": "mat-khau-123", "csrf_token": token(client)})
    assert ok.status_code == 302
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "lan" in client.get("/scenarios/").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": token(client)}).status_code == 302
    assert client.get("/scenarios/").status_code == 302


def test_secure_cookie_when_configured(make_app):
    app = make_app(SESSION_COOKIE_SECURE=True)
    client = app.test_client()
    resp = login(client, app)
    assert "Secure" in resp.headers["Set-Cookie"]


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(client, app, target):
    UserStore(app.instance_path).add("lan", "mat-khau-123", "viewer")
    resp = client.post("/login", data={"username": "lan", "password": "mat-khau-123", "next": target,
                                       "csrf_token": token(client)})
    assert resp.headers["Location"] == "/"


def test_anonymous_and_viewer_access(client, app):
    assert client.get("/scenarios/").status_code == 302
    assert client.get("/data/").status_code == 302
    assert client.get("/api/runs").status_code == 401
    assert client.post("/data/upload", data={"csrf_token": token(client)}).status_code == 302
    login(client, app, "lan", "viewer")
    assert client.get("/scenarios/").status_code == 200
    assert client.get("/data/").status_code == 200
    assert client.get("/api/runs").status_code == 200
    assert client.post("/data/upload", data={"csrf_token": token(client)}).status_code == 403
    assert client.post("/scenarios/x.yaml/run", data={"csrf_token": token(client)}).status_code == 403
    resp = client.post("/api/scenarios/x.yaml/runs", headers={"X-CSRF-Token": token(client)})
    assert resp.status_code == 403 and resp.get_json()["error"] == "Forbidden"


def test_private_mode(make_app):
    app = make_app(PUBLIC_VIEW=False)
    client = app.test_client()
    assert client.get("/").status_code == 302 and "/login" in client.get("/").headers["Location"]
    assert client.get("/api/indicators").status_code == 401
    assert client.get("/login").status_code == 200
    login(client, app, "lan", "viewer")
    assert client.get("/").status_code == 200 and client.get("/api/indicators").status_code == 200


@pytest.mark.parametrize("url", ["/login", "/logout", "/data/upload", "/scenarios/a.yaml/run",
                                 "/api/scenarios/a.yaml/runs"])
def test_csrf_rejected_without_token(client, app, url):
    login(client, app)
    assert client.post(url, data={}).status_code == 400
    assert client.post(url, data={"csrf_token": "forged"}).status_code == 400
    assert client.post(url, headers={"X-CSRF-Token": "forged"}).status_code == 400


def test_user_cli(tmp_path):
    from ictgis.cli import main

    runner = CliRunner()
    inst = tmp_path / "inst"
    res = runner.invoke(main, ["user", "add", "minh", "--role", "planner", "--password-stdin", "--instance",
                               str(inst)], input="mat-khau-456\n")
    assert res.exit_code == 0, res.output
    assert UserStore(inst).verify("minh", "mat-khau-456").role == "planner"
    with open_store(inst / "ictgis.gpkg") as store:  # the users live in the instance's store, hashed
        assert get_user(store, "minh")["password_hash"].startswith("scrypt:")
    assert b"mat-khau" not in (inst / "ictgis.gpkg").read_bytes() and not (inst / "users.json").exists()
    res = runner.invoke(main, ["user", "add", "minh", "--role", "viewer", "--password-stdin", "--instance",
                               str(inst)], input="mat-khau-456\n")
    assert res.exit_code == 2 and "exists" in res.output
    res = runner.invoke(main, ["user", "add", "tu", "--role", "viewer", "--password-stdin", "--instance",
                               str(inst)], input="short\n")
    assert res.exit_code == 2 and "8 characters" in res.output
    res = runner.invoke(main, ["user", "add", "tu", "--role", "viewer", "--instance", str(inst)],
                        input="mat-khau-789\nmat-khau-789\n")
    assert res.exit_code == 0, res.output
    assert runner.invoke(main, ["user", "list", "--instance", str(inst)]).output.split() == [
        "minh", "planner", "tu", "viewer"]
    assert runner.invoke(main, ["user", "remove", "tu", "--instance", str(inst)]).exit_code == 0
    assert UserStore(inst).get("tu") is None


# ------------------------------------------------------------------------------------------------ scenarios
def write_scenario(app, name="plan-2022.yaml", title="Kế hoạch 2022") -> Path:
    folder = Path(app.config["SCENARIOS_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"name: {title}\ndescription: {XSS}\n", encoding="utf-8")
    return folder / name


def fake_runner(path, out_dir, progress, **_options):
    """A test double of ictgis.scenario.run: writes the files a run writes."""
    progress(0.5, "nửa chừng")
    Path(out_dir).mkdir()
    before = {"postal": {"service_points": 3}, "fiber": {"villages_fiber_pct": 70.0}}
    after = {"postal": {"service_points": 4}, "fiber": {"villages_fiber_pct": 100.0}}
    (Path(out_dir) / "indicators_before.json").write_text(json.dumps(before))
    (Path(out_dir) / "indicators_after.json").write_text(json.dumps(after))
    (Path(out_dir) / "layers").mkdir()
    (Path(out_dir) / "layers" / "villages.geojson").write_text("{}")
    return {"name": Path(path).stem}


def start_planner_run(make_app, runner, *, isolation="thread"):
    """Log a planner in and start a run of `runner` through the API; return (app, client, run id)."""
    app = make_app(JOB_RUNNER=runner, JOB_ISOLATION=isolation)
    write_scenario(app)
    client = app.test_client()
    login(client, app)
    run_id = client.post("/api/scenarios/plan-2022.yaml/runs", headers={"X-CSRF-Token": token(client)}
                         ).get_json()["id"]
    return app, client, run_id


RICH_BEFORE = {"postal": {"service_points": 3, "service_radius_km": 4.25, "xa_total": 4},
               "mobile": {"sites_4g": 2, "sites_5g": None, "operators": 3},
               "fiber": {"villages": 10, "villages_fiber_pct": 70.0, "route_km": None}}
RICH_AFTER = {"postal": {"service_points": 4, "service_radius_km": 3.5, "xa_total": 4},
              "mobile": {"sites_4g": 5, "sites_5g": 1, "operators": 3},
              "fiber": {"villages": 10, "villages_fiber_pct": 100.0, "route_km": 12.5}}


def rich_runner(path, out_dir, progress, **_options):
    """A test double of ictgis.scenario.run writing indicators of both lists (the department's table, the key ones)."""
    Path(out_dir).mkdir()
    (Path(out_dir) / "indicators_before.json").write_text(json.dumps(RICH_BEFORE))
    (Path(out_dir) / "indicators_after.json").write_text(json.dumps(RICH_AFTER))
    return {"name": Path(path).stem}


def test_run_page_before_after_rows_are_the_delta_table(make_app):
    """The run page's before/after table: the rows of scenario.delta_rows (KEY_INDICATORS), labelled, changed first."""
    import html as html_mod

    from ictgis import labels
    from ictgis import scenario as sc
    from ictgis_web.runview import indicator_rows

    app, client, run_id = start_planner_run(make_app, rich_runner)
    record = app.extensions["ictgis_jobs"].wait(run_id)
    assert record["status"] == "done", record
    expected = sc.delta_rows(RICH_BEFORE, RICH_AFTER)
    with app.test_request_context("/"):
        changed, same = indicator_rows(RICH_BEFORE, RICH_AFTER)
    rows = changed + same
    assert [r["key"] for r in changed] == [e["indicator"] for e in expected if e["change"] not in (None, 0)]
    assert sorted(r["key"] for r in rows) == sorted(["postal.service_points", "postal.service_radius_km",
                                                     "mobile.sites_4g", "mobile.sites_5g",
                                                     "fiber.villages_fiber_pct", "fiber.route_km"])
    page = client.get(f"/scenarios/runs/{run_id}").get_data(as_text=True)
    table = page[page.index('id="before-after"'):page.index("</table>", page.index('id="before-after"'))]
    assert table.count("<tr") == len(rows) + 1
    for r in rows:
        assert html_mod.escape(labels.label(r["key"]).vi) in table
    assert html_mod.escape(labels.INDICATORS["postal.xa_total"].vi) not in table  # not a key indicator
    box = page[page.index('id="changed"'):page.index("</section>")]
    assert [html_mod.escape(labels.label(r["key"]).vi) in box for r in changed] == [True] * len(changed)
    english = client.get(f"/scenarios/runs/{run_id}?lang=en").get_data(as_text=True)
    assert "Average service radius" in english and "Sites with 5G" in english


def test_scenario_runner_is_the_scenario_module():
    import ictgis.scenario as sc
    from ictgis_web.jobs import scenario_runner

    assert scenario_runner() is sc.run


def test_scenarios_not_available_yet(client, app, monkeypatch):
    monkeypatch.setattr("ictgis_web.jobs.scenario_runner", lambda: None)  # as while ictgis.scenario does not exist
    write_scenario(app)
    login(client, app)
    html = client.get("/scenarios/").get_data(as_text=True)
    assert "chưa có" in html and "Kế hoạch 2022" in html and XSS not in html
    assert client.get("/api/scenarios").get_json() == {
        "runs_available": False,
        "scenarios": [{"file": "plan-2022.yaml", "name": "Kế hoạch 2022", "description": XSS}]}
    resp = client.post("/api/scenarios/plan-2022.yaml/runs", headers={"X-CSRF-Token": token(client)})
    assert resp.status_code == 503 and resp.get_json()["error"] == "ServiceUnavailable"
    assert client.get("/api/runs").get_json() == {"runs": []}


def test_scenario_run_in_background(make_app):
    app = make_app(JOB_RUNNER=fake_runner)
    client = app.test_client()
    write_scenario(app)
    login(client, app)
    assert client.post("/api/scenarios/nope.yaml/runs", headers={"X-CSRF-Token": token(client)}).status_code == 404
    resp = client.post("/api/scenarios/plan-2022.yaml/runs", headers={"X-CSRF-Token": token(client)})
    assert resp.status_code == 202
    run_id = resp.get_json()["id"]
    record = app.extensions["ictgis_jobs"].wait(run_id)
    assert record["status"] == "done" and record["progress"] == 1.0
    api = client.get(f"/api/runs/{run_id}").get_json()
    assert api["outputs"] == ["indicators_after.json", "indicators_before.json", "layers/villages.geojson"]
    page = client.get(f"/scenarios/runs/{run_id}").get_data(as_text=True)
    assert "before-after" in page and "100,0 %" in page  # Vietnamese number format
    dl = client.get(f"/scenarios/runs/{run_id}/files/layers/villages.geojson", buffered=True)
    assert dl.status_code == 200 and "attachment" in dl.headers["Content-Disposition"]
    # a second run through the form, then compare
    form = client.post("/scenarios/plan-2022.yaml/run", data={"csrf_token": token(client)})
    assert form.status_code == 302
    second = form.headers["Location"].rsplit("/", 1)[-1]
    app.extensions["ictgis_jobs"].wait(second)
    cmp = client.get(f"/scenarios/compare?a={run_id}&b={second}")
    assert cmp.status_code == 200 and "compare-table" in cmp.get_data(as_text=True)
    assert client.get(f"/scenarios/compare?a={run_id}&b=nope").status_code == 404


@pytest.mark.parametrize("path", ["../run.json", "..%2frun.json", "%2e%2e/run.json", "/etc/passwd",
                                  "layers/../../run.json", "..%2f..%2fsecret_key"])
def test_download_path_traversal_refused(make_app, path):
    app, client, run_id = start_planner_run(make_app, fake_runner)
    app.extensions["ictgis_jobs"].wait(run_id)
    resp = client.get(f"/scenarios/runs/{run_id}/files/{path}", follow_redirects=True)
    assert resp.status_code == 404
    assert client.get(f"/data/versions/1/{path}", follow_redirects=True).status_code == 404


def test_unknown_runs_are_404(client, app):
    login(client, app)
    for rid in ["nope", "20260101-000000-abcdef", "../../secret_key"]:
        assert client.get(f"/api/runs/{rid}").status_code in (404,)
        assert client.get(f"/scenarios/runs/{rid}").status_code == 404


def test_failed_run_is_recorded(make_app):
    def broken(path, out_dir, progress, **_options):
        raise ValueError("bad budget")

    app, client, run_id = start_planner_run(make_app, broken)
    record = app.extensions["ictgis_jobs"].wait(run_id)
    assert record["status"] == "failed" and "bad budget" in record["error"] and record["outputs"] == []


# ------------------------------------------------------------------------------------------------ uploads
def _villages_geojson(n_extra: int = 0, *, drop: str | None = None) -> bytes:
    frame = tiny_layers()["villages"]
    if n_extra:
        extra = frame.iloc[:n_extra].copy()
        extra["id"] = [f"N{i}" for i in range(n_extra)]
        import pandas as pd

        frame = pd.concat([frame, extra], ignore_index=True)
    if drop:
        frame = frame.drop(columns=[drop])
    return frame.to_crs(4326).to_json().encode()


def upload(client, content: bytes, filename: str, layer: str = "villages"):
    return client.post("/data/upload", data={"csrf_token": token(client), "layer": layer,
                                             "file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def changesets(app) -> list:
    """The changesets of the app's store, oldest first (1 is the base data)."""
    with app.app_context():
        from ictgis_web import data

        return data.store().log()


def test_uploads_are_changesets_and_leave_the_base_untouched(client, app, data_dir):
    login(client, app)
    before = sorted(p.name for p in data_dir.iterdir())
    resp = upload(client, _villages_geojson(2), "thon_ban.geojson")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert client.get("/api/layers").get_json()["layers"]["villages"]["features"] == 12
    resp = upload(client, _villages_geojson(4), "thon_ban_2.geojson")
    assert resp.status_code == 201
    assert client.get("/api/layers").get_json()["layers"]["villages"]["features"] == 14
    # the base folder is untouched; every state is kept
    assert sorted(p.name for p in data_dir.iterdir()) == before
    assert [(cs.id, cs.kind, cs.source) for cs in changesets(app)] == [
        (1, "import", data_dir.name), (2, "upload", "thon_ban.geojson"), (3, "upload", "thon_ban_2.geojson")]
    page = client.get("/data/").get_data(as_text=True)
    assert "thon_ban_2.geojson" in page
    got = client.get("/data/versions/2/villages.gpkg", buffered=True)  # a changeset's state as a file
    assert got.status_code == 200 and got.data[:16] == b"SQLite format 3\x00"
    assert client.get("/data/versions/2/.complete").status_code == 404


def test_upload_zipped_shapefile(client, app, tmp_path):
    login(client, app)
    folder = tmp_path / "shp"
    folder.mkdir()
    offices = tiny_layers()["post_offices"]
    offices.loc[0, "name"] = "Bưu cục trung tâm"
    offices.to_file(folder / "buu_cuc.shp", engine="pyogrio")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in folder.iterdir():
            zf.write(part, f"export/{part.name}")
    resp = upload(client, buf.getvalue(), "buu_cuc.zip", layer="post_offices")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    with app.app_context():
        from ictgis_web import data

        assert data.store().diff(1, 2)["post_offices"] == {"added": [], "removed": [], "changed": ["P1"]}
    assert upload(client, buf.getvalue(), "buu_cuc.zip", layer="post_offices").status_code == 201
    assert len(changesets(app)) == 2  # the same layer again: nothing recorded


def test_invalid_upload_shows_problems_and_keeps_nothing(client, app):
    login(client, app)
    resp = upload(client, _villages_geojson(drop="population"), "thon_ban.geojson")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "upload-problems" in html and "population" in html
    assert len(changesets(app)) == 1 and not list((Path(app.instance_path) / "datasets").glob(".new-*"))
    resp = upload(client, b"x,y\n1,2\n", "notes.txt")
    assert resp.status_code == 400 and "định dạng tệp không được nhận" in resp.get_data(as_text=True)
    resp = upload(client, _villages_geojson(), "v.geojson", layer="nonsense")
    assert resp.status_code == 400


def test_oversized_upload_is_413(make_app):
    app = make_app(MAX_CONTENT_LENGTH=10_000)
    client = app.test_client()
    login(client, app)
    resp = upload(client, b"0" * 20_000, "big.geojson")
    assert resp.status_code == 413
    assert not (Path(app.instance_path) / "datasets").exists() or not list(
        (Path(app.instance_path) / "datasets").iterdir())


def _zip(entries: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.mark.parametrize(("entries", "symlink", "message"), [
    ({"../evil.geojson": b"{}"}, None, "outside the archive"),
    ({"a/../../evil.geojson": b"{}"}, None, "outside the archive"),
    ({"/etc/evil.geojson": b"{}"}, None, "absolute path"),
    ({"C:\\evil.geojson": b"{}"}, None, "absolute path"),
    ({"bomb.geojson": b"0" * 5_000_000}, None, "expands"),
    ({f"f{i}.txt": b"x" for i in range(300)}, None, "entries"),
    ({"ok.geojson": b"{}"}, "link.geojson", "symbolic link"),
    ({"a.geojson": b"{}", "b.geojson": b"{}"}, None, "exactly one"),
])
def test_malicious_zips_refused(client, app, entries, symlink, message):
    login(client, app)
    resp = upload(client, _zip(entries, symlink=symlink), "evil.zip")
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    root = Path(app.instance_path)
    assert not list(root.rglob("evil.geojson")) and not list((root / "datasets").glob(".new-*"))
    assert len(changesets(app)) == 1


def test_zip_total_size_limited(make_app):
    app = make_app(UPLOAD_MAX_UNZIPPED=1000, UPLOAD_MAX_RATIO=1e9)
    client = app.test_client()
    login(client, app)
    resp = upload(client, _zip({"v.geojson": b" " * 5000}), "v.zip")
    assert resp.status_code == 400 and "MB uncompressed" in resp.get_data(as_text=True)


def test_real_scenario_run_through_the_web(make_app, data_dir):
    """The real runner (ictgis.scenario.run), not a stand-in: a tiny scenario on the fixture data."""
    app = make_app()
    folder = Path(app.config["SCENARIOS_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.yaml").write_text(
        f"name: Kịch bản nhỏ\nbase: {data_dir.as_posix()}\ninterventions:\n"
        "  - {type: power, to: solar}\n  - {type: post_offices, add: missing_bdvhx}\n"
        "  - {type: project, name: Đô thị thông minh, capex_vnd: 1000000000}\n", encoding="utf-8")
    client = app.test_client()
    login(client, app)
    resp = client.post("/api/scenarios/tiny.yaml/runs", headers={"X-CSRF-Token": token(client)})
    assert resp.status_code == 202
    run_id = resp.get_json()["id"]
    record = app.extensions["ictgis_jobs"].wait(run_id)
    assert record["status"] == "done", record
    outputs = client.get(f"/api/runs/{run_id}").get_json()["outputs"]
    assert {"manifest.json", "scenario.xlsx", "costs.csv", "indicators_after.json", "layers.gpkg"} <= set(outputs)
    page = client.get(f"/scenarios/runs/{run_id}").get_data(as_text=True)
    assert "before-after" in page
    assert 'id="costs"' in page and "Đô thị thông minh" in page
    costs = page[page.index('id="costs"'):page.index("</table>", page.index('id="costs"'))]
    assert "Chi phí đầu tư (tỷ đồng)" in page and "<td class=\"num\">1,00</td>" in costs  # VND 1e9 = 1,00 tỷ đồng
    results = page[page.index('id="run-results"'):page.index("</table>", page.index('id="run-results"'))]
    assert "CO₂ giảm phát thải mỗi năm" in results and "53,6 tấn" in results  # only in summary.json before
    assert "Kịch bản nhỏ" in page[page.index('id="run-name"'):]  # the scenario's name, not its file
    assert 'id="changes-map"' in page and "ictgis-changes.js" in page
    changes = json.loads(client.get(f"/scenarios/runs/{run_id}/files/changes.geojson", buffered=True)
                         .get_data(as_text=True))
    kinds = {(f["properties"]["layer"], f["properties"]["change"]) for f in changes["features"]}
    assert kinds == {("bts_sites", "power"), ("post_offices", "added")}
    after = client.get(f"/scenarios/runs/{run_id}/files/indicators_after.json", buffered=True)
    data = json.loads(after.get_data(as_text=True))
    assert data["mobile"]["sites_diesel"] == 0 and data["postal"]["xa_with_cultural_post_office"] == 2


def test_choropleth_edges_follow_the_norms_and_are_checked():
    from ictgis import maps

    assert maps.CHOROPLETHS["postal_radius_km"].edges[1] == 3.0  # QCVN 1:2008: R <= 3 km is a class boundary
    assert maps.CHOROPLETHS["people_per_point"].edges[2] == 8_000.0
    assert maps.CHOROPLETHS["villages_fiber_pct"].edges[-1] == 100.0  # 100 % has a class of its own
    with pytest.raises(ValueError, match="increasing"):
        maps.Choropleth("density", "record:density", edges=(80.0, 50.0))
    with pytest.raises(ValueError, match="at most 4"):
        maps.Choropleth("density", "record:density", edges=(1.0, 2.0, 3.0, 4.0, 5.0))
    with pytest.raises(ValueError, match="no label"):  # its title comes from the one catalogue of labels
        maps.Choropleth("x", "record:x")


# ------------------------------------------------------------------------------------ runs in worker processes
def slow_runner(path, out_dir, progress, **_options):
    """A run that takes a while (module level: the worker process imports it)."""
    for k in range(600):
        progress(k / 600, f"bước {k}")
        time.sleep(0.05)
    Path(out_dir).mkdir()


def crashing_runner(path, out_dir, progress, **_options):
    progress(0.1, "sắp dừng")
    os._exit(3)  # as a segfault or the OOM killer would: no exception, no record


def where_runner(path, out_dir, progress, **_options):
    Path(out_dir).mkdir()
    return {"pid": os.getpid(), "nice": os.nice(0)}


def run_in_process(make_app, runner):
    """Log a planner in and start a run of `runner` in a worker process; return (app, client, run id)."""
    return start_planner_run(make_app, runner, isolation="process")


def wait_status(app, run_id, statuses, timeout_s=60.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        record = app.extensions["ictgis_jobs"].get(run_id)
        if record["status"] in statuses:
            return record
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still {record['status']}")


def test_runs_execute_in_a_worker_process_at_lower_priority(make_app):
    app, client, run_id = run_in_process(make_app, where_runner)
    record = app.extensions["ictgis_jobs"].wait(run_id, timeout_s=60)
    assert record["status"] == "done", record
    assert record["result"]["pid"] != os.getpid()
    assert record["result"]["nice"] >= min(os.nice(0) + jobs.WORKER_NICE, 19)
    assert "pid" not in client.get(f"/api/runs/{run_id}").get_json()


def test_a_crashing_run_is_recorded_and_the_server_lives_on(make_app):
    app, client, run_id = run_in_process(make_app, crashing_runner)
    record = app.extensions["ictgis_jobs"].wait(run_id, timeout_s=60)
    assert record["status"] == "failed" and "exit code 3" in record["error"] and record["outputs"] == []
    assert client.get("/api/indicators").status_code == 200


def test_planner_cancels_running_and_queued_runs(make_app):
    app, client, first = run_in_process(make_app, slow_runner)
    start = [first, client.post("/api/scenarios/plan-2022.yaml/runs", headers={"X-CSRF-Token": token(client)}
                                ).get_json()["id"]]
    running = wait_status(app, start[0], ("running",))
    assert running["progress"] >= 0.0
    folder = app.extensions["ictgis_jobs"].run_dir(start[0])
    with open_store(app.instance_path + "/ictgis.gpkg") as store:  # the record in the store names the worker
        pid = get_run(store, start[0])["pid"]
    assert app.extensions["ictgis_jobs"].get(start[1])["status"] == "queued"  # one worker: the second waits
    # the queued one first (it never starts), then the running one (its process is stopped)
    assert client.post(f"/api/runs/{start[1]}/cancel").status_code == 400  # no CSRF token
    queued = client.post(f"/api/runs/{start[1]}/cancel", headers={"X-CSRF-Token": token(client)})
    assert queued.status_code == 200 and queued.get_json()["status"] == "cancelled"
    page = client.get(f"/scenarios/runs/{start[0]}").get_data(as_text=True)
    assert 'id="run-cancel"' in page
    form = client.post(f"/scenarios/runs/{start[0]}/cancel", data={"csrf_token": token(client)})
    assert form.status_code == 302
    record = wait_status(app, start[0], ("cancelled",))
    assert record["outputs"] == [] and not (folder / "out").exists()
    with pytest.raises(ProcessLookupError):
        for _ in range(100):  # reaped by the runner: the pid is gone
            os.kill(pid, 0)
            time.sleep(0.05)
    assert "đã hủy" in client.get(f"/scenarios/runs/{start[0]}").get_data(as_text=True)
    assert client.post("/api/runs/20260101-000000-abcdef/cancel",
                       headers={"X-CSRF-Token": token(client)}).status_code == 404


def test_viewers_cannot_cancel(make_app):
    app, client, run_id = run_in_process(make_app, slow_runner)
    viewer = app.test_client()
    login(viewer, app, name="xem", role="viewer")
    assert viewer.post(f"/api/runs/{run_id}/cancel", headers={"X-CSRF-Token": token(viewer)}).status_code == 403
    assert 'id="run-cancel"' not in viewer.get(f"/scenarios/runs/{run_id}").get_data(as_text=True)
    anonymous = app.test_client()
    assert anonymous.post(f"/api/runs/{run_id}/cancel", headers={"X-CSRF-Token": token(anonymous)}
                          ).status_code == 401
    assert client.post(f"/api/runs/{run_id}/cancel", headers={"X-CSRF-Token": token(client)}
                       ).get_json()["status"] == "cancelled"


def test_closing_the_runner_stops_running_and_queued_runs(make_app):
    """What `ictgis serve` does on Ctrl-C: no run keeps the server from exiting, every record says what happened."""
    app, client, first = run_in_process(make_app, slow_runner)
    second = client.post("/api/scenarios/plan-2022.yaml/runs", headers={"X-CSRF-Token": token(client)}
                         ).get_json()["id"]
    wait_status(app, first, ("running",))
    runner = app.extensions["ictgis_jobs"]
    started = time.monotonic()
    runner.close()
    assert wait_status(app, first, ("cancelled",))["outputs"] == []
    assert runner.get(second)["status"] == "cancelled"
    assert time.monotonic() - started < 20


def test_a_broken_install_says_runs_are_not_available(client, app, monkeypatch):
    import importlib

    real = importlib.import_module

    def failing(name, *args):
        if name == "ictgis.scenario":
            raise ImportError("No module named 'highspy'")
        return real(name, *args)

    monkeypatch.setattr(jobs.importlib, "import_module", failing)
    assert jobs.scenario_runner() is None
    write_scenario(app)
    login(client, app)
    assert client.get("/scenarios/").status_code == 200
    assert client.get("/api/scenarios").get_json()["runs_available"] is False


def test_cancel_right_after_submit_always_ends_cancelled(make_app):
    """Whether the cancel finds the run queued, starting (no process yet) or running, it ends cancelled."""
    app, client, run_id = run_in_process(make_app, slow_runner)
    runner = app.extensions["ictgis_jobs"]
    ids = [run_id] + [runner.submit(Path(app.config["SCENARIOS_DIR"]) / "plan-2022.yaml") for _ in range(2)]
    for k, rid in enumerate(ids):
        if k == 1:
            wait_status(app, rid, ("running",))  # one of them in the middle of its run
        assert runner.cancel(rid)["status"] == "cancelled"
