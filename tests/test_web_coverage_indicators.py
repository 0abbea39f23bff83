"""The indicator table's coverage: computed in the background when the server starts, filled in when it lands."""

from __future__ import annotations

import threading
import uuid

import pytest
from test_web_analyses import unique_folder

from ictgis import io
from ictgis.coverage import populated_area_coverage
from ictgis_web import analyses, create_app
from ictgis_web.formats import number


def _app(tmp_path, folder, **config):
    return create_app({"DATA_DIR": str(folder), "INSTANCE_PATH": str(tmp_path / f"i-{uuid.uuid4().hex[:6]}"),
                       "SECRET_KEY": "t", **config})


@pytest.fixture()
def blocked_worker():
    """Hold the background worker (one thread, in order) until the test releases it."""
    assert analyses.wait_idle(timeout_s=300)
    release = threading.Event()
    analyses.background(("test-block", uuid.uuid4().hex), lambda: release.wait(60))
    yield release
    release.set()
    assert analyses.wait_idle(timeout_s=300)


def test_the_server_start_computes_the_coverage_and_the_table_shows_the_run_pages_numbers(tmp_path):
    folder = unique_folder(tmp_path)
    app = _app(tmp_path, folder)  # PRECOMPUTE is on by default
    assert app.config["PRECOMPUTE"] is True
    assert analyses.wait_idle(timeout_s=300)
    expected = populated_area_coverage(io.load(folder), technologies=("3G", "4G")).values
    client = app.test_client()
    mobile = client.get("/api/indicators").get_json()["mobile"]
    assert expected["populated_area_4g_pct"] is not None
    for key in ("populated_area_4g_pct", "populated_area_3g_pct", "villages_covered_4g", "population_covered_3g"):
        assert mobile[key] == expected[key], key
    assert client.get("/api/indicators?structure=2025").get_json()["mobile"]["populated_area_4g_pct"] == \
        expected["populated_area_4g_pct"]
    page = client.get("/indicators").get_data(as_text=True)
    row = page.split('data-key="mobile.populated_area_4g_pct"')[1].split("</tr>")[0]
    assert f">{number(expected['populated_area_4g_pct'], decimals=1, lang='vi')}<" in row  # 93,9
    assert "data-pending" not in page and "ictgis-indicators.js" not in page


def test_unit_tests_stay_quiet_unless_they_ask(tmp_path):
    assert analyses.wait_idle(timeout_s=300)
    before = analyses.generation()
    app = _app(tmp_path, unique_folder(tmp_path), TESTING=True)
    assert app.config["PRECOMPUTE"] is False
    assert analyses.wait_idle(timeout_s=300)
    assert analyses.generation() == before  # nothing was computed


def test_the_page_says_computing_then_the_value_lands(tmp_path, blocked_worker):
    app = _app(tmp_path, unique_folder(tmp_path), PRECOMPUTE=False)
    client = app.test_client()
    page = client.get("/indicators").get_data(as_text=True)  # asks for the coverage: queued behind the block
    row = page.split('data-key="mobile.populated_area_4g_pct"')[1].split("</tr>")[0]
    assert 'data-pending="1"' in row and "đang tính…" in row
    assert 'data-key="mobile.sites_4g"' in page and "ictgis-indicators.js" in page
    assert client.get("/api/indicators").get_json()["mobile"].get("populated_area_4g_pct") is None
    blocked_worker.set()
    assert analyses.wait_idle(timeout_s=300)
    value = client.get("/api/indicators").get_json()["mobile"]["populated_area_4g_pct"]
    assert 0 < value <= 100
    page = client.get("/indicators").get_data(as_text=True)
    assert "data-pending" not in page and f">{number(value, decimals=1, lang='vi')}<" in page


def test_a_dataset_without_dem_has_nothing_pending(tmp_path):
    app = _app(tmp_path, unique_folder(tmp_path, dem=False), PRECOMPUTE=False)
    page = app.test_client().get("/indicators").get_data(as_text=True)
    assert "data-pending" not in page and "ictgis-indicators.js" not in page
    mobile = app.test_client().get("/api/indicators").get_json()["mobile"]
    assert mobile.get("populated_area_4g_pct") is None
    assert "chart-district-populated_area_4g_pct" not in page  # no 4G chart without a DEM (none "computing")
    assert "chart-district-villages_fiber_pct" in page
