"""Control geography of the demo province: CRS, official area, outline, rivers, basin, districts.

Everything is given in lon/lat and placed in EPSG:9205 metres through a :class:`Frame`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import Transformer

from .grid import Grid

EPSG = 9205


CRS = "EPSG:9205"


AREA_KM2 = 9541.25


# Seat unit of each district (GSO code) when it is not the district's thị trấn.
SEAT_UNITS = {"094": "03136", "095": "03151", "096": "03160", "103": "03169", "100": "03334"}


BASIN_UNITS = ("03322", "03328", "03331", "03334", "03337", "03343", "03346", "03349", "03352", "03355", "03356")


REMOTE_DISTRICTS = ("096", "103", "098", "101")  # Mường Nhé, Nậm Pồ, Tủa Chùa, Điện Biên Đông


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
