"""The shared database (`ictgis.store`): import, reading for analyses, as-of queries, on both backends.

1. Import of the whole demo (``data/shapefiles``: validation included) into a new GeoPackage store (goal ≤ 10 s)
   and a new PostGIS store (goal ≤ 15 s).
2. Indicators from the store (``Store.dataset`` + ``indicators.compute``) vs from the files (``io.load`` +
   ``indicators.compute``): goal ≤ 1.5× (median of 3).
3. As-of query of the villages layer when it holds 10,000 historical versions (7 imports, each changing every
   village): ``Store.layer("villages", as_of=…)``, goal ≤ 200 ms (median of 5).

PostGIS: ``DATABASE_URL`` when it names a PostgreSQL database, else a throwaway server started from Debian's
``postgresql-15`` + ``postgresql-15-postgis-3`` (as root through ``tests/pg_ctl_unprivileged.sh``); without them the
PostGIS lines say ``skipped``. One JSON line per measure on stdout: {"bench", "backend", "ours_s", "peer",
"peer_s", "ratio", "goal", "ok"}. Run: ``python benchmarks/bench_store.py``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
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


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="ictgis-bench-store-") as tmp:
        counter = iter(range(100))
        bench_backend("gpkg", lambda: str(Path(tmp) / f"s{next(counter)}.gpkg"))
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
