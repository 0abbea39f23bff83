"""Hostile and messy inputs, as departments' files come: each gives one clear error and loses nothing.

Every case builds a small data folder in code, breaks it one way, and runs ``ictgis indicators DIR --xlsx OUT``
(it reads, validates and would write): exit code 2, no traceback, a message that names the file (and the row and
column where the problem has one), the input folder unchanged byte for byte, and no output written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from conftest import X0, Y0, tiny_layers, write_layers

from ictgis.cli import main

KM = 1000.0
Case = Callable[[Path], None]


def folder_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_geojson(folder: Path, name: str, frame: gpd.GeoDataFrame) -> None:
    (folder / f"{name}.shp").unlink(missing_ok=True)
    for side in ("dbf", "shx", "prj", "cpg"):
        (folder / f"{name}.{side}").unlink(missing_ok=True)
    frame.to_file(folder / f"{name}.geojson", driver="GeoJSON", engine="pyogrio")


def villages_csv(folder: Path, text: str, *, encoding: str = "utf-8") -> None:
    for side in ("shp", "dbf", "shx", "prj", "cpg"):
        (folder / f"villages.{side}").unlink(missing_ok=True)
    (folder / "villages.csv").write_bytes(text.encode(encoding))


def csv_of_villages(**changes) -> pd.DataFrame:
    villages = tiny_layers()["villages"].to_crs("EPSG:4326")
    frame = pd.DataFrame(villages.drop(columns="geometry"))
    frame["lon"], frame["lat"] = villages.geometry.x.round(6), villages.geometry.y.round(6)
    for column, (row, value) in changes.items():
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
    return frame


def layer(name: str) -> gpd.GeoDataFrame:
    return tiny_layers()[name]


def edit_layer(name: str, edit: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]) -> Case:
    def case(folder: Path) -> None:
        write_geojson(folder, name, edit(layer(name)))
    return case


def set_value(name: str, column: str, row: int, value: object) -> Case:
    def edit(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame
    return edit_layer(name, edit)


def drop_column(name: str, column: str) -> Case:
    return edit_layer(name, lambda f: f.drop(columns=column))


def replace_file(name: str, data: bytes) -> Case:
    """The layer's shapefile is replaced by a file of another name holding `data`."""
    def case(folder: Path) -> None:
        stem = name.split(".")[0]
        for side in ("shp", "dbf", "shx", "prj", "cpg"):
            (folder / f"{stem}.{side}").unlink(missing_ok=True)
        Path(folder, name).write_bytes(data)
    return case


def truncate(filename: str, keep: float) -> Case:
    def case(folder: Path) -> None:
        path = folder / filename
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])
    return case


def remove(filename: str) -> Case:
    return lambda folder: (folder / filename).unlink()


def village_csv_case(text: str, *, encoding: str = "utf-8") -> Case:
    return lambda folder: villages_csv(folder, text, encoding=encoding)


def village_frame_case(**changes) -> Case:
    return lambda folder: villages_csv(folder, csv_of_villages(**changes).to_csv(index=False))


def layers_yaml(text: str) -> Case:
    return lambda folder: (folder / "layers.yaml").write_text(text, encoding="utf-8")


def mixed_geometries(folder: Path) -> None:
    communes = layer("communes")
    communes.loc[3, "geometry"] = shapely.Point(X0 + 7 * KM, Y0 + 7 * KM)
    write_geojson(folder, "communes", communes)


def far_away_village(folder: Path) -> None:
    villages = layer("villages")
    villages.loc[4, "geometry"] = shapely.Point(X0 + 900 * KM, Y0 - 700 * KM)
    write_geojson(folder, "villages", villages)


def absurd_coordinates(folder: Path) -> None:
    villages = layer("villages")
    villages.loc[2, "geometry"] = shapely.Point(1e300, 1e300)
    write_geojson(folder, "villages", villages)


def empty_geometry(folder: Path) -> None:
    villages = layer("villages")
    villages.loc[6, "geometry"] = None
    write_geojson(folder, "villages", villages)


def no_prj(folder: Path) -> None:
    (folder / "communes.prj").unlink()


def points_as_communes(folder: Path) -> None:
    communes = layer("communes")
    communes["geometry"] = communes.geometry.centroid
    write_geojson(folder, "communes", communes)


def lines_as_post_offices(folder: Path) -> None:
    offices = layer("post_offices")
    offices["geometry"] = [shapely.LineString([(p.x, p.y), (p.x + 10, p.y)]) for p in offices.geometry]
    write_geojson(folder, "post_offices", offices)


def empty_communes(folder: Path) -> None:
    write_geojson(folder, "communes", layer("communes").iloc[0:0])


def duplicated_csv_columns(folder: Path) -> None:
    frame = csv_of_villages()
    text = frame.to_csv(index=False).splitlines()
    text[0] = text[0].replace("households", "population")
    villages_csv(folder, "\n".join(text) + "\n")


def dem_not_a_tiff(folder: Path) -> None:
    (folder / "dem.tif").write_text("elevation,metres\n1,2\n", encoding="utf-8")


# case id → (how to break the folder, what the message must name besides the exit code)
CASES: dict[str, tuple[Case, tuple[str, ...]]] = {
    "truncated geojson": (lambda f: (write_geojson(f, "communes", layer("communes")),
                                     truncate("communes.geojson", 0.5)(f)), ("communes.geojson",)),
    "truncated shp": (truncate("villages.shp", 0.6), ("villages",)),
    "missing dbf": (remove("communes.dbf"), ("communes.shp", ".dbf part", "is missing")),
    "missing shx": (remove("villages.shx"), ("villages.shp", ".shx part", "is missing")),
    "empty csv": (village_csv_case(""), ("villages.csv",)),
    "header-only csv": (village_csv_case("id,name,commune,population,lon,lat\n"), ("villages.csv",)),
    "binary garbage csv": (village_csv_case("\x00\x01\x02\xff\xfe" * 50, encoding="latin-1"), ("villages.csv",)),
    "duplicated csv columns": (duplicated_csv_columns, ("villages.csv", "column population", "more than once")),
    "absurd lon in csv": (village_frame_case(lon=(3, 1e300)), ("villages.csv", "row 4")),
    "lat out of range in csv": (village_frame_case(lat=(2, 123.0)), ("villages.csv", "row 3")),
    "swapped lat/lon in csv": (lambda f: villages_csv(f, csv_of_villages().rename(
        columns={"lon": "lat", "lat": "lon"}).to_csv(index=False)), ("villages.csv",)),
    "text population in csv": (village_frame_case(population=(5, "nhiều")), ("villages.csv", "row 6",
                                                                             "population")),
    "missing lon/lat columns": (lambda f: villages_csv(f, csv_of_villages().drop(columns=["lon", "lat"]).to_csv(
        index=False)), ("villages.csv",)),
    "duplicate village id": (set_value("villages", "id", 3, "V01"), ("villages", "V01")),
    "unknown commune code": (set_value("villages", "commune", 2, "99999"), ("villages", "99999")),
    "negative population": (set_value("villages", "population", 1, -50), ("villages", "population")),
    "missing required field": (drop_column("communes", "population"), ("communes", "population")),
    "missing village name field": (drop_column("villages", "name"), ("villages", "name")),
    "duplicate commune code": (set_value("communes", "code", 2, "03124"), ("communes", "03124")),
    "empty commune name": (set_value("communes", "name", 1, ""), ("communes", "name")),
    "unknown technology": (set_value("bts_sites", "tech", 1, "2G,6G"), ("bts_sites", "tech")),
    "unknown power source": (set_value("bts_sites", "power", 0, "nuclear"), ("bts_sites", "power")),
    "unknown post office kind": (set_value("post_offices", "kind", 1, "cap4"), ("post_offices", "kind")),
    "unknown road class": (set_value("roads", "road_class", 0, "motorway-ish"), ("roads", "road_class")),
    "points uploaded as communes": (points_as_communes, ("communes",)),
    "mixed geometry types": (mixed_geometries, ("communes",)),
    "lines as post offices": (lines_as_post_offices, ("post_offices",)),
    "empty commune layer": (empty_communes, ("communes",)),
    "missing crs": (no_prj, ("communes",)),
    "village 1,000 km away": (far_away_village, ("villages",)),
    "absurd coordinates": (absurd_coordinates, ("villages",)),
    "null geometry": (empty_geometry, ("villages",)),
    "csv named geojson": (replace_file("communes.geojson", b"code,name,population\n03124,X,5\n"),
                          ("communes.geojson",)),
    "random bytes gpkg": (replace_file("communes.gpkg", bytes(range(256)) * 40), ("communes.gpkg",)),
    "zip that is not a zip": (replace_file("communes.zip", b"PK\x03\x04 not really a zip"),
                              ("communes.zip", "not a readable zip")),
    "malformed kml": (replace_file("post_offices.kml", b"<kml><Document><Placemark><Point>"), ("post_offices.kml",)),
    "dem that is not a tiff": (dem_not_a_tiff, ("dem.tif",)),
    "invalid layers.yaml": (layers_yaml("layers: [communes: {file: x.shp"), ("layers.yaml",)),
    "layers.yaml names a missing file": (layers_yaml("layers:\n  villages:\n    file: thon_ban.csv\n"),
                                         ("thon_ban.csv",)),
    "layers.yaml maps a missing field": (layers_yaml("layers:\n  communes:\n    fields: {population: DS_2021}\n"),
                                         ("DS_2021",)),
    "layers.yaml unknown layer": (layers_yaml("layers:\n  towers:\n    file: communes.shp\n"), ("towers",)),
    "layers.yaml crs that does not exist": (layers_yaml("crs: EPSG:999999\n"), ("layers.yaml", "column crs",
                                                                                "EPSG:999999")),
}


# what only `ictgis validate` reads (indicators without --coverage never open the DEM)
VALIDATE_ONLY = {"dem that is not a tiff"}


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    layers = tiny_layers()
    layers["roads"] = gpd.GeoDataFrame(
        {"id": ["R1"], "road_class": ["national"], "name": ["QL279"]},
        geometry=[shapely.LineString([(X0, Y0 + 2 * KM), (X0 + 10 * KM, Y0 + 2 * KM)])], crs="EPSG:9205")
    return write_layers(tmp_path / "data", layers)


def test_there_are_at_least_40_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_one_clear_error(name, folder, tmp_path):
    breaker, expected = CASES[name]
    breaker(folder)
    before = folder_hashes(folder)
    out = tmp_path / "out" / "chi_tieu.xlsx"
    command = ["validate", str(folder)] if name in VALIDATE_ONLY else ["indicators", str(folder), "--xlsx", str(out)]
    result = CliRunner().invoke(main, command)
    text = result.output  # stdout and stderr as the user sees them
    assert result.exit_code == 2, (result.exit_code, text, result.exc_info)
    assert "Traceback" not in text
    assert text.startswith("Error:") or "\nError:" in text, text
    for token in expected:
        assert token in text, (token, text)
    # the problem lines name files relative to the data folder the user gave (GDAL's own paths are removed)
    assert not [line for line in text.splitlines() if line.startswith("  - ") and str(folder) in line], text
    assert folder_hashes(folder) == before  # the input is never modified
    assert not out.exists() and not out.parent.exists()  # nothing written


def test_a_clean_folder_passes_the_same_command(folder, tmp_path):
    out = tmp_path / "out.xlsx"
    result = CliRunner().invoke(main, ["indicators", str(folder), "--xlsx", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["mobile"]["bts_sites"] == 4 and out.exists()
