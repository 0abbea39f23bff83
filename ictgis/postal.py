"""Postal service indicators: service radius, people per point, BĐVHX presence and the QCVN 1:2008 norms.

The Ministry's average service radius is R = √(S / (π · N)) with S the area (km²) and N the number of service
points; people per point is P / N. For Điện Biên in 2021: √(9541.25 / (π · 168)) = 4.25 km and 3,670 people per
point. Which point kinds count toward N is a parameter (national series differ by that); the default counts all.
Kinds are named as in the post_offices layer (``cap1`` … ``bdvhx``) or by their Vietnamese labels (``Bưu cục cấp I``,
``Điểm BĐVHX`` …, see `KIND_LABELS_VI`); an unknown kind is an error (`parse_kinds`), never a silent 0.

A village's distance to post is the shorter of the straight walk to the nearest service point and the path along the
roads with the off-road connectors at both ends (`village_access`); every village beyond the threshold says why.
"""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import numpy as np
import pandas as pd

from . import settings
from .layers import POST_OFFICE_KINDS, VALUE_ALIASES, fold

logger = logging.getLogger(__name__)

KIND_LABELS_VI: dict[str, str] = {
    "cap1": "Bưu cục cấp I", "cap2": "Bưu cục cấp II", "cap3": "Bưu cục cấp III", "kt1": "Bưu cục KT1",
    "large_cust": "Bưu cục khách hàng lớn", "letterbox": "Hộp thư công cộng", "bdvhx": "Điểm BĐVHX",
    "other": "Khác"}
"""Vietnamese label of each post office kind (accepted wherever kinds are named)."""


def parse_kinds(kinds: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...] | None:
    """Return the post office kinds named in `kinds` (comma-separated text or a sequence), as layer values.

    Names are compared without case or diacritics and may be the Vietnamese labels (`KIND_LABELS_VI`) or the other
    spellings the post_offices layer accepts (``BC1``, ``bưu cục cấp 2``, ``hộp thư`` …).

    Raises
    ------
    ValueError
        For a name that is no kind, listing the valid kinds with their Vietnamese labels; for an empty list.

    Examples
    --------
    >>> parse_kinds("Điểm BĐVHX, CAP1")
    ('bdvhx', 'cap1')
    """
    if kinds is None:
        return None
    names = [str(k).strip() for k in (kinds.split(",") if isinstance(kinds, str) else kinds) if str(k).strip()]
    aliases = VALUE_ALIASES["kind@post_offices"] | {fold(v): k for k, v in KIND_LABELS_VI.items()}
    out, bad = [], []
    for name in names:
        kind = aliases.get(fold(name))
        if kind is None or kind not in POST_OFFICE_KINDS:
            bad.append(name)
        elif kind not in out:
            out.append(kind)
    if bad or not out:
        valid = ", ".join(f"{k} ({KIND_LABELS_VI[k]})" for k in POST_OFFICE_KINDS)
        what = f"unknown post office kind {', '.join(map(repr, bad))}" if bad else "no post office kind given"
        raise ValueError(f"{what}; valid kinds: {valid}")
    return tuple(out)


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
    """Return the service points that count toward N (all kinds when `kinds` is None).

    Raises
    ------
    ValueError
        For an unknown kind (`parse_kinds`).
    """
    kinds = parse_kinds(settings.postal_kinds_counted if kinds is None else kinds)
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


def rounded_units(table: pd.DataFrame) -> pd.DataFrame:
    """Return a `postal_by_unit` table for output: lengths and areas to 3 decimals, counts of people as integers.

    People per point is a number of people (``10554``, not ``10554.0``; empty where a unit has no point).
    """
    out = table.copy()
    for col in ("area_km2", "radius_km"):
        if col in out:
            out[col] = out[col].astype(float).round(3)
    for col in ("points", "bdvhx", "people_per_point"):
        if col in out:
            out[col] = out[col].astype(float).round().astype("Int64")
    return out


def village_access(villages: gpd.GeoDataFrame, post_offices: gpd.GeoDataFrame, *,
                   kinds: tuple[str, ...] | None = None, threshold_km: float = 5.0,
                   roads: gpd.GeoDataFrame | None = None, max_offroad_m: float = 5000.0) -> pd.DataFrame:
    """Distance from each village to its nearest postal service point: the straight walk or along the roads.

    The distance used (`distance_km`) is the shorter of the straight off-road walk to the nearest point and, when
    roads are given, the path along the road network with the straight connectors at both ends: a village 1 km
    from its post office with the nearest road 2 km away is 1 km from post, not 5.

    Parameters
    ----------
    villages, post_offices
        Layers in the working CRS.
    kinds
        Point kinds that count (default all; `parse_kinds`).
    threshold_km
        Villages farther than this are flagged (`beyond_threshold`), each with a `reason`.
    roads
        Road lines: the distance may then run along the network (`ictgis.network.build_network`); villages and
        post offices off the network join it by a straight connector, counted separately (`offroad_km`, the
        village's and the post office's connectors together).
    max_offroad_m
        Points farther than this from every road stay unattached (no road distance; the straight walk counts).

    Returns
    -------
    pandas.DataFrame
        Indexed like `villages`: `id`, `nearest_point`, `straight_km`; with roads also `road_km` (on the
        network), `offroad_km`, `total_km` and `via_point` (the nearest point along the roads); then
        `distance_km` (the shorter), `distance_by` (``straight`` or ``roads``), `service_point` (the point it
        reaches), `beyond_threshold` and, for flagged villages, `reason` and `reason_vi` (empty otherwise).

    Raises
    ------
    ValueError
        For an unknown kind.
    """
    points = counted_points(post_offices, kinds=kinds)
    out = pd.DataFrame(index=villages.index)
    out["id"] = villages["id"].to_numpy() if "id" in villages else villages.index
    if len(points) == 0:
        out["nearest_point"] = None
        out["straight_km"] = np.nan
        out["distance_km"] = np.nan
        out["distance_by"] = None
        out["service_point"] = None
        out["beyond_threshold"] = True
        out["reason"] = "no service point of the counted kinds"
        out["reason_vi"] = "không có điểm phục vụ bưu chính thuộc các loại được tính"
        return out
    joined = gpd.sjoin_nearest(villages[[villages.geometry.name]], points[["id", points.geometry.name]],
                               how="left", distance_col="_d")
    joined = joined[~joined.index.duplicated(keep="first")]
    out["nearest_point"] = joined["id"].reindex(villages.index).to_numpy()
    straight = joined["_d"].reindex(villages.index).to_numpy(float) / 1000.0
    out["straight_km"] = np.round(straight, 3)
    along = np.full(len(villages), np.nan)
    attached = np.zeros(len(villages), dtype=bool)
    if roads is not None:
        road = _road_distances(villages, points, roads, max_offroad_m=max_offroad_m)
        attached = road.pop("_attached").to_numpy(bool)
        along = road.pop("_total_km").to_numpy(float)
        out = out.join(road)
    by_road = np.isfinite(along) & (along < straight)
    distance = np.where(by_road, along, straight)
    out["distance_km"] = np.round(distance, 3)
    out["distance_by"] = np.where(by_road, "roads", "straight")
    out["service_point"] = np.where(by_road, out.get("via_point"), out["nearest_point"])
    out["beyond_threshold"] = ~(distance <= threshold_km)
    reasons = [_reason(d, by, pt, st, al, att, threshold_km=threshold_km, roads=roads is not None,
                       max_offroad_km=max_offroad_m / 1000.0) if flag else ("", "")
               for d, by, pt, st, al, att, flag in zip(distance, by_road, out["service_point"], straight, along,
                                                       attached, out["beyond_threshold"], strict=True)]
    out["reason"] = [r[0] for r in reasons]
    out["reason_vi"] = [r[1] for r in reasons]
    return out


def _reason(distance: float, by_road: bool, point: object, straight: float, along: float, attached: bool, *,
            threshold_km: float, roads: bool, max_offroad_km: float) -> tuple[str, str]:
    """Why a village is beyond the threshold, in English and Vietnamese."""
    if not np.isfinite(distance):
        return ("no service point could be measured to", "không đo được khoảng cách tới điểm bưu chính nào")
    en = f"{distance:.1f} km to {point}, more than {threshold_km:g} km"
    vi = f"cách điểm {point} {distance:.1f} km, quá {threshold_km:g} km"
    if not roads:
        return f"{en} (straight)", f"{vi} (đường thẳng)"
    if np.isfinite(along) and by_road:
        return (f"{en} (along the roads with the connectors; {straight:.1f} km straight)",
                f"{vi} (theo đường giao thông, kể cả đoạn nối; đường thẳng {straight:.1f} km)")
    if np.isfinite(along):
        return (f"{en} (straight; {along:.1f} km along the roads with the connectors)",
                f"{vi} (đường thẳng; theo đường giao thông, kể cả đoạn nối, {along:.1f} km)")
    if not attached:
        return (f"{en} (straight; no road within {max_offroad_km:g} km of the village)",
                f"{vi} (đường thẳng; không có đường giao thông trong phạm vi {max_offroad_km:g} km quanh thôn)")
    return (f"{en} (straight; no service point on the village's part of the road network)",
            f"{vi} (đường thẳng; không có điểm bưu chính trên đoạn mạng đường nơi thôn nằm)")


def _road_distances(villages: gpd.GeoDataFrame, points: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, *,
                    max_offroad_m: float) -> pd.DataFrame:
    """Shortest road distance from each village to any point (multi-source Dijkstra on the CSR graph).

    Besides the output columns, ``_attached`` (the village joined the network) and ``_total_km`` (unrounded).
    """
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
        return pd.DataFrame({"road_km": np.nan, "offroad_km": np.nan, "total_km": np.nan, "via_point": None,
                             "_attached": at_v.node >= 0, "_total_km": np.nan}, index=villages.index)
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
                         "via_point": [p_ids.get(v) if v >= 0 and np.isfinite(t) else None
                                       for v, t in zip(via_node, total, strict=True)],
                         "_attached": ok_v, "_total_km": total / 1000.0}, index=villages.index)
