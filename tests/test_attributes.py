"""values:/set: of layers.yaml, the built-in Vietnamese values, GSO codes without their zeros, villages without id."""

from __future__ import annotations

import unicodedata
import warnings

import pytest
from conftest import tiny_layers, write_layers

from ictgis import LayerError, RepairWarning, io
from ictgis.layers import ROADS, enum_value


def load(folder, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = io.load(folder, **kw)
    return ds, [str(w.message) for w in caught if issubclass(w.category, RepairWarning)]


def roads_folder(tmp_path, classes: list[str], mapping: str | None = None):
    layers = tiny_layers()
    roads = layers["roads"].iloc[[0, 1] * (len(classes) // 2 + 1)].iloc[: len(classes)].reset_index(drop=True)
    roads = roads.drop(columns=["road_class"]).assign(LOAI=classes)
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"]})
    roads.to_file(folder / "duong_chinh.geojson", engine="pyogrio")
    (folder / "layers.yaml").write_text(
        mapping or "layers:\n  roads:\n    file: duong_chinh.geojson\n    fields: {road_class: LOAI}\n",
        encoding="utf-8")
    return folder


def test_values_mapping_in_layers_yaml(tmp_path):
    nfd = unicodedata.normalize("NFD", "  QUỐC GIA ")  # another case, decomposed, spaces around
    mapping = ("layers:\n  roads:\n    file: duong_chinh.geojson\n    fields: {road_class: LOAI}\n"
               '    values: {road_class: {"Quốc Gia": national, "Cấp Tỉnh": provincial, "Đường đô thị": district}}\n')
    folder = roads_folder(tmp_path, [nfd, "cấp tỉnh", "Đường đô thị", "Đường huyện"], mapping)
    before = (folder / "duong_chinh.geojson").read_bytes()
    ds, _ = load(folder)
    assert ds["roads"]["road_class"].tolist() == ["national", "provincial", "district", "district"]
    assert (folder / "duong_chinh.geojson").read_bytes() == before


@pytest.mark.parametrize(("word", "value"), [
    ("Quốc lộ", "national"), ("Quốc gia", "national"), ("QL", "national"), ("Đường tỉnh", "provincial"),
    ("Tỉnh lộ", "provincial"), ("Cấp tỉnh", "provincial"), ("ĐT", "provincial"), ("Đường huyện", "district"),
    ("Huyện lộ", "district"), ("Đường xã", "commune"), ("Cấp xã", "commune"), ("Đường thôn", "track"),
    ("Đường mòn", "track"),
])
def test_builtin_road_law_terms(word, value):
    assert enum_value(word, ROADS.field("road_class"), "roads") == value
    assert enum_value(" " + unicodedata.normalize("NFD", word.upper()) + " ", ROADS.field("road_class"),
                      "roads") == value


def test_builtin_terms_read_from_a_file(tmp_path):
    folder = roads_folder(tmp_path, ["Quốc lộ", "Tỉnh lộ", "Đường huyện", "Đường xã", "Cấp tỉnh", "Quốc gia"])
    ds, _ = load(folder)
    assert ds["roads"]["road_class"].tolist() == ["national", "provincial", "district", "commune", "provincial",
                                                  "national"]


def test_unknown_value_names_file_row_column_and_the_accepted_values(tmp_path):
    folder = roads_folder(tmp_path, ["Quốc lộ", "Đường đô thị"])
    with pytest.raises(LayerError) as exc:
        load(folder)
    [problem] = [str(p) for p in exc.value.problems]
    assert problem.startswith("duong_chinh.geojson row 2, column road_class: road_class is 'Đường đô thị', "
                              "expected one of national, provincial, district, commune, track")
    assert "Quốc lộ" in problem and "Đường tỉnh" in problem and "`values:` in layers.yaml" in problem


def test_set_gives_every_row_a_constant(tmp_path):
    layers = tiny_layers()
    posts = layers["post_offices"].drop(columns=["kind"])
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"]})
    posts.to_file(folder / "buu_cuc.geojson", engine="pyogrio")
    (folder / "layers.yaml").write_text("layers:\n  post_offices:\n    file: buu_cuc.geojson\n    set: {kind: cap3}\n",
                                        encoding="utf-8")
    ds, _ = load(folder)
    assert ds["post_offices"]["kind"].tolist() == ["cap3"] * 3


def test_set_and_values_are_checked_in_layers_yaml(tmp_path):
    folder = roads_folder(tmp_path, ["Quốc lộ", "Tỉnh lộ"], (
        "layers:\n  roads:\n    file: duong_chinh.geojson\n    fields: {road_class: LOAI}\n"
        "    values: {road_class: {Đô thị: urban}, colour: {a: b}}\n"
        "  post_offices:\n    file: x.csv\n    set: {kind: kiosk}\n"))
    with pytest.raises(LayerError) as exc:
        load(folder)
    text = "\n".join(str(p) for p in exc.value.problems)
    assert "layers.yaml, column layers.roads.values.road_class: 'urban' (for 'Đô thị') is not a road_class value" \
        in text
    assert "layers.yaml, column layers.roads.values.colour: 'colour' is not an attribute of roads" in text
    assert "layers.yaml, column layers.post_offices.set.kind: 'kiosk' is not a kind value" in text


def test_values_for_a_field_the_file_lacks(tmp_path):
    layers = tiny_layers()
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"],
                                           "post_offices": layers["post_offices"].drop(columns=["name"])})
    (folder / "layers.yaml").write_text("layers:\n  post_offices:\n    values: {name: {a: b}}\n", encoding="utf-8")
    with pytest.raises(LayerError) as exc:
        load(folder)
    assert any("values are given for name but post_offices.shp has no name field" in str(p)
               for p in exc.value.problems)


def test_codes_without_leading_zero_are_repaired_with_a_warning(tmp_path):
    layers = tiny_layers()
    villages = layers["villages"].assign(commune=layers["villages"]["commune"].astype(int))
    communes = layers["communes"].assign(code=layers["communes"]["code"].astype(int))
    folder = write_layers(tmp_path / "d", {"communes": communes, "villages": villages})
    ds, notes = load(folder)
    assert ds["communes"]["code"].tolist() == ["03124", "03127", "03316", "03325"]
    assert ds["villages"]["commune"].tolist() == tiny_layers()["villages"]["commune"].tolist()
    assert any(n.startswith("communes.shp: 4 code values had lost their leading zeros") and "3124 → 03124" in n
               for n in notes)
    assert any(n.startswith("villages.shp: 10 commune values had lost their leading zeros") for n in notes)


def test_long_codes_are_not_padded(tmp_path):
    layers = tiny_layers()
    communes = layers["communes"].assign(code=["3020101", "3020102", "3020103", "3020104"])
    folder = write_layers(tmp_path / "d", {"communes": communes})
    ds, notes = load(folder)
    assert ds["communes"]["code"].tolist() == ["3020101", "3020102", "3020103", "3020104"]
    assert not any("leading zeros" in n for n in notes)


def test_villages_without_id_get_commune_code_and_number(tmp_path):
    layers = tiny_layers()
    villages = layers["villages"].drop(columns=["id"])
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"], "villages": villages})
    ds, notes = load(folder)
    assert ds["villages"]["id"].tolist() == ["03124-1", "03124-2", "03124-3", "03127-1", "03127-2", "03127-3",
                                             "03316-1", "03316-2", "03325-1", "03325-2"]
    assert any("10 villages have no id" in n for n in notes)


def test_some_villages_without_id_never_collide_with_given_ids(tmp_path):
    layers = tiny_layers()
    villages = layers["villages"].copy()
    villages["id"] = ["03124-1", None, None, "", "V5", "V6", "V7", "V8", "V9", "V10"]
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"], "villages": villages},
                          suffix=".geojson")
    ds, _ = load(folder)
    assert ds["villages"]["id"].tolist()[:4] == ["03124-1", "03124-2", "03124-3", "03127-1"]


def test_a_village_without_id_nor_commune_is_still_an_error(tmp_path):
    layers = tiny_layers()
    villages = layers["villages"].copy()
    villages["id"] = [None] + [f"V{i}" for i in range(2, 11)]
    villages["commune"] = [None] + villages["commune"].tolist()[1:]
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"], "villages": villages},
                          suffix=".geojson")
    with pytest.raises(LayerError) as exc:
        load(folder)
    text = [str(p) for p in exc.value.problems]
    assert "villages.geojson row 1, column commune: missing value" in text
