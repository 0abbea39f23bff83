"""The web map usable on a desktop and on a phone (390 × 844, touch): controls reachable, popups, legends, live pages.

Every test runs at both sizes. "Reachable and tappable" is a hit test: `document.elementFromPoint` at the centre of
the control returns the control or a child of it, inside the viewport. Waits poll the page or join the server's
background work (`web.analyses.wait_idle`); no fixed sleeps. Screenshots go to ``$ICTGIS_ARTIFACTS`` as in
test_web_browser.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from conftest import DEMO_DIR
from test_web import make_data
from test_web_browser import ARGS, CHROMIUM, artifacts, playwright_api, serve  # noqa: F401 - fixtures

from ictgis_web import analyses, create_app, data
from ictgis_web.users import UserStore

DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 1},
}
PASSWORD = "mat-khau-123"

HIT_TEST = """(sel) => Array.from(document.querySelectorAll(sel)).map(e => {
    const r = e.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const h = document.elementFromPoint(x, y);
    return {sel: sel, text: (e.textContent || e.value || '').trim().slice(0, 40), w: r.width, h: r.height,
            inside: x >= 0 && y >= 0 && x < innerWidth && y < innerHeight,
            hit: !!h && (h === e || e.contains(h)),
            by: h ? (h.id || h.className || h.tagName) : null};
})"""


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo (DEM, sites) when generated, else the tiny province with its DEM; 4G computed from server start."""
    tmp = tmp_path_factory.mktemp("usable")
    data = DEMO_DIR if (DEMO_DIR / "communes.shp").exists() else make_data(tmp / "data")
    app = create_app({"DATA_DIR": str(data), "INSTANCE_PATH": str(tmp / "instance"), "SECRET_KEY": "browser"})
    assert app.config["PRECOMPUTE"]
    server, base = serve(app)
    yield {"base": base, "app": app}
    server.close()


class Gate:
    """A scenario run that reports progress at 90 %, then waits for the test (the server runs it in a thread)."""

    def __init__(self):
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, path, out_dir, progress, **_options):
        progress(0.1, f"loading {Path(out_dir).parent}")
        progress(0.9, f"writing {out_dir}")
        self.reached.set()
        if not self.release.wait(120):
            raise TimeoutError("the test never released the run")
        Path(out_dir).mkdir()
        return {}


@pytest.fixture(scope="module")
def small_site(tmp_path_factory):
    """The tiny province with a DEM: scenario runs in a thread (gated), coverage computed on demand."""
    tmp = tmp_path_factory.mktemp("small")
    gate = Gate()
    app = create_app({"DATA_DIR": str(make_data(tmp / "data")), "INSTANCE_PATH": str(tmp / "instance"),
                      "SECRET_KEY": "browser", "SCENARIOS_DIR": str(tmp / "scenarios"), "JOB_RUNNER": gate,
                      "JOB_ISOLATION": "thread", "PRECOMPUTE": False})
    (tmp / "scenarios").mkdir()
    (tmp / "scenarios" / "plan.yaml").write_text("name: Kế hoạch\n", encoding="utf-8")
    UserStore(app.instance_path).add("planner1", PASSWORD, "planner")
    server, base = serve(app)
    yield {"base": base, "app": app, "gate": gate, "data": tmp / "data"}
    gate.release.set()
    server.close()


@pytest.fixture(params=list(DEVICES))
def device(request):
    return request.param


@pytest.fixture()
def page(browser, device):
    context = browser.new_context(**DEVICES[device])
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.device = device
    yield pg
    context.close()


def open_map(page, base, path="/"):
    page.goto(base + path)
    page.wait_for_selector("html[data-ictgis-ready='1']", state="attached", timeout=30_000)


def tap(page, selector):
    """Tap on a phone, click on a desktop."""
    if page.device == "phone":
        page.tap(selector)
    else:
        page.click(selector)


def assert_reachable(page, *selectors, at_least=1):
    for sel in selectors:
        found = page.evaluate(HIT_TEST, sel)
        assert len(found) >= at_least, (sel, found)
        bad = [f for f in found if not (f["w"] > 0 and f["h"] > 0 and f["inside"] and f["hit"])]
        assert bad == [], [(f["sel"], f["text"], f["inside"], f["hit"], f["by"]) for f in bad]


def assert_legend_clear_of_the_layer_list(page):
    boxes = page.evaluate("""() => [document.querySelector('.ictgis-legend').getBoundingClientRect().toJSON(),
                                    document.querySelector('.leaflet-control-layers').getBoundingClientRect().toJSON()]""")
    legend, layers = boxes
    assert legend["top"] >= layers["bottom"] or legend["right"] <= layers["left"], boxes


def popup_shown(page):
    """Wait until the popup has faded in (for the screenshots)."""
    page.wait_for_function("() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'")


def bar_bottom(page) -> float:
    return page.evaluate("() => document.getElementById('ictgis-bar').getBoundingClientRect().bottom")


def test_every_control_of_the_map_is_reachable_and_tappable(page, site, artifacts):  # noqa: F811
    open_map(page, site["base"])
    page.screenshot(path=str(artifacts / f"usable_map_{page.device}.png"))
    bar = ["#ictgis-search", "#ictgis-indicator", ".ictgis-links a", "#login-link", "#lang-switch"]
    assert_reachable(page, *bar, ".leaflet-control-zoom-in", ".leaflet-control-zoom-out", ".ictgis-legend-toggle")
    legend = page.evaluate("() => document.querySelector('.ictgis-legend').getBoundingClientRect().height")
    if page.device == "phone":
        assert legend < 0.1 * 844  # folded: a button, not a third of the screen
        assert_reachable(page, ".leaflet-control-layers-toggle")
        tap(page, ".leaflet-control-layers-toggle")
        page.wait_for_selector(".leaflet-control-layers-expanded")
    assert_reachable(page, ".leaflet-control-layers-overlays input", at_least=4)
    assert_reachable(page, *bar)  # the open layer list covers none of the bar
    page.screenshot(path=str(artifacts / f"usable_layers_{page.device}.png"))
    zoom = page.evaluate("() => ictgis.state.map.getZoom()")
    if page.device == "desktop":  # open on a desktop: it folds and opens again
        tap(page, ".ictgis-legend-toggle")
        assert page.locator(".ictgis-legend.ictgis-folded").count() == 1
    tap(page, ".ictgis-legend-toggle")
    assert page.locator(".ictgis-legend.ictgis-folded").count() == 0
    assert page.evaluate("() => ictgis.state.map.getZoom()") == zoom  # taps on the legend are not the map's
    box = page.evaluate("() => document.querySelector('.ictgis-legend').getBoundingClientRect().toJSON()")
    assert box["height"] <= 0.45 * DEVICES[page.device]["viewport"]["height"]
    assert box["right"] <= DEVICES[page.device]["viewport"]["width"]
    assert_legend_clear_of_the_layer_list(page)
    page.screenshot(path=str(artifacts / f"usable_legend_{page.device}.png"))
    assert_reachable(page, ".ictgis-legend-row", at_least=3)
    # the controls do what they say when tapped
    tap(page, "#ictgis-search")
    assert page.evaluate("() => document.activeElement.id") == "ictgis-search"
    page.select_option("#ictgis-indicator", "density")
    assert page.evaluate("() => ictgis.state.indicator") == "density"
    tap(page, "#lang-switch")
    page.wait_for_selector("html[lang='en'][data-ictgis-ready='1']", state="attached", timeout=30_000)
    assert_reachable(page, "#lang-switch", "#login-link")
    tap(page, "#login-link")
    page.wait_for_selector("input[name=username]")
    assert page.errors == [], page.errors


def _unique_village(page) -> list:
    return page.evaluate("""() => ictgis.loadIndex().then(entries => {
        const count = {};
        entries.forEach(e => { if (e[1] === 'village') { count[e[0]] = (count[e[0]] || 0) + 1; } });
        const names = entries.filter(e => e[1] === 'village' && count[e[0]] === 1 && e[0].length > 8);
        return names[Math.floor(names.length / 2)];
    })""")


def test_the_found_village_opens_its_popup_and_can_be_clicked(page, site, artifacts):  # noqa: F811
    open_map(page, site["base"])
    entry = _unique_village(page)
    page.fill("#ictgis-search", entry[0])
    page.wait_for_selector(".ictgis-hit")
    tap(page, ".ictgis-hit")
    page.wait_for_selector(".leaflet-popup-content", timeout=10_000)
    content = page.locator(".leaflet-popup-content").inner_text()
    assert entry[0] in content and "Dân số" in content
    page.wait_for_function("(y) => document.querySelector('.leaflet-popup').getBoundingClientRect().top >= y",
                           arg=bar_bottom(page), timeout=10_000)
    popup_shown(page)
    page.screenshot(path=str(artifacts / f"usable_search_{page.device}.png"))
    # the highlight ring lets clicks through: closing the popup and clicking the village opens it again
    page.evaluate("() => { ictgis.state.map.closePopup(); }")
    xy = page.evaluate("""(e) => {
        const p = ictgis.state.map.latLngToContainerPoint(
            ictgis.state.layers.villages.getLayers().find(l => l.feature.properties.name === e[0]).getLatLng());
        const r = ictgis.state.map.getContainer().getBoundingClientRect();
        return [p.x + r.left, p.y + r.top];
    }""", entry)
    hit = page.evaluate("(xy) => document.elementFromPoint(xy[0], xy[1]).tagName", xy)
    assert hit == "CANVAS", hit  # the vector canvas (no ring element, no control) is under the village
    if page.device == "phone":
        page.touchscreen.tap(xy[0], xy[1])
    else:
        page.mouse.click(xy[0], xy[1])
    page.wait_for_selector(".leaflet-popup-content", timeout=10_000)
    assert entry[0] in page.locator(".leaflet-popup-content").inner_text()


def test_a_commune_popup_near_the_top_opens_below_the_bar(page, site, artifacts):  # noqa: F811
    open_map(page, site["base"])
    page.evaluate("() => { ictgis.state.map.removeLayer(ictgis.state.layers.villages); }")
    xy = page.evaluate("""(top) => {
        const map = ictgis.state.map, l = ictgis.state.layers.communes.getLayers()[0];
        map.setView(l.getBounds().getCenter(), 12, {animate: false});
        const c = map.latLngToContainerPoint(l.getBounds().getCenter());
        map.panBy([0, c.y - (top + 12)], {animate: false});  // the commune's centre just below the bar
        const p = map.latLngToContainerPoint(l.getBounds().getCenter());
        const r = map.getContainer().getBoundingClientRect();
        return [p.x + r.left, p.y + r.top];
    }""", bar_bottom(page))
    if page.device == "phone":
        page.touchscreen.tap(xy[0], xy[1])
    else:
        page.mouse.click(xy[0], xy[1])
    page.wait_for_selector(".leaflet-popup-content strong")
    page.wait_for_function("""(y) => {
        const t = document.querySelector('.leaflet-popup-content strong').getBoundingClientRect();
        return t.top >= y && t.bottom <= innerHeight;
    }""", arg=bar_bottom(page), timeout=10_000)
    popup_shown(page)
    page.screenshot(path=str(artifacts / f"usable_commune_popup_{page.device}.png"))
    assert_reachable(page, ".leaflet-popup-content strong", ".leaflet-popup-close-button")


def test_legends_say_what_the_symbols_mean(page, site, artifacts):  # noqa: F811
    assert analyses.wait_idle(timeout_s=600), "the 4G coverage of the served data did not finish"
    open_map(page, site["base"])
    page.evaluate("() => ictgis.setLegendOpen(true)")
    green = page.locator(".ictgis-legend-row[data-legend='village-status_fiber_4g']")
    assert green.inner_text().strip() == "Có cáp quang và sóng 4G"
    assert page.locator(".ictgis-legend-row[data-legend='village-status_fiber']").count() == 0
    coverage = page.locator(".leaflet-control-layers-overlays label", has_text="Vùng phủ sóng 4G")
    if page.device == "phone":
        tap(page, ".leaflet-control-layers-toggle")
    coverage.locator("input").check()
    legend = page.locator(".ictgis-legend").inner_text()
    assert "RSRP (dBm)" in legend and "≥ -80" in legend and "-115 – < -110" in legend
    assert "RSRP ≥ -110 dBm" in legend
    assert_legend_clear_of_the_layer_list(page)
    page.screenshot(path=str(artifacts / f"usable_coverage_legend_{page.device}.png"))


def _luminance(hex_colour: str) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_village_symbols_stand_out_on_every_choropleth_class(page, site):
    open_map(page, site["base"])
    style = page.evaluate("() => ictgis.state.layers.villages.getLayers()[0].options")
    palettes = page.evaluate("() => ictgis.palettes")
    backgrounds = [*palettes["ramp"], *palettes["neutral"], palettes["noData"]]
    for bg in backgrounds:  # the halo or the outline contrasts with every class (WCAG 3:1 for graphics)
        assert max(_contrast(style["haloColor"], bg), _contrast(style["color"], bg)) >= 3.0, bg
    assert style["halo"] >= 2 and style["weight"] >= 1
    # the halo is drawn: a ring of white pixels around a village on the map's canvas, over the darkest class
    ring = page.evaluate("""async (dark) => {
        const map = ictgis.state.map, l = ictgis.state.layers.villages.getLayers()[0];
        ictgis.state.layers.communes.setStyle({fillColor: dark, fillOpacity: 1});
        map.setView(l.getLatLng(), 15, {animate: false});
        for (let i = 0; i < 3; i++) { await new Promise(r => requestAnimationFrame(r)); }  // the canvas redraws
        const canvas = map.getPanes().overlayPane.querySelector('canvas');
        const cr = canvas.getBoundingClientRect(), mr = map.getContainer().getBoundingClientRect();
        const p = map.latLngToContainerPoint(l.getLatLng());
        const sx = canvas.width / cr.width, x = (p.x + mr.left - cr.left) * sx, y = (p.y + mr.top - cr.top) * sx;
        const o = l.options, inner = Math.round(o.radius) + o.weight / 2, ctx = canvas.getContext('2d');
        const out = [];
        for (let a = 0; a < 360; a += 30) {  // per direction, the whitest pixel between the outline and the halo's edge
            let best = 0;
            for (let r = inner; r <= inner + o.halo + 0.01; r += 0.5) {
                const d = ctx.getImageData(Math.round(x + r * sx * Math.cos(a * Math.PI / 180)),
                                           Math.round(y + r * sx * Math.sin(a * Math.PI / 180)), 1, 1).data;
                best = Math.max(best, Math.min(d[0], d[1], d[2]));
            }
            out.push(best);
        }
        return out;
    }""", palettes["ramp"][-1])
    assert min(ring) >= 230, str(ring)


def test_the_run_page_follows_the_run(page, small_site, artifacts):  # noqa: F811
    base, gate = small_site["base"], small_site["gate"]
    gate.reached.clear()
    gate.release.clear()
    page.goto(base + "/login")
    page.fill("input[name=username]", "planner1")
    page.fill("input[name=password]", PASSWORD)
    tap(page, "button[type=submit]")
    page.wait_for_selector("#logout", state="attached")
    page.goto(base + "/scenarios/")
    assert_reachable(page, "#scenario-table button[type=submit]", "#logout", "#lang-switch")
    tap(page, "#scenario-table button[type=submit]")
    page.wait_for_selector("#run-status")
    assert gate.reached.wait(30)
    page.wait_for_function("() => document.getElementById('run-status').dataset.status === 'running'",
                           timeout=15_000)
    assert page.locator("#run-status").inner_text() == "đang chạy"
    page.wait_for_function("() => document.getElementById('run-progress').value >= 0.9", timeout=15_000)
    message = page.locator("#run-message").inner_text()
    assert message == "Đang ghi kết quả" and "/" not in message
    page.screenshot(path=str(artifacts / f"usable_run_{page.device}.png"))
    gate.release.set()
    page.wait_for_selector("#run-status[data-status='done']", timeout=30_000)
    assert page.locator("#run-status").inner_text() == "xong"


def test_the_indicator_table_fills_in_the_4g_coverage(page, small_site, artifacts):  # noqa: F811
    """Opened while the coverage is computed (the worker is held), the page fills the value in when it lands."""
    assert analyses.wait_idle(timeout_s=600)
    release = threading.Event()
    analyses.background(("browser-block", uuid.uuid4().hex), lambda: release.wait(120))
    try:
        # a new state of the sites (a changeset moving S1's antenna): its coverage is not computed yet
        with small_site["app"].app_context():
            store = data.store()
            site = store.feature("bts_sites", "S1")
            store.edit("bts_sites", "S1", expected_version=site.version, author="test", message="antenna height",
                       attributes={"height_m": 20.0 + uuid.uuid4().int % 2000 / 100.0})
            data.refresh()
        page.goto(small_site["base"] + "/indicators")
        cell = "#indicator-table tr[data-key='mobile.populated_area_4g_pct'] td:nth-child(3)"  # the value
        assert page.locator(cell).inner_text() == "đang tính…"
    finally:
        release.set()
    # the value lands, written the Vietnamese way (93,9); the page then reloads with its target status and charts
    page.wait_for_function(f"() => /^\\d+(,\\d+)?$/.test(document.querySelector(\"{cell}\").textContent)",
                           timeout=120_000, polling=250)
    landed = "#indicator-table tr[data-key='mobile.populated_area_4g_pct'] td.status:not([data-status='unknown'])"
    page.wait_for_selector(landed, timeout=30_000)
    api = page.evaluate("() => fetch('/api/indicators').then(r => r.json())")
    assert float(page.locator(cell).inner_text().replace(",", ".")) == api["mobile"]["populated_area_4g_pct"] > 0
    width = DEVICES[page.device]["viewport"]["width"]
    # the page never scrolls sideways; wide tables scroll inside their box
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    for table in ("#indicator-table", "#commune-table"):
        right = page.evaluate(f"() => document.querySelector('{table}').parentNode.getBoundingClientRect().right")
        assert right <= width
    assert_reachable(page, ".ictgis-links a", "#lang-switch")
    page.screenshot(path=str(artifacts / f"usable_indicators_{page.device}.png"), full_page=True)
