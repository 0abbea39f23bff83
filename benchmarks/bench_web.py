"""Web map page: weight and first render in headless Chromium, ours vs folium's default output; load on loopback.

Ours: the app served by waitress on 127.0.0.1 (layers fetched from the API, simplified and rounded, gzip).
Peer: folium's default map of the same layers, full-precision GeoJSON embedded with GeoJson popups, served from the
same server (its CDN assets replaced by the local Leaflet and jQuery, or it could not render offline).

Load: `clients` threads in a separate process, each requesting the map page and the API in turn (closed loop).

Page weight: bytes transferred for all requests of a cold load (Chrome DevTools ``encodedDataLength``).
First render: from navigation start until every initially visible layer is drawn (ours: the page's ready flag;
peer: the load event, as folium draws synchronously) plus two animation frames; median of 5 cold loads.

Prints JSON lines like the other benchmarks::

    {"bench": "web_page", "ours_s": ..., "peer": "folium default", "peer_version": ..., "peer_s": ..., ...}
    {"bench": "web_load", "clients": 50, "seconds": ..., "requests": ..., "errors": 0, "p95_ms": ...}
    {"bench": "web_load_during_runs", "ours": "worker process", "peer": "server thread", "ours_p95_ms": ..., ...}

The last line is the same load while scenario runs (``--during-scenario``, default 4g-every-village: new-site
optimisation with 4G coverage, about 16 s per run) execute back to back in the background: ours in a worker process
per run at lower priority (what the app does), the peer in a server thread (the app's previous design); the
ratio is the peer's p95 over ours.

Usage: ``python benchmarks/bench_web.py [--data DIR] [--runs 5] [--load-seconds 60] [--clients 50]
[--during-seconds 45] [--during-scenario FILE]``.
Needs playwright (pip) and Debian's chromium (``/usr/bin/chromium``); loopback only.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
logger = logging.getLogger("bench_web")


def peer_page(data_dir: Path, vendor: dict[str, str]) -> str:
    """Folium's default output for the same layers: full-precision GeoJSON embedded, GeoJson popups."""
    import folium

    from ictgis import io
    from ictgis.crs import to_crs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = io.load(data_dir)
    communes = to_crs(ds["communes"], "EPSG:4326")
    minx, miny, maxx, maxy = communes.total_bounds
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=9, tiles=None)
    fmap.default_js = [("leaflet", vendor["leaflet_js"]), ("jquery", vendor["jquery"])]
    fmap.default_css = [("leaflet_css", vendor["leaflet_css"])]
    shown = {"communes": True, "fiber_routes": True, "villages": True}  # what our page shows on opening
    for name in ("communes", "fiber_routes", "villages"):
        frame = ds.get(name)
        if frame is None:
            continue
        frame = to_crs(frame, "EPSG:4326")
        for column in frame.columns:
            if column != frame.geometry.name and str(frame[column].dtype) in ("boolean", "Int64", "Float64"):
                frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
        fields = [c for c in frame.columns if c != frame.geometry.name][:6]
        kw = {"marker": folium.CircleMarker(radius=3)} if name == "villages" else {}
        folium.GeoJson(frame, name=name, show=shown[name], popup=folium.GeoJsonPopup(fields=fields), **kw
                       ).add_to(fmap)
    folium.LayerControl().add_to(fmap)
    return fmap.get_root().render()


def start_server(data_dir: Path, instance: Path, **config):
    """Start the app under waitress on a free loopback port (plus the peer page at /peer); return (server, url)."""
    from flask import Response, url_for
    from waitress.server import create_server

    from ictgis_web import create_app

    app = create_app({"DATA_DIR": str(data_dir), "INSTANCE_PATH": str(instance)} | config)
    cache: dict[str, str] = {}

    def peer():
        if "page" not in cache:
            cache["page"] = peer_page(data_dir, {
                "leaflet_js": url_for("maps.vendor", package="leaflet", filename="leaflet.js"),
                "leaflet_css": url_for("maps.vendor", package="leaflet", filename="leaflet.css"),
                "jquery": url_for("maps.vendor", package="jquery", filename="jquery.min.js")})
        return Response(cache["page"], mimetype="text/html")

    app.add_url_rule("/peer", "peer", peer)
    server = create_server(app, host="127.0.0.1", port=0, threads=8)
    server.app = app
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}"


READY_JS = {
    "ours": """() => new Promise(resolve => {
        const done = () => resolve(window.ictgisReadyAt);
        if (document.documentElement.dataset.ictgisReady) { done(); return; }
        new MutationObserver((m, obs) => { if (document.documentElement.dataset.ictgisReady) { obs.disconnect();
            done(); } }).observe(document.documentElement, {attributes: true});
    })""",
    "peer": """() => new Promise(resolve => {
        const after = () => requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now())));
        if (document.readyState === "complete") { after(); } else { window.addEventListener("load", after); }
    })""",
}


def measure(browser, url: str, kind: str) -> tuple[float, int, list[str]]:
    """One cold load: (seconds to first render, bytes transferred, request URLs)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    sizes: dict[str, int] = {}
    urls: list[str] = []
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])))
    page.on("request", lambda r: urls.append(r.url))
    page.goto(url, wait_until="commit")
    ready_ms = page.evaluate(READY_JS[kind])
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # late requests (images) are counted too
    context.close()
    return ready_ms / 1000.0, sum(sizes.values()), urls


def page_bench(base: str, runs: int) -> dict:
    """Median first render and page weight of ours and the peer."""
    import folium
    from playwright.sync_api import sync_playwright

    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for kind, path in (("ours", "/"), ("peer", "/peer")):
            measure(browser, base + path, kind)  # warm the server's caches, not the browser's
            times, weights, outside = [], [], set()
            for _ in range(runs):
                seconds, size, urls = measure(browser, base + path, kind)
                times.append(seconds)
                weights.append(size)
                outside |= {u for u in urls if not u.startswith(base) and not u.startswith("data:")}
            results[kind] = (statistics.median(times), int(statistics.median(weights)), sorted(outside))
        browser.close()
    ours, peer = results["ours"], results["peer"]
    return {"bench": "web_page", "ours_s": round(ours[0], 3), "peer": "folium default",
            "peer_version": folium.__version__, "peer_s": round(peer[0], 3),
            "speedup": round(peer[0] / ours[0], 2) if ours[0] else None,
            "quality": {"ours_bytes": ours[1], "peer_bytes": peer[1], "ours_external_requests": len(ours[2]),
                        "runs": runs}}


def load_bench(base: str, *, clients: int, seconds: float) -> dict:
    """`client_load` run in a process of its own (the clients do not share the server's interpreter)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(client_load, (base,), {"clients": clients, "seconds": seconds})


def client_load(base: str, *, clients: int, seconds: float) -> dict:
    """Closed-loop load on the map page and the API: errors and latency percentiles."""
    paths = ["/", "/api/indicators", "/api/layers/communes.geojson", "/api/layers/villages.geojson",
             "/api/search-index.json", "/api/layers"]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client(i: int) -> None:
        n = i
        while time.monotonic() < end:
            path = paths[n % len(paths)]
            n += 1
            t0 = time.perf_counter()
            try:
                req = urllib.request.Request(base + path, headers={"Accept-Encoding": "gzip"})
                with urllib.request.urlopen(req, timeout=30) as resp:
                    resp.read()
                    ok = resp.status == 200
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
    lat = sorted(latencies)
    pct = (lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1)) if lat else (lambda q: None)
    return {"bench": "web_load", "clients": clients, "seconds": round(elapsed, 1), "requests": len(lat),
            "errors": errors[0], "rps": round(len(lat) / elapsed, 1), "p50_ms": pct(0.5), "p95_ms": pct(0.95),
            "p99_ms": pct(0.99)}


def during_runs(data_dir: Path, scenario: Path, isolation: str, *, clients: int, seconds: float) -> dict:
    """The load test while scenario runs execute back to back in the background (`isolation` of the job runner)."""
    with tempfile.TemporaryDirectory() as instance:
        server, base = start_server(data_dir, Path(instance), JOB_ISOLATION=isolation)
        jobs = server.app.extensions["ictgis_jobs"]
        stop = threading.Event()
        finished: list[dict] = []

        def keep_running() -> None:
            while not stop.is_set():
                run_id = jobs.submit(scenario)
                while not stop.is_set():
                    record = jobs.get(run_id)
                    if record["status"] in ("done", "failed", "interrupted", "cancelled"):
                        finished.append(record)
                        break
                    time.sleep(0.2)
                else:
                    jobs.cancel(run_id)  # a thread run cannot be stopped: wait for it below
                    finished.append(jobs.wait(run_id, timeout_s=600))

        try:
            urllib.request.urlopen(base + "/", timeout=300).read()
            thread = threading.Thread(target=keep_running)
            thread.start()
            time.sleep(3.0)  # the first run is under way
            result = load_bench(base, clients=clients, seconds=seconds)
            stop.set()
            thread.join()
        finally:
            server.close()
    done = [r for r in finished if r and r["status"] == "done"]
    result["runs_done"] = len(done)
    result["run_s"] = round(statistics.median(r["finished"] - r["started"] for r in done), 1) if done else None
    result["runs_failed"] = sum(1 for r in finished if r and r["status"] == "failed")
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "shapefiles")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--load-seconds", type=float, default=60.0, help="0 skips the load test (issue 6: 60 s)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--during-seconds", type=float, default=45.0, help="0 skips the load during runs")
    parser.add_argument("--during-scenario", type=Path, default=ROOT / "scenarios" / "4g-every-village.yaml")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "queue depth" is expected under load
    if not (args.data / "communes.shp").exists() and not any(args.data.glob("communes.*")):
        print(json.dumps({"bench": "web_page", "skipped": f"no data in {args.data} (run `make demo`)"}))
        return 0
    if not Path(CHROMIUM).exists():
        print(json.dumps({"bench": "web_page", "skipped": "chromium is absent (apt-get install chromium)"}))
        return 0
    with tempfile.TemporaryDirectory() as instance:
        server, base = start_server(args.data.resolve(), Path(instance))
        try:
            urllib.request.urlopen(base + "/", timeout=300).read()  # build the page and caches once
            print(json.dumps(page_bench(base, args.runs)), flush=True)
            if args.load_seconds > 0:
                print(json.dumps(load_bench(base, clients=args.clients, seconds=args.load_seconds)), flush=True)
        finally:
            server.close()
    if args.during_seconds > 0:
        ours, peer = (during_runs(args.data.resolve(), args.during_scenario.resolve(), isolation,
                                  clients=args.clients, seconds=args.during_seconds)
                      for isolation in ("process", "thread"))
        print(json.dumps({"bench": "web_load_during_runs", "scenario": args.during_scenario.name,
                          "clients": args.clients, "seconds": args.during_seconds,
                          "ours": "worker process per run (nice +10)", "peer": "server thread (previous design)",
                          "peer_version": "ictgis " + _version(), "ours_p95_ms": ours["p95_ms"],
                          "peer_p95_ms": peer["p95_ms"],
                          "ratio": round(peer["p95_ms"] / ours["p95_ms"], 2) if ours["p95_ms"] else None,
                          "quality": {"ours": ours, "peer": peer}}), flush=True)
    return 0


def _version() -> str:
    from importlib.metadata import version

    return version("ictgis")


if __name__ == "__main__":
    sys.exit(main())
