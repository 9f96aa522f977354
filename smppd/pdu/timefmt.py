"""SMPP v3.4 time strings: schedule_delivery_time, validity_period, final_date.

The codec hands these fields over as ``str`` ("" for the NULL value). Two shapes
exist, both 16 characters (17 octets on the wire with the terminating NUL):

* absolute ``YYMMDDhhmmsstnnp``: ``t`` tenths of a second (0-9), ``nn`` the
  offset from UTC in quarter hours (00-48), ``p`` ``+`` (local time ahead of UTC)
  or ``-`` (behind). ``250101120000004+`` is 2025-01-01 12:00:00.0 at UTC+1,
  i.e. 11:00:00 UTC.
* relative ``YYMMDDhhmmss000R``: years, months, days, hours, minutes and
  seconds to add to the SMSC's "now". ``000001000000000R`` is one day.

Decisions (document-worthy because the spec leaves them open):

* **Century**: every ``YY`` means ``2000 + YY``. The field cannot name a
  century; Wireshark maps YY < 38 to 20YY and the rest to 19YY, but a
  schedule or expiry time in the 1900s is meaningless for a server started
  after 2000, so the simpler rule is correct until 2099.
* **Strict shape**: exactly 16 characters, ASCII digits where digits belong,
  a ``+``/``-``/``R`` (upper case only) last, ``000`` before ``R``. Absolute
  fields must form a real calendar date and time (no month 13, no second 60);
  ``nn`` may be 00-48 and ``t`` 0-9. A sign of ``-`` with ``nn`` = 00 is
  accepted and means UTC.
* **Relative fields are durations**, not calendar values, so each may be
  00-99 (``000000480000000R`` is 48 hours). Years and months are added on the
  calendar of ``now``'s own time zone with the day clamped to the end of the
  target month (Jan 31 + 1 month = Feb 28/29); days, hours, minutes and
  seconds are then added as elapsed time.
* All datetimes returned are timezone-aware UTC.

Errors raise :class:`SmppTimeError` (a :class:`ValueError`); callers map it to
the command_status the field calls for (ESME_RINVSCHED for
schedule_delivery_time, ESME_RINVEXPIRY for validity_period).
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone

__all__ = [
    "MAX_RELATIVE_SECONDS",
    "SmppTimeError",
    "format_absolute",
    "format_relative",
    "parse_relative_seconds",
    "parse_time",
]

_D2 = "([0-9]{2})"
_ABSOLUTE_RE = re.compile(rf"{_D2 * 6}([0-9])([0-9]{{2}})([+-])")
_RELATIVE_RE = re.compile(rf"{_D2 * 6}000R")

#: Largest duration :func:`format_relative` can express without months/years.
MAX_RELATIVE_SECONDS = 99 * 86400 + 23 * 3600 + 59 * 60 + 59

_MAX_QUARTERS = 48
_CENTURY = 2000


class SmppTimeError(ValueError):
    """A time string, or a value to format as one, that SMPP cannot express."""


def parse_time(value: str, now: datetime) -> datetime | None:
    """Parse an SMPP time string into an aware UTC datetime.

    ``""`` (the NULL value) gives ``None``. A relative string is added to
    ``now``, which must be timezone-aware; it is ignored for absolute strings.

    :raises SmppTimeError: when ``value`` is not a valid SMPP time string.
    :raises ValueError: when ``now`` is naive.
    """
    if value == "":
        return None
    if len(value) != 16:
        raise SmppTimeError(f"SMPP time string must be 16 characters, got {len(value)}: {value!r}")
    m = _ABSOLUTE_RE.fullmatch(value)
    if m is not None:
        return _parse_absolute(value, m)
    m = _RELATIVE_RE.fullmatch(value)
    if m is not None:
        years, months, days, hours, minutes, seconds = (int(g) for g in m.groups())
        return _add_relative(now, years, months, days, hours, minutes, seconds, value)
    raise SmppTimeError(
        f"not an SMPP time string (YYMMDDhhmmsstnn[+-] or YYMMDDhhmmss000R): {value!r}"
    )


def parse_relative_seconds(value: str) -> int:
    """Return the duration of a relative time string in seconds.

    Only for strings without years or months, whose length depends on the
    calendar: use :func:`parse_time` with a ``now`` for those.

    :raises SmppTimeError: when ``value`` is not a relative time string, or
        has a non-zero year or month field.
    """
    m = _RELATIVE_RE.fullmatch(value)
    if m is None:
        raise SmppTimeError(f"not a relative SMPP time string (YYMMDDhhmmss000R): {value!r}")
    years, months, days, hours, minutes, seconds = (int(g) for g in m.groups())
    if years or months:
        raise SmppTimeError(
            f"relative time with years/months has no fixed length in seconds: {value!r}"
        )
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def format_absolute(dt: datetime, *, utc_offset_quarters: int = 0) -> str:
    """Format an aware datetime as ``YYMMDDhhmmsstnnp``.

    The time is written in the zone ``utc_offset_quarters`` * 15 minutes from
    UTC (-48..48); the default writes UTC (``...000+``). Sub-tenth precision is
    truncated.

    :raises SmppTimeError: for a naive ``dt``, an offset outside -48..48, or a
        local year outside 2000-2099.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise SmppTimeError("format_absolute needs a timezone-aware datetime")
    if isinstance(utc_offset_quarters, bool) or not (
        -_MAX_QUARTERS <= utc_offset_quarters <= _MAX_QUARTERS
    ):
        raise SmppTimeError(f"UTC offset must be -48..48 quarter hours, got {utc_offset_quarters}")
    tz = timezone(timedelta(minutes=15 * utc_offset_quarters))
    try:
        local = dt.astimezone(tz)
    except OverflowError as e:
        raise SmppTimeError(f"cannot express {dt!r} at that offset") from e
    if not _CENTURY <= local.year < _CENTURY + 100:
        raise SmppTimeError(f"year {local.year} cannot be written as YY (2000-2099 only)")
    sign = "-" if utc_offset_quarters < 0 else "+"
    return (
        f"{local.year - _CENTURY:02d}{local.month:02d}{local.day:02d}"
        f"{local.hour:02d}{local.minute:02d}{local.second:02d}"
        f"{local.microsecond // 100_000}{abs(utc_offset_quarters):02d}{sign}"
    )


def format_relative(seconds: int) -> str:
    """Format a duration as ``0000DDhhmmss000R`` (years and months left at 0).

    :raises SmppTimeError: when ``seconds`` is negative or more than
        :data:`MAX_RELATIVE_SECONDS` (99 days 23:59:59).
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise SmppTimeError(f"relative time needs an int number of seconds, got {seconds!r}")
    if not 0 <= seconds <= MAX_RELATIVE_SECONDS:
        raise SmppTimeError(
            f"relative time must be 0..{MAX_RELATIVE_SECONDS} seconds, got {seconds}"
        )
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"


def _parse_absolute(value: str, m: re.Match[str]) -> datetime:
    yy, month, day, hour, minute, second, tenths, quarters = (int(g) for g in m.groups()[:8])
    sign = m.group(9)
    if quarters > _MAX_QUARTERS:
        raise SmppTimeError(f"UTC offset {quarters} quarter hours is more than 48: {value!r}")
    offset = timedelta(minutes=15 * quarters)
    tz = timezone(-offset if sign == "-" else offset)
    try:
        local = datetime(
            _CENTURY + yy, month, day, hour, minute, second, tenths * 100_000, tzinfo=tz
        )
    except ValueError as e:
        raise SmppTimeError(f"invalid date or time in {value!r}: {e}") from e
    return local.astimezone(timezone.utc)


def _add_relative(
    now: datetime,
    years: int,
    months: int,
    days: int,
    hours: int,
    minutes: int,
    seconds: int,
    value: str,
) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("parse_time needs a timezone-aware 'now' for relative times")
    try:
        base = _add_months(now, years * 12 + months)
        return base.astimezone(timezone.utc) + timedelta(
            days=days, hours=hours, minutes=minutes, seconds=seconds
        )
    except (OverflowError, ValueError) as e:
        raise SmppTimeError(f"relative time {value!r} from {now.isoformat()} overflows") from e


def _add_months(dt: datetime, months: int) -> datetime:
    """Add calendar months, clamping the day to the end of the target month."""
    if months == 0:
        return dt
    index = dt.year * 12 + (dt.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    day = min(dt.day, calendar.monthrange(year, month)[1])
    return dt.replace(year=year, month=month, day=day)
