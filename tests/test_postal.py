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
