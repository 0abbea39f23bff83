"""Terrain engine: viewsheds against hand counts, the curvature formula and gdal_viewshed; the Fresnel sweep."""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import CRS

from ictgis import terrain
from ictgis._errors import CRSError, LayerError
from ictgis.terrain import Dem

X0, Y0, RES = 500_000.0, 2_360_000.0, 30.0  # EPSG:9205, near Điện Biên Phủ


def make_dem(z: np.ndarray, res: float = RES) -> Dem:
    return Dem.from_array(z, x_min=X0, y_max=Y0, resolution_m=res)


def centre(row: int, col: int, res: float = RES) -> tuple[float, float]:
    return X0 + (col + 0.5) * res, Y0 - (row + 0.5) * res


def fractal(n: int, *, seed: int, relief: float = 600.0) -> np.ndarray:
    """Fractal (1/f^1.8) noise terrain, deterministic."""
    rng = np.random.default_rng(seed)
    k = np.hypot(np.fft.fftfreq(n)[None, :], np.fft.fftfreq(n)[:, None])
    k[0, 0] = 1.0
    spec = (rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))) / k ** 1.8
    spec[0, 0] = 0.0
    z = np.fft.ifft2(spec).real
    return ((z - z.min()) / np.ptp(z) * relief + 300.0).astype(np.float32)


@pytest.fixture(scope="module", autouse=True)
def _jit():
    terrain.warm_up()


# --- viewshed ---------------------------------------------------------------------------------------------------

def test_wall_hides_exactly_the_cells_its_shadow_covers():
    # Flat plain, observer 10 m high in the middle, a 5 m wall 5 cells east across the whole DEM, targets on the
    # ground, no curvature. The wall's top hides a target at distance D east iff 10·(1 − 5/D) < 5, i.e. 6 ≤ D ≤ 9.
    z = np.zeros((41, 41), np.float32)
    z[:, 25] = 5.0
    x, y = centre(20, 20)
    v = terrain.viewshed(make_dem(z), x, y, observer_height_m=10, target_height_m=0, max_radius_m=20 * RES,
                         curvature=False)
    dy, dx = np.mgrid[-20:21, -20:21]
    inside = dx ** 2 + dy ** 2 <= 400
    expected = np.where(inside, np.where((dx >= 6) & (dx <= 9), 0, 1), 255)
    assert (v == 0).sum() == 39 + 37 + 37 + 35 == 148
    np.testing.assert_array_equal(v, expected)


def test_high_wall_hides_everything_behind_it():
    z = np.zeros((41, 41), np.float32)
    z[:, 25] = 100.0
    x, y = centre(20, 20)
    v = terrain.viewshed(make_dem(z), x, y, observer_height_m=10, max_radius_m=20 * RES)
    dy, dx = np.mgrid[-20:21, -20:21]
    inside = dx ** 2 + dy ** 2 <= 400
    assert np.all(v[inside & (dx >= 6)] == 0)
    assert np.all(v[inside & (dx <= 5)] == 1)


def test_radius_and_nodata_are_255_and_nodata_does_not_block():
    z = np.zeros((31, 31), np.float32)
    z[15, 18] = np.nan  # a hole east of the observer
    x, y = centre(15, 15)
    v = terrain.viewshed(make_dem(z), x, y, observer_height_m=2, target_height_m=0, max_radius_m=10 * RES,
                         curvature=False)
    dy, dx = np.mgrid[-15:16, -15:16]
    assert np.all(v[dx ** 2 + dy ** 2 > 100] == 255)
    assert v[15, 18] == 255
    assert np.all(v[15, 19:26] == 1)  # cells behind the hole stay visible
    assert set(np.unique(v)) == {1, 255}


def test_observer_off_the_dem_or_on_nodata_is_a_layer_error():
    z = np.zeros((10, 10), np.float32)
    z[2, 2] = np.nan
    dem = make_dem(z)
    with pytest.raises(LayerError, match="outside the DEM"):
        terrain.viewshed(dem, X0 - 5, Y0 - 5, observer_height_m=10, max_radius_m=100)
    with pytest.raises(LayerError, match="no data") as info:
        terrain.viewshed_many(dem, [centre(2, 2)[0], X0 + 10 * RES + 1], [centre(2, 2)[1], Y0 - 1], 10,
                              max_radius_m=100, ids=["A", "B"])
    assert len(info.value.problems) == 2  # both observers reported at once


def test_geographic_dem_is_refused():
    with pytest.raises(CRSError, match="reproject"):
        Dem(np.zeros((3, 3), np.float32), Affine(0.001, 0, 103, 0, -0.001, 21.5), CRS.from_epsg(4326), 0.001)


def test_curvature_hides_far_low_targets_where_the_formula_says():
    # Flat sea-level plain: with gdal_viewshed's -cc the drop is cc·d²/(2a); the horizon of an eye h above the
    # ground is sqrt(2·a·h/cc), and a target t above the ground is seen up to sqrt(2a·h/cc) + sqrt(2a·t/cc).
    dem = make_dem(np.zeros((3, 1700), np.float32))
    a, cc, h = dem.semi_major_m, terrain.REFRACTION_COEFF, 10.0
    x, y = centre(1, 10)
    for t in (0.0, 5.0):
        v = terrain.viewshed(dem, x, y, observer_height_m=h, target_height_m=t, max_radius_m=40_000)
        axis = v[1, 10:]
        first_hidden_m = np.flatnonzero(axis == 0)[0] * RES
        expected_m = math.sqrt(2 * a * h / cc) + math.sqrt(2 * a * t / cc)
        assert abs(first_hidden_m - expected_m) <= 1.5 * RES, (t, first_hidden_m, expected_m)
        assert np.all(axis[: int(expected_m / RES) - 1] == 1)
        assert np.all(axis[int(expected_m / RES) + 2: int(40_000 / RES)] == 0)
    flat = terrain.viewshed(dem, x, y, observer_height_m=h, target_height_m=0, max_radius_m=40_000, curvature=False)
    assert np.all(flat[flat != 255] == 1)


def test_batch_equals_single():
    dem = make_dem(fractal(120, seed=3))
    rows, cols, heights = [10, 60, 100, 60], [15, 60, 90, 119], [30.0, 5.0, 12.0, 40.0]
    xs, ys = zip(*(centre(r, c) for r, c in zip(rows, cols, strict=True)), strict=True)
    stack = terrain.viewshed_many(dem, xs, ys, heights, max_radius_m=1500)
    assert len(stack) == 4
    for k in range(4):
        single = terrain.viewshed(dem, xs[k], ys[k], observer_height_m=heights[k], max_radius_m=1500)
        np.testing.assert_array_equal(stack.full(k), single)
        r0, c0, window = stack.window(k)
        np.testing.assert_array_equal(single[r0:r0 + window.shape[0], c0:c0 + window.shape[1]], window)


def row_scan_reference(elev, orow, ocol, obs_h, tgt_h, res, radius_m, curv, half):
    """The reference-plane scan row by row outward from the observer, in plain Python (as gdal_viewshed scans)."""
    out = np.full((2 * half + 1, 2 * half + 1), 255, np.uint8)
    nrows, ncols = elev.shape
    zobs = float(elev[orow, ocol]) + obs_h
    rc2 = (radius_m / res) ** 2
    kc = curv * res * res
    out[half, half] = 1
    for sy in (-1, 1):
        last = {0: -obs_h}  # horizon heights of the row before, by signed column offset
        for dy in range(0, half + 1):
            row = orow + sy * dy
            if row < 0 or row >= nrows or dy * dy > rc2:
                break
            this = {0: -obs_h} if dy == 0 else {}
            for sx in (-1, 1):
                for dx in range(0 if dy else 1, half + 1):
                    col = ocol + sx * dx
                    if col < 0 or col >= ncols or dx * dx + dy * dy > rc2:
                        break
                    if dx == 0:
                        ref = last[0] * dy / (dy - 1) if dy > 1 else -np.inf
                        z = elev[row, col] - kc * dy * dy - zobs
                    else:
                        near = sx * (dx - 1)  # one column nearer the observer
                        if dy <= 1 and dx == 1:
                            ref = -np.inf
                        elif dy == 0:
                            ref = this[near] * dx / (dx - 1)
                        elif dx > dy:
                            ref = (last[near] * dy + this[near] * (dx - dy)) / (dx - 1)
                        elif dx == dy:
                            ref = last[near] * dx / (dx - 1)
                        else:
                            ref = (last[near] * dx + last[sx * dx] * (dy - dx)) / (dy - 1)
                        z = elev[row, col] - kc * (dx * dx + dy * dy) - zobs
                    if np.isnan(z):
                        this[sx * dx] = ref if ref > -np.inf else -obs_h
                    else:
                        out[half + sy * dy, half + sx * dx] = 1 if z + tgt_h >= ref else 0
                        this[sx * dx] = max(z, ref)
            last = this
    return out


def test_octant_scan_gives_what_the_row_scan_gives_bit_for_bit():
    # the kernel scans each octant along its major axis; every cell must get exactly the row scan's arithmetic,
    # hence the same value, on rough, flat (ties) and terraced ground, with holes, at the edges, any curvature
    from ictgis.terrain.viewshed_kernels import viewshed_batch

    rng = np.random.default_rng(7)
    rough = fractal(64, seed=3)[:37, :41]
    holes = rough.copy()
    holes[rng.random(holes.shape) < 0.08] = np.nan
    grounds = [rough, holes, np.full((23, 29), 400.0, np.float32),
               (np.arange(31 * 26).reshape(31, 26) % 7 // 3).astype(np.float32) * 5]
    for g, elev in enumerate(grounds):
        rows, cols = np.nonzero(np.isfinite(elev))
        pick = rng.choice(rows.size, 6, replace=False)
        rows, cols = np.concatenate([rows[pick], [0, elev.shape[0] - 1]]), np.concatenate([cols[pick], [0, 3]])
        keep = np.isfinite(elev[rows, cols])
        rows, cols = rows[keep], cols[keep]
        heights = rng.uniform(0.0, 40.0, rows.size)
        for radius_m, curv, tgt_h in ((14 * RES, 0.0, 0.0), (9.5 * RES, 0.85714 / (2 * 6_378_137.0), 1.5),
                                      (30 * RES, 3e-5, 1.5)):
            half = math.ceil(radius_m / RES)
            got = viewshed_batch(elev, rows.astype(np.int64), cols.astype(np.int64), heights, tgt_h, RES, radius_m,
                                 curv, half)
            for k in range(rows.size):
                want = row_scan_reference(elev, rows[k], cols[k], heights[k], tgt_h, RES, radius_m, curv, half)
                np.testing.assert_array_equal(got[k], want, err_msg=f"ground {g}, site {k}, radius {radius_m}")


@pytest.mark.skipif(shutil.which("gdal_viewshed") is None, reason="gdal_viewshed is not installed (gdal-bin)")
def test_agrees_with_gdal_viewshed(tmp_path):
    dem = make_dem(fractal(500, seed=1))
    path = terrain.write_raster(tmp_path / "dem.tif", dem.elevation, dem, nodata=None, dtype="float32",
                                overviews=False)
    radius = 6000.0
    for row, col in [(250, 250), (40, 420), (480, 30), (120, 300)]:
        x, y = centre(row, col)
        ours = terrain.viewshed(dem, x, y, observer_height_m=30, target_height_m=1.5, max_radius_m=radius)
        out = tmp_path / f"g{row}_{col}.tif"
        subprocess.run(["gdal_viewshed", "-q", "-ox", repr(x), "-oy", repr(y), "-oz", "30", "-tz", "1.5",
                        "-md", repr(radius), "-cc", "0.85714", "-vv", "1", "-iv", "0", "-ov", "255", str(path),
                        str(out)], check=True)
        with rasterio.open(out) as src:
            theirs, t = src.read(1), src.transform
        r0, c0 = round((Y0 - t.f) / RES), round((t.c - X0) / RES)
        mine = ours[r0:r0 + theirs.shape[0], c0:c0 + theirs.shape[1]]
        both = (mine != 255) & (theirs != 255)
        assert both.sum() > 0.9 * (theirs != 255).sum()
        agreement = (mine[both] == theirs[both]).mean()
        assert agreement >= 0.99, (row, col, agreement)


# --- radial sweep -----------------------------------------------------------------------------------------------

def test_radial_sweep_single_knife_edge_matches_the_hand_value():
    # Flat ground at 0 m with a 50 m ridge 10 cells east of a 20 m mast; receiver 1.5 m high 30 cells east.
    z = np.zeros((81, 81), np.float32)
    z[:, 50] = 50.0
    x, y = centre(40, 40)
    lam = 299.792458 / 1000.0
    for k_factor in (1e9, 4 / 3):
        sw = terrain.sweep(make_dem(z), x, y, tx_height_m=20, rx_height_m=1.5, radius_m=40 * RES,
                           frequency_mhz=1000, k_factor=k_factor)
        assert (sw.row0, sw.col0) == (0, 0)
        d1, d2 = 10 * RES, 20 * RES
        bulge = d1 * d2 / (2 * k_factor * terrain.EARTH_RADIUS_M)
        h = 50.0 + bulge - (20.0 + (1.5 - 20.0) * d1 / (d1 + d2))
        v = h * math.sqrt(2 / lam * (1 / d1 + 1 / d2))
        assert sw.v_max[40, 70] == pytest.approx(v, rel=1e-5)
        assert sw.distance_m[40, 70] == pytest.approx(30 * RES)
    # Clear path before the ridge: the dominant sample is the farthest ground sample (highest angle).
    d, s = 5 * RES, 4 * RES
    a_h, b = -20.0 / s, (1.5 - 20.0) / d
    v_clear = (a_h - b) * math.sqrt(2 / lam * d * s / (d - s))
    assert sw.v_max[40, 45] == pytest.approx(v_clear, rel=1e-3)
    assert sw.v_max[40, 40] == -np.inf and sw.v_max[40, 41] == -np.inf
    assert np.isnan(sw.v_max[0, 0]) and np.isnan(sw.distance_m[0, 0])  # corner beyond the radius


def test_radial_sweep_visibility_agrees_with_the_viewshed():
    dem = make_dem(fractal(300, seed=7))
    x, y = centre(150, 150)
    vs = terrain.viewshed(dem, x, y, observer_height_m=30, target_height_m=1.5, max_radius_m=4000)
    sw = terrain.sweep(dem, x, y, tx_height_m=30, rx_height_m=1.5, radius_m=4000, frequency_mhz=900,
                       k_factor=1 / terrain.REFRACTION_COEFF)
    h, w = sw.v_max.shape
    window = vs[sw.row0:sw.row0 + h, sw.col0:sw.col0 + w]
    ok = np.isfinite(sw.distance_m)
    np.testing.assert_array_equal(ok, window != 255)
    assert ((sw.v_max[ok] <= 0) == (window[ok] == 1)).mean() > 0.97
    serial = terrain.radial_sweep_serial(dem.elevation, X0, Y0, RES, x, y, 30.0, 1.5, 4000.0, 0.333, 1.2)
    parallel = terrain.radial_sweep(dem.elevation, X0, Y0, RES, x, y, 30.0, 1.5, 4000.0, 0.333, 1.2)
    np.testing.assert_array_equal(serial[3], parallel[3])


def test_radial_sweep_does_not_depend_on_the_radius():
    """A cell's distance and v_max are the same whatever radius reaches it (the ray set is fixed)."""
    dem = make_dem(fractal(400, seed=3))
    x, y = centre(200, 200)
    cases = [(1500.0, 3000.0), (2700.0, 5400.0)]
    coarse = make_dem(fractal(400, seed=3), res=90.0)  # 20 km / 90 m: another ray set, same property
    for grid, (r, r2) in ((dem, cases[0]), (dem, cases[1]), (coarse, (9000.0, 18000.0))):
        cx, cy = (x, y) if grid is dem else centre(200, 200, 90.0)
        small = terrain.sweep(grid, cx, cy, tx_height_m=30, radius_m=r, frequency_mhz=1800)
        large = terrain.sweep(grid, cx, cy, tx_height_m=30, radius_m=r2, frequency_mhz=1800)
        h, w = small.v_max.shape
        inner_v = large.v_max[small.row0 - large.row0:, small.col0 - large.col0:][:h, :w]
        inner_d = large.distance_m[small.row0 - large.row0:, small.col0 - large.col0:][:h, :w]
        ok = np.isfinite(small.distance_m)
        assert ok.sum() > 0.7 * math.pi * (r / grid.resolution_m) ** 2
        np.testing.assert_array_equal(small.distance_m[ok], inner_d[ok])
        np.testing.assert_array_equal(small.v_max[ok], inner_v[ok])
    # beyond the fixed ray square (20 km = 223 cells of 90 m; the rays of 2H contain those of H): still the same
    cx, cy = centre(200, 200, 90.0)
    a = terrain.radial_sweep_serial(coarse.elevation, X0, Y0, 90.0, cx, cy, 30.0, 1.5, 9000.0, 0.17, 4 / 3)
    b = terrain.radial_sweep_serial(coarse.elevation, X0, Y0, 90.0, cx, cy, 30.0, 1.5, 25_000.0, 0.17, 4 / 3)
    h, w = a[3].shape
    ok = np.isfinite(a[2])
    np.testing.assert_array_equal(a[3][ok], b[3][a[0] - b[0]:a[0] - b[0] + h, a[1] - b[1]:a[1] - b[1] + w][ok])


# --- profile, hillshade, I/O ------------------------------------------------------------------------------------

def test_profile_is_bilinear_between_cell_centres():
    rows, cols = np.mgrid[0:20, 0:20]
    dem = make_dem((2.0 * cols + 3.0 * rows).astype(np.float32))  # a plane
    x0, y0 = centre(2, 2)
    x1, y1 = centre(12, 17)
    d, z = terrain.profile(dem, x0, y0, x1, y1, step_m=10)
    assert d[0] == 0 and d[-1] == pytest.approx(math.hypot(x1 - x0, y1 - y0))
    assert np.all(np.diff(d) <= 10 + 1e-9)
    expected = 2.0 * ((x0 + d / d[-1] * (x1 - x0) - X0) / RES - 0.5) + 3.0 * ((Y0 - (y0 + d / d[-1] * (y1 - y0)))
                                                                           / RES - 0.5)
    np.testing.assert_allclose(z, expected, atol=1e-3)
    _, outside = terrain.profile(dem, x0, y0, X0 - 100, y0)
    assert np.isnan(outside[-1]) and not np.isnan(outside[0])


def test_hillshade_lights_slopes_facing_the_sun():
    rows, cols = np.mgrid[0:20, 0:20]
    facing_nw = make_dem(((cols + rows) * 5.0).astype(np.float32))  # rises to the south-east: faces north-west
    facing_se = make_dem((-(cols + rows) * 5.0).astype(np.float32))
    flat = np.zeros((20, 20), np.float32)
    flat[0, 0] = np.nan
    lit, dark, level = (terrain.hillshade(d) for d in (facing_nw, facing_se, make_dem(flat)))
    assert lit[10, 10] > level[10, 10] > dark[10, 10]
    assert level[10, 10] == round(1 + 254 * math.sin(math.radians(45)))
    assert level[0, 0] == 0 and lit.dtype == np.uint8


def test_write_then_read_round_trip(tmp_path, caplog):
    z = fractal(600, seed=2)
    z[:5, :5] = np.nan
    dem = make_dem(z)
    path = terrain.write_raster(tmp_path / "out" / "dem.tif", z, dem, nodata=-9999.0, dtype="float32")
    assert sorted(p.name for p in path.parent.iterdir()) == ["dem.tif"]  # no temporary file left
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 9205 and src.block_shapes[0] == (256, 256)
        assert src.overviews(1) == [2] and src.compression.name == "deflate"
    back = terrain.read_dem(path)
    np.testing.assert_array_equal(back.elevation, z)
    assert back.crs.to_epsg() == 9205 and back.resolution_m == RES and back.transform == dem.transform
    with caplog.at_level(logging.INFO, logger="ictgis.terrain"):
        coarse = terrain.read_dem(path, resolution_m=60)
    assert coarse.shape == (300, 300) and coarse.resolution_m == 60
    assert "resampled DEM dem.tif from 30.00 m to 60.00 m" in caplog.text
    assert coarse.elevation[100, 100] == pytest.approx(z[200:202, 200:202].mean(), rel=1e-5)


def test_read_dem_refuses_geographic_rasters(tmp_path):
    path = tmp_path / "geo.tif"
    with rasterio.open(path, "w", driver="GTiff", height=4, width=4, count=1, dtype="float32", crs="EPSG:4326",
                       transform=Affine(0.001, 0, 103, 0, -0.001, 21.5)) as dst:
        dst.write(np.zeros((1, 4, 4), np.float32))
    with pytest.raises(CRSError, match="geographic"):
        terrain.read_dem(path)


def test_write_raster_by_strips_writes_every_row_nodata_and_dtype(tmp_path):
    """Rows past the first strips, NaN in a last partial strip, float64 written as float32, a window of the grid."""
    rows = 2 * terrain.dem.STRIP_ROWS + 37
    z = fractal(rows, seed=5).astype(np.float64)
    z[-3:, 10:20] = np.nan
    z[terrain.dem.STRIP_ROWS - 1: terrain.dem.STRIP_ROWS + 1, 0] = np.nan  # across a strip boundary
    dem = make_dem(z.astype(np.float32))
    path = terrain.write_raster(tmp_path / "z.tif", z, dem, nodata=-9999.0, dtype="float32", overviews=False)
    with rasterio.open(path) as src:
        back = src.read(1)
        assert src.dtypes[0] == "float32" and src.nodata == -9999.0
    np.testing.assert_array_equal(back, np.where(np.isnan(z), -9999.0, z).astype(np.float32))
    part = np.arange(300 * 7, dtype=np.int64).reshape(300, 7) - 5
    win = terrain.write_raster(tmp_path / "w.tif", part, dem, nodata=-1, dtype="int32", window=(5, 9))
    with rasterio.open(win) as src:
        np.testing.assert_array_equal(src.read(1), part.astype(np.int32))
        assert src.transform == dem.transform @ Affine.translation(9, 5)


def test_write_raster_checks_the_grid(tmp_path):
    dem = make_dem(np.zeros((4, 4), np.float32))
    with pytest.raises(LayerError, match="does not match"):
        terrain.write_raster(tmp_path / "x.tif", np.zeros((3, 3)), dem, nodata=0, dtype="uint8")
    assert not list(tmp_path.iterdir())


def test_warm_up_reports_its_time():
    assert terrain.warm_up() >= 0.0


def test_ray_limits_keep_the_rays_a_joining_ray_copies():
    from ictgis.terrain.sweep_kernels import ray_limits

    # H = 8: rays 0 and 8 from the start, 4 joins at column 2, 2 and 6 at 3, the odd rays at 5 (each copying j - step)
    group_lim = np.zeros(8, np.int64)
    group_lim[3] = 10  # only ray 3 is needed, out to column 10
    lim = ray_limits(group_lim, 8, 8)
    assert lim.tolist() == [2, 0, 4, 10, 0, 0, 0, 0, 0]


def test_reading_a_dem_imports_no_numba():
    # ictgis.terrain imports its numba modules (kernels, sweeps, viewsheds) on first use of one of their names
    probe = ("import sys\nfrom ictgis.terrain import Dem, read_dem, write_raster\nbefore = 'numba' in sys.modules\n"
             "from ictgis.terrain import NODATA, viewshed\nprint(before, 'numba' in sys.modules, NODATA)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "255"]


def test_write_windows_writes_what_write_raster_writes_for_each_window(tmp_path):
    dem = make_dem(fractal(64, seed=5))
    rng = np.random.default_rng(2)
    windows = [(0, 0, rng.integers(0, 2, (9, 12)).astype(np.uint8)), (40, 50, np.full((24, 14), 255, np.uint8)),
               (5, 7, np.where(rng.random((300, 260)) < 0.3, 255, 1).astype(np.uint8))]
    paths = [tmp_path / "many" / f"w{k}.tif" for k in range(len(windows))]
    (tmp_path / "many").mkdir()
    assert terrain.write_windows(paths, windows, dem, nodata=255, dtype="uint8") == paths
    for k, (row0, col0, values) in enumerate(windows):
        one = terrain.write_raster(tmp_path / f"one{k}.tif", values, dem, nodata=255, dtype="uint8",
                                   window=(row0, col0), overviews=False, compress="packbits")
        with rasterio.open(paths[k]) as got, rasterio.open(one) as want:
            assert got.profile == want.profile
            assert got.transform == dem.transform @ Affine.translation(col0, row0)
            assert got.crs.to_epsg() == 9205 and got.nodata == 255 and got.compression.name == "packbits"
            assert got.overviews(1) == []
            np.testing.assert_array_equal(got.read(1), values)
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == ["w0.tif", "w1.tif", "w2.tif"]  # no temp file
    floats = [(3, 4, np.array([[1.5, np.nan], [np.nan, 2.0]]))]
    terrain.write_windows([tmp_path / "f.tif"], floats, dem, nodata=-9999.0, dtype="float32", compress=None)
    with rasterio.open(tmp_path / "f.tif") as src:
        assert src.read(1).tolist() == [[1.5, -9999.0], [-9999.0, 2.0]] and src.compression is None
