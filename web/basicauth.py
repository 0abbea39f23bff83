"""HTTP Basic authentication for desktop GIS clients (QGIS, ArcGIS Pro, GDAL) on the read-only GIS routes.

A GIS client cannot fill in the login form nor keep its cookie, so behind login (``PUBLIC_VIEW`` False) the routes
it reads — OGC API – Features under ``/ogc/`` and the layer list, layer GeoJSON and indicators of ``/api/`` (see
`applies`) — also take ``Authorization: Basic …`` on GET and HEAD requests. Nothing else does: a Basic header on
any other route or method is ignored (never a write, never an HTML page). An anonymous request to one of them gets
401 with ``WWW-Authenticate: Basic realm="ictgis", charset="UTF-8"``, not the login page a client cannot follow.

The credentials are the form login's (the users of `web.users`, any role: viewers read) and go through the same
guard (`web.logins`): a locked user name or client address gets 429 with ``Retry-After`` without a password
check, a wrong password counts as a failed login (401 again, or 429 when it starts a lockout), and the password
hash runs under the same per-process slot as the form (a check beyond it: 429, ``Retry-After: 1``). Each line of
the audit log written for a Basic request carries ``"via": "basic"``.

A client sends its credentials with every request, and each check costs a scrypt hash (about 0.13 s, 32 MB), so a
success opens a server-side session in the guard, like a form login (one ``login`` line in the audit log), and
the process remembers it under a keyed digest of the credentials (never the password itself): the next requests
with the same credentials read that session, as a cookie would. Logging the user out everywhere (removing them,
giving them a new password) ends the session and the next request checks the password again. Requests with the
same credentials that arrive while the first is checked wait for its answer (up to `WAIT_S`) instead of queueing
for the hash slot.

Basic sends the password in every request, merely encoded: serve the app over HTTPS (behind a reverse proxy, with
``PROXY_FIX_X_FOR`` set, see `web.security`), as for the session cookie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import secrets
import threading
from dataclasses import dataclass, field

from cachetools import LRUCache
from flask import Flask, Response, current_app, jsonify, request

from .logins import LoginGuard
from .users import User, UserStore

REALM = 'Basic realm="ictgis", charset="UTF-8"'
#: Read-only routes a GIS client uses, besides every ``/ogc/`` route.
API_ENDPOINTS = frozenset({"api.api_layers", "api.layer_geojson", "api.api_indicators"})
SAFE_METHODS = frozenset({"GET", "HEAD"})
#: Credentials remembered per process (each with its session id in the guard).
MAX_REMEMBERED = 1024
#: Seconds a request waits for another one checking the same credentials.
WAIT_S = 10.0
LOCKED = "quá nhiều lần đăng nhập sai: thử lại sau / too many failed logins: try again later"
BUSY = "máy chủ đang kiểm tra đăng nhập khác: thử lại sau 1 giây / busy checking another login: retry in 1 s"


@dataclass
class _Remembered:
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: LRUCache = field(default_factory=lambda: LRUCache(maxsize=MAX_REMEMBERED))
    checking: dict = field(default_factory=dict)


def applies() -> bool:
    """Tell whether the request is a read of a GIS route, where Basic credentials count."""
    if request.method not in SAFE_METHODS:
        return False
    endpoint = request.endpoint or ""
    return endpoint.startswith("ogc.") or endpoint in API_ENDPOINTS


def challenge(response: Response) -> Response:
    """Add the Basic challenge to a 401 of a GIS route (not for the app's own scripts: no browser dialog)."""
    own_script = request.headers.get("Sec-Fetch-Site") == "same-origin" \
        and request.headers.get("Sec-Fetch-Dest") == "empty"
    if applies() and not own_script:
        response.headers["WWW-Authenticate"] = REALM
    return response


def credentials() -> tuple[str, str] | None:
    """Return the (name, password) of an ``Authorization: Basic`` header, ``("", "")`` when malformed, else None."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    name, sep, password = text.partition(":")
    return (name, password) if sep else ("", "")


def authenticate(*, users: UserStore, logins: LoginGuard) -> User | Response | None:
    """Check the request's Basic credentials on a GIS route.

    Parameters
    ----------
    users
        The app's users (`web.auth.store`).
    logins
        The app's login guard (`web.auth.guard`): lockouts, sessions, audit log.

    Returns
    -------
    User, Response or None
        The user; a 401 or 429 response to send instead of the page; None when the request carries no Basic
        credentials or is not a read of a GIS route.
    """
    if not applies():
        return None
    given = credentials()
    if given is None:
        return None
    name, password = given
    if not name:
        return _refused("malformed Basic credentials")
    state = _state()
    digest = hmac.new(state.key, f"{name}\0{password}".encode(), hashlib.sha256).digest()
    user = _remembered(state, digest, name, users, logins)
    if user is not None:
        return user
    with state.lock:
        event = state.checking.get(digest)
        mine = event is None
        if mine:
            event = state.checking[digest] = threading.Event()
    if not mine:  # the same client's parallel requests: one hash for all of them
        event.wait(WAIT_S)
        user = _remembered(state, digest, name, users, logins)
        if user is not None:
            return user
    try:
        return _check(state, digest, name, password, logins, users)
    finally:
        if mine:
            with state.lock:
                state.checking.pop(digest, None)
            event.set()


def _check(state: _Remembered, digest: bytes, name: str, password: str, guard: LoginGuard,
           users: UserStore) -> User | Response:
    address = request.remote_addr or "-"
    locked = guard.locked_for(name, address)
    if locked:
        return _too_many(locked, LOCKED)
    slots = current_app.extensions["ictgis_hash_slots"]
    if not slots.acquire(blocking=False):  # never wait: a waiting thread is one the map cannot use
        return _too_many(1, BUSY)
    try:
        user = users.verify(name, password)
    finally:
        slots.release()
    if user is None:
        locked = guard.failed(name, address, via="basic")
        return _too_many(locked, LOCKED) if locked else _refused("wrong user name or password")
    sid = guard.succeeded(user.name, address, via="basic")
    with state.lock:
        state.sessions[digest] = (user.name, sid)
    return user


def _remembered(state: _Remembered, digest: bytes, name: str, users: UserStore, guard: LoginGuard) -> User | None:
    """Return the user of remembered credentials whose session is still live (else forget them)."""
    with state.lock:
        found = state.sessions.get(digest)
    if found is None or found[0] != name:
        return None
    user = users.get(name) if guard.session_user(found[1]) == name else None
    if user is None:
        with state.lock:
            state.sessions.pop(digest, None)
    return user


def _refused(message: str) -> Response:
    response = jsonify(error="Unauthorized", message=message)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = REALM
    return response


def _too_many(seconds: float, message: str) -> Response:
    retry = max(1, math.ceil(seconds))
    response = jsonify(error="TooManyRequests", message=message, retry_after=retry)
    response.status_code = 429
    response.headers["Retry-After"] = str(retry)
    return response


def _state(app: Flask | None = None) -> _Remembered:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions["ictgis_basic"]


def install(app: Flask) -> None:
    """Give an app its remembered Basic credentials (`web.auth.install` calls it)."""
    app.extensions["ictgis_basic"] = _Remembered()
