"""Benchmark: new-site placement (MCLP) — ictgis greedy + 1-swap vs spopt's MCLP (PuLP CBC).

The same coverage matrix, candidate × village, is solved by both for several numbers of new sites p. The instance is
synthetic and deterministic: 1,444 villages clustered along valleys (lognormal populations, 616,560 people like the
province) and 2,000 candidates — most on the slopes above the valleys, some anywhere — whose coverage discs have radii
of 2–12 km (mostly small), with 25 % of the village links dropped for terrain shadowing.

Prints one JSON line per p:
``{"bench": "siting_mclp", "ours_s", "peer", "peer_version", "peer_s", "speedup", "quality": {...}}``
``ours_s`` is the median of ≥ 3 runs of ``MaximalCovering.from_matrix(...).solve(n_sites=p)`` (greedy, 1-swap and
the HiGHS LP bound); ``peer_s`` is spopt's ``MCLP.from_cost_matrix(...)`` plus ``.solve(PULP_CBC_CMD(gapRel=0))``,
one run. Extra keys: the peer's build and solve times, our time without the LP bound, our exact MIP (HiGHS).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from importlib import metadata

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from ictgis.siting import MaximalCovering

SEED = 2021
N_VILLAGES, N_CANDIDATES, POPULATION = 1444, 2000, 616_560
P_VALUES = (10, 25, 50)
REPEATS = 3
PEER_TIME_LIMIT_S = 30  # CBC time limit per p (keeps the whole run under ~5 min on 2 cores); --peer-time-limit
EXACT_TIME_LIMIT_S = 15  # our HiGHS MIP, for reference


def build_instance(seed: int = SEED) -> tuple[sp.csr_matrix, np.ndarray]:
    """Return (coverage candidate × village as CSR bool, village populations)."""
    rng = np.random.default_rng(seed)
    width, height = 90_000.0, 106_000.0  # ≈ 9,540 km²
    n_valleys = 30
    starts = rng.uniform((0, 0), (width, height), size=(n_valleys, 2))
    headings = rng.uniform(0, 2 * np.pi, n_valleys)
    valleys = []
    for (x, y), h in zip(starts, headings, strict=True):
        steps = rng.normal(0, 0.35, 40).cumsum() + h
        pts = np.column_stack([x + np.cumsum(800 * np.cos(steps)), y + np.cumsum(800 * np.sin(steps))])
        valleys.append(np.clip(pts, 0, (width, height)))
    valleys = np.concatenate(valleys)
    along = valleys[rng.integers(0, len(valleys), N_VILLAGES)]
    villages = np.clip(along + rng.normal(0, 700, (N_VILLAGES, 2)), 0, (width, height))
    pop = rng.lognormal(np.log(300), 0.8, N_VILLAGES)
    pop = np.maximum(20, np.round(pop * POPULATION / pop.sum()))
    n_slope = int(0.7 * N_CANDIDATES)
    base = valleys[rng.integers(0, len(valleys), n_slope)]
    angle = rng.uniform(0, 2 * np.pi, n_slope)
    offset = rng.uniform(1_000, 4_000, n_slope)
    slope = base + np.column_stack([offset * np.cos(angle), offset * np.sin(angle)])
    anywhere = rng.uniform((0, 0), (width, height), size=(N_CANDIDATES - n_slope, 2))
    cands = np.clip(np.concatenate([slope, anywhere]), 0, (width, height))
    radius = 2_000 + 10_000 * rng.uniform(0, 1, N_CANDIDATES) ** 3
    hits = cKDTree(villages).query_ball_point(cands, radius)
    rows = np.repeat(np.arange(N_CANDIDATES), [len(h) for h in hits])
    cols = np.concatenate([np.asarray(h, dtype=np.int64) for h in hits])
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    keep = rng.uniform(0, 1, rows.size) >= 0.25  # terrain shadowing
    a = sp.csr_matrix((np.ones(keep.sum(), dtype=bool), (rows[keep], cols[keep])),
                      shape=(N_CANDIDATES, N_VILLAGES))
    return a, pop


def coverage_of(a: sp.csr_matrix, pop: np.ndarray, chosen) -> float:
    chosen = np.asarray(list(chosen), dtype=np.int64)
    if chosen.size == 0:
        return 0.0
    return float(pop[np.asarray(a[chosen].sum(axis=0)).ravel() > 0].sum() / pop.sum())


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def peer(a: sp.csr_matrix, pop: np.ndarray, p: int, time_limit_s: float) -> dict:
    import pulp
    from spopt.locate import MCLP

    cost = np.where(a.T.toarray(), 0.0, 1.0)  # clients × facilities; covered ⇔ cost ≤ 0.5
    t0 = time.perf_counter()
    model = MCLP.from_cost_matrix(cost, pop, service_radius=0.5, p_facilities=p)
    t1 = time.perf_counter()
    model.solve(pulp.PULP_CBC_CMD(msg=False, gapRel=0.0, timeLimit=time_limit_s))
    t2 = time.perf_counter()
    chosen = [j for j, v in enumerate(model.fac_vars) if (v.value() or 0) > 0.5]
    # PuLP's status says "Optimal" for a time-limited integer solution too; sol_status tells them apart.
    status = pulp.LpSolution[model.problem.sol_status]
    return {"build_s": t1 - t0, "solve_s": t2 - t1, "total_s": t2 - t0, "chosen": chosen, "status": status}


def peer_version() -> tuple[str | None, str | None]:
    try:
        import pulp

        cbc = pulp.PULP_CBC_CMD(msg=False)
        banner = subprocess.run([cbc.path, "-quit"], capture_output=True, text=True, timeout=30).stdout
        found = re.search(r"Version:\s*(\S+)", banner)
        cbc_version = f"CBC {found.group(1) if found else '?'}" + (" (bundled with PuLP)" if "solverdir" in cbc.path
                                                                    else "")
        return f"spopt {metadata.version('spopt')} / pulp {metadata.version('pulp')} / {cbc_version}", None
    except (ImportError, metadata.PackageNotFoundError, OSError, subprocess.SubprocessError) as exc:
        return None, f"spopt/pulp not installed ({exc}); pip install spopt pulp"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-time-limit", type=float, default=PEER_TIME_LIMIT_S, help="CBC time limit (s)")
    parser.add_argument("--p", type=int, nargs="*", default=list(P_VALUES), help="numbers of new sites")
    args = parser.parse_args()
    a, pop = build_instance()
    per_village = np.diff(a.tocsc().indptr)
    print(f"# instance: {a.shape[1]} villages × {a.shape[0]} candidates, nnz {a.nnz}; candidates per village "
          f"min {per_village.min()} / median {int(np.median(per_village))} / p95 {int(np.percentile(per_village, 95))}"
          f" / max {per_village.max()}; villages covered by none: {(per_village == 0).sum()}", file=sys.stderr)
    version, note = peer_version()
    MaximalCovering.from_matrix(a, pop).solve(n_sites=2)  # imports and HiGHS start-up outside the timings
    for p in args.p:
        ours_s, m = timed(lambda p=p: MaximalCovering.from_matrix(a, pop).solve(n_sites=p), REPEATS)
        greedy_s, gr = timed(lambda p=p: MaximalCovering.from_matrix(a, pop).solve(
            n_sites=p, compute_bound=False, rounds=0), REPEATS)
        exact_s, ex = timed(lambda p=p: MaximalCovering.from_matrix(a, pop).solve(
            n_sites=p, method="exact", time_limit_s=EXACT_TIME_LIMIT_S), 1)
        ours_cov = coverage_of(a, pop, m.chosen)
        line = {"bench": "siting_mclp", "ours_s": round(ours_s, 4), "peer": "spopt MCLP (PuLP CBC)",
                "peer_version": version, "peer_s": None, "speedup": None,
                "quality": {"ours_coverage": round(ours_cov, 6), "peer_coverage": None, "ratio": None,
                            "lp_bound": round(m.lp_bound / pop.sum(), 6), "gap_to_lp": round(m.gap, 6), "p": p},
                "ours_greedy_swap_only": {"s": round(greedy_s, 4),
                                          "coverage": round(coverage_of(a, pop, gr.chosen), 6)},
                "exact_highs": {"s": round(exact_s, 3), "coverage": round(coverage_of(a, pop, ex.chosen), 6),
                                "status": ex.mip_status, "mip_gap": ex.mip_gap}}
        if version is not None:
            res = peer(a, pop, p, args.peer_time_limit)
            peer_cov = coverage_of(a, pop, res["chosen"])
            line.update(peer_s=round(res["total_s"], 3), speedup=round(res["total_s"] / ours_s, 1))
            line["quality"].update(peer_coverage=round(peer_cov, 6), ratio=round(ours_cov / peer_cov, 6))
            line.update(peer_build_s=round(res["build_s"], 3), peer_solve_s=round(res["solve_s"], 3),
                        peer_status=res["status"], peer_time_limit_s=args.peer_time_limit,
                        speedup_vs_peer_solve_only=round(res["solve_s"] / ours_s, 1))
        else:
            line["note"] = note
        line["loadavg_1m"] = round(os.getloadavg()[0], 2)  # other jobs on the machine skew the timings
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
