"""The shared database (`ictgis.store`): import, reading for analyses, as-of queries, on both backends.

1. Import of the whole demo (``data/shapefiles``: validation included) into a new GeoPackage store (goal ≤ 10 s)
   and a new PostGIS store (goal ≤ 15 s).
2. Indicators from the store (``Store.dataset`` + ``indicators.compute``) vs from the files (``io.load`` +
   ``indicators.compute``): goal ≤ 1.5× (median of 3).
3. As-of query of the villages layer when it holds 10,000 historical versions (7 imports, each changing every
   village): ``Store.layer("villages", as_of=…)``, goal ≤ 200 ms (median of 5).
4. ``history_chart`` (GeoPackage only): the biến động page's charts of key indicators over time on the demo with 10
   changesets (the import, then 9 edits on the map, each of one village, BTS site or post office): the first render
   of ``/bien-dong`` by a new app (cold caches; Flask's test client, no browser), and the milliseconds per chart
   point the first time (`web.history.headline_at`) against the previous design, a full
   ``indicators.compute(store.dataset(as_of=…))`` per point.

PostGIS: ``DATABASE_URL`` when it names a PostgreSQL database, else a throwaway server started from Debian's
``postgresql-15`` + ``postgresql-15-postgis-3`` (as root through ``tests/pg_ctl_unprivileged.sh``); without them the
PostGIS lines say ``skipped``. One JSON line per measure on stdout: {"bench", "backend", "ours_s", "peer",
"peer_s", "ratio", "goal", "ok"}. Run: ``python benchmarks/bench_store.py`` (``--history-only``: only 4).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from _common import emit, load_average, median_time

from ictgis import indicators, io
from ictgis.store import open_store

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "shapefiles"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
WRAPPER = ROOT / "tests" / "pg_ctl_unprivileged.sh"


@contextlib.contextmanager
def postgis_server():
    """Yield a base URL ``postgresql://user@host:port`` of a PostgreSQL with PostGIS, or None."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        yield url.rsplit("/", 1)[0]
        return
    if not (PG_BIN / "pg_ctl").exists() or not Path("/usr/share/postgresql/15/extension/postgis.control").exists():
        yield None
        return
    from pytest_postgresql.executors.proc import PostgreSQLExecutor

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = Path(tempfile.mkdtemp(prefix="ictgis-bench-pg-"))
    os.environ.setdefault("ICTGIS_PG_CTL", str(PG_BIN / "pg_ctl"))
    server = PostgreSQLExecutor(executable=str(WRAPPER), host="127.0.0.1", port=port, datadir=str(tmp / "data"),
                                unixsocketdir="/tmp", logfile=str(tmp / "pg.log"), startparams="-w", dbname="x",
                                user="postgres")
    server.start()
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def new_postgis(base: str, name: str) -> str:
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(f"{base}/{name}", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return f"{base}/{name}"


def bench_backend(backend: str, make_url) -> None:
    def fresh_import():
        url = make_url()
        with open_store(url) as store:
            store.init()
            t0 = time.perf_counter()
            store.import_dataset(DEMO, author="bench", message="demo")
            return time.perf_counter() - t0, url

    runs = [fresh_import() for _ in range(3)]
    import_s = sorted(t for t, _ in runs)[1]
    goal = 10.0 if backend == "gpkg" else 15.0
    emit({"bench": "store_import_demo", "backend": backend, "ours_s": round(import_s, 3), "peer": None,
          "peer_s": None, "ratio": None, "goal": f"≤ {goal:g} s", "ok": import_s <= goal, "load": load_average()})

    url = runs[-1][1]
    with open_store(url) as store:
        store_s, _, a = median_time(lambda: indicators.compute(store.dataset()))
        files_s, _, b = median_time(lambda: indicators.compute(io.load(DEMO)))
        a.pop("data_dir"), b.pop("data_dir")
        ratio = store_s / files_s
        emit({"bench": "store_indicators", "backend": backend, "ours_s": round(store_s, 3),
              "peer": "io.load(data/shapefiles) + indicators.compute", "peer_s": round(files_s, 3),
              "ratio": round(ratio, 2), "goal": "≤ 1.5×", "ok": ratio <= 1.5 and a == b, "same_result": a == b})

        ds = io.load(DEMO)
        ids = []
        for i in range(1, 8):  # 7 imports changing every village: 1,444 × 7 = 10,108 historical versions
            work = ds.copy()
            work.layers["villages"]["population"] = work["villages"]["population"] + i
            ids.append(store.import_dataset(work, author="bench", message=f"census {i}").id)
        with store.reading() as conn:
            t = store.layer_tables["villages"]
            import sqlalchemy as sa

            versions = conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
        mid = ids[3]
        as_of_s, _, frame = median_time(lambda: store.layer("villages", as_of=mid), repeats=5)
        ok = as_of_s <= 0.2 and len(frame) == 1444 and int(frame["population"].sum()) == int(
            ds["villages"]["population"].sum()) + 4 * 1444
        emit({"bench": "store_as_of_villages", "backend": backend, "ours_s": round(as_of_s, 4), "peer": None,
              "peer_s": None, "ratio": None, "goal": "≤ 0.2 s", "ok": ok, "versions": versions})


def history_store(url: str, *, edits: int = 9) -> list[int]:
    """Import the demo into a new store, then make `edits` edits (villages, BTS sites, post offices in turn)."""
    with open_store(url) as store:
        store.init()
        store.import_dataset(DEMO, author="bench", message="demo")
        frames = {name: store.layer(name) for name in ("villages", "bts_sites", "post_offices")}
        for i in range(edits):
            name = ("villages", "bts_sites", "post_offices")[i % 3]
            row = frames[name].iloc[10 + 7 * i]
            if name == "villages":
                change = {"fiber": not bool(row["fiber"])}
            elif name == "bts_sites":
                change = {"tech": "2G,3G,4G,5G"}
            else:
                change = {"name": f"{row['name']} (sửa {i})"}
            store.edit(name, row["feature_key"], expected_version=int(row["version"]), author="bench",
                       message=f"edit {i}", attributes=change)
        return [c.id for c in store.log()]


def bench_history_chart(tmp: Path) -> None:
    """The charts of the biến động page: first render and ms per point (see the module docstring, 4)."""
    try:
        from ictgis_web import create_app, history
    except ImportError as exc:
        emit({"bench": "history_chart", "skipped": f"the web app is not importable ({exc})"})
        return
    url = str(tmp / "history.gpkg")
    ids = history_store(url)
    dem = tmp / "dem"
    with open_store(url) as store:
        indicators.compute(store.dataset(dem_dir=dem))  # the DEM file written once, outside the timing
        full = []
        for number in ids:
            t0 = time.perf_counter()
            indicators.compute(store.dataset(as_of=number, dem_dir=dem))
            full.append(time.perf_counter() - t0)

    def new_app(name: str):
        return create_app({"TESTING": True, "SECRET_KEY": "bench", "INSTANCE_PATH": str(tmp / name),
                           "STORE_URL": url, "PRECOMPUTE": False})

    app = new_app("page")
    client = app.test_client()
    t0 = time.perf_counter()
    first = client.get("/bien-dong")
    first_s = time.perf_counter() - t0
    again_s, _, _ = median_time(lambda: client.get("/bien-dong"))
    points = []
    if hasattr(history, "headline_at"):
        app = new_app("points")
        with app.app_context():
            store = history.app_store()
            for number in ids:
                t0 = time.perf_counter()
                history.headline_at(store, number)
                points.append(time.perf_counter() - t0)
    ours_ms = round(1000 * statistics.median(points), 1) if points else None
    peer_ms = round(1000 * statistics.median(full), 1)
    emit({"bench": "history_chart", "backend": "gpkg", "changesets": len(ids), "status": first.status_code,
          "first_render_s": round(first_s, 3), "again_s": round(again_s, 3), "ours_ms_per_point": ours_ms,
          "ours_first_point_ms": round(1000 * points[0], 1) if points else None,
          "peer": "indicators.compute(store.dataset(as_of=...)) per point", "peer_ms_per_point": peer_ms,
          "ratio": round(peer_ms / ours_ms, 1) if ours_ms else None, "load": load_average()})


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="ictgis-bench-store-") as tmp:
        if "--history-only" in sys.argv:
            bench_history_chart(Path(tmp))
            return 0
        counter = iter(range(100))
        bench_backend("gpkg", lambda: str(Path(tmp) / f"s{next(counter)}.gpkg"))
        bench_history_chart(Path(tmp))
        with postgis_server() as base:
            if base is None:
                emit({"bench": "store_postgis", "backend": "postgis", "skipped": "PostgreSQL 15 + PostGIS not "
                      "installed (apt-get install postgresql-15 postgresql-15-postgis-3)"})
                return 0
            numbers = iter(range(100))
            bench_backend("postgis", lambda: new_postgis(base, f"ictgis_bench_{next(numbers)}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
