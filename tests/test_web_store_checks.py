"""The web app on a store whose cells and sites disagree: the coverage says why instead of computing forever, and
deleting a site on the map takes its cells along."""

from __future__ import annotations

import uuid

from test_web import login, token
from test_web_analyses import unique_folder

from ictgis import LayerError
from ictgis_web import analyses, create_app, data

CELLS = "site,cell,azimuth,tilt\nS1,S1-A,0,2\nS1,S1-B,120,2\nS2,S2-A,240,4\n"


def _app(tmp_path):
    folder = unique_folder(tmp_path)
    (folder / "cells.csv").write_text(CELLS, encoding="utf-8")
    return create_app({"DATA_DIR": str(folder), "INSTANCE_PATH": str(tmp_path / f"i-{uuid.uuid4().hex[:6]}"),
                       "SECRET_KEY": "t", "TESTING": True, "STORE_POLL_S": 0})


def test_an_input_error_is_kept_and_not_tried_again():
    key = ("failing-input", uuid.uuid4().hex)

    def orphan():
        raise LayerError("cells.csv: site 'S9' is not in bts_sites", [])

    assert analyses.background(key, orphan, wait=True) is None
    assert "S9" in analyses.failure(key)
    calls: list[int] = []
    assert analyses.background(key, lambda: calls.append(1) or "ok", wait=True) is None
    assert calls == []   # not computed again for the same content: the pages show the error


def test_orphaned_cells_show_an_error_on_the_indicator_page_not_computing_forever(tmp_path):
    app = _app(tmp_path)
    with app.app_context():
        store = data.store()
        t = store.layer_tables["bts_sites"]
        with store.writing() as conn:   # a site removed alone (as stores written before the cascade could be)
            cs = store.new_changeset(conn, author="old", message="S2 removed alone", kind="edit")
            conn.execute(t.update().where(t.c.feature_key == "S2", t.c.ended_by.is_(None))
                         .values(ended_by=cs.id, valid_to=cs.time))
        data.refresh()
    client = app.test_client()
    client.get("/indicators")
    assert analyses.wait_idle(timeout_s=300)
    page = client.get("/indicators").get_data(as_text=True)
    assert 'data-coverage-error="1"' in page and "S2" in page
    assert "data-pending" not in page and "ictgis-indicators.js" not in page
    api = client.get("/api/indicators")
    assert api.headers["X-Ictgis-Coverage-Errors"] == "1"
    assert api.get_json()["mobile"].get("populated_area_4g_pct") is None


def test_deleting_a_site_on_the_map_takes_its_cells_and_the_coverage_still_computes(tmp_path):
    app = _app(tmp_path)
    client = app.test_client()
    login(client, app, name="minh")
    site = client.get("/api/features/bts_sites/S1").get_json()
    resp = client.delete("/api/features/bts_sites/S1", json={"expected_version": site["version"],
                                                             "message": "Tháo dỡ"},
                         headers={"X-CSRF-Token": token(client)})
    assert resp.status_code == 200, resp.get_json()
    assert "2 cells" in resp.get_json()["changeset"]["message"]
    with app.app_context():
        ds = data.dataset()
        assert list(ds.cells["cell"]) == ["S2-A"]
        assert analyses.coverage_result(ds, "4G", wait=True) is not None
        assert analyses.coverage_error(ds, "4G") is None
