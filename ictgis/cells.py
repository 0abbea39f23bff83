"""The cells (sectors) of BTS sites: reading the optional ``cells`` layer and the transmitters coverage sweeps.

A data folder may hold a ``cells`` table (``cells.csv``, ``cells.xlsx`` or any vector format; ``layers: cells:``
in ``layers.yaml`` names another file and maps fields): one row per cell with its site, azimuth, tilt, beamwidth
and optional overrides of the site's radio values (`ictgis.layers.CELLS`). Antenna pattern files named in
``pattern`` are read from ``antennas/`` of the data folder (MSI/Planet format, :mod:`ictgis.antenna`).

Coverage sweeps one *transmitter* per cell of a site that has cells for the technology, and one omnidirectional
transmitter per site without (exactly as before cells existed). :func:`transmitters` builds them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from . import antenna, tables
from ._errors import LayerError
from ._validate import Collector, check_attributes
from .attributes import decimal_numbers
from .layers import CELLS, fold, parse_tech

__all__ = [
    "ANTENNA_DIR", "CELL_LIMITS", "Transmitters", "check_cells", "check_cells_table", "find_cells", "read_cells",
    "transmitters",
]

logger = logging.getLogger(__name__)

#: Folder of antenna pattern files in a data folder.
ANTENNA_DIR = "antennas"
#: Accepted range of each numeric attribute of a cell.
CELL_LIMITS = {"azimuth": (0.0, 360.0), "tilt": (-90.0, 90.0), "beamwidth": (1.0, 360.0), "gain_dbi": (-10.0, 40.0),
               "band_mhz": (100.0, 6000.0), "height_m": (0.5, 500.0), "power_dbm": (-10.0, 70.0)}
_VECTOR_SUFFIXES = (".shp", ".zip", ".gpkg", ".geojson", ".json", ".fgb", ".kml", ".kmz")


def find_cells(data_dir: str | Path | None, mapping: dict | None = None) -> tuple[Path, dict] | None:
    """Return the cells file of a data folder and its ``layers.yaml`` settings, or None when there is none."""
    if data_dir is None:
        return None
    data_dir = Path(data_dir)
    spec = ((mapping or {}).get("layers") or {}).get("cells") or {}
    if spec.get("file"):
        return data_dir / spec["file"], spec
    for path in sorted(data_dir.glob("cells.*")):
        if path.suffix.lower() in (*tables.TABLE_SUFFIXES, *_VECTOR_SUFFIXES):
            return path, spec
    return None


def _rename(frame: pd.DataFrame, explicit: dict) -> pd.DataFrame:
    by_fold: dict[str, str] = {}
    for c in frame.columns:
        by_fold.setdefault(fold(str(c)).replace(" ", "_"), c)
    rename: dict[str, str] = {}
    for target, source in (explicit or {}).items():
        src = by_fold.get(fold(str(source)).replace(" ", "_"))
        if src is not None:
            rename[src] = target
    for spec in CELLS.fields:
        if spec.name in rename.values():
            continue
        for name in (spec.name, *spec.aliases):
            if name in by_fold and by_fold[name] not in rename:
                rename[by_fold[name]] = spec.name
                break
    return frame[list(rename)].rename(columns=rename)


def read_cells(path: str | Path, *, fields: dict | None = None, encoding: str | None = None,
               sheet: str | None = None, collector: Collector | None = None) -> pd.DataFrame | None:
    """Read and type a cells table (CSV, XLSX or a vector file whose geometry is ignored).

    Parameters
    ----------
    path
        The file.
    fields
        Schema name → the file's column, for names the built-in aliases (GOC_PHUONG_VI, GOC_NGHIENG …) miss.
    encoding, sheet
        Text encoding of a CSV; sheet of a workbook (or layer of a GeoPackage).
    collector
        Where the problems go (``ictgis validate``): then nothing is raised, bad values are left empty, and None
        is returned when the file cannot be read at all.

    Returns
    -------
    pandas.DataFrame
        One row per cell, in file order, with the attributes of `ictgis.layers.CELLS`.

    Raises
    ------
    LayerError
        Naming file, row and column of every unreadable value or value out of range (without a `collector`).
    """
    path = Path(path)
    label = path.name
    own = collector is None
    collector = Collector() if collector is None else collector
    before = len(collector.problems)
    decimal_comma = False
    if not path.exists():
        collector.add(label, "file not found for layer cells")
        return _done(collector, label, own, None)
    if path.suffix.lower() in tables.TABLE_SUFFIXES:
        table = tables.read_table(path, encoding=encoding, sheet=sheet, collector=collector, label=label)
        if table is None or len(collector.problems) > before:
            return _done(collector, label, own, None)
        frame, decimal_comma = table.frame, table.decimal_comma
    else:
        try:
            frame = pd.DataFrame(pyogrio.read_dataframe(path, layer=sheet, read_geometry=False))
        except Exception as exc:  # pyogrio raises several kinds for unreadable files
            collector.add(label, f"cannot be read: {exc}")
            return _done(collector, label, own, None)
    frame = _rename(frame.reset_index(drop=True), fields or {})
    frame = frame.replace("", None) if len(frame) else frame
    if decimal_comma:
        frame = decimal_numbers(frame, CELLS)
    frame = check_attributes(frame, CELLS, file=label, collector=collector)
    for name, (lo, hi) in CELL_LIMITS.items():
        if name not in frame:
            continue
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        for i in np.flatnonzero(~np.isnan(values) & ((values < lo) | (values > hi))):
            collector.add(label, f"{name} is {values[i]:g}, expected {lo:g}–{hi:g}", row=int(i) + 1, column=name,
                          feature_id=frame["site"].iloc[i] if "site" in frame else None)
            frame.loc[frame.index[i], name] = None
    return _done(collector, label, own, pd.DataFrame(frame))


def _done(collector: Collector, label: str, own: bool, frame: pd.DataFrame | None) -> pd.DataFrame | None:
    if own:
        collector.raise_if_any(label)
    return frame


def check_cells_table(cells: pd.DataFrame, *, data_dir: str | Path | None, site_ids: set[str] | None,
                      collector: Collector, label: str = "cells") -> dict[str, antenna.Pattern]:
    """Check the cells' sites and antenna pattern files; return the patterns read (file name → pattern).

    Parameters
    ----------
    cells
        The cells table (`read_cells`).
    data_dir
        Data folder whose ``antennas/`` holds the pattern files.
    site_ids
        Ids of every BTS site: a cell of another site is a problem (None: not checked).
    collector
        Where the problems go (file, row, column): a cell of an unknown site, a pattern file not found in
        ``antennas/``, an unreadable pattern file.
    label
        File name for messages.
    """
    cell_site = cells["site"].astype(str).to_numpy() if "site" in cells else np.array([], dtype=object)
    if site_ids is not None and len(cell_site):
        unknown = ~pd.Series(cell_site).isin(site_ids).to_numpy()
        for i in np.flatnonzero(unknown).tolist():
            collector.add(label, f"site {cell_site[i]!r} is not in bts_sites", row=int(i) + 1, column="site",
                          feature_id=cell_site[i])
    patterns: dict[str, antenna.Pattern] = {}
    if "pattern" not in cells:
        return patterns
    folder = Path(data_dir or ".") / ANTENNA_DIR
    seen: set[str] = set()
    for i, name in enumerate(cells["pattern"]):
        if not isinstance(name, str) or not name.strip() or name in seen:
            continue
        seen.add(name)
        path = folder / name.strip()
        if not path.exists():
            collector.add(label, f"antenna pattern file {ANTENNA_DIR}/{name.strip()} not found", row=i + 1,
                          column="pattern", feature_id=cell_site[i] if len(cell_site) else None)
            continue
        try:
            patterns[name] = antenna.read_msi(path)
        except LayerError as exc:
            for p in exc.problems:
                collector.add(p.file, p.message, row=p.row, column=p.column)
    return patterns


def check_cells(data_dir: str | Path, *, mapping: dict | None = None, site_ids: set[str] | None = None,
                collector: Collector) -> pd.DataFrame | None:
    """Check a data folder's cells layer as ``ictgis coverage`` reads it (for ``ictgis validate``).

    Reads it with `read_cells` (values, ranges) and checks it with `check_cells_table` (sites, pattern files),
    recording every problem in `collector`.

    Returns
    -------
    pandas.DataFrame or None
        The cells (bad values left empty), None when the folder has no cells layer or it cannot be read.
    """
    found = find_cells(data_dir, mapping)
    if found is None:
        return None
    path, spec = found
    table = read_cells(path, fields=spec.get("fields"), encoding=spec.get("encoding") or (mapping or {}).get(
        "encoding"), sheet=spec.get("layer"), collector=collector)
    if table is not None:
        check_cells_table(table, data_dir=data_dir, site_ids=site_ids, collector=collector, label=path.name)
    return table


@dataclass(frozen=True, eq=False)
class Transmitters:
    """What the coverage kernels sweep: one row per cell of a sectored site, one per omnidirectional site.

    Attributes
    ----------
    frame
        The sites' rows (one per transmitter, in sweep order) with the cells' overrides of ``band_mhz``,
        ``height_m``, ``gain_dbi`` and ``tx_dbm``: the input of `ictgis.radio.site_parameters`.
    site_row
        Row of each transmitter's site in the sites frame.
    site_ids, cell_ids
        Site id and cell id of each transmitter (the site id for an omnidirectional site).
    pat_h, pat_v, pat_cap, use_pat
        The antenna tables of `ictgis.antenna.pattern_tables` (n × 360, n × 181, n), and False for
        omnidirectional transmitters.
    """

    frame: gpd.GeoDataFrame
    site_row: np.ndarray
    site_ids: list[str]
    cell_ids: list[str]
    pat_h: np.ndarray
    pat_v: np.ndarray
    pat_cap: np.ndarray
    use_pat: np.ndarray

    @property
    def sectored(self) -> bool:
        """True when any transmitter has an antenna pattern."""
        return bool(self.use_pat.any())


def transmitters(sites: gpd.GeoDataFrame, technology: str, cells: pd.DataFrame | None, *,
                 data_dir: str | Path | None = None, all_site_ids: set[str] | None = None,
                 label: str = "cells") -> Transmitters:
    """Return the transmitters of a technology: the cells of sites that have cells for it, the other sites whole.

    Parameters
    ----------
    sites
        The sites of the technology (`ictgis.coverage.sites_of`).
    technology
        "2G" … "5G": a cell serves it when its `tech` lists it or is empty.
    cells
        The cells table (`read_cells`), or None.
    data_dir
        Data folder whose ``antennas/`` holds the pattern files.
    all_site_ids
        Ids of every BTS site (a cell of an unknown site is an error; default: `sites`' ids).
    label
        File name for messages.

    Raises
    ------
    LayerError
        A cell of an unknown site or a missing or unreadable pattern file (file, row, column).
    """
    ids = sites["id"].astype(str).to_numpy()
    n = len(sites)
    if cells is None or len(cells) == 0:
        return Transmitters(sites.copy(), np.arange(n), list(ids), list(ids), np.zeros((n, 360)),
                            np.zeros((n, 181)), np.zeros(n), np.zeros(n, dtype=bool))
    collector = Collector()
    known = all_site_ids if all_site_ids is not None else set(ids)
    patterns = check_cells_table(cells, data_dir=data_dir, site_ids=set(known), collector=collector, label=label)
    collector.raise_if_any(label)
    cell_site = cells["site"].astype(str).to_numpy()
    tech = technology.upper()
    serves = np.array([(not isinstance(t, str)) or not t.strip() or tech in parse_tech(t)
                       for t in (cells["tech"] if "tech" in cells else [None] * len(cells))], dtype=bool)
    row_of = {s: k for k, s in enumerate(ids)}
    mine = serves & pd.Series(cell_site).isin(row_of).to_numpy()
    sectored = set(cell_site[mine])
    counters: dict[str, int] = {}
    rows: list[int] = []
    site_ids: list[str] = []
    cell_ids: list[str] = []
    overrides: list[dict] = []
    tables_h, tables_v, caps, use = [], [], [], []
    order: dict[str, list[int]] = {}  # the cells of each sectored site, in table order (one pass)
    for i in np.flatnonzero(mine).tolist():
        order.setdefault(cell_site[i], []).append(i)
    records = cells.to_dict("records")  # row access without a pandas Series per cell
    tables: dict[tuple, tuple[np.ndarray, np.ndarray, float]] = {}  # cells aimed alike share their tables
    for k, site in enumerate(ids):
        if site not in sectored:
            rows.append(k)
            site_ids.append(site)
            cell_ids.append(site)
            overrides.append({})
            tables_h.append(np.zeros(360))
            tables_v.append(np.zeros(181))
            caps.append(0.0)
            use.append(False)
            continue
        for i in order[site]:
            row = records[i]
            counters[site] = counters.get(site, 0) + 1
            cid = row.get("cell") if "cell" in cells else None
            cell_ids.append(str(cid) if isinstance(cid, str) and cid.strip() else f"{site}-{counters[site]}")
            rows.append(row_of[site])
            site_ids.append(site)
            pattern = patterns.get(row["pattern"]) if "pattern" in cells and isinstance(row["pattern"], str) \
                else None
            tilt = 0.0 if "tilt" not in cells or pd.isna(row["tilt"]) else float(row["tilt"])
            bw = None if "beamwidth" not in cells or pd.isna(row["beamwidth"]) else float(row["beamwidth"])
            key = (float(row["azimuth"]) % 360.0, tilt, id(pattern), bw)
            if key not in tables:
                tables[key] = antenna.pattern_tables(key[0], tilt, pattern=pattern, beamwidth_deg=bw)
            h, v, cap = tables[key]
            tables_h.append(h)
            tables_v.append(v)
            caps.append(cap)
            use.append(True)
            over = {}
            for column, target in (("band_mhz", "band_mhz"), ("height_m", "height_m"), ("power_dbm", "tx_dbm"),
                                   ("gain_dbi", "gain_dbi")):
                if column in cells and not pd.isna(row[column]):
                    over[target] = float(row[column])
            if "gain_dbi" not in over and pattern is not None and pattern.gain_dbi is not None:
                over["gain_dbi"] = pattern.gain_dbi
            overrides.append(over)
    frame = sites.iloc[rows].copy()
    for column in ("band_mhz", "height_m", "tx_dbm", "gain_dbi"):
        if any(column in o for o in overrides):
            base = frame[column].to_numpy(dtype=float, na_value=np.nan) if column in frame \
                else np.full(len(frame), np.nan)
            frame[column] = [o.get(column, b) for o, b in zip(overrides, base, strict=True)]
    return Transmitters(frame, np.asarray(rows), site_ids, cell_ids, np.array(tables_h), np.array(tables_v),
                        np.array(caps), np.array(use, dtype=bool))
