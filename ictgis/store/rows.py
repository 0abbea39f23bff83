"""Feature rows between frames and the version tables: keys, normalised attribute values, geometry encoding."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from ..layers import LayerSchema
from . import gpkg

PANDAS_DTYPES = {"str": object, "int": "Int64", "float": "Float64", "bool": "boolean"}
"""Pandas dtype of each schema type, as `ictgis.io.load` returns them."""


def plain(value: object, dtype: str) -> object:
    """Return a cell as a plain Python value of its schema type, or None when missing.

    Examples
    --------
    >>> plain(float("nan"), "float") is None, plain(3.0, "int"), plain("x", "str")
    (True, 3, 'x')
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if dtype == "int":
        return int(value)  # type: ignore[call-overload]
    if dtype == "float":
        return float(value)  # type: ignore[arg-type]
    if dtype == "bool":
        return bool(value)
    return str(value)


def records(frame: pd.DataFrame, fields: Sequence[tuple[str, str]]) -> list[tuple]:
    """Return each row's attribute values (None for missing or absent columns), in `fields` order."""
    columns = []
    for name, dtype in fields:
        if name in frame.columns:
            columns.append([plain(v, dtype) for v in frame[name].astype(object).tolist()])
        else:
            columns.append([None] * len(frame))
    return list(zip(*columns, strict=True)) if columns else [() for _ in range(len(frame))]


#: Grid (working-CRS metres) on which geometries are compared: a move under about 1 cm is not a change (a VN-2000
#: point uploaded as WGS 84 GeoJSON comes back about 1 mm away: the datum shift's round trip).
COMPARE_GRID_M = 0.01


def normal_wkb(geoms, *, canonical: bool = False) -> list[bytes | None]:
    """Return ISO little-endian WKB of geometries.

    With `canonical`, of their normal form (`shapely.normalize`: rings oriented and started alike, parts sorted)
    on a grid of `COMPARE_GRID_M`, the form compared to tell a changed geometry: a shapefile's clockwise ring and
    a GeoPackage's counter-clockwise one of the same polygon are equal, and so are the points of a layer uploaded
    as WGS 84 GeoJSON and projected back (they move by about a millimetre).
    """
    arr = np.asarray(list(geoms), dtype=object)
    if canonical:
        arr = np.asarray(shapely.normalize(shapely.set_precision(arr, COMPARE_GRID_M, mode="pointwise")),
                         dtype=object)
    out: list[bytes | None] = [None] * len(arr)
    present = np.array([g is not None for g in arr], dtype=bool)
    if present.any():
        for i, w in zip(np.flatnonzero(present), shapely.to_wkb(arr[present], flavor="iso", byte_order=1),
                        strict=True):
            out[i] = w
    return out


def feature_keys(frame: gpd.GeoDataFrame, schema: LayerSchema, wkbs: Sequence[bytes | None]) -> list[str]:
    """Return the stable key of each feature: its id (or code), else a digest of its content.

    A layer without an id field (roads) uses its ``id`` column when every row has a distinct one; otherwise each
    feature is keyed by a digest of its attributes and geometry (``#`` + 16 hex digits; equal features get ``~2``,
    ``~3`` …), so an edited road shows as one removed and one added.
    """
    column = schema.id_field or "id"
    if column in frame.columns:
        values = frame[column].astype(object).tolist()
        texts = [None if plain(v, "str") is None else str(v) for v in values]
        if all(t is not None and t != "" for t in texts) and len(set(texts)) == len(texts):
            return [str(t) for t in texts]
    fields = [(f.name, f.dtype) for f in schema.fields]
    keys: list[str] = []
    seen: dict[str, int] = {}
    for attrs, wkb in zip(records(frame, fields), wkbs, strict=True):
        digest = "#" + hashlib.sha1(repr(attrs).encode() + (wkb or b"")).hexdigest()[:16]
        seen[digest] = seen.get(digest, 0) + 1
        keys.append(digest if seen[digest] == 1 else f"{digest}~{seen[digest]}")
    return keys


def geometry_select(column: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    """Return the select expression returning a geometry column as WKB (PostGIS) or a GeoPackage blob (SQLite)."""
    if dialect == "postgresql":
        return sa.func.ST_AsBinary(column, type_=sa.LargeBinary).label("geom")
    return sa.type_coerce(column, sa.LargeBinary).label("geom")


def wkb_from_db(values: Sequence[bytes | None], dialect: str) -> list[bytes | None]:
    """WKB of geometry values as `geometry_select` returns them."""
    if dialect == "postgresql":
        return [None if v is None else bytes(v) for v in values]
    return [gpkg.wkb_of(v) for v in values]


def geometry_value(wkb: bytes | None, dialect: str, srid: int) -> bytes | None:
    """Return the value bound for a geometry on insert: WKB (PostGIS, wrapped by `geometry_insert`) or a blob."""
    if wkb is None or dialect == "postgresql":
        return wkb
    return gpkg.encode([shapely.from_wkb(wkb)], srid)[0]


def geometry_insert(dialect: str, srid: int):
    """Return the insert expression for the ``geom`` bind parameter ``geom_wkb``."""
    param = sa.bindparam("geom_wkb", type_=sa.LargeBinary)
    if dialect == "postgresql":
        return sa.func.ST_GeomFromWKB(param, srid)
    return param


def frame_from_rows(rows: Sequence, columns: Sequence[str], fields: dict[str, str], crs, *,
                    extra: Sequence[str] = ()) -> gpd.GeoDataFrame:
    """Build a layer frame (schema dtypes, ``geometry`` last, index 0..n-1) from rows of a version table.

    Parameters
    ----------
    rows
        Mappings with the attribute columns, ``geom`` (WKB) and the `extra` columns.
    columns
        Attribute columns, in order; ``geometry`` among them puts the geometry column there (else last).
    fields
        Attribute → schema type.
    crs
        CRS of the geometries.
    extra
        Other columns kept before the attributes (``feature_key``, ``version``).
    """
    order = list(columns)
    columns = [c for c in order if c != "geometry"]
    data: dict[str, pd.Series] = {}
    index = pd.RangeIndex(len(rows))
    for name in extra:
        data[name] = pd.Series([r[name] for r in rows], index=index, dtype=object)
    for name in columns:
        data[name] = pd.Series([r[name] for r in rows], index=index, dtype=PANDAS_DTYPES.get(fields[name], object))
    geoms = shapely.from_wkb([r["geom"] for r in rows]) if rows else np.array([], dtype=object)
    frame = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, index=index, crs=crs), crs=crs)
    if "geometry" in order:  # the geometry's place in the file's columns
        frame = frame[[*extra, *order]]
    return frame
