"""Store URLs, changeset references and the GeoPackage geometry codec."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
import shapely

from ictgis._errors import StoreError
from ictgis.store import gpkg
from ictgis.store.importer import new_ords
from ictgis.store.refs import parse_ref
from ictgis.store.url import display_url, resolve_url

UTC = dt.timezone.utc


def test_urls(tmp_path, monkeypatch):
    assert resolve_url(tmp_path / "a.gpkg") == f"sqlite:///{tmp_path}/a.gpkg"
    assert resolve_url(f"gpkg:///{tmp_path}/a.gpkg") == f"sqlite:///{tmp_path}/a.gpkg"
    assert resolve_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    monkeypatch.setenv("DATABASE_URL", "postgresql://h/db")
    assert resolve_url(None) == "postgresql+psycopg://h/db"
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(StoreError, match="no database given"):
        resolve_url(None)
    with pytest.raises(StoreError, match="must be a GeoPackage"):
        resolve_url(tmp_path / "a.sqlite")
    with pytest.raises(StoreError, match="unsupported database URL mysql"):
        resolve_url("mysql://h/db")
    assert display_url("postgresql+psycopg://me:secret@h/db") == "postgresql://me:***@h/db"


def test_refs():
    assert parse_ref(7) == 7 and parse_ref(" 7 ") == 7
    assert parse_ref("2021-12-31") == dt.datetime(2021, 12, 31, 17, tzinfo=UTC)   # the end of the day in Vietnam
    assert parse_ref(dt.date(2021, 12, 31)) == dt.datetime(2021, 12, 31, 17, tzinfo=UTC)
    assert parse_ref("2021-12-31T17:00") == dt.datetime(2021, 12, 31, 10, 0, 0, 1, tzinfo=UTC)   # Vietnam time
    assert parse_ref("2021-12-31T10:00Z") == dt.datetime(2021, 12, 31, 10, 0, 0, 1, tzinfo=UTC)
    assert parse_ref("2021-12-31T17:00+07:00") == dt.datetime(2021, 12, 31, 10, 0, 0, 1, tzinfo=UTC)
    for bad in ("31/12/2021", "last", True):
        with pytest.raises(StoreError, match="neither a changeset id nor a date"):
            parse_ref(bad)


def test_geometry_blobs_round_trip_and_feed_the_rtree_functions():
    geoms = [shapely.Point(1, 2), shapely.box(0, 0, 3, 4), shapely.Point(), None]
    blobs = gpkg.encode(geoms, 9205)
    assert blobs[3] is None and blobs[0][:2] == b"GP"
    back = gpkg.decode(blobs)
    assert all(shapely.equals_exact(a, b) for a, b in zip(back[:2], geoms[:2], strict=True))
    assert back[2].is_empty and back[3] is None
    db = sqlite3.connect(":memory:")
    gpkg.register_functions(db)
    row = db.execute("SELECT ST_MinX(?), ST_MaxX(?), ST_MinY(?), ST_MaxY(?), ST_IsEmpty(?), ST_IsEmpty(?)",
                     (blobs[1],) * 5 + (blobs[2],)).fetchone()
    assert row == (0.0, 3.0, 0.0, 4.0, 0, 1)


def test_row_order_is_kept_where_the_file_keeps_it():
    assert new_ords([None, None]) == [0.0, 1.0]
    assert new_ords([None, 5.0, None, 9.0, None]) == [4.0, 5.0, 7.0, 9.0, 10.0]
    assert new_ords([3.0, 1.0]) == [0.0, 1.0]
