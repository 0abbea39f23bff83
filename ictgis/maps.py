"""Maps of the planning layers for stakeholders, the pure parts: display GeoJSON, indicator classes, hillshade.

The web map (`web.mapview`) is a Folium page whose big layers are *not* embedded: the page fetches each from the
web app's ``/api/layers/<name>.geojson``, which serves `layer_geojson`: the layer simplified for display and rounded
to what the zoom needs, with the attributes of `LAYER_PROPERTIES`. Rendering (styles, popups, legends, search) is
done by the client script; popups are built from text nodes, so names never render as HTML.

What the map shows beyond the layers:

- `CHOROPLETHS`: commune indicators the map can colour by, with their legend classes (`Choropleth.edges`). A
  source is a column of the indicator contract's per-commune records (``"record:villages_fiber_pct"``), a function
  of ``(dataset, indicators)`` returning ``{commune code: value}``, or None for values the caller provides.
- `OVERLAYS`: extra layers (``kind="geojson"``: a GeoDataFrame; ``kind="image"``: ``(png_bytes, [[south, west],
  [north, east]])``).
- Village status flags beside fiber (e.g. 4G coverage): boolean Series indexed like the village layer.

Analysis results (coverage, planned fiber routes) are expensive; this module never computes them. The caller passes
them in as `MapProviders` (plain functions that answer at once, None while not available): the web app holds
them in its background caches (`web.analyses`).

Everything is reprojected to EPSG:4326 with the pinned VN-2000 transformation only here, for display.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import settings
from ._files import atomic_path, write_text
from .crs import to_crs
from .indicators import site_technologies
from .io import Dataset
from .labels import FIELDS, HEADINGS, Label
from .layers import SCHEMAS, fold

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------------------ labels
#: Layers the map names: Vietnamese names from the layer schemas, English ones here.
LAYER_NAMES_EN: dict[str, str] = {
    "communes": "Communes", "villages": "Villages", "bts_sites": "BTS sites", "fiber_routes": "Fiber routes",
    "post_offices": "Post offices", "roads": "Roads", "districts": "Districts",
}
#: Layer attributes shown in popups (their labels: `ictgis.labels.FIELDS`).
POPUP_FIELDS = ("population", "households", "fiber", "operator", "tech", "power", "kind", "code", "name", "district",
                "commune", "height_m", "band_mhz", "install", "road_class", "area_km2", "radio")
#: Words of the map itself: values of the layers' enumerations, status classes, controls.
MAP_WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "hillshade": "Địa hình (bóng đổ)", "tiles": "Bản đồ nền trực tuyến", "g4": "Sóng 4G", "yes": "Có",
        "no": "Chưa", "unknown": "Chưa rõ", "best": "Công nghệ cao nhất", "status": "Tình trạng",
        "status_ok": "Có cáp quang", "status_no_fiber": "Chưa có cáp quang", "status_no_4g": "Chưa có sóng 4G",
        "status_both": "Chưa có cáp quang và 4G", "diesel_site": "Trạm chạy máy phát diesel",
        "grid": "Điện lưới", "diesel": "Máy phát diesel", "solar": "Năng lượng mặt trời",
        "backbone": "Trục", "distribution": "Phân phối", "access": "Truy nhập", "aerial": "Cáp treo",
        "underground": "Cáp ngầm", "xa": "Xã", "phuong": "Phường", "thi_tran": "Thị trấn",
        "cap1": "Bưu cục cấp I", "cap2": "Bưu cục cấp II", "cap3": "Bưu cục cấp III", "kt1": "Bưu cục KT1",
        "large_cust": "Bưu cục khách hàng lớn", "letterbox": "Hộp thư công cộng", "bdvhx": "Điểm BĐVHX",
        "other": "Khác", "national": "Quốc lộ", "provincial": "Tỉnh lộ", "track": "Đường mòn",
        "no_data": "Không có số liệu", "not_available": "chưa có",
        "village": "Thôn, bản",
    },
    "en": {
        "hillshade": "Terrain (hillshade)", "tiles": "Online basemap", "g4": "4G signal", "yes": "Yes", "no": "No",
        "unknown": "Unknown", "best": "Best technology", "status": "Status", "status_ok": "On fiber",
        "status_no_fiber": "No fiber", "status_no_4g": "No 4G", "status_both": "No fiber and no 4G",
        "diesel_site": "Site on diesel generator", "grid": "Grid", "diesel": "Diesel", "solar": "Solar",
        "backbone": "Backbone", "distribution": "Distribution", "access": "Access", "aerial": "Aerial",
        "underground": "Underground", "xa": "Rural commune (xã)", "phuong": "Ward (phường)",
        "thi_tran": "Town (thị trấn)", "cap1": "Post office class I", "cap2": "Post office class II",
        "cap3": "Post office class III", "kt1": "KT1 post office", "large_cust": "Large-customer post office",
        "letterbox": "Public letterbox", "bdvhx": "Commune cultural post office (BĐVHX)", "other": "Other",
        "national": "National road", "provincial": "Provincial road", "track": "Track", "no_data": "No data",
        "not_available": "not available yet", "village": "Village",
    },
}


def _label_table(lang: str) -> dict[str, str]:
    names = {k: (en if lang == "en" else SCHEMAS[k].label_vi) for k, en in LAYER_NAMES_EN.items()}
    return (names | {k: FIELDS[k].heading(lang) for k in POPUP_FIELDS} | MAP_WORDS[lang]
            | {"indicator": HEADINGS["indicator"].text(lang)})


#: The map's label table by language: layer names, popup fields (`ictgis.labels.FIELDS`), `MAP_WORDS`.
LABELS: dict[str, dict[str, str]] = {lang: _label_table(lang) for lang in ("vi", "en")}


def labels(lang: str) -> dict[str, str]:
    """Return the label table of a language (Vietnamese for anything but ``"en"``)."""
    return LABELS["en" if lang == "en" else "vi"]


# ------------------------------------------------------------------------------------ indicators, overlays
#: A choropleth source: a column of the indicator records (``"record:<column>"``), a function of
#: ``(dataset, indicators)``, or None for values the caller provides (`MapProviders.choropleths`).
Source = str | Callable[[Dataset, dict], Mapping[str, Any] | None] | None


@dataclass(frozen=True)
class Choropleth:
    """A commune indicator the map can colour communes by.

    Parameters
    ----------
    key
        Property name in the commune GeoJSON (``ind_<key>``) and in the page's indicator selector; its selector and
        legend title and unit are the column's label in `ictgis.labels.FIELDS` (`label_vi`, `label_en`, `unit`).
    source
        ``"record:<column>"`` of `ictgis.indicators.compute`'s per-commune records, a function
        ``(dataset, indicators) -> {code: value}``, or None: the values come from the caller's provider of the
        same key (`MapProviders.choropleths`), e.g. results the web app computes in the background.
    higher_is_better
        Direction of the colour ramp (dark = worse).
    decimals
        Rounding of the values sent to the page.
    edges
        Fixed class edges, increasing (at most 4: five classes ``< e0``, ``[e0, e1)`` … ``>= e_last``), chosen so
        that a class boundary is a norm or a target a stakeholder knows (e.g. QCVN's 3 km postal radius); a last
        edge of 100 on a percentage gives "100 %" a class of its own. Empty: quantile classes of the values.
    """

    key: str
    source: Source = None
    higher_is_better: bool = True
    decimals: int = 1
    edges: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.key not in FIELDS:
            raise ValueError(f"{self.key}: no label in ictgis.labels.FIELDS")
        if len(self.edges) > 4 or any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError(f"{self.key}: edges must be increasing, at most 4, got {self.edges}")

    @property
    def label(self) -> Label:
        """The indicator's label (`ictgis.labels.FIELDS`)."""
        return FIELDS[self.key]

    @property
    def label_vi(self) -> str:
        """Vietnamese selector and legend title."""
        return self.label.vi

    @property
    def label_en(self) -> str:
        """English selector and legend title."""
        return self.label.text("en")

    @property
    def unit(self) -> str:
        """Unit shown in the legend."""
        return self.label.unit


@dataclass(frozen=True)
class Overlay:
    """An extra map layer whose data an analysis provides (`MapProviders.overlays`).

    Parameters
    ----------
    key
        URL-safe name.
    label_vi, label_en
        Layer control names.
    kind
        ``"geojson"`` (the provider returns a GeoDataFrame in any CRS, or None) or ``"image"`` (the provider returns
        ``(png_bytes, [[south, west], [north, east]])`` in EPSG:4326, or None).
    style
        Name of the client style for GeoJSON overlays (``"fiber_planned"``, ``"line"``, ``"point"``).
    properties
        Attributes kept for popups (GeoJSON overlays).
    show
        Shown when the page opens.
    """

    key: str
    label_vi: str
    label_en: str
    kind: str
    style: str = "line"
    properties: tuple[str, ...] = ()
    show: bool = False


@dataclass(frozen=True)
class MapProviders:
    """Values of the map that this module does not compute: analysis results the caller holds (cheap to call).

    Each provider answers at once, with None while its result is not available (the web app computes them in the
    background, `web.analyses`).

    Attributes
    ----------
    choropleths
        `CHOROPLETHS` key (of an indicator whose ``source`` is None) → ``(dataset, indicators) -> {code: value}``.
    overlays
        `OVERLAYS` key → ``(dataset) -> GeoDataFrame`` (GeoJSON overlays) or ``(dataset) -> (png, bounds)``
        (image overlays).
    village_status
        Village flag name (e.g. ``"g4"``, a label of `LABELS`) → ``(dataset) -> boolean Series`` indexed like the
        village layer.
    """

    choropleths: Mapping[str, Callable[[Dataset, dict], Mapping[str, Any] | None]] = field(default_factory=dict)
    overlays: Mapping[str, Callable[[Dataset], Any]] = field(default_factory=dict)
    village_status: Mapping[str, Callable[[Dataset], pd.Series | None]] = field(default_factory=dict)


NO_PROVIDERS = MapProviders()


def _density(dataset: Dataset, result: dict) -> dict[str, float | None]:
    return {r["code"]: (r["population"] / r["area_km2"] if r.get("population") is not None and r.get("area_km2")
                        else None) for r in result["communes"]}


#: The commune indicators of the map, in the order of the page's selector (the first available is shown).
CHOROPLETHS: dict[str, Choropleth] = {ind.key: ind for ind in (
    Choropleth("villages_fiber_pct", "record:villages_fiber_pct", edges=(50.0, 80.0, 95.0, 100.0)),
    # provided: the coverage of `ictgis.coverage.compute`
    Choropleth("populated_area_4g_pct", None, edges=(50.0, 80.0, 95.0, 100.0)),
    # QCVN 1:2008/BTTTT: R <= 3 km and <= 8,000 people per point (docs/sources.md §3.1)
    Choropleth("postal_radius_km", "record:postal_radius_km", higher_is_better=False, decimals=2,
               edges=(2.0, 3.0, 5.0, 8.0)),
    Choropleth("people_per_point", "record:people_per_point", higher_is_better=False, decimals=0,
               edges=(2_000.0, 4_000.0, 8_000.0, 16_000.0)),
    Choropleth("density", _density, decimals=1),
)}
#: The overlays of the map (their data: `MapProviders.overlays`).
OVERLAYS: dict[str, Overlay] = {o.key: o for o in (
    Overlay("coverage_4g", "Vùng phủ sóng 4G (máy chủ tốt nhất)", "4G best-server coverage", "image"),
    Overlay("fiber_planned", "Tuyến cáp quang dự kiến", "Planned fiber routes", "geojson", style="fiber_planned",
            properties=("id", "kind", "length_km", "cost_vnd", "villages")),
    # provided: `ictgis.lastmile.map_layer` (villages by cheapest technology, microwave hops, fiber used)
    Overlay("lastmile", "Kết nối dặm cuối (công nghệ rẻ nhất)", "Last mile (cheapest technology)", "geojson",
            style="lastmile", properties=("id", "name", "technology", "households", "npv_vnd", "from_id", "to_id",
                                          "freq_ghz", "clearance_pct", "margin_db", "villages", "cost_vnd")),
)}


def choropleth_values(dataset: Dataset, result: dict, *, providers: MapProviders = NO_PROVIDERS
                      ) -> dict[str, dict[str, float | None]]:
    """Return ``{indicator key: {commune code: value}}`` for every indicator available on this dataset.

    Parameters
    ----------
    dataset
        The served layers.
    result
        `ictgis.indicators.compute` of the dataset (2019 structure: one record per commune polygon).
    providers
        Values of the indicators whose source is None; an indicator without provider, or whose provider gives
        None or only missing values, is left out.
    """
    out: dict[str, dict[str, float | None]] = {}
    for key, ind in CHOROPLETHS.items():
        if isinstance(ind.source, str) and ind.source.startswith("record:"):
            column = ind.source.split(":", 1)[1]
            values = {r["code"]: r.get(column) for r in result["communes"]}
        else:
            func = ind.source if callable(ind.source) else providers.choropleths.get(key)
            if func is None:
                continue
            values = dict(func(dataset, result) or {})
        clean = {str(k): (None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v),
                          ind.decimals)) for k, v in values.items()}
        if any(v is not None for v in clean.values()):
            out[key] = clean
    return out


def available_overlays(providers: MapProviders) -> list[Overlay]:
    """Return the overlays that have a provider (their data may still be None for a dataset), in `OVERLAYS` order."""
    return [o for key, o in OVERLAYS.items() if key in providers.overlays]


# ---------------------------------------------------------------------------------------- layer GeoJSON
LAYER_PROPERTIES: dict[str, tuple[str, ...]] = {
    "communes": ("code", "name", "kind", "district", "population", "households", "radio"),
    "districts": ("code", "name"),
    "villages": ("id", "name", "commune", "population", "households", "fiber", "poor"),
    "bts_sites": ("id", "operator", "tech", "power", "height_m", "band_mhz"),
    "fiber_routes": ("id", "kind", "install", "operator"),
    "post_offices": ("id", "name", "kind", "commune"),
    "roads": ("road_class", "name"),
}
# Layers the map shows, in drawing order (bottom first), with whether they are visible when the page opens.
MAP_LAYERS: tuple[tuple[str, bool], ...] = (
    ("communes", True), ("roads", False), ("fiber_routes", True), ("villages", True), ("post_offices", False),
    ("bts_sites", False),
)
DEFAULT_ZOOM = 12
# Point layers do not need simplifying; lines and polygons are simplified to half a pixel at the requested zoom.
POINT_LAYERS = frozenset({"villages", "bts_sites", "post_offices"})


def zoom_precision(zoom: int, *, latitude: float = 21.5) -> tuple[int, float]:
    """Return (decimals of degrees, simplification tolerance in metres) that a Web Mercator zoom level needs.

    Half a screen pixel is the target: coordinates rounded finer and vertices closer than that are invisible.

    Examples
    --------
    >>> zoom_precision(12)
    (4, 17.8)
    """
    zoom = int(min(max(zoom, 0), 20))
    pixel_deg = 360.0 / (256 * 2**zoom)
    decimals = int(min(max(math.ceil(-math.log10(pixel_deg / 2)), 1), 7))
    pixel_m = 40_075_016.7 * math.cos(math.radians(latitude)) / (256 * 2**zoom)
    return decimals, round(pixel_m / 2, 1)


def _commune_names(dataset: Dataset) -> dict[str, str]:
    communes = dataset["communes"]
    return dict(zip(communes["code"].astype(str), communes["name"].astype(str), strict=True))


def _plain(value: Any) -> Any:
    """Return a JSON-ready scalar (None for missing values)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return str(value)


def display_layer(dataset: Dataset, name: str, *, indicators: dict | None = None,
                  providers: MapProviders = NO_PROVIDERS) -> gpd.GeoDataFrame | None:
    """Return a layer (working CRS) with the attributes the map shows; None when the dataset has no such layer.

    Commune codes of point layers are replaced by commune names (what a stakeholder reads); the commune layer
    gains one ``ind_<key>`` column per available choropleth indicator; villages gain status flags (``g4`` …)
    from the ``village_status`` providers that have data; BTS sites gain ``best`` (highest technology).
    """
    frame = dataset.get(name)
    if frame is None:
        return None
    keep = [c for c in LAYER_PROPERTIES.get(name, ()) if c in frame.columns]
    out = frame[[*keep, frame.geometry.name]].copy()
    if name in ("villages", "post_offices") and "commune" in out:
        names = _commune_names(dataset)
        out["commune"] = out["commune"].astype(object).map(lambda c: names.get(str(c), c) if c is not None else None)
    if name == "communes" and indicators is not None:
        for key, values in choropleth_values(dataset, indicators, providers=providers).items():
            out[f"ind_{key}"] = out["code"].astype(str).map(values).astype(object)
    if name == "villages":
        for key, func in providers.village_status.items():
            flags = func(dataset)
            if flags is not None:
                out[key] = pd.Series(flags, index=frame.index).astype(object)
    if name == "bts_sites":
        tech = site_technologies(frame)
        out["best"] = np.select([tech["5G"], tech["4G"], tech["3G"]], ["5G", "4G", "3G"], "2G")
    return out


def frame_geojson(frame: gpd.GeoDataFrame, *, decimals: int = 5, tolerance_m: float = 0.0) -> str:
    """Serialise a layer as compact GeoJSON in EPSG:4326: simplified (metres, in its CRS), coordinates rounded.

    Every feature of the layer is kept, in order, and every geometry sent is valid: coordinates are snapped to the
    grid of `decimals` with GEOS's precision reducer, which keeps polygons valid and drops the rings and lines
    that collapse on that grid. A geometry that collapses entirely (a commune smaller than the grid) keeps its
    feature and properties with ``"geometry": null`` (Leaflet draws nothing for it).

    Parameters
    ----------
    frame
        Layer in a projected CRS (the working CRS) or EPSG:4326.
    decimals
        Decimals of degrees kept (5 ≈ 1 m).
    tolerance_m
        Douglas–Peucker tolerance in metres (0: none); topology of each geometry is preserved.
    """
    geoms = np.asarray(frame.geometry.values, dtype=object)
    if tolerance_m > 0 and frame.crs is not None and frame.crs.is_projected:
        geoms = shapely.simplify(geoms, tolerance_m, preserve_topology=True)
    projected = to_crs(gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms, crs=frame.crs)), settings.display_crs)
    geoms = np.asarray(projected.geometry.values, dtype=object)
    # Rounding each coordinate alone breaks small rings ("Invalid number of points in LinearRing") and makes
    # self-intersecting polygons; the precision reducer snaps to the same grid with a valid result.
    geoms = shapely.set_precision(geoms, 10.0 ** -decimals, mode="valid_output")
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, decimals))  # exact decimals in the text
    geoms[shapely.is_empty(geoms)] = None
    texts = shapely.to_geojson(geoms)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    records = frame[columns].astype(object).to_dict("records")
    parts = []
    for text, rec in zip(texts, records, strict=True):
        props = json.dumps({k: _plain(v) for k, v in rec.items()}, ensure_ascii=False, separators=(",", ":"))
        parts.append(f'{{"type":"Feature","properties":{props},"geometry":{text or "null"}}}')
    return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}"


def layer_geojson(dataset: Dataset, name: str, *, zoom: int = DEFAULT_ZOOM, decimals: int | None = None,
                  indicators: dict | None = None, providers: MapProviders = NO_PROVIDERS) -> str | None:
    """Return a layer (or a GeoJSON overlay) as display GeoJSON for a zoom level; None when there is none.

    Parameters
    ----------
    dataset
        The served layers.
    name
        A layer name (``communes``, ``villages`` …) or the key of a ``geojson`` overlay.
    zoom
        Web Mercator zoom the data is for: sets the rounding and the simplification (`zoom_precision`).
    decimals
        Overrides the rounding given by the zoom.
    indicators
        `ictgis.indicators.compute` result, to attach the choropleth values to communes.
    providers
        Analysis results: provided choropleths, village flags and the data of GeoJSON overlays (an overlay
        without provider is not a layer: None).
    """
    auto_decimals, tolerance = zoom_precision(zoom)
    if decimals is None:
        decimals = max(auto_decimals, 5) if name in POINT_LAYERS else auto_decimals
    decimals = int(min(max(decimals, 1), 7))
    if name in LAYER_PROPERTIES:
        frame = display_layer(dataset, name, indicators=indicators, providers=providers)
    elif name in OVERLAYS and OVERLAYS[name].kind == "geojson" and name in providers.overlays:
        frame = providers.overlays[name](dataset)
        if frame is None:  # still being computed in the background (or no data): an empty layer for now
            return json.dumps({"type": "FeatureCollection", "features": []})
        keep = [c for c in OVERLAYS[name].properties if c in frame.columns]
        frame = frame[[*keep, frame.geometry.name]]
    else:
        return None
    if frame is None:
        return None
    return frame_geojson(frame, decimals=decimals, tolerance_m=0.0 if name in POINT_LAYERS else tolerance)


# ------------------------------------------------------------------------------------------------ search
def search_index(dataset: Dataset, *, decimals: int = 4) -> list[list]:
    """Return the client-side search index: ``[name, kind, context, lat, lon, folded name]`` per entry.

    Communes, districts (when known) and villages; `ictgis.layers.fold` gives the folded name, and the client
    folds the query the same way, so "Muong Nhe" finds "Mường Nhé".
    """
    entries: list[list] = []
    communes = dataset["communes"]
    points = to_crs(gpd.GeoDataFrame(communes[["name"]].copy(), geometry=communes.geometry.representative_point(),
                                     crs=communes.crs), settings.display_crs)
    districts = communes["district"] if "district" in communes else pd.Series([None] * len(communes),
                                                                              index=communes.index)
    for name, district, geom in zip(points["name"], districts, points.geometry, strict=True):
        entries.append([str(name), "commune", _plain(district) or "", round(geom.y, decimals), round(geom.x, decimals)])
    if "district" in communes and communes["district"].notna().any():
        merged = communes[communes["district"].notna()].dissolve(by="district")
        reps = to_crs(gpd.GeoDataFrame(geometry=merged.geometry.representative_point(), crs=communes.crs),
                      settings.display_crs)
        for name, geom in zip(merged.index, reps.geometry, strict=True):
            entries.append([str(name), "district", "", round(geom.y, decimals), round(geom.x, decimals)])
    villages = dataset.get("villages")
    if villages is not None:
        names = _commune_names(dataset)
        vpts = to_crs(villages[["name", "commune", villages.geometry.name]], settings.display_crs)
        for name, code, geom in zip(vpts["name"], vpts["commune"], vpts.geometry, strict=True):
            entries.append([str(name), "village", names.get(str(code), ""), round(geom.y, decimals),
                            round(geom.x, decimals)])
    for entry in entries:
        entry.append(fold(entry[0]))
    return entries


# --------------------------------------------------------------------------------------------- hillshade
def hillshade(dem: np.ndarray, *, cellsize_m: float, azimuth_deg: float = 315.0, altitude_deg: float = 45.0,
              z_factor: float = 1.0) -> np.ndarray:
    """Return the hillshade of a DEM (0–255, NaN where the DEM is NaN), Horn's slope as in gdaldem.

    Parameters
    ----------
    dem
        Elevations (m), rows north to south; NaN for nodata.
    cellsize_m
        Cell size in metres.
    azimuth_deg, altitude_deg
        Direction and height of the light source.
    z_factor
        Vertical exaggeration.

    Examples
    --------
    >>> flat = np.zeros((3, 3))
    >>> int(hillshade(flat, cellsize_m=30)[1, 1])  # 255 * sin(45°)
    180
    """
    z = np.pad(np.asarray(dem, dtype="float64"), 1, mode="edge")
    dzdx = ((z[:-2, 2:] + 2 * z[1:-1, 2:] + z[2:, 2:]) - (z[:-2, :-2] + 2 * z[1:-1, :-2] + z[2:, :-2])) / (
        8 * cellsize_m)
    dzdy = ((z[2:, :-2] + 2 * z[2:, 1:-1] + z[2:, 2:]) - (z[:-2, :-2] + 2 * z[:-2, 1:-1] + z[:-2, 2:])) / (
        8 * cellsize_m)
    slope = np.arctan(z_factor * np.hypot(dzdx, dzdy))
    aspect = np.arctan2(dzdy, -dzdx)
    zenith = math.radians(90.0 - altitude_deg)
    azimuth = math.radians((360.0 - azimuth_deg + 90.0) % 360.0)
    shade = np.cos(zenith) * np.cos(slope) + np.sin(zenith) * np.sin(slope) * np.cos(azimuth - aspect)
    return np.clip(255.0 * shade, 0, 255)


def _bounds(transform, width: int, height: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a north-up grid."""
    xs = (transform.c, transform.c + transform.a * width)
    ys = (transform.f, transform.f + transform.e * height)
    return min(xs), min(ys), max(xs), max(ys)


def hillshade_png(dem_path: str | Path, *, cache_dir: str | Path | None = None, max_px: int = 1000
                  ) -> tuple[bytes, list[list[float]]]:
    """Return a light hillshade of the DEM as a PNG in Web Mercator, and its ``[[south, west], [north, east]]``.

    The image lines up with Leaflet's projection (EPSG:3857), so an ImageOverlay places it exactly. The PNG is
    grey with transparency outside the DEM; it is cached in ``cache_dir`` by DEM path, size and modification time.

    Parameters
    ----------
    dem_path
        GeoTIFF with a CRS.
    cache_dir
        Folder for the cached PNG and bounds (none: computed each call).
    max_px
        Longest side of the image in pixels.
    """
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.warp import reproject, transform_bounds

    from .rasterpng import encode_png

    dem_path = Path(dem_path)
    stat = dem_path.stat()
    digest = hashlib.sha1(f"{dem_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{max_px}|v2".encode()).hexdigest()
    cached = Path(cache_dir) / f"hillshade-{digest[:16]}.png" if cache_dir else None
    if cached is not None and cached.exists() and cached.with_suffix(".json").exists():
        return cached.read_bytes(), json.loads(cached.with_suffix(".json").read_text(encoding="utf-8"))
    with rasterio.open(dem_path) as src:
        scale = max(src.width, src.height) / max_px
        out_w, out_h = max(int(src.width / max(scale, 1)), 2), max(int(src.height / max(scale, 1)), 2)
        dem = src.read(1, out_shape=(out_h, out_w), resampling=Resampling.average, masked=True).astype("float64")
        dem = dem.filled(np.nan)
        transform = src.transform @ src.transform.scale(src.width / out_w, src.height / out_h)
        cell = abs(transform.a) if src.crs.is_projected else abs(transform.a) * 111_320.0
        shade = hillshade(dem, cellsize_m=cell, z_factor=1.5)
        # light: map 0–255 to 150–255 so the layers on top stay readable
        # white (not black) under nodata, so the resampled edge fades to white
        grey = np.where(np.isnan(dem), 255, 150 + shade * (105 / 255)).astype("float32")
        alpha = np.where(np.isnan(dem), 0, 255).astype("float32")
        dst_crs = "EPSG:3857"
        west, south, east, north = transform_bounds(src.crs, dst_crs, *_bounds(transform, out_w, out_h),
                                                    densify_pts=21)
        res = max(east - west, north - south) / max(out_w, out_h)
        width, height = math.ceil((east - west) / res), math.ceil((north - south) / res)
        dst_transform = Affine(res, 0.0, west, 0.0, -res, north)
        bands = np.zeros((2, height, width), dtype="float32")
        for i, band in enumerate((grey, alpha)):
            reproject(band, bands[i], src_transform=transform, src_crs=src.crs, dst_transform=dst_transform,
                      dst_crs=dst_crs, resampling=Resampling.bilinear, src_nodata=None, dst_nodata=0)
    west, south, east, north = transform_bounds(dst_crs, "EPSG:4326", *_bounds(dst_transform, width, height))
    data = encode_png(np.clip(np.nan_to_num(bands, nan=0.0), 0, 255).round().astype("uint8"))
    bounds = [[round(south, 6), round(west, 6)], [round(north, 6), round(east, 6)]]
    if cached is not None:
        # Atomic writes, the PNG before its bounds: web requests compute this at once in several threads, and a
        # reader must never see a half-written file (it checks that both exist, then reads both).
        with atomic_path(cached) as tmp:
            tmp.write_bytes(data)
        write_text(cached.with_suffix(".json"), json.dumps(bounds))
    return data, bounds
