"""New-site placement: candidate sites and the maximal covering location problem (MCLP).

- **Candidates** (`generate_candidates`, `read_candidates`): local high ground near villages without signal, plus
  points near roads, thinned to a minimum spacing, each priced by the cost model below.
- **Optimisation** (`MaximalCovering`): from a boolean coverage matrix candidate × village (RSRP ≥ threshold, from
  the coverage engine), populations and the villages existing sites already cover, choose the new sites covering the
  most people, by count (``n_sites``) or budget (``budget_vnd``, knapsack MCLP). ``method="greedy"``: lazy greedy
  (CELF), steepest 1-swap, a second start from the rounded LP solution, then seeded perturbation rounds — well
  under a second for 2,000 × 1,444. ``method="exact"``: the MIP with HiGHS, warm-started. Both report the LP bound.

Cost model (module constants, USD; converted with ``ictgis.settings.usd_to_vnd``)
---------------------------------------------------------------------------------
From FACTS.md §6 (Oughton's open rural 4G cost model): per sector antenna 1,500 + radio unit 4,000 (3 sectors);
per site power/battery 5,000, tower 5,000, civil works 5,000, transport 5,000, installation 5,000 — 41,500 itemised.
FACTS §6 puts a rural 3-sector greenfield 4G site at ≈ 48–50 k USD before backhaul; the 7,500 USD remainder
(`SITE_OTHER_USD`: site acquisition, planning, contingency) is our assumption to reach 49,000. Backhaul: a fiber
spur at 5 USD/m (FACTS rural rate) from the nearest road (fiber assumed to run along roads), or microwave at
30,000 USD (FACTS: 30–80 k), whichever is cheaper; microwave when no road layer is given. Power: a site within
`GRID_DISTANCE_M` of the power grid (or of a road, when no grid layer is given) is on the grid, covered by the
power/battery line; an off-grid site adds `OFFGRID_POWER_USD` (solar + batteries; our assumption, not in FACTS).

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> cover = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool))
>>> m = MaximalCovering.from_matrix(cover, np.array([100.0, 50.0, 80.0])).solve(n_sites=1, compute_bound=False)
>>> m.chosen_ids, m.objective
(['0'], 150.0)
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS
from scipy import ndimage
from scipy.spatial import cKDTree

from . import settings
from ._errors import CRSError, LayerError, ScenarioError

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------ cost model (FACTS.md §6, Oughton, USD)
SECTORS: int = 3
SECTOR_ANTENNA_USD: float = 1_500.0
SECTOR_RADIO_USD: float = 4_000.0
SITE_POWER_USD: float = 5_000.0
SITE_TOWER_USD: float = 5_000.0
SITE_CIVIL_USD: float = 5_000.0
SITE_TRANSPORT_USD: float = 5_000.0
SITE_INSTALL_USD: float = 5_000.0
SITE_OTHER_USD: float = 7_500.0  # assumption: remainder to FACTS §6's ≈ 48–50 k USD greenfield total
GREENFIELD_USD: float = (SECTORS * (SECTOR_ANTENNA_USD + SECTOR_RADIO_USD) + SITE_POWER_USD + SITE_TOWER_USD
                         + SITE_CIVIL_USD + SITE_TRANSPORT_USD + SITE_INSTALL_USD + SITE_OTHER_USD)  # 49,000
FIBER_RURAL_USD_PER_M: float = 5.0
MICROWAVE_BACKHAUL_USD: float = 30_000.0
OFFGRID_POWER_USD: float = 20_000.0  # assumption: solar + battery bank for a rural 4G site
GRID_DISTANCE_M: float = 1_000.0

_BANNER_SILENCED = False


# ======================================================================================== optimisation
class MaximalCovering:
    """Maximal covering location problem over a boolean coverage matrix, existing sites fixed.

    Build with `from_matrix`, call `solve`, then read the attributes (spopt style).

    Attributes
    ----------
    chosen : numpy.ndarray
        Indices of the chosen candidates, in build order (each step the largest marginal gain).
    chosen_ids : list of str
        Their ids.
    marginal_gains : numpy.ndarray
        Population newly covered by each step of `chosen`.
    objective : float
        Population newly covered (villages already covered count zero).
    villages_covered, villages_covered_ids
        Indices and ids of the villages newly covered.
    cost_vnd : float
        Total cost of the chosen sites (NaN when no costs were given).
    lp_bound : float or None
        Optimum of the LP relaxation (HiGHS): no choice can cover more.
    gap : float or None
        ``(lp_bound - objective) / lp_bound``.
    greedy_objective, n_swaps
        Objective after the greedy phase and number of improving swaps made.
    mip_objective, mip_status, mip_gap, mip_bound
        For ``method="exact"``: HiGHS objective, model status, achieved relative gap and dual bound.
    solve_time_s : float
        Wall time of the last `solve`.
    """

    def __init__(self, coverage: sp.csr_matrix, weights: np.ndarray, covered_already: np.ndarray,
                 costs_vnd: np.ndarray | None, candidate_ids: list[str], village_ids: list[str]):
        self.coverage = coverage
        self.weights = weights
        self.covered_already = covered_already
        self.costs_vnd = costs_vnd
        self.candidate_ids = candidate_ids
        self.village_ids = village_ids
        w_eff = np.where(covered_already, 0.0, weights)
        self._cols = np.flatnonzero(w_eff > 0)
        self._w = w_eff[self._cols]
        red = coverage[:, self._cols].tocsr()
        red.sort_indices()
        self._a = sp.csr_matrix((np.ones(red.nnz), red.indices, red.indptr), shape=red.shape)
        self._rows = np.repeat(np.arange(red.shape[0]), np.diff(red.indptr))
        self._tol = 1e-9 * max(1.0, float(self._w.sum()))
        self._reset()

    def _reset(self) -> None:
        self.chosen, self.chosen_ids, self.marginal_gains = np.zeros(0, dtype=np.int64), [], np.zeros(0)
        self.objective, self.villages_covered, self.cost_vnd = 0.0, np.zeros(0, dtype=np.int64), float("nan")
        self.villages_covered_ids: list[str] = []
        self.lp_bound: float | None = None
        self.gap: float | None = None
        self.greedy_objective, self.n_swaps, self.method, self.solve_time_s = 0.0, 0, None, 0.0
        self.mip_objective = self.mip_status = self.mip_gap = self.mip_bound = None

    @classmethod
    def from_matrix(cls, coverage: sp.spmatrix | np.ndarray, weights: Sequence[float] | np.ndarray, *,
                    covered_already: Sequence[bool] | np.ndarray | None = None,
                    costs_vnd: Sequence[float] | np.ndarray | None = None,
                    candidate_ids: Sequence | None = None, village_ids: Sequence | None = None
                    ) -> MaximalCovering:
        """Build the problem from a coverage matrix.

        Parameters
        ----------
        coverage
            Boolean matrix, rows candidates, columns villages: True where the candidate covers the village.
        weights
            Village populations (≥ 0).
        covered_already
            Villages the existing sites cover (their weight counts zero); None for none.
        costs_vnd
            Cost of each candidate (≥ 0); needed to solve by budget and to report cost.
        candidate_ids, village_ids
            Ids (default: row and column numbers as strings).

        Returns
        -------
        MaximalCovering

        Raises
        ------
        ValueError
            If the array shapes disagree.
        LayerError
            If weights or costs are negative or not finite.
        """
        a = sp.csr_matrix(coverage, dtype=bool)
        a.eliminate_zeros()
        n_c, n_v = a.shape

        def vector(name: str, values: object, n: int, what: str, dtype: type = float) -> np.ndarray:
            out = np.asarray(values, dtype=dtype).ravel()
            if out.shape != (n,):
                raise ValueError(f"{name} has {out.size} values for {n} {what}")
            if dtype is float and (not np.all(np.isfinite(out)) or (out < 0).any()):
                raise LayerError(f"{name} must be finite numbers ≥ 0")
            return out

        w = vector("weights (population)", weights, n_v, "villages (matrix columns)")
        cov = vector("covered_already", np.zeros(n_v) if covered_already is None else covered_already, n_v,
                     "villages", bool)
        costs = None if costs_vnd is None else vector("costs_vnd", costs_vnd, n_c, "candidates (matrix rows)")
        cids = [str(i) for i in (range(n_c) if candidate_ids is None else candidate_ids)]
        vids = [str(i) for i in (range(n_v) if village_ids is None else village_ids)]
        if len(cids) != n_c or len(vids) != n_v:
            raise ValueError("candidate_ids / village_ids lengths differ from the matrix shape")
        return cls(a, w, cov, costs, cids, vids)

    # ------------------------------------------------------------------------------------------ solve
    def solve(self, *, n_sites: int | None = None, budget_vnd: float | None = None, method: str = "greedy",
              time_limit_s: float = 60.0, mip_gap: float = 0.0, compute_bound: bool = True,
              rounds: int = 30) -> MaximalCovering:
        """Choose new sites maximising the population newly covered.

        Parameters
        ----------
        n_sites
            At most this many new sites (fewer when further sites would cover nobody new).
        budget_vnd
            Total cost at most this (knapsack MCLP); needs `costs_vnd`. Both limits may be given.
        method
            ``"greedy"``: lazy greedy (by budget: gain per cost, against the best single affordable site), steepest
            1-swap, a second start from the rounded LP solution, then `rounds` perturbation rounds.
            ``"exact"``: the same, then the MIP with HiGHS warm-started from it.
        time_limit_s
            Time limit of the HiGHS solves.
        mip_gap
            Relative MIP gap at which HiGHS stops (0: prove optimality; HiGHS's own default is 1e-4).
        compute_bound
            Solve the LP relaxation for `lp_bound` and `gap`; its solution, rounded, is a second start for the
            local search.
        rounds
            Perturbation rounds of the iterated local search (seeded, deterministic); 0 for plain greedy + swap.

        Returns
        -------
        MaximalCovering
            Itself, with the result attributes set.

        Raises
        ------
        ScenarioError
            For a missing or invalid limit or method.
        """
        if n_sites is None and budget_vnd is None:
            raise ScenarioError("siting needs n_sites or budget_vnd")
        if n_sites is not None and (isinstance(n_sites, bool) or int(n_sites) != n_sites or n_sites < 0):
            raise ScenarioError(f"n_sites must be a whole number ≥ 0, got {n_sites!r}")
        if budget_vnd is not None:
            if not np.isfinite(budget_vnd) or budget_vnd < 0:
                raise ScenarioError(f"budget_vnd must be a number ≥ 0, got {budget_vnd!r}")
            if self.costs_vnd is None:
                raise ScenarioError("a budget needs candidate costs (cost_vnd)")
        if method not in ("greedy", "exact"):
            raise ScenarioError(f"method must be 'greedy' or 'exact', got {method!r}")
        if not 0.0 <= mip_gap < 1.0:
            raise ScenarioError(f"mip_gap must be in [0, 1), got {mip_gap!r}")
        t0 = time.perf_counter()
        self._reset()
        self.method = method
        k = None if n_sites is None else int(n_sites)
        costs = self.costs_vnd
        chosen = self._greedy(k=k, budget=budget_vnd)
        self.greedy_objective = self._value(chosen)
        chosen, self.n_swaps = self._improve(chosen, k=k, budget=budget_vnd)
        if compute_bound or method == "exact":
            lp = _solve_highs(self._a, self._w, k=k, costs=costs, budget=budget_vnd, integer=False,
                              time_limit_s=time_limit_s, mip_gap=0.0)
            if lp is not None and lp["status"] == "Optimal":
                self.lp_bound = lp["objective"]
                chosen = self._best(chosen, self._improve(self._round(lp["x"], k=k, budget=budget_vnd), k=k,
                                                          budget=budget_vnd)[0])
            elif self._w.size == 0:
                self.lp_bound = 0.0
            elif lp is not None:
                logger.warning("LP relaxation not solved to optimality (%s): no LP bound", lp["status"])
        ceiling = self.lp_bound if self.lp_bound is not None else float(self._w.sum())
        if self._value(chosen) < ceiling - self._tol:  # else already optimal
            chosen = self._perturb(chosen, k=k, budget=budget_vnd, rounds=rounds)
        if method == "exact":
            mip = _solve_highs(self._a, self._w, k=k, costs=costs, budget=budget_vnd, integer=True,
                               time_limit_s=time_limit_s, mip_gap=mip_gap, start=chosen, required=True)
            self.mip_objective, self.mip_status = mip["objective"], mip["status"]
            self.mip_gap, self.mip_bound = mip["mip_gap"], mip["bound"]
            if not np.isfinite(self.mip_gap) and abs(self.mip_bound - self.mip_objective) <= self._tol:
                self.mip_gap = 0.0  # HiGHS reports an infinite relative gap at objective 0
            if mip["chosen"] is not None and self._value(mip["chosen"]) >= self._value(chosen) - self._tol:
                chosen = mip["chosen"]
        self._finish(chosen)
        self.solve_time_s = time.perf_counter() - t0
        logger.info("%s", self.report())
        return self

    def _value(self, chosen: Sequence[int]) -> float:
        if len(chosen) == 0:
            return 0.0
        hit = np.asarray(self._a[np.asarray(chosen)].sum(axis=0)).ravel() > 0
        return float(self._w[hit].sum())

    def _greedy(self, *, k: int | None, budget: float | None) -> list[int]:
        chosen = _celf(self._a, self._w, k=k, costs=self.costs_vnd, budget=budget, tol=self._tol)
        if budget is not None and self._a.shape[0]:
            # Knapsack safeguard: greedy by gain per cost can miss one expensive, big site.
            gains = self._a @ self._w
            gains[self.costs_vnd > budget] = -1.0
            best = int(np.argmax(gains))
            if gains[best] > self._tol and best not in chosen:
                alt = _refill(self._a, self._w, [best], k=k, costs=self.costs_vnd, budget=budget, tol=self._tol)
                if self._value(alt) > self._value(chosen) + self._tol:
                    chosen = alt
        return chosen

    def _best(self, *options: list[int]) -> list[int]:
        values = [self._value(o) for o in options]
        return options[int(np.argmax(np.asarray(values) > max(values) - self._tol))]

    def _round(self, x: np.ndarray, *, k: int | None, budget: float | None) -> list[int]:
        """Start from the LP solution: sites by decreasing x (within the limits), then greedy refill."""
        order = np.lexsort((np.arange(x.size), -x))
        order = order[x[order] > 1e-6]
        chosen: list[int] = []
        spent = 0.0
        for i in order.tolist():
            if k is not None and len(chosen) >= k:
                break
            if budget is not None:
                if spent + self.costs_vnd[i] > budget * (1 + 1e-12):
                    continue
                spent += self.costs_vnd[i]
            chosen.append(i)
        return _refill(self._a, self._w, chosen, k=k, costs=self.costs_vnd, budget=budget, tol=self._tol)

    def _perturb(self, chosen: list[int], *, k: int | None, budget: float | None, rounds: int) -> list[int]:
        """Run iterated local search: drop ~15 % of the sites (seeded), refill greedily without them, 1-swap."""
        rng = np.random.default_rng(0)
        best, best_value = list(chosen), self._value(chosen)
        for _ in range(rounds):
            if len(best) < 2:
                break
            drop = set(rng.choice(len(best), size=max(1, round(0.15 * len(best))), replace=False).tolist())
            kept = [c for n, c in enumerate(best) if n not in drop]
            trial = _refill(self._a, self._w, kept, k=k, costs=self.costs_vnd, budget=budget, tol=self._tol,
                            exclude=[best[n] for n in drop])
            trial, _ = self._improve(trial, k=k, budget=budget)
            value = self._value(trial)
            if value > best_value + self._tol:
                best, best_value = trial, value
        return best

    def _improve(self, chosen: list[int], *, k: int | None, budget: float | None) -> tuple[list[int], int]:
        """Steepest-ascent 1-swap over all (chosen, unchosen) pairs at once, then refill what a budget leaves.

        With counts c_j of chosen sites covering village j, swapping s out and k in changes coverage by
        gain_k − loss_s + both_ks: gain_k = Σ w_j over j ∈ A_k with c_j = 0, loss_s = Σ w_j over j ∈ A_s with
        c_j = 1, both_ks = Σ w_j over j ∈ A_k ∩ A_s with c_j = 1 (one sparse product for all pairs).
        """
        a, w, costs = self._a, self._w, self.costs_vnd
        n_c, n_v = a.shape
        chosen = list(chosen)
        swaps = 0
        for _ in range(10_000):
            if chosen:
                p = len(chosen)
                spans = [a.indices[a.indptr[c]:a.indptr[c + 1]] for c in chosen]
                cols = np.concatenate(spans)
                counts = np.bincount(cols, minlength=n_v)
                owner = np.full(n_v, -1)
                owner[cols] = np.repeat(np.arange(p), [len(x) for x in spans])
                owner[counts != 1] = -1
                lost = np.bincount(owner[owner >= 0], weights=w[owner >= 0], minlength=p)
                hit = owner[a.indices] >= 0  # nonzeros (k, j) of villages j that one chosen site alone covers
                both = np.bincount(self._rows[hit] * p + owner[a.indices[hit]], weights=w[a.indices[hit]],
                                   minlength=n_c * p).reshape(n_c, p)
                delta = (a @ np.where(counts == 0, w, 0.0))[:, None] - lost[None, :] + both
                delta[chosen, :] = -np.inf
                if budget is not None:
                    room = budget - float(costs[chosen].sum()) + 1e-9 * max(budget, 1.0)
                    delta[(costs[:, None] - costs[chosen][None, :]) > room] = -np.inf
                kk, pos = divmod(int(np.argmax(delta)), len(chosen))
                if delta[kk, pos] > self._tol:
                    chosen[pos] = kk
                    swaps += 1
                    continue
            if budget is not None:
                filled = _refill(a, w, chosen, k=k, costs=costs, budget=budget, tol=self._tol)
                if len(filled) > len(chosen):
                    chosen = filled
                    continue
            break
        return chosen, swaps

    def _finish(self, chosen: Sequence[int]) -> None:
        order, gains = _build_order(self._a, self._w, sorted(int(c) for c in chosen))
        self.chosen = np.asarray(order, dtype=np.int64)
        self.chosen_ids = [self.candidate_ids[i] for i in self.chosen]
        self.marginal_gains = np.asarray(gains, dtype=float)
        self.objective = self._value(self.chosen)
        hit = np.asarray(self.coverage[self.chosen].sum(axis=0)).ravel() > 0 if len(self.chosen) else \
            np.zeros(self.coverage.shape[1], dtype=bool)
        self.villages_covered = np.flatnonzero(hit & ~self.covered_already)
        self.villages_covered_ids = [self.village_ids[j] for j in self.villages_covered]
        if self.costs_vnd is not None:
            self.cost_vnd = float(self.costs_vnd[self.chosen].sum())
        if self.lp_bound is not None:
            self.lp_bound = max(self.lp_bound, self.objective)  # LP tolerances
            self.gap = (self.lp_bound - self.objective) / self.lp_bound if self.lp_bound > 0 else 0.0

    # ---------------------------------------------------------------------------------------- output
    def report(self) -> str:
        """One-paragraph summary: sites, population newly covered, cost, LP bound and gap."""
        text = (f"MCLP {self.method}: {len(self.chosen)} sites, {self.objective:,.0f} people newly covered in "
                f"{len(self.villages_covered)} villages")
        if not np.isnan(self.cost_vnd):
            text += f", cost {self.cost_vnd / 1e6:,.0f} million VND"
        if self.lp_bound is not None:
            text += f"; LP bound {self.lp_bound:,.0f}, gap {100 * (self.gap or 0.0):.3f} %"
        if self.mip_status is not None:
            text += (f"; HiGHS MIP {self.mip_status}, objective {self.mip_objective or 0.0:,.0f}, "
                     f"MIP gap {100 * (self.mip_gap or 0.0):.3f} %")
        return text + f" ({self.solve_time_s:.3f} s; greedy {self.greedy_objective:,.0f}, {self.n_swaps} swaps)"

    def to_frame(self) -> pd.DataFrame:
        """Return the chosen sites in build order: rank, id, marginal gain, cumulative population, cost."""
        frame = pd.DataFrame({"rank": np.arange(1, len(self.chosen) + 1), "index": self.chosen,
                              "id": self.chosen_ids, "gain": self.marginal_gains,
                              "cumulative": np.cumsum(self.marginal_gains)})
        frame["cost_vnd"] = self.costs_vnd[self.chosen] if self.costs_vnd is not None else np.nan
        return frame


SitingProblem = MaximalCovering


def _celf(a: sp.csr_matrix, w: np.ndarray, *, k: int | None, costs: np.ndarray | None, budget: float | None,
          tol: float) -> list[int]:
    """Lazy greedy (CELF): largest marginal gain, or gain per cost under a budget; ties to the lowest index.

    Gains only shrink as sites are added (submodularity), so a site whose gain, re-evaluated at this step, still
    tops the heap of older evaluations is the best one.
    """
    indptr, indices = a.indptr, a.indices
    free = w.copy()
    chosen: list[int] = []
    spent, slack = 0.0, 1e-9 * max(budget or 0.0, 1.0)

    def key(g: float, i: int) -> float:
        return g / max(costs[i], 1e-9) if budget is not None else g

    heap = [(-key(g, i), i, -1, g) for i, g in enumerate((a @ free).tolist()) if g > tol]
    heapq.heapify(heap)
    step = 0
    while heap and (k is None or len(chosen) < k):
        _, i, when, g = heap[0]
        if budget is not None and costs[i] > budget - spent + slack:
            heapq.heappop(heap)  # the remaining budget only shrinks
            continue
        if when == step:
            heapq.heappop(heap)
            chosen.append(i)
            free[indices[indptr[i]:indptr[i + 1]]] = 0.0
            if costs is not None:
                spent += costs[i]
            step += 1
            continue
        g = float(free[indices[indptr[i]:indptr[i + 1]]].sum())
        if g <= tol:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (-key(g, i), i, step, g))
    return chosen


def _refill(a: sp.csr_matrix, w: np.ndarray, chosen: Sequence[int], *, k: int | None, costs: np.ndarray | None,
            budget: float | None, tol: float, exclude: Sequence[int] = ()) -> list[int]:
    """Add sites greedily to a set (one sparse product per site: faster than CELF for a few additions)."""
    chosen = [int(c) for c in chosen]
    free = w.copy()
    for c in chosen:
        free[a.indices[a.indptr[c]:a.indptr[c + 1]]] = 0.0
    banned = np.zeros(a.shape[0], dtype=bool)
    banned[chosen + [int(e) for e in exclude]] = True
    spent = float(costs[chosen].sum()) if costs is not None and chosen else 0.0
    while k is None or len(chosen) < k:
        gain = a @ free
        ok = (gain > tol) & ~banned
        if budget is not None:
            ok &= costs <= budget - spent + 1e-9 * max(budget, 1.0)
            gain = gain / np.maximum(costs, 1e-9)
        if not ok.any():
            break
        i = int(np.argmax(np.where(ok, gain, -np.inf)))
        chosen.append(i)
        banned[i] = True
        free[a.indices[a.indptr[i]:a.indptr[i + 1]]] = 0.0
        if costs is not None:
            spent += float(costs[i])
    return chosen


def _build_order(a: sp.csr_matrix, w: np.ndarray, chosen: list[int]) -> tuple[list[int], list[float]]:
    """Order a set of sites greedily (largest marginal gain first) and return the gains."""
    sub = a[chosen] if chosen else None
    free = w.copy()
    left = list(range(len(chosen)))
    order, gains = [], []
    while left:
        g = sub[left] @ free
        j = int(np.argmax(g))
        pick = left.pop(j)
        order.append(chosen[pick])
        gains.append(float(g[j]))
        free[sub.indices[sub.indptr[pick]:sub.indptr[pick + 1]]] = 0.0
    return order, gains


def _new_highs():
    """Return a silent HiGHS instance (the first one of a process prints a banner on the C-level stdout)."""
    global _BANNER_SILENCED
    import highspy

    saved = None
    if not _BANNER_SILENCED:
        sys.stdout.flush()
        with contextlib.suppress(OSError):
            saved = os.dup(1)
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
    try:
        h = highspy.Highs()
    finally:
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)
        _BANNER_SILENCED = True
    h.setOptionValue("output_flag", False)
    return h


def _solve_highs(a: sp.csr_matrix, w: np.ndarray, *, k: int | None, costs: np.ndarray | None,
                 budget: float | None, integer: bool, time_limit_s: float, mip_gap: float,
                 start: Sequence[int] | None = None, required: bool = False) -> dict | None:
    """Solve the MCLP (or its LP relaxation) with HiGHS.

    max Σ w_j y_j  s.t.  y_j ≤ Σ_{i covers j} x_i,  Σ x_i ≤ k,  Σ c_i x_i ≤ B,  x ∈ {0,1},  y ∈ [0, 1].
    """
    try:
        import highspy
    except ImportError:
        if required:
            raise ImportError("the exact siting MIP needs highspy: pip install highspy") from None
        logger.warning("highspy is not installed: no LP bound")
        return None
    useful = np.flatnonzero(np.diff(a.indptr) > 0)
    if budget is not None:
        useful = useful[costs[useful] <= budget * (1 + 1e-12) + 1e-9]
    au = a[useful]
    n_x, n_y = au.shape
    # Column-wise: x_i has -1 in the rows of the villages it covers, then 1 (count row) and c_i (budget row);
    # y_j has a single 1 in its village row.
    extra = [(np.ones(n_x), float(k))] if k is not None else []
    if budget is not None:
        extra.append((costs[useful].astype(float), float(budget)))
    n_e = len(extra)
    starts = np.r_[au.indptr + n_e * np.arange(n_x + 1), au.indptr[-1] + n_e * n_x + np.arange(1, n_y + 1)]
    index = np.empty(starts[-1], dtype=np.int32)
    value = np.empty(starts[-1])
    at = np.arange(au.nnz) + n_e * np.repeat(np.arange(n_x), np.diff(au.indptr))
    index[at], value[at] = au.indices, -1.0
    for e, (coef, _) in enumerate(extra):
        index[starts[1:n_x + 1] - n_e + e], value[starts[1:n_x + 1] - n_e + e] = n_y + e, coef
    index[starts[n_x]:], value[starts[n_x]:] = np.arange(n_y), 1.0
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_, lp.sense_ = n_x + n_y, n_y + n_e, highspy.ObjSense.kMaximize
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = np.r_[np.zeros(n_x), w], np.zeros(n_x + n_y), np.ones(n_x + n_y)
    lp.row_lower_ = np.full(n_y + n_e, -highspy.kHighsInf)
    lp.row_upper_ = np.r_[np.zeros(n_y), [b for _, b in extra]]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = starts.astype(np.int32), index, value
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n_x + [highspy.HighsVarType.kContinuous] * n_y
    h = _new_highs()
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("random_seed", 0)
    if integer:
        h.setOptionValue("mip_rel_gap", float(mip_gap))
    else:
        h.setOptionValue("solver", "ipx")  # interior point + crossover: the fastest here on MCLP relaxations
    h.passModel(lp)
    if integer and start is not None and len(start):
        pos = {int(c): n for n, c in enumerate(useful)}
        x0 = np.zeros(n_x + n_y)
        x0[[pos[int(c)] for c in start if int(c) in pos]] = 1.0
        x0[n_x:] = np.minimum(1.0, au.T @ x0[:n_x])
        sol = highspy.HighsSolution()
        sol.col_value = x0.tolist()
        h.setSolution(sol)
    h.run()
    info = h.getInfo()
    status = h.modelStatusToString(h.getModelStatus())
    values = np.asarray(h.getSolution().col_value)
    chosen, x = None, None
    if not integer and values.size == n_x + n_y:
        x = np.zeros(a.shape[0])
        x[useful] = values[:n_x]
    if integer and values.size == n_x + n_y and info.primal_solution_status == highspy.kSolutionStatusFeasible:
        chosen = [int(c) for c in useful[values[:n_x] > 0.5]]
    out = {"objective": float(info.objective_function_value), "status": status, "chosen": chosen, "x": x,
           "mip_gap": float(info.mip_gap) if integer else None,
           "bound": float(info.mip_dual_bound) if integer else None}
    logger.debug("HiGHS %s: %s, objective %.1f", "MIP" if integer else "LP", status, out["objective"])
    return out


# ========================================================================================== candidates
def site_cost_vnd(dist_road_m: np.ndarray | float, grid: np.ndarray | bool, *, usd_to_vnd: float | None = None
                  ) -> np.ndarray:
    """Capex of a new greenfield 4G site, in VND (module docstring: cost model after FACTS.md §6).

    Parameters
    ----------
    dist_road_m
        Distance to the nearest road (NaN when unknown: microwave backhaul).
    grid
        Whether the site can take grid power.
    usd_to_vnd
        Exchange rate (default ``settings.usd_to_vnd``).

    Returns
    -------
    numpy.ndarray
        Cost per site, VND.
    """
    rate = settings.usd_to_vnd if usd_to_vnd is None else float(usd_to_vnd)
    d = np.asarray(dist_road_m, dtype=float)
    backhaul = np.where(np.isnan(d), MICROWAVE_BACKHAUL_USD,
                        np.minimum(FIBER_RURAL_USD_PER_M * np.nan_to_num(d), MICROWAVE_BACKHAUL_USD))
    power = np.where(np.asarray(grid, dtype=bool), 0.0, OFFGRID_POWER_USD)
    return (GREENFIELD_USD + backhaul + power) * rate


def _read_dem(dem: object) -> tuple[np.ndarray, object, CRS | None]:
    """Return (elevation with NaN for no data, affine transform, CRS or None) from a path, tuple or object."""
    if isinstance(dem, (str, Path)):
        import rasterio

        with rasterio.open(dem) as src:
            z = src.read(1, masked=True).astype(float).filled(np.nan)
            return z, src.transform, CRS(src.crs) if src.crs else None
    if isinstance(dem, tuple):
        z, transform, *rest = dem
        crs = rest[0] if rest else None
    else:
        z = next((getattr(dem, n) for n in ("elevation", "array", "z", "values") if hasattr(dem, n)), None)
        transform, crs = getattr(dem, "transform", None), getattr(dem, "crs", None)
        if z is None or transform is None:
            raise TypeError("dem must be a GeoTIFF path, (array, transform[, crs]) or have array and transform")
    return np.asarray(z, dtype=float), transform, CRS(crs) if crs is not None else None


def _nearest_distance(points: np.ndarray, layer: gpd.GeoDataFrame | None) -> np.ndarray:
    if layer is None or layer.empty:
        return np.full(len(points), np.nan)
    geoms = np.asarray(layer.geometry.values, dtype=object)
    tree = shapely.STRtree(geoms[~shapely.is_missing(geoms)])
    (idx_in, _), dist = tree.query_nearest(points, return_distance=True, all_matches=False)
    out = np.full(len(points), np.nan)
    out[idx_in] = dist
    return out


def generate_candidates(dem: object, villages: gpd.GeoDataFrame, *, uncovered_mask: Sequence[bool] | None = None,
                        roads: gpd.GeoDataFrame | None = None, grid_power: gpd.GeoDataFrame | None = None,
                        spacing_m: float = 1_500.0, search_radius_m: float = 4_000.0, n_max: int = 2_000,
                        per_village: int = 3, road_buffer_m: float = 300.0, grid_distance_m: float = GRID_DISTANCE_M,
                        usd_to_vnd: float | None = None) -> gpd.GeoDataFrame:
    """Generate candidate sites on high ground near villages without signal, and near roads.

    For each uncovered village, the `per_village` highest local maxima of the DEM (maxima over a window of
    `spacing_m`) within `search_radius_m`, the highest cell there when it holds fewer maxima, and the highest cell
    within `road_buffer_m` of a road; then thinned (highest first) so no two candidates are closer than
    `spacing_m`, and the `n_max` with the most uncovered population within `search_radius_m` kept.

    Parameters
    ----------
    dem
        DEM GeoTIFF path, ``(array, transform[, crs])``, or an object with ``elevation``/``array`` and
        ``transform``; north-up, in the villages' CRS (EPSG:9205).
    villages
        Village points with `population`.
    uncovered_mask
        True for villages without signal (default: all).
    roads
        Road lines: distance to road (fiber backhaul), road candidates, grid power proxy.
    grid_power
        Power lines or substations; when None, a site within `grid_distance_m` of a road counts as on the grid.
    spacing_m, search_radius_m, n_max, per_village, road_buffer_m, grid_distance_m
        See above.
    usd_to_vnd
        Exchange rate for the cost model (default ``settings.usd_to_vnd``).

    Returns
    -------
    geopandas.GeoDataFrame
        `id` (C0001 …, best first), `kind` (peak, highest, road), `elev_m`, `dist_road_m`, `grid`, `uncov_pop`,
        `cost_vnd`, point geometry in the villages' CRS.

    Raises
    ------
    CRSError
        If the villages have no CRS or the DEM's CRS differs.
    LayerError
        If `population` is missing or the mask length is wrong.
    """
    if villages.crs is None:
        raise CRSError("villages: the layer has no CRS")
    if "population" not in villages:
        raise LayerError("villages: generating candidates needs a population attribute")
    z, transform, dem_crs = _read_dem(dem)
    if dem_crs is not None and not dem_crs.equals(CRS(villages.crs)):
        raise CRSError(f"the DEM is in {dem_crs.name}, the villages in {CRS(villages.crs).name}: reproject the DEM")
    if transform.b != 0 or transform.d != 0:
        raise CRSError("the DEM must be north-up (no rotation)")
    mask = np.ones(len(villages), dtype=bool) if uncovered_mask is None else np.asarray(uncovered_mask, bool)
    if mask.shape != (len(villages),):
        raise LayerError(f"uncovered_mask has {mask.size} values for {len(villages)} villages")
    crs = villages.crs
    empty = gpd.GeoDataFrame({c: pd.Series([], dtype=t) for c, t in (("id", str), ("kind", str), ("elev_m", float),
                              ("dist_road_m", float), ("grid", bool), ("uncov_pop", float), ("cost_vnd", float))},
                             geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    vx = shapely.get_x(villages.geometry.values)[mask]
    vy = shapely.get_y(villages.geometry.values)[mask]
    vpop = np.nan_to_num(villages["population"].to_numpy(dtype=float, na_value=np.nan))[mask]
    if not mask.any():
        return empty
    dx, dy = abs(transform.a), abs(transform.e)
    nrow, ncol = z.shape
    zf = np.where(np.isfinite(z), z, -np.inf)
    win = max(3, int(round(spacing_m / dx)) | 1)
    peaks = (zf == ndimage.maximum_filter(zf, size=win, mode="nearest")) & np.isfinite(z)
    near_road = None
    if roads is not None and not roads.empty:
        from rasterio import features

        lines = [g for g in roads.to_crs(crs).geometry.values if g is not None and not g.is_empty]
        burnt = features.rasterize(((g, 1) for g in lines), out_shape=z.shape, transform=transform,
                                   all_touched=True, dtype="uint8").astype(bool)
        if burnt.any():
            near_road = ndimage.distance_transform_edt(~burnt, sampling=(dy, dx)) <= road_buffer_m
    inv = ~transform
    cols, rows = inv @ (vx, vy)
    rows, cols = np.floor(rows).astype(int), np.floor(cols).astype(int)
    ri, ci = int(np.ceil(search_radius_m / dy)), int(np.ceil(search_radius_m / dx))
    picked: dict[int, str] = {}
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        r0, r1, c0, c1 = max(r - ri, 0), min(r + ri + 1, nrow), max(c - ci, 0), min(c + ci + 1, ncol)
        if r0 >= r1 or c0 >= c1:
            continue  # village off the DEM
        rr, cc = np.mgrid[r0:r1, c0:c1]
        disc = ((rr - r) * dy) ** 2 + ((cc - c) * dx) ** 2 <= search_radius_m ** 2
        disc &= np.isfinite(z[r0:r1, c0:c1])
        flat = (rr * ncol + cc)[disc]
        zz = zf[r0:r1, c0:c1][disc]
        pk = peaks[r0:r1, c0:c1][disc]
        order = np.lexsort((flat[pk], -zz[pk]))[:per_village]
        for f in flat[pk][order].tolist():
            picked.setdefault(f, "peak")
        if order.size < per_village and flat.size:
            picked.setdefault(int(flat[np.lexsort((flat, -zz))[0]]), "highest")
        if near_road is not None:
            on = near_road[r0:r1, c0:c1][disc]
            if on.any():
                picked.setdefault(int(flat[on][np.lexsort((flat[on], -zz[on]))[0]]), "road")
    if not picked:
        return empty
    cells = np.fromiter(picked, dtype=np.int64)
    kinds = np.array([picked[int(f)] for f in cells])
    crow, ccol = np.divmod(cells, ncol)
    px, py = transform @ (ccol + 0.5, crow + 0.5)
    elev = z[crow, ccol]
    xy = np.column_stack([px, py])
    tree = cKDTree(xy)
    keep = np.zeros(len(cells), dtype=bool)
    gone = np.zeros(len(cells), dtype=bool)
    for i in np.lexsort((cells, -elev)).tolist():
        if not gone[i]:
            keep[i] = True
            gone[tree.query_ball_point(xy[i], spacing_m * (1 - 1e-9))] = True
    cells, kinds, xy, elev = cells[keep], kinds[keep], xy[keep], elev[keep]
    near = cKDTree(np.column_stack([vx, vy])).query_ball_point(xy, search_radius_m)
    score = np.array([float(vpop[n].sum()) for n in near])
    order = np.lexsort((cells, -elev, -score))[:n_max]
    cells, kinds, xy, elev, score = cells[order], kinds[order], xy[order], elev[order], score[order]
    points = shapely.points(xy)
    dist_road = _nearest_distance(points, roads.to_crs(crs) if roads is not None else None)
    if grid_power is not None:
        grid = _nearest_distance(points, grid_power.to_crs(crs)) <= grid_distance_m
    else:
        grid = np.nan_to_num(dist_road, nan=np.inf) <= grid_distance_m
    out = gpd.GeoDataFrame({"id": [f"C{i + 1:04d}" for i in range(len(cells))], "kind": kinds,
                            "elev_m": np.round(elev, 1), "dist_road_m": np.round(dist_road, 1),
                            "grid": grid.astype(bool), "uncov_pop": score,
                            "cost_vnd": np.round(site_cost_vnd(dist_road, grid, usd_to_vnd=usd_to_vnd))},
                           geometry=gpd.GeoSeries(points, crs=crs), crs=crs)
    logger.info("%d candidate sites (%d peaks, %d highest cells, %d near roads) for %d uncovered villages",
                len(out), (kinds == "peak").sum(), (kinds == "highest").sum(), (kinds == "road").sum(), len(vx))
    return out


def read_candidates(path: str | Path, *, crs: object = None, layer: str | None = None,
                    usd_to_vnd: float | None = None) -> gpd.GeoDataFrame:
    """Read candidate sites from a user file (any format `ictgis.io` reads) into the working CRS.

    Parameters
    ----------
    path
        Point file with an `id` (aliases ma_tram, site_id, candidate) and optionally `cost_vnd`, `grid`,
        `dist_road_m`, `elev_m`.
    crs
        CRS to assume when the file has none.
    layer
        Layer inside a GeoPackage.
    usd_to_vnd
        Exchange rate for sites without `cost_vnd` (cost model, from `dist_road_m` and `grid` when present).

    Returns
    -------
    geopandas.GeoDataFrame
        `id`, `cost_vnd` (always filled), the optional attributes present, geometry.

    Raises
    ------
    LayerError
        Listing every problem (missing id, duplicate ids, bad numbers, non-point geometry …).
    """
    from . import io
    from ._validate import Collector
    from .layers import Field, LayerSchema

    schema = LayerSchema(
        name="candidates", geometry="Point", id_field="id", label_vi="Vị trí ứng viên",
        description="Candidate sites for new BTS.",
        fields=(Field("id", "str", True, "Candidate id", aliases=("ma_tram", "site_id", "candidate", "ma")),
                Field("cost_vnd", "float", False, "Capex of the site (VND)", aliases=("cost", "chi_phi")),
                Field("grid", "bool", False, "Grid power available", aliases=("dien_luoi",)),
                Field("dist_road_m", "float", False, "Distance to a road (m)", aliases=("dist_road_", "dist_road")),
                Field("elev_m", "float", False, "Ground elevation (m)", aliases=("elev", "do_cao"))))
    path, collector = Path(path), Collector()
    label = path.name
    if not path.exists():
        collector.add(label, "file not found for the candidate sites")
        collector.raise_if_any(label)
    if path.suffix.lower() == ".csv":
        frame, declared = io._read_csv(path, collector, label=label, crs=crs), "UTF-8"
    else:
        frame, declared = io._read_vector(path, layer, collector, label=label)
    if frame is not None:
        frame = io._prepare(frame, schema, declared=declared, fields={}, crs=crs, encoding=None, working=None,
                            collector=collector, label=label)
    collector.raise_if_any(label)
    out = frame.copy()
    nan = pd.Series(np.nan, index=out.index)
    grid = out["grid"].fillna(False).to_numpy(dtype=bool) if "grid" in out else np.zeros(len(out), dtype=bool)
    model = site_cost_vnd(out.get("dist_road_m", nan).to_numpy(dtype=float, na_value=np.nan), grid,
                          usd_to_vnd=usd_to_vnd)
    given = out.get("cost_vnd", nan).to_numpy(dtype=float, na_value=np.nan)
    out["cost_vnd"] = np.where(np.isnan(given), np.round(model), given)
    return out
