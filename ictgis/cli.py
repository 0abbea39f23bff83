"""The ``ictgis`` command line: one click group, one command per task.

Errors from the IctgisError family print as one clear message and exit with code 2; ``-v`` shows tracebacks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from . import __version__
from ._errors import IctgisError

logger = logging.getLogger(__name__)


class IctgisGroup(click.Group):
    """A click group that turns IctgisError into a clear message and exit code 2."""

    def invoke(self, ctx: click.Context):
        """Run the command, reporting IctgisError without a traceback (unless -v)."""
        try:
            return super().invoke(ctx)
        except IctgisError as exc:
            if ctx.obj and ctx.obj.get("verbose", 0) > 0:
                logger.exception("error")
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)


def _configure_logging(verbose: int, quiet: int) -> None:
    level = logging.WARNING - 10 * verbose + 10 * quiet
    logging.basicConfig(level=max(logging.DEBUG, level), format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.captureWarnings(True)


@click.group(cls=IctgisGroup)
@click.option("-v", "--verbose", count=True, help="More output (repeat for debug); tracebacks on errors.")
@click.option("-q", "--quiet", count=True, help="Less output.")
@click.version_option(__version__, prog_name="ictgis")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: int) -> None:
    """Ictgis: GIS planning for a provincial Department of Information and Communications."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    _configure_logging(verbose, quiet)


@contextlib.contextmanager
def fraction_progress(label: str) -> Iterator[Callable[[float, str], None]]:
    """Yield a ``progress(fraction, message)`` callback drawing a click progress bar on stderr."""
    with click.progressbar(length=100, label=label, file=sys.stderr) as bar:
        done = [0]

        def progress(fraction: float, _message: str) -> None:
            step = int(fraction * 100) - done[0]
            if step > 0:
                bar.update(step)
                done[0] += step

        yield progress


DATA_DIR = click.argument("data_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
CRS_OPTION = click.option("--crs", default=None, help="CRS of files that have none, e.g. EPSG:9205.")


def _load(data_dir: Path | None, crs: str | None):
    from . import io

    return io.load(data_dir, crs=crs)


@main.command()
@DATA_DIR
@CRS_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def validate(data_dir: Path | None, crs: str | None, as_json: bool) -> None:
    """Check every layer of DATA_DIR; print 'valid' or one list of every problem."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = _load(data_dir, crs)
    counts = {name: len(frame) for name, frame in ds.layers.items()}
    topology = ds.topology
    if as_json:
        topo = None if topology is None else {
            "overlaps": topology.overlaps, "overlap_area_km2": round(topology.overlap_area_km2, 3),
            "gaps": topology.gaps, "gap_area_km2": round(topology.gap_area_km2, 3)}
        report = {"valid": True, "layers": counts, "dem": str(ds.dem_path) if ds.dem_path else None,
                  "notes": ds.notes, "topology": topo}
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(f"valid: {ds.data_dir}")
    for name, n in counts.items():
        click.echo(f"  {name:<13} {n:>6} features  ({Path(ds.sources[name]).name})")
    click.echo(f"  {'dem':<13} {'yes' if ds.dem_path else 'none'}")
    for note in ds.notes:
        click.echo(f"  repaired: {note}")
    if topology is not None:
        click.echo(f"  {topology}")


@main.command()
@DATA_DIR
@CRS_OPTION
@click.option("--structure", type=click.Choice(["2019", "2025"]), default="2019", show_default=True,
              help="Administrative structure: 2019 (10 districts, 129 units) or 2025 (45 communes).")
@click.option("--postal-kinds", default=None, help="Post office kinds counted as service points, comma-separated "
              "(default all).")
@click.option("--area-km2", type=float, default=None, help="Official province area for the service radius.")
@click.option("--json", "as_json", is_flag=True, help="Print the full JSON contract.")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a Vietnamese XLSX table.")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--coverage", "with_coverage", is_flag=True,
              help="Also compute 3G/4G populated-area coverage from the DEM and the sites (takes seconds).")
def indicators(data_dir, crs, structure, postal_kinds, area_km2, as_json, xlsx, lang, with_coverage) -> None:
    """Print the department's indicator table for DATA_DIR (default: the embedded demo)."""
    import warnings

    from . import indicators as ind

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = _load(data_dir, crs)
    kinds = tuple(k.strip() for k in postal_kinds.split(",") if k.strip()) if postal_kinds else None
    result = ind.compute(ds, structure=structure, postal_kinds=kinds, area_km2=area_km2)
    if with_coverage:
        from . import coverage

        result["mobile"].update(coverage.coverage_indicators(ds))
    if xlsx:
        ind.write_xlsx(result, xlsx)
        logger.info("wrote %s", xlsx)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        click.echo(ind.format_table(result, lang=lang))


@main.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the demo layers into.")
@click.option("--seed", type=int, default=2021, show_default=True)
@click.option("--dem-resolution-m", type=float, default=90.0, show_default=True)
@click.option("--communes", "communes_file", type=click.Path(exists=True, path_type=Path), default=None,
              help="Build the other layers on these commune polygons instead of generated ones.")
@CRS_OPTION
def demo(out_dir: Path, seed: int, dem_resolution_m: float, communes_file: Path | None, crs: str | None) -> None:
    """Generate the synthetic Điện Biên demo province into OUT."""
    from . import demo as demo_mod
    from . import io

    communes = io.read_layer(communes_file, "communes", crs=crs) if communes_file else None
    path = demo_mod.write_demo(out_dir, seed=seed, dem_resolution_m=dem_resolution_m, communes=communes)
    click.echo(f"demo written to {path}")


@main.command()
@DATA_DIR
@CRS_OPTION
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Cleaned commune layer to write (.shp, .gpkg, .geojson); never the input file.")
@click.option("--max-gap-km2", type=float, default=5.0, show_default=True, help="Largest hole treated as a sliver.")
def clean(data_dir, crs, out_file, max_gap_km2) -> None:
    """Remove overlaps and fill sliver gaps between commune polygons; write the result to OUT."""
    import warnings

    from . import cleaning, io
    from ._errors import LayerError, Problem

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = _load(data_dir, crs)
    source = Path(ds.sources["communes"]).resolve()
    if out_file.resolve() == source:
        raise LayerError("refusing to overwrite the input", [Problem(out_file.name, "choose another --out")])
    cleaned, report = cleaning.clean_communes(ds["communes"], max_gap_km2=max_gap_km2)
    io.write_layer(cleaned, out_file)
    click.echo(f"{ds.topology}\nremoved {report.overlaps_removed_km2:.2f} km² of overlaps, filled "
               f"{report.gaps_filled} gaps ({report.gaps_filled_km2:.2f} km²), {report.gaps_left} left; "
               f"wrote {out_file}")


# Command families in their own modules register themselves on `main`.
from . import cli_coverage, cli_fiber, cli_postal, cli_radio, cli_scenario, cli_terrain, cli_web  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover
    main()
