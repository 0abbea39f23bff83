"""The ictgis web map: a thin Flask layer over the ictgis engine (views validate, call ictgis, render)."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask, jsonify, request

from ictgis import IctgisError

logger = logging.getLogger(__name__)


def create_app(test_config: dict | None = None) -> Flask:
    """Create the Flask app.

    Parameters
    ----------
    test_config
        Overrides of the configuration (``DATA_DIR``, ``SECRET_KEY``, ``VENDOR_DIR``, ``TILES_URL`` …).
    """
    app = Flask(__name__, instance_relative_config=True)
    from ictgis.io import default_data_dir

    app.config.from_mapping(
        DATA_DIR=str(default_data_dir()),
        VENDOR_DIR=str(Path(__file__).resolve().parent.parent / "node_modules"),
        TILES_URL=None,
        MAX_CONTENT_LENGTH=50 * 1024 * 1024,
    )
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.update({k: v for k, v in test_config.items() if v is not None})
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))

    from . import api, maps

    app.register_blueprint(maps.bp)
    app.register_blueprint(api.bp)

    @app.errorhandler(IctgisError)
    def _ictgis_error(exc: IctgisError):
        return jsonify(error=type(exc).__name__, message=str(exc).splitlines()[0],
                       problems=[str(p) for p in exc.problems]), exc.http_status

    @app.errorhandler(404)
    def _not_found(exc):
        if request.path.startswith("/api/"):
            return jsonify(error="NotFound", message="no such resource"), 404
        return exc

    return app


def _instance_secret(instance: Path) -> str:
    """Read the instance's secret key, generating and storing one on first run."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32), encoding="ascii")
        path.chmod(0o600)
    return path.read_text(encoding="ascii").strip()
