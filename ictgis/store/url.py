"""Which database a store URL names, and the SQLAlchemy engine for it.

A store is chosen by URL:

- a GeoPackage file: a path ending in ``.gpkg`` (``instance/ictgis.gpkg``), ``sqlite:///PATH.gpkg`` or
  ``gpkg:///PATH.gpkg``; created on ``ictgis db init``; QGIS and GDAL open it as it is;
- PostgreSQL + PostGIS: ``postgresql://USER:PASSWORD@HOST:PORT/DB`` (the psycopg 3 driver is used).

Without a URL, the environment variable ``DATABASE_URL`` names the store.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._errors import StoreError

ENV_VAR = "DATABASE_URL"
"""Environment variable naming the store when no URL is given."""


def resolve_url(url: str | os.PathLike | None) -> str:
    """Return the SQLAlchemy URL of a store given as a path or URL, or from ``DATABASE_URL``.

    Parameters
    ----------
    url
        A ``.gpkg`` path, a ``sqlite:///``/``gpkg:///`` URL or a ``postgresql://`` URL; None reads
        ``DATABASE_URL``.

    Raises
    ------
    StoreError
        When neither is given, or the URL names another kind of database.

    Examples
    --------
    >>> resolve_url("postgresql://u@localhost:5432/gis")
    'postgresql+psycopg://u@localhost:5432/gis'
    >>> resolve_url("/srv/ictgis.gpkg")
    'sqlite:////srv/ictgis.gpkg'
    """
    if url is None:
        url = os.environ.get(ENV_VAR) or None
    if url is None:
        raise StoreError("no database given: pass --db FILE.gpkg (a GeoPackage, created by `ictgis db init`) or "
                         "--db postgresql://USER@HOST/DB, or set DATABASE_URL / chưa chỉ định cơ sở dữ liệu")
    text = str(url).strip()
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgresql://", "postgres://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text[len(prefix):]
    for prefix in ("sqlite:///", "gpkg:///", "sqlite+pysqlite:///"):
        if text.startswith(prefix):
            return "sqlite:///" + str(Path(text[len(prefix):]).expanduser().resolve())
    if "://" in text:
        raise StoreError(f"unsupported database URL {text.split('://')[0]}://…: use a .gpkg file or postgresql://")
    path = Path(text).expanduser()
    if path.suffix.lower() != ".gpkg":
        raise StoreError(f"{text}: a store file must be a GeoPackage ending in .gpkg (or use postgresql://…)")
    return "sqlite:///" + str(path.resolve())


def display_url(url: str) -> str:
    """Return a URL fit for messages and logs: the password is hidden.

    Examples
    --------
    >>> display_url("postgresql+psycopg://me:secret@db/gis")
    'postgresql://me:***@db/gis'
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.database)
    shown = parsed.set(drivername="postgresql")
    return shown.render_as_string(hide_password=True)
