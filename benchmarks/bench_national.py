"""National coverage on Dask: a synthetic country by tiles on 1 and 2 worker processes, and an extrapolation.

For each cell size, a country of N provinces (``ictgis.demo.country.write_country``; built once and kept in
``--cache``) is computed by ``ictgis.national.run_coverage`` on a fresh LocalCluster (one-thread workers, numba on
one thread, kernels warmed before the timed part — the warm-up is reported apart): with 1 worker and with 2 workers
at the first tile size, and with 2 workers at the second tile size. The country has the demo's cells (three
sectors per 3G/4G site) and land cover in every province, so the runs are those of a real data folder.

Each line gives the wall time of ``run_coverage`` (``wall_s``: planning, tasks, tables and mosaic), the sum of the
task times and of their CPU times (``task_s``, ``task_cpu_s``), the CPU time of the driver process, where the
tasks' wall time went (``span_s``: first task start to last task end; ``tail_s``: how long the first worker to run
out of tiles sat idle at the end), the peak resident memory of every worker (the worker process's own ``VmHWM``,
via ``client.run``) and its idle size after the warm-up, the largest tile window, the per-tile and per-site-sweep
costs, the output size, the 1-minute load average before and after, and for 2 workers the parallel efficiency
``wall(1 worker) / (2 × wall(2 workers))`` at the same tile size (and the same ratio of CPU time,
``cpu_efficiency``: below 1 only by work the partitioning adds). A last line (``"kind": "extrapolation"``) scales
the measured CPU cost per site sweep, sweeps per site, memory per window cell and output bytes per cell to 34
provinces / 100,000 sites / 331,000 km² at 30 m and at 10 m (a sweep's cost grows with the cells of its disc,
(30/10)² = 9 × at 10 m): core-hours, output size, the memory of a tile window, and the workers that bring the run
under 15 minutes at the measured efficiency.

    python benchmarks/bench_national.py [--provinces 8] [--provinces-30 8] [--resolutions 90,30]
                                        [--tile-sizes 1024,2048] [--tile-sizes-30 2048,4096]
                                        [--runs 1@0,2@0,2@1] [--runs-30 1@0,2@0,2@1] [--build-30 90]
                                        [--cache /tmp/ictgis-national]

The machine is shared: every line carries the load average; compare lines of one run.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from _common import emit, load_average


def _country(cache: Path, provinces: int, res: float) -> tuple[Path, float]:
    from ictgis.demo.country import write_country

    folder = cache / f"country_{provinces}_{int(res)}m"
    if all((folder / name).exists() for name in ("dem.tif", "landcover.tif", "cells.csv")):
        return folder, 0.0
    t = time.perf_counter()
    write_country(folder, provinces=provinces, dem_resolution_m=res)
    return folder, time.perf_counter() - t


def _dir_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def _run(ds, workers: int, tile_size: int, scratch: Path, resolution_m: float | None = None) -> dict:
    from ictgis.national import dask_client, run_coverage, warmup_seconds, worker_peak_rss_mb

    out = scratch / f"w{workers}_t{tile_size}"
    with dask_client(workers=workers) as client:
        client.wait_for_workers(workers)
        warm = warmup_seconds(client)
        idle = client.run(_rss_mb)
        load_before = load_average()
        t, cpu = time.perf_counter(), time.process_time()
        summary = run_coverage(ds, out, client=client, tile_size=tile_size, resolution_m=resolution_m)
        wall, driver_cpu = time.perf_counter() - t, time.process_time() - cpu
        load_after = load_average()
        peak = worker_peak_rss_mb(client)
    tiles = summary["tiles"]
    record = {"workers": workers, "tile_size": tile_size, "wall_s": round(wall, 2),
              "task_s": tiles["task_seconds"], "task_cpu_s": tiles["task_cpu_seconds"],
              "driver_cpu_s": round(driver_cpu, 2), "span_s": tiles["span_s"], "tail_s": tiles["tail_s"],
              "longest_tiles_s": tiles["seconds"][:3],
              "tiles": tiles["computed"], "site_sweeps": tiles["site_sweeps"],
              "transmitters": summary["transmitters"], "landcover": summary["landcover"],
              "s_per_tile": round(tiles["task_seconds"] / max(tiles["computed"], 1), 3),
              "s_per_site_sweep": round(tiles["task_seconds"] / max(tiles["site_sweeps"], 1), 5),
              "cpu_s_per_site_sweep": round(tiles["task_cpu_seconds"] / max(tiles["site_sweeps"], 1), 5),
              "peak_rss_mb_per_worker": sorted(round(v, 1) for v in peak.values()),
              "idle_rss_mb_per_worker": sorted(round(v, 1) for v in idle.values()),
              "window_cells_max": tiles["window_cells_max"],
              "warmup_s": sorted(round(v, 2) for v in warm.values()), "output_bytes": _dir_bytes(out),
              "grid": summary["grid"], "sites": summary["sites"], "populated_area_pct": summary["populated_area_pct"],
              "load_before": load_before, "load_after": load_after, "loadavg_1_5_15": list(os.getloadavg())}
    shutil.rmtree(out, ignore_errors=True)
    return record


def _extrapolate(at30: dict, efficiency: float) -> dict:
    """Scale the 30 m costs to 34 provinces / 100,000 sites over 331,000 km².

    CPU seconds per site sweep (not wall: the shared machine's load is not the cluster's), sweeps per site at the
    measured tile size (at 10 m the same tile in km, three times the cells), the bytes a worker holds per cell of
    its window (peak minus the idle worker, over the largest window), output bytes per grid cell.
    """
    sites, area_m2 = 100_000, 331_000e6
    overlap = at30["site_sweeps"] / at30["sites"]  # sweeps per site (sites reaching several tiles)
    cells30 = at30["grid"][0] * at30["grid"][1]
    per_cell = (max(at30["peak_rss_mb_per_worker"]) - max(at30["idle_rss_mb_per_worker"])) * 2**20 \
        / at30["window_cells_max"]
    idle_mb = max(at30["idle_rss_mb_per_worker"])
    out = {"kind": "extrapolation", "basis": f"{at30['provinces']} provinces at 30 m, tile {at30['tile_size']}",
           "sweeps_per_site": round(overlap, 3), "efficiency_assumed": round(efficiency, 2),
           "cpu_s_per_site_sweep_30m": at30["cpu_s_per_site_sweep"], "bytes_per_window_cell": round(per_cell, 1)}
    for res, factor in ((30, 1.0), (10, 9.0)):
        core_h = sites * overlap * at30["cpu_s_per_site_sweep"] * factor / 3600.0
        cells = area_m2 / res**2
        out_bytes = at30["output_bytes"] / cells30 * cells
        tile = at30["tile_size"] * 30 // res
        halo = 20_000 / res + 2
        window_cells = (tile + 2 * halo) ** 2
        out[f"{res}m"] = {"core_hours": round(core_h, 1), "cells": int(cells), "tile_cells": tile,
                          "output_gb": round(out_bytes / 1e9, 1), "window_cells": int(window_cells),
                          "worker_peak_mb": round(idle_mb + window_cells * per_cell / 2**20),
                          "workers_for_15_min": int(-(-core_h * 3600 / (900 * max(efficiency, 0.1)) // 1))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provinces", type=int, default=8)
    parser.add_argument("--provinces-30", type=int, default=8, help="provinces at 30 m (long on 2 cores)")
    parser.add_argument("--resolutions", default="90,30")
    parser.add_argument("--tile-sizes", default="1024,2048", help="tile sizes (cells) below 30 m cells")
    parser.add_argument("--tile-sizes-30", default="2048,4096", help="tile sizes (cells) at 30 m and finer")
    parser.add_argument("--runs", default="1@0,2@0,2@1",
                        help="runs below 30 m: WORKERS@TILE (index in --tile-sizes), comma-separated")
    parser.add_argument("--runs-30", default="1@0,2@0,2@1", help="runs at 30 m and finer, as --runs")
    parser.add_argument("--build-30", default=None, metavar="M",
                        help="for runs at 30 m and finer, use the country built at M m and let the run resample it "
                             "(building 8 provinces at 30 m takes long on a shared machine)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "ictgis-national")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from ictgis import io

    args.cache.mkdir(parents=True, exist_ok=True)
    at30, eff30 = None, 0.8
    for res in (float(r) for r in args.resolutions.split(",")):
        n = args.provinces if res >= 90 else args.provinces_30
        tiles = [int(t) for t in (args.tile_sizes if res > 30 else args.tile_sizes_30).split(",")]
        built = float(args.build_30) if res <= 30 and args.build_30 else res
        folder, build_s = _country(args.cache, n, built)
        ds = io.load(folder)
        base = {"bench": "national", "resolution_m": res, "provinces": n, "country_build_s": round(build_s, 1),
                "dem_m": built}
        runs = args.runs if res > 30 else args.runs_30
        scratch = Path(tempfile.mkdtemp(prefix="ictgis-national-out-"))
        done: dict[tuple[int, int], dict] = {}
        try:
            for item in runs.split(","):
                workers, tile = (int(x) for x in item.split("@"))
                record = _run(ds, workers, tiles[tile], scratch, None if built == res else res)
                done[workers, tile] = record
                extra: dict = {"load": load_average()}
                if workers == 2 and (1, tile) in done:
                    one = done[1, tile]
                    extra |= {"efficiency": round(one["wall_s"] / (2 * record["wall_s"]), 2),
                              "cpu_efficiency": round(one["task_cpu_s"] / max(record["task_cpu_s"], 1e-9), 2)}
                emit(base | record | extra)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if res == 30 and done:
            first = done.get((1, 0)) or next(iter(done.values()))
            two = done.get((2, 0))
            eff = first["wall_s"] / (2 * two["wall_s"]) if two is not None and (1, 0) in done else eff30
            at30, eff30 = base | first, eff
    if at30 is not None:
        emit(_extrapolate(at30, eff30))


if __name__ == "__main__":
    main()
