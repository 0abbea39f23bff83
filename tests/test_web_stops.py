"""Stopping `ictgis serve` for real (SIGTERM like systemd, SIGKILL like the OOM killer) and sweeping what a killed
server left, with planted leftovers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_web import make_data
from test_web_auth import Browser

from ictgis.store import open_store
from ictgis.store.accounts import get_run
from ictgis_web import create_app
from ictgis_web.startup import InstanceBusyError, claim_instance, sweep
from ictgis_web.users import UserStore

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "mat-khau-123"
SLOW_RUNNER = '''
import time
from pathlib import Path


def slow_runner(path, out_dir, progress, **_options):
    """A run of a minute at most, writing a partial output folder as the real runs do."""
    partial = Path(out_dir).parent / ".out.partial-test"
    partial.mkdir()
    for k in range(1200):
        progress(k / 1200, f"bước {k}")
        time.sleep(0.05)
    partial.rename(out_dir)
'''


@pytest.fixture()
def site(tmp_path):
    """Data, scenario, instance (a planner; config.py pointing runs at a slow runner module) for `ictgis serve`."""
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "slowrun.py").write_text(SLOW_RUNNER, encoding="utf-8")
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "plan.yaml").write_text("name: Kế hoạch\n", encoding="utf-8")
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(
        f"import sys\nsys.path.insert(0, {str(tmp_path / 'mods')!r})\nfrom slowrun import slow_runner as JOB_RUNNER\n"
        f"SCENARIOS_DIR = {str(scenarios)!r}\n", encoding="utf-8")
    UserStore(instance).add("anh", PASSWORD, "planner")
    return {"data": make_data(tmp_path / "data"), "instance": instance}


class Server:
    """`ictgis serve` in a subprocess on a free port."""

    def __init__(self, site: dict):
        env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from ictgis.cli import main; main()", "serve", "--data", str(site["data"]),
             "--instance", str(site["instance"]), "--port", "0", "--threads", "4"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        for line in self.proc.stdout:
            self.output.append(line)
            found = re.search(r"on (http://127\.0\.0\.1:\d+)/", line)
            if found:
                self.base = found.group(1)
                break
        else:
            raise AssertionError("the server did not start:\n" + "".join(self.output))

    def finish(self, timeout_s: float = 60.0) -> int:
        try:
            rest, _ = self.proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest, _ = self.proc.communicate()
            raise AssertionError("the server did not exit:\n" + "".join(self.output) + rest) from None
        self.output.append(rest)
        return self.proc.returncode

    def planner(self) -> Browser:
        b = Browser(self.base)
        status, _, _ = b.request("/login", {"username": "anh", "password": PASSWORD, "csrf_token": b.csrf()})
        assert status == 302
        return b

    def start_run(self, b: Browser) -> str:
        status, _, body = b.request("/api/scenarios/plan.yaml/runs", {}, headers={"X-CSRF-Token": b.csrf()})
        assert status == 202, body
        return json.loads(body)["id"]


def stored(instance: Path, run_id: str) -> dict:
    """A run's record as the store holds it (read by this test process; fields without a value left out)."""
    with open_store(instance / "ictgis.gpkg") as store:
        row = get_run(store, run_id)
    return {k: v for k, v in row.items() if v is not None}


def record(site: dict, run_id: str) -> dict:
    return stored(site["instance"], run_id)


def wait_running(site: dict, run_id: str, timeout_s: float = 60.0) -> dict:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        rec = record(site, run_id)
        if rec["status"] == "running" and rec.get("pid") and rec.get("progress", 0) > 0:
            return rec
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never ran: {rec}")


def gone(pid: int, timeout_s: float = 30.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


# ------------------------------------------------------------------------------------------------ signals
def test_sigterm_stops_the_server_like_ctrl_c(site):
    server = Server(site)
    try:
        planner = server.planner()
        running = server.start_run(planner)
        queued = server.start_run(planner)  # one run at a time: this one waits
        pid = wait_running(site, running)["pid"]
        assert record(site, queued)["status"] == "queued"
        os.kill(pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the worker too: it is for the server only
        time.sleep(0.5)
        assert alive(pid) and record(site, running)["status"] == "running"
        server.proc.send_signal(signal.SIGTERM)
        assert server.finish() == 0, "".join(server.output)
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
    assert gone(pid, timeout_s=5.0), "the run's worker outlived its server"
    assert record(site, running)["status"] == "cancelled"
    assert record(site, queued)["status"] == "cancelled"
    folder = site["instance"] / "runs" / running
    assert not (folder / "out").exists() and not list(folder.glob(".out.partial-*"))
    assert "stopped" in "".join(server.output)


def test_a_killed_servers_worker_stops_and_the_next_server_sweeps(site):
    """SIGKILL leaves no time to clean: the worker notices its server is gone; the next server records the run."""
    server = Server(site)
    try:
        running = server.start_run(server.planner())
        pid = wait_running(site, running)["pid"]
        server.proc.kill()
        server.finish()
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
    assert gone(pid, timeout_s=10.0), "the run's worker kept running alone"
    assert record(site, running)["status"] == "running"  # nobody could write more
    folder = site["instance"] / "runs" / running
    assert list(folder.glob(".out.partial-*"))
    again = Server(site)
    try:
        rec = record(site, running)
        assert rec["status"] == "interrupted" and "server stopped" in rec["error"] and "pid" not in rec
        assert not list(folder.glob(".out.partial-*"))
        assert "1 run(s) marked interrupted" in "".join(again.output)
        second = again.start_run(again.planner())  # the new server runs again
        wait_running(site, second)
        again.proc.send_signal(signal.SIGTERM)
        assert again.finish() == 0
    finally:
        if again.proc.poll() is None:
            again.proc.kill()
    assert record(site, second)["status"] == "cancelled"


# ------------------------------------------------------------------------------------------------ sweep
def plant(instance: Path, run_id: str, status: str, **extra) -> Path:
    folder = instance / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"id": run_id, "status": status, "progress": 0.4, "error": None,
                                                 "finished": None, **extra}), encoding="utf-8")
    return folder


def test_sweep_cleans_planted_leftovers_once(tmp_path):
    instance = tmp_path / "instance"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that is surely gone
    running = plant(instance, "20260101-000000-aaaaaa", "running", pid=dead.pid)
    (running / ".out.partial-x1").mkdir()
    (running / ".out.partial-x1" / "rsrp.tif").write_bytes(b"half")
    (running / ".run-tmp1").write_text("{")
    queued = plant(instance, "20260101-000001-bbbbbb", "queued")
    done = plant(instance, "20260101-000002-cccccc", "done", finished=123.0)
    (done / "out").mkdir()
    (done / "out" / "summary.json").write_text("{}")
    (done / ".out.partial-x2").mkdir()
    (instance / "datasets" / ".new-abc123" / "villages").mkdir(parents=True)
    (instance / "datasets" / "1").mkdir()
    (instance / "datasets" / "1" / "villages.shp").write_bytes(b"kept")
    (instance / "tmp").mkdir()
    (instance / "tmp" / "upload-0123456789abcdef").write_bytes(b"half an upload")
    (instance / "tmp" / "notes.txt").write_text("not ours")
    (instance / ".users-x7").write_text("{")
    app = create_app({"DATA_DIR": str(make_data(tmp_path / "data")), "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "test"})

    done_report = sweep(app)

    assert sorted(done_report["interrupted_runs"]) == [running.name, queued.name]
    assert sorted(done_report["removed"]) == [".users-x7", "datasets/.new-abc123", "tmp/upload-0123456789abcdef"]
    # the records of run.json files (an earlier version's) were moved into the store, the files kept
    assert not list(instance.glob("runs/*/run.json")) and len(list(instance.glob("runs/*/run.json.migrated"))) == 3
    first = stored(instance, running.name)
    assert first["status"] == "interrupted" and "while this run was running" in first["error"]
    assert "pid" not in first and first["finished"]
    assert "while this run was queued" in stored(instance, queued.name)["error"]
    assert stored(instance, done.name)["status"] == "done" and (done / "out" / "summary.json").exists()
    assert not list(instance.glob("runs/*/.out.partial-*")) and not (running / ".run-tmp1").exists()
    assert (instance / "datasets" / "1" / "villages.shp").exists() and (instance / "tmp" / "notes.txt").exists()
    jobs = app.extensions["ictgis_jobs"]
    assert jobs.get(running.name)["status"] == "interrupted" and jobs.get(running.name)["error"] == first["error"]
    # once: a second sweep changes nothing
    assert sweep(app) == {"interrupted_runs": [], "removed": []}
    assert stored(instance, running.name) == first


def test_sweep_stops_a_worker_left_alive(tmp_path):
    """A worker of a killed server that did not stop by itself is killed before its run is marked."""
    instance = tmp_path / "instance"
    orphan = subprocess.Popen([sys.executable, "-c",
                               "import time\nfrom multiprocessing.spawn import spawn_main\ntime.sleep(60)"])
    try:
        folder = plant(instance, "20260101-000000-dddddd", "running", pid=orphan.pid)
        app = create_app({"DATA_DIR": str(make_data(tmp_path / "data")), "INSTANCE_PATH": str(instance),
                          "SECRET_KEY": "test"})
        assert app.extensions["ictgis_jobs"].sweep(wait_s=0.5) == [folder.name]
        assert orphan.wait(timeout=10) == -signal.SIGKILL
    finally:
        orphan.kill()
        orphan.wait()


def test_one_server_per_instance(tmp_path, site):
    lock = claim_instance(site["instance"])
    try:
        with pytest.raises(InstanceBusyError, match=f"pid {os.getpid()}"):
            claim_instance(site["instance"])
        from ictgis.cli import main

        result = CliRunner().invoke(main, ["serve", "--data", str(site["data"]), "--instance",
                                           str(site["instance"]), "--port", "0"])
        assert result.exit_code == 1 and "another ictgis server" in result.output
    finally:
        lock.close()
    claim_instance(site["instance"]).close()  # free again once the holder is gone
