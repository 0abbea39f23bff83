"""The leader's indicator page and the planner's pages through the Flask client, on real files.

Scenario copies are checked by `ictgis.scenario.read` and saved in the instance; the candidate site is computed by
the real coverage model on the tiny province and its DEM.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import pytest
import yaml
from test_web import data_dir, fake_runner, login, make_app, token  # noqa: F401 - fixtures

from ictgis.scenario import read as read_scenario
from ictgis_web import analyses, scenario_form

SCENARIO = """name: Kế hoạch thử
description: Cáp quang và trạm mới
structure: "2019"
parameters:
  discount_rate: 0.05
interventions:
  - type: fiber
    label: Cáp quang đến thôn
    budget_vnd: 30000000000
  - type: add_sites
    label: Trạm mới
    optimize: {technology: 4G, n_sites: 2}
"""


@pytest.fixture()
def planner_app(make_app, data_dir):  # noqa: F811
    app = make_app()
    folder = Path(app.config["SCENARIOS_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "thu.yaml").write_text(SCENARIO.replace("structure:", f"base: {data_dir.as_posix()}\nstructure:"),
                                     encoding="utf-8")
    return app


def _form(client, name="thu.yaml") -> dict:
    page = client.get(f"/scenarios/{name}/copy").get_data(as_text=True)
    fields = dict(re.findall(r'<input id="f-[^"]+" name="([^"]+)" value="([^"]*)"', page))
    fields |= {m[0]: html.unescape(m[1]) for m in re.findall(r'<textarea id="f-[^"]+" name="([^"]+)"[^>]*>([^<]*)<',
                                                                page)}
    fields |= dict(re.findall(r'<select id="f-[^"]+" name="([^"]+)">(?:<option[^>]*>[^<]*</option>)*?'
                              r'<option value="([^"]*)" selected', page))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    return fields | {"csrf_token": token(client)}


# ------------------------------------------------------------------------------------------- indicators
def test_indicator_page_shows_targets_gaps_status_and_charts(make_app):  # noqa: F811
    app = make_app()
    client = app.test_client()
    page = client.get("/indicators").get_data(as_text=True)
    row = page[page.index('data-key="fiber.villages_fiber_pct"'):]
    row = row[:row.index("</tr>")]
    # the tiny province: 7 of 10 villages on fiber; target 100 % (QĐ 1132), plan 88,3 %
    assert ">70,0<" in row and ">88,3<" in row and "≥ 100,0" in row and ">30,0<" in row
    assert 'data-status="behind"' in row and "Chưa đạt" in row  # the colour comes with its word
    assert 'id="chart-district-villages_fiber_pct"' in page and 'id="chart-district-postal_radius_km"' in page
    assert 'id="chart-commune_2025-people_per_point"' in page  # per commune of the 2025 structure
    assert "<script src=\"https://" not in page and "cdn" not in page.lower()
    english = client.get("/indicators?lang=en").get_data(as_text=True)
    row = english[english.index('data-key="fiber.villages_fiber_pct"'):]
    assert ">70.0<" in row[:row.index("</tr>")] and "Not met" in row[:row.index("</tr>")]


def test_indicator_targets_come_from_the_instance_config(make_app):  # noqa: F811
    client = make_app(INDICATOR_TARGETS={"fiber.villages_fiber_pct": 60.0}).test_client()
    page = client.get("/indicators").get_data(as_text=True)
    row = page[page.index('data-key="fiber.villages_fiber_pct"'):]
    row = row[:row.index("</tr>")]
    assert "≥ 60,0" in row and 'data-status="met"' in row and "Đạt" in row


def test_indicator_page_fills_4g_once_computed(make_app):  # noqa: F811
    app = make_app()
    client = app.test_client()
    client.get("/indicators")  # starts the coverage
    assert analyses.wait_idle(timeout_s=300)
    page = client.get("/indicators").get_data(as_text=True)
    row = page[page.index('data-key="mobile.populated_area_4g_pct"'):]
    row = row[:row.index("</tr>")]
    assert "đang tính" not in row and re.search(r'data-v="[\d.]+">\d+,\d<', row), row
    assert 'id="chart-district-populated_area_4g_pct"' in page and "data-chart-pending" not in page


def test_print_button_and_print_header_on_the_map_and_the_indicators(make_app):  # noqa: F811
    client = make_app().test_client()
    for path in ("/", "/indicators"):
        page = client.get(path).get_data(as_text=True)
        assert 'id="print-button"' in page and 'id="print-head"' in page and "ictgis-page.js" in page
        assert "Phiên bản dữ liệu" in page[page.index('id="print-head"'):]
    resp = client.get("/static/ictgis.css")
    css = resp.get_data(as_text=True)
    resp.close()
    assert "@media print" in css and ".leaflet-control-layers" in css[css.index("@media print"):]


# ------------------------------------------------------------------------------------------- scenario copies
def test_only_planners_copy_scenarios(planner_app):
    client = planner_app.test_client()
    assert client.get("/scenarios/thu.yaml/copy").status_code == 302  # to the login page
    login(client, planner_app, name="xem", role="viewer")
    assert client.get("/scenarios/thu.yaml/copy").status_code == 403
    assert client.post("/scenarios/thu.yaml/copy", data={"csrf_token": token(client), "name": "x"}).status_code == 403
    assert "copy-link" not in client.get("/scenarios/").get_data(as_text=True)


def test_form_errors_are_shown_beside_their_fields_in_vietnamese(planner_app):
    client = planner_app.test_client()
    login(client, planner_app)
    fields = _form(client)
    assert fields["name"] == "Kế hoạch thử (bản sao)" and fields["i.0.budget_vnd"] == "30000000000"
    assert fields["i.1.optimize.n_sites"] == "2"
    bad = fields | {"p.discount_rate": "-0,05", "i.0.budget_vnd": "ba mươi tỷ", "i.1.optimize.n_sites": "2,5"}
    resp = client.post("/scenarios/thu.yaml/copy", data=bad)
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    errors = dict(re.findall(r'id="err-([^"]+)" role="alert">([^<]*)<', page))
    assert errors == {"p.discount_rate": "không được là số âm", "i.0.budget_vnd": "phải là một số",
                      "i.1.optimize.n_sites": "phải là một số nguyên"}
    assert 'value="ba mươi tỷ"' in page  # what was typed stays in the field
    assert list((Path(planner_app.instance_path) / "scenarios").glob("*.yaml")) == []  # nothing saved


def test_a_copy_is_saved_as_a_new_file_checked_by_the_yaml_rules(planner_app):
    client = planner_app.test_client()
    login(client, planner_app)
    original = (Path(planner_app.config["SCENARIOS_DIR"]) / "thu.yaml").read_text(encoding="utf-8")
    fields = _form(client) | {"p.discount_rate": "0,07", "i.0.budget_vnd": "45.000.000.000",
                              "i.1.optimize.n_sites": "5", "p.rsrp_threshold_dbm": "-100"}
    resp = client.post("/scenarios/thu.yaml/copy", data=fields | {"then": "save"})
    assert resp.status_code == 302 and "saved=ke-hoach-thu-ban-sao.yaml" in resp.headers["Location"]
    saved = Path(planner_app.instance_path) / "scenarios" / "ke-hoach-thu-ban-sao.yaml"
    doc = yaml.safe_load(saved.read_text(encoding="utf-8"))
    assert doc["parameters"] == {"discount_rate": 0.07, "rsrp_threshold_dbm": -100}
    assert doc["interventions"][0]["budget_vnd"] == 45_000_000_000
    assert doc["interventions"][1]["optimize"] == {"technology": "4G", "n_sites": 5}
    assert read_scenario(saved).name == "Kế hoạch thử (bản sao)"  # a valid scenario file
    assert (Path(planner_app.config["SCENARIOS_DIR"]) / "thu.yaml").read_text(encoding="utf-8") == original
    # the same name again: a new file beside it, never over it
    resp = client.post("/scenarios/thu.yaml/copy", data=fields | {"then": "save"})
    assert "saved=ke-hoach-thu-ban-sao-2.yaml" in resp.headers["Location"]
    assert saved.read_text(encoding="utf-8") == (saved.parent / "ke-hoach-thu-ban-sao-2.yaml").read_text("utf-8")
    listed = client.get("/scenarios/").get_data(as_text=True)
    assert 'data-file="ke-hoach-thu-ban-sao.yaml"' in listed and 'data-file="ke-hoach-thu-ban-sao-2.yaml"' in listed


def test_save_and_run_runs_the_copy(make_app, data_dir):  # noqa: F811
    app = make_app(JOB_RUNNER=fake_runner)
    folder = Path(app.config["SCENARIOS_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "thu.yaml").write_text(SCENARIO, encoding="utf-8")
    client = app.test_client()
    login(client, app)
    resp = client.post("/scenarios/thu.yaml/copy", data=_form(client) | {"name": "Bản của tôi", "then": "run"})
    assert resp.status_code == 302 and "/scenarios/runs/" in resp.headers["Location"]
    run_id = resp.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    record = app.extensions["ictgis_jobs"].wait(run_id)
    assert record["status"] == "done" and record["scenario"] == "ban-cua-toi.yaml"


def test_save_new_never_replaces_a_file(tmp_path):
    doc = {"name": "Kế hoạch", "interventions": []}
    first = scenario_form.save_new(doc, folder=tmp_path)
    (tmp_path / "ke-hoach-2.yaml").write_text("name: other\n", encoding="utf-8")
    third = scenario_form.save_new(doc, folder=tmp_path, taken={"ke-hoach-3.yaml"})
    assert (first.name, third.name) == ("ke-hoach.yaml", "ke-hoach-4.yaml")
    assert (tmp_path / "ke-hoach-2.yaml").read_text(encoding="utf-8") == "name: other\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ke-hoach-2.yaml", "ke-hoach-4.yaml", "ke-hoach.yaml"]


@pytest.mark.parametrize(("text", "kind", "value"), [
    ("0,05", float, 0.05), ("0.05", float, 0.05), ("30.000.000.000", float, 30_000_000_000),
    ("30 000 000 000", float, 30_000_000_000), ("-110", float, -110), ("20", int, 20), ("2,5", int, 2.5),
    ("nhiều", float, "nhiều"),
])
def test_numbers_typed_the_vietnamese_way(text, kind, value):
    assert scenario_form.parse_number(text, kind) == value


# ------------------------------------------------------------------------------------------- candidate site
def _lonlat(x, y):
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:9205", "EPSG:4326", always_xy=True).transform(x, y)


def test_candidate_site_only_for_planners(planner_app):
    client = planner_app.test_client()
    body = {"lon": 103.0, "lat": 21.4}
    assert client.post("/api/candidate", json=body, headers={"X-CSRF-Token": token(client)}).status_code == 401
    login(client, planner_app, name="xem", role="viewer")
    assert client.post("/api/candidate", json=body, headers={"X-CSRF-Token": token(client)}).status_code == 403
    assert 'id="ictgis-planner"' not in client.get("/").get_data(as_text=True)


def test_candidate_site_coverage_and_newly_covered_villages(planner_app, data_dir):  # noqa: F811
    import geopandas as gpd

    client = planner_app.test_client()
    login(client, planner_app)
    assert 'id="ictgis-planner"' in client.get("/").get_data(as_text=True)
    client.get("/indicators")
    assert analyses.wait_idle(timeout_s=300)  # the served 4G coverage, to subtract
    villages = gpd.read_file(data_dir / "villages.shp")
    with planner_app.test_request_context("/"):
        from ictgis_web import data

        served = analyses.coverage_result(data.dataset(), "4G")
    uncovered = served.villages.loc[~served.villages["covered"], "id"].tolist()
    assert uncovered, "the tiny province has villages without 4G"
    target = villages.set_index("id").loc[uncovered[0]].geometry
    lon, lat = _lonlat(target.x + 50, target.y + 50)
    headers = {"X-CSRF-Token": token(client)}
    resp = client.post("/api/candidate", json={"lon": lon, "lat": lat, "height_m": 40, "technology": "4G"},
                       headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    got = resp.get_json()
    new_ids = [v["id"] for v in got["villages"]]
    assert uncovered[0] in new_ids and set(new_ids) <= set(uncovered)  # newly covered only
    assert got["base_known"] and got["villages_newly_covered"] == len(new_ids)
    assert got["households"] == sum(v["households"] for v in got["villages"])
    assert got["cost_vnd"] > 0 and got["cost_text"].endswith("tỷ đồng")
    assert base64.b64decode(got["overlay"]["png"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    (south, west), (north, east) = got["overlay"]["bounds"]
    assert south < lat < north and west < lon < east
    # higher antenna: at least as many villages in reach
    higher = client.post("/api/candidate", json={"lon": lon, "lat": lat, "height_m": 100}, headers=headers)
    assert higher.get_json()["villages_in_reach"] >= got["villages_in_reach"]
    for bad in ({"lon": "x", "lat": lat}, {"lon": lon, "lat": lat, "height_m": 500},
                {"lon": lon, "lat": lat, "technology": "6G"}, {"lon": 105.9, "lat": 21.0}):
        assert client.post("/api/candidate", json=bad, headers=headers).status_code == 400, bad


def test_candidate_site_added_to_a_copy_of_a_scenario(planner_app, data_dir):  # noqa: F811
    client = planner_app.test_client()
    login(client, planner_app)
    import geopandas as gpd

    village = gpd.read_file(data_dir / "villages.shp").to_crs(4326).geometry.iloc[5]
    resp = client.post("/scenarios/candidate", data={"csrf_token": token(client), "scenario": "thu.yaml",
                                                     "lon": village.x, "lat": village.y, "height_m": "35",
                                                     "technology": "4G"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    saved_name = re.search(r"saved=([^&]+)", resp.headers["Location"]).group(1)
    saved = Path(planner_app.instance_path) / "scenarios" / saved_name
    sc = read_scenario(saved)  # valid, its new site checked against the base data
    added = sc.interventions[-1]
    assert added["type"] == "add_sites" and added["sites"][0]["height_m"] == 35.0
    assert added["sites"][0]["id"].startswith("CAND-") and sc.name.startswith("Kế hoạch thử + CAND-")
    assert len(sc.interventions) == 3  # the original's two, then the new site


# ------------------------------------------------------------------------------------------- compare
def test_compare_without_a_choice_says_so_on_the_page(planner_app):
    client = planner_app.test_client()
    login(client, planner_app)
    resp = client.get("/scenarios/compare")
    assert resp.status_code == 200 and 'id="compare-message"' in resp.get_data(as_text=True)
    assert "Hãy chọn hai lần chạy" in resp.get_data(as_text=True)
    resp = client.get("/scenarios/compare?a=nope&b=nada")
    assert resp.status_code == 404 and "Không tìm thấy lần chạy" in resp.get_data(as_text=True)


def summary_runner(path, out_dir, progress, **_options):
    """A test double of ictgis.scenario.run writing the files the compare page reads, its numbers by file name."""
    import json

    big = "lon" in Path(path).stem
    out = Path(out_dir)
    out.mkdir()
    before = {"mobile": {"populated_area_4g_pct": 93.9, "population_covered_4g": 1000},
              "fiber": {"villages_fiber_pct": 88.3}}
    after = {"mobile": {"populated_area_4g_pct": 98.5 if big else 95.0,
                        "population_covered_4g": 3000 if big else 1500},
             "fiber": {"villages_fiber_pct": 94.2 if big else 90.0}}
    summary = {"name": Path(path).stem, "cost_total_capex_vnd": 40_000_000_000 if big else 10_000_000_000,
               "cost_total_opex_vnd_per_year": 1_000_000_000, "cost_total_npv_vnd": 45_000_000_000,
               "interventions": [{"intervention": "1. fiber", "households_connected": 2000 if big else 500}]}
    for name, doc in (("indicators_before.json", before), ("indicators_after.json", after),
                      ("summary.json", summary)):
        (out / name).write_text(json.dumps(doc), encoding="utf-8")
    return {}


def test_compare_shows_baseline_difference_and_costs_per_household_and_person(make_app):  # noqa: F811
    app = make_app(JOB_RUNNER=summary_runner, JOB_ISOLATION="thread")
    folder = Path(app.config["SCENARIOS_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("nho", "lon"):
        (folder / f"{name}.yaml").write_text(f"name: {name}\n", encoding="utf-8")
    client = app.test_client()
    login(client, app)
    ids = []
    for name in ("nho", "lon"):
        run_id = client.post(f"/api/scenarios/{name}.yaml/runs", headers={"X-CSRF-Token": token(client)}
                             ).get_json()["id"]
        assert app.extensions["ictgis_jobs"].wait(run_id)["status"] == "done"
        ids.append(run_id)
    page = client.get(f"/scenarios/compare?a={ids[0]}&b={ids[1]}").get_data(as_text=True)
    table = page[page.index('id="compare-table"'):page.index("</table>", page.index('id="compare-table"'))]
    row = [r for r in table.split("<tr") if "phủ sóng 4G" in r][0]
    cells = re.findall(r'<td class="num">([^<]*)<', row)
    assert cells == ["93,9 %", "95,0 %", "98,5 %", "+3,5 %"]  # baseline, A, B, B − A
    costs = page[page.index('id="compare-costs"'):]
    capex = re.findall(r'<td class="num">([^<]*)<', costs[costs.index('data-key="capex"'):].split("</tr>")[0])
    assert capex == ["10,00 tỷ đồng", "40,00 tỷ đồng", "+30,00 tỷ đồng"]
    per_household = costs[costs.index('data-key="per_household"'):].split("</tr>")[0]
    assert re.findall(r'<td class="num">([^<]*)<', per_household) == ["0,020 tỷ đồng", "0,020 tỷ đồng"]
    per_person = costs[costs.index('data-key="per_person"'):].split("</tr>")[0]
    assert re.findall(r'<td class="num">([^<]*)<', per_person) == ["0,020 tỷ đồng", "0,020 tỷ đồng"]
    run_page = client.get(f"/scenarios/runs/{ids[1]}").get_data(as_text=True)
    changed = run_page[run_page.index('id="changed"'):run_page.index("</section>")]
    assert "93,9 % → <strong>98,5 %</strong>" in changed and "88,3 % → <strong>94,2 %</strong>" in changed


def test_candidate_coverage_on_its_window_equals_the_whole_dem():
    """The candidate's coverage is computed on the part of the DEM it can reach: the same values as on all of it."""
    import numpy as np
    from conftest import DEMO_DIR

    from ictgis import coverage
    from ictgis.io import Dataset, load
    from ictgis.terrain import read_dem
    from ictgis_web import candidate

    if not (DEMO_DIR / "dem.tif").exists():
        pytest.skip("the demo is not generated")
    ds = load(DEMO_DIR)
    dem = read_dem(ds.dem_path)
    village = ds["villages"].to_crs(4326).geometry.iloc[700]
    site = candidate.site_frame(ds, lon=village.x, lat=village.y, height_m=40, technology="4G")
    one = Dataset(layers={"communes": ds["communes"], "bts_sites": site}, sources={}, crs=ds.crs,
                  dem_path=ds.dem_path, derived=True)
    part = candidate.window(dem, site)
    assert part.shape[0] < dem.shape[0] / 3 and part.shape[1] < dem.shape[1] / 3
    full = coverage.compute(one, dem=dem, progress=lambda f, m: None).rsrp_dbm
    small = coverage.compute(one, dem=part, progress=lambda f, m: None).rsrp_dbm
    r0 = round((dem.transform.f - part.transform.f) / dem.resolution_m)
    c0 = round((part.transform.c - dem.transform.c) / dem.resolution_m)
    np.testing.assert_array_equal(full[r0:r0 + part.shape[0], c0:c0 + part.shape[1]], small)
    assert np.isfinite(full).sum() == np.isfinite(small).sum() > 0  # nothing reached outside the window
