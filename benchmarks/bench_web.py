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

``web_layers_uncached`` (issue 10): a real ``ictgis serve`` process with no derived-value cache (``MEMO_MAX_BYTES =
0`` in its instance config), so every request computes its layer anew, hammered by 16 client threads over every
layer × zoom 0..20 × precision 1..7 until ``--uncached-requests`` (10,000) are answered: crashes (the server process
gone), errors, invalid JSON and latency. The peer is the same URL walk on one client thread (no concurrency).

``web_load_login_attack`` (issue 10): 50 clients on ``/``, ``/api/indicators`` and ``/api/layers/villages.geojson``
while 16 more clients guess passwords (real login form, CSRF token, wrong passwords) for ``--load-seconds``: errors
and p95 of the 50, how the guesses were answered (401, 429); the peer is the same load with no attack.

``web_first_render`` (issue 17): the map's first render on a warm server — the 4G coverage computed and on the
map, the server's caches built; each load with an empty browser cache — median seconds and bytes transferred of
``--runs`` loads, against the goals (≤ 1.5 s, ≤ 2 MB).

``web_candidate_click`` (issue 17): a planner places a candidate site by a click on the demo map (warm: the first
request has loaded the kernels), at ``--candidate-clicks`` villages without 4G: from the click to the coverage and
newly covered villages shown on the page (median and max ms, goal ≤ 1 s), and the server's part of it.
``--planner-only`` prints only these two lines.

The last line is the same load while scenario runs (``--during-scenario``, default 4g-every-village: new-site
optimisation with 4G coverage, about 16 s per run) execute back to back in the background: ours in a worker process
per run at lower priority (what the app does), the peer in a server thread (the app's previous design); the
ratio is the peer's p95 over ours.

Usage: ``python benchmarks/bench_web.py [--data DIR] [--runs 5] [--load-seconds 60] [--clients 50]
[--during-seconds 45] [--during-scenario FILE] [--uncached-requests 10000] [--guessers 16]
[--candidate-clicks 10] [--planner-only]``.
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


def first_render_bench(base: str, runs: int) -> dict:
    """The map's first render on a warm server (4G coverage computed and shown): median seconds and bytes."""
    from playwright.sync_api import sync_playwright

    from ictgis_web import analyses

    analyses.wait_idle(timeout_s=1800)  # the 4G coverage of the served data (what a warm server has)
    urllib.request.urlopen(base + "/", timeout=300).read()  # the page with its coverage overlay, built once
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        measure(browser, base + "/", "ours")
        loads = [measure(browser, base + "/", "ours") for _ in range(runs)]
        browser.close()
    seconds = statistics.median(s for s, _b, _u in loads)
    size = int(statistics.median(b for _s, b, _u in loads))
    overlay = any("/api/overlays/coverage_4g.png" in u for u in loads[0][2])
    return {"bench": "web_first_render", "ours_s": round(seconds, 3), "ours_bytes": size,
            "goal_s": 1.5, "goal_bytes": 2_000_000, "met": seconds <= 1.5 and size <= 2_000_000,
            "quality": {"runs": runs, "max_s": round(max(s for s, _b, _u in loads), 3),
                        "coverage_overlay_loaded": overlay, "viewport": "1280x800", "browser_cache": "disabled"}}


CLICK_JS = """(ll) => { const m = ictgis.state.map; m.setView(ll, 12, {animate: false});
    m.panBy([0, -m.getSize().y / 4], {animate: false});
    const p = m.latLngToContainerPoint(ll), r = m.getContainer().getBoundingClientRect();
    return [r.left + p.x + 6, r.top + p.y + 6]; }"""


def candidate_bench(base: str, instance: Path, clicks: int) -> dict:
    """Click → candidate coverage shown, in the browser, at `clicks` villages without 4G (warm)."""
    from playwright.sync_api import sync_playwright

    from ictgis_web import analyses
    from ictgis_web.users import UserStore

    analyses.wait_idle(timeout_s=1800)
    UserStore(instance).add("bench-planner", "mat-khau-bench", "planner", replace=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(base + "/login")
        page.fill("input[name=username]", "bench-planner")
        page.fill("input[name=password]", "mat-khau-bench")
        page.click("button[type=submit]")
        page.wait_for_selector("#logout", state="attached")
        page.goto(base + "/")
        page.wait_for_selector("#ictgis-planner[data-ready='1']", state="attached", timeout=60_000)
        page.click("#planner-toggle")
        villages = page.evaluate("""() => fetch('/api/layers/villages.geojson').then(r => r.json()).then(g =>
            g.features.filter(f => f.properties.g4 === false)
             .map(f => [f.geometry.coordinates[1], f.geometry.coordinates[0]]))""")
        step = max(1, len(villages) // max(1, clicks))
        chosen = villages[::step][:clicks]
        page.evaluate("""(ll) => fetch('/api/candidate', {method: 'POST', headers: {'Content-Type':
            'application/json', 'X-CSRF-Token': document.getElementById('ictgis-planner').dataset.csrf},
            body: JSON.stringify({lat: ll[0], lon: ll[1]})})""", chosen[0])  # warm: kernels loaded
        shown, server, new = [], [], []
        for ll in chosen:
            point = page.evaluate(CLICK_JS, ll)
            page.mouse.click(*point)
            page.wait_for_selector("#ictgis-planner[data-shown]", state="attached", timeout=60_000)
            shown.append(page.evaluate("() => window.ictgisPlanner.shownAt - window.ictgisPlanner.clickAt"))
            server.append(page.evaluate("() => window.ictgisPlanner.last.elapsed_ms"))
            new.append(page.evaluate("() => window.ictgisPlanner.last.villages_newly_covered"))
        browser.close()
    median = statistics.median(shown)
    return {"bench": "web_candidate_click", "ours_ms": round(median, 1), "goal_ms": 1000, "met": max(shown) <= 1000,
            "quality": {"clicks": len(shown), "max_ms": round(max(shown), 1),
                        "server_median_ms": round(statistics.median(server), 1),
                        "villages_newly_covered_median": statistics.median(new), "warm": True}}


def load_bench(base: str, *, clients: int, seconds: float) -> dict:
    """`client_load` run in a process of its own (the clients do not share the server's interpreter)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(client_load, (base,), {"clients": clients, "seconds": seconds})


ALL_PATHS = ("/", "/api/indicators", "/api/layers/communes.geojson", "/api/layers/villages.geojson",
             "/api/search-index.json", "/api/layers")
ATTACK_PATHS = ("/", "/api/indicators", "/api/layers/villages.geojson")  # issue 10's numbers


def guess_passwords(base: str, *, user: str, end: float, answers: dict, lock: threading.Lock) -> None:
    """One attacker: the real login form (cookie + CSRF token), a wrong password each time, until `end`."""
    import http.cookiejar
    import re
    import urllib.error
    import urllib.parse

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    n = 0
    while time.monotonic() < end:
        try:
            page = opener.open(base + "/login", timeout=30).read().decode()
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            body = urllib.parse.urlencode({"username": user, "password": f"guess-{n}", "csrf_token": token}).encode()
            try:
                status = opener.open(base + "/login", data=body, timeout=30).status
            except urllib.error.HTTPError as exc:
                status = exc.code
        except Exception:  # the attacker's own failures are not the server's answers
            status = "failed"
        n += 1
        with lock:
            answers[str(status)] = answers.get(str(status), 0) + 1


def client_load(base: str, *, clients: int, seconds: float, paths: tuple[str, ...] = ALL_PATHS,
                guessers: int = 0, user: str = "lan") -> dict:
    """Closed-loop load on the map page and the API (plus `guessers` password guessers): errors and latencies."""
    latencies: list[float] = []
    errors = [0]
    answers: dict[str, int] = {}
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
    with ThreadPoolExecutor(max_workers=clients + guessers) as pool:
        attackers = [pool.submit(guess_passwords, base, user=user, end=end, answers=answers, lock=lock)
                     for _ in range(guessers)]
        list(pool.map(client, range(clients)))
        for attacker in attackers:
            attacker.result()
    elapsed = time.monotonic() - started
    out = {"bench": "web_load", "clients": clients, "seconds": round(elapsed, 1), "requests": len(latencies),
           "errors": errors[0], "rps": round(len(latencies) / elapsed, 1), **percentiles(latencies)}
    if guessers:
        out |= {"guessers": guessers, "guess_answers": answers}
    return out


def percentiles(latencies: list[float]) -> dict:
    """p50/p95/p99 in milliseconds (None without data)."""
    lat = sorted(latencies)
    pct = (lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1)) if lat else (lambda q: None)
    return {"p50_ms": pct(0.5), "p95_ms": pct(0.95), "p99_ms": pct(0.99)}


def login_attack(data_dir: Path, *, clients: int, guessers: int, seconds: float) -> dict:
    """The issue 10 load (50 clients on three URLs) with and without 16 password guessers, on waitress."""
    from ictgis_web.users import UserStore

    with tempfile.TemporaryDirectory() as instance:
        UserStore(instance).add("lan", "a long planner password", "planner")
        server, base = start_server(data_dir, Path(instance))
        try:
            for path in ATTACK_PATHS:  # build the pages and caches once
                urllib.request.urlopen(base + path, timeout=300).read()
            import multiprocessing

            with multiprocessing.get_context("spawn").Pool(1) as pool:
                peer = pool.apply(client_load, (base,), {"clients": clients, "seconds": seconds,
                                                         "paths": ATTACK_PATHS})
                ours = pool.apply(client_load, (base,), {"clients": clients, "seconds": seconds,
                                                         "paths": ATTACK_PATHS, "guessers": guessers})
        finally:
            server.close()
    return {"bench": "web_load_login_attack", "clients": clients, "guessers": guessers, "seconds": seconds,
            "ours": "the load during the attack", "peer": "the same load, no attack",
            "ours_p95_ms": ours["p95_ms"], "peer_p95_ms": peer["p95_ms"],
            "ratio": round(ours["p95_ms"] / peer["p95_ms"], 2) if peer["p95_ms"] else None,
            "errors": ours["errors"], "quality": {"ours": ours, "peer": peer}}


def layer_urls() -> list[str]:
    """Every layer × zoom 0..20 × precision 1..7 (what anonymous visitors can ask for)."""
    layers = ("communes", "villages", "roads", "bts_sites", "fiber_routes", "post_offices", "districts")
    return [f"/api/layers/{name}.geojson?zoom={z}&precision={p}" for name in layers for z in range(21)
            for p in range(1, 8)]


def uncached_layers(data_dir: Path, *, requests: int, threads: int) -> dict:
    """Issue 10's crash test: a real `ictgis serve` process with nothing cached, `threads` clients, `requests` URLs."""
    import random
    import re
    import subprocess

    urls = layer_urls()
    with tempfile.TemporaryDirectory() as instance:
        Path(instance, "config.py").write_text("MEMO_MAX_BYTES = 0  # nothing cached: every request computes\n")
        proc = subprocess.Popen([sys.executable, "-m", "ictgis.cli", "serve", "--data", str(data_dir), "--port", "0",
                                 "--instance", instance], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = proc.stdout.readline()
            base = re.search(r"(http://[0-9.]+:[0-9]+)", line).group(1)
            sequence = [urls[i % len(urls)] for i in range(requests)]
            random.Random(1).shuffle(sequence)
            latencies: list[float] = []
            counts = {"ok": 0, "errors": 0, "bad_json": 0}
            lock = threading.Lock()

            def get(path: str) -> None:
                t0 = time.perf_counter()
                try:
                    with urllib.request.urlopen(base + path, timeout=120) as resp:
                        json.loads(resp.read())
                        kind = "ok" if resp.status == 200 else "errors"
                except json.JSONDecodeError:
                    kind = "bad_json"
                except Exception:
                    kind = "errors"
                with lock:
                    counts[kind] += 1
                    latencies.append(time.perf_counter() - t0)

            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(get, sequence))
            ours_s = time.monotonic() - started
            alive = proc.poll() is None
            peer_n = min(len(urls), requests)  # one client, no concurrency: the same work per request
            started = time.monotonic()
            for path in sequence[:peer_n] if alive else []:
                urllib.request.urlopen(base + path, timeout=120).read()
            peer_s = (time.monotonic() - started) * requests / peer_n if alive else None
        finally:
            proc.terminate()
            code = proc.wait(timeout=60)
    return {"bench": "web_layers_uncached", "requests": requests, "threads": threads, "ours_s": round(ours_s, 1),
            "peer": "one client thread (extrapolated)", "peer_s": round(peer_s, 1) if peer_s else None,
            "ratio": round(peer_s / ours_s, 2) if peer_s else None, "crashes": 0 if alive else 1,
            "server_exit_code": code, **counts, **percentiles(latencies)}


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
    parser.add_argument("--uncached-requests", type=int, default=10_000, help="0 skips the crash test (issue 10)")
    parser.add_argument("--guessers", type=int, default=16, help="0 skips the login attack (issue 10)")
    parser.add_argument("--candidate-clicks", type=int, default=10, help="0 skips the candidate site (issue 17)")
    parser.add_argument("--planner-only", action="store_true", help="only the issue-17 lines")
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
            if not args.planner_only:
                print(json.dumps(page_bench(base, args.runs)), flush=True)
            print(json.dumps(first_render_bench(base, args.runs)), flush=True)
            if args.candidate_clicks > 0:
                print(json.dumps(candidate_bench(base, Path(server.app.instance_path), args.candidate_clicks)),
                      flush=True)
            if args.load_seconds > 0 and not args.planner_only:
                print(json.dumps(load_bench(base, clients=args.clients, seconds=args.load_seconds)), flush=True)
        finally:
            server.close()
    if args.planner_only:
        return 0
    if args.uncached_requests > 0:
        print(json.dumps(uncached_layers(args.data.resolve(), requests=args.uncached_requests, threads=16)),
              flush=True)
    if args.guessers > 0 and args.load_seconds > 0:
        print(json.dumps(login_attack(args.data.resolve(), clients=args.clients, guessers=args.guessers,
                                      seconds=args.load_seconds)), flush=True)
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
