"""Background scenario runs: a small job runner whose records live in the app's store (table ``scenario_runs``).

Each run calls ``ictgis.scenario.run(path, out_dir, progress=callback)`` in a worker process of its own (spawned,
at a lower CPU priority): a long run neither holds the server's GIL nor competes with requests for the CPU on equal
terms, a crash of the run cannot take the server down, and a planner can cancel a run (the process is stopped; the
scenario module writes its outputs atomically, so nothing half-written is left as a result). The outputs are files
in ``<instance>/runs/<id>/out``; the record (status, progress, parameters, the outputs' folder, owner, dataset
version, errors, times, the output files) is a row of the store, which every server process using the store reads:
each sees the others' runs. The worker opens the store itself by URL (`web.accounts.open_accounts`) and writes its
progress there; ``JOB_ISOLATION = "thread"`` runs in a server thread instead (test doubles that cannot be pickled).

Every change of a record names the version it read (`ictgis.store.accounts.update_run`): of a cancel and the run's
end, whichever writes first wins and the other sees it — a cancelled run's outputs are removed, a finished run is
not cancelled. A cancel may come from any server using the store: the worker finds its record cancelled at its
next progress report and stops (the server running it also stops the process at once when the cancel is its own).

A run of this server (this host and instance folder) found "running" by a runner that did not start it (the server
restarted) is reported as interrupted; `JobRunner.sweep`, called when ``ictgis serve`` starts, writes that into its
record once, with the reason, and removes partial outputs; runs of other servers are theirs to sweep. A worker
whose server dies (killed, even with SIGKILL) stops at once: it never runs on alone beside the runs of a restarted
server. Workers ignore SIGINT (Ctrl-C in a terminal reaches the whole process group): the server stops them itself,
see `JobRunner.close`. Run records of earlier versions (``runs/<id>/run.json``) are moved into the store once, when
the runner first opens it (the file is kept as ``run.json.migrated``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
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
import socket
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from pathlib import Path

from flask import Flask, current_app, has_app_context
from sqlalchemy import exc as sa_exc

from ictgis.store import EditConflictError, Store
from ictgis.store import accounts as records
from ictgis.store.schema import RUN_STATUSES
from ictgis.store.store import now

from .accounts import accounts_url, app_accounts, open_accounts
from .paths import hidden_roots, public_text

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


def server_key(runs_dir: str | Path) -> str:
    """Name the server a run belongs to: this host and its runs folder (one server per instance folder)."""
    return f"{socket.gethostname()}:{Path(runs_dir).resolve()}"


def _time(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(float(seconds), dt.timezone.utc)


def _seconds(value: dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def output_files(out: Path) -> list[str]:
    """Return the files of a run's output folder, relative to it, sorted (empty when there is none)."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) if out.is_dir() else []


def _remove_partials(folder: Path) -> None:
    """Remove what a stopped run left: partial outputs, and half-written ``run.json`` of earlier versions."""
    for part in folder.glob(".out.partial-*"):
        shutil.rmtree(part, ignore_errors=True)
    for part in folder.glob(".run-*"):
        part.unlink(missing_ok=True)


def _discard_outputs(folder: Path) -> None:
    """Remove the outputs of a run that did not end "done" (a cancel that won over the run's end)."""
    _remove_partials(folder)
    out = folder / "out"
    if out.is_dir():
        gone = folder / f".out.partial-discarded-{secrets.token_hex(3)}"
        os.replace(out, gone)  # at once: nobody lists half-removed outputs
        shutil.rmtree(gone, ignore_errors=True)


class RunCancelled(BaseException):  # noqa: N818 - a stop signal, not an error: scenario code's `except Exception` lets it by
    """Raised in a run's progress callback when its record was finished by someone else (cancelled)."""


class RunRecord:
    """One writer's view of a run's record: each write names the version this writer last saw.

    Made by the process or thread writing (never shared between them).

    Parameters
    ----------
    store
        The store of the run records (opened by this process).
    run_id, version
        The run and the version of its record the writer read.
    """

    def __init__(self, store: Store, run_id: str, version: int):
        self.store, self.run_id, self.version = store, run_id, version

    def write(self, **fields) -> bool:
        """Change the record; return False, writing nothing, when someone else finished it meanwhile (cancelled)."""
        while True:
            try:
                row = records.update_run(self.store, self.run_id, expected_version=self.version, **fields)
            except EditConflictError:
                row = records.get_run(self.store, self.run_id)
                if row is None or row["status"] in FINISHED:
                    return False
                self.version = row["version"]  # changed but not finished: write on top of it
                continue
            self.version = row["version"]
            return True


def finish_run(store: Store, run_id: str, status: str, *, error: str | None = None) -> bool:
    """Give a run a final status unless it has one; return whether this call set it.

    A race with another writer (the run's own end, another server's cancel) is settled by the record's version:
    the first final status written stays.
    """
    while True:
        row = records.get_run(store, run_id)
        if row is None or row["status"] in FINISHED:
            return False
        fields = {"finished": now(), "pid": None} | ({"error": error} if error else {})
        try:
            records.update_run(store, run_id, expected_version=row["version"], status=status, **fields)
        except EditConflictError:
            continue
        return True


def record_run(func: Callable, scenario: Path, folder: Path, record: RunRecord, options: dict, *,
                pid: int | None) -> None:
    """Run `func` and keep its record up to date: running with its progress, then done or failed.

    A new message (the run enters a step) is written at once; the same message with a new fraction at most every
    0.25 s; a progress report the store cannot take at that moment is skipped (logged). The status is "running"
    from the start: a record never reports progress while "queued". When the record was finished by someone else
    (a cancel), the run stops at its next progress report, and a run that ends after a cancel won keeps no outputs.
    """
    state = {"written": 0.0, "message": None, "fraction": 0.0}

    def progress(fraction: float = 0.0, message: str = "", *_args, **_kwargs) -> None:
        message = str(message or "")
        fraction = float(min(max(fraction or 0.0, 0.0), 1.0))
        new_step = message != state["message"]
        state.update(message=message, fraction=fraction)
        t = time.monotonic()
        if new_step or t - state["written"] > 0.25:
            state["written"] = t
            try:
                written = record.write(status="running", progress=fraction, message=message)
            except sa_exc.DBAPIError as exc:  # the store busy or away for a moment: the run goes on
                logger.warning("progress of run %s not recorded: %s", record.run_id, str(exc).splitlines()[0])
                return
            if not written:
                raise RunCancelled(record.run_id)

    if not record.write(status="running", started=now(), pid=pid, progress=0.0):
        return  # cancelled before it began
    try:
        # creates "out" (atomically); the options (the dataset version's folder …) were chosen at submission
        result = func(scenario, folder / "out", progress=progress, **options)
        fields = {"status": "done", "progress": 1.0, "finished": now(), "pid": None,
                  "files": output_files(folder / "out")}
        if state["message"] is not None:
            fields["message"] = state["message"]
        if isinstance(result, dict):
            try:
                json.dumps(result)
                fields["result"] = result
            except (TypeError, ValueError):
                pass
        if not record.write(**fields):
            logger.warning("scenario run %s was cancelled as it finished: its outputs are removed", record.run_id)
            _discard_outputs(folder)
    except RunCancelled:
        logger.info("scenario run %s was cancelled: it stops", record.run_id)
        _discard_outputs(folder)
    except Exception as exc:  # a failed run is recorded, never raised into the server
        logger.exception("scenario run %s failed", record.run_id)
        fields = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "finished": now(), "pid": None,
                  "traceback": traceback.format_exc(limit=5)}
        if state["message"] is not None:
            fields["message"] = state["message"]
        record.write(**fields)


def _exit_with_parent(sentinel: int) -> None:
    """Stop this worker process as soon as its server process is gone (the sentinel turns ready when it dies)."""
    multiprocessing.connection.wait([sentinel])
    logger.warning("the server process is gone: this run's worker stops")
    os._exit(70)


def _worker(func: Callable, scenario: str, folder: str, run_id: str, version: int, store_url: str, options: dict,
            nice: int) -> None:
    """Entry point of a run's worker process: opens the store by URL and runs (see `record_run`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server, which stops its workers itself
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), name="ictgis-parent-watch",
                         daemon=True).start()
    with contextlib.suppress(OSError):  # when not allowed, the run keeps the server's priority
        os.nice(nice)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s [run %(process)d] %(message)s")
    store = open_accounts(store_url, init=False)
    try:
        record_run(func, Path(scenario), Path(folder), RunRecord(store, run_id, version), options, pid=os.getpid())
    finally:
        store.close()


class JobRunner:
    """Run scenario files in the background and keep their records in the store.

    Parameters
    ----------
    runs_dir
        Folder of the run folders (their outputs).
    store_url
        The store of the run records (`web.accounts.accounts_url`; None: ``DATABASE_URL``), opened on first use.
    store
        A function returning the store of `store_url` to use in this process (the app's,
        `web.accounts.app_accounts`); default: one opened by this runner.
    workers
        Runs executed at the same time (others wait, "queued").
    runner
        The run callable; default: looked up with `scenario_runner` at each submission.
    isolation
        ``"process"`` (default: one spawned worker process per run) or ``"thread"``.
    """

    def __init__(self, runs_dir: str | Path, *, store_url: str | Path | None,
                 store: Callable[[], Store] | None = None, workers: int = 1, runner: Callable | None = None,
                 isolation: str = "process"):
        if isolation not in ("process", "thread"):
            raise ValueError(f"isolation must be 'process' or 'thread', not {isolation!r}")
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.server = server_key(self.runs_dir)
        self.store_url = store_url
        self.isolation = isolation
        self._opener = store
        self._store: Store | None = None
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ictgis-run")
        self._runner = runner
        self._live: set[str] = set()
        self._futures: dict[str, Future] = {}
        self._procs: dict[str, multiprocessing.process.BaseProcess] = {}
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()

    @property
    def store(self) -> Store:
        """The store of the run records (opened, and the records of ``run.json`` files moved into it, once)."""
        if self._store is None:
            with self._open_lock:
                if self._store is None:
                    store = self._opener() if self._opener is not None else open_accounts(self.store_url)
                    migrate_run_files(self.runs_dir, store, server=self.server)
                    self._store = store
        return self._store

    def runner(self) -> Callable | None:
        """Return the run callable, or None when scenario runs are not available."""
        return self._runner or scenario_runner()

    def run_dir(self, run_id: str) -> Path | None:
        """Return the folder of a run's outputs when this host can read it, or None for an unknown id."""
        if not RUN_ID_RE.match(run_id or ""):
            return None
        row = records.get_run(self.store, run_id)
        if row is None:
            return None
        path = Path(row["outputs"]) if row.get("outputs") else self.runs_dir / run_id
        return path if path.is_dir() else None

    def submit(self, scenario: Path, *, user: str | None = None, options: dict | None = None,
               info: dict | None = None) -> str:
        """Queue a run of a scenario file; return its id.

        `options` are keyword arguments of the run callable (JSON values, kept in the record's parameters, not
        shown by `get`); `info` is added to the run's record (``dataset_version`` has its own column).

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
        info = dict(info or {})
        version = info.pop("dataset_version", None)
        parameters = {"scenario": str(scenario), "options": dict(options or {}), "info": info}
        with self._lock:
            self._live.add(run_id)  # before the record exists: never shown as interrupted
        try:
            records.create_run(self.store, run_id, name=scenario.name, parameters=parameters, owner=user,
                               outputs=str(folder.resolve()), server=self.server, dataset_version=version,
                               progress=0.0)
        except BaseException:
            with self._lock:
                self._live.discard(run_id)
            raise
        with self._lock:
            self._futures[run_id] = self._pool.submit(self._execute, func, scenario, folder, run_id,
                                                      dict(options or {}))
        return run_id

    def _execute(self, func: Callable, scenario: Path, folder: Path, run_id: str, options: dict) -> None:
        try:
            row = records.get_run(self.store, run_id)
            if row is None or row["status"] in FINISHED:  # cancelled while queued (by this server or another)
                return
            if self.isolation == "thread":
                record_run(func, scenario, folder, RunRecord(self.store, run_id, row["version"]), options, pid=None)
            else:
                self._run_process(func, scenario, folder, run_id, row["version"], options)
        except Exception as exc:  # never raised into the server
            logger.exception("scenario run %s could not be run", run_id)
            finish_run(self.store, run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(Exception):  # the store may be gone (a test removed it): nothing to clean
                final = records.get_run(self.store, run_id)
                if final is None or final["status"] != "done":
                    _discard_outputs(folder)
            with self._lock:
                self._live.discard(run_id)
                self._procs.pop(run_id, None)
                self._futures.pop(run_id, None)
                self._cancelled.discard(run_id)

    def _run_process(self, func: Callable, scenario: Path, folder: Path, run_id: str, version: int,
                     options: dict) -> None:
        proc = multiprocessing.get_context("spawn").Process(
            target=_worker, args=(func, str(scenario), str(folder), run_id, version, self.store.url, options,
                                  WORKER_NICE),
            name=f"ictgis-run-{run_id}", daemon=True)
        with self._lock:
            if run_id in self._cancelled:
                finish_run(self.store, run_id, "cancelled")
                return
            proc.start()
            self._procs[run_id] = proc
        # This thread alone reaps the worker: wait for its end without reaping, unregister it (so that no
        # signal can reach a recycled pid), then reap.
        multiprocessing.connection.wait([proc.sentinel])
        with self._lock:
            self._procs.pop(run_id, None)
        proc.join()
        signalled = proc.exitcode is not None and proc.exitcode < 0
        if run_id in self._cancelled and signalled:  # stopped by this server: a worker cannot write that itself
            finish_run(self.store, run_id, "cancelled")
        else:  # does nothing when the worker finished its record
            finish_run(self.store, run_id, "failed",
                       error=f"the run's worker process stopped unexpectedly (exit code {proc.exitcode})")

    def _signal(self, run_id: str, kill: bool = False) -> None:
        """Stop a run's worker process if it is still registered (not yet reaped)."""
        with self._lock:
            proc = self._procs.get(run_id)
            if proc is not None:
                (proc.kill if kill else proc.terminate)()

    def is_live(self, run_id: str) -> bool:
        """Tell whether this runner is still busy with a run (queued here, running, or its worker being reaped)."""
        with self._lock:
            return run_id in self._live

    def _wait_gone(self, run_id: str, timeout_s: float) -> bool:
        """Wait until this runner is done with a run (its worker reaped, its outputs cleaned); return whether it is."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with self._lock:
                if run_id not in self._live:
                    return True
            time.sleep(0.02)
        return False

    def cancel(self, run_id: str, *, timeout_s: float = 10.0) -> dict | None:
        """Cancel a queued or running run; return its record, None if unknown.

        The record turns "cancelled" unless the run finished first (one of the two wins; a finished run is left as
        it is). A run of this server is stopped at once (its worker process terminated, then killed after
        `timeout_s`); a run of another server stops at its next progress report. A run executed in a thread
        (``isolation="thread"``) stops at its next progress report.
        """
        record = self.get(run_id)
        if record is None or record["status"] in FINISHED:
            return record
        with self._lock:
            live = run_id in self._live
            future = self._futures.get(run_id)
            if live:
                self._cancelled.add(run_id)
        if live and future is not None and future.cancel():  # still queued here: it never starts
            finish_run(self.store, run_id, "cancelled")
            with self._lock:
                self._live.discard(run_id)
                self._futures.pop(run_id, None)
                self._cancelled.discard(run_id)
            return self.get(run_id)
        won = finish_run(self.store, run_id, "cancelled")
        if won and live and self.isolation == "process":
            self._signal(run_id)  # SIGTERM; when the worker has not started yet, `_run_process` sees the flag
            if not self._wait_gone(run_id, timeout_s):
                self._signal(run_id, kill=True)
                self._wait_gone(run_id, timeout_s)
        return self.get(run_id)

    def close(self, *, timeout_s: float = 10.0) -> None:
        """Stop (a server shutting down): queued runs never start, running workers are terminated.

        Returns once every worker process is reaped and its record says cancelled; a worker still there after
        `timeout_s` is killed. A run executed in a thread is cancelled in its record and stops at its next
        progress report; one that does not report within `timeout_s` is left (the next start's `sweep` records
        it as interrupted).
        """
        with self._lock:
            futures = dict(self._futures)
            self._cancelled.update(self._live)  # also a run between its start and its worker's: it never starts
            running = list(self._procs)
        for run_id, future in futures.items():
            if future.cancel():
                finish_run(self.store, run_id, "cancelled")
        self._pool.shutdown(wait=False, cancel_futures=True)
        for run_id in running:
            self._signal(run_id)
        if self.isolation == "thread":
            for run_id, future in futures.items():
                if not future.cancelled():
                    finish_run(self.store, run_id, "cancelled")
        pending = [f for f in futures.values() if not f.cancelled()]
        if wait_futures(pending, timeout=timeout_s).not_done:
            with self._lock:
                stuck = list(self._procs)
            for run_id in stuck:
                logger.warning("run %s did not stop within %.0f s: killed", run_id, timeout_s)
                self._signal(run_id, kill=True)
            wait_futures(pending, timeout=timeout_s)

    def sweep(self, *, wait_s: float = 5.0) -> list[str]:
        """Clean what a stopped or killed server left; return the ids marked interrupted.

        A queued or running record of this server (`server_key`) becomes "interrupted" (once, with the reason
        in ``error``); partial outputs (``.out.partial-*``) are removed. A worker of a killed server still alive is
        given `wait_s` to notice and stop, then killed. Runs of other servers using the store are left to them.
        Call it before any run starts, with the instance to this process alone (``ictgis serve`` locks it).
        """
        marked = []
        for row in records.list_runs(self.store, status=("queued", "running"), server=self.server):
            run_id = row["id"]
            with self._lock:
                if run_id in self._live:
                    continue
            if isinstance(row.get("pid"), int) and row["pid"] > 0:
                _stop_orphan(row["pid"], wait_s=wait_s)
                row = records.get_run(self.store, run_id) or row  # as the orphan left it
            was = row["status"]
            if was not in FINISHED and finish_run(
                    self.store, run_id, "interrupted",
                    error=f"the server stopped while this run was {was} (found when it started again)"):
                marked.append(run_id)
                logger.warning("run %s was %s when the server stopped: marked interrupted", run_id, was)
        for folder in sorted(self.runs_dir.iterdir()):
            if folder.is_dir() and RUN_ID_RE.match(folder.name):
                with self._lock:
                    if folder.name in self._live:
                        continue
                _remove_partials(folder)
        return marked

    def _public(self, row: dict, roots: list[tuple[str, str]] | None = None) -> dict:
        """Turn a record of the store into what pages and the API show (times in seconds since the epoch).

        Messages name files relative to the instance (`web.paths`); `roots` are the folders to hide, computed
        once for a whole list.
        """
        status = row["status"]
        if status not in FINISHED and row.get("server") == self.server:
            with self._lock:
                live = row["id"] in self._live
            if not live:  # this server's run, but not one this runner is running: the server stopped meanwhile
                status = "interrupted"
        parameters = row.get("parameters") or {}
        record = {"id": row["id"], "scenario": row["name"], "status": status,
                  "progress": float(row.get("progress") or 0.0), "message": row.get("message") or "",
                  "user": row.get("owner"), "created": _seconds(row["created"]),
                  "started": _seconds(row.get("started")), "finished": _seconds(row.get("finished")),
                  "error": row.get("error"), **(parameters.get("info") or {})}
        if row.get("dataset_version") is not None:
            record["dataset_version"] = row["dataset_version"]
        if row.get("result") is not None:
            record["result"] = row["result"]
        record["outputs"] = list(row.get("files") or []) if status == "done" else []
        if roots is None:
            roots = _hidden_roots()
        for key in ("message", "error"):
            if isinstance(record[key], str) and record[key]:
                record[key] = public_text(record[key], roots)
        return record

    def get(self, run_id: str) -> dict | None:
        """Return a run's record with its output files, or None."""
        if not RUN_ID_RE.match(run_id or ""):
            return None
        row = records.get_run(self.store, run_id)
        return None if row is None else self._public(row)

    def list(self) -> list[dict]:
        """Every run of the store (of every server using it), newest first."""
        roots = _hidden_roots()
        return [self._public(r, roots) for r in records.list_runs(self.store)]

    def wait(self, run_id: str, timeout_s: float = 30.0) -> dict | None:
        """Wait until a run finishes (for tests and scripts); return its record."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            record = self.get(run_id)
            if record is None or record["status"] in FINISHED:
                return record
            time.sleep(0.05)
        return self.get(run_id)


def _hidden_roots() -> list[tuple[str, str]]:
    """Return the folders `web.paths` hides in this app's messages (none outside an app context)."""
    return hidden_roots(current_app.config, current_app.instance_path) if has_app_context() else []


def migrate_run_files(runs_dir: Path, store: Store, *, server: str) -> list[str]:
    """Move the run records of earlier versions (``<id>/run.json``) into `store` once; return their ids.

    Each file is renamed ``run.json.migrated`` once its record is in the store (a record the store already holds
    is kept as it is). A file that cannot be read is left where it is (logged). Unfinished runs become this
    server's: the next `JobRunner.sweep` marks them interrupted.
    """
    moved = []
    for path in sorted(runs_dir.glob("*/run.json")):
        run_id = path.parent.name
        if not RUN_ID_RE.match(run_id):
            continue
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            if records.get_run(store, run_id) is None:
                status = old.get("status") if old.get("status") in RUN_STATUSES else "interrupted"
                info = {k: v for k, v in old.items() if k not in _RECORD_KEYS}
                out = path.parent / "out"
                records.create_run(
                    store, run_id, name=str(old.get("scenario") or run_id), status=status, owner=old.get("user"),
                    parameters={"scenario": old.get("scenario"), "options": old.get("options") or {}, "info": info},
                    outputs=str(path.parent.resolve()), server=server, created=_time(old.get("created")) or now(),
                    progress=old.get("progress"), message=old.get("message"), error=old.get("error"),
                    traceback=old.get("traceback"), started=_time(old.get("started")),
                    finished=_time(old.get("finished")), dataset_version=old.get("dataset_version"),
                    pid=old.get("pid"), result=old.get("result"),
                    files=output_files(out) if status == "done" else None)
                moved.append(run_id)
        except (OSError, ValueError, TypeError, AttributeError, sa_exc.SQLAlchemyError) as exc:
            logger.error("%s cannot be moved into the store (%s): left where it is", path, exc)
            continue
        os.replace(path, path.with_name("run.json.migrated"))
    if moved:
        logger.warning("moved %d run record(s) from %s/*/run.json into the store %s (files kept as "
                       "run.json.migrated)", len(moved), runs_dir, store.label)
    return moved


_RECORD_KEYS = frozenset({"id", "scenario", "status", "progress", "message", "user", "created", "started",
                          "finished", "error", "traceback", "pid", "options", "result", "dataset_version",
                          "outputs"})


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
    app.extensions["ictgis_jobs"] = JobRunner(
        Path(app.instance_path) / "runs", store_url=accounts_url(app), store=lambda: app_accounts(app),
        workers=app.config["JOB_WORKERS"], runner=app.config.get("JOB_RUNNER"), isolation=app.config["JOB_ISOLATION"])
