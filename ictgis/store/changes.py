"""What changed between two states of the store: keys per layer, or the changed features themselves.

The cells table counts as a layer named ``cells`` (key: the cell id), listed after the layers; a cell has no
geometry of its own (it stands at its site).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa

from ..layers import LAYER_NAMES
from . import rows as rowmod
from .schema import CELL_FIELDS, LAYER_FIELDS

CHANGE_KINDS = ("added", "removed", "changed")
CELLS = "cells"
"""Name of the cells table among the layers of a diff."""


def _states(store, from_, to, *, cells: bool = True):
    """Yield (layer, rows as of `from_` by key, rows as of `to` by key) for layers present in either state.

    Only the rows of keys touched between the two states are read (`_touched`): a change of one feature reads
    two rows, not two whole layers.
    """
    with store.reading() as conn:
        a = store.resolve(from_, conn=conn)
        b = store.resolve(to, conn=conn)
        meta_a, meta_b = store.meta(a, conn=conn), store.meta(b, conn=conn)
        out = []
        for name in LAYER_NAMES:
            if f"columns:{name}" not in meta_a and f"columns:{name}" not in meta_b:
                continue
            touched = _touched(store, name, a, b)
            old = {r["feature_key"]: r for r in store.version_rows(name, a, conn=conn, keys=touched)}
            new = {r["feature_key"]: r for r in store.version_rows(name, b, conn=conn, keys=touched)}
            out.append((name, old, new, meta_b.get(f"columns:{name}") or meta_a.get(f"columns:{name}")))
        if cells and ("columns:cells" in meta_a or "columns:cells" in meta_b):
            touched = _touched(store, CELLS, a, b)
            old = {r["feature_key"]: r for r in _cell_rows(store, conn, a, touched)}
            new = {r["feature_key"]: r for r in _cell_rows(store, conn, b, touched)}
            out.append((CELLS, old, new, meta_b.get("columns:cells") or meta_a.get("columns:cells")))
    return out


def _cell_rows(store, conn, as_of: int, keys: sa.Select) -> list:
    """Rows of the cells alive at changeset `as_of` among `keys` (``fid``, ``feature_key``, ``version``, fields)."""
    t = store.tables[CELLS]
    alive = sa.and_(t.c.changeset <= as_of, sa.or_(t.c.ended_by.is_(None), t.c.ended_by > as_of))
    query = (sa.select(t.c.fid, t.c.feature_key, t.c.changeset.label("version"), *(t.c[f] for f, _ in CELL_FIELDS))
             .where(alive, t.c.feature_key.in_(keys)).order_by(t.c.ord, t.c.fid))
    return [dict(r) for r in conn.execute(query).mappings()]


def _touched(store, name: str, a: int, b: int) -> sa.Select:
    """Keys with a version made or ended between the two states: only they can differ (others keep one row)."""
    t = store.tables[CELLS] if name == CELLS else store.layer_tables[name]
    lo, hi = min(a, b), max(a, b)
    return sa.select(t.c.feature_key).where(sa.or_(sa.and_(t.c.changeset > lo, t.c.changeset <= hi),
                                                   sa.and_(t.c.ended_by > lo, t.c.ended_by <= hi)))


def _same(name: str, r1, r2) -> bool:
    if r1["fid"] == r2["fid"]:
        return True
    fields = [f for f, _ in (CELL_FIELDS if name == CELLS else LAYER_FIELDS[name])]
    if any(r1[f] != r2[f] for f in fields):
        return False
    if name == CELLS:
        return True
    g1, g2 = (None if r["geom"] is None else rowmod.normal_wkb([_shape(r["geom"])], canonical=True)[0]
              for r in (r1, r2))
    return g1 == g2


def _shape(wkb):
    import shapely

    return shapely.from_wkb(wkb)


def _classify(name, old, new) -> dict[str, list[str]]:
    return {"added": sorted(k for k in new if k not in old),
            "removed": sorted(k for k in old if k not in new),
            "changed": sorted(k for k in new if k in old and not _same(name, old[k], new[k]))}


def diff(store, from_, to) -> dict[str, dict[str, list[str]]]:
    """Keys added, removed and changed per layer (see `ictgis.store.Store.diff`)."""
    return {name: _classify(name, old, new) for name, old, new, _ in _states(store, from_, to)}


def diff_layers(store, from_, to, *, cells: bool = False) -> dict[str, gpd.GeoDataFrame]:
    """Return the changed features per layer (see `ictgis.store.Store.diff_layers`)."""
    out = {}
    for name, old, new, columns in _states(store, from_, to, cells=cells):
        kinds = _classify(name, old, new)
        rows, change = [], []
        for kind in CHANGE_KINDS:
            for key in kinds[kind]:
                rows.append(old[key] if kind == "removed" else new[key])
                change.append(kind)
        if name == CELLS:  # no geometry of their own: an empty one (GeoPackage keeps it as a table with rows)
            rows = [r | {"geom": None} for r in rows]
            columns = [c for c in columns if c in dict(CELL_FIELDS)]
        fields = dict(CELL_FIELDS if name == CELLS else LAYER_FIELDS[name])
        frame = rowmod.frame_from_rows(rows, columns, fields, store.crs, extra=("feature_key", "version"))
        frame.insert(0, "change", pd.Series(change, index=frame.index, dtype=object))
        out[name] = frame
    return out
