"""Changeset references: an id (``12``) or a date or time (``2021-12-31``, ``2021-12-31T17:00+07:00``).

A date means the end of that day in UTC (``2021-12-31`` covers every change made on 31 December); a time without
an offset is UTC. A reference resolves to the last changeset made at or before it (0 when none was).
"""

from __future__ import annotations

import datetime as dt

from .._errors import StoreError

Ref = int | str | dt.date | dt.datetime
"""What names a state of the store: a changeset id, a date or a time (or their text)."""


def parse_ref(ref: Ref) -> int | dt.datetime:
    """Return a changeset id, or the UTC instant *before which* changesets count.

    A date gives the next midnight; a time gives one microsecond after it (changesets at that time count).

    Examples
    --------
    >>> parse_ref("12")
    12
    >>> parse_ref("2021-12-31")
    datetime.datetime(2022, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> parse_ref("2021-12-31T07:00:00+07:00")
    datetime.datetime(2021, 12, 31, 0, 0, 0, 1, tzinfo=datetime.timezone.utc)
    """
    if isinstance(ref, bool):
        raise StoreError(f"{ref!r} is neither a changeset id nor a date")
    if isinstance(ref, int):
        return ref
    if isinstance(ref, dt.datetime):
        return _inclusive(ref)
    if isinstance(ref, dt.date):
        return dt.datetime.combine(ref + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
    text = str(ref).strip()
    if text.isdigit():
        return int(text)
    try:
        if len(text) == 10:
            return parse_ref(dt.date.fromisoformat(text))
        return _inclusive(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise StoreError(f"{text!r} is neither a changeset id nor a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM[+07:00]) "
                         "/ không phải mã thay đổi hay ngày") from None


def _inclusive(moment: dt.datetime) -> dt.datetime:
    """Return an instant made exclusive (one microsecond later), in UTC; naive times are UTC."""
    moment = moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment.astimezone(dt.timezone.utc)
    return moment + dt.timedelta(microseconds=1)
