"""Outputs of a fiber plan: the ranked village table (Vietnamese headers), its XLSX and the output folder.

:func:`write_outputs` writes a solved :class:`~ictgis.fiber.FiberPlan` as ``routes.gpkg``, ``villages_ranked.csv``,
``villages_ranked.xlsx`` and ``summary.json`` into a folder that appears only once complete (``ictgis fiber``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyogrio

from ._files import atomic_dir
from .sheets import append_row, write_csv

if TYPE_CHECKING:
    from .fiber import FiberPlan

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


def write_outputs(plan: FiberPlan, out_dir: str | Path) -> Path:
    """Write a solved `ictgis.fiber.FiberPlan` into `out_dir`, atomically (temporary folder, then rename).

    Files: ``routes.gpkg`` (layers ``plan``: shared-plan segments with length, cost, the villages each serves, rank
    and phase; ``village_routes``: each village's own least-cost route), ``villages_ranked.csv`` and
    ``villages_ranked.xlsx`` (Vietnamese headers, best first) and ``summary.json``. An existing `out_dir` is
    replaced as a whole, and only once the new one is complete.

    Returns
    -------
    pathlib.Path
        The output folder.

    Raises
    ------
    NotADirectoryError
        If `out_dir` exists and is not a folder.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} exists and is not a folder")
    with atomic_dir(out_dir) as tmp:
        gpkg = tmp / "routes.gpkg"
        for name, frame in (("plan", plan.plan), ("village_routes", plan.routes)):
            pyogrio.write_dataframe(frame, gpkg, layer=name, driver="GPKG", promote_to_multi=True,
                                    geometry_type="MultiLineString", append=gpkg.exists())
        table = ranked_table(plan.villages)
        write_csv(table, tmp / "villages_ranked.csv", encoding="utf-8-sig")
        write_xlsx(table, tmp / "villages_ranked.xlsx", plan.summary)
        (tmp / "summary.json").write_text(json.dumps(plan.summary, ensure_ascii=False, indent=2, default=_json),
                                          encoding="utf-8")
    return out_dir


def _json(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
