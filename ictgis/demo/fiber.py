"""Fiber: which villages have none (and the 4G white zones around them), and the fiber routes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra

from .communes import Work
from .geography import CRS, REMOTE_DISTRICTS
from .grid import path_to_tree
from .roads import RoadGrid, road_chains, road_csr

N_UNFIBERED = 169


def fiber_and_gaps(w: Work, net: RoadGrid, vil: gpd.GeoDataFrame, cells: np.ndarray) -> np.ndarray:
    """Mark the 169 villages without fiber (the farthest by road from trunk roads, mostly in remote districts).

    Returns the row numbers of the villages intended without 4G: a few remote "white zones" holding ≈ 5 % of the
    population, grown around the remotest unfibered villages.
    """
    graph, keys = road_csr(net)
    trunk = np.unique(keys[[net.edges[tuple(k)][0] <= 2 for k in keys.tolist()]])
    dist = dijkstra(graph, indices=trunk, min_only=True)[cells]
    dcode = w.communes.dist_code.to_numpy()[w.label[cells]]
    remote = np.isin(dcode, REMOTE_DISTRICTS)
    centre = np.r_[True, vil.commune.to_numpy()[1:] != vil.commune.to_numpy()[:-1]]
    urban = w.communes.kind.to_numpy()[w.label[cells]] != "xa"
    score = (np.nan_to_num(dist, posinf=1e7) + 500.0) * np.where(remote, 3.0, 1.0) * (1 + w.z.ravel()[cells] / 2000)
    score *= w.rng.uniform(0.85, 1.15, len(score))
    score[centre | urban] = -1.0
    no_fiber = np.argsort(-score, kind="stable")[:N_UNFIBERED]
    vil.loc[no_fiber, "fiber"] = 0
    # White zones for 4G, around the remotest unfibered villages of the remote districts.
    xy = shapely.get_coordinates(vil.geometry.values)
    pop = vil.population.to_numpy()
    zones: list[int] = []
    gap = np.zeros(len(vil), dtype=bool)
    for j in no_fiber:
        if pop[gap].sum() >= 0.045 * pop.sum():
            break
        if not remote[j] or any(np.hypot(*(xy[z] - xy[j])) < 25_000 for z in zones):
            continue
        zones.append(int(j))
        gap |= (np.hypot(*(xy - xy[j]).T) < 5500) & ~centre & ~urban & remote
    return np.flatnonzero(gap)


def fiber_routes(w: Work, net: RoadGrid, vil: gpd.GeoDataFrame, vcells: np.ndarray) -> gpd.GeoDataFrame:
    """Backbone on national roads, distribution along roads to every commune centre, access to fibered villages."""
    graph, _ = road_csr(net)
    dcode = w.communes.dist_code.to_numpy()
    edges: dict[tuple[int, int], tuple[int, str]] = {}
    for k, (rank, name) in net.edges.items():
        if rank == 0:
            edges[k] = (0, "VNPT" if name in ("QL279", "QL12") else "Viettel")
    def grow(targets: np.ndarray, kind: int) -> None:
        tree = np.zeros(net.n, dtype=bool)
        tree[[c for k in edges for c in k]] = True
        _, pred, _ = dijkstra(graph, indices=np.flatnonzero(tree), min_only=True, return_predecessors=True)
        for t in targets:
            op = "Viettel" if dcode[w.label[t]] in REMOTE_DISTRICTS else "VNPT"
            path = path_to_tree(pred, int(t), tree)
            for a, b in zip(path[:-1], path[1:], strict=True):
                edges.setdefault((min(a, b), max(a, b)), (kind, op))
            tree[path] = True

    grow(w.centres, 1)
    grow(vcells[vil.fiber.to_numpy() == 1], 2)
    chains = road_chains(edges, w.grid)
    geoms = shapely.simplify(np.array([shapely.LineString(xy) for xy, _ in chains]), 8.0)
    urban = w.communes[(w.communes.kind != "xa").to_numpy()].geometry.union_all()
    under = shapely.within(shapely.line_interpolate_point(geoms, 0.5, normalized=True), urban)
    kinds = ("backbone", "distribution", "access")
    return gpd.GeoDataFrame({"id": [f"F{i + 1:04d}" for i in range(len(chains))],
                             "kind": [kinds[a[0]] for _, a in chains],
                             "install": np.where(under & (np.array([a[0] for _, a in chains]) > 0), "underground",
                                                 "aerial"),
                             "operator": [a[1] for _, a in chains]}, geometry=geoms, crs=CRS)
