"""The web map in a real browser (Playwright driving Debian's chromium) against waitress on 127.0.0.1.

Skipped cleanly when playwright or /usr/bin/chromium is absent. Screenshots go to ``$ICTGIS_ARTIFACTS``
(default: pytest's temporary folder).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from conftest import DEMO_DIR, stop_server
from test_web import XSS, fake_runner, make_data, write_scenario

from ictgis.layers import fold
from ictgis_web import create_app
from ictgis_web.users import UserStore

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
if not Path(CHROMIUM).exists():
    pytest.skip("chromium is absent (apt-get install -y chromium)", allow_module_level=True)
ROOT = Path(__file__).resolve().parent.parent
if not (ROOT / "node_modules" / "leaflet").exists():
    pytest.skip("npm assets not installed (make install runs npm ci)", allow_module_level=True)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("ICTGIS_ARTIFACTS") or tmp_path_factory.mktemp("artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def warm_coverage_kernels(data_dir) -> None:
    """Compile (or load from numba's cache) the coverage kernels as the app's background run will call them.

    A first compile takes tens of seconds and holds the GIL: a server computing its first coverage answers nothing
    meanwhile, and a browser test's click would time out. Done before the server starts.
    """
    from ictgis import coverage, io

    coverage.compute(io.load(data_dir), technology="4G", progress=lambda f, m: None)


def serve(app):
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app on the demo when it has been generated, else on the tiny province (with a script-named commune)."""
    tmp = tmp_path_factory.mktemp("site")
    if (DEMO_DIR / "communes.shp").exists():
        data, query, expected = DEMO_DIR, "Muong Nhe", "Mường Nhé"
    else:
        data, query, expected = make_data(tmp / "data", commune_name=XSS), "Muong Phang", "Mường Phăng"
    app = create_app({"DATA_DIR": str(data), "INSTANCE_PATH": str(tmp / "instance"), "SECRET_KEY": "browser",
                      "SCENARIOS_DIR": str(tmp / "scenarios"), "JOB_RUNNER": fake_runner})
    write_scenario(app)
    UserStore(app.instance_path).add("planner1", "mat-khau-123", "planner")
    server, base = serve(app)
    yield {"base": base, "query": query, "expected": expected, "app": app, "demo": data == DEMO_DIR}
    stop_server(server)


@pytest.fixture(scope="module")
def xss_site(tmp_path_factory):
    """The tiny province with a commune named like a script, whatever data the main site serves."""
    tmp = tmp_path_factory.mktemp("xss")
    app = create_app({"DATA_DIR": str(make_data(tmp / "data", commune_name=XSS)), "SECRET_KEY": "browser",
                      "INSTANCE_PATH": str(tmp / "instance")})
    server, base = serve(app)
    yield {"base": base}
    stop_server(server)


@pytest.fixture()
def page(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.requests = []
    pg.errors = []
    pg.dialogs = []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    yield pg
    context.close()


def open_map(page, site, path="/"):
    page.goto(site["base"] + path)
    page.wait_for_selector("html[data-ictgis-ready='1']", state="attached", timeout=15_000)


def test_map_renders_offline(page, site, artifacts):
    open_map(page, site)
    assert page.locator(".leaflet-container").count() == 1
    counts = page.evaluate("""() => ({communes: ictgis.state.layers.communes.getLayers().length,
                                      villages: ictgis.state.layers.villages.getLayers().length})""")
    assert counts["communes"] >= 4 and counts["villages"] >= 10
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "map_vi.png"))
    outside = [u for u in page.requests if not u.startswith(site["base"]) and not u.startswith("data:")]
    assert outside == [], outside
    assert page.errors == [], page.errors
    assert page.locator(".ictgis-legend").inner_text().strip()


def test_layers_toggle(page, site):
    open_map(page, site)
    bts = page.locator(".leaflet-control-layers-overlays label", has_text="Trạm BTS").locator("input")
    assert not bts.is_checked()
    bts.check()
    page.wait_for_function("() => ictgis.state.layers.bts_sites.getLayers().length > 0")
    assert any("/api/layers/bts_sites.geojson" in u for u in page.requests)
    assert "Trạm chạy máy phát diesel" in page.locator(".ictgis-legend").inner_text()
    villages = page.locator(".leaflet-control-layers-overlays label", has_text="Thôn, bản").locator("input")
    villages.uncheck()
    assert page.evaluate("() => !ictgis.state.map.hasLayer(ictgis.state.layers.villages)")


def _click_feature(page, layer: str, index: int = 0):
    """Click a point of a layer where it is drawn (canvas), as a user would."""
    xy = page.evaluate(f"""() => {{
        const l = ictgis.state.layers.{layer}.getLayers()[{index}];
        const map = ictgis.state.map;
        map.setView(l.getLatLng ? l.getLatLng() : l.getBounds().getCenter(), 13, {{animate: false}});
        const p = map.latLngToContainerPoint(l.getLatLng ? l.getLatLng() : l.getBounds().getCenter());
        const r = map.getContainer().getBoundingClientRect();
        return [p.x + r.left, p.y + r.top, l.feature.properties.name];
    }}""")
    page.wait_for_timeout(200)
    page.mouse.click(xy[0], xy[1])
    page.wait_for_selector(".leaflet-popup-content", timeout=5000)
    return xy[2]


def test_popup_with_vietnamese_name(page, site, artifacts):
    open_map(page, site)
    name = _click_feature(page, "villages")
    text = page.locator(".leaflet-popup-content").inner_text()
    assert name in text and "Dân số" in text and "Cáp quang" in text
    page.screenshot(path=str(artifacts / "popup_village.png"))


def test_script_name_renders_as_text(page, xss_site):
    site = xss_site
    open_map(page, site)
    idx = page.evaluate(f"""() => ictgis.state.layers.communes.getLayers()
        .findIndex(l => l.feature.properties.name === {json.dumps(XSS)})""")
    assert idx >= 0
    _click_feature(page, "communes", idx)
    assert XSS in page.locator(".leaflet-popup-content").inner_text()
    assert page.locator(".leaflet-popup-content script").count() == 0
    page.fill("#ictgis-search", "script")
    page.wait_for_selector(".ictgis-hit")
    assert XSS in page.locator("#ictgis-search-results").inner_text()
    assert page.locator("#ictgis-search-results script").count() == 0
    page.goto(site["base"] + "/indicators")
    assert XSS in page.locator("#commune-table").inner_text()
    assert page.dialogs == []


def test_search_without_diacritics(page, site, artifacts):
    open_map(page, site)
    page.fill("#ictgis-search", site["query"])
    page.wait_for_selector(".ictgis-hit")
    first = page.locator(".ictgis-hit .ictgis-hit-name").first.inner_text()
    assert first == site["expected"] or first.endswith(site["expected"])
    page.locator(".ictgis-hit").first.click()
    page.wait_for_timeout(300)
    assert page.evaluate("() => ictgis.state.map.getZoom()") >= 10
    page.screenshot(path=str(artifacts / "search.png"))


def test_js_fold_matches_python(page, site):
    open_map(page, site)
    samples = ["Mường Nhé", "ĐIỆN BIÊN PHỦ", "Thị_trấn Tủa Chùa", "Nậm Pồ", "Xá Tổng", "Bản Pá-Khoang",
               "Điểm BĐVHX", "  Tuần   Giáo ", "Ẳng Nưa", "Huổi Lếch", "Tả Sìn Thàng", "Sín Chải", XSS]
    names = page.evaluate("() => fetch(ictgis.state.map && JSON.parse(document.getElementById('ictgis-config')"
                          ".textContent).search_url).then(r => r.json()).then(e => e.map(x => x[0]))")
    samples += names[:500]
    folded = page.evaluate("(xs) => xs.map(x => ictgis.fold(x))", samples)
    assert folded == [fold(s) for s in samples]


def test_language_switch(page, site, artifacts):
    open_map(page, site)
    page.click("#lang-switch")
    page.wait_for_selector("html[lang='en'][data-ictgis-ready='1']", state="attached", timeout=15_000)
    assert "Villages" in page.locator(".leaflet-control-layers").inner_text()
    assert page.locator("#lang-switch").inner_text() == "Tiếng Việt"
    page.screenshot(path=str(artifacts / "map_en.png"))
    page.click("#lang-switch")
    page.wait_for_selector("html[lang='vi']", state="attached")


def test_indicator_selector_recolours(page, site):
    open_map(page, site)
    before = page.evaluate("() => ictgis.state.indicator")
    page.select_option("#ictgis-indicator", "density")
    assert page.evaluate("() => ictgis.state.indicator") == "density" != before
    assert "indicator=density" in page.url
    assert "Mật độ dân số" in page.locator(".ictgis-legend").inner_text()


def test_percentages_use_fixed_classes_with_100_apart(page, site):
    """Fiber %: five classes with fixed edges (50, 80, 95, 100); communes at 100 % have a class of their own."""
    open_map(page, site)
    page.select_option("#ictgis-indicator", "villages_fiber_pct")
    legend = page.locator(".ictgis-legend").inner_text()
    assert "< 50" in legend and "95 – < 100" in legend and "Không có số liệu" in legend
    got = page.evaluate("""() => ictgis.state.layers.communes.getLayers().map(l => [
        l.feature.properties.ind_villages_fiber_pct, ictgis.classOf(l.feature.properties.ind_villages_fiber_pct),
        l.options.fillColor])""")
    values = [v for v, _, _ in got if v is not None]
    assert values
    for value, cls, _ in got:
        expected = -1 if value is None else sum(value >= e for e in (50, 80, 95, 100))
        assert cls == expected, (value, cls)
    colours = {cls: colour for _, cls, colour in got}
    assert len(set(colours.values())) == len(colours)  # one colour per class present
    assert page.evaluate("() => ictgis.classOf(100)") == 4 and page.evaluate("() => ictgis.classOf(99.9)") == 3


def test_quantile_classes_survive_many_equal_values(page, site):
    open_map(page, site)
    breaks = page.evaluate("() => ictgis.quantileBreaks([100, 100, 100, 100, 100, 100, 100, 100, 40, 60, 70, 80, "
                           "90, null], 5)")
    assert breaks == sorted(set(breaks)) and len(breaks) == 6 and breaks[0] == 40 and breaks[-1] == 100
    assert page.evaluate("() => ictgis.quantileBreaks([7, 7, 7], 5)") == [7, 7]


def test_planner_runs_a_scenario(page, site, artifacts):
    page.goto(site["base"] + "/login")
    page.fill("input[name=username]", "planner1")
    page.fill("input[name=password]", "mat-khau-123")
    page.click("button[type=submit]")
    page.goto(site["base"] + "/scenarios/")
    page.click("#scenario-table button[type=submit]")
    page.wait_for_selector("#before-after", timeout=15_000)
    assert page.locator("#run-status").get_attribute("data-status") == "done"
    assert "indicators_after.json" in page.locator("#run-outputs").inner_text()
    page.screenshot(path=str(artifacts / "scenario_run.png"))
