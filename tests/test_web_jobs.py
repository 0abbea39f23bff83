"""Run records in the store: two servers on one store see (and cancel) each other's runs, a cancel racing a run's
end has one winner, the startup sweep works from the store and leaves other servers' runs alone, and run.json
records of earlier versions are moved in once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from store_fixtures import postgis_template, postgresql_proc, store_url  # noqa: F401 - fixtures
from test_web import make_data, token
from test_web_auth import Browser

from ictgis.store import accounts as records
from ictgis.store import open_store
from ictgis_web import create_app
from ictgis_web.jobs import FINISHED, RunRecord, finish_run, record_run, server_key

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "mat-khau-123"


def steady_runner(path, out_dir, progress, **_options):
    """A run of up to 60 s reporting progress every 50 ms (module level: the worker process imports it)."""
    for k in range(1200):
        progress(k / 1200, f"bước {k}")
        time.sleep(0.05)
    Path(out_dir).mkdir()


def quick_runner(path, out_dir, progress, **_options):
    progress(0.5, "nửa")
    Path(out_dir).mkdir()
    (Path(out_dir) / "summary.json").write_text("{}", encoding="utf-8")
    return {"ok": True}


def make_server_app(tmp_path: Path, name: str, url: str, **config):
    """An app with its own instance folder on the store `url`; a planner logged in on a test client."""
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir(exist_ok=True)
    (scenarios / "plan.yaml").write_text("name: Kế hoạch\n", encoding="utf-8")
    data = tmp_path / "data"
    app = create_app({"TESTING": True, "DATA_DIR": str(data if data.is_dir() else make_data(data)),
                      "SECRET_KEY": "test", "INSTANCE_PATH": str(tmp_path / name), "SCENARIOS_DIR": str(scenarios),
                      "STORE_URL": url, "PRECOMPUTE": False} | config)
    app.extensions["ictgis_users"].add("anh", PASSWORD, "planner", replace=True)
    client = app.test_client()
    resp = client.post("/login", data={"username": "anh", "password": PASSWORD, "csrf_token": token(client)})
    assert resp.status_code == 302
    return app, client


def close_stores(*apps) -> None:
    """Close the apps' stores (PostgreSQL's pooled connections would be left to the garbage collector)."""
    for app in apps:
        app.extensions["ictgis_jobs"].close()
        for key in ("ictgis_accounts", "ictgis_served"):
            found = app.extensions.get(key)
            if found is not None:
                getattr(found, "store", found).close()


def wait_for(check, timeout_s: float = 60.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_two_servers_on_one_store_see_and_cancel_each_others_runs(tmp_path, store_url):  # noqa: F811
    """Two apps (instance folders of their own) on one store, each run in a real worker process."""
    first, client_a = make_server_app(tmp_path, "a", store_url, JOB_RUNNER=steady_runner)
    second, client_b = make_server_app(tmp_path, "b", store_url, JOB_RUNNER=quick_runner)
    try:
        _see_and_cancel(first, client_a, second, client_b)
    finally:
        close_stores(first, second)


def _see_and_cancel(first, client_a, second, client_b):
    run_a = client_a.post("/api/scenarios/plan.yaml/runs", headers={"X-CSRF-Token": token(client_a)}).get_json()["id"]
    wait_for(lambda: first.extensions["ictgis_jobs"].get(run_a)["progress"] > 0)
    seen = {r["id"]: r for r in client_b.get("/api/runs").get_json()["runs"]}
    assert seen[run_a]["status"] == "running" and seen[run_a]["user"] == "anh"  # not "interrupted": not B's run
    run_b = client_b.post("/api/scenarios/plan.yaml/runs", headers={"X-CSRF-Token": token(client_b)}).get_json()["id"]
    done = second.extensions["ictgis_jobs"].wait(run_b)
    assert done["status"] == "done" and done["outputs"] == ["summary.json"] and done["result"] == {"ok": True}
    assert client_a.get(f"/api/runs/{run_b}").get_json()["outputs"] == ["summary.json"]
    assert [r["id"] for r in client_a.get("/api/runs").get_json()["runs"]] == [run_b, run_a]  # newest first
    # B cancels A's run: A's worker finds its record cancelled at its next progress report and stops
    cancelled = client_b.post(f"/api/runs/{run_a}/cancel", headers={"X-CSRF-Token": token(client_b)})
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    wait_for(lambda: not first.extensions["ictgis_jobs"].is_live(run_a), timeout_s=30)  # its worker stopped
    final = first.extensions["ictgis_jobs"].get(run_a)
    assert final["status"] == "cancelled" and final["outputs"] == []
    assert not (Path(first.instance_path) / "runs" / run_a / "out").exists()


def test_a_cancel_racing_the_end_of_a_run_has_one_winner(tmp_path, store_url):  # noqa: F811
    """The run's last write and a cancel from another connection race; whichever wins, the record says it clearly."""
    with open_store(store_url) as store:
        store.init()
        outcomes = set()
        for k in range(12):
            run_id = f"20260101-0000{k:02d}-abcdef"
            folder = tmp_path / run_id
            folder.mkdir()
            row = records.create_run(store, run_id, name="plan.yaml", parameters={}, outputs=str(folder))
            canceller = open_store(store.url)  # another writer, as another server would be
            go = threading.Event()

            def cancel(run_id=run_id, canceller=canceller, go=go, delay_s=0.001 * (k % 4)):
                go.wait()
                time.sleep(delay_s)
                finish_run(canceller, run_id, "cancelled")

            def racing_runner(path, out_dir, progress, go=go, **_options):
                Path(out_dir).mkdir()
                (Path(out_dir) / "summary.json").write_text("{}", encoding="utf-8")
                go.set()  # the cancel is on its way while the run writes its end

            thread = threading.Thread(target=cancel)
            thread.start()
            record_run(racing_runner, Path("plan.yaml"), folder, RunRecord(store, run_id, row["version"]), {},
                        pid=None)
            thread.join()
            canceller.close()
            final = records.get_run(store, run_id)
            outcomes.add(final["status"])
            if final["status"] == "done":
                assert final["files"] == ["summary.json"] and (folder / "out" / "summary.json").exists()
            else:
                assert final["status"] == "cancelled" and not (folder / "out").exists()
                assert not list(folder.glob(".out.partial-*"))
            assert not finish_run(store, run_id, "cancelled")  # a final status is never replaced
        assert outcomes <= {"done", "cancelled"}


def test_a_cancel_written_first_wins_over_the_runs_end(tmp_path):
    """Deterministic order: the cancel lands after the outputs are made, before the run records its end."""
    url = str(tmp_path / "s.gpkg")
    with open_store(url) as store:
        store.init()
        row = records.create_run(store, "20260101-000000-abcdef", name="plan.yaml", parameters={})

        def runner(path, out_dir, progress, **_options):
            progress(0.9, "gần xong")
            Path(out_dir).mkdir()
            with open_store(url) as other:
                assert finish_run(other, "20260101-000000-abcdef", "cancelled")

        record_run(runner, Path("plan.yaml"), tmp_path, RunRecord(store, row["id"], row["version"]), {}, pid=None)
        final = records.get_run(store, row["id"])
        assert final["status"] == "cancelled" and final["files"] is None and not (tmp_path / "out").exists()
        assert final["message"] == "gần xong"  # the run's progress up to then is kept


def test_the_sweep_works_from_the_store_and_leaves_other_servers_runs(tmp_path):
    app, client = make_server_app(tmp_path, "a", str(tmp_path / "shared.gpkg"))
    jobs = app.extensions["ictgis_jobs"]
    ours = jobs.server
    assert ours == server_key(Path(app.instance_path) / "runs")
    with open_store(tmp_path / "shared.gpkg") as store:
        for run_id, status, server in (("20260101-000001-aaaaaa", "running", ours),
                                       ("20260101-000002-bbbbbb", "queued", ours),
                                       ("20260101-000003-cccccc", "running", "otherhost:/srv/instance/runs"),
                                       ("20260101-000004-dddddd", "done", ours)):
            records.create_run(store, run_id, name="plan.yaml", parameters={}, status=status, server=server)
    (Path(app.instance_path) / "runs" / "20260101-000001-aaaaaa" / ".out.partial-x").mkdir(parents=True)
    listed = {r["id"]: r["status"] for r in client.get("/api/runs").get_json()["runs"]}
    assert listed == {"20260101-000001-aaaaaa": "interrupted", "20260101-000002-bbbbbb": "interrupted",
                      "20260101-000003-cccccc": "running", "20260101-000004-dddddd": "done"}
    assert sorted(jobs.sweep(wait_s=0.5)) == ["20260101-000001-aaaaaa", "20260101-000002-bbbbbb"]
    with open_store(tmp_path / "shared.gpkg") as store:
        rows = {r["id"]: r for r in records.list_runs(store)}
    assert rows["20260101-000001-aaaaaa"]["status"] == "interrupted"
    assert "while this run was queued" in rows["20260101-000002-bbbbbb"]["error"]
    assert rows["20260101-000003-cccccc"]["status"] == "running"  # another server's: left to it
    assert not list((Path(app.instance_path) / "runs").glob("*/.out.partial-*"))
    assert jobs.sweep(wait_s=0.5) == []  # once


def test_run_json_records_are_moved_into_the_store_once(tmp_path, caplog):
    instance = tmp_path / "a"
    folder = instance / "runs" / "20251231-235959-abcdef"
    (folder / "out" / "layers").mkdir(parents=True)
    (folder / "out" / "layers" / "sites.geojson").write_text("{}", encoding="utf-8")
    old = {"id": folder.name, "scenario": "plan.yaml", "status": "done", "progress": 1.0, "message": "xong",
           "user": "anh", "created": 1767225599.5, "started": 1767225600.0, "finished": 1767225660.25,
           "error": None, "dataset_version": 2, "dataset_folder": "datasets/2", "result": {"n": 1}}
    (folder / "run.json").write_text(json.dumps(old), encoding="utf-8")
    (instance / "runs" / "20251231-235958-bad000").mkdir()
    (instance / "runs" / "20251231-235958-bad000" / "run.json").write_text("{", encoding="utf-8")
    app, client = make_server_app(tmp_path, "a", str(tmp_path / "shared.gpkg"))
    record = client.get(f"/api/runs/{folder.name}").get_json()
    assert {k: record[k] for k in ("status", "user", "dataset_version", "dataset_folder", "result", "outputs")} == {
        "status": "done", "user": "anh", "dataset_version": 2, "dataset_folder": "datasets/2", "result": {"n": 1},
        "outputs": ["layers/sites.geojson"]}
    assert (record["created"], record["finished"]) == (1767225599.5, 1767225660.25)
    assert json.loads((folder / "run.json.migrated").read_text(encoding="utf-8")) == old
    assert "moved 1 run record(s)" in caplog.text
    assert (instance / "runs" / "20251231-235958-bad000" / "run.json").exists()  # unreadable: left, logged
    assert "cannot be moved into the store" in caplog.text
    with client.get(f"/scenarios/runs/{folder.name}/files/layers/sites.geojson") as resp:
        assert resp.status_code == 200 and resp.get_data() == b"{}"  # the outputs' folder named in the record


def test_a_second_ictgis_serve_process_on_one_geopackage_sees_the_runs(tmp_path):
    """A real second server (`ictgis serve --db`, its own instance) on the GeoPackage of an app in this process."""
    url = str(tmp_path / "shared.gpkg")
    app, client = make_server_app(tmp_path, "a", url, JOB_RUNNER=quick_runner)
    run_id = client.post("/api/scenarios/plan.yaml/runs", headers={"X-CSRF-Token": token(client)}).get_json()["id"]
    assert app.extensions["ictgis_jobs"].wait(run_id)["status"] == "done"
    other = tmp_path / "b"
    other.mkdir()
    (other / "config.py").write_text(f"SCENARIOS_DIR = {str(tmp_path / 'scenarios')!r}\n", encoding="utf-8")
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", "from ictgis.cli import main; main()", "serve", "--db", url,
                             "--instance", str(other), "--port", "0", "--threads", "2"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = []
        for line in proc.stdout:
            output.append(line)
            found = re.search(r"on (http://127\.0\.0\.1:\d+)/", line)
            if found:
                break
        else:
            raise AssertionError("the server did not start:\n" + "".join(output))
        browser = Browser(found.group(1))
        status, _, _ = browser.request("/login", {"username": "anh", "password": PASSWORD,
                                                  "csrf_token": browser.csrf()})
        assert status == 302  # the user added through the first app
        status, _, body = browser.request("/api/runs")
        runs = json.loads(body)["runs"]
        assert status == 200 and [(r["id"], r["status"], r["outputs"]) for r in runs] == [
            (run_id, "done", ["summary.json"])]
        status, _, body = browser.request(f"/scenarios/runs/{run_id}/files/summary.json")
        assert status == 200 and body == "{}"  # the outputs' folder is named in the record
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    assert all(r["status"] in FINISHED for r in client.get("/api/runs").get_json()["runs"])


@pytest.mark.parametrize("status", ["done", "failed"])
def test_a_finished_run_is_not_cancelled(tmp_path, status):
    with open_store(tmp_path / "s.gpkg") as store:
        store.init()
        row = records.create_run(store, "20260101-000000-abcdef", name="plan.yaml", parameters={})
        records.update_run(store, row["id"], expected_version=row["version"], status=status)
        assert not finish_run(store, row["id"], "cancelled")
        assert records.get_run(store, row["id"])["status"] == status
