"""Login state of an instance folder: failed logins (throttle and lockout), server-side sessions, the audit log.

Everything lives in the instance, so every server process on it (and ``ictgis user …``) sees the same state:

``<instance>/logins.sqlite3``
    SQLite (WAL), mode 0600. ``failures`` holds one row per failed login (user name, client address, time);
    ``sessions`` one row per logged-in browser (a random session id, the user, when). The session cookie carries
    only the id: logging out deletes the row, so a copy of the cookie replayed later is not logged in.
``<instance>/logs/auth.log``
    The audit log, one JSON object a line (``time`` in UTC, ``event``, ``user``, ``address``): failed logins,
    lockouts, logins and logouts. Every line also goes to the ``web.logins`` logger. The file is opened for each
    line, so logrotate may move it away at any time.

Lockout: a user name with `max_failures` failed logins within `window_s` (or a client address with
`max_failures_per_address`) is refused without checking any password until `lockout_s` after its last failure;
attempts refused that way are not counted, so a lockout ends on time even while the guessing goes on. A correct
password clears the user name's failures (not the address's). Importable without Flask.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)
DB_NAME = "logins.sqlite3"
AUDIT_LOG = Path("logs") / "auth.log"
#: Longest user name kept in the records and the audit log (longer ones are cut).
MAX_NAME = 128
_SCHEMA = """
CREATE TABLE IF NOT EXISTS failures (kind TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS failures_key ON failures (kind, key, at);
CREATE TABLE IF NOT EXISTS sessions (sid TEXT PRIMARY KEY, user TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user);
"""
_audit_lock = threading.Lock()


@dataclass(frozen=True)
class LoginPolicy:
    """When failed logins lock a user name or a client address out.

    Parameters
    ----------
    max_failures
        Failed logins of one user name within `window_s` that lock it.
    max_failures_per_address
        Failed logins from one client address within `window_s` that lock it (higher: an office shares one).
    window_s
        Seconds a failed login counts.
    lockout_s
        Seconds after the last counted failure during which a locked name or address is refused.
    """

    max_failures: int = 5
    max_failures_per_address: int = 20
    window_s: float = 900.0
    lockout_s: float = 300.0


class LoginGuard:
    """The failed logins, sessions and audit log of an instance folder.

    Parameters
    ----------
    instance
        The app's instance folder.
    policy
        Lockout thresholds.
    session_lifetime_s
        A session older than this is not valid any more (the cookie's own lifetime).
    """

    def __init__(self, instance: str | Path, *, policy: LoginPolicy | None = None,
                 session_lifetime_s: float = 8 * 3600.0):
        self.instance = Path(instance)
        self.path = self.instance / DB_NAME
        self.audit_path = self.instance / AUDIT_LOG
        self.policy = policy or LoginPolicy()
        self.session_lifetime_s = session_lifetime_s
        self.instance.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        conn = sqlite3.connect(self.path, timeout=30.0)
        try:
            # A rollback journal, not WAL: reading a session then writes nothing (WAL's shared-memory file must be
            # recreated by the first reader, which fails on a full disk and turned every logged-in page into a 500).
            # Writes (logins, failures) are rare and short, so readers hardly ever wait.
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.executescript(_SCHEMA)
        finally:
            conn.close()

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """One connection per use (threads and processes each get their own), committed at the end."""
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    # ------------------------------------------------------------------------------------- failed logins
    def _locked_until(self, db: sqlite3.Connection, kind: str, key: str, limit: int, now: float) -> float:
        count, last = db.execute("SELECT count(*), max(at) FROM failures WHERE kind = ? AND key = ? AND at > ?",
                                 (kind, key, now - self.policy.window_s)).fetchone()
        return last + self.policy.lockout_s if count >= limit else 0.0

    def _until(self, db: sqlite3.Connection, name: str, address: str, now: float) -> float:
        return max(self._locked_until(db, "user", name, self.policy.max_failures, now),
                   self._locked_until(db, "address", address, self.policy.max_failures_per_address, now))

    def locked_for(self, name: str, address: str) -> float:
        """Return the seconds the user name or the address stays locked out (0 when neither is)."""
        now = time.time()
        with self._db() as db:
            return max(0.0, self._until(db, name[:MAX_NAME], address, now) - now)

    def failed(self, name: str, address: str, **extra: object) -> float:
        """Record a failed login (and audit it, with `extra`); return the seconds of lockout it starts (0: none)."""
        name, now = name[:MAX_NAME], time.time()
        with self._db() as db:
            db.execute("DELETE FROM failures WHERE at <= ?", (now - self.policy.window_s,))
            db.executemany("INSERT INTO failures (kind, key, at) VALUES (?, ?, ?)",
                           [("user", name, now), ("address", address, now)])
            wait = max(0.0, self._until(db, name, address, now) - now)
        self.audit("login_failed", name, address, **extra)
        if wait:
            self.audit("lockout", name, address, seconds=round(wait), **extra)
        return wait

    def succeeded(self, name: str, address: str, **extra: object) -> str:
        """Clear the user name's failures, open a session and audit the login (with `extra`); return its id."""
        sid = secrets.token_urlsafe(32)
        now = time.time()
        with self._db() as db:
            db.execute("DELETE FROM failures WHERE kind = 'user' AND key = ?", (name,))
            db.execute("DELETE FROM sessions WHERE created <= ?", (now - self.session_lifetime_s,))
            db.execute("INSERT INTO sessions (sid, user, created) VALUES (?, ?, ?)", (sid, name, now))
        self.audit("login", name, address, **extra)
        return sid

    # ------------------------------------------------------------------------------------------ sessions
    def session_user(self, sid: str) -> str | None:
        """Return the user of a live session id, or None (unknown, logged out or expired)."""
        conn = sqlite3.connect(self.path, timeout=30.0)
        try:
            row = conn.execute("SELECT user FROM sessions WHERE sid = ? AND created > ?",
                               (sid, time.time() - self.session_lifetime_s)).fetchone()
        finally:
            conn.close()
        return row[0] if row else None

    def end_session(self, sid: str, *, address: str = "-") -> None:
        """Log a session out (its cookie is worthless from now on)."""
        with self._db() as db:
            row = db.execute("SELECT user FROM sessions WHERE sid = ?", (sid,)).fetchone()
            db.execute("DELETE FROM sessions WHERE sid = ?", (sid,))
        if row:
            self.audit("logout", row[0], address)

    def end_user_sessions(self, name: str) -> int:
        """Log every session of a user out (the user was removed or got a new password); return how many."""
        with self._db() as db:
            return db.execute("DELETE FROM sessions WHERE user = ?", (name,)).rowcount

    # --------------------------------------------------------------------------------------------- audit
    def audit(self, event: str, name: str, address: str, **extra: object) -> None:
        """Append an event to ``logs/auth.log`` (one JSON line) and log it."""
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event,
                 "user": name[:MAX_NAME], "address": address, **extra}
        level = logging.INFO if event in ("login", "logout") else logging.WARNING
        logger.log(level, "auth %s user=%r address=%s%s", event, entry["user"], address,
                   "".join(f" {k}={v}" for k, v in extra.items()))
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self.audit_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with _audit_lock:
                fd = os.open(self.audit_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line)  # one write of one line: whole lines even with several processes
                finally:
                    os.close(fd)
        except OSError as exc:  # a full disk must not stop logins; the logger still has the line
            logger.error("cannot write the audit log %s: %s", self.audit_path, exc)
