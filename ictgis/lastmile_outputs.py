"""Outputs of the last mile (`ictgis lastmile`): the village table (CSV, XLSX with Vietnamese headers), links, summary.

:func:`write_outputs` writes a `ictgis.lastmile.LastMileResult` into a folder that appears only once complete:

- ``villages_lastmile.csv`` / ``villages_lastmile.xlsx``: one row per village considered — ``id``, ``technology``
  (fiber / microwave / satellite / fwa), ``npv_vnd``, one cost column per alternative (``<tech>_npv_vnd``) and one
  reason column per alternative (``<tech>_reason``: why it is infeasible, empty when it is not). The CSV keeps these
  keys as headers (scripts read them); the XLSX has Vietnamese headers and values.
- ``links.gpkg``: layer ``microwave`` (one LineString per hop: ``from_id``, ``to_id``, ``freq_ghz``,
  ``from_height_m``, ``to_height_m`` above ground, ``clearance_pct`` of the first Fresnel zone, ``margin_db`` …)
  and layer ``fiber`` (the segments of the shared plan the fiber villages use).
- ``summary.json``: ``villages``, ``by_technology``, ``capex_vnd``, ``opex_vnd_per_year``, ``npv_vnd``,
  ``fiber_only_npv_vnd`` and more.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyogrio

from ._files import atomic_dir
from .labels import COSTS, FIBER_SUMMARY
from .sheets import Sheet, frame_sheet, write_csv, write_workbook

if TYPE_CHECKING:
    from .lastmile import LastMileResult

#: Columns of the village table and their Vietnamese headers, in output order.
VI_HEADERS: dict[str, str] = {
    "id": "Mã thôn", "name": "Tên thôn", "commune": "Mã xã", "households": "Số hộ",
    "demand_mbps": "Nhu cầu (Mbps)", "technology": "Công nghệ chọn", "selected": "Được kết nối",
    "npv_vnd": "Chi phí hiện giá (VNĐ)", "capex_vnd": COSTS["capex_vnd"].heading(),
    "opex_vnd_per_year": COSTS["opex_vnd_per_year"].heading(),
    "fiber_npv_vnd": "Cáp quang: chi phí biên (VNĐ)", "fiber_trunk_share_vnd": "Cáp quang: phần trục chung (VNĐ)",
    "microwave_npv_vnd": "Vi ba (VNĐ)", "satellite_npv_vnd": "Vệ tinh (VNĐ)",
    "fwa_npv_vnd": "4G cố định không dây (VNĐ)",
    "fiber_reason": "Cáp quang: lý do không khả thi", "microwave_reason": "Vi ba: lý do không khả thi",
    "satellite_reason": "Vệ tinh: lý do không khả thi", "fwa_reason": "4G cố định: lý do không khả thi",
    "microwave_hops": "Số chặng vi ba", "microwave_freq_ghz": "Băng tần vi ba (GHz)",
    "microwave_from": "Trạm nguồn vi ba", "satellite_kind": "Loại vệ tinh", "fwa_rsrp_dbm": "RSRP 4G (dBm)",
    "unconstrained_technology": "Công nghệ khi không giới hạn ngân sách", "note": "Ghi chú",
}
SUMMARY_VI: dict[str, str] = {
    "villages": "Số thôn xét", "villages_connected": FIBER_SUMMARY["villages_connected"].heading(),
    "households_connected": FIBER_SUMMARY["households_connected"].heading(),
    "capex_vnd": COSTS["capex_vnd"].heading(), "opex_vnd_per_year": COSTS["opex_vnd_per_year"].heading(),
    "npv_vnd": "Tổng chi phí hiện giá (VNĐ)",
    "fiber_only_npv_vnd": "Chỉ cáp quang: chi phí hiện giá (VNĐ)",
}


def vietnamese_table(villages: pd.DataFrame) -> pd.DataFrame:
    """Return the village table with Vietnamese headers and values (technology names, reasons, Có/Không)."""
    from .lastmile import REASON_VI, TECHNOLOGY_VI

    out = pd.DataFrame(index=villages.index)
    for col, header in VI_HEADERS.items():
        if col not in villages:
            continue
        values = villages[col]
        if col in ("technology", "unconstrained_technology"):
            values = values.map(TECHNOLOGY_VI).fillna(values)
        elif col.endswith("_reason") or col == "note":
            values = values.fillna("").map(lambda s: REASON_VI.get(s, s))
        elif col == "selected":
            values = values.map({True: "Có", False: "Không"})
        elif col == "satellite_kind":
            values = values.map({"geo": "GEO (VSAT)", "leo": "LEO", "": ""}).fillna(values)
        out[header] = values
    return out.reset_index(drop=True)


def write_outputs(result: LastMileResult, out_dir: str | Path) -> Path:
    """Write `result` into `out_dir`, atomically (a temporary folder renamed at the end; see the module docstring).

    Raises
    ------
    NotADirectoryError
        If `out_dir` exists and is not a folder.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} exists and is not a folder")
    table = result.villages.drop(columns="geometry")
    with atomic_dir(out_dir) as tmp:
        write_csv(table, tmp / "villages_lastmile.csv", encoding="utf-8-sig")
        vi = vietnamese_table(table)
        formats = {h: "#,##0" for c, h in VI_HEADERS.items() if c.endswith("_vnd") or c.endswith("_per_year")}
        rows = [[SUMMARY_VI[k], result.summary.get(k)] for k in SUMMARY_VI]
        from .lastmile import TECHNOLOGY_VI

        rows += [[f"Số thôn: {TECHNOLOGY_VI[t]}", n] for t, n in result.summary["by_technology"].items()]
        write_workbook(tmp / "villages_lastmile.xlsx", [
            frame_sheet(vi, "Kết nối thôn", formats=formats, widths=(8, 40), wrap_header=True, freeze="C2",
                        autofilter=True),
            Sheet("Tóm tắt", header=["Chỉ tiêu", "Giá trị"], rows=rows, column_widths=(45, 22),
                  formats={"Giá trị": "#,##0"})])
        gpkg = tmp / "links.gpkg"
        pyogrio.write_dataframe(result.microwave, gpkg, layer="microwave", driver="GPKG",
                                geometry_type="LineString")
        pyogrio.write_dataframe(result.fiber, gpkg, layer="fiber", driver="GPKG", promote_to_multi=True,
                                geometry_type="MultiLineString", append=True)
        (tmp / "summary.json").write_text(json.dumps(result.summary, ensure_ascii=False, indent=2, default=_json),
                                          encoding="utf-8")
    return out_dir


def _json(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
