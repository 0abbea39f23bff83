"""Uploads under load and on bad days: concurrent versions, damaged zips, a full disk, modes, runs on a version."""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import urllib.request
import uuid
import zipfile
from http.cookiejar import CookieJar
from pathlib import Path

import pandas as pd
import pytest
from conftest import tiny_layers
from test_web import login, make_data, token, upload

from ictgis.store import open_store
from ictgis_web import create_app
from ictgis_web.uploads import LOCK_FILE


@pytest.fixture()
def data_dir(tmp_path):
    return make_data(tmp_path / "data")


@pytest.fixture()
def make_app(tmp_path, data_dir):
    def factory(**config):
        base = {"TESTING": True, "DATA_DIR": str(data_dir), "SECRET_KEY": "test",
                "INSTANCE_PATH": str(tmp_path / "instance"), "SCENARIOS_DIR": str(tmp_path / "scenarios")}
        return create_app(base | config)
    return factory


def villages_geojson(n_extra: int = 0) -> bytes:
    """The tiny villages (10) plus `n_extra` copies with new ids, in WGS 84."""
    frame = tiny_layers()["villages"]
    extra = frame.iloc[[i % len(frame) for i in range(n_extra)]].copy()
    extra["id"] = [f"N{i}" for i in range(n_extra)]
    return pd.concat([frame, extra], ignore_index=True).to_crs(4326).to_json().encode()


def post_offices_geojson() -> bytes:
    """The tiny post offices (3) plus a fourth, a BĐVHX point in Mường Phăng."""
    frame = tiny_layers()["post_offices"]
    extra = frame.iloc[[1]].copy()
    extra["id"], extra["name"], extra["commune"] = "P4", "Điểm BĐVHX Mường Phăng", "03325"
    extra["geometry"] = extra.geometry.translate(5000, 2500)
    return pd.concat([frame, extra], ignore_index=True).to_crs(4326).to_json().encode()


def served_counts(client) -> dict[str, int]:
    layers = client.get("/api/layers").get_json()["layers"]
    return {name: layers[name]["features"] for name in ("villages", "post_offices")}


def leftovers(instance: Path) -> list[str]:
    """Work folders and upload files an upload may leave behind."""
    return sorted(str(p.relative_to(instance)) for p in [*instance.glob("datasets/.new-*"),
                                                         *instance.glob("tmp/upload-*")])


def upload_changesets(instance: Path) -> list:
    """The upload changesets of the instance's store, oldest first."""
    with open_store(instance / "ictgis.gpkg") as store:
        return [cs for cs in store.log() if cs.kind == "upload"]


def version_numbers(instance: Path) -> list[int]:
    """The uploads recorded in the store, numbered 1, 2 … in order (the first changeset is the base data)."""
    return list(range(1, len(upload_changesets(instance)) + 1))


def changed_layers(instance: Path) -> list[list[str]]:
    """The layers each upload changeset changed."""
    with open_store(instance / "ictgis.gpkg") as store:
        return [sorted(layer for layer, d in store.diff(cs.id - 1, cs.id).items() if any(d.values()))
                for cs in upload_changesets(instance)]


# ---------------------------------------------------------------------------------- concurrent uploads
def test_two_uploads_at_once_keep_both_changes(make_app):
    """Two planners post at the same moment (a barrier): both versions are kept, the second derives from the first."""
    app = make_app()
    clients = []
    for name in ("anh", "binh"):
        client = app.test_client()
        login(client, app, name=name)
        clients.append(client)
    barrier = threading.Barrier(2)
    statuses: dict[str, int] = {}

    def post(client, content: bytes, filename: str, layer: str) -> None:
        barrier.wait()
        statuses[layer] = upload(client, content, filename, layer=layer).status_code

    threads = [threading.Thread(target=post, args=(clients[0], villages_geojson(2), "thon.geojson", "villages")),
               threading.Thread(target=post, args=(clients[1], post_offices_geojson(), "bc.geojson", "post_offices"))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert statuses == {"villages": 201, "post_offices": 201}
    assert served_counts(clients[0]) == {"villages": 12, "post_offices": 4}
    instance = Path(app.instance_path)
    assert version_numbers(instance) == [1, 2]
    assert sorted(changed_layers(instance)) == [["post_offices"], ["villages"]]  # neither undid the other
    assert leftovers(instance) == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HttpPlanner:
    """A planner talking to a real server over HTTP (urllib, a cookie jar, the CSRF token of the pages)."""

    def __init__(self, base_url: str):
        self.base = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def csrf(self, path: str) -> str:
        html = self.opener.open(self.base + path, timeout=60).read().decode()
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    def login(self, name: str, password: str) -> None:
        body = urllib.parse.urlencode({"username": name, "password": password, "csrf_token": self.csrf("/login")})
        self.opener.open(self.base + "/login", body.encode(), timeout=60)

    def upload(self, content: bytes, filename: str, layer: str) -> int:
        boundary = uuid.uuid4().hex
        fields = {"csrf_token": self.csrf("/data/"), "layer": layer}
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in fields.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(self.base + "/data/upload", body, method="POST", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
        try:
            return self.opener.open(request, timeout=120).status
        except urllib.error.HTTPError as exc:
            return exc.code


@pytest.fixture()
def second_server(tmp_path, data_dir):
    """`ictgis serve` in a process of its own on the same data and instance folder as the test's app."""
    port = _free_port()
    exe = Path(sys.executable).parent / "ictgis"
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen([str(exe), "serve", "--data", str(data_dir), "--instance", str(tmp_path / "instance"),
                             "--port", str(port), "--threads", "2"], stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(base_url + "/login", timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > end:
                    raise AssertionError((tmp_path / "server.log").read_text()) from None
                time.sleep(0.2)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def test_uploads_to_two_server_processes_sharing_an_instance(make_app, second_server):
    """One upload through a second server process, one through this one, at the same moment, on one GeoPackage
    store (the instance's ictgis.gpkg): both are recorded, neither undoes the other, both processes serve both."""
    app = make_app()
    client = app.test_client()
    login(client, app, name="anh")
    remote = HttpPlanner(second_server)
    remote.login("anh", "mat-khau-123")
    barrier = threading.Barrier(2)
    statuses: dict[str, int] = {}

    def local() -> None:
        barrier.wait()
        statuses["villages"] = upload(client, villages_geojson(2), "thon.geojson").status_code

    def other_process() -> None:
        barrier.wait()
        statuses["post_offices"] = remote.upload(post_offices_geojson(), "bc.geojson", "post_offices")

    threads = [threading.Thread(target=local), threading.Thread(target=other_process)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=180)
    assert statuses == {"villages": 201, "post_offices": 201}
    end = time.monotonic() + 10  # the other process's changeset is seen within STORE_POLL_S (1 s)
    while served_counts(client) != {"villages": 12, "post_offices": 4} and time.monotonic() < end:
        time.sleep(0.2)
    assert served_counts(client) == {"villages": 12, "post_offices": 4}
    served = json.loads(urllib.request.urlopen(second_server + "/api/layers", timeout=60).read())["layers"]
    assert (served["villages"]["features"], served["post_offices"]["features"]) == (12, 4)
    instance = Path(app.instance_path)
    assert version_numbers(instance) == [1, 2]
    assert sorted(changed_layers(instance)) == [["post_offices"], ["villages"]]


def test_upload_while_another_process_holds_the_versions_is_a_clean_409(make_app):
    """The lock is a file lock: held by another process, an upload waits, then answers 409 and keeps nothing."""
    app = make_app(UPLOAD_LOCK_TIMEOUT_S=0.5)
    client = app.test_client()
    login(client, app)
    lock = Path(app.instance_path) / LOCK_FILE
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys\nf = open(sys.argv[1], 'a')\nfcntl.flock(f, fcntl.LOCK_EX)\n"
                               "print('held', flush=True)\nsys.stdin.read()", str(lock)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        resp = upload(client, villages_geojson(2), "thon.geojson")
        html = resp.get_data(as_text=True)
        assert resp.status_code == 409 and "đang được kiểm tra" in html and "hãy gửi lại tệp" in html
        assert version_numbers(Path(app.instance_path)) == [] and leftovers(Path(app.instance_path)) == []
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
    assert upload(client, villages_geojson(2), "thon.geojson").status_code == 201
    with lock.open() as fh:  # released after the upload: free for anyone
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_work_folders_of_a_dead_creator_are_removed(client_planner):
    """A `.new-*` folder can only be left by a creator that died: the next upload (holding the lock) removes it."""
    app, client = client_planner
    debris = Path(app.instance_path) / "datasets" / ".new-deadbeef0000"
    debris.mkdir(parents=True)
    (debris / "villages.geojson").write_text("{}")
    assert upload(client, villages_geojson(1), "thon.geojson").status_code == 201
    assert not debris.exists() and version_numbers(Path(app.instance_path)) == [1]


@pytest.fixture()
def client_planner(make_app):
    app = make_app()
    client = app.test_client()
    login(client, app)
    return app, client


# ---------------------------------------------------------------------------------- damaged zips
def _one_entry_zip(content: bytes, *, compression: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        zf.writestr("thon_ban.geojson", content)
    return buf.getvalue()


def _data_offset(raw: bytes) -> int:
    """Offset of the first entry's data (after its local header, name and extra field)."""
    name_len, extra_len = struct.unpack_from("<HH", raw, 26)
    return 30 + name_len + extra_len


def _bad_crc(raw: bytes) -> bytes:
    raw = bytearray(raw)
    raw[_data_offset(bytes(raw)) + 20] ^= 0xFF  # one byte of the stored data changed: its CRC no longer matches
    return bytes(raw)


def _declares_less(raw: bytes) -> bytes:
    """The entry holds more than its headers declare (both the local and the central header say 100 bytes)."""
    raw = bytearray(raw)
    struct.pack_into("<I", raw, 22, 100)
    central = raw.index(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, 100)
    return bytes(raw)


def _damaged_stream(raw: bytes) -> bytes:
    raw = bytearray(raw)
    start = _data_offset(bytes(raw))
    raw[start:start + 40] = b"\xff" * 40  # the deflate stream cannot be decoded
    return bytes(raw)


@pytest.mark.parametrize(("compression", "damage"), [
    (zipfile.ZIP_STORED, _bad_crc), (zipfile.ZIP_DEFLATED, _declares_less), (zipfile.ZIP_DEFLATED, _damaged_stream),
], ids=["bad-crc", "larger-than-declared", "damaged-deflate"])
def test_damaged_zip_member_is_400_naming_it(client_planner, compression, damage):
    app, client = client_planner
    content = damage(_one_entry_zip(villages_geojson(2), compression=compression))
    resp = upload(client, content, "thon_ban.zip")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400, html
    assert "upload-problems" in html and "thon_ban.geojson" in html and "damaged" in html
    instance = Path(app.instance_path)
    assert version_numbers(instance) == [] and leftovers(instance) == []


# ---------------------------------------------------------------------------------- a full disk
@pytest.fixture()
def small_disk(tmp_path):
    """An 8 MiB tmpfs mounted for the test (the instance holds the store; needs root and the right to mount)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _pages(size: int) -> int:
    return -(-size // 4096) * 4096


def _fill(folder: Path, *, leave_bytes: int) -> Path:
    """Fill the file system of `folder` until about `leave_bytes` are free."""
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    filler = folder / "filler"
    with filler.open("wb") as fh:
        fh.write(b"\0" * max(free - leave_bytes, 0))
    return filler


@pytest.mark.parametrize("where", ["upload", "version"])
def test_upload_on_a_full_disk_is_507_and_leaves_nothing(make_app, small_disk, data_dir, where, caplog):
    """The instance folder is on a small tmpfs, really full: no mock. The upload itself does not fit ("upload"),
    or it fits but the served changeset exported as a data folder to check it with does not."""
    instance = small_disk / "instance"
    app = make_app(INSTANCE_PATH=str(instance))
    client = app.test_client()
    login(client, app)
    content = villages_geojson(200 if where == "upload" else 2)
    leave = 16 * 1024 if where == "upload" else _pages(len(content)) + 16 * 1024
    base_bytes = sum(_pages(p.stat().st_size) for p in data_dir.iterdir())  # tmpfs counts whole pages
    assert len(content) > 2 * leave if where == "upload" else base_bytes > 2 * leave  # what must not fit does not
    filler = _fill(small_disk, leave_bytes=leave)
    resp = upload(client, content, "thon_ban.geojson")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 507, html
    assert "Không đủ dung lượng đĩa" in html and "upload-problems" in html
    logged = ["".join(traceback.format_exception(*r.exc_info)) for r in caplog.records if "disk is full" in r.msg]
    assert len(logged) == 1 and ("file.save" if where == "upload" else "version_folder") in logged[0]
    assert version_numbers(instance) == [] and leftovers(instance) == []
    english = client.get("/data/?lang=en")  # the language switch, then the same refusal in English
    assert english.status_code == 200
    assert "Disk full" in upload(client, content, "thon_ban.geojson").get_data(as_text=True)
    filler.unlink()
    assert upload(client, content, "thon_ban.geojson").status_code == 201
    assert version_numbers(instance) == [1] and leftovers(instance) == []


# ---------------------------------------------------------------------------------- modes
@pytest.fixture()
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_versions_have_ordinary_permissions(umask_022, client_planner, tmp_path):
    """Versions are readable by the web server's other users (0755 folders, 0644 files), as in the base folder."""
    app, client = client_planner
    assert upload(client, villages_geojson(2), "thon_ban.geojson").status_code == 201
    folder = tmp_path / "shp"
    folder.mkdir()
    offices = tiny_layers()["post_offices"]  # plus a fourth (an upload equal to the served layer records nothing)
    extra = offices.iloc[[1]].copy()
    extra["id"], extra["geometry"] = "P4", extra.geometry.translate(5000, 2500)
    pd.concat([offices, extra], ignore_index=True).to_file(folder / "buu_cuc.shp", engine="pyogrio")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in folder.iterdir():
            zf.write(part, part.name)
    assert upload(client, buf.getvalue(), "buu_cuc.zip", layer="post_offices").status_code == 201
    with app.app_context():  # the changesets as data folders (for runs and downloads), exported on first use
        from ictgis_web import data

        folders = [data.version_folder(cs.id) for cs in upload_changesets(Path(app.instance_path))]
    root = Path(app.instance_path) / "datasets"
    assert stat.S_IMODE(root.stat().st_mode) == 0o755 and len(folders) == 2
    for version in folders:
        assert stat.S_IMODE(version.stat().st_mode) == 0o755, version
        modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in version.iterdir()}
        assert set(modes.values()) == {"0o644"}, modes
    assert {"villages.gpkg", "post_offices.gpkg"} <= {p.name for p in folders[1].iterdir()}


# ---------------------------------------------------------------------------------- runs on a chosen version
def options_runner(path, out_dir, progress, **options):
    """A run double that writes the options it was given (module level: picklable)."""
    Path(out_dir).mkdir()
    (Path(out_dir) / "options.json").write_text(json.dumps(options))


def write_tiny_scenario(app, data_dir: Path) -> None:
    folder = Path(app.config["SCENARIOS_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.yaml").write_text(
        f"name: Kịch bản nhỏ\nbase: {data_dir.as_posix()}\ninterventions:\n"
        "  - {type: post_offices, add: missing_bdvhx}\n", encoding="utf-8")


def test_runs_use_the_served_version_by_default_and_refuse_unknown_ones(make_app, data_dir):
    app = make_app(JOB_RUNNER=options_runner, JOB_ISOLATION="thread")
    write_tiny_scenario(app, data_dir)
    client = app.test_client()
    login(client, app)
    assert upload(client, villages_geojson(2), "thon_ban.geojson").status_code == 201
    headers = {"X-CSRF-Token": token(client)}
    run_id = client.post("/api/scenarios/tiny.yaml/runs", headers=headers).get_json()["id"]
    record = app.extensions["ictgis_jobs"].wait(run_id)
    assert record["status"] == "done" and record["dataset_version"] == 2  # changeset 1 is the base data
    assert record["dataset_folder"] == "datasets/2" and "options" not in record
    options = json.loads(client.get(f"/scenarios/runs/{run_id}/files/options.json", buffered=True)
                         .get_data(as_text=True))
    assert Path(options["base"]) == Path(app.instance_path).resolve() / "datasets" / "2"
    assert options["base_info"] == {"dataset_version": 2, "dataset_folder": "datasets/2"}
    for bad in (7, -1, "abc", True, 1.5, [1]):
        resp = client.post("/api/scenarios/tiny.yaml/runs", headers=headers, json={"version": bad})
        assert resp.status_code == 400, bad
        assert "dataset version" in resp.get_json()["message"]
    resp = client.post("/scenarios/tiny.yaml/run", data={"csrf_token": token(client), "version": "x"})
    assert resp.status_code == 400
    page = client.get("/scenarios/").get_data(as_text=True)
    assert "Phiên bản dữ liệu" in page
    assert re.search(r'<option value="2" selected>2 — #2 [^<]* thon_ban\.geojson \(đang dùng\)</option>', page)
    assert re.search(r'<option value="1">1 — #1 [^<]* system: [^<]*</option>', page)
    assert re.search(r'<option value="0">0 — Dữ liệu gốc: data</option>', page)
    assert len(app.extensions["ictgis_jobs"].list()) == 1  # the refused requests started nothing


def test_real_runs_on_a_chosen_dataset_version(make_app, data_dir):
    """The real runner in its worker process: a run on the uploaded version sees the upload, one on 0 does not."""
    app = make_app()
    write_tiny_scenario(app, data_dir)
    client = app.test_client()
    login(client, app)
    assert upload(client, villages_geojson(2), "thon_ban.geojson").status_code == 201
    assert upload(client, post_offices_geojson(), "bc.geojson", layer="post_offices").status_code == 201
    jobs = app.extensions["ictgis_jobs"]
    on_v1 = client.post("/api/scenarios/tiny.yaml/runs", headers={"X-CSRF-Token": token(client)},
                        json={"version": 2}).get_json()["id"]  # changeset 2: the villages upload
    form = client.post("/scenarios/tiny.yaml/run", data={"csrf_token": token(client), "version": "0"})
    on_v0 = form.headers["Location"].rsplit("/", 1)[-1]
    runs = {2: jobs.wait(on_v1, timeout_s=240), 0: jobs.wait(on_v0, timeout_s=240)}
    for n, record in runs.items():
        assert record["status"] == "done", record
        assert record["dataset_version"] == n
    manifests = {n: json.loads(client.get(f"/scenarios/runs/{r['id']}/files/manifest.json", buffered=True)
                               .get_data(as_text=True)) for n, r in runs.items()}
    assert manifests[2]["base"]["dataset_version"] == 2 and manifests[2]["base"]["dataset_folder"] == "datasets/2"
    assert manifests[2]["base"]["folder"] == "2" and "villages.gpkg" in manifests[2]["base"]["files"]
    assert manifests[0]["base"]["dataset_version"] == 0
    assert manifests[0]["base"]["dataset_folder"] == data_dir.name  # never an absolute server path
    assert "villages.shp" in manifests[0]["base"]["files"]
    before = {n: json.loads(client.get(f"/scenarios/runs/{r['id']}/files/indicators_before.json", buffered=True)
                            .get_data(as_text=True)) for n, r in runs.items()}
    assert before[2]["fiber"]["villages"] == 12 and before[0]["fiber"]["villages"] == 10
    # changeset 2 has the villages upload but not the later post office (changeset 3)
    assert before[2]["postal"]["service_points"] == before[0]["postal"]["service_points"]
    page = client.get(f"/scenarios/runs/{on_v1}").get_data(as_text=True)
    assert re.search(r'Phiên bản dữ liệu: <strong id="run-dataset-version">2</strong>', page)


def test_excel_and_google_earth_files_are_accepted(client_planner, tmp_path):
    """Department lists live in Excel and Google Earth: an XLSX of villages and a KMZ of post offices upload."""
    import zipfile

    import openpyxl

    app, client = client_planner
    villages = tiny_layers()["villages"].to_crs(4326)
    wb = openpyxl.Workbook()
    ws = wb.active
    columns = ["id", "name", "commune", "population", "households", "fiber"]
    ws.append([*columns, "lon", "lat"])
    for row, point in zip(villages[columns].itertuples(index=False), villages.geometry, strict=True):
        ws.append([*row, round(point.x, 6), round(point.y, 6)])
    ws.append(["N1", "Bản Mới", "03316", 120, 30, 0, round(villages.geometry.iloc[6].x, 6),
               round(villages.geometry.iloc[6].y, 6)])
    wb.save(tmp_path / "thon_ban.xlsx")
    resp = upload(client, (tmp_path / "thon_ban.xlsx").read_bytes(), "thon_ban.xlsx")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    offices = tiny_layers()["post_offices"].to_crs(4326)
    marks = "".join(  # as Google Earth saves them: attributes in ExtendedData
        f"<Placemark><name>{row.name}</name><ExtendedData>"
        + "".join(f'<Data name="{k}"><value>{getattr(row, k)}</value></Data>' for k in ("id", "kind", "commune"))
        + f"</ExtendedData><Point><coordinates>{row.geometry.x},{row.geometry.y}</coordinates></Point></Placemark>"
        for row in offices.itertuples())
    kml = f'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>{marks}'
    with zipfile.ZipFile(tmp_path / "buu_cuc.kmz", "w") as zf:
        zf.writestr("doc.kml", kml + "</Document></kml>")
    resp = upload(client, (tmp_path / "buu_cuc.kmz").read_bytes(), "buu_cuc.kmz", layer="post_offices")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    with app.app_context():
        from ictgis_web import data

        served = data.dataset()
    assert len(served["villages"]) == 11 and len(served["post_offices"]) == 3


def test_a_zip_bomb_inside_an_xlsx_is_refused(client_planner, tmp_path):
    """An XLSX is a zip: its entries get the zipped-layer limits."""
    import zipfile

    app, client = client_planner
    with zipfile.ZipFile(tmp_path / "bom.xlsx", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"0" * (120 * 1024 * 1024))
    resp = upload(client, (tmp_path / "bom.xlsx").read_bytes(), "bom.xlsx")
    assert resp.status_code == 400 and version_numbers(Path(app.instance_path)) == []
