"""``ictgis match-codes``: give a commune file from another system the GSO 5-digit commune codes.

Files from other sources carry other codes (7-digit census ids, another ward numbering) or none; the 2025 structure
and the official lists join on GSO codes. The command matches each commune by district and name
(:func:`ictgis.admin.match_gso_codes`, tolerant of the known spelling variants), writes a new file with the GSO
code in ``code`` and the original in ``source_code``, and lists every commune it could not match.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._options import CRS_OPTION

if TYPE_CHECKING:  # geopandas is imported by the commands that need it, not by `ictgis --help`
    import geopandas as gpd

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _quiet(text: str) -> Iterator[None]:
    """Drop log records of ictgis containing `text` (said better by this command) while the block runs."""

    def keep(record: logging.LogRecord) -> bool:
        return text not in record.getMessage()

    loggers = [logging.getLogger(name) for name in ("ictgis._validate", "ictgis.admin")]
    for log in loggers:
        log.addFilter(keep)
    try:
        yield
    finally:
        for log in loggers:
            log.removeFilter(keep)


def _fields(pairs: tuple[str, ...]) -> dict[str, str]:
    fields = {}
    for pair in pairs:
        name, sep, source = pair.partition("=")
        if not sep or not name.strip() or not source.strip():
            raise click.BadParameter(f"{pair!r}: expected NAME=FIELD, e.g. name=TEN_XA", param_hint="--field")
        fields[name.strip()] = source.strip()
    return fields


def _mapping_beside(path: Path) -> dict:
    """Return the ``layers.yaml`` settings of the communes layer when they name this file (else {})."""
    from .. import io
    from .._validate import Collector

    collector = Collector()
    mapping = io.read_mapping(path.parent, collector)
    spec = (mapping.get("layers") or {}).get("communes") or {}
    if not spec.get("file") or (path.parent / spec["file"]).resolve() != path.resolve():
        return {}
    return {"fields": spec.get("fields") or {}, "crs": spec.get("crs") or mapping.get("crs"),
            "encoding": spec.get("encoding") or mapping.get("encoding")}


def read_communes_to_match(path: Path, *, fields: dict[str, str] | None = None, crs: str | None = None,
                           encoding: str | None = None, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a commune file whose codes may be missing or of another system (only `name` is required).

    Problems with codes are left to the matching; every other problem is raised as one `LayerError`.
    """
    from .. import io
    from .._validate import Collector
    from ..layers import COMMUNES

    schema = dataclasses.replace(COMMUNES, fields=tuple(dataclasses.replace(f, required=f.name == "name")
                                                        for f in COMMUNES.fields))
    collector = Collector()
    with warnings.catch_warnings(), _quiet("match-codes"):  # the note advising this very command
        warnings.simplefilter("ignore")
        frame = io.read_layer(path, schema, fields=fields, crs=crs, encoding=encoding, layer=layer,
                              collector=collector)
    collector.problems[:] = [p for p in collector.problems if p.column != "code"]
    collector.raise_if_any(path.name)
    assert frame is not None  # a frame that could not be read is a problem
    if "source_cod" in frame and "source_code" not in frame:  # our own output, as a Shapefile (10-letter names)
        frame = frame.rename(columns={"source_cod": "source_code"})
    return frame


def match_codes_frame(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Match GSO codes, keeping a GSO code the file already has where the name matches nothing (a hand fix).

    A file matched before keeps its `source_code`.
    """
    from .. import admin

    with _quiet("no GSO code for"):  # the command lists them with their rows
        matched = admin.match_gso_codes(frame)
    gso = set(admin.units()["code"])
    if "code" in frame:
        given = frame["code"].astype(object)
        keep = matched["code"].isna() & given.isin(gso)
        matched.loc[keep, "code"] = given[keep]
    if "source_code" in frame:
        matched["source_code"] = frame["source_code"].astype(object)
    return matched


@click.command("match-codes")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Commune file to write (.gpkg, .shp, .geojson, .fgb); never the input file.")
@CRS_OPTION
@click.option("--field", "field_pairs", multiple=True, metavar="NAME=FIELD",
              help="File field of an attribute, e.g. --field name=TEN --field district=HUYEN (repeatable); "
                   "default: layers.yaml beside FILE when it names FILE, then the built-in aliases.")
@click.option("--encoding", default=None, help="Legacy text encoding of a DBF without .cpg (tcvn3, vni, cp1258).")
@click.option("--layer", default=None, help="Layer inside a GeoPackage.")
@click.pass_context
def match_codes(ctx: click.Context, file: Path, out_file: Path, crs: str | None, field_pairs: tuple[str, ...],
                encoding: str | None, layer: str | None) -> None:
    """Give the communes of FILE their GSO 5-digit codes (by district and name); write them to OUT.

    The GSO code goes into `code`, the code FILE had into `source_code`. Exit code 0 when every commune matched,
    2 when some did not (they are listed with their rows; the file is written all the same).
    """
    from .. import admin, io
    from .._errors import LayerError, Problem

    if out_file.resolve() == file.resolve():
        raise LayerError("refusing to overwrite the input", [Problem(out_file.name, "choose another --out")])
    beside = _mapping_beside(file)
    fields = {**beside.get("fields", {}), **_fields(field_pairs)}
    frame = read_communes_to_match(file, fields=fields or None, crs=crs or beside.get("crs"),
                                   encoding=encoding or beside.get("encoding"), layer=layer)
    matched = match_codes_frame(frame)
    io.write_layer(matched, out_file)
    n = len(matched)
    unmatched = [i for i, c in enumerate(matched["code"]) if c is None or c != c]
    click.echo(f"matched {n - len(unmatched)} of {n} communes of {file.name} to GSO codes; wrote {out_file} "
               "(GSO code in `code`, the code it had in `source_code`)")
    codes = matched["code"]
    twice = codes[codes.notna() & codes.duplicated(keep=False)]
    districts = matched.get("district", None)
    if unmatched:
        click.echo(f"{len(unmatched)} commune{'s' if len(unmatched) > 1 else ''} could not be matched to a unit of "
                   f"the official list ({len(admin.units())} units):", err=True)
        for i in unmatched:
            where = f" ({districts.iloc[i]})" if districts is not None and isinstance(districts.iloc[i], str) else ""
            source = matched["source_code"].iloc[i]
            had = f", code {source}" if isinstance(source, str) and source else ""
            click.echo(f"  - row {i + 1}: {matched['name'].iloc[i]}{where}{had}", err=True)
        click.echo(f"To fix: add the GSO code in `code` of {out_file.name} by hand, or correct the name to the "
                   "official spelling and run match-codes again (a unit merged into another has no code of its "
                   "own: merge its polygon into that unit).", err=True)
    if len(twice):
        click.echo("communes matched to the same GSO code (the names or districts are ambiguous):", err=True)
        for code, rows in twice.groupby(twice).groups.items():
            click.echo(f"  - {code}: rows {', '.join(str(int(r) + 1) for r in rows)}", err=True)
    if unmatched or len(twice):
        ctx.exit(2)
    click.echo(f"to use it, replace the communes file with it, or name it in layers.yaml "
               f"(layers: communes: file: {out_file.name}; its fields have ictgis names)")
