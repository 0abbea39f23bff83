"""Tables as Excel saves them: CSV encodings and separators, XLSX sheets, tables joined by code (ictgis.tables)."""

from __future__ import annotations

import warnings

import openpyxl
import pandas as pd
import pytest
from conftest import tiny_layers, write_layers

from ictgis import LayerError, RepairWarning, io, tables
from ictgis.crs import to_crs
from ictgis.encoding import encode_cp1258, encode_tcvn3

NAMES = ["Bưu cục cấp I Điện Biên Phủ", "Điểm BĐVHX Nà Tấu", "Hộp thư Mường Phăng"]
KINDS_VI = ["Bưu cục cấp I", "Điểm BĐVHX", "Hộp thư"]


def post_rows(*, decimal_comma: bool = False) -> list[list[str]]:
    """Header and rows of the tiny post offices with lon/lat (Vietnamese names and kinds)."""
    posts = to_crs(tiny_layers()["post_offices"], 4326)
    rows = [["id", "name", "kind", "lon", "lat"]]
    for i, (pid, geom) in enumerate(zip(posts["id"], posts.geometry, strict=True)):
        lon, lat = f"{geom.x:.7f}", f"{geom.y:.7f}"
        if decimal_comma:
            lon, lat = lon.replace(".", ","), lat.replace(".", ",")
        rows.append([pid, NAMES[i], KINDS_VI[i], lon, lat])
    return rows


def csv_text(rows: list[list[str]], sep: str = ",") -> str:
    return "\r\n".join(sep.join(f'"{c}"' if sep in c else c for c in row) for row in rows) + "\r\n"


def folder_with(tmp_path, name: str, data: bytes, *, mapping: str | None = None):
    folder = write_layers(tmp_path / "d", {"communes": tiny_layers()["communes"]})
    (folder / name).write_bytes(data)
    if mapping:
        (folder / "layers.yaml").write_text(mapping, encoding="utf-8")
    return folder


def load(folder, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = io.load(folder, **kw)
    return ds, [str(w.message) for w in caught if issubclass(w.category, RepairWarning)]


def check_posts(ds) -> None:
    posts = ds["post_offices"]
    assert posts["name"].tolist() == NAMES
    assert posts["kind"].tolist() == ["cap1", "bdvhx", "letterbox"]
    original = tiny_layers()["post_offices"]
    assert posts.geometry.distance(original.geometry).max() < 0.05


def test_real_cp1258_bytes_are_read_as_windows_ansi(tmp_path):
    data = encode_cp1258(csv_text(post_rows()))
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    ds, notes = load(folder_with(tmp_path, "post_offices.csv", data))
    check_posts(ds)
    assert any("Windows-1258" in n for n in notes)


def test_utf16_tab_separated_as_excel_unicode_text(tmp_path):
    data = csv_text(post_rows(), sep="\t").encode("utf-16")  # with its BOM, as Excel writes it
    ds, _ = load(folder_with(tmp_path, "post_offices.csv", data))
    check_posts(ds)


def test_semicolons_and_decimal_commas(tmp_path):
    data = csv_text(post_rows(decimal_comma=True), sep=";").encode("utf-8")
    ds, _ = load(folder_with(tmp_path, "post_offices.csv", data))
    check_posts(ds)


def test_decimal_commas_and_thousands_dots_in_numbers(tmp_path):
    villages = to_crs(tiny_layers()["villages"], 4326)
    rows = [["id", "name", "commune", "population", "households", "lon", "lat"]]
    for _, v in villages.iterrows():
        rows.append([v["id"], v["name"], v["commune"], f"{v['population']:,}".replace(",", "."),
                     str(v["households"]), f"{v.geometry.x:.7f}".replace(".", ","),
                     f"{v.geometry.y:.7f}".replace(".", ",")])
    data = ("sep=;\r\n" + csv_text(rows, sep=";")).encode("utf-8")
    ds, _ = load(folder_with(tmp_path, "villages.csv", data))
    assert ds["villages"]["population"].tolist() == tiny_layers()["villages"]["population"].tolist()


def test_utf8_with_bom_keeps_the_first_column_name(tmp_path):
    data = csv_text(post_rows()).encode("utf-8-sig")
    assert data.startswith(b"\xef\xbb\xbfid,")
    ds, notes = load(folder_with(tmp_path, "post_offices.csv", data))
    check_posts(ds)
    assert ds["post_offices"]["id"].tolist() == ["P1", "P2", "P3"]
    assert not any("UTF-8" in n for n in notes)


def test_encoding_in_layers_yaml_is_honoured_for_csv(tmp_path):
    data = encode_tcvn3(csv_text(post_rows()), lowercase_fallback=True)
    mapping = "layers:\n  post_offices:\n    file: post_offices.csv\n    encoding: tcvn3\n"
    ds, _ = load(folder_with(tmp_path, "post_offices.csv", data, mapping=mapping))
    assert ds["post_offices"]["name"].tolist()[1] == "Điểm BĐVHX Nà Tấu"


def test_a_folder_wide_legacy_encoding_leaves_utf8_csv_alone(tmp_path):
    mapping = "encoding: tcvn3\n"
    ds, _ = load(folder_with(tmp_path, "post_offices.csv", csv_text(post_rows()).encode("utf-8-sig"), mapping=mapping))
    check_posts(ds)


def test_text_that_cannot_be_decoded_says_save_as_csv_utf8(tmp_path):
    data = encode_cp1258(csv_text(post_rows()))
    mapping = "encoding: utf-8\n"
    with pytest.raises(LayerError) as exc:
        load(folder_with(tmp_path, "post_offices.csv", data, mapping=mapping))
    text = "\n".join(str(p) for p in exc.value.problems)
    assert "post_offices.csv" in text
    assert "CSV UTF-8" in text and "hãy mở bằng Excel" in text and "save it as" in text


def test_unknown_encoding_in_layers_yaml_is_an_error(tmp_path):
    mapping = "layers:\n  post_offices:\n    file: post_offices.csv\n    encoding: ebcdic\n"
    with pytest.raises(LayerError) as exc:
        load(folder_with(tmp_path, "post_offices.csv", csv_text(post_rows()).encode(), mapping=mapping))
    assert any("unknown encoding 'ebcdic'" in str(p) for p in exc.value.problems)


def test_letters_lost_by_ansi_save_are_reported(tmp_path):
    rows = post_rows()
    for row, kind in zip(rows[1:], ["cap1", "bdvhx", "letterbox"], strict=True):
        row[2] = kind
    data = csv_text(rows).encode("ascii", errors="replace")  # what "CSV (Comma delimited)" does off Vietnamese Windows
    assert b"B?u c?c c?p I" in data
    ds, notes = load(folder_with(tmp_path, "post_offices.csv", data))
    assert ds["post_offices"]["name"].tolist()[0] == "B?u c?c c?p I ?i?n Bi?n Ph?"
    assert any("3 cells have '?' in place of letters" in n and "CSV UTF-8" in n for n in notes)


def write_xlsx(path, rows, *, title: str | None = None, sheet: str = "Sheet1") -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    if title:
        ws.append([title])
        ws.append([])
    for row in rows:
        ws.append(row)
    book.save(path)


def test_xlsx_with_lon_lat_numbers_and_a_title_row(tmp_path):
    rows = post_rows()
    rows = [rows[0] + ["commune"]] + [[*r[:3], float(r[3]), float(r[4]), int(c)]
                                      for r, c in zip(rows[1:], ["03124", "03316", "03127"], strict=True)]
    folder = write_layers(tmp_path / "d", {"communes": tiny_layers()["communes"]})
    write_xlsx(folder / "post_offices.xlsx", rows, title="DANH SÁCH ĐIỂM PHỤC VỤ BƯU CHÍNH")
    ds, notes = load(folder)
    check_posts(ds)
    assert ds["post_offices"]["commune"].tolist() == ["03124", "03316", "03127"]
    assert any("lost their leading zeros" in n and "3124 → 03124" in n for n in notes)


def test_xlsx_sheet_named_in_layers_yaml(tmp_path):
    folder = write_layers(tmp_path / "d", {"communes": tiny_layers()["communes"]})
    book = openpyxl.Workbook()
    book.active.append(["nothing", "here"])
    ws = book.create_sheet("Bưu cục")
    for row in post_rows():
        ws.append(row)
    book.save(folder / "ds.xlsx")
    (folder / "layers.yaml").write_text("layers:\n  post_offices: {file: ds.xlsx, layer: Bưu cục}\n",
                                        encoding="utf-8")
    ds, _ = load(folder)
    check_posts(ds)


def test_xlsx_joined_by_code_onto_the_commune_polygons(tmp_path):
    communes = tiny_layers()["communes"].drop(columns=["population", "households"])
    folder = write_layers(tmp_path / "d", {"communes": communes})
    write_xlsx(folder / "dan_so.xlsx", [["STT", "Mã xã", "Tên xã", "Dân số 2024"],
                                        [1, 3124, "Noong Bua", 9100], [2, 3127, "Him Lam", 7100],
                                        [3, 3316, "Nà Tấu", 4100], [4, 3325, "Mường Phăng", 3100]])
    (folder / "layers.yaml").write_text(
        "layers:\n  communes:\n    join: {file: dan_so.xlsx, fields: {code: Mã xã, population: Dân số 2024}}\n",
        encoding="utf-8")
    ds, notes = load(folder)
    assert ds["communes"]["population"].tolist() == [9100, 7100, 4100, 3100]
    assert ds["communes"]["name"].tolist()[2] == "Nà Tấu"  # the layer's names, not the table's
    assert any("dan_so.xlsx: 4 code values had lost their leading zeros" in n for n in notes)


def test_joined_table_rows_that_match_nothing_are_errors(tmp_path):
    communes = tiny_layers()["communes"].drop(columns=["population"])
    folder = write_layers(tmp_path / "d", {"communes": communes})
    (folder / "dan_so.csv").write_text("MA_XA,DAN_SO\n03124,9100\n03127,7100\n03316,4100\n03999,1\n03124,5\n",
                                       encoding="utf-8")
    (folder / "layers.yaml").write_text("layers:\n  communes:\n    join: dan_so.csv\n", encoding="utf-8")
    with pytest.raises(LayerError) as exc:
        load(folder)
    text = [str(p) for p in exc.value.problems]
    assert "dan_so.csv row 4, column code: code '03999' matches no feature of communes.shp" in text
    assert "dan_so.csv row 5, column code: code '03124' is in the table twice" in text
    assert "communes.shp row 4 (id 03325), column population: missing value" in text


def test_old_xls_workbooks_ask_for_xlsx(tmp_path):
    with pytest.raises(LayerError) as exc:
        load(folder_with(tmp_path, "post_offices.xls", b"\xd0\xcf\x11\xe0"))
    assert any(".xlsx" in str(p) and "CSV UTF-8" in str(p) for p in exc.value.problems)


def test_a_table_without_coordinates_names_its_columns(tmp_path):
    with pytest.raises(LayerError) as exc:
        load(folder_with(tmp_path, "post_offices.csv", b"id,kind\nP1,cap1\n"))
    assert any("needs lon/lat or x/y columns" in str(p) and "join:" in str(p) for p in exc.value.problems)


@pytest.mark.parametrize(("text", "comma", "expected"), [
    ("21,385", False, "21.385"), ("21,385", True, "21.385"), ("12.500", True, "12500"),
    ("1.234.567,5", True, "1234567.5"), ("12.500", False, "12.500"), ("103.015", False, "103.015"),
    ("abc", True, "abc"),
])
def test_parse_decimal(text, comma, expected):
    assert tables.parse_decimal(text, decimal_comma=comma) == expected


def test_normalize_encoding_names():
    assert [tables.normalize_encoding(n) for n in ("ANSI", "Windows-1258", "UTF8", "utf-16", "TCVN3", "x")] == \
        ["cp1258", "cp1258", "utf-8", "utf-16", "tcvn3", None]


def test_read_table_keeps_code_digits_as_text(tmp_path):
    from ictgis._validate import Collector

    path = tmp_path / "t.xlsx"
    write_xlsx(path, [["code", "value"], [3160, 2.5], ["03160", None]])
    table = tables.read_table(path, collector=Collector(), label="t.xlsx")
    assert table.frame.to_dict("list") == {"code": ["3160", "03160"], "value": ["2.5", ""]}
    assert isinstance(table.frame, pd.DataFrame)
