"""Whole processes, as a planner runs them: ``ictgis viewshed`` for 100 sites against 100 ``gdal_viewshed`` runs, and
``ictgis coverage`` of the demo province at 30 m from start to written outputs, with where its time goes.

``viewshed_cli``: the synthetic 3000 × 3000 DEM of ``bench_viewshed.py`` (30 m, EPSG:9205, uncompressed GeoTIFF),
100 deterministic sites in a CSV (id,x,y), observer 30 m, target 1.5 m, r 15 km, curvature coefficient 0.85714.
Ours: one ``ictgis viewshed --sites sites.csv --crop`` process writing one window per site (as gdal_viewshed writes
them); peer: one ``gdal_viewshed`` process per site. Each side is timed as whole processes (start-up, imports, numba
kernels loaded from their cache, DEM read, writing), the median of `--repeats` runs, alternating ours and theirs
so that the machine's load hits both alike; a first, untimed run of ours fills numba's cache. Beside the wall
times, the CPU seconds (user + sys) of the processes: on a shared machine they move less than the walls. The cells
both put within the radius agree (``quality.agreement_min``). ``split_cpu_s``: where one instrumented process that
runs the command's steps in order spends its CPU (imports beyond numpy, DEM read, sites, numba import and kernel
load, kernels, writing the windows).

``coverage_whole_process``: ``ictgis coverage data/shapefiles --tech 4g --resolution-m 30 --out DIR`` (the demo's 90
m DEM resampled to 30 m), the median wall of `--repeats` processes (``ours_s``; goal ≤ 20 s on 2 cores), and the
split of one more process that runs the command itself with timers around its steps (``split_s``: startup,
imports, layers, DEM read/resample, transmitters, land cover, kernel, compute_other, tables, GeoTIFFs, CSV, KMZ,
write_other, cli_other, exit; they sum to that process's whole wall ``split_whole_s``), in wall and in CPU seconds
(``split_cpu_s``, all threads of the process: on a shared machine the walls stretch with the load).
``--coverage-split OUT`` runs only that split (one JSON line).

``cli_startup``: ``ictgis --help`` as a process and which heavy modules it imports (none of geopandas, folium,
flask, numba).

    python benchmarks/bench_cli.py [--repeats 3] [--sites 100] [--skip-coverage] [--skip-viewshed]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import emit, load_average, tool_version

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "shapefiles"
HEAVY = ("geopandas", "pandas", "folium", "flask", "numba", "rasterio", "scipy", "shapely")


def ictgis_cmd() -> list[str]:
    """The ``ictgis`` entry point of this interpreter (``python -c 'from ictgis.cli import main; main()'``)."""
    return [sys.executable, "-c", "import sys; from ictgis.cli import main; sys.argv[0] = 'ictgis'; main()"]


CPU_S: list[float] = []  # CPU seconds (user + sys) of the child processes of each `wall`, in order


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wall(cmd: list[str], **kw) -> float:
    """Wall seconds of a process (its CPU seconds are appended to `CPU_S`)."""
    c0, t0 = children_cpu(), time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    CPU_S.append(children_cpu() - c0)
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------------------------- start-up
def bench_startup(repeats: int) -> None:
    times = [wall(ictgis_cmd() + ["--help"]) for _ in range(repeats)]
    probe = ("import sys; from ictgis.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             f"print('heavy=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    heavy = out.strip().splitlines()[-1].removeprefix("heavy=")
    emit({"bench": "cli_startup", "ours_s": round(statistics.median(times), 3), "peer": None,
          "times_s": [round(t, 3) for t in times], "heavy_modules_imported": heavy.split(",") if heavy else [],
          "load_avg_1m": load_average()})


# ------------------------------------------------------------------------------------------------- viewshed
def bench_viewshed(args: argparse.Namespace, tmp: Path) -> None:
    from bench_viewshed import pick_sites, synthetic_dem

    from ictgis import terrain

    dem = synthetic_dem(3000, 30.0, args.seed)
    dem_path = terrain.write_raster(tmp / "dem.tif", dem.elevation, dem, nodata=-9999.0, dtype="float32",
                                    compress=None, overviews=False)
    xs, ys = pick_sites(dem, args.sites, args.seed)
    sites = tmp / "sites.csv"
    sites.write_text("id,x,y\n" + "".join(f"s{k:03d},{x!r},{y!r}\n" for k, (x, y) in
                                          enumerate(zip(xs.tolist(), ys.tolist(), strict=True))), encoding="utf-8")
    common = {"height": "30", "target": "1.5", "radius": "15000", "cc": "0.85714"}

    def ours(out: Path) -> float:
        shutil.rmtree(out, ignore_errors=True)
        return wall(ictgis_cmd() + ["viewshed", "--dem", str(dem_path), "--sites", str(sites), "--height-m",
                                    common["height"], "--target-height-m", common["target"], "--radius-m",
                                    common["radius"], "--refraction", common["cc"], "--crop", "--out", str(out)])

    def theirs(out: Path) -> float:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        c0, t0 = children_cpu(), time.perf_counter()
        for k, (x, y) in enumerate(zip(xs.tolist(), ys.tolist(), strict=True)):
            subprocess.run(["gdal_viewshed", "-q", "-ox", repr(x), "-oy", repr(y), "-oz", common["height"],
                            "-tz", common["target"], "-md", common["radius"], "-cc", common["cc"], "-vv", "1",
                            "-iv", "0", "-ov", "255", str(dem_path), str(out / f"s{k:03d}.tif")], check=True)
        CPU_S.append(children_cpu() - c0)
        return time.perf_counter() - t0

    first_s = ours(tmp / "ours")  # fills numba's cache if empty (and the page cache); not counted
    record = {"bench": "viewshed_cli", "sites": args.sites, "dem": "3000x3000@30m", "radius_m": 15000.0,
              "ours_first_run_s": round(first_s, 3), "peer": "gdal_viewshed",
              "peer_version": tool_version(["gdalinfo", "--version"])}
    if shutil.which("gdal_viewshed") is None:
        times = [ours(tmp / "ours") for _ in range(args.repeats)]
        record.update(ours_s=round(statistics.median(times), 3), note="gdal_viewshed not found: apt-get install "
                      "gdal-bin", load_avg_1m=load_average())
        emit(record)
        return
    mine, peer, loads, mine_cpu, peer_cpu = [], [], [], [], []
    for _ in range(args.repeats):
        loads.append(load_average())
        mine.append(ours(tmp / "ours"))
        mine_cpu.append(CPU_S[-1])
        peer.append(theirs(tmp / "gdal"))
        peer_cpu.append(CPU_S[-1])
    agree = [agreement(tmp / "ours" / f"s{k:03d}.tif", tmp / "gdal" / f"s{k:03d}.tif") for k in range(args.sites)]
    child = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--viewshed-split", str(tmp / "split"),
                            "--dem", str(dem_path), "--sites-csv", str(sites)], capture_output=True, text=True,
                           check=True)
    record["split_cpu_s"] = json.loads(child.stdout.strip().splitlines()[-1])["split_cpu_s"]
    ours_s, peer_s = statistics.median(mine), statistics.median(peer)
    record.update(ours_s=round(ours_s, 3), peer_s=round(peer_s, 3), speedup=round(peer_s / ours_s, 2),
                  goal_speedup_min=5.0, ours_times_s=[round(t, 3) for t in mine],
                  peer_times_s=[round(t, 3) for t in peer], peer_per_site_s=round(peer_s / args.sites, 4),
                  ours_cpu_s=round(statistics.median(mine_cpu), 3), peer_cpu_s=round(statistics.median(peer_cpu), 3),
                  speedup_cpu=round(statistics.median(peer_cpu) / statistics.median(mine_cpu), 2),
                  ours_cpu_times_s=[round(t, 3) for t in mine_cpu], peer_cpu_times_s=[round(t, 3) for t in peer_cpu],
                  speedup_cpu_per_run=[round(p / m, 2) for m, p in zip(mine_cpu, peer_cpu, strict=True)],
                  loads_1m=[round(load, 1) for load in loads],
                  quality={"agreement_min": round(min(agree), 5),
                           "agreement_median": round(statistics.median(agree), 5)},
                  load_avg_1m=round(statistics.median(loads), 2))
    emit(record)


def viewshed_split(dem_path: Path, sites: Path, out: Path) -> int:
    """Child: the steps of ``ictgis viewshed --sites --crop`` in order, as the command runs them; print their CPU s.

    ``kernel_load`` is numba loading the compiled kernel from its cache, timed on a first call for one site (that
    site's own work, about 1 % of the step, is in it); ``kernels`` is then the 100 sites in batches as the command
    computes them; ``write`` the 100 windows.
    """
    c0 = time.process_time()
    split: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal c0
        now = time.process_time()
        split[name] = round(now - c0, 3)
        c0 = now

    from ictgis.cli.terrain import SITES_PER_BATCH, paused_gc
    with paused_gc():
        from ictgis import terrain
        lap("imports_cli_terrain")
        dem = terrain.read_dem(dem_path)
        lap("dem_read")
        ids, xs, ys, heights = terrain.read_observers(sites, dem.crs, default_height_m=30.0)
        lap("sites")
        kw = {"target_height_m": 1.5, "max_radius_m": 15000.0, "refraction_coeff": 0.85714}
        terrain.viewshed_many(dem, xs[:1], ys[:1], heights[:1], **kw)  # imports numba, loads the kernel
        lap("numba_import_and_kernel_load")
        stacks = [terrain.viewshed_many(dem, xs[k:k + SITES_PER_BATCH], ys[k:k + SITES_PER_BATCH],
                                        heights[k:k + SITES_PER_BATCH], **kw)
                  for k in range(0, len(ids), SITES_PER_BATCH)]
        lap("kernels")
        out.mkdir(parents=True, exist_ok=True)
        for start, stack in zip(range(0, len(ids), SITES_PER_BATCH), stacks, strict=True):
            terrain.write_windows([out / f"{fid}.tif" for fid in ids[start:start + len(stack)]],
                                  (stack.window(k) for k in range(len(stack))), dem, nodata=terrain.NODATA,
                                  dtype="uint8")
        lap("write")
    print(json.dumps({"split_cpu_s": split, "modules": len(sys.modules)}))
    return 0


def agreement(ours_path: Path, gdal_path: Path) -> float:
    """Share of the cells both windows put within the radius that get the same value (placed by georeference)."""
    import rasterio

    with rasterio.open(ours_path) as a, rasterio.open(gdal_path) as b:
        ours, t_a = a.read(1), a.transform
        theirs, t_b = b.read(1), b.transform
    r0, c0 = round((t_a.f - t_b.f) / t_b.e), round((t_a.c - t_b.c) / t_b.a)  # ours' corner in theirs' grid
    mine = np.full(theirs.shape, 255, np.uint8)
    rs = slice(max(r0, 0), min(r0 + ours.shape[0], theirs.shape[0]))
    cs = slice(max(c0, 0), min(c0 + ours.shape[1], theirs.shape[1]))
    mine[rs, cs] = ours[rs.start - r0:rs.stop - r0, cs.start - c0:cs.stop - c0]
    both = (mine != 255) & (theirs != 255)
    return float((mine[both] == theirs[both]).mean())


# ------------------------------------------------------------------------------------------------- coverage
#: Where ``ictgis coverage`` spends its time: (step, module, function) timed by `coverage_split`. A step's time
#: excludes the steps inside it: ``compute_other`` is what is left of ``ictgis.coverage.compute`` once the DEM, the
#: transmitters, the land cover, the kernel launches (with their pruning minima and the merge of the threads'
#: grids) and the tables are taken out.
COVERAGE_STEPS = (
    ("layers", "ictgis.cli.coverage", "load_dataset"),
    ("compute_other", "ictgis.coverage", "compute"),
    ("dem_read_resample", "ictgis.coverage.best_server", "read_dem"),
    ("transmitters", "ictgis.coverage.best_server", "transmitters_of"),
    ("landcover", "ictgis.coverage.best_server", "clutter_of"),
    *(("kernel", "ictgis.coverage.best_server", name) for name in
      ("new_best", "block_minima", "best_server_kernel", "share_best", "merge_best")),
    ("tables", "ictgis.coverage.best_server", "_tables"),
    ("write_other", "ictgis.coverage", "write"),
    ("geotiffs", "ictgis.coverage.outputs", "write_raster"),
    ("csv", "ictgis.coverage.outputs", "write_csv"),
    ("kmz", "ictgis.coverage.outputs", "write_kmz"),
)


def process_age_s() -> float:
    """Wall seconds since this process started (Linux ``/proc``; 0 elsewhere): the interpreter's start-up."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except OSError:
        return 0.0
    return max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"))


def coverage_split(data: Path, out: Path) -> int:
    """Child: run ``ictgis coverage DATA --tech 4g --resolution-m 30 --out OUT`` in this process, timing its steps.

    The command runs as the ``ictgis`` entry point runs it (the same click group and code); the functions of
    `COVERAGE_STEPS` are wrapped with timers that take out of each step the steps it calls. ``startup`` is the
    interpreter's start and this script's imports, ``imports`` the command's modules and
    ``cli_other`` whatever the command does between the steps. `coverage_split_process` adds ``exit`` (the
    process ending), so that the steps sum to the whole process. Wall and CPU seconds (all threads of the process)
    are printed as one JSON line.
    """
    import functools
    import importlib

    age = process_age_s()
    wall0 = time.perf_counter() - age
    split: dict[str, float] = {"startup": age}
    split_cpu: dict[str, float] = {"startup": time.process_time()}
    t0, c0 = time.perf_counter(), time.process_time()
    from ictgis.cli import main

    modules = {module: importlib.import_module(module) for _, module, _ in COVERAGE_STEPS}
    split["imports"], split_cpu["imports"] = time.perf_counter() - t0, time.process_time() - c0
    stack: list[list[float]] = []  # per running step: [wall, cpu] of the steps inside it

    def timed(name: str, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            stack.append([0.0, 0.0])
            t, c = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                dt, dc = time.perf_counter() - t, time.process_time() - c
                inner_t, inner_c = stack.pop()
                split[name] = split.get(name, 0.0) + dt - inner_t
                split_cpu[name] = split_cpu.get(name, 0.0) + dc - inner_c
                if stack:
                    stack[-1][0] += dt
                    stack[-1][1] += dc
        return wrapper

    for name, module, attr in COVERAGE_STEPS:
        setattr(modules[module], attr, timed(name, getattr(modules[module], attr)))
    t0, c0 = time.perf_counter(), time.process_time()
    main(["coverage", str(data), "--tech", "4g", "--resolution-m", "30", "--out", str(out)], standalone_mode=False)
    run_t, run_c = time.perf_counter() - t0, time.process_time() - c0
    summary = json.loads((out / "summary_4g.json").read_text(encoding="utf-8"))
    steps = {name for name, _, _ in COVERAGE_STEPS}
    split["cli_other"] = run_t - sum(split.get(k, 0.0) for k in steps)
    split_cpu["cli_other"] = run_c - sum(split_cpu.get(k, 0.0) for k in steps)
    print(json.dumps({"split_s": {k: round(v, 3) for k, v in split.items()},
                      "split_cpu_s": {k: round(v, 3) for k, v in split_cpu.items()},
                      "total_s": round(time.perf_counter() - wall0, 3), "total_cpu_s": round(time.process_time(), 3),
                      "grid": summary["grid"], "sites": summary["sites"],
                      "populated_area_pct": summary["populated_area_pct"]}), flush=True)
    return 0


def coverage_split_process(data: Path, out: Path) -> dict:
    """Run `coverage_split` as a process of its own; return its split with ``exit`` and the whole process's times.

    ``whole_s`` and ``whole_cpu_s`` are the process's wall and CPU seconds as this parent measures them; the
    steps of ``split_s`` and ``split_cpu_s`` sum to them.
    """
    c0, t0 = children_cpu(), time.perf_counter()
    child = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--coverage-split-child", str(out),
                            "--data", str(data)], capture_output=True, text=True, check=True,
                           env={"NUMPY_MADVISE_HUGEPAGE": "0"} | dict(os.environ))  # as `ictgis` sets it
    whole_s, whole_cpu_s = time.perf_counter() - t0, children_cpu() - c0
    res = json.loads(child.stdout.strip().splitlines()[-1])
    res["split_s"]["exit"] = round(whole_s - res.pop("total_s"), 3)
    res["split_cpu_s"]["exit"] = round(whole_cpu_s - res.pop("total_cpu_s"), 3)
    return res | {"whole_s": round(whole_s, 3), "whole_cpu_s": round(whole_cpu_s, 3),
                  "outside_kernel_s": round(whole_s - res["split_s"]["kernel"], 3),
                  "outside_kernel_cpu_s": round(whole_cpu_s - res["split_cpu_s"]["kernel"], 3)}


def bench_coverage(args: argparse.Namespace, tmp: Path) -> None:
    cmd = ictgis_cmd() + ["coverage", str(args.data), "--tech", "4g", "--resolution-m", "30"]
    first_s = wall(cmd + ["--out", str(tmp / "cov0")])  # numba cache, page cache; not counted
    times, loads, cpus = [], [], []
    for k in range(args.repeats):
        loads.append(load_average())
        times.append(wall(cmd + ["--out", str(tmp / f"cov{k + 1}")]))
        cpus.append(CPU_S[-1])
    res = coverage_split_process(args.data, tmp / "split")
    sizes = {p.name: round(p.stat().st_size / 1e6, 1) for p in sorted((tmp / "cov1").iterdir())}
    emit({"bench": "coverage_whole_process", "ours_s": round(statistics.median(times), 2), "peer": None,
          "goal_s_max": 20, "times_s": [round(t, 2) for t in times], "cpu_s": round(statistics.median(cpus), 2),
          "first_run_s": round(first_s, 2),
          "split_s": res["split_s"], "split_cpu_s": res["split_cpu_s"], "split_whole_s": res["whole_s"],
          "split_whole_cpu_s": res["whole_cpu_s"], "split_outside_kernel_s": res["outside_kernel_s"],
          "split_outside_kernel_cpu_s": res["outside_kernel_cpu_s"], "grid": res["grid"], "sites": res["sites"],
          "populated_area_pct": res["populated_area_pct"], "outputs_mb": sizes,
          "cpus": os.cpu_count(), "load_avg_1m": round(statistics.median(loads), 2)})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--skip-viewshed", action="store_true")
    parser.add_argument("--skip-coverage", action="store_true")
    parser.add_argument("--coverage-split", type=Path, default=None, metavar="OUT",
                        help="Only the split of one `ictgis coverage` process writing into OUT (one JSON line).")
    parser.add_argument("--coverage-split-child", type=Path, default=None, help=argparse.SUPPRESS)  # child mode
    parser.add_argument("--viewshed-split", type=Path, default=None, help=argparse.SUPPRESS)  # child mode
    parser.add_argument("--dem", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--sites-csv", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.coverage_split_child is not None:
        return coverage_split(args.data, args.coverage_split_child)
    if args.coverage_split is not None:
        emit({"bench": "coverage_split"} | coverage_split_process(args.data, args.coverage_split))
        return 0
    if args.viewshed_split is not None:
        return viewshed_split(args.dem, args.sites_csv, args.viewshed_split)
    bench_startup(args.repeats)
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as tmp:
        if not args.skip_viewshed:
            bench_viewshed(args, Path(tmp))
        if not args.skip_coverage:
            bench_coverage(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
