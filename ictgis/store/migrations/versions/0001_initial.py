"""The first schema: changesets, one version table and current view per layer, meta, rasters, users, runs.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from ictgis.store import gpkg
from ictgis.store.schema import core_tables, current_view_sql, layer_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The layer schemas of this revision, frozen: a later change of ictgis.layers needs its own migration.
LAYERS = {
    "communes": (("code", "str"), ("name", "str"), ("population", "int"), ("households", "int"),
                 ("district", "str"), ("dist_code", "str"), ("kind", "str"), ("radio", "bool")),
    "villages": (("id", "str"), ("name", "str"), ("commune", "str"), ("population", "int"), ("households", "int"),
                 ("fiber", "bool"), ("poor", "bool"), ("minority", "bool"), ("school", "bool"), ("health", "bool")),
    "bts_sites": (("id", "str"), ("operator", "str"), ("tech", "str"), ("band_mhz", "float"), ("height_m", "float"),
                  ("power", "str"), ("commune", "str")),
    "fiber_routes": (("id", "str"), ("kind", "str"), ("install", "str"), ("operator", "str")),
    "post_offices": (("id", "str"), ("name", "str"), ("kind", "str"), ("commune", "str")),
    "roads": (("id", "str"), ("road_class", "str"), ("name", "str")),
    "districts": (("code", "str"), ("name", "str")),
}


def upgrade() -> None:
    """Create every table, view and index; on SQLite also make the file a GeoPackage that lists them."""
    bind = op.get_bind()
    dialect = bind.dialect.name
    srid = int(context.config.attributes["srid"])
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    else:
        op.execute(f"PRAGMA application_id = {gpkg.APPLICATION_ID}")
        op.execute(f"PRAGMA user_version = {gpkg.USER_VERSION}")
        for sql, params in gpkg.core_statements(srid):
            bind.execute(sa.text(sql), params)
    metadata = sa.MetaData()
    core_tables(metadata)
    for name, fields in LAYERS.items():
        layer_table(metadata, name, fields, srid=srid, dialect=dialect)
    metadata.create_all(bind)
    bind.execute(sa.text("INSERT INTO store_info (name, value) VALUES ('srid', :s)"), {"s": str(srid)})
    for name, fields in LAYERS.items():
        op.execute(current_view_sql(name, fields))
        if dialect == "postgresql":
            op.execute(f'CREATE INDEX "ix_{name}_geom" ON "{name}" USING gist (geom)')
            continue
        for table, rtree, text in ((name, True, f"{name}: every version (valid_from … valid_to)"),
                                   (f"{name}_current", False, f"{name}: current versions")):
            for sql, params in gpkg.register_statements(table, geometry_column="geom", srid=srid, description=text,
                                                        rtree=rtree):
                bind.execute(sa.text(sql), params)
    if dialect == "sqlite":
        for sql, params in gpkg.register_statements("changesets", geometry_column=None, srid=srid,
                                                    description="changesets (imports, edits, uploads)"):
            bind.execute(sa.text(sql), params)
