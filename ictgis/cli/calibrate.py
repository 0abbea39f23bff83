"""``ictgis calibrate``: fit the coverage model's offsets to measured signal levels."""

from __future__ import annotations

from pathlib import Path

import click

from .. import settings
from ._options import CRS_OPTION, DATA_DIR, fraction_progress, load_dataset, store_options


@click.command()
@DATA_DIR
@CRS_OPTION
@store_options
@click.option("--tech", "technology", type=click.Choice(["2g", "3g", "4g", "5g"], case_sensitive=False),
              default="4g", show_default=True)
@click.option("--measurements", "measurements", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Measured points: CSV/XLSX with lon/lat (or x/y) and rsrp_dbm (Level, RSRP, signal_dbm …), or a "
                   "GPKG of points.")
@click.option("--measurements-crs", default=None, help="CRS of x/y columns of the measurements (e.g. EPSG:9205).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--resolution-m", type=float, default=None, help="Cell size of the predicted raster.")
@click.option("--floor-dbm", type=float, default=settings.measurement_floor_dbm, show_default=True,
              help="Levels below this are counted apart (no service / failed readings).")
@click.option("--ridge-points", type=click.FloatRange(min=0), default=settings.calibration_ridge_points,
              show_default=True, help="Regularisation: each offset is pulled to 0 as if its group had this many "
                                      "more points with no error.")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True, help="Cross-validation folds.")
def calibrate(data_dir, crs, db, as_of, technology, measurements, measurements_crs, out_dir, resolution_m, floor_dbm,
              ridge_points, folds) -> None:
    """Fit path-loss offsets per environment and land-cover class to measured levels; write OUT/calibration.json."""
    from ..calibration import calibrate as fit

    ds = load_dataset(data_dir, crs, db=db, as_of=as_of)
    with fraction_progress(f"{technology.upper()} prediction") as progress:
        doc = fit(ds, measurements, out_dir, technology=technology.upper(), measurements_crs=measurements_crs,
                  resolution_m=resolution_m, floor_dbm=floor_dbm, ridge_points=ridge_points, folds=folds,
                  progress=progress)
    c, b, a = doc["counts"], doc["before"], doc["after"]
    offsets = ", ".join(f"{k} {v:+.1f}" for k, v in doc["environment_db"].items())
    classes = ", ".join(f"{k} {v:+.1f}" for k, v in doc["landcover_db"].items())
    click.echo(f"{c['used']} of {c['read']} points used ({c['below_floor']} below {doc['floor_dbm']:g} dBm, "
               f"{c['out_of_reach']} out of reach). Offsets (dB of loss): {offsets}"
               + (f"; land cover {classes}" if classes else ""))
    click.echo(f"RMSE {b['rmse_db']} dB before (mean error {b['mean_error_db']:+.1f}), {a['rmse_db']} dB after, "
               f"{doc['cross_validated_rmse_db']} dB cross-validated ({doc['folds']} folds; ≤ 8 dB is the usual "
               f"acceptance: {'met' if doc['acceptance']['met'] else 'not met'}). Outputs in {out_dir}"
               + ("" if doc["scatter_png"] else " (no scatter plot: matplotlib not installed)"))
