"""Request hardening: CSRF tokens on every unsafe request, security headers, gzip for text responses.

CSRF: a random token per session; forms carry it in a hidden ``csrf_token`` field, scripts in the
``X-CSRF-Token`` header. Every POST, PUT, PATCH and DELETE without the session's token is refused with 400.

Behind a reverse proxy (nginx …) set ``PROXY_FIX_X_FOR`` to the number of proxies in front of the app: the client
address (used to throttle logins and in the audit log) is then read from ``X-Forwarded-For``. Leave it 0 (the
default) when clients connect directly: the header would let anyone pick their address.
"""

from __future__ import annotations

import gzip
import hmac
import secrets
import threading
from collections import OrderedDict
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
COMPRESSIBLE = frozenset({"text/html", "text/css", "text/plain", "application/json", "application/geo+json",
                          "application/javascript", "text/javascript", "image/svg+xml"})
_gzip_cache: OrderedDict[str, bytes] = OrderedDict()
_gzip_lock = threading.Lock()


def csrf_token() -> str:
    """Return the session's CSRF token, creating it when absent."""
    token = session.get("csrf_token")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf_token"] = token
    return token


def check_csrf() -> None:
    """Refuse (400) an unsafe request whose token does not match the session's."""
    if request.method not in UNSAFE_METHODS or not current_app.config.get("CSRF_ENABLED", True):
        return
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf_token") or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="CSRF token missing or invalid: reload the page and try again")


def content_security_policy(tiles_url: str | None) -> str:
    """Return the CSP: everything from this server only, plus the tile host when an online basemap is set."""
    img = "'self' data: blob:"
    if tiles_url:
        parts = urlsplit(tiles_url.replace("{s}.", "*."))
        if parts.scheme in ("http", "https") and parts.netloc:
            img += f" {parts.scheme}://{parts.netloc.split('@')[-1]}"
    return ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            f"img-src {img}; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'self'")


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy",
                                content_security_policy(current_app.config.get("TILES_URL")))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _compress(response: Response) -> Response:
    """Gzip text responses for clients that accept it (cached by ETag)."""
    if (response.status_code != 200 or response.direct_passthrough or "Content-Encoding" in response.headers
            or response.mimetype not in COMPRESSIBLE or "gzip" not in request.headers.get("Accept-Encoding", "")):
        return response
    etag = response.headers.get("ETag")
    body = None
    if etag:
        with _gzip_lock:
            body = _gzip_cache.get(etag)
    if body is None:
        raw = response.get_data()
        if len(raw) < 1024:
            return response
        body = gzip.compress(raw, compresslevel=6, mtime=0)
        if etag:
            with _gzip_lock:
                _gzip_cache[etag] = body
                while len(_gzip_cache) > 64:
                    _gzip_cache.popitem(last=False)
    response.set_data(body)
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response


def install(app: Flask) -> None:
    """Register the CSRF check, the headers and compression on an app (and the proxy fix when configured)."""
    proxies = int(app.config.get("PROXY_FIX_X_FOR", 0) or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)
    app.before_request(check_csrf)
    app.after_request(_security_headers)
    app.after_request(_compress)
    app.jinja_env.globals["csrf_token"] = csrf_token
