"""The GIS officer's data page: Vietnamese messages, a CRS for files without one, one message for a layer of the
wrong geometry type, villages outside their commune, the dated versions table (the store's changesets) and roll back
(a new changeset equal to an older state)."""

from __future__ import annotations

import html as html_text
import io
import json
import re
import threading
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import shapely
from conftest import KM, X0, Y0, tiny_layers
from test_web import login, make_data, token

from ictgis_web import create_app, data


@pytest.fixture()
def data_dir(tmp_path):
    return make_data(tmp_path / "data")


@pytest.fixture()
def app(tmp_path, data_dir):
    return create_app({"TESTING": True, "DATA_DIR": str(data_dir), "SECRET_KEY": "test",
                       "INSTANCE_PATH": str(tmp_path / "instance"), "SCENARIOS_DIR": str(tmp_path / "scenarios")})


@pytest.fixture()
def planner(app):
    client = app.test_client()
    login(client, app)
    return client


def problems(html: str) -> list[str]:
    block = re.search(r'<ul class="problems">(.*?)</ul>', html, re.S)
    if not block:
        return []
    return [html_text.unescape(re.sub(r"<[^>]+>", "", li)).strip()
            for li in re.findall(r"<li>(.*?)</li>", block.group(1), re.S)]


def shapefile_zip(frame, *, prj: bool = True) -> bytes:
    """A zipped Shapefile of `frame` (in EPSG:9205), with or without its .prj."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "thon_ban.shp"
        frame.to_file(path, engine="pyogrio")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for part in Path(tmp).iterdir():
                if prj or part.suffix != ".prj":
                    zf.write(part, part.name)
    return buf.getvalue()


def villages(n_extra: int = 0, *, moved: bool = False, drop: tuple[int, ...] = (), rename: dict | None = None):
    frame = tiny_layers()["villages"]
    extra = frame.iloc[[i % len(frame) for i in range(n_extra)]].copy()
    extra["id"] = [f"N{i}" for i in range(n_extra)]
    frame = pd.concat([frame, extra], ignore_index=True)
    if moved:  # V03 (stated commune 03124) placed 2 km inside 03316
        frame.loc[2, "geometry"] = shapely.Point(X0 + 2 * KM, Y0 + 7 * KM)
    for i, name in (rename or {}).items():
        frame.loc[i, "name"] = name
    return frame.drop(index=list(drop)).reset_index(drop=True)


def geojson(frame) -> bytes:
    return frame.to_crs(4326).to_json().encode()


def post(client, data: dict, file: tuple[bytes, str] | None = None):
    body = {"csrf_token": token(client), **data}
    if file is not None:
        body["file"] = (io.BytesIO(file[0]), file[1])
    return client.post("/data/upload", data=body, content_type="multipart/form-data")


def serve(client, version: int):
    """Roll back to changeset `version` from the data page's table (a new changeset)."""
    return client.post(f"/data/rollback/{version}", data={"csrf_token": token(client)})


def served_villages(client) -> int:
    return client.get("/api/layers").get_json()["layers"]["villages"]["features"]


# ---------------------------------------------------------------------------------- a CRS for files without one
def test_the_form_offers_the_usual_crs_and_free_epsg(planner):
    html = planner.get("/data/").get_data(as_text=True)
    options = re.findall(r'<option value="(EPSG:\d+)"', html)
    assert options == ["EPSG:9205", "EPSG:4756", "EPSG:4326", "EPSG:32648", "EPSG:3405"]
    assert "VN-2000 / TM-3 kinh tuyến trục 103° Điện Biên (mét) — EPSG:9205" in html
    assert 'name="crs_epsg"' in html and "Hệ tọa độ của tệp" in html


def test_a_crs_choice_fixes_a_shapefile_without_prj(planner, app):
    content = shapefile_zip(villages(2), prj=False)
    resp = post(planner, {"layer": "villages"}, (content, "thon_ban.zip"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert problems(html) == ["thon_ban.zip: tệp không có hệ tọa độ (thiếu tệp .prj, hoặc bảng có cột x/y): chọn hệ "
                              "tọa độ ở ô «Hệ tọa độ của tệp» rồi gửi lại: tọa độ mét của tỉnh là VN-2000 / TM-3 103° "
                              "(EPSG:9205), kinh độ/vĩ độ GPS là WGS 84 (EPSG:4326), kinh độ/vĩ độ VN-2000 là "
                              "EPSG:4756"]
    assert re.search(r'<option value="villages" selected>', html)  # the form keeps the chosen layer
    # the wrong choice: degrees for metres, the engine says so and what fits
    resp = post(planner, {"layer": "villages", "crs": "EPSG:4326"}, (content, "thon_ban.zip"))
    found = problems(resp.get_data(as_text=True))
    assert resp.status_code == 400 and len(found) == 1
    assert "hệ tọa độ sai" in found[0] and "EPSG:9205" in found[0]
    # the right one
    resp = post(planner, {"layer": "villages", "crs": "EPSG:9205"}, (content, "thon_ban.zip"))
    assert resp.status_code == 201, problems(resp.get_data(as_text=True))
    with app.app_context():  # the chosen CRS reached the store: the points are where they were drawn
        served = data.dataset()["villages"].set_index("id").geometry
    sent = villages(2).set_index("id").geometry
    assert float(served.loc[sent.index].distance(sent).max()) < 0.01
    assert served_villages(planner) == 12
    resp = planner.get("/data/?lang=en")
    assert "CRS of the file (when it has none)" in resp.get_data(as_text=True)


def test_a_csv_with_xy_takes_a_typed_epsg_code(planner):
    frame = villages(1)
    table = pd.DataFrame(frame.drop(columns="geometry"))
    table["x"], table["y"] = frame.geometry.x, frame.geometry.y
    content = table.to_csv(index=False).encode()
    resp = post(planner, {"layer": "villages", "crs": "", "crs_epsg": "nonsense"}, (content, "thon.csv"))
    assert resp.status_code == 400
    assert problems(resp.get_data(as_text=True)) == [
        "crs, cột crs: «nonsense» không phải là hệ tọa độ (hãy ghi mã EPSG, ví dụ EPSG:9205)"]
    resp = post(planner, {"layer": "villages", "crs_epsg": "9205"}, (content, "thon.csv"))
    assert resp.status_code == 201, problems(resp.get_data(as_text=True))
    assert served_villages(planner) == 11


def test_english_mode_keeps_the_engines_english(planner):
    planner.get("/data/?lang=en")
    resp = post(planner, {"layer": "villages"}, (shapefile_zip(villages(), prj=False), "thon_ban.zip"))
    assert problems(resp.get_data(as_text=True)) == [
        "thon_ban.zip: the file has no CRS (no .prj, or a table with x/y columns): choose it under «CRS of the file» "
        "and send the file again: the province's metres are VN-2000 / TM-3 103° (EPSG:9205), GPS longitude/latitude "
        "WGS 84 (EPSG:4326), VN-2000 longitude/latitude EPSG:4756"]
    frame = villages()
    frame.loc[1, "id"] = "V01"
    resp = post(planner, {"layer": "villages"}, (geojson(frame), "thon.geojson"))
    assert problems(resp.get_data(as_text=True)) == [
        "thon.geojson row 2 (id V01), column id: duplicate id 'V01' (first at row 1)"]


# ---------------------------------------------------------------------------------- the wrong geometry type
def test_points_uploaded_as_communes_give_one_message(planner):
    resp = post(planner, {"layer": "communes"}, (geojson(villages()), "xa.geojson"))
    found = problems(resp.get_data(as_text=True))
    assert resp.status_code == 400
    assert found == ["xa.geojson, cột geometry: lớp xã, phường, thị trấn cần dữ liệu dạng vùng (polygon), tệp này "
                     "chứa dữ liệu dạng điểm (10/10 đối tượng): có phải đây là tệp của lớp khác? Hãy chọn đúng lớp "
                     "hoặc đúng tệp"]


def test_row_problems_are_vietnamese(planner):
    frame = villages()
    frame["population"] = frame["population"].astype(object)
    frame.loc[1, "population"] = "nhiều"
    frame.loc[4, "id"] = "V01"
    resp = post(planner, {"layer": "villages"}, (geojson(frame), "thon.geojson"))
    found = problems(resp.get_data(as_text=True))
    assert "thon.geojson, dòng 2 (mã V02), cột population: giá trị «nhiều» không hợp lệ, cần một số nguyên ≥ 0" \
        in found
    assert "thon.geojson, dòng 5 (mã V01), cột id: mã «V01» bị trùng (đã có ở dòng 1)" in found


# ---------------------------------------------------------------------------------- villages outside their commune
def test_a_village_outside_its_commune_is_a_warning_on_the_page(planner):
    resp = post(planner, {"layer": "villages"}, (geojson(villages(moved=True)), "thon.geojson"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 201
    notice = re.search(r'<div class="notice" id="outside-commune">(.*?)</div>', html, re.S).group(1)
    assert "thôn, bản nằm ngoài xã ghi trong dữ liệu (quá 100 m)" in notice
    assert "V03 Tổ dân phố 3 (dòng 3): ghi thuộc xã 03124 Noong Bua nhưng nằm ở 03316 Nà Tấu, cách xã 03124 " \
           "2,00 km" in notice
    assert notice.count("<li>") == 1


# ---------------------------------------------------------------------------------- the versions table
def rows(html: str) -> dict[int, str]:
    body = re.search(r'<table class="data stack" id="version-table">(.*?)</table>', html, re.S).group(1)
    return {int(n): re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()
            .replace(" ,", ",") for n, text in re.findall(r'<tr data-version="(\d+)"[^>]*>(.*?)</tr>', body, re.S)}


def test_the_versions_table_lists_uploads_with_what_changed(planner, app):
    assert post(planner, {"layer": "villages"}, (geojson(villages(2)), "thon_1.geojson")).status_code == 201
    second = villages(2, drop=(0,), rename={3: "Bản Kéo Mới"})  # V01 removed, V05 renamed, N0 N1 kept
    resp = post(planner, {"layer": "villages", "message": "Cập nhật thôn bản"}, (geojson(second), "thon_2.geojson"))
    assert resp.status_code == 201
    table = rows(planner.get("/data/").get_data(as_text=True))
    assert list(table) == [3, 2, 1]  # the changesets, newest first: the base data import is the first
    assert "anh" in table[3] and "thon_2.geojson" in table[3] and "Cập nhật thôn bản" in table[3]
    assert "thôn, bản: +0 thêm, −1 xóa, 1 sửa" in table[3]
    assert "thôn, bản: +2 thêm, −0 xóa, 0 sửa" in table[2] and "thon_1.geojson" in table[2]
    assert "system" in table[1] and "nhập dữ liệu" in table[1]
    assert re.search(r"\d\d/\d\d/20\d\d \d\d:\d\d", table[3])  # dated
    assert "đang dùng" in table[3] and "đang dùng" not in table[2]
    assert planner.get("/data/").get_data(as_text=True).count('id="version-table"') == 1  # one table
    english = rows(planner.get("/data/?lang=en").get_data(as_text=True))
    assert "villages: +0 added, −1 removed, 1 changed" in english[3]


# ---------------------------------------------------------------------------------- roll back
def test_roll_back_records_the_older_state_and_a_viewer_cannot(planner, app):
    assert post(planner, {"layer": "villages"}, (geojson(villages(2)), "thon_1.geojson")).status_code == 201
    assert post(planner, {"layer": "villages"}, (geojson(villages(5)), "thon_2.geojson")).status_code == 201
    assert served_villages(planner) == 15
    viewer = app.test_client()
    login(viewer, app, name="xem", role="viewer")
    assert 'class="serve-button"' not in viewer.get("/data/").get_data(as_text=True)
    assert serve(viewer, 2).status_code == 403
    assert served_villages(viewer) == 15
    resp = serve(planner, 2)  # back to the first upload's state: a new changeset 4
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/data/?served=4")
    assert served_villages(planner) == 12 and served_villages(viewer) == 12
    page = planner.get("/data/?served=4").get_data(as_text=True)
    table = rows(page)
    assert "Đã khôi phục: thay đổi mới #4" in page and "đang dùng" in table[4] and list(table) == [4, 3, 2, 1]
    assert "thôn, bản: +0 thêm, −3 xóa, 0 sửa" in table[4] and "#2" in table[4]
    audit = [json.loads(line) for line in (Path(app.instance_path) / "logs" / "auth.log").read_text().splitlines()]
    assert [(a["event"], a["user"], a["target"], a["changeset"]) for a in audit if a["event"] == "rollback"] \
        == [("rollback", "anh", 2, 4)]
    assert serve(planner, 1).status_code == 303 and served_villages(planner) == 10  # the base data (changeset 5)
    resp = serve(planner, 9)
    assert resp.status_code == 404 and "không có phiên bản 9" in resp.get_data(as_text=True)
    assert served_villages(planner) == 10
    # an upload after a roll back derives from the rolled-back state
    assert serve(planner, 2).status_code == 303  # changeset 6
    assert post(planner, {"layer": "villages"}, (geojson(villages(3)), "thon_3.geojson")).status_code == 201
    assert "thôn, bản: +1 thêm, −0 xóa, 0 sửa" in rows(planner.get("/data/").get_data(as_text=True))[7]
    assert served_villages(planner) == 13


def test_roll_back_and_upload_at_the_same_moment(app):
    """A planner rolls back while another uploads (a barrier): whichever records first, the other builds on it."""
    first, second = app.test_client(), app.test_client()
    login(first, app, name="anh")
    login(second, app, name="binh")
    assert post(first, {"layer": "villages"}, (geojson(villages(2)), "thon_1.geojson")).status_code == 201
    assert post(first, {"layer": "villages"}, (geojson(villages(5)), "thon_2.geojson")).status_code == 201
    offices = tiny_layers()["post_offices"].iloc[:2]
    barrier = threading.Barrier(2)
    statuses: dict[str, int] = {}

    def roll_back():
        barrier.wait()
        statuses["serve"] = serve(first, 2).status_code

    def fewer_offices():
        barrier.wait()
        statuses["upload"] = post(second, {"layer": "post_offices"}, (geojson(offices), "bc.geojson")).status_code

    threads = [threading.Thread(target=roll_back), threading.Thread(target=fewer_offices)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert statuses == {"serve": 303, "upload": 201}
    table = rows(first.get("/data/").get_data(as_text=True))
    assert list(table) == [5, 4, 3, 2, 1]
    n_offices = first.get("/api/layers").get_json()["layers"]["post_offices"]["features"]
    if "bc.geojson" in table[5]:  # the roll back came first: the upload built on it and keeps both
        assert n_offices == 2
    else:  # the upload came first, then the roll back restored changeset 2's whole state (offices included)
        assert "bc.geojson" in table[4] and n_offices == len(tiny_layers()["post_offices"])
    assert served_villages(first) == 12  # changeset 2's villages either way
    assert not list(Path(app.instance_path).glob("datasets/.new-*"))


def test_roll_back_waits_for_an_upload_holding_the_lock(tmp_path, data_dir):
    import fcntl

    app = create_app({"TESTING": True, "DATA_DIR": str(data_dir), "SECRET_KEY": "test",
                      "INSTANCE_PATH": str(tmp_path / "instance"), "UPLOAD_LOCK_TIMEOUT_S": 0.3})
    client = app.test_client()
    login(client, app)
    assert post(client, {"layer": "villages"}, (geojson(villages(2)), "thon_1.geojson")).status_code == 201
    lock = Path(app.instance_path) / "datasets.lock"
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        resp = serve(client, 1)
        assert resp.status_code == 409 and "Không khôi phục được" in resp.get_data(as_text=True)
    assert served_villages(client) == 12
    assert serve(client, 1).status_code == 303 and served_villages(client) == 10
