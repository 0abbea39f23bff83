"""Display GeoJSON at every zoom and precision: no error, every feature kept, every geometry valid (issue 10)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import X0, Y0

from ictgis import maps


def comb(x: float, y: float, *, teeth: int = 40) -> shapely.Polygon:
    """A 200 m bar with `teeth` 2 m wide teeth 5 m apart: rounding each vertex alone crosses the teeth."""
    ring = [(x, y), (x + 5.0 * teeth, y), (x + 5.0 * teeth, y + 20.0)]
    for i in reversed(range(teeth)):
        left = x + 5.0 * i
        ring += [(left + 2.0, y + 20.0), (left + 2.0, y + 120.0), (left, y + 120.0), (left, y + 20.0)]
    return shapely.Polygon(ring)


@pytest.fixture()
def shapes() -> gpd.GeoDataFrame:
    """A 5 km square, a 30 m triangle, a comb, a 40 m road and a 5 km road (EPSG:9205)."""
    return gpd.GeoDataFrame(
        {"name": ["Xã lớn", "Xã tí hon", "Xã răng lược", "Đường ngắn", "Đường dài"]},
        geometry=[shapely.box(X0, Y0, X0 + 5_000, Y0 + 5_000),
                  shapely.Polygon([(X0 + 100, Y0 + 100), (X0 + 130, Y0 + 100), (X0 + 115, Y0 + 130)]),
                  comb(X0 + 1_000, Y0 + 1_000),
                  shapely.LineString([(X0 + 2_000, Y0 + 2_000), (X0 + 2_040, Y0 + 2_003)]),
                  shapely.LineString([(X0, Y0 + 2_500), (X0 + 5_000, Y0 + 2_600)])],
        crs="EPSG:9205")


def test_every_zoom_and_precision_gives_valid_geometry(shapes):
    for zoom in range(21):
        for decimals in range(1, 8):
            _, tolerance = maps.zoom_precision(zoom)
            fc = json.loads(maps.frame_geojson(shapes, decimals=decimals, tolerance_m=tolerance))
            assert [f["properties"]["name"] for f in fc["features"]] == shapes["name"].tolist()
            for feature in fc["features"]:
                if feature["geometry"] is None:
                    continue
                geom = shapely.from_geojson(json.dumps(feature["geometry"]))
                assert geom.is_valid and not geom.is_empty, (zoom, decimals, feature["properties"]["name"])
                xy = shapely.get_coordinates(geom)
                assert np.array_equal(xy, np.round(xy, decimals))


def test_collapsed_geometries_are_null_and_kept_features(shapes):
    def kinds(decimals: int) -> list[str | None]:
        fc = json.loads(maps.frame_geojson(shapes, decimals=decimals))
        return [None if f["geometry"] is None else f["geometry"]["type"] for f in fc["features"]]

    # 0.01° ≈ 1 km: the triangle, the comb and the short road collapse, their features stay
    assert kinds(2) == ["Polygon", None, None, None, "LineString"]
    assert kinds(7) == ["Polygon", "Polygon", "Polygon", "LineString", "LineString"]
    fine = json.loads(maps.frame_geojson(shapes, decimals=7))
    comb_fine = shapely.from_geojson(json.dumps(fine["features"][2]["geometry"]))
    assert comb_fine.is_valid and len(shapely.get_coordinates(comb_fine)) > 100  # every tooth still there
