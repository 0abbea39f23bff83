"""Analyses the web map shows (4G coverage, planned fiber routes): computed in the background, cached by content.

The engine only returns values (`ictgis.coverage.compute`, `ictgis.coverage.overlay_png`,
`ictgis.fiber.planned_routes`); this module decides when they are computed and how long they are kept:

- one worker thread computes them, in the order asked. It is a daemon thread: a stopping server does not wait for
  a computation in progress. The numba kernels inside also hold `ictgis.terrain.PARALLEL_LOCK`, as everywhere.
- Results are kept in a bounded LRU cache (`cachetools.LRUCache`) keyed by the analysis and the dataset's
  `content_key` (SHA-1 over the names and bytes of its files, computed once per change of their names, sizes and
  modification times): an uploaded version is computed anew, and a result never belongs to another dataset.
- A computation stopped by an input error (`ictgis.IctgisError`: cells of a removed site, an unreadable land cover)
  is not tried again for that content: its message is kept (`failure`, `coverage_errors`) and the indicator page
  shows it instead of "computing…".
- `generation` grows whenever a result lands; `web.data.dataset_key` includes it, so pages and layers that said
  "not available yet" are built again.

The map providers (`MAP_PROVIDERS`, passed to `ictgis.maps` and `web.mapview`) read that cache and answer at once:
the first call starts the computation and returns None. So does `coverage_indicators`, the populated-area coverage
of the indicator table (``mobile.populated_area_4g_pct`` …). `precompute`, called by `create_app` (``PRECOMPUTE``),
starts the coverage of the served dataset when the server starts, so that the first visitor does not wait for it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import pandas as pd
from cachetools import LRUCache

from ictgis import IctgisError, coverage, fiber, lastmile, maps
from ictgis.io import Dataset
from ictgis.layers import parse_tech

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Technologies whose populated-area coverage the indicator table shows, in the order they are computed.
TABLE_COVERAGE = ("4G", "3G")

#: Results kept (coverage per technology, planned routes), least recently used dropped first.
MAX_RESULTS = 8
#: Coverage overlay PNGs kept.
MAX_PNGS = 4
#: Small results kept (a few numbers each: the coverage summary of a past state of the store, `web.history`), in a
#: cache of their own so that they never evict the served data's large results.
MAX_SMALL_RESULTS = 1024
_CHUNK = 1 << 20


# ------------------------------------------------------------------------------------------- content key
def dataset_files(ds: Dataset) -> list[Path]:
    """Return the files a loaded dataset depends on: its folder's files, its layer sources and its DEM, sorted.

    Sources and a DEM named by ``layers.yaml`` may lie outside the folder; they count too.
    """
    files: set[Path] = set()
    folder = Path(ds.data_dir) if ds.data_dir is not None else None
    if folder is not None and folder.is_dir():
        files.update(p.resolve() for p in folder.iterdir() if p.is_file())
    files.update(Path(s).resolve() for s in ds.sources.values())
    if ds.dem_path is not None:
        files.add(Path(ds.dem_path).resolve())
    return sorted(p for p in files if p.is_file())


def content_key(ds: Dataset) -> str | None:
    """Return a key of a dataset's content: SHA-1 over the names and bytes of `dataset_files`.

    A dataset read from the store (`web.data`; no folder, sources ``<store>#<layer>``) is keyed by its layers'
    content instead (`layers_key`), so a changeset that leaves the sites and the DEM alike keeps the results.

    The hash is computed once per change of the files' names, sizes and modification times (a cheap stamp read
    each call). None for a dataset that is not the content of its files (a changed copy, or no folder): such a
    dataset has no background results.
    """
    if ds.derived:
        return None
    if ds.data_dir is None:
        return layers_key(ds) if all("#" in str(src) for src in ds.sources.values()) else None
    folder = Path(ds.data_dir).resolve()
    stamp = []
    for path in dataset_files(ds):
        st = path.stat()
        name = str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path)
        stamp.append((name, str(path), st.st_size, st.st_mtime_ns))
    return _content_hash(tuple(stamp))


_layer_keys: dict[int, str] = {}
_layer_keys_lock = threading.Lock()


def layers_key(ds: Dataset) -> str:
    """Return SHA-1 over a dataset's layers (attributes and geometry WKB) and its DEM file's name, once per object.

    The store names its DEM files by their SHA-256, so the name stands for the content.
    """
    with _layer_keys_lock:
        found = _layer_keys.get(id(ds))
    if found is not None:
        return found

    digest = hashlib.sha1()
    for name in sorted(ds.layers):
        frame = ds.layers[name]
        digest.update(f"{name}\0{list(frame.columns)}\0".encode())
        attrs = frame.drop(columns=frame.geometry.name)
        if len(attrs.columns):
            digest.update(pd.util.hash_pandas_object(attrs.astype(str), index=False).to_numpy().tobytes())
        digest.update(b"".join(w or b"" for w in frame.geometry.to_wkb()))
    digest.update(str(Path(ds.dem_path).name if ds.dem_path else "").encode())
    if ds.cells is not None:  # the cells (sectors) and land cover the coverage reads too
        digest.update(f"cells\0{list(ds.cells.columns)}\0".encode())
        digest.update(pd.util.hash_pandas_object(ds.cells.astype(str), index=False).to_numpy().tobytes())
    digest.update(str(Path(ds.landcover_path).name if ds.landcover_path else "").encode())
    key = digest.hexdigest()
    with _layer_keys_lock:
        _layer_keys[id(ds)] = key
    weakref.finalize(ds, _layer_keys.pop, id(ds), None)
    return key


@functools.lru_cache(maxsize=32)
def _content_hash(stamp: tuple[tuple[str, str, int, int], ...]) -> str:
    digest = hashlib.sha1()
    for name, path, size, _mtime in stamp:
        digest.update(f"{name}\0{size}\0".encode())
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------- background worker
class _Worker:
    """One daemon thread running submitted functions in order; each submission returns a `Future`."""

    def __init__(self, name: str):
        self.name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], T]) -> Future:
        future: Future = Future()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._queue.put((future, fn))
        return future

    def _run(self) -> None:
        while True:
            future, fn = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)


_worker = _Worker("ictgis-analyses")
_lock = threading.Lock()
_results: LRUCache = LRUCache(maxsize=MAX_RESULTS)
_small_results: LRUCache = LRUCache(maxsize=MAX_SMALL_RESULTS)
_pending: dict[Hashable, Future] = {}  # computations queued or running (not a cache: removed when they end)
_failed: LRUCache = LRUCache(maxsize=MAX_RESULTS)  # key → message of an input error (IctgisError): not retried
_generation = 0
_png_lock = threading.Lock()
_pngs: LRUCache = LRUCache(maxsize=MAX_PNGS)


def generation() -> int:
    """Return a counter that grows whenever a background result lands (web caches key on it)."""
    return _generation


def background(key: Hashable, compute: Callable[[], T], *, wait: bool = False, small: bool = False) -> T | None:
    """Return the cached value of `key`; when missing, compute it on the worker thread.

    Parameters
    ----------
    key
        Says what is computed, on which content (e.g. ``("coverage", content_key(ds), "4G")``).
    compute
        Computes the value (on the worker thread). When it raises an `ictgis.IctgisError` (the data cannot give
        this result: orphaned cells, an unreadable land cover …) the message is kept (`failure`) and not tried
        again for this content; any other error is logged, nothing is cached, and the next call tries again.
    wait
        Wait for the value instead of returning None while it is computed.
    small
        Keep the value among the small results (`MAX_SMALL_RESULTS`) instead of the large ones (`MAX_RESULTS`).

    Returns
    -------
    The value, or None while it is being computed (or when it failed).
    """
    results = _small_results if small else _results
    with _lock:
        if key in results:
            return results[key]
        if key in _failed:
            return None
        future = _pending.get(key)
        if future is None:
            future = _pending[key] = _worker.submit(functools.partial(_compute_and_keep, key, compute, results))
    if not wait:
        return None
    future.result()
    with _lock:
        return results.get(key)


def peek(key: Hashable, *, small: bool = False) -> Any | None:
    """Return the cached value of `key` (see `background`), or None; never starts a computation."""
    with _lock:
        return (_small_results if small else _results).get(key)


def pending(kind: str) -> int:
    """Return how many computations whose key starts with `kind` are queued or running."""
    with _lock:
        return sum(1 for key in _pending if isinstance(key, tuple) and key and key[0] == kind)


def _compute_and_keep(key: Hashable, compute: Callable[[], Any], results: LRUCache | None = None) -> None:
    global _generation
    try:
        value = compute()
    except IctgisError as exc:  # the data cannot give it: kept, shown by the pages, not tried again
        logger.warning("background analysis %s: %s", key[0] if isinstance(key, tuple) else key, exc)
        with _lock:
            _failed[key] = str(exc)
            _pending.pop(key, None)
            _generation += 1
        return
    except Exception:  # a failed background computation must not stop the worker; it is logged
        logger.exception("background analysis %s failed", key[0] if isinstance(key, tuple) else key)
        with _lock:
            _pending.pop(key, None)
        return
    with _lock:
        (_results if results is None else results)[key] = value
        _pending.pop(key, None)
        _generation += 1


def failure(key: Hashable) -> str | None:
    """Return the message of the input error that stopped the computation of `key` (None if none did)."""
    with _lock:
        return _failed.get(key)


def wait_idle(timeout_s: float | None = None) -> bool:
    """Wait until the computations asked for so far have ended; False when `timeout_s` passed first.

    Includes those that a running job asks for (`precompute` queues the coverage once it has loaded the data).
    """
    end = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        try:
            _worker.submit(lambda: None).result(None if end is None else max(0.0, end - time.monotonic()))
        except FutureTimeout:
            return False
        with _lock:
            if not _pending:
                return True


# --------------------------------------------------------------------------------------------- providers
def coverage_result(ds: Dataset, technology: str = "4G", *, wait: bool = False) -> coverage.CoverageResult | None:
    """Return the coverage of a dataset (`ictgis.coverage.compute` at the DEM's resolution) once computed.

    None while it is computed in the background (unless `wait`), and for a dataset without DEM or sites.
    """
    if ds.dem_path is None or ds.get("bts_sites") is None:
        return None
    key = content_key(ds)
    if key is None:
        return None
    tech = technology.upper()
    return background(("coverage", key, tech),
                      lambda: coverage.compute(ds, technology=tech, progress=lambda f, m: None), wait=wait)


def coverage_error(ds: Dataset, technology: str = "4G") -> str | None:
    """Return why a dataset's coverage cannot be computed (its input error), None when it can or is computing."""
    key = content_key(ds)
    return None if key is None else failure(("coverage", key, technology.upper()))


def coverage_errors(ds: Dataset) -> list[str]:
    """Return the input errors that stopped the coverage of the indicator table's technologies (each once)."""
    out: list[str] = []
    for tech in TABLE_COVERAGE:
        message = coverage_error(ds, tech)
        if message is not None and message not in out:
            out.append(message)
    return out


def coverage_keys(technology: str) -> tuple[str, str, str]:
    """Return the indicator keys (under ``mobile``) of a technology's coverage: area %, villages, population."""
    tag = technology.lower()
    return f"populated_area_{tag}_pct", f"villages_covered_{tag}", f"population_covered_{tag}"


def _has_sites(ds: Dataset, technology: str) -> bool:
    return any(technology in parse_tech(t) for t in ds["bts_sites"]["tech"])


def coverage_indicators(ds: Dataset) -> tuple[dict, list[str]]:
    """Return the coverage indicators of the table computed so far, and those still being computed.

    The values are those of `ictgis.coverage.populated_area_coverage` (the run pages show the same numbers), read
    from the background results; a missing result is started. A technology without any site counts 0.

    Returns
    -------
    tuple
        ``{key: value}`` under ``mobile`` (`coverage_keys` of each technology of `TABLE_COVERAGE` with a value), and
        the contract keys (``mobile.populated_area_4g_pct`` …) whose value is being computed.
    """
    values: dict = {}
    pending: list[str] = []
    if ds.dem_path is None or ds.get("villages") is None or ds.get("bts_sites") is None or content_key(ds) is None:
        return values, pending
    for tech in TABLE_COVERAGE:
        keys = coverage_keys(tech)
        if not _has_sites(ds, tech):
            values.update(zip(keys, (0.0, 0, 0), strict=True))
            continue
        result = coverage_result(ds, tech)
        if result is None:
            if coverage_error(ds, tech) is None:  # an input error is no longer pending: the page shows it
                pending += [f"mobile.{k}" for k in keys]
            continue
        s = result.summary
        values.update(zip(keys, (float(s["populated_area_pct"]), int(s["villages_covered"]),
                                 int(s["population_covered"])), strict=True))
    return values, pending


def with_coverage(ds: Dataset, result: dict) -> dict:
    """Return a copy of an indicator contract with the coverage computed so far (`coverage_indicators`) filled in.

    Values the contract already has are kept.
    """
    values, _pending = coverage_indicators(ds)
    if not values:
        return result
    mobile = dict(result.get("mobile") or {})
    for key, value in values.items():
        if mobile.get(key) is None:
            mobile[key] = value
    return result | {"mobile": mobile}


def precompute(app: Any, served: Callable[[], Dataset]) -> Future:
    """Start the coverage of the app's served dataset in the background (4G first); return at once.

    Runs on the worker thread: it loads the served dataset with `served` (``ictgis_web.data.dataset``, called in the
    app's context) and queues the coverage of each technology of `TABLE_COVERAGE` behind it. A dataset that cannot
    be loaded is logged and left to the pages, which show its problems.
    """
    def start() -> None:
        with app.app_context():
            try:
                ds = served()
            except Exception as exc:  # the pages report a dataset that does not load; here it only stops the start
                logger.warning("no background analyses for the served data: %s", exc)
                return
            coverage_indicators(ds)

    return _worker.submit(start)


def villages_covered_4g(ds: Dataset) -> pd.Series | None:
    """Map provider: True where a village receives 4G at the threshold (None until computed)."""
    result = coverage_result(ds, "4G")
    if result is None or result.villages.empty:
        return None
    return pd.Series(result.villages["covered"].to_numpy(dtype=bool), index=ds["villages"].index)


def commune_populated_area_4g_pct(ds: Dataset, _indicators: dict | None = None) -> dict | None:
    """Map provider: 4G populated-area coverage per commune code (None until computed)."""
    result = coverage_result(ds, "4G")
    if result is None or result.communes.empty:
        return None
    return dict(zip(result.communes["code"], result.communes["populated_area_pct"], strict=True))


def overlay_4g(ds: Dataset) -> tuple[bytes, list[list[float]]] | None:
    """Map provider: the 4G best-server RSRP classes as a PNG in Web Mercator and its lat/lon bounds.

    Rendered once per result: request threads asking at once wait for the one that renders it.
    """
    result = coverage_result(ds, "4G")
    if result is None:
        return None
    key = (content_key(ds), "4G")
    with _png_lock:
        png = _pngs.get(key)
        if png is None:
            png = _pngs[key] = coverage.overlay_png(result)
    return png


def planned_routes(ds: Dataset, *, wait: bool = False) -> gpd.GeoDataFrame | None:
    """Map provider: the shared plan connecting every village without fiber (`ictgis.fiber.planned_routes`).

    None while it is computed in the background (unless `wait`), and for a dataset without roads, villages or
    fiber routes.
    """
    if ds.get("roads") is None or ds.get("villages") is None or ds.get("fiber_routes") is None:
        return None
    key = content_key(ds)
    if key is None:
        return None
    return background(("fiber_planned", key), lambda: fiber.planned_routes(ds), wait=wait)


def lastmile_layer(ds: Dataset, *, wait: bool = False) -> gpd.GeoDataFrame | None:
    """Map provider: the cheapest technology of each village without fiber (`ictgis.lastmile.map_layer`).

    None while it is computed in the background (unless `wait`), and for a dataset without villages.
    """
    if ds.get("villages") is None:
        return None
    key = content_key(ds)
    if key is None:
        return None
    return background(("lastmile", key), lambda: lastmile.map_layer(ds), wait=wait)


#: What the web map shows beyond the layers, by `ictgis.maps` key.
MAP_PROVIDERS = maps.MapProviders(
    choropleths={"populated_area_4g_pct": commune_populated_area_4g_pct},
    overlays={"coverage_4g": overlay_4g, "fiber_planned": planned_routes, "lastmile": lastmile_layer},
    village_status={"g4": villages_covered_4g},
)
