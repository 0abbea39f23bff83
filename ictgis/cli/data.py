"""``ictgis validate``, ``ictgis clean`` and ``ictgis demo``: check, repair and generate data folders."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._options import CRS_OPTION, DATA_DIR, data_warnings, load_dataset, store_options


@click.command()
@DATA_DIR
@CRS_OPTION
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (every problem, exit 2 if any).")
@click.pass_context
def validate(ctx: click.Context, data_dir: Path | None, crs: str | None, db: str | None, as_of: str | None,
             as_json: bool) -> None:
    """Check every layer, the DEM, the cells and the land cover of DATA_DIR (or of a store, --db).

    Prints 'valid' or every problem (exit 2).
    """
    from .._errors import IctgisError

    try:
        ds, input_warnings = _load_checked(data_dir, crs, db=db, as_of=as_of)
    except IctgisError as exc:
        if not as_json:
            raise
        problems = [{"file": p.file, "row": p.row, "column": p.column, "id": p.feature_id,
                     "message": p.message, "kind": p.kind, **({"detail": p.detail} if p.params else {})}
                    for p in exc.problems]
        click.echo(json.dumps({"valid": False, "error": exc.summary, "problems": problems},
                              ensure_ascii=False, indent=2))
        ctx.exit(2)
    dem_warnings = _check_dem(ds) + input_warnings
    counts = {name: len(frame) for name, frame in ds.layers.items()}
    topology = ds.topology
    if as_json:
        topo = None if topology is None else {
            "overlaps": topology.overlaps, "overlap_area_km2": round(topology.overlap_area_km2, 3),
            "gaps": topology.gaps, "gap_area_km2": round(topology.gap_area_km2, 3),
            "gaps_clean_cannot_fill": topology.unfillable}
        report = {"valid": True, "layers": counts, "dem": str(ds.dem_path) if ds.dem_path else None,
                  "notes": ds.notes, "warnings": dem_warnings, "topology": topo}
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(f"valid: {ds.data_dir if db is None else ds.sources['communes'].rsplit('#', 1)[0]}")
    for name, n in counts.items():
        click.echo(f"  {name:<13} {n:>6} features  ({Path(ds.sources[name]).name})")
    click.echo(f"  {'dem':<13} {'yes' if ds.dem_path else 'none'}")
    if ds.data_dir is not None and db is None:
        from .. import landcover
        from ..cells import find_cells

        found = find_cells(ds.data_dir, _mapping(ds.data_dir))
        click.echo(f"  {'cells':<13} {found[0].name if found else 'none'}")
        lc_path = landcover.find_landcover(ds.data_dir, landcover.landcover_spec(_mapping(ds.data_dir)))
        click.echo(f"  {'landcover':<13} {lc_path.name if lc_path else 'none'}")
    for note in dem_warnings:  # the notes of the layers were printed as they were read (load_dataset)
        click.echo(f"Warning: {note}", err=True)
    if topology is not None:
        click.echo(f"  {topology}")


def _mapping(data_dir: Path) -> dict:
    from .._validate import Collector
    from ..io import read_mapping

    return read_mapping(Path(data_dir), Collector())


def _load_checked(data_dir: Path | None, crs: str | None, *, db: str | None, as_of: str | None):
    """Load the dataset and check the coverage inputs of its folder (cells, land cover) with its layers.

    Returns the dataset and the inputs' warnings; raises one `LayerError` with the problems of both.
    """
    from .. import coverage, io
    from .._errors import LayerError
    from .._validate import Collector

    extra = Collector()
    folder = None if db is not None else Path(data_dir if data_dir is not None else io.default_data_dir())
    try:
        ds = load_dataset(data_dir, crs, db=db, as_of=as_of)
    except LayerError as exc:
        if folder is None or not folder.is_dir():
            raise
        coverage.check_inputs(folder, site_ids=None, collector=extra)  # the sites of the cells: once bts_sites reads
        if not extra.problems:
            raise
        n = len(exc.problems) + len(extra.problems)
        raise LayerError(f"{n} problems in {folder}:", exc.problems + extra.problems) from None
    if folder is None:  # a store's dataset: the cells and land cover it carries (sites, reading on the DEM)
        label = ds.sources["communes"].rsplit("#", 1)[0] if "communes" in ds.sources else "store"
        warnings = coverage.check_dataset_inputs(ds, collector=extra, label=f"{label}#cells")
    else:
        bts = ds.get("bts_sites")
        sites = set(bts["id"].astype(str)) if bts is not None else set()
        warnings = coverage.check_inputs(folder, site_ids=sites, collector=extra)
    n = len(extra.problems)
    if n:
        where = folder if folder is not None else label
        raise LayerError(f"{n} problem{'s' if n > 1 else ''} in {where}:", extra.problems)
    return ds, warnings


def _check_dem(ds) -> list[str]:
    """Check the DEM of a dataset like ``ictgis coverage`` reads it: CRS, cell size, cover of the communes."""
    if ds.dem_path is None:
        return []
    from ..terrain.dem import check_dem

    communes = ds.get("communes")
    bounds: tuple[float, float, float, float] | None = None
    if communes is not None:
        west, south, east, north = (float(v) for v in communes.total_bounds)
        bounds = (west, south, east, north)
    return check_dem(ds.dem_path, province_bounds=bounds, province_crs=ds.crs)


@click.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the demo layers into.")
@click.option("--seed", type=int, default=2021, show_default=True)
@click.option("--dem-resolution-m", type=float, default=90.0, show_default=True)
@click.option("--communes", "communes_file", type=click.Path(exists=True, path_type=Path), default=None,
              help="Build the other layers on these commune polygons instead of generated ones.")
@click.option("--provinces", type=click.IntRange(1, 36), default=None,
              help="Write a synthetic country of N adjoining provinces instead (national runs; EPSG:3405).")
@CRS_OPTION
def demo(out_dir: Path, seed: int, dem_resolution_m: float, communes_file: Path | None, provinces: int | None,
         crs: str | None) -> None:
    """Generate the synthetic Điện Biên demo province (or a country of N provinces) into OUT."""
    from .. import demo as demo_mod
    from .. import io

    if provinces is not None:
        if communes_file:
            raise click.UsageError("--communes and --provinces cannot be combined")
        from ..demo.country import write_country

        path = write_country(out_dir, provinces=provinces, seed=seed, dem_resolution_m=dem_resolution_m)
        click.echo(f"country of {provinces} provinces written to {path}")
        return
    communes = None
    if communes_file:
        with data_warnings():
            communes = io.read_layer(communes_file, "communes", crs=crs)
    path = demo_mod.write_demo(out_dir, seed=seed, dem_resolution_m=dem_resolution_m, communes=communes)
    click.echo(f"demo written to {path}")


@click.command()
@DATA_DIR
@CRS_OPTION
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Cleaned commune layer to write (.shp, .gpkg, .geojson); never the input file.")
@click.option("--max-gap-km2", type=float, default=None, help="Largest hole treated as a sliver [default: 5].")
def clean(data_dir, crs, out_file, max_gap_km2) -> None:
    """Remove overlaps and fill sliver gaps between commune polygons; write the result to OUT."""
    from .. import cleaning, io
    from .._errors import LayerError, Problem

    ds = load_dataset(data_dir, crs)
    source = Path(ds.sources["communes"]).resolve()
    if out_file.resolve() == source:
        raise LayerError("refusing to overwrite the input", [Problem(out_file.name, "choose another --out")])
    limit = cleaning.MAX_GAP_KM2 if max_gap_km2 is None else max_gap_km2
    cleaned, report = cleaning.clean_communes(ds["communes"], max_gap_km2=limit)
    io.write_layer(cleaned, out_file)
    # load_dataset checks the topology of communes with codes in the working CRS, which a loaded dataset has
    topo = ds.topology if ds.topology is not None else io.commune_topology(ds["communes"])
    click.echo(f"commune polygons: {topo.overlaps} overlapping pairs ({topo.overlap_area_km2:.2f} km²), {topo.gaps} "
               f"gaps ({topo.gap_area_km2:.2f} km²)\nremoved {report.overlaps_removed_km2:.2f} km² of overlaps, filled "
               f"{report.gaps_filled} gaps ({report.gaps_filled_km2:.2f} km²), {report.gaps_left} left; "
               f"wrote {out_file}")
    if report.holes_left:
        many = report.gaps_left > 1
        click.echo(f"{report.gaps_left} gap{'s' if many else ''} left as {'they are' if many else 'it is'}:", err=True)
        for reason in report.holes_left:
            click.echo(f"  - {reason}", err=True)
