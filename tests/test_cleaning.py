"""Explicit cleaning of commune overlaps and gaps."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from conftest import X0, Y0

from ictgis import cleaning, io


def test_clean_removes_overlaps_and_fills_slivers(tiny):
    communes = tiny["communes"].copy()
    communes.loc[0, "geometry"] = communes.geometry[0].buffer(100, join_style="mitre")
    sliver = shapely.box(X0 + 9000, Y0 + 4990, X0 + 9500, Y0 + 5010)
    communes["geometry"] = communes.geometry.difference(sliver)
    before = communes.copy()
    assert not io.commune_topology(communes).clean
    cleaned, report = cleaning.clean_communes(communes)
    after = io.commune_topology(cleaned)
    assert after.clean
    assert report.gaps_filled == 1
    assert report.overlaps_removed_km2 == pytest.approx(io.commune_topology(communes).overlap_area_km2, rel=1e-6)
    # the province is still covered exactly once
    assert cleaned.geometry.area.sum() == pytest.approx(shapely.union_all(before.geometry.values).area +
                                                        sliver.area, rel=1e-9)
    assert before.geometry.equals(communes.geometry)  # input untouched


def test_clean_real_polygons(shared_dir):
    g = gpd.read_file(shared_dir / "communes_2019.geojson")[["commune_vn", "total", "geometry"]].to_crs(9205)
    g["code"] = [str(i) for i in range(len(g))]
    before = io.commune_topology(g)
    assert 14 < before.overlap_area_km2 < 17 and before.gaps > 400
    cleaned, report = cleaning.clean_communes(g)
    assert io.commune_topology(cleaned).clean
    assert report.gaps_left == 0
