"""The 129 commune-level units, their partition of the province, and the state the steps share."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry
from affine import Affine
from rasterio import features
from scipy import ndimage

from ..layers import split_commune_name
from .geography import AREA_KM2, BASIN_UNITS, CRS, DISTRICTS, SEAT_UNITS, Frame
from .grid import Grid, grid_edges, grow_regions, nearest_cells
from .noise import NoiseField
from .terrain import Terrain


def load_units() -> pd.DataFrame:
    """Load the 129 commune-level units of Điện Biên (code, name, kind, dist_code, district, …) as strings."""
    with resources.files("ictgis").joinpath("data/units_dienbien.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return pd.DataFrame(rows).astype(str)


@dataclass
class Work:
    """State shared by the steps: the work grid, its terrain, and the commune of every cell."""

    grid: Grid
    z: np.ndarray
    label: np.ndarray  # commune row of every cell, -1 outside
    communes: gpd.GeoDataFrame  # code, name, kind, dist_code, district, population (or None), geometry
    centres: np.ndarray  # flat cell index of each commune centre
    seats: dict[str, int]  # district code → seat cell
    frame: Frame  # lon/lat → terrain coordinates
    fin: Frame  # terrain coordinates → final coordinates (the exact-area scaling)
    rng: np.random.Generator

    def place(self, lonlat) -> np.ndarray:
        """Return the final coordinates of (lon, lat) control points."""
        return self.fin.apply(self.frame.xy(lonlat))


def _cost_edges(grid: Grid, z: np.ndarray, mask: np.ndarray, rng: np.random.Generator):
    """Return the walking cost between 4-neighbour cells.

    100 m of climb costs like 900 m of walking, times a smooth random friction, so boundaries in flat land wiggle
    instead of running straight.
    """
    src, dst, length = grid_edges(grid, mask, eight=False)
    zf = z.ravel()
    friction = np.exp(0.5 * NoiseField(rng, 2500.0).grid(grid.xs, grid.ys)
                      + 0.3 * NoiseField(rng, 800.0).grid(grid.xs, grid.ys)).ravel()
    return src, dst, (length + 9.0 * np.abs(zf[src] - zf[dst])) * 0.5 * (friction[src] + friction[dst])


def _commune_seeds(units: pd.DataFrame, dlab: np.ndarray, codes: list[str], w: Work, terrain: Terrain,
                   valley: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seed cell and target size (cells) of every unit, district by district."""
    grid, rng = w.grid, w.rng
    cell_km2 = grid.res**2 / 1e6
    basin = terrain.basin_mask(grid).ravel()
    seeds = np.zeros(len(units), dtype=np.int64)
    target = np.zeros(len(units))
    for d, code in enumerate(codes):
        in_d = (dlab == d).reshape(grid.ny, grid.nx)
        depth = ndimage.distance_transform_edt(in_d, sampling=grid.res).ravel()
        rows = np.flatnonzero(units.dist_code.to_numpy() == code)
        seat = w.seats[code]
        seat_unit = SEAT_UNITS.get(code) or units.code[rows][units.kind[rows] == "thi_tran"].iloc[0]
        area_d = in_d.sum() * cell_km2
        taken: list[int] = []
        urban = [r for r in rows if units.kind[r] == "phuong" or units.code[r] == "03145"]
        angles = rng.uniform(0, 2 * np.pi) + np.linspace(0, 2 * np.pi, max(len(urban), 1), endpoint=False)
        k = 0
        for r in rows:
            if units.code[r] == seat_unit:
                seeds[r], target[r] = seat, {"phuong": 4.5, "thi_tran": rng.uniform(12, 30)}.get(units.kind[r], 0)
                taken.append(seat)
        for r in urban:
            if units.code[r] == seat_unit:
                continue
            radius = (1900.0 if code == "094" else 3500.0) * (2.2 if units.kind[r] == "xa" else 1.0)
            pt = grid.centres([seat])[0] + radius * np.array([np.cos(angles[k]), np.sin(angles[k])])
            k += 1
            avail = in_d.copy()
            avail.flat[np.flatnonzero(np.min(np.hypot(*(grid.centres(np.arange(grid.nx * grid.ny))[:, None, :]
                                                      - grid.centres(np.array(taken))[None]).transpose(2, 0, 1)),
                                             axis=1) < 0.6 * radius)] = False
            seeds[r] = nearest_cells(avail, grid, pt)[0]
            target[r] = rng.uniform(2.5, 6.0) if code == "094" else rng.uniform(14, 26)
            if units.kind[r] == "xa":
                target[r] = 18.0
            taken.append(int(seeds[r]))
        seat_xa = [r for r in rows if units.code[r] == seat_unit and units.kind[r] == "xa"]
        rest = [r for r in rows if units.code[r] != seat_unit and r not in urban]
        fixed = target[rows].sum()
        share = rng.lognormal(0.0, 0.38, len(rest) + len(seat_xa))
        share *= np.where(np.isin(units.code[rest + seat_xa], BASIN_UNITS), 0.3, 1.0)
        target[rest + seat_xa] = share / share.sum() * max(area_d - fixed, 10.0 * len(share))
        for r in sorted(rest, key=lambda r: units.code[r] not in BASIN_UNITS):
            cand = np.flatnonzero(in_d.ravel() & (depth > 900.0))
            if units.code[r] in BASIN_UNITS:
                cand = cand[basin[cand] | (depth[cand] < 0)] if basin[cand].any() else cand
            pw = valley[cand] + 1e-9
            spacing = 0.9 * np.sqrt(target[r] / np.pi) * 1000.0
            pts = grid.centres(cand)
            taken_xy = grid.centres(np.array(taken))
            for _ in range(12):
                pick = cand[rng.choice(len(cand), size=min(400, len(cand)), replace=False, p=pw / pw.sum())]
                dmin = np.min(np.hypot(*(grid.centres(pick)[:, None, :] - taken_xy[None, :, :]).transpose(2, 0, 1)),
                              axis=1)
                ok = np.flatnonzero(dmin > spacing)
                if ok.size:
                    seeds[r] = pick[ok[0]]
                    break
                spacing *= 0.8
            else:
                seeds[r] = cand[np.argmax(np.min(np.hypot(*(pts[:, None, :] - taken_xy[None]).transpose(2, 0, 1)),
                                                  axis=1))]
            taken.append(int(seeds[r]))
    return seeds, target / cell_km2


def synthetic_communes(units: pd.DataFrame, w: Work, terrain: Terrain, outline: shapely.Polygon) -> Work:
    """Districts, then communes, as cost-distance regions over the terrain; polygonised and scaled to the area."""
    grid = w.grid
    inside = grid.rasterize([outline]) == 1
    lab, n = ndimage.label(inside)
    inside = ndimage.binary_fill_holes(lab == 1 + np.argmax(np.bincount(lab.ravel())[1:])) if n > 1 else inside
    src, dst, cost = _cost_edges(grid, w.z, inside, np.random.default_rng([int(w.rng.integers(1 << 30)), 5]))
    per_cell = float(cost.mean())
    codes = list(DISTRICTS)
    anchors = nearest_cells(inside, grid, w.place([DISTRICTS[c][0] for c in codes]))
    w.seats = dict(zip(codes, nearest_cells(inside, grid, w.place([DISTRICTS[c][1] for c in codes])).tolist(),
                       strict=True))
    shares = np.array([DISTRICTS[c][2] for c in codes])
    seat_cells = np.array([w.seats[c] for c in codes])
    dlab = grow_regions(grid.nx * grid.ny, src, dst, cost, np.r_[anchors, seat_cells],
                          shares / shares.sum() * inside.sum(), iterations=25, cost_per_cell=per_cell,
                          owner=np.r_[np.arange(len(codes)), np.arange(len(codes))])
    rel = w.z - ndimage.minimum_filter(w.z, size=int(3000 / grid.res))
    valley = np.exp(-rel / 150.0).ravel()
    seeds, target = _commune_seeds(units, dlab, codes, w, terrain, valley)
    same = dlab[src] == dlab[dst]
    clab = grow_regions(grid.nx * grid.ny, src[same], dst[same], cost[same], seeds, target, iterations=30,
                          nx=grid.nx, min_edge=grid.res,
                          cost_per_cell=per_cell)
    geoms = _polygonise(clab.reshape(grid.ny, grid.nx), len(units), grid)
    # Scale about the outline's centroid so the coverage has exactly the official area; the grid follows.
    c = outline.centroid
    s = float(np.sqrt(AREA_KM2 * 1e6 / shapely.area(geoms).sum()))
    geoms = shapely.transform(geoms, lambda xy: np.array([c.x, c.y]) + s * (xy - np.array([c.x, c.y])))
    w.grid = Grid(c.x + s * (grid.x0 - c.x), c.y + s * (grid.y1 - c.y), grid.res * s, grid.nx, grid.ny)
    w.fin = Frame(c.x, c.y, s)
    w.label = clab
    w.centres = seeds
    w.communes = gpd.GeoDataFrame(units[["code", "name", "kind", "dist_code", "district"]].copy(),
                                  geometry=geoms, crs=CRS)
    w.communes["population"] = 0
    return w


def _polygonise(labels: np.ndarray, n: int, grid: Grid) -> np.ndarray:
    """Polygons of the label raster as a clean coverage (shared edges have identical vertices).

    Polygonising happens in cell units, where every corner is an integer: after segmentizing to one cell every
    T-junction is a vertex of both neighbours, which ``coverage_simplify`` needs; then to world coordinates.
    """
    parts: list[list] = [[] for _ in range(n)]
    for geom, value in features.shapes(labels.astype(np.int32), mask=labels >= 0, connectivity=4,
                                       transform=Affine.identity()):
        parts[int(value)].append(shapely.geometry.shape(geom))
    geoms = np.array([shapely.union_all(p) if len(p) > 1 else p[0] for p in parts])
    geoms = shapely.coverage_simplify(shapely.segmentize(geoms, 1.0), tolerance=0.8)
    geoms = shapely.transform(geoms, lambda cr: np.column_stack([grid.x0 + cr[:, 0] * grid.res,
                                                                 grid.y1 - cr[:, 1] * grid.res]))
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms[bad] = shapely.make_valid(geoms[bad])
    return geoms


def _edges_of(label: np.ndarray) -> np.ndarray:
    """Cells whose 4-neighbour has another label."""
    e = np.zeros(label.shape, dtype=bool)
    e[:-1] |= label[:-1] != label[1:]
    e[1:] |= label[1:] != label[:-1]
    e[:, :-1] |= label[:, :-1] != label[:, 1:]
    e[:, 1:] |= label[:, 1:] != label[:, :-1]
    return e


def given_communes(communes: gpd.GeoDataFrame, units: pd.DataFrame, w: Work) -> Work:
    """Use real commune polygons: fill kind/district/dist_code, rasterise them and pick a centre in each."""
    gdf = communes.to_crs(CRS) if communes.crs is not None else communes.set_crs(CRS)
    gdf = gdf.reset_index(drop=True).copy()
    gdf["code"] = gdf["code"].astype(str)
    names = [split_commune_name(n) for n in gdf["name"].astype(str)]
    gdf["name"] = [n for n, _ in names]
    by_code = units.set_index("code")
    if "kind" not in gdf:
        gdf["kind"] = [k or (by_code.kind.get(c, "xa")) for (_, k), c in zip(names, gdf.code, strict=True)]
    if "district" not in gdf:
        gdf["district"] = [by_code.district.get(c, "") for c in gdf.code]
    if "dist_code" not in gdf:
        dmap = dict(zip(units.district, units.dist_code, strict=False))
        gdf["dist_code"] = [dmap.get(d, f"{900 + i:03d}") for i, d in
                            zip(pd.factorize(gdf.district)[0], gdf.district, strict=True)]
    gdf["geometry"] = shapely.make_valid(gdf.geometry.values)
    grid = w.grid
    order = np.argsort(-shapely.area(gdf.geometry.values), kind="stable")  # small ones burnt last, on top
    w.label = grid.rasterize(gdf.geometry.values[order], values=order + 1, fill=0).ravel() - 1
    missing = np.setdiff1d(np.arange(len(gdf)), w.label)
    if missing.size:
        w.label[grid.index(shapely.get_coordinates(shapely.point_on_surface(gdf.geometry.values[missing])))] = missing
    rel = (w.z - ndimage.minimum_filter(w.z, size=int(3000 / grid.res))).ravel()
    lab2d = w.label.reshape(grid.ny, grid.nx)
    depth = ndimage.distance_transform_edt(~_edges_of(lab2d) & (lab2d >= 0)).ravel()
    centres = []
    for i in range(len(gdf)):
        cells = np.flatnonzero(w.label == i)
        deep = cells[depth[cells] >= 0.5 * depth[cells].max()]
        centres.append(deep[np.argmin(rel[deep])])
    w.centres = np.array(centres)
    codes = sorted(set(gdf.dist_code))
    mask = (w.label >= 0).reshape(grid.ny, grid.nx)
    seat_xy = {c: w.place([DISTRICTS[c][1]])[0] for c in codes if c in DISTRICTS}
    w.seats = {c: int(nearest_cells(mask, grid, seat_xy[c])[0]) if c in seat_xy else
               int(w.centres[np.flatnonzero(gdf.dist_code == c)[0]]) for c in codes}
    w.communes = gdf[["code", "name", "kind", "dist_code", "district", "population", "geometry"]]
    return w


def inside_points(w: Work, xy: np.ndarray, cells: np.ndarray) -> np.ndarray:
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
