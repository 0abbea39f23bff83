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
province_extent_margin_m : float
    How far outside the area of use of the province's working CRS (EPSG:9205: 102.14–103.99 °E, 20.89–22.82 °N) a
    layer may reach before its CRS is called wrong (:mod:`ictgis.crs_fit`; 20 km).
dem_max_resolution_m : float
    DEM cells coarser than this (100 m) make ``ictgis validate`` warn that coverage computed on it is too coarse
    to trust in the province's valleys.
postal_kinds_counted : tuple[str, ...] or None
    Which post office kinds count as service points; None counts all (the department's figure of 168).
postal_max_radius_km, postal_max_people_per_point : float
    QCVN 1:2008/BTTTT planning norms: service radius ≤ 3 km and ≤ 8,000 people per point.
default_data_dir : str
    Data folder used when a command is given none (the embedded demo).
usd_to_vnd : float
    Exchange rate for the USD unit costs (``docs/sources.md`` §4; an assumption, about the 2024–2025 rate).
environment_of_commune_kind : dict[str, str]
    Urban/suburban/rural setting of a commune kind (phường urban, thị trấn suburban, xã rural): the Hata
    environment of the sites in it (:mod:`ictgis.coverage`) and the fiber cost per metre of the roads through it
    (:mod:`ictgis.network`, :mod:`ictgis.fiber`).
default_site_height_m : float
    Antenna height of a site that gives none (30 m; an assumption, a typical rural tower).
default_operator : str
    Operator of a new site a scenario adds without naming one ("Viettel"; an assumption).
sector_beamwidth_deg, sector_front_to_back_db : float
    Horizontal 3 dB beamwidth (65°, 3GPP TR 38.901 Table 7.3-1) and front-to-back ratio A_m (25 dB, TR 36.814
    Table A.2.1.1-2) of a cell without its own `beamwidth` nor pattern file (:mod:`ictgis.antenna`).
sector_vertical_beamwidth_deg, sector_vertical_sidelobe_db : float
    Vertical 3 dB beamwidth (10°) and side-lobe level SLA_V (20 dB) of the parametric pattern (TR 36.814 Table
    A.2.1.1-2).
landcover_loss_db : dict[int, float]
    Loss (dB) at a receiver standing in each land-cover class (ESA WorldCover 2021 codes; :mod:`ictgis.landcover`,
    sources in ``docs/sources.md`` §3.3). Overridable per class in ``layers.yaml`` (``landcover: loss_db:``), per
    run (``coverage.compute(clutter_loss_db=…)``) and in scenario parameters (``clutter_loss_db:``).
landcover_in_hata : dict[str, tuple[int, ...]]
    Classes whose loss a Hata environment already holds (built-up for the urban and suburban formulas, fitted to
    measurements among buildings): they add nothing to the sites of that environment.
landcover_canopy_m : dict[int, float]
    Height (m) added to the terrain for the diffraction where a class stands on the path (trees: 15 m, the
    "trees/forest" representative clutter height of ITU-R P.1812 Table 2).

Every figure below the cost heading is documented where it is set; the source of each is in ``docs/sources.md``
(§1 the department's plan, §3 standards, §4 unit costs, §6 assumptions).
"""

from __future__ import annotations

province_code: str = "11"
working_crs: str = "EPSG:9205"
display_crs: str = "EPSG:4326"
vn2000_crs: str = "EPSG:4756"
vn2000_to_wgs84: str = "EPSG:6960"
province_area_km2: float = 9541.25
province_tolerance_m: float = 2000.0
province_extent_margin_m: float = 20_000.0
dem_max_resolution_m: float = 100.0
postal_kinds_counted: tuple[str, ...] | None = None
postal_max_radius_km: float = 3.0
postal_max_people_per_point: float = 8000.0
default_data_dir: str = "data/shapefiles"
usd_to_vnd: float = 25_400.0
environment_of_commune_kind: dict[str, str] = {"phuong": "urban", "thi_tran": "suburban", "xa": "rural"}
default_site_height_m: float = 30.0
default_operator: str = "Viettel"
sector_beamwidth_deg: float = 65.0
sector_front_to_back_db: float = 25.0
sector_vertical_beamwidth_deg: float = 10.0
sector_vertical_sidelobe_db: float = 20.0
#: ESA WorldCover 2021: 10 tree cover, 20 shrubland, 30 grassland, 40 cropland, 50 built-up, 60 bare / sparse
#: vegetation, 70 snow and ice, 80 permanent water, 90 herbaceous wetland, 95 mangroves, 100 moss and lichen.
landcover_loss_db: dict[int, float] = {10: 12.0, 20: 4.0, 30: 0.0, 40: 0.0, 50: 8.0, 60: 0.0, 70: 0.0, 80: 0.0,
                                       90: 2.0, 95: 12.0, 100: 0.0}
landcover_canopy_m: dict[int, float] = {10: 15.0, 95: 15.0}
landcover_in_hata: dict[str, tuple[int, ...]] = {"urban_dense": (50,), "urban": (50,), "suburban": (50,)}

# --- Scenario and cost defaults (docs/sources.md §4; configurable per run in scenario files) -----------------------
#: Coverage threshold for "covered" (dBm, RSRP for 4G/5G). No official threshold exists (docs/sources.md §3.2);
#: −110 dBm is the common outdoor planning value (−100 in-car, −90 indoor).
rsrp_threshold_dbm: float = -110.0
#: Discount rate and horizon of net present values (Oughton's rural 4G model: 5 %, 10 years).
discount_rate: float = 0.05
horizon_years: int = 10
#: Yearly operating cost as a share of capital cost (Oughton: 10 %/yr).
opex_share_per_year: float = 0.10
#: Oughton's itemised rural 4G site (USD): per sector an antenna and a radio unit; per site power/battery, tower,
#: civil works, transport and installation (41,500 itemised for 3 sectors).
sectors_per_site: int = 3
sector_antenna_usd: float = 1_500.0
sector_radio_usd: float = 4_000.0
site_power_usd: float = 5_000.0
site_tower_usd: float = 5_000.0
site_civil_usd: float = 5_000.0
site_transport_usd: float = 5_000.0
site_install_usd: float = 5_000.0
#: Remainder to Oughton's ≈ 48–50 k USD greenfield total: site acquisition, planning, contingency (assumption).
site_other_usd: float = 7_500.0
#: Rural 3-sector greenfield 4G site before backhaul (Oughton: ≈ 48–50 k USD): the items above, 49,000 USD.
site_greenfield_usd: float = (sectors_per_site * (sector_antenna_usd + sector_radio_usd) + site_power_usd
                              + site_tower_usd + site_civil_usd + site_transport_usd + site_install_usd
                              + site_other_usd)
#: Adding a technology (4G or 5G) to an existing 3-sector site: 3 × (sector antenna 1,500 + radio unit 4,000) USD.
site_upgrade_usd: float = sectors_per_site * (sector_antenna_usd + sector_radio_usd)
#: Microwave backhaul of a new site where a fiber spur would cost more or no road is known (Oughton: 30–80 k USD;
#: the low end).
microwave_backhaul_usd: float = 30_000.0
#: Rural site rent per year (Oughton: 1,000 USD/yr).
site_rent_usd_per_year: float = 1_000.0
#: Off-grid solar power system replacing a diesel generator at a BTS site, or powering a new off-grid site
#: (assumption: panels, batteries, controller for a 3-sector macro site; Oughton's 5,000 USD power/battery line is
#: for grid-connected sites).
solar_kit_usd: float = 20_000.0
#: Yearly upkeep of a solar power system as a share of its cost (assumption; the ``power`` intervention's opex).
#: Not a scenario parameter yet.
solar_opex_share_per_year: float = 0.02
#: Connecting an off-grid site to the grid (assumption: a few km of medium-voltage line and a transformer).
grid_connection_usd: float = 15_000.0
#: Diesel burned by an off-grid site per year (docs/sources.md §4: up to ~20,000 L/yr) and its price (VND per
#: litre; assumption).
diesel_litres_per_year: float = 20_000.0
diesel_vnd_per_litre: float = 20_000.0
#: CO₂ emitted per litre of diesel burned (kg; IPCC default emission factor, ≈ 2.68 kg/L).
co2_kg_per_litre_diesel: float = 2.68
#: A new commune cultural post office (điểm BĐVHX): building fit-out and equipment, and yearly running cost
#: (assumptions in VND; no official unit cost was found).
bdvhx_capex_vnd: float = 400_000_000.0
bdvhx_opex_vnd_per_year: float = 60_000_000.0
#: Yearly maintenance of new fiber as a share of its capital cost (assumption; cable plant needs far less upkeep
#: than radio sites).
fiber_opex_share_per_year: float = 0.02
#: Underground fiber per metre (trench, duct, cable) by setting (Oughton's fiber backhaul: rural 5, suburban 15,
#: urban 25 USD/m); a road's setting comes from `environment_of_commune_kind`.
fiber_usd_per_m: dict[str, float] = {"rural": 5.0, "suburban": 15.0, "urban": 25.0}
#: Off-road fiber connector from a road to a village centre or straight to a fiber route (assumption: new poles or
#: trench across fields, twice the rural road cost), whatever the installation.
fiber_offroad_usd_per_m: float = 10.0
#: Per village connected to fiber: splitter cabinet, ODF, splicing and tests (assumption).
fiber_equipment_usd_per_village: float = 2_000.0
