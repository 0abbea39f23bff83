"""Best-server coverage on a tiny terrain: the fused kernel against the model computed cell by cell."""

from __future__ import annotations

import json
import threading
import zipfile
from io import BytesIO

import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import X0, Y0, tiny_layers, write_layers

from ictgis import coverage, io, radio, settings
from ictgis.terrain import read_dem, sweep

CELL = 50.0


def write_dem(folder, *, ridge_m: float = 0.0):
    """A 10 × 10 km plain at 400 m (with an optional north–south ridge at x = X0 + 5 km), EPSG:9205."""
    n = 220
    elev = np.full((n, n), 400.0, dtype=np.float32)
    if ridge_m:
        col = int(5000 / CELL) + int(500 / CELL)
        elev[:, col - 1:col + 2] += ridge_m
    transform = Affine(CELL, 0.0, X0 - 500, 0.0, -CELL, Y0 + 10_500)
    with rasterio.open(folder / "dem.tif", "w", driver="GTiff", width=n, height=n, count=1, dtype="float32",
                       crs="EPSG:9205", transform=transform, nodata=-32768) as dst:
        dst.write(elev, 1)


@pytest.fixture()
def plain(tmp_path):
    folder = write_layers(tmp_path / "p", tiny_layers())
    write_dem(folder)
    return io.load(folder)


def reference_rsrp(ds, technology, site_row, *, environment):
    """RSRP of one site computed with radio.py on numpy arrays (no fused kernel)."""
    dem = read_dem(ds.dem_path)
    sites = coverage.sites_of(ds, technology)
    params = radio.site_parameters(sites, technology)
    x, y = sites.geometry.x.iloc[site_row], sites.geometry.y.iloc[site_row]
    f = params.frequency_mhz[site_row]
    sw = sweep(dem, x, y, tx_height_m=params.height_m[site_row], rx_height_m=1.5, radius_m=8000, frequency_mhz=f)
    j = radio.knife_edge_loss_db(np.where(np.isfinite(sw.v_max), sw.v_max, -10.0))
    loss = radio.path_loss_db(sw.distance_m / 1000.0, f, params.height_m[site_row], environment=environment,
                              diffraction_db=j)
    ref = params.reference_eirp_dbm[site_row] + params.rx_gain_dbi - params.body_loss_db
    return sw, ref - loss


def test_single_site_matches_the_model(plain):
    ds = plain.copy()
    ds.layers["bts_sites"] = ds["bts_sites"].iloc[[0]]  # S1, 4G, in phường Noong Bua → urban
    result = coverage.compute(ds, technology="4G", radius_m=8000, floor_dbm=-200.0, progress=lambda f, m: None)
    sw, expected = reference_rsrp(ds, "4G", 0, environment="urban")
    h, w = sw.distance_m.shape
    got = result.rsrp_dbm[sw.row0:sw.row0 + h, sw.col0:sw.col0 + w]
    ok = np.isfinite(expected)
    assert ok.sum() > 10_000
    np.testing.assert_allclose(got[ok], expected[ok], atol=0.05)
    assert set(np.unique(result.server[result.server >= 0])) == {0}


def test_the_floor_keeps_every_value_above_it_and_none_below(plain):
    """A run keeps the values above its floor (−115 dBm by default: the threshold less RADIUS_MARGIN_DB) exactly as
    a run with no floor gives them, and no value (NaN, server −1) at or below it; the summary names the floor."""
    everything = coverage.compute(plain, technology="4G", radius_m=8000, floor_dbm=-200.0, progress=lambda f, m: None)
    floored = coverage.compute(plain, technology="4G", radius_m=8000, progress=lambda f, m: None)
    floor = settings.rsrp_threshold_dbm - coverage.RADIUS_MARGIN_DB
    assert floored.summary["floor_dbm"] == floor == -115.0 and everything.summary["floor_dbm"] == -200.0
    above = everything.rsrp_dbm > np.float32(floor)
    below = np.isfinite(everything.rsrp_dbm) & ~above
    assert above.sum() > 1_000 and below.sum() > 1_000  # the fixture has both
    assert np.array_equal(floored.rsrp_dbm[above], everything.rsrp_dbm[above])
    assert np.array_equal(floored.server[above], everything.server[above])
    assert np.isnan(floored.rsrp_dbm[~above]).all() and (floored.server[~above] == -1).all()
    with pytest.raises(ValueError, match="floor_dbm"):
        coverage.compute(plain, technology="4G", floor_dbm=-100.0, progress=lambda f, m: None)


def test_ridge_shadows_and_best_server(tmp_path):
    folder = write_layers(tmp_path / "r", tiny_layers())
    write_dem(folder, ridge_m=300.0)
    ds = io.load(folder)
    flat = write_layers(tmp_path / "f", tiny_layers())
    write_dem(flat)
    res_ridge = coverage.compute(ds, technology="4G", radius_m=8000, floor_dbm=-200.0, progress=lambda f, m: None)
    res_flat = coverage.compute(io.load(flat), technology="4G", radius_m=8000, floor_dbm=-200.0,
                                progress=lambda f, m: None)
    # east of the ridge the signal of the western site S1 drops by the diffraction loss
    dem = res_ridge.dem
    row, col = dem.cell_of(np.array([X0 + 7500.0]), np.array([Y0 + 1500.0]))
    drop = res_flat.rsrp_dbm[row[0], col[0]] - res_ridge.rsrp_dbm[row[0], col[0]]
    assert drop > 10
    # best server: every cell takes the strongest site
    assert (res_flat.server >= 0).sum() > 0.9 * res_flat.server.size


def test_tables_summary_and_outputs(plain, tmp_path):
    result = coverage.compute(plain, technology="4G", progress=lambda f, m: None)
    s = result.summary
    assert s["villages_total"] == 10 and 0 <= s["villages_covered"] <= 10
    assert s["populated_area_pct"] == round(100 * s["population_covered"] / s["population_total"], 1)
    v = result.villages.set_index("id")
    covered = v["rsrp_dbm"] >= -110
    assert (covered == v["covered"]).all()
    assert len(s["uncovered_villages"]) == 10 - s["villages_covered"]
    assert result.communes["population"].sum() == v["population"].sum()
    out = coverage.write(result, tmp_path / "cov")
    names = {p.name for p in out.iterdir()}
    assert {"rsrp_4g.tif", "server_4g.tif", "servers_4g.csv", "villages_4g.csv", "communes_4g.csv",
            "summary_4g.json", "coverage_4g.kmz"} <= names
    with rasterio.open(out / "rsrp_4g.tif") as src:
        assert src.crs.to_epsg() == 9205
        # overviews by factors of 2 down to about 256 cells: none for a grid under 512 cells a side
        expected = [2 ** k for k in range(1, 12) if max(src.shape) / 2 ** k >= 256]
        assert src.overviews(1) == expected
        assert src.profile["tiled"]
    with rasterio.open(out / "server_4g.tif") as src:  # int16 while the transmitters fit, the same indices
        assert src.dtypes[0] == "int16" and src.nodata == -1
        np.testing.assert_array_equal(src.read(1), result.server)
    with zipfile.ZipFile(out / "coverage_4g.kmz") as zf:
        assert {"doc.kml", "rsrp.png"} <= set(zf.namelist())
        assert b"GroundOverlay" in zf.read("doc.kml")
        png = zf.read("rsrp.png")
    assert json.loads((out / "summary_4g.json").read_text())["technology"] == "4G"
    # the overlay: the RSRP classes of the grid warped to EPSG:4326, as a paletted PNG (RGBA through its palette)
    pil = pytest.importorskip("PIL.Image")
    from ictgis.rasterpng import classify, warp

    warped, _ = warp(result.rsrp_dbm, transform=result.dem.transform, crs=result.dem.crs, dst_crs="EPSG:4326",
                     max_px=4096, resampling="max")
    image = pil.open(BytesIO(png))
    assert image.mode == "P" and (image.width, image.height) == (warped.shape[1], warped.shape[0])
    expected = classify(warped, coverage.RSRP_CLASSES)
    assert expected[..., 3].any() and np.array_equal(np.asarray(image.convert("RGBA")), expected)


def test_no_sites_of_a_technology_is_a_clear_error(plain):
    from ictgis import LayerError

    with pytest.raises(LayerError, match="no 5G sites of Viettel"):
        coverage.compute(plain, technology="5G", operator="Viettel")


def test_coverage_matrix_agrees_with_the_raster(plain):
    """The point-to-point model used for siting gives the raster's value at village cells (same model)."""
    ds = plain.copy()
    sites = ds["bts_sites"].iloc[[0]].copy()
    ds.layers["bts_sites"] = sites
    raster = coverage.compute(ds, technology="4G", radius_m=8000, progress=lambda f, m: None)
    villages = ds["villages"]
    covered, values = coverage.coverage_matrix(ds, sites[["id", "height_m", "band_mhz", "commune", "geometry"]],
                                               villages, technology="4G", max_distance_m=8000)
    v = raster.villages.set_index("id")
    evaluated = values[0].indices  # pairs within the unobstructed reach at the threshold
    assert len(evaluated) >= 2
    got = values[0].toarray()[0][evaluated]
    # village points vs the centre of their raster cell: within a few dB on this plain
    assert np.abs(got - v["rsrp_dbm"].to_numpy()[evaluated]).max() < 3.0
    assert set(covered[0].indices) == set(evaluated[got >= -110])
    assert set(covered[0].indices) == set(np.flatnonzero(v["covered"].to_numpy()))


def test_populated_area_coverage_returns_its_results_and_changes_nothing(plain):
    threads = set(threading.enumerate())
    found = coverage.populated_area_coverage(plain, technologies=("3G", "4G", "5G"))
    assert set(threading.enumerate()) <= threads  # the engine returns values: no thread left behind
    assert set(found.results) == {"3G", "4G", "5G"}  # S3 lists 5G
    for tech, result in found.results.items():
        tag = tech.lower()
        assert result.technology == tech
        assert found.values[f"populated_area_{tag}_pct"] == result.summary["populated_area_pct"]
        assert found.values[f"villages_covered_{tag}"] == result.summary["villages_covered"]
    assert coverage.coverage_indicators(plain, technologies=("4G",)) == {
        k: v for k, v in found.values.items() if k.endswith("_4g") or k.endswith("_4g_pct")}


def test_populated_area_coverage_without_dem_or_sites(plain, tmp_path):
    no_dem = io.load(write_layers(tmp_path / "nodem", tiny_layers()))
    found = coverage.populated_area_coverage(no_dem, technologies=("4G",))
    assert found.results == {} and set(found.values.values()) == {None}
    ds = plain.copy()
    ds.layers["bts_sites"] = ds["bts_sites"].iloc[[3]]  # 2G only
    found = coverage.populated_area_coverage(ds, technologies=("4G",))
    assert found.results == {} and found.values == {"populated_area_4g_pct": 0.0, "villages_covered_4g": 0,
                                                    "population_covered_4g": 0}


def test_best_server_equals_the_maximum_over_sites_whatever_the_radius(tmp_path):
    """Pruning, the two passes and the fixed ray set: the best of the per-site model, at any radius that covers."""
    folder = write_layers(tmp_path / "r", tiny_layers())
    write_dem(folder, ridge_m=300.0)
    ds = io.load(folder)
    n = len(coverage.sites_of(ds, "4G"))
    assert n >= 2
    dem = read_dem(ds.dem_path)
    expected = np.full(dem.shape, -np.inf)
    for k in range(n):
        sw, rsrp = reference_rsrp(ds, "4G", k, environment="rural")
        h, w = sw.distance_m.shape
        view = expected[sw.row0:sw.row0 + h, sw.col0:sw.col0 + w]
        np.maximum(view, np.where(np.isfinite(rsrp), rsrp, -np.inf), out=view)
    result = coverage.compute(ds, technology="4G", radius_m=8000, floor_dbm=-200.0, environment="rural",
                              progress=lambda f, m: None)
    ok = np.isfinite(expected)
    np.testing.assert_allclose(result.rsrp_dbm[ok], expected[ok], atol=0.05)
    assert np.isnan(result.rsrp_dbm[~ok]).all()
    # a larger radius only adds cells and servers: where the server is the same, so is the value
    wider = coverage.compute(ds, technology="4G", radius_m=12_000, floor_dbm=-200.0, environment="rural",
                             progress=lambda f, m: None)
    same = ok & (wider.server == result.server)
    assert same.sum() > 0.9 * ok.sum()
    np.testing.assert_array_equal(wider.rsrp_dbm[same], result.rsrp_dbm[same])
    assert (wider.rsrp_dbm[ok] >= result.rsrp_dbm[ok]).all()


def test_result_does_not_depend_on_threads_nor_site_order(tmp_path):
    """Sites go to threads as they free up: ties (a co-located twin) go to the lower site index, always."""
    import numba
    import pandas as pd

    layers = tiny_layers()
    bts = layers["bts_sites"]
    twin = bts.iloc[[2]].assign(id="S3B", operator="Viettel")  # same place, same radio as S3 (a second operator)
    layers["bts_sites"] = pd.concat([bts.iloc[[3, 2, 1]], twin, bts.iloc[[0]]], ignore_index=True)
    folder = write_layers(tmp_path / "t", layers)
    write_dem(folder, ridge_m=300.0)
    ds = io.load(folder)
    threads = numba.get_num_threads()
    runs = []
    try:
        for n in sorted({1, threads}):
            numba.set_num_threads(n)
            runs.append(coverage.compute(ds, technology="4G", radius_m=8000, progress=lambda f, m: None))
    finally:
        numba.set_num_threads(threads)
    first = runs[0]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.rsrp_dbm, first.rsrp_dbm)
        np.testing.assert_array_equal(other.server, first.server)
    ids = np.array(first.site_ids)
    served = ids[first.server[first.server >= 0]]
    assert "S3" in served and "S3B" not in served  # S3 comes first in the layer: every tie is its
    # reversing the layer's order changes the indices, not the values: now the twin S3B comes first and wins
    layers["bts_sites"] = layers["bts_sites"].iloc[::-1].reset_index(drop=True)
    folder = write_layers(tmp_path / "u", layers)
    write_dem(folder, ridge_m=300.0)
    flipped = coverage.compute(io.load(folder), technology="4G", radius_m=8000, progress=lambda f, m: None)
    np.testing.assert_array_equal(flipped.rsrp_dbm, first.rsrp_dbm)
    served = np.array(flipped.site_ids)[flipped.server[flipped.server >= 0]]
    assert "S3B" in served and "S3" not in served


def test_package_exports_its_names_and_its_kernels_keep_numba_caching():
    import importlib
    import inspect

    from numba.core.caching import FunctionCache
    from numba.core.registry import CPUDispatcher

    from ictgis.coverage import kernels

    modules = ("best_server", "indicators", "kernels", "matrix", "model", "outputs")
    for name in coverage.__all__:
        assert hasattr(coverage, name), name
    assert inspect.isfunction(coverage.compute)  # the function, not a module of that name
    for module in modules:  # each module's names resolve in the package, none shadows a module
        assert hasattr(importlib.import_module(f"ictgis.coverage.{module}"), "__all__")
        assert not set(importlib.import_module(f"ictgis.coverage.{module}").__all__) & set(modules)
    dispatchers = [getattr(kernels, n) for n in kernels.__all__ if isinstance(getattr(kernels, n), CPUDispatcher)]
    assert len(dispatchers) == len(kernels.__all__) - 1  # all but the `take` intrinsic
    assert all(isinstance(d._cache, FunctionCache) for d in dispatchers)  # cache=True


def _hills(n: int, seed: int) -> np.ndarray:
    """Rugged terrain: a 300 m plain with 60 Gaussian hills and valleys (float32)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:n, 0:n]
    z = np.full((n, n), 300.0)
    for _ in range(60):
        r0, c0 = rng.uniform(0, n, 2)
        z += rng.uniform(-150.0, 400.0) * np.exp(-((rows - r0) ** 2 + (cols - c0) ** 2) / (2 * rng.uniform(8, 40) ** 2))
    return z.astype(np.float32)


@pytest.mark.parametrize("sectors", [False, True])
def test_cut_rays_change_no_value_and_take_fewer_samples(sectors):
    """Rays cut where nothing further out can beat the best (`_ray_reach`): the same arrays, less work."""
    from ictgis.antenna import pattern_tables
    from ictgis.coverage.best_server import group_attenuation
    from ictgis.coverage.kernels import block_extremes, block_minima, log_distance_table
    from ictgis.terrain import radial_best_server_serial

    n, cell, radius = 360, 30.0, 6000.0
    elev = _hills(n, 11)
    elev[:3, :] = np.nan  # nodata along an edge
    classes = np.where(np.random.default_rng(3).random((n, n)) < 0.4, 10, 40).astype(np.uint8)
    lut = np.zeros(256)
    lut[10] = 12.0
    surface = (elev + np.where(classes == 10, 15.0, 0.0)).astype(np.float32)
    log_d = log_distance_table(cell, radius * 1.5)
    y_max = n * cell
    no_lim, far = np.full((8, 64), 1 << 40, np.int64), np.full(8, 1e12)

    def run(x, y, best, server, block_min, *, pat, site, cut):
        k = 3 if pat else 1
        tables = [pattern_tables(az, 4.0) for az in (0.0, 120.0, 240.0)[:k]]
        pat_h = np.array([t[0] for t in tables]) if pat else np.zeros((1, 360))
        pat_v = np.array([t[1] for t in tables]) if pat else np.zeros((1, 181))
        cap = np.array([t[2] for t in tables]) if pat else np.zeros(1)
        att = group_attenuation(pat_h, cap, np.full(k, pat)).min(axis=0) + min(0.0, pat_v.min())
        zmax, loss = block_extremes(elev, classes, lut, True)
        if not cut:
            zmax = loss = np.zeros((1, 1))
        return radial_best_server_serial(
            elev, 0.0, y_max, cell, x, y, 30.0, 1.5, radius, 0.1667, 4.0 / 3.0, 125.0, 35.0, 37.6,
            np.full(k, 20.0), np.arange(site, site + k, dtype=np.int32), np.full(k, (radius / cell) ** 2), log_d,
            best, server, block_min, 0.0, far, no_lim, np.zeros(11), surface, classes, lut, True, pat_h, pat_v,
            cap, pat, 20.0, att, zmax, loss, best)

    best = np.full((n, n), -np.inf, np.float32)
    server = np.full((n, n), -1, np.int32)
    for site, (x, y) in enumerate([(2000.0, 2000.0), (9000.0, 8000.0), (3000.0, 9500.0)]):
        run(x, y, best, server, np.full((n // 8 + 1, n // 8 + 1), -np.inf, np.float32), pat=False, site=10 * site,
            cut=False)
    block_min = block_minima(best[None], elev)[0]
    results = []
    for cut in (False, True):
        b, s = best.copy(), server.copy()
        taken = run(5400.0, 5400.0, b, s, block_min, pat=sectors, site=100, cut=cut)
        results.append((b, s, taken))
    np.testing.assert_array_equal(results[1][0], results[0][0])
    np.testing.assert_array_equal(results[1][1], results[0][1])
    assert (results[0][1] >= 100).sum() > 1000  # the swept site serves a part of the area
    assert results[1][2] < 0.9 * results[0][2], (results[1][2], results[0][2])


def test_the_command_takes_a_floor_and_refuses_one_above_the_threshold(plain, tmp_path):
    from click.testing import CliRunner

    from ictgis.cli import main

    def run(out, *extra):
        return CliRunner().invoke(main, ["coverage", str(plain.data_dir), "--out", str(out), "--radius-m", "8000",
                                         "--no-kmz", *extra])

    bad = run(tmp_path / "bad", "--floor-dbm", "-100")
    assert bad.exit_code == 2 and "--floor-dbm" in bad.output and "above the threshold" in bad.output
    assert bad.exception is None or isinstance(bad.exception, SystemExit)
    assert not (tmp_path / "bad").exists()
    lows = {}
    for name, extra in (("default", ()), ("low", ("--floor-dbm", "-140"))):
        assert run(tmp_path / name, *extra).exit_code == 0
        summary = json.loads((tmp_path / name / "summary_4g.json").read_text(encoding="utf-8"))
        with rasterio.open(tmp_path / name / "rsrp_4g.tif") as src:
            values = src.read(1, masked=True).compressed()
        lows[name] = (summary["floor_dbm"], float(values.min()))
    assert lows["default"][0] == -115.0 and lows["default"][1] > -115.0
    assert lows["low"][0] == -140.0 and -140.0 < lows["low"][1] < -115.0
