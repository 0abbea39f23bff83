"""Spreadsheet-safe tables: text from the data is written as text, never as a formula (CSV and XLSX).

Names in uploaded layers (a commune called ``=HYPERLINK("http://…","…")``, a village called ``@SUM(1)``) must not
become live formulas when a planner opens an export in Excel or LibreOffice. One rule for every writer:

- XLSX: every text cell is stored with the string data type (openpyxl otherwise turns a text starting with ``=``
  into a formula); characters XLSX cannot hold (control characters) are dropped. Numbers stay numbers.
- CSV (OWASP "CSV injection"): a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets
  a leading ``'``, and every text cell is quoted (so a spreadsheet using ``;`` as separator cannot split a cell into
  a formula). Only text is touched: the number −5 stays −5; the text "-5" becomes "'-5".

Every XLSX of ictgis is written by `write_workbook`: sheets (`Sheet`) of tables under a bold header, with number
formats, column widths, frozen panes and filters; `write_xlsx` writes one table. Labels of the headers come from
`ictgis.labels`.

Example::

    >>> safe_text("@SUM(1)")
    "'@SUM(1)"
    >>> safe_text(-5)
    -5
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: First characters that make a spreadsheet read a CSV cell as a formula (OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: Any) -> Any:
    """Return `value` for a CSV cell: text that a spreadsheet would run as a formula gets a leading ``'``.

    Parameters
    ----------
    value
        Any cell value; only ``str`` values are changed.

    Returns
    -------
    object
        The value, or the text prefixed with ``'``.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _is_text_column(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
                or pd.api.types.is_datetime64_any_dtype(series))


def _whole_numbers(series: pd.Series) -> bool:
    """Tell whether a column of objects holds only whole numbers and blanks (counts beside a blank total row)."""
    values = series.dropna()
    return series.dtype == object and len(values) > 0 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values)


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of `frame` whose text cells, column names and index labels pass through `safe_text`.

    Columns of whole numbers with blanks are written as whole numbers (``16``, not ``16.0``).
    """
    out = frame.copy()
    for col in out.columns:
        if _whole_numbers(out[col]):
            out[col] = out[col].astype("Int64")
        elif _is_text_column(out[col]):
            out[col] = out[col].map(safe_text, na_action="ignore")
    out.columns = out.columns.map(safe_text) if not isinstance(out.columns, pd.MultiIndex) else out.columns
    if not isinstance(out.index, pd.MultiIndex) and _is_text_column(out.index.to_series()):
        out.index = out.index.map(safe_text)
    return out


def write_csv(frame: pd.DataFrame, path: str | Path, *, index: bool = False, encoding: str = "utf-8") -> Path:
    """Write `frame` as CSV with spreadsheet-safe text cells (see the module docstring).

    Parameters
    ----------
    frame
        The table; it is not modified.
    path
        Output file (written as it is: wrap the call in `ictgis._files.atomic_path` for an atomic write).
    index
        Also write the index (as the first column).
    encoding
        Text encoding (``"utf-8-sig"`` for Excel on Windows).

    Returns
    -------
    pathlib.Path
    """
    frame = frame.drop(columns="geometry") if "geometry" in frame.columns else frame
    safe_frame(frame).to_csv(path, index=index, encoding=encoding, quoting=csv.QUOTE_NONNUMERIC)
    return Path(path)


def xlsx_value(value: Any) -> Any:
    """Return `value` as openpyxl can store it: numpy scalars as Python numbers, NA as empty, text cleaned.

    Text keeps its characters except those XLSX cannot hold (control characters), which are dropped.
    """
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return None
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict)):
        value = value.item()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def append_row(sheet, values: Iterable[Any]) -> None:
    """Append a row of values to an openpyxl worksheet, every text cell stored as text (never a formula).

    Parameters
    ----------
    sheet
        An openpyxl ``Worksheet``.
    values
        Cell values (numbers, text, None …).
    """
    sheet.append([xlsx_value(v) for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


@dataclass(frozen=True)
class Cell:
    """A cell value with its own number format (for a cell whose format differs from its column's)."""

    value: Any
    number_format: str | None = None


@dataclass(frozen=True)
class Sheet:
    """One sheet of a workbook: a table under a bold header row, as every XLSX of ictgis writes it.

    Parameters
    ----------
    name
        Sheet name (cut to the 31 characters XLSX allows).
    header
        Column headers (Vietnamese), written bold; empty: no header row.
    rows
        Data rows; a value may be a `Cell` to give it its own number format.
    title
        A line written above the header (e.g. the scenario's name), not bold.
    formats
        Number format of a column's data cells, by header (e.g. ``{"Số hộ": "#,##0"}``).
    widths
        ``(min, max)``: each column as wide as its longest text (+2, the first `WIDTH_SAMPLE_ROWS` rows), within
        these bounds; None: the spreadsheet's default widths (or `column_widths`).
    column_widths
        Fixed widths from the first column on.
    wrap_header
        Wrap the header texts (tall header row, aligned at the top); a wrapped header counts half its length in
        the column width.
    freeze
        Top-left cell of the scrolling part (``"A2"``: the header stays in view), or None.
    autofilter
        Filter buttons on the header.
    """

    name: str
    header: Sequence[str] = ()
    rows: Sequence[Sequence[Any]] = ()
    title: str | None = None
    formats: Mapping[str, str] = field(default_factory=dict)
    widths: tuple[int, int] | None = None
    column_widths: Sequence[float] = ()
    wrap_header: bool = False
    freeze: str | None = "A2"
    autofilter: bool = False


#: Rows read to size a column (`Sheet.widths`).
WIDTH_SAMPLE_ROWS = 200
#: Height of a wrapped header row, in points (three lines).
WRAPPED_HEADER_HEIGHT = 45


def frame_sheet(frame: pd.DataFrame, name: str, *, index: bool = False, **options: Any) -> Sheet:
    """Return a `Sheet` of a table: its column names as header, one row per record (a geometry column left out).

    Parameters
    ----------
    frame
        The table; its column names are the headers (rename them to Vietnamese first).
    name
        Sheet name.
    index
        Also write the index as the first column (its name as header).
    **options
        Other `Sheet` fields (``formats``, ``widths``, ``freeze`` …).
    """
    frame = frame.drop(columns="geometry") if "geometry" in frame.columns else frame
    if index:
        frame = frame.reset_index()
    return Sheet(name, header=[str(c) for c in frame.columns], rows=list(frame.itertuples(index=False)), **options)


def write_workbook(path: str | Path, sheets: Sequence[Sheet]) -> Path:
    """Write sheets of tables to an XLSX file, every text cell stored as text (never a formula).

    This is the one XLSX writer of ictgis: every workbook goes through it.

    Parameters
    ----------
    path
        Output file (written as it is: wrap the call in `ictgis._files.atomic_path` for an atomic write).
    sheets
        The sheets, in order.

    Returns
    -------
    pathlib.Path
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    for spec in sheets:
        ws = wb.create_sheet(spec.name[:31])
        if spec.title is not None:
            append_row(ws, [spec.title])
        header_row = (2 if spec.title is not None else 1) if spec.header else None
        if spec.header:
            append_row(ws, spec.header)
        first = 1 + (spec.title is not None) + bool(spec.header)  # first data row
        formats: dict[tuple[int, int], str] = {}
        for i, row in enumerate(spec.rows):
            values = list(row)
            for j, v in enumerate(values):
                if isinstance(v, Cell):
                    if v.number_format:
                        formats[first + i, j + 1] = v.number_format
                    values[j] = v.value
            append_row(ws, values)
        last = first + len(spec.rows) - 1
        for j, col in enumerate(spec.header, start=1):
            if col in spec.formats:
                for r in range(first, last + 1):
                    ws.cell(row=r, column=j).number_format = spec.formats[col]
        for (r, j), fmt in formats.items():
            ws.cell(row=r, column=j).number_format = fmt
        if header_row is not None:
            for cell in ws[header_row]:
                cell.font = Font(bold=True)
                if spec.wrap_header:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
            if spec.wrap_header:
                ws.row_dimensions[header_row].height = WRAPPED_HEADER_HEIGHT
        if spec.widths is not None:
            low, high = spec.widths
            for column in ws.iter_cols(max_row=min(ws.max_row, first + WIDTH_SAMPLE_ROWS - 1)):
                width = max(_text_width(c.value, halve=spec.wrap_header and c.row == header_row) for c in column)
                ws.column_dimensions[get_column_letter(column[0].column)].width = min(high, max(low, width))
        for j, fixed in enumerate(spec.column_widths, start=1):
            ws.column_dimensions[get_column_letter(j)].width = fixed
        if spec.freeze:
            ws.freeze_panes = spec.freeze
        if spec.autofilter:
            ws.auto_filter.ref = ws.dimensions
    wb.save(path)
    return Path(path)


def _text_width(value: Any, *, halve: bool) -> int:
    if value is None:
        return 0
    n = len(str(value))
    return n // 2 + 2 if halve else n + 2


def write_xlsx(frame: pd.DataFrame, path: str | Path, *, sheet_name: str, index: bool = False) -> Path:
    """Write one table to an XLSX file (bold header, frozen first row), text cells as text.

    Parameters
    ----------
    frame
        The table (a geometry column is left out).
    path
        Output file (written as it is: wrap the call in `ictgis._files.atomic_path` for an atomic write).
    sheet_name
        Name of the sheet.
    index
        Also write the index as the first column (its name as header).

    Returns
    -------
    pathlib.Path
    """
    return write_workbook(path, [frame_sheet(frame, sheet_name, index=index)])
