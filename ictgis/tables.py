"""Read tables as Excel saves them: CSV in any of its encodings and separators, and XLSX sheets.

A department's lists usually live in Excel. Excel writes CSV in several ways, all accepted here:

- "CSV UTF-8 (Comma delimited)": UTF-8 with a byte-order mark;
- "CSV (Comma delimited)": the Windows "ANSI" code page, Windows-1258 on Vietnamese Windows, with ``;`` as the
  separator and decimal commas (``21,385``) when the region uses them (Vietnam does), and sometimes a first line
  ``sep=;``;
- "Unicode Text": UTF-16 with a byte-order mark, tab-separated.

The encoding is taken from the byte-order mark, else UTF-8 when the bytes are valid UTF-8, else the legacy
Vietnamese encoding the text spells best in (`ictgis.encoding.detect`), else Windows-1258. An ``encoding:`` in
layers.yaml overrides the guess (a legacy one only for text that is not UTF: the folder-wide ``encoding: tcvn3``
of old DBFs leaves a "CSV UTF-8" alone).

XLSX sheets are read with openpyxl (the first sheet, or the one named); the header is the first row that fills at
least half as many cells as the fullest of the first rows (title rows above it are skipped). Every cell comes back
as text (``""`` when empty); numbers keep their digits (``3160``, ``21.385``).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io as _io
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ._validate import Collector
from .crs import parse_crs
from .layers import fold

logger = logging.getLogger(__name__)

__all__ = ["CSV_ENCODINGS", "TABLE_SUFFIXES", "Table", "normalize_encoding", "parse_decimal", "points_from_table",
           "read_table"]

TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls")
CSV_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1258", "tcvn3", "vni", "latin1")
_ENCODING_ALIASES = {"utf8": "utf-8", "utf8sig": "utf-8-sig", "utf16": "utf-16", "utf16le": "utf-16",
                     "unicode": "utf-16", "ansi": "cp1258", "windows1258": "cp1258", "cp1258": "cp1258",
                     "tcvn3": "tcvn3", "tcvn": "tcvn3", "abc": "tcvn3", "vni": "vni", "vniwindows": "vni",
                     "latin1": "latin1", "iso88591": "latin1", "utf8bom": "utf-8-sig"}
SAVE_AS_UTF8 = ("không đọc được bảng mã của tệp: hãy mở bằng Excel và lưu lại dạng \"CSV UTF-8 (Comma delimited)\" / "
                "cannot decode the text: open it in Excel and save it as \"CSV UTF-8 (Comma delimited)\"")
_LOST_LETTER = re.compile(r"[^\W\d_]\?[^\W\d_]|\?[^\W\d_]{2}|[^\W\d_]{2}\?")
_THOUSANDS_DOT = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$")
_COMMA_DECIMAL = re.compile(r"^[+-]?\d+,\d+$")


@dataclass
class Table:
    """A table read from CSV or XLSX: text cells and how they were read.

    Attributes
    ----------
    frame
        Cells as text (``""`` for empty), columns named by the header.
    encoding
        Text encoding used for a CSV (``"utf-8"``, ``"utf-16"``, ``"cp1258"`` …), ``"xlsx"`` for a sheet.
    separator
        Column separator of a CSV, None for a sheet.
    decimal_comma
        True when numbers may use a decimal comma and dots as thousands separators (``;``-separated CSV).
    """

    frame: pd.DataFrame
    encoding: str
    separator: str | None = None
    decimal_comma: bool = False


def normalize_encoding(name: object) -> str | None:
    """Return the canonical name of a text encoding given in layers.yaml, or None when unknown.

    Examples
    --------
    >>> normalize_encoding("Windows-1258"), normalize_encoding("UTF8"), normalize_encoding("ANSI")
    ('cp1258', 'utf-8', 'cp1258')
    """
    key = re.sub(r"[\s_-]", "", str(name).lower())
    return _ENCODING_ALIASES.get(key)


def parse_decimal(text: str, *, decimal_comma: bool) -> str:
    """Rewrite a number written with a decimal comma (and dots between thousands) with a decimal point.

    Only whole-cell numbers are rewritten; other text is returned unchanged.

    Examples
    --------
    >>> parse_decimal("21,385", decimal_comma=True), parse_decimal("12.500", decimal_comma=True)
    ('21.385', '12500')
    >>> parse_decimal("12.500", decimal_comma=False)
    '12.500'
    """
    value = text.strip()
    if _COMMA_DECIMAL.match(value):
        return value.replace(",", ".")
    if decimal_comma and _THOUSANDS_DOT.match(value):
        return value.replace(".", "").replace(",", ".")
    return text


def read_table(path: Path, *, encoding: str | None = None, sheet: str | None = None, collector: Collector,
               label: str) -> Table | None:
    """Read a CSV or XLSX table as text cells.

    Parameters
    ----------
    path
        A ``.csv`` (``.txt``, ``.tsv``) or ``.xlsx`` (``.xlsm``) file.
    encoding
        Text encoding of a CSV (see `CSV_ENCODINGS`); guessed when None.
    sheet
        Sheet of a workbook; the first one when None.
    collector
        Where problems and notes go.
    label
        File name used in messages.

    Returns
    -------
    Table or None
        None when the file cannot be read (the problem is in `collector`).
    """
    suffix = path.suffix.lower()
    if suffix == ".xls":
        collector.add(label, "an Excel 97-2003 workbook (.xls) cannot be read: save it as .xlsx or as "
                      "\"CSV UTF-8 (Comma delimited)\" / tệp .xls cũ: hãy lưu lại dạng .xlsx hoặc CSV UTF-8")
        return None
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, sheet=sheet, collector=collector, label=label)
    return _read_csv(path, encoding=encoding, collector=collector, label=label)


# ------------------------------------------------------------------------------------------------------ CSV
def _read_csv(path: Path, *, encoding: str | None, collector: Collector, label: str) -> Table | None:
    data = path.read_bytes()
    forced = normalize_encoding(encoding) if encoding else None
    if encoding and forced is None:
        collector.add(label, f"unknown encoding {encoding!r} (known: {', '.join(CSV_ENCODINGS)})", column="encoding")
        return None
    guessed = _guess_encoding(data)
    enc = forced or guessed
    if forced in _LEGACY and guessed not in _LEGACY and not data.isascii():
        # `encoding: tcvn3` in layers.yaml is usually meant for old DBFs: a CSV with a BOM or valid UTF-8 letters
        # (which legacy bytes practically never are) is read as what it is
        logger.info("%s: %s stated, but the text is %s", label, forced, guessed)
        enc = guessed
    try:
        text = _decode(data, enc)
    except (UnicodeDecodeError, ValueError) as exc:
        collector.add(label, f"{SAVE_AS_UTF8} ({enc}: {exc})")
        return None
    if enc not in ("utf-8", "utf-8-sig", "utf-16") and forced is None:
        collector.note(f"{label}: not UTF-8; text read as {_ENCODING_LABELS.get(enc, enc)} (to be sure, save it as "
                       "\"CSV UTF-8\" or state `encoding:` in layers.yaml)")
    text = text.removeprefix("\ufeff")
    lines = text.splitlines()
    sep_line = re.fullmatch(r"\s*sep=(.)\s*", lines[0]) if lines else None
    if sep_line:
        separator = sep_line.group(1)
        text = text.split("\n", 1)[1] if "\n" in text else ""
    else:
        separator = _sniff_separator(lines[0] if lines else "")
    try:
        frame = pd.read_csv(_io.StringIO(text), sep=separator, dtype=str, keep_default_na=False,
                            skipinitialspace=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        collector.add(label, f"cannot be read as a CSV table (separator {separator!r}): {exc}")
        return None
    header = next(csv.reader(_io.StringIO(text), delimiter=separator), [])
    names = [unicodedata.normalize("NFC", str(c)).strip() for c in header]
    twice = sorted({n for n in names if n and names.count(n) > 1})
    if twice:  # pandas would read them as NAME and NAME.1: which one is meant cannot be known
        collector.add(label, f"column {', '.join(repr(n) for n in twice)} appears more than once in the header: "
                      "keep one, or rename the others", column=twice[0])
        return None
    frame.columns = [unicodedata.normalize("NFC", str(c)).strip() for c in frame.columns]
    frame = frame.map(lambda v: unicodedata.normalize("NFC", v) if isinstance(v, str) else v)
    lost = int(frame.map(lambda v: bool(_LOST_LETTER.search(v)) if isinstance(v, str) else False).to_numpy().sum())
    if lost:
        collector.note(f"{label}: {lost} cells have '?' in place of letters: Excel lost the Vietnamese letters "
                       "when saving as \"CSV (Comma delimited)\"; save it as \"CSV UTF-8\" / Excel đã làm mất dấu "
                       "tiếng Việt: hãy lưu lại dạng CSV UTF-8")
    return Table(frame=frame, encoding=enc, separator=separator, decimal_comma=separator == ";")


_LEGACY = ("cp1258", "tcvn3", "vni", "latin1")
_ENCODING_LABELS = {"cp1258": "Windows-1258 (ANSI)", "tcvn3": "TCVN3 (ABC)", "vni": "VNI-Windows",
                    "latin1": "Latin-1"}


def _guess_encoding(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = data[:4000]
    if len(head) >= 4 and head[1::2].count(0) > 0.4 * len(head) / 2 and head[::2].count(0) == 0:
        return "utf-16-le"
    if len(head) >= 4 and head[::2].count(0) > 0.4 * len(head) / 2 and head[1::2].count(0) == 0:
        return "utf-16-be"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from . import encoding as vnenc

    cells = re.split(r"[,;\t\r\n]", data.decode("latin1"))
    return vnenc.detect([c for c in cells if not c.isascii()]) or "cp1258"


def _decode(data: bytes, enc: str) -> str:
    from . import encoding as vnenc

    if enc == "tcvn3":
        return vnenc.decode_tcvn3(data)
    if enc == "vni":
        return vnenc.decode_vni(data)
    text = data.decode(enc)  # strict: undefined bytes raise
    return unicodedata.normalize("NFC", text)


def _sniff_separator(header: str) -> str:
    outside = re.sub(r'"[^"]*"', "", header)
    counts = {sep: outside.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=lambda s: (counts[s], s == ","))
    return best if counts[best] else ","


# --------------------------------------------------------------------------------------------------- points
LON_NAMES = ("lon", "long", "lng", "longitude", "kinh do", "kinhdo")
LAT_NAMES = ("lat", "latitude", "vi do", "vido")
X_NAMES = ("x", "east", "easting", "toa do x", "toado x")
Y_NAMES = ("y", "north", "northing", "toa do y", "toado y")


def points_from_table(table: Table, *, crs: object, collector: Collector, label: str) -> gpd.GeoDataFrame | None:
    """Make points of a table's lon/lat (EPSG:4326) or x/y columns (in `crs`); the other columns stay attributes.

    Parameters
    ----------
    table
        The table (`read_table`).
    crs
        CRS of x/y columns (None: the frame has no CRS, which the caller reports).
    collector
        Where problems go: no coordinate columns, coordinates that are not numbers (row and columns named).
    label
        File name for messages.

    Returns
    -------
    geopandas.GeoDataFrame or None
        None when the table has no coordinate columns.
    """
    frame = table.frame
    folded = {fold(c): c for c in frame.columns}
    pair = None
    for xs, ys, geographic in ((LON_NAMES, LAT_NAMES, True), (X_NAMES, Y_NAMES, False)):
        xcol = next((folded[n] for n in xs if n in folded), None)
        ycol = next((folded[n] for n in ys if n in folded), None)
        if xcol and ycol:
            pair = (xcol, ycol, geographic)
            break
    if pair is None:
        collector.add(label, "a table layer needs lon/lat or x/y columns (a table without coordinates can be "
                      "joined to a layer by code: `join:` in layers.yaml); columns: "
                      + ", ".join(map(str, frame.columns)))
        return None
    xcol, ycol, geographic = pair

    def number(column: str) -> pd.Series:
        text = frame[column].astype(str).map(lambda v: parse_decimal(v, decimal_comma=table.decimal_comma))
        return pd.to_numeric(text.str.replace(",", ".", regex=False).str.strip(), errors="coerce")

    xs, ys = number(xcol), number(ycol)
    for i in np.flatnonzero((xs.isna() | ys.isna()).to_numpy()):
        collector.add(label, f"coordinates {frame[xcol].iloc[i]!r}, {frame[ycol].iloc[i]!r} are not numbers",
                      row=int(i) + 1, column=f"{xcol}/{ycol}")
    if geographic:
        layer_crs = CRS.from_epsg(4326)
    elif crs is not None:
        layer_crs = parse_crs(crs)
    else:
        layer_crs = None
    geoms = shapely.points(xs.to_numpy(dtype=float, na_value=np.nan), ys.to_numpy(dtype=float, na_value=np.nan))
    geoms = np.where(xs.isna() | ys.isna(), None, geoms)
    attrs = frame.drop(columns=[xcol, ycol])
    return gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms, crs=layer_crs), crs=layer_crs)


# ----------------------------------------------------------------------------------------------------- XLSX
def _read_xlsx(path: Path, *, sheet: str | None, collector: Collector, label: str) -> Table | None:
    try:
        import openpyxl
    except ImportError as exc:  # a core dependency; kept for a clear message in stripped installs
        raise ImportError("reading .xlsx needs openpyxl: pip install openpyxl") from exc
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds for damaged files
        collector.add(label, f"cannot be read as an Excel workbook: {exc}")
        return None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            collector.add(label, f"no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})", column="layer")
            return None
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        rows = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        book.close()
    filled = [sum(1 for v in row if v != "") for row in rows]
    if not any(filled):
        collector.add(label, f"sheet {ws.title!r} is empty")
        return None
    widest = max(filled[:20])
    header_at = next(i for i, n in enumerate(filled) if n >= max(1, widest / 2))
    header = rows[header_at]
    keep = [j for j, name in enumerate(header) if name != ""]
    body = [row for row in rows[header_at + 1:] if any(v != "" for v in row)]
    frame = pd.DataFrame([[row[j] if j < len(row) else "" for j in keep] for row in body],
                         columns=[header[j] for j in keep], dtype=object)
    if header_at:
        logger.info("%s: header on row %d of sheet %r", label, header_at + 1, ws.title)
    return Table(frame=frame, encoding="xlsx")


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return unicodedata.normalize("NFC", str(value)).strip()
