"""Routable road network.

The roads layer becomes an undirected graph: lines are noded where they cross or touch, dangling ends within
``snap_tolerance_m`` of another road are joined to it, and chains of segments between junctions become edges that
keep their geometry, length (metres, in the layer's projected CRS), road class, urban/rural setting (from the
commune kind when communes are given), mean absolute grade (from the DEM when given) and a cost. Points (villages)
attach to the nearest point of the network, splitting the edge there, through an off-road connector; existing fiber
becomes zero-cost *sources*: road nodes along a fiber route, and the points where a route ends on, crosses or runs
along a road. A route (or point of presence) no road passes near joins the nearest road by a costed off-road
connector, as villages do (`attach_sources`). Disconnected parts are reported (`ComponentReport`), never silently
ignored.

Computation runs on symmetric CSR arrays (`WGraph`, with one extra node, the *super-source*, linked to every
source): multi-source Dijkstra with ``scipy.sparse.csgraph``. Steiner trees and budget selection on these graphs
are in `ictgis.steiner`.

Example
-------
>>> net = build_network(roads)                                      # doctest: +SKIP
>>> net, att = net.attach_points(villages.geometry, max_distance_m=5000)  # doctest: +SKIP
>>> graph = net.graph()                                                 # doctest: +SKIP
>>> from ictgis.steiner import steiner_tree                             # doctest: +SKIP
>>> tree = steiner_tree(graph, [graph.source, *att.node[att.node >= 0]])    # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse import csgraph
from scipy.spatial import cKDTree
from shapely.ops import substring

from . import settings
from ._errors import CRSError, LayerError, Problem

logger = logging.getLogger(__name__)

NODE_TOLERANCE_M = 0.01
"""Segment ends closer than this (metres) are one node."""
MIN_WEIGHT = 1e-9
"""Smallest edge weight handed to scipy (explicit zeros are fragile there)."""
SETTING_OF_COMMUNE_KIND = settings.environment_of_commune_kind
"""Urban/rural setting of a road from the kind of commune it runs through (``settings.environment_of_commune_kind``)."""

CostFunction = Callable[[pd.DataFrame], np.ndarray]
"""Maps edge attributes (columns ``kind``, ``road_class``, ``setting``, ``grade``) to a cost per metre."""


# ------------------------------------------------------------------------------------------------ reports
@dataclass(frozen=True)
class ComponentReport:
    """Connected components of a network.

    Attributes
    ----------
    table
        One row per component, largest first: ``component``, ``nodes``, ``edges``, ``length_km``, ``sources``
        (fiber taps on it) and ``points`` (attached villages).
    labels
        Component number of every node (numbered as in `table`).
    """

    table: pd.DataFrame
    labels: np.ndarray

    @property
    def n_components(self) -> int:
        """Number of components."""
        return len(self.table)

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {"n_components": self.n_components, "components": [
            {k: (round(float(v), 3) if isinstance(v, float) else int(v)) for k, v in row.items()}
            for row in self.table.to_dict("records")]}

    def __str__(self) -> str:
        if self.n_components <= 1:
            return "road network: 1 connected component"
        main = self.table.iloc[0]
        rest = self.table.iloc[1:]
        return (f"road network: {self.n_components} components; the largest has {main.length_km:.1f} km of road, "
                f"{len(rest)} others hold {rest.length_km.sum():.1f} km ({int(rest.points.sum())} attached points)")


@dataclass(frozen=True)
class Attachment:
    """Where points joined the network.

    Attributes
    ----------
    node
        Graph node of each point (-1 when no road lies within the search distance).
    offroad_m
        Length of the off-road connector of each point (NaN when not attached).
    snapped
        Nearest point on the network of each point (None when not attached).
    """

    node: np.ndarray
    offroad_m: np.ndarray
    snapped: np.ndarray


# ------------------------------------------------------------------------------------------------ CSR graph
@dataclass(frozen=True)
class WGraph:
    """Undirected weighted graph as symmetric CSR arrays.

    Attributes
    ----------
    matrix
        Symmetric ``n × n`` CSR matrix of weights (parallel edges reduced to the cheapest).
    edge_id
        For each stored entry of `matrix`, the id of the edge it stands for (row of `RoadNetwork.edges`, or
        ``n_edges + i`` for the i-th source link).
    source
        Index of the super-source node, or -1.
    """

    matrix: sp.csr_matrix
    edge_id: np.ndarray
    source: int = -1

    @classmethod
    def from_edges(cls, n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray, *, edge_id: np.ndarray | None = None,
                   source: int = -1) -> WGraph:
        """Build from edge lists; self-loops dropped, parallel edges reduced to the cheapest, weights ≥ MIN_WEIGHT."""
        u, v = np.asarray(u, dtype=np.int64), np.asarray(v, dtype=np.int64)
        w = np.maximum(np.asarray(w, dtype=float), MIN_WEIGHT)
        eid = np.arange(len(u)) if edge_id is None else np.asarray(edge_id, dtype=np.int64)
        keep = (u != v) & np.isfinite(w)
        u, v, w, eid = u[keep], v[keep], w[keep], eid[keep]
        rows, cols = np.r_[u, v], np.r_[v, u]
        ww, ee = np.r_[w, w], np.r_[eid, eid]
        order = np.lexsort((ww, cols, rows))
        rows, cols, ww, ee = rows[order], cols[order], ww[order], ee[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, ww, ee = rows[first], cols[first], ww[first], ee[first]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        matrix = sp.csr_matrix((ww, cols.astype(np.int32), indptr), shape=(n, n))
        return cls(matrix=matrix, edge_id=ee, source=source)

    @property
    def n(self) -> int:
        """Number of nodes."""
        return self.matrix.shape[0]

    def _keys(self) -> np.ndarray:
        keys = self.__dict__.get("_keys_cache")
        if keys is None:
            rows = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.matrix.indptr))
            keys = rows * self.n + self.matrix.indices
            object.__setattr__(self, "_keys_cache", keys)
        return keys

    def positions(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Positions in the CSR arrays of edges (u, v); raises KeyError for a missing edge."""
        key = np.asarray(u, dtype=np.int64) * self.n + np.asarray(v, dtype=np.int64)
        keys = self._keys()
        pos = np.searchsorted(keys, key)
        pos = np.minimum(pos, len(keys) - 1)
        if len(key) and not np.all(keys[pos] == key):
            raise KeyError("edge not in graph")
        return pos

    def weight(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Weights of edges (u, v)."""
        return self.matrix.data[self.positions(u, v)]

    def arcs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arrays (u, v, w) of both directions of every edge (the CSR entries)."""
        cached = self.__dict__.get("_arcs_cache")
        if cached is None:
            rows = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.matrix.indptr))
            cached = (rows, self.matrix.indices.astype(np.int64), self.matrix.data)
            object.__setattr__(self, "_arcs_cache", cached)
        return cached

    def undirected_edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arrays (u, v, w) with u < v, one per edge."""
        cached = self.__dict__.get("_und_cache")
        if cached is None:
            rows = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.matrix.indptr))
            cols = self.matrix.indices.astype(np.int64)
            m = rows < cols
            cached = (rows[m], cols[m], self.matrix.data[m])
            object.__setattr__(self, "_und_cache", cached)
        return cached

    def to_networkx(self, *, weight: str = "weight") -> nx.Graph:
        """Return the same graph in networkx (nodes 0 … n-1)."""
        u, v, w = self.undirected_edges()
        g = nx.Graph()
        g.add_nodes_from(range(self.n))
        g.add_weighted_edges_from(zip(u.tolist(), v.tolist(), w.tolist(), strict=True), weight=weight)
        return g


# ------------------------------------------------------------------------------------------------ road network
@dataclass
class RoadNetwork:
    """A noded road network with costs, attached points and fiber sources.

    Attributes
    ----------
    crs
        CRS of coordinates and lengths (projected, metres).
    node_xy
        ``(n, 2)`` node coordinates.
    edges
        One row per edge: ``u``, ``v`` (geometry runs from u to v), ``length_m``, ``cost``, ``kind`` (road or
        offroad), ``road_class``, ``setting``, ``grade``, ``geometry``.
    sources
        Links from the existing fiber network (the super-source) to nodes: ``node``, ``cost``, ``length_m``,
        ``kind`` (tap: zero-cost point on a fiber route; connector: off-road cable from a route no road passes
        near to the nearest road; drop: off-road cable from a village straight to a route), ``geometry``.
    cost_per_m
        Cost function the edge costs came from (None: cost = length).
    """

    crs: object
    node_xy: np.ndarray
    edges: gpd.GeoDataFrame
    sources: gpd.GeoDataFrame = field(default_factory=lambda: _empty_sources(None))
    cost_per_m: CostFunction | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes (without the super-source)."""
        return len(self.node_xy)

    def graph(self, weight: str = "cost") -> WGraph:
        """Routing graph on `weight` (``cost`` or ``length_m``); node ``n_nodes`` is the super-source."""
        if weight not in self._cache:
            e, s = self.edges, self.sources
            n = self.n_nodes
            u = np.r_[e.u.to_numpy(np.int64), np.full(len(s), n, dtype=np.int64)]
            v = np.r_[e.v.to_numpy(np.int64), s.node.to_numpy(np.int64)]
            w = np.r_[e[weight].to_numpy(float), s[weight].to_numpy(float)]
            ids = np.arange(len(u))
            self._cache[weight] = WGraph.from_edges(n + 1, u, v, w, edge_id=ids, source=n)
        return self._cache[weight]

    def components(self) -> ComponentReport:
        """Return the connected components of the network (without the super-source), largest first."""
        e = self.edges
        n = self.n_nodes
        adj = sp.coo_matrix((np.ones(len(e)), (e.u.to_numpy(), e.v.to_numpy())), shape=(n, n))
        ncomp, labels = csgraph.connected_components(adj, directed=False)
        lab_e = labels[e.u.to_numpy()]
        road = (e.kind == "road").to_numpy()
        length = np.bincount(lab_e[road], weights=e.length_m.to_numpy()[road], minlength=ncomp) / 1000.0
        table = pd.DataFrame({
            "component": np.arange(ncomp), "nodes": np.bincount(labels, minlength=ncomp),
            "edges": np.bincount(lab_e, minlength=ncomp), "length_km": length,
            "sources": np.bincount(labels[self.sources.node.to_numpy(np.int64)], minlength=ncomp),
            "points": np.bincount(lab_e[~road], minlength=ncomp)})
        table = table.sort_values(["length_km", "nodes"], ascending=False, kind="stable")
        renumber = np.empty(ncomp, dtype=np.int64)
        renumber[table.component.to_numpy()] = np.arange(ncomp)
        table["component"] = np.arange(ncomp)
        return ComponentReport(table=table.reset_index(drop=True), labels=renumber[labels])

    def to_networkx(self, *, weight: str = "cost", with_source: bool = False) -> nx.Graph:
        """Return a networkx graph (cheapest of parallel edges) with ``G.graph["crs"]`` and node ``x``/``y``.

        Edge attributes: ``length_m``, ``cost``, ``kind``, ``road_class``, ``edge_id``; `weight` is also copied to
        ``weight``. With `with_source`, node ``"source"`` links to every source.
        """
        g = nx.Graph(crs=self.crs)
        for i, (x, y) in enumerate(self.node_xy.tolist()):
            g.add_node(i, x=x, y=y)
        e = self.edges.sort_values(weight, ascending=False)
        for eid, r in zip(e.index.tolist(), e[["u", "v", "length_m", "cost", "kind", "road_class"]].itertuples(
                index=False), strict=True):
            if r.u != r.v:
                g.add_edge(int(r.u), int(r.v), length_m=r.length_m, cost=r.cost, kind=r.kind,
                           road_class=r.road_class, edge_id=eid, weight=getattr(r, weight))
        if with_source:
            for r in self.sources.sort_values(weight, ascending=False).itertuples():
                g.add_edge("source", int(r.node), length_m=r.length_m, cost=r.cost, kind=r.kind,
                           weight=float(getattr(r, weight)))
        return g

    def attach_points(self, points: gpd.GeoSeries | Sequence[shapely.Point], *, max_distance_m: float,
                      snap_to_node_m: float = 1.0, connector: bool = True) -> tuple[RoadNetwork, Attachment]:
        """Attach points to the nearest point of the network, splitting edges there.

        Parameters
        ----------
        points
            Points in the network's CRS.
        max_distance_m
            Points farther than this from every edge stay unattached (node -1).
        snap_to_node_m
            A point projecting within this distance of an edge end uses that node; a point within it of the
            network uses the snapped node itself (no connector).
        connector
            Add an ``offroad`` edge from each point to its snapped node (cost per metre from `cost_per_m`, kind
            ``offroad``). Without it the point's node is the snapped node.

        Returns
        -------
        tuple[RoadNetwork, Attachment]
            A new network (this one is unchanged) and where each point joined.
        """
        pts = np.asarray(getattr(points, "values", points), dtype=object)
        n_pts = len(pts)
        node_of = np.full(n_pts, -1, dtype=np.int64)
        offroad = np.full(n_pts, np.nan)
        snapped = np.full(n_pts, None, dtype=object)
        if n_pts == 0 or len(self.edges) == 0:
            return self, Attachment(node_of, offroad, snapped)
        geoms = self.edges.geometry.to_numpy()
        tree = shapely.STRtree(geoms)
        ok = ~(shapely.is_missing(pts) | shapely.is_empty(pts))
        (pi, ei), dist = tree.query_nearest(pts[ok], max_distance=max_distance_m, return_distance=True,
                                            all_matches=False)
        pi = np.flatnonzero(ok)[pi]
        along = shapely.line_locate_point(geoms[ei], pts[pi])
        e_len = shapely.length(geoms[ei])
        along = np.clip(along, 0.0, e_len)

        xy = [self.node_xy]
        n_next = self.n_nodes
        e = self.edges
        keep_edges = np.ones(len(e), dtype=bool)
        new_rows: list[dict] = []
        point_node = np.full(len(pi), -1, dtype=np.int64)
        eu, ev = e.u.to_numpy(), e.v.to_numpy()
        records = e.drop(columns=e.geometry.name).to_dict("records")
        for edge in np.unique(ei):
            sel = np.flatnonzero(ei == edge)
            t = along[sel]
            length = e_len[sel[0]]
            at_start = t <= snap_to_node_m
            at_end = t >= length - snap_to_node_m
            point_node[sel[at_start]] = eu[edge]
            point_node[sel[at_end & ~at_start]] = ev[edge]
            inner = ~(at_start | at_end)
            if not inner.any():
                continue
            cuts, inv = np.unique(np.round(t[inner], 3), return_inverse=True)
            ids = np.arange(n_next, n_next + len(cuts))
            n_next += len(cuts)
            line = geoms[edge]
            xy.append(shapely.get_coordinates(shapely.line_interpolate_point(line, cuts)))
            point_node[sel[inner]] = ids[inv]
            keep_edges[edge] = False
            bounds = np.r_[0.0, cuts, length]
            ends = np.r_[eu[edge], ids, ev[edge]]
            row = records[edge]
            for k in range(len(bounds) - 1):
                piece = substring(line, bounds[k], bounds[k + 1])
                frac = (bounds[k + 1] - bounds[k]) / length if length > 0 else 0.0
                new_rows.append({**row, "u": ends[k], "v": ends[k + 1], "geometry": piece,
                                 "length_m": float(bounds[k + 1] - bounds[k]), "cost": float(row["cost"]) * frac})
        node_of[pi] = point_node
        snapped[pi] = shapely.points(np.vstack(xy)[point_node]) if len(pi) else snapped[pi]
        edges = e[keep_edges]
        if new_rows:
            edges = pd.concat([edges, gpd.GeoDataFrame(new_rows, geometry="geometry", crs=e.crs)],
                              ignore_index=True)
        if connector:
            far = dist > snap_to_node_m
            conn_pts = pts[pi[far]]
            ids = np.arange(n_next, n_next + int(far.sum()))
            n_next += len(ids)
            xy.append(shapely.get_coordinates(conn_pts).reshape(-1, 2))
            lines = shapely.linestrings(np.stack([shapely.get_coordinates(conn_pts).reshape(-1, 2),
                                                  np.vstack(xy[:-1])[point_node[far]]], axis=1)) if len(ids) else []
            conn = pd.DataFrame({"u": ids, "v": point_node[far], "length_m": dist[far], "kind": "offroad",
                                 "road_class": "offroad", "setting": "rural", "grade": 0.0})
            conn["cost"] = dist[far] * _cost_per_m(self.cost_per_m, conn)
            edges = pd.concat([edges, gpd.GeoDataFrame(conn, geometry=np.asarray(lines, dtype=object), crs=e.crs)],
                              ignore_index=True)
            node_of[pi[far]] = ids
            offroad[pi] = np.where(far, dist, 0.0)
        else:
            offroad[pi] = 0.0
        edges = gpd.GeoDataFrame(edges, geometry="geometry", crs=e.crs)
        edges["u"] = edges.u.astype(np.int64)
        edges["v"] = edges.v.astype(np.int64)
        net = RoadNetwork(crs=self.crs, node_xy=np.vstack(xy), edges=edges.reset_index(drop=True),
                          sources=self.sources, cost_per_m=self.cost_per_m)
        return net, Attachment(node_of, offroad, snapped)

    def add_nodes(self, xy: np.ndarray) -> tuple[RoadNetwork, np.ndarray]:
        """Return a network with extra isolated nodes at `xy`, and their ids."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        ids = np.arange(self.n_nodes, self.n_nodes + len(xy))
        return RoadNetwork(crs=self.crs, node_xy=np.vstack([self.node_xy, xy]), edges=self.edges,
                           sources=self.sources, cost_per_m=self.cost_per_m), ids

    def with_sources(self, nodes: np.ndarray, *, cost: np.ndarray | float = 0.0, length_m: np.ndarray | float = 0.0,
                     kind: str = "tap", geometry: np.ndarray | None = None) -> RoadNetwork:
        """Return a network with extra links from the super-source (existing fiber) to `nodes`."""
        nodes = np.asarray(nodes, dtype=np.int64)
        add = gpd.GeoDataFrame({"node": nodes, "cost": np.broadcast_to(cost, nodes.shape).astype(float),
                                "length_m": np.broadcast_to(length_m, nodes.shape).astype(float), "kind": kind},
                               geometry=np.full(len(nodes), None, dtype=object) if geometry is None else geometry,
                               crs=self.edges.crs)
        sources = pd.concat([self.sources, add], ignore_index=True) if len(self.sources) else add
        return RoadNetwork(crs=self.crs, node_xy=self.node_xy, edges=self.edges,
                           sources=gpd.GeoDataFrame(sources, geometry="geometry", crs=self.edges.crs),
                           cost_per_m=self.cost_per_m)


def _empty_sources(crs) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"node": np.zeros(0, np.int64), "cost": np.zeros(0), "length_m": np.zeros(0),
                             "kind": np.zeros(0, dtype=object)}, geometry=np.zeros(0, dtype=object), crs=crs)


def _cost_per_m(fn: CostFunction | None, attrs: pd.DataFrame) -> np.ndarray:
    if fn is None:
        return np.ones(len(attrs))
    out = np.asarray(fn(attrs), dtype=float)
    return np.broadcast_to(out, (len(attrs),)).copy()


# ------------------------------------------------------------------------------------------------ building
def build_network(roads: gpd.GeoDataFrame, *, snap_tolerance_m: float = 10.0, cost_per_m: CostFunction | None = None,
                  communes: gpd.GeoDataFrame | None = None, dem_path: object = None,
                  slope_sample_m: float | None = None) -> RoadNetwork:
    """Build a routable network from a roads layer.

    Parameters
    ----------
    roads
        Line layer in a projected CRS; ``road_class`` is used when present.
    snap_tolerance_m
        Road ends this close to another road are joined to it (a short connector of the same class).
    cost_per_m
        Cost per metre from edge attributes (``kind``, ``road_class``, ``setting``, ``grade``); None: 1 per metre.
    communes
        Commune polygons with ``kind`` (xa/phuong/thi_tran) giving each road's setting (rural/urban/suburban).
    dem_path
        Elevation raster: each edge gets its mean absolute grade (rise over run).
    slope_sample_m
        Sampling step along roads for the grade (default: the DEM's pixel size).

    Returns
    -------
    RoadNetwork

    Raises
    ------
    LayerError
        When the layer has no line geometry.
    CRSError
        When the layer has no CRS or a geographic one.
    """
    if roads.crs is None or not roads.crs.is_projected:
        raise CRSError("roads need a projected CRS (metres) to build a network",
                       [Problem("roads", f"CRS is {roads.crs}; bring the layer to the working CRS first")])
    frame = roads.explode(index_parts=False)
    geoms = frame.geometry.to_numpy()
    good = shapely.get_type_id(geoms) == 1
    good &= ~shapely.is_empty(geoms) & (shapely.length(geoms) > 0)
    if not good.any():
        raise LayerError("roads layer has no lines", [Problem("roads", "no LineString features to route on")])
    geoms = shapely.force_2d(geoms[good])
    classes = (frame["road_class"].astype(object).where(frame["road_class"].notna(), "unknown").to_numpy()[good]
               if "road_class" in frame else np.full(len(geoms), "unknown", dtype=object))
    # Join dangling ends to a road within the tolerance with short connectors.
    conn, conn_class = _dangle_connectors(geoms, classes, snap_tolerance_m)
    lines = np.concatenate([geoms, conn])
    line_class = np.concatenate([classes, conn_class]).astype(object)
    segs = shapely.get_parts(shapely.node(shapely.GeometryCollection(list(lines))))
    segs = segs[shapely.length(segs) > 0]
    mids = shapely.line_interpolate_point(segs, 0.5, normalized=True)
    seg_src = shapely.STRtree(lines).query_nearest(mids, all_matches=False)[1]
    seg_class = line_class[seg_src]
    ends = np.concatenate([shapely.get_coordinates(shapely.get_point(segs, 0)),
                           shapely.get_coordinates(shapely.get_point(segs, -1))])
    node_id, node_xy = _merge_points(ends)
    su, sv = node_id[: len(segs)], node_id[len(segs):]
    edges = _contract_chains(segs, su, sv, seg_class, len(node_xy))
    used = np.unique(np.r_[edges.u.to_numpy(), edges.v.to_numpy()])
    remap = np.full(len(node_xy), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    edges["u"], edges["v"] = remap[edges.u.to_numpy()], remap[edges.v.to_numpy()]
    node_xy = node_xy[used]
    edges = gpd.GeoDataFrame(edges, geometry="geometry", crs=roads.crs)
    edges["length_m"] = shapely.length(edges.geometry.to_numpy())
    edges["kind"] = "road"
    edges["setting"] = _settings(edges.geometry.to_numpy(), communes)
    edges["grade"] = _grades(edges.geometry.to_numpy(), dem_path, roads.crs, slope_sample_m) if dem_path else 0.0
    edges["cost"] = edges.length_m.to_numpy() * _cost_per_m(cost_per_m, edges)
    edges = edges[["u", "v", "length_m", "cost", "kind", "road_class", "setting", "grade", "geometry"]]
    net = RoadNetwork(crs=roads.crs, node_xy=node_xy, edges=edges.reset_index(drop=True),
                      sources=_empty_sources(roads.crs), cost_per_m=cost_per_m)
    logger.info("road network: %d nodes, %d edges, %.1f km (%d connectors under %.0f m)", net.n_nodes, len(edges),
                edges.length_m.sum() / 1000, len(conn), snap_tolerance_m)
    return net


def _dangle_connectors(geoms: np.ndarray, classes: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    if tol <= 0 or len(geoms) < 2:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=object)
    ends = np.concatenate([shapely.get_point(geoms, 0), shapely.get_point(geoms, -1)])
    owner = np.r_[np.arange(len(geoms)), np.arange(len(geoms))]
    ei, li = shapely.STRtree(geoms).query(ends, predicate="dwithin", distance=tol)
    other = li != owner[ei]
    ei, li = ei[other], li[other]
    d = shapely.distance(ends[ei], geoms[li])
    # An end already touching another road needs nothing.
    touching = np.zeros(len(ends), dtype=bool)
    touching[ei[d <= NODE_TOLERANCE_M]] = True
    m = ~touching[ei]
    ei, li, d = ei[m], li[m], d[m]
    if len(ei) == 0:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=object)
    order = np.lexsort((d, ei))
    ei, li = ei[order], li[order]
    first = np.r_[True, ei[1:] != ei[:-1]]
    ei, li = ei[first], li[first]
    conn = shapely.shortest_line(ends[ei], geoms[li])
    return conn, classes[owner[ei]]


def _merge_points(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge points closer than NODE_TOLERANCE_M; return (id of each point, coordinates of each id)."""
    uniq, inv = np.unique(np.round(xy, 3), axis=0, return_inverse=True)
    inv = inv.ravel()
    pairs = cKDTree(uniq).query_pairs(NODE_TOLERANCE_M, output_type="ndarray")
    if len(pairs):
        g = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(uniq), len(uniq)))
        _, lab = csgraph.connected_components(g, directed=False)
        first = np.full(lab.max() + 1, -1)
        first[lab[::-1]] = np.arange(len(uniq))[::-1]
        return lab[inv], uniq[first]
    return inv, uniq


def _contract_chains(segs: np.ndarray, su: np.ndarray, sv: np.ndarray, seg_class: np.ndarray, n: int
                     ) -> gpd.GeoDataFrame:
    """Join segments into edges between junctions (degree ≠ 2 or a change of road class)."""
    deg = np.bincount(np.r_[su, sv], minlength=n)
    loop = su == sv  # closed rings from a node back to itself: edges of their own
    loops = gpd.GeoDataFrame({"u": su[loop], "v": sv[loop], "road_class": seg_class[loop]}, geometry=segs[loop])
    segs, su, sv, seg_class = segs[~loop], su[~loop], sv[~loop], seg_class[~loop]
    if not len(segs):
        return loops
    # Nodes of degree 2 whose two segments have different classes are junctions too.
    inc_class: dict[int, set] = {}
    for node, cls in zip(np.r_[su, sv].tolist(), np.r_[seg_class, seg_class].tolist(), strict=True):
        if deg[node] == 2:
            inc_class.setdefault(node, set()).add(cls)
    junction = deg != 2
    for node, classes in inc_class.items():
        if len(classes) > 1:
            junction[node] = True
    # Segments sharing a non-junction node belong to the same chain.
    m = len(segs)
    inner = ~junction
    sid = np.r_[np.arange(m), np.arange(m)]
    nodes = np.r_[su, sv]
    sel = inner[nodes]
    order = np.argsort(nodes[sel], kind="stable")
    pair_s = sid[sel][order].reshape(-1, 2)
    g = sp.coo_matrix((np.ones(len(pair_s)), (pair_s[:, 0], pair_s[:, 1])), shape=(m, m))
    nchain, chain = csgraph.connected_components(g, directed=False)
    merged = shapely.line_merge(shapely.multilinestrings(segs, indices=chain))
    single = shapely.get_type_id(merged) == 1
    if not single.all():  # should not happen; fall back to the raw segments of those chains
        bad = np.isin(chain, np.flatnonzero(~single))
        logger.debug("%d chains did not merge; kept as segments", int((~single).sum()))
        merged = np.r_[merged[single], segs[bad]]
        chain_class = np.r_[_first_by(chain[~bad], seg_class[~bad], nchain)[single], seg_class[bad]]
    else:
        chain_class = _first_by(chain, seg_class, nchain)
    node_pts = np.zeros((n, 2))
    node_pts[su] = shapely.get_coordinates(shapely.get_point(segs, 0))
    node_pts[sv] = shapely.get_coordinates(shapely.get_point(segs, -1))
    if single.all():  # a loop through a junction must start and end at that junction
        for k in np.flatnonzero(shapely.is_closed(merged)):
            members = np.flatnonzero(chain == k)
            cand = np.unique(np.r_[su[members], sv[members]])
            cand = cand[junction[cand]]
            if len(cand):
                coords = shapely.get_coordinates(merged[k])
                i = int(np.argmin(np.hypot(*(coords[:-1] - node_pts[cand[0]]).T)))
                merged[k] = shapely.LineString(np.r_[coords[i:-1], coords[: i + 1]])
    start = shapely.get_coordinates(shapely.get_point(merged, 0))
    end = shapely.get_coordinates(shapely.get_point(merged, -1))
    tree = cKDTree(node_pts)
    u = tree.query(start)[1]
    v = tree.query(end)[1]
    chains = gpd.GeoDataFrame({"u": u.astype(np.int64), "v": v.astype(np.int64), "road_class": chain_class},
                              geometry=merged)
    return pd.concat([chains, loops], ignore_index=True) if len(loops) else chains


def _first_by(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(n, dtype=object)
    out[group[::-1]] = values[::-1]
    return out


def _settings(geoms: np.ndarray, communes: gpd.GeoDataFrame | None) -> np.ndarray:
    out = np.full(len(geoms), "rural", dtype=object)
    if communes is None or "kind" not in communes or len(geoms) == 0:
        return out
    mids = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
    pi, ci = shapely.STRtree(communes.geometry.to_numpy()).query(mids, predicate="within")
    kinds = communes["kind"].astype(object).map(SETTING_OF_COMMUNE_KIND).fillna("rural").to_numpy()
    out[pi[::-1]] = kinds[ci[::-1]]
    return out


def _grades(geoms: np.ndarray, dem_path: object, crs: object, sample_m: float | None) -> np.ndarray:
    """Mean absolute grade (rise / run) of each line on a DEM."""
    import rasterio
    from pyproj import Transformer

    with rasterio.open(dem_path) as src:
        z = src.read(1, masked=True).astype(float).filled(np.nan)
        transform, dem_crs = src.transform, src.crs
    step = sample_m or abs(transform.a)
    dense = shapely.segmentize(geoms, step)
    coords, idx = shapely.get_coordinates(dense, return_index=True)
    x, y = coords[:, 0], coords[:, 1]
    if dem_crs is not None and crs is not None and dem_crs != crs:
        x, y = Transformer.from_crs(crs, dem_crs, always_xy=True).transform(x, y)
    inv = ~transform
    x, y = np.asarray(x), np.asarray(y)
    col, row = inv.a * x + inv.b * y + inv.c, inv.d * x + inv.e * y + inv.f
    row, col = np.floor(row).astype(np.int64), np.floor(col).astype(np.int64)
    inside = (row >= 0) & (row < z.shape[0]) & (col >= 0) & (col < z.shape[1])
    elev = np.full(len(x), np.nan)
    elev[inside] = z[row[inside], col[inside]]
    same = idx[1:] == idx[:-1]
    dz = np.abs(np.diff(elev))[same]
    run = np.hypot(np.diff(coords[:, 0]), np.diff(coords[:, 1]))[same]
    ok = np.isfinite(dz)
    owner = idx[1:][same]
    rise = np.bincount(owner[ok], weights=dz[ok], minlength=len(geoms))
    runs = np.bincount(owner[ok], weights=run[ok], minlength=len(geoms))
    return np.divide(rise, runs, out=np.zeros(len(geoms)), where=runs > 0)


def attach_fiber(net: RoadNetwork, fiber_routes: gpd.GeoDataFrame, *, tolerance_m: float = 50.0,
                 sample_m: float = 500.0, connect: bool = True) -> RoadNetwork:
    """Make existing fiber routes zero-cost sources of `net` (`attach_sources` without its report).

    Parameters
    ----------
    net
        The road network.
    fiber_routes
        Existing fiber lines (or points of presence) in the network's CRS.
    tolerance_m
        How close a route must run to a road to be tapped there.
    sample_m
        Spacing of the points sampled along routes.
    connect
        Join a route that no road passes within `tolerance_m` by an off-road connector to the nearest road.

    Returns
    -------
    RoadNetwork
        A new network with ``tap`` (and ``connector``) sources.
    """
    geoms = fiber_routes.geometry.to_numpy() if len(fiber_routes) else np.zeros(0, dtype=object)
    return attach_sources(net, geoms, tolerance_m=tolerance_m, sample_m=sample_m, connect=connect)[0]


def attach_sources(net: RoadNetwork, geoms: np.ndarray | Sequence[shapely.Geometry] | gpd.GeoSeries, *,
                   tolerance_m: float = 50.0, sample_m: float = 500.0, connect: bool = True
                   ) -> tuple[RoadNetwork, pd.DataFrame]:
    """Make existing fiber — routes (lines) or points of presence — sources of `net`, each one attached.

    Road nodes within `tolerance_m` of a route become zero-cost ``tap`` sources, and so do the points where a route
    ends near a road, crosses one, or runs along one (sampled every `sample_m`), and points of presence within
    `tolerance_m` of a road; edges are split there. A route or point no road passes within `tolerance_m` of is
    joined, as villages are, by costed off-road ``connector`` sources: the shortest line from it to the nearest road,
    plus one from each of its ends and sample points that lie within `tolerance_m` of that shortest distance (a
    route beside a road joins it all along); cost per metre of an ``offroad`` edge under ``net.cost_per_m``.

    Parameters
    ----------
    net
        The road network.
    geoms
        Line or point geometries of the existing fiber network, in the network's CRS.
    tolerance_m
        How close a route must run to a road to be tapped there.
    sample_m
        Spacing of the points sampled along routes.
    connect
        Join sources without a tap by an off-road connector (False: they stay unattached).

    Returns
    -------
    tuple[RoadNetwork, pandas.DataFrame]
        A new network with ``tap`` and ``connector`` sources, and one row per geometry: ``taps`` (number of tap
        nodes), ``connector_m`` (length of its connector; 0 when tapped, NaN when empty or not connected) and
        ``node`` (road node its shortest connector joins, -1 when none).
    """
    geoms = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    report = pd.DataFrame({"taps": np.zeros(len(geoms), np.int64), "connector_m": np.full(len(geoms), np.nan),
                           "node": np.full(len(geoms), -1, np.int64)})
    valid = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms))) if len(geoms) else geoms
    if len(valid) == 0 or len(net.edges) == 0:
        return net, report
    parts, part_of = shapely.get_parts(geoms[valid], return_index=True)
    owner = valid[part_of]
    is_line = np.isin(shapely.get_type_id(parts), (1, 2))
    lparts, lowner = parts[is_line], owner[is_line]
    ends = np.r_[shapely.get_point(lparts, 0), shapely.get_point(lparts, -1), parts[~is_line]]
    end_owner = np.r_[lowner, lowner, owner[~is_line]]
    road_edges = net.edges.geometry.to_numpy()[(net.edges.kind == "road").to_numpy()]
    ri, fi = shapely.STRtree(lparts).query(road_edges, predicate="intersects")
    # Where a route crosses a road (overlaps are covered by the nodes along them and the route's ends).
    crossings, cross_of = (shapely.get_parts(shapely.intersection(road_edges[ri], lparts[fi]), return_index=True)
                           if len(ri) else (np.zeros(0, dtype=object), np.zeros(0, np.int64)))
    point_like = shapely.get_type_id(crossings) == 0
    crossings, cross_owner = crossings[point_like], lowner[fi[cross_of[point_like]]]
    lengths = shapely.length(lparts)
    counts = np.floor(lengths / sample_m).astype(np.int64)
    sample_of = np.repeat(np.arange(len(lparts)), counts)
    along = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 0.5) * sample_m
    samples = (shapely.line_interpolate_point(lparts[sample_of], along) if len(sample_of)
               else np.zeros(0, dtype=object))
    pts = np.r_[ends, crossings, samples]
    pts_owner = np.r_[end_owner, cross_owner, lowner[sample_of]]
    net2, att = net.attach_points(pts, max_distance_m=tolerance_m, connector=False)
    on_edges = np.zeros(net2.n_nodes, dtype=bool)
    on_edges[np.r_[net2.edges.u.to_numpy(), net2.edges.v.to_numpy()]] = True
    ni, pi = shapely.STRtree(parts).query(shapely.points(net2.node_xy), predicate="dwithin", distance=tolerance_m)
    hit = att.node >= 0
    tap_node = np.r_[ni, att.node[hit]]
    tap_owner = np.r_[owner[pi], pts_owner[hit]]
    keep = on_edges[tap_node]
    tap_node, tap_owner = tap_node[keep], tap_owner[keep]
    pairs = np.unique(np.c_[tap_owner, tap_node], axis=0) if len(tap_node) else np.zeros((0, 2), np.int64)
    report["taps"] = np.bincount(pairs[:, 0], minlength=len(geoms)).astype(np.int64)
    taps = np.unique(tap_node)
    report.loc[report.index[valid][report["taps"].to_numpy()[valid] > 0], "connector_m"] = 0.0
    net2 = net2.with_sources(taps, kind="tap")
    logger.info("existing fiber: %d tap nodes on the road network", len(taps))
    loose = valid[report["taps"].to_numpy()[valid] == 0]
    if not connect or len(loose) == 0:
        return net2, report
    # Connectors from the route's nearest point to the road, and from its ends and samples as close as that
    # (within the tolerance): a route running beside a road is joined along it, not only at one end.
    roads_now = net2.edges.geometry.to_numpy()[(net2.edges.kind == "road").to_numpy()]
    tree = shapely.STRtree(roads_now)
    (si, ei), dist = tree.query_nearest(geoms[loose], return_distance=True, all_matches=False)
    nearest = shapely.get_point(shapely.shortest_line(geoms[loose][si], roads_now[ei]), 0)
    cand = np.isin(pts_owner, loose)
    (ci, cj), cdist = tree.query_nearest(pts[cand], return_distance=True, all_matches=False)
    c_owner = pts_owner[cand][ci]
    d_min = pd.Series(dist, index=loose[si]).groupby(level=0).min()
    close = cdist <= d_min.reindex(c_owner).to_numpy() + tolerance_m
    starts = np.r_[nearest, pts[cand][ci][close]]
    start_owner = np.r_[loose[si], c_owner[close]]
    (_, ek), sdist = tree.query_nearest(starts, return_distance=True, all_matches=False)
    lines = shapely.shortest_line(starts, roads_now[ek])
    key = np.c_[start_owner, np.round(shapely.get_coordinates(shapely.get_point(lines, -1)), 1)]
    _, first = np.unique(key, axis=0, return_index=True)
    first = np.sort(first)
    lines, sdist, start_owner = lines[first], sdist[first], start_owner[first]
    net3, att2 = net2.attach_points(shapely.get_point(lines, -1), max_distance_m=max(1.0, NODE_TOLERANCE_M),
                                    connector=False)
    ok = att2.node >= 0
    src = start_owner[ok]
    attrs = pd.DataFrame({"kind": "offroad", "road_class": "offroad", "setting": "rural", "grade": 0.0},
                         index=range(int(ok.sum())))
    cost = sdist[ok] * _cost_per_m(net.cost_per_m, attrs)
    best = pd.DataFrame({"src": src, "d": sdist[ok], "node": att2.node[ok]}).sort_values(["src", "d"],
                                                                                        kind="stable")
    best = best.drop_duplicates("src")
    report.loc[best.src.to_numpy(), "connector_m"] = best.d.to_numpy()
    report.loc[best.src.to_numpy(), "node"] = best.node.to_numpy()
    logger.info("existing fiber: %d routes or points joined by %d off-road connectors", len(best), int(ok.sum()))
    return net3.with_sources(att2.node[ok], cost=cost, length_m=sdist[ok], kind="connector",
                             geometry=lines[ok]), report


def synthetic_road_graph(n_nodes: int, *, seed: int = 0, keep: float = 0.7, cell_m: float = 500.0
                         ) -> tuple[WGraph, np.ndarray]:
    """Build a deterministic road-like test graph: a jittered grid, about `keep` of its links, winding lengths.

    Parameters
    ----------
    n_nodes
        Approximate number of nodes (a square grid of that size, then its largest component).
    seed
        Random seed: the same seed gives the same graph.
    keep
        Share of grid links kept.
    cell_m
        Grid spacing in metres.

    Returns
    -------
    tuple[WGraph, numpy.ndarray]
        The graph (weights = lengths in metres) and ``(n, 2)`` node coordinates.
    """
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_nodes)))
    idx = np.arange(side * side).reshape(side, side)
    xy = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="xy"), axis=-1).reshape(-1, 2) * cell_m
    xy = xy + rng.uniform(-0.3, 0.3, xy.shape) * cell_m
    u = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    v = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    m = rng.random(len(u)) < keep
    u, v = u[m], v[m]
    w = np.hypot(*(xy[u] - xy[v]).T) * rng.uniform(1.0, 1.4, len(u))
    adj = sp.coo_matrix((w, (u, v)), shape=(side * side,) * 2)
    _, lab = csgraph.connected_components(adj, directed=False)
    big = lab == np.bincount(lab).argmax()
    remap = np.cumsum(big) - 1
    m = big[u]
    return WGraph.from_edges(int(big.sum()), remap[u[m]], remap[v[m]], w[m]), xy[big]
