"""Many anonymous requests at once against a real server (issue 10): it survives and every answer is valid.

The server is `ictgis serve` (waitress) in a child process, so a crash in a C library (PROJ, GEOS) fails the test
instead of killing pytest. Its data is the tiny province with wiggly commune borders and many road vertices, so
that every uncached layer request spends its time reprojecting.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import X0, Y0, tiny_layers, write_layers

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("communes", "roads", "villages")
THREADS = 16


def _wiggle(geoms: np.ndarray) -> np.ndarray:
    """Move every vertex by a smooth field (≤ 20 m): shared borders stay shared, polygons stay valid."""
    return shapely.transform(geoms, lambda xy: np.column_stack([xy[:, 0] + 20.0 * np.sin(xy[:, 1] / 37.0),
                                                                 xy[:, 1] + 20.0 * np.sin(xy[:, 0] / 41.0)]))


def busy_province(folder: Path) -> Path:
    """The tiny province (no DEM) with 8,000 commune border vertices and 300 roads of 400 vertices."""
    layers = tiny_layers()
    communes = layers["communes"]
    geoms = np.asarray(communes.geometry.values, dtype=object)
    communes = communes.set_geometry(gpd.GeoSeries(_wiggle(shapely.segmentize(geoms, 10.0)), crs=communes.crs))
    rng = np.random.default_rng(10)
    n, m = 300, 400
    xs = X0 + 200.0 + np.linspace(0.0, 9_600.0, m)
    lines = [shapely.LineString(np.column_stack([xs, Y0 + 300.0 + 31.0 * i + rng.normal(0.0, 40.0, m)]))
             for i in range(n)]
    roads = gpd.GeoDataFrame({"id": [f"R{i}" for i in range(n)], "road_class": ["commune"] * n,
                              "name": [f"Đường {i}" for i in range(n)]}, geometry=lines, crs=communes.crs)
    layers.update(communes=communes, roads=roads)
    return write_layers(folder, layers)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int | str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=120) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError as exc:  # refused, reset: the server is gone
        return type(exc).__name__, b""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("threads")
    data = busy_province(tmp / "data")
    port = _free_port()
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-c", "from ictgis.cli import main; main()", "serve", "--data",
                             str(data), "--port", str(port), "--threads", str(THREADS), "--instance",
                             str(tmp / "instance")], cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while _get(f"{base}/api/layers")[0] != 200:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the server did not start: {(tmp / 'server.log').read_text(errors='replace')}")
        time.sleep(0.3)
    yield {"base": base, "proc": proc, "log": tmp / "server.log"}
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def _polygons(geometry: dict) -> list[shapely.Geometry]:
    geom = shapely.from_geojson(json.dumps(geometry))
    return [geom] if geom.geom_type in ("Polygon", "MultiPolygon") else []


def test_uncached_layers_from_16_threads_keep_the_server_alive(server):
    urls = [f"{server['base']}/api/layers/{name}.geojson?zoom={zoom}&precision={precision}"
            for zoom in range(21) for precision in range(1, 8) for name in LAYERS]
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(_get, urls))
    alive = server["proc"].poll() is None
    log = server["log"].read_text(errors="replace")
    assert alive, f"the server died (exit {server['proc'].returncode}): {log[-2000:]}"
    failed = [(url, status, body[:200]) for url, (status, body) in zip(urls, answers, strict=True) if status != 200]
    assert failed == [], failed[:5]
    invalid = []
    for url, (_, body) in zip(urls, answers, strict=True):
        fc = json.loads(body)
        assert fc["type"] == "FeatureCollection"
        name = url.rsplit("/", 1)[1].split(".")[0]
        assert len(fc["features"]) == {"communes": 4, "roads": 300, "villages": 10}[name], url
        for feature in fc["features"]:
            if feature["geometry"] is not None:
                invalid += [(url, shapely.validation.explain_validity(p)) for p in _polygons(feature["geometry"])
                            if not p.is_valid]
    assert invalid == [], invalid[:5]
    # the fine zooms draw every commune
    fine = json.loads(answers[urls.index(f"{server['base']}/api/layers/communes.geojson?zoom=16&precision=6")][1])
    assert all(f["geometry"] is not None for f in fine["features"])
