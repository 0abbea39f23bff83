"""Passive infrastructure: towers shared between operators, and fiber cable underground or on poles.

Definitions (the indicator contract's ``sharing.*`` and ``fiber.underground_*`` keys, `ictgis.indicators`):

tower
    One physical structure hosting one or more BTS records (`bts_sites` rows). Two records stand on the same tower
    when they carry the same shared-tower id (the optional ``tower`` attribute, e.g. the tower company's code), or
    when they lie within ``distance_m`` of each other (default `ictgis.settings.sharing_distance_m`, 50 m:
    co-located antennas on one mast or one rooftop), transitively (single linkage).
shared tower (``sites_shared``)
    A tower hosting two or more distinct operators. Several records of one operator on one tower (e.g. a 2G and a
    4G record) do not make it shared.
``sites_shared_pct``
    Shared towers as a share of all towers (%, 1 decimal).
underground share
    Length of fiber route with ``install`` = underground over the length whose installation is known (km, %);
    routes without an installation are counted apart (``underground_unknown_km``), never as aerial.

Functions return new frames; inputs are never modified.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from . import settings

logger = logging.getLogger(__name__)


def tower_groups(bts: gpd.GeoDataFrame, *, distance_m: float | None = None) -> np.ndarray:
    """Return the tower number (0 … n_towers − 1) of each BTS record.

    Parameters
    ----------
    bts
        BTS sites in a projected CRS (metres), with an optional ``tower`` column (shared-tower id).
    distance_m
        Records this close are on one tower (default `ictgis.settings.sharing_distance_m`); 0 uses only the
        ``tower`` ids (and identical points).

    Returns
    -------
    numpy.ndarray
        One integer per row, in row order; towers are numbered by their first record.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> b = gpd.GeoDataFrame({"operator": ["A", "B", "C"]},
    ...                      geometry=shapely.points([(0, 0), (30, 0), (500, 0)]), crs="EPSG:9205")
    >>> tower_groups(b).tolist()
    [0, 0, 1]
    """
    d = settings.sharing_distance_m if distance_m is None else float(distance_m)
    n = len(bts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    pts = bts.geometry.to_numpy()
    a, b = shapely.STRtree(pts).query(pts, predicate="dwithin", distance=d)
    rows, cols = [a], [b]
    if "tower" in bts:
        ids = bts["tower"].astype(object).where(bts["tower"].notna(), None).to_numpy()
        known = pd.Series([str(i).strip() if i is not None and str(i).strip() else None for i in ids])
        codes = pd.factorize(known, use_na_sentinel=True)[0]
        has = np.flatnonzero(codes >= 0)
        if len(has):
            first = pd.Series(has).groupby(codes[has]).transform("first").to_numpy()
            rows.append(has)
            cols.append(first)
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # Renumber by first appearance, so tower numbers follow the row order.
    _, first_idx, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first_idx))
    return order[inverse].astype(np.int64)


def towers(bts: gpd.GeoDataFrame, *, distance_m: float | None = None) -> pd.DataFrame:
    """Return one row per tower: ``tower``, ``operators`` (distinct), ``records``, ``shared`` and ``commune``.

    The tower's commune is the commune of its first record (``commune`` column of `bts`, when present).
    """
    group = tower_groups(bts, distance_m=distance_m)
    frame = pd.DataFrame({"tower": group, "operator": bts["operator"].astype(str).to_numpy()})
    if "commune" in bts:
        frame["commune"] = bts["commune"].astype(object).to_numpy()
    out = frame.groupby("tower", sort=True).agg(operators=("operator", "nunique"), records=("operator", "size"))
    if "commune" in frame:
        out["commune"] = frame.groupby("tower", sort=True)["commune"].first()
    out["shared"] = out["operators"] >= 2
    return out.reset_index()


def route_install(routes: gpd.GeoDataFrame) -> pd.Series:
    """Return each route's installation (``aerial``, ``underground`` or None when not known)."""
    if "install" not in routes:
        return pd.Series([None] * len(routes), index=routes.index, dtype=object)
    values = routes["install"].astype(object)
    return values.where(values.isin(["aerial", "underground"]), None)


def fiber_km_by_commune(routes: gpd.GeoDataFrame, communes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return fiber route length inside each commune by installation, in km.

    Parameters
    ----------
    routes
        Fiber routes with an optional ``install`` column.
    communes
        Commune polygons with ``code``, in the routes' CRS.

    Returns
    -------
    pandas.DataFrame
        Indexed by commune code (every commune, 0 where no route passes): ``fiber_km``, ``underground_km``,
        ``aerial_km``, ``unknown_km``.
    """
    install = route_install(routes).to_numpy()
    lines = routes.geometry.to_numpy()
    polys = communes.geometry.to_numpy()
    li, pi = shapely.STRtree(lines).query(polys, predicate="intersects")[::-1]
    length = shapely.length(shapely.intersection(lines[li], polys[pi])) / 1000.0 if len(li) else np.zeros(0)
    kind = np.array(["unknown" if v is None else v for v in install[li]], dtype=object)
    frame = pd.DataFrame({"code": communes["code"].to_numpy()[pi], "kind": kind, "km": length})
    table = frame.pivot_table(index="code", columns="kind", values="km", aggfunc="sum", fill_value=0.0)
    out = pd.DataFrame(index=pd.Index(communes["code"].to_numpy(), name="code"))
    for col in ("underground", "aerial", "unknown"):
        out[f"{col}_km"] = table[col].reindex(out.index).fillna(0.0).to_numpy() if col in table else 0.0
    out.insert(0, "fiber_km", out[["underground_km", "aerial_km", "unknown_km"]].sum(axis=1))
    return out
