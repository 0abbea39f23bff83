"""HTTP Basic authentication of GIS clients (web.basicauth) behind login: the OGC API and the layer GeoJSON read
with the form login's users, lockout and audit log; a real GDAL client (ogrinfo) against a real waitress server."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
import urllib.error
import urllib.request

import pytest
from conftest import stop_server
from test_web_ogc import make_ogc_data

from ictgis_web import create_app
from ictgis_web.logins import LoginGuard
from ictgis_web.users import UserStore

PASSWORD = "mat-khau-123"
REALM = 'Basic realm="ictgis", charset="UTF-8"'
ITEMS = "/ogc/collections/villages/items?f=json"


@pytest.fixture()
def make_app(tmp_path):
    data = make_ogc_data(tmp_path / "data")

    def factory(**config):
        base = {"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "test", "PUBLIC_VIEW": False,
                "INSTANCE_PATH": str(tmp_path / "instance"), "SCENARIOS_DIR": str(tmp_path / "scenarios")}
        app = create_app(base | config)
        UserStore(app.instance_path).add("xem", PASSWORD, "viewer", replace=True)
        UserStore(app.instance_path).add("lan", PASSWORD, "planner", replace=True)
        return app
    return factory


def basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def audit(app) -> list[dict]:
    path = LoginGuard(app.instance_path).audit_path
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


# ------------------------------------------------------------------------------------------ Flask's client
def test_anonymous_reads_of_gis_routes_get_a_basic_challenge_not_the_login_page(make_app):
    client = make_app().test_client()
    for url in ("/ogc", "/ogc/", "/ogc/collections", ITEMS, "/ogc/collections/villages/items/V02",
                "/api/layers", "/api/layers/villages.geojson", "/api/indicators"):
        resp = client.get(url)
        assert resp.status_code == 401, url
        assert resp.headers["WWW-Authenticate"] == REALM, url
    assert client.get("/").status_code == 302  # a browser page still goes to the login form, without a challenge
    assert "WWW-Authenticate" not in client.get("/api/runs").headers  # not a GIS route
    own_script = client.get("/api/layers/villages.geojson",  # the map's own fetch: no browser password dialog
                            headers={"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Dest": "empty"})
    assert own_script.status_code == 401 and "WWW-Authenticate" not in own_script.headers


def test_a_viewer_reads_with_basic_and_one_password_check_serves_the_next_requests(make_app):
    app = make_app()
    client = app.test_client()
    doc = client.get(ITEMS, headers=basic("xem", PASSWORD))
    assert doc.status_code == 200 and json.loads(doc.data)["numberMatched"] == 10
    assert client.get("/api/layers/villages.geojson", headers=basic("xem", PASSWORD)).status_code == 200
    assert client.get("/ogc/collections?f=json", headers=basic("xem", PASSWORD)).status_code == 200
    logins = [e for e in audit(app) if e["event"] == "login"]
    assert [(e["user"], e["via"]) for e in logins] == [("xem", "basic")]  # checked once, then the session
    assert "Set-Cookie" not in doc.headers or "ictgis_session" not in doc.headers["Set-Cookie"]


def test_basic_never_opens_pages_or_writes(make_app):
    client = make_app().test_client()
    planner = basic("lan", PASSWORD)
    assert client.get("/", headers=planner).status_code == 302  # the HTML map wants the form login
    assert client.get("/api/runs", headers=planner).status_code == 401
    post = client.post("/api/scenarios/x/runs", headers=planner | {"X-CSRF-Token": "t"})
    assert post.status_code in (400, 401)  # never run as the planner
    with client.session_transaction() as sess:
        sess["csrf_token"] = "t"
    post = client.post("/api/scenarios/x/runs", headers=planner | {"X-CSRF-Token": "t"})
    assert post.status_code == 401


def test_wrong_password_is_401_audited_and_the_lockout_is_429_even_for_the_right_one(make_app):
    app = make_app(LOGIN_MAX_FAILURES=3)
    client = app.test_client()
    for _ in range(2):
        wrong = client.get(ITEMS, headers=basic("xem", "sai-mat-khau"))
        assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == REALM
    third = client.get(ITEMS, headers=basic("xem", "sai-mat-khau"))
    assert third.status_code == 429 and int(third.headers["Retry-After"]) > 0
    locked = client.get(ITEMS, headers=basic("xem", PASSWORD))
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    events = [(e["event"], e["user"], e.get("via")) for e in audit(app)]
    assert events.count(("login_failed", "xem", "basic")) == 3 and ("lockout", "xem", "basic") in events
    assert ("login", "xem", "basic") not in events
    assert client.get(ITEMS, headers=basic("lan", PASSWORD)).status_code == 200  # another user is not locked


def test_a_malformed_header_is_401(make_app):
    client = make_app().test_client()
    for header in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Basic " + base64.b64encode(
            b"\xff\xfe:x").decode()):
        resp = client.get(ITEMS, headers={"Authorization": header})
        assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == REALM, header


def test_a_new_password_ends_the_remembered_credentials(make_app):
    app = make_app()
    client = app.test_client()
    assert client.get(ITEMS, headers=basic("xem", PASSWORD)).status_code == 200
    UserStore(app.instance_path).add("xem", "mat-khau-moi-456", "viewer", replace=True)
    assert client.get(ITEMS, headers=basic("xem", PASSWORD)).status_code == 401
    assert client.get(ITEMS, headers=basic("xem", "mat-khau-moi-456")).status_code == 200
    UserStore(app.instance_path).remove("xem")
    assert client.get(ITEMS, headers=basic("xem", "mat-khau-moi-456")).status_code == 401


def test_busy_hashing_is_429_and_counts_nothing(make_app):
    app = make_app()
    slots = app.extensions["ictgis_hash_slots"]
    assert slots.acquire(blocking=False)
    try:
        busy = app.test_client().get(ITEMS, headers=basic("xem", PASSWORD))
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
    finally:
        slots.release()
    assert not [e for e in audit(app) if e["event"] == "login_failed"]


def test_public_routes_stay_public_and_wrong_credentials_are_still_refused(make_app):
    client = make_app(PUBLIC_VIEW=True).test_client()
    assert client.get(ITEMS).status_code == 200
    assert client.get(ITEMS, headers=basic("xem", "sai-mat-khau")).status_code == 401


# ------------------------------------------------------------------------------------------ real clients
@pytest.fixture()
def served(make_app):
    from waitress.server import create_server

    started: list = []

    def start(**config):
        app = make_app(OGC_LIMIT_MAX=4, **config)
        server = create_server(app, host="127.0.0.1", port=0, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        started.append(server)
        return app, f"http://127.0.0.1:{server.effective_port}"

    yield start
    for server in started:
        stop_server(server)


def _ogrinfo(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """GDAL's ogrinfo in its own process, with its HTTP settings in the environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GDAL_HTTP")}
    return subprocess.run(["ogrinfo", *args], capture_output=True, text=True, timeout=120,
                          env=clean | {"LC_ALL": "C.UTF-8", "CPL_VSIL_CURL_CACHE_SIZE": "0"} | env)


def _get(url: str, headers: dict[str, str]) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, dict(exc.headers)


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo (Debian gdal-bin) is not installed")
def test_ogrinfo_reads_behind_login_with_basic_and_is_refused_then_locked_out_with_a_wrong_password(served):
    if "OAPIF" not in _ogrinfo(["--formats"]).stdout:
        pytest.skip("this ogrinfo has no OAPIF driver")
    app, base = served(LOGIN_MAX_FAILURES=3)
    url = f"OAPIF:{base}/ogc"
    anonymous = _ogrinfo(["-ro", "-so", url, "villages"])
    assert anonymous.returncode != 0 and "Feature Count" not in anonymous.stdout

    read = _ogrinfo(["-ro", "-so", url, "villages"], GDAL_HTTP_USERPWD=f"xem:{PASSWORD}", GDAL_HTTP_AUTH="BASIC")
    assert read.returncode == 0, read.stderr
    assert "Feature Count: 10" in read.stdout, read.stdout
    one = _ogrinfo(["-ro", "-q", url, "post_offices", "-where", "id = 'P2'"], GDAL_HTTP_USERPWD=f"xem:{PASSWORD}")
    assert "name (String) = Điểm BĐVHX Nà Tấu" in one.stdout, one.stdout + one.stderr

    wrong = _ogrinfo(["-ro", "-so", url, "villages"], GDAL_HTTP_USERPWD="lan:sai-mat-khau")
    assert wrong.returncode != 0 and "Feature Count" not in wrong.stdout
    assert "401" in wrong.stderr, wrong.stderr
    status, headers = _get(f"{base}/ogc/collections?f=json", basic("lan", "sai-mat-khau"))
    assert status in (401, 429)
    status, headers = _get(f"{base}/ogc/collections?f=json", basic("lan", "sai-mat-khau"))
    assert status == 429 and int(headers["Retry-After"]) > 0  # three failures: locked out
    locked = _ogrinfo(["-ro", "-so", url, "villages"], GDAL_HTTP_USERPWD=f"lan:{PASSWORD}")
    assert locked.returncode != 0 and "429" in locked.stderr, locked.stderr  # even the right password
    failed = [e for e in audit(app) if e["event"] == "login_failed"]
    assert failed and all(e["user"] == "lan" and e["via"] == "basic" and e["address"] == "127.0.0.1"
                          for e in failed)
    # A client already let in keeps reading, like a logged-in browser (its session is not the guessed login).
    still = _ogrinfo(["-ro", "-so", url, "villages"], GDAL_HTTP_USERPWD=f"xem:{PASSWORD}")
    assert still.returncode == 0 and "Feature Count: 10" in still.stdout, still.stderr
