"""The map pages."""

from __future__ import annotations

from pathlib import Path

from branca.element import Element
from flask import Blueprint, Response, abort, current_app, render_template, request, send_from_directory, url_for

from ictgis import maps as ictgis_maps

from .data import dataset

bp = Blueprint("maps", __name__)

VENDOR_FILES = {
    "leaflet": "leaflet/dist",
    "jquery": "jquery/dist",
}


@bp.get("/")
def index():
    """Serve the whole-province map page (Vietnamese by default, ?lang=en for English)."""
    lang = request.args.get("lang", "vi")
    if lang not in ("vi", "en"):
        lang = "vi"
    assets = {
        "js": [("leaflet", url_for("maps.vendor", package="leaflet", filename="leaflet.js")),
               ("jquery", url_for("maps.vendor", package="jquery", filename="jquery.min.js"))],
        "css": [("leaflet_css", url_for("maps.vendor", package="leaflet", filename="leaflet.css"))],
    }
    fmap = ictgis_maps.layer_map(dataset(), lang=lang, assets=assets, tiles_url=current_app.config.get("TILES_URL"))
    header = render_template("map_header.html", lang=lang)
    fmap.get_root().html.add_child(Element(header))
    page = fmap.get_root().render()
    page = page.replace("<html>", f'<html lang="{lang}">', 1)
    return Response(page, mimetype="text/html")


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str):
    """Serve front-end assets installed from the npm registry (offline; no CDN)."""
    if package not in VENDOR_FILES:
        abort(404)
    root = Path(current_app.config["VENDOR_DIR"]) / VENDOR_FILES[package]
    return send_from_directory(root, filename, max_age=86400)
