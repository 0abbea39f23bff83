"""The demo landscape: the province outline and the terrain (trend, noise, rivers, basin).

Noise is defined on lattices fixed in world coordinates (EPSG:9205 metres), so a 90 m and a 250 m grid sample
the same landscape.
"""

from __future__ import annotations

import numpy as np
import shapely
import shapely.affinity
from scipy import ndimage

from .geography import BASIN, DISTRICTS, OUTLINE_LONLAT, RIVERS, SEAT_FLOORS, Frame
from .grid import Grid
from .noise import NoiseField, warp_points


def smoothstep(t: np.ndarray) -> np.ndarray:
    """Cubic smoothstep of `t` clipped to [0, 1]."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def province_outline(seed: int, area_m2: float, frame: Frame) -> shapely.Polygon:
    """Noise-perturbed province outline of exactly `area_m2`, elongated north–south.

    The hand-drawn control polygon is densified, warped by three octaves of smooth noise (a few km, 1 km,
    300 m) and scaled about its centroid to the requested area.
    """
    rng = np.random.default_rng([seed, 11])
    fields = [(NoiseField(rng, s), NoiseField(rng, s), a) for s, a in ((14_000, 2600), (4500, 900), (1500, 260))]
    base = shapely.segmentize(shapely.Polygon(frame.xy(OUTLINE_LONLAT)), 300.0)
    ring = np.asarray(base.exterior.coords)[:-1]
    poly = shapely.make_valid(shapely.Polygon(warp_points(ring, fields)))
    if poly.geom_type != "Polygon":
        poly = max(shapely.get_parts(poly), key=lambda g: g.area)
    poly = shapely.Polygon(poly.exterior)
    c = poly.centroid
    return shapely.affinity.scale(poly, *(2 * [np.sqrt(area_m2 / poly.area)]), origin=c)


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
            xy = warp_points(np.asarray(line.coords), warp)
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
