"""Documented defaults, in one place (like ``osmnx.settings``).

Functions take keyword overrides; scenario files override per run. Library code never changes these at run time.

Attributes
----------
province_code : str
    GSO code of the province the tool is set up for ("11", Điện Biên).
working_crs : str
    CRS of every distance, area and buffer: VN-2000 / TM-3 103-00 (EPSG:9205) for Điện Biên.
display_crs : str
    CRS handed to Folium and GeoJSON APIs (EPSG:4326).
vn2000_to_wgs84 : str
    The pinned datum transformation VN-2000 → WGS 84 (EPSG:6960, 7 parameters).
province_area_km2 : float
    Official area of the province, used by the postal service radius when asked for (9,541.25 km²).
province_tolerance_m : float
    How far outside the commune polygons a point may lie before it counts as outside the province.
postal_kinds_counted : tuple[str, ...] or None
    Which post office kinds count as service points; None counts all (the department's figure of 168).
postal_max_radius_km, postal_max_people_per_point : float
    QCVN 1:2008/BTTTT planning norms: service radius ≤ 3 km and ≤ 8,000 people per point.
default_data_dir : str
    Data folder used when a command is given none (the embedded demo).
usd_to_vnd : float
    Exchange rate for the USD unit costs of FACTS.md §6.
"""

from __future__ import annotations

province_code: str = "11"
working_crs: str = "EPSG:9205"
display_crs: str = "EPSG:4326"
vn2000_crs: str = "EPSG:4756"
vn2000_to_wgs84: str = "EPSG:6960"
province_area_km2: float = 9541.25
province_tolerance_m: float = 2000.0
postal_kinds_counted: tuple[str, ...] | None = None
postal_max_radius_km: float = 3.0
postal_max_people_per_point: float = 8000.0
default_data_dir: str = "data/shapefiles"
usd_to_vnd: float = 25_400.0
