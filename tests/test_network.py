from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from conftest import steiner_dp
from networkx.algorithms.approximation import steiner_tree as nx_steiner_tree
from scipy.sparse import csgraph

from ictgis._errors import CRSError, LayerError
from ictgis.network import WGraph, attach_fiber, attach_sources, build_network, synthetic_road_graph
from ictgis.steiner import mehlhorn_tree, steiner_tree

CRS = "EPSG:9205"
X0, Y0 = 500_000.0, 2_360_000.0


def roads(*lines, classes=None) -> gpd.GeoDataFrame:
    geoms = [shapely.LineString([(X0 + x, Y0 + y) for x, y in line]) for line in lines]
    return gpd.GeoDataFrame({"road_class": classes or ["commune"] * len(geoms)}, geometry=geoms, crs=CRS)


def is_tree_spanning(edges: np.ndarray, terminals) -> bool:
    g = nx.Graph()
    g.add_edges_from(edges.tolist())
    g.add_nodes_from(int(t) for t in terminals)
    leaves_ok = all(g.degree(x) > 1 or x in {int(t) for t in terminals} for x in g)
    return nx.is_tree(g) and leaves_ok


# ------------------------------------------------------------------------------------------------ building
def test_crossing_roads_are_noded():
    net = build_network(roads([(0, 0), (2000, 0)], [(1000, -1000), (1000, 1000)]))
    assert net.n_nodes == 5
    assert len(net.edges) == 4
    assert net.edges.length_m.sum() == pytest.approx(4000.0)
    assert sorted(np.bincount(np.r_[net.edges.u, net.edges.v]).tolist()) == [1, 1, 1, 1, 4]


def test_chains_keep_their_geometry_and_length():
    wiggle = [(x, 50 * np.sin(x / 100)) for x in range(0, 2001, 25)]
    net = build_network(roads(wiggle))
    assert len(net.edges) == 1
    assert net.edges.length_m.iloc[0] == pytest.approx(shapely.LineString(wiggle).length)
    assert len(shapely.get_coordinates(net.edges.geometry.iloc[0])) == len(wiggle)


def test_class_change_splits_a_chain():
    net = build_network(roads([(0, 0), (1000, 0)], [(1000, 0), (2000, 0)], classes=["national", "track"]))
    assert len(net.edges) == 2
    assert set(net.edges.road_class) == {"national", "track"}


def test_dangling_end_is_joined_within_tolerance():
    layer = roads([(0, 0), (2000, 0)], [(1000, 6), (1000, 1000)])
    assert build_network(layer, snap_tolerance_m=10).components().n_components == 1
    report = build_network(layer, snap_tolerance_m=0).components()
    assert report.n_components == 2
    assert report.table.length_km.tolist() == pytest.approx([2.0, 0.994])
    assert "2 components" in str(report)


def test_loop_through_a_junction_starts_there():
    ring = [(0, 0), (500, 0), (500, 500), (0, 500), (0, 0)]
    net = build_network(roads(ring, [(0, 0), (-1000, 0)]))
    loops = net.edges[net.edges.u == net.edges.v]
    assert len(loops) == 1
    start = shapely.get_coordinates(loops.geometry.iloc[0])[0]
    assert tuple(start) == (X0, Y0)
    assert net.components().n_components == 1


def test_cost_per_metre_by_class():
    def per_m(attrs):
        return attrs.road_class.map({"national": 1.0, "track": 3.0}).to_numpy()

    net = build_network(roads([(0, 0), (1000, 0)], [(1000, 0), (2000, 0)], classes=["national", "track"]),
                        cost_per_m=per_m)
    by_class = dict(zip(net.edges.road_class, net.edges.cost, strict=True))
    assert by_class == {"national": pytest.approx(1000.0), "track": pytest.approx(3000.0)}


def test_setting_from_commune_kind():
    communes = gpd.GeoDataFrame({"kind": ["phuong", "xa"]}, geometry=[
        shapely.box(X0 - 10, Y0 - 10, X0 + 1000, Y0 + 10), shapely.box(X0 + 1000, Y0 - 10, X0 + 3000, Y0 + 10)],
        crs=CRS)
    net = build_network(roads([(0, 0), (900, 0)], [(1100, 0), (2900, 0)]), communes=communes)
    assert sorted(net.edges.setting) == ["rural", "urban"]


def test_grade_from_dem(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    from affine import Affine

    # 10 % slope rising eastwards, 30 m pixels.
    z = np.tile(np.arange(100, dtype="float32") * 3.0, (20, 1))
    path = tmp_path / "dem.tif"
    with rasterio.open(path, "w", driver="GTiff", width=100, height=20, count=1, dtype="float32", crs=CRS,
                       transform=Affine(30, 0, X0 - 15, 0, -30, Y0 + 300)) as dst:
        dst.write(z, 1)
    net = build_network(roads([(0, 0), (2400, 0)], [(0, 100), (0, 200)]), dem_path=path)
    grades = dict(zip(net.edges.length_m.round(), net.edges.grade, strict=True))
    assert grades[2400] == pytest.approx(0.1, abs=0.01)
    assert grades[100] == pytest.approx(0.0, abs=1e-9)


def test_geographic_crs_is_refused():
    layer = roads([(0, 0), (1, 1)]).set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(CRSError):
        build_network(layer)


def test_layer_without_lines_is_refused():
    layer = gpd.GeoDataFrame({"road_class": ["x"]}, geometry=[shapely.Point(X0, Y0)], crs=CRS)
    with pytest.raises(LayerError):
        build_network(layer)


# ------------------------------------------------------------------------------------------------ attaching
def test_points_split_edges_and_get_connectors():
    net = build_network(roads([(0, 0), (1000, 0)]))
    pts = gpd.GeoSeries([shapely.Point(X0 + 300, Y0 + 50), shapely.Point(X0 + 300, Y0 - 20),
                         shapely.Point(X0 + 700, Y0 + 0.5), shapely.Point(X0 + 300, Y0 + 9000)], crs=CRS)
    net2, att = net.attach_points(pts, max_distance_m=5000)
    assert len(net.edges) == 1  # the input network is unchanged
    road = net2.edges[net2.edges.kind == "road"].sort_values("length_m")
    assert road.length_m.tolist() == pytest.approx([300.0, 300.0, 400.0])
    assert road.length_m.sum() == pytest.approx(1000.0)
    off = net2.edges[net2.edges.kind == "offroad"]
    assert sorted(off.length_m.round(6)) == [20.0, 50.0]
    assert att.node[3] == -1 and np.isnan(att.offroad_m[3])
    assert att.offroad_m[:3].tolist() == pytest.approx([50.0, 20.0, 0.0])
    # Both points at x = 300 share one split node; the one within 1 m of the road uses its split node.
    split = {tuple(np.round(net2.node_xy[n] - (X0, Y0), 3)) for n in np.r_[off.v, att.node[2]]}
    assert split == {(300.0, 0.0), (700.0, 0.0)}
    g = net2.to_networkx(weight="length_m")
    assert nx.shortest_path_length(g, att.node[0], att.node[1], weight="weight") == pytest.approx(70.0)


def test_split_pieces_carry_cost_in_proportion():
    net = build_network(roads([(0, 0), (1000, 0)]), cost_per_m=lambda a: np.where(a.kind == "road", 2.0, 7.0))
    net2, att = net.attach_points([shapely.Point(X0 + 250, Y0 + 10)], max_distance_m=100)
    road = net2.edges[net2.edges.kind == "road"]
    assert (road.cost / road.length_m).tolist() == pytest.approx([2.0, 2.0])
    assert net2.edges[net2.edges.kind == "offroad"].cost.iloc[0] == pytest.approx(70.0)


def test_fiber_along_part_of_a_road_taps_it():
    net = build_network(roads([(0, 0), (5000, 0)], [(5000, 0), (5000, 3000)]))
    fiber = gpd.GeoDataFrame(geometry=[shapely.LineString([(X0 - 2000, Y0 + 20), (X0 + 2000, Y0 + 20)])], crs=CRS)
    net2 = attach_fiber(net, fiber, tolerance_m=50)
    taps = {tuple(np.round(net2.node_xy[n] - (X0, Y0))) for n in net2.sources.node}
    assert {(0.0, 0.0), (2000.0, 0.0)} <= taps  # the road node under the route and the route's end
    assert all(y == 0 and 0 <= x <= 2000 for x, y in taps)  # nothing where the route does not run
    assert {(250.0, 0.0), (1750.0, 0.0)} <= taps  # sampled along the road
    assert (net2.sources.cost == 0).all()
    assert net2.edges.length_m.sum() == pytest.approx(8000.0)


def test_components_are_reported_with_lengths():
    net = build_network(roads([(0, 0), (3000, 0)], [(0, 5000), (1000, 5000)]))
    report = net.components()
    assert report.n_components == 2
    assert report.table.length_km.tolist() == pytest.approx([3.0, 1.0])
    assert report.to_dict()["n_components"] == 2
    assert len(set(report.labels)) == 2


def test_networkx_graph_keeps_crs():
    net = build_network(roads([(0, 0), (1000, 0)]))
    g = net.to_networkx()
    assert g.graph["crs"] == net.crs
    assert g.nodes[0]["x"] == pytest.approx(net.node_xy[0, 0])


# ------------------------------------------------------------------------------------------------ routing
def test_known_shortest_routes():
    # 0 -1- 1 -1- 2 ; 0 -5- 2 ; 2 -1- 3 ; 1 -4- 3
    graph = WGraph.from_edges(4, [0, 1, 0, 2, 1], [1, 2, 2, 3, 3], [1.0, 1.0, 5.0, 1.0, 4.0])
    d, pred = csgraph.dijkstra(graph.matrix, indices=0, return_predecessors=True)
    assert d.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert pred[3] == 2 and pred[2] == 1


def test_parallel_edges_keep_the_cheapest():
    graph = WGraph.from_edges(2, [0, 1, 0], [1, 0, 0], [5.0, 3.0, 1.0], edge_id=np.array([7, 8, 9]))
    assert graph.weight([0], [1]).tolist() == [3.0]
    assert graph.edge_id[graph.positions([1], [0])].tolist() == [8]


# ------------------------------------------------------------------------------------------------ Steiner
@pytest.mark.parametrize("seed", range(12))
def test_steiner_never_longer_than_networkx_mehlhorn(seed):
    rng = np.random.default_rng(seed)
    graph, _ = synthetic_road_graph(int(rng.integers(60, 400)), seed=seed)
    terms = rng.choice(graph.n, int(rng.integers(3, 25)), replace=False)
    ours = steiner_tree(graph, terms)
    peer = nx_steiner_tree(graph.to_networkx(), terms.tolist(), weight="weight", method="mehlhorn")
    assert ours.weight <= peer.size(weight="weight") + 1e-6
    assert ours.weight <= mehlhorn_tree(graph, terms).weight + 1e-6
    assert is_tree_spanning(ours.edges, terms)


def dreyfus_wagner(graph: WGraph, terminals) -> float:
    """Weight of an optimal Steiner tree (exact; fine for up to about 10 terminals on small graphs)."""
    terms = list(terminals)
    root, rest = terms[0], terms[1:]
    k = len(rest)
    dp = steiner_dp(graph, rest)
    return float(dp[(1 << k) - 1][root])


@pytest.mark.parametrize("seed", range(6))
def test_steiner_close_to_exact(seed):
    rng = np.random.default_rng(100 + seed)
    graph, _ = synthetic_road_graph(int(rng.integers(80, 200)), seed=seed)
    terms = rng.choice(graph.n, 9, replace=False)
    exact = dreyfus_wagner(graph, terms)
    ours = steiner_tree(graph, terms)
    assert exact - 1e-6 <= ours.weight <= 1.02 * exact
    assert is_tree_spanning(ours.edges, terms)


def test_steiner_with_unconnected_terminal_raises():
    graph = WGraph.from_edges(4, [0, 2], [1, 3], [1.0, 1.0])
    with pytest.raises(ValueError, match="not all connected"):
        steiner_tree(graph, [0, 1, 3])


def test_synthetic_graph_is_deterministic_and_connected():
    a, xy = synthetic_road_graph(500, seed=3)
    b, _ = synthetic_road_graph(500, seed=3)
    assert (a.matrix != b.matrix).nnz == 0
    assert csgraph.connected_components(a.matrix)[0] == 1
    assert len(xy) == a.n


def test_route_off_the_road_joins_it_by_a_costed_connector():
    net = build_network(roads([(0, 0), (5000, 0)]), cost_per_m=lambda a: (a["kind"] == "offroad") * 9.0 + 1.0)
    fiber = [shapely.LineString([(X0 + 1000, Y0 + 200), (X0 + 3000, Y0 + 200)]), shapely.Point(X0 + 4000, Y0 + 30),
             shapely.Point(X0 + 4500, Y0 - 700), None]
    net2, report = attach_sources(net, fiber, tolerance_m=50)
    assert report["taps"].tolist()[1] >= 1 and report["connector_m"].tolist()[1] == 0  # the point near the road
    assert report["taps"].tolist()[0] == 0 and report["connector_m"].tolist()[0] == pytest.approx(200)
    assert report["connector_m"].tolist()[2] == pytest.approx(700)
    assert np.isnan(report["connector_m"].tolist()[3]) and report["node"].tolist()[3] == -1
    conn = net2.sources[net2.sources.kind == "connector"]
    # the route beside the road joins it from its ends and its samples (every 500 m from 250 m), the point once
    assert sorted(conn.length_m.round(3)) == [200] * 6 + [700]
    assert sorted(conn.cost.round(3)) == [2000] * 6 + [7000]  # 10 per off-road metre
    assert sorted(tuple(np.round(net2.node_xy[n] - (X0, Y0))) for n in conn.node) == [
        (x, 0.0) for x in (1000.0, 1250.0, 1750.0, 2250.0, 2750.0, 3000.0, 4500.0)]
    assert net2.edges.length_m.sum() == pytest.approx(5000.0)  # the road was split, not lengthened
    assert attach_sources(net, fiber, tolerance_m=50, connect=False)[0].sources.kind.eq("tap").all()
