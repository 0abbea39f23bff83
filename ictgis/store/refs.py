"""Changeset references: an id (``12``) or a date or time (``2021-12-31``, ``2021-12-31T17:00+07:00``).

One rule for every entry point (``--as-of``/``--from``/``--to`` of the CLI, the biến động page, the OGC API's
``datetime``), in Vietnam time, where the department works (`as_of_instant`):

- a date means the **end of that day in Vietnam time** (UTC+7, ``Asia/Ho_Chi_Minh``): ``2021-12-31`` covers every
  change made on 31 December as the department's clocks read, up to 2021-12-31 16:59:59.999 UTC;
- a time with an offset (``Z``, ``+07:00`` …) is taken as given; a time without one is Vietnam time.

A reference resolves to the last changeset made at or before it (0 when none was).
"""

from __future__ import annotations

import datetime as dt

from .._errors import StoreError

Ref = int | str | dt.date | dt.datetime
"""What names a state of the store: a changeset id, a date or a time (or their text)."""

VIETNAM = dt.timezone(dt.timedelta(hours=7), "Asia/Ho_Chi_Minh")
"""The department's time zone: UTC+7 all year (Vietnam keeps no daylight saving time)."""


def day_end(day: dt.date) -> dt.datetime:
    """Return the last instant (to the microsecond) of a day in Vietnam time, in UTC.

    Examples
    --------
    >>> day_end(dt.date(2021, 12, 31))
    datetime.datetime(2021, 12, 31, 16, 59, 59, 999999, tzinfo=datetime.timezone.utc)
    """
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=VIETNAM) - dt.timedelta(microseconds=1)
    return end.astimezone(dt.timezone.utc)


def as_of_instant(value: str | dt.date | dt.datetime) -> dt.datetime:
    """Return the instant a date or time names, in UTC: changes made at or before it count.

    A date is the end of that day in Vietnam time (`day_end`); a time with an offset is taken as given, one
    without is Vietnam time.

    Raises
    ------
    ValueError
        For text that is neither ``YYYY-MM-DD`` nor an ISO 8601 time.

    Examples
    --------
    >>> as_of_instant("2021-12-31").isoformat()
    '2021-12-31T16:59:59.999999+00:00'
    >>> as_of_instant("2021-12-31T10:00Z").isoformat()
    '2021-12-31T10:00:00+00:00'
    >>> as_of_instant("2021-12-31T10:00").isoformat()
    '2021-12-31T03:00:00+00:00'
    """
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        return day_end(value)
    else:
        text = str(value).strip()
        if len(text) == 10:
            return day_end(dt.date.fromisoformat(text))
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    moment = moment.replace(tzinfo=VIETNAM) if moment.tzinfo is None else moment
    return moment.astimezone(dt.timezone.utc)


def parse_ref(ref: Ref) -> int | dt.datetime:
    """Return a changeset id, or the UTC instant *before which* changesets count.

    A date gives the next midnight in Vietnam time; a time gives one microsecond after it (changesets at that time
    count). See `as_of_instant`.

    Examples
    --------
    >>> parse_ref("12")
    12
    >>> parse_ref("2021-12-31")
    datetime.datetime(2021, 12, 31, 17, 0, tzinfo=datetime.timezone.utc)
    >>> parse_ref("2021-12-31T07:00:00+07:00")
    datetime.datetime(2021, 12, 31, 0, 0, 0, 1, tzinfo=datetime.timezone.utc)
    """
    if isinstance(ref, bool):
        raise StoreError(f"{ref!r} is neither a changeset id nor a date")
    if isinstance(ref, int):
        return ref
    if isinstance(ref, str) and ref.strip().isdigit():
        return int(ref.strip())
    try:
        return as_of_instant(ref) + dt.timedelta(microseconds=1)
    except ValueError:
        text = str(ref).strip()
        raise StoreError(f"{text!r} is neither a changeset id nor a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM[+07:00]) "
                         "/ không phải mã thay đổi hay ngày") from None
