"""The ictgis web map: a thin Flask layer over the ictgis engine (views validate, call ictgis, render).

Blueprints: ``maps`` (the map page, the indicator table, vendor assets), ``api`` (JSON), ``auth`` (login),
``scenarios`` (scenario files and background runs) and ``uploads`` (new dataset versions).

Configuration (instance ``config.py`` or ``create_app(test_config)``):

``DATA_DIR``
    Base data folder (default: the embedded demo), imported into an empty store as its first changeset.
``STORE_URL``
    The store of the app's layers and their history (`web.data`): a ``.gpkg`` path, ``sqlite:///…`` or
    ``postgresql://…`` (``"env"``: ``DATABASE_URL``); default ``<instance>/ictgis.gpkg``, created at start.
    Accepted uploads, edits on the map and roll backs are changesets; the latest one is served.
``ACCOUNTS_URL``
    The store of the users, roles and run records (`web.accounts`); default the ``STORE_URL`` store.
``STORE_AT_START``
    Open (create, initialise, import into) the store when the app is created (default True; False: on first use).
``STORE_POLL_S``
    Seconds a server process trusts the latest changeset id it read before asking the store again (default 1).
``PUBLIC_VIEW``
    Stakeholders see the map and the API without logging in (default True).
``TILES_URL``, ``TILES_ATTRIBUTION``
    Online tile layer, only when set (the offline basemap is the DEM hillshade).
``SCENARIOS_DIR``
    Folder of scenario files. Default: ``scenarios/`` of the source tree when run from it (``make run``, an
    editable install); in an installed package, the example scenarios shipped with it (read-only: to edit them,
    copy them to a folder of yours and set ``SCENARIOS_DIR`` in the instance ``config.py``).
``VENDOR_DIR``
    Leaflet and jQuery from the npm registry (``<package>/dist/…``). Default: ``static/vendor/`` of the installed
    package (a wheel or sdist built after ``npm ci`` carries them), else ``node_modules/`` of the source tree.
    When they are missing the map page says so and the log names the folder.
``MAX_CONTENT_LENGTH``, ``UPLOAD_MAX_UNZIPPED``, ``UPLOAD_MAX_RATIO``, ``UPLOAD_MAX_ENTRIES``
    Upload limits: request size (413 beyond it), total uncompressed size of a zip, compression ratio, entries.
``UPLOAD_LOCK_TIMEOUT_S``
    Seconds an upload waits for another one to finish creating its dataset version (409 beyond it).
``SESSION_COOKIE_SECURE``
    Set True when served over HTTPS (the cookie is always HttpOnly and SameSite=Lax).
``INSTANCE_PATH``
    Instance folder (users, secret key, dataset versions, runs, caches); default ``instance/``.
``PRECOMPUTE``
    Start the 4G and 3G coverage of the served data in the background when the app is created, so that the map
    and the indicator table have it sooner (default True; False when ``TESTING`` is set and ``PRECOMPUTE`` is not:
    unit tests stay quiet).
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ictgis import IctgisError

logger = logging.getLogger(__name__)
PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent  # the source tree when run from it (site-packages once installed)


def default_vendor_dir() -> Path:
    """Folder of Leaflet and jQuery: ``static/vendor`` of the installed package, else the source tree's npm folder."""
    shipped = PACKAGE / "static" / "vendor"
    return shipped if shipped.is_dir() else ROOT / "node_modules"


def default_scenarios_dir() -> Path:
    """Folder of the scenario files: the examples shipped in the installed package, else the source tree's ones."""
    source = ROOT / "scenarios"
    shipped = PACKAGE / "scenarios"
    return shipped if shipped.is_dir() else source


def create_app(test_config: dict | None = None) -> Flask:
    """Create the Flask app.

    Parameters
    ----------
    test_config
        Overrides of the configuration (``DATA_DIR``, ``SECRET_KEY``, ``INSTANCE_PATH``, ``PUBLIC_VIEW`` …);
        None values are ignored.

    Returns
    -------
    flask.Flask
    """
    test_config = {k: v for k, v in (test_config or {}).items() if v is not None}
    instance = test_config.pop("INSTANCE_PATH", None)
    app = Flask(__name__, instance_relative_config=True, instance_path=str(instance) if instance else None)
    from ictgis.io import default_data_dir

    app.config.from_mapping(
        DATA_DIR=str(default_data_dir()),
        VENDOR_DIR=str(default_vendor_dir()),
        SCENARIOS_DIR=str(default_scenarios_dir()),
        TILES_URL=None,
        TILES_ATTRIBUTION="",
        PUBLIC_VIEW=True,
        MAX_CONTENT_LENGTH=50 * 1024 * 1024,
        UPLOAD_MAX_UNZIPPED=500 * 1024 * 1024,
        UPLOAD_MAX_RATIO=100.0,
        UPLOAD_MAX_ENTRIES=200,
        UPLOAD_LOCK_TIMEOUT_S=60.0,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,
        SESSION_COOKIE_NAME="ictgis_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        JOB_WORKERS=1,
        JOB_ISOLATION="process",
    )
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(test_config)
    app.config.setdefault("PRECOMPUTE", not app.config.get("TESTING"))
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))

    from . import (
        api,
        auth,
        changes,
        changes_page,
        data,
        features,
        formats,
        jobs,
        maps,
        ogc,
        pages,
        planner,
        scenarios,
        security,
        uploads,
    )
    from .i18n import install as install_i18n

    if app.config.get("STORE_AT_START", True):
        data.install(app)
    security.install(app)
    auth.install(app)
    install_i18n(app)
    formats.install(app)
    pages.install(app)
    jobs.install(app)
    app.register_blueprint(maps.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(scenarios.bp)
    app.register_blueprint(uploads.bp)
    app.register_blueprint(changes.bp)
    features.install(app)
    ogc.install(app)
    planner.install(app)
    changes_page.install(app)
    _install_error_handlers(app)
    missing = maps.missing_vendor_files(app.config["VENDOR_DIR"])
    if missing:
        logger.error("the map page cannot draw: %s missing in VENDOR_DIR %s (from a source tree run `npm ci`; a "
                     "wheel must be built after `npm ci`)", ", ".join(missing), app.config["VENDOR_DIR"])
    if app.config["PRECOMPUTE"]:
        from .analyses import precompute
        from .data import dataset

        precompute(app, dataset)
    return app


def wants_json() -> bool:
    """Tell whether the client should get JSON errors (the API, or a client that asks for JSON only)."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _install_error_handlers(app: Flask) -> None:
    from .paths import public  # messages name files relative to the instance, never by absolute path

    @app.errorhandler(IctgisError)
    def _ictgis_error(exc: IctgisError):
        message = public(str(exc).splitlines()[0])
        problems = [public(p) for p in exc.problems]
        if wants_json():
            return jsonify(error=type(exc).__name__, message=message, problems=problems), exc.http_status
        return render_template("error.html", code=exc.http_status, message=message,
                               problems=problems), exc.http_status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        message = public(exc.description or exc.name)
        if wants_json():
            return jsonify(error=type(exc).__name__, message=message), exc.code
        return render_template("error.html", code=exc.code, message=message, problems=[]), exc.code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        logger.exception("unexpected error on %s", request.path)
        if wants_json():
            return jsonify(error="InternalServerError", message="unexpected error; see the server log"), 500
        return render_template("error.html", code=500, message="unexpected error; see the server log",
                               problems=[]), 500


def _instance_secret(instance: Path) -> str:
    """Read the instance's secret key, generating and storing one on first run."""
    path = instance / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip()
