"""Delivery-receipt text: formatting, tolerant parsing, message-id correlation."""

from __future__ import annotations

from datetime import datetime

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppd.pdu.constants import MessageState
from smppd.text.receipt import (
    TRUNCATED_ID_LENGTH,
    DeliveryReceipt,
    MessageIdIndex,
    format_receipt,
    message_id_keys,
    message_ids_match,
    normalize_message_id,
    parse_receipt,
    stat_for_state,
)

SUBMIT = datetime(2025, 1, 1, 12, 0)
DONE = datetime(2025, 1, 1, 12, 1)

FULL = DeliveryReceipt(
    id="0123456789",
    sub=1,
    dlvrd=1,
    submit_date=SUBMIT,
    done_date=datetime(2025, 1, 1, 12, 1, 30),
    stat="DELIVRD",
    err=0,
    text="Hello, this is a long message",
)


# --------------------------------------------------------------------------- formatting


def test_format_appendix_b_layout() -> None:
    assert format_receipt(FULL) == (
        "id:0123456789 sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 "
        "stat:DELIVRD err:000 text:Hello, this is a lon"
    )


def test_format_with_seconds() -> None:
    assert format_receipt(FULL, date_digits=12) == (
        "id:0123456789 sub:001 dlvrd:001 submit date:250101120000 done date:250101120130 "
        "stat:DELIVRD err:000 text:Hello, this is a lon"
    )


def test_format_fourteen_digit_dates() -> None:
    text = format_receipt(FULL, date_digits=14)
    assert "submit date:20250101120000 done date:20250101120130 " in text


def test_format_leaves_out_missing_counts_and_dates_and_adds_extras() -> None:
    r = DeliveryReceipt(id="x1", stat="UNDELIV", err="1F4", extra={"imsi": "001010123456789"})
    assert format_receipt(r) == "id:x1 stat:UNDELIV err:1F4 imsi:001010123456789 text:"


def test_format_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        format_receipt(FULL, date_digits=8)
    with pytest.raises(ValueError):
        format_receipt(attrs.evolve(FULL, submit_date=datetime(1999, 12, 31)))


def test_err_int_is_zero_padded() -> None:
    assert DeliveryReceipt(err=5).err == "005"
    assert DeliveryReceipt(err=1234).err == "1234"
    assert DeliveryReceipt(err="5").err == "5"
    with pytest.raises(ValueError):
        DeliveryReceipt(err=-1)


def test_counts_are_validated() -> None:
    with pytest.raises(ValueError):
        DeliveryReceipt(sub=-1)
    with pytest.raises(TypeError):
        DeliveryReceipt(dlvrd="001")  # type: ignore[arg-type]


def test_round_trip_full() -> None:
    expected = attrs.evolve(FULL, done_date=DONE, text=FULL.text[:20])
    assert parse_receipt(format_receipt(FULL)) == expected
    expected12 = attrs.evolve(FULL, text=FULL.text[:20])
    assert parse_receipt(format_receipt(FULL, date_digits=12)) == expected12
    assert parse_receipt(format_receipt(FULL, date_digits=14)) == expected12


# --------------------------------------------------------------------------- message_state


@pytest.mark.parametrize(
    ("stat", "state"),
    [
        ("ENROUTE", 1),
        ("DELIVRD", 2),
        ("DELIVERED", 2),
        ("delivrd", 2),
        ("EXPIRED", 3),
        ("DELETED", 4),
        ("UNDELIV", 5),
        ("UNDELIVERABLE", 5),
        ("UNDELIVERED", 5),
        ("ACCEPTD", 6),
        ("ACCEPTED", 6),
        ("UNKNOWN", 7),
        ("REJECTD", 8),
        ("REJECTED", 8),
        ("", 7),
        ("FAILED", 7),
        ("SCHEDULED", 7),  # SMPP 5.0 word: not a 3.4 state
    ],
)
def test_message_state(stat: str, state: int) -> None:
    assert DeliveryReceipt(stat=stat).message_state == state
    assert isinstance(DeliveryReceipt(stat=stat).message_state, MessageState)


def test_stat_for_state() -> None:
    assert [stat_for_state(s) for s in range(1, 9)] == [
        "ENROUTE",
        "DELIVRD",
        "EXPIRED",
        "DELETED",
        "UNDELIV",
        "ACCEPTD",
        "UNKNOWN",
        "REJECTD",
    ]
    assert stat_for_state(0) == "UNKNOWN"
    assert stat_for_state(MessageState.DELIVERED) == "DELIVRD"
    for s in range(1, 9):
        assert DeliveryReceipt(stat=stat_for_state(s)).message_state == s


# --------------------------------------------------------------------------- real-world variants


def test_appendix_b_capital_text_key() -> None:
    r = parse_receipt(
        "id:7220022 sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 "
        "stat:DELIVRD err:000 Text:Hello"
    )
    assert r == DeliveryReceipt(
        id="7220022",
        sub=1,
        dlvrd=1,
        submit_date=SUBMIT,
        done_date=DONE,
        stat="DELIVRD",
        err="000",
        text="Hello",
    )


def test_upper_case_keys() -> None:
    r = parse_receipt(
        "ID:ABC123 SUB:001 DLVRD:000 SUBMIT DATE:2501011200 DONE DATE:2501011201 "
        "STAT:UNDELIV ERR:001 TEXT:Hi"
    )
    assert r is not None
    assert (r.id, r.sub, r.dlvrd, r.submit_date, r.done_date) == ("ABC123", 1, 0, SUBMIT, DONE)
    assert (r.stat, r.err, r.text, r.message_state) == ("UNDELIV", "001", "Hi", 5)


def test_mixed_case_keys_and_underscore_dates() -> None:
    r = parse_receipt("Id:1 Sub:1 Dlvrd:1 Submit_Date:2501011200 DoneDate:2501011201 Stat:DELIVRD")
    assert r is not None
    assert (r.id, r.sub, r.dlvrd, r.submit_date, r.done_date) == ("1", 1, 1, SUBMIT, DONE)
    assert r.stat == "DELIVRD"


def test_missing_sub_and_dlvrd() -> None:
    r = parse_receipt(
        "id:12345 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:abc"
    )
    assert r == DeliveryReceipt(
        id="12345",
        submit_date=SUBMIT,
        done_date=DONE,
        stat="DELIVRD",
        err="000",
        text="abc",
    )


def test_missing_text() -> None:
    r = parse_receipt(
        "id:12345 sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 "
        "stat:DELIVRD err:000"
    )
    assert r is not None
    assert (r.text, r.err, r.stat) == ("", "000", "DELIVRD")


def test_empty_text() -> None:
    r = parse_receipt("id:1 stat:DELIVRD err:000 text:")
    assert r is not None and r.text == ""


def test_twelve_digit_dates() -> None:
    r = parse_receipt("id:1 submit date:250101120005 done date:250101120159 stat:DELIVRD")
    assert r is not None
    assert r.submit_date == datetime(2025, 1, 1, 12, 0, 5)
    assert r.done_date == datetime(2025, 1, 1, 12, 1, 59)


def test_fourteen_digit_dates() -> None:
    r = parse_receipt("id:1 submit date:20250101120005 done date:20250101120159 stat:DELIVRD")
    assert r is not None
    assert r.submit_date == datetime(2025, 1, 1, 12, 0, 5)
    assert r.done_date == datetime(2025, 1, 1, 12, 1, 59)


@pytest.mark.parametrize(
    "date",
    [
        "",
        "25010112",
        "2513011200",
        "2501321200",
        "2501012500",
        "25/01/0112",
        "20251301120000",
        "20251010101060",
        "00000101000000",
    ],
)
def test_unreadable_dates_are_none(date: str) -> None:
    r = parse_receipt(f"id:1 submit date:{date} done date:{date} stat:DELIVRD")
    assert r is not None
    assert r.submit_date is None and r.done_date is None
    assert r.stat == "DELIVRD"


def test_unreadable_counts_are_none() -> None:
    r = parse_receipt("id:1 sub:ABC dlvrd:-1 stat:DELIVRD")
    assert r is not None and r.sub is None and r.dlvrd is None
    r = parse_receipt("id:1 sub:1 dlvrd:" + "9" * 5000 + " stat:DELIVRD")
    assert r is not None and r.sub == 1 and r.dlvrd is None


def test_extra_vendor_fields() -> None:
    r = parse_receipt(
        "id:9f8e7d sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 "
        "stat:DELIVRD err:000 imsi:001010123456789 MCCMNC:00101 text:Hi"
    )
    assert r is not None
    assert r.extra == (("imsi", "001010123456789"), ("MCCMNC", "00101"))
    assert (r.err, r.text) == ("000", "Hi")


def test_extra_fields_between_known_fields() -> None:
    r = parse_receipt("id:1 network:Vodafone UK sub:001 dlvrd:001 stat:DELIVRD err:000 text:x")
    assert r is not None
    assert r.extra == (("network", "Vodafone UK"),)
    assert (r.sub, r.dlvrd) == (1, 1)


def test_reordered_fields() -> None:
    r = parse_receipt(
        "stat:EXPIRED err:012 id:42 done date:2501011201 submit date:2501011200 "
        "dlvrd:000 sub:001 text:late"
    )
    assert r == DeliveryReceipt(
        id="42",
        sub=1,
        dlvrd=0,
        submit_date=SUBMIT,
        done_date=DONE,
        stat="EXPIRED",
        err="012",
        text="late",
    )


def test_trailing_text_after_text_is_kept() -> None:
    r = parse_receipt("id:1 stat:DELIVRD err:000 text:this message is longer than twenty\r\n")
    assert r is not None
    assert r.text == "this message is longer than twenty\r\n"


def test_trailing_junk_without_text_key() -> None:
    r = parse_receipt("id:1 stat:DELIVRD err:000 (final)")
    assert r is not None
    assert (r.stat, r.err, r.text) == ("DELIVRD", "000", "")


def test_full_stat_word() -> None:
    r = parse_receipt("id:1 sub:001 dlvrd:001 stat:DELIVERED err:0")
    assert r is not None
    assert (r.stat, r.message_state, r.err) == ("DELIVERED", MessageState.DELIVERED, "0")


@pytest.mark.parametrize("err", ["000", "1F4", "0", "ERR-0042", "12345"])
def test_err_values(err: str) -> None:
    r = parse_receipt(f"id:1 stat:UNDELIV err:{err} text:x")
    assert r is not None and r.err == err


def test_text_containing_keys_cannot_forge_fields() -> None:
    r = parse_receipt("id:1 sub:001 stat:UNDELIV err:000 text:id:999 stat:DELIVRD err:0")
    assert r is not None
    assert (r.id, r.stat, r.err) == ("1", "UNDELIV", "000")
    assert r.text == "id:999 stat:DELIVRD err:0"
    assert r.message_state == MessageState.UNDELIVERABLE


def test_first_repeated_key_wins() -> None:
    r = parse_receipt("id:1 stat:DELIVRD stat:UNDELIV")
    assert r is not None and r.stat == "DELIVRD"


def test_values_may_contain_spaces_and_colons() -> None:
    r = parse_receipt("id:ab:cd 12 sub:001 stat:DELIVRD")
    assert r is not None and r.id == "ab:cd 12"


@pytest.mark.parametrize(
    "receipt_id", ["0221067780", "221067780", "d2d3a04", "D2D3A04", "0D2D3A04"]
)
def test_id_spellings_are_kept_as_written_and_match(receipt_id: str) -> None:
    # 221067780 == 0xd2d3a04
    r = parse_receipt(f"id:{receipt_id} sub:001 dlvrd:001 stat:DELIVRD err:000 text:")
    assert r is not None and r.id == receipt_id
    for submitted in ("221067780", "d2d3a04", "0D2D3A04", "000221067780"):
        assert message_ids_match(submitted, r.id)


def test_bytes_input() -> None:
    raw = b"id:1 sub:001 dlvrd:001 stat:DELIVRD err:000 text:caf\xe9\x00"
    r = parse_receipt(raw)
    assert r is not None
    assert r.text == "caf\u00e9"
    assert parse_receipt(bytearray(raw)) == r


def test_only_stat_is_a_receipt() -> None:
    r = parse_receipt("stat:DELIVRD")
    assert r == DeliveryReceipt(stat="DELIVRD")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Hello there",
        "Your code: 1234",
        "text:id:1 stat:DELIVRD",  # keys only inside text
        "valid:1 status:DELIVRD",  # look-alike keys
        "paid:5 state:DELIVRD",
        b"\x00\x00",
    ],
)
def test_not_a_receipt(text: str | bytes) -> None:
    assert parse_receipt(text) is None


# --------------------------------------------------------------------------- hypothesis

_token = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/#", max_size=16
)
_KNOWN = {"id", "sub", "dlvrd", "submit date", "done date", "stat", "err", "text"}


def _is_vendor_key(key: str) -> bool:
    k = key.lower()
    for prefix, name in (("submit", "submit date"), ("done", "done date")):
        if k.startswith(prefix) and k[len(prefix) :].lstrip("_") == "date":
            k = name
    return k not in _KNOWN


_vendor_key = st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{0,8}", fullmatch=True).filter(_is_vendor_key)


@st.composite
def receipts(draw: st.DrawFn) -> tuple[DeliveryReceipt, int]:
    digits = draw(st.sampled_from([10, 12, 14]))
    if digits == 14:
        lo, hi = datetime(1000, 1, 1), datetime(9999, 12, 31, 23, 59, 59)
    else:
        lo, hi = datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59)
    dates = st.none() | st.datetimes(min_value=lo, max_value=hi).map(
        lambda d: d.replace(microsecond=0, second=0 if digits == 10 else d.second)
    )
    counts = st.none() | st.integers(0, 10**6)
    stat = draw(st.sampled_from(["DELIVRD", "UNDELIV", "ENROUTE", "DELIVERED"]) | _token)
    receipt = DeliveryReceipt(
        id=draw(_token),
        sub=draw(counts),
        dlvrd=draw(counts),
        submit_date=draw(dates),
        done_date=draw(dates),
        stat=stat,
        err=draw(st.integers(0, 999) | _token),
        text=draw(st.text(max_size=20).filter(lambda t: not t.endswith("\x00"))),
        extra=draw(st.lists(st.tuples(_vendor_key, _token), max_size=3)),
    )
    return receipt, digits


@given(receipts())
def test_round_trip(case: tuple[DeliveryReceipt, int]) -> None:
    receipt, digits = case
    text = format_receipt(receipt, date_digits=digits)
    assert parse_receipt(text) == receipt
    assert parse_receipt(text.encode("utf-8")) is not None


@given(st.text())
def test_parse_never_raises_on_text(text: str) -> None:
    r = parse_receipt(text)
    assert r is None or isinstance(r, DeliveryReceipt)


@given(st.binary())
def test_parse_never_raises_on_bytes(raw: bytes) -> None:
    r = parse_receipt(raw)
    assert r is None or isinstance(r, DeliveryReceipt)


_fragments = st.sampled_from(
    [
        "id:",
        "ID:",
        "stat:",
        "sub:",
        "dlvrd:",
        "submit date:",
        "done date:",
        "err:",
        "text:",
        " ",
        "\t",
        ":",
        "x",
        "\x00",
        "\u00e9",
        "2501011200",
        "99999999999999",
        "0" * 30,
        "DELIVRD",
    ]
)


@given(st.lists(_fragments, max_size=30).map("".join))
def test_parse_never_raises_on_key_soup(text: str) -> None:
    r = parse_receipt(text)
    assert r is None or isinstance(r, DeliveryReceipt)


# --------------------------------------------------------------------------- message ids


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("221067780", "221067780"),
        ("0221067780", "221067780"),
        (" 0221067780\x00", "221067780"),
        ("00FF", "ff"),
        ("0000", "0"),
        ("ABC-001", "abc-001"),
        ("0abc-1", "0abc-1"),  # not numeric: zeros are part of the id
        ("", ""),
    ],
)
def test_normalize_message_id(value: str, normalized: str) -> None:
    assert normalize_message_id(value) == normalized


def test_message_id_keys() -> None:
    assert message_id_keys("255") == {"255", "ff", "597"}  # decimal 255, or hex 0x255
    assert message_id_keys("00FF") == {"ff", "255"}
    assert message_id_keys("ab-1") == {"ab-1"}
    assert message_id_keys("0") == {"0"}
    assert message_id_keys("f" * 65) == {"f" * 65}  # longer than any message_id: opaque


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1F4", "500"),
        ("500", "1f4"),
        ("0221067780", "221067780"),
        ("221067780", "d2d3a04"),
        ("221067780", "9144006528"),  # hex "221067780" == decimal 9144006528
        ("ABCDEF", "abcdef"),
        ("000abc", "ABC"),
        ("msg-77", "MSG-77"),
        (" 42 ", "42"),
    ],
)
def test_ids_match(a: str, b: str) -> None:
    assert message_ids_match(a, b)
    assert message_ids_match(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("10", "11"),
        ("ab", "ac"),
        ("", ""),
        ("", "0"),
        ("msg-077", "msg-77"),
        # Both convert to "16" ("10" as hex, "22" to hex), but no single hex/decimal
        # mix-up turns one into the other.
        ("10", "22"),
    ],
)
def test_ids_do_not_match(a: str, b: str) -> None:
    assert not message_ids_match(a, b)
    assert not message_ids_match(b, a)


def test_documented_false_positive_and_cross_base_off() -> None:
    # "10" read as hex is 16: indistinguishable from a hex/decimal mix-up.
    assert message_ids_match("10", "16")
    assert not message_ids_match("10", "16", cross_base=False)
    assert not message_ids_match("1F4", "500", cross_base=False)
    assert message_ids_match("01F4", "1f4", cross_base=False)


def test_truncation() -> None:
    full = "A1B2C3D4E5F6G7H8"
    assert not message_ids_match(full, "a1b2c3d4e5")
    assert message_ids_match(full, "a1b2c3d4e5", allow_truncation=True)
    assert message_ids_match("a1b2c3d4e5", full, allow_truncation=True)
    assert not message_ids_match(full, "a1b2c3d4e", allow_truncation=True)  # 9 chars
    assert not message_ids_match(full, "a1b2c3d4e6", allow_truncation=True)
    assert len("a1b2c3d4e5") == TRUNCATED_ID_LENGTH


# --------------------------------------------------------------------------- MessageIdIndex


def test_index_finds_every_spelling() -> None:
    index: MessageIdIndex[str] = MessageIdIndex()
    index["0D2D3A04"] = "msg-a"
    index.put("msg-Z", "msg-z")
    for spelling in ("0D2D3A04", "d2d3a04", "D2D3A04", "221067780", "0221067780"):
        assert index.get(spelling) == "msg-a"
        assert spelling in index
    assert index.find("0221067780") == ("0D2D3A04", "msg-a")
    assert index["MSG-z"] == "msg-z"
    assert len(index) == 2
    assert sorted(index) == ["0D2D3A04", "msg-Z"]
    assert index.get("nope") is None
    assert index.get("nope", "dflt") == "dflt"
    assert "nope" not in index
    assert 5 not in index
    with pytest.raises(KeyError):
        index["nope"]


def test_index_prefers_same_spelling() -> None:
    index: MessageIdIndex[int] = MessageIdIndex()
    index["10"] = 10
    index["16"] = 16
    assert index.get("16") == 16
    assert index.get("10") == 10
    assert index.pop("16") == 16
    # Documented false positive: "10" read as hex is 16.
    assert index.get("16") == 10
    strict: MessageIdIndex[int] = MessageIdIndex(cross_base=False)
    strict["10"] = 10
    assert strict.get("16") is None
    assert strict.get("0010") == 10


def test_index_ambiguous_cross_base_gives_up() -> None:
    index: MessageIdIndex[str] = MessageIdIndex()
    index["16"] = "decimal sixteen"  # receipt "10" in hex
    index["A"] = "hex ten"  # receipt "10" in decimal
    assert index.get("10") is None
    assert index.find("10") is None


def test_index_replaces_same_normalized_id() -> None:
    index: MessageIdIndex[str] = MessageIdIndex()
    index["00ab"] = "old"
    index["AB"] = "new"
    assert len(index) == 1
    assert index.get("ab") == "new"
    assert list(index) == ["AB"]


def test_index_truncation() -> None:
    index: MessageIdIndex[str] = MessageIdIndex(allow_truncation=True)
    index["a1b2c3d4e5f6g7h8"] = "long"
    index["short"] = "s"
    assert index.get("A1B2C3D4E5") == "long"
    assert index.get("a1b2c3d4e") is None
    assert MessageIdIndex[str]().get("a1b2c3d4e5") is None
    index["a1b2c3d4e5zzzzzz"] = "other"
    assert index.get("a1b2c3d4e5") is None  # ambiguous prefix
    del index["a1b2c3d4e5zzzzzz"]
    assert index.pop("a1b2c3d4e5") == "long"
    assert index.get("a1b2c3d4e5") is None
    assert len(index) == 1
    assert index._prefixes == {}


def test_index_delete_and_pop() -> None:
    index: MessageIdIndex[str] = MessageIdIndex()
    index["1F4"] = "x"
    assert index.pop("nope", "dflt") == "dflt"
    del index["500"]
    assert len(index) == 0
    with pytest.raises(KeyError):
        del index["500"]
    assert index.pop("500") is None
    with pytest.raises(ValueError):
        index.put("  ", "y")
    assert index.get("") is None


@given(st.integers(0, 2**64), st.integers(0, 4), st.booleans())
def test_index_hex_submit_decimal_receipt(n: int, pad: int, upper: bool) -> None:
    submitted = "0" * pad + format(n, "X" if upper else "x")
    index: MessageIdIndex[int] = MessageIdIndex()
    index[submitted] = n
    assert index.get(str(n)) == n
    assert index.get("0" * pad + str(n)) == n
    assert message_ids_match(submitted, str(n))


@given(st.integers(0, 2**64), st.integers(0, 4))
def test_index_decimal_submit_hex_receipt(n: int, pad: int) -> None:
    index: MessageIdIndex[int] = MessageIdIndex()
    index["0" * pad + str(n)] = n
    assert index.get(format(n, "X")) == n
    assert index.get(format(n, "x")) == n
