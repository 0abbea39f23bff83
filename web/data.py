"""The dataset a web app serves: the newest version of its base data folder, loaded once, with derived caches.

Accepted uploads become versions ``<instance>/datasets/<n>/`` (see `web.uploads`); each records its base folder in
``ictgis-version.json``. The app serves the newest version of its ``DATA_DIR``, or ``DATA_DIR`` itself when there
is none, unless a planner chose another one (a roll back, `web.versions.serve_version`): then
``<instance>/datasets/served.json`` names it until the next upload. Versions are never modified after they are
created.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from cachetools import LRUCache
from flask import current_app

from ictgis import IctgisError, Problem, io

logger = logging.getLogger(__name__)

T = TypeVar("T")
VERSION_FILE = "ictgis-version.json"
#: Lock file of the dataset versions, beside the versions' folder (``<instance>/datasets.lock``): held while a
#: version is created (`web.uploads`) and while the served version is chosen (`web.versions.serve_version`).
LOCK_FILE = "datasets.lock"
#: The version chosen to be served (``{"base", "n", "user", "time", "previous"}``), in the versions' folder.
SERVED_FILE = "served.json"

_lock = threading.Lock()
_datasets: dict[tuple[str, float], io.Dataset] = {}  # only the served one: cleared before a new one is added
_MISSING = object()
#: Bytes of derived values (layer GeoJSON at each zoom and precision, pages, indicators …) kept per app, least
#: recently used dropped first: an anonymous visitor walking every zoom × precision × layer must not fill the memory.
MEMO_MAX_BYTES = 256 * 1024 * 1024
_OTHER_BYTES = 64 * 1024  # a value that is not text or bytes (indicator dicts …) counts as this much


class UploadBusyError(IctgisError):
    """Another upload is creating a dataset version and did not finish in time (409: try again)."""

    http_status = 409


@contextlib.contextmanager
def version_lock(root: Path, *, timeout_s: float) -> Iterator[None]:
    """Hold the exclusive lock of the dataset versions in `root` (across threads and processes).

    An ``fcntl.flock`` on `LOCK_FILE` beside `root`, taken on a descriptor of its own: two threads of one process
    exclude each other as two processes do. The lock goes with the descriptor: a process that dies releases it.

    Parameters
    ----------
    root
        Folder of the dataset versions (created when missing).
    timeout_s
        Seconds to wait for the lock.

    Raises
    ------
    UploadBusyError
        When the lock is still held by another upload after `timeout_s`.
    """
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root.parent / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UploadBusyError(
                        "another upload is being checked: try again in a moment",
                        [Problem("upload", f"another upload held the dataset versions for more than {timeout_s:g} s;"
                                           " nothing was kept: send the file again", kind="upload_busy",
                                 params=(("seconds", f"{timeout_s:g}"),))]) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def versions_dir() -> Path:
    """Folder of the dataset versions (``<instance>/datasets``)."""
    return Path(current_app.instance_path) / "datasets"


def base_dir() -> Path:
    """Return the configured base data folder, resolved."""
    return Path(current_app.config["DATA_DIR"]).resolve()


def versions() -> list[dict]:
    """Return the versions of the base folder, oldest first: ``{"n", "path", ...ictgis-version.json}``."""
    root = versions_dir()
    base = str(base_dir())
    out = []
    if root.is_dir():
        for child in root.iterdir():
            meta_path = child / VERSION_FILE
            if child.is_dir() and child.name.isdigit() and meta_path.exists():
                try:
                    meta = json.loads(meta_path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if meta.get("base") == base:
                    out.append(meta | {"n": int(child.name), "path": str(child)})
    return sorted(out, key=lambda m: m["n"])


def served_choice() -> dict | None:
    """Return the record of the version a planner chose to serve (``served.json``), None when there is none."""
    try:
        record = json.loads((versions_dir() / SERVED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("base") != str(base_dir()) or not isinstance(record.get("n"), int):
        return None
    return record


def _served(found: list[dict]) -> tuple[int, Path]:
    choice = served_choice()
    if choice is not None:
        if choice["n"] == 0:
            return 0, base_dir()
        for meta in found:
            if meta["n"] == choice["n"]:
                return meta["n"], Path(meta["path"])
    return (found[-1]["n"], Path(found[-1]["path"])) if found else (0, base_dir())


def current_dir() -> Path:
    """Return the folder served now: the chosen version, else the newest version of the base folder, else the base."""
    return _served(versions())[1]


def served_version() -> int:
    """Return the number of the served version (0: the base folder itself)."""
    return _served(versions())[0]


def version_folder(n: int) -> Path:
    """Return the folder of dataset version `n` of the base folder (0: the base folder itself).

    Raises
    ------
    KeyError
        When the base folder has no version `n`.
    """
    if n == 0:
        return base_dir()
    for meta in versions():
        if meta["n"] == n:
            return Path(meta["path"])
    raise KeyError(n)


def folder_label(folder: Path) -> str:
    """Name a data folder for records: relative to the instance folder when inside it (``datasets/3``)."""
    from .paths import public

    return public(str(Path(folder).resolve()))


def _stamp(folder: Path) -> float:
    return max((p.stat().st_mtime for p in folder.iterdir()), default=0.0) if folder.is_dir() else 0.0


def dataset() -> io.Dataset:
    """Return the served dataset, loading it once per change of the served folder.

    Raises
    ------
    LayerError
        When the folder does not validate (shown to the client as the problem list).
    """
    folder = current_dir()
    key = (str(folder), _stamp(folder))
    with _lock:
        if key not in _datasets:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loaded = io.load(folder)
            for note in loaded.notes:  # repairs made on reading (RepairWarning), for the server log
                logger.warning("%s: %s", folder, note)
            _datasets.clear()
            _datasets[key] = loaded
        return _datasets[key]


def dataset_key() -> str:
    """Return a short key of the served folder and its state, for ETags and caches."""
    folder = current_dir()
    return hashlib.sha1(f"{folder}|{_stamp(folder)}|{_analyses_generation()}".encode()).hexdigest()[:16]


def _analyses_generation() -> int:
    """Counter of analysis results computed in the background (4G coverage …): pages and layers refresh with it."""
    from .analyses import generation

    return generation()


def _size(value: object) -> int:
    return len(value) if isinstance(value, (str, bytes)) else _OTHER_BYTES


def _memo_cache() -> LRUCache:
    cache = current_app.extensions.get("ictgis_memo")
    if cache is None:
        with _lock:
            cache = current_app.extensions.setdefault("ictgis_memo", LRUCache(
                maxsize=int(current_app.config.get("MEMO_MAX_BYTES", MEMO_MAX_BYTES)), getsizeof=_size))
    return cache


def memo(name: str, compute: Callable[[], T]) -> T:
    """Return a value derived from the served dataset, computed once per dataset state.

    Values live in a bounded least-recently-used cache of the app (``MEMO_MAX_BYTES``, 256 MB by default); a value
    larger than the whole cache is computed for each request and not kept. cachetools caches are not thread-safe:
    every access holds the module lock (never while computing).
    """
    key = (dataset_key(), name)
    cache = _memo_cache()
    with _lock:
        found = cache.get(key, _MISSING)
    if found is not _MISSING:
        return found
    value = compute()
    with _lock:
        for old in [k for k in cache if k[0] != key[0]]:  # an older dataset state is never asked for again
            del cache[old]
        with contextlib.suppress(ValueError):  # too large to keep
            cache[key] = value
    return value


def forget() -> None:
    """Drop the derived values of the current app (the loaded dataset stays); benchmarks measure uncached requests."""
    cache = _memo_cache()
    with _lock:
        cache.clear()


def indicators(structure: str = "2019") -> dict:
    """Return the indicator contract of the served dataset, computed once per dataset state.

    With the populated-area coverage computed so far in the background (`web.analyses.with_coverage`): a result
    that lands changes the dataset state, and the contract is computed again with it.
    """
    from ictgis import indicators as ind

    from .analyses import with_coverage

    def compute() -> dict:
        ds = dataset()
        return with_coverage(ds, ind.compute(ds, structure=structure))

    return memo(f"indicators:{structure}", compute)


def cache_dir() -> Path:
    """Folder for derived files (hillshade PNGs), inside the instance folder."""
    path = Path(current_app.instance_path) / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path
