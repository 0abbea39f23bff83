"""Planner and viewer accounts, kept in the app's store (table ``users``; passwords hashed with werkzeug).

Every server process using one store (a GeoPackage file or a PostgreSQL database, see `web.accounts`) shares its
users. An instance folder's ``users.json`` of earlier versions is moved into the store once, when a `UserStore`
of that instance is first made (at the app's start, or by ``ictgis user …``): every user the store does not hold
yet is added with their password hash and role, the move is logged, and the file is renamed
``users.json.migrated`` (kept, never deleted). A user the store already holds keeps the store's role and password
(logged as a warning). A file that cannot be read is left where it is, with an error in the log.

Hashes are werkzeug's default, scrypt (N=32768, r=8, p=1): about 0.13 s of CPU and 32 MB of memory per check on
the 2-core test machine (the GIL is released meanwhile); `web.auth` bounds how many run at once. Removing a user or
replacing their password ends their sessions (`web.logins`).

Managed with ``ictgis user add NAME --role planner|viewer`` (and ``user list``, ``user remove``; ``--db URL`` or
the instance's configured store); importable without a Flask app.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from ictgis import IctgisError, Problem
from ictgis.store import Store
from ictgis.store import accounts as records

from .accounts import STORE_FILE, open_accounts
from .logins import LoginGuard

logger = logging.getLogger(__name__)

ROLES = ("planner", "viewer")
NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 8
# Compared against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")
#: The users file of earlier versions, moved into the store once (`migrate_users_file`).
USERS_FILE = "users.json"
MIGRATED_SUFFIX = ".migrated"


class UserError(IctgisError, ValueError):
    """A bad user name, role or password."""

    http_status = 400


@dataclass(frozen=True)
class User:
    """A logged-in person: name and role (``planner`` may run scenarios and upload; ``viewer`` only looks)."""

    name: str
    role: str

    @property
    def is_planner(self) -> bool:
        """True for planners."""
        return self.role == "planner"


class UserStore:
    """The users of an instance's store.

    Parameters
    ----------
    instance
        The app's instance folder (server-side sessions, `web.logins`; an old ``users.json`` moved from there).
    url
        The store (`web.accounts.accounts_url`); default the instance's ``ictgis.gpkg``. Opened on first use.
    store
        Instead of `url`: a function returning the store to use (the app's, `web.accounts.app_accounts`).
    """

    def __init__(self, instance: str | Path, *, url: str | Path | None = None,
                 store: Callable[[], Store] | None = None):
        self.instance = Path(instance)
        self.url = url if url is not None else str(self.instance / STORE_FILE)
        self._opener = store
        self._store: Store | None = None
        if (self.instance / USERS_FILE).exists():
            migrate_users_file(self.instance, self.store)

    @property
    def store(self) -> Store:
        """The store holding the users (opened on first use)."""
        if self._store is None:
            self._store = self._opener() if self._opener is not None else open_accounts(self.url)
        return self._store

    def add(self, name: str, password: str, role: str, *, replace: bool = False) -> User:
        """Add a user (or replace one when `replace`).

        Raises
        ------
        UserError
            Bad name or role, a password shorter than 8 characters, or an existing user without `replace`.
        """
        problems = []
        if not NAME_RE.match(name or ""):
            problems.append(Problem("users", "names are 1–64 letters, digits or . _ @ -", column="name"))
        if role not in ROLES:
            problems.append(Problem("users", f"role must be one of {', '.join(ROLES)}", column="role"))
        if len(password or "") < MIN_PASSWORD:
            problems.append(Problem("users", f"password must have at least {MIN_PASSWORD} characters",
                                    column="password"))
        if not problems and not replace and records.get_user(self.store, name) is not None:
            problems.append(Problem("users", f"user {name!r} exists (use --replace to change it)"))
        if problems:
            raise UserError(f"cannot add user {name!r}", problems)
        done = records.set_user(self.store, name, password_hash=generate_password_hash(password), role=role,
                                replace=replace)
        if done == "exists":  # added by another process since the check above
            raise UserError(f"cannot add user {name!r}",
                            [Problem("users", f"user {name!r} exists (use --replace to change it)")])
        if done == "replaced":  # a new password or role: whoever is logged in as this user logs in again
            LoginGuard(self.instance).end_user_sessions(name)
        return User(name, role)

    def remove(self, name: str) -> bool:
        """Remove a user; return whether it existed."""
        found = records.remove_user(self.store, name)
        if found:
            LoginGuard(self.instance).end_user_sessions(name)
        return found

    def get(self, name: str) -> User | None:
        """Return a user by name, or None."""
        entry = records.get_user(self.store, name)
        return User(name, entry["role"]) if entry else None

    def list(self) -> list[User]:
        """Return every user, by name."""
        return [User(e["name"], e["role"]) for e in records.list_users(self.store)]

    def verify(self, name: str, password: str) -> User | None:
        """Return the user when the password matches, else None (in about constant time)."""
        entry = records.get_user(self.store, name) if NAME_RE.match(name or "") else None
        ok = check_password_hash(entry["password_hash"] if entry else _DUMMY_HASH, password or "")
        return User(name, entry["role"]) if entry and ok else None


def migrate_users_file(instance: str | Path, store: Store) -> list[str]:
    """Move an instance's ``users.json`` into `store` once; return the names added (see the module docstring).

    The file is renamed ``users.json.migrated`` (``users.json.migrated-<n>`` when that name is taken) after every
    user is in the store; a file that cannot be read stays as it is (logged as an error).
    """
    path = Path(instance) / USERS_FILE
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        users = {str(name): (str(e["role"]), str(e["password"])) for name, e in entries.items()}
    except FileNotFoundError:  # moved meanwhile by another process
        return []
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        logger.error("%s cannot be read (%s): its users were not moved into the store %s; fix the file and "
                     "start again", path, exc, store.label)
        return []
    added, kept = [], []
    for name, (role, password_hash) in sorted(users.items()):
        if role not in ROLES:
            logger.error("%s: user %r has the unknown role %r: not moved", path, name, role)
            continue
        done = records.set_user(store, name, password_hash=password_hash, role=role, replace=False)
        (added if done == "added" else kept).append(name)
    target = path.with_name(USERS_FILE + MIGRATED_SUFFIX)
    n = 1
    while target.exists():
        target = path.with_name(f"{USERS_FILE}{MIGRATED_SUFFIX}-{n}")
        n += 1
    try:
        os.replace(path, target)
    except FileNotFoundError:
        return added
    logger.warning("moved %d user(s) from %s into the store %s (%s); the file is kept as %s", len(added), path,
                   store.label, ", ".join(added) or "none new", target.name)
    if kept:
        logger.warning("%s: user(s) %s already in the store %s: the store's role and password are kept", path,
                       ", ".join(kept), store.label)
    return added
