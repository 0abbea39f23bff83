"""``ictgis indicators``: the department's indicator table."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from ._dask import client_for, dask_options
from ._options import CRS_OPTION, DATA_DIR, load_dataset, postal_kinds_option, store_options

logger = logging.getLogger(__name__)


@click.command()
@DATA_DIR
@CRS_OPTION
@store_options
@click.option("--structure", type=click.Choice(["2019", "2025"]), default="2019", show_default=True,
              help="Administrative structure: 2019 (10 districts, 129 units) or 2025 (45 communes).")
@click.option("--postal-kinds", default=None, help="Post office kinds counted as service points, comma-separated "
              "(default all): cap1, cap2, cap3, kt1, large_cust, letterbox, bdvhx, other, or their Vietnamese labels.")
@click.option("--area-km2", type=float, default=None, help="Official province area for the service radius.")
@click.option("--json", "as_json", is_flag=True, help="Print the full JSON contract.")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a Vietnamese XLSX table.")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--coverage", "with_coverage", is_flag=True,
              help="Also compute 3G/4G populated-area coverage from the DEM and the sites (takes seconds).")
@click.option("--sharing-distance-m", type=click.FloatRange(min=0), default=None,
              help="BTS sites this close stand on one tower, for infrastructure sharing (default 50).")
@dask_options
def indicators(data_dir, crs, db, as_of, structure, postal_kinds, area_km2, as_json, xlsx, lang, with_coverage,
               sharing_distance_m, workers, scheduler) -> None:
    """Print the department's indicator table for DATA_DIR (default: the embedded demo).

    With --workers N or --scheduler tcp://HOST:PORT, each province of a multi-province folder (``province``
    column) is computed as one Dask task; the JSON is then ``{"provinces": {code: indicators}}``.

    An indicator the data cannot give (a missing layer or attribute) is shown as "—" with a warning line on stderr
    saying why (with --json: null, and the reason under "unavailable").
    """
    from .. import indicators as ind

    kinds = postal_kinds_option(postal_kinds, option="--postal-kinds")
    ds = load_dataset(data_dir, crs, db=db, as_of=as_of)
    if workers is not None or scheduler is not None:
        from ..national.provinces import run_indicators

        if with_coverage or xlsx or area_km2 is not None:
            raise click.UsageError("--coverage, --xlsx and --area-km2 are for one province, not with --workers")
        with client_for(workers, scheduler) as client:
            result = run_indicators(ds, client=client, structure=structure, postal_kinds=kinds)
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        else:
            for code, part in result["provinces"].items():
                click.echo(f"== {code}")
                click.echo(ind.format_table(part, lang=lang))
        return
    result = ind.compute(ds, structure=structure, postal_kinds=kinds, area_km2=area_km2,
                         sharing_distance_m=sharing_distance_m)
    if not as_json:  # the JSON says why under "unavailable"
        for key, why in result["unavailable"].items():
            click.echo(f"Warning: {key} is not computed: {why}", err=True)
    if with_coverage:
        from .. import coverage

        result["mobile"].update(coverage.coverage_indicators(ds))
    if xlsx:
        ind.write_xlsx(result, xlsx)
        logger.info("wrote %s", xlsx)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        click.echo(ind.format_table(result, lang=lang))
