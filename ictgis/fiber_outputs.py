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
from .labels import FIBER_SUMMARY, VILLAGE_RANKING
from .sheets import Cell, Sheet, frame_sheet, write_csv, write_workbook

if TYPE_CHECKING:
    from .fiber import FiberPlan

#: Columns of the ranked table and their Vietnamese headers, in output order (from `ictgis.labels.VILLAGE_RANKING`).
VI_HEADERS: dict[str, str] = {col: lab.heading() for col, lab in VILLAGE_RANKING.items()}
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


#: Number formats of the ranked table's columns, by column key (money and counts whole, metres to 0.1 m).
RANKED_FORMATS: dict[str, str] = {
    **{col: "#,##0" for col in VILLAGE_RANKING if col.endswith("_vnd") or col in ("households", "population")},
    **{col: "#,##0.0" for col in VILLAGE_RANKING if col.endswith("_m")},
    **{col: "0.000" for col in VILLAGE_RANKING if col == "score" or col.startswith("pts_")},
}


def write_xlsx(table: pd.DataFrame, path: Path, summary: dict) -> None:
    """Write the ranked table and a summary sheet, with readable widths, a frozen header and number formats."""
    formats = {VI_HEADERS[col]: fmt for col, fmt in RANKED_FORMATS.items()}
    ranked = frame_sheet(table, "Thôn chưa có cáp quang", formats=formats, widths=(8, 45), wrap_header=True,
                         freeze="D2", autofilter=True)
    rows = []
    for key, lab in FIBER_SUMMARY.items():
        value = summary
        for part in key.split("."):
            value = value[part]
        rows.append([lab.heading(), Cell(value, "#,##0.0" if lab.unit == "km" else "#,##0")])
    write_workbook(path, [ranked, Sheet("Tóm tắt", rows=rows, column_widths=(45, 22), freeze=None)])


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
