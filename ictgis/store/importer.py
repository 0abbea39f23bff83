"""Import a data folder into the store: validate, match features by key, write one changeset in one transaction."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .._errors import StoreError
from ..layers import SCHEMAS
from . import rows as rowmod
from .schema import CELL_FIELDS, LAYER_FIELDS

logger = logging.getLogger(__name__)


class StaleStateError(StoreError):
    """An import derived from a state that is no longer the latest (another changeset landed first): 409."""

    http_status = 409


def import_dataset(store, data, *, author: str, message: str, kind: str = "import", source: str | None = None,
                   crs: object = None, parent: int | None = None):
    """Record what differs between `data` and the current state (see `ictgis.store.Store.import_dataset`)."""
    from ..io import Dataset, load

    if kind not in ("import", "upload"):
        raise StoreError(f"an import's kind is 'import' or 'upload', not {kind!r}")
    ds = data if isinstance(data, Dataset) else load(data, crs=crs)  # LayerError: nothing is written
    check_inputs(ds)  # the cells and land cover, as `ictgis validate` checks them
    if source is None:
        source = str(Path(ds.data_dir).resolve()) if ds.data_dir is not None else None
    epsg = ds.crs.to_epsg()
    if epsg != store.srid:
        raise StoreError(f"{store.label}: the store's working CRS is EPSG:{store.srid}, the data's is "
                         f"{ds.crs.name} (EPSG:{epsg}); use a store for that province")
    prepared = {name: _prepare(name, frame) for name, frame in ds.layers.items()}
    meta: dict[str, Any] = {  # the column order, geometry's place included; only the schema's attributes are kept
        f"columns:{name}": ["geometry" if c == frame.geometry.name else c for c in frame.columns
                            if c == frame.geometry.name or c in dict(LAYER_FIELDS[name])]
        for name, frame in ds.layers.items()}
    if ds.area_km2 is not None:
        meta["area_km2"] = ds.area_km2
    rasters = []
    for key, path in (("dem", ds.dem_path), ("landcover", _landcover_path(ds))):
        if path is not None:
            content = Path(path).read_bytes()
            rasters.append((hashlib.sha256(content).hexdigest(), Path(path).name, content))
            meta[key] = {"sha256": rasters[-1][0], "name": rasters[-1][1]}
    cells = _cells(ds)
    if cells is not None:
        meta["columns:cells"] = list(cells.columns)
    try:
        cs, counts = _write(store, prepared, meta, rasters, cells, author=author, message=message, kind=kind,
                            source=source, parent=parent)
    except _UnchangedError:
        logger.info("%s: nothing changed, no changeset recorded", store.label)
        return None
    logger.info("changeset %d: %s", cs.id, counts)
    return dataclasses.replace(cs, counts=counts)


def check_inputs(ds) -> None:
    """Check a dataset's cells and land cover as ``ictgis validate`` does (`ictgis.coverage.check_dataset_inputs`).

    A cell of a site that is not in bts_sites, a missing antenna pattern file or a land cover that does not read
    onto the DEM would stop every coverage computed from the store: the import is refused instead.

    Raises
    ------
    LayerError
        Every problem, naming file, row and column (nothing is written).
    """
    from .._errors import LayerError
    from .._validate import Collector
    from ..coverage import check_dataset_inputs

    collector = Collector()
    check_dataset_inputs(ds, collector=collector)
    n = len(collector.problems)
    if n:
        where = ds.data_dir if ds.data_dir is not None else "the data"
        raise LayerError(f"{n} problem{'s' if n > 1 else ''} in {where}: nothing was recorded", collector.problems)


class _UnchangedError(Exception):
    """Raised inside the write transaction to roll it back when nothing differs."""


def _landcover_path(ds) -> Path | None:
    """Return the dataset's land-cover GeoTIFF (``landcover.tif`` or ``landcover: file:``), or None."""
    from .. import landcover as lc
    from .._validate import Collector
    from ..io import read_mapping

    if ds.data_dir is None:
        return ds.landcover_path
    mapping = read_mapping(Path(ds.data_dir), Collector())
    return lc.find_landcover(ds.data_dir, lc.landcover_spec(mapping) if mapping else None)


def _cells(ds):
    """Return the dataset's cells table (`ictgis.cells.read_cells` of its folder's ``cells`` file), or None."""
    from .._validate import Collector
    from ..cells import find_cells, read_cells
    from ..io import read_mapping

    if ds.data_dir is None:
        return ds.cells
    mapping = read_mapping(Path(ds.data_dir), Collector())
    found = find_cells(ds.data_dir, mapping)
    if found is None:
        return None
    path, spec = found
    return read_cells(path, fields=spec.get("fields"), encoding=spec.get("encoding") or mapping.get("encoding"),
                      sheet=spec.get("layer"))


def cell_keys(cells) -> list[str]:
    """Key of each row of a cells table: its ``cell`` id, else ``<site>-<n>`` (n-th cell of the site)."""
    seen: dict[str, int] = {}
    keys = []
    for site, cid in zip(cells["site"].astype(str), cells["cell"] if "cell" in cells else [None] * len(cells),
                         strict=True):
        seen[site] = seen.get(site, 0) + 1
        keys.append(str(cid) if isinstance(cid, str) and cid.strip() else f"{site}-{seen[site]}")
    return keys


def _write_cells(store, conn: sa.Connection, cells, cs) -> dict[str, int]:
    """Record the rows of the cells table that differ from the current ones (by key, values and order)."""
    t = store.tables["cells"]
    fields = [f for f, _ in CELL_FIELDS]
    current = {r["feature_key"]: r for r in conn.execute(sa.select(t).where(t.c.ended_by.is_(None))).mappings()}
    new: dict[str, dict] = {}
    if cells is not None:
        for key, row in zip(cell_keys(cells), cells.to_dict("records"), strict=True):
            new[key] = {"feature_key": key, **{f: _plain(row.get(f)) for f in fields}}
    same = {k: k in current and all(current[k][f] == v[f] for f in fields) for k, v in new.items()}
    ords = new_ords([current[k]["ord"] if same[k] else None for k in new])  # kept where the file keeps the order
    counts = {"added": 0, "changed": 0, "removed": 0, "reordered": 0}
    end, insert = [], []
    for (key, row), ord_ in zip(new.items(), ords, strict=True):
        old = current.get(key)
        if same[key]:
            assert old is not None  # "same" means present before
            if old["ord"] == ord_:
                continue
            counts["reordered"] += 1
        else:
            counts["added" if old is None else "changed"] += 1
        if old is not None:
            end.append(old["fid"])
        insert.append(row | {"ord": ord_, "changeset": cs.id, "valid_from": cs.time})
    for key, old in current.items():
        if key not in new:
            counts["removed"] += 1
            end.append(old["fid"])
    if end:
        conn.execute(t.update().where(t.c.fid.in_(end)).values(ended_by=cs.id, valid_to=cs.time))
    if insert:
        conn.execute(t.insert(), insert)
    if not counts["reordered"]:
        del counts["reordered"]
    return counts


def _plain(value):
    """Return a cell value as the database keeps it (None for missing; Python floats and strings)."""
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value if isinstance(value, str) else float(value)


def _write(store, prepared, meta, rasters, cells, *, author, message, kind, source, parent=None):
    with store.writing() as conn:
        if parent is not None:
            latest = int(conn.execute(sa.select(sa.func.max(store.tables["changesets"].c.id))).scalar() or 0)
            if latest != parent:
                raise StaleStateError(f"{store.label}: the data changed while this import was checked (changeset "
                                      f"{latest}, not {parent}); nothing was recorded / dữ liệu vừa thay đổi")
        cs = store.new_changeset(conn, author=author, message=message, kind=kind, source=source)
        counts: dict[str, dict[str, int]] = {}
        for name in SCHEMAS:
            counts[name] = _write_layer(store, conn, name, prepared.get(name, ([], [], [], [])), cs)
        counts["cells"] = _write_cells(store, conn, cells, cs)
        meta_changed = _write_meta(store, conn, meta, cs)
        t = store.tables["rasters"]
        for sha256, name, content in rasters:
            if conn.execute(sa.select(t.c.sha256).where(t.c.sha256 == sha256)).scalar() is None:
                conn.execute(t.insert().values(sha256=sha256, name=name, content=content))
        counts = {k: v for k, v in counts.items() if any(v.values())}
        if not counts and not meta_changed:
            raise _UnchangedError  # rolls the changeset back
    return cs, counts


def _prepare(name: str, frame) -> tuple[list[str], list[tuple], list[bytes | None], list[bytes | None]]:
    """Keys, attribute tuples, WKB and canonical WKB (for comparing) of a layer's features, in file order."""
    wkbs = rowmod.normal_wkb(frame.geometry.values)
    canonical = rowmod.normal_wkb(frame.geometry.values, canonical=True)
    keys = rowmod.feature_keys(frame, SCHEMAS[name], canonical)
    attrs = rowmod.records(frame, LAYER_FIELDS[name])
    return keys, attrs, wkbs, canonical


def _write_layer(store, conn: sa.Connection, name: str, prepared, cs) -> dict[str, int]:
    """Write one layer's differences; return the counts.

    Each version keeps its row order (``ord``) so that any state reads back in its file's order. Features keep
    their ord when the file keeps their relative order (new ones get ords between their neighbours'); a file
    that reorders them gives the moved ones new versions (``reordered``, not changes: their content is equal).
    """
    keys, attrs, wkbs, canonical = prepared
    t = store.layer_tables[name]
    fields = LAYER_FIELDS[name]
    current = {r["feature_key"]: r for r in store.version_rows(name, None, conn=conn)}
    cur_wkb = dict(zip(current, rowmod.normal_wkb(
        [None if r["geom"] is None else _from_wkb(r["geom"]) for r in current.values()], canonical=True),
        strict=True))
    status = []
    for key, values, wkb in zip(keys, attrs, canonical, strict=True):
        row = current.get(key)
        if row is None:
            status.append("added")
        elif tuple(row[f] for f, _ in fields) == values and cur_wkb[key] == wkb:
            status.append("same")
        else:
            status.append("changed")
    old_ords = [current[k]["ord"] if s == "same" else None for k, s in zip(keys, status, strict=True)]
    ords = new_ords(old_ords)
    end: list[int] = []
    insert: list[dict] = []
    counts = {"added": 0, "changed": 0, "removed": 0, "reordered": 0}
    for key, values, wkb, state, ord_, old in zip(keys, attrs, wkbs, status, ords, old_ords, strict=True):
        if state == "same":
            if ord_ == old:
                continue
            state = "reordered"
        if state != "added":
            end.append(current[key]["fid"])
        counts[state] += 1
        insert.append(_row(store, key, values, wkb, ord_, fields, cs))
    new_keys = set(keys)
    removed = [r["fid"] for k, r in current.items() if k not in new_keys]
    counts["removed"] = len(removed)
    end += removed
    if end:
        conn.execute(t.update().where(t.c.fid == sa.bindparam("b_fid")).values(ended_by=cs.id, valid_to=cs.time),
                     [{"b_fid": f} for f in end])
    if insert:
        insert_rows(store, conn, name, insert)
    if not counts["reordered"]:
        del counts["reordered"]
    return counts


def new_ords(old: list[float | None]) -> list[float]:
    """Return the ord of each row of a file: kept (given) where increasing, else renumbered 0, 1, 2 ….

    Rows without an ord (new or changed features) get ords between their neighbours'.

    Examples
    --------
    >>> new_ords([0.0, None, 1.0, None])
    [0.0, 0.5, 1.0, 2.0]
    >>> new_ords([2.0, 1.0, None])
    [0.0, 1.0, 2.0]
    """
    kept = [o for o in old if o is not None]
    if any(b <= a for a, b in zip(kept, kept[1:], strict=False)):
        return [float(i) for i in range(len(old))]
    out: list[float] = []
    i = 0
    while i < len(old):
        if old[i] is not None:
            out.append(float(old[i]))  # type: ignore[arg-type]
            i += 1
            continue
        j = i
        while j < len(old) and old[j] is None:
            j += 1
        lo = out[-1] if out else None
        hi = old[j] if j < len(old) else None
        n = j - i
        if lo is None and hi is None:
            out += [float(k) for k in range(n)]
        elif hi is None:
            out += [lo + k + 1 for k in range(n)]  # type: ignore[operator]
        elif lo is None:
            out += [hi - n + k for k in range(n)]
        else:
            if hi - lo < 1e-6 * (n + 1):  # no room left between them: renumber everything
                return [float(k) for k in range(len(old))]
            out += [lo + (hi - lo) * (k + 1) / (n + 1) for k in range(n)]
        i = j
    return out


def _from_wkb(wkb: bytes):
    import shapely

    return shapely.from_wkb(wkb)


def _row(store, key, values, wkb, ord_, fields, cs) -> dict:
    row = {"feature_key": key, "ord": ord_, "changeset": cs.id, "valid_from": cs.time,
           "geom_wkb": rowmod.geometry_value(wkb, store.dialect, store.srid)}
    row.update({f: v for (f, _), v in zip(fields, values, strict=True)})
    return row


def insert_rows(store, conn: sa.Connection, name: str, rows: list[dict]) -> None:
    """Insert version rows (dicts with the columns and ``geom_wkb``) into a layer's table."""
    t = store.layer_tables[name]
    stmt = t.insert().values(geom=rowmod.geometry_insert(store.dialect, store.srid))
    conn.execute(stmt, rows)


def _write_meta(store, conn: sa.Connection, meta: dict, cs) -> bool:
    """Record dataset properties that differ from the current ones; return whether any did."""
    t = store.tables["meta"]
    current = {r.name: (r.id, r.value) for r in conn.execute(sa.select(t.c.id, t.c.name, t.c.value)
                                                              .where(t.c.ended_by.is_(None)))}
    texts = {k: json.dumps(v, sort_keys=True, ensure_ascii=False) for k, v in meta.items()}
    end = [i for k, (i, v) in current.items() if texts.get(k) != v]
    new = [{"name": k, "value": v, "changeset": cs.id} for k, v in texts.items()
           if k not in current or current[k][1] != v]
    if end:
        conn.execute(t.update().where(t.c.id.in_(end)).values(ended_by=cs.id))
    if new:
        conn.execute(t.insert(), new)
    return bool(end or new)
