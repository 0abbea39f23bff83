"""Log in and out; who may see what.

Stakeholders see the map and the read-only API without logging in when ``PUBLIC_VIEW`` is True (the default);
otherwise every page but the login page needs a user. Viewers see scenario runs; planners also run scenarios and
upload layers. Anonymous requests to protected pages are sent to the login page (401 JSON on the API); viewers get
403 on planner routes. Desktop GIS clients read the OGC API and the layer GeoJSON with HTTP Basic instead
(`web.basicauth`: same users, same lockout, read only).

Guessing is throttled (state in the instance, see `web.logins`): a user name is locked out after
``LOGIN_MAX_FAILURES`` (5) failed logins within ``LOGIN_FAILURE_WINDOW_S`` (900 s), a client address after
``LOGIN_MAX_FAILURES_PER_ADDRESS`` (20), each for ``LOGIN_LOCKOUT_S`` (300 s) after its last failure; refused logins
get 429 with ``Retry-After``, and even the right password is refused while locked. Password hashing (scrypt,
about 0.13 s of CPU and 32 MB each) runs at most ``LOGIN_HASH_CONCURRENCY`` (1) at a time per process; a login
beyond that is refused at once (429, ``Retry-After: 1``) instead of holding a server thread, so the threads serving
the map stay free during a guessing burst. Failed logins, lockouts, logins and logouts go to
``<instance>/logs/auth.log``. The session cookie carries a server-side session id: logging out (or removing the
user, or giving them a new password) ends it, so a copied cookie is worthless afterwards. Behind a reverse proxy,
set ``PROXY_FIX_X_FOR`` (see `web.security`) so that the client address is the real one.
"""

from __future__ import annotations

import functools
import math
import threading
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

from . import basicauth
from .accounts import accounts_url, app_accounts
from .logins import LoginGuard, LoginPolicy
from .users import User, UserStore

bp = Blueprint("auth", __name__)
OPEN_ENDPOINTS = frozenset({"auth.login", "static", "maps.vendor"})


def store() -> UserStore:
    """Return the users of this app (in its store, `web.accounts`)."""
    return current_app.extensions["ictgis_users"]


def guard() -> LoginGuard:
    """Return the login guard (failed logins, sessions, audit log) of this app's instance folder."""
    return current_app.extensions["ictgis_logins"]


def _load_user():
    sid = session.get("sid")
    name = guard().session_user(sid) if isinstance(sid, str) else None
    g.user = store().get(name) if name else None
    if sid is not None and g.user is None:  # logged out, expired, or the user was removed
        session.pop("sid", None)
    if g.user is None:  # a GIS client's read: HTTP Basic (`web.basicauth`)
        found = basicauth.authenticate(users=store(), logins=guard())
        if isinstance(found, User):
            g.user = found
        elif found is not None:
            return found
    return None


def _require_public_or_user():
    if current_app.config.get("PUBLIC_VIEW", True) or g.user is not None:
        return None
    if request.endpoint in OPEN_ENDPOINTS or request.endpoint is None:
        return None
    return _unauthenticated()


def _unauthenticated():
    if request.path.startswith("/api/") or request.path == "/ogc" or request.path.startswith("/ogc/"):
        response = jsonify(error="Unauthorized", message="log in first")
        response.status_code = 401
        return basicauth.challenge(response)
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
    """Only local paths: never redirect to another host after login.

    Control characters are refused too: CR/LF cannot go into a header, and browsers drop tabs and newlines from
    URLs (a tab inside ``/<TAB>/evil.example`` is dropped: ``//evil.example``).
    """
    if not target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return url_for("maps.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("maps.index")
    return target


def _client_address() -> str:
    return request.remote_addr or "-"


def _too_many(seconds: float, message: str):
    """Refuse a login with 429 and ``Retry-After`` (whole seconds, at least 1)."""
    from . import wants_json

    retry = str(max(1, math.ceil(seconds)))
    if wants_json():
        response = jsonify(error="TooManyRequests", message=message, retry_after=int(retry))
    else:
        flash(message, "error")
        response = current_app.make_response(render_template("login.html", next=request.form.get("next", "")))
    response.status_code = 429
    response.headers["Retry-After"] = retry
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; log in on POST."""
    if request.method == "POST":
        name, address = request.form.get("username", ""), _client_address()
        locked = guard().locked_for(name, address)
        if locked:
            return _too_many(locked, "login_locked")
        slots = current_app.extensions["ictgis_hash_slots"]
        if not slots.acquire(blocking=False):  # never wait here: a waiting thread is one the map cannot use
            return _too_many(1, "login_busy")
        try:
            user = store().verify(name, request.form.get("password", ""))
        finally:
            slots.release()
        if user is None:
            locked = guard().failed(name, address)
            if locked:
                return _too_many(locked, "login_locked")
            flash("login_failed", "error")
            return render_template("login.html", next=request.form.get("next", "")), 401
        old = session.get("sid")
        if isinstance(old, str):
            guard().end_session(old, address=address)
        session.clear()  # a new session on login: no fixation
        session.permanent = True
        session["sid"] = guard().succeeded(user.name, address)
        return redirect(_safe_next(request.form.get("next")))
    return render_template("login.html", next=request.args.get("next", ""))


@bp.post("/logout")
def logout():
    """Log out (POST with the CSRF token): the session ends on the server too."""
    sid = session.get("sid")
    if isinstance(sid, str):
        guard().end_session(sid, address=_client_address())
    session.clear()
    return redirect(url_for("maps.index"))


def install(app: Flask) -> None:
    """Attach the user store and the per-request user loading to an app."""
    app.extensions["ictgis_users"] = UserStore(app.instance_path, url=accounts_url(app),
                                               store=lambda: app_accounts(app))
    policy = LoginPolicy(max_failures=int(app.config.get("LOGIN_MAX_FAILURES", 5)),
                         max_failures_per_address=int(app.config.get("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)),
                         window_s=float(app.config.get("LOGIN_FAILURE_WINDOW_S", 900.0)),
                         lockout_s=float(app.config.get("LOGIN_LOCKOUT_S", 300.0)))
    app.extensions["ictgis_logins"] = LoginGuard(
        app.instance_path, policy=policy,
        session_lifetime_s=app.permanent_session_lifetime.total_seconds())
    app.extensions["ictgis_hash_slots"] = threading.BoundedSemaphore(int(app.config.get("LOGIN_HASH_CONCURRENCY", 1)))
    basicauth.install(app)
    app.before_request(_load_user)
    app.before_request(_require_public_or_user)
    app.jinja_env.globals["current_user"] = lambda: g.get("user")


__all__ = ["User", "bp", "guard", "login_required", "planner_required"]
