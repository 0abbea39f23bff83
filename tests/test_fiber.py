from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import steiner_dp, tiny_layers

from ictgis import settings
from ictgis._errors import LayerError
from ictgis.fiber import (
    DEFAULT_WEIGHTS,
    FIBER_VND_PER_M,
    CostModel,
    FiberPlan,
    parse_weights,
    rank_villages,
)
from ictgis.network import synthetic_road_graph
from ictgis.steiner import select_within_budget, steiner_tree

CRS = "EPSG:9205"
X0, Y0 = 500_000.0, 2_360_000.0
RATE = settings.usd_to_vnd
NATIONAL = 5 * 0.4 * 1.0 * RATE  # aerial, rural, national road: VND per metre
TRACK = 5 * 0.4 * 1.25 * RATE
OFFROAD = 10 * RATE
EQUIP = 2000 * RATE


def line(*pts):
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in pts])


def point(x, y):
    return shapely.Point(X0 + x, Y0 + y)


@pytest.fixture()
def hand():
    """A national road with fiber along its first kilometre, a track off its end, an island road, far villages."""
    roads = gpd.GeoDataFrame({"road_class": ["national", "track", "commune"]}, geometry=[
        line((0, 0), (4000, 0)), line((4000, 0), (4000, 2000)), line((10000, 0), (11000, 0))], crs=CRS)
    fiber = gpd.GeoDataFrame({"id": ["F1"], "kind": ["access"]}, geometry=[line((-1000, 5), (1000, 5))], crs=CRS)
    villages = gpd.GeoDataFrame({
        "id": ["A", "B", "C", "D", "E"], "name": ["Bản A", "Bản B", "Bản C", "Bản D", "Bản E"],
        "commune": ["03124"] * 5, "population": [1000, 2000, 500, 400, 900], "households": [200, 450, 100, 90, 210],
        "fiber": [False, False, False, False, True]},
        geometry=[point(3000, 100), point(4000, 1500), point(10500, 0), point(0, 20000), point(500, 50)], crs=CRS)
    return roads, villages, fiber


# ------------------------------------------------------------------------------------------------ costs
def test_cost_defaults_follow_facts_and_rate():
    assert FIBER_VND_PER_M == {"rural": 5 * RATE, "suburban": 15 * RATE, "urban": 25 * RATE}
    m = CostModel.from_usd(usd_to_vnd=20_000, installation="underground")
    assert m.fiber_vnd_per_m["urban"] == 25 * 20_000
    attrs = pd.DataFrame({"kind": ["road", "road", "offroad"], "road_class": ["national", "track", "offroad"],
                          "setting": ["rural", "urban", "rural"], "grade": [0.0, 0.1, 0.0]})
    under = CostModel(installation="underground").per_metre(attrs)
    aerial = CostModel().per_metre(attrs)
    assert under[0] == pytest.approx(5 * RATE)
    assert aerial[0] == pytest.approx(NATIONAL)
    assert under[1] == pytest.approx(25 * RATE * 1.25 * 1.2)  # urban track, 10 % grade
    assert aerial[2] == under[2] == pytest.approx(OFFROAD)
    with pytest.raises(ValueError):
        CostModel(installation="buried")


# ------------------------------------------------------------------------------------------------ routes
def test_least_cost_routes_on_a_hand_made_network(hand):
    roads, villages, fiber = hand
    before = [f.copy() for f in hand]
    plan = FiberPlan.from_layers(roads, villages, fiber).solve()
    for a, b in zip(before, hand, strict=True):
        pd.testing.assert_frame_equal(a, b)  # inputs untouched
    v = plan.villages.set_index("id")
    assert set(v.index) == {"A", "B", "C", "D"}
    assert v.loc["A", "route_cost_vnd"] == pytest.approx(2000 * NATIONAL + 100 * OFFROAD)
    assert v.loc["A", "onroad_m"] == pytest.approx(2000) and v.loc["A", "offroad_m"] == pytest.approx(100)
    assert v.loc["B", "route_cost_vnd"] == pytest.approx(3000 * NATIONAL + 1500 * TRACK)
    assert v.loc["B", "cost_alone_vnd"] == pytest.approx(3000 * NATIONAL + 1500 * TRACK + EQUIP)
    assert v.loc["C", "reason_code"] == "no_fiber_on_component"
    assert v.loc["D", "reason_code"] == "no_road"
    assert "5 km" in v.loc["D", "reason"] and "5 km" in v.loc["D", "reason_vi"]
    # Shared plan: the trunk to (3000, 0) serves both; A's own share is its connector, B's the rest.
    assert v.loc["A", "cost_shared_vnd"] == pytest.approx(100 * OFFROAD + EQUIP)
    assert v.loc["B", "cost_shared_vnd"] == pytest.approx(1000 * NATIONAL + 1500 * TRACK + EQUIP)
    s = plan.summary
    assert s["villages_without_fiber"] == 4 and s["villages_reachable"] == 2 and s["villages_connected"] == 2
    assert s["households_connected"] == 650
    assert s["route_km"] == pytest.approx(4.6)
    assert s["cost_vnd"] == pytest.approx(3000 * NATIONAL + 1500 * TRACK + 100 * OFFROAD + 2 * EQUIP, rel=1e-9)
    assert s["separate_routes"]["cost_vnd"] > s["cost_vnd"]
    assert {u["id"] for u in s["unreachable"]} == {"C", "D"}
    assert s["network"]["n_components"] == 2
    assert plan.plan.length_m.sum() == pytest.approx(4600)
    trunk = plan.plan.loc[plan.plan.n_villages == 2]
    assert set(trunk.villages.iloc[0].split(";")) == {"A", "B"}
    assert len(trunk) == 1 and trunk.length_m.iloc[0] == pytest.approx(2000)
    assert len(plan.routes) == 2 and plan.routes.geometry.notna().all()


def test_village_near_fiber_but_off_road_gets_a_drop(hand):
    roads, villages, fiber = hand
    villages = villages.copy()
    villages.loc[villages.id == "D", "geometry"] = point(-1000, 3400)  # 3.54 km from the road, 3.395 from fiber
    plan = FiberPlan.from_layers(roads, villages, fiber, max_offroad_m=3500).solve()
    d = plan.villages.set_index("id").loc["D"]
    assert d["reachable"] and d["snap_offroad_m"] != d["snap_offroad_m"]  # not on the road network: NaN
    assert d["offroad_m"] == pytest.approx(3395) and d["onroad_m"] == 0
    assert d["route_cost_vnd"] == pytest.approx(3395 * OFFROAD)


def test_budget_selects_what_fits(hand):
    roads, villages, fiber = hand
    small = FiberPlan.from_layers(roads, villages, fiber).solve(budget_vnd=200e6)
    assert small.summary["villages_connected"] == 1
    assert small.summary["households_connected"] == 200  # A fits (177.8 M), B alone would not (298.5 M)
    assert small.summary["cost_vnd"] <= 200e6
    v = small.villages.set_index("id")
    assert v.loc["A", "selected"] and not v.loc["B", "selected"]
    assert v.loc["A", "phase"] == 1 and v.loc["B", "phase"] == 2 and pd.isna(v.loc["C", "phase"])
    assert set(small.plan.phase) == {1, 2}
    big = FiberPlan.from_layers(roads, villages, fiber).solve(budget_vnd=400e6)
    assert big.summary["households_connected"] == 650
    assert big.summary["cost_vnd"] <= 400e6


def _brute_force(graph, root, nodes, prize, cost, budget):
    """Best prize within the budget over every subset, with exact Steiner costs (Dreyfus–Wagner)."""
    k = len(nodes)
    dp = steiner_dp(graph, nodes)
    best = 0.0
    for subset in range(1, 1 << k):
        members = [i for i in range(k) if subset >> i & 1]
        if dp[subset][root] + cost[members].sum() <= budget + 1e-6:
            best = max(best, prize[members].sum())
    return best


@pytest.mark.parametrize("seed", range(8))
def test_budget_selection_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    graph, _ = synthetic_road_graph(49, seed=seed)
    nodes = rng.choice(np.arange(1, graph.n), 7, replace=False)
    prize = rng.integers(50, 400, 7).astype(float)
    cost = np.full(7, 500.0)
    budget = float(rng.uniform(0.3, 0.6) * steiner_tree(graph, np.r_[0, nodes]).weight + 1500)
    exact = _brute_force(graph, 0, nodes, prize, cost, budget)
    ours = select_within_budget(graph, 0, nodes, prize, cost, budget)
    assert ours.cost <= budget + 1e-6
    assert ours.prize >= 0.9 * exact


# ------------------------------------------------------------------------------------------------ ranking
def _table():
    return pd.DataFrame({
        "id": ["a", "b", "c"], "households": [100, 300, 200], "population": [400, 1200, 800],
        "reachable": [True, True, True], "cost_alone_vnd": [1e8, 9e8, 3e8], "cost_shared_vnd": [1e8, 6e8, 2e8],
        "cost_per_household_vnd": [1e6, 2e6, 1e6], "no_4g": pd.array([True, False, pd.NA], dtype="boolean"),
        "poor": [False, False, True]})


def test_ranking_follows_the_weights():
    zero = dict.fromkeys(DEFAULT_WEIGHTS, 0)
    by_hh = rank_villages(_table(), weights={**zero, "households": 1})
    assert by_hh.id.tolist() == ["b", "c", "a"]
    by_cost = rank_villages(_table(), weights={**zero, "cost_alone": 1})
    assert by_cost.id.tolist() == ["a", "c", "b"]
    by_gap = rank_villages(_table(), weights={**zero, "double_gap": 1, "poor": 0.5})
    assert by_gap.id.tolist() == ["a", "c", "b"]
    ranked = rank_villages(_table())
    pts = ranked[[f"pts_{k}" for k in DEFAULT_WEIGHTS]].sum(axis=1)
    assert np.allclose(pts, ranked.score)
    assert ranked["rank"].tolist() == [1, 2, 3]
    assert ranked.set_index("id").loc["b", "pts_households"] == pytest.approx(DEFAULT_WEIGHTS["households"])


def test_unreachable_villages_come_last():
    t = _table()
    t.loc[1, ["reachable", "cost_alone_vnd", "cost_shared_vnd", "cost_per_household_vnd"]] = [False, np.nan,
                                                                                               np.nan, np.nan]
    ranked = rank_villages(t, weights={"households": 10})
    assert ranked.id.iloc[-1] == "b"


def test_parse_weights():
    w = parse_weights("households=0.5, cost=0.1,no_4g=0")
    assert w["households"] == 0.5 and w["cost_per_household"] == 0.1 and w["double_gap"] == 0
    assert w["poor"] == DEFAULT_WEIGHTS["poor"]
    for bad in ("speed=1", "households=abc", "households=-1"):
        with pytest.raises(ValueError):
            parse_weights(bad)


# ------------------------------------------------------------------------------------------------ the plan
def test_tiny_province_plan():
    layers = tiny_layers()
    no_4g = pd.Series({"V06": True, "V08": False})
    plan = FiberPlan.from_layers(layers["roads"], layers["villages"], layers["fiber_routes"],
                                 communes=layers["communes"], no_4g=no_4g).solve()
    v = plan.villages.set_index("id")
    assert set(v.index) == {"V06", "V08", "V10"}
    assert v.loc["V06", "no_4g"] is True or v.loc["V06", "no_4g"] == True  # noqa: E712
    assert pd.isna(v.loc["V10", "no_4g"])
    assert v.loc["V06", "pts_double_gap"] == pytest.approx(DEFAULT_WEIGHTS["double_gap"])
    assert plan.summary["villages_unreachable"] == 1
    assert plan.plan.crs == layers["roads"].crs


def test_gap_by_distance_to_fiber(hand):
    roads, villages, fiber = hand
    plan = FiberPlan.from_layers(roads, villages, fiber, gap_distance_m=10).solve()
    v = plan.villages.set_index("id")
    assert v.loc["E", "gap_reason"] == "far_from_fiber"
    assert v.loc["A", "gap_reason"] == "no_fiber"


def test_missing_layers_and_columns_raise(hand):
    roads, villages, fiber = hand
    with pytest.raises(LayerError, match="roads"):
        FiberPlan.from_layers(None, villages, fiber)
    with pytest.raises(LayerError, match="fiber"):
        FiberPlan.from_layers(roads, villages.drop(columns="fiber"), fiber)
    with pytest.raises(LayerError, match="fiber_routes"):
        FiberPlan.from_layers(roads, villages, None)


@pytest.mark.slow
def test_demo_every_gap_village_routed_or_explained(demo_dir):
    import warnings

    from ictgis import io

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = io.load(demo_dir)
    plan = FiberPlan.from_dataset(ds).solve(budget_vnd=20e9)
    v = plan.villages
    assert len(v) == int((~ds["villages"]["fiber"].astype(bool)).sum())
    assert (v["reachable"] | (v["reason"].str.len() > 0)).all()
    s = plan.summary
    assert s["cost_vnd"] <= 20e9 and s["villages_connected"] > 0
    assert s["full_plan"]["route_km"] < s["separate_routes"]["route_km"]


# ------------------------------------------------------------------------------------------------ existing fiber
@pytest.fixture()
def road_only():
    """One national road; seven villages beside it, more than 5 km from the fiber route's end."""
    roads = gpd.GeoDataFrame({"road_class": ["national"]}, geometry=[line((0, 0), (20000, 0))], crs=CRS)
    villages = gpd.GeoDataFrame({
        "id": [f"V{i}" for i in range(7)], "name": [f"Bản {i}" for i in range(7)], "commune": ["03124"] * 7,
        "population": [500] * 7, "households": [100] * 7, "fiber": [False] * 7},
        geometry=[point(8000 + 1000 * i, 100) for i in range(7)], crs=CRS)
    return roads, villages


def fiber_at(offset_m: float) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": ["F1"]}, geometry=[line((0, offset_m), (2000, offset_m))], crs=CRS)


def test_route_200_m_off_the_road_is_attached_and_warned(road_only, caplog):
    roads, villages = road_only
    with caplog.at_level("WARNING", logger="ictgis.fiber"):
        plan = FiberPlan.from_layers(roads, villages, fiber_at(200)).solve()
    s = plan.summary
    assert s["villages_reachable"] == 7 and s["no_village_reached"] is None
    v = plan.villages.set_index("id")
    # the route runs 200 m beside the road: joined from its end nearest the villages (x = 2 km)
    assert v.loc["V0", "route_cost_vnd"] == pytest.approx(200 * OFFROAD + 6000 * NATIONAL + 100 * OFFROAD)
    assert v.loc["V0", "offroad_m"] == pytest.approx(300)
    ef = s["existing_fiber"]
    assert ef["joined_by_connector"] == 1 and ef["tapped"] == 0
    assert ef["far_from_road"] == [{"id": "F1", "layer": "fiber_routes", "connector_m": 200.0}]
    assert any("F1" in w and "200 m" in w for w in s["warnings"])
    assert "fiber route F1 lies 200 m from the nearest road" in caplog.text
    # the plan's segments carry the connector
    assert plan.plan["length_m"].sum() == pytest.approx(200 + 12000 + 7 * 100)


def test_warning_distance_is_an_option(road_only, caplog):
    roads, villages = road_only
    with caplog.at_level("WARNING", logger="ictgis.fiber"):
        plan = FiberPlan.from_layers(roads, villages, fiber_at(200), fiber_warn_m=500).solve()
    assert plan.summary["villages_reachable"] == 7
    assert plan.summary["warnings"] == [] and "lies" not in caplog.text
    near = FiberPlan.from_layers(roads, villages, fiber_at(30)).solve()  # within the 50 m tolerance: tapped
    assert near.summary["existing_fiber"]["tapped"] == 1 and near.summary["warnings"] == []
    assert near.villages.set_index("id").loc["V0", "offroad_m"] == pytest.approx(100)


def test_no_village_reached_says_why(road_only, hand, caplog):
    roads, villages = road_only
    empty = gpd.GeoDataFrame({"id": []}, geometry=[], crs=CRS)
    with caplog.at_level("WARNING", logger="ictgis.fiber"):
        plan = FiberPlan.from_layers(roads, villages, empty).solve()
    why = plan.summary["no_village_reached"]
    assert "none of the 7 villages" in why and "no existing fiber route or point of presence is attached" in why
    assert set(plan.villages["reason_code"]) == {"no_fiber_source"}
    assert why in caplog.text
    # villages on an island road, the fiber on another component far away
    h_roads, h_villages, h_fiber = hand
    island = h_villages[h_villages.id == "C"]
    plan = FiberPlan.from_layers(h_roads, island, h_fiber).solve()
    why = plan.summary["no_village_reached"]
    assert "1 lie on road network components 1 while the existing fiber joins components 0" in why
    assert plan.summary["warnings"][-1] == why


def test_routing_from_points_of_presence_without_fiber_routes(road_only):
    roads, villages = road_only
    pops = gpd.GeoDataFrame({"id": ["POP1", "POP2"], "name": ["Tổng đài huyện", "OLT xã"]},
                            geometry=[point(0, 20), point(20000, 300)], crs=CRS)
    plan = FiberPlan.from_layers(roads, villages, None, pops=pops, pops_name="pops.csv").solve()
    s = plan.summary
    assert s["villages_reachable"] == 7
    assert s["existing_fiber"]["source"] == "routing from 2 points of presence in pops.csv; no fiber_routes layer"
    assert s["existing_fiber"]["points_of_presence"] == 2 and s["existing_fiber"]["routes"] is None
    assert s["existing_fiber"]["far_from_road"] == [{"id": "POP2", "layer": "pops", "connector_m": 300.0}]
    v = plan.villages.set_index("id")
    assert v.loc["V0", "route_cost_vnd"] == pytest.approx(8000 * NATIONAL + 100 * OFFROAD)  # from POP1's tap
    assert v.loc["V6", "route_cost_vnd"] == pytest.approx(300 * OFFROAD + 6000 * NATIONAL + 100 * OFFROAD)
    both = FiberPlan.from_layers(roads, villages, fiber_at(0), pops=pops, routes_name="fiber_routes.shp").solve()
    assert both.summary["existing_fiber"]["source"] == ("routing from 1 existing fiber route in fiber_routes.shp "
                                                        "and 2 points of presence")
    with pytest.raises(LayerError, match="--pops"):
        FiberPlan.from_layers(roads, villages, None)
