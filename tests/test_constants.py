"""One home per constant: physical constants in ictgis.constants, defaults in ictgis.settings, sources cited."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ictgis import constants, fiber, network, radio, settings, siting

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "docs" / "sources.md"
CITATION = re.compile(r"docs/sources\.md`{0,2}\s*((?:§\d+(?:\.\d+)?(?:,\s*)?)+)")
#: Citations of the project's notes, which are not in the repository (spelled apart so as not to match themselves).
OLD_CITATIONS = ("FACTS" + ".md", "FACTS" + " §")


def test_wavelength_constant_is_the_literal_the_kernels_used():
    assert constants.SPEED_OF_LIGHT_M_PER_US == 299.792458
    assert radio.wavelength_m(1800.0) == pytest.approx(constants.SPEED_OF_LIGHT_M_PER_US / 1800.0, rel=1e-15)


def test_physical_constants_have_one_home():
    from ictgis import coverage, terrain
    from ictgis.terrain import sweep_kernels

    assert radio.EARTH_RADIUS_M == sweep_kernels.EARTH_RADIUS_M == terrain.EARTH_RADIUS_M == 6_371_000.0
    assert radio.DEFAULT_K_FACTOR == coverage.DEFAULT_K_FACTOR == 4.0 / 3.0
    assert terrain.REFRACTION_COEFF == constants.REFRACTION_COEFF == 0.85714
    assert radio.MIN_DISTANCE_KM == 0.02 and radio.KNIFE_EDGE_V_MIN == -0.78


def test_site_costs_add_up_to_the_documented_totals():
    assert settings.site_greenfield_usd == 49_000.0  # Oughton's items + 7,500 (docs/sources.md §4)
    assert settings.site_upgrade_usd == 16_500.0
    assert settings.site_greenfield_usd == siting.GREENFIELD_USD
    assert settings.solar_kit_usd == siting.OFFGRID_POWER_USD
    assert siting.FIBER_RURAL_USD_PER_M == fiber.FIBER_USD_PER_M["rural"] == settings.fiber_usd_per_m["rural"]
    assert {k: v * settings.usd_to_vnd for k, v in settings.fiber_usd_per_m.items()} == fiber.FIBER_VND_PER_M


def test_commune_kind_settings_are_one_table():
    from ictgis import coverage

    assert coverage.ENV_BY_KIND is network.SETTING_OF_COMMUNE_KIND is settings.environment_of_commune_kind
    assert set(settings.environment_of_commune_kind.values()) <= set(radio.ENVIRONMENTS) & set(fiber.FIBER_USD_PER_M)


def _cited_files() -> list[Path]:
    files = [ROOT / "README.md", *(ROOT / "scenarios").glob("*.yaml")]
    for folder in ("ictgis", "web", "tests"):
        files += (ROOT / folder).rglob("*.py")
    return files


def test_code_cites_sections_that_exist():
    headings = {m.group(1) for m in re.finditer(r"^#{2,3} (\d+(?:\.\d+)?) ", SOURCES.read_text("utf-8"), re.M)}
    cited = {}
    for path in _cited_files():
        text = path.read_text("utf-8")
        assert not any(old in text for old in OLD_CITATIONS), f"{path} cites the notes, not docs/sources.md"
        for m in CITATION.finditer(text):
            for section in re.findall(r"§(\d+(?:\.\d+)?)", m.group(1)):
                cited.setdefault(section, path.relative_to(ROOT))
    assert cited, "no citation of docs/sources.md found"
    missing = {s: str(p) for s, p in cited.items() if s not in headings}
    assert not missing, f"sections cited but absent from docs/sources.md: {missing}"
