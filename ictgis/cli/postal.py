"""``ictgis postal``: postal service coverage per commune and per village."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._options import CRS_OPTION, DATA_DIR, load_dataset, postal_kinds_option, store_options


@click.command()
@DATA_DIR
@CRS_OPTION
@store_options
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--kinds", default=None, help="Post office kinds counted, comma-separated (default all): cap1, cap2, "
              "cap3, kt1, large_cust, letterbox, bdvhx, other, or their Vietnamese labels (\"Điểm BĐVHX\" …).")
@click.option("--threshold-km", type=float, default=5.0, show_default=True,
              help="Villages farther than this from a service point (the straight walk or along the roads, "
              "whichever is shorter) are listed, each with the reason.")
@click.option("--max-radius-km", type=float, default=None, help="Norm: service radius (default 3 km, QCVN 1:2008).")
@click.option("--max-people", type=float, default=None, help="Norm: people per point (default 8,000).")
def postal(data_dir, crs, db, as_of, out_dir, kinds, threshold_km, max_radius_km, max_people) -> None:
    """Service radius and people per point per commune (QCVN 1:2008 norms) and each village's distance to post."""
    chosen = postal_kinds_option(kinds, option="--kinds")
    from .. import indicators
    from .. import postal as postal_mod
    from .._files import atomic_path
    from ..sheets import write_csv, write_xlsx

    ds = load_dataset(data_dir, crs, db=db, as_of=as_of)
    po = ds.get("post_offices")
    if po is None:
        from .._errors import LayerError, Problem

        raise LayerError("postal coverage needs the post_offices layer", [Problem("post_offices", "layer not found")])
    communes = ds["communes"]
    table = postal_mod.postal_by_unit(communes, po, unit_of_point=po["commune"], kinds=chosen,
                                      max_radius_km=max_radius_km, max_people_per_point=max_people)
    table.insert(0, "name", communes.set_index("code").loc[table.index, "name"])
    if "district" in communes:
        table.insert(1, "district", communes.set_index("code").loc[table.index, "district"])
    access = None
    if ds.get("villages") is not None:
        access = postal_mod.village_access(ds["villages"], po, kinds=chosen, threshold_km=threshold_km,
                                           roads=ds.get("roads"))
        access.insert(1, "name", ds["villages"]["name"].to_numpy())
        access.insert(2, "commune", ds["villages"]["commune"].to_numpy())
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "postal_communes.csv") as tmp:
        write_csv(postal_mod.rounded_units(table), tmp, index=True)
    result = indicators.compute(ds, postal_kinds=chosen)
    summary = dict(result["postal"]) | {
        "communes_failing_norms": [{"code": c, "name": r["name"], "failures": r["failures"]}
                                   for c, r in table[~table["meets_norms"]].iterrows()]}
    if access is not None:
        with atomic_path(out_dir / "postal_villages.csv") as tmp:
            write_csv(access, tmp)
        far = access[access["beyond_threshold"]]
        summary["villages_beyond_threshold"] = int(len(far))
        summary["threshold_km"] = threshold_km
        with atomic_path(out_dir / "postal_villages.xlsx") as tmp:
            write_xlsx(far, tmp, sheet_name="Thôn xa điểm bưu chính")
    with atomic_path(out_dir / "postal_summary.json") as tmp:
        tmp.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    failing = int((~table["meets_norms"]).sum())
    p = result["postal"]
    n_points = p["service_points"]
    points = (f"{n_points} service point{'' if n_points == 1 else 's'}, radius {p['service_radius_km']:g} km, "
              f"{p['people_per_point']:,} people per point" if n_points else
              "no service point of the counted kinds (no service radius, no people per point)")
    click.echo(points + f"; {failing} of {len(table)} communes miss a QCVN 1:2008 norm"
               + (f"; {summary['villages_beyond_threshold']} villages farther than {threshold_km:g} km"
                  if access is not None else "") + f". Outputs in {out_dir}")

