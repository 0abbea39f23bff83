"""A planner edits a BTS site on the map in a real browser, on a desktop (1280 × 800) and a phone (390 × 844, touch):
the Edit button, a click on the site (hit-tested: the map, not a control, is under it), the form with its attributes,
the power source changed, saved as a changeset of the store, and the map and the API serving the new value."""

from __future__ import annotations

import json
import logging
import urllib.request

import pytest
from test_web import make_data
from test_web_browser import artifacts, playwright_api, serve, warm_coverage_kernels  # noqa: F401 - fixtures
from test_web_browser_mobile import DEVICES, PASSWORD, assert_reachable, browser, open_map, tap  # noqa: F401

from ictgis_web import create_app
from ictgis_web.users import UserStore

logger = logging.getLogger(__name__)

#: The site each device edits and the power source it sets.
EDITS = {"desktop": ("S4", "solar"), "phone": ("S2", "diesel")}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("edit")
    data = make_data(tmp / "data")
    warm_coverage_kernels(data)
    app = create_app({"TESTING": True, "DATA_DIR": str(data), "INSTANCE_PATH": str(tmp / "i"),
                      "SECRET_KEY": "browser", "SCENARIOS_DIR": str(tmp / "scenarios")})
    UserStore(app.instance_path).add("planner1", PASSWORD, "planner")
    UserStore(app.instance_path).add("planner2", PASSWORD, "planner")
    UserStore(app.instance_path).add("viewer1", PASSWORD, "viewer")
    server, base = serve(app)
    yield {"base": base, "app": app}
    server.close()


@pytest.fixture(params=list(DEVICES))
def page(browser, request):  # noqa: F811
    context = browser.new_context(**DEVICES[request.param])
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.device = request.param
    yield pg
    context.close()


def log_in(page, base: str, name: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    tap(page, "button[type=submit]")
    page.wait_for_selector("#logout", state="attached")


CENTRE_ON = """(key) => { const st = window.ictgis.state; let found = null;
    st.layers.bts_sites.eachLayer(l => { if (l.feature.properties.id === key) { found = l; } });
    if (!found) { return null; }
    st.map.setView(found.getLatLng(), 15, {animate: false});  // the site a quarter below the centre: clear of the
    st.map.panBy([0, -st.map.getSize().y / 4], {animate: false});  // controls at the top (the edit panel is open)
    const p = st.map.latLngToContainerPoint(found.getLatLng());
    const r = st.map.getContainer().getBoundingClientRect();
    const x = r.left + p.x, y = r.top + p.y, h = document.elementFromPoint(x, y);
    return {x: x, y: y, by: h ? (h.id || h.className || h.tagName) : null,
            onMap: !!h && st.map.getContainer().contains(h) && !h.closest('.leaflet-control')}; }"""


FORM_STATE = """() => { const f = document.getElementById('edit-form');
    return {hidden: f.hidden, key: f.getAttribute('data-key'),
            status: document.getElementById('edit-status').textContent}; }"""


def open_form_by_pointer(page, key: str, *, touch: bool) -> None:
    """Centre the map on site `key`, tap (or click) it and wait for its edit form.

    A pointer event the page dropped is tapped once more, as a user would (it happened once in CI in ~40 runs, on the
    emulated phone under a loaded machine); a form that does not open after the second tap fails the test with what
    the page showed (form state, status line, what was under the pointer)."""
    seen = []
    for _ in range(2):
        spot = page.evaluate(CENTRE_ON, key)
        assert spot is not None and spot["onMap"], spot  # the site is on the map, no control covers it
        if touch:
            page.touchscreen.tap(spot["x"], spot["y"])
        else:
            page.mouse.click(spot["x"], spot["y"])
        try:
            page.wait_for_selector(f"#edit-form[data-key='{key}']:not([hidden])", timeout=15_000)
            return
        except playwright_api.TimeoutError:
            seen.append({"spot": spot, "form": page.evaluate(FORM_STATE)})
            logger.warning("the form of %s did not open after a %s: %s", key, "tap" if touch else "click", seen[-1])
    pytest.fail(f"the edit form of {key} never opened: {seen}")


def api_feature(base: str, key: str) -> dict:
    return json.loads(urllib.request.urlopen(f"{base}/api/features/bts_sites/{key}", timeout=30).read())


def test_a_planner_edits_a_site_on_the_map(page, site, artifacts):  # noqa: F811
    base = site["base"]
    key, power = EDITS[page.device]
    before = api_feature(base, key)
    log_in(page, base, "planner1")
    open_map(page, base)
    page.wait_for_selector("#ictgis-edit[data-ready='1']", state="attached")
    assert_reachable(page, "#edit-toggle", "#planner-toggle", "#logout")
    tap(page, "#edit-toggle")
    assert_reachable(page, "#edit-add-site", "#edit-add-post")
    page.wait_for_function("() => window.ictgis.state.layers.bts_sites.getLayers().length > 0")
    open_form_by_pointer(page, key, touch=page.device == "phone")
    assert key in page.text_content("#edit-title")
    assert page.input_value("#edit-power") == before["attributes"]["power"]
    assert page.input_value("#edit-tech") == before["attributes"]["tech"]
    for sel in ("#edit-power", "#edit-message", "#edit-save", "#edit-delete"):
        page.locator(sel).scroll_into_view_if_needed()
        assert_reachable(page, sel)
    page.select_option("#edit-power", power)
    page.fill("#edit-message", f"Đổi nguồn điện {key}")
    page.locator("#edit-save").scroll_into_view_if_needed()
    tap(page, "#edit-save")
    page.wait_for_selector("#edit-form[data-saved='1']", state="attached")
    assert "Đã lưu" in page.text_content("#edit-status")
    after = api_feature(base, key)
    assert after["attributes"]["power"] == power and after["version"] > before["version"]
    page.wait_for_function(  # the map's layer was reloaded with the saved value
        """([key, power]) => { let p = null; window.ictgis.state.layers.bts_sites.eachLayer(
             l => { if (l.feature.properties.id === key) { p = l.feature.properties.power; } });
             return p === power; }""",
        arg=[key, power])
    page.screenshot(path=str(artifacts / f"edit-{page.device}.png"))
    assert page.errors == []


def test_viewers_get_no_edit_panel(page, site):
    log_in(page, site["base"], "viewer1")
    open_map(page, site["base"])
    assert page.locator("#ictgis-edit").count() == 0


def open_site_form(page, base: str, user: str, key: str) -> None:
    """Log in, open the map, switch to Edit and click site `key`: its form is open."""
    log_in(page, base, user)
    open_map(page, base)
    page.wait_for_selector("#ictgis-edit[data-ready='1']", state="attached")
    tap(page, "#edit-toggle")
    page.wait_for_function("() => window.ictgis.state.layers.bts_sites.getLayers().length > 0")
    open_form_by_pointer(page, key, touch=False)


def test_a_conflict_keeps_the_winners_change_and_the_second_planners_own(browser, site, artifacts):  # noqa: F811
    """A and B open site S3; A saves power = solar; B changes only the antenna height and saves: 409, B's form shows
    A's power beside B's height and names what A changed; B saves again (the confirmation): the stored site has
    A's power AND B's height — B's second save did not put the power back."""
    base, key = site["base"], "S3"
    before = api_feature(base, key)
    assert before["attributes"]["power"] != "solar"
    height = 41.5
    assert before["attributes"]["height_m"] != height
    contexts = [browser.new_context(**DEVICES["desktop"]) for _ in range(2)]
    try:
        a, b = (ctx.new_page() for ctx in contexts)
        errors: list[str] = []
        for pg in (a, b):
            pg.device = "desktop"
            pg.on("pageerror", lambda e: errors.append(str(e)))
        open_site_form(a, base, "planner1", key)
        open_site_form(b, base, "planner2", key)  # both saw the same version
        a.select_option("#edit-power", "solar")
        a.fill("#edit-message", "A: điện mặt trời")
        a.click("#edit-save")
        a.wait_for_selector("#edit-form[data-saved='1']", state="attached")
        assert api_feature(base, key)["attributes"]["power"] == "solar"

        b.fill("#edit-height_m", str(height))
        b.fill("#edit-message", "B: nâng ăng-ten")
        b.click("#edit-save")
        b.wait_for_selector("#edit-form[data-conflict]", state="attached")
        status = b.text_content("#edit-status")
        assert "Xung đột" in status and "planner1" in status  # Vietnamese first, names who won
        assert "Nguồn điện" in status and "Năng lượng mặt trời" in status  # … and what they changed
        assert "Độ cao ăng-ten" in status  # B's own change is named as kept
        assert b.input_value("#edit-power") == "solar"  # the winner's value is in B's form
        assert float(b.input_value("#edit-height_m")) == height  # B's edit is kept
        assert b.text_content("#edit-save") == "Lưu lại (xác nhận)"
        b.screenshot(path=str(artifacts / "edit-conflict.png"))
        stored = api_feature(base, key)
        assert stored["attributes"]["height_m"] == before["attributes"]["height_m"]  # nothing written by the 409

        b.click("#edit-save")  # B confirms
        b.wait_for_selector("#edit-form[data-saved='1']", state="attached")
        after = api_feature(base, key)
        assert after["attributes"]["power"] == "solar"  # A's change is not undone
        assert after["attributes"]["height_m"] == height  # B's change is in
        assert after["attributes"]["tech"] == before["attributes"]["tech"]
        assert errors == []
    finally:
        for ctx in contexts:
            ctx.close()
