"""Postal service indicators: service radius, people per point, BĐVHX presence and the QCVN 1:2008 norms.

The Ministry's average service radius is R = √(S / (π · N)) with S the area (km²) and N the number of service
points; people per point is P / N. For Điện Biên in 2021: √(9541.25 / (π · 168)) = 4.25 km and 3,670 people per
point. Which point kinds count toward N is a parameter (national series differ by that); the default counts all.
"""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import numpy as np
import pandas as pd

from . import settings

logger = logging.getLogger(__name__)


def service_radius_km(area_km2: float, n_points: int) -> float | None:
    """Return the average service radius R = √(S / (π · N)) in km, or None when there is no point.

    Examples
    --------
    >>> round(service_radius_km(9541.25, 168), 2)
    4.25
    """
    if n_points <= 0:
        return None
    return math.sqrt(area_km2 / (math.pi * n_points))


def people_per_point(population: float, n_points: int) -> float | None:
    """Return the number of people per service point, or None when there is no point.

    Examples
    --------
    >>> round(people_per_point(616_560, 168))
    3670
    """
    if n_points <= 0:
        return None
    return population / n_points


def counted_points(post_offices: gpd.GeoDataFrame, *, kinds: tuple[str, ...] | None = None) -> gpd.GeoDataFrame:
    """Return the service points that count toward N (all kinds when `kinds` is None)."""
    kinds = settings.postal_kinds_counted if kinds is None else kinds
    if kinds is None:
        return post_offices
    return post_offices[post_offices["kind"].isin(kinds)]


def postal_by_unit(units: gpd.GeoDataFrame, post_offices: gpd.GeoDataFrame, *, unit_of_point: pd.Series,
                   kinds: tuple[str, ...] | None = None, max_radius_km: float | None = None,
                   max_people_per_point: float | None = None) -> pd.DataFrame:
    """Postal indicators per unit (commune or district), with the QCVN 1:2008 norms checked.

    Parameters
    ----------
    units
        Unit polygons with `code`, `population` and, for communes, `kind`.
    post_offices
        Service points.
    unit_of_point
        Unit code of each service point (aligned on `post_offices`' index).
    kinds
        Point kinds that count (default all).
    max_radius_km, max_people_per_point
        Norms; default ``settings.postal_max_radius_km`` (3 km) and ``settings.postal_max_people_per_point``
        (8,000).

    Returns
    -------
    pandas.DataFrame
        Indexed by unit code: `area_km2`, `points`, `bdvhx`, `radius_km`, `people_per_point`, `meets_norms`,
        `failures` (the norms not met, in words).
    """
    max_radius_km = settings.postal_max_radius_km if max_radius_km is None else max_radius_km
    max_people = settings.postal_max_people_per_point if max_people_per_point is None else max_people_per_point
    counted = counted_points(post_offices, kinds=kinds)
    codes = units["code"].to_numpy()
    points = unit_of_point.loc[counted.index].value_counts().reindex(codes, fill_value=0)
    bdvhx = unit_of_point[post_offices["kind"] == "bdvhx"].value_counts().reindex(codes, fill_value=0)
    area = pd.Series(units.geometry.area.to_numpy() / 1e6, index=codes)
    population = pd.Series(units["population"].astype("Float64").to_numpy(), index=codes) \
        if "population" in units else pd.Series(np.nan, index=codes)
    with np.errstate(divide="ignore", invalid="ignore"):
        radius = np.sqrt(area / (np.pi * points.where(points > 0)))
        ppp = population / points.where(points > 0)
    table = pd.DataFrame({"area_km2": area, "points": points, "bdvhx": bdvhx, "radius_km": radius,
                          "people_per_point": ppp})
    kinds_col = units["kind"].to_numpy() if "kind" in units else np.array([None] * len(units))
    failures = []
    for code, kind in zip(codes, kinds_col, strict=True):
        row = table.loc[code]
        fail = []
        if row["points"] == 0:
            fail.append("no service point" + (" in this xã" if kind == "xa" else ""))
        else:
            if row["radius_km"] > max_radius_km:
                fail.append(f"radius {row['radius_km']:.2f} km > {max_radius_km:g} km")
            if pd.notna(row["people_per_point"]) and row["people_per_point"] > max_people:
                fail.append(f"{row['people_per_point']:.0f} people per point > {max_people:,.0f}")
        failures.append("; ".join(fail))
    table["failures"] = failures
    table["meets_norms"] = table["failures"] == ""
    table.index.name = "code"
    return table


def village_access(villages: gpd.GeoDataFrame, post_offices: gpd.GeoDataFrame, *,
                   kinds: tuple[str, ...] | None = None, threshold_km: float = 5.0,
                   roads: gpd.GeoDataFrame | None = None, max_offroad_m: float = 5000.0) -> pd.DataFrame:
    """Distance from each village to its nearest postal service point, straight and along the roads.

    Parameters
    ----------
    villages, post_offices
        Layers in the working CRS.
    kinds
        Point kinds that count (default all).
    threshold_km
        Villages farther than this (along the roads when given, else straight) are flagged.
    roads
        Road lines: the distance then runs along the network (`ictgis.network.build_network`); villages and
        post offices off the network join it by a straight connector, counted separately (`offroad_km`, the
        village's and the post office's connectors together).
    max_offroad_m
        Points farther than this from every road stay unattached (road distance NaN, reason in `note`).

    Returns
    -------
    pandas.DataFrame
        Indexed like `villages`: `id`, `nearest_point`, `straight_km`; with roads also `road_km` (on the
        network), `offroad_km`, `total_km` and `via_point` (the nearest point along the roads); `beyond_threshold`.
    """
    points = counted_points(post_offices, kinds=kinds)
    out = pd.DataFrame(index=villages.index)
    out["id"] = villages["id"].to_numpy() if "id" in villages else villages.index
    if len(points) == 0:
        out["nearest_point"] = None
        out["straight_km"] = np.nan
        out["beyond_threshold"] = True
        return out
    joined = gpd.sjoin_nearest(villages[[villages.geometry.name]], points[["id", points.geometry.name]],
                               how="left", distance_col="_d")
    joined = joined[~joined.index.duplicated(keep="first")]
    out["nearest_point"] = joined["id"].reindex(villages.index).to_numpy()
    out["straight_km"] = joined["_d"].reindex(villages.index).to_numpy() / 1000.0
    distance = out["straight_km"]
    if roads is not None:
        road = _road_distances(villages, points, roads, max_offroad_m=max_offroad_m)
        out = out.join(road)
        distance = out["total_km"]
    out["beyond_threshold"] = (distance > threshold_km) | distance.isna()
    return out


def _road_distances(villages: gpd.GeoDataFrame, points: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, *,
                    max_offroad_m: float) -> pd.DataFrame:
    """Shortest road distance from each village to any point (multi-source Dijkstra on the CSR graph)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    from .network import build_network

    net = build_network(roads)
    # attach villages and post offices in one call, so no point joins another point's connector
    both = pd.concat([villages.geometry, points.geometry], ignore_index=True)
    net, att = net.attach_points(both, max_distance_m=max_offroad_m)
    nv = len(villages)
    at_v = type(att)(att.node[:nv], att.offroad_m[:nv], att.snapped[:nv])
    at_p = type(att)(att.node[nv:], att.offroad_m[nv:], att.snapped[nv:])
    e = net.edges
    n = net.n_nodes
    graph = csr_matrix((e["length_m"].to_numpy(float), (e["u"].to_numpy(), e["v"].to_numpy())), shape=(n, n))
    ok_p = at_p.node >= 0
    if not ok_p.any():
        return pd.DataFrame({"road_km": np.nan, "offroad_km": np.nan, "total_km": np.nan, "via_point": None},
                            index=villages.index)
    # Dijkstra from every post office's own node at once (their connectors are edges of the graph)
    src_nodes = at_p.node[ok_p]
    dist, _pred, sources = dijkstra(graph, directed=False, indices=src_nodes, min_only=True,
                                    return_predecessors=True)
    vnode = at_v.node
    ok_v = vnode >= 0
    total = np.full(len(villages), np.nan)
    total[ok_v] = dist[vnode[ok_v]]
    total[~np.isfinite(total)] = np.nan
    via_node = np.full(len(villages), -1)
    via_node[ok_v] = sources[vnode[ok_v]]
    p_off = pd.Series(at_p.offroad_m[ok_p], index=src_nodes).groupby(level=0).min()
    p_ids = pd.Series(points["id"].to_numpy()[ok_p], index=src_nodes).groupby(level=0).first()
    off = np.where(ok_v, at_v.offroad_m, np.nan) + np.array([p_off.get(v, np.nan) for v in via_node])
    off[np.isnan(total)] = np.nan
    road_m = total - off
    return pd.DataFrame({"road_km": np.round(road_m / 1000.0, 3), "offroad_km": np.round(off / 1000.0, 3),
                         "total_km": np.round(total / 1000.0, 3),
                         "via_point": [p_ids.get(v) if v >= 0 else None for v in via_node]}, index=villages.index)
