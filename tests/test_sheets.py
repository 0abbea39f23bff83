"""Spreadsheet exports never turn names from the data into formulas (OWASP CSV injection), numbers stay numbers."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import tiny_layers, write_layers

from ictgis import scenario, sheets
from ictgis.cli import main

LINK = '=HYPERLINK("http://x","y")'
SUM = "@SUM(1)"


def run(*args) -> None:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture()
def evil_dir(tmp_path: Path) -> Path:
    """The tiny province with formula-looking names: communes 1–2, and villages V06, V08 (without fiber)."""
    layers = tiny_layers()
    layers["communes"].loc[0, "name"] = LINK
    layers["communes"].loc[1, "name"] = SUM
    layers["villages"].loc[5, "name"] = LINK  # V06
    layers["villages"].loc[7, "name"] = SUM  # V08
    return write_layers(tmp_path / "evil", layers)


def cells(path: Path) -> dict[object, list[str]]:
    """Every non-empty cell of a workbook: value → its data types."""
    found: dict[object, list[str]] = {}
    for ws in openpyxl.load_workbook(path).worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None:
                    found.setdefault(c.value, []).append(c.data_type)
    return found


def assert_text_cells(path: Path, *texts: str) -> dict[object, list[str]]:
    found = cells(path)
    for text in texts:
        assert text in found, (text, path.name)
        assert set(found[text]) == {"s"}, (text, found[text])
    assert "f" not in {t for types in found.values() for t in types}
    return found


def csv_cells(path: Path, encoding: str = "utf-8") -> list[str]:
    with path.open(encoding=encoding, newline="") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def test_safe_text_only_touches_text():
    assert sheets.safe_text(LINK) == "'" + LINK
    for text in ("+1", "-5", "@x", "\tx", "\rx"):
        assert sheets.safe_text(text) == "'" + text
    assert sheets.safe_text("Bản Him") == "Bản Him"
    assert sheets.safe_text(-5) == -5 and sheets.safe_text(-2.5) == -2.5 and sheets.safe_text(None) is None


def test_csv_prefixes_text_quotes_it_and_keeps_numbers(tmp_path):
    frame = pd.DataFrame({"name": [LINK, "Bản Him", None], "change": [-3.5, 2.0, float("nan")],
                          "count": [-1, 2, 3]}, index=pd.Index(["=a", "b", "c"], name="code"))
    path = sheets.write_csv(frame, tmp_path / "t.csv", index=True)
    raw = path.read_text(encoding="utf-8")
    assert '"\'=HYPERLINK(""http://x"",""y"")"' in raw  # prefixed and quoted
    assert ",-3.5," in raw and ",-1\n" in raw.replace("\r\n", "\n")  # numbers unquoted, unprefixed
    back = pd.read_csv(path)
    assert back["code"].tolist() == ["'=a", "b", "c"]
    assert back["change"].tolist()[:2] == [-3.5, 2.0] and back["count"].tolist() == [-1, 2, 3]
    assert frame.loc["=a", "name"] == LINK  # the input is not modified


def test_xlsx_text_is_text_numbers_are_numbers(tmp_path):
    frame = pd.DataFrame({"name": [LINK, SUM, "bad\x01char"], "value": [-1.5, 2, 3]})
    path = sheets.write_xlsx(frame, tmp_path / "t.xlsx", sheet_name="Bảng")
    found = assert_text_cells(path, LINK, SUM, "badchar")
    assert found[-1.5] == ["n"]


def test_workbook_sheets_keep_their_layout(tmp_path):
    """The one writer: title, bold (wrapped) header, column and cell number formats, widths, frozen panes, filter."""
    ranked = sheets.Sheet("Xếp hạng — một tên dài hơn ba mươi mốt ký tự", header=["Tên", "Chi phí (đồng)"],
                          rows=[[LINK, 1_234_567.0], ["Bản Mển", None]], formats={"Chi phí (đồng)": "#,##0"},
                          widths=(8, 45), wrap_header=True, freeze="B2", autofilter=True)
    summary = sheets.Sheet("Tóm tắt", title="Kịch bản: thử", header=["Chỉ tiêu", "Sau"],
                           rows=[["Chiều dài (km)", sheets.Cell(12.5, "#,##0.0")], ["Số trạm", 1500]],
                           column_widths=(45, 22), freeze=None)
    path = sheets.write_workbook(tmp_path / "w.xlsx", [ranked, summary])
    assert_text_cells(path, LINK)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Xếp hạng — một tên dài hơn ba m", "Tóm tắt"]
    ws, ts = wb.worksheets
    assert [c.value for c in ws[1]] == ["Tên", "Chi phí (đồng)"] and all(c.font.b and c.alignment.wrap_text
                                                                          for c in ws[1])
    assert ws.row_dimensions[1].height == sheets.WRAPPED_HEADER_HEIGHT
    assert ws["B2"].value == 1_234_567 and ws["B2"].number_format == ws["B3"].number_format == "#,##0"
    assert ws["A2"].number_format == "General"
    assert ws.column_dimensions["A"].width == len(LINK) + 2
    assert ws.column_dimensions["B"].width == len("1234567.0") + 2  # the wrapped header counts half: 14 // 2 + 2
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref == "A1:B3"
    assert ts["A1"].value == "Kịch bản: thử" and not ts["A1"].font.b and ts["A2"].font.b and not ts["A3"].font.b
    assert ts["B3"].number_format == "#,##0.0" and ts["B4"].number_format == "General"
    assert ts.column_dimensions["A"].width == 45 and ts.column_dimensions["B"].width == 22
    assert ts.freeze_panes is None and ts.auto_filter.ref is None


def test_one_xlsx_writer():
    """Every XLSX is written by ictgis.sheets.write_workbook: no other module builds a workbook."""
    root = Path(__file__).resolve().parents[1]
    writers = [p.relative_to(root).as_posix() for d in ("ictgis", "web") for p in (root / d).rglob("*.py")
               if any(w in p.read_text(encoding="utf-8") for w in ("Workbook(", "import Workbook", "to_excel("))]
    assert writers == ["ictgis/sheets.py"]


def test_indicators_xlsx(evil_dir, tmp_path):
    xlsx = tmp_path / "chi_tieu.xlsx"
    run("indicators", evil_dir, "--xlsx", xlsx)
    found = assert_text_cells(xlsx, LINK, SUM)
    assert set(found[9000]) == {"n"}  # the population of the first commune


def test_postal_csv_and_xlsx(evil_dir, tmp_path):
    out = tmp_path / "postal"
    run("postal", evil_dir, "--out", out, "--threshold-km", "0")
    communes = csv_cells(out / "postal_communes.csv")
    villages = csv_cells(out / "postal_villages.csv")
    assert "'" + LINK in communes and "'" + SUM in communes and LINK not in communes
    assert "'" + LINK in villages and "'" + SUM in villages and SUM not in villages
    assert_text_cells(out / "postal_villages.xlsx", LINK, SUM)


def test_fiber_csv_and_xlsx(evil_dir, tmp_path):
    out = tmp_path / "fiber"
    run("fiber", evil_dir, "--out", out, "--no-coverage")
    ranked = csv_cells(out / "villages_ranked.csv", encoding="utf-8-sig")
    assert "'" + LINK in ranked and "'" + SUM in ranked and LINK not in ranked
    found = assert_text_cells(out / "villages_ranked.xlsx", LINK, SUM)
    assert set(found[600]) == {"n"}  # the households of V06 stay a number


def test_scenario_outputs_and_compare(tiny_dir, tmp_path):
    text = (f"name: '{SUM}'\nbase: {tiny_dir.as_posix()}\ninterventions:\n"
            f"  - type: project\n    name: '{LINK}'\n    capex_vnd: 1000000\n")
    path = tmp_path / "evil.yaml"
    path.write_text(text, encoding="utf-8")
    scenario.run(path, tmp_path / "r1")
    costs = csv_cells(tmp_path / "r1" / "costs.csv")
    assert "'" + LINK in costs and LINK not in costs
    found = assert_text_cells(tmp_path / "r1" / "scenario.xlsx", LINK)
    assert set(found[1000000]) == {"n"}  # capex and NPV of the project and of the total
    run("scenario", "compare", tmp_path / "r1", "--csv", tmp_path / "c.csv", "--xlsx", tmp_path / "c.xlsx")
    assert "'" + SUM in csv_cells(tmp_path / "c.csv")
    assert_text_cells(tmp_path / "c.xlsx", SUM)


def test_csv_counts_beside_a_blank_total_stay_whole_numbers(tmp_path):
    """A cost table's quantity column (counts, blank on the TOTAL row) is written 16, not 16.0."""
    frame = pd.DataFrame({"item": ["solar", "=cmd", "TOTAL"], "quantity": pd.Series([16, 85, None], dtype=object),
                          "capex_vnd": [1.5, 2.0, 3.5]})
    text = sheets.write_csv(frame, tmp_path / "costs.csv").read_text(encoding="utf-8").splitlines()
    assert text[1] == '"solar",16,1.5' and text[2] == '"\'=cmd",85,2.0' and text[3] == '"TOTAL","",3.5'
