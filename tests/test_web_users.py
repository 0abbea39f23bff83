"""Users in the store: an old users.json moved in once (logged, the file kept), users shared by two apps on one
store on each backend, and ``ictgis user … --db``."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner
from store_fixtures import postgis_template, postgresql_proc, store_url  # noqa: F401 - fixtures
from test_web import make_data, token
from werkzeug.security import generate_password_hash

from ictgis.store import accounts as records
from ictgis.store import open_store
from ictgis_web import create_app
from ictgis_web.users import UserError, UserStore

PASSWORD = "mat-khau-123"


@pytest.fixture()
def data(tmp_path):
    return make_data(tmp_path / "data")


def make(tmp_path, data, name="instance", **config):
    return create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "test", "PRECOMPUTE": False,
                       "INSTANCE_PATH": str(tmp_path / name)} | config)


def logs_in(app, name, password) -> bool:
    client = app.test_client()
    return client.post("/login", data={"username": name, "password": password,
                                       "csrf_token": token(client)}).status_code == 302


def old_users_file(instance, users: dict) -> dict:
    instance.mkdir(parents=True, exist_ok=True)
    content = {name: {"role": role, "password": generate_password_hash(pw)} for name, (role, pw) in users.items()}
    (instance / "users.json").write_text(json.dumps(content), encoding="utf-8")
    return content


def test_users_json_is_moved_into_the_store_once_and_kept(tmp_path, data, caplog):
    content = old_users_file(tmp_path / "instance", {"lan": ("planner", PASSWORD), "hoa": ("viewer", "mat-khau-456")})
    with caplog.at_level(logging.WARNING, logger="ictgis_web.users"):
        app = make(tmp_path, data)
    assert "moved 2 user(s)" in caplog.text and "users.json.migrated" in caplog.text
    assert not (tmp_path / "instance" / "users.json").exists()
    assert json.loads((tmp_path / "instance" / "users.json.migrated").read_text(encoding="utf-8")) == content
    assert logs_in(app, "lan", PASSWORD) and logs_in(app, "hoa", "mat-khau-456")
    assert not logs_in(app, "lan", "mat-khau-456")
    caplog.clear()
    again = make(tmp_path, data)  # once: nothing more to move
    assert "moved" not in caplog.text and [(u.name, u.role) for u in again.extensions["ictgis_users"].list()] == [
        ("hoa", "viewer"), ("lan", "planner")]


def test_a_user_already_in_the_store_keeps_its_password(tmp_path, data, caplog):
    app = make(tmp_path, data)
    app.extensions["ictgis_users"].add("lan", "mat-khau-moi-1", "viewer")
    old_users_file(tmp_path / "instance", {"lan": ("planner", PASSWORD), "minh": ("planner", "mat-khau-789")})
    (tmp_path / "instance" / "users.json.migrated").write_text("an earlier move", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="ictgis_web.users"):
        app = make(tmp_path, data)
    assert "already in the store" in caplog.text
    assert logs_in(app, "lan", "mat-khau-moi-1") and not logs_in(app, "lan", PASSWORD)
    assert logs_in(app, "minh", "mat-khau-789")
    assert (tmp_path / "instance" / "users.json.migrated").read_text(encoding="utf-8") == "an earlier move"
    assert (tmp_path / "instance" / "users.json.migrated-1").exists()  # never overwritten


def test_an_unreadable_users_file_is_left_where_it_is(tmp_path, data, caplog):
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "users.json").write_text("{", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="ictgis_web.users"):
        app = make(tmp_path, data)
    assert "cannot be read" in caplog.text and (tmp_path / "instance" / "users.json").read_text() == "{"
    assert app.extensions["ictgis_users"].list() == []


def test_two_apps_on_one_store_share_their_users(tmp_path, data, store_url):  # noqa: F811
    first = make(tmp_path, data, "a", STORE_URL=store_url)
    second = make(tmp_path, data, "b", STORE_URL=store_url)
    try:
        first.extensions["ictgis_users"].add("lan", PASSWORD, "planner")
        client = second.test_client()
        assert client.post("/login", data={"username": "lan", "password": PASSWORD,
                                           "csrf_token": token(client)}).status_code == 302
        assert client.get("/scenarios/").status_code == 200
        with pytest.raises(UserError, match="exists"):
            second.extensions["ictgis_users"].add("lan", PASSWORD, "viewer")
        assert first.extensions["ictgis_users"].remove("lan")
        assert client.get("/scenarios/").status_code == 302  # removed in the store: logged out on the other too
        with open_store(store_url) as store:
            assert records.list_users(store) == []
    finally:
        for app in (first, second):
            app.extensions["ictgis_served"].store.close()


def test_user_commands_take_the_store(tmp_path, data):
    from ictgis.cli import main

    store = tmp_path / "shared.gpkg"
    runner = CliRunner()
    res = runner.invoke(main, ["user", "add", "lan", "--role", "viewer", "--password-stdin", "--instance",
                               str(tmp_path / "inst"), "--db", str(store)], input=PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    listing = runner.invoke(main, ["user", "list", "--instance", str(tmp_path / "other"), "--db", str(store)])
    assert listing.output.split() == ["lan", "viewer"]
    assert runner.invoke(main, ["user", "list", "--instance", str(tmp_path / "inst")]).output == ""  # its own store
    app = make(tmp_path, data, "served", STORE_URL=str(store))
    assert logs_in(app, "lan", PASSWORD)
    assert UserStore(tmp_path / "x", url=store).verify("lan", PASSWORD).role == "viewer"


def test_the_instance_store_holding_password_hashes_is_readable_by_its_owner_only(tmp_path, data):
    instance = tmp_path / "instance"
    instance.mkdir()
    gpkg = instance / "ictgis.gpkg"
    gpkg.touch(mode=0o644)
    gpkg.chmod(0o644)  # as a umask of 022 would leave it
    app = make(tmp_path, data)
    app.extensions["ictgis_users"].add("lan", PASSWORD, "planner")
    assert gpkg.stat().st_mode & 0o777 == 0o600
    assert logs_in(app, "lan", PASSWORD)
