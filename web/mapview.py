"""The map page: a Folium map whose layers the page fetches from the API, with local assets only (no CDN).

The pure parts (labels, layer GeoJSON, indicator classes and legends, hillshade) are in `ictgis.maps`; this module
builds the page from them: `province_map` adds one `RemoteGeoJson` layer per layer and GeoJSON overlay, a
`LocalImageOverlay` per image (terrain, 4G coverage), and the client configuration (`ClientConfig`) that the client
script reads before creating any layer.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import folium
from branca.element import Element, MacroElement
from jinja2 import Template

from ictgis import settings
from ictgis.coverage import RSRP_CLASSES
from ictgis.crs import to_crs
from ictgis.io import Dataset
from ictgis.maps import CHOROPLETHS, MAP_LAYERS, Overlay, labels

#: Words of the page's legend beyond `ictgis.maps.labels`: the village statuses as the legend tells them apart
#: (green is fiber *and* 4G once the 4G coverage is known), the legend button, the coverage overlay's note.
PAGE_WORDS: dict[str, dict[str, str]] = {
    "vi": {"status_fiber_4g": "Có cáp quang và sóng 4G", "status_fiber": "Có cáp quang (chưa có số liệu 4G)",
           "legend": "Chú giải", "coverage_note": "Thôn, bản có sóng 4G khi RSRP ≥ {dbm} dBm"},
    "en": {"status_fiber_4g": "On fiber and with 4G", "status_fiber": "On fiber (no 4G data yet)",
           "legend": "Legend", "coverage_note": "A village has 4G where RSRP ≥ {dbm} dBm"},
}
#: Opacity of the image overlays (the coverage legend's swatches are drawn with it).
IMAGE_OPACITY = 0.6


class RemoteGeoJson(folium.map.Layer):
    """A GeoJSON layer the page fetches from a URL (lazily when hidden); drawn by the client script.

    Parameters
    ----------
    url
        Where the GeoJSON is served.
    name
        Layer control name.
    style
        Client style name (the layer name for base layers).
    show
        Visible (and fetched) when the page opens; hidden layers are fetched when first switched on.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = ictgis.remoteLayer({{ this.spec|tojson }});
        {% endmacro %}
    """)

    def __init__(self, url: str, *, name: str, style: str, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "RemoteGeoJson"
        self.spec = {"url": url, "style": style, "name": name, "show": show}


class LocalImageOverlay(folium.map.Layer):
    """An image overlay from a URL of this server (folium's ImageOverlay reads relative URLs as files).

    Parameters
    ----------
    url
        Image URL.
    bounds
        ``[[south, west], [north, east]]`` in EPSG:4326 (the image must be in Web Mercator).
    name
        Layer control name.
    opacity
        0–1.
    show
        Visible when the page opens.
    key
        The overlay's key (`ictgis.maps.OVERLAYS`), for the client's legend.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.imageOverlay({{ this.url|tojson }}, {{ this.bounds|tojson }},
                {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, url: str, bounds: list[list[float]], *, name: str, opacity: float = 1.0, show: bool = True,
                 key: str | None = None):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "LocalImageOverlay"
        self.url = url
        self.bounds = bounds
        # "ictgis-terrain" is the pane under the vector layers that the client script creates
        self.options = {"opacity": opacity, "interactive": False, "className": "ictgis-image",
                        "pane": "ictgis-terrain", "ictgisKey": key}


class ClientConfig(MacroElement):
    """The page's client configuration, as JSON read by the client script before any layer is created."""

    _template = Template("""
        {% macro header(this, kwargs) %}
            <script id="ictgis-config" type="application/json">{{ this.config|tojson }}</script>
        {% endmacro %}
    """)

    def __init__(self, config: dict):
        super().__init__()
        self._name = "ClientConfig"
        self.config = config


@dataclass
class MapAssets:
    """Local URLs of the page's scripts and stylesheets (folium's CDN lists are replaced by these).

    Attributes
    ----------
    js, css
        ``(name, url)`` pairs, in load order; the client script must be among ``js``.
    """

    js: list[tuple[str, str]] = field(default_factory=list)
    css: list[tuple[str, str]] = field(default_factory=list)


def use_local_assets(fmap: folium.Map, assets: MapAssets) -> None:
    """Replace the CDN lists of the map and of every plugin in it by local URLs.

    Raises
    ------
    ValueError
        When an element needs an asset (by name) that has no local URL: the page would reach the internet.
    """
    local = dict(assets.js) | dict(assets.css)
    fmap.default_js = list(assets.js)
    fmap.default_css = list(assets.css)
    stack = list(fmap._children.values())
    while stack:
        element = stack.pop()
        stack.extend(getattr(element, "_children", {}).values())
        for attr in ("default_js", "default_css"):
            entries = getattr(element, attr, None)
            if not entries or element is fmap:
                continue
            missing = [name for name, url in entries if name not in local and not str(url).startswith("/")]
            if missing:
                raise ValueError(f"{type(element).__name__} needs {', '.join(missing)} with no local copy")
            setattr(element, attr, [(name, local.get(name, url)) for name, url in entries])


def province_map(dataset: Dataset, *, layer_url: Callable[[str], str], assets: MapAssets, lang: str = "vi",
                 hillshade: tuple[str, list[list[float]]] | None = None, overlays: Sequence[Overlay] = (),
                 image_overlays: Mapping[str, tuple[str, list[list[float]]]] | None = None,
                 choropleths: list[str] | None = None,
                 indicator: str | None = None, tiles_url: str | None = None, tiles_attribution: str = "",
                 extra_config: dict | None = None) -> folium.Map:
    """Build the whole-province map: a light page whose layers are fetched from `layer_url`.

    Parameters
    ----------
    dataset
        The served layers (only their extent and which layers exist are read here).
    layer_url
        Layer or overlay name → URL of its GeoJSON.
    assets
        Local Leaflet, client script and stylesheet URLs (no CDN).
    lang
        ``"vi"`` (default) or ``"en"``.
    hillshade
        ``(url, bounds)`` of the terrain image (the offline basemap), e.g. from `ictgis.maps.hillshade_png`.
    overlays
        The overlays of `ictgis.maps.OVERLAYS` that have a provider (`ictgis.maps.available_overlays`): GeoJSON
        ones become layers fetched from `layer_url`, image ones are added when they are in `image_overlays`.
    image_overlays
        Overlay key → ``(url, bounds)`` for image overlays that have data.
    choropleths
        Keys of the commune indicators available (`ictgis.maps.choropleth_values`); the first is shown unless
        `indicator`.
    tiles_url, tiles_attribution
        Online tile layer, added only when given.
    extra_config
        Merged into the client configuration (e.g. the search index URL).
    """
    lab = labels(lang) | PAGE_WORDS["en" if lang == "en" else "vi"]
    communes = to_crs(dataset["communes"][[dataset["communes"].geometry.name]], settings.display_crs)
    minx, miny, maxx, maxy = communes.total_bounds
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=9, tiles=None, control_scale=True,
                      prefer_canvas=True, zoom_snap=0.25)
    choropleths = [k for k in (choropleths or []) if k in CHOROPLETHS]
    config = {
        "lang": lang, "labels": lab,
        "indicators": [{"key": k, "label": CHOROPLETHS[k].label_en if lang == "en" else CHOROPLETHS[k].label_vi,
                        "unit": CHOROPLETHS[k].unit, "higher_is_better": CHOROPLETHS[k].higher_is_better,
                        "edges": list(CHOROPLETHS[k].edges)}
                       for k in choropleths],
        "unavailable": [{"key": k, "label": c.label_en if lang == "en" else c.label_vi}
                        for k, c in CHOROPLETHS.items() if k not in choropleths],
        "indicator": indicator if indicator in choropleths else (choropleths[0] if choropleths else None),
        **(extra_config or {}),
    }
    ClientConfig(config).add_to(fmap)
    if tiles_url:
        folium.TileLayer(tiles=tiles_url, attr=tiles_attribution or "tiles", name=lab["tiles"], overlay=False,
                         control=True).add_to(fmap)
    if hillshade is not None:
        LocalImageOverlay(hillshade[0], hillshade[1], name=lab["hillshade"]).add_to(fmap)
    preload = []
    for name, show in MAP_LAYERS:
        if dataset.get(name) is not None:
            RemoteGeoJson(layer_url(name), name=lab[name], style=name, show=show).add_to(fmap)
            if show:
                preload.append(layer_url(name))
    # start the visible layers' requests with the page, not after Leaflet has loaded and run
    fmap.get_root().header.add_child(Element("".join(
        f'<link rel="preload" href="{html.escape(url)}" as="fetch" crossorigin="anonymous">' for url in preload)))
    for overlay in overlays:
        title = overlay.label_en if lang == "en" else overlay.label_vi
        if overlay.kind == "geojson":
            RemoteGeoJson(layer_url(overlay.key), name=title, style=overlay.style, show=overlay.show).add_to(fmap)
        elif overlay.kind == "image" and image_overlays and overlay.key in image_overlays:
            url, bounds = image_overlays[overlay.key]
            LocalImageOverlay(url, bounds, name=title, opacity=IMAGE_OPACITY, show=overlay.show,
                              key=overlay.key).add_to(fmap)
            if overlay.key == "coverage_4g":
                config["coverage_legend"] = {
                    "key": overlay.key, "title": title, "opacity": IMAGE_OPACITY,
                    "threshold_dbm": settings.rsrp_threshold_dbm,
                    "classes": [[lower, list(rgba)] for lower, rgba in RSRP_CLASSES]}
    folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    use_local_assets(fmap, assets)
    return fmap


def render_page(fmap: folium.Map, *, lang: str, head_html: str = "", body_html: str = "") -> str:
    """Render a map as a full HTML page with extra markup in the head and at the top of the body."""
    root = fmap.get_root()
    if head_html:
        root.header.add_child(Element(head_html))
    if body_html:
        root.html.add_child(Element(body_html))
    page = root.render()
    return page.replace("<html>", f'<html lang="{"en" if lang == "en" else "vi"}">', 1)
