"""The store of an app's users and run records, opened once per app.

Users, roles and scenario runs live in the app's store (`web.data`: ``STORE_URL``, default
``<instance>/ictgis.gpkg``), so every server process using one store shares them. ``ACCOUNTS_URL`` names another
store for them; ``ictgis serve --as-of`` sets it to the ``--db`` store (the layers are served from a temporary copy
of the past, the accounts and runs are the real ones).

An app uses one `ictgis.store.Store` (one engine) for its accounts: the store of its layers (`web.data`) when it is
the same, else one opened (and brought to the latest schema, ``alembic upgrade head``) on first use
(`app_accounts`). A run's worker process opens its own by URL (`open_accounts`); no connection or row object is
shared between processes.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from flask import Flask

from ictgis.store import Store, open_store, resolve_url

logger = logging.getLogger(__name__)

#: File of the instance's store when neither ``ACCOUNTS_URL`` nor ``STORE_URL`` is set (as `web.data`).
STORE_FILE = "ictgis.gpkg"

_lock = threading.Lock()


def accounts_url(app: Flask) -> str | None:
    """Return the URL of an app's accounts store (None: ``DATABASE_URL``).

    ``ACCOUNTS_URL``, else ``STORE_URL`` (``"env"``: ``DATABASE_URL``), else ``<instance>/ictgis.gpkg``.
    """
    url = app.config.get("ACCOUNTS_URL") or app.config.get("STORE_URL")
    if url == "env":
        return None
    return str(url) if url else str(Path(app.instance_path) / STORE_FILE)


def open_accounts(url: str | Path | None, *, init: bool = True) -> Store:
    """Open the store `url` names (with `init`, created or brought to the latest schema); the caller closes it.

    Raises
    ------
    StoreError
        When the URL names no usable store.
    """
    store = open_store(url)
    if init:
        store.init()
    return store


def app_accounts(app: Flask) -> Store:
    """Return the app's accounts store: its layers' store when the same URL, else one opened on first use."""
    found = app.extensions.get("ictgis_accounts")
    if found is not None:
        return found
    with _lock:
        found = app.extensions.get("ictgis_accounts")
        if found is None:
            url = resolve_url(accounts_url(app))
            served = app.extensions.get("ictgis_served")
            found = served.store if served is not None and served.store.url == url else open_accounts(url)
            keep_private(found)
            app.extensions["ictgis_accounts"] = found
    return found


def keep_private(store: Store) -> None:
    """Make a GeoPackage store that holds password hashes readable by its owner only (mode 0600).

    SQLite creates the store's journal with the file's own mode. A PostgreSQL store is the server's business.
    """
    if not store.url.startswith("sqlite:///"):
        return
    path = Path(store.url[len("sqlite:///"):])
    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            path.chmod(mode & 0o700)
            logger.info("%s holds the users' password hashes: made readable by its owner only", path.name)
    except OSError as exc:  # not ours to change: say so, the app still works
        logger.warning("could not restrict %s to its owner (%s): other local users may read the password hashes",
                       path, exc)
