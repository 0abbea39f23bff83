"""The biến động page (web.changes_page, web.history) and the time chart (web.charts.time_chart).

A tiny store with three changesets: the tiny province; then a village added, one removed and one changed; then a
BTS site moved, another upgraded to 4G, and a village connected to fiber.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from conftest import KM, X0, Y0, tiny_layers, write_layers

from ictgis import indicators
from ictgis.store import open_store
from ictgis_web import charts, create_app

SVG = "{http://www.w3.org/2000/svg}"


def history_layers() -> list[dict[str, gpd.GeoDataFrame]]:
    """The three states of the fixture store."""
    first = tiny_layers()
    second = tiny_layers()
    v = second["villages"]
    v.loc[v["id"] == "V03", "population"] = 3100                          # changed (commune 03124)
    v = v[v["id"] != "V10"]                                              # removed (commune 03325)
    new = v.iloc[[3]].copy()
    new["id"], new["name"] = "V11", "Bản Mới"                          # added (commune 03127)
    new["geometry"] = [shapely.Point(X0 + 6.5 * KM, Y0 + 3.5 * KM)]
    second["villages"] = gpd.GeoDataFrame(pd.concat([v, new], ignore_index=True), crs=v.crs)
    third = {k: f.copy() for k, f in second.items()}
    b = third["bts_sites"]
    b.loc[b["id"] == "S2", "geometry"] = shapely.Point(X0 + 7.5 * KM, Y0 + 2.5 * KM)   # moved (03127 by location)
    b.loc[b["id"] == "S4", "tech"] = "2G,4G"                             # upgraded in place (03325 by location)
    v = third["villages"]
    v.loc[v["id"] == "V06", "fiber"] = 1                                 # changed (commune 03127)
    return [first, second, third]


@pytest.fixture(scope="module")
def store_url(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("bd")
    url = str(tmp / "instance" / "ictgis.gpkg")
    store = open_store(url)
    store.init()
    messages = ["Dữ liệu gốc", "Khảo sát thôn bản Q1", "Dời trạm S2, cáp quang Bản Phủ"]
    for i, (layers, message) in enumerate(zip(history_layers(), messages, strict=True), start=1):
        cs = store.import_dataset(write_layers(tmp / f"state{i}", layers), author=f"user{i}", message=message)
        assert cs.id == i
    store.close()
    return url


@pytest.fixture()
def client(tmp_path, store_url):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "STORE_URL": store_url, "PRECOMPUTE": False})
    return app.test_client()


def table(html: str, table_id: str) -> dict[str, dict[str, int]]:
    """Rows of a count table by their data attribute: {row key: {kind: count}}."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    out = {}
    for row in re.findall(r'<tr data-(?:layer|commune)="([^"]*)">(.*?)</tr>', body, flags=re.S):
        out[row[0]] = {k: int(v) for v, k in re.findall(r'data-v="(\d+)" data-kind="(\w+)"', row[1])}
    return out


def test_counts_by_layer_and_by_commune_are_exact(client):
    html = client.get("/bien-dong?from=1&to=3").get_data(as_text=True)
    assert table(html, "bd-by-layer") == {
        "villages": {"added": 1, "removed": 1, "changed": 2, "total": 4},
        "bts_sites": {"added": 0, "removed": 0, "changed": 2, "total": 2}}
    assert table(html, "bd-by-commune") == {
        "03127": {"added": 1, "removed": 0, "changed": 2, "total": 3},
        "03325": {"added": 0, "removed": 1, "changed": 1, "total": 2},
        "03124": {"added": 0, "removed": 0, "changed": 1, "total": 1}}
    assert "Him Lam" in html and "Biến động" in html


def test_defaults_to_the_previous_changeset_and_now_and_lists_the_interval(client):
    resp = client.get("/bien-dong")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert table(html, "bd-by-layer") == {
        "villages": {"added": 0, "removed": 0, "changed": 1, "total": 1},
        "bts_sites": {"added": 0, "removed": 0, "changed": 2, "total": 2}}
    listed = html.split('id="bd-changesets"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'<tr data-id="(\d+)">', listed) == ["3"]
    assert "user3" in listed and "Dời trạm S2" in listed
    whole = client.get("/bien-dong?from=0&to=3").get_data(as_text=True)
    listed = whole.split('id="bd-changesets"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'<tr data-id="(\d+)">', listed) == ["3", "2", "1"]


def test_english_page_and_the_nav_link(client):
    html = client.get("/changes?lang=en").get_data(as_text=True)
    assert "Infrastructure changes" in html and "Changesets in the interval" in html
    assert 'id="changes-link" href="/bien-dong">Changes<' in html


def test_change_map_geojson_has_the_changed_features_with_colours_and_before_after(client):
    text = client.get("/bien-dong/changes.geojson?from=1&to=3").get_data(as_text=True)
    gj = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON: browsers refuse it"))
    got = {(f["properties"]["layer"], f["properties"]["key"]): f["properties"] for f in gj["features"]}
    assert {k: p["change"] for k, p in got.items()} == {
        ("villages", "V11"): "added", ("villages", "V10"): "removed", ("villages", "V03"): "changed",
        ("villages", "V06"): "changed", ("bts_sites", "S2"): "changed", ("bts_sites", "S4"): "changed"}
    colours = {"added": "#1a9850", "removed": "#d73027", "changed": "#f28e2b"}
    for p in got.values():
        assert p["colour"] == colours[p["change"]] and p["class"] == f"change-{p['change']}"
    assert got[("villages", "V03")]["attrs"] == [["population", 3000, 3100]]
    assert got[("villages", "V06")]["attrs"] == [["fiber", False, True]]
    assert got[("bts_sites", "S2")]["attrs"] == [] and got[("bts_sites", "S2")]["moved_m"] == pytest.approx(707.1)
    assert got[("bts_sites", "S2")]["before_point"] is not None
    s4 = got[("bts_sites", "S4")]
    assert s4["attrs"] == [["tech", "2G", "2G,4G"]] and s4["moved_m"] is None
    assert ["name", "Bản Pá Khoang", None] in got[("villages", "V10")]["attrs"]
    lon, lat = next(f for f in gj["features"] if f["properties"]["key"] == "V11")["geometry"]["coordinates"]
    assert 102 < lon < 104 and 20 < lat < 23  # EPSG:4326 near Điện Biên Phủ
    outlines = client.get("/bien-dong/communes.geojson?at=3").get_json()
    assert len(outlines["features"]) == 4


def test_indicators_as_of_equal_compute_on_the_store_state(client, store_url):
    data = client.get("/bien-dong/indicators.json?as_of=1").get_json()
    store = open_store(store_url)
    try:
        expected = indicators.compute(store.dataset(as_of=1))
        today = indicators.compute(store.dataset())
    finally:
        store.close()
    assert data["as_of"] == 1 and data["today"] == 3
    assert data["result"] == json.loads(json.dumps(expected))
    assert data["today_result"] == json.loads(json.dumps(today))
    assert data["result"]["fiber"]["villages_with_fiber"] == 7 and today["fiber"]["villages_with_fiber"] == 9
    html = client.get("/bien-dong?as_of=1").get_data(as_text=True)
    row = re.search(r'<tr data-key="fiber.villages_with_fiber">(.*?)</tr>', html, flags=re.S).group(1)
    assert re.findall(r'data-v="([^"]*)"', row) == ["7", "9", "2.0"]  # V11 added with fiber, V06 connected
    assert "+2" in row
    cov = re.search(r'<tr data-key="mobile.populated_area_4g_pct">(.*?)</tr>', html, flags=re.S).group(1)
    assert "—" in cov and 'id="bd-coverage-note"' in html


def test_time_charts_have_one_point_per_changeset_and_the_target(client):
    html = client.get("/bien-dong").get_data(as_text=True)
    box = html.split('id="time-fiber-villages_fiber_pct"', 1)[1].split("</svg>", 1)[0]
    assert box.count('class="chart-point') == 3
    assert 'class="chart-target"' in box and "mục tiêu 100,0 %" in box
    bts = html.split('id="time-mobile-bts_sites"', 1)[1].split("</svg>", 1)[0]
    assert bts.count('class="chart-point') == 3 and "chart-target" not in bts


def test_without_store_url_the_page_reads_the_apps_default_store(tmp_path):
    """One store per app: without STORE_URL the page shows the web app's own store (``<instance>/ictgis.gpkg``)."""
    from test_web import make_data

    from ictgis_web import data, history

    app = create_app({"TESTING": True, "SECRET_KEY": "t", "INSTANCE_PATH": str(tmp_path / "i"), "PRECOMPUTE": False,
                      "DATA_DIR": str(make_data(tmp_path / "data"))})
    app.config.pop("STORE_URL", None)
    client = app.test_client()
    resp = client.get("/bien-dong")
    assert resp.status_code == 200
    assert "chưa có lần thay đổi nào" not in resp.get_data(as_text=True)
    assert client.get("/bien-dong/changes.geojson").status_code == 200
    with app.app_context():
        assert history.app_store() is data.store()
        assert data.store().log()[0].author == "system"  # the base data, imported when the app started


@pytest.mark.parametrize("query, needle", [
    ("from_date=2024-13-45", "from_date"), ("to=abc", "abc"), ("to=99", "99"), ("as_of_date=31/12/2021", "as_of_date")])
def test_bad_dates_are_a_400_with_a_message(client, query, needle):
    resp = client.get(f"/bien-dong?{query}")
    assert resp.status_code == 400
    assert needle in resp.get_data(as_text=True)
    if not query.startswith("as_of"):  # the change map reads the same bounds
        assert client.get(f"/bien-dong/changes.geojson?{query}").status_code == 400


def test_dates_pick_the_state_at_the_end_of_that_day(client):
    tomorrow = (dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).date() + dt.timedelta(days=1)).isoformat()
    html = client.get(f"/bien-dong?from_date=2000-01-01&to_date={tomorrow}").get_data(as_text=True)
    assert table(html, "bd-by-layer")["villages"]["added"] == 10  # before the first changeset → everything added


# ------------------------------------------------------------------------------------------ the chart itself
def test_time_chart_is_valid_svg_with_one_point_per_state_in_steps():
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    points = [(t0, 80.0), (t0 + dt.timedelta(days=30), None), (t0 + dt.timedelta(days=90), 95.0)]
    svg = charts.time_chart(points, title="Cáp <quang>", fmt=lambda v: "—" if v is None else f"{v:.1f}",
                            date_fmt=lambda d: d.date().isoformat(), target=90.0, target_text="mục tiêu 90",
                            labels=["#1", "#2", "#3"], chart_id="c1")
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == "Cáp <quang>"
    circles = root.findall(f"{SVG}circle")
    assert len(circles) == 3
    assert [c.get("class") for c in circles] == ["chart-point chart-point-behind", "chart-point chart-point-missing",
                                                 "chart-point"]
    xs = [float(c.get("cx")) for c in circles]
    assert xs[0] < xs[1] < xs[2] and xs[1] - xs[0] < (xs[2] - xs[0]) / 2  # placed by time
    path = root.find(f"{SVG}path").get("d")
    assert path.startswith("M") and "H" in path and "V" in path  # steps
    assert root.find(f"{SVG}line[@class='chart-target']") is not None
    assert circles[2].find(f"{SVG}title").text == "2024-03-31: 95.0 — #3"


def test_time_chart_spreads_points_of_one_instant_and_refuses_wrong_labels():
    t0 = dt.datetime(2024, 1, 1)
    svg = charts.time_chart([(t0, 1.0), (t0, 2.0), (t0, 3.0)], title="x", fmt=str, date_fmt=str)
    xs = [float(x) for x in re.findall(r'cx="([\d.]+)"', svg)]
    assert len(set(xs)) == 3
    with pytest.raises(ValueError):
        charts.time_chart([(t0, 1.0)], title="x", fmt=str, date_fmt=str, labels=[])


# ------------------------------------------------------------------------------------------ chart points
def test_chart_points_and_indicators_of_each_state_equal_the_full_computation_of_that_state(tmp_path):
    """Every changeset touches one layer (communes too); each state's values are those of a fresh full read."""
    from ictgis_web import history
    from ictgis_web.changes_page import TIME_INDICATORS

    url = str(tmp_path / "instance" / "ictgis.gpkg")
    layers = tiny_layers()
    store = open_store(url)
    store.init()
    store.import_dataset(write_layers(tmp_path / "s1", layers), author="a", message="base")
    edits = [("villages", "V06", {"fiber": True}), ("bts_sites", "S2", {"tech": "2G,3G,4G"}),
             ("post_offices", "P2", None), ("villages", "V08", {"fiber": True})]
    for layer, key, change in edits:
        feature = store.feature(layer, key)
        if change is None:
            store.delete(layer, key, expected_version=feature.version, author="b", message=key)
        else:
            store.edit(layer, key, expected_version=feature.version, attributes=change, author="b", message=key)
    current = store.dataset()
    census = current.copy()
    census.layers["communes"].loc[0, "population"] += 5000       # a re-import touching the communes only
    store.import_dataset(census, author="c", message="census")
    ids = [c.id for c in store.log()]
    fresh = {n: indicators.compute(store.dataset(as_of=n)) for n in ids}
    store.close()
    assert len(ids) == 6 and len({fresh[n]["fiber"]["villages_fiber_pct"] for n in ids}) == 3
    assert fresh[ids[-1]]["postal"]["people_per_point"] != fresh[ids[-2]]["postal"]["people_per_point"]
    assert fresh[ids[3]]["postal"]["service_points"] == fresh[ids[2]]["postal"]["service_points"] - 1

    app = create_app({"TESTING": True, "SECRET_KEY": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "STORE_URL": url, "PRECOMPUTE": False})
    with app.app_context():
        served = history.app_store()
        for n in ids:
            point = history.headline_at(served, n)
            for key, _ in TIME_INDICATORS:
                assert indicators.lookup(point, key) is not None, key
                assert indicators.lookup(point, key) == indicators.lookup(fresh[n], key), (n, key)
        frames = app.extensions["ictgis_history"].frames
        assert len(frames) == 4 + 5  # the four layers once, then one per later changeset: the one it touched
        for n in reversed(ids):
            assert history.indicators_at(served, n) == fresh[n], n
    html = app.test_client().get("/bien-dong").get_data(as_text=True)
    box = html.split('id="time-fiber-villages_fiber_pct"', 1)[1].split("</svg>", 1)[0]
    assert box.count('class="chart-point') == 6


def test_changeset_times_are_written_in_vietnam_time():
    from ictgis_web.i18n import local_time

    assert local_time("2026-12-03T18:30:00+00:00", lang="vi") == "04/12/2026 01:30"
    assert local_time("2026-12-03T18:30:00", lang="en") == "2026-12-04 01:30"  # no offset: UTC, as the store keeps
