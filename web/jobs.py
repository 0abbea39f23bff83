"""Background scenario runs: a small job runner whose state lives on disk (``<instance>/runs/<id>/run.json``).

The runner calls ``ictgis.scenario.run_scenario(path, out_dir, progress=callback)``, looked up lazily: while that
module does not exist, runs are "not available yet" (never faked). The callback takes a fraction in [0, 1] and an
optional message. Runs execute in a worker thread, so the server keeps answering; a run found "running" by a
runner that did not start it (the server restarted) is reported as interrupted.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flask import Flask, current_app

logger = logging.getLogger(__name__)
RUN_ID_RE = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")
FINISHED = ("done", "failed", "interrupted")


def scenario_runner() -> Callable | None:
    """Return ``ictgis.scenario.run_scenario`` (or its ``run``), or None while the scenario module is not there."""
    try:
        module = importlib.import_module("ictgis.scenario")
    except ModuleNotFoundError as exc:
        if exc.name not in ("ictgis.scenario", "ictgis"):
            logger.warning("ictgis.scenario cannot be imported: %s", exc)
        return None
    except ImportError as exc:
        logger.warning("ictgis.scenario cannot be imported: %s", exc)
        return None
    for name in ("run_scenario", "run"):
        func = getattr(module, name, None)
        if callable(func):
            return func
    return None


def _write_json(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".run-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


class JobRunner:
    """Run scenario files in background threads and keep their records on disk.

    Parameters
    ----------
    runs_dir
        Folder of the run folders.
    workers
        Runs executed at the same time (others wait, "queued").
    runner
        The run callable; default: looked up lazily with `scenario_runner` at each submission.
    """

    def __init__(self, runs_dir: str | Path, *, workers: int = 1, runner: Callable | None = None):
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ictgis-run")
        self._runner = runner
        self._live: set[str] = set()
        self._lock = threading.Lock()

    def runner(self) -> Callable | None:
        """Return the run callable, or None when scenario runs are not available yet."""
        return self._runner or scenario_runner()

    def run_dir(self, run_id: str) -> Path | None:
        """Return the folder of a run, or None for an invalid or unknown id."""
        if not RUN_ID_RE.match(run_id or ""):
            return None
        path = self.runs_dir / run_id
        return path if (path / "run.json").exists() else None

    def submit(self, scenario: Path, *, user: str | None = None) -> str:
        """Queue a run of a scenario file; return its id.

        Raises
        ------
        RuntimeError
            When no scenario runner is available.
        """
        func = self.runner()
        if func is None:
            raise RuntimeError("scenario runs are not available yet")
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        folder = self.runs_dir / run_id
        folder.mkdir(parents=True)
        record = {"id": run_id, "scenario": scenario.name, "status": "queued", "progress": 0.0, "message": "",
                  "user": user, "created": time.time(), "started": None, "finished": None, "error": None}
        _write_json(folder / "run.json", record)
        with self._lock:
            self._live.add(run_id)
        self._pool.submit(self._execute, func, scenario, folder, record)
        return run_id

    def _execute(self, func: Callable, scenario: Path, folder: Path, record: dict) -> None:
        last = [0.0]

        def progress(fraction: float = 0.0, message: str = "", *_args, **_kwargs) -> None:
            record["progress"] = float(min(max(fraction or 0.0, 0.0), 1.0))
            record["message"] = str(message or "")
            now = time.monotonic()
            if now - last[0] > 0.25:
                last[0] = now
                _write_json(folder / "run.json", record)

        record.update(status="running", started=time.time())
        _write_json(folder / "run.json", record)
        try:
            result = func(scenario, folder / "out", progress=progress)  # creates "out" (atomically, when it can)
            record.update(status="done", progress=1.0)
            if isinstance(result, dict):
                try:
                    json.dumps(result)
                    record["result"] = result
                except (TypeError, ValueError):
                    pass
        except Exception as exc:  # a failed run is recorded, never raised into the server
            logger.exception("scenario run %s failed", record["id"])
            record.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                          traceback=traceback.format_exc(limit=5))
        finally:
            record["finished"] = time.time()
            _write_json(folder / "run.json", record)
            with self._lock:
                self._live.discard(record["id"])

    def get(self, run_id: str) -> dict | None:
        """Return a run's record with its output files, or None."""
        folder = self.run_dir(run_id)
        if folder is None:
            return None
        record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        with self._lock:
            live = run_id in self._live
        if record.get("status") not in FINISHED and not live:
            record["status"] = "interrupted"
        out = folder / "out"
        record["outputs"] = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) \
            if record["status"] == "done" and out.is_dir() else []
        record.pop("traceback", None)
        return record

    def list(self) -> list[dict]:
        """Every run, newest first."""
        ids = sorted((p.name for p in self.runs_dir.iterdir() if RUN_ID_RE.match(p.name)), reverse=True)
        return [r for r in (self.get(i) for i in ids) if r is not None]

    def wait(self, run_id: str, timeout_s: float = 30.0) -> dict | None:
        """Wait until a run finishes (for tests and scripts); return its record."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            record = self.get(run_id)
            if record is None or record["status"] in FINISHED:
                return record
            time.sleep(0.05)
        return self.get(run_id)


def runner() -> JobRunner:
    """Return the app's job runner."""
    return current_app.extensions["ictgis_jobs"]


def install(app: Flask) -> None:
    """Create the app's job runner (``JOB_RUNNER`` in the config replaces the scenario module, for tests)."""
    app.extensions["ictgis_jobs"] = JobRunner(Path(app.instance_path) / "runs", workers=app.config["JOB_WORKERS"],
                                              runner=app.config.get("JOB_RUNNER"))
