"""Edits of single features with an optimistic version check: add, change, delete.

The version a client saw is the changeset id of the feature's current row. The write ends that row only ``WHERE
ended_by IS NULL AND changeset = :seen``, in a write transaction: a second planner saving the same feature finds no
such row and gets an `EditConflictError`, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import sqlalchemy as sa

from .. import settings
from .._errors import EditConflictError, LayerError, Problem, StoreError
from .._validate import Collector, check_attributes, check_geometries
from ..layers import SCHEMAS
from . import rows as rowmod
from .importer import insert_rows
from .schema import LAYER_FIELDS


def _check(store, conn, layer: str, key: str, attributes: Mapping[str, Any], geometry) -> tuple[tuple, bytes | None]:
    """Validate one feature like an imported row; return its attribute tuple and WKB."""
    schema = SCHEMAS[layer]
    unknown = sorted(set(attributes) - {f for f, _ in LAYER_FIELDS[layer]})
    if unknown:
        raise LayerError(f"{layer} {key}: unknown attributes", [Problem(layer, f"unknown attribute {u!r}", column=u,
                                                                        feature_id=key) for u in unknown])
    label = f"{layer} (edit)"
    frame = gpd.GeoDataFrame({k: [v] for k, v in attributes.items()}, geometry=[geometry], crs=store.crs)
    collector = Collector()
    frame = check_attributes(frame, schema, file=label, collector=collector)
    frame = check_geometries(frame, schema, file=label, collector=collector)
    geom = frame.geometry.iloc[0]
    if layer in ("villages", "bts_sites", "post_offices") and geom is not None and not collector.problems:
        _check_place(store, conn, frame, geom, label=label, key=key, collector=collector)
    collector.raise_if_any(f"{layer} {key}")
    return rowmod.records(frame, LAYER_FIELDS[layer])[0], rowmod.normal_wkb([geom])[0]


def _check_place(store, conn, frame, geom, *, label, key, collector) -> None:
    """Check that a point lies in the province and its commune code is a commune's."""
    from ..io import province_shape

    communes = store.version_rows("communes", None, conn=conn, columns=["code"])
    if not communes:
        return
    polys = gpd.GeoDataFrame({"code": [r["code"] for r in communes]},
                             geometry=shapely.from_wkb([r["geom"] for r in communes]), crs=store.crs)
    area = shapely.buffer(province_shape(polys), settings.province_tolerance_m)
    if not shapely.contains_xy(area, geom.x, geom.y):
        collector.add(label, "point lies outside the province", row=1, column="geometry", feature_id=key)
    code = frame["commune"].iloc[0] if "commune" in frame else None
    if code is not None and code is not np.nan and str(code) not in set(polys["code"]):
        collector.add(label, f"commune code {code!r} matches no commune", row=1, column="commune", feature_id=key)


def _current(store, conn, layer: str, key: str):
    rows = store.version_rows(layer, None, conn=conn, keys=[key])
    return rows[0] if rows else None


def _end(store, conn, layer: str, key: str, *, seen: int, cs) -> float:
    """End the current version if it is still `seen`; return its ord. Raises EditConflictError otherwise."""
    t = store.layer_tables[layer]
    row = _current(store, conn, layer, key)
    done = conn.execute(t.update().where(t.c.feature_key == key, t.c.ended_by.is_(None), t.c.changeset == seen)
                        .values(ended_by=cs.id, valid_to=cs.time))
    if done.rowcount != 1 or row is None:
        raise EditConflictError(layer, key, expected=seen, current=None if row is None else int(row["version"]))
    return float(row["ord"])


def _row(store, layer, key, values, wkb, ord_, cs) -> dict:
    row = {"feature_key": key, "ord": ord_, "changeset": cs.id, "valid_from": cs.time,
           "geom_wkb": rowmod.geometry_value(wkb, store.dialect, store.srid)}
    row.update({f: v for (f, _), v in zip(LAYER_FIELDS[layer], values, strict=True)})
    return row


def _layer_ok(store, layer: str) -> None:
    if layer not in SCHEMAS:
        raise StoreError(f"unknown layer {layer!r}")
    if layer == "communes":  # the polygons every check and indicator rests on: changed by import only
        raise StoreError("communes are changed by importing a data folder, not by editing on the map")


def edit_feature(store, layer, key, *, expected_version, author, message, attributes=None, geometry=None):
    """Change a feature (see `ictgis.store.Store.edit`)."""
    _layer_ok(store, layer)
    with store.writing() as conn:
        row = _current(store, conn, layer, key)
        if row is None or int(row["version"]) != int(expected_version):
            raise EditConflictError(layer, key, expected=expected_version,
                               current=None if row is None else int(row["version"]))
        attrs = {f: row[f] for f, _ in LAYER_FIELDS[layer]}
        attrs.update(attributes or {})
        id_field = SCHEMAS[layer].id_field
        if id_field and attrs.get(id_field) not in (None, key):
            raise StoreError(f"{layer} {key}: the {id_field} is the feature's key and cannot be edited; delete the "
                             "feature and add a new one")
        geom = geometry if geometry is not None else shapely.from_wkb(row["geom"])
        values, wkb = _check(store, conn, layer, key, attrs, geom)
        old = tuple(row[f] for f, _ in LAYER_FIELDS[layer])
        same_geom = rowmod.normal_wkb([shapely.from_wkb(wkb)], canonical=True) == rowmod.normal_wkb(
            [shapely.from_wkb(row["geom"])], canonical=True)
        if values == old and same_geom:
            return None
        cs = store.new_changeset(conn, author=author, message=message, kind="edit")
        ord_ = _end(store, conn, layer, key, seen=int(expected_version), cs=cs)
        insert_rows(store, conn, layer, [_row(store, layer, key, values, wkb, ord_, cs)])
    return cs


def add_feature(store, layer, key, *, attributes, geometry, author, message):
    """Add a feature (see `ictgis.store.Store.add`)."""
    _layer_ok(store, layer)
    attrs = dict(attributes)
    id_field = SCHEMAS[layer].id_field
    if id_field:
        attrs[id_field] = key
    with store.writing() as conn:
        row = _current(store, conn, layer, key)
        if row is not None:
            raise EditConflictError(layer, key, expected=None, current=int(row["version"]))
        values, wkb = _check(store, conn, layer, key, attrs, geometry)
        t = store.layer_tables[layer]
        last = conn.execute(sa.select(sa.func.max(t.c.ord))).scalar()
        cs = store.new_changeset(conn, author=author, message=message, kind="edit")
        ord_ = 0.0 if last is None else float(last) + 1
        insert_rows(store, conn, layer, [_row(store, layer, key, values, wkb, ord_, cs)])
    return cs


def delete_feature(store, layer, key, *, expected_version, author, message):
    """Remove a feature (see `ictgis.store.Store.delete`); a BTS site takes its cells (sectors) with it."""
    _layer_ok(store, layer)
    with store.writing() as conn:
        cells = _site_cells(store, conn, key) if layer == "bts_sites" else []
        if cells:
            n = len(cells)
            message = f"{message} (+ {n} cell{'s' if n > 1 else ''} of the site removed with it / xoá kèm {n} cell)"
        cs = store.new_changeset(conn, author=author, message=message, kind="edit")
        _end(store, conn, layer, key, seen=int(expected_version), cs=cs)
        if cells:
            t = store.tables["cells"]
            conn.execute(t.update().where(t.c.fid.in_(cells)).values(ended_by=cs.id, valid_to=cs.time))
    return cs


def _site_cells(store, conn, site: str) -> list[int]:
    """Row ids of the current cells of a BTS site."""
    t = store.tables["cells"]
    return [int(f) for f in conn.execute(sa.select(t.c.fid).where(t.c.site == site, t.c.ended_by.is_(None)))
            .scalars()]
