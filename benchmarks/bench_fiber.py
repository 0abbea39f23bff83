"""Shared fiber plan (Steiner tree) speed and quality, measured against networkx and an exact MIP.

1. A road-like graph of ≥ 50,000 nodes (a deterministic jittered grid with 70 % of its links, built each run) and
   170 terminals: ``ictgis.steiner.steiner_tree`` vs ``networkx.algorithms.approximation.steiner_tree(method=
   "mehlhorn")`` — wall time (median of 3 after a warm-up), total length of each, ratio. "ours" is the default
   (fast on large graphs: one whole round of key-path exchange, then rounds around what changed); the thorough
   search (rounds to convergence) is reported beside it.
   Goals: ≥ 8× faster, length ≤ 1.00× networkx's.
2. ≥ 20 small instances (≤ 500 nodes, ≤ 30 terminals) solved exactly by a flow MIP with HiGHS: our length ≤ 1.02×
   the optimum on every one; the worst ratio is printed.
3. Budget selection (greedy + local search) vs the exact budgeted MIP on small instances: households connected.

One JSON line per comparison on stdout: {"bench", "ours_s", "peer", "peer_version", "peer_s", "speedup",
"quality"}. Run: ``python benchmarks/bench_fiber.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import scipy.sparse as sp
from networkx.algorithms.approximation import steiner_tree as nx_steiner_tree

from ictgis.network import WGraph, synthetic_road_graph
from ictgis.steiner import SteinerTree, mehlhorn_tree, mst_prune, select_within_budget, steiner_tree, tree_from_edges

PEER = 'networkx.algorithms.approximation.steiner_tree(method="mehlhorn")'


# ------------------------------------------------------------------------------------------------ exact solvers
@dataclass(frozen=True)
class MipResult:
    """Result of an exact solve.

    Attributes
    ----------
    tree
        Best tree found.
    bound
        Proven bound on the optimum (lower bound for a minimum, upper bound for a maximum).
    optimal
        Whether HiGHS proved optimality (within its gap tolerance).
    selected
        For budget problems: the prize nodes connected.
    """

    tree: SteinerTree
    bound: float
    optimal: bool
    selected: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _reduce(graph: WGraph, keep: set[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[tuple[int, int]]]]:
    """Remove non-kept leaves and contract non-kept nodes of degree 2; return (u, v, w, original edges of each)."""
    u0, v0, w0 = graph.undirected_edges()
    adj: dict[int, dict[int, tuple[float, int]]] = {}
    paths: list[list[tuple[int, int]]] = []
    for a, b, w in zip(u0.tolist(), v0.tolist(), w0.tolist(), strict=True):
        paths.append([(a, b)])
        adj.setdefault(a, {})[b] = (w, len(paths) - 1)
        adj.setdefault(b, {})[a] = (w, len(paths) - 1)
    stack = [x for x in adj if x not in keep and len(adj[x]) <= 2]
    while stack:
        x = stack.pop()
        if x not in adj or x in keep or len(adj[x]) > 2:
            continue
        nbs = list(adj[x].items())
        for y, _ in nbs:
            del adj[y][x]
        del adj[x]
        if len(nbs) == 2:
            (a, (wa, pa)), (b, (wb, pb)) = nbs
            if b not in adj[a] or adj[a][b][0] > wa + wb:
                paths.append(paths[pa] + paths[pb])
                adj[a][b] = adj[b][a] = (wa + wb, len(paths) - 1)
        stack.extend(y for y, _ in nbs if y not in keep and len(adj[y]) <= 2)
    out = [(a, b, w, p) for a, nb in adj.items() for b, (w, p) in nb.items() if a < b]
    if not out:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), []
    a, b, w, p = zip(*out, strict=True)
    return np.array(a), np.array(b), np.array(w, dtype=float), [paths[i] for i in p]


def _run_highs(cost: np.ndarray, mat: sp.spmatrix, row_lo: np.ndarray, row_hi: np.ndarray, col_hi: np.ndarray,
               integer: np.ndarray, *, time_limit_s: float, mip_rel_gap: float) -> tuple[np.ndarray, float, bool]:
    """Minimise cost·x subject to row_lo ≤ mat·x ≤ row_hi, 0 ≤ x ≤ col_hi; return (x, dual bound, optimal)."""
    import highspy

    fd = os.dup(1)
    try:  # HiGHS prints a banner on stdout when created
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
        h = highspy.Highs()
    finally:
        os.dup2(fd, 1)
        os.close(fd)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    mat = sp.csc_matrix(mat)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = mat.shape[1], mat.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_ = np.zeros(mat.shape[1])
    lp.col_upper_ = np.asarray(col_hi, dtype=float)
    lp.row_lower_ = np.asarray(row_lo, dtype=float)
    lp.row_upper_ = np.asarray(row_hi, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = mat.shape[1], mat.shape[0]
    lp.a_matrix_.start_ = mat.indptr
    lp.a_matrix_.index_ = mat.indices
    lp.a_matrix_.value_ = mat.data
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer]
    h.passModel(lp)
    h.run()
    optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    x = np.asarray(h.getSolution().col_value, dtype=float)
    info = h.getInfo()
    bound = float(info.mip_dual_bound) if np.any(integer) else float(info.objective_function_value)
    return x, bound, optimal


def steiner_tree_mip(graph: WGraph, terminals: Sequence[int] | np.ndarray, *, time_limit_s: float = 120.0,
                     mip_rel_gap: float = 1e-9) -> MipResult:
    """Exact Steiner tree by a directed multi-commodity flow MIP (HiGHS), for small graphs (≲ 1,000 nodes).

    Non-terminal leaves are removed and non-terminal nodes of degree 2 contracted first.

    Returns
    -------
    MipResult
    """
    terms = np.unique(np.asarray(terminals, dtype=np.int64))
    if len(terms) <= 1:
        return MipResult(tree_from_edges(graph, [], terms), 0.0, True)
    u, v, w, paths = _reduce(graph, set(terms.tolist()))
    nodes = np.unique(np.r_[u, v, terms])
    loc = {x: i for i, x in enumerate(nodes.tolist())}
    n, m = len(nodes), len(u)
    tail = np.r_[[loc[x] for x in u.tolist()], [loc[x] for x in v.tolist()]].astype(np.int64)
    head = np.r_[tail[m:], tail[:m]]
    n_arc = 2 * m
    root, sinks = loc[int(terms[0])], [loc[int(t)] for t in terms[1:]]
    k = len(sinks)
    # Columns: x (arcs), then f^c for each commodity c.  Rows: conservation (k·n), linking (k·n_arc), x_uv+x_vu ≤ 1,
    # in-degree ≤ 1 (non-root).
    rows, cols, vals = [], [], []
    arc = np.arange(n_arc)
    for c in range(k):
        off = n_arc * (c + 1)
        rows += [c * n + head, c * n + tail]
        cols += [off + arc, off + arc]
        vals += [np.ones(n_arc), -np.ones(n_arc)]
    r0 = k * n
    for c in range(k):
        rows += [r0 + c * n_arc + arc, r0 + c * n_arc + arc]
        cols += [n_arc * (c + 1) + arc, arc]
        vals += [np.ones(n_arc), -np.ones(n_arc)]
    r1 = r0 + k * n_arc
    rows += [r1 + np.arange(m), r1 + np.arange(m)]
    cols += [np.arange(m), m + np.arange(m)]
    vals += [np.ones(m), np.ones(m)]
    r2 = r1 + m
    rows.append(r2 + head)
    cols.append(arc)
    vals.append(np.ones(n_arc))
    n_rows = r2 + n
    mat = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(n_rows, n_arc * (k + 1)))
    rhs = np.zeros(k * n)
    for c, s in enumerate(sinks):
        rhs[c * n + s] = 1.0
        rhs[c * n + root] = -1.0
    lo = np.r_[rhs, np.full(k * n_arc, -np.inf), np.full(m, -np.inf), np.full(n, -np.inf)]
    hi = np.r_[rhs, np.zeros(k * n_arc), np.ones(m), np.ones(n)]
    hi[r2 + root] = 0.0
    cost = np.r_[np.r_[w, w], np.zeros(k * n_arc)]
    integer = np.r_[np.ones(n_arc, dtype=bool), np.zeros(k * n_arc, dtype=bool)]
    x, bound, optimal = _run_highs(cost, mat, lo, hi, np.ones(len(cost)), integer, time_limit_s=time_limit_s,
                                   mip_rel_gap=mip_rel_gap)
    used = np.flatnonzero(x[:n_arc] > 0.5) % m
    edges = [e for i in np.unique(used).tolist() for e in paths[i]]
    return MipResult(tree_from_edges(graph, edges, terms), bound, optimal)


def budget_tree_mip(graph: WGraph, root: int, prize: dict[int, float], node_cost: dict[int, float], budget: float, *,
                    time_limit_s: float = 120.0, mip_rel_gap: float = 1e-6) -> MipResult:
    """Exact budgeted prize-collecting tree (multi-commodity flow MIP, HiGHS), for small graphs.

    Maximise the prizes of the nodes connected to `root` by a tree whose edge weights plus the connected nodes'
    `node_cost` stay within `budget`.

    Returns
    -------
    MipResult
        ``bound`` is an upper bound on the prize; ``selected`` the connected prize nodes.
    """
    pnodes = sorted(prize)
    u, v, w, paths = _reduce(graph, {root, *pnodes})
    nodes = np.unique(np.r_[u, v, root, pnodes]).astype(np.int64)
    loc = {x: i for i, x in enumerate(nodes.tolist())}
    n, m, n_prize = len(nodes), len(u), len(pnodes)
    tail = np.r_[[loc[x] for x in u.tolist()], [loc[x] for x in v.tolist()]].astype(np.int64)
    head = np.r_[tail[m:], tail[:m]]
    n_arc = 2 * m
    arc = np.arange(n_arc)
    r = loc[root]
    fy = n_arc * (n_prize + 1)  # columns: x (arcs), f^k (arcs, one block per prize node), y (prize nodes)
    rows, cols, vals = [], [], []
    for k, p in enumerate(pnodes):  # flow y_k from the root to prize node k, through chosen arcs only
        off = n_arc * (k + 1)
        rows += [k * n + head, k * n + tail, [k * n + loc[p], k * n + r]]
        cols += [off + arc, off + arc, [fy + k, fy + k]]
        vals += [np.ones(n_arc), -np.ones(n_arc), [-1.0, 1.0]]
        rows += [n_prize * n + k * n_arc + arc, n_prize * n + k * n_arc + arc]
        cols += [off + arc, arc]
        vals += [np.ones(n_arc), -np.ones(n_arc)]
    r1 = n_prize * n + n_prize * n_arc
    rows += [r1 + np.arange(m), r1 + np.arange(m), r1 + m + head, np.full(n_arc, r1 + m + n),
             np.full(n_prize, r1 + m + n)]
    cols += [np.arange(m), m + np.arange(m), arc, arc, fy + np.arange(n_prize)]
    vals += [np.ones(m), np.ones(m), np.ones(n_arc), np.r_[w, w], [node_cost.get(p, 0.0) for p in pnodes]]
    n_rows = r1 + m + n + 1
    mat = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(n_rows, fy + n_prize))
    lo = np.r_[np.zeros(n_prize * n), np.full(n_prize * n_arc + m + n + 1, -np.inf)]
    hi = np.r_[np.zeros(n_prize * n), np.zeros(n_prize * n_arc), np.ones(m), np.ones(n), budget]
    hi[r1 + m + r] = 0.0
    prizes = np.array([prize[p] for p in pnodes], dtype=float)
    cost = np.r_[np.zeros(n_arc), np.zeros(n_prize * n_arc), -prizes]
    integer = np.r_[np.ones(n_arc, dtype=bool), np.zeros(n_prize * n_arc, dtype=bool), np.ones(n_prize, dtype=bool)]
    x, bound, optimal = _run_highs(cost, mat, lo, hi, np.ones(len(cost)), integer, time_limit_s=time_limit_s,
                                   mip_rel_gap=mip_rel_gap)
    selected = np.array(pnodes, dtype=np.int64)[x[fy:] > 0.5]
    used = np.flatnonzero(x[:n_arc] > 0.5) % m
    edges = np.asarray([e for i in np.unique(used).tolist() for e in paths[i]], dtype=np.int64).reshape(-1, 2)
    terms = np.r_[root, selected].astype(np.int64)
    if len(edges):  # arcs chosen without flow (slack budget) are dropped
        edges = mst_prune(graph, np.unique(np.r_[edges.ravel(), terms]), terms)
    return MipResult(tree_from_edges(graph, edges, terms), -bound, optimal, selected)


# ------------------------------------------------------------------------------------------------ comparisons
def emit(record: dict) -> None:
    print(json.dumps(record, ensure_ascii=False), flush=True)


def timed(fn, repeat: int) -> tuple[float, object]:
    fn()  # warm-up
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def large(n_nodes: int, n_terms: int, repeat: int) -> None:
    graph, _ = synthetic_road_graph(n_nodes, seed=2021)
    terms = np.random.default_rng(169).choice(graph.n, n_terms, replace=False)
    g = graph.to_networkx()
    ours_s, ours = timed(lambda: steiner_tree(graph, terms), repeat)
    mehl_s, mehl = timed(lambda: mehlhorn_tree(graph, terms), repeat)
    thor_s, thor = timed(lambda: steiner_tree(graph, terms, thorough=True), 1)
    peer_s, peer = timed(lambda: nx_steiner_tree(g, terms.tolist(), weight="weight", method="mehlhorn"), repeat)
    peer_len = float(peer.size(weight="weight"))
    speedup, ratio = peer_s / ours_s, ours.weight / peer_len
    emit({"bench": f"fiber_steiner_{graph.n // 1000}k_{n_terms}t", "ours_s": round(ours_s, 4), "peer": PEER,
          "peer_version": nx.__version__, "peer_s": round(peer_s, 4), "speedup": round(speedup, 2),
          "quality": {"nodes": graph.n, "edges": int(graph.matrix.nnz // 2), "terminals": n_terms,
                      "ours_length_m": round(ours.weight, 1), "peer_length_m": round(peer_len, 1),
                      "length_ratio": round(ratio, 5), "ours_mehlhorn_only_s": round(mehl_s, 4),
                      "ours_mehlhorn_only_ratio": round(mehl.weight / peer_len, 5),
                      "ours_thorough_s": round(thor_s, 4), "ours_thorough_ratio": round(thor.weight / peer_len, 5),
                      "goal": "speedup >= 8 and length_ratio <= 1.00", "met": bool(speedup >= 8 and ratio <= 1.0)}})


def small(n_instances: int, time_limit_s: float) -> None:
    ratios, times = [], []
    for i in range(n_instances):
        rng = np.random.default_rng(1000 + i)
        graph, _ = synthetic_road_graph(int(rng.integers(100, 441)), seed=1000 + i)
        assert graph.n <= 500
        terms = rng.choice(graph.n, int(rng.integers(5, 31)), replace=False)
        t = time.perf_counter()
        ours = steiner_tree(graph, terms)
        ours_s = time.perf_counter() - t
        t = time.perf_counter()
        exact = steiner_tree_mip(graph, terms, time_limit_s=time_limit_s)
        mip_s = time.perf_counter() - t
        opt = exact.tree.weight if exact.optimal else exact.bound  # a lower bound keeps the ratio honest
        ratio = ours.weight / opt
        ratios.append(ratio)
        times.append(mip_s)
        emit({"bench": f"fiber_steiner_exact_{i:02d}", "ours_s": round(ours_s, 4), "peer": "HiGHS flow MIP (exact)",
              "peer_version": _highs_version(), "peer_s": round(mip_s, 3), "speedup": round(mip_s / ours_s, 1),
              "quality": {"nodes": graph.n, "terminals": len(terms), "ours_length_m": round(ours.weight, 1),
                          "optimum_m": round(opt, 1), "proven_optimal": exact.optimal, "ratio": round(ratio, 5)}})
    worst = max(ratios)
    emit({"bench": "fiber_steiner_exact_summary", "ours_s": None, "peer": "HiGHS flow MIP (exact)",
          "peer_version": _highs_version(), "peer_s": round(sum(times), 2), "speedup": None,
          "quality": {"instances": n_instances, "worst_ratio": round(worst, 5),
                      "mean_ratio": round(float(np.mean(ratios)), 5), "optimal_hits": int(sum(r < 1 + 1e-9
                                                                                                 for r in ratios)),
                      "goal": "worst_ratio <= 1.02", "met": bool(worst <= 1.02)}})
    print(f"worst ratio to the optimum over {n_instances} instances: {worst:.4f}", file=sys.stderr)


def budget(n_instances: int, time_limit_s: float) -> None:
    ratios, ours_t, mip_t = [], 0.0, 0.0
    for i in range(n_instances):
        rng = np.random.default_rng(2000 + i)
        graph, _ = synthetic_road_graph(int(rng.integers(40, 121)), seed=2000 + i)
        k = int(rng.integers(6, 13))
        nodes = rng.choice(np.arange(1, graph.n), k, replace=False)
        prize = rng.integers(30, 500, k).astype(float)
        cost = np.full(k, 2000.0)
        full = steiner_tree(graph, np.r_[0, nodes]).weight + cost.sum()
        limit = float(rng.uniform(0.25, 0.75) * full)
        t = time.perf_counter()
        ours = select_within_budget(graph, 0, nodes, prize, cost, limit)
        ours_t += time.perf_counter() - t
        t = time.perf_counter()
        exact = budget_tree_mip(graph, 0, dict(zip(nodes.tolist(), prize.tolist(), strict=True)),
                                dict(zip(nodes.tolist(), cost.tolist(), strict=True)), limit,
                                time_limit_s=time_limit_s)
        mip_t += time.perf_counter() - t
        best = float(prize[np.isin(nodes, exact.selected)].sum()) if exact.optimal else exact.bound
        ratios.append(ours.prize / best if best > 0 else 1.0)
    emit({"bench": "fiber_budget_exact", "ours_s": round(ours_t, 3), "peer": "HiGHS budgeted flow MIP (exact)",
          "peer_version": _highs_version(), "peer_s": round(mip_t, 3), "speedup": round(mip_t / ours_t, 1),
          "quality": {"instances": n_instances, "worst_households_ratio": round(min(ratios), 4),
                      "mean_households_ratio": round(float(np.mean(ratios)), 4),
                      "optimal_hits": int(sum(r > 1 - 1e-9 for r in ratios))}})


def _highs_version() -> str:
    from importlib.metadata import version

    return version("highspy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    args = parser.parse_args()
    if args.quick:
        large(5_000, 50, 1)
        small(3, 30.0)
        budget(3, 30.0)
    else:
        large(52_000, 170, 3)
        small(20, 60.0)
        budget(10, 60.0)


if __name__ == "__main__":
    main()
