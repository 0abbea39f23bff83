"""Planner and viewer accounts, stored in the instance folder (``users.json``, passwords hashed with werkzeug).

Hashes are werkzeug's default, scrypt (N=32768, r=8, p=1): about 0.13 s of CPU and 32 MB of memory per check on
the 2-core test machine (the GIL is released meanwhile); `web.auth` bounds how many run at once. Removing a user or
replacing their password ends their sessions (`web.logins`).

Managed with ``ictgis user add NAME --role planner|viewer`` (and ``user list``, ``user remove``); importable
without a Flask app.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from ictgis import IctgisError, Problem

from .logins import LoginGuard

ROLES = ("planner", "viewer")
NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 8
# Compared against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


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
    """The users file of an instance folder.

    Parameters
    ----------
    instance
        The app's instance folder; the file is ``users.json`` in it (mode 0600).
    """

    _lock = threading.Lock()

    def __init__(self, instance: str | Path):
        self.path = Path(instance) / "users.json"
        self._cache: tuple[float, dict] | None = None

    def _read(self) -> dict:
        if not self.path.exists():
            return {}
        mtime = self.path.stat().st_mtime
        if self._cache is None or self._cache[0] != mtime:
            self._cache = (mtime, json.loads(self.path.read_text(encoding="utf-8")))
        return self._cache[1]

    def _write(self, users: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(users, fh, indent=1, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        self._cache = None

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
        with self._lock:
            users = dict(self._read())
            if name in users and not replace:
                problems.append(Problem("users", f"user {name!r} exists (use --replace to change it)"))
            if problems:
                raise UserError(f"cannot add user {name!r}", problems)
            replaced = name in users
            users[name] = {"role": role, "password": generate_password_hash(password)}
            self._write(users)
        if replaced:  # a new password or role: whoever is logged in as this user logs in again
            LoginGuard(self.path.parent).end_user_sessions(name)
        return User(name, role)

    def remove(self, name: str) -> bool:
        """Remove a user; return whether it existed."""
        with self._lock:
            users = dict(self._read())
            found = users.pop(name, None) is not None
            if found:
                self._write(users)
        if found:
            LoginGuard(self.path.parent).end_user_sessions(name)
        return found

    def get(self, name: str) -> User | None:
        """Return a user by name, or None."""
        entry = self._read().get(name)
        return User(name, entry["role"]) if entry else None

    def list(self) -> list[User]:
        """Return every user, by name."""
        return [User(n, e["role"]) for n, e in sorted(self._read().items())]

    def verify(self, name: str, password: str) -> User | None:
        """Return the user when the password matches, else None (in about constant time)."""
        entry = self._read().get(name)
        ok = check_password_hash(entry["password"] if entry else _DUMMY_HASH, password or "")
        return User(name, entry["role"]) if entry and ok else None
