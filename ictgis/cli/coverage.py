"""``ictgis coverage``: best-server mobile coverage maps and tables."""

from __future__ import annotations

from pathlib import Path

import click

from ._options import CRS_OPTION, DATA_DIR, fraction_progress, load_dataset, store_options


@click.command()
@DATA_DIR
@CRS_OPTION
@store_options
@click.option("--tech", "technology", type=click.Choice(["2g", "3g", "4g", "5g"], case_sensitive=False),
              default="4g", show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--resolution-m", type=float, default=None, help="Cell size (e.g. 30 or 90); the DEM is resampled "
              "when it differs.")
@click.option("--threshold-dbm", type=float, default=None, help="Coverage threshold (default -110 dBm).")
@click.option("--operator", default=None, help="Only this operator's sites (default: best of all operators).")
@click.option("--radius-m", type=float, default=None, help="Sweep radius of every site (default: from the link "
              "budget, at most 20 km).")
@click.option("--no-kmz", is_flag=True, help="Skip the KMZ overlay.")
@click.option("--calibration", "calibration_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="calibration.json from `ictgis calibrate`: path-loss offsets to apply.")
def coverage(data_dir, crs, db, as_of, technology, out_dir, resolution_m, threshold_dbm, operator, radius_m, no_kmz,
             calibration_path) -> None:
    """Compute best-server coverage of a technology; write GeoTIFFs, tables, summary.json and a KMZ into OUT."""
    from .. import coverage as cov

    calibration = None
    if calibration_path is not None:
        from ..calibration import read_calibration

        calibration = read_calibration(calibration_path)
    ds = load_dataset(data_dir, crs, db=db, as_of=as_of)
    with fraction_progress(f"{technology.upper()} coverage") as progress:
        result = cov.compute(ds, technology=technology.upper(), resolution_m=resolution_m,
                             threshold_dbm=threshold_dbm, operator=operator, radius_m=radius_m, progress=progress,
                             calibration=calibration)
    cov.write(result, out_dir, kmz=not no_kmz)
    s = result.summary
    click.echo(f"{s['technology']} ≥ {s['threshold_dbm']:g} dBm at {s['resolution_m']:g} m, {s['sites']} sites: "
               f"{s['populated_area_pct']} % of the village population covered "
               f"({s['villages_covered']}/{s['villages_total']} villages); {len(s.get('uncovered_villages', []))} "
               f"villages without signal. Outputs in {out_dir}")
