"""Villages: places, names, population and households, with the department's totals exact."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from scipy import ndimage

from ..encoding import to_nfc
from .communes import Work
from .geography import BASIN_UNITS, CRS, REMOTE_DISTRICTS
from .noise import gumbel_order
from .roads import RoadGrid

POPULATION = 616_560  # 3,670 people per postal point × 168 points


HOUSEHOLDS = 144_396


N_VILLAGES = 1444


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


def _apportion(weights: np.ndarray, total: int, minimum: int = 0) -> np.ndarray:
    """Integers proportional to `weights`, each ≥ `minimum`, summing exactly to `total` (largest remainder)."""
    weights = np.asarray(weights, dtype=float)
    base = np.full(len(weights), minimum, dtype=np.int64)
    quota = weights / weights.sum() * (total - base.sum())
    out = base + np.floor(quota).astype(np.int64)
    rest = total - out.sum()
    out[np.argsort(-(quota - np.floor(quota)), kind="stable")[:rest]] += 1
    return out


def _suitability(w: Work, net: RoadGrid) -> np.ndarray:
    """Where people live: valleys and gentle slopes, near roads; H'Mông hamlets on gentle high ground."""
    grid, zf = w.grid, w.z.ravel()
    rel = (w.z - ndimage.minimum_filter(w.z, size=int(3000 / grid.res))).ravel()
    gy, gx = np.gradient(w.z, grid.res)
    slope = np.hypot(gx, gy).ravel()
    droad = ndimage.distance_transform_edt(~net.on.reshape(grid.ny, grid.nx), sampling=grid.res).ravel()
    dist = w.communes.dist_code.to_numpy()[np.maximum(w.label, 0)]
    highland = np.where(np.isin(dist, HMONG_DISTRICTS), 0.9, 0.3) * np.exp(-slope / 0.2) * (zf > 1000)
    return (np.exp(-rel / 180.0) + highland) * (0.25 + np.exp(-droad / 2000.0)) * np.exp(-slope / 0.5)


def _place_villages(w: Work, counts: np.ndarray, suit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        order = np.concatenate([[first], gumbel_order(rng, weights)])
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
    return [to_nfc(n) for n in names]


def villages(w: Work, net: RoadGrid) -> tuple[gpd.GeoDataFrame, np.ndarray]:
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
