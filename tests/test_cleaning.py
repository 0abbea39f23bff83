"""Explicit cleaning of commune overlaps and gaps."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from conftest import X0, Y0, gso_grid

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


def test_a_hole_where_a_gso_unit_is_missing_is_reported_not_filled():
    # 4 km² squares: the hole left by Mùn Chung is under the 5 km² sliver limit but the size of a commune
    communes = gso_grid(drop=("03262",))
    topology = io.commune_topology(communes)
    assert topology.gaps == 1 and topology.unfillable == ["Mùn Chung (03262) is missing: 4.0 km² hole"]
    assert "ictgis clean" not in str(topology)  # clean cannot fix it: it does not offer itself
    cleaned, report = cleaning.clean_communes(communes)
    assert report.gaps_filled == 0 and report.gaps_left == 1
    assert report.holes_left == ["Mùn Chung (03262) is missing: 4.0 km² hole"]
    assert cleaned.geometry.area.sum() == pytest.approx(communes.geometry.area.sum())


def test_two_units_missing_in_one_district_are_both_named():
    communes = gso_grid(drop=("03262", "03268"))  # two squares apart, both of Tuần Giáo
    verdicts = cleaning.diagnose_holes(communes, _holes(communes))
    assert len(verdicts) == 2
    for verdict in verdicts:
        assert not verdict.fillable and set(verdict.missing) == {"03262", "03268"}
        assert verdict.reason.endswith("units of the GSO list are missing: Mùn Chung (03262), Mường Mùn (03268)")


def test_a_sliver_is_not_a_missing_unit():
    communes = gso_grid(drop=("03262",))
    communes["geometry"] = communes.geometry.difference(shapely.box(X0 + 9000, Y0 + 3990, X0 + 9500, Y0 + 4010))
    verdicts = cleaning.diagnose_holes(communes, _holes(communes))
    assert sorted(v.fillable for v in verdicts) == [False, True]  # the sliver is filled, the missing unit is not
    cleaned, report = cleaning.clean_communes(communes)
    assert report.gaps_filled == 1 and report.gaps_left == 1


def test_a_hole_larger_than_the_sliver_limit_says_why_and_how():
    communes = gpd.GeoDataFrame({"code": [str(i) for i in range(8)], "name": [f"X{i}" for i in range(8)]},
                                geometry=[shapely.box(X0 + x * 5000, Y0 + y * 5000, X0 + x * 5000 + 5000,
                                                      Y0 + y * 5000 + 5000)
                                          for x in range(3) for y in range(3) if (x, y) != (1, 1)], crs=9205)
    cleaned, report = cleaning.clean_communes(communes)
    assert report.gaps_left == 1
    reason = report.holes_left[0]
    assert reason.startswith("25.0 km² hole between X0, X1, X2, X3 and 4 others is larger than the 5 km² sliver limit")
    assert "codes are not GSO codes" in reason and "`--max-gap-km2 25`" in reason
    assert str(io.commune_topology(communes)).splitlines()[1] == f"    - a gap clean cannot fill: {reason}"
    filled, report = cleaning.clean_communes(communes, max_gap_km2=25)
    assert report.gaps_left == 0 and io.commune_topology(filled).clean


def _holes(communes):
    union = shapely.union_all(communes.geometry.values)
    return [shapely.Polygon(r) for part in getattr(union, "geoms", [union]) for r in part.interiors]
