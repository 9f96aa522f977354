"""SMPP time strings: absolute, relative, NULL; strict shapes; round trips."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppd.pdu.timefmt import (
    MAX_RELATIVE_SECONDS,
    SmppTimeError,
    format_absolute,
    format_relative,
    parse_relative_seconds,
    parse_time,
)

UTC = timezone.utc
NOW = datetime(2025, 3, 10, 8, 30, 15, tzinfo=UTC)


def utc(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


# --------------------------------------------------------------------------- absolute


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # The reference vector: 12:00 at UTC+1 is 11:00 UTC.
        ("250101120000004+", utc(2025, 1, 1, 11, 0, 0)),
        ("250101120000000+", utc(2025, 1, 1, 12, 0, 0)),
        ("250101120000000-", utc(2025, 1, 1, 12, 0, 0)),
        # Behind UTC: 12:00 at UTC-5 is 17:00 UTC.
        ("250101120000020-", utc(2025, 1, 1, 17, 0, 0)),
        # Crossing a day/year boundary.
        ("250101003000008+", utc(2024, 12, 31, 22, 30, 0)),
        ("241231233000004-", utc(2025, 1, 1, 0, 30, 0)),
        # Tenths of a second.
        ("250615101520700+", utc(2025, 6, 15, 10, 15, 20, 700_000)),
        ("250615101520900+", utc(2025, 6, 15, 10, 15, 20, 900_000)),
        # Extreme offsets (+/-12h) and quarter-hour offsets (UTC+5:45 Nepal).
        ("250101120000048+", utc(2025, 1, 1, 0, 0, 0)),
        ("250101120000048-", utc(2025, 1, 2, 0, 0, 0)),
        ("250101120000023+", utc(2025, 1, 1, 6, 15, 0)),
        # Century: every YY is 20YY.
        ("000101000000000+", utc(2000, 1, 1)),
        ("991231235959900+", utc(2099, 12, 31, 23, 59, 59, 900_000)),
        ("700101000000000+", utc(2070, 1, 1)),
        # Leap day.
        ("240229120000000+", utc(2024, 2, 29, 12)),
    ],
)
def test_parse_absolute(value: str, expected: datetime) -> None:
    got = parse_time(value, NOW)
    assert got == expected
    assert got is not None and got.utcoffset() == timedelta(0)


def test_null_is_none() -> None:
    assert parse_time("", NOW) is None


def test_absolute_ignores_now() -> None:
    assert parse_time("250101120000004+", utc(1999, 1, 1)) == utc(2025, 1, 1, 11)


@pytest.mark.parametrize(
    "value",
    [
        "25010112000000+",  # 15 chars
        "2501011200000004+",  # 17 chars
        "250101120000004",  # no sign
        "250101120000004+\x00",  # trailing NUL is the codec's business
        " 250101120000004+",
        "250101120000049+",  # nn > 48
        "250101120000099-",
        "250101120000004*",  # bad sign char
        "250101120000004 ",
        "250101120000004r",  # relative marker must be upper case
        "251301120000000+",  # month 13
        "250001120000000+",  # month 0
        "250100120000000+",  # day 0
        "250230120000000+",  # Feb 30
        "230229120000000+",  # not a leap year
        "250101240000000+",  # hour 24
        "250101126000000+",  # minute 60
        "250101120060000+",  # second 60
        "2501011200000a4+",  # bad digit
        "25O101120000004+",  # letter O, not zero
        "２５0101120000004+",  # fullwidth digits are not ASCII digits
        "-50101120000004+",
        "0000000000000000",
    ],
)
def test_parse_invalid(value: str) -> None:
    with pytest.raises(SmppTimeError):
        parse_time(value, NOW)


def test_time_error_is_value_error() -> None:
    assert issubclass(SmppTimeError, ValueError)


# --------------------------------------------------------------------------- relative


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("000001000000000R", NOW + timedelta(days=1)),
        ("000000000000000R", NOW),
        ("000000010203000R", NOW + timedelta(hours=1, minutes=2, seconds=3)),
        # Fields are durations: 48 hours, 99 minutes are fine.
        ("000000480000000R", NOW + timedelta(hours=48)),
        ("000000009900000R", NOW + timedelta(minutes=99)),
        ("000099235959000R", NOW + timedelta(days=99, seconds=86399)),
        ("000100000000000R", utc(2025, 4, 10, 8, 30, 15)),
        ("010000000000000R", utc(2026, 3, 10, 8, 30, 15)),
        ("001300000000000R", utc(2026, 4, 10, 8, 30, 15)),
        ("000101000000000R", utc(2025, 4, 11, 8, 30, 15)),
    ],
)
def test_parse_relative(value: str, expected: datetime) -> None:
    assert parse_time(value, NOW) == expected


@pytest.mark.parametrize(
    ("now", "value", "expected"),
    [
        # Month-end clamping.
        (utc(2025, 1, 31, 12), "000100000000000R", utc(2025, 2, 28, 12)),
        (utc(2024, 1, 31, 12), "000100000000000R", utc(2024, 2, 29, 12)),
        (utc(2025, 3, 31, 12), "000100000000000R", utc(2025, 4, 30, 12)),
        (utc(2025, 8, 31, 12), "000600000000000R", utc(2026, 2, 28, 12)),
        (utc(2024, 2, 29, 12), "010000000000000R", utc(2025, 2, 28, 12)),
        (utc(2025, 12, 15), "000100000000000R", utc(2026, 1, 15)),
        # Months first, then days: Jan 31 + 1 month 1 day = Feb 28 + 1 day.
        (utc(2025, 1, 31), "000101000000000R", utc(2025, 3, 1)),
    ],
)
def test_relative_months_at_month_end(now: datetime, value: str, expected: datetime) -> None:
    assert parse_time(value, now) == expected


def test_relative_months_follow_the_calendar_of_now() -> None:
    # 2025-01-31 23:30 at UTC-1 is 2025-02-01 00:30 UTC. One month later on the
    # caller's calendar is Feb 28 23:30 local = Mar 1 00:30 UTC; the result is UTC.
    minus1 = timezone(timedelta(hours=-1))
    got = parse_time("000100000000000R", datetime(2025, 1, 31, 23, 30, tzinfo=minus1))
    assert got == utc(2025, 3, 1, 0, 30)
    assert got is not None and got.tzinfo == UTC


def test_relative_result_is_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    got = parse_time("000000010000000R", datetime(2025, 1, 1, 12, tzinfo=plus2))
    assert got == utc(2025, 1, 1, 11)
    assert got is not None and got.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        "000001000000001R",  # tnn must be 000
        "000001000000100R",
        "000001000000000r",
        "00001000000000R",
        "0000010000000000R",
        "00000100000 000R",
        "0000010000x0000R",
    ],
)
def test_parse_relative_invalid(value: str) -> None:
    with pytest.raises(SmppTimeError):
        parse_time(value, NOW)


def test_relative_needs_aware_now() -> None:
    with pytest.raises(ValueError):
        parse_time("000001000000000R", datetime(2025, 1, 1))


def test_relative_overflow() -> None:
    with pytest.raises(SmppTimeError):
        parse_time("990000000000000R", datetime(9950, 1, 1, tzinfo=UTC))
    with pytest.raises(SmppTimeError):
        parse_time("000099000000000R", datetime(9999, 12, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("000001000000000R", 86400),
        ("000000000000000R", 0),
        ("000000010203000R", 3723),
        ("000000480000000R", 172800),
        ("000099235959000R", MAX_RELATIVE_SECONDS),
    ],
)
def test_parse_relative_seconds(value: str, seconds: int) -> None:
    assert parse_relative_seconds(value) == seconds


@pytest.mark.parametrize(
    "value", ["000100000000000R", "010000000000000R", "250101120000004+", "", "1R"]
)
def test_parse_relative_seconds_rejects(value: str) -> None:
    with pytest.raises(SmppTimeError):
        parse_relative_seconds(value)


# --------------------------------------------------------------------------- formatting


def test_format_absolute_vectors() -> None:
    assert format_absolute(utc(2025, 1, 1, 12)) == "250101120000000+"
    assert format_absolute(utc(2025, 1, 1, 11), utc_offset_quarters=4) == "250101120000004+"
    assert format_absolute(utc(2025, 1, 1, 17), utc_offset_quarters=-20) == "250101120000020-"
    assert format_absolute(utc(2025, 6, 15, 10, 15, 20, 799_999)) == "250615101520700+"
    plus1 = timezone(timedelta(hours=1))
    # The zone of dt does not matter, only the instant and the requested offset.
    assert format_absolute(datetime(2025, 1, 1, 12, tzinfo=plus1)) == "250101110000000+"


@pytest.mark.parametrize(
    ("dt", "quarters"),
    [
        (datetime(2025, 1, 1), 0),  # naive
        (utc(2025, 1, 1), 49),
        (utc(2025, 1, 1), -49),
        (utc(1999, 12, 31, 23), 0),
        (utc(2100, 1, 1), 0),
        (utc(2099, 12, 31, 20), 48),  # 2100 locally
        (utc(2000, 1, 1, 1), -8),  # 1999 locally
    ],
)
def test_format_absolute_invalid(dt: datetime, quarters: int) -> None:
    with pytest.raises(SmppTimeError):
        format_absolute(dt, utc_offset_quarters=quarters)


@pytest.mark.parametrize(
    ("seconds", "value"),
    [
        (0, "000000000000000R"),
        (86400, "000001000000000R"),
        (3723, "000000010203000R"),
        (172800, "000002000000000R"),
        (90061, "000001010101000R"),
        (MAX_RELATIVE_SECONDS, "000099235959000R"),
    ],
)
def test_format_relative(seconds: int, value: str) -> None:
    assert format_relative(seconds) == value


@pytest.mark.parametrize("seconds", [-1, MAX_RELATIVE_SECONDS + 1, True, 1.5])
def test_format_relative_invalid(seconds: int) -> None:
    with pytest.raises(SmppTimeError):
        format_relative(seconds)


# --------------------------------------------------------------------------- round trips

_instants = st.datetimes(
    min_value=datetime(2000, 1, 1, 12), max_value=datetime(2099, 12, 31, 11, 59, 59)
).map(lambda d: d.replace(microsecond=d.microsecond // 100_000 * 100_000, tzinfo=UTC))


@given(_instants, st.integers(-48, 48))
def test_absolute_round_trip(dt: datetime, quarters: int) -> None:
    text = format_absolute(dt, utc_offset_quarters=quarters)
    assert len(text) == 16
    assert parse_time(text, NOW) == dt


@given(st.integers(0, MAX_RELATIVE_SECONDS))
def test_relative_round_trip(seconds: int) -> None:
    text = format_relative(seconds)
    assert len(text) == 16
    assert parse_relative_seconds(text) == seconds
    assert parse_time(text, NOW) == NOW + timedelta(seconds=seconds)


@st.composite
def _absolute_strings(draw: st.DrawFn) -> str:
    dt = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
    tenths = draw(st.integers(0, 9))
    quarters = draw(st.integers(0, 48))
    sign = draw(st.sampled_from("+-"))
    return f"{dt:%y%m%d%H%M%S}{tenths}{quarters:02d}{sign}"


@given(_absolute_strings())
def test_absolute_string_round_trip(text: str) -> None:
    quarters = int(text[13:15]) * (-1 if text[15] == "-" else 1)
    parsed = parse_time(text, NOW)
    assert parsed is not None
    again = format_absolute(parsed, utc_offset_quarters=quarters)
    # "-00" is UTC too and is written "+00".
    expected = text[:15] + "+" if quarters == 0 else text
    assert again == expected


@given(st.text(max_size=20))
def test_parse_only_raises_time_errors(text: str) -> None:
    try:
        result = parse_time(text, NOW)
    except SmppTimeError:
        return
    assert result is None or result.tzinfo is not None
