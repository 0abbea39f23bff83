"""Villages outside the commune they name: a warning (not an error) with the commune they lie in and the distance."""

from __future__ import annotations

import json
import shutil
import warnings

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from conftest import KM, X0, Y0, tiny_layers, write_layers

from ictgis import PlacementWarning, io, placement, settings
from ictgis.cli import main
from ictgis.crs import to_crs


def moved_villages() -> gpd.GeoDataFrame:
    """The tiny villages; V03 (stated 03124) moved 2 km into 03316, V04 (03127) 50 m across into 03124."""
    villages = tiny_layers()["villages"].copy()
    villages.loc[2, "geometry"] = shapely.Point(X0 + 2 * KM, Y0 + 7 * KM)
    villages.loc[3, "geometry"] = shapely.Point(X0 + 5 * KM - 50, Y0 + 1 * KM)
    return villages


def test_a_village_in_another_commune_is_listed_with_where_it_lies():
    communes = tiny_layers()["communes"]
    found = placement.villages_outside_communes(moved_villages(), communes)
    assert found[["id", "name", "commune", "lies_in", "lies_in_name", "row"]].to_dict("records") == [
        {"id": "V03", "name": "Tổ dân phố 3", "commune": "03124", "lies_in": "03316", "lies_in_name": "Xã Nà Tấu",
         "row": 3}]
    assert found["distance_m"].iloc[0] == 2000  # to the edge of 03124 at y = 5 km


def test_the_tolerance_keeps_border_villages_and_can_be_changed():
    communes = tiny_layers()["communes"]
    assert settings.village_commune_tolerance_m == 100.0
    found = placement.villages_outside_communes(moved_villages(), communes, tolerance_m=10)
    assert found["id"].tolist() == ["V03", "V04"]
    assert found.set_index("id").loc["V04", "distance_m"] == 50
    assert placement.villages_outside_communes(tiny_layers()["villages"], communes, tolerance_m=0).empty


def test_load_warns_once_with_every_village_and_still_loads(tmp_path):
    layers = tiny_layers()
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"], "villages": moved_villages()})
    with pytest.warns(PlacementWarning) as caught:
        ds = io.load(folder)
    assert len(ds["villages"]) == 10  # a warning: the dataset loads
    placed = [w.message for w in caught if isinstance(w.message, PlacementWarning)]
    assert len(placed) == 1
    assert [r["id"] for r in placed[0].rows] == ["V03"]
    assert str(placed[0]).startswith("villages.shp: 1 village lies more than 100 m outside the commune it names")
    assert "V03 Tổ dân phố 3 (row 3, commune 03124) lies in 03316 Nà Tấu, 2.00 km from 03124" in str(placed[0])
    assert any("V03" in note for note in ds.notes)


def test_validate_command_prints_the_warning_and_lists_it_in_json(tmp_path):
    layers = tiny_layers()
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"], "villages": moved_villages()})
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Warning: villages.shp: 1 village lies more than 100 m outside" in result.stderr
    result = CliRunner().invoke(main, ["validate", str(folder), "--json"])
    report = json.loads(result.stdout)
    assert any("V03" in n and "lies in 03316" in n for n in report["notes"])


def test_on_the_real_commune_polygons(shared_dir, tmp_path):
    """Villages at a point inside each real commune: none listed; three moved into a neighbour: those three."""
    shutil.copy(shared_dir / "communes_2019.geojson", tmp_path)
    (tmp_path / "layers.yaml").write_text("layers:\n  communes:\n    file: communes_2019.geojson\n"
                                          "    fields: {code: commune_id, name: commune_vn}\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        communes = io.load(tmp_path)["communes"]
    points = communes.geometry.representative_point()
    villages = gpd.GeoDataFrame({"id": [f"T{i}" for i in range(len(communes))], "name": communes["name"],
                                 "commune": communes["code"]}, geometry=points.values, crs=communes.crs)
    assert placement.villages_outside_communes(villages, communes).empty
    moved = villages.copy()
    moved.loc[[0, 1, 2], "geometry"] = points.iloc[[3, 4, 5]].values
    found = placement.villages_outside_communes(moved, communes)
    assert found["id"].tolist() == ["T0", "T1", "T2"]
    assert found["lies_in"].tolist() == communes["code"].iloc[[3, 4, 5]].tolist()
    assert (found["distance_m"] > settings.village_commune_tolerance_m).all()
    assert to_crs(villages, "EPSG:4326").crs.to_epsg() == 4326  # the layer is in the working CRS, metres
