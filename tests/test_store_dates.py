"""One rule for dates everywhere: a date is the end of that day in Vietnam time (the CLI's --as-of/--from/--to,
the biến động page, the OGC API's datetime), checked with an edit made at 01:00 Vietnam time; and an OGC item
read as of a time."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from click.testing import CliRunner
from conftest import tiny_layers, write_layers

from ictgis.cli import main
from ictgis.store import open_store
from ictgis_web import create_app

UTC = dt.timezone.utc
FIRST = dt.datetime(2021, 6, 1, 3, 0, tzinfo=UTC)
EDIT = dt.datetime(2021, 12, 31, 18, 0, tzinfo=UTC)        # 01:00 on 1 January 2022 in Vietnam
MORNING = dt.datetime(2022, 1, 1, 1, 0, tzinfo=UTC)        # 08:00 on 1 January 2022 in Vietnam


@pytest.fixture(scope="module")
def store_url(tmp_path_factory) -> str:
    """Changeset 1 on 1 June 2021; changeset 2 (V03's population, V10 added) at 01:00 on 1 Jan 2022 and
    changeset 3 (V04's population) at 08:00 that day, Vietnam time."""
    tmp = tmp_path_factory.mktemp("dates")
    url = str(tmp / "instance" / "ictgis.gpkg")
    layers = tiny_layers()
    first = {**layers, "villages": layers["villages"][layers["villages"]["id"] != "V10"]}
    second = tiny_layers()
    second["villages"].loc[second["villages"]["id"] == "V03", "population"] = 3100
    third = tiny_layers()
    third["villages"].loc[third["villages"]["id"] == "V03", "population"] = 3100
    third["villages"].loc[third["villages"]["id"] == "V04", "population"] = 4444
    with open_store(url) as store:
        store.init()
        one = store.import_dataset(write_layers(tmp / "one", first), author="Lan", message="first")
        two = store.import_dataset(write_layers(tmp / "two", second), author="Minh", message="edit at 01:00")
        three = store.import_dataset(write_layers(tmp / "three", third), author="Minh", message="edit at 08:00")
        t = store.tables["changesets"]
        with store.writing() as conn:
            for cs, when in ((one, FIRST), (two, EDIT), (three, MORNING)):
                conn.execute(t.update().where(t.c.id == cs.id).values(time=when))
    return url


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_dates_are_days_in_vietnam_time(store_url, tmp_path):
    before = run("db", "diff", "--db", store_url, "--from", "2021-06-01", "--to", "2021-12-31", "--json")
    assert before.exit_code == 0, before.output
    assert json.loads(before.output)["layers"]["villages"] == {"added": [], "removed": [], "changed": []}
    after = json.loads(run("db", "diff", "--db", store_url, "--from", "2021-12-31", "--to", "2022-01-01",
                           "--json").output)
    assert after["layers"]["villages"] == {"added": ["V10"], "removed": [], "changed": ["V03", "V04"]}
    out = run("db", "export", "--db", store_url, "--as-of", "2021-12-31", "--out", tmp_path / "a")
    assert out.exit_code == 0 and "changeset 1 exported" in out.output
    assert "changeset 3 exported" in run("db", "export", "--db", store_url, "--as-of", "2022-01-01",
                                         "--out", tmp_path / "b").output
    # a time with an offset is taken as given
    assert "changeset 1 exported" in run("db", "export", "--db", store_url, "--as-of", "2021-12-31T17:59Z",
                                         "--out", tmp_path / "c").output
    assert "changeset 2 exported" in run("db", "export", "--db", store_url, "--as-of", "2022-01-01T01:00+07:00",
                                         "--out", tmp_path / "d").output


@pytest.fixture()
def client(tmp_path, store_url):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "STORE_URL": store_url, "PRECOMPUTE": False})
    return app.test_client()


def test_bien_dong_dates_are_days_in_vietnam_time(client):
    def villages(query):
        html = client.get(f"/bien-dong?{query}").get_data(as_text=True)
        if 'id="bd-no-changes"' in html:
            return False
        body = html.split('id="bd-by-layer"', 1)[1].split("</table>", 1)[0]
        return re.search(r'<tr data-layer="villages">', body) is not None

    assert not villages("from_date=2021-06-01&to_date=2021-12-31")
    assert villages("from_date=2021-12-31&to_date=2022-01-01")
    assert villages("from_date=2021-05-31&to_date=2021-06-01")   # the first changeset, on 1 June


def items(client, query):
    resp = client.get(f"/ogc/collections/villages/items?f=json&limit=100&{query}",
                      headers={"Accept": "application/json"})
    assert resp.status_code == 200, resp.data[:300]
    return {f["id"]: f for f in resp.get_json()["features"]}


def test_ogc_datetime_dates_are_days_in_vietnam_time(client):
    assert "V10" not in items(client, "datetime=2021-12-31")
    assert items(client, "datetime=2021-12-31")["V03"]["properties"]["population"] != 3100
    assert "V10" in items(client, "datetime=2022-01-01")
    assert items(client, "datetime=2022-01-01")["V04"]["properties"]["population"] == 4444   # 08:00 that day
    assert items(client, "datetime=2021-12-31T23:59:59%2B07:00")["V04"]["properties"]["population"] != 4444
    assert "V10" not in items(client, "datetime=2021-06-01/2021-12-31")   # an interval: its end
    assert "V10" in items(client, "datetime=2022-01-01T01:00:00%2B07:00")
    assert "V10" not in items(client, "datetime=2021-12-31T17:59:59Z")


def test_ogc_item_honours_datetime(client):
    def item(key, query=""):
        return client.get(f"/ogc/collections/villages/items/{key}?f=json{query}",
                          headers={"Accept": "application/json"})

    assert item("V03").get_json()["properties"]["population"] == 3100
    then = item("V03", "&datetime=2021-12-31")
    assert then.status_code == 200 and then.get_json()["properties"]["population"] != 3100
    assert item("V10").status_code == 200
    assert item("V10", "&datetime=2021-12-31").status_code == 404   # did not exist then
    assert item("V10", "&datetime=2022-01-01").status_code == 200
    assert item("V04", "&datetime=2022-01-01").get_json()["properties"]["population"] == 4444
    assert item("V04", "&datetime=2022-01-01T07:59%2B07:00").get_json()["properties"]["population"] != 4444
    assert item("V10", "&datetime=garbage").status_code == 400
