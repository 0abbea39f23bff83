"""Postal service radius and people per point: the published formulas."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

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
    assert straight.loc[0, "straight_km"] == pytest.approx((1.4**2 * 2) ** 0.5, abs=1e-3)  # metres
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


# ------------------------------------------------------------------------------------------------ distances
def _walk_fixture():
    """A post office 1.0 km east of village A; the only road runs 2.1 km north of both."""
    x0, y0 = 500_000.0, 2_360_000.0
    crs = "EPSG:9205"
    villages = gpd.GeoDataFrame({"id": ["A", "B", "C"]}, geometry=[
        shapely.Point(x0, y0),                 # 1.0 km straight from P1, 5.2 km by the road and its connectors
        shapely.Point(x0, y0 - 9000),          # 9 km straight, 11.1 km from the road: not attached
        shapely.Point(x0 + 20000, y0 + 2200)], crs=crs)  # beside the road, 19 km from P1
    post = gpd.GeoDataFrame({"id": ["P1"], "kind": ["bdvhx"]}, geometry=[shapely.Point(x0 + 1000, y0)], crs=crs)
    roads = gpd.GeoDataFrame(geometry=[shapely.LineString([(x0 - 5000, y0 + 2100), (x0 + 25000, y0 + 2100)])],
                             crs=crs)
    return villages, post, roads


def test_distance_is_the_shorter_of_the_walk_and_the_road_path():
    villages, post, roads = _walk_fixture()
    out = postal.village_access(villages, post, roads=roads, threshold_km=5.0)
    a = out.loc[0]
    assert a["total_km"] == pytest.approx(2.1 + 1.0 + 2.1)  # the road path is still reported
    assert a["distance_km"] == pytest.approx(1.0) and a["distance_by"] == "straight"
    assert a["service_point"] == "P1" and not a["beyond_threshold"] and a["reason"] == ""
    b = out.loc[1]
    assert np.isnan(b["total_km"]) and b["distance_km"] == pytest.approx(82**0.5, abs=1e-3) and b["beyond_threshold"]
    assert "no road within 5 km" in b["reason"] and "9.1 km to P1" in b["reason"]
    assert "không có đường giao thông" in b["reason_vi"]
    c = out.loc[2]
    assert c["beyond_threshold"] and "along the roads" in c["reason"]
    flagged = out[out["beyond_threshold"]]
    assert len(flagged) == 2 and (flagged["reason"].str.len() > 0).all() and (flagged["reason_vi"].str.len() > 0).all()
    assert (out.loc[~out["beyond_threshold"], "reason"] == "").all()


def test_no_point_of_the_kinds_flags_every_village_with_a_reason():
    villages, post, _ = _walk_fixture()
    out = postal.village_access(villages, post, kinds=("cap1",))
    assert out["beyond_threshold"].all() and out["distance_km"].isna().all()
    assert (out["reason"] == "no service point of the counted kinds").all()


def test_kinds_by_name_or_vietnamese_label_and_unknown_ones_refused():
    assert postal.parse_kinds("CAP1, Điểm BĐVHX,bưu cục cấp 2,Hộp thư công cộng") == (
        "cap1", "bdvhx", "cap2", "letterbox")
    assert postal.parse_kinds(None) is None
    for bad in ("cap4", "cap1,xyz", " , "):
        with pytest.raises(ValueError, match="valid kinds: cap1 \\(Bưu cục cấp I\\)"):
            postal.parse_kinds(bad)
    villages, post, _ = _walk_fixture()
    with pytest.raises(ValueError, match="'cap4'"):
        postal.counted_points(post, kinds=("cap4",))
    assert len(postal.counted_points(post, kinds=("Điểm BĐVHX",))) == 1


def test_people_per_point_written_as_whole_people(tiny_dir):
    ds = io.load(tiny_dir)
    po = ds["post_offices"]
    table = postal.rounded_units(postal.postal_by_unit(ds["communes"], po, unit_of_point=po["commune"]))
    assert str(table["people_per_point"].dtype) == "Int64"
    assert table.loc["03124", "people_per_point"] == 9000 and pd.isna(table.loc["03325", "people_per_point"])
