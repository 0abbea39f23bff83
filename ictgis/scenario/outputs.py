"""What a scenario run writes: indicators, delta, costs, the changed layers, changes, summary, XLSX, manifest.

Everything goes into a temporary folder renamed at the end; ``manifest.json`` (input hashes, parameters, package
versions) is written last, so a half-finished run never looks finished.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

import geopandas as gpd
import pandas as pd

from .. import __version__, settings
from .._files import atomic_dir
from ..io import Dataset, write_layers
from ..labels import COSTS, HEADINGS, label
from ..sheets import Cell, Sheet, write_csv, write_workbook, xlsx_value
from .model import PARAMETERS, Scenario


def changes(base: Dataset, work: Dataset) -> gpd.GeoDataFrame:
    """Return what a scenario changed, feature by feature, in EPSG:4326.

    New and removed sites, post offices and fiber routes; sites with technologies added (`upgraded`) or switched
    off (`retired`) or another power source (`power`); villages newly on fiber (`connected`). Columns: `layer`,
    `id`, `name`, `change`, `detail`.
    """
    from ..crs import to_crs
    from ..layers import parse_tech

    rows: list[dict] = []

    def add(row, layer: str, change: str, detail: str) -> None:
        rows.append({"layer": layer, "id": str(row.get("id", "")), "name": str(row.get("name", "") or ""),
                     "change": change, "detail": detail, "geometry": row.geometry})

    for layer in ("bts_sites", "post_offices", "fiber_routes", "villages"):
        old, new = base.get(layer), work.get(layer)
        if old is None or new is None or "id" not in new:
            continue
        old_by_id = old.set_index("id")
        for _, row in new[~new["id"].isin(old["id"])].iterrows():
            add(row, layer, "added", _describe(row))
        for _, row in old[~old["id"].isin(new["id"])].iterrows():
            add(row, layer, "removed", _describe(row))
        for _, row in new[new["id"].isin(old["id"])].iterrows():
            before = old_by_id.loc[row["id"]]
            if "tech" in row:
                was, now = set(parse_tech(before["tech"])), set(parse_tech(row["tech"]))
                if now - was:
                    add(row, layer, "upgraded", "+" + ",".join(sorted(now - was)))
                if was - now:
                    add(row, layer, "retired", "−" + ",".join(sorted(was - now)))
            if "power" in row and str(row["power"]) != str(before["power"]):
                add(row, layer, "power", f"{before['power']} → {row['power']}")
            if "fiber" in row and bool(row["fiber"]) and not bool(before["fiber"] if pd.notna(before["fiber"])
                                                                   else False):
                add(row, layer, "connected", "fiber")
    if not rows:
        return gpd.GeoDataFrame({k: [] for k in ("layer", "id", "name", "change", "detail")}, geometry=[],
                                crs="EPSG:4326")
    return to_crs(gpd.GeoDataFrame(rows, geometry="geometry", crs=work.crs), "EPSG:4326")


def _describe(row) -> str:
    parts = [f"{k}: {row[k]}" for k in ("tech", "power", "kind", "install") if k in row and pd.notna(row[k])]
    return ", ".join(parts)


def _json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=_default) + "\n",
                    encoding="utf-8")


def _default(value: object):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value))


def _file_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "ictgis": __version__}
    for dist in ("numpy", "pandas", "geopandas", "shapely", "pyproj", "pyogrio", "rasterio", "networkx", "scipy",
                 "openpyxl", "PyYAML"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def write_outputs(sc: Scenario, out_dir: Path, *, base, work, before, after, delta, costs, notes, extras, changed,
                   params, base_info: dict | None = None, after_coverage=None) -> None:
    """Write the files of a finished run into `out_dir`, atomically; ``manifest.json`` last.

    `after_coverage` (the "after" state's 4G `CoverageResult`, when computed) becomes ``coverage_4g_after.kmz``.
    """
    with atomic_dir(out_dir) as tmp:
        before_public = {k: v for k, v in before.items() if k != "data_dir"}
        after_public = {k: v for k, v in after.items() if k != "data_dir"}
        _json(tmp / "indicators_before.json", before_public)
        _json(tmp / "indicators_after.json", after_public)
        write_csv(delta, tmp / "delta.csv")
        write_csv(costs, tmp / "costs.csv")
        _json(tmp / "costs.json", costs.to_dict(orient="records"))
        write_xlsx(tmp / "scenario.xlsx", sc, delta, costs)
        layers = {name: work[name] for name in sorted(changed) if name in work.layers}
        if layers:  # every changed layer in the one GeoPackage
            write_layers(layers, tmp / "layers.gpkg")
        if after_coverage is not None:  # the "after" 4G coverage, for Google Earth
            from ..coverage import write_kmz

            write_kmz(after_coverage, tmp / "coverage_4g_after.kmz")
        diff = changes(base, work)
        (tmp / "changes.geojson").write_text(diff.to_json(drop_id=True, ensure_ascii=False), encoding="utf-8")
        summary = {"name": sc.name, "description": sc.description, "structure": sc.structure,
                   "key_indicators": delta.to_dict(orient="records"),
                   "cost_total_capex_vnd": int(costs["capex_vnd"].iloc[-1]),
                   "cost_total_opex_vnd_per_year": int(costs["opex_vnd_per_year"].iloc[-1]),
                   "cost_total_npv_vnd": int(costs["npv_vnd"].iloc[-1]),
                   "interventions": extras, "notes": notes, "changed_layers": sorted(changed),
                   "changes": {f"{layer}:{change}": int(n) for (layer, change), n in
                               diff.groupby(["layer", "change"]).size().items()} if len(diff) else {}}
        _json(tmp / "summary.json", summary)
        manifest = {"scenario": {"file": sc.path.name, "sha256": sc.text_sha256, "name": sc.name},
                    "base": {**(base_info or {}), "folder": sc.base.name, "files": _file_hashes(sc.base)},
                    "parameters": {k: params.get(k, getattr(settings, k, None)) for k in sorted(PARAMETERS)
                                   if hasattr(settings, k) or k in params},
                    "versions": _versions(),
                    "outputs": _file_hashes(tmp)}
        _json(tmp / "manifest.json", manifest)  # written last: its presence marks a finished run


#: Column widths of the scenario workbook: as wide as the text, within (min, max) characters.
XLSX_WIDTHS = (12, 60)


def _thousands(value):
    """Return `value` for a cell: a number of 1,000 or more with thousands separators, others as they are."""
    value = xlsx_value(value)
    if isinstance(value, (int, float)) and abs(value) >= 1000:
        return Cell(value, "#,##0")
    return value


def write_xlsx(path: Path, sc: Scenario, delta: pd.DataFrame, costs: pd.DataFrame) -> None:
    """Write the Vietnamese workbook of a run: key indicators (Chỉ tiêu) and costs (Chi phí)."""
    header = [HEADINGS[k].vi for k in ("indicator", "before", "after", "change")]
    rows = [[label(row.indicator).heading(), *map(_thousands, (row.before, row.after, row.change))]
            for row in delta.itertuples(index=False)]
    key_sheet = Sheet("Chỉ tiêu", title=f"Kịch bản: {sc.name}", header=header, rows=rows, widths=XLSX_WIDTHS,
                       freeze=None)
    cost_rows = [[("TỔNG" if row.intervention == "TOTAL" else row.intervention), row.item,
                  _thousands(None if pd.isna(row.quantity) else row.quantity),
                  *map(_thousands, (row.capex_vnd, row.opex_vnd_per_year, row.npv_vnd))]
                 for row in costs.itertuples(index=False)]
    cost_sheet = Sheet("Chi phí", header=[COSTS[c].heading() for c in costs.columns], rows=cost_rows,
                       widths=XLSX_WIDTHS, freeze=None)
    write_workbook(path, [key_sheet, cost_sheet])
