"""VN-2000 grids and the pinned datum shift."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from pyproj import CRS

from ictgis import CRSError, settings
from ictgis.crs import (
    TM3_ZONES,
    looks_like_degrees,
    looks_swapped,
    to_crs,
    transformer,
    working_crs,
)

# Điện Biên Phủ, the Mường Thanh bridge area.
LON, LAT = 103.0166, 21.3856


def test_working_crs_of_dien_bien_is_9205():
    assert working_crs("11").to_epsg() == 9205
    assert working_crs().to_epsg() == 9205 == CRS(settings.working_crs).to_epsg()


def test_zone_table_uses_real_vn2000_codes():
    for name, epsg in TM3_ZONES.values():
        crs = CRS.from_epsg(epsg)
        assert "VN-2000" in crs.name, name
    assert {e for _, e in TM3_ZONES.values()} >= set(range(9205, 9219)) - {9206 + 100}


def test_unknown_province_is_an_error():
    with pytest.raises(CRSError):
        working_crs("99")


def test_transform_is_pinned_to_epsg_6960():
    t = transformer("EPSG:9205", "EPSG:4326")
    assert "6960" in t.to_json() or "VN-2000 to WGS 84 (2)" in t.description


def test_round_trip_9205_4326_within_1_m():
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(LON, LAT), shapely.Point(102.3, 22.4)], crs=4326)
    there = to_crs(pts, 9205)
    back = to_crs(there, 4326)
    d = to_crs(back, 9205).geometry.distance(there.geometry)
    assert d.max() < 1.0


def test_known_point_against_an_independent_helmert():
    """The 7-parameter shift of FACTS.md §7 applied by hand agrees with the transform within 1 m."""
    from pyproj import Transformer

    pipeline = ("+proj=pipeline +step +proj=axisswap +order=2,1 +step +proj=unitconvert +xy_in=deg +xy_out=rad "
                "+step +proj=push +v_3 +step +proj=cart +ellps=WGS84 +step +inv +proj=helmert "
                "+x=-191.90441429 +y=-39.30318279 +z=-111.45032835 +rx=-0.00928836 +ry=0.01975479 "
                "+rz=-0.00427372 +s=0.252906278 +convention=coordinate_frame +step +inv +proj=cart +ellps=WGS84 "
                "+step +proj=pop +v_3 +step +proj=tmerc +lat_0=0 +lon_0=103 +k=0.9999 +x_0=500000 +y_0=0 "
                "+ellps=WGS84")
    hand = Transformer.from_pipeline(pipeline)
    hx, hy = hand.transform(LAT, LON)
    x, y = transformer("EPSG:4326", "EPSG:9205").transform(LON, LAT)
    assert abs(hx - x) < 1.0 and abs(hy - y) < 1.0
    # ignoring the datum shift would move the point by about 220 m
    naive = Transformer.from_crs("+proj=longlat +ellps=WGS84", "+proj=tmerc +lon_0=103 +k=0.9999 +x_0=500000 "
                                 "+ellps=WGS84", always_xy=True)
    nx, ny = naive.transform(LON, LAT)
    assert 150 < ((nx - x) ** 2 + (ny - y) ** 2) ** 0.5 < 300


def test_to_crs_needs_a_crs():
    with pytest.raises(CRSError):
        to_crs(gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)]), 4326)


def test_degree_and_swap_detection():
    assert looks_like_degrees((102.1, 20.9, 103.6, 22.6))
    assert not looks_like_degrees((400_000, 2_300_000, 560_000, 2_500_000))
    assert looks_swapped([21.38, 103.0], [103.0, 21.38]).tolist() == [True, False]
