"""Province-wide 4G best-server coverage (ictgis.coverage, 30 m) against SPLAT! (ITM, 90 m) per site, extrapolated.

Ours: ``coverage.compute(ds, technology="4G", resolution_m=30, radius_m=...)`` over the demo province
(data/shapefiles: 705 4G sites; the 90 m DEM resampled to 30 m by ``read_dem`` inside the call), once with r 20 km for
every site and once with each site's default radius (from its link budget). Each setting runs in a fresh child
process: its peak memory is the child's ``ru_maxrss`` (``os.wait4``), the numba JIT warm-up (terrain kernels and the
best-server kernel, compiled or loaded from numba's cache) is done and timed in the child before the timed runs and
reported apart. ``ours_s`` is the wall time of the whole ``compute`` call (DEM read and resampling, sweep, village and
commune tables): the median of 3 runs when 3 runs of both settings fit in about 6 minutes, else of 1 run
(``ours_runs`` says which). ``ours_kernel_s`` is the sweep alone (``summary["compute_s"]``).

Peer: SPLAT! (Debian ``splat``) on a deterministic sample of the same sites at 90 m, r 20 km: the demo DEM reprojected
to EPSG:4326 on the 3 arc-second SRTM grid (rasterio, VN-2000 datum shift EPSG:6960 as ``ictgis.crs.transformer``
pins it; the area outside the province filled with the nearest DEM value), cut into 1° SRTM .hgt tiles and
converted with ``srtm2sdf``; per site a .qth (east longitudes as negative west ones, antenna height in metres) and an
.lrp (ground 15 / 0.005 S/m, 301 N-units, the site's band, radio climate 2 continental subtropical, vertical
polarisation, 50 % of situations and of time, ERP of the 4G reference signal so that SPLAT!'s dBm is RSRP); then
``splat -t site.qth -L 1.5 -metric -R 20 -dbm -olditm -N -o map.ppm -d SDF/`` timed per site, × 705 sites.
For the default-radius line each site's share above SPLAT!'s fixed cost per run (loading SDF tiles, writing the
map; measured with a 0.5 km run) is scaled by (r / 20 km)². SPLAT! is single-threaded; ours uses the numba threads.

Quality (optional): for the sampled sites one at a time, the area receiving at least the threshold (−110 dBm) from
SPLAT! (its ``-ano`` table, an extra untimed run) against ours for that site alone (90 m), both inside the DEM and
within 20 km: ``quality.area_ratio`` = SPLAT! / ours (median over the sample). The two use different models (ITM
against Hata + knife edge), so this is a sanity check, not an accuracy score.

    python benchmarks/bench_coverage.py [--quick] [--sites 8] [--repeats 3] [--no-quality] [--itwom]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import re
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

DATA = Path(__file__).resolve().parents[1] / "data" / "shapefiles"
TECH, RESOLUTION_M, RADIUS_M = "4G", 30.0, 20_000.0
GOAL = {"ours_s_max": 20, "peak_gb_max": 4}
OURS_BUDGET_S = 360.0  # 3 runs of both settings when they fit in this, else 1 run each
ARC = 1.0 / 1200.0  # 3 arc-seconds in degrees (SRTM-3, SPLAT! standard definition)
RX_HEIGHT_M = 1.5
OVERHEAD_RADIUS_KM = 0.5
# ITM parameters of the .lrp file (SPLAT! man page): average ground, standard atmosphere. Radio climate 2
# "continental subtropical": Điện Biên is inland with a monsoon wet season and a marked dry winter (Köppen Cwa);
# at 50 % of time and situations the climate barely changes ITM's median loss on paths under 20 km.
LRP = {"dielectric": 15.0, "conductivity_s_m": 0.005, "bending_n_units": 301.0, "radio_climate": 2,
       "polarisation": 1, "fraction_situations": 0.5, "fraction_time": 0.5}


def quiet(fraction: float, message: str) -> None:
    return None


# ------------------------------------------------------------------------------------------------- ours (child)
def child(args: argparse.Namespace) -> int:
    """Run in a fresh process: JIT warm-up, then the timed coverage runs; print one JSON line."""
    import numba

    from ictgis import coverage, io, terrain

    sources = sorted(Path(coverage.__file__).parent.glob("*.py"))  # the package's modules
    code = hashlib.sha1(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]  # others may edit them meanwhile
    ds = io.load(args.data)
    radius = args.radius_m or None
    t0 = time.perf_counter()
    terrain.warm_up()
    coarse = terrain.read_dem(ds.dem_path, resolution_m=3000.0)  # same array types as the 30 m grid, tiny
    coverage.compute(ds, technology=TECH, dem=coarse, radius_m=radius, progress=quiet)
    jit_s = time.perf_counter() - t0
    walls, cpus, kernels, result = [], [], [], None
    for k in range(args.repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        result = coverage.compute(ds, technology=TECH, resolution_m=RESOLUTION_M, radius_m=radius, progress=quiet)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        kernels.append(result.summary["compute_s"])
        if k == 0 and walls[0] * args.repeats > args.budget_s:
            break
    s = result.summary
    print(json.dumps({"walls": walls, "cpus": cpus, "kernels": kernels, "jit_s": jit_s,
                      "threads": numba.get_num_threads(), "code": code, "grid": s["grid"], "sites": s["sites"],
                      "radius_m": s["model"]["radius_m"],
                      "quality": {k: s.get(k) for k in ("populated_area_pct", "villages_covered_pct",
                                                        "population_covered", "villages_covered",
                                                        "villages_total")}}))
    return 0


def run_child(args: argparse.Namespace, radius_m: float | None, budget_s: float) -> dict:
    """Run `child` in a new interpreter; add its own peak RSS (GB = 1e9 bytes) from wait4."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--radius-m", str(radius_m or 0),
           "--repeats", str(args.repeats), "--budget-s", str(budget_s), "--data", str(args.data)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)  # stderr passes through
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"coverage child failed with exit code {proc.returncode}")
    res = json.loads(out.strip().splitlines()[-1])
    res["peak_gb"] = usage.ru_maxrss * 1024 / 1e9
    return res


# ---------------------------------------------------------------------------------------------------------- peer
def splat_version() -> str | None:
    if shutil.which("splat") is None or shutil.which("srtm2sdf") is None:
        return None
    out = subprocess.run(["splat"], capture_output=True, text=True, timeout=30)  # prints its options, exit 1
    m = re.search(r"SPLAT! v([\d.]+)", out.stdout + out.stderr)
    deb = tool_version(["dpkg-query", "-W", "-f=${Version}", "splat"])
    return f"SPLAT! {m.group(1) if m else '?'}" + (f" (Debian {deb})" if deb else "")


def make_sdf(dem, sdf_dir: Path) -> dict:
    """Reproject the DEM to the 3" grid, write 1° SRTM .hgt tiles and convert them with srtm2sdf."""
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.warp import Resampling, reproject
    from rasterio.warp import transform as gdal_transform
    from scipy import ndimage

    from ictgis import crs

    left, bottom, right, top = dem.bounds
    t = np.linspace(0.0, 1.0, 101)
    ex = np.concatenate([left + (right - left) * t, np.full_like(t, right), left + (right - left) * t,
                         np.full_like(t, left)])
    ey = np.concatenate([np.full_like(t, bottom), bottom + (top - bottom) * t, np.full_like(t, top),
                         bottom + (top - bottom) * t])
    lon, lat = crs.transformer(dem.crs, 4326).transform(ex, ey)
    lon0, lon1, lat0, lat1 = math.floor(lon.min()), math.ceil(lon.max()), math.floor(lat.min()), math.ceil(lat.max())
    src_crs, dst_crs = CRS.from_epsg(dem.crs.to_epsg()), CRS.from_epsg(4326)
    # GDAL's warper must use the same datum shift as the pinned transformer: compare on the DEM's outline.
    glon, glat = (np.asarray(v) for v in gdal_transform(src_crs, dst_crs, ex.tolist(), ey.tolist()))
    datum_m = float(np.max(np.hypot((glon - lon) * 111_320.0 * np.cos(np.radians(lat)), (glat - lat) * 110_574.0)))
    grid = np.full(((lat1 - lat0) * 1200 + 1, (lon1 - lon0) * 1200 + 1), np.nan, np.float32)
    reproject(dem.elevation, grid, src_transform=dem.transform, src_crs=src_crs, src_nodata=np.nan,
              dst_transform=Affine(ARC, 0.0, lon0 - ARC / 2, 0.0, -ARC, lat1 + ARC / 2), dst_crs=dst_crs,
              dst_nodata=np.nan, resampling=Resampling.bilinear)  # cell centres on whole multiples of 3"
    inside = ~np.isnan(grid)
    nearest = ndimage.distance_transform_edt(~inside, return_distances=False, return_indices=True)
    filled = np.rint(grid[tuple(nearest)]).astype(">i2")  # SRTM .hgt: big-endian int16, north row first
    procs = []
    for la in range(lat0, lat1):
        for lo in range(lon0, lon1):
            r0, c0 = (lat1 - la - 1) * 1200, (lo - lon0) * 1200
            if not inside[r0:r0 + 1201, c0:c0 + 1201].any():
                continue
            name = f"{'N' if la >= 0 else 'S'}{abs(la):02d}{'E' if lo >= 0 else 'W'}{abs(lo):03d}.hgt"
            filled[r0:r0 + 1201, c0:c0 + 1201].tofile(sdf_dir / name)
            procs.append(subprocess.Popen(["srtm2sdf", "-d", "/dev/null", name], cwd=sdf_dir,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"srtm2sdf failed: {err.decode(errors='replace').strip()}")
    n_sdf = len(list(sdf_dir.glob("*.sdf")))
    if n_sdf != len(procs):
        raise RuntimeError(f"srtm2sdf wrote {n_sdf} SDF files for {len(procs)} tiles")
    return {"tiles": n_sdf, "datum_check_m": round(datum_m, 3), "lon": [lon0, lon1], "lat": [lat0, lat1]}


def write_site(folder: Path, name: str, lon: float, lat: float, height_m: float, frequency_mhz: float,
               erp_w: float) -> None:
    folder.mkdir()
    # SPLAT! longitudes are degrees west (0–360); east longitudes are written as negative west ones.
    (folder / "site.qth").write_text(f"{name}\n{lat:.7f}\n{-lon:.7f}\n{height_m:.2f} meters\n")
    (folder / "site.lrp").write_text(
        f"{LRP['dielectric']:.3f} ; Earth Dielectric Constant (Relative permittivity)\n"
        f"{LRP['conductivity_s_m']:.3f} ; Earth Conductivity (Siemens per meter)\n"
        f"{LRP['bending_n_units']:.3f} ; Atmospheric Bending Constant (N-units)\n"
        f"{frequency_mhz:.3f} ; Frequency in MHz (20 MHz to 20 GHz)\n"
        f"{LRP['radio_climate']} ; Radio Climate (2 = Continental Subtropical)\n"
        f"{LRP['polarisation']} ; Polarization (0 = Horizontal, 1 = Vertical)\n"
        f"{LRP['fraction_situations']:.2f} ; Fraction of situations\n"
        f"{LRP['fraction_time']:.2f} ; Fraction of time\n"
        f"{erp_w:.6f} ; Effective Radiated Power (ERP) in Watts\n")


def run_splat(folder: Path, sdf_dir: Path, radius_km: float, args: argparse.Namespace,
              ano: str | None = None) -> tuple[float, float]:
    """Run SPLAT! once in `folder`; return its wall and CPU seconds."""
    cmd = ["splat", "-t", "site.qth", "-L", f"{RX_HEIGHT_M:g}", "-metric", "-R", f"{radius_km:g}", "-dbm", "-N",
           "-o", "map.ppm", "-d", f"{sdf_dir}/"] + ([] if args.itwom else ["-olditm"])
    if ano:
        cmd += ["-ano", ano]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or not (folder / "map.ppm").exists() or "Loading" not in done.stdout:
        raise RuntimeError(f"splat failed (exit {done.returncode}): {done.stdout[-500:]}")
    return wall, (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)


def splat_covered_km2(ano: Path, dem, to_xy, x0: float, y0: float, threshold: float) -> float:
    """Area ≥ threshold in SPLAT!'s -ano table (lat, lon west, azimuth, elevation, dBm), inside the DEM, ≤ r."""
    data = np.loadtxt((ln.replace("*", "") for ln in ano.read_text().splitlines()[2:]), delimiter=",", ndmin=2)
    lat, lon_w, dbm = data[:, 0], data[:, 1], data[:, 4]
    key = np.round(lat / ARC).astype(np.int64) * 1_000_000 + np.round(lon_w / ARC).astype(np.int64)
    order = np.lexsort((-dbm, key))  # one value per 3" cell: its strongest
    keep = order[np.unique(key[order], return_index=True)[1]]
    lat, lon, dbm = lat[keep], (180.0 - lon_w[keep]) % 360.0 - 180.0, dbm[keep]
    x, y = to_xy.transform(lon, lat)
    rows, cols = dem.cell_of(x, y)
    ok = (rows >= 0) & (rows < dem.shape[0]) & (cols >= 0) & (cols < dem.shape[1])
    ok[ok] &= ~np.isnan(dem.elevation[rows[ok], cols[ok]])
    ok &= np.hypot(x - x0, y - y0) <= RADIUS_M
    cell_km2 = (6_371_008.8 * math.radians(ARC)) ** 2 * np.cos(np.radians(lat)) / 1e6
    return float(cell_km2[ok & (dbm >= threshold)].sum())


def default_radii(ds, sites) -> np.ndarray:
    """Each site's default sweep radius, as ``coverage.compute`` derives it (kept in step with that code)."""
    from ictgis import coverage, radio, settings

    params = radio.site_parameters(sites, TECH)
    env = coverage.site_environment(sites, ds["communes"])
    a_coef, b_coef = coverage.loss_coefficients(params, env, rx_height_m=RX_HEIGHT_M,
                                                calibration_db=radio.CALIBRATION_DB)
    ref = params.reference_eirp_dbm + params.rx_gain_dbi - params.body_loss_db
    reach = 10 ** ((ref - (settings.rsrp_threshold_dbm - coverage.RADIUS_MARGIN_DB) - a_coef) / b_coef)
    return np.clip(reach * 1000.0, 1000.0, coverage.MAX_RADIUS_M)


def peer(args: argparse.Namespace, tmp: Path) -> dict:
    """SPLAT! on the sampled sites; per-site timings, extrapolation inputs and the covered-area check."""
    from ictgis import coverage, crs, io, radio, settings, terrain

    ds = io.load(args.data)
    sites = coverage.sites_of(ds, TECH)
    params = radio.site_parameters(sites, TECH)
    dem = terrain.read_dem(ds.dem_path)  # native 90 m
    sdf_dir = tmp / "sdf"
    sdf_dir.mkdir()
    t0 = time.perf_counter()
    prep = make_sdf(dem, sdf_dir)
    prep["prep_s"] = round(time.perf_counter() - t0, 2)
    sample = np.sort(np.random.default_rng(args.seed).choice(len(sites), size=min(args.sites, len(sites)),
                                                             replace=False))
    xs, ys = sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()
    lons, lats = crs.transformer(dem.crs, 4326).transform(xs[sample], ys[sample])
    # SPLAT! adds 2.14 dB to the ERP (dipole → isotropic): ERP = reference-signal EIRP − 2.14 dB, in watts.
    ref = params.reference_eirp_dbm + params.rx_gain_dbi - params.body_loss_db
    erp_w = 10 ** ((ref - 2.14 - 30.0) / 10.0)
    folders = []
    for k, i in enumerate(sample):
        folder = tmp / f"site_{k}"
        write_site(folder, str(sites["id"].iloc[i]), lons[k], lats[k], params.height_m[i], params.frequency_mhz[i],
                   erp_w[i])
        folders.append(folder)
    walls, cpus = [], []
    for folder in folders:
        wall, cpu = run_splat(folder, sdf_dir, RADIUS_M / 1000.0, args)
        walls.append(wall)
        cpus.append(cpu)
    over_wall, over_cpu = run_splat(folders[0], sdf_dir, OVERHEAD_RADIUS_KM, args)
    out = {"ids": sites["id"].iloc[sample].astype(str).tolist(), "walls": walls, "cpus": cpus,
           "overhead_wall": over_wall, "overhead_cpu": over_cpu, "radii": default_radii(ds, sites), "prep": prep,
           "erp_w": sorted({round(float(v), 4) for v in erp_w[sample]}),
           "frequency_mhz": sorted({float(v) for v in params.frequency_mhz[sample]}),
           "height_m": [float(v) for v in params.height_m[sample]]}
    if args.quality:
        threshold = settings.rsrp_threshold_dbm
        to_xy = crs.transformer(4326, dem.crs)
        ratios, ours_km2, peer_km2 = [], [], []
        for k, i in enumerate(sample):
            run_splat(folders[k], sdf_dir, RADIUS_M / 1000.0, args, ano="cover.ano")
            theirs = splat_covered_km2(folders[k] / "cover.ano", dem, to_xy, xs[i], ys[i], threshold)
            one = dataclasses.replace(ds, layers={**ds.layers, "bts_sites": sites.iloc[[i]]})
            rsrp = coverage.compute(one, technology=TECH, dem=dem, radius_m=RADIUS_M, progress=quiet).rsrp_dbm
            mine = float(np.sum(np.nan_to_num(rsrp, nan=-np.inf) >= threshold) * dem.resolution_m ** 2 / 1e6)
            ours_km2.append(round(mine, 2))
            peer_km2.append(round(theirs, 2))
            ratios.append(round(theirs / mine, 3) if mine else None)
        valid = [r for r in ratios if r is not None]
        out["quality"] = {"area_ratio": round(statistics.median(valid), 3) if valid else None,
                          "area_ratio_per_site": ratios, "area_km2_ours": ours_km2, "area_km2_peer": peer_km2,
                          "area_note": f"single site, area >= {threshold:g} dBm within 20 km inside the DEM; "
                                       "SPLAT! (ITM) / ours (Hata + knife edge) at 90 m"}
    return out


# ---------------------------------------------------------------------------------------------------------- main
def line(name: str, ours: dict, pr: dict | None, version: str | None, note: str | None, default_radius: bool,
         load_start: float) -> dict:
    n_sites = ours["sites"]
    ours_s, ours_cpu = statistics.median(ours["walls"]), statistics.median(ours["cpus"])
    rec = {"bench": name, "ours_s": round(ours_s, 2), "ours_peak_gb": round(ours["peak_gb"], 3),
           "jit_warmup_s": round(ours["jit_s"], 2),
           "peer": "SPLAT! (" + ("ITWOM" if pr and pr.get("itwom") else "ITM") + ") 90 m, extrapolated"
                   + (", r² scaled to each site's default radius" if default_radius else ""),
           "peer_version": version, "peer_s": None, "peer_s_per_site": None, "speedup": None,
           "quality": {**ours["quality"], "sites": n_sites}, "goal": GOAL,
           "ours_runs": len(ours["walls"]), "ours_timing": "median of 3 runs" if len(ours["walls"]) >= 3
           else f"{len(ours['walls'])} run(s): 3 runs of both settings would exceed {OURS_BUDGET_S:g} s",
           "ours_times_s": [round(t, 2) for t in ours["walls"]], "ours_kernel_s": statistics.median(ours["kernels"]),
           "ours_cpu_s": round(ours_cpu, 1), "ours_threads": ours["threads"], "ours_code_sha1": ours["code"],
           "grid": ours["grid"], "resolution_m": RESOLUTION_M, "radius_m": ours["radius_m"],
           "goal_met": ours_s <= GOAL["ours_s_max"] and ours["peak_gb"] <= GOAL["peak_gb_max"]}
    if pr is None:
        rec["note"] = note
    else:
        n = len(pr["walls"])
        per_site, per_cpu = statistics.fmean(pr["walls"]), statistics.fmean(pr["cpus"])
        if default_radius:  # fixed cost per run + the rest scaled by the swept area
            scale = (pr["radii"] / RADIUS_M) ** 2
            peer_s = float(np.sum(pr["overhead_wall"] + max(per_site - pr["overhead_wall"], 0.0) * scale))
            peer_cpu = float(np.sum(pr["overhead_cpu"] + max(per_cpu - pr["overhead_cpu"], 0.0) * scale))
        else:
            peer_s, peer_cpu = per_site * n_sites, per_cpu * n_sites
        rec.update(peer_s=round(peer_s, 1), peer_s_per_site=round(peer_s / n_sites, 3),
                   speedup=round(peer_s / ours_s, 2), peer_cpu_s=round(peer_cpu, 1),
                   speedup_cpu=round(peer_cpu / ours_cpu, 2), peer_sites_sampled=n, peer_site_ids=pr["ids"],
                   peer_times_s=[round(t, 3) for t in pr["walls"]],
                   peer_measured_s_per_site_r20km={"mean": round(per_site, 3),
                                                   "median": round(statistics.median(pr["walls"]), 3),
                                                   "cpu_mean": round(per_cpu, 3)},
                   peer_overhead_s_per_run=round(pr["overhead_wall"], 3),
                   peer_cmd="splat -t site.qth -L 1.5 -metric -R 20 -dbm -N -o map.ppm -d SDF/"
                            + ("" if pr.get("itwom") else " -olditm"),
                   peer_params={**LRP, "rx_height_m": RX_HEIGHT_M, "radius_km": RADIUS_M / 1000.0,
                                "erp_w": pr["erp_w"], "frequency_mhz": pr["frequency_mhz"],
                                "antenna_height_m": pr["height_m"], "terrain": "3 arc-second SDF from the demo DEM",
                                **pr["prep"]})
        if "quality" in pr:
            rec["quality"].update(pr["quality"])
        rec["note"] = ("SPLAT! is single-threaded (ours uses the numba threads); 'speedup_cpu' compares CPU "
                       "seconds, which other jobs on the machine skew less than wall time")
    rec["load_avg_1m"] = {"start": load_start, "end": load_average()}
    return rec


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--sites", type=int, default=8, help="SPLAT! sample size (>= 5)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--quick", action="store_true", help="1 run of ours, 5 SPLAT! sites")
    parser.add_argument("--no-quality", dest="quality", action="store_false", help="skip the covered-area check")
    parser.add_argument("--itwom", action="store_true", help="SPLAT!'s default ITWOM 3.0 instead of ITM (-olditm)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--radius-m", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--budget-s", type=float, default=OURS_BUDGET_S / 2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.quick:
        args.repeats, args.sites = 1, 5
    load_start = load_average()
    fixed = run_child(args, RADIUS_M, OURS_BUDGET_S / 2)
    by_link = run_child(args, None, OURS_BUDGET_S / 2)

    version, note, pr = splat_version(), None, None
    if version is None:
        note = "splat/srtm2sdf not found: apt-get install splat"
    else:
        with tempfile.TemporaryDirectory(prefix="bench_coverage_") as tmp:
            try:
                pr = peer(args, Path(tmp))
                pr["itwom"] = args.itwom
            except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as exc:
                note = f"SPLAT! could not be run: {exc}"
    emit(line("coverage_4g_30m_r20km", fixed, pr, version, note, False, load_start))
    emit(line("coverage_4g_30m_default_radius", by_link, pr, version, note, True, load_start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
