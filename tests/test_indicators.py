"""The indicator contract on the tiny province (known answers computed by hand)."""

from __future__ import annotations

import json
import math

import pytest
from openpyxl import load_workbook

from ictgis import indicators, io


@pytest.fixture()
def result(tiny_dir):
    return indicators.compute(io.load(tiny_dir))


CONTRACT_KEYS = [
    "postal.service_points", "postal.service_radius_km", "postal.people_per_point", "postal.xa_total",
    "postal.xa_with_cultural_post_office", "mobile.bts_sites", "mobile.sites_3g", "mobile.sites_4g",
    "mobile.sites_diesel", "fiber.villages", "fiber.villages_with_fiber", "fiber.villages_without_fiber",
    "fiber.villages_fiber_pct", "broadcast.units_total", "broadcast.units_with_radio",
]


def test_contract_keys_and_known_answers(result):
    for key in CONTRACT_KEYS:
        assert indicators.lookup(result, key) is not None, key
    assert result["postal"]["service_points"] == 3
    assert result["postal"]["service_radius_km"] == round(math.sqrt(100 / (math.pi * 3)), 2) == 3.26
    assert result["postal"]["people_per_point"] == round(23000 / 3) == 7667
    assert result["postal"]["xa_total"] == 2
    assert result["postal"]["xa_with_cultural_post_office"] == 1
    assert result["mobile"] == result["mobile"] | {"bts_sites": 4, "sites_3g": 3, "sites_4g": 2, "sites_diesel": 1,
                                                   "operators": 3}
    assert result["fiber"]["villages_without_fiber"] == 3
    assert result["fiber"]["villages_fiber_pct"] == 70.0
    assert result["broadcast"] == {"units_total": 4, "units_with_radio": 3, "units_with_radio_pct": 75.0,
                                   "units_with_it_radio": None, "units_with_it_radio_pct": None}
    assert "radio_it" in result["unavailable"]["broadcast.units_with_it_radio"]
    json.dumps(result)  # JSON-ready


def test_breakdowns(result):
    communes = {c["code"]: c for c in result["communes"]}
    assert communes["03124"]["villages"] == 3 and communes["03124"]["villages_fiber"] == 3
    assert communes["03127"]["villages_fiber_pct"] == 66.7
    assert communes["03325"]["postal_norms_failed"] == "no service point in this xã"
    (district,) = result["districts"]
    assert district["district"] == "Thành phố Điện Biên Phủ" and district["population"] == 23000


def test_missing_layers_give_null_indicators(tmp_path, tiny):
    from conftest import write_layers

    folder = write_layers(tmp_path / "d", {"communes": tiny["communes"][["code", "name", "population",
                                                                          "geometry"]]})
    result = indicators.compute(io.load(folder))
    assert result["postal"]["service_points"] is None
    assert result["mobile"]["bts_sites"] is None
    assert result["fiber"]["villages"] is None
    assert result["broadcast"]["units_with_radio"] is None
    assert result["province"]["population"] == 23000


def test_official_area_and_kinds_are_parameters(tiny_dir):
    ds = io.load(tiny_dir)
    result = indicators.compute(ds, area_km2=300.0, postal_kinds=("cap1", "bdvhx"))
    assert result["postal"]["service_points"] == 2
    assert result["postal"]["service_radius_km"] == round(math.sqrt(300 / (math.pi * 2)), 2)


def test_structure_2025(tiny_dir):
    result = indicators.compute(io.load(tiny_dir), structure="2025")
    assert result["province"]["units_total"] == 4
    assert result["province"]["districts"] is None
    assert result["districts"] is None
    assert {c["name"] for c in result["communes"]} == {"Nà Tấu", "Mường Phăng", "Điện Biên Phủ", "Mường Thanh"}


def test_xlsx_is_vietnamese_one_row_per_indicator(tmp_path, result):
    path = indicators.write_xlsx(result, tmp_path / "out" / "chi_tieu.xlsx")
    wb = load_workbook(path)
    ws = wb["Chỉ tiêu"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("Nhóm", "Chỉ tiêu", "Giá trị", "Đơn vị", "Mã ITU")
    assert ("Bưu chính", "Bán kính phục vụ bình quân", 3.26, "km", None) in rows
    assert "Theo xã" in wb.sheetnames and "Theo huyện" in wb.sheetnames
    communes = list(wb["Theo xã"].iter_rows(values_only=True))
    kind = communes[0].index("Loại")
    assert [r[kind] for r in communes[1:]] == ["Phường", "Phường", "Xã", "Xã"]  # Vietnamese, not xa/phuong
    assert [p.name for p in path.parent.iterdir()] == ["chi_tieu.xlsx"]


def _keys(node: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in node.items():
        out += _keys(value, f"{prefix}{key}.") if isinstance(value, dict) and key != "sites_by_operator" \
            else [prefix + key]
    return out


@pytest.mark.parametrize("variant", ["as_is", "no_post_offices", "fiber_unknown", "official_area"])
def test_headline_totals_equal_the_full_computation(tiny_dir, variant):
    import dataclasses

    ds = io.load(tiny_dir)
    kwargs = {}
    if variant == "no_post_offices":
        ds = dataclasses.replace(ds, layers={k: v for k, v in ds.layers.items() if k != "post_offices"})
    elif variant == "fiber_unknown":
        layers = dict(ds.layers)
        layers["villages"] = layers["villages"].assign(fiber=None)
        ds = dataclasses.replace(ds, layers=layers)
    elif variant == "official_area":
        kwargs = {"area_km2": 9541.25, "postal_kinds": ("bdvhx",)}
    full = indicators.compute(ds, **kwargs)
    only = {k: v for k, v in ds.layers.items() if k in indicators.HEADLINE_LAYERS}
    head = indicators.headline(dataclasses.replace(ds, layers=only), **kwargs)
    keys = _keys(head)
    assert len(keys) >= 20 and "postal.service_radius_km" in keys and "fiber.villages_fiber_pct" in keys
    for key in keys:
        assert indicators.lookup(head, key) == indicators.lookup(full, key), key
    if variant == "as_is":
        assert head["postal"] == {"service_points": 3, "service_radius_km": 3.26, "people_per_point": 7667}
        assert head["fiber"]["villages_fiber_pct"] == 70.0 and head["mobile"]["sites_4g"] == 2
