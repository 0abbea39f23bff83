"""Words of the web pages in Vietnamese (default) and English; the language follows ``?lang=`` and the session.

Names of indicators, table columns and costs are not words of the pages: they come from the one catalogue of labels,
`ictgis.labels` (table headers and cost names through `TEXT`, columns through the template function ``field``).
"""

from __future__ import annotations

import re

from flask import Flask, g, request, session

from ictgis.labels import COSTS, FIELDS, HEADINGS, Label

LANGS = ("vi", "en")


def _both(label: Label) -> dict[str, str]:
    return {"vi": label.vi, "en": label.text("en")}


TEXT: dict[str, dict[str, str]] = {
    "title": {"vi": "Bản đồ hạ tầng thông tin và truyền thông — tỉnh Điện Biên",
              "en": "ICT infrastructure map — Điện Biên province"},
    "short_title": {"vi": "Bản đồ TT&TT Điện Biên", "en": "Điện Biên ICT map"},
    "map": {"vi": "Bản đồ", "en": "Map"},
    "indicators": {"vi": "Chỉ tiêu", "en": "Indicators"},
    "scenarios": {"vi": "Kịch bản", "en": "Scenarios"},
    "data": {"vi": "Dữ liệu", "en": "Data"},
    "login": {"vi": "Đăng nhập", "en": "Log in"},
    "logout": {"vi": "Đăng xuất", "en": "Log out"},
    "username": {"vi": "Tên đăng nhập", "en": "User name"},
    "password": {"vi": "Mật khẩu", "en": "Password"},
    "login_failed": {"vi": "Sai tên đăng nhập hoặc mật khẩu.", "en": "Wrong user name or password."},
    "login_locked": {"vi": "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau ít phút.",
                     "en": "Too many failed logins. Please try again in a few minutes."},
    "login_busy": {"vi": "Máy chủ đang bận, vui lòng thử lại sau một giây.",
                   "en": "The server is busy; please try again in a second."},
    "switch_lang": {"vi": "English", "en": "Tiếng Việt"},
    "search": {"vi": "Tìm thôn, bản, xã…", "en": "Find a village or commune…"},
    "no_match": {"vi": "Không tìm thấy", "en": "No match"},
    "colour_by": {"vi": "Tô màu xã theo", "en": "Colour communes by"},
    "per_commune": {"vi": "Theo xã, phường, thị trấn", "en": "Per commune"},
    "scenario_files": {"vi": "Các tệp kịch bản", "en": "Scenario files"},
    "no_scenarios": {"vi": "Chưa có tệp kịch bản nào trong thư mục scenarios/.",
                     "en": "No scenario files in scenarios/ yet."},
    "runner_missing": {"vi": "Chức năng chạy kịch bản chưa có (mô-đun ictgis.scenario chưa được cài đặt).",
                       "en": "Running scenarios is not available yet (the ictgis.scenario module is not there)."},
    "run": {"vi": "Chạy", "en": "Run"},
    "scenario_invalid": {"vi": "Tệp kịch bản không dùng được", "en": "Scenario file cannot be used"},
    "runs": {"vi": "Các lần chạy", "en": "Runs"},
    "no_runs": {"vi": "Chưa có lần chạy nào.", "en": "No runs yet."},
    "status": {"vi": "Trạng thái", "en": "Status"},
    "started": {"vi": "Bắt đầu", "en": "Started"},
    "finished": {"vi": "Kết thúc", "en": "Finished"},
    "progress": {"vi": "Tiến độ", "en": "Progress"},
    "outputs": {"vi": "Kết quả (tải về)", "en": "Outputs (download)"},
    "costs": {"vi": "Chi phí đầu tư (VNĐ)", "en": "Costs (VND)"},
    "changes_map": {"vi": "Bản đồ thay đổi", "en": "Map of changes"},
    "total": {"vi": "Tổng cộng", "en": "Total"},
    "cost_item": {"vi": "Hạng mục", "en": "Item"},
    "compare": {"vi": "So sánh", "en": "Compare"},
    "compare_runs": {"vi": "So sánh hai lần chạy", "en": "Compare two runs"},
    "queued": {"vi": "đang chờ", "en": "queued"},
    "running": {"vi": "đang chạy", "en": "running"},
    "done": {"vi": "xong", "en": "done"},
    "failed": {"vi": "lỗi", "en": "failed"},
    "interrupted": {"vi": "bị gián đoạn", "en": "interrupted"},
    "cancelled": {"vi": "đã hủy", "en": "cancelled"},
    "cancel_run": {"vi": "Hủy lượt chạy", "en": "Cancel the run"},
    "upload": {"vi": "Tải lên lớp dữ liệu", "en": "Upload a layer"},
    "layer": {"vi": "Lớp", "en": "Layer"},
    "file": {"vi": "Tệp", "en": "File"},
    "upload_help": {"vi": "Shapefile nén (.zip), GeoPackage, GeoJSON, KML hoặc CSV (có cột kinh độ/vĩ độ).",
                    "en": "Zipped shapefile (.zip), GeoPackage, GeoJSON, KML or CSV (with lon/lat columns)."},
    "upload_ok": {"vi": "Đã nhận lớp dữ liệu: phiên bản dữ liệu mới", "en": "Layer accepted: new dataset version"},
    "upload_refused": {"vi": "Không nhận tệp: có lỗi sau", "en": "File refused: these problems were found"},
    "upload_busy": {"vi": "Một lượt tải lên khác đang được kiểm tra: không có gì được lưu, hãy gửi lại tệp sau "
                          "ít phút.",
                    "en": "Another upload is being checked: nothing was kept, send the file again in a moment."},
    "disk_full": {"vi": "Không đủ dung lượng đĩa: không nhận tệp, không có gì được lưu lại. Hãy báo quản trị viên "
                        "giải phóng dung lượng.",
                  "en": "Disk full: the file was refused and nothing was kept. Ask the administrator to free some "
                        "space."},
    "versions": {"vi": "Các phiên bản dữ liệu", "en": "Dataset versions"},
    "base_data": {"vi": "Dữ liệu gốc", "en": "Base data"},
    "serving": {"vi": "đang dùng", "en": "served"},
    "dataset_version": {"vi": "Phiên bản dữ liệu", "en": "Dataset version"},
    "error": {"vi": "Lỗi", "en": "Error"},
    "back_to_map": {"vi": "Về bản đồ", "en": "Back to the map"},
    "by": {"vi": "bởi", "en": "by"},
    "vendor_missing": {"vi": "Thiếu thư viện bản đồ (Leaflet, jQuery) trên máy chủ: bản đồ không hiển thị được. "
                             "Quản trị viên: chạy `npm ci` trong thư mục mã nguồn, hoặc cài gói được đóng sau "
                             "`npm ci`.",
                       "en": "The map libraries (Leaflet, jQuery) are missing on the server: the map cannot be drawn. "
                             "Administrator: run `npm ci` in the source folder, or install a package built after "
                             "`npm ci`."},
    # progress of a scenario run (`run_message`): the engine's steps, in the order it reports them
    "run_loading": {"vi": "Đang đọc dữ liệu", "en": "Loading the data"},
    "run_before": {"vi": "Đang tính các chỉ tiêu hiện trạng (trước kịch bản)",
                   "en": "Computing the indicators before the scenario"},
    "run_applying": {"vi": "Đang áp dụng: {label}", "en": "Applying: {label}"},
    "run_after": {"vi": "Đang tính các chỉ tiêu sau kịch bản", "en": "Computing the indicators after the scenario"},
    "run_writing": {"vi": "Đang ghi kết quả", "en": "Writing the results"},
    "run_done": {"vi": "Hoàn tất", "en": "Finished"},
    "indicator_pending": {"vi": "đang tính…", "en": "computing…"},
    # the leader's indicator page and printing (issue 17 §1)
    "print": {"vi": "In", "en": "Print"},
    "printed_on": {"vi": "Ngày in", "en": "Printed on"},
    "baseline_2021": {"vi": "Kế hoạch (2021)", "en": "Plan (2021)"},
    "target": {"vi": "Mục tiêu", "en": "Target"},
    "gap": {"vi": "Còn thiếu", "en": "Gap"},
    "target_status": {"vi": "Đánh giá", "en": "Status"},
    "targets_help": {"vi": "Mục tiêu theo QĐ 1132/QĐ-TTg (cáp quang đến mọi thôn, bản) và QCVN 1:2008/BTTTT (bưu "
                           "chính); cột Kế hoạch là số liệu của kế hoạch năm 2022 (giữa năm 2021).",
                     "en": "Targets from QĐ 1132/QĐ-TTg (fiber to every village) and QCVN 1:2008/BTTTT (postal); the "
                           "Plan column holds the 2022 plan's figures (mid-2021)."},
    "charts": {"vi": "Biểu đồ theo đơn vị hành chính", "en": "Charts per administrative unit"},
    # the planner (issue 17 §2)
    "copy_scenario": {"vi": "Sao chép và sửa kịch bản", "en": "Copy and edit a scenario"},
    "copy_help": {"vi": "Sửa các tham số và ngân sách rồi lưu thành một tệp kịch bản mới (tệp gốc không bị thay "
                        "đổi). Số viết kiểu Việt Nam (0,05; 30.000.000.000) hoặc kiểu quốc tế đều được.",
                  "en": "Change the parameters and budgets and save them as a new scenario file (the original is "
                        "not changed). Numbers may be written 0.05 or 0,05."},
    "copy": {"vi": "Sao chép, sửa", "en": "Copy, edit"},
    "group_scenario": {"vi": "Kịch bản", "en": "Scenario"},
    "group_parameters": {"vi": "Tham số", "en": "Parameters"},
    "intervention": {"vi": "Hạng mục", "en": "Intervention"},
    "save_copy": {"vi": "Lưu bản sao", "en": "Save the copy"},
    "save_and_run": {"vi": "Lưu và chạy", "en": "Save and run"},
    "saved_as": {"vi": "Đã lưu kịch bản mới", "en": "New scenario saved"},
    "place_site": {"vi": "Đặt trạm thử", "en": "Place a site"},
    "place_site_hint": {"vi": "Bấm vào bản đồ để đặt một trạm mới và xem vùng phủ sóng dự kiến.",
                        "en": "Click the map to place a new site and see its predicted coverage."},
    "site_height": {"vi": "Độ cao anten (m)", "en": "Antenna height (m)"},
    "technology": {"vi": "Công nghệ", "en": "Technology"},
    "add_to_scenario": {"vi": "Thêm vào bản sao của", "en": "Add to a copy of"},
    "add_site": {"vi": "Thêm trạm", "en": "Add the site"},
    # run and compare pages (issue 17 §2)
    "what_changed": {"vi": "Các chỉ tiêu thay đổi", "en": "Indicators that change"},
    "results": {"vi": "Kết quả chính", "en": "Main results"},
    "all_key_indicators": {"vi": "Tất cả chỉ tiêu chính (trước và sau)", "en": "All key indicators (before and after)"},
    "costs_ty": {"vi": "Chi phí đầu tư (tỷ đồng)", "en": "Costs (VND billion)"},
    "notes": {"vi": "Ghi chú của lần chạy", "en": "Notes of the run"},
    "baseline": {"vi": "Hiện trạng", "en": "Baseline"},
    "difference": {"vi": "Chênh lệch (sau − trước)", "en": "Difference (last − first)"},
    "choose_two_runs": {"vi": "Hãy chọn hai lần chạy (cột A và B) trong danh sách rồi bấm So sánh.",
                        "en": "Choose two runs (columns A and B) in the list, then press Compare."},
    "unknown_run": {"vi": "Không tìm thấy lần chạy đã chọn.", "en": "The chosen run does not exist."},
    "compare_incomplete": {"vi": "Có lần chạy chưa xong: cột của nó để trống.",
                           "en": "A run is not finished: its column is empty."},
    "households_connected": {"vi": "Hộ gia đình được kết nối cáp quang", "en": "Households connected to fiber"},
    "cost_per_household": {"vi": "Vốn đầu tư trên một hộ được kết nối", "en": "Capex per household connected"},
    "people_newly_covered": {"vi": "Người dân mới có sóng 4G", "en": "People newly covered by 4G"},
    "cost_per_person": {"vi": "Vốn đầu tư trên một người mới có sóng 4G", "en": "Capex per person newly covered"},
    # from the catalogue of labels
    **{key: _both(label) for key, label in HEADINGS.items()},
    "capex": _both(COSTS["capex_vnd"]), "opex": _both(COSTS["opex_vnd_per_year"]), "npv": _both(COSTS["npv_vnd"]),
}


def current_lang() -> str:
    """Return the language of this request: ``?lang=`` (remembered in the session), else the session's, else vi."""
    asked = request.args.get("lang")
    if asked in LANGS:
        if session.get("lang") != asked:
            session["lang"] = asked
        return asked
    lang = session.get("lang")
    return lang if lang in LANGS else "vi"


def t(key: str) -> str:
    """Return a page word in the request's language."""
    entry = TEXT.get(key)
    if entry is None:
        return key
    return entry.get(g.get("lang", "vi"), entry["vi"])


#: The progress messages of `ictgis.scenario.run` (English, some naming a file) → a page word of `TEXT`.
#: Paths (``loading <folder>``, ``writing <folder>``) are dropped: the page says what is done, not where.
RUN_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^loading\b"), "run_loading"),
    (re.compile(r"^indicators before$"), "run_before"),
    (re.compile(r"^applying (?P<label>.+)$"), "run_applying"),
    (re.compile(r"^indicators after$"), "run_after"),
    (re.compile(r"^writing\b"), "run_writing"),
    (re.compile(r"^done$"), "run_done"),
)


def run_message(message: str | None, *, lang: str | None = None) -> str:
    """Return a scenario run's progress message as the page shows it: in the page's language, without paths.

    The engine's known steps (`RUN_MESSAGES`) are translated; any other message (from another run callable) is
    shown as it is, its paths made relative (`web.paths.public`).

    Parameters
    ----------
    message
        The run's ``message`` (English, from `ictgis.scenario.run`).
    lang
        ``"vi"`` or ``"en"``; default: the request's language.
    """
    from .paths import public

    text = (message or "").strip()
    if not text:
        return ""
    lang = lang or g.get("lang", "vi")
    for pattern, key in RUN_MESSAGES:
        found = pattern.match(text)
        if found:
            entry = TEXT[key]
            return entry.get(lang, entry["vi"]).format(**{k: public(v) for k, v in found.groupdict().items()})
    return public(text)


def field(key: str) -> str:
    """Return the header of a table column (`ictgis.labels.FIELDS`) in the request's language."""
    label = FIELDS.get(key)
    return label.heading(g.get("lang", "vi")) if label is not None else key


def _set_lang() -> None:
    g.lang = current_lang()


def install(app: Flask) -> None:
    """Register the language selection and the ``t`` template function."""
    app.before_request(_set_lang)
    app.jinja_env.globals["t"] = t
    app.jinja_env.globals["field"] = field
    app.jinja_env.globals["run_message"] = run_message
    app.jinja_env.globals["lang"] = lambda: g.get("lang", "vi")
