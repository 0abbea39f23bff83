"""The official unit list and the 2025 aggregation."""

from __future__ import annotations

import geopandas as gpd
import pytest

from ictgis import LayerError, admin


def test_units_list_has_the_official_counts():
    units = admin.units()
    assert len(units) == 129
    assert units["kind"].value_counts().to_dict() == {"xa": 115, "phuong": 9, "thi_tran": 5}
    assert units["dist_code"].nunique() == 10
    assert units["unit_2025"].nunique() == 45
    kinds = units.drop_duplicates("nq1661_item")["kind_2025"].value_counts().to_dict()
    assert kinds == {"xa": 42, "phuong": 3}


def test_aggregate_2025_dissolves_and_sums(tiny):
    merged = admin.aggregate_2025(tiny["communes"])
    assert merged["code"].tolist() == ["NQ1661-27", "NQ1661-30", "NQ1661-44", "NQ1661-45"]
    assert merged["population"].sum() == tiny["communes"]["population"].sum()
    assert merged.geometry.area.sum() == pytest.approx(tiny["communes"].geometry.area.sum())


def test_aggregate_2025_joins_on_codes_only(tiny):
    communes = tiny["communes"].copy()
    communes.loc[0, "code"] = "12345"
    with pytest.raises(LayerError, match="cannot aggregate"):
        admin.aggregate_2025(communes)


def test_whole_province_aggregates_to_45(tmp_path):
    import shapely

    units = admin.units()
    frame = gpd.GeoDataFrame({"code": units["code"], "population": 1, "households": 1, "radio": True},
                             geometry=[shapely.box(i * 10, 0, i * 10 + 10, 10) for i in range(len(units))],
                             crs=9205)
    merged = admin.aggregate_2025(frame)
    assert len(merged) == 45
    assert merged["n_old"].sum() == 129
    assert set(merged.loc[merged["kind"] == "phuong", "name"]) == {"Điện Biên Phủ", "Mường Thanh", "Mường Lay"}


def test_match_gso_codes_on_real_polygons(shared_dir):
    g = gpd.read_file(shared_dir / "communes_2019.geojson")[["commune_vn", "district_vn", "geometry"]]
    g = g.rename(columns={"commune_vn": "name", "district_vn": "district"})
    matched = admin.match_gso_codes(g)
    # 130 polygons: Tà Lèng (merged later) has no code of its own in the 129-unit list
    assert matched["code"].isna().sum() == 1
    assert matched.loc[matched["code"].isna(), "name"].item() == "Xã Tà Lèng"
    assert set(matched["code"].dropna()) == set(admin.units()["code"])
