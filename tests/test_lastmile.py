"""The last mile: the exact choice against brute force, capacity, messy inputs, the demo, the CLI and the scenario."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from conftest import tiny_layers
from pyproj import CRS

from ictgis import lastmile, radio
from ictgis._errors import LayerError
from ictgis.cli import main
from ictgis.io import Dataset
from ictgis.lastmile_choice import Segment, choose, fiber_attribution, plan_cost


# ------------------------------------------------------------------------------------------------ the choice
def random_instance(seed: int, n: int = 5, t: int = 4):
    """Villages with random option costs (some infeasible) and a random fiber plan tree over them."""
    rng = np.random.default_rng(seed)
    costs = rng.integers(5, 60, size=(n, t)).astype(float)
    costs[rng.random((n, t)) < 0.3] = np.nan
    costs[:, 0] = np.where(rng.random(n) < 0.85, rng.integers(1, 5, size=n), np.nan)  # fiber: equipment
    k = 6  # tree nodes 1..k under the root 0; each segment joins a node to its parent
    parent = [0] + [int(rng.integers(0, i)) for i in range(1, k + 1)]
    at = rng.integers(1, k + 1, size=n)
    segments = []
    for node in range(1, k + 1):
        sub = {node}
        for m in range(1, k + 1):  # the subtree of node
            x = m
            while x != 0:
                if x == node:
                    sub.add(m)
                x = parent[x]
        served = tuple(int(v) for v in range(n) if at[v] in sub and np.isfinite(costs[v, 0]))
        if served:
            segments.append(Segment(float(rng.integers(5, 40)), served))
    hh = rng.integers(10, 200, size=n).astype(float)
    return costs, hh, segments


def brute_force(costs, hh, segments, budget):
    n, t = costs.shape
    options = [[-1, *[j for j in range(t) if np.isfinite(costs[v, j])]] for v in range(n)]
    best = None
    for combo in itertools.product(*options):
        pick = np.array(combo)
        cost = plan_cost(pick, costs, segments)
        if budget is None:
            if any(pick[v] < 0 and len(options[v]) > 1 for v in range(n)):
                continue
            key = (cost,)
        else:
            if cost > budget + 1e-9:
                continue
            key = (-hh[pick >= 0].sum(), cost)
        if best is None or key < best:
            best = key
    return best


@pytest.mark.parametrize("seed", range(8))
def test_cheapest_choice_matches_brute_force(seed):
    costs, hh, segments = random_instance(seed)
    pick = choose(costs, hh, segments)
    assert plan_cost(pick, costs, segments) == pytest.approx(brute_force(costs, hh, segments, None)[0])
    has = np.isfinite(costs).any(axis=1)
    assert ((pick >= 0) == has).all()
    assert all(np.isfinite(costs[v, pick[v]]) for v in range(len(pick)) if pick[v] >= 0)


@pytest.mark.parametrize(("seed", "budget"), [(s, b) for s in range(6) for b in (0.0, 20.0, 45.0, 90.0)])
def test_budget_choice_matches_brute_force(seed, budget):
    costs, hh, segments = random_instance(seed)
    pick = choose(costs, hh, segments, budget=budget)
    expected_hh, expected_cost = brute_force(costs, hh, segments, budget)
    assert hh[pick >= 0].sum() == pytest.approx(-expected_hh)
    assert plan_cost(pick, costs, segments) == pytest.approx(expected_cost)
    assert plan_cost(pick, costs, segments) <= budget + 1e-9


def test_a_shared_trunk_is_paid_once_and_its_shares_add_up():
    # Two villages behind one trunk (30) with their own spurs (5 each); satellite costs 25 each.
    costs = np.array([[1.0, 25.0], [1.0, 25.0]])
    segments = [Segment(30.0, (0, 1)), Segment(5.0, (0,)), Segment(5.0, (1,))]
    pick = choose(costs, np.array([10.0, 10.0]), segments, fiber_column=0)
    assert pick.tolist() == [0, 0]  # 30 + 5 + 5 + 2 = 42 < 50: together fiber wins, alone (36) it would not
    marginal, share = fiber_attribution(pick, segments)
    assert marginal.tolist() == [5.0, 5.0] and share.sum() == pytest.approx(40.0)
    assert all(costs[v, 0] + marginal[v] <= costs[v, 1] for v in range(2))  # cheapest of its row


# ------------------------------------------------------------------------------------------------ the plan
def tiny_dataset(**villages_changes) -> Dataset:
    layers = tiny_layers()
    v = layers["villages"]
    for col, values in villages_changes.items():
        v[col] = values
    return Dataset(layers=layers, sources={}, crs=CRS.from_epsg(9205))


def test_satellite_cannot_win_a_village_whose_demand_exceeds_it():
    # V06 (600 households) and V10: without fiber; V10 made small (40 households: 40 Mbps ≤ LEO's 100).
    hh = [700, 750, 750, 600, 600, 600, 450, 450, 350, 40]
    ds = tiny_dataset(households=hh)
    big = lastmile.plan_last_mile(ds, technologies="fiber,satellite",
                                  params={"lastmile_leo_capacity_mbps": 1000.0}).villages.set_index("id")
    assert big.loc["V06", "technology"] == "satellite"  # cheaper than its fiber route when capacity is ignored
    res = lastmile.plan_last_mile(ds, technologies="fiber,satellite").villages.set_index("id")
    assert res.loc["V06", "technology"] == "fiber" and res.loc["V06", "satellite_reason"] == "too_little_capacity"
    assert math.isnan(res.loc["V06", "satellite_npv_vnd"]) and res.loc["V06", "demand_mbps"] == 600
    assert res.loc["V10", "satellite_reason"] == "" and res.loc["V10", "satellite_kind"] == "leo"
    only = lastmile.plan_last_mile(ds, technologies=["satellite"]).villages.set_index("id")
    assert only.loc["V06", "technology"] == "" and only.loc["V10", "technology"] == "satellite"
    assert set(only.index) == {"V06", "V08", "V10"}


def test_a_school_sets_a_floor_on_demand():
    ds = tiny_dataset(households=[700, 750, 750, 600, 600, 5, 450, 450, 350, 5], school=[0] * 9 + [1])
    cheap_geo = {"lastmile_geo_usd_per_month": 50.0, "lastmile_geo_capacity_mbps": 10.0}
    res = lastmile.plan_last_mile(ds, technologies="satellite", params=cheap_geo).villages.set_index("id")
    assert res.loc["V06", "demand_mbps"] == 5 and res.loc["V10", "demand_mbps"] == 20
    assert res.loc["V06", "satellite_kind"] == "geo" and res.loc["V10", "satellite_kind"] == "leo"


def test_a_budget_connects_the_most_households_it_can():
    ds = tiny_dataset()
    full = lastmile.plan_last_mile(ds, technologies="fiber,satellite")
    costs = full.villages.set_index("id")["npv_vnd"]
    budget = float(costs.min()) + 1.0
    part = lastmile.plan_last_mile(ds, technologies="fiber,satellite", budget_vnd=budget)
    assert part.summary["npv_vnd"] <= budget
    assert 1 <= part.summary["villages_connected"] < full.summary["villages_connected"]
    left_out = (part.villages["technology"] == "") & (part.villages["unconstrained_technology"] != "")
    assert (part.villages["note"] == "over_budget").sum() == left_out.sum() >= 1


@pytest.mark.parametrize(("change", "match"), [
    ({"households": ["abc"] + [1] * 9}, "households is 'abc'"),
    ({"households": [-5] + [1] * 9}, "households is -5"),
])
def test_messy_values_are_one_layer_error(change, match):
    with pytest.raises(LayerError, match=match) as err:
        lastmile.plan_last_mile(tiny_dataset(**change))
    assert "row 1" in str(err.value)


def test_missing_columns_and_bad_options():
    ds = tiny_dataset()
    ds.layers["villages"] = ds["villages"].drop(columns="fiber")
    with pytest.raises(LayerError, match="fiber"):
        lastmile.plan_last_mile(ds)
    with pytest.raises(ValueError, match="unknown technology laser"):
        lastmile.plan_last_mile(tiny_dataset(), technologies="fiber,laser")
    with pytest.raises(ValueError, match="horizon_years"):
        lastmile.plan_last_mile(tiny_dataset(), horizon_years=0)


def test_cli_rejects_unknown_technologies_and_bad_data(tmp_path, tiny_dir):
    runner = CliRunner()
    bad = runner.invoke(main, ["lastmile", str(tiny_dir), "--out", str(tmp_path / "o"), "--technologies", "x"])
    assert bad.exit_code == 2 and "unknown technology x" in bad.output
    v = pyogrio.read_dataframe(tiny_dir / "villages.shp").drop(columns="fiber")
    v.to_file(tiny_dir / "villages.shp", engine="pyogrio")
    missing = runner.invoke(main, ["lastmile", str(tiny_dir), "--out", str(tmp_path / "o")])
    assert missing.exit_code == 2 and "fiber" in missing.output and not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------------------------ the demo
@pytest.fixture(scope="module")
def demo_run(demo_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "out"
    result = CliRunner().invoke(main, ["lastmile", str(demo_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_demo_every_gap_village_gets_a_technology_below_the_fiber_only_cost(demo_run, demo_dir):
    table = pd.read_csv(demo_run / "villages_lastmile.csv", dtype={"id": str}, keep_default_na=False)
    villages = pyogrio.read_dataframe(demo_dir / "villages.shp")
    assert set(table["id"]) == set(villages.loc[~villages["fiber"].astype(bool), "id"])
    assert set(table["technology"]) <= set(lastmile.TECHNOLOGIES) and (table["technology"] != "").all()
    for col in ("id", "technology", "npv_vnd", "fiber_npv_vnd", "microwave_npv_vnd", "satellite_npv_vnd",
                "fwa_npv_vnd", "fiber_reason", "microwave_reason", "satellite_reason", "fwa_reason"):
        assert col in table
    summary = json.loads((demo_run / "summary.json").read_text(encoding="utf-8"))
    assert summary["villages"] == len(table) and sum(summary["by_technology"].values()) == len(table)
    assert summary["npv_vnd"] < summary["fiber_only_npv_vnd"]
    assert summary["npv_vnd"] == pytest.approx(pd.to_numeric(table["npv_vnd"]).sum(), abs=len(table))
    assert {"capex_vnd", "opex_vnd_per_year"} <= set(summary)
    # the chosen technology is the cheapest feasible one of its row (fiber at its marginal cost)
    alt = table[[f"{t}_npv_vnd" for t in lastmile.TECHNOLOGIES]].apply(pd.to_numeric, errors="coerce")
    chosen = alt.to_numpy()[np.arange(len(table)), [lastmile.TECHNOLOGIES.index(t) for t in table["technology"]]]
    assert (chosen <= alt.min(axis=1).to_numpy() + 1.0).all()
    # an infeasible alternative has no cost and a reason
    for t in lastmile.TECHNOLOGIES:
        assert ((alt[f"{t}_npv_vnd"].isna()) == (table[f"{t}_reason"] != "")).all()


def test_demo_microwave_hops_are_clear_on_the_dem(demo_run, demo_dir):
    from ictgis import microwave as mw
    from ictgis.terrain import profile, read_dem

    assert pyogrio.list_layers(demo_run / "links.gpkg")[:, 0].tolist() == ["microwave", "fiber"]
    hops = pyogrio.read_dataframe(demo_run / "links.gpkg", layer="microwave")
    assert len(hops) and {"from_id", "to_id", "freq_ghz", "from_height_m", "to_height_m", "clearance_pct",
                          "margin_db"} <= set(hops.columns)
    dem = read_dem(demo_dir / "dem.tif")
    for h in hops.itertuples():
        (x0, y0), (x1, y1) = h.geometry.coords
        d, z = profile(dem, x0, y0, x1, y1)
        los = radio.line_of_sight(d, z, h.from_height_m, h.to_height_m, h.freq_ghz * 1000.0)
        assert los.clearance_pct >= 60.0
        rain = mw.rain_attenuation_db(d[-1] / 1000.0, h.freq_ghz, 72.0)
        assert h.margin_db >= rain - 0.01
    fiber = pyogrio.read_dataframe(demo_run / "links.gpkg", layer="fiber")
    table = pd.read_csv(demo_run / "villages_lastmile.csv", dtype={"id": str}, keep_default_na=False)
    served = {s for vs in fiber["villages"] for s in vs.split(";")}
    assert served == set(table.loc[table["technology"] == "fiber", "id"])


def test_demo_xlsx_has_vietnamese_headers(demo_run):
    from openpyxl import load_workbook

    wb = load_workbook(demo_run / "villages_lastmile.xlsx", read_only=True)
    header = [c.value for c in next(wb.worksheets[0].iter_rows(max_row=1))]
    assert header[:2] == ["Mã thôn", "Tên thôn"] and "Công nghệ chọn" in header and "Vi ba (VNĐ)" in header
    techs = {r[header.index("Công nghệ chọn")] for r in wb.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert techs <= {"cáp quang", "vi ba", "vệ tinh", "4G cố định không dây"}


# ------------------------------------------------------------------------------------------------ scenario
def test_connect_villages_intervention_on_the_tiny_province(tmp_path, tiny_dir):
    from ictgis import scenario

    path = tmp_path / "s.yaml"
    path.write_text(f"""\
name: tiny-lastmile
base: {tiny_dir}
interventions:
  - type: connect_villages
    method: cheapest
    technologies: [fiber, satellite]
""", encoding="utf-8")
    result = scenario.run(path, tmp_path / "out")
    d = result.delta.set_index("indicator")
    assert d.loc["fiber.villages_without_fiber", "after"] < d.loc["fiber.villages_without_fiber", "before"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    extra = summary["interventions"][0]
    assert extra["villages"] == 3 and extra["villages_connected"] == 2  # V10: no road, and too big for satellite
    lines = result.costs[result.costs["intervention"] != "TOTAL"]
    assert lines["capex_vnd"].sum() == pytest.approx(extra["capex_vnd"], abs=3)


def test_connect_villages_is_checked(tmp_path, tiny_dir):
    from ictgis import scenario
    from ictgis._errors import ScenarioError

    path = tmp_path / "s.yaml"
    path.write_text(f"""\
name: bad
base: {tiny_dir}
interventions:
  - type: connect_villages
    method: dearest
    technologies: [fiber, pigeons]
""", encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        scenario.read(path)
    text = str(err.value) + " ".join(map(str, err.value.problems))
    assert "dearest" in text and "pigeons" in text


def test_include_no_4g_needs_the_coverage_model(tiny_dir, tmp_path):
    result = CliRunner().invoke(main, ["lastmile", str(tiny_dir), "--out", str(tmp_path / "o"), "--include-no-4g"])
    assert result.exit_code == 2 and "dem.tif" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_include_no_4g_adds_exactly_the_villages_the_4g_model_leaves_out(demo_dir):
    from ictgis import io
    from ictgis.lastmile import plan_last_mile, villages_without_4g

    ds = io.load(demo_dir)
    villages = ds["villages"]
    ids = villages["id"].astype(str).to_numpy()
    no_4g = set(ids[villages_without_4g(ds, villages)])
    no_fiber = set(ids[~villages["fiber"].astype(bool).to_numpy()])
    assert no_4g - no_fiber and len(no_4g) < len(ids) / 4, "the demo has some villages with fiber but no 4G"
    plain = plan_last_mile(ds, technologies=("satellite",))
    wider = plan_last_mile(ds, technologies=("satellite",), include_no_4g=True)
    assert set(plain.villages["id"]) == no_fiber
    assert set(wider.villages["id"]) == no_fiber | no_4g
