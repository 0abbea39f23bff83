"""GeoPackage pieces the store needs without SpatiaLite: the geometry blob codec and the registration tables.

A GeoPackage is an SQLite file with an application id, a few ``gpkg_*`` tables describing its feature tables, and
geometries stored as *GeoPackage binary* blobs (a small header with the SRS id and envelope, then ISO WKB). The
R-tree spatial index of each geometry column is kept up to date by the standard triggers, which call ``ST_MinX``,
``ST_IsEmpty`` …: GDAL and QGIS define these functions, and `register_functions` defines them on the store's own
connections. See the GeoPackage 1.3 standard (OGC 12-128r18), §2.1.3 (binary format) and §F.3 (R-tree).
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterable

import numpy as np
import shapely

APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10300  # GeoPackage 1.3.0
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def encode(geoms: Iterable[shapely.Geometry | None], srid: int) -> list[bytes | None]:
    """Encode geometries as GeoPackage binary blobs (little-endian, XY envelope); None stays None.

    Examples
    --------
    >>> blob = encode([shapely.Point(1, 2)], 9205)[0]
    >>> blob[:2], decode([blob])[0].wkt
    (b'GP', 'POINT (1 2)')
    """
    arr = np.asarray(list(geoms), dtype=object)
    out: list[bytes | None] = [None] * len(arr)
    present = np.array([g is not None for g in arr], dtype=bool)
    if not present.any():
        return out
    real = arr[present]
    wkbs = shapely.to_wkb(real, flavor="iso", byte_order=1)
    bounds = shapely.bounds(real)
    empty = shapely.is_empty(real)
    for i, wkb, box, is_empty in zip(np.flatnonzero(present), wkbs, bounds, empty, strict=True):
        if is_empty:
            out[i] = b"GP\x00" + bytes([0b00010001]) + struct.pack("<i", srid) + wkb
        else:
            out[i] = b"GP\x00\x03" + struct.pack("<i4d", srid, box[0], box[2], box[1], box[3]) + wkb
    return out


def header_size(blob: bytes) -> int:
    """Return the length of a GeoPackage binary header (8 bytes plus the envelope)."""
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob")
    return 8 + _ENVELOPE_BYTES[(blob[3] >> 1) & 0b111]


def wkb_of(blob: bytes | None) -> bytes | None:
    """Return the WKB part of a GeoPackage binary blob."""
    return None if blob is None else bytes(blob[header_size(blob):])


def decode(blobs: Iterable[bytes | None]) -> np.ndarray:
    """Decode GeoPackage binary blobs into shapely geometries (None stays None)."""
    return shapely.from_wkb([wkb_of(b) for b in blobs])


def _envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) of a blob, from its header or, when absent, from the geometry."""
    if blob is None:
        return None
    blob = bytes(blob)
    if (blob[3] >> 4) & 1:  # empty
        return None
    if (blob[3] >> 1) & 0b111:
        fmt = "<4d" if blob[3] & 1 else ">4d"
        minx, maxx, miny, maxy = struct.unpack(fmt, blob[8:40])
        return minx, maxx, miny, maxy
    geom = shapely.from_wkb(wkb_of(blob))
    if geom.is_empty:
        return None
    x0, y0, x1, y1 = geom.bounds
    return x0, x1, y0, y1


def _part(index: int):
    def fn(blob):
        env = _envelope(blob)
        return None if env is None else env[index]
    return fn


def _is_empty(blob) -> int | None:
    if blob is None:
        return None
    return int(_envelope(blob) is None)


def register_functions(connection: sqlite3.Connection) -> None:
    """Define ``ST_MinX``, ``ST_MaxX``, ``ST_MinY``, ``ST_MaxY`` and ``ST_IsEmpty`` on an SQLite connection."""
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        connection.create_function(name, 1, _part(i), deterministic=True)
    connection.create_function("ST_IsEmpty", 1, _is_empty, deterministic=True)


CORE_DDL = (
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
    organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
    description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
    identifier TEXT UNIQUE, description TEXT DEFAULT '',
    last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
    CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
    geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
    CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
    CONSTRAINT uk_gc_table_name UNIQUE (table_name),
    CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
    CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
    definition TEXT NOT NULL, scope TEXT NOT NULL,
    CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))""",
)


def core_statements(srid: int) -> list[tuple[str, dict]]:
    """Return SQL creating the GeoPackage tables and the spatial reference systems (-1, 0, 4326 and `srid`)."""
    from pyproj import CRS

    def wkt(code: int) -> str:
        return CRS.from_epsg(code).to_wkt("WKT1_GDAL")

    refs = [("Undefined Cartesian SRS", -1, "NONE", -1, "undefined"),
            ("Undefined geographic SRS", 0, "NONE", 0, "undefined"),
            ("WGS 84 geodetic", 4326, "EPSG", 4326, wkt(4326))]
    if srid != 4326:
        refs.append((CRS.from_epsg(srid).name, srid, "EPSG", srid, wkt(srid)))
    out: list[tuple[str, dict]] = [(s, {}) for s in CORE_DDL]
    for name, code, org, org_id, definition in refs:
        out.append(("INSERT OR IGNORE INTO gpkg_spatial_ref_sys (srs_name, srs_id, organization, "
                    "organization_coordsys_id, definition) VALUES (:n, :c, :o, :oid, :d)",
                    {"n": name, "c": code, "o": org, "oid": org_id, "d": definition}))
    return out


def register_statements(table: str, *, geometry_column: str | None, srid: int, description: str = "",
                        rtree: bool = True) -> list[tuple[str, dict]]:
    """Return SQL registering a table or view in ``gpkg_contents`` (and its geometry column and R-tree index).

    A table without geometry is registered as ``attributes`` (QGIS shows it as a table).
    """
    kind = "features" if geometry_column else "attributes"
    out: list[tuple[str, dict]] = [(
        "INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
        "VALUES (:t, :k, :t, :d, :s)", {"t": table, "k": kind, "d": description,
                                        "s": srid if geometry_column else None})]
    if not geometry_column:
        return out
    out.append(("INSERT OR REPLACE INTO gpkg_geometry_columns VALUES (:t, :c, 'GEOMETRY', :s, 0, 0)",
                {"t": table, "c": geometry_column, "s": srid}))
    if not rtree:
        return out
    r, t, c, i = f"rtree_{table}_{geometry_column}", table, geometry_column, "fid"
    vals = f"(NEW.{i}, ST_MinX(NEW.{c}), ST_MaxX(NEW.{c}), ST_MinY(NEW.{c}), ST_MaxY(NEW.{c}))"
    out += [(s, {}) for s in (
        f'CREATE VIRTUAL TABLE "{r}" USING rtree(id, minx, maxx, miny, maxy)',
        f'CREATE TRIGGER "{r}_insert" AFTER INSERT ON "{t}" WHEN (new.{c} NOT NULL AND NOT ST_IsEmpty(NEW.{c})) '
        f'BEGIN INSERT OR REPLACE INTO "{r}" VALUES {vals}; END',
        f'CREATE TRIGGER "{r}_update1" AFTER UPDATE OF {c} ON "{t}" WHEN OLD.{i} = NEW.{i} AND '
        f'(NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c})) BEGIN INSERT OR REPLACE INTO "{r}" VALUES {vals}; END',
        f'CREATE TRIGGER "{r}_update2" AFTER UPDATE OF {c} ON "{t}" WHEN OLD.{i} = NEW.{i} AND '
        f'(NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c})) BEGIN DELETE FROM "{r}" WHERE id = OLD.{i}; END',
        f'CREATE TRIGGER "{r}_update3" AFTER UPDATE ON "{t}" WHEN OLD.{i} != NEW.{i} AND '
        f'(NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c})) BEGIN DELETE FROM "{r}" WHERE id = OLD.{i}; '
        f'INSERT OR REPLACE INTO "{r}" VALUES {vals}; END',
        f'CREATE TRIGGER "{r}_update4" AFTER UPDATE ON "{t}" WHEN OLD.{i} != NEW.{i} AND '
        f'(NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c})) BEGIN DELETE FROM "{r}" WHERE id IN (OLD.{i}, NEW.{i}); END',
        f'CREATE TRIGGER "{r}_delete" AFTER DELETE ON "{t}" WHEN old.{c} NOT NULL '
        f'BEGIN DELETE FROM "{r}" WHERE id = OLD.{i}; END',
    )]
    out.append(("INSERT OR REPLACE INTO gpkg_extensions VALUES (:t, :c, 'gpkg_rtree_index', "
                "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')", {"t": table, "c": c}))
    return out
