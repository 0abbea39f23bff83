"""National runs (issue 16): a synthetic country of 2 provinces, coverage by tiles on Dask, indicators per province.

The country is built once per session at 500 m cells (coarse, so every coverage run takes seconds); the
single-process coverage is the reference every partitioned run must equal cell for cell and row for row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from click.testing import CliRunner

pytest.importorskip("distributed")

from ictgis import coverage as cov  # noqa: E402
from ictgis import indicators, io  # noqa: E402
from ictgis.cells import read_cells  # noqa: E402
from ictgis.cli import main  # noqa: E402
from ictgis.demo.country import ORIGIN_M, SLOT_M, write_country  # noqa: E402
from ictgis.national import run_coverage  # noqa: E402
from ictgis.national.provinces import split_provinces  # noqa: E402

RES = 500.0


@pytest.fixture(scope="session")
def country(tmp_path_factory) -> Path:
    return write_country(tmp_path_factory.mktemp("country") / "vn2", provinces=2, dem_resolution_m=RES)


@pytest.fixture(scope="session")
def dataset(country):
    return io.load(country)


@pytest.fixture(scope="session")
def single(dataset, tmp_path_factory) -> Path:
    """The single-process run: the reference."""
    result = cov.compute(dataset, technology="4G", progress=lambda f, m: None)
    return cov.write(result, tmp_path_factory.mktemp("single") / "out", kmz=False)


def _digest(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir()) if f.is_file()}


def _assert_same_coverage(reference: Path, out: Path, provinces: tuple[str, ...] = ("11", "12")) -> None:
    with rasterio.open(reference / "rsrp_4g.tif") as a, rasterio.open(out / "rsrp_4g.vrt") as b:
        assert a.transform == b.transform and a.shape == b.shape and a.crs == b.crs
        ra, rb = a.read(1), b.read(1)
    assert (ra > -9999).sum() > 1000
    np.testing.assert_array_equal(ra, rb)
    with rasterio.open(reference / "server_4g.tif") as a, rasterio.open(out / "server_4g.vrt") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))
    servers = pd.read_csv(out / "servers_4g.csv", dtype=str)
    assert (servers["cell_id"] != servers["site_id"]).mean() > 0.5  # sectors (cells.csv), not whole sites
    assert (pd.read_csv(out / "villages_4g.csv", dtype=str)["serving_cell"].str.count("-") == 2).any()
    for name in ("villages_4g.csv", "communes_4g.csv", "servers_4g.csv"):
        x = pd.read_csv(reference / name, dtype=str)
        y = pd.read_csv(out / name, dtype=str)
        if name != "servers_4g.csv":
            assert set(y["province"]) == set(provinces)
            y = y.drop(columns="province")
        pd.testing.assert_frame_equal(x, y)
    s1 = json.loads((reference / "summary_4g.json").read_text(encoding="utf-8"))
    s2 = json.loads((out / "summary_4g.json").read_text(encoding="utf-8"))
    for key in ("populated_area_pct", "villages_total", "villages_covered", "population_total", "population_covered",
                "sites", "grid"):
        assert s1[key] == s2[key], key
    assert sum(p["population_total"] for p in s2["provinces"].values()) == s2["population_total"]
    assert s2["landcover"] == "landcover.tif" and s2["transmitters"] > s2["sites"]


def test_country_is_deterministic(country, tmp_path):
    again = write_country(tmp_path / "again", provinces=2, dem_resolution_m=RES)
    assert _digest(again) == _digest(country)


def test_country_provinces_adjoin_without_overlap_and_ids_are_unique(dataset, country):
    communes = dataset["communes"]
    assert sorted(set(communes["province"])) == ["11", "12"]
    shapes = {code: shapely.union_all(part.geometry.values) for code, part in communes.groupby("province")}
    assert shapes["11"].intersection(shapes["12"]).area == 0
    assert shapes["11"].distance(shapes["12"]) < 30_000  # neighbours, in adjoining slots
    for code, col in (("11", 0), ("12", 1)):
        x0, y0, x1, y1 = shapes[code].bounds
        assert ORIGIN_M[0] + col * SLOT_M[0] <= x0 and x1 <= ORIGIN_M[0] + (col + 1) * SLOT_M[0]
        assert ORIGIN_M[1] - SLOT_M[1] <= y0 and y1 <= ORIGIN_M[1]
    assert len(communes) == 2 * 129 and communes["code"].is_unique
    assert all(len(c) == 5 and c.startswith(p) for c, p in zip(communes["code"], communes["province"], strict=True))
    for name in ("villages", "bts_sites", "post_offices", "fiber_routes", "roads"):
        layer = dataset[name]
        assert layer["id"].is_unique, name
        assert (layer["id"].str[:3] == layer["province"] + "-").all(), name
    villages = dataset["villages"]
    assert villages["commune"].isin(communes["code"]).all()
    with rasterio.open(country / "dem.tif") as dem:
        assert dem.profile["tiled"] and dem.profile["blockxsize"] == 512 and dem.compression.name == "deflate"
        assert dem.overviews(1)
        assert dem.crs.to_epsg() == 3405 and dem.res == (RES, RES)
        rows, cols = rasterio.transform.rowcol(dem.transform, *shapely.get_coordinates(
            villages.geometry.values).T)
        band = dem.read(1)
    assert (band[rows, cols] != dem.nodata).all()  # every village has ground under it


def test_validate_accepts_the_country(country):
    result = CliRunner().invoke(main, ["validate", str(country)])
    assert result.exit_code == 0, result.output
    assert "258 features" in result.output


def test_tiles_in_one_process_equal_the_single_process_run(dataset, single, tmp_path):
    summary = run_coverage(dataset, tmp_path / "t97", tile_size=97)
    assert summary["tiles"]["computed"] > 10
    _assert_same_coverage(single, tmp_path / "t97")


def test_resampled_tiles_equal_the_single_process_run(dataset, tmp_path):
    result = cov.compute(dataset, technology="4G", resolution_m=1000.0, progress=lambda f, m: None)
    cov.write(result, tmp_path / "ref", kmz=False)
    run_coverage(dataset, tmp_path / "tiled", resolution_m=1000.0, tile_size=64)
    _assert_same_coverage(tmp_path / "ref", tmp_path / "tiled")


def test_two_workers_equal_the_single_process_run(country, single, tmp_path):
    out = tmp_path / "w2"
    result = CliRunner().invoke(main, ["coverage", str(country), "--out", str(out), "--workers", "2",
                                       "--tile-size", "200"])
    assert result.exit_code == 0, result.output
    _assert_same_coverage(single, out)
    summary = json.loads((out / "summary_4g.json").read_text(encoding="utf-8"))
    assert summary["workers"]["count"] == 2 and summary["tiles"]["size_cells"] == 200
    assert all(v > 0 for v in summary["workers"]["warmup_s"].values())


@pytest.fixture
def dask_cluster(tmp_path):
    """A real `dask scheduler` and one `dask worker` process; yields the scheduler address."""
    bindir = Path(sys.executable).parent
    sfile = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([str(bindir / "dask"), "scheduler", "--port", "0", "--dashboard-address", ":0",
                               "--scheduler-file", str(sfile)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not sfile.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(sfile.read_text())["address"]
        procs.append(subprocess.Popen([str(bindir / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                       "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address) as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)


def test_scheduler_address_runs_on_an_existing_cluster(dask_cluster, country, single, tmp_path):
    out = tmp_path / "sched"
    result = CliRunner().invoke(main, ["coverage", str(country), "--out", str(out), "--scheduler", dask_cluster,
                                       "--tile-size", "300"])
    assert result.exit_code == 0, result.output
    _assert_same_coverage(single, out)


def test_indicators_per_province_on_two_workers(country, dataset):
    result = CliRunner().invoke(main, ["indicators", str(country), "--workers", "2", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output[result.output.index("{"):])
    assert sorted(out["provinces"]) == ["11", "12"]
    parts = split_provinces(dataset)
    for code, part in parts.items():
        expected = indicators.compute(part)
        got = out["provinces"][code]
        assert got["province"]["units_total"] == 129
        assert got["province"]["population"] == expected["province"]["population"]
        assert got["postal"] == json.loads(json.dumps(expected["postal"], ensure_ascii=False))
    total = sum(p["province"]["population"] for p in out["provinces"].values())
    assert total == int(dataset["communes"]["population"].sum())


def test_workers_and_scheduler_together_is_a_usage_error(country, tmp_path):
    result = CliRunner().invoke(main, ["coverage", str(country), "--out", str(tmp_path / "x"), "--workers", "1",
                                       "--scheduler", "tcp://127.0.0.1:1"])
    assert result.exit_code == 2 and "cannot be combined" in result.output


def test_34_provinces_fit_the_area_of_use_of_the_national_grid():
    from pyproj import CRS, Transformer

    from ictgis.demo.country import COUNTRY_CRS, PROVINCES, country_layout

    layout = country_layout(34)
    assert [code for code, _, _ in layout] == list(PROVINCES) and len(set(PROVINCES)) == 34
    assert {(c, r) for _, c, r in layout} == {(c, r) for c in range(4) for r in range(9)} - {(2, 8), (3, 8)}
    west, south, east, north = CRS.from_user_input(COUNTRY_CRS).area_of_use.bounds
    to_lonlat = Transformer.from_crs(COUNTRY_CRS, 4326, always_xy=True)
    for _, col, row in layout:
        xs = ORIGIN_M[0] + np.array([col, col + 1]) * SLOT_M[0]
        ys = ORIGIN_M[1] - np.array([row, row + 1]) * SLOT_M[1]
        lon, lat = to_lonlat.transform(*np.meshgrid(xs, ys))
        assert (lon > west - 0.2).all() and (lon < east + 0.2).all(), (col, row)
        assert (lat > south - 0.2).all() and (lat < north + 0.2).all(), (col, row)


def test_demo_provinces_and_communes_cannot_be_combined(tmp_path):
    communes = Path(__file__).resolve().parent.parent / "data" / "shapefiles" / "communes.shp"
    result = CliRunner().invoke(main, ["demo", "--provinces", "2", "--communes", str(communes),
                                       "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "cannot be combined" in result.output
    assert not (tmp_path / "x").exists()


def test_layers_yaml_working_crs_sets_the_national_grid(tmp_path):
    import shutil

    from ictgis._errors import LayerError

    src = Path(__file__).resolve().parent.parent / "data" / "shapefiles"
    for f in src.glob("communes.*"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "layers.yaml").write_text("working_crs: EPSG:3405\n", encoding="utf-8")
    ds = io.load(tmp_path)
    assert ds.crs.to_epsg() == 3405 and ds["communes"].crs.to_epsg() == 3405
    (tmp_path / "layers.yaml").write_text("working_crs: EPSG:99999\n", encoding="utf-8")
    with pytest.raises(LayerError) as err:
        io.load(tmp_path)
    assert "working_crs" in str(err.value) or any("working_crs" in str(p) for p in err.value.problems)


def test_country_has_cells_and_land_cover_per_province(country, dataset):
    cells = pd.read_csv(country / "cells.csv", dtype={"province": str})
    sites = dataset["bts_sites"].set_index("id")
    assert cells["site"].isin(sites.index).all() and cells["cell"].is_unique
    assert (cells["province"].to_numpy() == sites.loc[cells["site"], "province"].to_numpy()).all()
    assert sorted(set(cells["province"])) == ["11", "12"]
    assert (cells["cell"].str[:3] == cells["province"] + "-").all()
    with rasterio.open(country / "dem.tif") as dem, rasterio.open(country / "landcover.tif") as lc:
        assert lc.transform == dem.transform and lc.shape == dem.shape and lc.crs == dem.crs
        assert lc.dtypes[0] == "uint8" and lc.nodata == 0 and lc.profile["tiled"]
        z, classes = dem.read(1), lc.read(1)
    assert ((classes > 0) == (z != -32768)).all()  # land cover wherever there is ground, of each province
    assert {10, 40} <= set(np.unique(classes).tolist())
    villages = dataset["villages"]
    rows, cols = rasterio.transform.rowcol(dem.transform, villages.geometry.x, villages.geometry.y)
    at = pd.Series(classes[rows, cols], index=villages["province"].to_numpy())
    assert (at > 0).all() and sorted(set(at.index)) == ["11", "12"]  # every village of each province has its class
    assert (at == 40).groupby(level=0).mean().min() > 0.3  # fields around villages, in each province


def test_tiles_use_the_cells_and_the_land_cover(single, tmp_path, dataset):
    reference = json.loads((single / "summary_4g.json").read_text(encoding="utf-8"))
    assert reference["model"]["cells"]["sectors"] > reference["sites"]
    assert reference["model"]["landcover"]["source"] == "landcover.tif"
    # a dataset as a store gives it: no data folder, the cells table and the land-cover file carried along
    country = dataset.data_dir
    as_store = dataclasses.replace(dataset, data_dir=None, landcover_path=country / "landcover.tif",
                                   cells=read_cells(country / "cells.csv"))
    summary = run_coverage(as_store, tmp_path / "store", tile_size=150)
    assert summary["transmitters"] == reference["model"]["cells"]["transmitters"]
    assert summary["landcover"] == "landcover.tif"
    _assert_same_coverage(single, tmp_path / "store")
    # and without them the map is another one: the comparison above can fail
    bare = dataclasses.replace(as_store, cells=None, landcover_path=None)
    run_coverage(bare, tmp_path / "bare", tile_size=150)
    with rasterio.open(single / "rsrp_4g.tif") as a, rasterio.open(tmp_path / "bare" / "rsrp_4g.vrt") as b:
        assert (a.read(1) != b.read(1)).mean() > 0.01


def test_four_provinces_from_the_cli_on_two_workers_equal_one_process(tmp_path):
    """The issue's check as a planner runs it: ``ictgis demo --provinces 4`` then ``coverage --workers 2``."""
    country = tmp_path / "vn4"
    made = CliRunner().invoke(main, ["demo", "--provinces", "4", "--dem-resolution-m", "1000", "--out", str(country)])
    assert made.exit_code == 0, made.output
    one, two = tmp_path / "one", tmp_path / "two"
    for out, extra in ((one, []), (two, ["--workers", "2", "--tile-size", "128"])):
        result = CliRunner().invoke(main, ["coverage", str(country), "--tech", "4g", "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
    _assert_same_coverage(one, two, provinces=("11", "12", "14", "15"))
    summary = json.loads((two / "summary_4g.json").read_text(encoding="utf-8"))
    assert sorted(summary["provinces"]) == ["11", "12", "14", "15"] and summary["workers"]["count"] == 2
