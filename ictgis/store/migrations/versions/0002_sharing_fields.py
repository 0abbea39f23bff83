"""Fields for infrastructure sharing and IT radio: ``communes.radio_it`` and ``bts_sites.tower``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ictgis.store.schema import column_type, current_view_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The two layers' fields after this revision, frozen (0001's plus the new one at the end).
COMMUNES = (("code", "str"), ("name", "str"), ("population", "int"), ("households", "int"), ("district", "str"),
            ("dist_code", "str"), ("kind", "str"), ("radio", "bool"), ("radio_it", "bool"))
BTS_SITES = (("id", "str"), ("operator", "str"), ("tech", "str"), ("band_mhz", "float"), ("height_m", "float"),
             ("power", "str"), ("commune", "str"), ("tower", "str"))


def upgrade() -> None:
    """Add the two columns and rebuild the layers' current views with them."""
    dialect = op.get_bind().dialect.name
    for name, fields in (("communes", COMMUNES), ("bts_sites", BTS_SITES)):
        column, dtype = fields[-1]
        op.execute(f'DROP VIEW "{name}_current"')
        op.add_column(name, sa.Column(column, column_type(dtype, dialect), nullable=True))
        op.execute(current_view_sql(name, fields))

