"""The maximal covering location problem (MCLP) on a coverage matrix: which new sites cover the most people.

`MaximalCovering`: from a boolean coverage matrix candidate × village (RSRP ≥ threshold, from the coverage engine),
populations and the villages existing sites already cover, choose the new sites covering the most people, by count
(``n_sites``) or budget (``budget_vnd``, knapsack MCLP). ``method="greedy"``: lazy greedy (CELF), steepest 1-swap, a
second start from the rounded LP solution, then seeded perturbation rounds — well under a second for 2,000 × 1,444.
``method="exact"``: the MIP with HiGHS, warm-started. Both report the LP bound. The solver works on arrays only;
the candidates and their costs come from :mod:`ictgis.siting`, which also exposes `MaximalCovering`.

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

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._errors import LayerError, ScenarioError

logger = logging.getLogger(__name__)

_BANNER_SILENCED = False


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
        self.chosen: np.ndarray = np.zeros(0, dtype=np.int64)
        self.chosen_ids: list[str] = []
        self.marginal_gains: np.ndarray = np.zeros(0)
        self.objective, self.villages_covered, self.cost_vnd = 0.0, np.zeros(0, dtype=np.int64), float("nan")
        self.villages_covered_ids: list[str] = []
        self.lp_bound: float | None = None
        self.gap: float | None = None
        self.greedy_objective, self.n_swaps, self.solve_time_s = 0.0, 0, 0.0
        self.method: str | None = None
        self.mip_objective: float | None = None
        self.mip_status: str | None = None
        self.mip_gap: float | None = None
        self.mip_bound: float | None = None

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
            out: np.ndarray = np.asarray(values, dtype=dtype).ravel()
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
            assert mip is not None  # required=True: no HiGHS raises ImportError
            objective, gap, bound = float(mip["objective"]), float(mip["mip_gap"]), float(mip["bound"])
            if not np.isfinite(gap) and abs(bound - objective) <= self._tol:
                gap = 0.0  # HiGHS reports an infinite relative gap at objective 0
            self.mip_objective, self.mip_status, self.mip_gap, self.mip_bound = objective, mip["status"], gap, bound
            if mip["chosen"] is not None and self._value(mip["chosen"]) >= self._value(chosen) - self._tol:
                chosen = mip["chosen"]
        self._finish(chosen)
        self.solve_time_s = time.perf_counter() - t0
        logger.info("%s", self.report())
        return self

    def _value(self, chosen: Sequence[int] | np.ndarray) -> float:
        if len(chosen) == 0:
            return 0.0
        hit = np.asarray(self._a[np.asarray(chosen)].sum(axis=0)).ravel() > 0
        return float(self._w[hit].sum())

    def _greedy(self, *, k: int | None, budget: float | None) -> list[int]:
        chosen = _celf(self._a, self._w, k=k, costs=self.costs_vnd, budget=budget, tol=self._tol)
        if budget is not None and self.costs_vnd is not None and self._a.shape[0]:
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
            if budget is not None and self.costs_vnd is not None:
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
                if budget is not None and costs is not None:
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
    cost = np.zeros(a.shape[0]) if costs is None else costs  # a budget comes with costs (MaximalCovering.solve)

    def key(g: float, i: int) -> float:
        return g / max(cost[i], 1e-9) if budget is not None else g

    heap = [(-key(g, i), i, -1, g) for i, g in enumerate((a @ free).tolist()) if g > tol]
    heapq.heapify(heap)
    step = 0
    while heap and (k is None or len(chosen) < k):
        _, i, when, g = heap[0]
        if budget is not None and cost[i] > budget - spent + slack:
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
        if budget is not None and costs is not None:
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
    if not chosen:
        return [], []
    sub = a[chosen]
    free = w.copy()
    left = list(range(len(chosen)))
    order: list[int] = []
    gains: list[float] = []
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
    if budget is not None and costs is not None:
        useful = useful[costs[useful] <= budget * (1 + 1e-12) + 1e-9]
    au = a[useful]
    n_x, n_y = au.shape
    # Column-wise: x_i has -1 in the rows of the villages it covers, then 1 (count row) and c_i (budget row);
    # y_j has a single 1 in its village row.
    extra = [(np.ones(n_x), float(k))] if k is not None else []
    if budget is not None and costs is not None:
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
