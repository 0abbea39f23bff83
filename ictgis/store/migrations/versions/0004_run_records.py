"""Run records in full: progress, errors, times, dataset version, worker, server and output files of each run.

The web app's job runner keeps its runs here instead of ``<instance>/runs/<id>/run.json`` (the outputs stay files
in that folder, named by ``outputs``), so that every server process using the store sees every run.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ictgis.store.schema import UTCTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The columns this revision adds to scenario_runs, frozen (ictgis.store.schema.RUN_COLUMNS is the current list).
COLUMNS = (("progress", "float"), ("error", "text"), ("traceback", "text"), ("started", "time"),
           ("finished", "time"), ("dataset_version", "int"), ("pid", "int"), ("server", "text"),
           ("result", "text"), ("files", "text"))
TYPES = {"float": sa.Double, "text": sa.Text, "time": UTCTime, "int": sa.Integer}


def upgrade() -> None:
    """Add the columns (all nullable) and an index on the creation time (run lists are newest first)."""
    for name, kind in COLUMNS:
        op.add_column("scenario_runs", sa.Column(name, TYPES[kind](), nullable=True))
    op.create_index("ix_runs_created", "scenario_runs", ["created"])
    op.create_index("ix_runs_server", "scenario_runs", ["server", "status"])
