"""``postal``, ``coverage`` and ``fiber`` with ``--db`` give the results of the same data as files (both backends)."""

from __future__ import annotations

import json
from pathlib import Path

import pyogrio
import pytest
from click.testing import CliRunner
from conftest import tiny_layers, write_layers
from pandas.testing import assert_frame_equal
from test_coverage import write_dem

from ictgis.cli import main

CELLS = "site,cell,azimuth,tilt\nS1,S1-A,0,2\nS1,S1-B,180,4\nS2,S2-A,90,3\n"


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture()
def both(store_url, tmp_path) -> tuple[str, Path]:
    """The tiny province with a DEM and cells, as files and imported into a store."""
    folder = write_layers(tmp_path / "data", tiny_layers())
    write_dem(folder)
    (folder / "cells.csv").write_text(CELLS, encoding="utf-8")
    run("db", "init", "--db", store_url)
    run("db", "import", folder, "--db", store_url, "--author", "Lan", "--message", "base")
    return store_url, folder


def outputs(tmp_path: Path, command: str, url: str, folder: Path, *extra) -> tuple[Path, Path]:
    files, store = tmp_path / f"{command}-files", tmp_path / f"{command}-db"
    run(command, folder, "--out", files, *extra)
    run(command, "--db", url, "--as-of", "1", "--out", store, *extra)
    return files, store


def same_text(a: Path, b: Path, names: list[str]) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_postal_from_the_store_equals_from_files(both, tmp_path):
    url, folder = both
    files, store = outputs(tmp_path, "postal", url, folder)
    same_text(files, store, ["postal_communes.csv", "postal_villages.csv", "postal_summary.json"])
    assert json.loads((store / "postal_summary.json").read_text(encoding="utf-8"))


def test_coverage_from_the_store_equals_from_files(both, tmp_path):
    url, folder = both
    files, store = outputs(tmp_path, "coverage", url, folder, "--resolution-m", "300")
    same_text(files, store, ["rsrp_4g.tif", "server_4g.tif", "servers_4g.csv", "villages_4g.csv",
                             "communes_4g.csv"])
    a, b = (json.loads((d / "summary_4g.json").read_text(encoding="utf-8")) for d in (files, store))
    for d in (a, b):
        assert d.pop("compute_s") >= 0   # how long it took
    assert a == b and a["model"]["cells"]["transmitters"] == 3
    servers = (store / "servers_4g.csv").read_text(encoding="utf-8")
    assert "S1-A" in servers and "S1-B" in servers   # the cells came through the store


def test_fiber_from_the_store_equals_from_files(both, tmp_path):
    url, folder = both
    files, store = outputs(tmp_path, "fiber", url, folder)
    same_text(files, store, ["villages_ranked.csv"])
    a, b = (json.loads((d / "summary.json").read_text(encoding="utf-8")) for d in (files, store))

    def without_source(d):   # the routes' source names the file read: fiber_routes.shp, or <store>#fiber_routes
        return json.loads(json.dumps(d).replace("fiber_routes.shp", "SOURCE")
                          .replace(f"{Path(url).name}#fiber_routes", "SOURCE"))
    assert a != {} and without_source(a) == without_source(b)
    for layer in pyogrio.list_layers(files / "routes.gpkg")[:, 0]:
        assert_frame_equal(pyogrio.read_dataframe(files / "routes.gpkg", layer=layer),
                           pyogrio.read_dataframe(store / "routes.gpkg", layer=layer), check_like=False)
