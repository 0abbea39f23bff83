"""The map page, the indicator table, and the front-end assets installed from the npm registry."""

from __future__ import annotations

import hashlib
import mimetypes
import threading
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, g, render_template, request, url_for
from werkzeug.security import safe_join

from ictgis import maps as ictgis_maps

from . import data, mapview
from .analyses import MAP_PROVIDERS

bp = Blueprint("maps", __name__)

VENDOR_FILES = {
    "leaflet": "leaflet/dist",
    "jquery": "jquery/dist",
}
#: The vendor files the pages load (checked at start and on the map page).
VENDOR_REQUIRED = ("leaflet/dist/leaflet.js", "leaflet/dist/leaflet.css", "jquery/dist/jquery.min.js")
NAV_MARK = "<!--ictgis-nav-->"
_vendor_cache: dict[str, tuple[float, bytes, str]] = {}
_vendor_lock = threading.Lock()


def missing_vendor_files(vendor_dir: str | Path) -> list[str]:
    """Return the files of `VENDOR_REQUIRED` missing in `vendor_dir` (empty when the map can draw)."""
    return [name for name in VENDOR_REQUIRED if not (Path(vendor_dir) / name).is_file()]


def _static_url(filename: str) -> str:
    """URL of a file of web/static with its modification time, so browsers refetch it after an upgrade."""
    path = Path(current_app.static_folder) / filename
    version = int(path.stat().st_mtime) if path.exists() else 0
    return url_for("static", filename=filename, v=version)


def map_assets() -> mapview.MapAssets:
    """Local Leaflet, client script and stylesheet URLs of the map page (no CDN)."""
    return mapview.MapAssets(
        js=[("leaflet", url_for("maps.vendor", package="leaflet", filename="leaflet.js")),
            ("ictgis_map", _static_url("ictgis-map.js"))],
        css=[("leaflet_css", url_for("maps.vendor", package="leaflet", filename="leaflet.css")),
             ("ictgis_css", _static_url("ictgis.css"))],
    )


def _build_page(lang: str) -> str:
    ds = data.dataset()
    result = data.indicators()
    choropleths = list(ictgis_maps.choropleth_values(ds, result, providers=MAP_PROVIDERS))
    hill = None
    if ds.dem_path is not None:
        _png, bounds = ictgis_maps.hillshade_png(ds.dem_path, cache_dir=data.cache_dir())
        hill = (url_for("api.hillshade_png", v=data.dataset_key()), bounds)
    overlays = ictgis_maps.available_overlays(MAP_PROVIDERS)
    images = {}
    for overlay in overlays:
        if overlay.kind == "image":
            provided = MAP_PROVIDERS.overlays[overlay.key](ds)
            if provided is not None:
                images[overlay.key] = (url_for("api.overlay_png", key=overlay.key, v=data.dataset_key()), provided[1])
    fmap = mapview.province_map(
        ds, layer_url=lambda name: url_for("api.layer_geojson", name=name, v=data.dataset_key()),
        assets=map_assets(), lang=lang, hillshade=hill, overlays=overlays, image_overlays=images,
        choropleths=choropleths,
        tiles_url=current_app.config.get("TILES_URL"), tiles_attribution=current_app.config.get("TILES_ATTRIBUTION"),
        extra_config={"search_url": url_for("api.search_index", v=data.dataset_key())})
    title = render_template("map_head.html")
    return mapview.render_page(fmap, lang=lang, head_html=title, body_html=NAV_MARK)


@bp.get("/")
def index():
    """Serve the whole-province map (Vietnamese by default, ``?lang=en`` for English, ``?indicator=KEY``)."""
    lang = g.lang
    tiles = current_app.config.get("TILES_URL") or ""
    page = data.memo(f"page:{lang}:{tiles}", lambda: _build_page(lang))
    nav = render_template("map_nav.html")
    missing = missing_vendor_files(current_app.config["VENDOR_DIR"])
    if missing:
        nav += render_template("vendor_missing.html", missing=missing)
    return Response(page.replace(NAV_MARK, nav, 1), mimetype="text/html")


@bp.get("/indicators")
def indicator_table():
    """Serve the leader's indicator page: values beside targets, gaps and status; charts; the per-commune table.

    Values computed in the background (the populated-area coverage) say so until they land; the page polls
    ``/api/indicators`` and fills them in (`web.dashboard`).
    """
    from .dashboard import page_context

    return render_template("indicators.html", **page_context())


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str):
    """Serve front-end assets installed from the npm registry (offline; no CDN), gzip-able and cached."""
    if package not in VENDOR_FILES:
        abort(404)
    root = Path(current_app.config["VENDOR_DIR"]) / VENDOR_FILES[package]
    if not root.is_dir():
        abort(404, description=f"{package} is not installed with the web map: run `npm ci` in the source tree "
                               "(or install a package built after it)")
    path = safe_join(str(root), filename)
    if path is None or not Path(path).is_file():
        abort(404)
    mtime = Path(path).stat().st_mtime
    with _vendor_lock:
        cached = _vendor_cache.get(path)
    if cached is None or cached[0] != mtime:
        body = Path(path).read_bytes()
        cached = (mtime, body, hashlib.sha1(body).hexdigest()[:20])
        with _vendor_lock:
            _vendor_cache[path] = cached
    mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if mimetype == "text/javascript":
        mimetype = "application/javascript"
    resp = Response(cached[1], mimetype=mimetype)
    resp.set_etag(cached[2])
    resp.cache_control.public = True
    resp.cache_control.max_age = 86400
    return resp.make_conditional(request)
