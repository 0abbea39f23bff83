"""Attribute mappings and repairs applied while a layer is read, before its schema check.

- ``values:`` of layers.yaml maps the file's words onto schema values; ``set:`` gives every row one value;
- ``join:`` joins a table (CSV or XLSX, e.g. the department's population list) onto a layer by code;
- numbers written with decimal commas (``;``-separated CSV) get decimal points;
- GSO codes that lost their leading zeros in Excel (``3160``) are padded back to their width, with a warning;
- villages without an id get ``<commune code>-<n>``, with a warning.

Every function returns a new frame; inputs are never modified.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from . import tables
from ._validate import Collector
from .layers import LayerSchema, enum_value, fold

logger = logging.getLogger(__name__)

__all__ = ["JOIN_KEYS", "apply_constants", "apply_values", "check_join", "check_values_and_set", "code_text",
           "decimal_numbers", "fill_village_ids", "is_blank", "join_table", "pad_codes"]

JOIN_KEYS = {"file", "sheet", "on", "fields", "encoding"}


def is_blank(value: object) -> bool:
    """Return True for a missing cell: None, NaN, NA or text of only spaces."""
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _key_text(value: object) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return fold(str(value))


def apply_values(frame: pd.DataFrame, schema: LayerSchema, values: dict, collector: Collector, *, label: str,
                 mapping_file: str | None = None) -> pd.DataFrame:
    """Replace file values by schema values as ``values:`` of layers.yaml says.

    Parameters
    ----------
    frame
        Layer with schema attribute names.
    schema
        Its schema.
    values
        Attribute → {file value: schema value}. File values match without regard to case, diacritics' Unicode form
        (NFC/NFD) and spaces around them; values not named keep theirs (built-in terms still apply).
    collector
        Where problems go (an attribute the file does not have).
    label
        File name for messages.
    mapping_file
        Name of the mapping file, for messages.

    Returns
    -------
    pandas.DataFrame
    """
    out = frame.copy()
    for attr, table in (values or {}).items():
        if attr not in out:
            collector.add(mapping_file or label, f"values are given for {attr} but {label} has no {attr} field",
                          column=f"layers.{schema.name}.values.{attr}")
            continue
        spec = schema.field(attr)
        lookup = {}
        for source, target in table.items():
            if spec.dtype == "enum":
                target = enum_value(target, spec, schema.name) or target
            lookup[_key_text(source)] = target
        out[attr] = out[attr].map(lambda v, lk=lookup: v if is_blank(v) else lk.get(_key_text(v), v))
    return out


def apply_constants(frame: pd.DataFrame, constants: dict, *, label: str) -> pd.DataFrame:
    """Give every row the value of ``set:`` (attribute → value), replacing what the file had."""
    out = frame.copy()
    for attr, value in (constants or {}).items():
        if attr in out:
            logger.info("%s: %s set to %r for every row (layers.yaml)", label, attr, value)
        out[attr] = [value] * len(out)
    return out


def decimal_numbers(frame: pd.DataFrame, schema: LayerSchema) -> pd.DataFrame:
    """Rewrite decimal commas and thousands dots of the numeric attributes of a ``;``-separated CSV."""
    out = frame.copy()
    for spec in schema.fields:
        if spec.dtype in ("int", "float") and spec.name in out:
            out[spec.name] = out[spec.name].map(
                lambda v: tables.parse_decimal(v, decimal_comma=True) if isinstance(v, str) else v)
    return out


def code_text(value: object) -> object:
    """Return a code as text: whole numbers without ``.0`` (Excel and DBF numbers), text stripped; blanks None."""
    if is_blank(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return value
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else value
    return str(value).strip()


def pad_codes(frame: pd.DataFrame, schema: LayerSchema, collector: Collector, *, label: str) -> pd.DataFrame:
    """Write GSO codes as text and give back the leading zeros Excel strips (``3160`` → ``03160``).

    Only attributes with a fixed width (`Field.code_width`) are padded, and only all-digit values shorter than it,
    for which the padded code is the only reading. Each padded attribute is reported once, as a warning.
    """
    out = frame.copy()
    for spec in schema.fields:
        if not spec.code_width or spec.name not in out:
            continue
        texts = pd.Series([code_text(v) for v in out[spec.name].tolist()], index=out.index, dtype=object)
        short = texts.map(lambda v, w=spec.code_width: isinstance(v, str) and v.isdigit() and len(v) < w)
        if short.any():
            first = texts[short].iloc[0]
            collector.note(f"{label}: {int(short.sum())} {spec.name} values had lost their leading zeros (Excel "
                           f"stores codes as numbers): {first} → {first.zfill(spec.code_width)}, padded to "
                           f"{spec.code_width} digits")
            texts = texts.where(~short, texts[short].map(lambda v, w=spec.code_width: v.zfill(w)))
        out[spec.name] = texts.astype(object)
    return out


def fill_village_ids(frame: pd.DataFrame, collector: Collector, *, label: str) -> pd.DataFrame:
    """Give villages without an id the id ``<commune code>-<n>`` (n counts per commune, in file order).

    Rows without a commune code keep no id (the missing commune is reported by the schema check).
    """
    out = frame.copy()
    ids: list[object] = [code_text(v) for v in out["id"].tolist()] if "id" in out else [None] * len(out)
    missing = [i for i, v in enumerate(ids) if is_blank(v)]
    if not missing or "commune" not in out:
        return out
    taken = {str(v) for v in ids if not is_blank(v)}
    counter: dict[str, int] = defaultdict(int)
    communes = out["commune"].tolist()
    given = []
    for i in missing:
        commune = communes[i]
        if is_blank(commune):
            continue
        while True:
            counter[commune] += 1
            candidate = f"{commune}-{counter[commune]}"
            if candidate not in taken:
                break
        ids[i] = candidate
        taken.add(candidate)
        given.append(candidate)
    if given:
        collector.note(f"{label}: {len(given)} villages have no id; they are given <commune code>-<n> ids "
                       f"({', '.join(given[:3])}{' …' if len(given) > 3 else ''})")
    out["id"] = pd.Series(ids, index=out.index, dtype=object)
    return out


def join_table(frame: pd.DataFrame, schema: LayerSchema, join: dict, collector: Collector, *, base: Path,
               label: str, encoding: str | None, rename) -> pd.DataFrame:
    """Join a table's columns onto a layer by an attribute (the code by default).

    Parameters
    ----------
    frame
        Layer with schema attribute names.
    schema
        Its schema.
    join
        ``file`` (CSV or XLSX, relative to `base`), optional ``sheet``, ``on`` (attribute, default the layer's
        id), ``fields`` (schema name → table column) and ``encoding``.
    collector
        Where problems go: a table without the key column, duplicated keys, keys that match no feature.
    base
        Folder of the layer file.
    label
        Layer file name for messages.
    encoding
        Text encoding of a CSV table when the join does not state one.
    rename
        ``rename(table, schema, fields, label)`` mapping table columns onto schema names (`io` passes its own).

    Returns
    -------
    pandas.DataFrame
        The layer with the table's attributes; the table's values win where both have one.
    """
    path = base / str(join["file"])
    tlabel = path.name
    if not path.exists():
        collector.add(tlabel, f"table to join onto {label} not found")
        return frame
    table = tables.read_table(path, encoding=join.get("encoding") or encoding, sheet=join.get("sheet"),
                              collector=collector, label=tlabel)
    if table is None:
        return frame
    data = rename(table.frame, schema, join.get("fields") or {}, tlabel)
    if table.decimal_comma:
        data = decimal_numbers(data, schema)
    on = join.get("on") or schema.id_field
    for where, part in ((tlabel, data), (label, frame)):
        if on not in part:
            collector.add(where, f"no {on} column to join {tlabel} onto {label}", column=on)
            return frame
    data = pad_codes(data, schema, collector, label=tlabel)
    left = pad_codes(frame[[on]], schema, Collector(), label=label)[on]  # padding the layer is reported later
    keys = data[on]
    dup = keys.duplicated(keep="first") & keys.notna()
    for i in np.flatnonzero(dup.to_numpy()):
        collector.add(tlabel, f"{on} {keys.iloc[i]!r} is in the table twice", row=int(i) + 1, column=on)
    known = set(left.dropna())
    for n, i in enumerate(np.flatnonzero((keys.notna() & ~keys.isin(known)).to_numpy())):
        if n >= 20:
            collector.add(tlabel, "… and more rows that match no feature", column=on)
            break
        collector.add(tlabel, f"{on} {keys.iloc[i]!r} matches no feature of {label}", row=int(i) + 1, column=on)
    data = data[keys.notna() & ~dup].set_index(on)
    out = frame.copy()
    matched = left.isin(data.index)
    for column in data.columns:
        joined = left.map(data[column]).astype(object)
        use = matched & ~joined.map(is_blank)  # a blank cell keeps the layer's value
        base_values = out[column].astype(object) if column in out else pd.Series(None, index=out.index, dtype=object)
        out[column] = base_values.where(~use, joined)
    if (~matched).any():
        collector.note(f"{label}: {int((~matched).sum())} features have no row in {tlabel} "
                       f"(e.g. {on} {left[~matched].iloc[0]!r})")
    logger.info("%s: %d rows of %s joined on %s", label, int(matched.sum()), tlabel, on)
    return out


# ------------------------------------------------------------------------------------------ layers.yaml checks
def check_values_and_set(spec: dict, schema: LayerSchema, collector: Collector, *, file: str) -> None:
    """Check `values:` (attribute → {file value: value}) and `set:` (attribute → constant) of a layer."""
    where = f"layers.{schema.name}"
    known = {f.name: f for f in schema.fields}
    for key in ("values", "set"):
        given = spec.get(key)
        if given is None:
            continue
        if not isinstance(given, dict):
            collector.add(file, f"'{key}' must map attributes of {schema.name} to "
                          + ("{file value: value}" if key == "values" else "one value"), column=f"{where}.{key}")
            spec[key] = {}
            continue
        for attr, table in list(given.items()):
            column = f"{where}.{key}.{attr}"
            if attr not in known:
                collector.add(file, f"'{attr}' is not an attribute of {schema.name} (known: "
                              f"{', '.join(sorted(known))})", column=column)
                given.pop(attr)
                continue
            if key == "values" and not isinstance(table, dict):
                collector.add(file, "expected {file value: value}", column=column)
                given.pop(attr)
                continue
            targets = table.items() if key == "values" else [(None, table)]
            for source, target in targets:
                if isinstance(target, (dict, list)):
                    collector.add(file, f"{target!r} is not one value", column=column)
                elif known[attr].dtype == "enum" and enum_value(target, known[attr], schema.name) is None:
                    what = f" (for {source!r})" if source is not None else ""
                    collector.add(file, f"{target!r}{what} is not a {attr} value: expected one of "
                                  f"{', '.join(known[attr].values)}", column=column)


def check_join(spec: dict, schema: LayerSchema, collector: Collector, *, file: str) -> None:
    """Check `join:` of a layer: a table file, its sheet, the attribute it is joined on and its fields."""
    join = spec.get("join")
    if join is None:
        return
    column = f"layers.{schema.name}.join"
    if isinstance(join, str):
        join = spec["join"] = {"file": join}
    if not isinstance(join, dict) or not join.get("file"):
        collector.add(file, "'join' must name a table: {file: TABLE.xlsx, on: code, fields: {...}}", column=column)
        spec["join"] = None
        return
    for key in set(join) - JOIN_KEYS:
        collector.add(file, f"unknown key '{key}' (known: {', '.join(sorted(JOIN_KEYS))})", column=f"{column}.{key}")
    on = join.get("on") or schema.id_field
    known = {f.name for f in schema.fields}
    if on not in known:
        collector.add(file, f"'on' must be an attribute of {schema.name} (known: {', '.join(sorted(known))})",
                      column=f"{column}.on")
        spec["join"] = None
        return
    join["on"] = on
    fields = join.get("fields") or {}
    if not isinstance(fields, dict):
        collector.add(file, "'fields' must map schema names to table column names", column=f"{column}.fields")
        join["fields"] = {}
    else:
        for key in set(fields) - known:
            collector.add(file, f"'{key}' is not an attribute of {schema.name}", column=f"{column}.fields.{key}")
    if join.get("encoding") is not None and tables.normalize_encoding(join["encoding"]) is None:
        collector.add(file, f"unknown encoding {join['encoding']!r} (known: {', '.join(tables.CSV_ENCODINGS)})",
                      column=f"{column}.encoding")
