"""Terrain, outline, grid graphs and commune partition of the demo province (private to :mod:`ictgis.demo`).

Everything here is deterministic for a given seed and, where it matters, independent of the raster resolution:
noise is defined on lattices fixed in world coordinates (EPSG:9205 metres), so a 90 m and a 250 m grid sample the
same landscape.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.affinity
import shapely.ops
from affine import Affine
from pyproj import Transformer
from rasterio import features
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from .layers import split_commune_name

logger = logging.getLogger(__name__)

EPSG = 9205
CRS = "EPSG:9205"
AREA_KM2 = 9541.25
# Seat unit of each district (GSO code) when it is not the district's thị trấn.
SEAT_UNITS = {"094": "03136", "095": "03151", "096": "03160", "103": "03169", "100": "03334"}
BASIN_UNITS = ("03322", "03328", "03331", "03334", "03337", "03343", "03346", "03349", "03352", "03355", "03356")
# Lattices of the noise fields cover this box (EPSG:9205 metres), whatever the province outline is.
WORLD_BOX = (330_000.0, 2_250_000.0, 650_000.0, 2_560_000.0)

# Coarse hand-drawn outline of the province (lon, lat), clockwise from the China–Laos tripoint. It is densified,
# warped by noise and scaled to the official area, so only its general shape matters.
OUTLINE_LONLAT = (
    (102.13, 22.42), (102.27, 22.49), (102.40, 22.42), (102.52, 22.31), (102.66, 22.18), (102.78, 22.03),
    (102.91, 21.99), (103.01, 22.07), (103.12, 22.14), (103.22, 22.08), (103.35, 22.05), (103.47, 21.99),
    (103.56, 21.88), (103.49, 21.77), (103.60, 21.65), (103.54, 21.52), (103.38, 21.43), (103.42, 21.30),
    (103.32, 21.17), (103.24, 21.08), (103.16, 20.98), (103.11, 20.87), (103.03, 20.90), (103.01, 21.07),
    (102.93, 21.19), (102.88, 21.31), (102.83, 21.43), (102.75, 21.53), (102.69, 21.63), (102.63, 21.75),
    (102.55, 21.85), (102.44, 21.94), (102.33, 22.05), (102.24, 22.17), (102.17, 22.29),
)

# Main rivers (lon, lat) from source to mouth, with their valley floor (m) at both ends and valley half-width (m).
RIVERS = (
    ("Đà", ((102.93, 22.27), (103.05, 22.15), (103.15, 22.05), (103.25, 21.99), (103.38, 21.97),
            (103.50, 21.89), (103.64, 21.80)), 330.0, 175.0, 3800.0),
    ("Nậm Mức", ((103.30, 21.55), (103.22, 21.63), (103.12, 21.72), (103.06, 21.80), (103.08, 21.92),
                 (103.13, 22.01), (103.15, 22.05)), 860.0, 215.0, 2600.0),
    ("Nậm Rốm", ((103.08, 21.60), (103.05, 21.48), (103.02, 21.41), (103.00, 21.33), (102.98, 21.22),
                 (102.97, 21.05), (102.95, 20.90)), 780.0, 410.0, 2600.0),
    ("Nậm Pồ", ((102.97, 21.92), (102.83, 21.81), (102.70, 21.76), (102.58, 21.70), (102.44, 21.66)),
     860.0, 380.0, 2200.0),
    ("Nậm Nhé", ((102.28, 22.33), (102.39, 22.26), (102.48, 22.18), (102.56, 22.05), (102.63, 21.94),
                 (102.70, 21.77)), 900.0, 450.0, 2300.0),
    ("Nậm Mu", ((103.56, 21.76), (103.46, 21.66), (103.42, 21.59), (103.48, 21.50), (103.60, 21.44)),
     700.0, 470.0, 2200.0),
    ("Nậm Ma", ((103.19, 21.36), (103.24, 21.26), (103.32, 21.15), (103.43, 21.04)), 980.0, 430.0, 2000.0),
    ("Nậm Núa", ((103.16, 21.48), (103.11, 21.42), (103.04, 21.39)), 820.0, 500.0, 1500.0),
    ("Nậm Lúc", ((103.31, 21.96), (103.36, 21.87), (103.42, 21.79), (103.46, 21.68)), 1250.0, 640.0, 1600.0),
)

# The Mường Thanh basin: centre (lon, lat), semi-axes (m) E–W and N–S, floor (m) at its north and south ends.
BASIN = ((103.005, 21.335), 4300.0, 11_800.0, 492.0, 468.0)

# District-level units: GSO code → anchor of the region (lon, lat), seat (lon, lat), target share of the area.
DISTRICTS = {
    "096": ((102.38, 22.15), (102.48, 22.18), 1720.0),  # Mường Nhé
    "103": ((102.70, 21.80), (102.70, 21.765), 1470.0),  # Nậm Pồ
    "097": ((103.00, 21.92), (103.06, 21.80), 1150.0),  # Mường Chà
    "095": ((103.15, 22.06), (103.15, 22.045), 112.0),  # TX Mường Lay
    "098": ((103.40, 21.92), (103.36, 21.875), 680.0),  # Tủa Chùa
    "099": ((103.45, 21.64), (103.42, 21.595), 1140.0),  # Tuần Giáo
    "102": ((103.22, 21.49), (103.215, 21.525), 440.0),  # Mường Ảng
    "101": ((103.26, 21.20), (103.24, 21.26), 1210.0),  # Điện Biên Đông
    "100": ((102.96, 21.16), (102.995, 21.33), 1320.0),  # Điện Biên
    "094": ((103.035, 21.40), (103.02, 21.385), 300.0),  # TP Điện Biên Phủ
}
# Valley floor (m) at district seats that no big river passes.
SEAT_FLOORS = {"098": 1250.0, "102": 880.0, "101": 900.0, "103": 880.0}

_TO_XY = Transformer.from_crs(4326, EPSG, always_xy=True)


def lonlat_xy(points) -> np.ndarray:
    """Project (lon, lat) pairs to EPSG:9205 metres, as an (n, 2) array."""
    arr = np.asarray(points, dtype=float).reshape(-1, 2)
    x, y = _TO_XY.transform(arr[:, 0], arr[:, 1])
    return np.column_stack([x, y])


@dataclass(frozen=True)
class Frame:
    """Where the control geography (outline, rivers, seats) is drawn: projected, then scaled about a centre.

    The synthetic province scales its hand-drawn control polygon to the official area and every other control
    feature with it; a province built on real commune polygons uses the identity frame.
    """

    cx: float = 0.0
    cy: float = 0.0
    scale: float = 1.0

    @classmethod
    def synthetic(cls, area_m2: float) -> Frame:
        """Frame that gives the control polygon the area `area_m2`."""
        poly = shapely.Polygon(lonlat_xy(OUTLINE_LONLAT))
        c = poly.centroid
        return cls(c.x, c.y, float(np.sqrt(area_m2 / poly.area)))

    def xy(self, lonlat) -> np.ndarray:
        """Project (lon, lat) pairs and place them in the frame, as an (n, 2) array."""
        return self.apply(lonlat_xy(lonlat))

    def apply(self, xy: np.ndarray) -> np.ndarray:
        """Scale projected points (n, 2) about the centre."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        return np.column_stack([self.cx + self.scale * (xy[:, 0] - self.cx),
                                self.cy + self.scale * (xy[:, 1] - self.cy)])

    def unscale_grid(self, grid: Grid) -> Grid:
        """Return the grid whose image under this frame's scaling is `grid`."""
        return Grid(self.cx + (grid.x0 - self.cx) / self.scale, self.cy + (grid.y1 - self.cy) / self.scale,
                    grid.res / self.scale, grid.nx, grid.ny)


def smoothstep(t: np.ndarray) -> np.ndarray:
    """Cubic smoothstep of `t` clipped to [0, 1]."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


# --------------------------------------------------------------------------------------------------- noise
def _cr_weights(u: np.ndarray, n_lat: int) -> np.ndarray:
    """Dense Catmull-Rom weights of shape (len(u), n_lat) for positions `u` in lattice units."""
    i0 = np.floor(u).astype(np.int64)
    t = u - i0
    t2, t3 = t * t, t * t * t
    w = np.stack([(-t3 + 2 * t2 - t) / 2, (3 * t3 - 5 * t2 + 2) / 2, (-3 * t3 + 4 * t2 + t) / 2, (t3 - t2) / 2],
                 axis=1)
    out = np.zeros((len(u), n_lat))
    rows = np.repeat(np.arange(len(u)), 4)
    cols = np.clip((i0[:, None] + np.arange(-1, 3)).ravel(), 0, n_lat - 1)
    np.add.at(out, (rows, cols), w.ravel())
    return out


class NoiseField:
    """Smooth random field: unit-variance normal values on a square lattice, interpolated by Catmull-Rom.

    Parameters
    ----------
    rng
        Generator the lattice values are drawn from.
    spacing_m
        Lattice spacing (m): the wavelength of the field's features.
    """

    def __init__(self, rng: np.random.Generator, spacing_m: float):
        x0, y0, x1, y1 = WORLD_BOX
        self.spacing = spacing_m
        self.x0, self.y0 = x0 - 2 * spacing_m, y0 - 2 * spacing_m
        nx = int(np.ceil((x1 - x0) / spacing_m)) + 5
        ny = int(np.ceil((y1 - y0) / spacing_m)) + 5
        self.values = rng.standard_normal((ny, nx))

    def grid(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Evaluate on the grid ``ys × xs`` (1-D coordinate arrays); returns shape (len(ys), len(xs))."""
        wy = _cr_weights((np.asarray(ys) - self.y0) / self.spacing, self.values.shape[0])
        wx = _cr_weights((np.asarray(xs) - self.x0) / self.spacing, self.values.shape[1])
        return (wy @ self.values) @ wx.T

    def points(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Evaluate at scattered points."""
        wy = _cr_weights((np.asarray(y) - self.y0) / self.spacing, self.values.shape[0])
        wx = _cr_weights((np.asarray(x) - self.x0) / self.spacing, self.values.shape[1])
        return np.einsum("pj,pj->p", wy @ self.values, wx)


# --------------------------------------------------------------------------------------------------- outline
def _warp(xy: np.ndarray, fields: list[tuple[NoiseField, NoiseField, float]]) -> np.ndarray:
    out = xy.copy()
    for fx, fy, amp in fields:
        out[:, 0] += amp * fx.points(xy[:, 0], xy[:, 1])
        out[:, 1] += amp * fy.points(xy[:, 0], xy[:, 1])
    return out


def province_outline(seed: int, area_m2: float, frame: Frame) -> shapely.Polygon:
    """Noise-perturbed province outline of exactly `area_m2`, elongated north–south.

    The hand-drawn control polygon is densified, warped by three octaves of smooth noise (a few km, 1 km,
    300 m) and scaled about its centroid to the requested area.
    """
    rng = np.random.default_rng([seed, 11])
    fields = [(NoiseField(rng, s), NoiseField(rng, s), a) for s, a in ((14_000, 2600), (4500, 900), (1500, 260))]
    base = shapely.segmentize(shapely.Polygon(frame.xy(OUTLINE_LONLAT)), 300.0)
    ring = np.asarray(base.exterior.coords)[:-1]
    poly = shapely.make_valid(shapely.Polygon(_warp(ring, fields)))
    if poly.geom_type != "Polygon":
        poly = max(shapely.get_parts(poly), key=lambda g: g.area)
    poly = shapely.Polygon(poly.exterior)
    c = poly.centroid
    return shapely.affinity.scale(poly, *(2 * [np.sqrt(area_m2 / poly.area)]), origin=c)


# --------------------------------------------------------------------------------------------------- grids
@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: `nx` × `ny` cells of `res` metres, top-left corner (`x0`, `y1`)."""

    x0: float
    y1: float
    res: float
    nx: int
    ny: int

    @classmethod
    def around(cls, bounds: tuple[float, float, float, float], res: float, margin_m: float) -> Grid:
        """Grid covering `bounds` plus `margin_m`, its corner snapped to whole kilometres."""
        x0 = np.floor((bounds[0] - margin_m) / 1000.0) * 1000.0
        y1 = np.ceil((bounds[3] + margin_m) / 1000.0) * 1000.0
        nx = int(np.ceil((bounds[2] + margin_m - x0) / res))
        ny = int(np.ceil((y1 - bounds[1] + margin_m) / res))
        return cls(float(x0), float(y1), float(res), nx, ny)

    @property
    def transform(self) -> Affine:
        """Affine transform of the grid."""
        return Affine(self.res, 0.0, self.x0, 0.0, -self.res, self.y1)

    @property
    def xs(self) -> np.ndarray:
        """Cell-centre x coordinates."""
        return self.x0 + (np.arange(self.nx) + 0.5) * self.res

    @property
    def ys(self) -> np.ndarray:
        """Cell-centre y coordinates (north to south)."""
        return self.y1 - (np.arange(self.ny) + 0.5) * self.res

    def centres(self, flat_index: np.ndarray) -> np.ndarray:
        """Cell-centre coordinates (n, 2) of flat cell indices."""
        r, c = np.divmod(np.asarray(flat_index), self.nx)
        return np.column_stack([self.x0 + (c + 0.5) * self.res, self.y1 - (r + 0.5) * self.res])

    def index(self, xy: np.ndarray) -> np.ndarray:
        """Flat index of the cells holding points `xy` (n, 2), clipped to the grid."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        c = np.clip(((xy[:, 0] - self.x0) / self.res).astype(np.int64), 0, self.nx - 1)
        r = np.clip(((self.y1 - xy[:, 1]) / self.res).astype(np.int64), 0, self.ny - 1)
        return r * self.nx + c

    def rasterize(self, geoms, values=None, all_touched: bool = False, fill: int = 0) -> np.ndarray:
        """Burn geometries (with optional values) into an int32 array of the grid's shape."""
        geoms = list(geoms)
        shapes_ = zip(geoms, values if values is not None else [1] * len(geoms), strict=True)
        return features.rasterize(shapes_, out_shape=(self.ny, self.nx), transform=self.transform, fill=fill,
                                  all_touched=all_touched, dtype="int32")


# --------------------------------------------------------------------------------------------------- terrain
class Terrain:
    """The landscape: regional trend, fractal and ridged noise, carved river valleys and the Mường Thanh basin.

    Parameters
    ----------
    seed
        Random seed; the same seed gives the same landscape at every resolution.
    frame
        Where the rivers, the basin and the district seats are drawn.
    """

    def __init__(self, seed: int, frame: Frame):
        rng = np.random.default_rng([seed, 21])
        self.fbm = [(NoiseField(rng, s), a) for s, a in
                    ((40_000, 300), (20_000, 220), (10_000, 170), (5000, 130), (2500, 85), (1250, 42), (600, 14))]
        self.ridged = [(NoiseField(rng, s), a) for s, a in
                       ((22_000, 520), (11_000, 330), (5500, 210), (2750, 95))]
        warp = [(NoiseField(rng, 6000), NoiseField(rng, 6000), 700.0), (NoiseField(rng, 2000),
                                                                          NoiseField(rng, 2000), 220.0)]
        self.basin_noise = NoiseField(rng, 5000)
        self.rivers = []
        for name, pts, z0, z1, width in RIVERS:
            line = shapely.segmentize(shapely.LineString(frame.xy(pts)), 200.0)
            xy = _warp(np.asarray(line.coords), warp)
            xy[0], xy[-1] = np.asarray(line.coords)[0], np.asarray(line.coords)[-1]
            self.rivers.append((name, shapely.LineString(xy), z0, z1, width))
        (bx, by), = frame.xy([BASIN[0]])
        self.basin = (bx, by, *BASIN[1:])
        self.seats = {code: frame.xy([seat])[0] for code, (_, seat, _) in DISTRICTS.items()}
        self.nw_peak = frame.xy([(102.30, 22.30)])[0]
        self.plateau = frame.xy([(103.40, 21.92)])[0]
        self.se_high = frame.xy([(103.33, 21.18)])[0]

    def elevation(self, grid: Grid) -> np.ndarray:
        """Elevation (m, float) at the cell centres of `grid`."""
        xs, ys = grid.xs, grid.ys
        gx, gy = np.meshgrid(xs, ys)
        z = np.full((grid.ny, grid.nx), 1080.0)

        def bump(centre, sigma, amp):
            return amp * np.exp(-((gx - centre[0]) ** 2 + (gy - centre[1]) ** 2) / (2 * sigma**2))

        z += bump(self.nw_peak, 26_000, 420) + bump(self.plateau, 14_000, 330) + bump(self.se_high, 20_000, 180)
        for field, amp in self.fbm:
            z += amp * field.grid(xs, ys)
        for field, amp in self.ridged:
            r = 1.0 - np.abs(field.grid(xs, ys))
            z += amp * (r * r - 0.45)
        low = 720.0  # compress the lows of the noise: valley floors come from the rivers, not from noise
        z = np.where(z < low, low - 260.0 * (1.0 - np.exp(-(low - z) / 260.0)), z)
        z = self._carve_rivers(grid, z)
        z = self._seat_flats(gx, gy, z)
        z = self._basin(gx, gy, xs, ys, z)
        return np.clip(z, 160.0, 2700.0)

    def _carve_rivers(self, grid: Grid, z: np.ndarray) -> np.ndarray:
        """Lower the terrain toward each river's floor; rivers combine by the minimum, so confluences are smooth."""
        res = grid.res
        for _, line, z0, z1, width in self.rivers:
            reach = 4.0 * width
            minx, miny, maxx, maxy = line.bounds
            c0, c1 = max(0, int((minx - reach - grid.x0) / res)), min(grid.nx, int((maxx + reach - grid.x0) / res) + 1)
            r0, r1 = max(0, int((grid.y1 - maxy - reach) / res)), min(grid.ny, int((grid.y1 - miny + reach) / res) + 1)
            if c0 >= c1 or r0 >= r1:
                continue
            sub = Grid(grid.x0 + c0 * res, grid.y1 - r0 * res, res, c1 - c0, r1 - r0)
            xy = np.asarray(line.coords)
            pieces = shapely.linestrings(np.stack([xy[:-1], xy[1:]], axis=1))
            burnt = sub.rasterize(pieces, values=np.arange(1, len(pieces) + 1), all_touched=True)
            if not burnt.any():
                continue
            dist, (ri, ci) = ndimage.distance_transform_edt(burnt == 0, sampling=res, return_indices=True)
            t_arc = (burnt[ri, ci] - 0.5) / len(pieces)
            floor = z0 + (z1 - z0) * t_arc**0.7
            t = np.maximum(dist / (width * (0.75 + 0.5 * t_arc)) - 0.08, 0.0)
            keep = 1.0 - np.exp(-1.6 * t * t)
            zs = z[r0:r1, c0:c1]
            z[r0:r1, c0:c1] = np.where(zs > floor, floor + (zs - floor) * keep, zs)
        return z

    def _seat_flats(self, gx: np.ndarray, gy: np.ndarray, z: np.ndarray) -> np.ndarray:
        for code, floor in SEAT_FLOORS.items():
            sx, sy = self.seats[code]
            w = smoothstep((np.hypot(gx - sx, gy - sy) - 600.0) / 2400.0)
            z = np.where(z > floor, floor + (z - floor) * w, z)
        return z

    def _basin(self, gx, gy, xs, ys, z: np.ndarray) -> np.ndarray:
        bx, by, ax, ay, z_north, z_south = self.basin
        q = np.hypot((gx - bx) / ax, (gy - by) / ay) * (1.0 + 0.16 * self.basin_noise.grid(xs, ys))
        floor = z_south + (z_north - z_south) * np.clip((gy - by) / (2 * ay) + 0.5, 0.0, 1.0)
        floor = floor + 2.5 * self.fbm[-2][0].grid(xs, ys)
        w = smoothstep((q - 1.0) / 0.45)
        return np.where(q < 1.45, floor + (np.maximum(z, floor) - floor) * w, z)

    def basin_mask(self, grid: Grid) -> np.ndarray:
        """Cells of the flat basin floor."""
        bx, by, ax, ay, *_ = self.basin
        gx, gy = np.meshgrid(grid.xs, grid.ys)
        q = np.hypot((gx - bx) / ax, (gy - by) / ay) * (1.0 + 0.16 * self.basin_noise.grid(grid.xs, grid.ys))
        return q < 1.0


# --------------------------------------------------------------------------------------------------- graphs
_N4 = ((0, 1), (1, 0))
_N8 = ((0, 1), (1, 0), (1, 1), (1, -1))


def grid_edges(grid: Grid, mask: np.ndarray, eight: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed edges (both ways) between neighbouring cells of `mask`: (src, dst, length_m)."""
    src, dst, length = [], [], []
    idx = np.arange(grid.nx * grid.ny).reshape(grid.ny, grid.nx)
    for dr, dc in (_N8 if eight else _N4):
        a = idx[: grid.ny - dr, max(0, -dc): grid.nx - max(0, dc)]
        b = idx[dr:, max(0, dc): grid.nx - max(0, -dc) or None]
        ok = mask.ravel()[a.ravel()] & mask.ravel()[b.ravel()]
        a, b = a.ravel()[ok], b.ravel()[ok]
        d = grid.res * (np.sqrt(2.0) if dr and dc else 1.0)
        src += [a, b]
        dst += [b, a]
        length += [np.full(a.size, d), np.full(a.size, d)]
    return np.concatenate(src), np.concatenate(dst), np.concatenate(length)


def grow_regions(n_cells: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, seeds: np.ndarray,
                 target_cells: np.ndarray, *, iterations: int, cost_per_cell: float,
                 owner: np.ndarray | None = None, nx: int | None = None, min_edge: float = 0.0) -> np.ndarray:
    """Partition cells among regions by additively weighted cost distance, tuning weights toward target sizes.

    Each region gets a virtual source node linked to its seed cells (`owner` gives the region of each seed; one
    seed per region by default) whose edge weight (the region's offset) is raised when the region is too big and
    lowered when too small. Regions stay connected: they are branches of one shortest-path forest. The best
    iteration in which every region holds cells is kept.

    Returns
    -------
    numpy.ndarray
        Region index of every cell, -1 where no seed reaches.
    """
    lower_bound = None
    if owner is None and nx is not None:
        r, c = np.divmod(seeds, nx)
        lower_bound = 0.98 * min_edge * (np.abs(r[:, None] - r[None]) + np.abs(c[:, None] - c[None]))
        np.fill_diagonal(lower_bound, np.inf)
    owner = np.arange(len(seeds)) if owner is None else np.asarray(owner)
    k = len(target_cells)
    offsets = np.zeros(k)
    best, best_err = None, np.inf
    for it in range(iterations + 1):
        virt_w = offsets[owner] - offsets.min() + 1.0
        graph = csr_matrix((np.concatenate([weight, virt_w]),
                            (np.concatenate([src, n_cells + owner]), np.concatenate([dst, seeds]))),
                           shape=(n_cells + k, n_cells + k))
        _, _, sources = dijkstra(graph, directed=True, indices=n_cells + np.arange(k), min_only=True,
                                 return_predecessors=True)
        sources = sources[:n_cells]
        labels = np.where(sources >= 0, sources - n_cells, -1)
        areas = np.bincount(labels[labels >= 0], minlength=k).astype(float)
        err = np.abs(np.log(np.maximum(areas, 0.5) / target_cells)).sum()
        if areas.min() > 0 and err < best_err:
            best, best_err = labels, err
        gain = 0.4 * (1.0 - 0.6 * it / max(iterations, 1))
        step = gain * cost_per_cell * np.sqrt(target_cells / np.pi) * np.log(np.maximum(areas, 0.5) / target_cells)
        offsets += np.clip(step, -3 * cost_per_cell, 3 * cost_per_cell)
        if lower_bound is not None:  # no seed may be captured: off_s ≤ off_t + (lower bound of cost t → s)
            for _ in range(4):
                offsets = np.minimum(offsets, (offsets[None, :] + lower_bound).min(axis=1))
    return best


def path_to_tree(pred: np.ndarray, start: int, stop: np.ndarray) -> list[int]:
    """Follow predecessors from `start` until a cell with ``stop[cell]`` (included) or a root; start first."""
    path = [int(start)]
    cur = int(start)
    while not stop[cur]:
        nxt = int(pred[cur])
        if nxt < 0:
            break
        path.append(nxt)
        cur = nxt
    return path


def chaikin(xy: np.ndarray, iterations: int = 2) -> np.ndarray:
    """Chaikin corner cutting of an open polyline; the end points stay where they are."""
    for _ in range(iterations):
        if len(xy) < 3:
            return xy
        q = 0.75 * xy[:-1] + 0.25 * xy[1:]
        r = 0.25 * xy[:-1] + 0.75 * xy[1:]
        mid = np.empty((2 * (len(xy) - 1), 2))
        mid[0::2], mid[1::2] = q, r
        xy = np.vstack([xy[:1], mid[1:-1], xy[-1:]])
    return xy


class RoadGrid:
    """A road network grown on a grid by least-cost paths over slope.

    Edges between 8-neighbour cells cost their length × (1 + (slope / 7 %)²), more on high ground; edges already
    on a road cost a third, so later roads join earlier ones. Roads are stored as cell-to-cell edges with a class
    rank (0 national … 4 track) and a name.
    """

    def __init__(self, grid: Grid, z: np.ndarray, mask: np.ndarray):
        self.grid = grid
        self.n = grid.nx * grid.ny
        self.src, self.dst, length = grid_edges(grid, mask, eight=True)
        zf = z.ravel()
        slope = np.abs(zf[self.src] - zf[self.dst]) / length
        high = np.maximum(0.5 * (zf[self.src] + zf[self.dst]) - 1100.0, 0.0) / 1500.0
        self.base = length * (1.0 + (slope / 0.07) ** 2) * (1.0 + high)
        self.on = np.zeros(self.n, dtype=bool)
        self.mask = mask.ravel()
        self.edges: dict[tuple[int, int], tuple[int, str]] = {}

    def _graph(self, reuse: float = 0.33) -> csr_matrix:
        w = self.base * np.where(self.on[self.src] & self.on[self.dst], reuse, 1.0)
        return csr_matrix((w, (self.src, self.dst)), shape=(self.n, self.n))

    def add_path(self, path: list[int], rank: int, name: str) -> None:
        """Add a cell path; a diagonal step crossing an existing diagonal goes through a shared corner cell."""
        nx = self.grid.nx
        cells = [path[0]]
        for q in path[1:]:
            p = cells[-1]
            (rp, cp), (rq, cq) = divmod(p, nx), divmod(q, nx)
            if rp != rq and cp != cq:
                b, c = rp * nx + cq, rq * nx + cp
                if (min(b, c), max(b, c)) in self.edges:
                    cells.append(b if self.mask[b] else c)
            cells.append(q)
        for a, b in zip(cells[:-1], cells[1:], strict=True):
            key = (min(a, b), max(a, b))
            old = self.edges.get(key)
            if old is None or rank < old[0]:
                self.edges[key] = (rank, name)
        self.on[cells] = True

    def route(self, a: int, b: int, rank: int, name: str) -> list[int]:
        """Least-cost road from cell `a` to cell `b`."""
        _, pred = dijkstra(self._graph(), indices=a, return_predecessors=True)
        path = path_to_tree(pred, b, np.zeros(self.n, dtype=bool))
        self.add_path(path, rank, name)
        return path

    def connect(self, targets: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """Link each target cell to the network by its least-cost path; returns the path cost of each."""
        dist, pred, _ = dijkstra(self._graph(), indices=np.flatnonzero(self.on), min_only=True,
                              return_predecessors=True)
        for i in np.argsort(dist[targets], kind="stable"):
            t = int(targets[i])
            if self.on[t] or not np.isfinite(dist[t]):
                continue
            path = path_to_tree(pred, t, self.on)
            self.add_path(path, int(ranks[i]), "")
        return dist[targets]


# --------------------------------------------------------------------------------------------------- communes
@dataclass
class _Work:
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


def _nearest_cells(mask: np.ndarray, grid: Grid, xy: np.ndarray) -> np.ndarray:
    """Flat index of the cell of `mask` nearest to each point."""
    _, (ri, ci) = ndimage.distance_transform_edt(~mask, return_indices=True)
    idx = grid.index(xy)
    r, c = np.divmod(idx, grid.nx)
    return ri[r, c] * grid.nx + ci[r, c]


def _commune_seeds(units: pd.DataFrame, dlab: np.ndarray, codes: list[str], w: _Work, terrain: Terrain,
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
            seeds[r] = _nearest_cells(avail, grid, pt)[0]
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


def _synthetic_communes(units: pd.DataFrame, w: _Work, terrain: Terrain, outline: shapely.Polygon) -> _Work:
    """Districts, then communes, as cost-distance regions over the terrain; polygonised and scaled to the area."""
    grid = w.grid
    inside = grid.rasterize([outline]) == 1
    lab, n = ndimage.label(inside)
    inside = ndimage.binary_fill_holes(lab == 1 + np.argmax(np.bincount(lab.ravel())[1:])) if n > 1 else inside
    src, dst, cost = _cost_edges(grid, w.z, inside, np.random.default_rng([w.rng.integers(1 << 30), 5]))
    per_cell = float(cost.mean())
    codes = list(DISTRICTS)
    anchors = _nearest_cells(inside, grid, w.place([DISTRICTS[c][0] for c in codes]))
    w.seats = dict(zip(codes, _nearest_cells(inside, grid, w.place([DISTRICTS[c][1] for c in codes])).tolist(),
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


def _given_communes(communes: gpd.GeoDataFrame, units: pd.DataFrame, w: _Work) -> _Work:
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
    w.seats = {c: int(_nearest_cells(mask, grid, seat_xy[c])[0]) if c in seat_xy else
               int(w.centres[np.flatnonzero(gdf.dist_code == c)[0]]) for c in codes}
    w.communes = gdf[["code", "name", "kind", "dist_code", "district", "population", "geometry"]]
    return w
