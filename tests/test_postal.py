"""Postal service radius and people per point: the published formulas."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ictgis import io, postal


def test_published_service_radius_and_people_per_point():
    assert round(postal.service_radius_km(9541.25, 168), 2) == 4.25
    assert round(postal.people_per_point(616_560, 168)) == 3670
    assert postal.service_radius_km(100.0, 0) is None


def test_radius_formula_by_hand():
    assert postal.service_radius_km(math.pi * 9, 1) == pytest.approx(3.0)


def test_norms_per_unit(tiny_dir):
    ds = io.load(tiny_dir)
    po = ds["post_offices"]
    table = postal.postal_by_unit(ds["communes"], po, unit_of_point=po["commune"])
    assert table.loc["03325", "failures"] == "no service point in this xã"
    assert table.loc["03124", "people_per_point"] == 9000
    assert "9000 people per point > 8,000" in table.loc["03124", "failures"]
    assert table.loc["03316", "meets_norms"]
    # a 25 km² commune with one point has R = √(25/π) = 2.82 km ≤ 3 km
    assert table.loc["03316", "radius_km"] == pytest.approx(math.sqrt(25 / math.pi))


def test_kinds_counted_is_a_parameter(tiny):
    po = tiny["post_offices"]
    counted = postal.counted_points(po, kinds=("cap1", "bdvhx"))
    assert sorted(counted["kind"]) == ["bdvhx", "cap1"]
    table = postal.postal_by_unit(tiny["communes"], po, unit_of_point=pd.Series(po["commune"]),
                                  kinds=("bdvhx",))
    assert table["points"].sum() == 1


def test_village_access_straight_and_along_roads(tiny_dir):
    ds = io.load(tiny_dir)
    villages, po = ds["villages"], ds["post_offices"]
    straight = postal.village_access(villages, po, threshold_km=3.0)
    # V01 at (1.1, 1.1) km from the origin, P1 at (2.5, 2.5): √(1.4² + 1.4²) km
    assert straight.loc[0, "nearest_point"] == "P1"
    assert straight.loc[0, "straight_km"] == pytest.approx((1.4**2 * 2) ** 0.5, abs=1e-6)
    road = postal.village_access(villages, po, roads=ds["roads"], threshold_km=3.0)
    reached = road["total_km"].notna()
    assert (road.loc[reached, "total_km"] >= road.loc[reached, "straight_km"] - 1e-3).all()
    # V01 (1.1, 1.1) joins QL279 (y = 1.2 km) 0.1 km away; P1 (2.5, 2.5) is 1.3 km from both roads; either way
    # 1.4 km along the roads
    assert road.loc[0, "offroad_km"] == pytest.approx(0.1 + 1.3, abs=1e-3)
    assert road.loc[0, "road_km"] == pytest.approx(1.4, abs=1e-3)
    # V09 and V10 are more than 5 km from every road: no road distance, flagged
    assert road.loc[[8, 9], "total_km"].isna().all() and road.loc[[8, 9], "beyond_threshold"].all()
    assert road.loc[0, "via_point"] == "P1"
    assert road["beyond_threshold"].dtype == bool
