"""The GIS officer's data page in a real browser, on a desktop and on a 390 × 844 phone: every control reachable and
tappable (the hit test of test_web_browser_mobile, after scrolling each control into view), Vietnamese messages,
a CRS chosen for a Shapefile without .prj, the warning for a village outside its commune, the versions table (the
store's changesets) and rolling back to an older one (a new changeset)."""

from __future__ import annotations

import pytest
from test_web import make_data
from test_web_browser import artifacts, playwright_api, serve  # noqa: F401 - fixtures
from test_web_browser_mobile import DEVICES, HIT_TEST, PASSWORD, browser, tap  # noqa: F401 - fixture
from test_web_datapage import geojson, shapefile_zip, villages

from ictgis_web import create_app
from ictgis_web.users import UserStore

CONTROLS = ["#upload-layer", "#upload-file", "#upload-message", "#upload-crs", "#upload-crs-epsg", "#upload-submit",
            ".serve-button", "#changesets-link",
            "#logout", "#lang-switch"]


@pytest.fixture()
def site(tmp_path):
    app = create_app({"DATA_DIR": str(make_data(tmp_path / "data")), "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SECRET_KEY": "browser", "PRECOMPUTE": False})
    UserStore(app.instance_path).add("gis1", PASSWORD, "planner")
    (tmp_path / "thon_ban.zip").write_bytes(shapefile_zip(villages(2), prj=False))
    (tmp_path / "thon_lech.geojson").write_bytes(geojson(villages(2, moved=True)))
    server, base = serve(app)
    yield {"base": base, "files": tmp_path}
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


def assert_tappable(page, *selectors):
    """Scroll each control into view, then hit-test it (the page is longer than a phone's screen)."""
    for sel in selectors:
        count = page.locator(sel).count()
        assert count >= 1, sel
        for i in range(count):
            page.locator(sel).nth(i).scroll_into_view_if_needed()
            found = page.evaluate(HIT_TEST, sel)[i]
            assert found["w"] > 0 and found["h"] > 0 and found["inside"] and found["hit"], found


def no_sideways_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"]


def submit(page, file, *, crs: str = ""):
    page.select_option("#upload-layer", "villages")
    page.set_input_files("#upload-file", str(file))
    page.select_option("#upload-crs", crs)
    with page.expect_navigation():
        tap(page, "#upload-submit")


def test_the_data_page_on_desktop_and_phone(page, site, artifacts):  # noqa: F811
    base, files = site["base"], site["files"]
    page.goto(base + "/login?next=/data/")
    page.fill("input[name=username]", "gis1")
    page.fill("input[name=password]", PASSWORD)
    tap(page, "button[type=submit]")
    page.wait_for_selector("#upload-form")
    assert page.locator("h1").inner_text() == "Dữ liệu"
    # a Shapefile without .prj: refused, the message says what to choose
    submit(page, files / "thon_ban.zip")
    problems = page.locator("#upload-problems li").all_inner_texts()
    assert len(problems) == 1 and "tệp không có hệ tọa độ" in problems[0] and "EPSG:9205" in problems[0], problems
    assert page.locator("#upload-layer").input_value() == "villages"
    page.screenshot(path=str(artifacts / f"datapage-no-crs-{page.device}.png"), full_page=True)
    # the same file with the province's grid chosen: accepted
    submit(page, files / "thon_ban.zip", crs="EPSG:9205")
    assert "Đã nhận lớp dữ liệu" in page.locator("#upload-ok").inner_text()
    # a village 2 km inside another commune: accepted, with the warning
    submit(page, files / "thon_lech.geojson")
    warning = page.locator("#outside-commune").inner_text()
    assert "nằm ngoài xã" in warning and "V03" in warning and "03316" in warning, warning
    rows = page.locator("#version-table tbody tr")
    assert rows.count() == 3
    assert "+2 thêm" in rows.nth(1).inner_text() and "1 sửa" in rows.nth(0).inner_text()
    assert_tappable(page, *CONTROLS)
    assert no_sideways_scroll(page)
    page.screenshot(path=str(artifacts / f"datapage-{page.device}.png"), full_page=True)
    # roll back to the first upload (changeset 2): a new changeset 4, served
    button = page.locator("#version-table tr[data-version='2'] .serve-button")
    button.scroll_into_view_if_needed()
    with page.expect_navigation():
        tap(page, "#version-table tr[data-version='2'] .serve-button")
    assert page.locator("#served-ok").inner_text() == "Đã khôi phục: thay đổi mới #4"
    assert "đang dùng" in page.locator("#version-table tr[data-version='4']").inner_text()
    assert page.locator("#version-table tbody tr").count() == 4
    assert page.errors == []
