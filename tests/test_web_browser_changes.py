"""The biến động page in a real browser (1280 × 800 and a 390 × 844 phone): the change map draws every changed
feature in its colour, popups open with before → after, and every control is reachable and tappable (hit test).

The store is the three-changeset tiny province of test_web_changes; screenshots go to ``$ICTGIS_ARTIFACTS``.
"""

from __future__ import annotations

import pytest
from conftest import stop_server, write_layers
from test_web import write_dem
from test_web_browser import artifacts, playwright_api, serve  # noqa: F401 - fixtures
from test_web_browser_mobile import DEVICES, HIT_TEST, browser  # noqa: F401 - fixture
from test_web_changes import history_layers

from ictgis.store import open_store
from ictgis_web import create_app

#: Scroll each control to the middle of the screen, then hit-test it there.
SCROLL = "(sel) => document.querySelectorAll(sel).forEach(e => e.scrollIntoView({block: 'center'}))"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bd-browser")
    url = str(tmp / "instance" / "ictgis.gpkg")
    store = open_store(url)
    store.init()
    for i, layers in enumerate(history_layers(), start=1):
        message = (f"thay đổi {i}: cập nhật số liệu hạ tầng viễn thông, bưu chính của các huyện (khảo sát "
                   "của Sở Khoa học và Công nghệ)")  # long: the choice lists must still fit a phone
        folder = write_layers(tmp / f"s{i}", layers)
        write_dem(folder)  # the coverage of each state can be computed
        store.import_dataset(folder, author=f"user{i}", message=message)
    store.close()
    app = create_app({"INSTANCE_PATH": str(tmp / "instance"), "SECRET_KEY": "browser", "STORE_URL": url,
                      "PRECOMPUTE": False})
    server, base = serve(app)
    yield {"base": base}
    stop_server(server)


@pytest.fixture(params=list(DEVICES))
def page(request, browser):  # noqa: F811
    context = browser.new_context(**DEVICES[request.param])
    pg = context.new_page()
    pg.errors, pg.requests = [], []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.device = request.param
    yield pg
    context.close()


def open_page(page, site, query="?from=1&to=3"):
    page.goto(site["base"] + "/bien-dong" + query)
    page.wait_for_selector("html[data-bd-ready='1']", state="attached", timeout=30_000)


def assert_tappable(page, *selectors):
    for sel in selectors:
        found = []
        for index in range(page.locator(sel).count()):
            page.locator(sel).nth(index).scroll_into_view_if_needed()
            page.evaluate(f"(sel) => document.querySelectorAll(sel)[{index}].scrollIntoView({{block: 'center'}})",
                          sel)
            found.append(page.evaluate(HIT_TEST, sel)[index])
        assert found, sel
        bad = [f for f in found if not (f["w"] > 0 and f["h"] > 0 and f["inside"] and f["hit"])]
        assert bad == [], [(f["sel"], f["text"], f["inside"], f["hit"], f["by"]) for f in bad]


def test_change_map_draws_every_change_in_its_colour(page, site, artifacts):  # noqa: F811
    open_page(page, site)
    assert page.get_attribute("#change-map", "data-error") is None
    counts = page.evaluate("""() => ({added: document.querySelectorAll('path.change-added').length,
        removed: document.querySelectorAll('path.change-removed').length,
        changed: document.querySelectorAll('path.change-changed').length,
        moved: document.querySelectorAll('path.change-moved').length})""")
    assert counts == {"added": 1, "removed": 1, "changed": 4, "moved": 1}
    fills = page.evaluate("""() => ['added', 'removed', 'changed'].map(
        k => document.querySelector('path.change-' + k).getAttribute('fill'))""")
    assert fills == ["#1a9850", "#d73027", "#f28e2b"]
    legend = page.inner_text("#change-legend")
    assert "Thêm mới: 1" in legend and "Xóa bỏ: 1" in legend and "Thay đổi: 4" in legend
    assert all(u.startswith(site["base"]) or u.startswith("data:") for u in page.requests), page.requests
    assert page.errors == []
    page.locator("#change-map").screenshot(path=str(artifacts / f"bien-dong-{page.device}.png"))


def test_popup_shows_before_and_after(page, site, artifacts):  # noqa: F811
    open_page(page, site)
    page.locator("#change-map").scroll_into_view_if_needed()
    page.evaluate("() => ictgisChanges.open('villages:V03')")
    popup = page.wait_for_selector(".leaflet-popup-content")
    text = popup.inner_text()
    assert "V03" in text and "Dân số" in text and "3.000" not in text  # raw values, no formatting of ids
    assert "3000" in text and "→ 3100" in text
    # a real tap on a changed feature opens its popup too
    page.evaluate("() => ictgisChanges.map.closePopup()")
    page.wait_for_selector(".leaflet-popup", state="detached")
    box = page.locator("path.change-added").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    if page.device == "phone":
        page.touchscreen.tap(x, y)
    else:
        page.mouse.click(x, y)
    page.wait_for_function("() => (document.querySelector('.leaflet-popup-content') || {}).textContent"
                           "?.includes('V11')")


def test_controls_are_reachable_and_tappable(page, site):
    open_page(page, site)
    assert_tappable(page, "#bd-from", "#bd-to", "#bd-from-date", "#bd-to-date", "#bd-show", ".bd-quick-link",
                    "#bd-as-of", "#bd-as-of-show", "#bd-by-commune th button.sort", "#changes-link",
                    "#lang-switch", ".leaflet-control-zoom-in")
    # the tables fit the screen or scroll inside their box: the page itself does not scroll sideways
    # (against the device's width: a phone zooms out to show a page wider than itself, and innerWidth grows)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, width


def test_choosing_changesets_in_the_form_updates_the_page(page, site):
    open_page(page, site, "")
    assert page.locator("path.change-added").count() == 0  # default: the last changeset only (V06, S2, S4)
    assert page.locator("path.change-changed").count() == 3
    page.select_option("#bd-from", "0")
    if page.device == "phone":
        page.tap("#bd-show")
    else:
        page.click("#bd-show")
    page.wait_for_url("**from=0**")
    page.wait_for_selector("html[data-bd-ready='1']", state="attached")
    assert page.locator("path.change-added").count() == 25  # every feature of every layer



def test_coverage_cells_and_chart_points_fill_in_without_reloading(browser, tmp_path):  # noqa: F811
    """The 4G/3G coverage of the as-of state reads "đang tính…" at first (a store of its own: nothing of it computed
    yet); the page fills it in as it lands (the background computes one state at a time), and the 4G chart gets
    every point, without a reload."""
    url = str(tmp_path / "instance" / "ictgis.gpkg")
    store = open_store(url)
    store.init()
    for i, layers in enumerate(history_layers(), start=1):
        folder = write_layers(tmp_path / f"s{i}", layers)
        write_dem(folder)
        store.import_dataset(folder, author=f"user{i}", message=f"thay đổi {i}")
    store.close()
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "browser", "STORE_URL": url,
                      "PRECOMPUTE": False})
    server, base = serve(app)
    context = browser.new_context(**DEVICES["desktop"])
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/bien-dong?from=1&to=3&as_of=1")
        then_4g = page.locator("#bd-indicators tr[data-key='mobile.populated_area_4g_pct'] td[data-col='then']")
        assert then_4g.get_attribute("data-pending") == "1" and then_4g.text_content() == "đang tính…"
        page.evaluate("() => { window.notReloaded = true; }")
        page.wait_for_selector("html[data-bd-coverage-pending='0']", state="attached", timeout=240_000)
        assert page.evaluate("() => window.notReloaded === true")
        for key in ("mobile.populated_area_4g_pct", "mobile.populated_area_3g_pct"):
            for col in ("then", "now"):
                cell = page.locator(f"#bd-indicators tr[data-key='{key}'] td[data-col='{col}']")
                assert cell.get_attribute("data-pending") is None
                assert float(cell.get_attribute("data-v")) >= 0, (key, col)
                assert "%" in cell.text_content() or "," in cell.text_content(), cell.text_content()
        chart = page.locator("#time-mobile-populated_area_4g_pct")
        assert chart.locator("circle.chart-point").count() == 3
        assert chart.locator("circle.chart-point-missing").count() == 0
        assert errors == []
    finally:
        context.close()
        stop_server(server)
