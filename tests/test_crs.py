"""VN-2000 grids and the pinned datum shift."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

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
    """The 7-parameter shift of EPSG:6960 (docs/sources.md §3.6) applied by hand agrees with the transform (< 1 m)."""
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


# Two threads reproject the same points at once, both directions, through `to_crs` and `transformer`, and compare
# with the answers computed before in one thread. Run in a child process: a transformer shared by the threads made
# PROJ segfault (issue 10), which would otherwise take pytest down with it.
TWO_THREADS = """
import sys, threading
import geopandas as gpd, numpy as np
from ictgis.crs import to_crs, transformer

rng = np.random.default_rng(10)
lon, lat = rng.uniform(102.2, 103.6, 20_000), rng.uniform(20.9, 22.5, 20_000)
x, y = transformer("EPSG:4326", "EPSG:9205").transform(lon, lat)
back = transformer("EPSG:9205", "EPSG:4326").transform(x, y)
frame = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=9205)
expected = to_crs(frame, 4326).geometry.get_coordinates().to_numpy()
start, wrong = threading.Barrier(2), []

def work():
    start.wait()
    for _ in range(40):
        fx, fy = transformer("EPSG:4326", "EPSG:9205").transform(lon, lat)
        bx, by = transformer("EPSG:9205", "EPSG:4326").transform(fx, fy)
        got = to_crs(frame, 4326).geometry.get_coordinates().to_numpy()
        if not (np.array_equal(fx, x) and np.array_equal(fy, y) and np.array_equal(bx, back[0])
                and np.array_equal(by, back[1]) and np.array_equal(got, expected)):
            wrong.append(1)

threads = [threading.Thread(target=work) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"{len(wrong)} wrong of 80")
sys.exit(1 if wrong else 0)
"""


def test_two_threads_transforming_at_once_get_the_one_thread_answers():
    root = Path(__file__).resolve().parent.parent
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", TWO_THREADS], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, f"exit {proc.returncode} (-11: segfault): {proc.stdout}{proc.stderr[-2000:]}"
    assert proc.stdout.strip() == "0 wrong of 80"


def test_each_thread_gets_its_own_transformer():
    mine = transformer("EPSG:9205", "EPSG:4326")
    assert transformer("EPSG:9205", "EPSG:4326") is mine  # cached within a thread
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(transformer("EPSG:9205", "EPSG:4326")))
    thread.start()
    thread.join()
    assert theirs[0] is not mine
    assert theirs[0].transform(500_000.0, 2_365_000.0) == mine.transform(500_000.0, 2_365_000.0)


def test_to_crs_needs_a_crs():
    with pytest.raises(CRSError):
        to_crs(gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)]), 4326)


def test_degree_and_swap_detection():
    assert looks_like_degrees((102.1, 20.9, 103.6, 22.6))
    assert not looks_like_degrees((400_000, 2_300_000, 560_000, 2_500_000))
    assert looks_swapped([21.38, 103.0], [103.0, 21.38]).tolist() == [True, False]
