"""``ictgis coverage``: best-server mobile coverage maps and tables."""

from __future__ import annotations

from pathlib import Path

import click

from ._dask import client_for, dask_options
from ._options import CRS_OPTION, DATA_DIR, fraction_progress, freeze_at_exit, load_dataset, store_options


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
@click.option("--floor-dbm", type=float, default=None, help="Weakest RSRP computed: cells where no site rises above "
              "it have no value (default: 5 dB below the threshold, -115 dBm).")
@click.option("--no-kmz", is_flag=True, help="Skip the KMZ overlay.")
@click.option("--calibration", "calibration_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="calibration.json from `ictgis calibrate`: path-loss offsets to apply.")
@dask_options
@click.option("--tile-size", type=click.IntRange(16, None), default=None,
              help="Tile side in cells of a national run (--workers/--scheduler) [default: 2048].")
def coverage(data_dir, crs, db, as_of, technology, out_dir, resolution_m, threshold_dbm, operator, radius_m, floor_dbm,
             no_kmz, calibration_path, workers, scheduler, tile_size) -> None:
    """Compute best-server coverage of a technology; write GeoTIFFs, tables, summary.json and a KMZ into OUT.

    With --workers N or --scheduler tcp://HOST:PORT the work is split by tiles over a Dask cluster and the
    rasters are VRT mosaics of tiles (rsrp_<tech>.vrt), with the same cells as a single-process run.
    """
    from .. import coverage as cov
    from .. import settings

    threshold = settings.rsrp_threshold_dbm if threshold_dbm is None else threshold_dbm
    try:  # checked before any layer is read
        cov.floor_of(threshold, floor_dbm)
    except ValueError:
        raise click.BadParameter(f"{floor_dbm:g} dBm is above the threshold ({threshold:g} dBm): the floor must be "
                                 "at or below it", param_hint="--floor-dbm") from None
    calibration = None
    if calibration_path is not None:
        from ..calibration import read_calibration

        calibration = read_calibration(calibration_path)
    ds = load_dataset(data_dir, crs, db=db, as_of=as_of, layers=("villages", "bts_sites"))  # what coverage reads
    if workers is not None or scheduler is not None:
        from ..national import TILE_SIZE, run_coverage

        with client_for(workers, scheduler) as client:
            s = run_coverage(ds, out_dir, client=client, technology=technology.upper(), resolution_m=resolution_m,
                             threshold_dbm=threshold_dbm, operator=operator, radius_m=radius_m,
                             tile_size=tile_size or TILE_SIZE, calibration=calibration, progress=True,
                             floor_dbm=floor_dbm)
        click.echo(f"{s['technology']} ≥ {s['threshold_dbm']:g} dBm at {s['resolution_m']:g} m, {s['sites']} sites, "
                   f"{s['tiles']['computed']} tiles: {s.get('populated_area_pct')} % of the village population "
                   f"covered. Outputs in {out_dir}")
        return
    with fraction_progress(f"{technology.upper()} coverage") as progress:
        result = cov.compute(ds, technology=technology.upper(), resolution_m=resolution_m,
                             threshold_dbm=threshold_dbm, operator=operator, radius_m=radius_m, progress=progress,
                             calibration=calibration, floor_dbm=floor_dbm)
    cov.write(result, out_dir, kmz=not no_kmz)
    freeze_at_exit()
    s = result.summary
    click.echo(f"{s['technology']} ≥ {s['threshold_dbm']:g} dBm at {s['resolution_m']:g} m, {s['sites']} sites: "
               f"{s['populated_area_pct']} % of the village population covered "
               f"({s['villages_covered']}/{s['villages_total']} villages); {len(s.get('uncovered_villages', []))} "
               f"villages without signal. Outputs in {out_dir}")
