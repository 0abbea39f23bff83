"""What ``ictgis serve`` does with its instance folder before serving: claim it, then sweep what a killed server left.

A server killed (SIGKILL, the OOM killer, a power cut) leaves half-made things behind: partial run outputs
(``runs/<id>/.out.partial-*``), a dataset version being built (``datasets/.new-*``), an uploaded file being checked
(``tmp/upload-*``), a users file being written (``.users-*``) and run records still "queued" or "running". None of
them can belong to a live request once this process holds the instance lock, so `sweep` removes them and marks those
runs interrupted (see `web.jobs.JobRunner.sweep`).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import IO

from flask import Flask

from ictgis import IctgisError

logger = logging.getLogger(__name__)
LOCK_NAME = "server.lock"


class InstanceBusyError(IctgisError, RuntimeError):
    """Another ``ictgis serve`` is using the instance folder."""

    http_status = 409


def claim_instance(instance: str | Path) -> IO[str]:
    """Lock the instance folder for this process (released when it exits); return the open lock file.

    Two servers on one instance would each start runs up to the runs-at-a-time limit, and each would take the
    other's runs for leftovers.

    Raises
    ------
    InstanceBusyError
        When another process holds the lock.
    """
    path = Path(instance) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+", encoding="ascii")  # noqa: SIM115 - held open for the life of the server
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        return fh
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        other = fh.read().strip() or "?"
        fh.close()
        raise InstanceBusyError(f"another ictgis server (pid {other}) is using the instance folder {instance}: "
                                f"stop it first, or give this one its own --instance") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def sweep(app: Flask) -> dict[str, list[str]]:
    """Remove what a killed server left in the app's instance folder; return what was done, by kind.

    Only with the instance claimed (`claim_instance`) and before serving.
    """
    instance = Path(app.instance_path)
    done: dict[str, list[str]] = {"interrupted_runs": app.extensions["ictgis_jobs"].sweep(), "removed": []}
    leftovers = [*instance.glob("datasets/.new-*"), *instance.glob("tmp/upload-*"), *instance.glob(".users-*")]
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        done["removed"].append(str(path.relative_to(instance)))
    if done["removed"]:
        logger.warning("removed what a stopped server left: %s", ", ".join(done["removed"]))
    return done
