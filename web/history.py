"""The shared database's history for the web pages: the store of the app, what changed, indicators as of a state.

The app's store is the one `web.data.store` serves (``STORE_URL``, default ``<instance>/ictgis.gpkg``, the base
data its first changeset); `app_store` returns it (a SQLAlchemy engine is thread-safe; every request reads in its
own transaction). Derived values — the indicators of a state, the changes
between two states — are kept per changeset id in bounded LRU caches (`cachetools`, each access under a lock, never
while computing): a changeset never changes once written, so an id names its content for good.

States are read layer by layer (`dataset_at`): a layer is named by the last changeset that changed it
(`ictgis.store.Store.layer_states`, a few milliseconds), and each layer read is kept under that name
(`MAX_LAYER_FRAMES`), so consecutive changesets — which usually touch one layer — read only that one. The charts of
indicators over time take only the province totals they show (`headline_at`, `ictgis.indicators.headline`: its
four layers, no per-unit tables): tens of milliseconds a point on the demo the first time instead of about 1 s for the
whole dataset and every indicator.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from cachetools import LRUCache
from flask import Flask, current_app

from ictgis import IctgisError, io, settings
from ictgis import indicators as ind
from ictgis.crs import to_crs
from ictgis.store import Changeset, Store
from ictgis.store.changes import CHANGE_KINDS

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Indicator results kept per app (one per changeset id; the demo's is about 100 kB).
MAX_INDICATOR_STATES = 64
#: Change summaries kept per app (one per pair of changeset ids).
MAX_DIFFS = 16
#: Layers read from the store kept per app (one per layer and last changeset that changed it; the demo's
#: largest, the communes, is a few MB).
MAX_LAYER_FRAMES = 32
#: Chart values kept per app (one small dict per changeset id).
MAX_HEADLINES = 1024
#: Geometry simplification of lines and polygons on the change map (metres, working CRS) and coordinate precision.
DISPLAY_TOLERANCE_M = 10.0
DISPLAY_GRID_DEG = 1e-6
_MISSING = object()


@dataclass
class _AppHistory:
    lock: threading.Lock = field(default_factory=threading.Lock)
    indicators: LRUCache = field(default_factory=lambda: LRUCache(maxsize=MAX_INDICATOR_STATES))
    diffs: LRUCache = field(default_factory=lambda: LRUCache(maxsize=MAX_DIFFS))
    frames: LRUCache = field(default_factory=lambda: LRUCache(maxsize=MAX_LAYER_FRAMES))
    headlines: LRUCache = field(default_factory=lambda: LRUCache(maxsize=MAX_HEADLINES))


_install_lock = threading.Lock()


def _state(app: Flask | None = None) -> _AppHistory:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get("ictgis_history")
    if found is None:
        with _install_lock:
            found = app.extensions.setdefault("ictgis_history", _AppHistory())
    return found


def app_store() -> Store:
    """Return the app's store (`web.data.store`: one accessor, opened once per app)."""
    from . import data

    return data.store()


def _cached(cache_name: str, key: Hashable, compute: Callable[[], T]) -> T:
    state = _state()
    cache: LRUCache = getattr(state, cache_name)
    with state.lock:
        found = cache.get(key, _MISSING)
    if found is not _MISSING:
        return found
    value = compute()
    with state.lock:
        cache[key] = value
    return value


# ---------------------------------------------------------------------------------------------- indicators
def indicators_at(store: Store, number: int) -> dict | None:
    """Return `ictgis.indicators.compute` on the store's state after changeset `number` (None before any).

    Computed once per store and changeset id (`MAX_INDICATOR_STATES` kept). The populated-area coverage (4G, 3G)
    is not in it: it needs the coverage raster of that state, computed in the background (`coverage_values`).
    """
    if number <= 0:
        return None

    return _cached("indicators", (store.url, number), lambda: ind.compute(dataset_at(store, number)))


def headline_at(store: Store, number: int) -> dict | None:
    """Return `ictgis.indicators.headline` on the store's state after changeset `number` (None before any).

    Its values equal those of `indicators_at` for every key it has (the charts' indicators); computed once per
    store and changeset id, from the four layers it needs (`dataset_at`).
    """
    if number <= 0:
        return None
    return _cached("headlines", (store.url, number),
                   lambda: ind.headline(dataset_at(store, number, layers=ind.HEADLINE_LAYERS)))


def dataset_at(store: Store, number: int, *, layers: tuple[str, ...] | None = None) -> io.Dataset:
    """Return the store's layers after changeset `number`, reusing the layers read for other states.

    A partial dataset (`ictgis.store.Store.dataset` with ``layers``): no DEM, cells or commune topology — what
    `ictgis.indicators` uses. Its frames are shared with other requests: read them, never modify them.

    Parameters
    ----------
    layers
        Only these layers (and the communes); None: all.
    """
    states = store.layer_states(number)
    names = tuple(states) if layers is None else tuple(n for n in states if n in layers or n == "communes")
    keys = {name: (store.url, name, states[name]) for name in names}
    state = _state()
    with state.lock:
        known = {name: state.frames[key] for name, key in keys.items() if key in state.frames}
    ds = store.dataset(as_of=number, layers=names, known=known)
    with state.lock:
        for name, key in keys.items():
            if name not in known and name in ds.layers:
                state.frames[key] = ds.layers[name]
    return ds


#: Indicators computed from the coverage raster, not by `indicators_at`: filled in by `coverage_values` (computed
#: in the background, per changeset), by technology.
COVERAGE_KEYS = ("mobile.populated_area_4g_pct", "mobile.populated_area_3g_pct")
COVERAGE_TECHS = {"mobile.populated_area_4g_pct": "4G", "mobile.populated_area_3g_pct": "3G"}
#: Cell size of a past state's coverage (metres); None: the DEM's, as the map and today's column (`web.analyses`),
#: so that every point of the chart is computed alike (the demo's DEM: 90 m).
PAST_COVERAGE_RESOLUTION_M: float | None = None
#: Key kind of a past state's coverage among the background results (`web.analyses.background`, small results).
PAST_COVERAGE = "coverage_state"


def past_coverage(store: Store, number: int, technology: str, *, dem_dir: Path,
                  resolution_m: float | None = PAST_COVERAGE_RESOLUTION_M) -> dict[str, Any]:
    """Return the populated-area coverage of the store's state after changeset `number` (`ictgis.coverage.compute`).

    What `ictgis coverage --db URL --as-of NUMBER` prints, at the same resolution. Runs on the background worker
    (`coverage_values`); a few numbers, kept by changeset id (a changeset never changes).

    Returns
    -------
    dict
        ``populated_area_pct`` (None for a state without DEM, villages or sites), ``villages_covered``,
        ``population_covered``, ``resolution_m`` and ``seconds`` (the time taken, loading included); with
        ``error`` (and no %) when that state's data cannot give a coverage (`ictgis.IctgisError`, e.g. cells of a
        removed site), so that it is not tried again and the next states go on.
    """
    from ictgis import coverage
    from ictgis.layers import parse_tech

    start = time.perf_counter()
    ds = store.dataset(number, dem_dir=dem_dir)
    out: dict[str, Any] = {"populated_area_pct": None, "villages_covered": None, "population_covered": None,
                           "resolution_m": resolution_m}
    if ds.dem_path is not None and ds.get("villages") is not None and ds.get("bts_sites") is not None:
        if not any(technology in parse_tech(t) for t in ds["bts_sites"]["tech"]):
            out.update(populated_area_pct=0.0, villages_covered=0, population_covered=0)
        else:
            try:
                s = coverage.compute(ds, technology=technology, resolution_m=resolution_m,
                                     progress=lambda f, m: None).summary
            except IctgisError as exc:  # that state's data cannot give a coverage: "—", kept like a value
                logger.warning("no %s coverage for changeset %d: %s", technology, number, str(exc).splitlines()[0])
                out["error"] = str(exc).splitlines()[0]
                out["seconds"] = round(time.perf_counter() - start, 2)
                return out
            out.update(populated_area_pct=float(s["populated_area_pct"]), villages_covered=int(s["villages_covered"]),
                       population_covered=int(s["population_covered"]), resolution_m=float(s["resolution_m"]))
    out["seconds"] = round(time.perf_counter() - start, 2)
    logger.info("coverage %s of changeset %d: %s %% in %.1f s", technology, number, out["populated_area_pct"],
                out["seconds"])
    return out


def coverage_values(store: Store, wanted: list[tuple[int, str]]) -> dict[tuple[int, str], float | None]:
    """Return the populated-area coverage (%) of each wanted (changeset, technology) computed so far.

    The served state (the latest changeset the app serves) takes the app's own background result (the map's and
    ``/api/indicators``'s, `web.analyses.coverage_result`). A past state is computed on the background worker
    (`past_coverage`) and kept by changeset id among its small results; at most one past state is queued at a time,
    the first missing in `wanted` order, so that the served data's analyses wait for one past state at most. The
    page asks again while some are missing (its JSON poll), which starts the next.

    Returns
    -------
    dict
        (changeset, technology) → the % once computed; a pair still being computed is missing. A state without
        coverage data (no DEM, villages or sites) maps to None.
    """
    from . import analyses, data

    served, ds = data.current()
    dem_dir = Path(current_app.instance_path) / "cache" / "dem"
    out: dict[tuple[int, str], float | None] = {}
    queued = analyses.pending(PAST_COVERAGE) > 0
    for number, tech in wanted:
        if number <= 0:
            out[(number, tech)] = None
            continue
        if number == served and PAST_COVERAGE_RESOLUTION_M is None:
            values, pending = analyses.coverage_indicators(ds)
            key = f"populated_area_{tech.lower()}_pct"
            if f"mobile.{key}" not in pending:
                out[(number, tech)] = values.get(key)
            continue
        key = (PAST_COVERAGE, store.url, number, tech)
        found = analyses.peek(key, small=True)
        if found is not None:
            out[(number, tech)] = found["populated_area_pct"]
        elif not queued:
            analyses.background(key, functools.partial(past_coverage, store, number, tech, dem_dir=dem_dir),
                                small=True)
            queued = True
    return out


def sample_ids(changesets: list[Changeset], limit: int) -> list[Changeset]:
    """Return at most `limit` changesets evenly spread over the list, always with its first and last.

    Examples
    --------
    >>> cs = [Changeset(i, dt.datetime(2024, 1, i), "a", "m", None, "edit") for i in range(1, 8)]
    >>> [c.id for c in sample_ids(cs, 4)]
    [1, 3, 5, 7]
    """
    if len(changesets) <= limit:
        return list(changesets)
    if limit < 2:
        return changesets[-1:]
    picks = sorted({round(i * (len(changesets) - 1) / (limit - 1)) for i in range(limit)})
    return [changesets[i] for i in picks]


# ---------------------------------------------------------------------------------------------- changes
@dataclass(frozen=True)
class Changes:
    """What changed between two states of the store.

    Attributes
    ----------
    from_id, to_id
        The states compared (changeset ids; 0 = before the first).
    frames
        Layer → the changed features in EPSG:4326 (`ictgis.store.Store.diff_layers`), with ``commune`` (the code of
        the commune it lies in, for every layer) and ``attrs`` (``[field, before, after]`` rows for the popup).
    communes
        Commune code → (name, district), of the later state (else the earlier one).
    """

    from_id: int
    to_id: int
    frames: dict[str, gpd.GeoDataFrame]
    communes: dict[str, tuple[str, str]]

    def by_layer(self) -> dict[str, dict[str, int]]:
        """Return ``{layer: {"added": n, "removed": n, "changed": n}}`` for layers with a change."""
        out = {}
        for name, frame in self.frames.items():
            counts = {kind: int((frame["change"] == kind).sum()) for kind in CHANGE_KINDS}
            if any(counts.values()):
                out[name] = counts
        return out

    def by_commune(self) -> list[dict[str, Any]]:
        """Return one row per commune with a change: code, name, district, added, removed, changed, total."""
        counts: dict[str, dict[str, int]] = {}
        for frame in self.frames.values():
            for code, kind in zip(frame["commune"], frame["change"], strict=True):
                key = "" if code is None else str(code)
                row = counts.setdefault(key, dict.fromkeys(CHANGE_KINDS, 0))
                row[kind] += 1
        rows = []
        for code, row in counts.items():
            name, district = self.communes.get(code, ("", ""))
            rows.append({"code": code or None, "name": name or code or "—", "district": district, **row,
                         "total": sum(row.values())})
        return sorted(rows, key=lambda r: (-r["total"], r["name"]))


def changes_between(store: Store, from_id: int, to_id: int) -> Changes:
    """Return the changes between two states (changeset ids), computed once per pair (`MAX_DIFFS` kept)."""
    return _cached("diffs", (store.url, from_id, to_id), lambda: _changes(store, from_id, to_id))


def _changes(store: Store, a: int, b: int) -> Changes:
    frames = store.diff_layers(a, b)
    outlines = None
    for ref in (b, a):
        if ref > 0:
            outlines = store.layer("communes", as_of=ref)
            if outlines is not None and len(outlines):
                break
    communes: dict[str, tuple[str, str]] = {}
    if outlines is not None:
        district = outlines["district"] if "district" in outlines else pd.Series("", index=outlines.index)
        communes = {str(c): (str(n), "" if pd.isna(d) else str(d))
                    for c, n, d in zip(outlines["code"], outlines["name"], district, strict=True)}
    out = {}
    with store.reading() as conn:
        for name, frame in frames.items():
            if frame.empty:
                continue
            changed = frame.loc[frame["change"] == "changed", "feature_key"].astype(str).tolist()
            before = {r["feature_key"]: r for r in store.version_rows(name, a, conn=conn, keys=changed)} \
                if changed else {}
            out[name] = _decorate(name, frame, before, outlines)
    return Changes(from_id=a, to_id=b, frames=out, communes=communes)


def _commune_codes(name: str, frame: gpd.GeoDataFrame, outlines: gpd.GeoDataFrame | None) -> list[str | None]:
    """Return the commune of each changed feature: its own code, its ``commune`` attribute, else its location."""
    if name == "communes":
        return [str(k) for k in frame["feature_key"]]
    given = frame["commune"] if "commune" in frame else pd.Series([None] * len(frame), index=frame.index)
    codes = [None if v is None or (isinstance(v, float) and math.isnan(v)) or pd.isna(v) else str(v)
             for v in given]
    missing = [i for i, c in enumerate(codes) if c is None]
    if missing and outlines is not None and len(outlines):
        points = gpd.GeoDataFrame(geometry=frame.geometry.iloc[missing].representative_point().to_numpy(),
                                  crs=frame.crs)
        joined = gpd.sjoin(points, outlines[["code", outlines.geometry.name]], how="left", predicate="within")
        joined = joined[~joined.index.duplicated(keep="first")]
        for pos, code in zip(missing, joined["code"].reindex(range(len(missing))), strict=True):
            codes[pos] = None if pd.isna(code) else str(code)
    return codes


def jsonable(value: Any) -> Any:
    """Return a value fit for JSON (numpy scalars as Python ones, NaN and NA as None, times as ISO text)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _decorate(name: str, frame: gpd.GeoDataFrame, before: dict, outlines) -> gpd.GeoDataFrame:
    """Add ``commune``, ``attrs`` and ``moved_m`` to a layer's changed features, reprojected for the map."""
    geom_col = frame.geometry.name
    fields = [c for c in frame.columns if c not in ("change", "feature_key", "version", geom_col)]
    attrs, moved, old_points = [], [], []
    for row in frame.itertuples(index=False):
        record = dict(zip(frame.columns, row, strict=True))
        kind = record["change"]
        old = before.get(str(record["feature_key"])) if kind == "changed" else None
        rows, shift, old_point = [], None, None
        for f in fields:
            after = jsonable(record[f])
            if kind == "added":
                rows.append([f, None, after])
            elif kind == "removed":
                rows.append([f, after, None])
            else:
                was = jsonable(old.get(f)) if old is not None else None
                if was != after:
                    rows.append([f, was, after])
        if old is not None and old["geom"] is not None and record[geom_col] is not None:
            old_geom = shapely.from_wkb(old["geom"])
            if not shapely.equals(old_geom, record[geom_col]):
                shift = round(float(shapely.hausdorff_distance(old_geom, record[geom_col])), 1)
                if old_geom.geom_type == "Point":
                    old_point = old_geom
        attrs.append(rows)
        moved.append(shift)
        old_points.append(old_point)
    out = frame.copy()
    out["commune"] = _commune_codes(name, frame, outlines)
    out["attrs"] = attrs
    out["moved_m"] = moved
    lines = ~out.geometry.geom_type.isin(["Point", "MultiPoint"])
    if lines.any():
        out.loc[lines, geom_col] = out.geometry[lines].simplify(DISPLAY_TOLERANCE_M)
    shown = to_crs(out, settings.display_crs)
    shown[geom_col] = shapely.set_precision(shown.geometry.to_numpy(), DISPLAY_GRID_DEG)
    starts = gpd.GeoSeries(old_points, crs=frame.crs)
    starts = to_crs(gpd.GeoDataFrame(geometry=starts), settings.display_crs).geometry
    shown["before_point"] = [None if p is None or p.is_empty else [round(p.x, 6), round(p.y, 6)] for p in starts]
    return shown
