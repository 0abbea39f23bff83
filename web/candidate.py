"""A candidate site placed on the map: its predicted coverage, the villages it would newly cover, households, cost.

The coverage is the one of `ictgis.coverage.compute` for that one site (the single-site run of the best-server
kernel, about 0.1 s on the demo's DEM once compiled), drawn as a PNG of its RSRP classes cropped to its reach; the
villages are those `ictgis.coverage.coverage_matrix` finds served at the threshold (the model of the raster, on
each village's terrain profile), less those the served 4G coverage (`web.analyses.coverage_result`) serves already.
The cost is that of a new site in the ``add_sites`` scenarios (`settings.site_greenfield_usd` at
`settings.usd_to_vnd`).
"""

from __future__ import annotations

import base64
import threading
import time

import geopandas as gpd
import numpy as np
from affine import Affine
from shapely.geometry import Point

from ictgis import coverage, settings
from ictgis.crs import to_crs
from ictgis.io import Dataset, assign_commune
from ictgis.rasterpng import classed_png
from ictgis.terrain import Dem, read_dem

from .analyses import background, content_key, coverage_result

#: Technologies a candidate can carry, and the antenna heights the form allows (m).
TECHNOLOGIES = ("4G", "3G", "5G")
HEIGHT_RANGE_M = (5.0, 120.0)
#: Villages listed in the answer (all are counted).
MAX_LISTED = 50

_dem_lock = threading.Lock()


def dem_of(ds: Dataset) -> Dem:
    """Return the DEM the served coverage was computed on (no second copy), else read once per dataset content."""
    served = coverage_result(ds, "4G")
    if served is not None:
        return served.dem
    with _dem_lock:
        return background(("dem", content_key(ds)), lambda: read_dem(ds.dem_path), wait=True)


def site_frame(ds: Dataset, *, lon: float, lat: float, height_m: float, technology: str) -> gpd.GeoDataFrame:
    """Return the candidate as a one-row `bts_sites` frame in the dataset's CRS (commune assigned)."""
    bts = ds["bts_sites"]
    point = to_crs(gpd.GeoDataFrame(geometry=[Point(lon, lat)], crs=settings.display_crs), bts.crs)
    frame = gpd.GeoDataFrame({"id": ["CANDIDATE"], "operator": [settings.default_operator], "tech": [technology],
                              "band_mhz": [np.nan], "height_m": [float(height_m)], "power": ["grid"]},
                             geometry=point.geometry.to_numpy(), crs=bts.crs)
    return assign_commune(frame, ds["communes"])


def window(dem: Dem, site: gpd.GeoDataFrame) -> Dem:
    """Return the part of a DEM a site can reach (`ictgis.coverage.MAX_RADIUS_M` around it, plus two cells).

    The coverage of one site is the same on it as on the whole DEM (no ray leaves it), computed without the
    whole-grid arrays of the best-server passes.
    """
    rows, cols = dem.cell_of(site.geometry.x.to_numpy(), site.geometry.y.to_numpy())
    n = int(np.ceil(coverage.MAX_RADIUS_M / dem.resolution_m)) + 2
    r0, c0 = max(0, int(rows[0]) - n), max(0, int(cols[0]) - n)
    r1, c1 = min(dem.shape[0], int(rows[0]) + n + 1), min(dem.shape[1], int(cols[0]) + n + 1)
    return Dem(np.ascontiguousarray(dem.elevation[r0:r1, c0:c1]), dem.transform @ Affine.translation(c0, r0),
               dem.crs, dem.resolution_m)


def inside(ds: Dataset, *, lon: float, lat: float) -> bool:
    """Tell whether a point (WGS 84) lies on a cell of the dataset's DEM that has a height."""
    dem = dem_of(ds)
    site = site_frame(ds, lon=lon, lat=lat, height_m=settings.default_site_height_m, technology="4G")
    rows, cols = dem.cell_of(site.geometry.x.to_numpy(), site.geometry.y.to_numpy())
    r, c = int(rows[0]), int(cols[0])
    return 0 <= r < dem.shape[0] and 0 <= c < dem.shape[1] and bool(np.isfinite(dem.elevation[r, c]))


def evaluate(ds: Dataset, *, lon: float, lat: float, height_m: float, technology: str = "4G",
             usd_to_vnd: float | None = None) -> dict:
    """Predict what one new site would cover.

    Parameters
    ----------
    ds
        The served dataset (with a DEM, villages and sites).
    lon, lat
        Where the site is placed (WGS 84).
    height_m
        Antenna height above ground.
    technology
        One of `TECHNOLOGIES`.

    Returns
    -------
    dict
        ``overlay`` (``{"png": data URL, "bounds"}`` of its RSRP classes, None when it covers nothing),
        ``villages`` (newly covered ones, best signal first, at most `MAX_LISTED`), ``villages_newly_covered``,
        ``households``, ``population``, ``villages_in_reach`` (covered by the candidate, newly or not),
        ``cost_vnd``, ``base_known`` (whether the served coverage was known to subtract), ``elapsed_ms``.
    """
    t0 = time.perf_counter()
    dem = dem_of(ds)
    site = site_frame(ds, lon=lon, lat=lat, height_m=height_m, technology=technology)
    # the site alone, without villages (they are evaluated below on their own terrain profiles, not here)
    layers = {k: v for k, v in ds.layers.items() if k != "villages"} | {"bts_sites": site}
    one = Dataset(layers=layers, sources=dict(ds.sources), crs=ds.crs,
                  data_dir=ds.data_dir, dem_path=ds.dem_path, topology=ds.topology, area_km2=ds.area_km2,
                  derived=True)
    # a new site has no cells: omnidirectional (the folder's cells name the other sites, not in `one`)
    result = coverage.compute(one, technology=technology, dem=window(dem, site), progress=lambda f, m: None,
                              cells=False)
    overlay = _overlay(result)
    villages = ds["villages"]
    covered, rsrp = coverage.coverage_matrix(ds, site, villages, technology=technology, dem=dem, cells=False)
    mine = covered.toarray()[0]
    served = coverage_result(ds, technology)
    base_known = served is not None and len(served.villages) == len(villages)
    already = served.villages["covered"].to_numpy(dtype=bool) if base_known else np.zeros(len(villages), bool)
    new = mine & ~already
    signal = rsrp.toarray()[0]
    idx = np.flatnonzero(new)
    idx = idx[np.argsort(-signal[idx])]
    households = villages["households"].astype("Float64").fillna(0).to_numpy(dtype=float) \
        if "households" in villages else np.zeros(len(villages))
    population = villages["population"].astype("Float64").fillna(0).to_numpy(dtype=float)
    names = villages["name"].astype(str).to_numpy()
    ids = villages["id"].astype(str).to_numpy()
    communes = villages["commune"].astype(str).to_numpy() if "commune" in villages else [""] * len(villages)
    points = to_crs(villages.iloc[idx[:MAX_LISTED]][[villages.geometry.name]], settings.display_crs)
    listed = [{"id": ids[i], "name": names[i], "commune": communes[i], "households": int(households[i]),
               "population": int(population[i]), "rsrp_dbm": round(float(signal[i]), 1),
               "lat": round(float(p.y), 6), "lon": round(float(p.x), 6)}
              for i, p in zip(idx[:MAX_LISTED], points.geometry, strict=True)]
    usd = settings.usd_to_vnd if usd_to_vnd is None else usd_to_vnd
    return {"technology": technology, "height_m": float(height_m), "lon": lon, "lat": lat,
            "commune": site["commune"].iloc[0] if "commune" in site else None,
            "overlay": overlay, "villages": listed, "villages_newly_covered": int(new.sum()),
            "villages_in_reach": int(mine.sum()), "households": int(households[new].sum()),
            "population": int(population[new].sum()), "cost_vnd": round(settings.site_greenfield_usd * usd),
            "threshold_dbm": result.threshold_dbm, "base_known": base_known,
            "elapsed_ms": round(1000 * (time.perf_counter() - t0), 1)}


def _overlay(result: coverage.CoverageResult) -> dict | None:
    """Return the site's RSRP classes as a PNG (data URL) cropped to the cells it reaches, with lat/lon bounds."""
    rsrp = result.rsrp_dbm
    rows = np.flatnonzero(np.isfinite(rsrp).any(axis=1))
    cols = np.flatnonzero(np.isfinite(rsrp).any(axis=0))
    if not len(rows):
        return None
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    window = rsrp[r0:r1, c0:c1]
    transform = result.dem.transform @ Affine.translation(c0, r0)
    png, bounds = classed_png(window, transform=transform, crs=result.dem.crs, classes=coverage.RSRP_CLASSES,
                              dst_crs="EPSG:3857", max_px=512, resampling="max")
    return {"png": "data:image/png;base64," + base64.b64encode(png).decode("ascii"), "bounds": bounds}
