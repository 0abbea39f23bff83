"""Logins under attack: throttling and lockout with Retry-After, the audit log, sessions that end at logout, safe
redirects, and the map staying up while a real waitress server is flooded with wrong passwords."""

from __future__ import annotations

import http.cookiejar
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import pytest
from conftest import stop_server
from test_web import make_data, token

from ictgis_web import create_app
from ictgis_web.logins import LoginGuard
from ictgis_web.users import UserStore

PASSWORD = "mat-khau-123"


@pytest.fixture()
def make_app(tmp_path):
    data = make_data(tmp_path / "data")

    def factory(**config):
        base = {"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "test",
                "INSTANCE_PATH": str(tmp_path / "instance"), "SCENARIOS_DIR": str(tmp_path / "scenarios")}
        app = create_app(base | config)
        UserStore(app.instance_path).add("lan", PASSWORD, "planner", replace=True)
        return app
    return factory


def post_login(client, name="lan", password=PASSWORD, **extra):
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token(client)},
                       **extra)


def audit_lines(app) -> list[dict]:
    path = LoginGuard(app.instance_path).audit_path
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def wait_until_unlocked(app, name, address="127.0.0.1", timeout_s=30.0):
    guard = app.extensions["ictgis_logins"]
    end = time.monotonic() + timeout_s
    while guard.locked_for(name, address) > 0:
        assert time.monotonic() < end, "the lockout never ended"
        time.sleep(0.1)


# ------------------------------------------------------------------------------------------------ lockout
def test_wrong_passwords_lock_the_user_out_then_the_right_one_works_again(make_app):
    app = make_app(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_S=2.0)
    client = app.test_client()
    statuses = [post_login(client, password=f"sai-{k}").status_code for k in range(3)]
    assert statuses == [401, 401, 429]  # the third failure starts the lockout
    refused = post_login(client)  # the right password, during the lockout
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 2
    assert "Đăng nhập sai quá nhiều lần" in refused.get_data(as_text=True)
    assert client.get("/scenarios/").status_code == 302  # not logged in
    api = client.post("/login", data={"username": "lan", "password": PASSWORD, "csrf_token": token(client)},
                      headers={"Accept": "application/json"})
    assert api.status_code == 429 and api.get_json()["error"] == "TooManyRequests" and "Retry-After" in api.headers
    wait_until_unlocked(app, "lan")
    assert post_login(client).status_code == 302
    assert client.get("/scenarios/").status_code == 200
    # a success clears the name's failures: one more mistake is not a lockout
    assert post_login(app.test_client(), password="sai-lan-nua").status_code == 401


def test_other_users_are_not_locked_by_someone_elses_failures(make_app):
    app = make_app(LOGIN_MAX_FAILURES=2, LOGIN_LOCKOUT_S=60.0)
    UserStore(app.instance_path).add("hoa", PASSWORD, "viewer")
    client = app.test_client()
    for k in range(2):
        post_login(client, password=f"sai-{k}")
    assert post_login(client).status_code == 429
    assert post_login(app.test_client(), name="hoa").status_code == 302


def test_one_address_guessing_many_names_is_locked_out(make_app):
    app = make_app(LOGIN_MAX_FAILURES=100, LOGIN_MAX_FAILURES_PER_ADDRESS=4, LOGIN_LOCKOUT_S=60.0)
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    statuses = [post_login(attacker, name=f"user{k}", password="sai").status_code for k in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    resp = post_login(attacker)  # even the right user and password from that address
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert post_login(app.test_client()).status_code == 302  # another address is not affected


def test_busy_hashing_is_refused_with_429_not_queued(make_app):
    app = make_app()
    slots = app.extensions["ictgis_hash_slots"]
    client = app.test_client()
    assert slots.acquire(blocking=False)  # as if another login were being checked
    try:
        busy = post_login(client)
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
        assert "Máy chủ đang bận" in busy.get_data(as_text=True)
    finally:
        slots.release()
    assert not [e for e in audit_lines(app) if e["event"] == "login_failed"]  # nothing checked, nothing counted
    assert post_login(client).status_code == 302


# ------------------------------------------------------------------------------------------------ audit
def test_failed_logins_are_audited_with_name_address_and_time(make_app, caplog):
    app = make_app()
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    before = datetime.now(timezone.utc).replace(microsecond=0)
    with caplog.at_level(logging.WARNING, logger="ictgis_web.logins"):
        post_login(client, password="sai-mat-khau")
        post_login(client, name="ai-do\nevent=login", password="x")  # a newline cannot forge a log line
    post_login(client)
    lines = audit_lines(app)
    assert [e["event"] for e in lines] == ["login_failed", "login_failed", "login"]
    first = lines[0]
    assert first["user"] == "lan" and first["address"] == "198.51.100.7"
    when = datetime.strptime(first["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert before <= when <= datetime.now(timezone.utc)
    assert lines[1]["user"] == "ai-do\nevent=login"
    assert len(LoginGuard(app.instance_path).audit_path.read_text(encoding="utf-8").splitlines()) == 3
    assert LoginGuard(app.instance_path).audit_path.stat().st_mode & 0o077 == 0
    logged = [r.getMessage() for r in caplog.records]
    assert any("login_failed" in m and "'lan'" in m and "198.51.100.7" in m for m in logged)


def test_lockout_is_audited(make_app):
    app = make_app(LOGIN_MAX_FAILURES=2)
    client = app.test_client()
    for _ in range(2):
        post_login(client, password="sai")
    events = audit_lines(app)
    assert [e["event"] for e in events] == ["login_failed", "login_failed", "lockout"]
    assert events[-1]["seconds"] > 0 and events[-1]["user"] == "lan"


# ------------------------------------------------------------------------------------------------ sessions
def test_cookie_replayed_after_logout_is_not_logged_in(make_app):
    app = make_app()
    client = app.test_client()
    assert post_login(client).status_code == 302
    stolen = client.get_cookie("ictgis_session").value
    assert client.get("/scenarios/").status_code == 200
    assert client.post("/logout", data={"csrf_token": token(client)}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("ictgis_session", stolen)
    assert replay.get("/scenarios/").status_code == 302
    assert replay.get("/api/runs").status_code == 401
    assert audit_lines(app)[-1]["event"] == "logout"


def test_a_new_password_or_removal_ends_the_users_sessions(make_app):
    app = make_app()
    first, second = app.test_client(), app.test_client()
    post_login(first)
    post_login(second)
    assert first.get("/scenarios/").status_code == 200 and second.get("/scenarios/").status_code == 200
    UserStore(app.instance_path).add("lan", "mat-khau-moi-456", "planner", replace=True)
    assert first.get("/scenarios/").status_code == 302 and second.get("/scenarios/").status_code == 302
    post_login(first, password="mat-khau-moi-456")
    assert first.get("/scenarios/").status_code == 200
    UserStore(app.instance_path).remove("lan")
    assert first.get("/scenarios/").status_code == 302


def test_sessions_are_shared_by_processes_on_one_instance(make_app):
    """Another app on the same instance (another server process) sees the logout at once."""
    app = make_app()
    client = app.test_client()
    post_login(client)
    cookie = client.get_cookie("ictgis_session").value
    other = create_app({"TESTING": True, "DATA_DIR": app.config["DATA_DIR"], "SECRET_KEY": "test",
                        "INSTANCE_PATH": app.instance_path}).test_client()
    other.set_cookie("ictgis_session", cookie)
    assert other.get("/scenarios/").status_code == 200
    client.post("/logout", data={"csrf_token": token(client)})
    assert other.get("/scenarios/").status_code == 302


# ------------------------------------------------------------------------------------------------ redirects
@pytest.mark.parametrize("target", ["/\r\nSet-Cookie: x=1", "/scenarios/\n", "/\t/evil.example",
                                    "/%0d%0aLocation:%20http://evil.example", "/ok\x7f"])
def test_next_with_control_characters_redirects_safely(make_app, target):
    app = make_app()
    client = app.test_client()
    resp = client.post("/login", data={"username": "lan", "password": PASSWORD, "next": target,
                                       "csrf_token": token(client)})
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert "\r" not in location and "\n" not in location and "x=1" not in resp.headers.get("Set-Cookie", "")
    assert location == ("/" if target != "/%0d%0aLocation:%20http://evil.example" else target)
    assert client.get("/scenarios/").status_code == 200  # logged in all the same


def test_login_page_keeps_a_safe_next(make_app):
    app = make_app()
    client = app.test_client()
    resp = client.post("/login", data={"username": "lan", "password": PASSWORD, "next": "/scenarios/?a=1",
                                       "csrf_token": token(client)})
    assert resp.headers["Location"] == "/scenarios/?a=1"


# ------------------------------------------------------------------------------------------------ real server
class Browser:
    """A cookie-keeping HTTP client on urllib (statuses and headers of every answer, errors included)."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  _NoRedirect())

    def request(self, path: str, data: dict | None = None, *, headers: dict | None = None) -> tuple[int, dict, str]:
        """GET, or POST `data` (form-encoded) when given; return status, headers and body."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=60) as resp:
                return resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read().decode()

    def csrf(self) -> str:
        status, _, html = self.request("/login")
        assert status == 200
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def serve(app):
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}"


def test_map_answers_during_a_parallel_guessing_burst_on_waitress(make_app):
    """16 clients guess in parallel; the anonymous pages keep answering, guesses get 401 or 429, never 5xx."""
    app = make_app(CSRF_ENABLED=True, LOGIN_MAX_FAILURES=10_000, LOGIN_MAX_FAILURES_PER_ADDRESS=10_000)
    server, base = serve(app)
    try:
        Browser(base).request("/api/indicators")  # load the data once
        guesses: list[tuple[int, str | None]] = []
        lock = threading.Lock()

        def guess(k: int) -> None:
            b = Browser(base)
            csrf = b.csrf()
            for j in range(15):
                status, headers, _ = b.request("/login", {"username": "lan", "password": f"sai-{k}-{j}",
                                                          "csrf_token": csrf})
                with lock:
                    guesses.append((status, headers.get("Retry-After")))

        attackers = [threading.Thread(target=guess, args=(k,)) for k in range(16)]
        for t in attackers:
            t.start()
        anonymous = []
        reader = Browser(base)
        while any(t.is_alive() for t in attackers):
            anonymous.append(reader.request("/api/indicators")[0])
            anonymous.append(reader.request("/login")[0])
        for t in attackers:
            t.join()
    finally:
        stop_server(server)
    assert len(guesses) == 16 * 15
    assert set(anonymous) == {200} and len(anonymous) >= 2
    assert {s for s, _ in guesses} <= {401, 429}
    busy = [r for s, r in guesses if s == 429]
    assert busy and all(r == "1" for r in busy)  # hashing was bounded: the excess was refused, not queued
    failed = [e for e in audit_lines(app) if e["event"] == "login_failed"]
    assert len(failed) == sum(s == 401 for s, _ in guesses)
