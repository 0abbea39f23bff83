"""Cells (sectors) of the demo's BTS sites and a land cover on its DEM.

Cells: three sectors per 3G/4G site 120° apart, turned together to serve the most people around the site
(villages within 6 km weighted by population / distance² and the 3GPP sector pattern), each then turned by up to 5°
at random; downtilt 2–4° on rural masts, 3–6° in towns; 18.5 dBi panels on 2 × 80 W radio units.
Sites by a national or provincial road with few people around get a single
sector along the road towards the people there is. 2G-only sites stay omnidirectional.

Land cover (ESA WorldCover 2021 codes) on the DEM grid: valley floors are cropland (rice) and the slopes below 25°
within 1.5 km of a village its fields (paddies and nương, the swidden rotation around a bản); steep or high ground
is tree cover, with shrubland and grassland (old swidden) between, patchy by a smooth random field; villages of
3,000 people or more are built-up over a disk that grows with their population (300 m for 10,000 people; smaller
bản and tổ dân phố, houses among gardens and trees, are cropland, as the majority class of 10 m WorldCover pixels
would be); mast pads are cleared (grassland). The values are module constants (docs/sources.md §7).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from scipy import ndimage

from ..layers import parse_tech

#: Villages of at least this many people are built-up in the demo's land cover (smaller bản of stilt houses among
#: gardens and trees are not, as in 10 m WorldCover).
BUILT_UP_MIN_POPULATION = 3000
#: Commune kinds whose villages (tổ dân phố) are built-up whatever their size: none in the demo (a tổ dân phố of a
#: hill town under 3,000 people is houses among gardens, as a bản is; see docs/sources.md §7).
BUILT_UP_KINDS: tuple[str, ...] = ()
#: Horizontal 3 dB beamwidth and gain of the demo's sector panels (65°, 1.8 GHz: 17.5–18.5 dBi in vendors' data
#: sheets; the demo takes the long high-gain panels of rural coverage sites).
BEAMWIDTH_DEG = 65.0
GAIN_DBI = 18.5
#: Transmit power per port of the sectors' 2 × 80 W rural-coverage radio units (the technology's default is
#: 2 × 40 W).
POWER_DBM = 49.0
#: The sectors are turned to serve the most people within `AIM_RADIUS_M`, each village weighted by its population /
#: distance^`AIM_DISTANCE_POWER` (distances below 300 m count as 300 m), then each by up to ±`AIM_JITTER_DEG` at random.
AIM_RADIUS_M = 6000.0
AIM_DISTANCE_POWER = 2.0
AIM_JITTER_DEG = 5.0
#: Downtilt range (degrees, mechanical + electrical) of the sectors of rural masts and of masts in towns.
RURAL_TILT_DEG = (2.0, 4.0)
TOWN_TILT_DEG = (3.0, 6.0)
#: Fields (paddies, upland nương) around every village: out to `FIELDS_RADIUS_M` on slopes below
#: `FIELDS_MAX_SLOPE_DEG`, and within `GARDENS_RADIUS_M` whatever the slope.
FIELDS_RADIUS_M = 1500.0
FIELDS_MAX_SLOPE_DEG = 25.0
GARDENS_RADIUS_M = 250.0
#: Sites by a main road with fewer people than this within 4 km get a single sector along the road.
ROAD_SECTOR_MAX_PEOPLE = 1500.0


def sector_attenuation(phi_deg):
    """3GPP horizontal attenuation of a `BEAMWIDTH_DEG` sector (front-to-back 25 dB) at φ degrees off its azimuth."""
    return np.minimum(12.0 * (np.asarray(phi_deg) / BEAMWIDTH_DEG) ** 2, 25.0)


def demo_cells(sites: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, communes:
               gpd.GeoDataFrame, *, seed: int) -> pd.DataFrame:
    """Return the cells table of the demo's sites (see the module docstring)."""
    rng = np.random.default_rng(seed + 13)
    sxy = shapely.get_coordinates(sites.geometry.values)
    vxy = shapely.get_coordinates(villages.geometry.values)
    pop = villages["population"].to_numpy(dtype=float)
    main = roads[roads["road_class"].isin(["national", "provincial"])]
    road_union = shapely.union_all(main.geometry.values)
    d_road = shapely.distance(sites.geometry.values, road_union)
    town = sites["commune"].isin(communes.loc[communes["kind"] != "xa", "code"]).to_numpy()
    rows = []
    for k, sid in enumerate(sites["id"].astype(str)):
        techs = parse_tech(sites["tech"].iloc[k])
        if not ({"3G", "4G"} & set(techs)):
            continue
        dx, dy = vxy[:, 0] - sxy[k, 0], vxy[:, 1] - sxy[k, 1]
        d = np.hypot(dx, dy)
        near = d < AIM_RADIUS_M
        w = pop[near] / np.maximum(d[near], 300.0) ** AIM_DISTANCE_POWER
        people = pop[d < 4000].sum()
        if w.sum() > 0:
            aim = np.degrees(np.arctan2((w * dx[near]).sum(), (w * dy[near]).sum())) % 360.0
        else:
            aim = rng.uniform(0, 360)
        tilt_lo, tilt_hi = TOWN_TILT_DEG if town[k] else RURAL_TILT_DEG
        if d_road[k] < 400 and people < ROAD_SECTOR_MAX_PEOPLE and not town[k]:
            # a single sector along the road, towards the people
            line = main.geometry.values[np.argmin(shapely.distance(main.geometry.values, sites.geometry.values[k]))]
            at = line.project(shapely.Point(sxy[k]))
            a, b = line.interpolate(max(at - 200, 0.0)), line.interpolate(min(at + 200, line.length))
            road_az = np.degrees(np.arctan2(b.x - a.x, b.y - a.y)) % 360.0
            az = road_az if abs(((aim - road_az) + 180) % 360 - 180) < 90 else (road_az + 180) % 360
            rows.append({"site": sid, "cell": f"{sid}-1", "azimuth": round(az), "tilt": round(rng.uniform(1, 3)),
                         "beamwidth": BEAMWIDTH_DEG, "gain_dbi": GAIN_DBI, "power_dbm": POWER_DBM})
            continue
        # the three sectors turned together to serve the most people (population / distance², 3GPP pattern)
        turns = np.arange(0.0, 120.0, 5.0)
        phi = (np.degrees(np.arctan2(dx[near], dy[near]))[None, :] - turns[:, None]) % 120.0
        phi = np.minimum(phi, 120.0 - phi)  # off the nearest of the three azimuths
        served = (w[None, :] * 10 ** (-sector_attenuation(phi) / 10)).sum(axis=1)
        best = turns[int(np.argmax(served))] if w.sum() > 0 else aim
        for j in range(3):
            az = (best + 120 * j + rng.uniform(-AIM_JITTER_DEG, AIM_JITTER_DEG)) % 360.0
            rows.append({"site": sid, "cell": f"{sid}-{j + 1}", "azimuth": round(az),
                         "tilt": round(rng.uniform(tilt_lo, tilt_hi)), "beamwidth": BEAMWIDTH_DEG,
                         "gain_dbi": GAIN_DBI, "power_dbm": POWER_DBM})
    return pd.DataFrame(rows, columns=["site", "cell", "azimuth", "tilt", "beamwidth", "gain_dbi", "power_dbm"])


def demo_landcover(dem: np.ndarray, transform: Affine, villages: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
                   communes: gpd.GeoDataFrame, *, seed: int) -> np.ndarray:
    """Return the land cover (uint8 WorldCover codes, 0 outside the DEM) on the DEM grid."""
    rng = np.random.default_rng(seed + 17)
    res = transform.a
    valid = dem != -32768
    z = np.where(valid, dem, np.nan).astype(float)
    zf = np.where(valid, z, np.nanmean(z))
    gy, gx = np.gradient(zf, res)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    floor = ndimage.minimum_filter(ndimage.uniform_filter(zf, 5), size=int(2000 / res) | 1)
    relief = zf - floor  # height above the local valley floor
    noise = ndimage.gaussian_filter(rng.normal(size=dem.shape), 600 / res)
    noise /= noise.std() or 1.0
    out = np.full(dem.shape, 10, np.uint8)  # tree cover
    score = slope / 20.0 + relief / 500.0 + 0.35 * noise
    out[score < 1.0] = 20  # shrubland
    out[score < 0.65] = 30  # grassland
    out[(slope < 6.0) & (relief < 80.0)] = 40  # valley floors: rice
    inv = ~transform
    vx, vy = shapely.get_coordinates(villages.geometry.values).T
    fc, fr = vx * inv.a + vy * inv.b + inv.c, vx * inv.d + vy * inv.e + inv.f
    rows, cols = np.floor(fr).astype(int), np.floor(fc).astype(int)
    ok = (rows >= 0) & (rows < dem.shape[0]) & (cols >= 0) & (cols < dem.shape[1])
    marks = np.zeros(dem.shape, bool)
    marks[rows[ok], cols[ok]] = True
    near_village = ndimage.distance_transform_edt(~marks, sampling=res)
    out[(near_village < FIELDS_RADIUS_M) & (slope < FIELDS_MAX_SLOPE_DEG)] = 40  # paddies and upland fields (nương)
    out[near_village < GARDENS_RADIUS_M] = 40
    pop = villages["population"].to_numpy(dtype=float)
    town = villages["commune"].isin(communes.loc[communes["kind"].isin(BUILT_UP_KINDS), "code"]).to_numpy()
    radius = 30.0 * np.sqrt(pop / 100.0)  # 300 m for 10,000 people
    built = (pop >= BUILT_UP_MIN_POPULATION) | town
    for r, c, rad in zip(rows[ok & built], cols[ok & built], radius[ok & built], strict=True):
        n = int(rad // res) + 1
        rr, cc = np.ogrid[-n:n + 1, -n:n + 1]
        disk = (rr * rr + cc * cc) * res * res <= rad * rad
        r0, c0 = max(r - n, 0), max(c - n, 0)
        sub = out[r0:r + n + 1, c0:c + n + 1]
        sub[disk[r0 - (r - n):r0 - (r - n) + sub.shape[0], c0 - (c - n):c0 - (c - n) + sub.shape[1]]] = 50
    sx, sy = shapely.get_coordinates(sites.geometry.values).T
    fc, fr = sx * inv.a + sy * inv.b + inv.c, sx * inv.d + sy * inv.e + inv.f
    srow, scol = np.floor(fr).astype(int), np.floor(fc).astype(int)
    inside = (srow >= 1) & (srow < dem.shape[0] - 1) & (scol >= 1) & (scol < dem.shape[1] - 1)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            cells = out[srow[inside] + dr, scol[inside] + dc]
            out[srow[inside] + dr, scol[inside] + dc] = np.where(cells == 10, 30, cells)  # cleared mast pads
    out[~valid] = 0
    return out
