"""Folium maps of the planning layers, light and offline-capable.

Geometries are simplified for display and coordinates rounded (5 decimals ≈ 1 m) before they go into the page;
Leaflet and jQuery URLs are given by the caller (the web app serves them locally), so no CDN is ever referenced.
Everything is reprojected to EPSG:4326 with the pinned VN-2000 transformation only here, for display.
"""

from __future__ import annotations

import html
import json
import logging

import folium
import geopandas as gpd
import numpy as np
import shapely

from . import settings
from .crs import to_crs
from .indicators import site_technologies
from .io import Dataset

logger = logging.getLogger(__name__)

LABELS = {
    "vi": {"communes": "Xã, phường, thị trấn", "villages": "Thôn, bản", "bts_sites": "Trạm BTS",
           "fiber_routes": "Tuyến cáp quang", "post_offices": "Điểm bưu chính", "roads": "Đường giao thông",
           "population": "Dân số", "fiber": "Cáp quang", "yes": "Có", "no": "Chưa", "operator": "Nhà mạng",
           "tech": "Công nghệ", "power": "Nguồn điện", "kind": "Loại", "code": "Mã", "name": "Tên",
           "district": "Huyện", "households": "Số hộ", "commune": "Xã", "height_m": "Độ cao anten (m)"},
    "en": {"communes": "Communes", "villages": "Villages", "bts_sites": "BTS sites", "fiber_routes": "Fiber routes",
           "post_offices": "Post offices", "roads": "Roads", "population": "Population", "fiber": "Fiber",
           "yes": "Yes", "no": "No", "operator": "Operator", "tech": "Technologies", "power": "Power",
           "kind": "Kind", "code": "Code", "name": "Name", "district": "District", "households": "Households",
           "commune": "Commune", "height_m": "Antenna height (m)"},
}

DEFAULT_ASSETS = {
    "js": [("leaflet", "/static/vendor/leaflet/leaflet.js"), ("jquery", "/static/vendor/jquery/jquery.min.js")],
    "css": [("leaflet_css", "/static/vendor/leaflet/leaflet.css")],
}


def display_frame(frame: gpd.GeoDataFrame, *, tolerance_m: float = 0.0, columns: list[str] | None = None,
                  decimals: int = 5) -> gpd.GeoDataFrame:
    """Return a copy for display: chosen columns, simplified (in metres), in EPSG:4326, coordinates rounded."""
    keep = [c for c in (columns or []) if c in frame.columns]
    out = frame[[*keep, frame.geometry.name]].copy()
    if tolerance_m > 0:
        out = out.set_geometry(out.geometry.simplify(tolerance_m, preserve_topology=True))
    out = to_crs(out, settings.display_crs)
    geoms = shapely.set_precision(np.asarray(out.geometry.values, dtype=object), 10.0 ** -decimals)
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))
    for c in keep:
        if str(out[c].dtype) in ("boolean", "Int64", "Float64"):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def _popup(fields: list[str], labels: dict) -> folium.GeoJsonPopup:
    return folium.GeoJsonPopup(fields=fields, aliases=[labels.get(f, f) for f in fields], localize=True,
                               labels=True)


def layer_map(dataset: Dataset, *, lang: str = "vi", assets: dict | None = None, tiles_url: str | None = None,
              tiles_attribution: str = "") -> folium.Map:
    """Build a Folium map of the dataset's layers with a layer control and popups.

    Parameters
    ----------
    dataset
        Layers from `ictgis.io.load`.
    lang
        ``"vi"`` (default) or ``"en"`` for labels.
    assets
        ``{"js": [(name, url)], "css": [(name, url)]}`` replacing folium's CDN lists (default: local
        ``/static/vendor`` URLs).
    tiles_url
        Optional online tile layer; without it the map works fully offline.
    """
    labels = LABELS.get(lang, LABELS["vi"])
    assets = assets or DEFAULT_ASSETS
    communes = display_frame(dataset["communes"], tolerance_m=100.0,
                             columns=["code", "name", "kind", "district", "population", "households"])
    minx, miny, maxx, maxy = communes.total_bounds
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=8, tiles=None,
                      control_scale=True, prefer_canvas=True)
    fmap.default_js = list(assets["js"])
    fmap.default_css = list(assets["css"])
    if tiles_url:
        folium.TileLayer(tiles=tiles_url, attr=tiles_attribution or "tiles", name="Basemap").add_to(fmap)
    _escape_text(communes)
    pop = communes["population"].astype(float)
    density = pop / (dataset["communes"].geometry.area.to_numpy() / 1e6)
    communes["density"] = density.round(1)
    bins = np.nanquantile(density, [0, 0.2, 0.4, 0.6, 0.8, 1.0]) if len(communes) > 4 else [0, np.inf]
    colors = ["#fff7ec", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"]

    def commune_style(feature):
        d = feature["properties"].get("density") or 0
        idx = int(np.clip(np.searchsorted(bins, d, side="right") - 1, 0, len(colors) - 1))
        return {"fillColor": colors[idx], "color": "#555", "weight": 0.8, "fillOpacity": 0.45}

    fields = [c for c in ("name", "kind", "district", "population", "households", "code") if c in communes]
    folium.GeoJson(json.loads(communes.to_json(drop_id=True)), name=labels["communes"], style_function=commune_style,
                   highlight_function=lambda f: {"weight": 2.5, "color": "#000"},
                   popup=_popup(fields, labels), tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
                   ).add_to(fmap)
    if dataset.get("roads") is not None:
        roads = display_frame(dataset["roads"], tolerance_m=50.0, columns=["road_class", "name"])
        widths = {"national": 3, "provincial": 2.2, "district": 1.6, "commune": 1.2, "track": 0.8}
        folium.GeoJson(json.loads(roads.to_json(drop_id=True)), name=labels["roads"], show=False,
                       style_function=lambda f: {"color": "#8c6d31", "weight": widths.get(
                           f["properties"].get("road_class"), 1)}).add_to(fmap)
    if dataset.get("fiber_routes") is not None:
        fiber = display_frame(dataset["fiber_routes"], tolerance_m=30.0, columns=["id", "kind", "install"])
        folium.GeoJson(json.loads(fiber.to_json(drop_id=True)), name=labels["fiber_routes"],
                       style_function=lambda f: {"color": "#6a3d9a", "weight": 2.5 if f["properties"].get(
                           "kind") == "backbone" else 1.5}).add_to(fmap)
    if dataset.get("villages") is not None:
        villages = display_frame(dataset["villages"], columns=["id", "name", "commune", "population", "households",
                                                               "fiber"])
        _escape_text(villages)
        vfields = [c for c in ("name", "population", "households", "fiber", "commune") if c in villages]
        folium.GeoJson(json.loads(villages.to_json(drop_id=True)), name=labels["villages"],
                       marker=folium.CircleMarker(radius=3, weight=1, fill=True, fill_opacity=0.9),
                       style_function=lambda f: {"color": "#1a9850" if f["properties"].get("fiber") else "#d73027",
                                                 "fillColor": "#1a9850" if f["properties"].get("fiber") else "#d73027"},
                       popup=_popup(vfields, labels)).add_to(fmap)
    if dataset.get("bts_sites") is not None:
        bts = dataset["bts_sites"].copy()
        tech = site_technologies(bts)
        bts["best"] = np.select([tech["5G"], tech["4G"], tech["3G"]], ["5G", "4G", "3G"], "2G")
        sites = display_frame(bts, columns=["id", "operator", "tech", "power", "height_m", "best"])
        _escape_text(sites)
        palette = {"5G": "#08306b", "4G": "#2171b5", "3G": "#6baed6", "2G": "#bdbdbd"}
        folium.GeoJson(json.loads(sites.to_json(drop_id=True)), name=labels["bts_sites"], show=False,
                       marker=folium.CircleMarker(radius=4, weight=1.5, fill=True, fill_opacity=0.9),
                       style_function=lambda f: {"fillColor": palette.get(f["properties"]["best"], "#999"),
                                                 "color": "#000" if f["properties"].get("power") == "diesel"
                                                 else "#fff"},
                       popup=_popup(["id", "operator", "tech", "power", "height_m"], labels)).add_to(fmap)
    if dataset.get("post_offices") is not None:
        po = display_frame(dataset["post_offices"], columns=["id", "name", "kind", "commune"])
        _escape_text(po)
        folium.GeoJson(json.loads(po.to_json(drop_id=True)), name=labels["post_offices"],
                       marker=folium.CircleMarker(radius=5, weight=1, fill=True, fill_opacity=1.0),
                       style_function=lambda f: {"fillColor": "#fdae61" if f["properties"]["kind"] == "bdvhx"
                                                 else "#e6550d", "color": "#333"},
                       popup=_popup(["name", "kind"], labels)).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    return fmap


def _escape_text(frame: gpd.GeoDataFrame) -> None:
    """Escape HTML in text attributes in place (popups render HTML; names must render as text)."""
    for column in frame.columns:
        if column != frame.geometry.name and frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: html.escape(v) if isinstance(v, str) else v)
