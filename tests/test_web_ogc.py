"""OGC API – Features at /ogc/: the API's shape and errors with Flask's client, and real clients (GDAL's OAPIF
driver, from the command line and through pyogrio) reading it from a real waitress server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import unicodedata
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import stop_server, tiny_layers, write_layers
from test_web import login

from ictgis import io
from ictgis.crs import to_crs
from ictgis_web import create_app, data

ROOT = Path(__file__).resolve().parent.parent
NFD_NAME = unicodedata.normalize("NFD", "Bản Mường Thanh")


def make_ogc_data(folder: Path, *, drop_village: str | None = None) -> Path:
    """The tiny province, one village name written decomposed (NFD)."""
    layers = tiny_layers()
    layers["villages"].loc[1, "name"] = NFD_NAME
    if drop_village:
        layers["villages"] = layers["villages"][layers["villages"]["id"] != drop_village]
    return write_layers(folder, layers)


def load(folder: Path) -> io.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return io.load(folder)


@pytest.fixture()
def data_dir(tmp_path) -> Path:
    return make_ogc_data(tmp_path / "data")


@pytest.fixture()
def make_app(tmp_path, data_dir):
    def factory(**config):
        base = {"TESTING": True, "DATA_DIR": str(data_dir), "SECRET_KEY": "test",
                "INSTANCE_PATH": str(tmp_path / "instance"), "SCENARIOS_DIR": str(tmp_path / "scenarios")}
        return create_app(base | config)
    return factory


@pytest.fixture()
def client(make_app):
    return make_app().test_client()


def get_json(client, url: str, status: int = 200) -> dict:
    resp = client.get(url, headers={"Accept": "application/json"})
    assert resp.status_code == status, (url, resp.status_code, resp.data[:300])
    return json.loads(resp.data)


def rels(doc: dict) -> dict[str, str]:
    return {link["rel"]: link["href"] for link in doc["links"]}


def local(href: str) -> str:
    """A link of the API as a path for the test client (pygeoapi writes absolute links)."""
    assert href.startswith("http://localhost/ogc"), href
    return href[len("http://localhost"):]


# --------------------------------------------------------------------------------------------- shape
def test_landing_page_links_conformance_collections_and_the_api_definition(client):
    doc = get_json(client, "/ogc/?f=json")
    links = rels(doc)
    assert {"conformance", "data", "service-desc"} <= set(links)
    conformance = get_json(client, local(links["conformance"]))["conformsTo"]
    for cls in ("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
                "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"):
        assert cls in conformance
    api = get_json(client, "/ogc/openapi?f=json")
    assert api["openapi"].startswith("3.") and "/collections/villages/items" in api["paths"]
    assert get_json(client, "/ogc?f=json")["links"]  # without the slash too (the links pygeoapi writes)


def test_one_collection_per_served_layer_with_its_extent_in_crs84(client, data_dir):
    ds = load(data_dir)
    doc = get_json(client, "/ogc/collections?f=json")
    assert sorted(c["id"] for c in doc["collections"]) == sorted(ds.layers)
    villages = get_json(client, "/ogc/collections/villages?f=json")
    assert villages["title"] == "Thôn, bản"
    expected = to_crs(ds["villages"], "EPSG:4326").total_bounds
    assert np.allclose(villages["extent"]["spatial"]["bbox"][0], expected, atol=1e-6)
    assert villages["extent"]["temporal"]["interval"][0][1] is None  # open: the served data is current
    assert "items" in rels(villages)


def test_items_are_the_layer_features_with_keys_types_nfc_text_and_crs84_geometry(client, data_dir):
    ds = load(data_dir)
    expected = to_crs(ds["villages"], "EPSG:4326")
    doc = get_json(client, "/ogc/collections/villages/items?f=json")
    assert doc["type"] == "FeatureCollection"
    assert doc["numberMatched"] == doc["numberReturned"] == len(expected) == 10
    assert [f["id"] for f in doc["features"]] == expected["id"].tolist()
    for feature, (_, row) in zip(doc["features"], expected.iterrows(), strict=True):
        props = feature["properties"]
        assert props["name"] == unicodedata.normalize("NFC", row["name"])
        assert unicodedata.is_normalized("NFC", props["name"])
        assert props["population"] == int(row["population"]) and isinstance(props["population"], int)
        assert props["fiber"] is bool(row["fiber"])
        assert props["commune"] == row["commune"]
        assert np.allclose(feature["geometry"]["coordinates"], [row.geometry.x, row.geometry.y], atol=1e-6)
    assert doc["features"][1]["properties"]["name"] == "Bản Mường Thanh"  # written decomposed, served composed
    item = get_json(client, "/ogc/collections/villages/items/V02?f=json")
    assert item["id"] == "V02" and item["properties"] == doc["features"][1]["properties"]
    communes = get_json(client, "/ogc/collections/communes/items?f=json")
    assert [f["id"] for f in communes["features"]] == ds["communes"]["code"].tolist()  # the layer's key
    assert communes["features"][0]["geometry"]["type"] == "Polygon"


def test_paging_with_limit_offset_and_next_prev_links_walks_every_feature_once(client):
    url, seen, pages = "/ogc/collections/villages/items?f=json&limit=3", [], 0
    while url:
        doc = get_json(client, url)
        assert doc["numberMatched"] == 10 and doc["numberReturned"] == len(doc["features"]) <= 3
        seen += [f["id"] for f in doc["features"]]
        links = rels(doc)
        assert ("prev" in links) == (pages > 0)
        url = local(links["next"]) if "next" in links else None
        pages += 1
    assert pages == 4 and seen == [f"V{i:02d}" for i in range(1, 11)]
    last = get_json(client, "/ogc/collections/villages/items?f=json&offset=9&limit=3")
    assert [f["id"] for f in last["features"]] == ["V10"] and "next" not in rels(last)


def test_limit_has_a_default_and_a_maximum(make_app):
    client = make_app(OGC_LIMIT_DEFAULT=4, OGC_LIMIT_MAX=6).test_client()
    assert get_json(client, "/ogc/collections/villages/items?f=json")["numberReturned"] == 4
    assert get_json(client, "/ogc/collections/villages/items?f=json&limit=9")["numberReturned"] == 6  # lowered


def test_bbox_in_crs84_selects_the_features_inside(client, data_dir):
    villages = to_crs(load(data_dir)["villages"], "EPSG:4326")
    inside = villages[villages["id"].isin(["V01", "V02", "V04"])]
    minx, miny, maxx, maxy = inside.total_bounds
    bbox = f"{minx - 1e-5},{miny - 1e-5},{maxx + 1e-5},{maxy + 1e-5}"
    doc = get_json(client, f"/ogc/collections/villages/items?f=json&bbox={bbox}")
    assert sorted(f["id"] for f in doc["features"]) == ["V01", "V02", "V04"] and doc["numberMatched"] == 3
    assert get_json(client, "/ogc/collections/villages/items?f=json&bbox=0,0,1,1")["numberMatched"] == 0
    both = get_json(client, f"/ogc/collections/villages/items?f=json&bbox={bbox}&commune=03127")  # with an attribute
    assert [f["id"] for f in both["features"]] == ["V04"]


@pytest.mark.parametrize("query", ["bbox=1,2,3", "bbox=a,b,c,d", "bbox=0,5,1,4", "limit=abc", "limit=0", "limit=-5",
                                   "offset=-1", "offset=x", "datetime=garbage"])
def test_bad_parameters_are_400(client, query):
    doc = get_json(client, f"/ogc/collections/villages/items?f=json&{query}", status=400)
    assert doc["code"] in ("InvalidParameterValue", "InvalidQuery") and doc["description"]


def test_unknown_collection_or_item_is_404(client):
    assert get_json(client, "/ogc/collections/nope?f=json", status=404)["code"] == "NotFound"
    assert get_json(client, "/ogc/collections/nope/items?f=json", status=404)["code"] == "NotFound"
    assert get_json(client, "/ogc/collections/villages/items/V99?f=json", status=404)["code"] == "NotFound"


def test_datetime_is_answered_from_the_served_data_on_and_refused_before_it(client):
    everything = get_json(client, "/ogc/collections/villages/items?f=json")
    begin = get_json(client, "/ogc/collections/villages?f=json")["extent"]["temporal"]["interval"][0][0]
    assert begin is not None
    for when in ("2100-01-01T00:00:00Z", "../2100-01-01", f"{begin}/..", "1990-01-01/.."):
        doc = get_json(client, f"/ogc/collections/villages/items?f=json&datetime={when}")
        assert doc["features"] == everything["features"]
    doc = get_json(client, "/ogc/collections/villages/items?f=json&datetime=1990-01-01", status=400)
    assert "range" in doc["description"]  # no history before the served version


def test_a_new_changeset_is_served_at_once_and_datetime_reads_the_state_as_of_then(make_app, tmp_path):
    app = make_app(STORE_POLL_S=0)  # read the latest changeset id on every request
    client = app.test_client()
    assert get_json(client, "/ogc/collections/villages/items?f=json")["numberMatched"] == 10
    with app.app_context():
        store = data.store()
    first = store.log()[0]
    cs = store.import_dataset(make_ogc_data(tmp_path / "v2", drop_village="V05"), author="Lan", message="no V05")
    assert cs is not None and cs.counts["villages"]["removed"] == 1
    doc = get_json(client, "/ogc/collections/villages/items?f=json")
    assert doc["numberMatched"] == 9 and "V05" not in [f["id"] for f in doc["features"]]
    get_json(client, "/ogc/collections/villages/items/V05?f=json", status=404)
    then = first.time.isoformat().replace("+00:00", "Z")
    past = get_json(client, f"/ogc/collections/villages/items?f=json&limit=100&datetime={then}")
    assert past["numberMatched"] == 10 and "V05" in [f["id"] for f in past["features"]]
    now = get_json(client, "/ogc/collections/villages/items?f=json&datetime="
                   + cs.time.isoformat().replace("+00:00", "Z"))
    assert now["numberMatched"] == 9
    again = get_json(client, f"/ogc/collections/villages/items?f=json&limit=100&datetime=../{then}")
    assert again["features"] == past["features"]


def test_behind_login_anonymous_clients_get_401_and_users_read(make_app):
    app = make_app(PUBLIC_VIEW=False)
    anonymous = app.test_client()
    for url in ("/ogc", "/ogc/", "/ogc/collections", "/ogc/collections/villages/items", "/ogc/openapi"):
        resp = anonymous.get(url)
        assert resp.status_code == 401, url
    user = app.test_client()
    login(user, app, role="viewer")
    assert get_json(user, "/ogc/collections/villages/items?f=json")["numberMatched"] == 10


def test_a_page_asked_again_is_the_same_and_a_client_that_has_it_gets_304(client):
    url = "/ogc/collections/villages/items?f=json&limit=3&offset=3"
    first, again = client.get(url), client.get(url)
    assert first.status_code == again.status_code == 200 and first.data == again.data
    etag = first.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    other = client.get("/ogc/collections/villages/items?f=json&limit=3&offset=6")
    assert other.headers["ETag"] != etag and other.data != first.data


def test_public_by_default(client):
    assert client.get("/ogc/collections/villages/items?f=json").status_code == 200


# --------------------------------------------------------------------------------------------- real clients
@pytest.fixture()
def served(make_app):
    """The app under waitress on a free loopback port; pages of at most 4 features, so clients follow next links."""
    from waitress.server import create_server

    def start(**config):
        app = make_app(OGC_LIMIT_MAX=4, **config)
        server = create_server(app, host="127.0.0.1", port=0, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        started.append(server)
        return f"http://127.0.0.1:{server.effective_port}/ogc"

    started: list = []
    yield start
    for server in started:
        stop_server(server)


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    """A client in its own process (GDAL's network reads would otherwise hold up the server thread's GIL)."""
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


PYOGRIO_READ = """
import json, sys, pyogrio
url, bbox = sys.argv[1], json.loads(sys.argv[2])
frame = pyogrio.read_dataframe("OAPIF:" + url, layer="villages", bbox=tuple(bbox) if bbox else None)
print(json.dumps({"ids": frame["id"].tolist(), "names": frame["name"].tolist(),
                  "population": [int(v) for v in frame["population"]], "fiber": [bool(v) for v in frame["fiber"]],
                  "xy": [[g.x, g.y] for g in frame.geometry], "crs": frame.crs.to_string(),
                  "layers": pyogrio.list_layers("OAPIF:" + url)[:, 0].tolist()}))
"""


def test_gdal_oapif_through_pyogrio_reads_every_feature_across_pages_and_by_bbox(served, data_dir):
    pytest.importorskip("pyogrio")
    import pyogrio

    if "OAPIF" not in pyogrio.list_drivers():
        pytest.skip("this GDAL has no OAPIF driver")
    url = served()
    expected = to_crs(load(data_dir)["villages"], "EPSG:4326")
    run = _run([sys.executable, "-c", PYOGRIO_READ, url, "null"])
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["ids"] == expected["id"].tolist()  # 10 features through pages of 4
    assert got["names"] == [unicodedata.normalize("NFC", n) for n in expected["name"]]
    assert got["population"] == expected["population"].astype(int).tolist()
    assert got["fiber"] == expected["fiber"].astype(bool).tolist()
    assert np.allclose(got["xy"], np.column_stack([expected.geometry.x, expected.geometry.y]), atol=1e-6)
    assert got["crs"] in ("OGC:CRS84", "EPSG:4326")
    assert sorted(got["layers"]) == sorted(load(data_dir).layers)
    minx, miny, maxx, maxy = expected[expected["id"].isin(["V07", "V08"])].total_bounds
    run = _run([sys.executable, "-c", PYOGRIO_READ, url,
                json.dumps([minx - 1e-5, miny - 1e-5, maxx + 1e-5, maxy + 1e-5])])
    assert run.returncode == 0, run.stderr
    assert sorted(json.loads(run.stdout)["ids"]) == ["V07", "V08"]


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo (Debian gdal-bin) is not installed")
def test_ogrinfo_reads_the_layers_counts_and_a_feature(served, data_dir):
    if "OAPIF" not in _run(["ogrinfo", "--formats"]).stdout:
        pytest.skip("this ogrinfo has no OAPIF driver")
    url = served()
    listing = _run(["ogrinfo", "-ro", "-q", f"OAPIF:{url}"])
    assert listing.returncode == 0, listing.stderr
    for name in load(data_dir).layers:
        assert f": {name} (" in listing.stdout
    summary = _run(["ogrinfo", "-ro", "-so", f"OAPIF:{url}", "bts_sites"])
    assert "Feature Count: 4" in summary.stdout, summary.stdout
    one = _run(["ogrinfo", "-ro", "-q", f"OAPIF:{url}", "post_offices", "-where", "id = 'P2'"],
               env=os.environ | {"LC_ALL": "C.UTF-8"})
    assert "name (String) = Điểm BĐVHX Nà Tấu" in one.stdout and "kind (String) = bdvhx" in one.stdout, one.stdout


def test_behind_login_a_real_client_is_refused(served):
    url = served(PUBLIC_VIEW=False)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{url}/collections/villages/items?f=json", timeout=30)
    refused.value.close()
    assert refused.value.code == 401
    if shutil.which("ogrinfo"):
        run = _run(["ogrinfo", "-ro", "-so", f"OAPIF:{url}", "villages"])
        assert run.returncode != 0 and "Feature Count" not in run.stdout
