"""A CRS that does not fit the data is an error naming the file and the CRS that fits (issue 12 §1); DEM checks.

Tiny fixtures are built in code (metre coordinates near Điện Biên Phủ, EPSG:9205); the real commune polygons of
../shared are used when present.
"""

from __future__ import annotations

import math
import shutil
import warnings

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from click.testing import CliRunner
from conftest import X0, Y0, tiny_layers, write_layers
from pyproj import CRS

from ictgis import CRSError, CRSWarning, LayerError, crs_fit, indicators, io
from ictgis.cli import main
from ictgis.crs import to_crs
from ictgis.io import Dataset
from ictgis.terrain.dem import check_dem


def problems_of(exc: pytest.ExceptionInfo) -> list[str]:
    return [str(p) for p in exc.value.problems]


def no_prj(folder):
    for prj in folder.glob("*.prj"):
        prj.unlink()
    return folder


def validate(*args: str):
    return CliRunner().invoke(main, ["validate", *map(str, args)])


# ------------------------------------------------------------------------------------------- wrong CRS
def test_metre_communes_declared_wgs84_exit_2_and_suggest_9205(tmp_path):
    folder = no_prj(write_layers(tmp_path / "d", tiny_layers()))
    result = validate(folder, "--crs", "EPSG:4326")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if "communes.shp" in line]
    assert len(lines) == 1
    assert ("communes.shp: coordinates x 500000..510000, y 2360000..2370000 are metres, but EPSG:4326 (WGS 84) is "
            "in degrees") in lines[0]
    assert "set crs: EPSG:9205 in layers.yaml or --crs EPSG:9205" in lines[0]
    # the other layers get their own clear message, never "outside the province (nan km)"
    assert "nan" not in result.output.lower()
    for name in ("villages.shp", "bts_sites.shp", "post_offices.shp", "fiber_routes.shp", "roads.shp"):
        assert f"{name}: coordinates" in result.output
    indicators_run = CliRunner().invoke(main, ["indicators", str(folder), "--crs", "EPSG:4326", "--json"])
    assert indicators_run.exit_code == 2 and '"area_km2"' not in indicators_run.output
    assert validate(folder, "--crs", "EPSG:9205").exit_code == 0


def test_geographic_vn2000_declared_for_metre_data(tmp_path):
    folder = no_prj(write_layers(tmp_path / "d", {"communes": tiny_layers()["communes"]}))
    (folder / "layers.yaml").write_text("crs: EPSG:4756\n", encoding="utf-8")
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    (text,) = problems_of(exc)
    assert text.startswith("communes.shp: coordinates x 500000..510000")
    assert "are metres, but EPSG:4756 (VN-2000) is in degrees" in text
    assert "EPSG:9205 puts the data inside the province: set crs: EPSG:9205" in text


def test_utm_data_with_a_wrong_prj_suggests_3405_and_deleting_the_prj(tmp_path):
    communes = to_crs(tiny_layers()["communes"], 3405).set_crs(9205, allow_override=True)
    folder = write_layers(tmp_path / "d", {"communes": communes})
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    (text,) = problems_of(exc)
    assert "read in EPSG:9205 (VN-2000 / TM-3 103-00) lie about" in text
    assert "km outside the area of use of EPSG:9205" in text
    assert "the CRS (from its file) does not fit" in text
    assert "delete communes.prj and set crs: EPSG:3405 in layers.yaml" in text


def test_metres_in_lon_lat_columns_of_a_csv(tmp_path):
    layers = tiny_layers()
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"]})
    table = layers["villages"].drop(columns="geometry")
    table["lon"], table["lat"] = layers["villages"].geometry.x, layers["villages"].geometry.y
    table.to_csv(folder / "villages.csv", index=False)
    (folder / "layers.yaml").write_text("crs: EPSG:9205\n", encoding="utf-8")  # for x/y columns: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", CRSWarning)
        with pytest.raises(LayerError) as exc:
            io.load(folder)
    (text,) = problems_of(exc)
    assert text.startswith("villages.csv: coordinates x 501100..509100, y 2361100..2369100 are metres, but EPSG:4326")
    assert "the CRS (from its lon/lat column names)" in text
    assert "name them x and y and set crs: EPSG:9205 in layers.yaml" in text
    table.rename(columns={"lon": "x", "lat": "y"}).to_csv(folder / "villages.csv", index=False)
    assert len(io.load(folder)["villages"]) == 10


def test_degrees_declared_as_metres_would_give_no_area(tmp_path):
    communes = to_crs(tiny_layers()["communes"], 4326)
    assert communes.set_crs(9205, allow_override=True).geometry.area.sum() < 1  # m²: the "0.0 km²" of the issue
    folder = no_prj(write_layers(tmp_path / "d", {"communes": communes}))
    result = validate(folder, "--crs", "EPSG:9205")
    assert result.exit_code == 2
    assert "look like degrees, but EPSG:9205 (VN-2000 / TM-3 103-00) is in metres" in result.output
    assert "EPSG:4326 puts the data inside the province: set crs: EPSG:4326" in result.output


def test_1e300_coordinates(tmp_path):
    layers = tiny_layers()
    villages = layers["villages"].copy()
    villages.loc[2, "geometry"] = shapely.Point(1e300, Y0)
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"], "villages": villages})
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    text = problems_of(exc)
    assert text == ["villages.shp row 3, column geometry: coordinates (1e+300, 2360000) are impossible in "
                    "EPSG:9205 (VN-2000 / TM-3 103-00)"]
    fiber = layers["fiber_routes"].copy()
    fiber["geometry"] = [shapely.LineString([(1e300, 1e300), (2e300, 1e300)])] * 2
    folder = write_layers(tmp_path / "e", {"communes": layers["communes"], "fiber_routes": fiber})
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    (text,) = problems_of(exc)
    assert text.startswith("fiber_routes.shp: coordinates x 1e+300..2e+300, y 1e+300 are impossible in EPSG:9205")
    assert "none of EPSG:9205, EPSG:3405, EPSG:4326, EPSG:4756 or the other VN-2000 zones" in text


def test_data_500_km_away(tmp_path):
    layers = tiny_layers()
    far = layers["communes"].translate(yoff=500_000)
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"].set_geometry(far)})
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    (text,) = problems_of(exc)
    assert text.startswith("communes.shp: coordinates x 500000..510000, y 2860000..2870000 read in EPSG:9205")
    distance = float(text.split("lie about ")[1].split(" km")[0])
    assert 300 < distance < 400  # from the edge of EPSG:9205's area of use (22.82 °N), not from the communes
    assert "check the coordinates" in text
    # one fiber route 500 km away in a layer that otherwise fits: that row only
    fiber = layers["fiber_routes"].copy()
    fiber.loc[1, "geometry"] = shapely.LineString([(X0, Y0 + 500_000), (X0 + 1000, Y0 + 500_000)])
    folder = write_layers(tmp_path / "e", {"communes": layers["communes"], "fiber_routes": fiber})
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    (text,) = problems_of(exc)
    assert text.startswith("fiber_routes.shp row 2, column geometry: lies about 3")
    assert "km outside the area of use of EPSG:9205" in text


def test_stated_crs_disagreeing_with_the_prj_is_a_warning_naming_both(tmp_path):
    folder = write_layers(tmp_path / "d", {"communes": tiny_layers()["communes"]})
    (folder / "layers.yaml").write_text("crs: EPSG:4326\n", encoding="utf-8")
    with pytest.warns(CRSWarning, match=r"communes.shp: the file declares EPSG:9205 .* but EPSG:4326 \(WGS 84\)"):
        ds = io.load(folder)
    assert ds["communes"].geometry.area.sum() == pytest.approx(100e6)  # the file's own CRS is used
    result = validate(folder)
    assert result.exit_code == 0
    assert ("Warning: communes.shp: the file declares EPSG:9205 (VN-2000 / TM-3 103-00) but EPSG:4326 (WGS 84) "
            "is stated") in result.output
    (folder / "layers.yaml").write_text("crs: EPSG:9205\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CRSWarning)
        io.load(folder)  # agreeing: no warning


def test_suggestions_rank_the_working_zone_first():
    x, y = np.array([505_000.0, 520_000.0]), np.array([2_365_000.0, 2_400_000.0])
    assert [s.code for s in crs_fit.suggest_crs(x, y, working="EPSG:9205")][0] == "EPSG:9205"
    lon, lat = np.array([103.0, 103.2]), np.array([21.4, 21.7])
    codes = [s.code for s in crs_fit.suggest_crs(lon, lat, working="EPSG:9205")]
    assert codes[:2] == ["EPSG:4326", "EPSG:4756"]
    assert crs_fit.suggest_crs(np.array([5e6]), np.array([5e6]), working="EPSG:9205") == []


# ------------------------------------------------------------------------------------ province area
def _dataset(communes: gpd.GeoDataFrame, **kw) -> Dataset:
    return Dataset(layers={"communes": communes}, sources={"communes": "/x/communes.shp"}, crs=communes.crs, **kw)


@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_province_area_of_inf_or_nan_is_never_reported(value):
    communes = tiny_layers()["communes"]
    broken = communes.set_geometry([shapely.box(value, Y0, X0, Y0 + 1000)] * 4)
    with pytest.raises(LayerError) as exc:
        indicators.compute(_dataset(broken))
    assert problems_of(exc)[0].startswith("communes.shp, column geometry: the commune polygons cover")


@pytest.mark.parametrize("area", [0.0, math.nan, math.inf, -5.0])
def test_official_area_of_zero_nan_or_inf_is_refused(area):
    ds = _dataset(tiny_layers()["communes"])
    with pytest.raises(LayerError, match="the province area is"):
        indicators.compute(ds, area_km2=area)  # --area-km2
    from_yaml = _dataset(tiny_layers()["communes"], area_km2=area)  # area_km2: in layers.yaml
    if area:
        with pytest.raises(LayerError, match="the province area is"):
            indicators.compute(from_yaml)
    else:  # 0 in layers.yaml means "not given": the polygons' area
        assert indicators.compute(from_yaml)["province"]["area_km2"] == 100.0
    assert indicators.compute(ds)["province"]["area_km2"] == 100.0


# ---------------------------------------------------------------------------------------------- DEM
def _write_dem(path, *, crs: str, x0: float, y0: float, cell: float, n: int) -> None:
    profile = {"driver": "GTiff", "height": n, "width": n, "count": 1, "dtype": "float32", "crs": crs,
               "transform": Affine(cell, 0, x0, 0, -cell, y0 + n * cell)}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((1, n, n), 500.0, np.float32))


def test_validate_refuses_a_geographic_dem(tiny_dir):
    _write_dem(tiny_dir / "dem.tif", crs="EPSG:4326", x0=102.99, y0=21.3, cell=0.001, n=120)
    result = validate(tiny_dir)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "dem.tif: the DEM is in WGS 84, a geographic CRS; reproject it" in result.output
    with pytest.raises(CRSError, match="geographic CRS"):  # the error `ictgis coverage` gives
        from ictgis.terrain import read_dem

        read_dem(tiny_dir / "dem.tif")


def test_validate_warns_about_a_200_m_dem(tiny_dir):
    _write_dem(tiny_dir / "dem.tif", crs="EPSG:9205", x0=X0 - 1000, y0=Y0 - 1000, cell=200, n=60)
    result = validate(tiny_dir)
    assert result.exit_code == 0, result.output
    assert "Warning: dem.tif: cells of 200 m are coarser than 100 m" in result.output
    as_json = validate(tiny_dir, "--json")
    assert "cells of 200 m" in as_json.output
    _write_dem(tiny_dir / "dem.tif", crs="EPSG:9205", x0=X0 - 1000, y0=Y0 - 1000, cell=50, n=240)
    assert "warning" not in validate(tiny_dir).output


def test_dem_that_misses_or_half_covers_the_province(tmp_path):
    bounds = (X0, Y0, X0 + 10_000, Y0 + 10_000)
    _write_dem(tmp_path / "far.tif", crs="EPSG:9205", x0=X0 + 100_000, y0=Y0, cell=30, n=100)
    with pytest.raises(LayerError, match="does not overlap the commune polygons"):
        check_dem(tmp_path / "far.tif", province_bounds=bounds, province_crs="EPSG:9205")
    _write_dem(tmp_path / "half.tif", crs="EPSG:9205", x0=X0, y0=Y0, cell=50, n=100)
    (message,) = check_dem(tmp_path / "half.tif", province_bounds=bounds, province_crs="EPSG:9205")
    assert message == ("half.tif: the DEM covers only 25% of the province's extent: coverage is computed on the "
                       "DEM only")


# ---------------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real_metre_dir(shared_dir, tmp_path_factory):
    """The real 2019 commune polygons in EPSG:9205 metres as a Shapefile without .prj (never in the repo)."""
    communes = gpd.read_file(shared_dir / "communes_2019.geojson")
    communes = communes.rename(columns={"commune_id": "MA_XA", "commune_vn": "TEN_XA", "district_vn": "TEN_HUYEN",
                                        "total": "DAN_SO"})[["MA_XA", "TEN_XA", "TEN_HUYEN", "DAN_SO", "geometry"]]
    folder = tmp_path_factory.mktemp("real_metres")
    to_crs(communes, 9205).to_file(folder / "xa.shp", engine="pyogrio")
    (folder / "xa.prj").unlink()
    (folder / "layers.yaml").write_text("layers:\n  communes: xa.shp\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("wrong", ["EPSG:4326", "EPSG:4756", "EPSG:3405"])
def test_real_communes_with_a_wrong_crs(real_metre_dir, wrong):
    result = validate(real_metre_dir, "--crs", wrong)
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if "xa.shp" in line and "does not fit" in line]
    assert "set crs: EPSG:9205 in layers.yaml or --crs EPSG:9205" in line
    assert "would also" not in line  # no other zone fits 130 communes across 1.5° of longitude


def test_real_communes_with_the_right_crs_stay_valid(real_metre_dir, shared_dir, tmp_path):
    result = validate(real_metre_dir, "--crs", "EPSG:9205")
    assert result.exit_code == 0, result.output
    assert "130 features" in result.output and "overlapping pairs" in result.output
    # a .prj in metres and a crs: in degrees: the .prj is used, the warning names both
    shutil.copytree(real_metre_dir, tmp_path / "prj")
    (tmp_path / "prj" / "xa.prj").write_text(CRS.from_epsg(9205).to_wkt("WKT1_ESRI"), encoding="ascii")
    with (tmp_path / "prj" / "layers.yaml").open("a", encoding="utf-8") as f:
        f.write("crs: EPSG:4326\n")
    result = validate(tmp_path / "prj")
    assert result.exit_code == 0, result.output
    assert ("Warning: xa.shp: the file declares EPSG:9205 (VN-2000 / TM-3 103-00) but EPSG:4326 (WGS 84) is "
            "stated") in result.output
    # GeoJSON is WGS 84 by definition: --crs (for files without a CRS) does not apply, and that is no news
    folder = tmp_path / "geojson"
    folder.mkdir()
    shutil.copy(shared_dir / "communes_2019.geojson", folder)
    (folder / "layers.yaml").write_text(
        "layers:\n  communes:\n    file: communes_2019.geojson\n"
        "    fields: {code: commune_id, name: commune_vn, district: district_vn, population: total}\n",
        encoding="utf-8")
    result = validate(folder, "--crs", "EPSG:9205")
    assert result.exit_code == 0, result.output
    assert "130 features" in result.output and "is stated" not in result.output
