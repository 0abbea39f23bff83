"""The real 2019 commune polygons of Điện Biên (../shared): load, validate with the overlap report, indicators.

Skipped when ../shared is absent. The file is read where it is or copied to a temporary folder: never into the repo.
"""

from __future__ import annotations

import re
import shutil
import warnings

import geopandas as gpd
import pytest
from click.testing import CliRunner

from ictgis import admin, cleaning, indicators, io
from ictgis.cli import main

MAPPING = """\
# Real 2019 polygons (EPSG:4326), census-style ids, 2019 census population.
layers:
  communes:
    file: communes_2019.geojson
    fields: {code: commune_id, name: commune_vn, district: district_vn, population: total}
"""


@pytest.fixture(scope="module")
def real_dir(shared_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("real")
    shutil.copy(shared_dir / "communes_2019.geojson", folder)
    (folder / "layers.yaml").write_text(MAPPING, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def real(real_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return io.load(real_dir)


def test_loads_and_reports_overlaps(real):
    communes = real["communes"]
    assert len(communes) == 130
    assert communes.crs.to_epsg() == 9205
    assert communes["population"].sum() == 598_856
    assert real.topology.overlaps > 200
    assert 14 < real.topology.overlap_area_km2 < 17
    assert real.topology.gaps > 400
    assert communes["kind"].value_counts().to_dict() == {"xa": 116, "phuong": 9, "thi_tran": 5}
    # said once for the file, with the command that fixes it
    hints = [n for n in real.notes if "codes are not GSO 5-digit commune codes" in n]
    assert hints == ["communes_2019.geojson: codes are not GSO 5-digit commune codes (130 of 130, e.g. '3020101'): "
                     "run `ictgis match-codes communes_2019.geojson --out communes_2019_gso.geojson`; the 2025 "
                     "structure and the official lists join on GSO codes"]
    assert 9500 < communes.geometry.area.sum() / 1e6 < 9600


def test_validate_command_prints_the_overlap_report(real_dir):
    result = CliRunner().invoke(main, ["validate", str(real_dir)])
    assert result.exit_code == 0, result.output
    assert "overlapping pairs" in result.output and "gaps" in result.output


def test_indicators_on_real_polygons(real):
    result = indicators.compute(real, area_km2=9541.25)
    assert result["province"]["units_total"] == 130
    assert result["province"]["population"] == 598_856
    assert result["postal"]["service_points"] is None  # no post office layer: unavailable, not an error
    assert result["province"]["xa"] == 116
    assert result["districts"] and len(result["districts"]) == 10


def test_gso_codes_then_2025_structure(real):
    matched = admin.match_gso_codes(real["communes"])
    # Tà Lèng was merged into a neighbour after this map was drawn: give it to the unit it shares most border with
    cleaned, _ = cleaning.clean_communes(matched)
    orphan = cleaned[cleaned["code"].isna()]
    assert len(orphan) == 1
    others = cleaned[cleaned["code"].notna()]
    shared = others.geometry.intersection(orphan.geometry.iloc[0].buffer(1)).length
    host = others.loc[shared.idxmax(), "code"]
    assert host in set(admin.units()["code"])
    cleaned.loc[orphan.index, "code"] = host
    merged = admin.aggregate_2025(cleaned.dissolve(by="code", aggfunc={"population": "sum"}).reset_index())
    assert len(merged) == 45
    assert merged["population"].sum() == 598_856
    assert merged.geometry.area.sum() / 1e6 == pytest.approx(cleaned.geometry.area.sum() / 1e6, rel=1e-6)


@pytest.fixture(scope="module")
def gso_file(real_dir, tmp_path_factory):
    """The real polygons with GSO codes, written by `ictgis match-codes` (fields from the layers.yaml beside)."""
    out = tmp_path_factory.mktemp("gso") / "communes_gso.gpkg"
    result = CliRunner().invoke(main, ["match-codes", str(real_dir / "communes_2019.geojson"), "--out", str(out)])
    return out, result


def test_match_codes_command_on_real_polygons(gso_file):
    out, result = gso_file
    assert result.exit_code == 2  # Tà Lèng, merged later, has no code of its own in the 129-unit list
    assert "matched 129 of 130 communes of communes_2019.geojson" in result.output
    assert "  - row 9: Tà Lèng (Thành phố Điện Biên Phủ), code 3020110" in result.output
    written = gpd.read_file(out)
    assert set(written["code"].dropna()) == set(admin.units()["code"]) and written["code"].isna().sum() == 1
    assert written["source_code"].str.fullmatch(r"\d{7}").all()
    assert written["population"].sum() == 598_856


def test_clean_names_a_missing_real_commune(gso_file, tmp_path):
    written = gpd.read_file(gso_file[0])
    folder = tmp_path / "d"
    folder.mkdir()
    # without Tà Lèng (not in the GSO list) and without Chà Cang (03166, inside Nậm Pồ)
    written[written["code"].notna() & (written["code"] != "03166")].to_file(folder / "communes.gpkg")
    result = CliRunner().invoke(main, ["clean", str(folder), "--out", str(tmp_path / "clean.gpkg")])
    assert result.exit_code == 0, result.output
    assert re.search(r"  - Chà Cang \(03166\) is missing: 10\d\.\d km² hole\n", result.output), result.output
    assert re.search(r"  - 15\.\d km² hole between .* is larger than the 5 km² sliver limit \(no unit of the GSO list "
                     r"is missing around it\); if it belongs to them, `--max-gap-km2 16`", result.output)
    assert "2 gaps left as they are" in result.output
