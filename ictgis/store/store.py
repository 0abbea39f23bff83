"""The `Store`: layers with their history in a GeoPackage or PostGIS database.

Every import or edit is a *changeset*; a feature's versions are rows of its layer's table, each valid from the
changeset that made it until the one that replaced or removed it. A state of the store is named by a changeset id
or a date (`ictgis.store.refs`); ``as_of=None`` is the current state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import sqlalchemy as sa
from pyproj import CRS

from .._errors import StoreError
from ..layers import LAYER_NAMES, SCHEMAS
from . import rows as rowmod
from .engine import WRITE, make_engine
from .refs import Ref, parse_ref
from .schema import LAYER_FIELDS, store_tables
from .url import display_url, resolve_url

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Changeset:
    """One import, edit or upload.

    Attributes
    ----------
    id
        Increasing number (PostgreSQL may skip one after a failed import); also the *version* of the features
        it wrote.
    time
        When it was recorded (UTC).
    author, message
        Who and why.
    source
        The data folder or file imported (None for edits).
    kind
        ``import``, ``edit`` or ``upload``.
    counts
        Layer → {"added", "changed", "removed"} counts (and "reordered": features whose content is equal but
        whose place in the file moved), for a changeset just written by an import (None when read back).
    """

    id: int
    time: dt.datetime
    author: str
    message: str
    source: str | None
    kind: str
    counts: dict[str, dict[str, int]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``time`` as ISO 8601 UTC)."""
        out = dataclasses.asdict(self)
        out["time"] = self.time.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        if out["counts"] is None:
            del out["counts"]
        return out


@dataclasses.dataclass(frozen=True)
class Feature:
    """The version of one feature: its attributes, geometry (working CRS) and version (changeset id)."""

    layer: str
    key: str
    version: int
    attributes: dict[str, Any]
    geometry: Any
    valid_from: dt.datetime


def now() -> dt.datetime:
    """Return the current UTC time, to the millisecond (what a GeoPackage DATETIME keeps)."""
    t = dt.datetime.now(dt.timezone.utc)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


class Store:
    """Layers with history in one database (see `open_store`).

    Parameters
    ----------
    url
        A ``.gpkg`` path or ``sqlite:///…gpkg`` URL, or ``postgresql://…``; None reads ``DATABASE_URL``.
    """

    def __init__(self, url: str | Path | None = None):
        self.url = resolve_url(url)
        self.engine = make_engine(self.url)
        self.dialect = self.engine.dialect.name
        self._srid: int | None = None
        self._tables: tuple[sa.MetaData, dict[str, sa.Table], dict[str, sa.Table]] | None = None

    def __repr__(self) -> str:
        return f"Store({self.label!r})"

    @property
    def label(self) -> str:
        """The store's URL or file, password hidden (for messages)."""
        return display_url(self.url)

    def close(self) -> None:
        """Close the store's connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ schema
    def init(self, *, srid: int | None = None) -> str | None:
        """Create the store, or bring an existing one to the latest schema (``alembic upgrade head``).

        Parameters
        ----------
        srid
            EPSG code of the working CRS for a new store (default: `ictgis.crs.working_crs`).

        Returns
        -------
        str
            The schema revision reached.
        """
        from ..crs import working_crs
        from .migrate import upgrade

        if self.url.startswith("sqlite:///"):
            Path(self.url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        code = srid if srid is not None else working_crs().to_epsg()
        if code is None:
            raise StoreError("the working CRS has no EPSG code")
        revision = upgrade(self.engine, srid=int(code))
        self._srid = None
        self._tables = None
        logger.info("store %s at revision %s", self.label, revision)
        return revision

    @property
    def srid(self) -> int:
        """EPSG code of the store's working CRS.

        Raises
        ------
        StoreError
            When the database holds no store (``ictgis db init`` was not run).
        """
        if self._srid is None:
            if self.url.startswith("sqlite:///") and not Path(self.url[len("sqlite:///"):]).exists():
                raise StoreError(f"{self.label}: no such store: create it with `ictgis db init --db {self.label}`")
            try:
                with self.engine.connect() as conn:
                    value = conn.execute(sa.text("SELECT value FROM store_info WHERE name = 'srid'")).scalar()
            except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
                text = str(exc.orig)
                if "no such table" not in text and "does not exist" not in text:
                    raise StoreError(f"{self.label}: cannot open the store ({text.splitlines()[0]})") from None
                value = None
            if value is None:
                raise StoreError(f"{self.label}: not an ictgis store yet: run `ictgis db init --db {self.label}`")
            self._srid = int(value)
        return self._srid

    @property
    def crs(self) -> CRS:
        """The store's working CRS."""
        return CRS.from_epsg(self.srid)

    @property
    def tables(self) -> dict[str, sa.Table]:
        """The core tables (``changesets``, ``meta`` …) by name."""
        return self._schema()[1]

    @property
    def layer_tables(self) -> dict[str, sa.Table]:
        """The version table of each layer."""
        return self._schema()[2]

    def _schema(self):
        if self._tables is None:
            self._tables = store_tables(srid=self.srid, dialect=self.dialect)
        return self._tables

    @contextlib.contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """Yield a connection in a read transaction (one consistent state of the store)."""
        with self.engine.connect() as conn, conn.begin():
            if self.dialect == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield conn

    @contextlib.contextmanager
    def writing(self, *, serial: bool = True) -> Iterator[sa.Connection]:
        """Yield a connection in a write transaction: committed when the block ends, rolled back on an error.

        With `serial` (changesets), writers take turns: SQLite's ``BEGIN IMMEDIATE``, and on PostgreSQL a lock
        on ``changesets`` that other writers wait for (readers do not), so an import or edit always diffs
        against the state it writes onto.
        """
        with self.engine.connect() as conn:
            conn = conn.execution_options(**WRITE)
            with conn.begin():
                if serial and self.dialect == "postgresql":
                    conn.exec_driver_sql("LOCK TABLE changesets IN SHARE ROW EXCLUSIVE MODE")
                yield conn

    # ------------------------------------------------------------------------------------------ changesets
    def log(self) -> list[Changeset]:
        """Return every changeset, oldest first."""
        t = self.tables["changesets"]
        with self.reading() as conn:
            return [_changeset(r) for r in conn.execute(sa.select(t).order_by(t.c.id)).mappings()]

    def changeset(self, ref: Ref) -> Changeset:
        """Return the changeset a reference resolves to.

        Raises
        ------
        StoreError
            When it resolves to the state before any changeset.
        """
        with self.reading() as conn:
            number = self.resolve(ref, conn=conn)
            if number == 0:
                raise StoreError(f"no changeset at or before {ref}")
            t = self.tables["changesets"]
            return _changeset(conn.execute(sa.select(t).where(t.c.id == number)).mappings().one())

    def resolve(self, ref: Ref | None, *, conn: sa.Connection | None = None) -> int:
        """Return the changeset id a reference names (the latest for None; 0 = before the first changeset).

        Raises
        ------
        StoreError
            For an id that does not exist, or text that is neither an id nor a date.
        """
        if conn is None:
            with self.reading() as c:
                return self.resolve(ref, conn=c)
        t = self.tables["changesets"]
        if ref is None:
            return int(conn.execute(sa.select(sa.func.max(t.c.id))).scalar() or 0)
        parsed = parse_ref(ref)
        if isinstance(parsed, int):
            if parsed == 0:
                return 0
            if conn.execute(sa.select(t.c.id).where(t.c.id == parsed)).scalar() is None:
                last = conn.execute(sa.select(sa.func.max(t.c.id))).scalar()
                known = f"changesets are 1 … {last}" if last else "the store has no changeset yet"
                raise StoreError(f"no changeset {parsed} ({known}; `ictgis db log` lists them)")
            return parsed
        if parsed.microsecond % 1000:  # times are kept to the millisecond: round the bound up to one
            parsed += dt.timedelta(microseconds=1000 - parsed.microsecond % 1000)
        return int(conn.execute(sa.select(sa.func.max(t.c.id)).where(t.c.time < parsed)).scalar() or 0)

    def new_changeset(self, conn: sa.Connection, *, author: str, message: str, kind: str,
                      source: str | None = None) -> Changeset:
        """Insert a changeset row in a write transaction (its time never goes before the previous one's)."""
        if not str(author).strip() or not str(message).strip():
            raise StoreError("a changeset needs an author and a message / cần người thực hiện và nội dung")
        t = self.tables["changesets"]
        last = conn.execute(sa.select(t.c.time).order_by(t.c.id.desc()).limit(1)).scalar()
        time = now() if last is None else max(now(), last)
        number = conn.execute(t.insert().values(time=time, author=author, message=message, kind=kind,
                                                source=source).returning(t.c.id)).scalar_one()
        return Changeset(id=int(number), time=time, author=author, message=message, source=source, kind=kind)

    # ------------------------------------------------------------------------------------------ reading
    def meta(self, as_of: int, *, conn: sa.Connection) -> dict[str, Any]:
        """Dataset properties at changeset `as_of` (``columns:<layer>``, ``area_km2``, ``dem``)."""
        t = self.tables["meta"]
        query = sa.select(t.c.name, t.c.value).where(_alive(t, as_of))
        return {name: json.loads(value) for name, value in conn.execute(query)}

    def version_rows(self, layer: str, as_of: int | None, *, conn: sa.Connection,
                     columns: list[str] | None = None, keys: list[str] | sa.Select | None = None) -> list[Mapping]:
        """Rows of a layer's versions alive at `as_of` (None: current), in import order.

        `keys` (a list, or a select of keys) keeps only those features.

        Each row has ``fid``, ``feature_key``, ``version``, ``ord``, the attributes and ``geom`` (WKB).
        """
        t = self.layer_tables[layer]
        names = [f for f, _ in LAYER_FIELDS[layer]] if columns is None else [c for c in columns if c != "geometry"]
        cond = t.c.ended_by.is_(None) if as_of is None else _alive(t, as_of)
        if keys is not None:
            cond = sa.and_(cond, t.c.feature_key.in_(keys))
        query = (sa.select(t.c.fid, t.c.feature_key, t.c.changeset.label("version"), t.c.ord, t.c.valid_from,
                           *(t.c[n] for n in names), rowmod.geometry_select(t.c.geom, self.dialect))
                 .where(cond).order_by(t.c.ord, t.c.fid))
        out: list[Mapping] = []
        for r in conn.execute(query).mappings():
            d = dict(r)
            d["geom"] = rowmod.wkb_from_db([d["geom"]], self.dialect)[0]
            out.append(d)
        return out

    def layer(self, name: str, as_of: Ref | None = None) -> gpd.GeoDataFrame | None:
        """Return one layer as of a state, with ``feature_key`` and ``version`` columns first (None if absent).

        For the web map and editing: ``version`` is what `edit` expects back.
        """
        _check_layer(name)
        with self.reading() as conn:
            number = self.resolve(as_of, conn=conn)
            columns = self.meta(number, conn=conn).get(f"columns:{name}")
            if columns is None:
                return None
            rows = self.version_rows(name, None if as_of is None else number, conn=conn, columns=columns)
        return rowmod.frame_from_rows(rows, columns, dict(LAYER_FIELDS[name]), self.crs,
                                      extra=("feature_key", "version"))

    def feature(self, layer: str, key: str) -> Feature | None:
        """Return the current version of a feature, or None when there is none."""
        _check_layer(layer)
        with self.reading() as conn:
            rows = self.version_rows(layer, None, conn=conn, keys=[str(key)])
        return None if not rows else feature_of(layer, rows[0])

    def dataset(self, as_of: Ref | None = None, *, dem_dir: str | Path | None = None,
                layers: Iterable[str] | None = None, known: Mapping[str, gpd.GeoDataFrame] | None = None):
        """Return the layers as of a state as an `ictgis.io.Dataset`, as `ictgis.io.load` reads their files.

        Parameters
        ----------
        as_of
            Changeset id or date (None: current).
        dem_dir
            Folder where the DEM is written as ``<sha256>.tif`` (default: ``ictgis-store-dem`` in the temporary
            folder); written once per content, atomically.
        layers
            Read only these layers (and ``communes``), and no DEM, land cover, cells or commune topology: for
            computations that use only the layers (`ictgis.indicators`). None: everything.
        known
            Layers already read at a state where `layer_states` gives them the same number: used as they are
            (not copied, so not to be modified) instead of being read again.

        Raises
        ------
        StoreError
            When the store held no data at that state.
        """
        from .reading import read_dataset

        return read_dataset(self, as_of, dem_dir=dem_dir, layers=layers, known=known)

    def layer_states(self, as_of: Ref | None = None) -> dict[str, int]:
        """Return, per layer present at a state, the last changeset at or before it that changed that layer.

        A changeset usually touches one layer: the states of consecutive changesets share the other layers, and
        a layer read at one of them can be passed to `dataset` (``known``) for the other.

        Examples
        --------
        >>> store.layer_states(7)  # doctest: +SKIP
        {'communes': 1, 'villages': 6, 'bts_sites': 7, 'post_offices': 1, ...}
        """
        from .reading import layer_states

        with self.reading() as conn:
            return layer_states(self, self.resolve(as_of, conn=conn), conn=conn)

    # ------------------------------------------------------------------------------------------ writing
    def import_dataset(self, data, *, author: str, message: str, kind: str = "import", source: str | None = None,
                       crs: object = None, parent: int | None = None) -> Changeset | None:
        """Validate a data folder (or take a loaded Dataset) and record what differs from the current state.

        Features are matched by key (the layer's id or code): new keys are *added*, missing ones *removed*, those
        whose attributes or geometry differ *changed*. Everything is written in one transaction: an import
        killed at any moment leaves the previous state and no changeset. An import that changes nothing records
        no changeset and returns None.

        Parameters
        ----------
        data
            A data folder (validated with the checks of ``ictgis validate``) or an `ictgis.io.Dataset`.
        author, message
            Who and why.
        kind
            ``import`` or ``upload``.
        source
            Recorded source (default: the folder's path).
        crs
            CRS of files that have none (as ``--crs``).
        parent
            The changeset the data was derived from (an upload built on the served state): when given and another
            changeset landed since, nothing is written and `ictgis.store.importer.StaleStateError` (409) is raised
            (checked inside the write transaction).

        Raises
        ------
        LayerError
            When the data does not validate (nothing is written).
        StoreError
            When its working CRS is not the store's.
        """
        from .importer import import_dataset

        return import_dataset(self, data, author=author, message=message, kind=kind, source=source, crs=crs,
                              parent=parent)

    def edit(self, layer: str, key: str, *, expected_version: int, author: str, message: str,
             attributes: Mapping[str, Any] | None = None, geometry=None) -> Changeset | None:
        """Change a feature's attributes and/or geometry, if it is still at `expected_version`.

        `attributes` are merged into the current ones (a None value clears an optional attribute); `geometry` is
        a shapely geometry in the working CRS. The new version is checked like an imported one.

        Returns
        -------
        Changeset or None
            The edit's changeset; None when the values equal the current ones (nothing recorded).

        Raises
        ------
        EditConflictError
            When the feature changed or was removed since `expected_version` (nothing is written).
        LayerError
            When the new version does not validate.
        """
        from .edits import edit_feature

        return edit_feature(self, layer, str(key), expected_version=expected_version, author=author,
                            message=message, attributes=attributes, geometry=geometry)

    def add(self, layer: str, key: str, *, attributes: Mapping[str, Any], geometry, author: str,
            message: str) -> Changeset:
        """Add a new feature (its id attribute is set to `key`); checked like an imported one.

        Raises
        ------
        EditConflictError
            When a current feature already has this key.
        LayerError
            When it does not validate.
        """
        from .edits import add_feature

        return add_feature(self, layer, str(key), attributes=attributes, geometry=geometry, author=author,
                           message=message)

    def delete(self, layer: str, key: str, *, expected_version: int, author: str, message: str) -> Changeset:
        """Remove a feature, if it is still at `expected_version` (its history is kept).

        A BTS site takes its cells (sectors) with it, in the same changeset, whose message says how many: cells
        of a site that no longer exists would stop every coverage computed from the store.

        Raises
        ------
        EditConflictError
            When it changed or was removed since.
        """
        from .edits import delete_feature

        return delete_feature(self, layer, str(key), expected_version=expected_version, author=author,
                              message=message)

    # ------------------------------------------------------------------------------------------ changes
    def diff(self, from_: Ref, to: Ref) -> dict[str, dict[str, list[str]]]:
        """Return the keys added, removed and changed per layer between two states.

        Returns
        -------
        dict
            ``{layer: {"added": [...], "removed": [...], "changed": [...]}}`` (sorted keys) for every layer present
            in either state, then ``cells`` (keyed by the cell id) when either state has a cells table; a feature
            whose attributes and geometry are equal is not changed.
        """
        from .changes import diff

        return diff(self, from_, to)

    def diff_layers(self, from_: Ref, to: Ref, *, cells: bool = False) -> dict[str, gpd.GeoDataFrame]:
        """Return the changed features per layer.

        Each frame has ``change`` (added/removed/changed), ``feature_key``, ``version``, then the attributes and
        geometry of the new version (of the old one for removed features). With `cells`, the changed cells too
        (``cells``, empty geometries: a cell stands at its site; ``ictgis db diff --out``).
        """
        from .changes import diff_layers

        return diff_layers(self, from_, to, cells=cells)

    def export(self, out_dir: str | Path, *, as_of: Ref | None = None) -> Path:
        """Write the layers as of a state into a plain data folder; the same state always gives the same bytes.

        The folder holds a GeoPackage per layer, ``dem.tif``, and ``layers.yaml`` when an official area is set.

        The folder is replaced as a whole when the export succeeds.
        """
        from .exporting import export

        return export(self, out_dir, as_of=as_of)


def _alive(t: sa.Table, as_of: int):
    return sa.and_(t.c.changeset <= as_of, sa.or_(t.c.ended_by.is_(None), t.c.ended_by > as_of))


def _changeset(r) -> Changeset:
    return Changeset(id=int(r["id"]), time=r["time"], author=r["author"], message=r["message"], source=r["source"],
                     kind=r["kind"])


def _check_layer(name: str) -> None:
    if name not in SCHEMAS:
        raise StoreError(f"unknown layer {name!r} (known: {', '.join(LAYER_NAMES)})")


def feature_of(layer: str, row: Mapping) -> Feature:
    """Build a `Feature` from a version row (`Store.version_rows`)."""
    import shapely

    attrs = {f: row[f] for f, _ in LAYER_FIELDS[layer] if f in row}
    geom = None if row["geom"] is None else shapely.from_wkb(row["geom"])
    return Feature(layer=layer, key=row["feature_key"], version=int(row["version"]), attributes=attrs,
                   geometry=geom, valid_from=row.get("valid_from"))  # type: ignore[arg-type]


def open_store(url: str | Path | None = None) -> Store:
    """Open the store a URL names (a ``.gpkg`` path, ``sqlite:///``, ``postgresql://``; None: ``DATABASE_URL``).

    Nothing is created: run `Store.init` (``ictgis db init``) once.
    """
    return Store(url)
