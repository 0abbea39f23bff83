"""The dataset a web app serves: the current changeset of its store, loaded once per changeset, with derived caches.

The app's layers live in a store (`ictgis.store`): ``STORE_URL`` (default ``<instance>/ictgis.gpkg``, a GeoPackage
created and initialised when the app starts; ``ictgis serve --db URL`` sets it, and ``DATABASE_URL`` is read when
``STORE_URL`` is ``"env"``). On the first start with an empty store the base data folder (``DATA_DIR``) is imported
as the first changeset (author ``system``, kind ``import``); later starts serve what the store holds.

The served *version* is the id of the store's latest changeset. Every server process sharing one store (a
GeoPackage file or a PostgreSQL database) sees a new changeset, whoever wrote it: the latest id is read from the
store (``SELECT max(id) FROM changesets``, an index lookup) at most once every ``STORE_POLL_S`` seconds per process
(default 1 s; 0 = on every request), and at once after a write made by this process (`refresh`). The dataset of a
changeset is read once (`ictgis.store.Store.dataset`) and kept while it is the served one; the DEM the store keeps
by checksum is written once to ``<instance>/cache/dem/<sha256>.tif``.

Scenario runs and uploads take a data folder: `version_folder` exports a changeset's state once into
``<instance>/datasets/<id>/`` (plain GeoPackages, ``dem.tif``, ``layers.yaml``; the same state gives the same bytes).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from cachetools import LRUCache
from flask import Flask, current_app

from ictgis import IctgisError, Problem, io
from ictgis.store import Changeset, Store, open_store

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: File of the instance's store when ``STORE_URL`` is not set.
STORE_FILE = "ictgis.gpkg"
#: Author of the changeset that imports the base data folder into an empty store.
SYSTEM_AUTHOR = "system"
#: Metadata file an upload writes into its work folder (kept for `web.uploads`).
VERSION_FILE = "ictgis-version.json"
#: Seconds a process trusts the latest changeset id it read (``STORE_POLL_S``).
POLL_S = 1.0
#: Free bytes below which a failed export is taken for a full disk (GDAL does not say ENOSPC).
DISK_LOW_BYTES = 1024 * 1024
#: As-of states kept per process besides the served one (the OGC ``datetime`` views).
AS_OF_KEPT = 4
#: Lock file beside the versions' folder (``<instance>/datasets.lock``): held while an upload is checked and
#: recorded (`web.uploads`), so that uploads of this instance derive one from the other.
LOCK_FILE = "datasets.lock"

_lock = threading.Lock()
_install_lock = threading.Lock()
_base_lock = threading.Lock()
_export_lock = threading.Lock()
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


class _Served:
    """Per-app state: the store, the latest changeset id seen and when, the loaded datasets by changeset id."""

    def __init__(self, store: Store, poll_s: float):
        self.store = store
        self.poll_s = poll_s
        self.latest = 0
        self.checked = float("-inf")
        self.current: tuple[int, io.Dataset] | None = None
        self.as_of: OrderedDict[int, io.Dataset] = OrderedDict()
        self.loading = threading.Lock()  # one reader of the new served state at a time
        self.as_of_loading = threading.Lock()  # one reader of a past state at a time


def default_store_url(app: Flask) -> str:
    """Return the app's store URL: ``STORE_URL``, else ``<instance>/ictgis.gpkg``."""
    url = app.config.get("STORE_URL")
    if url == "env":
        return None  # type: ignore[return-value]  # open_store reads DATABASE_URL
    return str(url) if url else str(Path(app.instance_path) / STORE_FILE)


def install(app: Flask) -> Store:
    """Open the app's store (creating and upgrading it), import ``DATA_DIR`` into an empty one; return it.

    Raises
    ------
    LayerError
        When the base data folder of an empty store does not validate.
    StoreError
        When the store cannot be opened or belongs to another working CRS.
    """
    store = open_store(default_store_url(app))
    store.init()
    app.extensions["ictgis_served"] = _Served(store, float(app.config.get("STORE_POLL_S", POLL_S)))
    if store.resolve(None) == 0:
        try:
            import_base(app)
        except IctgisError as exc:  # served as the error of every page until the folder is fixed
            logger.error("the base data folder %s cannot be imported: %s", app.config["DATA_DIR"], exc)
    else:
        logger.info("store %s: serving changeset %s", store.label, store.resolve(None))
    return store


def import_base(app: Flask) -> int:
    """Import ``DATA_DIR`` into the app's store if it holds no changeset yet; return the latest changeset id.

    Raises
    ------
    LayerError
        When the folder does not validate (nothing is written).
    """
    store = app.extensions["ictgis_served"].store
    with _base_lock:
        if store.resolve(None) == 0:
            base = Path(app.config["DATA_DIR"]).resolve()
            cs = store.import_dataset(base, author=SYSTEM_AUTHOR, message=f"Dữ liệu gốc / base data: {base.name}",
                                      kind="import", source=base.name)
            logger.info("store %s: base data %s imported as changeset %s", store.label, base, cs and cs.id)
        return store.resolve(None)


def _served() -> _Served:
    found = current_app.extensions.get("ictgis_served")
    if found is None:
        with _install_lock:
            found = current_app.extensions.get("ictgis_served")
            if found is None:
                install(current_app)
                found = current_app.extensions["ictgis_served"]
    return found


def store() -> Store:
    """Return the app's store."""
    return _served().store


def refresh() -> int:
    """Read the latest changeset id from the store now (after a write of this process); return it."""
    state = _served()
    latest = state.store.resolve(None)
    with _lock:
        state.latest, state.checked = latest, time.monotonic()
    return latest


def served_version() -> int:
    """Return the id of the served changeset: the store's latest, read at most every ``STORE_POLL_S`` seconds."""
    state = _served()
    with _lock:
        fresh = time.monotonic() - state.checked < state.poll_s
        latest = state.latest
    return latest if fresh else refresh()


def dataset(*, wait: bool = False) -> io.Dataset:
    """Return the served dataset (the latest changeset's state), read from the store once per changeset.

    While one thread reads a new changeset's state, the others keep serving the previous one (readers never queue
    behind a reload); with `wait` (after this process's own write) the caller waits for the new state.

    Raises
    ------
    StoreError
        When the store holds no data.
    """
    return current(wait=wait)[1]


def current(*, wait: bool = False) -> tuple[int, io.Dataset]:
    """Return the served changeset id and its dataset (see `dataset`)."""
    state = _served()
    number = served_version()
    if number == 0:  # the base folder did not validate at start: try again (it may be fixed), else its problems
        number = import_base(current_app)
        refresh()
    with _lock:
        held = state.current
    if held is not None and held[0] >= number:
        return held
    if held is not None and not wait:
        if not state.loading.acquire(blocking=False):
            return held  # another thread is reading the new state: the previous one meanwhile
    else:
        state.loading.acquire()
    try:
        with _lock:
            held = state.current
        if held is not None and held[0] >= number:
            return held
        loaded = _read(number)
        with _lock:
            if state.current is None or state.current[0] < number:
                state.current = (number, loaded)
            return state.current
    finally:
        state.loading.release()


def _read(number: int) -> io.Dataset:
    return _served().store.dataset(number, dem_dir=Path(current_app.instance_path) / "cache" / "dem")


def dataset_at(number: int, *, keep: bool = True) -> io.Dataset:
    """Return the dataset as of changeset `number` (the same object while it stays in the small as-of memo).

    Parameters
    ----------
    number
        A changeset id (`ictgis.store.Store.resolve` turns dates into ids).
    keep
        Keep it among the last ``AS_OF_KEPT`` as-of states.
    """
    state = _served()
    with _lock:
        if state.current is not None and state.current[0] == number:
            return state.current[1]
        if number in state.as_of:
            state.as_of.move_to_end(number)
            return state.as_of[number]
    with state.as_of_loading:
        with _lock:
            found = state.as_of.get(number)
        if found is not None:
            return found
        loaded = _read(number)
        if keep:
            with _lock:
                state.as_of[number] = loaded
                while len(state.as_of) > AS_OF_KEPT:
                    state.as_of.popitem(last=False)
    return loaded


def versions() -> list[dict]:
    """Return the changesets, oldest first.

    Each is ``{"n", "id", "time", "author", "message", "source", "kind", "label", "created"}`` (``created`` in
    seconds since the epoch).
    """
    return [version_info(cs) for cs in store().log()]


def version_info(cs: Changeset) -> dict:
    """Describe a changeset for pages and JSON (see `versions`)."""
    d = cs.to_dict()
    return d | {"n": cs.id, "label": f"#{cs.id} {cs.time:%Y-%m-%d %H:%M} {cs.author}: {cs.message}",
                "created": cs.time.timestamp()}


def versions_dir() -> Path:
    """Folder of the changesets exported as data folders (``<instance>/datasets``)."""
    return Path(current_app.instance_path) / "datasets"


def base_dir() -> Path:
    """Return the configured base data folder, resolved (imported into an empty store)."""
    return Path(current_app.config["DATA_DIR"]).resolve()


def version_folder(n: int) -> Path:
    """Return a data folder holding the state as of changeset `n`, exported once to ``<instance>/datasets/<n>``.

    Changeset 0 (before any) is the base data folder itself.

    Raises
    ------
    KeyError
        When the store has no changeset `n`.
    """
    if n == 0:
        return base_dir()
    if n not in {v.id for v in store().log()}:
        raise KeyError(n)
    folder = versions_dir() / str(n)
    with _export_lock:
        if not (folder / ".complete").exists():
            folder.parent.mkdir(parents=True, exist_ok=True)
            try:
                store().export(folder, as_of=n)
            except Exception as exc:  # GDAL reports a full disk as a failed insert or commit
                if not isinstance(exc, OSError) and shutil.disk_usage(folder.parent).free < DISK_LOW_BYTES:
                    raise OSError(errno.ENOSPC, f"No space left on device: exporting changeset {n}") from exc
                raise
            (folder / ".complete").touch()
    return folder


def current_dir() -> Path:
    """Return a data folder of the served state (exported on first use, see `version_folder`)."""
    return version_folder(served_version())


def folder_label(folder: Path) -> str:
    """Name a data folder for records: relative to the instance folder when inside it (``datasets/3``)."""
    from .paths import public

    return public(str(Path(folder).resolve()))


def dataset_key() -> str:
    """Return a short key of the served state (store and changeset id) for ETags and caches."""
    state = _served()
    number = current()[0]  # the state `dataset` returns (the previous one while a new one is being read)
    return hashlib.sha1(f"{state.store.label}|{number}|{_analyses_generation()}".encode()).hexdigest()[:16]


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
