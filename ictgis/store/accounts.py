"""Users, roles and scenario runs in the store, shared by every server process using it.

Small functions on a `Store`; the web app moves its ``users.json`` and run records here later. Passwords are kept
as the hash the caller makes (the web app's scheme); runs carry a version for optimistic updates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from .._errors import EditConflictError, StoreError
from .schema import ROLES, RUN_STATUSES
from .store import Store, now


def set_user(store: Store, name: str, *, password_hash: str, role: str) -> None:
    """Add a user or replace their password hash and role."""
    if role not in ROLES:
        raise StoreError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    t = store.tables["users"]
    with store.writing(serial=False) as conn:
        if conn.execute(sa.select(t.c.name).where(t.c.name == name)).scalar() is None:
            conn.execute(t.insert().values(name=name, password_hash=password_hash, role=role, created=now()))
        else:
            conn.execute(t.update().where(t.c.name == name).values(password_hash=password_hash, role=role))


def get_user(store: Store, name: str) -> dict[str, Any] | None:
    """Return a user (``name``, ``password_hash``, ``role``, ``created``) or None."""
    t = store.tables["users"]
    with store.reading() as conn:
        row = conn.execute(sa.select(t).where(t.c.name == name)).mappings().first()
    return None if row is None else dict(row)


def list_users(store: Store) -> list[dict[str, Any]]:
    """Return every user, by name."""
    t = store.tables["users"]
    with store.reading() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.name)).mappings()]


def remove_user(store: Store, name: str) -> bool:
    """Remove a user; return whether there was one."""
    t = store.tables["users"]
    with store.writing(serial=False) as conn:
        return conn.execute(t.delete().where(t.c.name == name)).rowcount > 0


def create_run(store: Store, run_id: str, *, name: str, parameters: Mapping[str, Any], owner: str | None = None,
               outputs: str | None = None) -> dict[str, Any]:
    """Record a queued scenario run; return it."""
    t = store.tables["scenario_runs"]
    time = now()
    with store.writing(serial=False) as conn:
        conn.execute(t.insert().values(id=run_id, name=name, status="queued", parameters=json.dumps(parameters),
                                       outputs=outputs, owner=owner, created=time, updated=time, version=1))
    return get_run(store, run_id)  # type: ignore[return-value]


def update_run(store: Store, run_id: str, *, expected_version: int, status: str | None = None,
               outputs: str | None = None, message: str | None = None) -> dict[str, Any]:
    """Change a run's status, outputs or message if it is still at `expected_version`.

    Raises
    ------
    EditConflictError
        When another process updated it first.
    """
    if status is not None and status not in RUN_STATUSES:
        raise StoreError(f"unknown run status {status!r} (known: {', '.join(RUN_STATUSES)})")
    t = store.tables["scenario_runs"]
    values: dict[str, Any] = {"updated": now(), "version": expected_version + 1}
    values.update({k: v for k, v in (("status", status), ("outputs", outputs), ("message", message))
                   if v is not None})
    with store.writing(serial=False) as conn:
        done = conn.execute(t.update().where(t.c.id == run_id, t.c.version == expected_version).values(**values))
        if done.rowcount != 1:
            current = conn.execute(sa.select(t.c.version).where(t.c.id == run_id)).scalar()
            raise EditConflictError("scenario_runs", run_id, expected=expected_version, current=current)
    return get_run(store, run_id)  # type: ignore[return-value]


def get_run(store: Store, run_id: str) -> dict[str, Any] | None:
    """Return a run (parameters decoded) or None."""
    t = store.tables["scenario_runs"]
    with store.reading() as conn:
        row = conn.execute(sa.select(t).where(t.c.id == run_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["parameters"] = json.loads(out["parameters"])
    return out


def list_runs(store: Store, *, status: str | None = None) -> list[dict[str, Any]]:
    """Return the runs, newest first (only those with `status` when given)."""
    t = store.tables["scenario_runs"]
    query = sa.select(t.c.id).order_by(t.c.created.desc())
    if status is not None:
        query = query.where(t.c.status == status)
    with store.reading() as conn:
        ids = list(conn.execute(query).scalars())
    return [r for r in (get_run(store, i) for i in ids) if r is not None]
