"""The demo province: a synthetic but believable Điện Biên, generated deterministically.

The 129 real commune-level units (codes, names, kinds, districts) sit on generated polygons that tile a province of
exactly 9,541.25 km² in EPSG:9205. Every other layer is generated on them and reproduces the department's mid-2021
figures (docs/sources.md §1, §7): 1,444 villages (169 without fiber), 616,560 people in 144,396 households,
815 BTS sites (785 3G, 705 4G, 16 on diesel, 5 operators), 168 postal service points (2 cấp I, 10 cấp II,
37 cấp III, 1 KT1, 1 large customer, 9 letter boxes, 107 BĐVHX, 1 other) and 97 commune radio stations.

Steps, one module each: outline and terrain (:mod:`~ictgis.demo.terrain`, on the control geography of
:mod:`~ictgis.demo.geography`, the noise of :mod:`~ictgis.demo.noise` and the grids of :mod:`~ictgis.demo.grid`),
districts and communes (:mod:`~ictgis.demo.communes`: cost-distance regions over the terrain, so boundaries follow
ridges), roads (:mod:`~ictgis.demo.roads`: least-cost paths over slope), villages (:mod:`~ictgis.demo.villages`),
fiber (:mod:`~ictgis.demo.fiber`), mobile sites (:mod:`~ictgis.demo.sites`), post offices
(:mod:`~ictgis.demo.post`). ``build_demo()`` (:mod:`~ictgis.demo.build`) returns the layers; ``write_demo()``
(:mod:`~ictgis.demo.write`) writes them as Shapefiles and a GeoTIFF DEM, byte-identical on every run with the same
arguments.

Radio coverage intent: the 4G sites are placed so that every village is within a few km of one (a site on high
ground within 2 km of every village farther than 2.8 km from a 4G site), except the villages of a few remote
"white zones" in Mường Nhé, Nậm Pồ, Tủa Chùa and Điện Biên Đông, which are kept > 10 km from any 4G site. With
seed 2021 these are 61 villages, 20,067 people (3.3 %): V0180, V0184, V0188, V0190, V0198, V0200, V0245, V0246,
V0247, V0250, V0282, V0283, V0497, V0499, V0501, V0540, V0542, V0544, V0546, V0566, V0567, V0568, V0571, V0599,
V0601, V1045, V1049, V1050, V1051, V1053, V1054, V1055, V1056, V1058, V1059, V1061, V1096, V1097, V1101, V1111,
V1165, V1174, V1176, V1178, V1285, V1286, V1294, V1345, V1346, V1350, V1351, V1353, V1357, V1359, V1366, V1422,
V1426, V1427, V1428, V1429, V1433 (``DemoProvince.uncovered_villages``). Their neighbours 5–10 km from a 4G site
(≈ 6 % of the population beyond 8 km in all) and terrain shadowing should bring a Hata-like model at −110 dBm to
≈ 94 % of the population covered.

Examples
--------
>>> from ictgis.demo import build_demo
>>> demo = build_demo(dem_resolution_m=500.0)  # doctest: +SKIP
>>> len(demo.villages), int(demo.villages.households.sum())  # doctest: +SKIP
(1444, 144396)
"""

from __future__ import annotations

from .build import N_RADIO, DemoProvince, build_demo
from .communes import load_units
from .fiber import N_UNFIBERED
from .geography import AREA_KM2, CRS, REMOTE_DISTRICTS
from .villages import HOUSEHOLDS, N_VILLAGES, POPULATION
from .write import write_demo

__all__ = ["AREA_KM2", "CRS", "HOUSEHOLDS", "N_RADIO", "N_UNFIBERED", "N_VILLAGES", "POPULATION", "REMOTE_DISTRICTS",
           "DemoProvince", "build_demo", "load_units", "write_demo"]
