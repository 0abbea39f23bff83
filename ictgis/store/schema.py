"""The store's tables as SQLAlchemy objects, for one dialect (GeoPackage/SQLite or PostgreSQL + PostGIS).

- ``changesets``: one row per import, edit or upload (author, UTC time, message, source file, kind).
- one table per layer of `ictgis.layers.SCHEMAS` holding every version of every feature: ``feature_key`` (the
  layer's id or code), the schema's attributes as typed columns, ``geom`` in the working CRS, ``ord`` (row order in
  the file imported, kept across later imports that keep it), ``changeset`` (the changeset that made this version,
  also its *version number*), ``ended_by`` (the changeset that replaced or removed it; NULL = current),
  ``valid_from`` and ``valid_to`` (their times; NULL = current); a view ``<layer>_current`` with the current versions.
- ``meta``: versioned dataset properties (column order per layer, official area, the DEM's checksum).
- ``cells``: every version of every row of the optional cells table (no geometry: a cell stands at its site),
  keyed by its cell id (or ``<site>-<n>``), with ``ord``, ``changeset``, ``ended_by``, ``valid_from``/``valid_to``.
- ``rasters``: the DEM and land-cover GeoTIFFs by checksum; ``store_info``: the working CRS's EPSG code.
- ``users`` and ``scenario_runs``: shared by every server process using the store. A run's record: scenario
  ``name``, ``status``, ``parameters`` (JSON), ``outputs`` (the folder of its output files), ``owner``, ``message``
  and ``progress``, ``error``, ``started``/``finished``, ``dataset_version``, the worker's ``pid`` and the
  ``server`` running it, ``result`` and ``files`` (JSON), ``version`` (optimistic updates).

Attributes are typed columns, not one JSON column: QGIS, ArcGIS and SQL see and filter real fields, and values
keep their types (an int stays an int) on both backends.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator, UserDefinedType

from ..layers import CELLS, SCHEMAS

DTYPES = {"str": sa.Text, "enum": sa.Text, "int": sa.BigInteger, "float": sa.Float, "bool": sa.Boolean}
RUN_STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ROLES = ("planner", "viewer")
CHANGESET_KINDS = ("import", "edit", "upload")
LAYER_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    name: tuple((f.name, "str" if f.dtype == "enum" else f.dtype) for f in s.fields) for name, s in SCHEMAS.items()}
"""Layer → (attribute, type) of the current `ictgis.layers` schemas (the migrations freeze their own copy)."""
CELL_FIELDS: tuple[tuple[str, str], ...] = tuple((f.name, "str" if f.dtype == "enum" else f.dtype)
                                                 for f in CELLS.fields)
"""(attribute, type) of the cells table (`ictgis.layers.CELLS`; migration 0003 freezes its copy)."""


class UTCTime(TypeDecorator):
    """A UTC time: ``timestamptz`` on PostgreSQL, GeoPackage ``DATETIME`` text (``…T…Z``) on SQLite."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        """Return the column type of the dialect."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(GpkgDateTime())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        """Store aware times in UTC (naive times are taken as UTC)."""
        if value is None:
            return None
        value = value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        """Return aware UTC times."""
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


class GpkgDateTime(UserDefinedType):
    """A GeoPackage ``DATETIME``: text ``YYYY-MM-DDTHH:MM:SS.SSSZ`` (UTC, milliseconds), as GDAL reads it."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        """Return the declared column type."""
        return "DATETIME"

    def bind_processor(self, dialect):
        """Format naive UTC times."""
        def process(value):
            if value is None:
                return None
            return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
        return process

    def result_processor(self, dialect, coltype):
        """Parse the text back into naive UTC times."""
        def process(value):
            if value is None:
                return None
            return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)
        return process


class GpkgGeometry(UserDefinedType):
    """A GeoPackage geometry column (``GEOMETRY``, GeoPackage binary blobs; see `ictgis.store.gpkg`)."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        """Return the declared column type."""
        return "GEOMETRY"


def geometry_type(dialect: str, srid: int):
    """Return the geometry column type: GeoAlchemy2's PostGIS geometry, or a GeoPackage blob column."""
    if dialect == "postgresql":
        from geoalchemy2 import Geometry

        return Geometry(geometry_type="GEOMETRY", srid=srid, spatial_index=False)
    return GpkgGeometry()


def _int(dialect: str):
    return sa.BigInteger() if dialect == "postgresql" else sa.Integer()


def column_type(dtype: str, dialect: str):
    """Return the SQL type of a schema attribute type (``str``, ``int``, ``float``, ``bool``, ``enum``)."""
    if dtype == "int":
        return _int(dialect)
    if dtype == "float":
        return sa.Double()  # double precision; GeoPackage DOUBLE (its FLOAT is 4 bytes)
    return DTYPES[dtype]()


RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("progress", "float"), ("error", "text"), ("traceback", "text"), ("started", "time"), ("finished", "time"),
    ("dataset_version", "int"), ("pid", "int"), ("server", "text"), ("result", "text"), ("files", "text"))
"""Columns of ``scenario_runs`` added after the first schema (migration 0004 freezes its copy)."""
_RUN_TYPES = {"float": sa.Double, "text": sa.Text, "time": UTCTime, "int": sa.Integer}


def core_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """Add the tables other than the layers, as the first schema (0001) made them, to `metadata`; return them.

    Migration 0001 creates its tables with this function: later columns are added by `store_tables` (and by
    their own migration), never here.
    """
    changesets = sa.Table(
        "changesets", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("time", UTCTime(), nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("kind", sa.Text, nullable=False),
        sa.CheckConstraint("kind IN ('import', 'edit', 'upload')", name="ck_changesets_kind"),
        sqlite_autoincrement=True)
    meta = sa.Table(
        "meta", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("changeset", sa.Integer, sa.ForeignKey("changesets.id"), nullable=False),
        sa.Column("ended_by", sa.Integer, sa.ForeignKey("changesets.id")),
        sa.Index("ux_meta_current", "name", unique=True, sqlite_where=sa.text("ended_by IS NULL"),
                 postgresql_where=sa.text("ended_by IS NULL")),
        sqlite_autoincrement=True)
    rasters = sa.Table(
        "rasters", metadata,
        sa.Column("sha256", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False))
    info = sa.Table(
        "store_info", metadata,
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False))
    users = sa.Table(
        "users", metadata,
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("created", UTCTime(), nullable=False),
        sa.CheckConstraint("role IN ('planner', 'viewer')", name="ck_users_role"))
    runs = sa.Table(
        "scenario_runs", metadata,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("outputs", sa.Text),
        sa.Column("owner", sa.Text),
        sa.Column("message", sa.Text),
        sa.Column("created", UTCTime(), nullable=False),
        sa.Column("updated", UTCTime(), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')",
                           name="ck_runs_status"),
        sa.Index("ix_runs_status", "status"))
    return {"changesets": changesets, "meta": meta, "rasters": rasters, "store_info": info, "users": users,
            "scenario_runs": runs}


def layer_table(metadata: sa.MetaData, name: str, fields: tuple[tuple[str, str], ...], *, srid: int,
                dialect: str) -> sa.Table:
    """Add the version table of one layer to `metadata` (see the module docstring for its columns)."""
    return sa.Table(
        name, metadata,
        sa.Column("fid", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("feature_key", sa.Text, nullable=False),
        *(sa.Column(f, column_type(t, dialect)) for f, t in fields),
        sa.Column("geom", geometry_type(dialect, srid)),
        sa.Column("ord", sa.Double, nullable=False),
        sa.Column("changeset", sa.Integer, sa.ForeignKey("changesets.id"), nullable=False),
        sa.Column("ended_by", sa.Integer, sa.ForeignKey("changesets.id")),
        sa.Column("valid_from", UTCTime(), nullable=False),
        sa.Column("valid_to", UTCTime()),
        sa.Index(f"ix_{name}_key", "feature_key"),
        sa.Index(f"ux_{name}_current", "feature_key", unique=True, sqlite_where=sa.text("ended_by IS NULL"),
                 postgresql_where=sa.text("ended_by IS NULL")),
        sa.Index(f"ix_{name}_span", "changeset", "ended_by"),
        sa.Index(f"ix_{name}_valid", "valid_from", "valid_to"),
        sqlite_autoincrement=True)


def cells_table(metadata: sa.MetaData, fields: tuple[tuple[str, str], ...], *, dialect: str) -> sa.Table:
    """Add the version table of the cells (a layer table without geometry) to `metadata`."""
    return sa.Table(
        "cells", metadata,
        sa.Column("fid", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("feature_key", sa.Text, nullable=False),
        *(sa.Column(f, column_type(t, dialect)) for f, t in fields),
        sa.Column("ord", sa.Double, nullable=False),
        sa.Column("changeset", sa.Integer, sa.ForeignKey("changesets.id"), nullable=False),
        sa.Column("ended_by", sa.Integer, sa.ForeignKey("changesets.id")),
        sa.Column("valid_from", UTCTime(), nullable=False),
        sa.Column("valid_to", UTCTime()),
        sa.Index("ux_cells_current", "feature_key", unique=True, sqlite_where=sa.text("ended_by IS NULL"),
                 postgresql_where=sa.text("ended_by IS NULL")),
        sa.Index("ix_cells_span", "changeset", "ended_by"),
        sqlite_autoincrement=True)


def current_view_sql(name: str, fields: tuple[tuple[str, str], ...], *, geometry: bool = True) -> str:
    """Return SQL creating the view of a layer's current versions (``<layer>_current``)."""
    cols = ", ".join(["fid", "feature_key", *(f'"{f}"' for f, _ in fields), *(["geom"] if geometry else []),
                      "changeset AS version", "valid_from"])
    return f'CREATE VIEW "{name}_current" AS SELECT {cols} FROM "{name}" WHERE ended_by IS NULL'


def store_tables(*, srid: int, dialect: str) -> tuple[sa.MetaData, dict[str, sa.Table], dict[str, sa.Table]]:
    """Return (metadata, core tables, layer tables) for the current layer schemas."""
    metadata = sa.MetaData()
    core = core_tables(metadata)
    core["cells"] = cells_table(metadata, CELL_FIELDS, dialect=dialect)
    for name, kind in RUN_COLUMNS:
        core["scenario_runs"].append_column(sa.Column(name, _RUN_TYPES[kind]()))
    layers = {name: layer_table(metadata, name, fields, srid=srid, dialect=dialect)
              for name, fields in LAYER_FIELDS.items()}
    return metadata, core, layers
