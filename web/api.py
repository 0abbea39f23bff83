"""JSON API: the indicator contract, the layers as display GeoJSON, the search index, scenarios and runs.

Every error is JSON (``{"error", "message"[, "problems"]}``): unknown names 404, bad parameters 400,
IctgisError its ``http_status`` with the problem list.
"""

from __future__ import annotations

import hashlib
import json

from flask import Blueprint, Response, abort, jsonify, request, url_for

from ictgis import maps
from ictgis.layers import SCHEMAS

from . import data, jobs, scenarios
from .analyses import MAP_PROVIDERS, coverage_errors
from .auth import login_required
from .i18n import run_message, t
from .paths import public_fields

bp = Blueprint("api", __name__, url_prefix="/api")


def _int_arg(name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, description=f"{name} must be a whole number from {lo} to {hi}")
    if not lo <= value <= hi:
        abort(400, description=f"{name} must be from {lo} to {hi}")
    return value


def cached_response(key: str, build, *, mimetype: str = "application/json") -> Response:
    """Return `build()` with a weak ETag of the dataset state and `key`; 304 when the client has it already."""
    etag = hashlib.sha1(f"{data.dataset_key()}|{key}".encode()).hexdigest()[:20]
    if request.if_none_match.contains_weak(etag):
        resp = Response(status=304)
        resp.set_etag(etag, weak=True)
        return resp
    body = data.memo(f"response:{key}", build)
    if body is None:
        abort(404, description="no such layer in the served dataset")
    resp = Response(body, mimetype=mimetype)
    resp.set_etag(etag, weak=True)
    resp.cache_control.no_cache = True
    return resp


@bp.get("/indicators")
def api_indicators():
    """Return the indicator contract (``?structure=2019|2025``)."""
    structure = request.args.get("structure", "2019")
    if structure not in ("2019", "2025"):
        abort(400, description="structure must be 2019 or 2025")
    result = data.indicators(structure)
    resp = jsonify(public_fields(result, ("data_dir",)))  # the served folder relative to the instance
    # the coverage stopped by an input error: the page polling for it reloads to show the error (web.analyses)
    resp.headers["X-Ictgis-Coverage-Errors"] = str(len(coverage_errors(data.dataset())))
    return resp


@bp.get("/layers")
def api_layers():
    """List the served layers and overlays: feature counts, labels and GeoJSON URLs."""
    ds = data.dataset()
    out = {name: {"features": len(frame), "label_vi": SCHEMAS[name].label_vi,
                  "url": url_for("api.layer_geojson", name=name)} for name, frame in ds.layers.items()}
    overlays = {o.key: {"kind": o.kind, "label_vi": o.label_vi, "label_en": o.label_en} for o in
                maps.available_overlays(MAP_PROVIDERS)}
    choropleths = sorted(maps.choropleth_values(ds, data.indicators(), providers=MAP_PROVIDERS))
    return jsonify(layers=out, overlays=overlays, choropleths=choropleths, dataset=str(data.served_version()))


@bp.get("/layers/<name>.geojson")
def layer_geojson(name: str):
    """Return a layer as display GeoJSON in EPSG:4326.

    ``?zoom=0..20`` (default 12) sets the rounding and simplification to what that zoom shows;
    ``?precision=1..7`` overrides the decimals of degrees.
    """
    if name not in maps.LAYER_PROPERTIES and not (name in maps.OVERLAYS and maps.OVERLAYS[name].kind == "geojson"
                                                  and name in MAP_PROVIDERS.overlays):
        abort(404, description=f"no layer named {name!r}")
    zoom = _int_arg("zoom", maps.DEFAULT_ZOOM, 0, 20)
    precision = _int_arg("precision", None, 1, 7)

    def build() -> str | None:
        ds = data.dataset()
        return maps.layer_geojson(ds, name, zoom=zoom, decimals=precision,
                                  indicators=data.indicators() if name == "communes" else None,
                                  providers=MAP_PROVIDERS)

    return cached_response(f"layer:{name}:{zoom}:{precision}", build, mimetype="application/geo+json")


@bp.get("/search-index.json")
def search_index():
    """Return the search index: ``[[name, kind, context, lat, lon, folded], ...]``."""
    return cached_response("search", lambda: json.dumps(maps.search_index(data.dataset()), ensure_ascii=False,
                                                        separators=(",", ":")))


@bp.get("/hillshade.png")
def hillshade_png():
    """Return the DEM hillshade image (404 when the dataset has no DEM)."""
    ds = data.dataset()
    if ds.dem_path is None:
        abort(404, description="the served dataset has no DEM")

    def build() -> bytes:
        return maps.hillshade_png(ds.dem_path, cache_dir=data.cache_dir())[0]

    return cached_response("hillshade", build, mimetype="image/png")


@bp.get("/overlays/<key>.png")
def overlay_png(key: str):
    """Return an image overlay provided by an analysis module (404 when it has no data)."""
    overlay = maps.OVERLAYS.get(key)
    if overlay is None or overlay.kind != "image":
        abort(404, description=f"no image overlay named {key!r}")
    func = MAP_PROVIDERS.overlays.get(key)
    if func is None:
        abort(404, description=f"{key} is not available yet")
    return cached_response(f"overlay:{key}", lambda: (func(data.dataset()) or (None,))[0], mimetype="image/png")


@bp.get("/scenarios")
def api_scenarios():
    """List the scenario files and whether runs are available."""
    return jsonify(scenarios=scenarios.scenario_files(), runs_available=jobs.runner().runner() is not None)


@bp.post("/scenarios/<name>/runs")
def api_start_run(name: str):
    """Start a run of a scenario file (planners; ``X-CSRF-Token`` header); 202 with the run's URL."""
    return scenarios.start_run(name, as_json=True)


@bp.get("/runs")
@login_required
def api_runs():
    """List the runs, newest first."""
    return jsonify(runs=jobs.runner().list())


@bp.get("/runs/<run_id>")
@login_required
def api_run(run_id: str):
    """Return one run: status, progress, message, outputs; ``status_text`` and ``message_text`` for the page.

    ``message`` is the engine's (English, paths relative to the instance); ``message_text`` and ``status_text`` are
    in the request's language (`web.i18n.run_message`), without paths.
    """
    record = scenarios.record_or_404(run_id)
    return jsonify(record | {"status_text": t(record["status"]), "message_text": run_message(record.get("message"))})


@bp.post("/runs/<run_id>/cancel")
def api_cancel_run(run_id: str):
    """Cancel a queued or running run (planners; ``X-CSRF-Token`` header); the run's record."""
    return scenarios.cancel_run(run_id, as_json=True)
