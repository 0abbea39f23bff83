"""``ictgis fiber``: routes, a shared plan under a budget and a ranked list of the villages without fiber.

Outputs (all written into a temporary folder beside ``--out`` and moved into place at the end, so a half-finished
run never looks finished): ``routes.gpkg`` (layers ``plan``: shared-plan segments with length, cost, the villages
each serves, rank and phase; ``village_routes``: each village's own least-cost route), ``villages_ranked.csv`` and
``villages_ranked.xlsx`` (Vietnamese headers, best first) and ``summary.json``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pyogrio

from .cli import CRS_OPTION, DATA_DIR, _load, main
from .sheets import append_row, write_csv

logger = logging.getLogger(__name__)

VI_HEADERS: dict[str, str] = {
    "rank": "Thứ tự ưu tiên",
    "id": "Mã thôn",
    "name": "Tên thôn, bản",
    "commune": "Mã xã",
    "households": "Số hộ",
    "population": "Số dân",
    "score": "Điểm ưu tiên",
    "selected": "Trong ngân sách",
    "phase": "Giai đoạn",
    "reachable": "Kết nối được",
    "cost_alone_vnd": "Chi phí kết nối riêng (đồng)",
    "cost_shared_vnd": "Chi phí tăng thêm trong phương án chung (đồng)",
    "cost_per_household_vnd": "Chi phí tăng thêm mỗi hộ (đồng)",
    "route_length_m": "Chiều dài tuyến riêng (m)",
    "onroad_m": "Theo đường giao thông (m)",
    "offroad_m": "Ngoài đường giao thông (m)",
    "no_4g": "Chưa có 4G",
    "poor": "Thôn nghèo, ĐBKK",
    "minority": "Thôn đồng bào DTTS",
    "school": "Có trường học",
    "health": "Có trạm y tế",
    "gap_reason": "Lý do đưa vào danh sách",
    "reason_vi": "Lý do không kết nối được",
    "pts_households": "Điểm: số hộ",
    "pts_population": "Điểm: số dân",
    "pts_cost_alone": "Điểm: chi phí riêng",
    "pts_cost_shared": "Điểm: chi phí tăng thêm",
    "pts_cost_per_household": "Điểm: chi phí mỗi hộ",
    "pts_double_gap": "Điểm: thiếu cả 4G",
    "pts_poor": "Điểm: thôn nghèo",
    "pts_minority": "Điểm: DTTS",
    "pts_school": "Điểm: trường học",
    "pts_health": "Điểm: trạm y tế",
}
"""Columns of the ranked table and their Vietnamese headers, in output order."""
GAP_REASON_VI = {"no_fiber": "chưa có cáp quang", "far_from_fiber": "xa tuyến cáp quang"}
BOOL_COLUMNS = ("selected", "reachable", "no_4g", "poor", "minority", "school", "health")


def ranked_table(villages: pd.DataFrame) -> pd.DataFrame:
    """Return the ranked villages with Vietnamese headers and values (Có/Không, chưa rõ), best first."""
    out = pd.DataFrame(index=villages.index)
    for col, header in VI_HEADERS.items():
        if col not in villages:
            continue
        values = villages[col]
        if col in BOOL_COLUMNS:
            values = values.astype("boolean").map({True: "Có", False: "Không"}).astype(object).where(
                values.notna(), "chưa rõ")
        elif col == "gap_reason":
            values = values.map(GAP_REASON_VI).fillna(values)
        elif col in ("households", "population", "phase"):
            values = values.astype("Int64") if values.dropna().mod(1).eq(0).all() else values
        elif col.endswith("_vnd"):
            values = values.round()
        elif col.endswith("_m"):
            values = values.round(1)
        out[header] = values
    return out.reset_index(drop=True)


def write_xlsx(table: pd.DataFrame, path: Path, summary: dict) -> None:
    """Write the ranked table and a summary sheet, with readable widths, a frozen header and number formats."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "Thôn chưa có cáp quang"
    append_row(ws, list(table.columns))
    for row in table.itertuples(index=False):
        append_row(ws, row)
    for j, col in enumerate(table.columns, start=1):
        cell = ws.cell(row=1, column=j)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        fmt = "#,##0" if "(đồng)" in col or col in ("Số hộ", "Số dân") else (
            "#,##0.0" if "(m)" in col else ("0.000" if col.startswith("Điểm") else None))
        width = max([len(str(col)) // 2 + 2, *(len(str(v)) + 2 for v in table[col].head(200))])
        ws.column_dimensions[get_column_letter(j)].width = min(max(width, 8), 45)
        if fmt:
            for r in range(2, len(table) + 2):
                ws.cell(row=r, column=j).number_format = fmt
    ws.row_dimensions[1].height = 45
    ws.freeze_panes = "D2"
    ws.auto_filter.ref = ws.dimensions
    s = wb.create_sheet("Tóm tắt")
    rows = [("Số thôn chưa có cáp quang", summary["villages_without_fiber"]),
            ("Số thôn kết nối được", summary["villages_reachable"]),
            ("Số thôn không kết nối được", summary["villages_unreachable"]),
            ("Ngân sách (đồng)", summary["budget_vnd"]),
            ("Số thôn được kết nối", summary["villages_connected"]),
            ("Số hộ được kết nối", summary["households_connected"]),
            ("Chiều dài tuyến (km)", summary["route_km"]),
            ("Chi phí (đồng)", summary["cost_vnd"]),
            ("Phương án đầy đủ: chiều dài (km)", summary["full_plan"]["route_km"]),
            ("Phương án đầy đủ: chi phí (đồng)", summary["full_plan"]["cost_vnd"]),
            ("Nếu kéo riêng từng thôn: chiều dài (km)", summary["separate_routes"]["route_km"]),
            ("Nếu kéo riêng từng thôn: chi phí (đồng)", summary["separate_routes"]["cost_vnd"])]
    for label, value in rows:
        append_row(s, [label, value])
        s.cell(row=s.max_row, column=2).number_format = "#,##0.0" if "(km)" in label else "#,##0"
    s.column_dimensions["A"].width = 45
    s.column_dimensions["B"].width = 22
    wb.save(path)


def write_outputs(plan, out_dir: str | Path) -> Path:
    """Write a solved `ictgis.fiber.FiberPlan` into `out_dir`, atomically (temporary folder, then rename).

    Returns
    -------
    pathlib.Path
        The output folder.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise click.UsageError(f"{out_dir} exists and is not a folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-"))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        gpkg = tmp / "routes.gpkg"
        for name, frame in (("plan", plan.plan), ("village_routes", plan.routes)):
            pyogrio.write_dataframe(frame, gpkg, layer=name, driver="GPKG", promote_to_multi=True,
                                    geometry_type="MultiLineString", append=gpkg.exists())
        table = ranked_table(plan.villages)
        write_csv(table, tmp / "villages_ranked.csv", encoding="utf-8-sig")
        write_xlsx(table, tmp / "villages_ranked.xlsx", plan.summary)
        (tmp / "summary.json").write_text(json.dumps(plan.summary, ensure_ascii=False, indent=2, default=_json),
                                          encoding="utf-8")
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(out_dir, old)
            os.rename(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _json(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@main.command()
@DATA_DIR
@CRS_OPTION
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
@click.option("--coverage/--no-coverage", "with_coverage", default=True, show_default=True,
              help="Compute 4G coverage (needs the DEM and BTS sites) to score villages lacking both fiber and 4G.")
def fiber(data_dir, crs, out_dir, budget_vnd, weights, installation, usd_to_vnd, gap_distance_m,
          max_offroad_m, with_coverage) -> None:
    """Route fiber to the villages of DATA_DIR without it; write a plan, a ranking and a summary to OUT."""
    from . import fiber as fib

    start = time.perf_counter()

    def progress(message: str) -> None:
        click.echo(f"[{time.perf_counter() - start:6.1f} s] {message}", err=True)

    try:
        parsed = fib.parse_weights(weights)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--weights") from None
    if budget_vnd is not None and budget_vnd < 0:
        raise click.BadParameter("must be ≥ 0", param_hint="--budget-vnd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = _load(data_dir, crs)
    model = fib.CostModel.from_usd(usd_to_vnd=usd_to_vnd, installation=installation)
    kwargs = {} if max_offroad_m is None else {"max_offroad_m": max_offroad_m}
    if with_coverage:
        from .scenario.fiber import villages_without_4g

        progress("4G coverage for the double-gap score")
        no_4g = villages_without_4g(ds, None)
        if no_4g is not None:
            kwargs["no_4g"] = no_4g
    plan = fib.FiberPlan.from_dataset(ds, cost_model=model, weights=parsed, gap_distance_m=gap_distance_m,
                                      progress=progress, **kwargs).solve(budget_vnd=budget_vnd)
    write_outputs(plan, out_dir)
    s = plan.summary
    click.echo(f"{s['villages_without_fiber']} villages without fiber: {s['villages_reachable']} routed, "
               f"{s['villages_unreachable']} unreachable; connected {s['villages_connected']} villages, "
               f"{s['households_connected']:,} households, {s['route_km']:.1f} km, {s['cost_vnd']:,.0f} VND "
               f"→ {out_dir}")
