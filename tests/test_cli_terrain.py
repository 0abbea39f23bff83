"""``ictgis viewshed`` through click's CliRunner."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from click.testing import CliRunner

from ictgis import terrain
from ictgis.cli import main
from ictgis.crs import transformer

X0, Y0, RES = 500_000.0, 2_360_000.0, 30.0


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def centre(row: int, col: int) -> tuple[float, float]:
    return X0 + (col + 0.5) * RES, Y0 - (row + 0.5) * RES


@pytest.fixture(scope="module")
def dem_file(tmp_path_factory):
    rng = np.random.default_rng(4)
    z = (np.cumsum(np.cumsum(rng.normal(size=(80, 90)), 0), 1) * 2 + 500).astype(np.float32)
    dem = terrain.Dem.from_array(z, x_min=X0, y_max=Y0, resolution_m=RES)
    path = terrain.write_raster(tmp_path_factory.mktemp("dem") / "dem.tif", z, dem, nodata=None, dtype="float32")
    return path, dem


def test_one_observer_writes_the_viewshed_on_the_dem_grid(dem_file, tmp_path):
    path, dem = dem_file
    x, y = centre(40, 45)
    out = tmp_path / "vs.tif"
    result = run("viewshed", "--dem", path, "--x", x, "--y", y, "--height-m", 25, "--radius-m", 900, "--out", out)
    assert result.exit_code == 0, result.output
    assert "visible cells" in result.output
    with rasterio.open(out) as src:
        values = src.read(1)
        assert src.crs.to_epsg() == 9205 and src.transform == dem.transform and src.nodata == 255
    expected = terrain.viewshed(dem, x, y, observer_height_m=25, max_radius_m=900)
    np.testing.assert_array_equal(values, expected)


def test_sites_csv_writes_one_file_per_id(dem_file, tmp_path):
    path, dem = dem_file
    sites = tmp_path / "sites.csv"
    (xa, ya), (xb, yb) = centre(10, 10), centre(70, 80)
    sites.write_text(f"id,x,y,height_m\nBTS-1,{xa},{ya},30\nBTS_2,{xb},{yb},\n", encoding="utf-8")
    out = tmp_path / "views"
    result = run("viewshed", "--dem", path, "--sites", sites, "--height-m", 12, "--radius-m", 600, "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["BTS-1.tif", "BTS_2.tif"]
    with rasterio.open(out / "BTS_2.tif") as src:
        np.testing.assert_array_equal(src.read(1), terrain.viewshed(dem, xb, yb, observer_height_m=12,
                                                                    max_radius_m=600))
    cropped = tmp_path / "cropped"
    result = run("viewshed", "--dem", path, "--sites", sites, "--height-m", 12, "--radius-m", 600, "--out",
                 cropped, "--crop")
    assert result.exit_code == 0, result.output
    with rasterio.open(cropped / "BTS-1.tif") as src:
        window = src.read(1)
        row0, col0 = round((Y0 - src.transform.f) / RES), round((src.transform.c - X0) / RES)
    full = terrain.viewshed(dem, xa, ya, observer_height_m=30, max_radius_m=600)
    np.testing.assert_array_equal(window, full[row0:row0 + window.shape[0], col0:col0 + window.shape[1]])
    assert (window != 255).sum() == (full != 255).sum()


def test_sites_vector_layer_is_reprojected(dem_file, tmp_path):
    path, dem = dem_file
    x, y = centre(30, 30)
    lon, lat = transformer("EPSG:9205", "EPSG:4326").transform(x, y)
    layer = gpd.GeoDataFrame({"id": ["S1"], "height_m": [20.0]}, geometry=[shapely.Point(lon, lat)], crs=4326)
    layer.to_file(tmp_path / "sites.gpkg", engine="pyogrio")
    out = tmp_path / "views"
    result = run("viewshed", "--dem", path, "--sites", tmp_path / "sites.gpkg", "--radius-m", 600, "--out", out)
    assert result.exit_code == 0, result.output
    with rasterio.open(out / "S1.tif") as src:
        np.testing.assert_array_equal(src.read(1), terrain.viewshed(dem, x, y, observer_height_m=20,
                                                                    max_radius_m=600))


@pytest.mark.parametrize(("csv", "messages"), [
    ("id,x,y\nA,1,2\nB,{x},{y}\n", ["row 1 (id A)", "outside the DEM"]),
    ("id,a,b\nA,{x},{y}\n", ["sites.csv: a table layer needs lon/lat or x/y columns"]),
    ("x,y\n{x},{y}\n", ["required attribute 'id'"]),
    ("id,x,y\nA,{x},{y}\nA,{x},{y}\nB/1,{x},{y}\n", ["row 2 (id A), column id: duplicate id 'A' (first at row 1)",
                                                       "row 3, column id: id 'B/1' cannot name a file"]),
    ("id,x,y,height_m\nA,{x},{y},tall\nB,{x},{y},-3\n",
     ["row 1 (id A), column height_m: height_m is 'tall', expected a number",
      "row 2 (id B), column height_m: height_m -3 is negative"]),
])
def test_bad_sites_exit_2_with_every_problem(dem_file, tmp_path, csv, messages):
    path, _ = dem_file
    x, y = centre(5, 5)
    sites = tmp_path / "sites.csv"
    sites.write_text(csv.format(x=x, y=y), encoding="utf-8")
    result = run("viewshed", "--dem", path, "--sites", sites, "--height-m", 10, "--radius-m", 300, "--out",
                 tmp_path / "o")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for message in messages:
        assert message in result.output


def test_observer_outside_and_geographic_dem_exit_2(dem_file, tmp_path):
    path, _ = dem_file
    result = run("viewshed", "--dem", path, "--x", 0, "--y", 0, "--height-m", 10, "--radius-m", 300, "--out",
                 tmp_path / "o.tif")
    assert result.exit_code == 2 and "outside the DEM" in result.output
    geo = tmp_path / "geo.tif"
    with rasterio.open(geo, "w", driver="GTiff", height=4, width=4, count=1, dtype="float32", crs="EPSG:4326",
                       transform=Affine(0.001, 0, 103, 0, -0.001, 21.5)) as dst:
        dst.write(np.zeros((1, 4, 4), np.float32))
    result = run("viewshed", "--dem", geo, "--x", 103.001, "--y", 21.499, "--height-m", 10, "--radius-m", 300,
                 "--out", tmp_path / "o.tif")
    assert result.exit_code == 2 and "reproject" in result.output
    assert not (tmp_path / "o.tif").exists()


def test_usage_errors(dem_file, tmp_path):
    path, _ = dem_file
    result = run("viewshed", "--dem", path, "--radius-m", 300, "--out", tmp_path / "o.tif")
    assert result.exit_code == 2 and "--sites" in result.output


def test_plain_sites_csv_is_read_as_the_general_reader_reads_it(dem_file, tmp_path):
    from ictgis.terrain.observers import read_plain_csv

    _, dem = dem_file
    (xa, ya), (xb, yb) = centre(10, 12), centre(40, 70)
    text = f"x,id,y,height_m\n{xa},BTS-1,{ya},30\n{xb},BTS_2,{yb},\n"
    plain = tmp_path / "sites.csv"
    plain.write_text(text, encoding="utf-8")
    fast = read_plain_csv(plain, default_height_m=12)
    assert fast is not None
    upper = tmp_path / "upper.csv"  # other column names: the general reader (aliases), same values
    upper.write_text(text.replace("x,id,y", "X,ID,Y"), encoding="utf-8")
    assert read_plain_csv(upper, default_height_m=12) is None
    general = terrain.read_observers(upper, dem.crs, default_height_m=12)
    assert fast[0] == general[0] == ["BTS-1", "BTS_2"]
    for a, b in zip(fast[1:], general[1:], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fast[3], [30.0, 12.0])


@pytest.mark.parametrize("body", ["A,1,2\nA,3,4\n", "A,1,x\n", "A B,1,2\n", "A,1,2,3\n", "A,1e999,2\n", "A,1,2\n"])
def test_plain_csv_reader_leaves_every_doubtful_file_to_the_general_reader(tmp_path, body):
    from ictgis.terrain.observers import read_plain_csv

    path = tmp_path / "s.csv"
    path.write_text("id,x,y\n" + body, encoding="utf-8")
    # the last one is valid but has no height and no default
    assert read_plain_csv(path, default_height_m=None) is None


#: Modules the viewshed of a plain sites CSV does not need: the vector stack, the web stack, the other commands'
#: modules and the coverage kernels (python -X importtime shows what each costs).
NOT_ON_THE_VIEWSHED_PATH = ("geopandas", "pandas", "pyogrio", "shapely", "folium", "flask", "sqlalchemy",
                            "ictgis.cli.radio", "ictgis.cli.fiber", "ictgis.cli.data", "ictgis.cli.coverage",
                            "ictgis.radio", "ictgis.coverage", "ictgis.io", "ictgis.terrain.sweep_kernels",
                            "ictgis.terrain.sweeps")


def test_viewshed_of_a_sites_csv_imports_only_what_it_needs(dem_file, tmp_path):
    import subprocess
    import sys

    path, _ = dem_file
    (xa, ya), (xb, yb) = centre(10, 12), centre(40, 70)
    sites = tmp_path / "sites.csv"
    sites.write_text(f"id,x,y\nA,{xa},{ya}\nB,{xb},{yb}\n", encoding="utf-8")
    probe = ("import sys\nfrom ictgis.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
             "    assert not e.code, e.code\n"
             f"print(sorted(m for m in {NOT_ON_THE_VIEWSHED_PATH!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe, "viewshed", "--dem", str(path), "--sites", str(sites),
                          "--height-m", "10", "--radius-m", "300", "--crop", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["A.tif", "B.tif"]


def test_a_second_process_loads_the_compiled_kernel_from_numba_cache(dem_file, tmp_path):
    # cache=True: numba writes the compiled viewshed kernel beside its module (__pycache__, or NUMBA_CACHE_DIR when
    # that is read-only); a new process loads it instead of compiling again
    import os
    import subprocess
    import sys

    path, _ = dem_file
    x, y = centre(20, 30)
    env = os.environ | {"NUMBA_DEBUG_CACHE": "1"}
    logs = []
    for k in range(2):
        out = subprocess.run([sys.executable, "-c", "import sys; from ictgis.cli import main; main(sys.argv[1:])",
                              "viewshed", "--dem", str(path), "--x", str(x), "--y", str(y), "--height-m", "10",
                              "--radius-m", "300", "--out", str(tmp_path / f"{k}.tif")],
                             capture_output=True, text=True, env=env, check=True)
        logs.append(out.stdout + out.stderr)
    assert "data loaded from" in logs[1] and "viewshed_batch" in logs[1]
    assert "data saved to" not in logs[1]


def test_viewshed_pauses_the_cyclic_gc_and_gives_it_back(dem_file, tmp_path):
    import gc

    from ictgis.cli.terrain import paused_gc

    path, _ = dem_file
    x, y = centre(30, 30)
    assert gc.isenabled()
    result = run("viewshed", "--dem", path, "--x", x, "--y", y, "--height-m", 10, "--radius-m", 300, "--out",
                 tmp_path / "v.tif")
    assert result.exit_code == 0, result.output
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), paused_gc():
        assert not gc.isenabled()
        1 / 0  # noqa: B018
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # left as it was
    finally:
        gc.enable()
