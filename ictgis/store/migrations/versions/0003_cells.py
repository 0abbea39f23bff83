"""The cells (sectors) table: every version of every row of a data folder's optional ``cells`` table.

A cell has no geometry of its own (it stands at its site): on SQLite the table is a GeoPackage attributes table.
Land cover needs no table: it is kept like the DEM, by checksum in ``rasters`` (``meta`` ``landcover``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from ictgis.store import gpkg
from ictgis.store.schema import cells_table, current_view_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The cells' fields at this revision, frozen (ictgis.layers.CELLS).
CELLS = (("site", "str"), ("cell", "str"), ("tech", "str"), ("azimuth", "float"), ("tilt", "float"),
         ("beamwidth", "float"), ("gain_dbi", "float"), ("band_mhz", "float"), ("height_m", "float"),
         ("power_dbm", "float"), ("pattern", "str"))


def upgrade() -> None:
    """Create the cells table and its current view (registered in the GeoPackage on SQLite)."""
    bind = op.get_bind()
    dialect = bind.dialect.name
    metadata = sa.MetaData()
    sa.Table("changesets", metadata, sa.Column("id", sa.Integer, primary_key=True))
    cells_table(metadata, CELLS, dialect=dialect).create(bind)
    op.execute(current_view_sql("cells", CELLS, geometry=False))
    if dialect == "sqlite":
        srid = int(context.config.attributes["srid"])
        for table, text in (("cells", "cells: every version"), ("cells_current", "cells: current versions")):
            for sql, params in gpkg.register_statements(table, geometry_column=None, srid=srid, description=text):
                bind.execute(sa.text(sql), params)
