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
village_commune_tolerance_m : float
    How far outside the commune it names a village may lie before ``ictgis validate`` (and an upload) warns that it
    lies in another commune (100 m: village points along a commune border, digitised on another base map, often
    sit a few tens of metres across it; an assumption).
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
tr38901_from_mhz : float
    Sites whose carrier is at or above this (3000 MHz) take the 3GPP TR 38.901 RMa/UMa path loss
    (:mod:`ictgis.tr38901`; 5G NR n77/n78, 3.3–3.8 GHz); below, Okumura–Hata / COST-231 (700–2600 MHz).
tr38901_building_height_m, tr38901_street_width_m : float
    TR 38.901 RMa's average building height h (5 m) and street width W (20 m): the TR's defaults
    (Table 7.4.1-1 note; valid 5–50 m each).
measurement_floor_dbm : float
    Measured levels below this (−140 dBm, the lowest RSRP a UE reports, TS 36.133 §9.1.4 RSRP_00) are counted
    apart by ``ictgis calibrate`` (no-service or failed readings, not signal).
calibration_ridge_points : float
    Ridge regularisation of the calibration fit (``ictgis.calibration``): each offset is pulled towards 0 as if it
    had this many extra points (10) with a residual of 0 dB, so a group of 3 points keeps ~23 % of its mean error.
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
village_commune_tolerance_m: float = 100.0
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
tr38901_from_mhz: float = 3000.0
tr38901_building_height_m: float = 5.0
tr38901_street_width_m: float = 20.0
measurement_floor_dbm: float = -140.0
calibration_ridge_points: float = 10.0
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

# --- The last mile (`ictgis lastmile`, the ``connect_villages`` intervention; docs/sources.md §3.11, §4, §6) --------
#: Busy-hour demand of one household (Mbps): a 100 Mbps fibre plan, the entry speed of the national target of fibre
#: to every household (Quyết định 1132/QĐ-TTg, §3.8), shared 1:100 at the busy hour (assumption).
lastmile_mbps_per_household: float = 1.0
#: Least demand of a village with a school or a health station (Mbps; assumption: one uncontended 20 Mbps line).
lastmile_institution_mbps: float = 20.0
#: Rain rate exceeded 0.01 % of an average year in Điện Biên (mm/h, 1-minute integration): ITU-R P.837-7's digital
#: map gives 64–80 mm/h over the province (69.4 at Điện Biên Phủ, 74.2 at Mường Nhé); 72 is the median of a 0.25°
#: grid over it (docs/sources.md §3.11).
lastmile_rain_rate_mm_h: float = 72.0
#: Availability a microwave hop must keep through rain (%, the rain fade margin is ITU-R P.530's A at 100 − this).
lastmile_availability_pct: float = 99.99
#: A bts_site counts as fiber-connected (a microwave hub) when a fiber route passes this close (m; assumption).
lastmile_site_fiber_m: float = 300.0
#: Microwave mast at the village end and tower of a relay on high ground (heights above ground, m; assumptions).
lastmile_village_mast_m: float = 15.0
lastmile_relay_mast_m: float = 30.0
#: One microwave hop (two outdoor units, two antennas, installation): 0.6 m dishes (13–23 GHz) and 1.2 m dishes
#: (7–8 GHz), USD (assumption: about 2,500 per radio end, 800/1,800 per dish, 1,500 installation).
lastmile_microwave_hop_usd: dict[float, float] = {0.6: 8_000.0, 1.2: 12_000.0}
#: A 15 m mast at the village for the microwave dish, USD (assumption).
lastmile_village_mast_usd: float = 3_000.0
#: A relay on high ground: tower and civil works (Oughton's 5,000 + 5,000) and a small solar kit for two radios
#: (3,000, assumption), USD.
lastmile_relay_site_usd: float = 13_000.0
#: Yearly cost of a microwave hop: maintenance (5 % of its capex, assumption) and the licence of the frequency pair
#: (USD per hop per year, assumption).
lastmile_microwave_opex_share: float = 0.05
lastmile_microwave_licence_usd_per_year: float = 200.0
#: Satellite terminals: GEO VSAT and LEO (capex installed, USD; monthly service, USD; capacity, Mbps; assumptions
#: in the order of published 2024–2025 list prices, docs/sources.md §6).
lastmile_geo_terminal_usd: float = 3_000.0
lastmile_geo_usd_per_month: float = 400.0
lastmile_geo_capacity_mbps: float = 20.0
lastmile_leo_terminal_usd: float = 1_000.0
lastmile_leo_usd_per_month: float = 250.0
lastmile_leo_capacity_mbps: float = 100.0
#: 4G fixed wireless: an outdoor CPE (USD), the RSRP it needs (dBm, 10 dB above the −110 dBm coverage threshold),
#: its height above ground (m) and the share of a 20 MHz LTE sector it may take (Mbps); assumptions.
lastmile_fwa_cpe_usd: float = 300.0
lastmile_fwa_rsrp_dbm: float = -100.0
lastmile_fwa_height_m: float = 5.0
lastmile_fwa_capacity_mbps: float = 50.0
#: Capacity of one microwave hop: a 28 MHz channel at 256-QAM (Mbps; vendor datasheets, assumption).
lastmile_microwave_capacity_mbps: float = 180.0
# --- Infrastructure sharing and undergrounding (docs/sources.md §4, §6; `ictgis.infrastructure`) --------------------
#: BTS records this close (m) stand on one tower (co-located antennas), besides a shared ``tower`` id.
sharing_distance_m: float = 50.0
#: A new site within this distance (m) of an existing tower of another operator is put on that tower by the
#: ``share_towers`` intervention (assumption: a tower serves a cell nearly as well from a few hundred metres away).
colocation_max_distance_m: float = 500.0
#: What co-locating on an existing tower saves on a new site (USD): Oughton's tower and civil-works lines
#: (5,000 + 5,000); antennas, radios, power, transport and installation are still needed.
colocation_saving_usd: float = site_tower_usd + site_civil_usd
#: Yearly fee paid to the tower's owner for co-location (USD; assumption: the rural site rent it replaces).
colocation_rent_usd_per_year: float = site_rent_usd_per_year
#: Putting aerial fiber underground, per metre (USD) by setting: a new trench, duct and cable at Oughton's
#: underground rates (the aerial cable is not reused; recovering it is not credited) — `fiber_usd_per_m`.
underground_usd_per_m: dict[str, float] = dict(fiber_usd_per_m)
