"""Background scenario runs: a small job runner whose state lives on disk (``<instance>/runs/<id>/run.json``).

Each run calls ``ictgis.scenario.run(path, out_dir, progress=callback)`` in a worker process of its own (spawned,
at a lower CPU priority): a long run neither holds the server's GIL nor competes with requests for the CPU on equal
terms, a crash of the run cannot take the server down, and a planner can cancel a run (the process is stopped; the
scenario module writes its outputs atomically, so nothing half-written is left as a result). The worker writes its
progress into ``run.json``; the server reads it. ``JOB_ISOLATION = "thread"`` runs in a server thread instead (test
doubles that cannot be pickled). A run found "running" by a runner that did not start it (the server restarted) is
reported as interrupted; `JobRunner.sweep`, called when ``ictgis serve`` starts, writes that into its record once,
with the reason, and removes partial outputs. A worker whose server dies (killed, even with SIGKILL) stops at once:
it never runs on alone beside the runs of a restarted server. Workers ignore SIGINT (Ctrl-C in a terminal reaches
the whole process group): the server stops them itself, see `JobRunner.close`.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import re
import secrets
import shutil
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from pathlib import Path

from flask import Flask, current_app

from .paths import public_fields

logger = logging.getLogger(__name__)
RUN_ID_RE = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")
FINISHED = ("done", "failed", "interrupted", "cancelled")
#: Niceness added to a run's worker process (requests of the server come first).
WORKER_NICE = 10


def scenario_runner() -> Callable | None:
    """Return ``ictgis.scenario.run`` (imported on first use), or None when it cannot be imported (logged)."""
    try:
        module = importlib.import_module("ictgis.scenario")
    except ImportError as exc:  # a broken install: the pages say runs are not available instead of failing
        logger.warning("ictgis.scenario cannot be imported: %s", exc)
        return None
    return module.run


def _read_record(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".run-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


def _record_run(func: Callable, scenario: Path, folder: Path, record: dict) -> None:
    """Run `func` and keep `record` (``run.json``) up to date: running with its progress, then done or failed.

    A new message (the run enters a step) is written at once; the same message with a new fraction at most every
    0.25 s. The status is "running" from the start: a record never reports progress while "queued".
    """
    last = [0.0]

    def progress(fraction: float = 0.0, message: str = "", *_args, **_kwargs) -> None:
        message = str(message or "")
        new_step = message != record.get("message")
        record.update(status="running", progress=float(min(max(fraction or 0.0, 0.0), 1.0)), message=message)
        now = time.monotonic()
        if new_step or now - last[0] > 0.25:
            last[0] = now
            _write_json(folder / "run.json", record)

    record.update(status="running", started=time.time(), pid=os.getpid())
    _write_json(folder / "run.json", record)
    try:
        # creates "out" (atomically); the options (the dataset version's folder …) were chosen at submission
        result = func(scenario, folder / "out", progress=progress, **record.get("options", {}))
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


def _exit_with_parent(sentinel: int) -> None:
    """Stop this worker process as soon as its server process is gone (the sentinel turns ready when it dies)."""
    multiprocessing.connection.wait([sentinel])
    logger.warning("the server process is gone: this run's worker stops")
    os._exit(70)


def _worker(func: Callable, scenario: str, folder: str, record: dict, nice: int) -> None:
    """Entry point of a run's worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server, which stops its workers itself
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), name="ictgis-parent-watch",
                         daemon=True).start()
    with contextlib.suppress(OSError):  # when not allowed, the run keeps the server's priority
        os.nice(nice)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s [run %(process)d] %(message)s")
    _record_run(func, Path(scenario), Path(folder), record)


class JobRunner:
    """Run scenario files in the background and keep their records on disk.

    Parameters
    ----------
    runs_dir
        Folder of the run folders.
    workers
        Runs executed at the same time (others wait, "queued").
    runner
        The run callable; default: looked up with `scenario_runner` at each submission.
    isolation
        ``"process"`` (default: one spawned worker process per run) or ``"thread"``.
    """

    def __init__(self, runs_dir: str | Path, *, workers: int = 1, runner: Callable | None = None,
                 isolation: str = "process"):
        if isolation not in ("process", "thread"):
            raise ValueError(f"isolation must be 'process' or 'thread', not {isolation!r}")
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.isolation = isolation
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ictgis-run")
        self._runner = runner
        self._live: set[str] = set()
        self._futures: dict[str, Future] = {}
        self._procs: dict[str, multiprocessing.process.BaseProcess] = {}
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()

    def runner(self) -> Callable | None:
        """Return the run callable, or None when scenario runs are not available."""
        return self._runner or scenario_runner()

    def run_dir(self, run_id: str) -> Path | None:
        """Return the folder of a run, or None for an invalid or unknown id."""
        if not RUN_ID_RE.match(run_id or ""):
            return None
        path = self.runs_dir / run_id
        return path if (path / "run.json").exists() else None

    def submit(self, scenario: Path, *, user: str | None = None, options: dict | None = None,
               info: dict | None = None) -> str:
        """Queue a run of a scenario file; return its id.

        `options` are keyword arguments of the run callable (JSON values, kept in ``run.json``, not shown by
        `get`); `info` is added to the run's record (e.g. ``dataset_version``).

        Raises
        ------
        RuntimeError
            When no scenario runner is available.
        """
        func = self.runner()
        if func is None:
            raise RuntimeError("scenario runs are not available")
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        folder = self.runs_dir / run_id
        folder.mkdir(parents=True)
        record = {"id": run_id, "scenario": scenario.name, "status": "queued", "progress": 0.0, "message": "",
                  "user": user, "created": time.time(), "started": None, "finished": None, "error": None,
                  **(info or {})}
        if options:
            record["options"] = dict(options)
        _write_json(folder / "run.json", record)
        with self._lock:
            self._live.add(run_id)
            self._futures[run_id] = self._pool.submit(self._execute, func, scenario, folder, record)
        return run_id

    def _execute(self, func: Callable, scenario: Path, folder: Path, record: dict) -> None:
        run_id = record["id"]
        try:
            if self.isolation == "thread":
                _record_run(func, scenario, folder, record)
                return
            proc = multiprocessing.get_context("spawn").Process(
                target=_worker, args=(func, str(scenario), str(folder), record, WORKER_NICE),
                name=f"ictgis-run-{run_id}", daemon=True)
            with self._lock:
                if run_id in self._cancelled:
                    self._finish(folder, record, "cancelled")
                    return
                proc.start()
                self._procs[run_id] = proc
            # This thread alone reaps the worker: wait for its end without reaping, unregister it (so that no
            # signal can reach a recycled pid), then reap.
            multiprocessing.connection.wait([proc.sentinel])
            with self._lock:
                self._procs.pop(run_id, None)
            proc.join()
            final = _read_record(folder) or record
            if final.get("status") not in FINISHED:  # the worker did not finish its record: stopped or crashed
                final.pop("pid", None)
                signalled = proc.exitcode is not None and proc.exitcode < 0
                if run_id in self._cancelled and signalled:
                    self._finish(folder, final, "cancelled")
                else:
                    self._finish(folder, final, "failed", error=f"the run's worker process stopped unexpectedly "
                                                               f"(exit code {proc.exitcode})")
        except Exception as exc:  # never raised into the server
            logger.exception("scenario run %s could not be run", run_id)
            self._finish(folder, _read_record(folder) or record, "failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._live.discard(run_id)
                self._procs.pop(run_id, None)
                self._futures.pop(run_id, None)
                self._cancelled.discard(run_id)

    @staticmethod
    def _finish(folder: Path, record: dict, status: str, *, error: str | None = None) -> None:
        """Write a final status the run itself could not write; remove its partial outputs."""
        for part in folder.glob(".out.partial-*"):
            shutil.rmtree(part, ignore_errors=True)
        for part in folder.glob(".run-*"):  # a record being written when the worker stopped
            part.unlink(missing_ok=True)
        record.update(status=status, finished=time.time())
        if error:
            record["error"] = error
        _write_json(folder / "run.json", record)

    def _signal(self, run_id: str, kill: bool = False) -> None:
        """Stop a run's worker process if it is still registered (not yet reaped)."""
        with self._lock:
            proc = self._procs.get(run_id)
            if proc is not None:
                (proc.kill if kill else proc.terminate)()

    def cancel(self, run_id: str, *, timeout_s: float = 10.0) -> dict | None:
        """Cancel a queued or running run (its worker process is stopped); return its record, None if unknown.

        A finished run is left as it is; a run that finishes (or fails) before it can be stopped keeps that status.
        A run executed in a thread (``isolation="thread"``) can only be cancelled while queued.
        """
        folder = self.run_dir(run_id)
        if folder is None:
            return None
        with self._lock:
            live = run_id in self._live
            future = self._futures.get(run_id)
            if live:
                self._cancelled.add(run_id)
        if not live:
            return self.get(run_id)
        if future is not None and future.cancel():  # still queued: it never starts
            self._finish(folder, _read_record(folder) or {"id": run_id}, "cancelled")
            with self._lock:
                self._live.discard(run_id)
                self._futures.pop(run_id, None)
                self._cancelled.discard(run_id)
            return self.get(run_id)
        if self.isolation == "process":
            self._signal(run_id)  # SIGTERM; when the worker has not started yet, `_execute` sees the flag
            record = self.wait(run_id, timeout_s=timeout_s)
            if record is not None and record["status"] not in FINISHED:
                self._signal(run_id, kill=True)
                self.wait(run_id, timeout_s=timeout_s)
        return self.get(run_id)

    def close(self, *, timeout_s: float = 10.0) -> None:
        """Stop (a server shutting down): queued runs never start, running workers are terminated.

        Returns once every worker process is reaped and its record says cancelled; a worker still there after
        `timeout_s` is killed. A run executed in a thread cannot be stopped: after `timeout_s` it is left (the
        next start's `sweep` records it as interrupted).
        """
        with self._lock:
            futures = dict(self._futures)
            self._cancelled.update(self._live)  # also a run between its start and its worker's: it never starts
            running = list(self._procs)
        for run_id, future in futures.items():
            if future.cancel():
                folder = self.runs_dir / run_id
                self._finish(folder, _read_record(folder) or {"id": run_id}, "cancelled")
        self._pool.shutdown(wait=False, cancel_futures=True)
        for run_id in running:
            self._signal(run_id)
        pending = [f for f in futures.values() if not f.cancelled()]
        if wait_futures(pending, timeout=timeout_s).not_done:
            with self._lock:
                stuck = list(self._procs)
            for run_id in stuck:
                logger.warning("run %s did not stop within %.0f s: killed", run_id, timeout_s)
                self._signal(run_id, kill=True)
            wait_futures(pending, timeout=timeout_s)

    def sweep(self, *, wait_s: float = 5.0) -> list[str]:
        """Clean what a stopped or killed server left in the run folders; return the ids marked interrupted.

        A queued or running record becomes "interrupted" (once, with the reason in ``error``); partial outputs
        (``.out.partial-*``) and half-written records (``.run-*``) are removed. A worker of a killed server still
        alive is given `wait_s` to notice and stop, then killed. Call it before any run starts, with the instance
        to this process alone (``ictgis serve`` locks it).
        """
        marked = []
        for folder in sorted(self.runs_dir.iterdir()):
            if not (folder.is_dir() and RUN_ID_RE.match(folder.name)):
                continue
            with self._lock:
                if folder.name in self._live:
                    continue
            record = _read_record(folder)
            if record is not None and record.get("status") not in FINISHED:
                pid = record.pop("pid", None)
                if isinstance(pid, int) and pid > 0:
                    _stop_orphan(pid, wait_s=wait_s)
                record = _read_record(folder) or record  # as the orphan left it
                record.pop("pid", None)
                was = record.get("status") or "queued"
                if was not in FINISHED:
                    self._finish(folder, record, "interrupted",
                                 error=f"the server stopped while this run was {was} (found when it started again)")
                    marked.append(folder.name)
                    logger.warning("run %s was %s when the server stopped: marked interrupted", folder.name, was)
                    continue
            for part in folder.glob(".out.partial-*"):
                shutil.rmtree(part, ignore_errors=True)
            for part in folder.glob(".run-*"):
                part.unlink(missing_ok=True)
        return marked

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
        record.pop("pid", None)
        record.pop("options", None)
        return public_fields(record)  # progress and error messages name files relative to the instance

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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: not a worker of ours
        return False
    return True


def _stop_orphan(pid: int, *, wait_s: float) -> None:
    """Wait for a worker left by a killed server to stop (it watches its server); kill it if it does not."""
    end = time.monotonic() + wait_s
    while _alive(pid) and time.monotonic() < end:
        time.sleep(0.1)
    if not _alive(pid):
        return
    try:  # the pid may have been reused: only a multiprocessing worker is ours to kill
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if b"multiprocessing" in cmdline and b"spawn_main" in cmdline:
        logger.warning("a run's worker (pid %s) outlived its server: killed", pid)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def runner() -> JobRunner:
    """Return the app's job runner."""
    return current_app.extensions["ictgis_jobs"]


def install(app: Flask) -> None:
    """Create the app's job runner (``JOB_RUNNER`` in the config replaces the scenario module, for tests)."""
    app.extensions["ictgis_jobs"] = JobRunner(Path(app.instance_path) / "runs", workers=app.config["JOB_WORKERS"],
                                              runner=app.config.get("JOB_RUNNER"),
                                              isolation=app.config["JOB_ISOLATION"])
