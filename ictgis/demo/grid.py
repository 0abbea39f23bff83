"""North-up raster grids, graphs between their cells, and region growing over those graphs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from affine import Affine
from numpy.typing import ArrayLike
from rasterio import features
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra


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

    def centres(self, flat_index: ArrayLike) -> np.ndarray:
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


def nearest_cells(mask: np.ndarray, grid: Grid, xy: np.ndarray) -> np.ndarray:
    """Flat index of the cell of `mask` nearest to each point."""
    _, (ri, ci) = ndimage.distance_transform_edt(~mask, return_indices=True)
    idx = grid.index(xy)
    r, c = np.divmod(idx, grid.nx)
    return ri[r, c] * grid.nx + ci[r, c]


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
    best: np.ndarray | None = None
    best_err = np.inf
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
    if best is None:
        raise ValueError(f"no iteration of {iterations} gave each of the {k} regions a cell")
    return best
