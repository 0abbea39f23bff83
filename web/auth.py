"""Log in and out; who may see what.

Stakeholders see the map and the read-only API without logging in when ``PUBLIC_VIEW`` is True (the default);
otherwise every page but the login page needs a user. Viewers see scenario runs; planners also run scenarios and
upload layers. Anonymous requests to protected pages are sent to the login page (401 JSON on the API); viewers get
403 on planner routes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from .users import User, UserStore

bp = Blueprint("auth", __name__)
OPEN_ENDPOINTS = frozenset({"auth.login", "static", "maps.vendor"})


def store() -> UserStore:
    """Return the users of this app's instance folder."""
    return current_app.extensions["ictgis_users"]


def _load_user() -> None:
    name = session.get("user")
    g.user = store().get(name) if name else None
    if name and g.user is None:
        session.pop("user", None)


def _require_public_or_user():
    if current_app.config.get("PUBLIC_VIEW", True) or g.user is not None:
        return None
    if request.endpoint in OPEN_ENDPOINTS or request.endpoint is None:
        return None
    return _unauthenticated()


def _unauthenticated():
    if request.path.startswith("/api/"):
        return jsonify(error="Unauthorized", message="log in first"), 401
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def login_required(view: Callable) -> Callable:
    """Let any logged-in user (viewer or planner) in."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.user is None:
            return _unauthenticated()
        return view(*args, **kwargs)
    return wrapped


def planner_required(view: Callable) -> Callable:
    """Let planners in; viewers get 403, anonymous users the login page."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.user is None:
            return _unauthenticated()
        if not g.user.is_planner:
            abort(403, description="planners only")
        return view(*args, **kwargs)
    return wrapped


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect to another host after login."""
    if not target:
        return url_for("maps.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("maps.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; log in on POST."""
    if request.method == "POST":
        user = store().verify(request.form.get("username", ""), request.form.get("password", ""))
        if user is None:
            flash("login_failed", "error")
            return render_template("login.html", next=request.form.get("next", "")), 401
        session.clear()  # a new session on login: no fixation
        session.permanent = True
        session["user"] = user.name
        return redirect(_safe_next(request.form.get("next")))
    return render_template("login.html", next=request.args.get("next", ""))


@bp.post("/logout")
def logout():
    """Log out (POST with the CSRF token)."""
    session.clear()
    return redirect(url_for("maps.index"))


def install(app: Flask) -> None:
    """Attach the user store and the per-request user loading to an app."""
    app.extensions["ictgis_users"] = UserStore(app.instance_path)
    app.before_request(_load_user)
    app.before_request(_require_public_or_user)
    app.jinja_env.globals["current_user"] = lambda: g.get("user")


__all__ = ["User", "bp", "login_required", "planner_required"]
