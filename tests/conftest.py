"""Shared fixtures: a tiny province built in code, the real public data of ../shared when present."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import threading
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

#: store_url (one store per backend: GeoPackage, PostGIS) and the PostgreSQL process, for the store's tests.
pytest_plugins = ["store_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "dienbien"
DEMO_DIR = ROOT / "data" / "shapefiles"


def _web_package_of_this_tree() -> None:
    """Make ``import ictgis_web`` load this tree's ``web/`` folder.

    An install (editable or not) maps ``web/`` to ``ictgis_web``; a source tree run with ``PYTHONPATH=<tree>``
    on another tree's environment would import no ``ictgis_web``, or that other tree's. Then a link
    ``build/dev-path/ictgis_web`` → ``web`` goes first on ``sys.path`` and on ``PYTHONPATH`` (for the servers and
    workers the tests start).
    """
    spec = importlib.util.find_spec("ictgis_web")
    if spec is not None and spec.origin and Path(spec.origin).resolve().parent == ROOT / "web":
        return
    folder = ROOT / "build" / "dev-path"
    link = folder / "ictgis_web"
    if not link.is_symlink():
        folder.mkdir(parents=True, exist_ok=True)
        link.symlink_to(ROOT / "web", target_is_directory=True)
    sys.path.insert(0, str(folder))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)
    importlib.invalidate_caches()


_web_package_of_this_tree()

X0, Y0 = 500_000.0, 2_360_000.0  # EPSG:9205, near Điện Biên Phủ
KM = 1000.0


def _square(ix: int, iy: int, size: float = 5 * KM) -> shapely.Polygon:
    return shapely.box(X0 + ix * size, Y0 + iy * size, X0 + (ix + 1) * size, Y0 + (iy + 1) * size)


def tiny_layers() -> dict[str, gpd.GeoDataFrame]:
    """Four communes (2 × 2 squares of 5 km), ten villages, four sites, two fiber routes, three post offices."""
    crs = "EPSG:9205"
    communes = gpd.GeoDataFrame(
        {"code": ["03124", "03127", "03316", "03325"],
         "name": ["Phường Noong Bua", "Phường Him Lam", "Xã Nà Tấu", "Xã Mường Phăng"],
         "district": ["Thành phố Điện Biên Phủ"] * 4,
         "population": [9000, 7000, 4000, 3000], "households": [2200, 1800, 900, 700],
         "radio": [1, 1, 0, 1]},
        geometry=[_square(0, 0), _square(1, 0), _square(0, 1), _square(1, 1)], crs=crs)
    pts = [(1, 1), (3, 2), (2, 4), (7, 1), (8, 3), (6, 4), (1, 6), (3, 8), (7, 7), (9, 9)]
    commune_of = ["03124", "03124", "03124", "03127", "03127", "03127", "03316", "03316", "03325", "03325"]
    villages = gpd.GeoDataFrame(
        {"id": [f"V{i:02d}" for i in range(1, 11)],
         "name": ["Bản Him", "Bản Mường Thanh", "Tổ dân phố 3", "Bản Kéo", "Bản Noọng Hẹt", "Bản Phủ",
                  "Bản Nà Tấu", "Bản Nà Nhạn", "Bản Mường Phăng", "Bản Pá Khoang"],
         "commune": commune_of,
         "population": [3000, 3000, 3000, 2500, 2500, 2000, 2000, 2000, 1500, 1500],
         "households": [700, 750, 750, 600, 600, 600, 450, 450, 350, 350],
         "fiber": [1, 1, 1, 1, 1, 0, 1, 0, 1, 0]},
        geometry=[shapely.Point(X0 + x * KM + 100, Y0 + y * KM + 100) for x, y in pts], crs=crs)
    bts = gpd.GeoDataFrame(
        {"id": ["S1", "S2", "S3", "S4"], "operator": ["Viettel", "VinaPhone", "MobiFone", "Viettel"],
         "tech": ["2G,3G,4G", "2G,3G", "2G,3G,4G,5G", "2G"], "band_mhz": [1800, 2100, 1800, 900],
         "height_m": [30, 35, 40, 20], "power": ["grid", "grid", "grid", "diesel"]},
        geometry=[shapely.Point(X0 + 2 * KM, Y0 + 2 * KM), shapely.Point(X0 + 7 * KM, Y0 + 2 * KM),
                  shapely.Point(X0 + 2 * KM, Y0 + 7 * KM), shapely.Point(X0 + 8 * KM, Y0 + 8 * KM)], crs=crs)
    fiber = gpd.GeoDataFrame(
        {"id": ["F1", "F2"], "kind": ["backbone", "distribution"], "install": ["aerial", "underground"]},
        geometry=[shapely.LineString([(X0, Y0 + 1 * KM), (X0 + 10 * KM, Y0 + 1 * KM)]),
                  shapely.LineString([(X0 + 1 * KM, Y0 + 1 * KM), (X0 + 1 * KM, Y0 + 7 * KM)])], crs=crs)
    post = gpd.GeoDataFrame(
        {"id": ["P1", "P2", "P3"], "name": ["Bưu cục cấp I Điện Biên Phủ", "Điểm BĐVHX Nà Tấu", "Hộp thư"],
         "kind": ["cap1", "bdvhx", "letterbox"], "commune": ["03124", "03316", "03127"]},
        geometry=[shapely.Point(X0 + 2.5 * KM, Y0 + 2.5 * KM), shapely.Point(X0 + 2 * KM, Y0 + 6 * KM),
                  shapely.Point(X0 + 6 * KM, Y0 + 2 * KM)], crs=crs)
    roads = gpd.GeoDataFrame(
        {"id": ["R1", "R2"], "road_class": ["national", "commune"], "name": ["QL279", ""]},
        geometry=[shapely.LineString([(X0, Y0 + 1.2 * KM), (X0 + 10 * KM, Y0 + 1.2 * KM)]),
                  shapely.LineString([(X0 + 1.2 * KM, Y0 + 1.2 * KM), (X0 + 1.2 * KM, Y0 + 9 * KM)])], crs=crs)
    return {"communes": communes, "villages": villages, "bts_sites": bts, "fiber_routes": fiber,
            "post_offices": post, "roads": roads}


def gso_grid(*, cell_m: float = 2 * KM, drop: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    """All 129 units of the official list as square communes on a 13-column grid, ordered by district.

    Units in `drop` (GSO codes) leave their square empty: a hole the size of a commune.
    """
    from ictgis import admin

    units = admin.units().sort_values(["dist_code", "code"]).reset_index(drop=True)
    cells = [shapely.box(X0 + (i % 13) * cell_m, Y0 + (i // 13) * cell_m, X0 + (i % 13 + 1) * cell_m,
                         Y0 + (i // 13 + 1) * cell_m) for i in range(len(units))]
    frame = gpd.GeoDataFrame({"code": units["code"], "name": units["name"], "district": units["district"],
                              "kind": units["kind"], "population": 1000}, geometry=cells, crs="EPSG:9205")
    return frame[~frame["code"].isin(drop)].reset_index(drop=True)


def write_layers(folder: Path, layers: dict[str, gpd.GeoDataFrame], *, suffix: str = ".shp") -> Path:
    """Write layers one file each, named after the layer."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in layers.items():
        kw = {"SPATIAL_INDEX": "NO"} if suffix == ".fgb" else {}  # FlatGeobuf reorders features otherwise
        frame.to_file(folder / f"{name}{suffix}", engine="pyogrio", **kw)
    return folder


@pytest.fixture(scope="session", autouse=True)
def _join_background_computations():
    """Let the web map's background computations finish before the interpreter exits."""
    yield
    import sys

    analyses = sys.modules.get("ictgis_web.analyses")  # only when a test imported the web app
    if analyses is not None:
        analyses.wait_idle(timeout_s=300)


@pytest.fixture()
def tiny() -> dict[str, gpd.GeoDataFrame]:
    return tiny_layers()


@pytest.fixture()
def tiny_dir(tmp_path: Path) -> Path:
    return write_layers(tmp_path / "tiny", tiny_layers())


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/data/dienbien is absent")
    return SHARED


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    if not (DEMO_DIR / "communes.shp").exists():
        pytest.skip("the embedded demo has not been generated")
    return DEMO_DIR


def stop_server(server) -> None:
    """Stop a waitress server whose loop runs in another thread (``threading.Thread(target=server.run)``).

    The listening socket is closed by the server's own loop, through its trigger: closed from this thread, the
    loop's ``select`` fails with EBADF in the server thread (an unhandled thread exception).
    """
    closed = threading.Event()

    def close() -> None:
        server.close()
        closed.set()

    server.trigger.pull_trigger(close)
    closed.wait(timeout=10)
    server.task_dispatcher.shutdown()


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def steiner_dp(graph, nodes) -> np.ndarray:
    """Dreyfus–Wagner table: ``dp[subset][v]`` = weight of the cheapest tree joining `nodes` in subset and node v.

    Exact; fine for up to about 10 nodes on small graphs (`graph`: an `ictgis.network.WGraph`).
    """
    from scipy.sparse import csgraph

    dist = csgraph.dijkstra(graph.matrix)
    k = len(nodes)
    dp = np.full((1 << k, graph.n), np.inf)
    for i, t in enumerate(nodes):
        dp[1 << i] = dist[t]
    for subset in range(1, 1 << k):
        if subset & (subset - 1):
            part = (subset - 1) & subset
            while part:
                if part < subset ^ part:
                    dp[subset] = np.minimum(dp[subset], dp[part] + dp[subset ^ part])
                part = (part - 1) & subset
            dp[subset] = (dp[subset][:, None] + dist).min(axis=0)
    return dp
