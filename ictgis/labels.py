"""The one catalogue of labels: what each indicator, table column and cost is called, in Vietnamese and English.

The CLI tables, the XLSX files, the map legends and popups and the web pages all read their labels here, so an
indicator has the same name everywhere. What stays elsewhere, each in one place:

- layer names: the layer schemas (`ictgis.layers.SCHEMAS`, ``label_vi``);
- words of the web pages (buttons, messages): ``web.i18n``;
- names of the map's enumerated values and status classes: `ictgis.maps.LABELS`.

Catalogues
----------
`INDICATORS`
    Keys of the indicator contract (`ictgis.indicators.compute`, ``"postal.service_points"`` …), with their group
    (`GROUPS`).
`FIELDS`
    Columns of the per-commune and per-district tables (`compute`'s ``communes``/``districts`` records) and the
    attributes of the layers shown in map popups. A column that is the per-commune value of an indicator uses the
    indicator's label.
`VILLAGE_RANKING`, `FIBER_SUMMARY`
    Columns of the ranked village table of a fiber plan and the rows of its summary (`ictgis.fiber_outputs`;
    Vietnamese only).
`COSTS`
    Columns of a scenario's cost table (`ictgis.scenario.cost_frame`).
`HEADINGS`
    Headers of the indicator tables (group, indicator, value, unit, before, after, change).

Example::

    >>> INDICATORS["postal.service_radius_km"].heading()
    'Bán kính phục vụ bình quân (km)'
    >>> label("fiber.villages_fiber_pct").text("en")
    'Share of villages with fiber'
"""

from __future__ import annotations

from dataclasses import dataclass

#: Units written after a label in a table header, as ``label (unit)``; counts (điểm, trạm, xã …) are not.
MEASURE_UNITS = frozenset({"km", "km²", "m", "%", "MHz", "VNĐ", "đồng"})


@dataclass(frozen=True)
class Label:
    """The name of one thing, in Vietnamese and English, with its unit (in Vietnamese, shown in both languages).

    Parameters
    ----------
    vi
        Vietnamese label.
    en
        English label (empty: the Vietnamese one is used).
    unit
        Unit of the values, e.g. ``"km"``, ``"%"``, ``"trạm"``; empty for texts and yes/no values.
    group
        Key of `GROUPS` for indicators.
    itu
        Code of the matching indicator of the ITU ICT indicator collection (``i271GA`` …; docs/sources.md §3.10),
        empty when there is none.
    """

    vi: str
    en: str = ""
    unit: str = ""
    group: str = ""
    itu: str = ""

    def text(self, lang: str = "vi") -> str:
        """Return the label in `lang` (Vietnamese for anything but ``"en"``)."""
        return self.en if lang == "en" and self.en else self.vi

    def heading(self, lang: str = "vi") -> str:
        """Return the label for a table header: with its unit in parentheses when it is a measure (`MEASURE_UNITS`)."""
        text = self.text(lang)
        return f"{text} ({self.unit})" if self.unit in MEASURE_UNITS else text


#: Groups of the indicator table (Vietnamese, in both languages, as the department's report).
GROUPS: dict[str, str] = {
    "postal": "Bưu chính", "mobile": "Viễn thông di động", "fiber": "Băng rộng cố định",
    "broadcast": "Truyền thanh cơ sở", "sharing": "Dùng chung hạ tầng",
}


def _ind(group: str, vi: str, en: str, unit: str, itu: str = "") -> Label:
    return Label(vi, en, unit, group, itu)


#: Indicators of the contract, by key (``group.name``).
INDICATORS: dict[str, Label] = {
    "postal.service_points": _ind("postal", "Số điểm phục vụ bưu chính", "Postal service points", "điểm"),
    "postal.service_radius_km": _ind("postal", "Bán kính phục vụ bình quân", "Average service radius", "km"),
    "postal.people_per_point": _ind("postal", "Số dân phục vụ bình quân trên một điểm", "People per service point",
                                    "người/điểm"),
    "postal.xa_total": _ind("postal", "Tổng số xã", "Xã (rural communes)", "xã"),
    "postal.xa_with_cultural_post_office": _ind("postal", "Số xã có điểm Bưu điện văn hóa xã",
                                                "Xã with a commune cultural post office (BĐVHX)", "xã"),
    "postal.xa_with_cultural_post_office_pct": _ind("postal", "Tỷ lệ xã có điểm BĐVHX", "Share of xã with a BĐVHX",
                                                    "%"),
    "mobile.bts_sites": _ind("mobile", "Tổng số trạm BTS", "BTS sites", "trạm"),
    "mobile.sites_3g": _ind("mobile", "Số trạm BTS 3G", "Sites with 3G", "trạm"),
    "mobile.sites_4g": _ind("mobile", "Số trạm BTS 4G", "Sites with 4G", "trạm"),
    "mobile.sites_5g": _ind("mobile", "Số trạm BTS 5G", "Sites with 5G", "trạm"),
    "mobile.sites_diesel": _ind("mobile", "Số trạm BTS chạy máy phát diesel", "Sites on diesel", "trạm"),
    "mobile.sites_solar": _ind("mobile", "Số trạm BTS dùng năng lượng mặt trời", "Sites on solar power", "trạm"),
    "mobile.operators": _ind("mobile", "Số doanh nghiệp viễn thông", "Operators", "doanh nghiệp"),
    "mobile.populated_area_4g_pct": _ind("mobile", "Tỷ lệ vùng dân cư được phủ sóng 4G",
                                         "Populated area covered by 4G", "%", "i271GA"),
    "mobile.populated_area_3g_pct": _ind("mobile", "Tỷ lệ vùng dân cư được phủ sóng 3G",
                                         "Populated area covered by 3G", "%", "i271G"),
    "mobile.villages_covered_4g": _ind("mobile", "Số thôn, bản có sóng 4G", "Villages with 4G signal", "thôn, bản"),
    "fiber.villages": _ind("fiber", "Tổng số thôn, bản", "Villages", "thôn, bản"),
    "fiber.villages_with_fiber": _ind("fiber", "Số thôn, bản có cáp quang", "Villages with fiber", "thôn, bản"),
    "fiber.villages_without_fiber": _ind("fiber", "Số thôn, bản chưa có băng rộng cố định",
                                         "Villages without fixed broadband", "thôn, bản"),
    "fiber.villages_fiber_pct": _ind("fiber", "Tỷ lệ thôn, bản có cáp quang", "Share of villages with fiber", "%"),
    "fiber.route_km": _ind("fiber", "Chiều dài tuyến cáp quang", "Fiber route length", "km"),
    "fiber.underground_km": _ind("fiber", "Chiều dài cáp quang đi ngầm", "Underground fiber", "km"),
    "fiber.underground_pct": _ind("fiber", "Tỷ lệ cáp quang đi ngầm", "Share of fiber underground", "%"),
    "fiber.underground_km_urban": _ind("fiber", "Cáp quang đi ngầm tại phường, thị trấn",
                                       "Underground fiber in phường and thị trấn", "km"),
    "fiber.underground_pct_urban": _ind("fiber", "Tỷ lệ cáp quang đi ngầm tại phường, thị trấn",
                                        "Share of fiber underground in phường and thị trấn", "%"),
    "fiber.underground_pct_xa": _ind("fiber", "Tỷ lệ cáp quang đi ngầm tại xã", "Share of fiber underground in xã",
                                     "%"),
    "broadcast.units_total": _ind("broadcast", "Tổng số đơn vị hành chính cấp xã", "Commune-level units", "đơn vị"),
    "broadcast.units_with_radio": _ind("broadcast", "Số đơn vị có đài truyền thanh", "Units with a radio station",
                                       "đơn vị"),
    "broadcast.units_with_radio_pct": _ind("broadcast", "Tỷ lệ đơn vị có đài truyền thanh",
                                           "Share of units with a radio station", "%"),
    "broadcast.units_with_it_radio": _ind("broadcast", "Số đài truyền thanh ứng dụng CNTT - viễn thông",
                                          "Radio stations using IT/telecom", "đơn vị"),
    "broadcast.units_with_it_radio_pct": _ind("broadcast", "Tỷ lệ đài truyền thanh ứng dụng CNTT - viễn thông",
                                              "Share of radio stations using IT/telecom", "%"),
    "sharing.towers": _ind("sharing", "Số cột anten (vị trí trạm)", "Towers (site locations)", "cột"),
    "sharing.sites_shared": _ind("sharing", "Số cột anten dùng chung từ 2 doanh nghiệp",
                                 "Towers shared by two or more operators", "cột"),
    "sharing.sites_shared_pct": _ind("sharing", "Tỷ lệ cột anten dùng chung", "Share of towers shared", "%"),
}

#: Columns of the per-commune and per-district tables and layer attributes (map popups), by column name.
FIELDS: dict[str, Label] = {
    "code": Label("Mã ĐVHC", "Code"),
    "name": Label("Tên", "Name"),
    "kind": Label("Loại", "Kind"),
    "district": Label("Huyện", "District"),
    "commune": Label("Xã", "Commune"),
    "area_km2": Label("Diện tích", "Area", "km²"),
    "population": Label("Dân số", "Population", "người"),
    "households": Label("Số hộ", "Households", "hộ"),
    "density": Label("Mật độ dân số", "Population density", "người/km²"),
    "units": Label("Số ĐVHC", "Administrative units", "đơn vị"),
    "post_points": Label("Số điểm bưu chính", "Postal points", "điểm"),
    "bdvhx": Label("Điểm BĐVHX", "BĐVHX points", "điểm"),
    "postal_radius_km": Label("Bán kính phục vụ bưu chính", "Postal service radius", "km"),
    "people_per_point": Label("Số dân trên một điểm bưu chính", "People per postal point", "người"),
    "postal_norms_failed": Label("Chưa đạt chuẩn QCVN 1:2008", "QCVN 1:2008 norms missed"),
    "bts_sites": Label("Số trạm BTS", "BTS sites", "trạm"),
    "sites_4g": INDICATORS["mobile.sites_4g"],
    "populated_area_4g_pct": INDICATORS["mobile.populated_area_4g_pct"],
    "villages": Label("Số thôn, bản", "Villages", "thôn, bản"),
    "villages_fiber": INDICATORS["fiber.villages_with_fiber"],
    "villages_fiber_pct": INDICATORS["fiber.villages_fiber_pct"],
    "radio": Label("Đài truyền thanh", "Radio station"),
    "radio_it": Label("Đài truyền thanh ứng dụng CNTT - viễn thông", "Radio station using IT/telecom"),
    "towers": INDICATORS["sharing.towers"],
    "towers_shared": INDICATORS["sharing.sites_shared"],
    "fiber_km": Label("Chiều dài cáp quang", "Fiber length", "km"),
    "underground_km": INDICATORS["fiber.underground_km"],
    "underground_pct": INDICATORS["fiber.underground_pct"],
    "tower": Label("Mã cột anten", "Tower id"),
    "fiber": Label("Cáp quang", "Fiber"),
    "operator": Label("Nhà mạng", "Operator"),
    "tech": Label("Công nghệ", "Technologies"),
    "power": Label("Nguồn điện", "Power"),
    "height_m": Label("Độ cao anten", "Antenna height", "m"),
    "band_mhz": Label("Băng tần", "Band", "MHz"),
    "install": Label("Lắp đặt", "Installation"),
    "road_class": Label("Cấp đường", "Road class"),
}

#: Columns of a fiber plan's ranked village table (`ictgis.fiber_outputs.ranked_table`), in output order.
VILLAGE_RANKING: dict[str, Label] = {
    "rank": Label("Thứ tự ưu tiên"),
    "id": Label("Mã thôn"),
    "name": Label("Tên thôn, bản"),
    "commune": Label("Mã xã"),
    "households": FIELDS["households"],
    "population": FIELDS["population"],
    "score": Label("Điểm ưu tiên"),
    "selected": Label("Trong ngân sách"),
    "phase": Label("Giai đoạn"),
    "reachable": Label("Kết nối được"),
    "cost_alone_vnd": Label("Chi phí kết nối riêng", unit="đồng"),
    "cost_shared_vnd": Label("Chi phí tăng thêm trong phương án chung", unit="đồng"),
    "cost_per_household_vnd": Label("Chi phí tăng thêm mỗi hộ", unit="đồng"),
    "route_length_m": Label("Chiều dài tuyến riêng", unit="m"),
    "onroad_m": Label("Theo đường giao thông", unit="m"),
    "offroad_m": Label("Ngoài đường giao thông", unit="m"),
    "no_4g": Label("Chưa có 4G"),
    "poor": Label("Thôn nghèo, ĐBKK"),
    "minority": Label("Thôn đồng bào DTTS"),
    "school": Label("Có trường học"),
    "health": Label("Có trạm y tế"),
    "gap_reason": Label("Lý do đưa vào danh sách"),
    "reason_vi": Label("Lý do không kết nối được"),
    "pts_households": Label("Điểm: số hộ"),
    "pts_population": Label("Điểm: số dân"),
    "pts_cost_alone": Label("Điểm: chi phí riêng"),
    "pts_cost_shared": Label("Điểm: chi phí tăng thêm"),
    "pts_cost_per_household": Label("Điểm: chi phí mỗi hộ"),
    "pts_double_gap": Label("Điểm: thiếu cả 4G"),
    "pts_poor": Label("Điểm: thôn nghèo"),
    "pts_minority": Label("Điểm: DTTS"),
    "pts_school": Label("Điểm: trường học"),
    "pts_health": Label("Điểm: trạm y tế"),
}

#: Rows of a fiber plan's summary sheet, by key of its ``summary.json`` (``a.b`` for nested keys).
FIBER_SUMMARY: dict[str, Label] = {
    "villages_without_fiber": Label("Số thôn chưa có cáp quang", unit="thôn"),
    "villages_reachable": Label("Số thôn kết nối được", unit="thôn"),
    "villages_unreachable": Label("Số thôn không kết nối được", unit="thôn"),
    "budget_vnd": Label("Ngân sách", unit="đồng"),
    "villages_connected": Label("Số thôn được kết nối", unit="thôn"),
    "households_connected": Label("Số hộ được kết nối", unit="hộ"),
    "route_km": Label("Chiều dài tuyến", unit="km"),
    "cost_vnd": Label("Chi phí", unit="đồng"),
    "full_plan.route_km": Label("Phương án đầy đủ: chiều dài", unit="km"),
    "full_plan.cost_vnd": Label("Phương án đầy đủ: chi phí", unit="đồng"),
    "separate_routes.route_km": Label("Nếu kéo riêng từng thôn: chiều dài", unit="km"),
    "separate_routes.cost_vnd": Label("Nếu kéo riêng từng thôn: chi phí", unit="đồng"),
}

#: Columns of a scenario's cost table (`ictgis.scenario.cost_frame`).
COSTS: dict[str, Label] = {
    "intervention": Label("Hạng mục đầu tư", "Intervention"),
    "item": Label("Nội dung", "Item"),
    "quantity": Label("Số lượng", "Quantity"),
    "capex_vnd": Label("Vốn đầu tư", "Capital cost", "VNĐ"),
    "opex_vnd_per_year": Label("Chi phí vận hành/năm", "Operating cost/year", "VNĐ"),
    "npv_vnd": Label("Giá trị hiện tại", "Net present cost", "VNĐ"),
}

#: Headers of the indicator tables (CLI, XLSX, web pages).
HEADINGS: dict[str, Label] = {
    "group": Label("Nhóm", "Group"),
    "indicator": Label("Chỉ tiêu", "Indicator"),
    "value": Label("Giá trị", "Value"),
    "unit": Label("Đơn vị", "Unit"),
    "itu": Label("Mã ITU", "ITU code"),
    "before": Label("Trước", "Before"),
    "after": Label("Sau", "After"),
    "change": Label("Thay đổi", "Change"),
}


def itu_code(key: str) -> str | None:
    """Return the ITU code of an indicator key (``"mobile.populated_area_4g_pct"`` → ``"i271GA"``), or None."""
    lab = INDICATORS.get(key)
    return lab.itu if lab is not None and lab.itu else None


def label(key: str) -> Label:
    """Return the label of an indicator key, or of ``cost.<column>`` (a scenario comparison's cost rows).

    A key without a label gets itself as label (so a new indicator shows, under its key, until it is named here).
    """
    if key in INDICATORS:
        return INDICATORS[key]
    if key.startswith("cost.") and key[5:] in COSTS:
        return COSTS[key[5:]]
    return Label(key, key)
