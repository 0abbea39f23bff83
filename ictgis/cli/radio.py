"""``ictgis profile``: terrain profile, line of sight and path loss between two points of a DEM.

The profile is sampled bilinearly every DEM pixel (or ``--step-m``) along the straight line, in the DEM's CRS, which
must be projected in metres.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import click
import numpy as np

from .. import radio
from .._errors import LayerError, Problem

logger = logging.getLogger(__name__)


def parse_xy(text: str, option: str = "point") -> tuple[float, float]:
    """Parse "X,Y" into two finite floats.

    Raises
    ------
    LayerError
        When the text is not two comma-separated numbers.
    """
    parts = [p.strip() for p in str(text).split(",")]
    try:
        if len(parts) != 2:
            raise ValueError
        x, y = float(parts[0]), float(parts[1])
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError
    except ValueError:
        raise LayerError("malformed coordinates", [Problem(option, f"{text!r} is not 'X,Y' (two numbers in the "
                                                                    "DEM's CRS, e.g. 512000,2365000)")]) from None
    return x, y


def format_report(report: dict) -> str:
    """Format :func:`profile_report` as a short text table."""
    clearance = report["min_clearance_pct_f1"]
    lines = [
        f"distance          {report['distance_km']:.3f} km ({report['samples']} samples every "
        f"{report['step_m']:.1f} m, {report['crs']})",
        f"line of sight     {'yes' if report['line_of_sight'] else 'no'}",
        "min F1 clearance  " + ("n/a" if clearance is None else
                                f"{clearance:.0f} % of F1 ({report['min_clearance_m']:.1f} m) at "
                                f"{report['min_clearance_at_km']:.3f} km"),
        f"radio             {report['frequency_mhz']:g} MHz, tx {report['tx_height_m']:g} m, rx "
        f"{report['rx_height_m']:g} m above ground, k = {report['k_factor']:.3g}",
        f"{'path loss (dB)':<18}{'alone':>8}{'+ knife edge':>14}{'+ Deygout':>11}{'+ Epstein–Peterson':>20}",
    ]
    diff = report["diffraction_db"]
    columns = (("single_knife_edge", 14), ("deygout", 11), ("epstein_peterson", 20))
    lines.append(f"{'  diffraction':<18}{'':>8}" + "".join(f"{diff[n]:>{w}.1f}" for n, w in columns))
    labels = {"free_space": "free space", "hata_rural": "Hata rural", "hata_suburban": "Hata suburban",
              "hata_urban": "Hata urban"}
    for key, label in labels.items():
        value = report["path_loss_db"][key]
        lines.append(f"  {label:<16}{value:>8.1f}"
                     + "".join(f"{value + diff[n]:>{w}.1f}" for n, w in columns))
    nr = report.get("tr38901_db")
    if nr:
        cells = "  ".join(f"{k} {'n/a' if nr[k] is None else format(nr[k], '.1f')}" for k in ("RMa", "UMa"))
        lines.append(f"  TR 38.901 ({'LOS' if nr['los'] else 'NLOS'}, with the dominant knife edge)  {cells}")
    itm = report.get("itm")
    if itm:
        lines.append(f"  ITM (Longley–Rice, median) {itm['loss_db']:.1f} dB = free space {itm['free_space_db']:.1f}"
                     f" + {itm['excess_db']:.1f} ({itm['region']} region"
                     + (f"; warning: {itm['warning']}" if itm["warning"] else "") + ")")
    return "\n".join(lines)


@click.command(name="profile")
@click.option("--dem", "dem_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Elevation raster (projected CRS, metres).")
@click.option("--from", "start", required=True, help="Transmitter X,Y in the DEM's CRS.")
@click.option("--to", "end", required=True, help="Receiver X,Y in the DEM's CRS.")
@click.option("--tx-height-m", type=click.FloatRange(0, 500), default=radio.DEFAULT_SITE_HEIGHT_M, show_default=True,
              help="Transmitter antenna height above ground.")
@click.option("--rx-height-m", type=click.FloatRange(0, 500), default=1.5, show_default=True,
              help="Receiver antenna height above ground.")
@click.option("--frequency-mhz", type=click.FloatRange(*radio.HATA_FREQUENCY_RANGE_MHZ), default=1800.0,
              show_default=True)
@click.option("--k-factor", type=click.FloatRange(0.1, 1000), default=radio.DEFAULT_K_FACTOR, show_default=True,
              help="Effective earth radius factor (gdal_viewshed's default -cc 0.857 is k = 7/6).")
@click.option("--step-m", type=click.FloatRange(min=0.1), default=None, help="Sample spacing (default: DEM pixel).")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also draw the profile into this PNG.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--model", "models", type=click.Choice(["itm"], case_sensitive=False), multiple=True,
              help="Also compute this model over the path: itm = Longley–Rice through itmlogic (pip install "
                   "'ictgis[itm]').")
def profile_command(dem_path: Path, start: str, end: str, tx_height_m: float, rx_height_m: float,
                    frequency_mhz: float, k_factor: float, step_m: float | None, png_path: Path | None,
                    as_json: bool, models: tuple[str, ...]) -> None:
    """Terrain profile between two points: line of sight, F1 clearance and path loss per model."""
    from .. import link, terrain

    start_xy, end_xy = parse_xy(start, "--from"), parse_xy(end, "--to")
    dem = terrain.read_dem(dem_path)
    distance_m, elevation_m = _sample(dem, dem_path.name, start_xy, end_xy, step_m=step_m)
    options = {"tx_height_m": tx_height_m, "rx_height_m": rx_height_m, "frequency_mhz": frequency_mhz,
               "k_factor": k_factor}
    report = link.profile_report(distance_m, elevation_m, crs=dem.crs.to_string(), **options)
    if "itm" in {m.lower() for m in models}:
        from ..itm import itm_loss_db

        try:
            report["itm"] = itm_loss_db(distance_m, elevation_m, tx_height_m=tx_height_m, rx_height_m=rx_height_m,
                                        frequency_mhz=frequency_mhz)
        except ImportError as exc:
            raise click.UsageError(str(exc)) from exc
    if png_path:
        try:
            link.plot_profile(distance_m, elevation_m, png_path, **options)
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise click.ClickException(str(exc)) from exc
        report["png"] = str(png_path)
        logger.info("wrote %s", png_path)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(format_report(report))
        if png_path:
            click.echo(f"plot              {png_path}")


def _sample(dem, name: str, start_xy: tuple[float, float], end_xy: tuple[float, float], *,
            step_m: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Sample the terrain between two points of the DEM, refusing points outside it, one point and nodata."""
    from .. import terrain

    left, bottom, right, top = dem.bounds
    crs = dem.crs.to_string()
    problems = [Problem(name, f"{label} {x:g},{y:g} lies outside the DEM ({left:g}–{right:g} E, "
                              f"{bottom:g}–{top:g} N, {crs})")
                for label, (x, y) in (("--from", start_xy), ("--to", end_xy))
                if not (left <= x <= right and bottom <= y <= top)]
    if problems:
        raise LayerError("point outside the DEM", problems)
    if start_xy == end_xy:
        raise LayerError("empty profile", [Problem(name, "--from and --to are the same point")])
    distance_m, elevation_m = terrain.profile(dem, *start_xy, *end_xy, step_m=step_m)
    if np.isnan(elevation_m).any():
        at_km = ", ".join(f"{v:.2f}" for v in (distance_m / 1000)[np.isnan(elevation_m)][:5])
        raise LayerError("profile crosses nodata", [Problem(name, f"no elevation at {at_km} km along the line")])
    logger.debug("profile of %d samples every %.1f m over %.0f m", distance_m.size,
                 distance_m[-1] / (distance_m.size - 1), distance_m[-1])
    return distance_m, elevation_m
