"""Users, roles and scenario runs in the store, shared by every server process using it.

Small functions on a `Store`, each its own short transaction. Passwords are kept as the hash the caller makes
(the web app's scheme). A run carries a version: every change of a run names the version it read
(``UPDATE … WHERE version = :seen``), so of two processes changing one run (a cancel racing the run's end) one
wins and the other gets an `EditConflictError`; nothing is written half.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from .._errors import EditConflictError, StoreError
from .schema import ROLES, RUN_COLUMNS, RUN_STATUSES
from .store import Store, now

#: Columns of a run `update_run` may set besides ``status``, ``outputs`` and ``message``.
RUN_FIELDS = frozenset({name for name, _ in RUN_COLUMNS} | {"owner", "parameters"})
_JSON_FIELDS = ("parameters", "result", "files")


def set_user(store: Store, name: str, *, password_hash: str, role: str, replace: bool = True) -> str:
    """Add a user, or replace their password hash and role; return ``added``, ``replaced`` or ``exists``.

    Without `replace` an existing user is left as it is (``exists``). The check and the write are one
    transaction: of two processes adding one name, one adds it and the other finds it.
    """
    if role not in ROLES:
        raise StoreError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    t = store.tables["users"]
    try:
        with store.writing(serial=False) as conn:
            if conn.execute(sa.select(t.c.name).where(t.c.name == name)).scalar() is None:
                conn.execute(t.insert().values(name=name, password_hash=password_hash, role=role, created=now()))
                return "added"
            if not replace:
                return "exists"
            conn.execute(t.update().where(t.c.name == name).values(password_hash=password_hash, role=role))
            return "replaced"
    except sa.exc.IntegrityError:  # PostgreSQL: another process inserted the name meanwhile
        if not replace:
            return "exists"
        return set_user(store, name, password_hash=password_hash, role=role, replace=True)


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


def _encode(field: str, value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if field in _JSON_FIELDS and value is not None else value


def _decode(row: sa.RowMapping) -> dict[str, Any]:
    out = dict(row)
    for field in _JSON_FIELDS:
        if out.get(field) is not None:
            out[field] = json.loads(out[field])
    return out


def create_run(store: Store, run_id: str, *, name: str, parameters: Mapping[str, Any], owner: str | None = None,
               outputs: str | None = None, status: str = "queued", message: str | None = None,
               **fields: Any) -> dict[str, Any]:
    """Record a new scenario run (version 1); return it.

    Parameters
    ----------
    run_id, name, parameters, owner, outputs, message
        Its id, scenario name, parameters (JSON values), who started it, the folder of its outputs, its message.
    status
        ``queued`` for a new run (another status to record an old run, e.g. moved from a file).
    **fields
        Other columns (`RUN_FIELDS`: ``server``, ``dataset_version``, ``progress`` …).
    """
    _check(status, fields)
    t = store.tables["scenario_runs"]
    time = fields.pop("created", None) or now()
    values = {k: _encode(k, v) for k, v in fields.items()}
    with store.writing(serial=False) as conn:
        conn.execute(t.insert().values(id=run_id, name=name, status=status, parameters=json.dumps(parameters),
                                       outputs=outputs, owner=owner, message=message, created=time, updated=time,
                                       version=1,
                                       **values))
    return get_run(store, run_id)  # type: ignore[return-value]


def _check(status: str | None, fields: Mapping[str, Any]) -> None:
    if status is not None and status not in RUN_STATUSES:
        raise StoreError(f"unknown run status {status!r} (known: {', '.join(RUN_STATUSES)})")
    unknown = set(fields) - RUN_FIELDS - {"created"}
    if unknown:
        raise StoreError(f"unknown run field(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(RUN_FIELDS))})")


def update_run(store: Store, run_id: str, *, expected_version: int, status: str | None = None,
               outputs: str | None = None, message: str | None = None, **fields: Any) -> dict[str, Any]:
    """Change a run if it is still at `expected_version`; return it (at the next version).

    `status`, `outputs` and `message` are changed when not None; `fields` (`RUN_FIELDS`) are set as given (None
    clears one).

    Raises
    ------
    EditConflictError
        When another process changed the run first (or it does not exist).
    """
    _check(status, fields)
    if "created" in fields:
        raise StoreError("a run's creation time cannot change")
    t = store.tables["scenario_runs"]
    values: dict[str, Any] = {"updated": now(), "version": expected_version + 1}
    values.update({k: v for k, v in (("status", status), ("outputs", outputs), ("message", message))
                   if v is not None})
    values.update({k: _encode(k, v) for k, v in fields.items()})
    with store.writing(serial=False) as conn:
        done = conn.execute(t.update().where(t.c.id == run_id, t.c.version == expected_version).values(**values))
        if done.rowcount != 1:
            current = conn.execute(sa.select(t.c.version).where(t.c.id == run_id)).scalar()
            raise EditConflictError("scenario_runs", run_id, expected=expected_version, current=current)
        row = conn.execute(sa.select(t).where(t.c.id == run_id)).mappings().one()
    return _decode(row)


def get_run(store: Store, run_id: str) -> dict[str, Any] | None:
    """Return a run (``parameters``, ``result`` and ``files`` decoded) or None."""
    t = store.tables["scenario_runs"]
    with store.reading() as conn:
        row = conn.execute(sa.select(t).where(t.c.id == run_id)).mappings().first()
    return None if row is None else _decode(row)


def list_runs(store: Store, *, status: str | tuple[str, ...] | None = None, server: str | None = None,
              limit: int | None = None) -> list[dict[str, Any]]:
    """Return the runs, newest first, in one query (only those with `status`, of `server`, when given)."""
    t = store.tables["scenario_runs"]
    query = sa.select(t).order_by(t.c.created.desc(), t.c.id.desc())
    if status is not None:
        query = query.where(t.c.status.in_([status] if isinstance(status, str) else list(status)))
    if server is not None:
        query = query.where(t.c.server == server)
    if limit is not None:
        query = query.limit(limit)
    with store.reading() as conn:
        return [_decode(r) for r in conn.execute(query).mappings()]
