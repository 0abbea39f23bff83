"""Files from other sources: Google Earth KML/KMZ, commune files with ASCII and Vietnamese names, names without
their Xã/Phường/Thị trấn prefix (kind from the GSO list), and the real 2019 communes when ../shared is present."""

from __future__ import annotations

import shutil
import warnings
import zipfile

import pytest
from conftest import tiny_layers, write_layers

from ictgis import RepairWarning, indicators, io
from ictgis.crs import to_crs

KML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>\n'


def load(folder, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = io.load(folder, **kw)
    return ds, [str(w.message) for w in caught if issubclass(w.category, RepairWarning)]


def data_xml(values: dict) -> str:
    return "<ExtendedData>" + "".join(f'<Data name="{k}"><value>{v}</value></Data>' for k, v in values.items()) \
        + "</ExtendedData>"


def communes_kml() -> str:
    """Google Earth KML of the tiny communes: empty <name>, attributes in ExtendedData, polygons with altitude."""
    communes = to_crs(tiny_layers()["communes"], 4326)
    marks = []
    for _, c in communes.iterrows():
        ring = " ".join(f"{x:.8f},{y:.8f},0" for x, y in c.geometry.exterior.coords)
        marks.append("<Placemark><name></name>"
                     + data_xml({"TEN_XA": c["name"], "MA_XA": c["code"], "DAN_SO": c["population"]})
                     + f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{ring}</coordinates></LinearRing>"
                       "</outerBoundaryIs></Polygon></Placemark>\n")
    return KML_HEAD + "".join(marks) + "</Document></kml>\n"


def test_kml_with_empty_name_falls_back_to_ten_xa(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "communes.kml").write_text(communes_kml(), encoding="utf-8")
    ds, _ = load(folder)
    communes = ds["communes"]
    assert communes["name"].tolist() == ["Noong Bua", "Him Lam", "Nà Tấu", "Mường Phăng"]
    assert communes["kind"].tolist() == ["phuong", "phuong", "xa", "xa"]
    assert communes["code"].tolist() == ["03124", "03127", "03316", "03325"]
    assert communes["population"].sum() == 23000
    assert not communes.geometry.has_z.any()


def test_google_earth_kmz_with_extended_data_in_folders(tmp_path):
    folder = write_layers(tmp_path / "d", {"communes": tiny_layers()["communes"]})
    posts = to_crs(tiny_layers()["post_offices"], 4326)
    folders = []
    for _, p in posts.iterrows():
        folders.append(f"<Folder><name>{p['commune']}</name><Placemark><name></name>"
                       + data_xml({"MA_DIEM": p["id"], "TEN_DIEM": p["name"], "LOAI_DIEM": p["kind"]})
                       + f"<Point><coordinates>{p.geometry.x:.8f},{p.geometry.y:.8f},0</coordinates></Point>"
                         "</Placemark></Folder>\n")
    kml = KML_HEAD + "".join(folders) + "</Document></kml>\n"
    with zipfile.ZipFile(folder / "post_offices.kmz", "w") as zf:
        zf.writestr("doc.kml", kml)
    ds, _ = load(folder)
    po = ds["post_offices"]
    assert po["id"].tolist() == ["P1", "P2", "P3"]  # one placemark in each of three folders
    assert po["name"].tolist()[1] == "Điểm BĐVHX Nà Tấu"
    assert po["kind"].tolist() == ["cap1", "bdvhx", "letterbox"]


def other_source_communes():
    """The tiny communes as census-style files have them: ASCII and Vietnamese name columns side by side."""
    communes = tiny_layers()["communes"]
    return communes.drop(columns=["name", "district"]).assign(
        commune=["Noong Bua", "Him Lam", "Na Tau", "Muong Phang"],
        commune_vn=["Phường Noong Bua", "Phường Him Lam", "Xã Nà Tấu", "Xã Mường Phăng"],
        district=["Dien Bien Phu"] * 4, district_vn=["Thành phố Điện Biên Phủ"] * 4)


def test_the_vietnamese_name_column_is_preferred(tmp_path):
    folder = write_layers(tmp_path / "d", {"communes": other_source_communes()}, suffix=".geojson")
    ds, notes = load(folder)
    communes = ds["communes"]
    assert communes["name"].tolist() == ["Noong Bua", "Him Lam", "Nà Tấu", "Mường Phăng"]
    assert communes["kind"].tolist() == ["phuong", "phuong", "xa", "xa"]
    assert communes["district"].tolist() == ["Thành phố Điện Biên Phủ"] * 4
    assert not any("no kind" in n for n in notes)


def test_kind_from_the_gso_list_when_names_have_no_prefix(tmp_path):
    communes = other_source_communes().drop(columns=["commune_vn"])
    folder = write_layers(tmp_path / "d", {"communes": communes}, suffix=".geojson")
    ds, notes = load(folder)
    assert ds["communes"]["name"].tolist() == ["Noong Bua", "Him Lam", "Na Tau", "Muong Phang"]
    assert ds["communes"]["kind"].tolist() == ["phuong", "phuong", "xa", "xa"]
    assert not any("no kind" in n for n in notes)
    assert indicators.compute(ds)["province"]["xa"] == 2


def test_unknown_kinds_are_never_silent(tmp_path):
    communes = other_source_communes().drop(columns=["commune_vn"]).assign(
        code=["99001", "99002", "99003", "99004"], commune=["Alpha", "Beta", "Gamma", "Delta"])
    folder = write_layers(tmp_path / "d", {"communes": communes}, suffix=".geojson")
    ds, notes = load(folder)
    assert "kind" not in ds["communes"]
    assert indicators.compute(ds)["province"]["xa"] == 0  # … and load said why:
    assert any("4 of 4 communes have no kind" in n and "Xã/Phường/Thị trấn prefix" in n for n in notes)
    assert any("4 of 4 communes have no kind" in n for n in ds.notes)


def test_explicit_kind_column_wins_over_the_gso_list(tmp_path):
    communes = other_source_communes().drop(columns=["commune_vn"]).assign(LOAI=["Xã", "Xã", "Thị trấn", ""])
    folder = write_layers(tmp_path / "d", {"communes": communes}, suffix=".geojson")
    ds, _ = load(folder)
    assert ds["communes"]["kind"].tolist() == ["xa", "xa", "thi_tran", "xa"]


@pytest.fixture(scope="module")
def real_copy(shared_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("real-sources")
    shutil.copy(shared_dir / "communes_2019.geojson", folder)
    return folder


def test_real_communes_without_a_name_mapping(real_copy):
    (real_copy / "layers.yaml").write_text(
        "layers:\n  communes:\n    file: communes_2019.geojson\n    fields: {code: commune_id, population: total}\n",
        encoding="utf-8")
    ds, notes = load(real_copy)
    communes = ds["communes"]
    assert "Mường Thanh" in set(communes["name"])  # commune_vn, not the ASCII commune column
    assert communes["kind"].value_counts().to_dict() == {"xa": 116, "phuong": 9, "thi_tran": 5}
    assert communes["district"].str.contains("Điện Biên").any()
    assert indicators.compute(ds)["province"]["xa"] == 116


def test_real_communes_with_ascii_names_only(real_copy, tmp_path):
    import geopandas as gpd

    frame = gpd.read_file(real_copy / "communes_2019.geojson").drop(columns=["commune_vn", "district_vn"])
    folder = tmp_path / "ascii"
    folder.mkdir()
    frame.to_file(folder / "communes.geojson", engine="pyogrio")
    (folder / "layers.yaml").write_text("layers:\n  communes:\n    fields: {code: commune_id, population: total}\n",
                                        encoding="utf-8")
    ds, notes = load(folder)
    communes = ds["communes"]
    # 7-digit census ids are no GSO codes: kinds come from the GSO list by district and name; Tà Lèng, merged
    # before the list was drawn, is the one unit left without a kind, and load says so
    assert communes["kind"].value_counts().to_dict() == {"xa": 115, "phuong": 9, "thi_tran": 5}
    assert communes.loc[communes["kind"].isna(), "name"].tolist() == ["Ta Leng"]
    assert any("1 of 130 communes have no kind" in n for n in notes)
