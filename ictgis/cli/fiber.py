"""``ictgis fiber``: routes, a shared plan under a budget and a ranked list of the villages without fiber.

Outputs (written by :func:`ictgis.fiber_outputs.write_outputs` into a temporary folder beside ``--out`` and moved
into place at the end, so a half-finished run never looks finished): ``routes.gpkg`` (layers ``plan``: shared-plan
segments with length, cost, the villages each serves, rank and phase; ``village_routes``: each village's own
least-cost route), ``villages_ranked.csv`` and ``villages_ranked.xlsx`` (Vietnamese headers, best first) and
``summary.json``.

Routes start from the ``fiber_routes`` layer of DATA_DIR; with ``--pops FILE`` (points of presence: district
exchanges, OLTs — a point file with an ``id``) they start from those points too, and a data folder without
fiber_routes is then accepted. The summary says which (``existing_fiber.source``).

With ``--ofds FILE`` the existing and planned network is also written as Open Fibre Data Standard JSON
(`ictgis.ofds`); ``ictgis export-ofds DATA_DIR --out FILE`` writes the current network alone.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from ._dask import client_for, dask_options
from ._options import CRS_OPTION, DATA_DIR, load_dataset, store_options


@click.command()
@DATA_DIR
@CRS_OPTION
@store_options
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (replaced as a whole when the run succeeds).")
@click.option("--budget-vnd", type=float, default=None, help="Budget in VND: choose the villages that connect the "
              "most households within it (default: connect every reachable village).")
@click.option("--weights", default=None, help="Priority weights, e.g. households=0.4,cost=0.2 (others keep their "
              "defaults; see ictgis.fiber.DEFAULT_WEIGHTS).")
@click.option("--installation", type=click.Choice(["aerial", "underground"]), default="aerial", show_default=True)
@click.option("--usd-to-vnd", type=float, default=None, help="Exchange rate for the USD unit costs.")
@click.option("--gap-distance-m", type=float, default=None, help="Also treat villages farther than this from every "
              "fiber route as without fiber.")
@click.option("--max-offroad-m", type=float, default=None, help="Farthest off-road connector (default 5000).")
@click.option("--pops", "pops_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Points of presence to route from (district exchanges, OLTs …: a point file with an id), "
              "with or instead of the fiber_routes layer.")
@click.option("--fiber-warn-m", type=float, default=None, help="Warn about each fiber route or point of presence "
              "farther than this from every road (default 100; it is joined by an off-road connector).")
@click.option("--coverage/--no-coverage", "with_coverage", default=True, show_default=True,
              help="Compute 4G coverage (needs the DEM and BTS sites) to score villages lacking both fiber and 4G.")
@click.option("--ofds", "ofds_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the existing and planned network as Open Fibre Data Standard JSON.")
@dask_options
def fiber(data_dir, crs, db, as_of, out_dir, budget_vnd, weights, installation, usd_to_vnd, gap_distance_m,
          max_offroad_m, pops_file, fiber_warn_m, with_coverage, ofds_file, workers, scheduler) -> None:
    """Route fiber to the villages of DATA_DIR without it; write a plan, a ranking and a summary to OUT.

    With --workers N or --scheduler tcp://HOST:PORT, each province of a multi-province folder gets its own plan
    (OUT/<province>/, the budget per province) as one Dask task; routes crossing a province border are out of
    scope.
    """
    from .. import fiber as fib
    from .. import fiber_outputs

    start = time.perf_counter()

    def progress(message: str) -> None:
        click.echo(f"[{time.perf_counter() - start:6.1f} s] {message}", err=True)

    try:
        parsed = fib.parse_weights(weights)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--weights") from None
    if budget_vnd is not None and budget_vnd < 0:
        raise click.BadParameter("must be ≥ 0", param_hint="--budget-vnd")
    ds = load_dataset(data_dir, crs, db=db, as_of=as_of)
    if workers is not None or scheduler is not None:
        from ..national.provinces import CROSS_BORDER_NOTE, run_fiber

        click.echo(f"Note: {CROSS_BORDER_NOTE}", err=True)
        with client_for(workers, scheduler) as client:
            s = run_fiber(ds, out_dir, client=client, budget_vnd=budget_vnd, weights=parsed,
                          installation=installation, usd_to_vnd=usd_to_vnd, gap_distance_m=gap_distance_m)
        for code, part in s["provinces"].items():
            click.echo(f"{code}: {part['villages_connected']} villages, {part['households_connected']:,} households, "
                       f"{part['route_km']:.1f} km, {part['cost_vnd']:,.0f} VND")
        click.echo(f"→ {out_dir}")
        return
    model = fib.CostModel.from_usd(usd_to_vnd=usd_to_vnd, installation=installation)
    kwargs: dict[str, Any] = {} if max_offroad_m is None else {"max_offroad_m": max_offroad_m}
    if fiber_warn_m is not None:
        kwargs["fiber_warn_m"] = fiber_warn_m
    if pops_file is not None:
        kwargs["pops"] = fib.read_pops(pops_file, crs=crs, working=ds.crs)
        kwargs["pops_name"] = pops_file.name
    if with_coverage:
        from ..scenario.interventions.fiber import villages_without_4g

        progress("4G coverage for the double-gap score")
        no_4g = villages_without_4g(ds, None)
        if no_4g is not None:
            kwargs["no_4g"] = no_4g
    plan = fib.FiberPlan.from_dataset(ds, cost_model=model, weights=parsed, gap_distance_m=gap_distance_m,
                                      progress=progress, **kwargs).solve(budget_vnd=budget_vnd)
    if out_dir.exists() and not out_dir.is_dir():
        raise click.UsageError(f"{out_dir} exists and is not a folder")
    fiber_outputs.write_outputs(plan, out_dir)
    if ofds_file is not None:
        from .. import ofds

        planned, table = plan.plan, plan.villages
        assert table is not None  # a solved plan has its village table
        if budget_vnd is not None and planned is not None:
            planned = planned[planned["phase"] == 1]
        served = table["reachable"].astype(bool) & (table["selected"].astype(bool) if budget_vnd is not None
                                                    else True)
        connected = table.loc[served, "id"].astype(str).tolist()
        package = ofds.network_package(ds.get("fiber_routes"), planned=planned, pops=kwargs.get("pops"),
                                       sites=ds.get("bts_sites"), villages=ds.get("villages"),
                                       planned_villages=connected,
                                       name=f"{Path(ds.data_dir or 'ictgis').name} fiber plan")
        ofds.write(package, ofds_file)
        click.echo(f"OFDS network → {ofds_file}", err=True)
    s = plan.summary
    click.echo(f"{s['villages_without_fiber']} villages without fiber: {s['villages_reachable']} routed, "
               f"{s['villages_unreachable']} unreachable; connected {s['villages_connected']} villages, "
               f"{s['households_connected']:,} households, {s['route_km']:.1f} km, {s['cost_vnd']:,.0f} VND "
               f"→ {out_dir}")
    if s["no_village_reached"]:
        click.echo(f"Warning: {s['no_village_reached']}", err=True)


@click.command("export-ofds")
@DATA_DIR
@CRS_OPTION
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="OFDS JSON file to write.")
@click.option("--pops", "pops_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Points of presence to add as nodes (a point file with an id).")
@click.option("--name", default=None, help="Network name (default: the data folder's name).")
@click.option("--validate/--no-validate", "check", default=False, show_default=True,
              help="Check the file with the standard's validator (libcoveofds; slow on large networks).")
def export_ofds(data_dir, crs, out_file, pops_file, name, check) -> None:
    """Write the current fiber network of DATA_DIR as Open Fibre Data Standard (OFDS 0.4) JSON.

    Spans are the fiber_routes (status operational, length, installation, owner); nodes are the points of presence,
    the BTS sites on a route and the villages with fiber, each joined to its nearest route.
    """
    from .. import fiber as fib
    from .. import ofds
    from .._errors import LayerError, Problem

    ds = load_dataset(data_dir, crs)
    routes = ds.get("fiber_routes")
    pops = fib.read_pops(pops_file, crs=crs, working=ds.crs) if pops_file is not None else None
    if routes is None and pops is None:
        raise LayerError("nothing to export", [Problem("fiber_routes", "layer is missing (and no --pops given)")])
    package = ofds.network_package(routes, pops=pops, sites=ds.get("bts_sites"), villages=ds.get("villages"),
                                   name=name or f"{Path(ds.data_dir or 'ictgis').name} fiber network")
    ofds.write(package, out_file)
    net = package["networks"][0]
    click.echo(f"{len(net['spans'])} spans, {len(net['nodes'])} nodes → {out_file}")
    if check:
        problems = ofds.validate(package)
        for p in problems[:20]:
            click.echo(f"OFDS: {p.get('message') or p}", err=True)
        if problems:
            raise click.ClickException(f"{len(problems)} OFDS validation problem(s)")
        click.echo("OFDS validation: no problems", err=True)
