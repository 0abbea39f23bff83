"""One SQLAlchemy engine per store URL, set up for the store's transactions.

SQLite (GeoPackage): WAL journal (readers do not wait for a writer; two server processes can share the file), a
busy timeout, foreign keys on, the GeoPackage R-tree functions defined, and transactions begun by the store itself:
``BEGIN IMMEDIATE`` for writes (one writer at a time, taken at the start so a write never fails half-way on a lock),
plain ``BEGIN`` for reads. PostgreSQL: psycopg 3, a small pool checked before use.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event

from . import gpkg

WRITE = {"ictgis_write": True}
"""Execution options of a connection that will write (``conn.execution_options(**WRITE)`` before begin)."""


def make_engine(url: str) -> sa.Engine:
    """Return a new engine for a resolved store URL (`ictgis.store.url.resolve_url`)."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # the store emits BEGIN itself (below)
            gpkg.register_functions(dbapi_connection)
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA busy_timeout = 60000")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            write = conn.get_execution_options().get("ictgis_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)
