from __future__ import annotations

import itertools
import math

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from affine import Affine

from ictgis import LayerError, ScenarioError, settings, siting
from ictgis.siting import MaximalCovering, generate_candidates, read_candidates, site_cost_vnd

pytest.importorskip("highspy")

X0, Y0 = 500_000.0, 2_360_000.0
CRS = "EPSG:9205"


def random_instance(seed: int):
    rng = np.random.default_rng(seed)
    n_c = int(rng.integers(6, 13))
    n_v = int(rng.integers(12, 41))
    density = rng.uniform(0.08, 0.3)
    a = sp.csr_matrix(rng.random((n_c, n_v)) < density)
    w = np.round(rng.lognormal(5, 1, n_v))
    covered = rng.random(n_v) < 0.2
    costs = np.round(rng.uniform(1, 5, n_c), 1) * 1e9
    return a, w, covered, costs


def value(a, w, covered, chosen) -> float:
    if len(chosen) == 0:
        return 0.0
    dense = a.toarray() if sp.issparse(a) else a
    return float(w[dense[list(chosen)].any(axis=0) & ~covered].sum())


def brute_count(a, w, covered, p) -> float:
    dense = a.toarray()
    return max(value(dense, w, covered, c) for c in itertools.combinations(range(a.shape[0]), p))


def brute_budget(a, w, covered, costs, budget) -> float:
    dense, best = a.toarray(), 0.0
    for r in range(1, a.shape[0] + 1):
        for c in itertools.combinations(range(a.shape[0]), r):
            if costs[list(c)].sum() <= budget:
                best = max(best, value(dense, w, covered, c))
    return best


SEEDS = range(40)


def test_greedy_swap_vs_brute_force_by_count():
    equal = 0
    for seed in SEEDS:
        a, w, covered, _ = random_instance(seed)
        p = 1 + seed % 4
        opt = brute_count(a, w, covered, p)
        m = MaximalCovering.from_matrix(a, w, covered_already=covered).solve(n_sites=p, compute_bound=False,
                                                                              rounds=0)
        assert m.objective == pytest.approx(value(a, w, covered, m.chosen))
        assert len(m.chosen) <= p
        assert m.objective >= (1 - 1 / math.e) * opt - 1e-9
        assert m.objective >= m.greedy_objective - 1e-9
        equal += math.isclose(m.objective, opt, rel_tol=1e-12)
    assert equal >= 0.8 * len(SEEDS)


def test_default_solve_and_exact_match_brute_force():
    default_equal = 0
    for seed in SEEDS:
        a, w, covered, _ = random_instance(seed)
        p = 1 + seed % 4
        opt = brute_count(a, w, covered, p)
        ex = MaximalCovering.from_matrix(a, w, covered_already=covered).solve(n_sites=p, method="exact")
        assert ex.objective == pytest.approx(opt, rel=1e-9)
        assert ex.mip_status == "Optimal"
        assert ex.mip_objective == pytest.approx(opt, rel=1e-6)
        assert ex.lp_bound >= opt - 1e-6
        m = MaximalCovering.from_matrix(a, w, covered_already=covered).solve(n_sites=p)
        assert m.lp_bound >= opt - 1e-6
        assert m.gap == pytest.approx((m.lp_bound - m.objective) / m.lp_bound if m.lp_bound else 0.0)
        default_equal += math.isclose(m.objective, opt, rel_tol=1e-12)
    assert default_equal >= 0.95 * len(SEEDS)


def test_budget_vs_brute_force():
    equal = 0
    for seed in range(25):
        a, w, covered, costs = random_instance(100 + seed)
        a, costs = a[:10], costs[:10]
        budget = float(np.round(costs.sum() * (0.15 + 0.1 * (seed % 4)), -8))
        opt = brute_budget(a, w, covered, costs, budget)
        m = MaximalCovering.from_matrix(a, w, covered_already=covered, costs_vnd=costs).solve(budget_vnd=budget)
        assert m.cost_vnd <= budget + 1e-6
        assert m.objective >= 0.5 * (1 - 1 / math.e) * opt - 1e-9
        assert m.lp_bound >= opt - 1e-6
        equal += math.isclose(m.objective, opt, rel_tol=1e-12)
        ex = MaximalCovering.from_matrix(a, w, covered_already=covered, costs_vnd=costs).solve(
            budget_vnd=budget, method="exact")
        assert ex.objective == pytest.approx(opt, rel=1e-9)
        assert ex.cost_vnd <= budget + 1e-6
    assert equal >= 0.8 * 25


def test_budget_best_single_safeguard():
    # One big expensive site vs many cheap small ones: ratio greedy alone would pick the cheap one.
    a = sp.csr_matrix(np.array([[1, 1, 1, 1, 0], [0, 0, 0, 0, 1]], dtype=bool))
    w = np.array([100.0, 100.0, 100.0, 100.0, 10.0])
    costs = np.array([100.0, 1.0])
    m = MaximalCovering.from_matrix(a, w, costs_vnd=costs).solve(budget_vnd=100.0, rounds=0,
                                                                   compute_bound=False)
    assert m.chosen.tolist() == [0]
    assert m.objective == 400.0


def test_existing_coverage_gives_no_gain():
    a = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=bool))
    w = np.array([5000.0, 5000.0, 300.0, 200.0])
    covered = np.array([True, True, False, False])
    m = MaximalCovering.from_matrix(a, w, covered_already=covered, candidate_ids=["A", "B", "C"],
                                    village_ids=["v1", "v2", "v3", "v4"]).solve(n_sites=2)
    assert m.chosen_ids == ["B", "C"]
    assert m.objective == 500.0
    assert m.villages_covered.tolist() == [2, 3] and m.villages_covered_ids == ["v3", "v4"]
    assert m.marginal_gains.tolist() == [300.0, 200.0]
    # Only site A helps nobody: asking for 3 sites still gives 2.
    m3 = MaximalCovering.from_matrix(a, w, covered_already=covered).solve(n_sites=3)
    assert len(m3.chosen) == 2 and m3.objective == 500.0


def test_deterministic_and_ordered():
    a, w, covered, costs = random_instance(7)
    runs = [MaximalCovering.from_matrix(a, w, covered_already=covered, costs_vnd=costs).solve(n_sites=3)
            for _ in range(2)]
    assert runs[0].chosen.tolist() == runs[1].chosen.tolist()
    assert runs[0].objective == runs[1].objective
    assert runs[0].lp_bound == runs[1].lp_bound
    gains = runs[0].marginal_gains
    assert np.all(np.diff(gains) <= 1e-9)
    assert gains.sum() == pytest.approx(runs[0].objective)
    frame = runs[0].to_frame()
    assert list(frame.columns) == ["rank", "index", "id", "gain", "cumulative", "cost_vnd"]
    assert frame["cost_vnd"].sum() == pytest.approx(runs[0].cost_vnd)
    assert "LP bound" in runs[0].report()


def test_larger_instance_quality_against_lp_and_mip():
    rng = np.random.default_rng(3)
    vil = rng.uniform(0, 40_000, (300, 2))
    cand = rng.uniform(0, 40_000, (200, 2))
    radius = rng.uniform(2_000, 6_000, 200)
    d = np.hypot(cand[:, None, 0] - vil[None, :, 0], cand[:, None, 1] - vil[None, :, 1])
    a = sp.csr_matrix(d <= radius[:, None])
    w = rng.lognormal(5, 0.8, 300)
    m = MaximalCovering.from_matrix(a, w).solve(n_sites=8)
    ex = MaximalCovering.from_matrix(a, w).solve(n_sites=8, method="exact", time_limit_s=20)
    assert m.objective >= 0.995 * ex.objective
    assert m.lp_bound >= ex.objective - 1e-6
    assert ex.mip_gap is not None and ex.mip_gap <= 1e-9


def test_edge_cases():
    a = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 0]], dtype=bool))
    w = np.array([1.0, 2.0, 3.0])
    none = MaximalCovering.from_matrix(a, w).solve(n_sites=0)
    assert none.chosen.size == 0 and none.objective == 0.0 and none.lp_bound == 0.0
    done = siting.SitingProblem.from_matrix(a, w, covered_already=[True] * 3).solve(n_sites=2, method="exact")
    assert done.chosen.size == 0 and done.lp_bound == 0.0 and done.gap == 0.0 and done.mip_gap == 0.0
    poor = MaximalCovering.from_matrix(a, w, costs_vnd=[5.0, 1.0]).solve(budget_vnd=0.5, method="exact")
    assert poor.chosen.size == 0 and poor.cost_vnd == 0.0
    both = MaximalCovering.from_matrix(a, w, costs_vnd=[5.0, 1.0]).solve(budget_vnd=6.0, n_sites=1)
    assert both.chosen.tolist() == [0] and both.objective == 4.0


def test_invalid_options():
    a = sp.csr_matrix(np.eye(3, dtype=bool))
    w = np.ones(3)
    m = MaximalCovering.from_matrix(a, w)
    with pytest.raises(ScenarioError, match="n_sites or budget"):
        m.solve()
    with pytest.raises(ScenarioError, match="costs"):
        m.solve(budget_vnd=10.0)
    with pytest.raises(ScenarioError, match="method"):
        m.solve(n_sites=1, method="magic")
    with pytest.raises(ScenarioError):
        m.solve(n_sites=-1)
    with pytest.raises(ValueError, match="weights"):
        MaximalCovering.from_matrix(a, np.ones(4))
    with pytest.raises(LayerError):
        MaximalCovering.from_matrix(a, np.array([1.0, -1.0, 2.0]))
    with pytest.raises(LayerError):
        MaximalCovering.from_matrix(a, w, costs_vnd=[1.0, np.nan, 2.0])


def test_site_cost_model():
    rate = 25_000.0
    base = siting.GREENFIELD_USD
    assert 48_000 <= base <= 50_000
    cost = site_cost_vnd(np.array([0.0, 2_000.0, 50_000.0, np.nan]), np.array([True, True, False, False]),
                         usd_to_vnd=rate)
    assert cost[0] == base * rate
    assert cost[1] == (base + 2_000 * siting.FIBER_RURAL_USD_PER_M) * rate
    assert cost[2] == (base + siting.MICROWAVE_BACKHAUL_USD + siting.OFFGRID_POWER_USD) * rate
    assert cost[3] == cost[2]
    assert site_cost_vnd(0.0, True)[()] == base * settings.usd_to_vnd


# ------------------------------------------------------------------------------------- candidate generation
def tiny_dem():
    """6 km × 6 km, 100 m cells, 400 m plain; hills 900 m at (1.5, 4.5) km, 1,200 m at (5, 0.8), 550 m at (3.5, 3)."""
    res = 100.0
    n = 60
    xs = (np.arange(n) + 0.5) * res
    ys = (n - np.arange(n) - 0.5) * res
    gx, gy = np.meshgrid(xs, ys)
    z = 400 + 500 * np.exp(-((gx - 1_500) ** 2 + (gy - 4_500) ** 2) / (2 * 500 ** 2))
    z += 800 * np.exp(-((gx - 5_000) ** 2 + (gy - 800) ** 2) / (2 * 500 ** 2))
    z += 150 * np.exp(-((gx - 3_500) ** 2 + (gy - 3_000) ** 2) / (2 * 300 ** 2))
    z += 0.001 * gx  # break plateau ties
    transform = Affine(res, 0, X0, 0, -res, Y0 + n * res)
    return z, transform


def tiny_villages():
    pts = [(1_000, 3_500), (2_300, 4_000), (5_200, 1_800)]
    return gpd.GeoDataFrame({"id": ["V1", "V2", "V3"], "population": [400, 250, 900]},
                            geometry=[shapely.Point(X0 + x, Y0 + y) for x, y in pts], crs=CRS)


def test_candidates_on_high_ground_near_uncovered_villages():
    z, transform = tiny_dem()
    villages = tiny_villages()
    cands = generate_candidates((z, transform, CRS), villages, uncovered_mask=[True, True, False],
                                spacing_m=800, search_radius_m=2_500, per_village=2)
    assert len(cands) >= 2 and cands["id"].is_unique
    assert str(cands.crs) == CRS
    top = cands.iloc[0]
    assert top["kind"] == "peak"
    assert shapely.distance(top.geometry, shapely.Point(X0 + 1_500, Y0 + 4_500)) <= 150
    assert top["elev_m"] > 890
    assert (cands.distance(shapely.Point(X0 + 3_500, Y0 + 3_000)) <= 150).sum() == 1  # the small hill too
    # nothing on the higher hill by the covered village V3
    assert (cands.distance(shapely.Point(X0 + 5_000, Y0 + 800)) > 1_500).all()
    d_uncov = np.min([cands.distance(villages.geometry.iloc[i]) for i in (0, 1)], axis=0)
    assert (d_uncov <= 2_500 + 100).all()
    assert {"id", "kind", "elev_m", "dist_road_m", "grid", "uncov_pop", "cost_vnd", "geometry"} <= set(cands.columns)
    assert (cands["cost_vnd"] > 0).all() and not cands["grid"].any()  # no roads, no grid layer: off-grid
    again = generate_candidates((z, transform, CRS), villages, uncovered_mask=[True, True, False],
                                spacing_m=800, search_radius_m=2_500, per_village=2)
    assert again.equals(cands)
    xy = np.column_stack([cands.geometry.x, cands.geometry.y])
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    assert dist[np.triu_indices(len(xy), 1)].min() >= 800


def test_candidates_near_roads_and_costs(tmp_path):
    import rasterio

    z, transform = tiny_dem()
    path = tmp_path / "dem.tif"
    with rasterio.open(path, "w", driver="GTiff", width=60, height=60, count=1, dtype="float32", crs=CRS,
                       transform=transform) as dst:
        dst.write(z.astype("float32"), 1)
    road = gpd.GeoDataFrame({"road_class": ["commune"]},
                            geometry=[shapely.LineString([(X0, Y0 + 2_000), (X0 + 6_000, Y0 + 2_000)])], crs=CRS)
    cands = generate_candidates(path, tiny_villages(), uncovered_mask=[True, True, False], roads=road,
                                spacing_m=800, search_radius_m=2_500)
    near = cands[cands["kind"] == "road"]
    assert len(near) >= 1
    assert (near["dist_road_m"] <= 300 + 75).all() and near["grid"].all()
    onroad = cands["dist_road_m"] <= siting.GRID_DISTANCE_M
    assert (cands["grid"] == onroad).all()
    assert (cands.loc[cands["grid"], "cost_vnd"] < cands.loc[~cands["grid"], "cost_vnd"].min()).all()
    with pytest.raises(siting.CRSError):
        generate_candidates(path, tiny_villages().to_crs("EPSG:4326"))


def test_read_candidates(tmp_path):
    frame = gpd.GeoDataFrame({"ma_tram": ["K1", "K2"], "cost": [1.5e9, None]},
                             geometry=[shapely.Point(X0, Y0), shapely.Point(X0 + 500, Y0)], crs=CRS)
    frame.to_file(tmp_path / "cands.gpkg")
    out = read_candidates(tmp_path / "cands.gpkg")
    assert out["id"].tolist() == ["K1", "K2"]
    assert out["cost_vnd"].iloc[0] == 1.5e9
    assert out["cost_vnd"].iloc[1] == pytest.approx(site_cost_vnd(np.nan, False)[()], rel=1e-9)
    (tmp_path / "c.csv").write_text("id,lon,lat\nA,103.0,21.4\nB,103.01,21.41\n", encoding="utf-8")
    csv = read_candidates(tmp_path / "c.csv")
    assert len(csv) == 2 and str(csv.crs) == CRS
    (tmp_path / "bad.csv").write_text("name,lon,lat\nA,103.0,21.4\n", encoding="utf-8")
    with pytest.raises(LayerError, match="required attribute 'id'"):
        read_candidates(tmp_path / "bad.csv")
