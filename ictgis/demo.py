"""The demo province: a synthetic but believable Điện Biên, generated deterministically.

The 129 real commune-level units (codes, names, kinds, districts) sit on generated polygons that tile a province of
exactly 9,541.25 km² in EPSG:9205. Every other layer is generated on them and reproduces the department's mid-2021
figures (FACTS.md): 1,444 villages (169 without fiber), 616,560 people in 144,396 households, 815 BTS sites (785 3G,
705 4G, 16 on diesel, 5 operators), 168 postal service points (2 cấp I, 10 cấp II, 37 cấp III, 1 KT1, 1 large
customer, 9 letter boxes, 107 BĐVHX, 1 other) and 97 commune radio stations.

Steps, one function each: outline and terrain (:mod:`ictgis._demo_terrain`), districts and communes (cost-distance
regions over the terrain, so boundaries follow ridges), roads (least-cost paths over slope), villages, mobile
sites, post offices, fiber. ``build_demo()`` returns the layers; ``write_demo()`` writes them as Shapefiles and a
GeoTIFF DEM, byte-identical on every run with the same arguments.

Radio coverage intent: the 4G sites are placed so that every village is within a few km of one (a site on high
ground within 2 km of every village farther than 2.8 km from a 4G site), except the villages of a few remote
"white zones" in Mường Nhé, Nậm Pồ, Tủa Chùa and Điện Biên Đông, which are kept > 10 km from any 4G site. With
seed 2021 these are 61 villages, 20,067 people (3.3 %): V0180, V0184, V0188, V0190, V0198, V0200, V0245, V0246,
V0247, V0250, V0282, V0283, V0497, V0499, V0501, V0540, V0542, V0544, V0546, V0566, V0567, V0568, V0571, V0599,
V0601, V1045, V1049, V1050, V1051, V1053, V1054, V1055, V1056, V1058, V1059, V1061, V1096, V1097, V1101, V1111,
V1165, V1174, V1176, V1178, V1285, V1286, V1294, V1345, V1346, V1350, V1351, V1353, V1357, V1359, V1366, V1422,
V1426, V1427, V1428, V1429, V1433 (``DemoProvince.uncovered_villages``). Their neighbours 5–10 km from a 4G site
(≈ 6 % of the population beyond 8 km in all) and terrain shadowing should bring a Hata-like model at −110 dBm to
≈ 94 % of the population covered.

Examples
--------
>>> from ictgis.demo import build_demo
>>> demo = build_demo(dem_resolution_m=500.0)  # doctest: +SKIP
>>> len(demo.villages), int(demo.villages.households.sum())  # doctest: +SKIP
(1444, 144396)
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import shutil
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from scipy import ndimage

from . import _demo_terrain as dt
from ._demo_terrain import (
    AREA_KM2,
    BASIN_UNITS,
    CRS,
    _given_communes,
    _nearest_cells,
    _synthetic_communes,
    _Work,
)

logger = logging.getLogger(__name__)

POPULATION = 616_560  # 3,670 people per postal point × 168 points
HOUSEHOLDS = 144_396
N_VILLAGES, N_UNFIBERED = 1444, 169
N_RADIO = 97
WORK_RES_M = 250.0
REMOTE_DISTRICTS = ("096", "103", "098", "101")  # Mường Nhé, Nậm Pồ, Tủa Chùa, Điện Biên Đông
DBF_DATE = (2021 - 1900, 6, 30)
CAP2_NO_BDVHX = "03169"  # Nà Hỳ: the xã with a cấp II office instead of a BĐVHX
# National and provincial roads: name, class rank, waypoints (district codes = seats, or lon/lat).
ROUTES = (
    ("QL279", 0, ("094", "102", "099", (103.57, 21.80))),
    ("QL279", 0, ("094", (102.875, 21.27))),  # branch to the Tây Trang border gate
    ("QL6", 0, ("099", (103.60, 21.53))),
    ("QL12", 0, ("094", "097", "095", (103.16, 22.16))),
    ("QL4H", 0, ("095", (102.86, 21.94), "096", (102.16, 22.40))),
    ("ĐT145", 1, ("097", "103")),
    ("ĐT130", 1, ("094", "101")),
    ("ĐT140", 1, ("099", "098")),
    ("ĐT131", 1, ("094", "100", (103.09, 20.90))),
)
TAY_TRANG = (102.875, 21.27)
RANKS = ("national", "provincial", "district", "commune", "track")
OPERATORS = {"Viettel": 370, "VinaPhone": 205, "MobiFone": 180, "Vietnamobile": 40, "Gmobile": 20}
OP_PREFIX = {"Viettel": "VTL", "VinaPhone": "VNP", "MobiFone": "MBF", "Vietnamobile": "VNM", "Gmobile": "GMB"}

THAI = ("Na Sang", "Na Pheo", "Pa Ham", "Co Mận", "Hua Pe", "Huổi Lóng", "Nà Pen", "Co Cượm", "Pá Ngam", "Nà Nghè",
        "Phiêng Ban", "Hát Lót", "Co Muông", "Nà Lạn", "Púng Giắt", "Na Hai", "Pá Chả", "Huổi Hoa", "Ten Luống",
        "Co Pục", "Bó Mạy", "Pom Mỏ", "Nà Sản", "Hua Nặm", "Pa Pốm", "Nà Ten", "Tà Lèng", "Phai Lay", "Noong Chứn",
        "Xôm", "Hoong Lếch", "Na Luông", "Pá Trả", "Huổi Sáy", "Lọng Luông", "Nà Noọng", "Co Sáng", "Kéo", "Món",
        "Hin", "Nghịu", "Pa Sáng", "Nà Hừ", "Huổi Cắn", "Ta Cơn", "Mển", "Nà Pán", "Co Kham", "Pa Có", "Hát Tre",
        "Phiêng Cai", "Nà Ngựu", "Na Chén", "Bua", "Hua Ná", "Nà Cái", "Huổi Tao", "Kệt", "Lĩnh", "Ten Lán")
HMONG = ("Háng Tàu", "Sín Chải", "Tả Phìn", "Pú Xi", "Phì Cao", "Háng Sua", "Xá Nhè", "Chế Cu Nhè", "Pu Cai",
         "Cáng Chua", "Tìa Ghếnh", "Phình Sáng", "Lồng Sua", "Háng Lìa", "Sư Lư", "Trống Giông", "Huổi Tóng",
         "Pa Cá", "Tà Cáng", "Sáng Tớ", "Hồ Chim", "Phì Nhừ", "Chua Ta", "Dế Da", "Pá Vạt", "Chống Chá", "Háng Á",
         "Ma Lù Thàng", "Hô Củng", "Sính Chải", "Cồ Dề", "Tả Lử", "Ngải Thầu", "Khò Ả", "Háng Pa", "Pú Hồng",
         "Ta Pao", "Sa Dình", "Pu Hao", "Lao Tỷ Phùng", "Vàng Xôn", "Tìa Mùng", "Cáng Tăng", "Hồng Lìu", "Nậm Chim")
KINH = ("Tân Lập", "Đồng Tâm", "Thống Nhất", "Quyết Thắng", "Hồng Sơn", "Tân Tiến", "Đoàn Kết", "Tân Phong",
        "Xuân Hòa", "Hợp Thành", "Bình Minh", "Độc Lập", "Tân Bình", "Hòa Bình")
HMONG_DISTRICTS = ("096", "103", "098", "101", "097")


@dataclass
class DemoProvince:
    """The generated province: vector layers (EPSG:9205) and the DEM.

    Attributes
    ----------
    communes, villages, bts_sites, fiber_routes, post_offices, roads, districts
        The layers, with the attribute names of :mod:`ictgis.layers`.
    dem
        Elevation (m), int16, nodata -32768 outside the province (plus a 5 km margin).
    dem_transform
        Affine transform of `dem`.
    crs
        CRS of everything (``"EPSG:9205"``).
    uncovered_villages
        Ids of the villages deliberately left > 11 km from any 4G site (the remote "white zones").
    """

    communes: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    bts_sites: gpd.GeoDataFrame
    fiber_routes: gpd.GeoDataFrame
    post_offices: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    dem: np.ndarray
    dem_transform: Affine
    crs: str = CRS
    uncovered_villages: tuple[str, ...] = field(default=())

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """Return the vector layers by name."""
        return {"communes": self.communes, "villages": self.villages, "bts_sites": self.bts_sites,
                "fiber_routes": self.fiber_routes, "post_offices": self.post_offices, "roads": self.roads,
                "districts": self.districts}


def load_units() -> pd.DataFrame:
    """Load the 129 commune-level units of Điện Biên (code, name, kind, dist_code, district, …) as strings."""
    with resources.files("ictgis").joinpath("data/units_dienbien.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return pd.DataFrame(rows).astype(str)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _apportion(weights: np.ndarray, total: int, minimum: int = 0) -> np.ndarray:
    """Integers proportional to `weights`, each ≥ `minimum`, summing exactly to `total` (largest remainder)."""
    weights = np.asarray(weights, dtype=float)
    base = np.full(len(weights), minimum, dtype=np.int64)
    quota = weights / weights.sum() * (total - base.sum())
    out = base + np.floor(quota).astype(np.int64)
    rest = total - out.sum()
    out[np.argsort(-(quota - np.floor(quota)), kind="stable")[:rest]] += 1
    return out


def _short(district: str) -> str:
    for prefix in ("Thành phố ", "Thị xã ", "Huyện "):
        if district.startswith(prefix):
            return district[len(prefix):]
    return district


# --------------------------------------------------------------------------------------------------- roads
def _waypoint(w: _Work, mask: np.ndarray, p) -> int:
    if isinstance(p, str):
        return w.seats[p]
    return int(_nearest_cells(mask, w.grid, w.place([p]))[0])


def _main_roads(w: _Work) -> dt.RoadGrid:
    """National and provincial roads between district seats and border points, then a road to every centre."""
    mask = (w.label >= 0).reshape(w.grid.ny, w.grid.nx)
    net = dt.RoadGrid(w.grid, w.z, mask)
    for name, rank, stops in ROUTES:
        cells = [_waypoint(w, mask, p) for p in stops if not isinstance(p, str) or p in w.seats]
        for a, b in zip(cells[:-1], cells[1:], strict=True):
            net.route(a, b, rank, name)
    net.connect(w.centres, np.full(len(w.centres), 2))
    return net


def _segments(edges: dict[tuple[int, int], tuple], grid: dt.Grid) -> list[tuple[np.ndarray, tuple]]:
    """Split an edge set into chains between junctions (or attribute changes); returns (xy, attrs) per chain."""
    g = nx.Graph()
    for (a, b), attrs in sorted(edges.items()):
        g.add_edge(a, b, attrs=attrs)
    breaks = {u for u in g if g.degree(u) != 2 or len({g.edges[u, v]["attrs"] for v in g[u]}) > 1}
    seen: set[tuple[int, int]] = set()
    chains = []
    starts = sorted(breaks) + sorted(set(g) - breaks)
    for u in starts:
        for v in sorted(g[u]):
            if (min(u, v), max(u, v)) in seen:
                continue
            path, prev, cur = [u], u, v
            attrs = g.edges[u, v]["attrs"]
            while True:
                seen.add((min(prev, cur), max(prev, cur)))
                path.append(cur)
                if cur in breaks or cur == u:
                    break
                nxt = [n for n in sorted(g[cur]) if n != prev and (min(cur, n), max(cur, n)) not in seen]
                if not nxt:
                    break
                prev, cur = cur, nxt[0]
            chains.append((dt.chaikin(grid.centres(np.array(path)), 2), attrs))
    return chains


def _roads_layer(net: dt.RoadGrid, grid: dt.Grid) -> gpd.GeoDataFrame:
    chains = _segments(net.edges, grid)
    geoms = shapely.simplify(np.array([shapely.LineString(xy) for xy, _ in chains]), 8.0)
    return gpd.GeoDataFrame({"id": [f"R{i + 1:05d}" for i in range(len(chains))],
                             "road_class": [RANKS[a[0]] for _, a in chains],
                             "name": [a[1] for _, a in chains]}, geometry=geoms, crs=CRS)


# --------------------------------------------------------------------------------------------------- villages
def _gumbel_order(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Return a random permutation where heavier items tend to come first (sampling without replacement)."""
    keys = np.log(np.maximum(weights, 1e-12)) - np.log(-np.log(rng.uniform(1e-12, 1.0, len(weights))))
    return np.argsort(-keys, kind="stable")


def _suitability(w: _Work, net: dt.RoadGrid) -> np.ndarray:
    """Where people live: valleys and gentle slopes, near roads; H'Mông hamlets on gentle high ground."""
    grid, zf = w.grid, w.z.ravel()
    rel = (w.z - ndimage.minimum_filter(w.z, size=int(3000 / grid.res))).ravel()
    gy, gx = np.gradient(w.z, grid.res)
    slope = np.hypot(gx, gy).ravel()
    droad = ndimage.distance_transform_edt(~net.on.reshape(grid.ny, grid.nx), sampling=grid.res).ravel()
    dist = w.communes.dist_code.to_numpy()[np.maximum(w.label, 0)]
    highland = np.where(np.isin(dist, HMONG_DISTRICTS), 0.9, 0.3) * np.exp(-slope / 0.2) * (zf > 1000)
    return (np.exp(-rel / 180.0) + highland) * (0.25 + np.exp(-droad / 2000.0)) * np.exp(-slope / 0.5)


def _place_villages(w: _Work, counts: np.ndarray, suit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Village points (n, 2), their cells and communes; the first village of a commune is at its centre."""
    grid, rng, com = w.grid, w.rng, w.communes
    inner = shapely.buffer(com.geometry.values, -60.0)
    area = shapely.area(com.geometry.values)
    xy_all, cell_all, com_all = [], [], []
    for i in range(len(com)):
        cells = np.flatnonzero(w.label == i)
        if len(cells) < 4 * counts[i]:  # a small commune: several candidate points per cell
            cells = np.repeat(cells, 4)
        pts = grid.centres(cells) + rng.uniform(-0.45, 0.45, (len(cells), 2)) * grid.res
        ok = shapely.contains_xy(inner[i], pts[:, 0], pts[:, 1])
        cells, pts = cells[ok], pts[ok]
        if len(cells) < 2 * counts[i]:  # a thin or tiny commune: sample inside the polygon itself
            poly = inner[i] if not inner[i].is_empty else shapely.buffer(com.geometry.values[i], -5.0)
            x0, y0, x1, y1 = poly.bounds
            extra = np.column_stack([rng.uniform(x0, x1, 4000), rng.uniform(y0, y1, 4000)])
            extra = extra[shapely.contains_xy(poly, extra[:, 0], extra[:, 1])][: 8 * counts[i]]
            pts, cells = np.vstack([pts, extra]), np.r_[cells, grid.index(extra)]
        first = int(np.argmin(np.hypot(*(pts - grid.centres([w.centres[i]])[0]).T)))
        weights = np.ones(len(cells)) if com.kind.iloc[i] != "xa" else suit[cells]
        order = np.concatenate([[first], _gumbel_order(rng, weights)])
        spacing = float(np.clip(0.5 * np.sqrt(area[i] / counts[i]), 180.0, 1500.0))
        chosen: list[int] = []
        while len(chosen) < min(counts[i], len(cells)):
            for j in order:
                if len(chosen) >= counts[i]:
                    break
                if j in chosen:
                    continue
                if not chosen or np.min(np.hypot(*(pts[chosen] - pts[j]).T)) >= spacing:
                    chosen.append(int(j))
            spacing *= 0.7
        xy_all.append(pts[chosen])
        cell_all.append(cells[chosen])
        com_all.append(np.full(len(chosen), i))
    return np.vstack(xy_all), np.concatenate(cell_all), np.concatenate(com_all)


def _village_names(rng: np.random.Generator, com_idx: np.ndarray, ethnic: np.ndarray, kinds: np.ndarray,
                   codes: np.ndarray) -> list[str]:
    names: list[str] = [""] * len(com_idx)
    for i in np.unique(com_idx):
        rows = np.flatnonzero(com_idx == i)
        if kinds[i] != "xa":
            for k, r in enumerate(rows):
                names[r] = f"Tổ dân phố {k + 1}" if kinds[i] == "phuong" or k % 3 else f"Khối {k + 1}"
            continue
        pools = {e: list(rng.permutation(len(p))) for e, p in (("thai", THAI), ("hmong", HMONG), ("kinh", KINH))}
        prev = None
        for k, r in enumerate(rows):
            e = ethnic[r]
            if codes[i] in BASIN_UNITS and e == "kinh" and rng.uniform() < 0.5:
                names[r] = f"Đội {k + 1}"
                continue
            if prev is not None and ethnic[prev[0]] == e and rng.uniform() < 0.14:
                names[prev[0]] = f"{prev[1]} 1"
                names[r] = f"{prev[1]} 2"
                prev = None
                continue
            pool = {"thai": THAI, "hmong": HMONG, "kinh": KINH}[e]
            stem = pool[pools[e].pop()] if pools[e] else pool[int(rng.integers(len(pool)))] + f" {k + 1}"
            names[r] = ("Thôn " if e == "kinh" else "Bản ") + stem
            prev = (r, names[r])
    return [_nfc(n) for n in names]


def _villages(w: _Work, net: dt.RoadGrid) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """1,444 villages, their population (616,560) and households (144,396) exact; sums go to the communes."""
    rng, com = w.rng, w.communes
    kinds, codes, dists = com.kind.to_numpy(), com.code.to_numpy(), com.dist_code.to_numpy()
    area_km2 = shapely.area(com.geometry.values) / 1e6
    wts = np.where(kinds != "xa", rng.uniform(8, 14, len(com)), np.sqrt(area_km2) * rng.uniform(0.8, 1.25, len(com)))
    wts *= np.where(np.isin(codes, BASIN_UNITS), 1.7, 1.0)
    counts = _apportion(wts, N_VILLAGES, minimum=3)
    xy, cells, ci = _place_villages(w, counts, _suitability(w, net))
    zc = w.z.ravel()[cells]
    urban = kinds[ci] != "xa"
    centre = np.r_[True, ci[1:] != ci[:-1]]
    hm_share = np.where(np.isin(dists[ci], HMONG_DISTRICTS), 0.8, 0.45)
    u = rng.uniform(size=len(ci))
    ethnic = np.where(urban, "kinh", np.where((zc > 950) & (u < hm_share), "hmong", "thai"))
    near_seat = np.isin(codes[ci], BASIN_UNITS) | np.isin(cells, list(w.seats.values()))
    ethnic = np.where(~urban & near_seat & (rng.uniform(size=len(ci)) < 0.35), "kinh", ethnic).astype(object)
    pop = np.clip(rng.lognormal(np.log(230.0), 0.55, len(ci)), 50, 800)
    pop = np.where(urban, rng.uniform(350, 900, len(ci)), pop)
    pop *= np.where(centre, 1.7, 1.0) * np.where(np.isin(codes[ci], BASIN_UNITS), 1.5, 1.0)
    given = com["population"].to_numpy(dtype=float)
    if given.sum() > 0:
        population = np.zeros(len(ci), dtype=np.int64)
        for i in range(len(com)):
            rows = ci == i
            population[rows] = _apportion(pop[rows], int(round(given[i])), minimum=0)
        total_hh = int(round(HOUSEHOLDS * population.sum() / POPULATION))
    else:
        population, total_hh = _apportion(pop, POPULATION, minimum=0), HOUSEHOLDS
    size = np.select([ethnic == "hmong", ethnic == "thai"], [5.6, 4.4], 3.6) * rng.uniform(0.9, 1.1, len(ci))
    households = _apportion(population / size, total_hh, minimum=0)
    households = np.clip(households, 1, np.maximum(population, 1))
    remote = np.isin(dists[ci], REMOTE_DISTRICTS)
    vil = gpd.GeoDataFrame({
        "id": [f"V{i + 1:04d}" for i in range(len(ci))],
        "name": _village_names(rng, ci, ethnic, kinds, codes),
        "commune": codes[ci],
        "population": population,
        "households": households,
        "fiber": 1,
        "poor": (rng.uniform(size=len(ci)) < np.select([urban, ethnic == "hmong"], [0.0, 0.35 + 0.3 * remote],
                                                       0.15 + 0.15 * remote)).astype(int),
        "minority": ((ethnic != "kinh") | (urban & (rng.uniform(size=len(ci)) < 0.3))).astype(int),
        "school": (centre | (rng.uniform(size=len(ci)) < 0.12 + 0.25 * (population > 400))).astype(int),
        "health": (centre | (rng.uniform(size=len(ci)) < 0.02)).astype(int),
    }, geometry=shapely.points(xy), crs=CRS)
    return vil, cells


def _road_csr(net: dt.RoadGrid):
    from scipy.sparse import csr_matrix

    keys = np.array(sorted(net.edges), dtype=np.int64).reshape(-1, 2)
    d = np.hypot(*(net.grid.centres(keys[:, 0]) - net.grid.centres(keys[:, 1])).T)
    return csr_matrix((np.r_[d, d], (np.r_[keys[:, 0], keys[:, 1]], np.r_[keys[:, 1], keys[:, 0]])),
                      shape=(net.n, net.n)), keys


def _fiber_and_gaps(w: _Work, net: dt.RoadGrid, vil: gpd.GeoDataFrame, cells: np.ndarray) -> np.ndarray:
    """Mark the 169 villages without fiber (the farthest by road from trunk roads, mostly in remote districts).

    Returns the row numbers of the villages intended without 4G: a few remote "white zones" holding ≈ 5 % of the
    population, grown around the remotest unfibered villages.
    """
    from scipy.sparse.csgraph import dijkstra

    graph, keys = _road_csr(net)
    trunk = np.unique(keys[[net.edges[tuple(k)][0] <= 2 for k in keys.tolist()]])
    dist = dijkstra(graph, indices=trunk, min_only=True)[cells]
    dcode = w.communes.dist_code.to_numpy()[w.label[cells]]
    remote = np.isin(dcode, REMOTE_DISTRICTS)
    centre = np.r_[True, vil.commune.to_numpy()[1:] != vil.commune.to_numpy()[:-1]]
    urban = w.communes.kind.to_numpy()[w.label[cells]] != "xa"
    score = (np.nan_to_num(dist, posinf=1e7) + 500.0) * np.where(remote, 3.0, 1.0) * (1 + w.z.ravel()[cells] / 2000)
    score *= w.rng.uniform(0.85, 1.15, len(score))
    score[centre | urban] = -1.0
    no_fiber = np.argsort(-score, kind="stable")[:N_UNFIBERED]
    vil.loc[no_fiber, "fiber"] = 0
    # White zones for 4G, around the remotest unfibered villages of the remote districts.
    xy = shapely.get_coordinates(vil.geometry.values)
    pop = vil.population.to_numpy()
    zones: list[int] = []
    gap = np.zeros(len(vil), dtype=bool)
    for j in no_fiber:
        if pop[gap].sum() >= 0.045 * pop.sum():
            break
        if not remote[j] or any(np.hypot(*(xy[z] - xy[j])) < 25_000 for z in zones):
            continue
        zones.append(int(j))
        gap |= (np.hypot(*(xy - xy[j]).T) < 5500) & ~centre & ~urban & remote
    return np.flatnonzero(gap)


# --------------------------------------------------------------------------------------------------- BTS
class _SitePicker:
    """Picks site cells on high ground near a point, with an optional exclusion mask."""

    def __init__(self, w: _Work):
        self.w = w
        self.zf = w.z.ravel()

    def near(self, xy: np.ndarray, radius: float, allowed: np.ndarray) -> int | None:
        g = self.w.grid
        r = int(radius / g.res) + 1
        c0 = g.index(xy)[0]
        rr, cc = np.divmod(c0, g.nx)
        dr, dc = np.mgrid[-r:r + 1, -r:r + 1]
        rows, cols = (rr + dr).ravel(), (cc + dc).ravel()
        ok = (rows >= 0) & (rows < g.ny) & (cols >= 0) & (cols < g.nx)
        cells = rows[ok] * g.nx + cols[ok]
        d = np.hypot(*(g.centres(cells) - xy).T)
        cells, d = cells[(d <= radius) & allowed[cells] & (self.w.label[cells] >= 0)], d[(d <= radius)
                                                                                       & allowed[cells]
                                                                                       & (self.w.label[cells] >= 0)]
        if cells.size == 0:
            return None
        return int(cells[np.argmax(self.zf[cells] - 0.08 * d)])


def _bts_sites(w: _Work, net: dt.RoadGrid, vil: gpd.GeoDataFrame, gap: np.ndarray) -> gpd.GeoDataFrame:
    """815 sites: 705 with 4G (kept > 11 km from the white-zone villages), 785 with 3G, 16 on diesel."""
    grid, rng = w.grid, w.rng
    picker = _SitePicker(w)
    vxy = shapely.get_coordinates(vil.geometry.values)
    pop = vil.population.to_numpy()
    n = grid.nx * grid.ny
    gap_mask = np.zeros(n, dtype=bool)
    gap_mask[grid.index(vxy[gap])] = True
    d_gap = ndimage.distance_transform_edt(~gap_mask.reshape(grid.ny, grid.nx), sampling=grid.res).ravel()
    allow4g = d_gap > 10_600  # > 10 km after the jitter of points within their cell
    anywhere = np.ones(n, dtype=bool)
    com = w.communes
    urban_cells = np.isin(w.label, np.flatnonzero((com.dist_code == "094").to_numpy() & (com.kind != "xa").to_numpy()))
    sites: list[dict] = []

    def add(cell: int | None, role: str, g4: bool) -> bool:
        if cell is None:
            return False
        sites.append({"cell": cell, "role": role, "g4": g4})
        return True

    def xy4() -> np.ndarray:
        return grid.centres(np.array([s["cell"] for s in sites if s["g4"]] or [0]))

    # Dense in Điện Biên Phủ, a cluster at every other seat.
    ucells = np.flatnonzero(urban_cells & allow4g)
    for j in _gumbel_order(rng, np.ones(len(ucells)))[:58]:
        add(int(ucells[j]), "urban", True)
    for code, seat in w.seats.items():
        if code == "094":
            continue
        for _ in range(6):
            add(picker.near(grid.centres([seat])[0] + rng.normal(0, 1200, 2), 1500, allow4g), "seat", True)
    # Along national roads, every ~4 km.
    road_cells = np.unique([c for k, (rank, _) in net.edges.items() if rank == 0 for c in k])
    for j in _gumbel_order(rng, np.ones(len(road_cells))):
        if len([s for s in sites if s["g4"]]) >= 330:
            break
        p = grid.centres([road_cells[j]])[0]
        if allow4g[road_cells[j]] and np.min(np.hypot(*(xy4() - p).T)) > 3800:
            add(picker.near(p, 1200, allow4g), "road", True)
    # Coverage of every village outside the white zones.
    outside = np.setdiff1d(np.arange(len(vil)), gap)
    for j in outside[np.argsort(-pop[outside], kind="stable")]:
        if np.min(np.hypot(*(xy4() - vxy[j]).T)) > 2800:
            add(picker.near(vxy[j], 2000, allow4g) or picker.near(vxy[j], 5000, allow4g), "cover", True)
    n4 = sum(s["g4"] for s in sites)
    if n4 > 705:
        raise RuntimeError(f"demo generator placed {n4} 4G sites, more than 705")
    for j in _gumbel_order(rng, pop.astype(float)):
        if sum(s["g4"] for s in sites) >= 705:
            break
        if allow4g[grid.index(vxy[j])[0]]:
            add(picker.near(vxy[j], 1800, allow4g), "fill", True)
    # 110 sites without 4G: 10 diesel 2G/3G sites in the white zones, the rest remote or in towns.
    for j in gap[_gumbel_order(rng, pop[gap].astype(float))][:10]:
        add(picker.near(vxy[j], 2500, anywhere), "zone", False)
    remote_v = np.flatnonzero(np.isin(com.dist_code.to_numpy()[w.label[grid.index(vxy)]], REMOTE_DISTRICTS))
    for j in _gumbel_order(rng, np.ones(len(remote_v))):
        if len(sites) >= 705 + 65:
            break
        add(picker.near(vxy[remote_v[j]], 2000, anywhere), "remote", False)
    town = np.flatnonzero(urban_cells | np.isin(np.arange(n), list(w.seats.values())))
    for j in _gumbel_order(rng, np.ones(len(town)))[:45]:
        add(int(town[j]), "town", False)
    return _site_attributes(w, sites, net)


def _site_attributes(w: _Work, sites: list[dict], net: dt.RoadGrid) -> gpd.GeoDataFrame:
    grid, rng = w.grid, w.rng
    df = pd.DataFrame(sites)
    cells = df.cell.to_numpy()
    xy = _inside_points(w, grid.centres(cells) + rng.uniform(-0.3, 0.3, (len(df), 2)) * grid.res, cells)
    trunk = np.zeros(grid.nx * grid.ny, dtype=bool)
    trunk[[c for k, (rank, _) in net.edges.items() if rank <= 1 for c in k]] = True
    d_trunk = ndimage.distance_transform_edt(~trunk.reshape(grid.ny, grid.nx), sampling=grid.res).ravel()[cells]
    remote = np.isin(w.communes.dist_code.to_numpy()[w.label[cells]], REMOTE_DISTRICTS)
    g4 = df.g4.to_numpy()
    role = df.role.to_numpy()
    # Operators: Gmobile and Vietnamobile in towns; Viettel favoured in remote places; exact quotas.
    op = np.empty(len(df), dtype=object)
    town = np.flatnonzero(role == "town")
    op[town[:20]], op[town[20:]] = "Gmobile", "Vietnamobile"
    urban4 = np.flatnonzero(g4 & np.isin(role, ["urban", "seat"]))
    op[urban4[rng.permutation(len(urban4))[:15]]] = "Vietnamobile"
    quotas = {k: v for k, v in OPERATORS.items() if k in ("Viettel", "VinaPhone", "MobiFone")}
    zone = np.flatnonzero(role == "zone")
    op[zone] = "Viettel"
    quotas["Viettel"] -= len(zone)
    rest = np.flatnonzero(op == None)  # noqa: E711
    rest = rest[np.argsort(-(remote[rest] * 2.0 + d_trunk[rest] / 1e4 + rng.uniform(0, 1, len(rest))), kind="stable")]
    for j in rest:
        pref = np.array([1.0 + 2.5 * remote[j] + (role[j] == "remote"), 1.0, 1.0])
        left = np.array(list(quotas.values()), dtype=float)
        p = pref * left
        name = list(quotas)[int(rng.choice(3, p=p / p.sum()))]
        op[j] = name
        quotas[name] -= 1
    tech = np.where(g4, "2G,3G,4G", "2G,3G").astype(object)
    gm = np.flatnonzero(op == "Gmobile")
    tech[gm[:15]] = "2G"
    big4 = np.flatnonzero(g4 & (op != "Vietnamobile"))
    pick = big4[rng.permutation(len(big4))]
    tech[pick[:15]], tech[pick[15:55]] = "2G,4G", "3G,4G"
    # Diesel: the 10 white-zone sites and the 6 4G sites of the remote districts farthest from main roads.
    power = np.full(len(df), "grid", dtype=object)
    power[zone] = "diesel"
    far = np.flatnonzero(g4 & remote)
    power[far[np.argsort(-d_trunk[far], kind="stable")[:6]]] = "diesel"
    diesel = power == "diesel"
    band = np.where(g4, 1800.0, np.where(np.char.find(tech.astype(str), "3G") >= 0, 2100.0, 900.0))
    rural_vt = g4 & (op == "Viettel") & (role != "urban")
    band[rural_vt & (rng.uniform(size=len(df)) < 0.12)] = 900.0
    band[g4 & diesel] = 700.0
    band[g4 & (op == "VinaPhone") & (rng.uniform(size=len(df)) < 0.1)] = 2100.0
    height = np.select([role == "urban", role == "town", role == "seat", diesel | (role == "zone") | remote],
                       [rng.uniform(15, 30, len(df)), rng.uniform(18, 35, len(df)), rng.uniform(20, 40, len(df)),
                        rng.uniform(40, 60, len(df))], rng.uniform(30, 45, len(df)))
    ids = []
    count = dict.fromkeys(OPERATORS, 0)
    for o in op:
        count[o] += 1
        ids.append(f"{OP_PREFIX[o]}{count[o]:04d}")
    return gpd.GeoDataFrame({"id": ids, "operator": op.astype(str), "tech": tech.astype(str), "band_mhz": band,
                             "height_m": np.round(height), "power": power.astype(str)},
                            geometry=shapely.points(xy), crs=CRS)


def _inside_points(w: _Work, xy: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Move points that are not strictly inside the commune of their cell just inside it."""
    geoms = w.communes.geometry.values
    lab = w.label[cells]
    inner = shapely.buffer(geoms, -40.0)
    pts = shapely.points(xy)
    bad = ~shapely.contains(inner[lab], pts)
    if bad.any():
        line = shapely.shortest_line(inner[lab[bad]], pts[bad])
        xy = xy.copy()
        xy[bad] = shapely.get_coordinates(shapely.get_point(line, 0))
    return xy


# --------------------------------------------------------------------------------------------------- post
def _remoteness(w: _Work, net: dt.RoadGrid) -> np.ndarray:
    """Road distance (m) from the commune centre to the nearest district seat, tripled in remote districts."""
    from scipy.sparse.csgraph import dijkstra

    graph, _ = _road_csr(net)
    d = dijkstra(graph, indices=np.array(sorted(set(w.seats.values()))), min_only=True)[w.centres]
    d = np.nan_to_num(d, posinf=2e5)
    return d * np.where(w.communes.dist_code.isin(REMOTE_DISTRICTS).to_numpy(), 3.0, 1.0)


def _post_offices(w: _Work, remoteness: np.ndarray) -> gpd.GeoDataFrame:
    """168 service points with the department's kind counts."""
    com, grid, rng = w.communes, w.grid, w.rng
    codes = com.code.to_numpy()
    row = {c: i for i, c in enumerate(codes)}
    kind = com.kind.to_numpy()
    rows: list[tuple[str, str, int]] = []  # kind, name, commune row
    tp = "Điện Biên Phủ"
    rows += [("cap1", f"Bưu cục cấp I {tp}", row.get("03136", 0)), ("cap1", "Bưu cục cấp I Mường Thanh",
                                                                     row.get("03133", 0))]
    rows += [("kt1", "Bưu cục KT1 Điện Biên", row.get("03136", 0)),
             ("large_cust", f"Bưu cục Khách hàng lớn {tp}", row.get("03127", 0))]
    seat_rows = []
    for code in sorted(w.seats):
        r = int(w.label[w.seats[code]]) if code != "094" else row.get("03127", 0)
        seat_rows.append(r)
        dname = _short(com.district[com.dist_code == code].iloc[0]) if (com.dist_code == code).any() else code
        rows.append(("cap2", f"Bưu cục cấp II {dname if code != '094' else com.name.iloc[r]}", r))
    pop = com.population.to_numpy()
    cand = [i for i in np.argsort(-pop, kind="stable") if i not in seat_rows]
    rows += [("cap3", f"Bưu cục cấp III {com.name.iloc[i]}", int(i)) for i in cand[:37]]
    boxes = [row[c] for c in ("03133", "03130", "03139", "03124") if c in row]
    boxes += list(np.flatnonzero(kind == "thi_tran"))
    boxes += [i for i in np.argsort(-pop, kind="stable") if i not in boxes][: 9 - len(boxes)]
    rows += [("letterbox", f"Hộp thư công cộng {com.name.iloc[i]}", int(i)) for i in boxes[:9]]
    xa = np.flatnonzero(kind == "xa")
    skip = [row[CAP2_NO_BDVHX]] if CAP2_NO_BDVHX in row else []
    order = [i for i in xa[np.argsort(-remoteness[xa], kind="stable")] if i not in skip]
    skip += order[: len(xa) - 107 - len(skip)]
    rows += [("bdvhx", f"Điểm BĐVHX {com.name.iloc[i]}", int(i)) for i in xa if i not in skip]
    tt = int(w.label[_nearest_cells((w.label >= 0).reshape(grid.ny, grid.nx), grid, w.place([TAY_TRANG]))[0]])
    rows.append(("other", "Đại lý bưu điện cửa khẩu Tây Trang", tt))
    crow = np.array([r for _, _, r in rows])
    cells = np.array([int(w.centres[r]) for r in crow])
    cells[-1] = int(_nearest_cells((w.label == tt).reshape(grid.ny, grid.nx), grid, w.place([TAY_TRANG]))[0])
    xy = grid.centres(cells) + rng.uniform(-0.45, 0.45, (len(rows), 2)) * grid.res
    xy = _inside_points(w, xy, cells)
    return gpd.GeoDataFrame({"id": [f"BC{i + 1:03d}" for i in range(len(rows))], "name": [_nfc(n) for _, n, _ in rows],
                             "kind": [k for k, _, _ in rows]}, geometry=shapely.points(xy), crs=CRS)


# --------------------------------------------------------------------------------------------------- fiber
def _fiber_routes(w: _Work, net: dt.RoadGrid, vil: gpd.GeoDataFrame, vcells: np.ndarray) -> gpd.GeoDataFrame:
    """Backbone on national roads, distribution along roads to every commune centre, access to fibered villages."""
    from scipy.sparse.csgraph import dijkstra

    graph, _ = _road_csr(net)
    dcode = w.communes.dist_code.to_numpy()
    edges: dict[tuple[int, int], tuple[int, str]] = {}
    for k, (rank, name) in net.edges.items():
        if rank == 0:
            edges[k] = (0, "VNPT" if name in ("QL279", "QL12") else "Viettel")
    def grow(targets: np.ndarray, kind: int) -> None:
        tree = np.zeros(net.n, dtype=bool)
        tree[[c for k in edges for c in k]] = True
        _, pred, _ = dijkstra(graph, indices=np.flatnonzero(tree), min_only=True, return_predecessors=True)
        for t in targets:
            op = "Viettel" if dcode[w.label[t]] in REMOTE_DISTRICTS else "VNPT"
            path = dt.path_to_tree(pred, int(t), tree)
            for a, b in zip(path[:-1], path[1:], strict=True):
                edges.setdefault((min(a, b), max(a, b)), (kind, op))
            tree[path] = True

    grow(w.centres, 1)
    grow(vcells[vil.fiber.to_numpy() == 1], 2)
    chains = _segments(edges, w.grid)
    geoms = shapely.simplify(np.array([shapely.LineString(xy) for xy, _ in chains]), 8.0)
    urban = w.communes[(w.communes.kind != "xa").to_numpy()].geometry.union_all()
    under = shapely.within(shapely.line_interpolate_point(geoms, 0.5, normalized=True), urban)
    kinds = ("backbone", "distribution", "access")
    return gpd.GeoDataFrame({"id": [f"F{i + 1:04d}" for i in range(len(chains))],
                             "kind": [kinds[a[0]] for _, a in chains],
                             "install": np.where(under & (np.array([a[0] for _, a in chains]) > 0), "underground",
                                                 "aerial"),
                             "operator": [a[1] for _, a in chains]}, geometry=geoms, crs=CRS)


# --------------------------------------------------------------------------------------------------- build
def _dem(w: _Work, terrain: dt.Terrain, outline, resolution_m: float) -> tuple[np.ndarray, Affine]:
    """Int16 DEM over the province plus 5 km, nodata beyond; the same landscape at every resolution."""
    grid = dt.Grid.around(outline.bounds, resolution_m, 6000.0)
    z = terrain.elevation(w.fin.unscale_grid(grid))
    inside = grid.rasterize([shapely.buffer(outline, 5000.0)]) == 1
    return np.where(inside, np.round(z), -32768).astype(np.int16), grid.transform


def _point_communes(communes: gpd.GeoDataFrame, points: np.ndarray) -> np.ndarray:
    """Code of the commune that contains each point (the first one when polygons overlap)."""
    pi, ci = communes.sindex.query(points, predicate="within")
    first = np.full(len(points), -1)
    first[pi[::-1]] = ci[::-1]
    return np.where(first >= 0, communes.code.to_numpy()[np.maximum(first, 0)], "")


def build_demo(*, seed: int = 2021, dem_resolution_m: float = 90.0,
               communes: gpd.GeoDataFrame | None = None) -> DemoProvince:
    """Generate the demo province.

    Parameters
    ----------
    seed
        Random seed; the same seed gives the same province.
    dem_resolution_m
        Cell size of the DEM (m). The vector layers do not depend on it.
    communes
        Real commune polygons (with ``code``, ``name``, ``population`` and optionally ``kind``, ``district``,
        ``dist_code``) to build the province on instead of generated ones. Village populations are then scaled to
        each commune's population and the province-wide figures hold only approximately.

    Returns
    -------
    DemoProvince
        All layers in EPSG:9205 and the DEM.
    """
    t0 = time.perf_counter()
    units = load_units()
    rng = np.random.default_rng(seed)
    if communes is None:
        frame = dt.Frame.synthetic(AREA_KM2 * 1e6)
        outline = dt.province_outline(seed, AREA_KM2 * 1e6, frame)
    else:
        frame = dt.Frame()
        outline = shapely.union_all(communes.to_crs(CRS).geometry.values)
    terrain = dt.Terrain(seed, frame)
    grid = dt.Grid.around(outline.bounds, WORK_RES_M, 4000.0)
    w = _Work(grid, terrain.elevation(grid), np.empty(0, dtype=np.int64), gpd.GeoDataFrame(), np.empty(0),
              {}, frame, dt.Frame(), rng)
    w = _synthetic_communes(units, w, terrain, outline) if communes is None else _given_communes(communes, units, w)
    logger.info("communes ready (%.1f s)", time.perf_counter() - t0)
    net = _main_roads(w)
    vil, vcells = _villages(w, net)
    track = np.where(np.isin(vil.commune, w.communes.code[w.communes.dist_code.isin(REMOTE_DISTRICTS)])
                     | (vil.population < 250), 4, 3)
    net.connect(vcells, track)
    logger.info("roads and villages ready (%.1f s)", time.perf_counter() - t0)
    gap = _fiber_and_gaps(w, net, vil, vcells)
    sites = _bts_sites(w, net, vil, gap)
    remoteness = _remoteness(w, net)
    post = _post_offices(w, remoteness)
    fiber = _fiber_routes(w, net, vil, vcells)
    roads = _roads_layer(net, w.grid)
    com = w.communes.copy()
    com["population"] = vil.groupby("commune").population.sum().reindex(com.code).fillna(0).astype(int).to_numpy()
    com["households"] = vil.groupby("commune").households.sum().reindex(com.code).fillna(0).astype(int).to_numpy()
    xa = np.flatnonzero(com.kind.to_numpy() == "xa")
    no_radio = xa[np.argsort(-remoteness[xa], kind="stable")][: max(0, len(com) - N_RADIO)]
    com["radio"] = 1
    com.loc[no_radio, "radio"] = 0
    com = com[["code", "name", "kind", "dist_code", "district", "population", "households", "radio", "geometry"]]
    districts = com.dissolve(by="dist_code", as_index=False, sort=True)[["dist_code", "district", "geometry"]]
    districts = districts.rename(columns={"dist_code": "code", "district": "name"})
    sites["commune"] = _point_communes(com, sites.geometry.values)
    post["commune"] = _point_communes(com, post.geometry.values)
    dem, transform = _dem(w, terrain, shapely.union_all(com.geometry.values), dem_resolution_m)
    logger.info("demo province built in %.1f s", time.perf_counter() - t0)
    return DemoProvince(com, vil, sites, fiber, post, roads, districts, dem, transform,
                        uncovered_villages=tuple(vil.id.iloc[gap]))


# --------------------------------------------------------------------------------------------------- write
def _patch_dbf_date(path: Path) -> None:
    """Set the DBF header's last-update date (bytes 1–3) to a fixed day, so re-runs are byte-identical."""
    with open(path, "r+b") as f:
        f.seek(1)
        f.write(bytes(DBF_DATE))


def _write_layers(demo: DemoProvince, folder: Path) -> None:
    for name, gdf in demo.layers().items():
        gdf = gdf.copy()
        for col in gdf.columns:
            if col != "geometry" and gdf[col].dtype == bool:
                gdf[col] = gdf[col].astype(np.int32)
        gdf.to_file(folder / f"{name}.shp", engine="pyogrio", encoding="UTF-8")
        _patch_dbf_date(folder / f"{name}.dbf")
    profile = {"driver": "GTiff", "width": demo.dem.shape[1], "height": demo.dem.shape[0], "count": 1,
               "dtype": "int16", "nodata": -32768, "crs": demo.crs, "transform": demo.dem_transform,
               "compress": "deflate", "predictor": 2, "zlevel": 9, "tiled": True, "blockxsize": 256,
               "blockysize": 256}
    with rasterio.open(folder / "dem.tif", "w", **profile) as dst:
        dst.write(demo.dem, 1)


def write_demo(out_dir: str | os.PathLike, *, seed: int = 2021, dem_resolution_m: float = 90.0,
               communes: gpd.GeoDataFrame | None = None) -> Path:
    """Build the demo province and write it to `out_dir`.

    One ESRI Shapefile per layer (UTF-8, with a ``.cpg``; booleans as 0/1 integers) and ``dem.tif`` (int16,
    nodata -32768, DEFLATE + predictor 2, 256 × 256 tiles, EPSG:9205). Everything is first written to a temporary
    folder beside `out_dir` and moved into place only when complete. Re-runs with the same arguments give
    byte-identical files (the DBF header date is fixed to 2021-06-30).

    Parameters
    ----------
    out_dir
        Folder to write to; created if needed. Files of the same names are replaced, others are left alone.
    seed, dem_resolution_m, communes
        As for :func:`build_demo`.

    Returns
    -------
    pathlib.Path
        `out_dir`.
    """
    out = Path(out_dir)
    demo = build_demo(seed=seed, dem_resolution_m=dem_resolution_m, communes=communes)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        _write_layers(demo, tmp)
        if not out.exists():
            tmp.rename(out)
            return out
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    for f in sorted(out.iterdir()):
        if f.is_file():
            logger.info("%s  %8.1f kB  sha256 %s", f.name, f.stat().st_size / 1e3,
                        hashlib.sha256(f.read_bytes()).hexdigest()[:12])
    return out
