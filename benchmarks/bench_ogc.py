"""OGC API – Features at /ogc/ (issue 14 §5): an items page of 1,000 villages, and many clients reading at once.

The server is a real ``ictgis serve`` process (waitress, ``--threads 8``) on the data folder (default: the embedded
demo, 1,444 villages), with ``PRECOMPUTE = False`` in its instance config so that background coverage runs do not
share the two cores with the load; the clients are threads of this process.

Prints JSON lines like the other benchmarks::

    {"bench": "ogc_items_page", "features": 1000, "cold_s": ..., "median_ms": ..., "p95_ms": ..., "bytes": ...}
    {"bench": "ogc_load", "clients": 50, "seconds": 60, "requests": ..., "errors": 0, "p50_ms": ..., "p95_ms": ...}

``ogc_items_page``: ``/ogc/collections/villages/items?limit=1000`` — the first request (building the layer index and
pygeoapi's configuration for the served dataset) as ``cold_s``, then ``--repeats`` (20) warm requests, one at a time
(``median_ms``: the same page again, from the answer cache), and ``--repeats`` pages not asked before
(``uncached_*``: ``offset`` 1, 2, …). Target: ≤ 300 ms. ``ogc_load``: ``--clients`` (50) closed-loop clients for
``--load-seconds`` (60) over a mix of what QGIS and GDAL ask (landing page, collections, pages of 100 and 1,000
villages at every offset, bbox windows, single features, other layers), **while a planner saves edits**: a logged-in
planner changes a BTS site's power source through the map's edit API (``PATCH /api/features/bts_sites/<id>`` with
the version it read) every ``--edit-interval`` seconds (5), each a changeset of the server's store; every edit makes
the server read the new state and the OGC answers start again from cold. Target: 0 errors (reads and edits), p95 of
the reads ≤ 500 ms; the edits' count, failures and latency are reported beside them (``edits``, ``edit_errors``,
``edit_p95_ms``).

Usage: ``python benchmarks/bench_ogc.py [--data DIR] [--repeats 20] [--clients 50] [--load-seconds 60]
[--edit-interval 5]``.
"""

from __future__ import annotations

import argparse
import gzip
import http.cookiejar
import json
import logging
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import emit, load_average  # noqa: E402

logger = logging.getLogger("bench_ogc")


PLANNER = ("bench-planner", "bench-password-1")


def start_server(data_dir: Path, instance: Path, *, threads: int = 8) -> tuple[subprocess.Popen, str]:
    """Start ``ictgis serve`` on a free loopback port (a planner account made); return the process and its URL."""
    from ictgis_web.users import UserStore

    (instance / "config.py").write_text("PRECOMPUTE = False  # no background coverage runs during the load\n")
    UserStore(instance).add(*PLANNER, "planner")
    proc = subprocess.Popen([sys.executable, "-c", "from ictgis.cli import main; main()", "serve", "--data",
                             str(data_dir), "--port", "0", "--threads", str(threads), "--instance", str(instance)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    found = re.search(r"(http://[0-9.]+:[0-9]+)", line)
    if not found:
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    return proc, found.group(1)


def fetch(url: str) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Accept": "application/geo+json, application/json",
                                               "Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = resp.read()
        if resp.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return resp.status, body


def percentiles(latencies: list[float]) -> dict:
    """p50/p95/p99 in milliseconds (None without data)."""
    lat = sorted(latencies)
    pct = (lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1)) if lat else (lambda q: None)
    return {"p50_ms": pct(0.5), "p95_ms": pct(0.95), "p99_ms": pct(0.99)}


def items_page(base: str, *, repeats: int) -> dict:
    """Time the 1,000-village page: cold once, then warm `repeats` times."""
    url = f"{base}/ogc/collections/villages/items?limit=1000&f=json"
    t0 = time.perf_counter()
    status, body = fetch(url)
    cold = time.perf_counter() - t0
    doc = json.loads(body)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fetch(url)
        times.append(time.perf_counter() - t0)
    uncached = []
    for k in range(1, repeats + 1):  # a page not asked before (the answer cache cannot help): computed each time
        t0 = time.perf_counter()
        fetch(f"{url}&offset={k}")
        uncached.append(time.perf_counter() - t0)
    return {"bench": "ogc_items_page", "status": status, "features": doc["numberReturned"],
            "matched": doc["numberMatched"], "cold_s": round(cold, 3),
            "uncached_median_ms": round(1000 * statistics.median(uncached), 1),
            "uncached_p95_ms": percentiles(uncached)["p95_ms"],
            "median_ms": round(1000 * statistics.median(times), 1), **percentiles(times), "bytes": len(body),
            "target_ms": 300, "load_avg": load_average()}


def load_paths(base: str) -> list[str]:
    """What GIS clients ask, from the server's own answers: pages, bbox windows, single features."""
    doc = json.loads(fetch(f"{base}/ogc/collections/villages?f=json")[1])
    minx, miny, maxx, maxy = doc["extent"]["spatial"]["bbox"][0]
    matched = json.loads(fetch(f"{base}/ogc/collections/villages/items?limit=1&f=json")[1])["numberMatched"]
    ids = [f["id"] for f in json.loads(fetch(f"{base}/ogc/collections/villages/items?limit=50&f=json")[1])["features"]]
    paths = ["/ogc/", "/ogc/collections", "/ogc/collections/villages", "/ogc/collections/bts_sites/items?limit=1000",
             "/ogc/collections/post_offices/items", "/ogc/collections/communes/items?limit=200"]
    paths += [f"/ogc/collections/villages/items?limit=100&offset={o}" for o in range(0, matched, 100)]
    paths += [f"/ogc/collections/villages/items?limit=1000&offset={o}" for o in (0, 1000)]
    for k in range(8):  # windows of a quarter of the extent
        fx, fy = (k % 4) / 4, (k // 4) / 2
        x0, y0 = minx + fx * (maxx - minx), miny + fy * (maxy - miny)
        paths.append(f"/ogc/collections/villages/items?bbox={x0},{y0},{x0 + (maxx - minx) / 4},"
                     f"{y0 + (maxy - miny) / 2}&limit=1000")
    paths += [f"/ogc/collections/villages/items/{i}" for i in ids[:20]]
    return paths


class Planner:
    """A logged-in planner saving edits through the map's edit API (cookies, the CSRF token of the login page)."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.opener.open(base + "/login", timeout=60).read().decode()
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({"username": PLANNER[0], "password": PLANNER[1], "csrf_token": self.csrf})
        self.opener.open(base + "/login", body.encode(), timeout=60)
        page = self.opener.open(base + "/data/", timeout=60).read().decode()  # a login starts a new session
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        req = urllib.request.Request(self.base + path, method=method, data=None if body is None else
                                     json.dumps(body).encode(), headers={"Content-Type": "application/json",
                                                                         "Accept": "application/json",
                                                                         "X-CSRF-Token": self.csrf})
        with self.opener.open(req, timeout=60) as resp:
            return json.loads(resp.read())

    def edits(self, *, until: float, interval_s: float, sites: list[str], out: dict) -> None:
        """Toggle the power source of the sites in turn every `interval_s` seconds until `until`."""
        n = 0
        while time.monotonic() < until:
            key = sites[n % len(sites)]
            n += 1
            t0 = time.perf_counter()
            try:
                seen = self.call("GET", f"/api/features/bts_sites/{key}")
                power = "solar" if seen["attributes"].get("power") != "solar" else "grid"
                done = self.call("PATCH", f"/api/features/bts_sites/{key}", {
                    "expected_version": seen["version"], "message": f"bench edit {n}",
                    "attributes": {"power": power}})
                ok = done["feature"]["attributes"]["power"] == power
            except Exception:  # any failure counts as an error
                logger.exception("edit %d failed", n)
                ok = False
            out["latencies"].append(time.perf_counter() - t0)
            out["errors"] += 0 if ok else 1
            time.sleep(max(0.0, interval_s - (time.perf_counter() - t0)))


def load(base: str, *, clients: int, seconds: float, edit_interval_s: float = 5.0) -> dict:
    """Closed-loop clients over `load_paths` for `seconds` while a planner saves edits: errors and latencies."""
    paths = load_paths(base)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    sites = [f["id"] for f in json.loads(fetch(f"{base}/ogc/collections/bts_sites/items?limit=20&f=json")[1])
             ["features"]]
    planner = Planner(base)
    edits: dict = {"latencies": [], "errors": 0}
    end = time.monotonic() + seconds
    editor = threading.Thread(target=planner.edits, kwargs={"until": end, "interval_s": edit_interval_s,
                                                            "sites": sites, "out": edits}, daemon=True)
    if edit_interval_s > 0:
        editor.start()

    def client(i: int) -> None:
        n = i * 7
        while time.monotonic() < end:
            path = paths[n % len(paths)]
            n += 1
            t0 = time.perf_counter()
            try:
                ok = fetch(base + path)[0] == 200
            except Exception:  # any failure counts as an error
                ok = False
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                errors[0] += 0 if ok else 1

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(client, range(clients)))
    elapsed = time.monotonic() - started
    if editor.is_alive() or edit_interval_s > 0:
        editor.join(timeout=120)
    return {"bench": "ogc_load", "clients": clients, "seconds": round(elapsed, 1), "urls": len(paths),
            "requests": len(latencies), "errors": errors[0], "rps": round(len(latencies) / elapsed, 1),
            **percentiles(latencies), "target_p95_ms": 500, "edits": len(edits["latencies"]),
            "edit_errors": edits["errors"], "edit_interval_s": edit_interval_s,
            "edit_p95_ms": percentiles(edits["latencies"])["p95_ms"], "load_avg": load_average()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print JSON lines."""
    from ictgis.io import default_data_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--edit-interval", type=float, default=5.0, help="seconds between a planner's edits (0: none)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as instance:
        proc, base = start_server(args.data, Path(instance))
        try:
            emit(items_page(base, repeats=args.repeats))
            if args.load_seconds > 0 and args.clients > 0:
                emit(load(base, clients=args.clients, seconds=args.load_seconds,
                          edit_interval_s=args.edit_interval))
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
