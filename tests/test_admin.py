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
    with pytest.raises(LayerError, match="cannot aggregate") as info:
        admin.aggregate_2025(communes)
    assert [str(p) for p in info.value.problems] == [
        "communes row 1, column code: code '12345' is not in the official list of the province's units; the 2025 "
        "structure is joined on GSO codes"]


def test_aggregate_2025_says_once_how_to_get_gso_codes(tiny):
    communes = tiny["communes"].copy()
    communes["code"] = ["3020101", "3020102", None, "03127"]
    with pytest.raises(LayerError) as info:
        admin.aggregate_2025(communes, file="xa.shp")
    assert [str(p) for p in info.value.problems] == [
        "xa.shp, column code: codes are not GSO 5-digit commune codes (3 of 4, e.g. '3020101'): run `ictgis "
        "match-codes xa.shp --out xa_gso.shp`; the 2025 structure is joined on GSO codes"]


def test_missing_units_against_the_official_list():
    codes = list(admin.units()["code"])
    assert admin.missing_units(codes).empty
    missing = admin.missing_units([c for c in codes if c not in ("03262", "03124")] + ["99999"])
    assert sorted(missing["code"]) == ["03124", "03262"]
    assert admin.missing_units(["3020101", "3020102", "03124"]) is None  # mostly another numbering: no claim
    assert admin.missing_units([]) is None


def test_match_gso_codes_by_district_code_or_name_alone():
    frame = gpd.GeoDataFrame({"name": ["Xã Mùn Chung", "Phường Him Lam", "Huổi Lếch"],
                              "dist_code": ["099", "094", "096"]}, geometry=[None] * 3)
    assert admin.match_gso_codes(frame)["code"].tolist() == ["03262", "03127", "03177"]
    alone = admin.match_gso_codes(frame.drop(columns="dist_code"))
    assert alone["code"].tolist() == ["03262", "03127", "03177"]  # each name is unique in the province


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
