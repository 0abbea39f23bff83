"""Schema migrations: Alembic, with the scripts inside the package (``ictgis/store/migrations``).

``ictgis db init`` runs `upgrade` (``alembic upgrade head``) on the store: it creates a new store and brings an
existing one to the latest schema. The current revision is in the ``alembic_version`` table.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa

logger = logging.getLogger(__name__)

SCRIPTS = Path(__file__).resolve().parent / "migrations"


def _config(connection: sa.Connection, *, srid: int):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = connection
    cfg.attributes["srid"] = srid
    return cfg


def upgrade(engine: sa.Engine, *, srid: int, revision: str = "head") -> str | None:
    """Run the migrations up to `revision` in one transaction; return the revision reached.

    Parameters
    ----------
    engine
        The store's engine (`ictgis.store.engine.make_engine`).
    srid
        EPSG code of the working CRS, used by the first migration for the geometry columns.
    """
    from alembic import command

    from .engine import WRITE

    with engine.connect() as conn:
        conn = conn.execution_options(**WRITE)
        with conn.begin():
            command.upgrade(_config(conn, srid=srid), revision)
    return current_revision(engine)


def current_revision(engine: sa.Engine) -> str | None:
    """Return the store's schema revision, or None for a database without the store's tables."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """Return the latest revision of the migration scripts."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    return ScriptDirectory.from_config(cfg).get_current_head()
