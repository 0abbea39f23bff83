"""A store with history for the biến động page: the demo province (or the tiny one) and a few planted changes.

Used by the browser test of the page and by ``docs/img/make_bien_dong.py`` (the README's screenshot).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from ictgis import io
from ictgis.store import open_store


def _planted_sites(ds: io.Dataset) -> io.Dataset:
    """BTS sites added (by villages without fiber), moved, removed and upgraded to 4G; one post office gone."""
    layers = {k: v.copy() for k, v in ds.layers.items()}
    bts = layers["bts_sites"].reset_index(drop=True)
    n = len(bts)
    picks = [n // 7, 2 * n // 7, 3 * n // 7, 4 * n // 7, 5 * n // 7, 6 * n // 7]
    moved = bts.index[picks[:2]]
    bts.loc[moved, bts.geometry.name] = [shapely.Point(p.x + 1500, p.y + 1000) for p in bts.geometry[moved]]
    no_4g = bts.index[~bts["tech"].astype(str).str.contains("4G")]
    upgraded = no_4g[:: max(1, len(no_4g) // 3)][:3]
    bts.loc[upgraded, "tech"] = bts.loc[upgraded, "tech"].astype(str) + ",4G"
    sectored = _sectored_sites(ds)  # removed sites have no cells (a site's cells would be left without it)
    removable = bts.index[~bts["id"].astype(str).isin(sectored)].difference(upgraded)
    removed = set(removable[[len(removable) // 3, 2 * len(removable) // 3]]) if len(removable) >= 2 else set()
    villages = layers["villages"]
    dark = villages[~villages["fiber"].astype("boolean").fillna(False)]
    dark = dark.iloc[:: max(1, len(dark) // 4)].iloc[:4] if len(dark) else villages.iloc[:4]
    new = bts.loc[[bts.index[0]] * len(dark)].copy()
    new["id"] = [f"BD-NEW-{i + 1}" for i in range(len(dark))]
    new["tech"] = "4G"
    new[bts.geometry.name] = [shapely.Point(p.x + 300, p.y + 300) for p in dark.geometry]
    for column in ("commune", "tower"):
        if column in new:
            new[column] = None
    kept = bts.drop(index=list(removed))
    layers["bts_sites"] = gpd.GeoDataFrame(pd.concat([kept, new], ignore_index=True), crs=bts.crs)
    post = layers.get("post_offices")
    if post is not None and len(post) > 3:
        layers["post_offices"] = post.drop(index=post.index[len(post) // 2])
    return dataclasses.replace(ds, layers=layers)


def _sectored_sites(ds: io.Dataset) -> set[str]:
    """Ids of the sites that have cells (sectors) in the dataset's folder."""
    from ictgis.cells import find_cells, read_cells

    found = find_cells(ds.data_dir, {}) if ds.data_dir is not None else None
    if found is None:
        return set() if ds.cells is None else set(ds.cells["site"].astype(str))
    return set(read_cells(found[0])["site"].astype(str))


def _planted_fiber(ds: io.Dataset) -> io.Dataset:
    """Villages without fiber connected (every fifth one, at most 12)."""
    layers = {k: v.copy() for k, v in ds.layers.items()}
    villages = layers["villages"]
    dark = villages.index[~villages["fiber"].astype("boolean").fillna(False)]
    villages.loc[dark[::5][:12], "fiber"] = True
    layers["villages"] = villages
    return dataclasses.replace(ds, layers=layers)


def planted_store(url: str | Path, data_dir: str | Path) -> str:
    """Create a store at `url` with three changesets: `data_dir`, then BTS and postal changes, then fiber.

    Returns
    -------
    str
        The store's URL.
    """
    store = open_store(url)
    try:
        store.init()
        base = io.load(data_dir)
        store.import_dataset(base, author="Nguyễn Thị Lan", message="Dữ liệu gốc (khảo sát 2024)",
                             source=str(data_dir))
        sites = _planted_sites(base)
        store.import_dataset(sites, author="Trần Văn Minh", message="Cập nhật trạm BTS quý III",
                             source="bts-q3.gpkg")
        store.import_dataset(_planted_fiber(sites), author="Lò Thị Hoa",
                             message="Cáp quang đến thôn, bản (báo cáo của doanh nghiệp)", source="fiber.xlsx")
    finally:
        store.close()
    return str(url)
