"""A scenario run as its page shows it: the status follows the run, messages in the page's language, no paths."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import tiny_layers, write_layers
from test_web import login, token

from ictgis import scenario
from ictgis_web import create_app
from ictgis_web.i18n import RUN_MESSAGES, TEXT, run_message


@pytest.fixture()
def gate():
    """A run that reports progress, then waits until the test opens the gate."""
    reached, release = threading.Event(), threading.Event()

    def runner(path, out_dir, progress, **_options):
        progress(0.1, f"loading {Path(out_dir).parent}")
        progress(0.9, f"writing {out_dir}")
        reached.set()
        assert release.wait(60), "the test never opened the gate"
        Path(out_dir).mkdir()
        return {}

    runner.reached, runner.release = reached, release
    yield runner
    release.set()


def _app(tmp_path, runner):
    app = create_app({"TESTING": True, "DATA_DIR": str(write_layers(tmp_path / "data", tiny_layers())),
                      "SECRET_KEY": "t", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SCENARIOS_DIR": str(tmp_path / "scenarios"), "JOB_RUNNER": runner, "JOB_ISOLATION": "thread"})
    folder = Path(app.config["SCENARIOS_DIR"])
    folder.mkdir()
    (folder / "plan.yaml").write_text("name: plan\n", encoding="utf-8")
    return app


def test_a_run_reporting_progress_is_running_in_the_api_and_on_its_page(tmp_path, gate):
    app = _app(tmp_path, gate)
    client = app.test_client()
    login(client, app)
    run_id = client.post("/api/scenarios/plan.yaml/runs", headers={"X-CSRF-Token": token(client)}).get_json()["id"]
    assert gate.reached.wait(30)
    api = client.get(f"/api/runs/{run_id}").get_json()
    assert api["status"] == "running" and api["progress"] == pytest.approx(0.9)
    assert api["status_text"] == "đang chạy" and api["message_text"] == "Đang ghi kết quả"
    page = client.get(f"/scenarios/runs/{run_id}").get_data(as_text=True)
    assert 'data-status="running">đang chạy<' in page and "Đang ghi kết quả" in page
    assert "đang chờ" not in page
    english = client.get(f"/api/runs/{run_id}?lang=en").get_json()
    assert english["status_text"] == "running" and english["message_text"] == "Writing the results"
    for text in (page, str(api), str(english)):
        assert str(tmp_path) not in text
    assert f"{run_id}/out" not in page  # the page says what is done, not where
    gate.release.set()
    assert app.extensions["ictgis_jobs"].wait(run_id)["status"] == "done"
    done = client.get(f"/api/runs/{run_id}?lang=vi").get_json()
    assert done["status_text"] == "xong"


def test_a_queued_run_says_so_until_it_starts(tmp_path, gate):
    app = _app(tmp_path, gate)  # one run at a time: the second waits
    client = app.test_client()
    login(client, app)
    first = client.post("/api/scenarios/plan.yaml/runs", headers={"X-CSRF-Token": token(client)}).get_json()["id"]
    second = client.post("/api/scenarios/plan.yaml/runs", headers={"X-CSRF-Token": token(client)}).get_json()["id"]
    assert gate.reached.wait(30)
    api = client.get(f"/api/runs/{second}").get_json()
    assert (api["status"], api["status_text"], api["message_text"]) == ("queued", "đang chờ", "")
    gate.release.set()
    jobs = app.extensions["ictgis_jobs"]
    assert jobs.wait(first)["status"] == "done" and jobs.wait(second)["status"] == "done"


@pytest.mark.parametrize(("message", "vi", "en"), [
    ("loading /srv/gis/dienbien", "Đang đọc dữ liệu", "Loading the data"),
    ("indicators before", "Đang tính các chỉ tiêu hiện trạng (trước kịch bản)",
     "Computing the indicators before the scenario"),
    ("applying 2. upgrade_sites", "Đang áp dụng: 2. upgrade_sites", "Applying: 2. upgrade_sites"),
    ("applying Nâng cấp trạm 4G", "Đang áp dụng: Nâng cấp trạm 4G", "Applying: Nâng cấp trạm 4G"),
    ("indicators after", "Đang tính các chỉ tiêu sau kịch bản", "Computing the indicators after the scenario"),
    ("writing /srv/instance/runs/20260101-000000-abcdef/out", "Đang ghi kết quả", "Writing the results"),
    ("done", "Hoàn tất", "Finished"),
    ("", "", ""),
    (None, "", ""),
    ("reading /srv/gis/x/roads.shp", "reading roads.shp", "reading roads.shp"),  # unknown: shown, path hidden
])
def test_run_messages_are_translated_without_paths(message, vi, en):
    assert run_message(message, lang="vi") == vi
    assert run_message(message, lang="en") == en


def test_every_message_of_a_real_run_is_translated(tmp_path):
    """The engine's runner and the page's table of messages agree: every step a real run reports has a translation."""
    base = write_layers(tmp_path / "base", tiny_layers())
    path = tmp_path / "s.yaml"
    path.write_text(f"name: t\nbase: {base}\ninterventions:\n  - type: power\n    to: solar\n", encoding="utf-8")
    seen: list[str] = []
    scenario.run(path, tmp_path / "out", progress=lambda f, m: seen.append(m))
    assert len(seen) >= 5
    known = {TEXT[key]["vi"].split(":")[0] for _, key in RUN_MESSAGES}
    for message in seen:
        shown = run_message(message, lang="vi")
        assert shown.split(":")[0] in known, message
        assert str(tmp_path) not in shown and "/" not in shown
