"""User Data Header: golden vectors, tolerance to bad input, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppd.text.udh import (
    IEI_CONCAT_8BIT,
    IEI_CONCAT_16BIT,
    IEI_LOCKING_SHIFT,
    IEI_PORTS_16BIT,
    IEI_SINGLE_SHIFT,
    Concat,
    InformationElement,
    Ports,
    Udh,
    UdhError,
    build_udh,
    concat_ie,
    fill_bits,
    locking_shift_ie,
    parse_ies,
    parse_udh,
    ports_ie,
    single_shift_ie,
)

# The WAP push example: 16-bit ports dest 2948 / orig 9200, then 8-bit concat ref 0x42, 1/2.
WAP = bytes.fromhex("0B 05 04 0B 84 23 F0 00 03 42 02 01")


def test_concat_8bit_golden() -> None:
    assert build_udh([concat_ie(0x42, 3, 1)]) == bytes.fromhex("05 00 03 42 03 01")


def test_concat_16bit_golden() -> None:
    ie = concat_ie(0x1234, 3, 2, reference_bits=16)
    assert build_udh([ie]) == bytes.fromhex("06 08 04 12 34 03 02")


def test_parse_wap_push() -> None:
    udh, rest = parse_udh(WAP + b"payload")
    assert rest == b"payload"
    assert udh.size == 12
    assert [ie.iei for ie in udh.ies] == [IEI_PORTS_16BIT, IEI_CONCAT_8BIT]
    assert udh.ports == Ports(destination=2948, originator=9200, bits=16)
    assert udh.concat == Concat(reference=0x42, total=2, seq=1, reference_bits=8)
    assert udh.to_bytes() == WAP


def test_build_wap_push() -> None:
    assert build_udh([ports_ie(2948, 9200), concat_ie(0x42, 2, 1)]) == WAP


def test_parse_16bit_concat() -> None:
    udh, rest = parse_udh(bytes.fromhex("06 08 04 BE EF 05 03") + b"x")
    assert udh.concat == Concat(reference=0xBEEF, total=5, seq=3, reference_bits=16)
    assert rest == b"x"


def test_ports_8bit() -> None:
    udh = Udh([ports_ie(245, 250, bits=8)])
    assert udh.to_bytes() == bytes.fromhex("04 04 02 F5 FA")
    assert udh.ports == Ports(destination=245, originator=250, bits=8)


def test_national_shifts() -> None:
    udh, rest = parse_udh(bytes.fromhex("06 24 01 01 25 01 02") + b"t")
    assert (udh.single_shift, udh.locking_shift) == (1, 2)
    assert rest == b"t"
    assert build_udh([single_shift_ie(1), locking_shift_ie(2)]) == bytes.fromhex("06 24 01 01 25 01 02")
    assert (Udh().single_shift, Udh().locking_shift) == (0, 0)


def test_unknown_ies_kept_byte_for_byte() -> None:
    raw = bytes.fromhex("0E 70 02 AA BB 00 03 01 02 02 0A 00 FF 01 03")
    udh, rest = parse_udh(raw + b"tail")
    assert [ie.iei for ie in udh.ies] == [0x70, 0x00, 0x0A, 0xFF]
    assert udh.ies[0].data == b"\xaa\xbb"
    assert udh.ies[2].data == b""
    assert udh.concat == Concat(1, 2, 2, 8)
    assert udh.to_bytes() == raw
    assert rest == b"tail"


def test_empty_udh() -> None:
    udh, rest = parse_udh(b"\x00hello")
    assert udh.ies == ()
    assert udh.concat is None and udh.ports is None
    assert rest == b"hello"
    assert build_udh([]) == b"\x00"


def test_last_occurrence_wins() -> None:
    udh = Udh([concat_ie(1, 2, 1), concat_ie(9, 3, 3)])
    assert udh.concat == Concat(9, 3, 3, 8)
    assert udh.find(IEI_CONCAT_8BIT) == InformationElement(0, b"\x09\x03\x03")
    assert udh.find(IEI_CONCAT_16BIT) is None


@pytest.mark.parametrize(
    "ie",
    [
        InformationElement(IEI_CONCAT_8BIT, b"\x01\x02"),  # wrong IEDL
        InformationElement(IEI_CONCAT_8BIT, b"\x01\x00\x00"),  # total 0
        InformationElement(IEI_CONCAT_8BIT, b"\x01\x02\x00"),  # seq 0
        InformationElement(IEI_CONCAT_8BIT, b"\x01\x02\x03"),  # seq > total
        InformationElement(IEI_CONCAT_16BIT, b"\x01\x02\x03"),  # wrong IEDL
    ],
)
def test_meaningless_concat_is_ignored(ie: InformationElement) -> None:
    udh, _ = parse_udh(build_udh([ie]))
    assert udh.concat is None


def test_malformed_ports_and_shift_ignored() -> None:
    udh = Udh(
        [
            InformationElement(IEI_PORTS_16BIT, b"\x01"),
            InformationElement(IEI_SINGLE_SHIFT, b""),
            InformationElement(IEI_LOCKING_SHIFT, b"\x01\x02"),
        ]
    )
    assert udh.ports is None
    assert (udh.single_shift, udh.locking_shift) == (0, 0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (bytes.fromhex("05 00 03 01 02"), "UDHL is 5 but only 4"),
        (bytes.fromhex("05"), "UDHL is 5 but only 0"),
        (bytes.fromhex("01 00"), "truncated IE header"),
        (bytes.fromhex("04 00 03 01 02 ff"), "declares 3 octets"),
        (bytes.fromhex("09 05 04 0B 84 23 F0 00 03 01"), "declares 3 octets"),
    ],
)
def test_malformed_raises_one_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(UdhError, match=message):
        parse_udh(data)


def test_udh_error_is_value_error() -> None:
    assert issubclass(UdhError, ValueError)


def test_every_truncation_of_a_udh_is_an_error_or_shorter() -> None:
    """Feeding a header one byte at a time: every proper prefix fails cleanly."""
    for cut in range(len(WAP)):
        with pytest.raises(UdhError):
            parse_udh(WAP[:cut])


def test_builder_limits() -> None:
    with pytest.raises(UdhError):
        InformationElement(0x70, bytes(256))
    with pytest.raises(UdhError):
        build_udh([InformationElement(0x70, bytes(200)), InformationElement(0x71, bytes(60))])
    with pytest.raises(ValueError):
        concat_ie(256, 2, 1)
    with pytest.raises(ValueError):
        concat_ie(65536, 2, 1, reference_bits=16)
    with pytest.raises(ValueError):
        concat_ie(1, 0, 1)
    with pytest.raises(ValueError):
        concat_ie(1, 2, 3)
    with pytest.raises(ValueError):
        concat_ie(1, 2, 1, reference_bits=12)
    with pytest.raises(ValueError):
        ports_ie(70000, 1)
    with pytest.raises(ValueError):
        ports_ie(256, 1, bits=8)


def test_parse_ies_without_udhl() -> None:
    assert parse_ies(bytes.fromhex("24 01 01")) == (single_shift_ie(1),)
    assert parse_ies(b"") == ()
    with pytest.raises(UdhError):
        parse_ies(b"\x24")


@pytest.mark.parametrize(("octets", "fill"), [(0, 0), (6, 1), (7, 0), (5, 2), (12, 2), (13, 1)])
def test_fill_bits(octets: int, fill: int) -> None:
    assert fill_bits(octets) == fill
    assert (8 * octets + fill) % 7 == 0


ies = st.builds(InformationElement, st.integers(0, 255), st.binary(max_size=20))


@given(st.lists(ies, max_size=8), st.binary(max_size=30))
def test_round_trip(elements: list[InformationElement], rest: bytes) -> None:
    raw = build_udh(elements)
    udh, tail = parse_udh(raw + rest)
    assert udh.ies == tuple(elements)
    assert tail == rest
    assert udh.size == len(raw)
    assert udh.to_bytes() == raw


@given(st.binary(max_size=40))
def test_parse_never_raises_anything_but_udh_error(data: bytes) -> None:
    try:
        udh, rest = parse_udh(data)
    except UdhError:
        return
    assert udh.to_bytes() + rest == data
