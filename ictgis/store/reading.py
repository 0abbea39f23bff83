"""The store's state at a changeset, as the `ictgis.io.Dataset` that reading the same data from files gives."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import sqlalchemy as sa

from .._errors import StoreError
from .._files import atomic_path
from ..layers import LAYER_NAMES
from . import rows as rowmod
from .schema import CELL_FIELDS, LAYER_FIELDS

DEM_FOLDER = "ictgis-store-dem"


def read_dataset(store, as_of, *, dem_dir=None, layers=None, known=None):
    """Return the dataset of `store` as of a reference (see `ictgis.store.Store.dataset`)."""
    from ..io import Dataset, commune_topology

    partial = layers is not None
    wanted = set(LAYER_NAMES if layers is None else layers) | {"communes"}
    known = known or {}
    with store.reading() as conn:
        number = store.resolve(as_of, conn=conn)
        meta = store.meta(number, conn=conn)
        if "columns:communes" not in meta:
            when = "now" if as_of is None else f"as of {as_of}"
            raise StoreError(f"{store.label}: no data {when} (import a data folder with `ictgis db import`)")
        frames = {}
        for name in LAYER_NAMES:
            columns = meta.get(f"columns:{name}")
            if columns is None or name not in wanted:
                continue
            if name in known:
                frames[name] = known[name]
                continue
            rows = store.version_rows(name, None if as_of is None else number, conn=conn, columns=columns)
            frames[name] = rowmod.frame_from_rows(rows, columns, dict(LAYER_FIELDS[name]), store.crs)
        dem_path = landcover_path = cells = None
        if meta.get("dem") and not partial:
            dem_path = _dem_file(store, conn, meta["dem"]["sha256"], dem_dir)
        if meta.get("landcover") and not partial:
            landcover_path = _dem_file(store, conn, meta["landcover"]["sha256"], dem_dir)
        if meta.get("columns:cells") is not None and not partial:
            cells = _cells(store, conn, None if as_of is None else number, meta["columns:cells"])
    layers = frames
    communes = layers["communes"]
    topology = commune_topology(communes) if "code" in communes and not partial else None
    area = meta.get("area_km2")
    return Dataset(layers=layers, sources={name: f"{store.label}#{name}" for name in layers}, crs=store.crs,
                   data_dir=None, dem_path=dem_path, topology=topology, notes=[],
                   area_km2=None if area is None else float(area), cells=cells, landcover_path=landcover_path)


def layer_states(store, as_of: int, *, conn: sa.Connection) -> dict[str, int]:
    """Return, per layer present at changeset `as_of`, the last changeset at or before it that changed the layer.

    A change is a version of a feature made or ended, or new columns. Two states with the same number for a layer
    hold the same layer, so a layer read at one of them serves the other (see `ictgis.store.Store.layer_states`).
    """
    meta = store.tables["meta"]
    present = store.meta(as_of, conn=conn)
    out = {}
    for name in LAYER_NAMES:
        if f"columns:{name}" not in present:
            continue
        t = store.layer_tables[name]
        columns = meta.c.name == f"columns:{name}"
        latest = [sa.select(sa.func.max(t.c.changeset)).where(t.c.changeset <= as_of).scalar_subquery(),
                  sa.select(sa.func.max(t.c.ended_by)).where(t.c.ended_by <= as_of).scalar_subquery(),
                  sa.select(sa.func.max(meta.c.changeset)).where(columns, meta.c.changeset <= as_of)
                  .scalar_subquery(),
                  sa.select(sa.func.max(meta.c.ended_by)).where(columns, meta.c.ended_by <= as_of).scalar_subquery()]
        out[name] = max(int(v) for v in conn.execute(sa.select(*latest)).one() if v is not None)
    return out


def _cells(store, conn: sa.Connection, as_of, columns: list[str]):
    """Return the cells alive at changeset `as_of` (None: current), in import order, with the columns imported."""
    import pandas as pd

    t = store.tables["cells"]
    cond = t.c.ended_by.is_(None) if as_of is None else sa.and_(
        t.c.changeset <= as_of, sa.or_(t.c.ended_by.is_(None), t.c.ended_by > as_of))
    rows = conn.execute(sa.select(*(t.c[c] for c in columns)).where(cond).order_by(t.c.ord, t.c.fid)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    for name, dtype in CELL_FIELDS:
        if name in frame and dtype == "float":
            frame[name] = pd.to_numeric(frame[name]).astype("Float64")
    return frame


def _dem_file(store, conn: sa.Connection, sha256: str, dem_dir) -> Path:
    """Write the raster (DEM or land cover) of a checksum to ``<dem_dir>/<sha256>.tif`` once; return its path."""
    folder = Path(dem_dir) if dem_dir is not None else Path(tempfile.gettempdir()) / DEM_FOLDER
    path = folder / f"{sha256}.tif"
    if path.exists() and path.stat().st_size > 0:
        return path
    t = store.tables["rasters"]
    content = conn.execute(sa.select(t.c.content).where(t.c.sha256 == sha256)).scalar_one()
    if hashlib.sha256(content).hexdigest() != sha256:
        raise StoreError(f"{store.label}: the stored DEM {sha256[:12]}… is damaged (checksum differs)")
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(content)
    return path
