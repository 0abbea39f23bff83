"""The exact choice of one technology per village, with fiber trenches shared along a plan tree.

:func:`choose` solves, with HiGHS (``scipy.optimize.milp``), either

- *cheapest*: every village that has a feasible option gets one, at the least total cost; or
- *budget*: the most households connected at a total cost within the budget (ties: the cheaper plan),

where each village's non-fiber options cost what they cost alone and the fiber option costs the village's equipment
plus every segment of the shared fiber plan on its way to the existing network, a segment being paid once however
many villages it serves. Costs are whatever the caller passes (net present values in `ictgis.lastmile`).

:func:`fiber_attribution` then splits the fiber plan among the villages that take fiber.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp


@dataclass(frozen=True)
class Segment:
    """A piece of the shared fiber plan: its cost and the villages (row indices) it serves downstream."""

    cost: float
    villages: tuple[int, ...]


def choose(costs: np.ndarray, households: np.ndarray, segments: Sequence[Segment], *, fiber_column: int | None = 0,
           budget: float | None = None) -> np.ndarray:
    """Return the column chosen for each village (−1: none), exactly.

    Parameters
    ----------
    costs
        ``(n, t)`` cost of each option of each village, NaN where infeasible. In the fiber column, the village's own
        part (its equipment): the segments it needs come from `segments`.
    households
        Households of each village (what a budget maximises).
    segments
        The fiber plan's segments; a village taking fiber pays (once, with the others) every segment serving it.
    fiber_column
        The column of fiber in `costs`, or None when fiber is not an option.
    budget
        None to connect every village that can be, at the least cost; else the most households within it.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int: the chosen column, −1 where nothing is chosen.

    Raises
    ------
    RuntimeError
        When the solver fails (it should not: the problem is always feasible).
    """
    costs = np.asarray(costs, dtype=float)
    n, t = costs.shape
    hh = np.asarray(households, dtype=float)
    if n == 0:
        return np.zeros(0, dtype=int)
    segs = list(segments) if fiber_column is not None else []
    nx, ns = n * t, len(segs)
    feasible = np.isfinite(costs).ravel()
    c_x = np.where(feasible, costs.ravel(), 0.0)
    c_s = np.array([s.cost for s in segs], dtype=float)
    upper = np.r_[feasible.astype(float), np.ones(ns)]
    bounds = Bounds(np.zeros(nx + ns), upper)
    integrality = np.ones(nx + ns)
    rows, cols, vals, lo, hi = [], [], [], [], []
    r = 0
    has_option = np.isfinite(costs).any(axis=1)
    for v in range(n):  # one option at most (exactly one when connecting every village that can be)
        rows += [r] * t
        cols += list(range(v * t, v * t + t))
        vals += [1.0] * t
        lo.append(1.0 if budget is None and has_option[v] else 0.0)
        hi.append(1.0)
        r += 1
    for k, seg in enumerate(segs):  # x[v, fiber] <= y[segment] for each village it serves
        for v in seg.villages:
            rows += [r, r]
            cols += [v * t + fiber_column, nx + k]
            vals += [1.0, -1.0]
            lo.append(-np.inf)
            hi.append(0.0)
            r += 1
    cost_vec = np.r_[c_x, c_s]
    if budget is not None:
        rows += [r] * (nx + ns)
        cols += list(range(nx + ns))
        vals += cost_vec.tolist()
        lo.append(-np.inf)
        hi.append(float(budget))
        r += 1
    a = sparse.csr_matrix((vals, (rows, cols)), shape=(r, nx + ns))
    cons = [LinearConstraint(a, lo, hi)]
    if budget is not None:
        gain = np.r_[np.repeat(hh, t), np.zeros(ns)]
        first = _solve(-gain, cons, integrality, bounds)
        best = float(gain @ first)
        cons.append(LinearConstraint(gain.reshape(1, -1), best - 1e-6 * max(1.0, best), np.inf))
    x = _solve(cost_vec, cons, integrality, bounds)
    pick = x[:nx].reshape(n, t) > 0.5
    out = np.where(pick.any(axis=1), pick.argmax(axis=1), -1)
    return out.astype(int)


def _solve(c: np.ndarray, constraints: list, integrality: np.ndarray, bounds: Bounds) -> np.ndarray:
    res = milp(c, constraints=constraints, integrality=integrality, bounds=bounds,
               options={"mip_rel_gap": 0.0, "disp": False})
    if res.x is None or res.status not in (0,):
        raise RuntimeError(f"the technology choice did not solve: {res.message}")
    return np.round(res.x)


def plan_cost(choice: np.ndarray, costs: np.ndarray, segments: Sequence[Segment], *, fiber_column: int | None = 0
              ) -> float:
    """Total cost of a choice: the chosen options plus each segment serving at least one fiber village once."""
    n = len(choice)
    total = float(sum(costs[v, choice[v]] for v in range(n) if choice[v] >= 0))
    if fiber_column is None:
        return total
    fiber = {v for v in range(n) if choice[v] == fiber_column}
    return total + float(sum(s.cost for s in segments if fiber & set(s.villages)))


def fiber_attribution(choice: np.ndarray, segments: Sequence[Segment], *, fiber_column: int = 0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Split the fiber plan among the villages that take fiber; price it for the others.

    Returns
    -------
    (marginal, share) : numpy.ndarray
        ``marginal``: for a fiber village, the segments that serve it alone among the fiber villages (what leaving
        fiber would save); for any other village, the segments serving it that no fiber village uses (what joining
        would add). ``share``: for a fiber village, each segment it uses divided equally among the fiber villages it
        serves (the shares add up to the plan's cost); 0 for the others.
    """
    n = len(choice)
    marginal, share = np.zeros(n), np.zeros(n)
    fiber = np.asarray(choice) == fiber_column
    for seg in segments:
        users = [v for v in seg.villages if fiber[v]]
        if users:
            for v in users:
                share[v] += seg.cost / len(users)
            if len(users) == 1:
                marginal[users[0]] += seg.cost
        else:
            for v in seg.villages:
                marginal[v] += seg.cost
    return marginal, share
