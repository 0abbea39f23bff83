"""Infrastructure sharing, fiber undergrounding and radio stations using IT: indicators and interventions.

Known answers on the tiny province (tests/conftest.py): four 5 km communes (two phường, two xã), four sites of three
operators 5 km apart, fiber F1 aerial along y = 1 km across both phường (5 + 5 km) and F2 underground along
x = 1 km from y = 1 to 7 km (4 km in phường 03124, 2 km in xã 03316).
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from conftest import KM, X0, Y0, write_layers
from openpyxl import load_workbook

from ictgis import indicators, infrastructure, io, settings
from ictgis.cli import main
from ictgis.scenario._base import Context
from ictgis.scenario.interventions.share_towers import apply_share_towers
from ictgis.scenario.interventions.underground_fiber import apply_underground_fiber


def _extra_sites(bts: gpd.GeoDataFrame, rows: list[dict]) -> gpd.GeoDataFrame:
    new = gpd.GeoDataFrame(rows, geometry=[shapely.Point(r.pop("xy")) for r in rows], crs=bts.crs)
    return gpd.GeoDataFrame(pd.concat([bts, new], ignore_index=True), geometry="geometry", crs=bts.crs)


@pytest.fixture()
def sharing_dir(tmp_path, tiny):
    layers = dict(tiny)
    base = {"tech": "4G", "band_mhz": 1800.0, "height_m": 30.0, "power": "grid"}
    layers["bts_sites"] = _extra_sites(tiny["bts_sites"].assign(tower=[None, "T9", None, None]), [
        base | {"id": "S5", "operator": "MobiFone", "xy": (X0 + 2 * KM + 30, Y0 + 2 * KM)},   # 30 m from S1
        base | {"id": "S6", "operator": "Viettel", "xy": (X0 + 7 * KM + 200, Y0 + 2 * KM), "tower": "T9"},  # S2's
        base | {"id": "S7", "operator": "Viettel", "xy": (X0 + 8 * KM + 10, Y0 + 8 * KM)},   # S4, same operator
    ])
    layers["communes"] = tiny["communes"].assign(radio_it=[1, 0, 0, 0])
    return write_layers(tmp_path / "shared", layers)


def test_tower_groups_by_distance_and_by_id(sharing_dir):
    bts = io.load(sharing_dir)["bts_sites"]
    groups = infrastructure.tower_groups(bts)
    assert groups.tolist() == [0, 1, 2, 3, 0, 1, 3]  # S5 on S1 (30 m), S6 on S2 (tower id), S7 on S4 (10 m)
    assert infrastructure.tower_groups(bts, distance_m=0).tolist() == [0, 1, 2, 3, 4, 1, 5]
    towers = infrastructure.towers(bts)
    assert towers["shared"].tolist() == [True, True, False, False]  # S4+S7: one operator twice is not sharing


def test_sharing_indicators_province_and_communes(sharing_dir):
    result = indicators.compute(io.load(sharing_dir))
    assert result["sharing"] | {} == result["sharing"] | {"towers": 4, "sites_shared": 2, "sites_shared_pct": 50.0,
                                                          "distance_m": 50.0, "bts_on_shared_towers": 4}
    communes = {c["code"]: c for c in result["communes"]}
    assert (communes["03124"]["towers"], communes["03124"]["towers_shared"]) == (1, 1)
    assert (communes["03127"]["towers"], communes["03127"]["towers_shared"]) == (1, 1)
    assert (communes["03325"]["towers"], communes["03325"]["towers_shared"]) == (1, 0)
    assert result["districts"][0]["towers_shared"] == 2
    wider = indicators.compute(io.load(sharing_dir), sharing_distance_m=0)
    assert (wider["sharing"]["towers"], wider["sharing"]["sites_shared"]) == (6, 1)  # only the tower id remains


def test_underground_known_answers(tiny_dir):
    result = indicators.compute(io.load(tiny_dir))
    f = result["fiber"]
    assert f["underground_km"] == 6.0 and f["underground_pct"] == 37.5
    assert f["underground_km_urban"] == 4.0 and f["underground_pct_urban"] == round(100 * 4 / 14, 1) == 28.6
    assert f["underground_km_xa"] == 2.0 and f["underground_pct_xa"] == 100.0
    communes = {c["code"]: c for c in result["communes"]}
    assert (communes["03124"]["fiber_km"], communes["03124"]["underground_km"]) == (9.0, 4.0)
    assert communes["03124"]["underground_pct"] == 44.4 and communes["03127"]["underground_pct"] == 0.0
    assert communes["03325"]["fiber_km"] == 0.0 and communes["03325"]["underground_pct"] is None
    assert result["districts"][0]["underground_km"] == 6.0
    assert result["fiber"]["underground_unknown_km"] == 0.0


def test_radio_it_known_answer(sharing_dir):
    b = indicators.compute(io.load(sharing_dir))["broadcast"]
    assert (b["units_with_radio"], b["units_with_it_radio"], b["units_with_it_radio_pct"]) == (3, 1, 33.3)


def test_missing_attributes_leave_indicators_out_and_say_why(tmp_path, tiny):
    layers = dict(tiny)
    layers["fiber_routes"] = tiny["fiber_routes"].drop(columns=["install"])
    folder = write_layers(tmp_path / "d", layers)
    result = indicators.compute(io.load(folder))
    assert result["fiber"]["underground_km"] is None and result["fiber"]["underground_pct"] is None
    assert result["broadcast"]["units_with_it_radio"] is None
    assert "install" in result["unavailable"]["fiber.underground_km"]
    assert "radio_it" in result["unavailable"]["broadcast.units_with_it_radio"]
    assert "underground_km" not in result["communes"][0] and "radio_it" not in result["communes"][0]
    cli = CliRunner().invoke(main, ["indicators", str(folder)])
    assert cli.exit_code == 0
    assert "Warning: fiber.underground_km is not computed: the fiber_routes layer has no install" in cli.stderr
    assert "Tỷ lệ cáp quang đi ngầm" in cli.stdout and "—" in cli.stdout
    data = json.loads(CliRunner().invoke(main, ["indicators", str(folder), "--json"]).output)
    assert data["fiber"]["underground_km"] is None and "install" in data["unavailable"]["fiber.underground_km"]
    no_bts = write_layers(tmp_path / "e", {k: v for k, v in tiny.items() if k != "bts_sites"})
    assert indicators.compute(io.load(no_bts))["unavailable"]["sharing.sites_shared"] == "there is no bts_sites layer"


def test_vietnamese_installation_values_and_aliases(tmp_path, tiny):
    layers = dict(tiny)
    layers["fiber_routes"] = tiny["fiber_routes"].drop(columns=["install"]).assign(LAP_DAT=["Cáp treo", "Đi ngầm"])
    layers["communes"] = tiny["communes"].assign(DAI_CNTT=["Có", "Không", "Không", "Có"])
    ds = io.load(write_layers(tmp_path / "d", layers))
    assert ds["fiber_routes"]["install"].tolist() == ["aerial", "underground"]
    assert ds["communes"]["radio_it"].astype(bool).tolist() == [True, False, False, True]


def test_cli_json_and_xlsx_carry_the_new_keys_and_itu_codes(sharing_dir, tmp_path):
    xlsx = tmp_path / "chi_tieu.xlsx"
    cli = CliRunner().invoke(main, ["indicators", str(sharing_dir), "--json", "--xlsx", str(xlsx)])
    assert cli.exit_code == 0, cli.output
    data = json.loads(cli.stdout)
    for key in ("sharing.towers", "sharing.sites_shared", "sharing.sites_shared_pct", "fiber.underground_km",
                "fiber.underground_pct", "fiber.underground_pct_urban", "broadcast.units_with_it_radio"):
        assert indicators.lookup(data, key) is not None, key
    assert data["itu_codes"]["mobile.populated_area_4g_pct"] == "i271GA"
    assert data["itu_codes"]["mobile.populated_area_3g_pct"] == "i271G"
    rows = list(load_workbook(xlsx)["Chỉ tiêu"].iter_rows(values_only=True))
    assert rows[0] == ("Nhóm", "Chỉ tiêu", "Giá trị", "Đơn vị", "Mã ITU")
    by_label = {r[1]: r for r in rows}
    assert by_label["Tỷ lệ vùng dân cư được phủ sóng 4G"][4] == "i271GA"
    assert by_label["Số cột anten dùng chung từ 2 doanh nghiệp"][2] == 2
    assert by_label["Tỷ lệ cáp quang đi ngầm"][2] == 37.5
    assert by_label["Tổng số trạm BTS"][4] in (None, "")
    communes = list(load_workbook(xlsx)["Theo xã"].iter_rows(values_only=True))
    assert "Chiều dài cáp quang đi ngầm (km)" in communes[0]


def _ctx(**params) -> Context:
    return Context(params=params, label="test")


def test_share_towers_colocates_near_sites_and_costs_the_difference(sharing_dir):
    ds = io.load(sharing_dir).copy()
    spec = {"sites": [{"id": "N1", "x": X0 + 2 * KM + 300, "y": Y0 + 2 * KM, "operator": "VinaPhone"},
                      {"id": "N2", "x": X0 + 2 * KM + 300, "y": Y0 + 2 * KM, "operator": "Viettel"},
                      {"id": "N3", "x": X0 + 4 * KM, "y": Y0 + 9 * KM, "operator": "MobiFone"}],
              "max_distance_m": 500}
    out = apply_share_towers(ds, spec, _ctx())
    bts = ds["bts_sites"].set_index("id")
    s1 = bts.loc["S1", "geometry"]
    assert bts.loc["N1", "geometry"].equals(s1) and bts.loc["N1", "tower"] == bts.loc["S1", "tower"]
    assert not bts.loc["N2", "geometry"].equals(s1)  # Viettel is on that tower already; the next is 5 km away
    assert pd.isna(bts.loc["N3", "tower"])
    usd = settings.usd_to_vnd
    co, green = out.costs
    assert (co.quantity, green.quantity) == (1, 2)
    assert co.capex_vnd == pytest.approx((49_000 - 10_000) * usd)
    assert green.capex_vnd == pytest.approx(2 * 49_000 * usd)
    assert co.opex_vnd_per_year == pytest.approx(0.1 * co.capex_vnd + 1_000 * usd)
    assert out.extra["saving_vnd"] == round(10_000 * usd)
    after = indicators.compute(ds)["sharing"]
    assert (after["towers"], after["sites_shared"]) == (6, 2)  # N2 and N3 are new towers; N1 joins a shared one


def test_underground_fiber_by_kind_and_by_commune(tiny_dir):
    usd = settings.usd_to_vnd
    ds = io.load(tiny_dir).copy()
    out = apply_underground_fiber(ds, {"where": {"kind": ["phuong"]}}, _ctx())
    assert out.costs[0].capex_vnd == pytest.approx(10_000 * 25 * usd)  # 10 km urban at 25 USD/m
    assert out.extra["km_underground"] == pytest.approx(10.0)
    assert ds["fiber_routes"]["install"].tolist() == ["underground", "underground"]
    f = indicators.compute(ds)["fiber"]
    assert (f["underground_km"], f["underground_pct"], f["underground_pct_urban"]) == (16.0, 100.0, 100.0)

    ds = io.load(tiny_dir).copy()
    out = apply_underground_fiber(ds, {"where": {"commune": ["03127"]}, "usd_per_m": {"urban": 20.0}}, _ctx())
    routes = ds["fiber_routes"].set_index("id")
    assert sorted(routes.index) == ["F1", "F1-U", "F2"]
    assert routes.loc["F1", "install"] == "aerial" and routes.loc["F1-U", "install"] == "underground"
    assert routes.loc["F1-U", "geometry"].length == pytest.approx(5 * KM)
    assert out.costs[0].capex_vnd == pytest.approx(5_000 * 20 * usd)
    assert indicators.compute(ds)["fiber"]["underground_km"] == 11.0


def test_scenario_file_runs_both_interventions(tmp_path, tiny_dir):
    from ictgis import scenario

    text = f"""name: sharing
base: {tiny_dir}
parameters: {{colocation_saving_usd: 12000}}
interventions:
  - type: share_towers
    sites: [{{id: N1, x: {X0 + 2 * KM + 100}, y: {Y0 + 2 * KM}, operator: VinaPhone}}]
  - type: underground_fiber
    where: {{kind: [phuong, thi_tran]}}
"""
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    result = scenario.run(path, tmp_path / "out")
    assert result.after["sharing"]["sites_shared"] == 1 and result.before["sharing"]["sites_shared"] == 0
    assert result.after["fiber"]["underground_pct_urban"] == 100.0
    capex = result.costs.set_index("item")["capex_vnd"]
    assert capex["1 new sites on existing towers"] == pytest.approx((49_000 - 12_000) * settings.usd_to_vnd)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("[phuong, thi_tran]", "[town]"), encoding="utf-8")
    with pytest.raises(Exception, match="'town' is not one of xa, phuong, thi_tran"):
        scenario.read(bad)


def test_demo_values_are_believable(demo_dir):
    result = indicators.compute(io.load(demo_dir))
    s, f, b = result["sharing"], result["fiber"], result["broadcast"]
    assert 3.0 < s["sites_shared_pct"] < 20.0  # "the sharing rate is still low"
    assert s["towers"] < 815
    assert f["underground_pct_urban"] > 50.0 > f["underground_pct"] and f["underground_pct_xa"] < 5.0
    assert (b["units_with_radio"], b["units_with_it_radio"]) == (97, 24)
    assert not result["unavailable"]
    assert np.isfinite(f["underground_km"])
    merged = indicators.compute(io.load(demo_dir), structure="2025")
    assert merged["broadcast"]["units_with_it_radio"] >= 10 and not merged["unavailable"]
    assert merged["fiber"]["underground_km"] == f["underground_km"]
