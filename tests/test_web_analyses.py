"""The web app's background analyses: content keys, the bounded cache, the map providers."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import uuid

import geopandas as gpd
import numpy as np
from conftest import tiny_layers, write_layers
from test_coverage import write_dem

from ictgis import fiber, io, maps
from ictgis_web import analyses


def unique_folder(tmp_path, name="d", *, dem=True, layers=None):
    """The tiny province, plus a file and a road name that make its content (and so its cache key) its own.

    The road name makes it its own also when served from a store (keyed by the layers' content, not the files).
    """
    layers = layers or tiny_layers()
    if "roads" in layers:
        layers["roads"] = layers["roads"].copy()
        layers["roads"].loc[layers["roads"].index[-1], "name"] = f"DH {uuid.uuid4().hex[:8]}"
    folder = write_layers(tmp_path / name, layers)
    if dem:
        write_dem(folder)
    (folder / "README.txt").write_text(f"test {uuid.uuid4()}", encoding="utf-8")
    return folder


def test_content_key_follows_bytes_not_places_or_times(tmp_path):
    folder = unique_folder(tmp_path, dem=False)
    ds = io.load(folder)
    key = analyses.content_key(ds)
    assert key is not None and len(key) == 40
    twin = shutil.copytree(folder, tmp_path / "twin")  # same bytes, another folder, other times
    for path in twin.iterdir():
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    assert analyses.content_key(io.load(twin)) == key
    notes = twin / "README.txt"
    text = notes.read_text(encoding="utf-8")
    notes.write_text(text[:-1] + ("0" if text[-1] != "0" else "1"), encoding="utf-8")  # same size, new bytes
    assert analyses.content_key(io.load(twin)) != key
    assert analyses.content_key(ds.copy()) is None  # a changed copy is not the content of its files


def test_content_key_counts_a_dem_outside_the_folder(tmp_path):
    folder = unique_folder(tmp_path, dem=True)
    outside = tmp_path / "terrain"
    outside.mkdir()
    shutil.move(folder / "dem.tif", outside / "dem.tif")
    (folder / "layers.yaml").write_text(f"layers:\n  dem:\n    file: {outside / 'dem.tif'}\n", encoding="utf-8")
    ds = io.load(folder)
    assert ds.dem_path is not None and (outside / "dem.tif").resolve() in analyses.dataset_files(ds)
    key = analyses.content_key(ds)
    with open(outside / "dem.tif", "ab") as fh:
        fh.write(b"\0")
    assert analyses.content_key(ds) != key


def test_providers_compute_in_the_background(tmp_path):
    ds = io.load(unique_folder(tmp_path))
    before = analyses.generation()
    assert analyses.villages_covered_4g(ds) is None  # new content: started, answers at once
    result = analyses.coverage_result(ds, "4G", wait=True)
    assert result is not None and result.technology == "4G"
    assert analyses.generation() > before
    flags = analyses.villages_covered_4g(ds)
    assert flags.index.equals(ds["villages"].index) and flags.dtype == bool
    assert flags.to_numpy().tolist() == result.villages["covered"].tolist()
    pct = analyses.commune_populated_area_4g_pct(ds)
    assert set(pct) == set(ds["communes"]["code"])
    png, bounds = analyses.overlay_4g(ds)
    assert png.startswith(b"\x89PNG") and bounds[0][0] < bounds[1][0] and bounds[0][1] < bounds[1][1]
    assert analyses.overlay_4g(ds)[0] is png  # rendered once


def test_changed_content_never_gets_an_old_result(tmp_path):
    first = io.load(unique_folder(tmp_path, "a"))
    assert analyses.coverage_result(first, "4G", wait=True) is not None
    layers = tiny_layers()
    layers["bts_sites"] = layers["bts_sites"].iloc[[0]]  # one 4G site instead of two
    second = io.load(unique_folder(tmp_path, "b", layers=layers))
    del first  # its memory may be reused: the cache is keyed by content, not by object ids
    assert analyses.coverage_result(second, "4G") is None
    result = analyses.coverage_result(second, "4G", wait=True)
    assert result.site_ids == ["S1"]


def test_no_results_for_data_without_dem_or_for_changed_copies(tmp_path):
    ds = io.load(unique_folder(tmp_path, dem=False))
    assert analyses.coverage_result(ds, wait=True) is None and analyses.overlay_4g(ds) is None
    with_dem = io.load(unique_folder(tmp_path, "dem"))
    assert analyses.coverage_result(with_dem.copy(), wait=True) is None


def test_the_cache_is_bounded_least_recently_used_first():
    tag = uuid.uuid4().hex
    for i in range(analyses.MAX_RESULTS + 1):
        assert analyses.background((tag, i), lambda i=i: i * 10, wait=True) == i * 10
    assert analyses.background((tag, analyses.MAX_RESULTS), lambda: -1) == analyses.MAX_RESULTS * 10  # kept
    assert analyses.background((tag, 0), lambda: -1) is None  # dropped: computed again
    assert analyses.wait_idle(timeout_s=60)
    assert analyses.background((tag, 0), lambda: -2) == -1


def test_a_failed_computation_is_logged_and_tried_again(caplog):
    key = ("failing", uuid.uuid4().hex)

    def boom():
        raise RuntimeError("no luck")

    with caplog.at_level(logging.ERROR, logger="ictgis_web.analyses"):
        assert analyses.background(key, boom, wait=True) is None
    assert "failing" in caplog.text and "no luck" in caplog.text
    assert analyses.background(key, lambda: "ok", wait=True) == "ok"


def test_computations_run_on_one_daemon_worker():
    names = []
    assert analyses.background(("thread", uuid.uuid4().hex),
                               lambda: names.append(threading.current_thread()) or 1, wait=True) == 1
    worker = names[0]
    assert worker is not threading.current_thread() and worker.daemon and worker.name == "ictgis-analyses"


def test_planned_routes_provider_is_the_engine_plan(tmp_path):
    ds = io.load(unique_folder(tmp_path, dem=False))
    routes = analyses.planned_routes(ds, wait=True)
    expected = fiber.planned_routes(ds)
    assert isinstance(routes, gpd.GeoDataFrame) and len(routes) == len(expected) > 0
    assert routes["id"].str.startswith("PLAN-").all() and (routes["kind"] == "planned").all()
    np.testing.assert_allclose(routes["length_km"], np.round(expected["length_m"] / 1000.0, 2))
    no_roads = io.load(unique_folder(tmp_path, "noroads", dem=False,
                                     layers={k: v for k, v in tiny_layers().items() if k != "roads"}))
    assert analyses.planned_routes(no_roads, wait=True) is None and fiber.planned_routes(no_roads) is None


def test_map_providers_are_plain_functions_of_known_keys():
    providers = analyses.MAP_PROVIDERS
    assert set(providers.overlays) == set(maps.OVERLAYS)
    provided = {k for k, c in maps.CHOROPLETHS.items() if c.source is None}
    assert set(providers.choropleths) == provided == {"populated_area_4g_pct"}
    assert set(providers.village_status) <= set(maps.labels("vi"))
    for func in [*providers.overlays.values(), *providers.choropleths.values(), *providers.village_status.values()]:
        assert callable(func) and func.__module__ == "ictgis_web.analyses"


def test_engine_map_functions_without_providers_show_no_analysis(tmp_path):
    ds = io.load(unique_folder(tmp_path))
    assert maps.available_overlays(maps.NO_PROVIDERS) == []
    assert "populated_area_4g_pct" not in maps.choropleth_values(ds, {"communes": []})
    assert "g4" not in maps.display_layer(ds, "villages")
    assert maps.layer_geojson(ds, "fiber_planned") is None  # not a layer without its provider
    not_ready = maps.MapProviders(overlays={"fiber_planned": lambda d: None})
    empty = maps.layer_geojson(ds, "fiber_planned", providers=not_ready)
    assert json.loads(empty) == {"type": "FeatureCollection", "features": []}  # provider not ready: empty for now
