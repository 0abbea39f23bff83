"""Numbers as each language writes them (web.formats), targets and their status (web.targets), SVG charts."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from ictgis_web import charts, formats, targets


@pytest.mark.parametrize(("value", "kwargs", "vi", "en"), [
    (3670, {}, "3.670", "3,670"),
    (94.4, {}, "94,4", "94.4"),
    (4.25, {}, "4,25", "4.25"),
    (616560, {}, "616.560", "616,560"),
    (-1917.0, {}, "-1.917", "-1,917"),
    (0.05, {"decimals": 3}, "0,050", "0.050"),
    (4.6, {"sign": True}, "+4,6", "+4.6"),
    (-0.004, {"decimals": 2}, "0,00", "0.00"),  # no "-0,00"
    (1234567.891, {"decimals": 1}, "1.234.567,9", "1,234,567.9"),
])
def test_numbers_in_each_language(value, kwargs, vi, en):
    assert formats.number(value, lang="vi", **kwargs) == vi
    assert formats.number(value, lang="en", **kwargs) == en


def test_percent_km_and_billions():
    assert formats.percent(94.4, lang="vi") == "94,4 %"
    assert formats.percent(93.9, lang="en") == "93.9 %"
    assert formats.km(4.25, lang="vi") == "4,25 km"
    assert formats.km(4.25, lang="en") == "4.25 km"
    assert formats.billion_vnd(315_000_000_000, lang="vi") == "315,00 tỷ đồng"
    assert formats.billion_vnd(1_244_600_000, lang="en") == "VND 1.24 billion"
    assert formats.billion_vnd(30_000_000_000, lang="vi", unit=False) == "30,00"


@pytest.mark.parametrize("missing", [None, math.nan, math.inf, "abc"])
def test_missing_values_show_a_dash(missing):
    assert formats.number(missing, lang="vi") == formats.MISSING
    assert formats.percent(missing, lang="vi") == formats.MISSING
    assert formats.billion_vnd(missing, lang="vi") == formats.MISSING


def test_status_against_the_national_targets():
    goals = targets.DEFAULT_TARGETS
    assert targets.status(94.4, goals["mobile.populated_area_4g_pct"]) == ("near", 4.6)
    assert targets.status(88.3, goals["fiber.villages_fiber_pct"]) == ("behind", 11.7)
    assert targets.status(100.0, goals["fiber.villages_fiber_pct"]) == ("met", 0.0)
    assert targets.status(4.25, goals["postal.service_radius_km"]) == ("behind", 1.25)
    assert targets.status(3670, goals["postal.people_per_point"]) == ("met", 0.0)
    assert targets.status(None, goals["postal.people_per_point"]) == ("unknown", None)
    assert targets.status(1, goals["fiber.villages_without_fiber"]) == ("behind", 1.0)  # no "near" for a count


def test_targets_are_configurable():
    changed = targets.targets({"mobile.populated_area_4g_pct": 95, "postal.people_per_point": None})
    assert changed["mobile.populated_area_4g_pct"].value == 95.0
    assert changed["mobile.populated_area_4g_pct"].baseline == 94.4  # the plan's figure stays
    assert "postal.people_per_point" not in changed
    with pytest.raises(ValueError, match="no target can be set"):
        targets.targets({"mobile.nonsense": 1})
    with pytest.raises(ValueError, match="must be a number"):
        targets.targets({"fiber.villages_fiber_pct": "100"})


def test_bar_chart_is_valid_svg_best_first_with_the_target():
    svg = charts.bar_chart([("Mường <Nhé>", 70.8), ("Tủa Chùa", 98.6), ("Nậm Pồ", None)], title="Cáp quang",
                           fmt=lambda v: formats.percent(v, lang="vi"), target=100.0, target_text="mục tiêu 100 %")
    root = ET.fromstring(svg)  # well-formed: labels are escaped
    ns = "{http://www.w3.org/2000/svg}"
    labels = [t.text for t in root.iter(f"{ns}text") if t.get("class") == "chart-label"]
    assert labels == ["Tủa Chùa", "Mường <Nhé>", "Nậm Pồ"]  # best first, no value last
    bars = list(root.iter(f"{ns}rect"))
    assert len(bars) == 2 and all("bar-behind" in r.get("class") for r in bars)  # both below 100 %
    assert float(bars[0].get("width")) > float(bars[1].get("width"))
    values = [t.text for t in root.iter(f"{ns}text") if t.get("class") == "chart-value"]
    assert values == ["98,6 %", "70,8 %", "—"]
    assert len(list(root.iter(f"{ns}line"))) == 1
