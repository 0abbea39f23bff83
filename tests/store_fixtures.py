"""Fixtures of the store tests: a store URL per backend (GeoPackage file, PostgreSQL + PostGIS).

PostGIS runs in a real PostgreSQL started by pytest-postgresql's process fixture from Debian's ``postgresql-15``
and ``postgresql-15-postgis-3`` (``.ci/run`` installs them); as root (CI), through ``pg_ctl_unprivileged.sh``.
Test modules import the fixtures they use from here.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from pytest_postgresql import factories

PG_BIN = Path(os.environ.get("ICTGIS_PG_BIN", "/usr/lib/postgresql/15/bin"))
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
WRAPPER = Path(__file__).with_name("pg_ctl_unprivileged.sh")
PG_MISSING = (None if (PG_BIN / "pg_ctl").exists() and POSTGIS_CONTROL.exists() else
              f"PostgreSQL 15 + PostGIS not installed ({PG_BIN / 'pg_ctl'}, {POSTGIS_CONTROL}): "
              "apt-get install postgresql-15 postgresql-15-postgis-3 (.ci/run does)")

os.environ.setdefault("ICTGIS_PG_CTL", str(PG_BIN / "pg_ctl"))
postgresql_proc = factories.postgresql_proc(executable=str(WRAPPER), host="127.0.0.1", port=None, user="postgres",
                                            unixsocketdir="/tmp")
_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgis_template(postgresql_proc) -> str:
    """Return the URL of the PostgreSQL server, after creating a template database with PostGIS."""
    import psycopg

    base = f"postgresql://{postgresql_proc.user}@{postgresql_proc.host}:{postgresql_proc.port}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS ictgis_template")
        conn.execute("CREATE DATABASE ictgis_template")
    with psycopg.connect(f"{base}/ictgis_template", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
    return base


def new_postgis_db(base: str) -> str:
    """Create a fresh database with PostGIS (from the template); return its URL."""
    import psycopg

    name = f"ictgis_test_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE ictgis_template")
    return f"{base}/{name}"


@pytest.fixture(params=["gpkg", "postgis"])
def store_url(request, tmp_path) -> str:
    """Return the URL of an empty store location on each backend (not yet initialised)."""
    if request.param == "gpkg":
        return str(tmp_path / "ictgis.gpkg")
    if PG_MISSING:
        if os.environ.get("ICTGIS_REQUIRE_POSTGIS"):  # set by .ci/run: CI must run the PostGIS half, not skip it
            pytest.fail(PG_MISSING)
        pytest.skip(PG_MISSING)
    return new_postgis_db(request.getfixturevalue("postgis_template"))


@pytest.fixture()
def store(store_url):
    """An initialised store on each backend, closed after the test."""
    from ictgis.store import open_store

    s = open_store(store_url)
    s.init()
    yield s
    s.close()
