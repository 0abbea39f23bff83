"""Open Fibre Data Standard export and import, validated with the standard's own validator (libcoveofds)."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from conftest import KM, X0, Y0, write_layers

from ictgis import io, ofds
from ictgis.cli import main

pytest.importorskip("libcoveofds")


@pytest.fixture()
def package(tiny):
    pops = gpd.GeoDataFrame({"id": ["POP1"], "name": ["Tổng đài Điện Biên Phủ"], "operator": ["VNPT"]},
                            geometry=[shapely.Point(X0 + 100, Y0 + 1 * KM + 50)], crs=tiny["communes"].crs)
    routes = tiny["fiber_routes"].assign(operator=["VNPT", "Viettel"])
    return ofds.network_package(routes, pops=pops, sites=tiny["bts_sites"], villages=tiny["villages"],
                                name="tiny")


def test_export_is_valid_ofds(package):
    assert ofds.validate(package) == []
    (net,) = package["networks"]
    assert net["links"][0] == {"rel": "describedby", "href": ofds.SCHEMA_URL}
    nodes = {n["id"]: n for n in net["nodes"]}
    assert nodes["pop:POP1"]["type"] == ["pointOfPresence"]
    assert nodes["pop:POP1"]["networkProviders"] == [{"id": "org-vnpt", "name": "VNPT"}]
    assert {n for n in nodes if n.startswith("village:")} == {"village:V01", "village:V02", "village:V03",
                                                              "village:V04", "village:V05", "village:V07",
                                                              "village:V09"}  # those with fiber
    assert not [n for n in nodes if n.startswith("site:")]  # every tiny site is ≥ 1 km from a route
    spans = [s for s in net["spans"] if not s["id"].startswith("drop:")]
    by_name: dict[str, float] = {}
    for s in spans:
        by_name[s["name"]] = by_name.get(s["name"], 0.0) + s["fibreLength"]
        assert s["status"] == "operational"
    assert by_name == pytest.approx({"F1": 10.0, "F2": 6.0}, abs=0.002)
    f2 = next(s for s in spans if s["name"] == "F2")
    assert f2["deployment"] == ["belowGround"] and f2["transmissionMediumOwner"]["name"] == "Viettel"
    lon, lat = f2["route"]["coordinates"][0]
    assert 102 < lon < 104 and 20 < lat < 23  # CRS84
    # every node is on a span (the standard's additional check would say so otherwise)
    used = {s["start"] for s in net["spans"]} | {s["end"] for s in net["spans"]}
    assert set(nodes) <= used


def test_validator_catches_a_broken_file(package):
    broken = json.loads(json.dumps(package))
    broken["networks"][0]["spans"][0]["status"] = "existing"
    broken["networks"][0]["spans"][1]["end"] = "nowhere"
    problems = ofds.validate(broken)
    assert any("existing" in str(p.get("message", "")) for p in problems)
    assert any(p.get("type") == "span_end_node_not_found" for p in problems)


def test_round_trip_through_the_layer_reader(tmp_path, tiny, package):
    folder = write_layers(tmp_path / "d", {k: v for k, v in tiny.items() if k != "fiber_routes"})
    ofds.write(package, folder / "fiber_routes.json")
    ds = io.load(folder)
    routes = ds["fiber_routes"].set_index("id").sort_index()
    original = tiny["fiber_routes"].set_index("id").sort_index()
    assert list(routes.index) == ["F1", "F2"]
    assert routes["install"].tolist() == ["aerial", "underground"]
    assert routes["operator"].tolist() == ["VNPT", "Viettel"]
    assert routes.crs.to_epsg() == 9205
    for rid in ("F1", "F2"):
        got, want = routes.loc[rid, "geometry"], original.loc[rid, "geometry"]
        assert got.geom_type == "LineString"
        assert got.length == pytest.approx(want.length, abs=0.5)
        assert got.hausdorff_distance(want) < 0.5


def test_cli_export_and_fiber_plan(tmp_path, tiny_dir):
    out = tmp_path / "net.json"
    cli = CliRunner().invoke(main, ["export-ofds", str(tiny_dir), "--out", str(out), "--validate"])
    assert cli.exit_code == 0, cli.output
    assert "no problems" in cli.stderr
    assert ofds.validate(json.loads(out.read_text(encoding="utf-8"))) == []
    plan_file = tmp_path / "plan.json"
    cli = CliRunner().invoke(main, ["fiber", str(tiny_dir), "--out", str(tmp_path / "plan"), "--no-coverage",
                                    "--ofds", str(plan_file)])
    assert cli.exit_code == 0, cli.output
    data = json.loads(plan_file.read_text(encoding="utf-8"))
    assert ofds.validate(data) == []
    statuses = {s["status"] for s in data["networks"][0]["spans"] if not s["id"].startswith("drop:")}
    assert statuses == {"operational", "planned"}
    nodes = {n["id"]: n for n in data["networks"][0]["nodes"]}
    summary = json.loads((tmp_path / "plan" / "summary.json").read_text(encoding="utf-8"))
    unreachable = {u["id"] for u in summary["unreachable"]}
    assert summary["villages_connected"] >= 2
    assert {n for n, v in nodes.items() if n.startswith("village:") and v["status"] == "planned"} == {
        f"village:{v}" for v in {"V06", "V08", "V10"} - unreachable}  # the tiny province's gap villages
    planned = ofds.read_spans(plan_file)
    assert set(planned.loc[planned["status"] == "planned", "id"]) and \
        all(i.startswith("PLAN-") for i in planned.loc[planned["status"] == "planned", "id"])


def test_not_ofds_json_is_read_as_geojson_and_bad_ofds_is_refused(tmp_path):
    geojson = tmp_path / "x.json"
    geojson.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    assert not ofds.is_ofds(geojson)
    bad = tmp_path / "y.json"
    bad.write_text('{"networks": [{"id": "a", "crs": {"name": "EPSG:3857"}, "spans": []}]}', encoding="utf-8")
    with pytest.raises(Exception, match="unsupported CRS"):
        ofds.read_spans(bad)
