"""Collect every problem in the input, then raise once.

A `Collector` gathers `Problem`s (file, row, column, message) while layers are read and checked; `raise_if_any`
raises one `LayerError` listing them all. Schema checks coerce attribute values to their schema types and record
each value that cannot be coerced; geometry checks repair what `make_valid` can repair (with a `RepairWarning`)
and refuse the rest.
"""

from __future__ import annotations

import logging
import math
import shlex
import unicodedata
import warnings
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import LayerError, Problem, RepairWarning
from .layers import FALSE_WORDS, TRUE_WORDS, VALUE_ALIASES, VALUE_TERMS, LayerSchema, fold, parse_tech

logger = logging.getLogger(__name__)

MAX_LISTED_PER_KIND = 20


@dataclass
class Collector:
    """Gathers problems and repair notes across all layers of a data folder."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, file: str, message: str, *, row: int | None = None, column: str | None = None,
            feature_id: object = None, kind: str | None = None, **params: object) -> None:
        """Record one problem (`kind` and `params`: see `ictgis._errors.PROBLEM_KINDS`)."""
        fid = None if feature_id is None or (isinstance(feature_id, float) and math.isnan(feature_id)) \
            else str(feature_id)
        self.problems.append(Problem(file=file, message=message, row=row, column=column, feature_id=fid,
                                     kind=kind, params=tuple(params.items())))

    def note(self, message: str) -> None:
        """Record a repair made to the input (reported as a `RepairWarning`, which callers show or log)."""
        logger.debug(message)
        warnings.warn(message, RepairWarning, stacklevel=3)
        self.notes.append(message)

    def raise_if_any(self, what: str = "the input data") -> None:
        """Raise one LayerError listing every problem, if there are any."""
        if self.problems:
            n = len(self.problems)
            raise LayerError(f"{n} problem{'s' if n > 1 else ''} in {what}:", self.problems)


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _to_float(value: Any) -> float:
    """Read a cell of any type as a number (text may use a decimal comma and spaces); ValueError when it is none."""
    try:
        if isinstance(value, str):
            return float(value.strip().replace("\u00a0", "").replace(" ", "").replace(",", "."))
        return float(value)
    except (TypeError, ValueError):
        raise ValueError from None


def _coerce_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, (int, np.integer)):
        return int(value)
    number = _to_float(value)
    if not math.isfinite(number) or number != round(number):
        raise ValueError
    return int(round(number))


def _coerce_float(value: object) -> float:
    number = _to_float(value)
    if not math.isfinite(number):
        raise ValueError
    return number


def _coerce_bool(value: object) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        if value in (0, 1):
            return bool(value)
        raise ValueError
    word = fold(str(value))
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError


def check_attributes(frame: gpd.GeoDataFrame, schema: LayerSchema, *, file: str, collector: Collector
                     ) -> gpd.GeoDataFrame:
    """Coerce attributes to the schema's types, recording every value that cannot be coerced.

    Parameters
    ----------
    frame
        Layer already renamed to schema attribute names, index 0..n-1 in file order.
    schema
        Its schema.
    file
        File name used in problem messages.
    collector
        Where problems go.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame with typed columns (nullable where the attribute is optional).
    """
    out = frame.copy()
    # the id column's values (as .iloc gives them, without its per-row cost)
    ids = out[schema.id_field].array if schema.id_field and schema.id_field in out else None
    for spec in schema.fields:
        if spec.name not in out.columns:
            if spec.required:
                collector.add(file, f"required attribute '{spec.name}' ({spec.description}) is missing",
                              column=spec.name, kind="missing_attribute", attribute=spec.name)
            continue
        raw = out[spec.name].tolist()
        values: list[object] = []
        bad = 0
        for i, value in enumerate(raw):
            fid = ids[i] if ids is not None else None
            if _is_missing(value):
                if spec.required:
                    collector.add(file, "missing value", row=i + 1, column=spec.name, feature_id=fid,
                                  kind="missing_value")
                values.append(None)
                continue
            try:
                coerced = _coerce(value, spec.dtype, spec.values, f"{spec.name}@{schema.name}")
                if spec.name == "tech" and schema.name == "bts_sites":
                    coerced = ",".join(parse_tech(coerced))
                    if not coerced:
                        raise ValueError("no technology")
                values.append(coerced)
            except ValueError as exc:
                bad += 1
                if bad <= MAX_LISTED_PER_KIND:
                    expected = _expected(spec, schema.name)
                    detail = f" ({exc})" if str(exc) else ""
                    collector.add(file, f"{spec.name} is {value!r}, expected {expected}{detail}", row=i + 1,
                                  column=spec.name, feature_id=fid, kind="bad_value", value=str(value),
                                  expected=spec.dtype if spec.dtype != "enum" else ", ".join(spec.values))
                values.append(None)
        if bad > MAX_LISTED_PER_KIND:
            collector.add(file, f"… and {bad - MAX_LISTED_PER_KIND} more bad values", column=spec.name)
        out[spec.name] = _typed_series(values, spec.dtype, out.index)
    return out


def _expected(spec, layer: str) -> str:
    if spec.name == "tech":
        return "technologies from 2G, 3G, 4G, 5G separated by commas"
    if spec.dtype == "enum":
        terms = VALUE_TERMS.get(f"{spec.name}@{layer}", {})
        words = [w for v in spec.values for w in terms.get(v, ())[:2] if not w.isascii()]
        vietnamese = f" or in Vietnamese {', '.join(words)}" if words else ""
        return (f"one of {', '.join(spec.values)}{vietnamese} (other values: map them with `values:` in "
                "layers.yaml)")
    return {"int": "a whole number ≥ 0", "float": "a number", "bool": "yes/no (1/0, Có/Không)",
            "str": "text"}.get(spec.dtype, spec.dtype)


def _coerce(value: object, dtype: str, allowed: tuple[str, ...], alias_key: str) -> object:
    if dtype == "str":
        if isinstance(value, float) and value == round(value):
            value = int(value)
        return unicodedata.normalize("NFC", str(value)).strip()
    if dtype == "int":
        number = _coerce_int(value)
        if number < 0:
            raise ValueError("negative")
        return number
    if dtype == "float":
        return _coerce_float(value)
    if dtype == "bool":
        return _coerce_bool(value)
    if dtype == "enum":
        word = fold(str(value))
        mapped = VALUE_ALIASES.get(alias_key, {}).get(word, word.replace(" ", "_"))
        if mapped not in allowed:
            raise ValueError
        return mapped
    raise AssertionError(dtype)


def _typed_series(values: list[object], dtype: str, index: pd.Index) -> pd.Series:
    if dtype == "int":
        return pd.Series(values, index=index, dtype="Int64")
    if dtype == "float":
        return pd.Series(values, index=index, dtype="Float64")
    if dtype == "bool":
        return pd.Series(values, index=index, dtype="boolean")
    return pd.Series(values, index=index, dtype="object")


def check_unique(frame: gpd.GeoDataFrame, column: str, *, file: str, collector: Collector) -> None:
    """Record every duplicated value of an id column (each row after the first)."""
    if column not in frame:
        return
    values = frame[column]
    dup = values.duplicated(keep="first") & values.notna()
    for n, (i, value) in enumerate(values[dup].items()):
        if n >= MAX_LISTED_PER_KIND:
            collector.add(file, f"… and {int(dup.sum()) - n} more duplicated ids", column=column)
            break
        first = int(np.flatnonzero((values == value).to_numpy())[0]) + 1
        collector.add(file, f"duplicate id {value!r} (first at row {first})", row=int(i) + 1, column=column,
                      feature_id=value, kind="duplicate_id", value=str(value), first_row=first)


GEOMETRY_FAMILIES = {"Point": ("Point", "MultiPoint"), "LineString": ("LineString", "MultiLineString"),
                     "Polygon": ("Polygon", "MultiPolygon")}
#: Plural words for the geometry families, for messages.
GEOMETRY_WORDS = {"Point": "points", "LineString": "lines", "Polygon": "polygons"}
#: Share of a layer's geometries that must be of another family for the layer (not each row) to be the problem.
WRONG_FAMILY_SHARE = 0.5


def geometry_family(geom_type: str) -> str | None:
    """Return the family (``Point``, ``LineString``, ``Polygon``) of a geometry type, None for collections."""
    return next((family for family, types in GEOMETRY_FAMILIES.items() if geom_type in types), None)


def check_geometry_family(frame: gpd.GeoDataFrame, schema: LayerSchema, *, file: str, collector: Collector) -> bool:
    """Say once when a whole layer has the wrong kind of geometry (points uploaded as communes).

    When at least `WRONG_FAMILY_SHARE` of the non-empty geometries are of another family than the schema's, the
    file is not a file of that layer: one problem of kind ``wrong_geometry_type`` ("communes need polygons, this
    file has points") replaces the row-by-row problems, which would all say the same thing.

    Returns
    -------
    bool
        False when the layer has the wrong geometry type (the caller checks nothing more in it).
    """
    geoms = np.asarray(frame.geometry.values, dtype=object)
    present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if not len(present):
        return True
    families = pd.Series([geometry_family(g.geom_type) or g.geom_type for g in present])
    wrong = families[families != schema.geometry]
    if len(wrong) < WRONG_FAMILY_SHARE * len(present) or wrong.empty:
        return True
    found = str(wrong.mode().iloc[0])
    found_word = GEOMETRY_WORDS.get(found, found)
    needed = GEOMETRY_WORDS[schema.geometry]
    collector.add(file, f"{schema.name} need {needed}, this file has {found_word} ({len(wrong)} of {len(present)} "
                  f"features): is it the file of another layer?", column="geometry", kind="wrong_geometry_type",
                  layer=schema.name, found=found, expected=schema.geometry, count=len(wrong), total=len(present))
    return False


def check_geometries(frame: gpd.GeoDataFrame, schema: LayerSchema, *, file: str, collector: Collector
                     ) -> gpd.GeoDataFrame:
    """Check geometry presence, type and validity; repair invalid ones with make_valid.

    Single-part multi-points become points. Invalid polygons and lines are repaired (and reported as a repair);
    geometries that are missing, empty, of the wrong type, or not repairable are problems.
    """
    out = frame.copy()
    geoms = np.asarray(out.geometry.values, dtype=object)
    # the id column's values (as .iloc gives them, without its per-row cost)
    ids = out[schema.id_field].array if schema.id_field and schema.id_field in out else None
    allowed = GEOMETRY_FAMILIES[schema.geometry]
    repaired = 0
    for i, geom in enumerate(geoms):
        fid = ids[i] if ids is not None else None
        if geom is None or shapely.is_empty(geom):
            collector.add(file, "geometry is missing or empty", row=i + 1, column="geometry", feature_id=fid,
                          kind="missing_geometry")
            continue
        if geom.geom_type == "MultiPoint" and len(geom.geoms) == 1:
            geom = geom.geoms[0]
            geoms[i] = geom
        if geom.geom_type not in allowed:
            collector.add(file, f"geometry is a {geom.geom_type}, expected a {schema.geometry}", row=i + 1,
                          column="geometry", feature_id=fid, kind="geometry_type", found=geom.geom_type,
                          expected=schema.geometry)
            continue
        if schema.geometry == "Point" and geom.geom_type == "MultiPoint":
            collector.add(file, f"geometry is a MultiPoint of {len(geom.geoms)} points, expected one point",
                          row=i + 1, column="geometry", feature_id=fid)
            continue
        if not shapely.is_valid(geom):
            reason = shapely.is_valid_reason(geom)
            fixed = shapely.make_valid(geom)
            fixed = _keep_family(fixed, allowed)
            if fixed is None or shapely.is_empty(fixed) or not shapely.is_valid(fixed):
                collector.add(file, f"invalid geometry ({reason}) that cannot be repaired", row=i + 1,
                              column="geometry", feature_id=fid, kind="invalid_geometry", reason=reason)
                continue
            geoms[i] = fixed
            repaired += 1
            if repaired <= MAX_LISTED_PER_KIND:
                collector.note(f"{file} row {i + 1}: invalid geometry ({reason}) repaired with make_valid")
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))
    return out


def _keep_family(geom, allowed: tuple[str, ...]):
    if geom.geom_type in allowed:
        return geom
    if geom.geom_type == "GeometryCollection":
        parts = [g for g in geom.geoms if g.geom_type in allowed]
        if not parts:
            return None
        merged = shapely.union_all(parts)
        return merged if merged.geom_type in allowed else None
    return None


def match_codes_hint(file: str, *, detail: str = "") -> str:
    """Return the advice for commune codes that are not GSO codes: the ``ictgis match-codes`` command on `file`.

    Parameters
    ----------
    file
        The communes file (or its label ``file.gpkg:layer``).
    detail
        Said in brackets after "codes are not GSO 5-digit commune codes" (how many, an example).

    Examples
    --------
    >>> match_codes_hint("xa.geojson")
    'codes are not GSO 5-digit commune codes: run `ictgis match-codes xa.geojson --out xa_gso.geojson`'
    """
    name = file.split(":")[0]  # a GeoPackage label "file.gpkg:layer"
    stem, _, suffix = name.rpartition(".")
    suffix = suffix.lower() if stem and suffix.lower() in ("shp", "gpkg", "geojson", "fgb") else "gpkg"
    out = f"{stem or name}_gso.{suffix}"
    detail = f" ({detail})" if detail else ""
    return f"codes are not GSO 5-digit commune codes{detail}: run `ictgis match-codes {shlex.quote(name)} --out " \
           f"{shlex.quote(out)}`"


def check_gso_codes(frame: gpd.GeoDataFrame, *, file: str, collector: Collector) -> None:
    """Check that commune codes are GSO 5-digit codes; say once per file how to get them (``ictgis match-codes``).

    Missing codes are one problem for the file (replacing the row-by-row "missing value" problems of `code`);
    codes of another numbering (7-digit census ids …) are a note: the 2019 indicators work with any unique codes,
    while the 2025 structure and the official lists join on GSO codes.
    """
    if "code" not in frame:
        return
    codes = frame["code"].tolist()
    missing = [i + 1 for i, c in enumerate(codes) if _is_missing(c)]
    if missing:
        collector.problems[:] = [p for p in collector.problems if not (
            p.file == file and p.column == "code" and p.message == "missing value")]
        rows = ", ".join(map(str, missing[:MAX_LISTED_PER_KIND]))
        rows = f"row {rows}" if len(missing) == 1 else f"rows {rows}" + (" …" * (len(missing) > MAX_LISTED_PER_KIND))
        matched = "source_code" in frame or "source_cod" in frame  # written by match-codes: names did not match
        advice = ("they matched no unit of the official list: add each GSO code in `code` by hand, or correct "
                  "the name and run `ictgis match-codes` again") if matched else match_codes_hint(file)
        collector.add(file, f"{len(missing)} of {len(codes)} communes have no code ({rows}); {advice}",
                      column="code")
    odd = [c for c in codes if not _is_missing(c) and not (len(str(c)) == 5 and str(c).isdigit())]
    if odd:
        detail = f"{len(odd)} of {len(codes)}, e.g. {odd[0]!r}"
        collector.note(f"{file}: {match_codes_hint(file, detail=detail)}; the 2025 structure and the official "
                       "lists join on GSO codes")
