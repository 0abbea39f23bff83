"""Dataset versions as the data page shows them: what each upload changed, and which version is served (roll back).

Today versions are folders of the instance (``<instance>/datasets/<n>/``, written by `web.uploads`); the served one
is the newest unless a planner chose another (``<instance>/datasets/served.json``, see `web.data.current_dir`).
This module is the one interface the data page uses, so that the versioned store (``ictgis/store/``: changesets,
features valid from/to) can replace it by providing the same four things:

- `list_versions()`: every version, newest first, each a dict with ``id``, ``created`` (epoch seconds, None for
  the base data), ``user``, ``layer`` and ``uploaded_name`` (what was uploaded), ``changes``
  (``{layer: {"added": n, "removed": n, "changed": n}}`` against the version it was derived from, by feature key;
  None when unknown), ``served`` (bool) and ``parent``;
- `served_id()`: the id of the served version (0: the base data);
- `serve_version(id, user=…, address=…)`: serve another version (a roll back), atomically with uploads (the same
  instance lock) and audited; with changesets this is a new changeset restoring the chosen state, or an "as of"
  pointer;
- `diff_datasets(old, new)`: the counts above, by feature key (the layer's id field; a feature whose attributes
  and geometry are equal is not "changed") — the store's ``db diff``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from flask import current_app

from ictgis import IctgisError, Problem, io
from ictgis.layers import SCHEMAS

from . import data

logger = logging.getLogger(__name__)

#: Geometries closer than this (metres, in the working CRS) count as equal: the same layer sent in WGS 84 and
#: brought back to VN-2000 moves a vertex by about a millimetre (1.2 mm measured on the tiny fixture).
GEOMETRY_TOLERANCE_M = 0.01


class NoSuchVersionError(IctgisError, LookupError):
    """The asked version does not exist (404)."""

    http_status = 404


def _keyed(frame: gpd.GeoDataFrame, key: str | None) -> gpd.GeoDataFrame:
    if key and key in frame:
        keys = [f"#{i + 1}" if pd.isna(k) else str(k) for i, k in enumerate(frame[key])]
    else:
        keys = [f"#{i + 1}" for i in range(len(frame))]
    out = frame.set_axis(pd.Index(keys, dtype=object))
    return out[~out.index.duplicated(keep="first")]


def _cells(series: pd.Series | None, n: int) -> list[object]:
    if series is None:
        return [None] * n
    return [None if v is None or (not isinstance(v, (list, tuple, dict)) and pd.isna(v)) else str(v)
            for v in series.tolist()]


def diff_layer(old: gpd.GeoDataFrame | None, new: gpd.GeoDataFrame | None, *, key: str | None
               ) -> dict[str, list[str]]:
    """Compare two versions of a layer by feature key.

    Parameters
    ----------
    old, new
        The layer before and after (None: absent), in the same CRS.
    key
        The layer's id field (``code`` for communes, ``id`` for the others); features of layers without one are
        compared by their position.

    Returns
    -------
    dict
        ``{"added": [keys], "removed": [keys], "changed": [keys]}``, each sorted.
    """
    old_k = _keyed(old, key) if old is not None else None
    new_k = _keyed(new, key) if new is not None else None
    before = set(old_k.index) if old_k is not None else set()
    after = set(new_k.index) if new_k is not None else set()
    common = sorted(before & after)
    changed: list[str] = []
    if common:
        a, b = old_k.loc[common], new_k.loc[common]
        differs = np.zeros(len(common), dtype=bool)
        columns = (set(a.columns) | set(b.columns)) - {a.geometry.name, b.geometry.name}
        for column in sorted(columns):
            left, right = _cells(a.get(column), len(common)), _cells(b.get(column), len(common))
            differs |= np.array([x != y for x, y in zip(left, right, strict=True)])
        ga, gb = np.asarray(a.geometry.values, dtype=object), np.asarray(b.geometry.values, dtype=object)
        none_a, none_b = shapely.is_missing(ga), shapely.is_missing(gb)
        both = ~none_a & ~none_b
        same_geom = np.where(both, False, none_a == none_b)
        same_geom[both] = shapely.equals_exact(ga[both], gb[both], tolerance=GEOMETRY_TOLERANCE_M)
        differs |= ~same_geom
        changed = [k for k, d in zip(common, differs, strict=True) if d]
    return {"added": sorted(after - before), "removed": sorted(before - after), "changed": changed}


def diff_datasets(old: io.Dataset | None, new: io.Dataset) -> dict[str, dict[str, int]]:
    """Count the features added, removed and changed in each layer that changed between two datasets.

    Returns
    -------
    dict
        ``{layer: {"added": n, "removed": n, "changed": n}}``, only layers with a change.
    """
    out: dict[str, dict[str, int]] = {}
    names = set(new.layers) | (set(old.layers) if old is not None else set())
    for name in sorted(names):
        schema = SCHEMAS.get(name)
        found = diff_layer(old.get(name) if old is not None else None, new.get(name),
                           key=schema.id_field if schema is not None else None)
        counts = {k: len(v) for k, v in found.items()}
        if any(counts.values()):
            out[name] = counts
    return out


def served_id() -> int:
    """Return the id of the served version (0: the base data)."""
    return data.served_version()


def list_versions() -> list[dict]:
    """Return every version of the served base data, newest first, the base data (id 0) last."""
    served = served_id()
    base = data.base_dir()
    rows = [{"id": 0, "created": None, "user": None, "layer": None, "uploaded_name": None, "file": None,
             "features": None, "changes": None, "parent": None, "served": served == 0, "name": base.name}]
    for meta in data.versions():
        rows.append({"id": meta["n"], "created": meta.get("created"), "user": meta.get("user"),
                     "layer": meta.get("layer"), "uploaded_name": meta.get("uploaded_name"),
                     "file": meta.get("file"), "features": meta.get("features"), "changes": meta.get("changes"),
                     "parent": meta.get("parent_n"), "served": meta["n"] == served, "notes": meta.get("notes")})
    return sorted(rows, key=lambda r: -r["id"])


def serve_version(version_id: int, *, user: str, address: str = "-") -> dict:
    """Serve dataset version `version_id` (0: the base data) from now on, for every server process.

    Holds the instance lock of the dataset versions (`web.data.version_lock`) while it checks the version and
    writes ``served.json`` (written whole, then renamed): an upload running at the same moment either derived
    from the version served before (and then becomes the served one, being newer) or starts after and derives
    from the chosen one. The change is audited (``serve_version`` in the instance's audit log).

    Returns
    -------
    dict
        ``{"id": version_id, "previous": id served before}``.

    Raises
    ------
    NoSuchVersionError
        When there is no such version.
    web.data.UploadBusyError
        When an upload holds the lock for longer than ``UPLOAD_LOCK_TIMEOUT_S``.
    """
    from .auth import guard

    root = data.versions_dir()
    with data.version_lock(root, timeout_s=float(current_app.config.get("UPLOAD_LOCK_TIMEOUT_S", 60.0))):
        known = {0} | {m["n"] for m in data.versions()}
        if version_id not in known:
            raise NoSuchVersionError(f"no dataset version {version_id}",
                                     [Problem("version", f"no dataset version {version_id}", kind="no_version",
                                              params=(("id", version_id),))])
        previous = data.served_version()
        record = {"base": str(data.base_dir()), "n": version_id, "user": user, "time": time.time(),
                  "previous": previous}
        tmp = root / f".served-{os.getpid()}-{time.monotonic_ns()}.json"
        tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, root / data.SERVED_FILE)
    guard().audit("serve_version", user, address, version=version_id, previous=previous)
    logger.info("dataset version %s served (was %s), by %s", version_id, previous, user)
    return {"id": version_id, "previous": previous}


def clear_choice(root: Path) -> None:
    """Serve the newest version again (called by an upload, under the lock, once its version exists)."""
    (root / data.SERVED_FILE).unlink(missing_ok=True)
