"""``ictgis profile``: terrain profile, line of sight and path loss between two points of a DEM.

The profile is sampled bilinearly every DEM pixel (or ``--step-m``) along the straight line, in the DEM's CRS, which
must be projected in metres. Registered on the ``ictgis`` click group by importing this module.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from . import radio
from ._errors import CRSError, LayerError, Problem
from .cli import main

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class TerrainProfile:
    """Terrain elevations sampled along a straight line.

    Attributes
    ----------
    distance_m, elevation_m
        Distance of each sample from the start (m) and the terrain elevation there (m).
    step_m
        Spacing of the samples (m).
    crs
        CRS of the DEM, as a string (e.g. "EPSG:9205").
    """

    distance_m: np.ndarray
    elevation_m: np.ndarray
    step_m: float
    crs: str


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


def sample_profile(dem_path: Path | str, start_xy: tuple[float, float], end_xy: tuple[float, float], *,
                   step_m: float | None = None) -> TerrainProfile:
    """Sample a DEM along the straight line from `start_xy` to `end_xy` (coordinates in the DEM's CRS).

    Parameters
    ----------
    dem_path
        Single-band elevation raster in a projected CRS (metres).
    start_xy, end_xy
        End points of the line.
    step_m
        Sample spacing; default the smaller pixel size of the DEM.

    Returns
    -------
    TerrainProfile
        Bilinearly interpolated elevations at both ends and every `step_m` between.

    Raises
    ------
    CRSError
        When the DEM has no CRS or a geographic one.
    LayerError
        When a point lies outside the DEM, the points coincide, or the line crosses nodata.
    """
    import rasterio
    from rasterio.windows import Window
    from scipy.ndimage import map_coordinates

    name = Path(dem_path).name
    with rasterio.open(dem_path) as src:
        if src.crs is None:
            raise CRSError(f"{name}: the DEM has no CRS")
        if src.crs.is_geographic:
            raise CRSError(f"{name}: the DEM is in a geographic CRS ({src.crs}); profiles need metres (e.g. "
                           "EPSG:9205)")
        crs = src.crs.to_string()
        problems = []
        left, bottom, right, top = src.bounds
        for label, (x, y) in (("--from", start_xy), ("--to", end_xy)):
            if not (left <= x <= right and bottom <= y <= top):
                problems.append(Problem(name, f"{label} {x:g},{y:g} lies outside the DEM ({left:g}–{right:g} E, "
                                              f"{bottom:g}–{top:g} N, {crs})"))
        if problems:
            raise LayerError("point outside the DEM", problems)
        (x0, y0), (x1, y1) = start_xy, end_xy
        length_m = math.hypot(x1 - x0, y1 - y0)
        if length_m == 0:
            raise LayerError("empty profile", [Problem(name, "--from and --to are the same point")])
        step = float(step_m) if step_m else min(abs(src.res[0]), abs(src.res[1]))
        n = max(int(math.ceil(length_m / step)), 2) + 1
        t = np.linspace(0.0, 1.0, n)
        inv = ~src.transform
        xs, ys = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        cols, rows = inv.a * xs + inv.b * ys + inv.c, inv.d * xs + inv.e * ys + inv.f
        c0 = max(int(math.floor(cols.min())) - 2, 0)
        r0 = max(int(math.floor(rows.min())) - 2, 0)
        c1 = min(int(math.ceil(cols.max())) + 2, src.width)
        r1 = min(int(math.ceil(rows.max())) + 2, src.height)
        band = src.read(1, window=Window(c0, r0, c1 - c0, r1 - r0), masked=True)
    grid = np.ma.filled(band.astype(float), np.nan)
    z = map_coordinates(grid, [rows - r0 - 0.5, cols - c0 - 0.5], order=1, mode="nearest")
    if np.isnan(z).any():
        at_km = ", ".join(f"{v:.2f}" for v in (t * length_m / 1000)[np.isnan(z)][:5])
        raise LayerError("profile crosses nodata", [Problem(name, f"no elevation at {at_km} km along the line")])
    logger.debug("profile of %d samples every %.1f m over %.0f m", n, length_m / (n - 1), length_m)
    return TerrainProfile(t * length_m, z, length_m / (n - 1), crs)


def profile_report(profile: TerrainProfile, *, tx_height_m: float = radio.DEFAULT_SITE_HEIGHT_M,
                   rx_height_m: float = 1.5, frequency_mhz: float = 1800.0,
                   k_factor: float = radio.DEFAULT_K_FACTOR) -> dict:
    """Line of sight, F1 clearance and the path loss of each model for a profile (a JSON-ready dict)."""
    args = (profile.distance_m, profile.elevation_m, tx_height_m, rx_height_m, frequency_mhz)
    los = radio.line_of_sight(*args, k_factor=k_factor)
    distance_km = float(profile.distance_m[-1] / 1000.0)
    diffraction = {"single_knife_edge": radio.single_knife_edge_loss_db(*args, k_factor=k_factor),
                   "deygout": radio.deygout_loss_db(*args, k_factor=k_factor),
                   "epstein_peterson": radio.epstein_peterson_loss_db(*args, k_factor=k_factor)}
    base = {"free_space": radio.free_space_loss_db(distance_km, frequency_mhz)}
    for env in ("rural", "suburban", "urban"):
        base[f"hata_{env}"] = radio.hata_loss_db(distance_km, frequency_mhz, tx_height_m, rx_height_m,
                                                 environment=env)
    return {
        "distance_km": round(distance_km, 4), "samples": int(profile.distance_m.size),
        "step_m": round(profile.step_m, 3), "crs": profile.crs,
        "frequency_mhz": frequency_mhz, "tx_height_m": tx_height_m, "rx_height_m": rx_height_m, "k_factor": k_factor,
        "line_of_sight": los.visible,
        "min_clearance_pct_f1": round(los.clearance_pct, 1) if math.isfinite(los.clearance_pct) else None,
        "min_clearance_m": round(los.min_clearance_m, 2) if math.isfinite(los.min_clearance_m) else None,
        "min_clearance_at_km": round(los.at_distance_m / 1000, 4) if math.isfinite(los.at_distance_m) else None,
        "path_loss_db": {k: round(v, 2) for k, v in base.items()},
        "diffraction_db": {k: round(v, 2) for k, v in diffraction.items()},
        "total_loss_db": {f"{b}+{dname}": round(bv + dv, 2) for b, bv in base.items()
                          for dname, dv in diffraction.items()},
    }


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
    return "\n".join(lines)


def plot_profile(profile: TerrainProfile, png_path: Path | str, *, tx_height_m: float = radio.DEFAULT_SITE_HEIGHT_M,
                 rx_height_m: float = 1.5, frequency_mhz: float = 1800.0,
                 k_factor: float = radio.DEFAULT_K_FACTOR) -> Path:
    """Draw the terrain on the effective earth, the line of sight and the first Fresnel zone into a PNG.

    Raises
    ------
    ImportError
        When matplotlib is not installed.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("the profile plot needs matplotlib: pip install matplotlib") from exc
    g = radio.profile_geometry(profile.distance_m, profile.elevation_m, tx_height_m, rx_height_m, frequency_mhz,
                               k_factor=k_factor)
    los = radio.line_of_sight(profile.distance_m, profile.elevation_m, tx_height_m, rx_height_m, frequency_mhz,
                              k_factor=k_factor)
    x = g.distance_m / 1000.0
    floor = float(np.min(profile.elevation_m)) - 0.05 * max(float(np.ptp(g.terrain_m)), 10.0)
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.fill_between(x, floor + g.bulge_m, g.terrain_m, color="#b08d57", alpha=0.8, label="terrain (+ earth bulge)")
    ax.plot(x, floor + g.bulge_m, color="#6b5a3a", lw=0.8, label=f"earth curvature (k = {k_factor:.3g})")
    ax.fill_between(x, g.los_m - g.fresnel_radius_m, g.los_m + g.fresnel_radius_m, color="#4c8bd6", alpha=0.2,
                    label="first Fresnel zone")
    ax.plot(x, g.los_m, color="#1f4e9c", lw=1.2, label="line of sight")
    ax.vlines([x[0], x[-1]], [g.terrain_m[0], g.terrain_m[-1]], [g.los_m[0], g.los_m[-1]], color="#333333", lw=2)
    if math.isfinite(los.at_distance_m):
        k = int(np.argmin(np.abs(g.distance_m - los.at_distance_m)))
        ax.plot(x[k], g.terrain_m[k], "o", color="#c0392b", label=f"min clearance {los.clearance_pct:.0f} % F1")
    ax.set_xlabel("distance (km)")
    ax.set_ylabel("elevation (m)")
    ax.set_title(f"{x[-1]:.2f} km, {frequency_mhz:g} MHz, tx {tx_height_m:g} m, rx {rx_height_m:g} m: line of sight "
                 f"{'yes' if los.visible else 'no'}")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(png_path, dpi=110)
    return Path(png_path)


@main.command(name="profile")
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
def profile_command(dem_path: Path, start: str, end: str, tx_height_m: float, rx_height_m: float,
                    frequency_mhz: float, k_factor: float, step_m: float | None, png_path: Path | None,
                    as_json: bool) -> None:
    """Terrain profile between two points: line of sight, F1 clearance and path loss per model."""
    start_xy, end_xy = parse_xy(start, "--from"), parse_xy(end, "--to")
    prof = sample_profile(dem_path, start_xy, end_xy, step_m=step_m)
    options = {"tx_height_m": tx_height_m, "rx_height_m": rx_height_m, "frequency_mhz": frequency_mhz,
               "k_factor": k_factor}
    report = profile_report(prof, **options)
    if png_path:
        try:
            plot_profile(prof, png_path, **options)
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
