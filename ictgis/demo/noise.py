"""Randomness of the demo: smooth noise fields fixed in world coordinates, weighted random orders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Lattices of the noise fields cover this box (EPSG:9205 metres), whatever the province outline is.
WORLD_BOX = (330_000.0, 2_250_000.0, 650_000.0, 2_560_000.0)


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


def warp_points(xy: np.ndarray, fields: Sequence[tuple[NoiseField, NoiseField, float]]) -> np.ndarray:
    """Return points (n, 2) displaced by pairs of noise fields (x field, y field, amplitude in metres)."""
    out = xy.copy()
    for fx, fy, amp in fields:
        out[:, 0] += amp * fx.points(xy[:, 0], xy[:, 1])
        out[:, 1] += amp * fy.points(xy[:, 0], xy[:, 1])
    return out


def gumbel_order(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Return a random permutation where heavier items tend to come first (sampling without replacement)."""
    keys = np.log(np.maximum(weights, 1e-12)) - np.log(-np.log(rng.uniform(1e-12, 1.0, len(weights))))
    return np.argsort(-keys, kind="stable")
