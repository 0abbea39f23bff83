"""Users and run records in the store (`ictgis.store.accounts`) on both backends, and migration 0004 keeping the runs
and users of a store made at revision 0003."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from store_fixtures import postgis_template, postgresql_proc, store_url  # noqa: F401 - fixtures

from ictgis.store import EditConflictError, StoreError, open_store
from ictgis.store import accounts as records
from ictgis.store.migrate import current_revision, head_revision, upgrade


def test_migration_0004_keeps_the_runs_and_users_of_an_older_store(store_url):  # noqa: F811
    with open_store(store_url) as store:
        upgrade(store.engine, srid=9205, revision="0003")
        with store.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO users (name, password_hash, role, created) VALUES "
                                 "('lan', 'h', 'planner', :t)"), {"t": dt.datetime(2026, 1, 1)})
            conn.execute(sa.text("INSERT INTO scenario_runs (id, name, status, parameters, owner, created, updated, "
                                 "version) VALUES ('r1', 'plan.yaml', 'done', '{\"a\": 1}', 'lan', :t, :t, 3)"),
                         {"t": dt.datetime(2026, 1, 1)})
        assert store.init() == head_revision() == "0004" == current_revision(store.engine)
        run = records.get_run(store, "r1")
        assert run["parameters"] == {"a": 1} and run["version"] == 3 and run["status"] == "done"
        assert run["progress"] is None and run["files"] is None and run["server"] is None
        assert records.get_user(store, "lan")["password_hash"] == "h"
        moved = records.update_run(store, "r1", expected_version=3, files=["a.csv"], dataset_version=2)
        assert (moved["files"], moved["dataset_version"], moved["version"]) == (["a.csv"], 2, 4)


def test_run_fields_times_and_filters(store_url):  # noqa: F811
    with open_store(store_url) as store:
        store.init()
        t0 = dt.datetime(2026, 1, 1, 8, 0, 0, 250000, tzinfo=dt.timezone.utc)
        records.create_run(store, "a", name="x.yaml", parameters={}, server="h:/a", created=t0)
        records.create_run(store, "b", name="y.yaml", parameters={"k": [1, 2]}, server="h:/b", status="running",
                           created=t0 + dt.timedelta(seconds=1), progress=0.5, message="bước 1", pid=42)
        run = records.update_run(store, "b", expected_version=1, status="done", pid=None, result={"n": "một"},
                                 finished=t0 + dt.timedelta(seconds=2), files=["out.csv"])
        assert run["pid"] is None and run["result"] == {"n": "một"} and run["message"] == "bước 1"
        assert run["finished"] == t0 + dt.timedelta(seconds=2)
        assert [r["id"] for r in records.list_runs(store)] == ["b", "a"]
        assert [r["id"] for r in records.list_runs(store, status=("queued", "running"))] == ["a"]
        assert [r["id"] for r in records.list_runs(store, server="h:/b")] == ["b"]
        assert records.get_run(store, "a")["created"] == t0
        with pytest.raises(StoreError, match="unknown run field"):
            records.update_run(store, "a", expected_version=1, colour="red")
        with pytest.raises(EditConflictError):
            records.update_run(store, "missing", expected_version=1, status="failed")


def test_adding_a_user_without_replacing_leaves_the_first(store_url):  # noqa: F811
    with open_store(store_url) as store:
        store.init()
        assert records.set_user(store, "lan", password_hash="h1", role="planner", replace=False) == "added"
        assert records.set_user(store, "lan", password_hash="h2", role="viewer", replace=False) == "exists"
        assert records.get_user(store, "lan")["password_hash"] == "h1"
        assert records.set_user(store, "lan", password_hash="h3", role="viewer") == "replaced"
        assert records.get_user(store, "lan")["role"] == "viewer"
