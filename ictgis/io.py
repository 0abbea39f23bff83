"""Read a data folder of planning layers into one validated `Dataset` in the working CRS.

A data folder holds one file per layer, named after it (``communes.shp``, ``villages.geojson`` …), in any of:
Shapefile (also zipped), GeoPackage (a file per layer, or one file with a layer per name), GeoJSON, FlatGeobuf,
KML or KMZ (Google Earth, with its ExtendedData; every folder is read), or a table with lon/lat or x/y columns:
CSV as Excel saves it (UTF-8 with or without BOM, UTF-16, Windows-1258 "ANSI", ``;`` and decimal commas) or an
XLSX sheet (`ictgis.tables`); plus an optional ``dem.tif``. A ``.json`` file holding Open Fibre Data Standard data
is read as fiber routes (its spans: `ictgis.ofds.read_spans`). An optional mapping file ``layers.yaml`` maps other
file names, field names and values onto the schema, so nobody edits a source file::

    crs: EPSG:9205            # for files without a CRS (and CSV x/y columns)
    encoding: tcvn3           # text encoding of DBFs without .cpg and of CSVs (guessed when absent)
    area_km2: 9541.25         # official province area for the postal service radius (optional)
    working_crs: EPSG:3405    # a folder of many provinces: one national working CRS (default: the province's)
    layers:
      communes:
        file: ranh_gioi_xa.shp
        fields: {code: MA_XA, name: TEN_XA, population: DAN_SO}
        join: {file: dan_so_2024.xlsx, fields: {population: DAN_SO_2024}}   # a table joined on the code
      roads:
        file: duong_chinh.geojson
        fields: {road_class: LOAI}
        values: {road_class: {"Quốc Gia": national, "Cấp Tỉnh": provincial}}
      post_offices:
        file: buu_cuc.xlsx
        layer: Sheet1         # the sheet of a workbook (the layer of a GeoPackage)
        set: {kind: cap3}     # a constant for every row

Values are matched without regard to case, diacritics' Unicode form and surrounding spaces; the built-in
Vietnamese terms (`ictgis.layers.VALUE_TERMS`) apply to values no mapping names. GSO codes that lost their leading
zero in Excel (``3160``) get it back, with a warning; villages without an id get ``<commune code>-<n>``.

Inputs are never modified. Every problem found in any layer is collected and raised once as a `LayerError`.
"""

from __future__ import annotations

import contextlib
import logging
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
import yaml
from pyproj import CRS

from . import admin, placement, settings, tables, yamlfile
from ._errors import CRSError, LayerError, Problem
from ._validate import (
    Collector,
    check_attributes,
    check_geometries,
    check_geometry_family,
    check_gso_codes,
    check_unique,
)
from .attributes import (
    apply_constants,
    apply_values,
    check_join,
    check_values_and_set,
    decimal_numbers,
    fill_village_ids,
    is_blank,
    join_table,
    pad_codes,
)
from .cleaning import diagnose_holes
from .crs import looks_like_degrees, looks_swapped, parse_crs, to_crs, working_crs
from .layers import DEM_NAMES, LAYER_NAMES, SCHEMAS, LayerSchema, fold, split_commune_name

logger = logging.getLogger(__name__)

VECTOR_SUFFIXES = (".shp", ".zip", ".gpkg", ".geojson", ".json", ".fgb", ".kml", ".kmz", ".csv", ".xlsx", ".xlsm",
                   ".xls")
MAPPING_NAMES = ("layers.yaml", "layers.yml")
MAPPING_KEYS = {"crs", "encoding", "area_km2", "layers", "province", "working_crs", "landcover"}
LAYER_KEYS = {"file", "layer", "fields", "crs", "encoding", "values", "set", "join"}
ENCODINGS = tables.CSV_ENCODINGS
DBF_ENCODINGS = ("utf-8", "tcvn3", "vni", "cp1258", "latin1")
# Columns the LIBKML driver adds to every KML layer; dropped when empty so they never stand for a schema attribute.
KML_STANDARD_COLUMNS = ("id", "Name", "description", "timestamp", "begin", "end", "altitudeMode", "tessellate",
                        "extrude", "visibility", "drawOrder", "icon", "snippet")


@dataclass
class TopologyReport:
    """Overlaps and gaps between commune polygons (reported, never silently cleaned)."""

    overlaps: int = 0
    overlap_area_km2: float = 0.0
    gaps: int = 0
    gap_area_km2: float = 0.0
    overlap_pairs: list[tuple[str, str, float]] = field(default_factory=list)
    unfillable: list[str] = field(default_factory=list)
    """Why `ictgis clean` cannot fill some gaps, one reason per gap (e.g. a unit missing from the file)."""

    @property
    def clean(self) -> bool:
        """True when there are neither overlaps nor gaps."""
        return self.overlaps == 0 and self.gaps == 0

    def __str__(self) -> str:
        if self.clean:
            return "commune polygons: no overlaps, no gaps"
        text = (f"commune polygons: {self.overlaps} overlapping pairs ({self.overlap_area_km2:.2f} km²), "
                f"{self.gaps} gaps ({self.gap_area_km2:.2f} km²)")
        fillable = self.gaps - len(self.unfillable)
        fixes = [w for w, n in (("the overlaps", self.overlaps),
                                ("the gaps" if not self.unfillable else f"{fillable} of the gaps", fillable)) if n]
        if fixes:
            text += f"; `ictgis clean` fixes {' and '.join(fixes)}"
        return "\n".join([text, *(f"    - a gap clean cannot fill: {reason}" for reason in self.unfillable)])


@dataclass
class Dataset:
    """The validated planning layers of one data folder, in the working CRS.

    Attributes
    ----------
    layers
        Layer name → GeoDataFrame with schema attribute names and types.
    sources
        Layer name → the file it came from.
    crs
        The working CRS.
    dem_path
        The DEM GeoTIFF, when present.
    topology
        Overlap and gap report of the commune polygons.
    notes
        Repairs made while reading (reported as warnings).
    area_km2
        Official province area when given in layers.yaml, else None (the polygons' area is used).
    cells, landcover_path
        The cells table and the land-cover GeoTIFF of a dataset read from a store (a data folder's are found in
        `data_dir` by :func:`ictgis.coverage.compute`); None otherwise.
    derived
        True for copies (scenario work copies): their layers may differ from the files in `data_dir`.
    """

    layers: dict[str, gpd.GeoDataFrame]
    sources: dict[str, str]
    crs: CRS
    data_dir: Path | None = None
    dem_path: Path | None = None
    topology: TopologyReport | None = None
    notes: list[str] = field(default_factory=list)
    area_km2: float | None = None
    cells: pd.DataFrame | None = None
    landcover_path: Path | None = None
    derived: bool = False

    def __getitem__(self, name: str) -> gpd.GeoDataFrame:
        return self.layers[name]

    def __contains__(self, name: str) -> bool:
        return name in self.layers

    def get(self, name: str) -> gpd.GeoDataFrame | None:
        """Return a layer, or None when the folder has none."""
        return self.layers.get(name)

    def copy(self) -> Dataset:
        """Return a copy whose layers can be changed without touching this one."""
        return Dataset(layers={k: v.copy() for k, v in self.layers.items()}, sources=dict(self.sources),
                       crs=self.crs, data_dir=self.data_dir, dem_path=self.dem_path, topology=self.topology,
                       notes=list(self.notes), area_km2=self.area_km2,
                       cells=None if self.cells is None else self.cells.copy(), landcover_path=self.landcover_path,
                       derived=True)


# --------------------------------------------------------------------------------------------- mapping file
def read_mapping(data_dir: Path, collector: Collector) -> dict:
    """Read and check ``layers.yaml`` in a data folder; return {} when there is none."""
    for name in MAPPING_NAMES:
        path = data_dir / name
        if path.exists():
            break
    else:
        return {}
    try:
        mapping = yamlfile.load(yamlfile.read_text(path))[1] or {}  # bounded (size, aliases): YAMLTooLarge
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        collector.add(path.name, f"not valid YAML: {exc}")
        return {}
    if not isinstance(mapping, dict):
        collector.add(path.name, "expected a mapping with keys " + ", ".join(sorted(MAPPING_KEYS)))
        return {}
    for key in set(mapping) - MAPPING_KEYS:
        collector.add(path.name, f"unknown key '{key}' (known: {', '.join(sorted(MAPPING_KEYS))})", column=key)
    layers = mapping.get("layers") or {}
    if not isinstance(layers, dict):
        collector.add(path.name, "'layers' must map layer names to their settings", column="layers")
        layers = {}
    for lname, spec in layers.items():
        if lname not in SCHEMAS and lname not in ("dem", "cells"):
            collector.add(path.name, f"unknown layer '{lname}' (known: {', '.join(LAYER_NAMES)}, cells, dem)",
                          column=f"layers.{lname}")
            continue
        if isinstance(spec, str):
            layers[lname] = {"file": spec}
            continue
        if not isinstance(spec, dict):
            collector.add(path.name, "expected a file name or a mapping", column=f"layers.{lname}")
            layers[lname] = {}
            continue
        for key in set(spec) - LAYER_KEYS:
            collector.add(path.name, f"unknown key '{key}' (known: {', '.join(sorted(LAYER_KEYS))})",
                          column=f"layers.{lname}.{key}")
        fields = spec.get("fields") or {}
        if not isinstance(fields, dict):
            collector.add(path.name, "'fields' must map schema names to file field names",
                          column=f"layers.{lname}.fields")
            spec["fields"] = {}
        elif lname in SCHEMAS:
            known = {f.name for f in SCHEMAS[lname].fields}
            for key in set(fields) - known:
                collector.add(path.name, f"'{key}' is not an attribute of {lname} (known: {', '.join(sorted(known))})",
                              column=f"layers.{lname}.fields.{key}")
        if lname in SCHEMAS:
            check_values_and_set(spec, SCHEMAS[lname], collector, file=path.name)
            check_join(spec, SCHEMAS[lname], collector, file=path.name)
        _check_encoding(spec.get("encoding"), collector, file=path.name, column=f"layers.{lname}.encoding")
        _check_crs(spec.get("crs"), collector, file=path.name, column=f"layers.{lname}.crs")
    _check_encoding(mapping.get("encoding"), collector, file=path.name, column="encoding")
    _check_crs(mapping.get("crs"), collector, file=path.name, column="crs")
    _check_crs(mapping.get("working_crs"), collector, file=path.name, column="working_crs")
    mapping["layers"] = layers
    mapping["_path"] = path.name
    return mapping


def _check_crs(value: object, collector: Collector, *, file: str, column: str) -> None:
    """Check a stated CRS, whether or not a file without its own CRS needs it."""
    if value is None:
        return
    try:
        parse_crs(value, source=file)
    except CRSError as exc:
        collector.add(file, f"{exc} (write it as EPSG:9205 for VN-2000 / TM-3 103-00, EPSG:4326 for WGS 84 …)",
                      column=column)


def _check_encoding(value: object, collector: Collector, *, file: str, column: str) -> None:
    if value is not None and tables.normalize_encoding(value) is None:
        collector.add(file, f"unknown encoding {value!r} (known: {', '.join(ENCODINGS)})", column=column)


# ------------------------------------------------------------------------------------------- finding files
def find_layer_sources(data_dir: Path, mapping: dict) -> dict[str, tuple[Path, str | None]]:
    """Find the file (and GeoPackage layer) of each layer in a data folder."""
    found: dict[str, tuple[Path, str | None]] = {}
    specs = mapping.get("layers", {})
    files = sorted(p for p in data_dir.iterdir() if p.is_file())
    gpkg_layers: dict[str, Path] = {}
    for path in files:
        if path.suffix.lower() == ".gpkg":
            try:
                for lname, _ in pyogrio.list_layers(path):
                    gpkg_layers.setdefault(str(lname), path)
            except pyogrio.errors.DataSourceError:
                continue
    for lname in LAYER_NAMES:
        spec = specs.get(lname) or {}
        if spec.get("file"):
            found[lname] = (data_dir / spec["file"], spec.get("layer"))
            continue
        for path in files:
            stem = path.name[: -len(".shp.zip")] if path.name.lower().endswith(".shp.zip") else path.stem
            if stem.lower() == lname and path.suffix.lower() in VECTOR_SUFFIXES:
                found[lname] = (path, None)
                break
        else:
            if lname in gpkg_layers:
                found[lname] = (gpkg_layers[lname], lname)
    return found


def find_dem(data_dir: Path, mapping: dict) -> Path | None:
    """Return the DEM GeoTIFF of a data folder, or None."""
    spec = mapping.get("layers", {}).get("dem")
    if spec and spec.get("file"):
        return data_dir / spec["file"]
    for name in DEM_NAMES:
        if (data_dir / name).exists():
            return data_dir / name
    return None


# ------------------------------------------------------------------------------------------------ reading
def _dbf_encoding(path: Path) -> str | None:
    cpg = path.with_suffix(".cpg")
    if cpg.exists():
        return cpg.read_text(encoding="ascii", errors="replace").strip().upper()
    return None


def _read_vector(path: Path, layer: str | None, collector: Collector, *, label: str
                 ) -> tuple[gpd.GeoDataFrame | None, str | None]:
    """Read a vector file with pyogrio; return (frame, declared text encoding of a DBF)."""
    suffix = path.suffix.lower()
    target = str(path)
    declared = None
    read_kw: dict = {}
    if suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                shps = [n for n in zf.namelist() if n.lower().endswith(".shp")]
                cpgs = {n.lower(): n for n in zf.namelist() if n.lower().endswith(".cpg")}
                if len(shps) != 1:
                    collector.add(label, f"a zipped layer must hold exactly one .shp (found {len(shps)})")
                    return None, None
                cpg = cpgs.get(shps[0][:-4].lower() + ".cpg")
                declared = zf.read(cpg).decode("ascii", "replace").strip().upper() if cpg else None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
            collector.add(label, f"is not a readable zip archive ({exc}): zip the shapefile's parts again "
                          "(.shp, .shx, .dbf, .prj, .cpg) / tệp nén .zip bị hỏng, hãy nén lại")
            return None, None
        target = f"/vsizip/{path}/{shps[0]}"
        suffix = ".shp"
    elif suffix == ".shp":
        if not (path.with_suffix(".dbf").exists() or path.with_suffix(".DBF").exists()):
            collector.add(label, f"the shapefile's .dbf part (its attributes) is missing beside {path.name}: copy "
                          "every part (.shp, .shx, .dbf, .prj, .cpg) or zip them together / thiếu tệp .dbf")
            return None, None
        declared = _dbf_encoding(path)
    if suffix == ".shp" and (declared is None or "1258" in declared or "UTF" not in declared):
        # Read bytes as Latin-1 and decode ourselves: GDAL's cp1258 reader truncates strings (STACK-NOTES),
        # and DBFs without .cpg may hold TCVN3/VNI/UTF-8 bytes.
        read_kw["encoding"] = "latin1"
    try:
        if suffix == ".json" and layer is None:
            from . import ofds

            if ofds.is_ofds(path):  # Open Fibre Data Standard: its spans are fiber routes
                return ofds.read_spans(path), "UTF-8"
        if suffix in (".kml", ".kmz") and layer is None:
            frame = _read_kml(target)
        else:
            frame = pyogrio.read_dataframe(target, layer=layer, **read_kw)
    except Exception as exc:  # pyogrio raises several kinds for unreadable files
        collector.add(label, f"cannot be read: {_reading_advice(path, suffix, exc)}")
        return None, None
    return frame, (declared if suffix == ".shp" else "UTF-8")


#: What to do when GDAL cannot read a file of a format (its own message names paths and options, not the fix).
FORMAT_NAMES = {".shp": "Shapefile", ".gpkg": "GeoPackage", ".geojson": "GeoJSON", ".json": "GeoJSON",
                ".fgb": "FlatGeobuf", ".kml": "KML", ".kmz": "KMZ"}


def _reading_advice(path: Path, suffix: str, exc: Exception) -> str:
    """GDAL's reason without the server's folders, plus what the user can do."""
    reason = str(exc).replace(str(path.parent) + "/", "").split("; It might help", 1)[0].strip()
    if suffix == ".shp":
        missing = [side for side in (".shx", ".dbf") if not path.with_suffix(side).exists()
                   and not path.with_suffix(side.upper()).exists()]
        if missing:
            return (f"the shapefile's {' and '.join(missing)} part is missing beside {path.name}: copy every part "
                    "(.shp, .shx, .dbf, .prj, .cpg) or zip them together / thiếu tệp đi kèm của shapefile")
    kind = FORMAT_NAMES.get(suffix, suffix)
    return (f"{reason} — the file is not a readable {kind} (damaged, cut short, or another format renamed): "
            f"export it again as {kind} / tệp hỏng hoặc sai định dạng, hãy xuất lại")


def _read_kml(target: str) -> gpd.GeoDataFrame:
    """Read every folder (layer) of a KML/KMZ into one frame, 2-D, without LIBKML's empty standard columns.

    Google Earth keeps attributes in ExtendedData (``<Data>`` or ``<SchemaData>``); GDAL's LIBKML driver reads
    both as columns.
    """
    names = [str(n) for n, _ in pyogrio.list_layers(target)]
    parts = [pyogrio.read_dataframe(target, layer=n) for n in names] or [pyogrio.read_dataframe(target)]
    parts = [p for p in parts if len(p)] or parts[:1]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    frame = gpd.GeoDataFrame(frame, geometry=frame.geometry.name, crs=parts[0].crs)
    empty = [c for c in KML_STANDARD_COLUMNS if c in frame and frame[c].map(is_blank).all()]
    frame = frame.drop(columns=empty)
    if frame.geometry.has_z.any():
        frame = frame.set_geometry(shapely.force_2d(frame.geometry.values))
    return frame


def _decode_text(frame: gpd.GeoDataFrame, declared: str | None, forced: str | None, collector: Collector,
                 *, label: str) -> gpd.GeoDataFrame:
    """Repair text read as Latin-1 (legacy DBF encodings), then NFC-normalise every string and field name."""
    out = frame.copy()
    text_cols = [c for c in out.columns if c != out.geometry.name and out[c].dtype.kind in "OUT"
                 or str(out[c].dtype) in ("str", "string")]
    names = [str(c) for c in out.columns]
    latin1_read = declared != "UTF-8" and (declared is None or "UTF" not in declared)
    if latin1_read:
        enc = (forced or "").lower() or None
        if enc is None and declared and "1258" in declared:
            enc = "cp1258"
        sample = names + [v for c in text_cols for v in out[c].dropna().astype(str).tolist()]
        if enc is None:
            enc = _guess_latin1_source(sample)
        if enc and enc not in ("latin1",):
            logger.info("%s: text decoded as %s", label, enc)
            if enc in ("tcvn3", "vni", "cp1258"):
                collector.note(f"{label}: legacy {enc.upper()} text converted to Unicode")
            rename = {c: _fix(str(c), enc) for c in out.columns if c != out.geometry.name}
            for c in text_cols:
                out[c] = out[c].map(lambda v, e=enc: _fix(v, e) if isinstance(v, str) else v)
            out = out.rename(columns=rename)
            text_cols = [rename.get(c, c) for c in text_cols]
    for c in text_cols:
        out[c] = out[c].map(lambda v: unicodedata.normalize("NFC", v) if isinstance(v, str) else v)
    return out


def _guess_latin1_source(values: list[str]) -> str | None:
    non_ascii = [v for v in values if any(ord(ch) > 127 for ch in v)]
    if not non_ascii:
        return None
    try:
        for v in non_ascii:
            v.encode("latin1").decode("utf-8")
        return "utf-8"
    except (UnicodeDecodeError, UnicodeEncodeError):
        pass
    from . import encoding as vnenc

    return vnenc.detect(non_ascii) or "latin1"


def _fix(value: str, enc: str) -> str:
    if enc == "utf-8":
        try:
            return value.encode("latin1").decode("utf-8")
        except (UnicodeDecodeError, UnicodeEncodeError):
            return value
    if enc == "cp1258":
        try:
            return unicodedata.normalize("NFC", value.encode("latin1").decode("cp1258"))
        except (UnicodeDecodeError, UnicodeEncodeError):
            return value
    from . import encoding as vnenc

    return vnenc.repair(value, encoding=enc)


def _rename_fields(frame: gpd.GeoDataFrame, schema: LayerSchema, explicit: dict, collector: Collector,
                   *, label: str, mapping_file: str | None) -> gpd.GeoDataFrame:
    """Rename file fields to schema names: mapping file first, then the schema names and built-in aliases.

    Of several columns matching an attribute, an empty one (a KML's ``Name`` when the names are in ``TEN_XA``) is
    never taken while another has values, and for Vietnamese text (`Field.vietnamese`) the column with Vietnamese
    letters wins (``commune_vn`` over an ASCII ``commune``); otherwise the schema name, then the aliases in order.
    """
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    columns = [c for c in frame.columns if c != geometry]
    by_fold: dict[str, str] = {}
    for c in columns:
        by_fold.setdefault(fold(c).replace(" ", "_"), c)
    rename: dict[str, str] = {}
    for target, source in (explicit or {}).items():
        src = by_fold.get(fold(str(source)).replace(" ", "_"))
        if src is None:
            collector.add(mapping_file or label, f"field {source!r} (mapped to {target}) is not in {label}; "
                          f"fields there: {', '.join(map(str, columns))}", column=f"fields.{target}")
            continue
        rename[src] = target
    taken = set(rename.values())
    for spec in schema.fields:
        if spec.name in taken:
            continue
        names = (spec.name, *spec.aliases)
        if spec.vietnamese:
            names = tuple(n for name in names for n in (name, f"{name}_vn"))
        found = list(dict.fromkeys(by_fold[n] for n in names if n in by_fold and by_fold[n] not in rename))
        if found:
            src = found[0] if len(found) == 1 else \
                max(found, key=lambda c: _column_score(frame[c], vietnamese=spec.vietnamese))
            rename[src] = spec.name
            taken.add(spec.name)
    keep = {c: rename[c] for c in columns if c in rename}
    extra = [c for c in columns if c not in rename and fold(c).replace(" ", "_") not in {f.name for f in schema.fields}]
    # A field that has a schema name but is not the one mapped onto it (e.g. an ASCII `district` beside the
    # mapped `district_vn`) is dropped, so no name appears twice.
    shadowed = [c for c in columns if c not in rename and c in set(keep.values())]
    out = frame.drop(columns=shadowed).rename(columns=keep)
    # Keep unmapped fields (users' own attributes), but never let them shadow schema names.
    out = out[[*keep.values(), *extra, *([geometry] if geometry else [])]]
    return out


def _column_score(values: pd.Series, *, vietnamese: bool) -> tuple[bool, int]:
    """Rank a candidate column: has values at all, then (for text) how many values have Vietnamese letters."""
    filled = ~values.map(is_blank)
    if not vietnamese:
        return bool(filled.any()), 0
    letters = values[filled].map(lambda v: isinstance(v, str) and not v.isascii())
    return bool(filled.any()), int(letters.sum())


def read_layer(path: str | Path, schema: str | LayerSchema, *, fields: dict | None = None, crs: object = None,
               encoding: str | None = None, layer: str | None = None, working: object = None,
               collector: Collector | None = None, values: dict | None = None, constants: dict | None = None,
               join: dict | None = None, mapping_file: str | None = None) -> gpd.GeoDataFrame | None:
    """Read one layer file, map its fields and values onto the schema, check it and bring it to the working CRS.

    Parameters
    ----------
    path
        The file (Shapefile, zipped Shapefile, GeoPackage, GeoJSON, FlatGeobuf, KML/KMZ, or a CSV or XLSX table
        with lon/lat or x/y columns).
    schema
        Name of a layer of the data folder (``communes``, ``villages`` …), or the schema of another point, line or
        polygon file (e.g. `ictgis.siting.CANDIDATES_SCHEMA`, `ictgis.terrain.OBSERVERS_SCHEMA`).
    fields
        Schema name → field name in the file, for names the built-in aliases do not know.
    crs
        CRS to assume when the file has none.
    encoding
        Text encoding of a DBF without .cpg (tcvn3, vni, cp1258) or of a CSV (also utf-8, utf-16); guessed when
        None.
    layer
        Layer inside a GeoPackage, or sheet of a workbook.
    working
        Working CRS (default: the province's).
    collector
        Collects problems; when None, problems are raised at once as a LayerError.
    values
        Attribute → {file value: schema value}, as ``values:`` in layers.yaml.
    constants
        Attribute → the value of every row, as ``set:`` in layers.yaml.
    join
        A table joined onto the layer, as ``join:`` in layers.yaml (``file``, ``sheet``, ``on``, ``fields``).
    mapping_file
        Name of the mapping file these settings come from, for messages.

    Returns
    -------
    geopandas.GeoDataFrame or None
        The layer, or None when a collector was given and the file could not be read at all (or its coordinates
        do not fit its CRS).

    Examples
    --------
    >>> roads = read_layer("duong.geojson", "roads", fields={"road_class": "LOAI"},
    ...                    values={"road_class": {"Quốc Gia": "national"}})  # doctest: +SKIP
    """
    own = collector is None
    collector = collector or Collector()
    path = Path(path)
    schema = SCHEMAS[schema] if isinstance(schema, str) else schema
    label = path.name if layer is None or path.suffix.lower() != ".gpkg" else f"{path.name}:{layer}"
    decimal_comma = False
    declared: str | None = None
    if not path.exists():
        collector.add(label, f"file not found for layer {schema.name}", kind="file_not_found", layer=schema.name)
        frame = None
    elif path.suffix.lower() in tables.TABLE_SUFFIXES:
        table = tables.read_table(path, encoding=encoding, sheet=layer, collector=collector, label=label)
        frame = None if table is None else tables.points_from_table(table, crs=crs, collector=collector,
                                                                      label=label)
        decimal_comma = table is not None and table.decimal_comma
        declared = "UTF-8"
    else:
        frame, declared = _read_vector(path, layer, collector, label=label)
    if frame is not None:
        frame = _prepare(frame, schema, declared=declared, fields=fields or {}, crs=crs, encoding=encoding,
                         working=working, collector=collector, label=label, values=values, constants=constants,
                         join=join, decimal_comma=decimal_comma, base=path.parent, mapping_file=mapping_file)
    if own:
        collector.raise_if_any(label)
    return frame


def _prepare(frame, schema, *, declared, fields, crs, encoding, working, collector, label, values=None,
             constants=None, join=None, decimal_comma=False, base=None, mapping_file=None):
    if frame.empty:
        collector.add(label, f"the {schema.name} layer is empty", kind="empty_layer", layer=schema.name)
        return None
    if not check_geometry_family(frame, schema, file=label, collector=collector):
        return None
    frame = frame.reset_index(drop=True)
    legacy = tables.normalize_encoding(encoding) if encoding else None
    legacy = "utf-8" if legacy == "utf-8-sig" else legacy if legacy in DBF_ENCODINGS else None
    frame = _decode_text(frame, declared, legacy, collector, label=label)
    frame = _rename_fields(frame, schema, fields, collector, label=label, mapping_file=mapping_file)
    if join:
        frame = join_table(frame, schema, join, collector, base=base or Path("."), label=label, encoding=encoding,
                           rename=lambda t, s, f, lb: _rename_fields(t, s, f, collector, label=lb,
                                                                     mapping_file=mapping_file))
    if values:
        frame = apply_values(frame, schema, values, collector, label=label, mapping_file=mapping_file)
    if constants:
        frame = apply_constants(frame, constants, label=label)
    if decimal_comma:
        frame = decimal_numbers(frame, schema)
    frame = pad_codes(frame, schema, collector, label=label)
    if schema.name == "villages":
        frame = fill_village_ids(frame, collector, label=label)
    if schema.name == "communes":
        frame = _derive_commune_fields(frame, collector, label=label)
    frame = check_attributes(frame, schema, file=label, collector=collector)
    if schema.id_field:
        check_unique(frame, schema.id_field, file=label, collector=collector)
    if schema.name == "communes" and "code" in frame:
        check_gso_codes(frame, file=label, collector=collector)
    frame = check_geometries(frame, schema, file=label, collector=collector)
    return _to_working(frame, crs=crs, working=working, collector=collector, label=label)


def _derive_commune_fields(frame: gpd.GeoDataFrame, collector: Collector, *, label: str) -> gpd.GeoDataFrame:
    """Split the kind off prefixed names; take the kind of bare names from the GSO list; say when none is known."""
    out = frame.copy()
    if "name" not in out:
        return out
    split = [split_commune_name(v) if isinstance(v, str) else (v, None) for v in out["name"]]
    out["name"] = [n for n, _ in split]
    given = out["kind"].tolist() if "kind" in out else [None] * len(out)
    kinds = [d if is_blank(k) else k for k, d in zip(given, (k for _, k in split), strict=True)]
    if any(is_blank(k) for k in kinds):
        codes = out["code"].tolist() if "code" in out else [None] * len(out)
        districts = out["district"].tolist() if "district" in out else None
        listed = admin.kinds_from_gso(codes, names=out["name"].tolist(), districts=districts)
        filled = [g if is_blank(k) and g else None for k, g in zip(kinds, listed, strict=True)]
        if any(filled):
            logger.info("%s: kind of %d communes taken from the GSO list", label, sum(map(bool, filled)))
        kinds = [f or k for k, f in zip(kinds, filled, strict=True)]
    unknown = sum(is_blank(k) for k in kinds)
    if unknown:
        collector.note(f"{label}: {unknown} of {len(out)} communes have no kind (xã, phường, thị trấn): their names "
                       "have no Xã/Phường/Thị trấn prefix and neither their codes nor their names are in the GSO "
                       "list, so counts by kind leave them out; add a kind column or `set:`/`values:` for kind in "
                       "layers.yaml / "
                       f"{unknown} xã/phường chưa rõ loại")
    if "kind" in out or any(not is_blank(k) for k in kinds):
        out["kind"] = pd.Series([None if is_blank(k) else k for k in kinds], index=out.index, dtype=object)
    return out


def _to_working(frame, *, crs, working, collector, label):
    target = parse_crs(working) if working is not None else working_crs()
    from . import crs_fit  # the coordinates must fit the CRS and lie near the province (issue 12)

    if not crs_fit.check_layer(frame, stated=crs, working=target, label=label, collector=collector):
        return None  # unusable: kept out of the cross-layer checks
    if frame.crs is None:
        if crs is None:
            collector.add(label, "the layer has no CRS (no .prj): state one with --crs or `crs:` in layers.yaml",
                          kind="no_crs")
            return frame
        frame = frame.set_crs(parse_crs(crs, source=label))
    layer_crs = CRS(frame.crs)
    valid = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if valid.empty:
        return frame
    bounds = tuple(valid.total_bounds)
    if layer_crs.is_projected and looks_like_degrees(bounds):
        collector.add(label, f"coordinates look like degrees ({bounds[0]:.4f}, {bounds[1]:.4f} …) but the CRS is "
                      f"{layer_crs.name} (metres): the .prj is wrong; state the right CRS", kind="degrees_in_metres",
                      crs=layer_crs.name)
        return frame
    if layer_crs.is_geographic:
        reps = valid.geometry.representative_point()
        swapped = looks_swapped(reps.x.to_numpy(), reps.y.to_numpy())
        for n, i in enumerate(np.flatnonzero(swapped)):
            if n >= 20:
                collector.add(label, f"… and {int(swapped.sum()) - n} more with swapped coordinates")
                break
            row = int(valid.index[i]) + 1
            collector.add(label, f"coordinates ({reps.x.iloc[i]:.4f}, {reps.y.iloc[i]:.4f}) look like latitude/"
                          "longitude swapped", row=row, column="geometry", kind="swapped_coordinates")
        if swapped.any():
            return frame
    try:
        return to_crs(frame, target)
    except Exception as exc:  # pyproj errors for unusable CRSs
        collector.add(label, f"cannot be transformed to {target.name}: {exc}")
        return frame


# ---------------------------------------------------------------------------------------------- the folder
def load(data_dir: str | Path | None = None, *, crs: object = None, province_code: str | None = None,
         layers: Iterable[str] | None = None) -> Dataset:
    """Read, check and reproject every layer of a data folder.

    Parameters
    ----------
    data_dir
        Folder of layer files; defaults to the embedded demo (``settings.default_data_dir``).
    crs
        CRS to assume for files that have none (overrides ``crs:`` in layers.yaml).
    province_code
        GSO province code selecting the working CRS (default ``settings.province_code``).
    layers
        Read only these layers (the communes always): a command that needs three layers does not read, nor
        answer for, the others (``ictgis validate`` reads them all). Default: every layer found.

    Returns
    -------
    Dataset

    Raises
    ------
    LayerError
        Listing every problem found in every layer (file, row, column).

    Examples
    --------
    >>> ds = load("data/shapefiles")  # doctest: +SKIP
    >>> len(ds["communes"])  # doctest: +SKIP
    129
    """
    data_dir = Path(data_dir if data_dir is not None else default_data_dir())
    collector = Collector()
    if not data_dir.is_dir():
        raise LayerError(f"{data_dir}: not a folder of layers", [Problem(str(data_dir), "folder not found")])
    mapping = read_mapping(data_dir, collector)
    default_crs = crs if crs is not None else mapping.get("crs")
    working = working_crs(province_code or mapping.get("province"))
    if mapping.get("working_crs") is not None and province_code is None:  # a multi-province folder (issue 16)
        with contextlib.suppress(CRSError):  # a bad value is already one of the collected problems
            working = parse_crs(mapping["working_crs"], source="layers.yaml working_crs")
    sources = find_layer_sources(data_dir, mapping)
    if layers is not None:
        wanted = {"communes", *layers}
        sources = {k: v for k, v in sources.items() if k in wanted}
    frames: dict[str, gpd.GeoDataFrame] = {}
    if "communes" not in sources:
        collector.add(str(data_dir), "no communes layer (communes.shp, .gpkg, .geojson … or `layers.communes` "
                      "in layers.yaml): it is the one required layer")
    for lname, (path, gpkg_layer) in sources.items():
        spec = mapping.get("layers", {}).get(lname) or {}
        frame = read_layer(path, lname, fields=spec.get("fields"), crs=spec.get("crs") or default_crs,
                           encoding=spec.get("encoding") or mapping.get("encoding"), layer=gpkg_layer,
                           working=working, collector=collector, values=spec.get("values"),
                           constants=spec.get("set"), join=spec.get("join"), mapping_file=mapping.get("_path"))
        if frame is not None:
            frames[lname] = frame
    topology = None
    if "communes" in frames and _in_crs(frames["communes"], working) and "code" in frames["communes"]:
        checked = {k: v for k, v in frames.items() if _in_crs(v, working)}
        stated = "villages" in checked and "commune" in checked["villages"]
        _check_cross_layer(checked, sources, collector)  # may add commune codes to point layers
        frames.update(checked)
        if stated and not collector.problems:
            note = placement.warn_outside(frames["villages"], frames["communes"],
                                          label=Path(sources["villages"][0]).name)
            if note:
                collector.notes.append(note)
        topology = commune_topology(frames["communes"])
        if not topology.clean:
            logger.warning("%s", topology)
    collector.raise_if_any(str(data_dir))
    dem = find_dem(data_dir, mapping)
    if dem is not None and not dem.exists():
        raise LayerError(f"{data_dir}: DEM not found", [Problem(dem.name, "file not found")])
    area = mapping.get("area_km2")
    return Dataset(layers=frames, sources={k: str(v[0]) for k, v in sources.items() if k in frames},
                   crs=working, data_dir=data_dir, dem_path=dem, topology=topology, notes=collector.notes,
                   area_km2=float(area) if area is not None else None)


def _in_crs(frame: gpd.GeoDataFrame, crs: CRS) -> bool:
    return frame.crs is not None and CRS(frame.crs).equals(crs)


def default_data_dir() -> Path:
    """Return the embedded demo folder (``data/shapefiles`` of the source tree, or of the current folder)."""
    here = Path(__file__).resolve().parent.parent / settings.default_data_dir
    return here if here.is_dir() else Path(settings.default_data_dir)


def province_shape(communes: gpd.GeoDataFrame) -> shapely.Geometry:
    """Union of the commune polygons (the province), in the communes' CRS."""
    return shapely.union_all(np.asarray(communes.geometry.values, dtype=object), grid_size=None)


def _check_cross_layer(layers: dict[str, gpd.GeoDataFrame], sources: dict, collector: Collector) -> None:
    communes = layers["communes"]
    province = province_shape(communes)
    area = shapely.buffer(province, settings.province_tolerance_m)
    shapely.prepare(area)
    codes = set(communes["code"].dropna())
    for lname in ("villages", "bts_sites", "post_offices"):
        frame = layers.get(lname)
        if frame is None:
            continue
        label = Path(sources[lname][0]).name
        ids = frame.get(SCHEMAS[lname].id_field, None)
        geoms = np.asarray(frame.geometry.values, dtype=object)
        ok = np.array([g is not None for g in geoms])
        outside = np.zeros(len(frame), dtype=bool)
        outside[ok] = ~shapely.contains_xy(area, shapely.get_x(geoms[ok]), shapely.get_y(geoms[ok]))
        for n, i in enumerate(np.flatnonzero(outside)):
            if n >= 20:
                collector.add(label, f"… and {int(outside.sum()) - n} more points outside the province")
                break
            d_km = shapely.distance(province, geoms[i]) / 1000
            collector.add(label, f"point lies outside the province ({d_km:.1f} km from the commune polygons)",
                          row=int(i) + 1, column="geometry", feature_id=None if ids is None else ids.iloc[i],
                          kind="outside_province", distance_km=round(float(d_km), 1))
        if "commune" in frame:
            unknown = frame["commune"].notna() & ~frame["commune"].isin(codes)
            for n, i in enumerate(np.flatnonzero(unknown.to_numpy())):
                if n >= 20:
                    collector.add(label, f"… and {int(unknown.sum()) - n} more unknown commune codes",
                                  column="commune")
                    break
                collector.add(label, f"commune code {frame['commune'].iloc[i]!r} matches no commune",
                              row=int(i) + 1, column="commune",
                              feature_id=None if ids is None else ids.iloc[i], kind="unknown_commune",
                              value=str(frame["commune"].iloc[i]))
        elif not outside.any():
            layers[lname] = assign_commune(frame, communes)


def assign_commune(points: gpd.GeoDataFrame, communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return a copy of `points` with `commune` set to the code of the commune containing (or nearest) each."""
    joined = gpd.sjoin_nearest(points[[points.geometry.name]], communes[["code", communes.geometry.name]],
                               how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    out = points.copy()
    out["commune"] = joined["code"].reindex(out.index).astype(object)
    return out


def commune_topology(communes: gpd.GeoDataFrame, *, min_area_m2: float = 1.0) -> TopologyReport:
    """Measure overlaps between commune polygons and gaps (holes) inside their union.

    Parameters
    ----------
    communes
        Commune polygons in a projected CRS.
    min_area_m2
        Overlaps and gaps smaller than this are ignored (floating-point noise).
    """
    geoms = np.asarray(communes.geometry.values, dtype=object)
    codes = communes["code"].astype(str).tolist() if "code" in communes else [str(i) for i in range(len(geoms))]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    report = TopologyReport()
    if len(left):
        inter = shapely.intersection(geoms[left], geoms[right])
        areas = shapely.area(inter)
        big = areas > min_area_m2
        report.overlaps = int(big.sum())
        report.overlap_area_km2 = float(areas[big].sum() / 1e6)
        report.overlap_pairs = sorted(((codes[a], codes[b], float(s / 1e6)) for a, b, s in
                                       zip(left[big], right[big], areas[big], strict=True)),
                                      key=lambda t: -t[2])
    union = shapely.union_all(geoms)
    holes = [shapely.Polygon(r) for part in getattr(union, "geoms", [union]) if part.geom_type == "Polygon"
             for r in part.interiors]
    hole_areas = np.array([h.area for h in holes])
    big = hole_areas > min_area_m2
    report.gaps = int(big.sum())
    verdicts = diagnose_holes(communes, [h for h, b in zip(holes, big, strict=True) if b])
    report.unfillable = [str(v.reason) for v in verdicts if not v.fillable]
    report.gap_area_km2 = float(hole_areas[big].sum() / 1e6) if len(hole_areas) else 0.0
    return report


def write_layer(frame: gpd.GeoDataFrame, path: str | Path, *, layer: str | None = None) -> Path:
    """Write a layer atomically (to a temporary name, then moved into place), UTF-8, format from the suffix.

    The file is replaced as a whole: to put several layers into one GeoPackage, use `write_layers`.
    """
    return write_layers({layer: frame}, path)


def write_layers(frames: Mapping[str | None, gpd.GeoDataFrame], path: str | Path) -> Path:
    """Write layers into one file atomically (a GeoPackage holds them all; other formats take one layer).

    Parameters
    ----------
    frames
        Layer name → frame, written in this order (a None name takes the format's default).
    path
        Output file; its suffix gives the format (``.gpkg``, ``.shp``, ``.geojson``, ``.fgb``, ``.kml``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    LayerError
        For an unknown suffix, or several layers for a single-layer format.
    """
    import os
    import tempfile

    path = Path(path)
    driver = {".shp": "ESRI Shapefile", ".gpkg": "GPKG", ".geojson": "GeoJSON", ".fgb": "FlatGeobuf",
              ".kml": "KML", ".json": "GeoJSON"}.get(path.suffix.lower())
    if driver is None:
        raise LayerError(f"{path.name}: unknown output format", [Problem(path.name, "unknown output format")])
    if len(frames) > 1 and driver != "GPKG":
        raise LayerError(f"{path.name}: {driver} holds one layer", [Problem(path.name, "one layer per file")])
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".tmp-") as tmp:
        tmp_path = Path(tmp) / path.name
        for i, (layer, frame) in enumerate(frames.items()):
            out = frame.copy()
            for column in out.columns:
                if str(out[column].dtype) == "boolean":
                    out[column] = (out[column].astype("Int64") if driver == "ESRI Shapefile"
                                   else out[column].astype(object))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                kw = {"SPATIAL_INDEX": "NO"} if driver == "FlatGeobuf" else {}
                out.to_file(tmp_path, driver=driver, layer=layer, engine="pyogrio", encoding="UTF-8",
                            mode="a" if i else "w", **kw)
        for part in Path(tmp).iterdir():
            os.replace(part, path.parent / part.name)
    return path
