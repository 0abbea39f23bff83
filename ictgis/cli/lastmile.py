"""``ictgis lastmile``: the cheapest way to connect each village without fiber (fiber, microwave, satellite, 4G FWA).

Outputs (written by :func:`ictgis.lastmile_outputs.write_outputs` into a temporary folder beside ``--out`` and moved
into place at the end): ``villages_lastmile.csv`` / ``.xlsx``, ``links.gpkg`` (layers ``microwave`` and ``fiber``)
and ``summary.json``. See :mod:`ictgis.lastmile` for the costs and :mod:`ictgis.microwave` for the hops.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from ._options import CRS_OPTION, DATA_DIR, load_dataset, store_options


@click.command()
@DATA_DIR
@CRS_OPTION
@store_options
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (replaced as a whole when the run succeeds).")
@click.option("--budget-vnd", type=float, default=None, help="Budget in VND (net present cost over the horizon): "
              "connect the most households within it (default: every village that can be connected).")
@click.option("--technologies", default="fiber,microwave,satellite,fwa", show_default=True,
              help="Technologies to compare, comma-separated.")
@click.option("--horizon-years", type=int, default=None, help="Horizon of the net present values (default 10).")
@click.option("--discount-rate", type=float, default=None, help="Discount rate (default 0.05).")
@click.option("--usd-to-vnd", type=float, default=None, help="Exchange rate for the USD unit costs.")
@click.option("--include-no-4g", is_flag=True, default=False,
              help="Also consider villages that have fiber but no 4G (coverage model).")
def lastmile(data_dir, crs, db, as_of, out_dir, budget_vnd, technologies, horizon_years, discount_rate, usd_to_vnd,
             include_no_4g) -> None:
    """Choose fiber, microwave, satellite or 4G fixed wireless for each village of DATA_DIR without fiber."""
    from .. import lastmile as lm
    from .. import lastmile_outputs

    start = time.perf_counter()

    def progress(message: str) -> None:
        click.echo(f"[{time.perf_counter() - start:6.1f} s] {message}", err=True)

    try:
        techs = lm.parse_technologies(technologies)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--technologies") from None
    if budget_vnd is not None and not budget_vnd >= 0:
        raise click.BadParameter("must be ≥ 0", param_hint="--budget-vnd")
    if horizon_years is not None and horizon_years < 1:
        raise click.BadParameter("must be ≥ 1", param_hint="--horizon-years")
    if discount_rate is not None and not discount_rate >= 0:
        raise click.BadParameter("must be ≥ 0", param_hint="--discount-rate")
    if out_dir.exists() and not out_dir.is_dir():
        raise click.UsageError(f"{out_dir} exists and is not a folder")
    ds = load_dataset(data_dir, crs, db=db, as_of=as_of)
    params = {} if usd_to_vnd is None else {"usd_to_vnd": usd_to_vnd}
    result = lm.plan_last_mile(ds, technologies=techs, horizon_years=horizon_years, discount_rate=discount_rate,
                               budget_vnd=budget_vnd, include_no_4g=include_no_4g, params=params,
                               progress=progress)
    lastmile_outputs.write_outputs(result, out_dir)
    s = result.summary
    by = ", ".join(f"{t} {n}" for t, n in s["by_technology"].items())
    fiber_only = s["fiber_only_npv_vnd"]
    click.echo(f"{s['villages']} villages: {s['villages_connected']} connected ({by}); "
               f"{s['households_connected']:,} households; NPV {s['npv_vnd']:,.0f} VND"
               + ("" if fiber_only is None else f" (fiber only: {fiber_only:,.0f} VND)") + f" → {out_dir}")
