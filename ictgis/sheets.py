"""Spreadsheet-safe tables: text from the data is written as text, never as a formula (CSV and XLSX).

Names in uploaded layers (a commune called ``=HYPERLINK("http://…","…")``, a village called ``@SUM(1)``) must not
become live formulas when a planner opens an export in Excel or LibreOffice. One rule for every writer:

- XLSX: every text cell is stored with the string data type (openpyxl otherwise turns a text starting with ``=``
  into a formula); characters XLSX cannot hold (control characters) are dropped. Numbers stay numbers.
- CSV (OWASP "CSV injection"): a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets
  a leading ``'``, and every text cell is quoted (so a spreadsheet using ``;`` as separator cannot split a cell into
  a formula). Only text is touched: the number −5 stays −5; the text "-5" becomes "'-5".

Example::

    >>> safe_text("@SUM(1)")
    "'@SUM(1)"
    >>> safe_text(-5)
    -5
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
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
    from openpyxl import Workbook
    from openpyxl.styles import Font

    frame = frame.drop(columns="geometry") if "geometry" in frame.columns else frame
    if index:
        frame = frame.reset_index()
    wb = Workbook()
    ws = wb.active
    ws.title = sheet_name[:31]
    append_row(ws, [str(c) for c in frame.columns])
    for row in frame.itertuples(index=False):
        append_row(ws, row)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    wb.save(path)
    return Path(path)
