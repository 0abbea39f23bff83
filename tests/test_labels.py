"""The one catalogue of labels: every label is defined once, and the tables, files, maps and pages read it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ictgis import fiber_outputs, indicators, labels, maps
from ictgis.scenario import KEY_INDICATORS

ROOT = Path(__file__).resolve().parents[1]
CATALOGUES = {"INDICATORS": labels.INDICATORS, "FIELDS": labels.FIELDS, "VILLAGE_RANKING": labels.VILLAGE_RANKING,
              "FIBER_SUMMARY": labels.FIBER_SUMMARY, "COSTS": labels.COSTS}
#: Labels too short or too common to be told apart from other words in the code ("Tên", "Name", "Dân số" …).
MIN_WORDS = 3


def _texts(catalogue: dict[str, labels.Label]) -> set[str]:
    found = set()
    for lab in catalogue.values():
        for text in (lab.vi, lab.en, lab.heading()):
            if text and len(text.split()) >= MIN_WORDS:
                found.add(text)
    return found


def _sources() -> list[Path]:
    files = [p for d in ("ictgis", "web") for p in (ROOT / d).rglob("*") if p.suffix in (".py", ".html", ".js")]
    return [p for p in files if p != ROOT / "ictgis" / "labels.py" and "vendor" not in p.parts]


def test_the_source_files_are_found():
    names = {p.name for p in _sources()}
    assert {"indicators.py", "maps.py", "fiber_outputs.py", "outputs.py", "i18n.py", "indicators.html"} <= names


@pytest.mark.parametrize("catalogue", list(CATALOGUES))
def test_no_label_is_written_outside_the_catalogue(catalogue):
    """A label of the catalogue appears in no other module, template or script as a literal (it is read, not copied)."""
    texts = _texts(CATALOGUES[catalogue])
    assert len(texts) > 5
    copies = []
    for path in _sources():
        source = path.read_text(encoding="utf-8")
        copies += [f"{path.relative_to(ROOT)}: {text!r}" for text in texts
                   if re.search(r"[\"']" + re.escape(text) + r"[\"']", source)]
    assert copies == []


def test_no_indicator_label_is_defined_twice():
    """Two indicators (or columns) never share a name unless they are the same label (the same quantity)."""
    for catalogue in (labels.INDICATORS, labels.FIELDS | labels.VILLAGE_RANKING):
        distinct = {id(lab): lab for lab in catalogue.values()}.values()
        for lang in ("vi", "en"):
            names = [lab.text(lang) for lab in distinct]
            assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    source = (ROOT / "ictgis" / "labels.py").read_text(encoding="utf-8")
    for lab in labels.INDICATORS.values():  # each written once in the catalogue itself
        assert source.count(f'"{lab.vi}"') == 1, lab.vi


def test_every_indicator_shown_has_a_label():
    for key in (*indicators.TABLE_INDICATORS, *KEY_INDICATORS):
        assert key in labels.INDICATORS, key
        assert labels.INDICATORS[key].group in labels.GROUPS, key
    assert labels.label("cost.capex_vnd").heading() == "Vốn đầu tư (VNĐ)"
    assert labels.label("not.named") == labels.Label("not.named", "not.named")


def test_the_users_read_the_catalogue():
    result = {"postal": {"service_radius_km": 4.25}}
    rows = {r[1]: r for r in indicators.as_rows(result)}
    assert rows["Bán kính phục vụ bình quân"] == ("Bưu chính", "Bán kính phục vụ bình quân", 4.25, "km")
    assert indicators.as_rows(result, lang="en")[1][1] == "Average service radius"
    for key, ind in maps.CHOROPLETHS.items():  # map legends
        assert (ind.label_vi, ind.label_en, ind.unit) == (labels.FIELDS[key].vi, labels.FIELDS[key].en,
                                                          labels.FIELDS[key].unit)
    assert maps.CHOROPLETHS["villages_fiber_pct"].label_vi == labels.INDICATORS["fiber.villages_fiber_pct"].vi
    assert maps.labels("vi")["height_m"] == "Độ cao anten (m)" and maps.labels("en")["area_km2"] == "Area (km²)"
    assert maps.labels("vi")["post_offices"] == "Điểm phục vụ bưu chính"  # the layer schema's name
    assert list(fiber_outputs.VI_HEADERS.values())[:3] == ["Thứ tự ưu tiên", "Mã thôn", "Tên thôn, bản"]


def test_heading_adds_measure_units_only():
    assert labels.Label("Bán kính", "Radius", "km").heading("en") == "Radius (km)"
    assert labels.Label("Số trạm", "Sites", "trạm").heading() == "Số trạm"
    assert labels.Label("Mã thôn").text("en") == "Mã thôn"  # no English: the Vietnamese label
