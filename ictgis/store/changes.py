"""What changed between two states of the store: keys per layer, or the changed features themselves."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa

from ..layers import LAYER_NAMES
from . import rows as rowmod
from .schema import LAYER_FIELDS

CHANGE_KINDS = ("added", "removed", "changed")


def _states(store, from_, to):
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
    return out


def _touched(store, name: str, a: int, b: int) -> sa.Select:
    """Keys with a version made or ended between the two states: only they can differ (others keep one row)."""
    t = store.layer_tables[name]
    lo, hi = min(a, b), max(a, b)
    return sa.select(t.c.feature_key).where(sa.or_(sa.and_(t.c.changeset > lo, t.c.changeset <= hi),
                                                   sa.and_(t.c.ended_by > lo, t.c.ended_by <= hi)))


def _same(name: str, r1, r2) -> bool:
    if r1["fid"] == r2["fid"]:
        return True
    fields = [f for f, _ in LAYER_FIELDS[name]]
    if any(r1[f] != r2[f] for f in fields):
        return False
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


def diff_layers(store, from_, to) -> dict[str, gpd.GeoDataFrame]:
    """Return the changed features per layer (see `ictgis.store.Store.diff_layers`)."""
    out = {}
    for name, old, new, columns in _states(store, from_, to):
        kinds = _classify(name, old, new)
        rows, change = [], []
        for kind in CHANGE_KINDS:
            for key in kinds[kind]:
                rows.append(old[key] if kind == "removed" else new[key])
                change.append(kind)
        frame = rowmod.frame_from_rows(rows, columns, dict(LAYER_FIELDS[name]), store.crs,
                                       extra=("feature_key", "version"))
        frame.insert(0, "change", pd.Series(change, index=frame.index, dtype=object))
        out[name] = frame
    return out
