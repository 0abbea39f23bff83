"""JSON API: the indicator contract and the layers."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ictgis import indicators
from ictgis.layers import SCHEMAS

from .data import dataset

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/indicators")
def api_indicators():
    """Return the indicator contract (``?structure=2019|2025``)."""
    structure = request.args.get("structure", "2019")
    if structure not in ("2019", "2025"):
        return jsonify(error="BadRequest", message="structure must be 2019 or 2025"), 400
    return jsonify(indicators.compute(dataset(), structure=structure))


@bp.get("/layers")
def api_layers():
    """List the layers of the served dataset with their feature counts."""
    ds = dataset()
    return jsonify({name: {"features": len(frame), "label_vi": SCHEMAS[name].label_vi} for name, frame in
                    ds.layers.items()})

