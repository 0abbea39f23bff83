"""Batch viewsheds (ictgis.terrain, numba) against a loop of gdal_viewshed processes on the same GeoTIFF.

Deterministic synthetic mountainous DEM (fractal noise, 200–2,400 m, EPSG:9205, 30 m cells) or `--dem FILE`
resampled to `--resolution-m`; deterministic sites; observer 30 m, target 1.5 m, curvature coefficient 0.85714
(gdal_viewshed's default). Prints one JSON line per comparison (viewshed against gdal_viewshed) and one for the
radial Fresnel sweep (no peer). Agreement is the share of cells both tools put within the radius that get the same
visible/hidden value, per site.

    python benchmarks/bench_viewshed.py [--size 3000] [--sites 50] [--radius-m 15000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from _common import emit, load_average, median_time, peak_rss_mb, tool_version

from ictgis import terrain

X0, Y0 = 380_000.0, 2_480_000.0  # upper-left corner in EPSG:9205 (north-west of Điện Biên Phủ)


def synthetic_dem(size: int, resolution_m: float, seed: int) -> terrain.Dem:
    """Fractal mountains: 1/f^1.9 noise with ridges, scaled to 200–2,400 m."""
    rng = np.random.default_rng(seed)
    k = np.hypot(np.fft.rfftfreq(size)[None, :], np.fft.fftfreq(size)[:, None])
    k[0, 0] = 1.0
    spectrum = (rng.normal(size=k.shape) + 1j * rng.normal(size=k.shape)) / k ** 1.9
    spectrum[0, 0] = 0.0
    z = np.fft.irfft2(spectrum, s=(size, size))
    z = 1.0 - np.abs(z / np.abs(z).max())  # ridged: sharp crests, broad valleys
    z = (z - z.min()) / np.ptp(z)
    return terrain.Dem.from_array((200.0 + 2200.0 * z ** 1.5).astype(np.float32), x_min=X0, y_max=Y0,
                                  resolution_m=resolution_m)


def pick_sites(dem: terrain.Dem, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` cell centres with data, drawn deterministically over the whole DEM."""
    rng = np.random.default_rng(seed)
    rows, cols = dem.shape
    xs, ys = [], []
    while len(xs) < n:
        r, c = int(rng.integers(0, rows)), int(rng.integers(0, cols))
        if np.isfinite(dem.elevation[r, c]):
            x, y = dem.transform * (c + 0.5, r + 0.5)
            xs.append(x)
            ys.append(y)
    return np.array(xs), np.array(ys)


def run_gdal(dem_path: Path, xs, ys, args, out_dir: Path) -> tuple[float, list[Path]]:
    outs = []
    t0 = time.perf_counter()
    for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
        out = out_dir / f"gdal_{k}.tif"
        subprocess.run(["gdal_viewshed", "-q", "-ox", repr(float(x)), "-oy", repr(float(y)), "-oz", str(args.height_m),
                        "-tz", str(args.target_height_m), "-md", str(args.radius_m), "-cc", str(args.refraction),
                        "-vv", "1", "-iv", "0", "-ov", "255", str(dem_path), str(out)], check=True)
        outs.append(out)
    return time.perf_counter() - t0, outs


def agreement(stack: terrain.ViewshedStack, k: int, gdal_path: Path, dem: terrain.Dem) -> float:
    row0, col0, ours = stack.window(k)
    with rasterio.open(gdal_path) as src:
        theirs, t = src.read(1), src.transform
    r0 = round((dem.transform.f - t.f) / dem.resolution_m) - row0
    c0 = round((t.c - dem.transform.c) / dem.resolution_m) - col0
    mine = np.full(theirs.shape, 255, np.uint8)
    rs, cs = slice(max(r0, 0), r0 + theirs.shape[0]), slice(max(c0, 0), c0 + theirs.shape[1])
    part = ours[rs, cs]
    mine[rs.start - r0:rs.start - r0 + part.shape[0], cs.start - c0:cs.start - c0 + part.shape[1]] = part
    both = (mine != 255) & (theirs != 255)
    return float((mine[both] == theirs[both]).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=3000, help="DEM rows and columns (synthetic DEM)")
    parser.add_argument("--resolution-m", type=float, default=30.0)
    parser.add_argument("--dem", type=Path, default=None, help="use this DEM (resampled) instead of a synthetic one")
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--radius-m", type=float, default=15_000.0)
    parser.add_argument("--height-m", type=float, default=30.0)
    parser.add_argument("--target-height-m", type=float, default=1.5)
    parser.add_argument("--refraction", type=float, default=0.85714)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_viewshed_") as tmp:
        tmp = Path(tmp)
        dem = (terrain.read_dem(args.dem, resolution_m=args.resolution_m) if args.dem
               else synthetic_dem(args.size, args.resolution_m, args.seed))
        dem_path = terrain.write_raster(tmp / "dem.tif", dem.elevation, dem, nodata=-9999.0, dtype="float32",
                                        compress=None, overviews=False)
        label = f"{dem.shape[1]}x{dem.shape[0]}@{dem.resolution_m:g}m"
        xs, ys = pick_sites(dem, args.sites, args.seed)

        jit_s = terrain.warm_up()
        t0 = time.perf_counter()
        dem = terrain.read_dem(dem_path)
        read_s = time.perf_counter() - t0

        def ours():
            return terrain.viewshed_many(dem, xs, ys, args.height_m, target_height_m=args.target_height_m,
                                         max_radius_m=args.radius_m, refraction_coeff=args.refraction)

        ours_s, ours_times, stack = median_time(ours, repeats=args.repeats)
        t0 = time.perf_counter()
        (tmp / "ours").mkdir()
        for k in range(len(stack)):  # windows on the DEM's grid, as gdal_viewshed writes them
            row0, col0, window = stack.window(k)
            terrain.write_raster(tmp / "ours" / f"{k}.tif", window, dem, nodata=255, dtype="uint8", tiled=False,
                                 overviews=False, compress=None, window=(row0, col0))
        write_s = time.perf_counter() - t0

        record = {"bench": "viewshed", "ours_s": round(ours_s, 4), "peer": "gdal_viewshed",
                  "peer_version": tool_version(["gdalinfo", "--version"]), "peer_s": None, "speedup": None,
                  "quality": None, "jit_warmup_s": round(jit_s, 3), "sites": args.sites, "dem": label,
                  "radius_m": args.radius_m, "observer_height_m": args.height_m,
                  "ours_per_site_s": round(ours_s / args.sites, 5), "ours_times_s": [round(t, 4) for t in ours_times],
                  "ours_read_dem_s": round(read_s, 3), "ours_write_windows_s": round(write_s, 3),
                  "ours_end_to_end_s": round(read_s + ours_s + write_s, 3)}
        if shutil.which("gdal_viewshed") is None:
            record["note"] = "gdal_viewshed not found: apt-get install gdal-bin"
        else:
            (tmp / "gdal").mkdir()
            peer_s, outs = run_gdal(dem_path, xs, ys, args, tmp / "gdal")
            agree = [agreement(stack, k, out, dem) for k, out in enumerate(outs)]
            record.update(peer_s=round(peer_s, 3), speedup=round(peer_s / ours_s, 1),
                          speedup_end_to_end=round(peer_s / record["ours_end_to_end_s"], 1),
                          peer_per_site_s=round(peer_s / args.sites, 4),
                          quality={"agreement_min": round(min(agree), 5),
                                   "agreement_median": round(statistics.median(agree), 5)})
        record.update(peak_rss_mb=peak_rss_mb(), load_avg_1m=load_average())
        emit(record)

        # The radial Fresnel sweep the coverage engine calls per site (20 km at 30 m ≈ 1,335² cells).
        t = dem.transform
        sweep_radius = 20_000.0
        res = {}
        for name, fn in (("parallel", terrain.radial_sweep), ("serial", terrain.radial_sweep_serial)):
            times = []
            for x, y in zip(xs[:10], ys[:10], strict=True):
                t0 = time.perf_counter()
                fn(dem.elevation, t.c, t.f, dem.resolution_m, x, y, args.height_m, 1.5, sweep_radius, 0.333, 4 / 3)
                times.append(time.perf_counter() - t0)
            res[name] = round(statistics.median(times), 4)
        side = 2 * int(np.ceil(sweep_radius / dem.resolution_m)) + 1
        emit({"bench": "radial_sweep", "ours_s": res["parallel"], "serial_s": res["serial"], "peer": None,
              "radius_m": sweep_radius, "window": f"{side}x{side}", "sites": 10, "dem": label,
              "note": "median per call after JIT; 'ours_s' runs the 8 octants on numba threads",
              "load_avg_1m": load_average()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
