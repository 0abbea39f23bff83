"""The biến động page's 4G/3G populated-area coverage: today's column from the app's background result (the numbers
of ``/api/indicators``), a past state's computed in the background per changeset (the numbers of ``ictgis coverage``
on ``ictgis db export --as-of`` of that state), "đang tính…" until then, and the 4G chart's points as they land.

The tiny province with its DEM, imported by the app (changeset 1); a planner then takes 4G off site S3 on the map
(changeset 2), so the two states' 4G coverage differ.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_web_store import planner, send

from ictgis_web import analyses, create_app

ROW = r'<tr data-key="{key}">(.*?)</tr>'


@pytest.fixture()
def app(tmp_path):
    from test_web import make_data

    app = create_app({"TESTING": True, "DATA_DIR": str(make_data(tmp_path / "data")), "SECRET_KEY": "test",
                      "STORE_POLL_S": 0, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SCENARIOS_DIR": str(tmp_path / "scenarios")})
    client = planner(app, "lan")
    resp = send(client, "PATCH", "/api/features/bts_sites/S3", {"expected_version": 1, "message": "Tắt 4G trạm S3",
                                                                "attributes": {"tech": "2G,3G"}})
    assert resp.status_code == 200 and resp.get_json()["changeset"]["id"] == 2
    assert analyses.wait_idle(timeout_s=300)
    return app


def cells(html: str, key: str) -> dict[str, tuple[str, str, bool]]:
    """The as-of table's cells of one indicator: column → (data-v, text, pending)."""
    row = re.search(ROW.format(key=re.escape(key)), html, flags=re.S).group(1)
    return {col: (v, text.strip(), "data-pending" in attrs) for attrs, col, v, text in re.findall(
        r'<td([^>]*data-col="(\w+)" data-v="([^"]*)"[^>]*)>(.*?)</td>', row, flags=re.S)}


def fill(client, query: str, *, rounds: int = 40) -> dict:
    """Ask /bien-dong/coverage.json (which starts the next state) until nothing is pending."""
    for _ in range(rounds):
        res = client.get(f"/bien-dong/coverage.json?{query}").get_json()
        if res["pending"] == 0:
            return res
        assert analyses.wait_idle(timeout_s=300)
    raise AssertionError(f"still pending after {rounds} rounds: {res}")


def cli_coverage(tmp_path: Path, store: Path, as_of: int) -> dict:
    """``ictgis db export --as-of`` then ``ictgis coverage`` on it: the summary_4g.json of that state's 4G."""
    exe = [sys.executable, "-c", "from ictgis.cli import main; main()"]
    out = tmp_path / f"state{as_of}"
    subprocess.run([*exe, "db", "export", "--db", str(store), "--as-of", str(as_of), "--out", str(out)], check=True,
                   capture_output=True)
    cov = tmp_path / f"cov{as_of}"
    subprocess.run([*exe, "coverage", str(out), "--tech", "4g", "--out", str(cov), "--no-kmz"], check=True,
                   capture_output=True)
    return json.loads((cov / "summary_4g.json").read_text())


def test_coverage_fills_in_today_from_the_served_result_and_past_states_as_the_cli_gives(app, tmp_path):
    client = app.test_client()
    html = client.get("/bien-dong?from=1&to=2&as_of=1").get_data(as_text=True)
    first = cells(html, "mobile.populated_area_4g_pct")
    assert first["then"][1] == "đang tính…" and first["then"][2]  # the page did not wait for it
    assert "ictgis-biendong-coverage.js" in html

    res = fill(client, "as_of=1")
    assert res["rows"]["mobile.populated_area_4g_pct"]["then_pending"] is False
    html = client.get("/bien-dong?from=1&to=2&as_of=1").get_data(as_text=True)
    assert "data-pending" not in html and "ictgis-biendong-coverage.js" not in html
    c4, c3 = cells(html, "mobile.populated_area_4g_pct"), cells(html, "mobile.populated_area_3g_pct")

    today = client.get("/api/indicators").get_json()["mobile"]
    assert today["populated_area_4g_pct"] is not None
    assert float(c4["now"][0]) == today["populated_area_4g_pct"]  # today's column = the app's indicators
    assert float(c3["now"][0]) == today["populated_area_3g_pct"]

    past = cli_coverage(tmp_path, Path(app.instance_path) / "ictgis.gpkg", 1)
    assert float(c4["then"][0]) == past["populated_area_pct"]  # the past state = `ictgis coverage` on its export
    assert float(c4["then"][0]) > float(c4["now"][0])  # S3 lost its 4G: the two states differ
    assert float(c4["diff"][0]) == pytest.approx(float(c4["now"][0]) - float(c4["then"][0]), abs=0.01)

    chart = html.split('id="time-mobile-populated_area_4g_pct"', 1)[1].split("</svg>", 1)[0]
    assert chart.count('class="chart-point') == 2 and "chart-point-missing" not in chart
    assert 'class="chart-target"' in chart and "mục tiêu 99,0 %" in chart  # the plan's target
    assert res["points"] == {"1": past["populated_area_pct"], "2": today["populated_area_4g_pct"]}
    data = client.get("/bien-dong/indicators.json?as_of=1").get_json()
    assert data["coverage"]["mobile.populated_area_4g_pct"] == past["populated_area_pct"]
    assert data["pending"] == [] and data["today_pending"] == []


def test_one_past_state_is_computed_at_a_time(app):
    """Asking for every state queues one past state on the worker, not all of them (today's analyses wait less)."""
    client = app.test_client()
    assert analyses.wait_idle(timeout_s=300)
    client.get("/bien-dong/coverage.json?as_of=1")
    assert analyses.pending("coverage_state") <= 1
    assert analyses.wait_idle(timeout_s=300)
