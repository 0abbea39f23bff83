"""Observer sites for viewsheds, read from a user file through the schema-driven reader of :mod:`ictgis.io`.

A plain CSV ``id,x,y[,height_m]`` whose every row is valid is read without pandas/geopandas (`read_plain_csv`),
which keeps ``ictgis viewshed --sites sites.csv`` quick to start; anything else (other column names, aliases,
encodings, a bad row) goes through :func:`ictgis.io.read_layer`, which gives the same values and the error messages.
"""

from __future__ import annotations

import csv
import io as stdio
import math
import re
from pathlib import Path

import numpy as np

from .._errors import LayerError
from ..layers import Field, LayerSchema

OBSERVERS_SCHEMA = LayerSchema(
    name="observers", geometry="Point", id_field="id", label_vi="Điểm quan sát",
    description="Observers of viewsheds: CSV id,x,y[,height_m] in the DEM's CRS, or a point layer with an id.",
    fields=(Field("id", "str", True, "Observer id (names its output file)"),
            Field("height_m", "float", False, "Observer height above the ground (m)")))
"""Schema of a file of observer sites (:func:`read_observers`)."""

SAFE_ID = re.compile(r"^[\w.\-]+$")
"""Ids that can name a file: letters, digits, '.', '_' and '-'."""

_PLAIN_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def read_plain_csv(path: str | Path, *, default_height_m: float | None
                   ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray] | None:
    """Read a CSV of observers whose header is exactly ``id,x,y`` (any order, optional ``height_m``), or None.

    Returns None unless the file is UTF-8 with exactly these columns and every row is valid (a unique id that can
    name a file, plain decimal coordinates, a height ≥ 0 or the default): such files are left to
    :func:`read_observers`' general reader, which reports the problems.

    Parameters
    ----------
    path
        The CSV file.
    default_height_m
        Observer height for rows with an empty ``height_m``.

    Returns
    -------
    (ids, xs, ys, heights_m) or None
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    rows = list(csv.reader(stdio.StringIO(text, newline="")))
    if len(rows) < 2:
        return None
    header = rows[0]
    if len(set(header)) != len(header) or set(header) not in ({"id", "x", "y"}, {"id", "x", "y", "height_m"}):
        return None
    col = {h: i for i, h in enumerate(header)}
    ids: list[str] = []
    values = np.empty((len(rows) - 1, 3))
    for k, row in enumerate(rows[1:]):
        if len(row) != len(header):
            return None
        fid, height = row[col["id"]], row[col["height_m"]] if "height_m" in col else ""
        if not SAFE_ID.match(fid) or not all(_PLAIN_NUMBER.match(row[col[c]]) for c in ("x", "y")):
            return None
        if height == "":
            if default_height_m is None or not math.isfinite(default_height_m) or default_height_m < 0:
                return None
            h = float(default_height_m)
        elif _PLAIN_NUMBER.match(height) and float(height) >= 0:
            h = float(height)
        else:
            return None
        values[k] = float(row[col["x"]]), float(row[col["y"]]), h
        ids.append(fid)
    if len(set(ids)) != len(ids) or not np.isfinite(values).all():
        return None
    return ids, values[:, 0].copy(), values[:, 1].copy(), values[:, 2].copy()


def read_observers(path: str | Path, dem_crs: object, *, default_height_m: float | None
                   ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Read observer sites from a CSV (``id,x,y[,height_m]`` in the DEM's CRS) or a point layer with an ``id``.

    The file is read by :func:`ictgis.io.read_layer` with :data:`OBSERVERS_SCHEMA` (any format it reads; a vector
    layer is reprojected to the DEM's CRS); every id must also name a file and every site needs a height.

    Parameters
    ----------
    path
        CSV file, or any vector file pyogrio reads.
    dem_crs
        CRS of the DEM.
    default_height_m
        Observer height for sites without ``height_m``.

    Returns
    -------
    ids, xs, ys, heights_m

    Raises
    ------
    LayerError
        Listing every problem: unreadable file, missing columns, duplicate or unusable ids, bad coordinates,
        geometries or heights, a layer without a CRS.
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        plain = read_plain_csv(path, default_height_m=default_height_m)
        if plain is not None:
            return plain
    from .. import io
    from .._validate import Collector

    name = path.name
    collector = Collector()
    frame = io.read_layer(path, OBSERVERS_SCHEMA, crs=dem_crs if path.suffix.lower() == ".csv" else None,
                          working=dem_crs, collector=collector)
    if frame is None or "id" not in frame or frame.crs is None:
        collector.raise_if_any(name)
        raise LayerError(f"{name}: no observer layer could be read")
    ids = [str(v) if v is not None else "" for v in frame["id"]]
    for i, fid in enumerate(ids):
        if fid and not SAFE_ID.match(fid):
            collector.add(name, f"id {fid!r} cannot name a file (use letters, digits, '.', '_', '-')", row=i + 1,
                          column="id")
    unreadable = {p.row for p in collector.problems if p.column == "height_m"}
    given = (frame["height_m"].to_numpy(dtype=float, na_value=np.nan) if "height_m" in frame
             else np.full(len(frame), np.nan))
    heights = np.where(np.isnan(given), np.nan if default_height_m is None else float(default_height_m), given)
    for i in range(len(ids)):
        if i + 1 in unreadable:
            continue
        if np.isnan(heights[i]):
            collector.add(name, "no height_m and no --height-m default", row=i + 1, column="height_m",
                          feature_id=ids[i])
        elif heights[i] < 0:
            collector.add(name, f"height_m {heights[i]:g} is negative", row=i + 1, column="height_m",
                          feature_id=ids[i])
    collector.raise_if_any(name)
    geoms = frame.geometry
    return ids, geoms.x.to_numpy(dtype=float), geoms.y.to_numpy(dtype=float), heights
