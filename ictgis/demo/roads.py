"""Roads grown on the work grid by least-cost paths over slope, and their vector layer."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from .communes import Work
from .geography import CRS
from .grid import Grid, grid_edges, nearest_cells, path_to_tree

# National and provincial roads: name, class rank, waypoints (district codes = seats, or lon/lat).
ROUTES = (
    ("QL279", 0, ("094", "102", "099", (103.57, 21.80))),
    ("QL279", 0, ("094", (102.875, 21.27))),  # branch to the Tây Trang border gate
    ("QL6", 0, ("099", (103.60, 21.53))),
    ("QL12", 0, ("094", "097", "095", (103.16, 22.16))),
    ("QL4H", 0, ("095", (102.86, 21.94), "096", (102.16, 22.40))),
    ("ĐT145", 1, ("097", "103")),
    ("ĐT130", 1, ("094", "101")),
    ("ĐT140", 1, ("099", "098")),
    ("ĐT131", 1, ("094", "100", (103.09, 20.90))),
)


RANKS = ("national", "provincial", "district", "commune", "track")


def chaikin(xy: np.ndarray, iterations: int = 2) -> np.ndarray:
    """Chaikin corner cutting of an open polyline; the end points stay where they are."""
    for _ in range(iterations):
        if len(xy) < 3:
            return xy
        q = 0.75 * xy[:-1] + 0.25 * xy[1:]
        r = 0.25 * xy[:-1] + 0.75 * xy[1:]
        mid = np.empty((2 * (len(xy) - 1), 2))
        mid[0::2], mid[1::2] = q, r
        xy = np.vstack([xy[:1], mid[1:-1], xy[-1:]])
    return xy


class RoadGrid:
    """A road network grown on a grid by least-cost paths over slope.

    Edges between 8-neighbour cells cost their length × (1 + (slope / 7 %)²), more on high ground; edges already
    on a road cost a third, so later roads join earlier ones. Roads are stored as cell-to-cell edges with a class
    rank (0 national … 4 track) and a name.
    """

    def __init__(self, grid: Grid, z: np.ndarray, mask: np.ndarray):
        self.grid = grid
        self.n = grid.nx * grid.ny
        self.src, self.dst, length = grid_edges(grid, mask, eight=True)
        zf = z.ravel()
        slope = np.abs(zf[self.src] - zf[self.dst]) / length
        high = np.maximum(0.5 * (zf[self.src] + zf[self.dst]) - 1100.0, 0.0) / 1500.0
        self.base = length * (1.0 + (slope / 0.07) ** 2) * (1.0 + high)
        self.on = np.zeros(self.n, dtype=bool)
        self.mask = mask.ravel()
        self.edges: dict[tuple[int, int], tuple[int, str]] = {}

    def _graph(self, reuse: float = 0.33) -> csr_matrix:
        w = self.base * np.where(self.on[self.src] & self.on[self.dst], reuse, 1.0)
        return csr_matrix((w, (self.src, self.dst)), shape=(self.n, self.n))

    def add_path(self, path: list[int], rank: int, name: str) -> None:
        """Add a cell path; a diagonal step crossing an existing diagonal goes through a shared corner cell."""
        nx = self.grid.nx
        cells = [path[0]]
        for q in path[1:]:
            p = cells[-1]
            (rp, cp), (rq, cq) = divmod(p, nx), divmod(q, nx)
            if rp != rq and cp != cq:
                b, c = rp * nx + cq, rq * nx + cp
                if (min(b, c), max(b, c)) in self.edges:
                    cells.append(b if self.mask[b] else c)
            cells.append(q)
        for a, b in zip(cells[:-1], cells[1:], strict=True):
            key = (min(a, b), max(a, b))
            old = self.edges.get(key)
            if old is None or rank < old[0]:
                self.edges[key] = (rank, name)
        self.on[cells] = True

    def route(self, a: int, b: int, rank: int, name: str) -> list[int]:
        """Least-cost road from cell `a` to cell `b`."""
        _, pred = dijkstra(self._graph(), indices=a, return_predecessors=True)
        path = path_to_tree(pred, b, np.zeros(self.n, dtype=bool))
        self.add_path(path, rank, name)
        return path

    def connect(self, targets: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """Link each target cell to the network by its least-cost path; returns the path cost of each."""
        dist, pred, _ = dijkstra(self._graph(), indices=np.flatnonzero(self.on), min_only=True,
                              return_predecessors=True)
        for i in np.argsort(dist[targets], kind="stable"):
            t = int(targets[i])
            if self.on[t] or not np.isfinite(dist[t]):
                continue
            path = path_to_tree(pred, t, self.on)
            self.add_path(path, int(ranks[i]), "")
        return dist[targets]


def _waypoint(w: Work, mask: np.ndarray, p) -> int:
    if isinstance(p, str):
        return w.seats[p]
    return int(nearest_cells(mask, w.grid, w.place([p]))[0])


def main_roads(w: Work) -> RoadGrid:
    """National and provincial roads between district seats and border points, then a road to every centre."""
    mask = (w.label >= 0).reshape(w.grid.ny, w.grid.nx)
    net = RoadGrid(w.grid, w.z, mask)
    for name, rank, stops in ROUTES:
        cells = [_waypoint(w, mask, p) for p in stops if not isinstance(p, str) or p in w.seats]
        for a, b in zip(cells[:-1], cells[1:], strict=True):
            net.route(a, b, rank, name)
    net.connect(w.centres, np.full(len(w.centres), 2))
    return net


def road_chains(edges: dict[tuple[int, int], tuple], grid: Grid) -> list[tuple[np.ndarray, tuple]]:
    """Split an edge set into chains between junctions (or attribute changes); returns (xy, attrs) per chain."""
    g = nx.Graph()
    for (a, b), attrs in sorted(edges.items()):
        g.add_edge(a, b, attrs=attrs)
    breaks = {u for u in g if g.degree(u) != 2 or len({g.edges[u, v]["attrs"] for v in g[u]}) > 1}
    seen: set[tuple[int, int]] = set()
    chains = []
    starts = sorted(breaks) + sorted(set(g) - breaks)
    for u in starts:
        for v in sorted(g[u]):
            if (min(u, v), max(u, v)) in seen:
                continue
            path, prev, cur = [u], u, v
            attrs = g.edges[u, v]["attrs"]
            while True:
                seen.add((min(prev, cur), max(prev, cur)))
                path.append(cur)
                if cur in breaks or cur == u:
                    break
                nxt = [n for n in sorted(g[cur]) if n != prev and (min(cur, n), max(cur, n)) not in seen]
                if not nxt:
                    break
                prev, cur = cur, nxt[0]
            chains.append((chaikin(grid.centres(np.array(path)), 2), attrs))
    return chains


def roads_layer(net: RoadGrid, grid: Grid) -> gpd.GeoDataFrame:
    """Return the road layer: one smoothed, simplified line per chain, with its class and name."""
    chains = road_chains(net.edges, grid)
    geoms = shapely.simplify(np.array([shapely.LineString(xy) for xy, _ in chains]), 8.0)
    return gpd.GeoDataFrame({"id": [f"R{i + 1:05d}" for i in range(len(chains))],
                             "road_class": [RANKS[a[0]] for _, a in chains],
                             "name": [a[1] for _, a in chains]}, geometry=geoms, crs=CRS)


def road_csr(net: RoadGrid) -> tuple[csr_matrix, np.ndarray]:
    """Return the road network as a symmetric sparse graph (edge weight: length in m) and its edges (m, 2)."""
    keys = np.array(sorted(net.edges), dtype=np.int64).reshape(-1, 2)
    d = np.hypot(*(net.grid.centres(keys[:, 0]) - net.grid.centres(keys[:, 1])).T)
    return csr_matrix((np.r_[d, d], (np.r_[keys[:, 0], keys[:, 1]], np.r_[keys[:, 1], keys[:, 0]])),
                      shape=(net.n, net.n)), keys
