"""The public encoding API: TextEncoding, encode/decode, units, capacity, choice."""

from __future__ import annotations

import subprocess
import sys

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppd.text import encoding, gsm, national
from smppd.text.encoding import (
    ASCII,
    BINARY,
    GSM7,
    GSM7_PACKED,
    LATIN1,
    UCS2,
    TextEncoding,
    UnencodableText,
    choose_encoding,
    decode,
    encode,
    segment_capacity,
    units,
)

GSM = TextEncoding(GSM7, 0)
PACKED = TextEncoding(GSM7_PACKED, 0)
UCS = TextEncoding(UCS2, 8)
IA5 = TextEncoding(ASCII, 1)
LAT = TextEncoding(LATIN1, 3)
BIN = TextEncoding(BINARY, 4)
TURKISH_LOCKING = TextEncoding(GSM7, 0, locking_shift=national.TURKISH)

DEFAULT_CHARS = sorted(gsm.charset())
# Any text UTF-16 can carry: everything but lone surrogates.
UNICODE_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]))


# --------------------------------------------------------------------------------------------
# TextEncoding


def test_text_encoding_fields() -> None:
    enc = TextEncoding(GSM7, 0, 1, 2)
    assert (enc.name, enc.data_coding, enc.locking_shift, enc.single_shift) == (GSM7, 0, 1, 2)
    assert TextEncoding(UCS2, 8) == UCS
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        enc.name = UCS2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "utf8", "data_coding": 0}, "name"),
        ({"name": GSM7, "data_coding": 256}, "data_coding"),
        ({"name": GSM7, "data_coding": -1}, "data_coding"),
        ({"name": UCS2, "data_coding": 8, "single_shift": 1}, "GSM 7-bit only"),
        ({"name": LATIN1, "data_coding": 3, "locking_shift": 1}, "GSM 7-bit only"),
        ({"name": GSM7, "data_coding": 0, "locking_shift": national.SPANISH}, "locking"),
        ({"name": GSM7, "data_coding": 0, "single_shift": 14}, "single"),
    ],
)
def test_text_encoding_rejects_bad_values(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TextEncoding(**kwargs)  # type: ignore[arg-type]


def test_for_name_uses_the_usual_data_coding() -> None:
    assert TextEncoding.for_name(GSM7) == GSM
    assert TextEncoding.for_name(GSM7_PACKED) == PACKED
    assert TextEncoding.for_name(ASCII) == IA5
    assert TextEncoding.for_name(LATIN1) == LAT
    assert TextEncoding.for_name(UCS2) == UCS
    assert TextEncoding.for_name(BINARY) == BIN
    assert TextEncoding.for_name(GSM7, single_shift=2) == TextEncoding(GSM7, 0, 0, 2)
    with pytest.raises(ValueError):
        TextEncoding.for_name("utf8")


@pytest.mark.parametrize(
    ("enc", "ies"),
    [
        (GSM, ""),
        (UCS, ""),
        (TURKISH_LOCKING, "250101"),
        (TextEncoding(GSM7, 0, single_shift=national.SPANISH), "240102"),
        (TextEncoding(GSM7_PACKED, 0, national.PORTUGUESE, national.PORTUGUESE), "240103250103"),
    ],
)
def test_udh_ies(enc: TextEncoding, ies: str) -> None:
    assert enc.udh_ies() == bytes.fromhex(ies)


# --------------------------------------------------------------------------------------------
# encode


def test_encode_each_encoding() -> None:
    assert encode("Hello", GSM) == b"Hello"
    assert encode("@€", GSM) == b"\x00\x1b\x65"
    assert encode("Hello", PACKED) == bytes.fromhex("C8329BFD06")
    assert encode("Hi", IA5) == b"Hi"
    assert encode("é", LAT) == b"\xe9"
    assert encode("é€", UCS) == bytes.fromhex("00E920AC")
    assert encode("\x00\xff", BIN) == b"\x00\xff"
    assert encode("ı", TURKISH_LOCKING) == b"\x07"


def test_ucs2_is_utf16be_with_surrogate_pairs_and_no_bom() -> None:
    assert encode("😀", UCS) == bytes.fromhex("D83DDE00")
    assert encode("a😀", UCS) == bytes.fromhex("0061D83DDE00")


@pytest.mark.parametrize(
    ("text", "enc", "position"),
    [
        ("ab`", GSM, 2),
        ("😀", PACKED, 0),
        ("xé", IA5, 1),
        ("€", LAT, 0),
        ("a\ud800", UCS, 1),
        ("Ā", BIN, 0),
    ],
)
def test_encode_raises_unencodable_text(text: str, enc: TextEncoding, position: int) -> None:
    with pytest.raises(UnencodableText) as info:
        encode(text, enc)
    assert info.value.position == position
    assert info.value.character == text[position]
    with pytest.raises(UnencodableText):
        units(text, enc)


def test_unencodable_text_is_the_gsm_one() -> None:
    assert UnencodableText is gsm.UnencodableText
    assert issubclass(UnencodableText, ValueError)


# --------------------------------------------------------------------------------------------
# units


@pytest.mark.parametrize(
    ("text", "enc", "count"),
    [
        ("", GSM, 0),
        ("abc", GSM, 3),
        ("€", GSM, 2),
        ("a[b]", PACKED, 6),
        ("ğ", TURKISH_LOCKING, 1),
        ("ğ", TextEncoding(GSM7, 0, single_shift=national.TURKISH), 2),
        ("abc", IA5, 3),
        ("é€"[0] * 4, LAT, 4),
        ("abc", UCS, 3),
        ("😀", UCS, 2),
        ("a😀b", UCS, 4),
        ("\x00\xff", BIN, 2),
    ],
)
def test_units(text: str, enc: TextEncoding, count: int) -> None:
    assert units(text, enc) == count


# --------------------------------------------------------------------------------------------
# decode


@pytest.mark.parametrize(
    ("data", "data_coding", "text"),
    [
        (b"Hello\x00\x1b\x65", 0x00, "Hello@€"),
        (b"Hi\x80", 0x01, "Hi\ufffd"),
        (b"\xe9\x80", 0x02, "é\x80"),
        (b"\xe9", 0x03, "é"),
        (b"\x00\xff", 0x04, "\x00\xff"),
        (b"\xb0", 0x05, "°"),
        (b"\xb0\xef", 0x06, "Ая"),
        (b"\xe0\xbf", 0x07, "א\ufffd"),
        (bytes.fromhex("00E9D83DDE00"), 0x08, "é😀"),
        (bytes.fromhex("0041D800"), 0x08, "A\ufffd"),
        (bytes.fromhex("0041DE00"), 0x08, "A\ufffd"),
        (bytes.fromhex("004100"), 0x08, "A\ufffd"),
        (b"\xe9", 0x09, "é"),
        (b"Hi", 0x10, "Hi"),
        (b"\x00", 0x13, "@"),
        (b"\xe9", 0x14, "é"),
        (bytes.fromhex("20AC"), 0x18, "€"),
        (bytes.fromhex("20AC"), 0x1B, "€"),
        (b"\xe9", 0x1C, "é"),
        (b"\x00", 0xC0, "@"),
        (b"\x00", 0xD8, "@"),
        (bytes.fromhex("20AC"), 0xE0, "€"),
        (bytes.fromhex("20AC"), 0xEF, "€"),
        (b"\x00\x02", 0xF0, "@$"),
        (b"\x00", 0xF3, "@"),
        (b"\x00\xe9", 0xF4, "\x00é"),
        (b"\xe9", 0xF8, "é"),
        (b"\xe9", 0xFF, "é"),
        (b"\xe9", 0x100, "é"),
        (b"\xe9", -1, "é"),
    ],
)
def test_decode_by_data_coding(data: bytes, data_coding: int, text: str) -> None:
    assert decode(data, data_coding) == text


def test_decode_gsm_with_national_tables_and_packing() -> None:
    assert decode(b"\x07\x0c", 0, locking_shift=national.TURKISH) == "ığ"
    assert decode(b"\x1b\x67", 0xF1, single_shift=national.TURKISH) == "ğ"
    assert decode(bytes.fromhex("C8329BFD06"), 0, packed=True) == "Hello"
    assert decode(bytes.fromhex("C8329BFD06"), 0x08, packed=True) == "\uc832\u9bfd\ufffd"


def test_decode_accepts_bytes_like() -> None:
    assert decode(bytearray(b"Hi"), 0) == "Hi"
    assert decode(memoryview(b"\x00A"), 8) == "A"


@given(
    st.binary(max_size=300),
    st.one_of(st.integers(0, 255), st.integers(-(2**31), 2**31)),
    st.integers(-2, 20),
    st.integers(-2, 20),
    st.booleans(),
)
def test_decode_never_raises(
    data: bytes, data_coding: int, locking: int, single: int, packed: bool
) -> None:
    text = decode(data, data_coding, locking_shift=locking, single_shift=single, packed=packed)
    assert isinstance(text, str)
    text.encode("utf-8")  # no lone surrogates leak out


# --------------------------------------------------------------------------------------------
# Round trips


@given(st.text(alphabet=st.sampled_from(DEFAULT_CHARS)))
def test_round_trip_gsm7(text: str) -> None:
    assert decode(encode(text, GSM), GSM.data_coding) == text


@given(st.text(alphabet=st.sampled_from(DEFAULT_CHARS)))
def test_round_trip_gsm7_packed(text: str) -> None:
    data = encode(text, PACKED)
    expected = text
    if text.endswith("\r") and (8 * len(data)) % 7 == 0:
        expected = text[:-1]  # read as 23.038 CR padding; see gsm.decode_packed
    assert decode(data, 0, packed=True) == expected


@given(st.text(alphabet=st.sampled_from(sorted(gsm.charset(national.TURKISH, national.TURKISH)))))
def test_round_trip_gsm7_turkish(text: str) -> None:
    enc = TextEncoding(GSM7, 0, national.TURKISH, national.TURKISH)
    assert decode(encode(text, enc), 0, locking_shift=1, single_shift=1) == text


@given(UNICODE_TEXT)
def test_round_trip_ucs2(text: str) -> None:
    data = encode(text, UCS)
    assert len(data) == 2 * units(text, UCS)
    assert decode(data, UCS.data_coding) == text


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_round_trip_ascii(text: str) -> None:
    assert decode(encode(text, IA5), IA5.data_coding) == text


@given(st.text(alphabet=st.characters(max_codepoint=0xFF)))
def test_round_trip_latin1_and_binary(text: str) -> None:
    assert decode(encode(text, LAT), LAT.data_coding) == text
    assert decode(encode(text, BIN), BIN.data_coding) == text


def test_round_trip_emoji_and_surrogates() -> None:
    text = "Hi 😀👍🏽 𝄞 \U0010ffff"
    assert units(text, UCS) == 3 + 2 + 2 + 2 + 1 + 2 + 1 + 2
    assert decode(encode(text, UCS), 8) == text


# --------------------------------------------------------------------------------------------
# segment_capacity


@pytest.mark.parametrize(
    ("enc", "concatenated", "udh_octets", "capacity"),
    [
        (GSM, False, 0, 160),
        (GSM, True, 0, 153),
        (GSM, True, 6, 153),
        (GSM, True, 7, 152),
        (PACKED, True, 7, 152),
        (GSM, False, 6, 153),  # e.g. a port UDH
        (GSM, False, 12, 146),
        (BIN, False, 0, 140),
        (BIN, True, 0, 134),
        (BIN, True, 7, 133),
        (LAT, False, 0, 140),
        (IA5, True, 0, 134),
        (UCS, False, 0, 70),
        (UCS, True, 0, 67),
        (UCS, True, 7, 66),
        (UCS, False, 1, 69),
        # national shift IEs are counted when udh_octets is left at 0
        (TURKISH_LOCKING, False, 0, 155),  # UDHL + 3
        (TURKISH_LOCKING, True, 0, 149),  # UDHL + 5 + 3
        (TextEncoding(GSM7, 0, 1, 1), False, 0, 152),  # UDHL + 3 + 3
        (TextEncoding(GSM7, 0, 1, 1), True, 0, 146),  # UDHL + 5 + 3 + 3
        (TURKISH_LOCKING, True, 7, 152),  # a given total is the total
    ],
)
def test_segment_capacity(
    enc: TextEncoding, concatenated: bool, udh_octets: int, capacity: int
) -> None:
    assert segment_capacity(enc, concatenated=concatenated, udh_octets=udh_octets) == capacity


@pytest.mark.parametrize("udh_octets", range(1, 140))
def test_gsm_capacity_formula(udh_octets: int) -> None:
    udh_septets = -(-(8 * udh_octets) // 7)
    expected = (140 * 8 - udh_septets * 7) // 7
    assert segment_capacity(GSM, concatenated=True, udh_octets=udh_octets) == expected


@pytest.mark.parametrize("udh_octets", [-1, 140, 200])
def test_segment_capacity_rejects_impossible_udh(udh_octets: int) -> None:
    with pytest.raises(ValueError):
        segment_capacity(GSM, concatenated=True, udh_octets=udh_octets)


# --------------------------------------------------------------------------------------------
# choose_encoding


def test_plain_ascii_is_gsm7() -> None:
    assert choose_encoding("Hello, world!") == GSM
    assert choose_encoding("") == GSM


def test_euro_is_gsm7_at_two_septets() -> None:
    enc = choose_encoding("€")
    assert enc == GSM
    assert units("€", enc) == 2


def test_turkish_letter_uses_a_turkish_table_only_when_allowed() -> None:
    enc = choose_encoding("ğ", languages=(national.TURKISH,))
    assert enc.name == GSM7
    assert national.TURKISH in (enc.locking_shift, enc.single_shift)
    assert decode(encode("ğ", enc), 0, locking_shift=enc.locking_shift,
                  single_shift=enc.single_shift) == "ğ"  # fmt: skip
    assert choose_encoding("ğ") == UCS


def test_national_tables_are_not_used_when_the_default_does() -> None:
    assert choose_encoding("Hello", languages=(national.TURKISH, national.PORTUGUESE)) == GSM
    assert choose_encoding("€" * 10, languages=(national.TURKISH,)) == GSM


def test_national_table_chosen_when_it_saves_segments() -> None:
    # 100 euro signs: 200 septets (2 segments) with the default tables; the Turkish locking
    # table has the euro at 0x04: 100 septets + a 4-octet UDH fit one SMS.
    enc = choose_encoding("€" * 100, languages=(national.TURKISH,))
    assert enc == TURKISH_LOCKING
    assert choose_encoding("€" * 100) == GSM


def test_emoji_is_ucs2() -> None:
    assert choose_encoding("Hi 😀") == UCS
    assert choose_encoding("Hi 😀", languages=range(1, 14)) == UCS


def test_long_gsm_text_beats_ucs2() -> None:
    text = "a" * 161
    assert choose_encoding(text) == GSM  # 2 segments, against 3 in UCS2


def test_ucs2_chosen_when_gsm_needs_more_segments() -> None:
    # 70 euro signs: 140 septets fit one GSM SMS; 71 signs + 19 letters = 161 septets need
    # two, while UCS2 carries 90 units in two segments as well: GSM wins the tie.
    assert choose_encoding("€" * 70) == GSM
    assert choose_encoding("€" * 71 + "a" * 19) == GSM
    # 50 Hindi letters and 200 brackets: GSM with Hindi tables is 50 + 400 septets (4 segments
    # after the shift IEs); UCS2 is 250 units, also 4 segments: the tie goes to GSM.
    text = "क" * 50 + "[" * 200
    enc = choose_encoding(text, languages=(national.HINDI,))
    assert enc.name == GSM7
    assert (enc.locking_shift, enc.single_shift) == (national.HINDI, 0)


def test_small_c_cedilla_needs_a_national_table_or_force() -> None:
    assert choose_encoding("ça va") == UCS  # 0x09 reads back as capital Ç
    spanish = choose_encoding("ça va", languages=(national.SPANISH,))
    assert spanish == TextEncoding(GSM7, 0, single_shift=national.SPANISH)
    assert choose_encoding("ça va", force=GSM7) == GSM
    assert encode("ça va", GSM) == b"\x09a va"


def test_force_picks_the_named_encoding() -> None:
    assert choose_encoding("Hello", force=UCS2) == UCS
    assert choose_encoding("é", force=LATIN1) == LAT
    assert choose_encoding("Hi", force=ASCII) == IA5
    assert choose_encoding("Hello", force=GSM7_PACKED) == PACKED
    assert choose_encoding("\x00\xff", force=BINARY) == BIN
    assert choose_encoding("ğ", languages=(1,), force=GSM7_PACKED).name == GSM7_PACKED


@pytest.mark.parametrize(
    ("text", "force", "position"),
    [("Hi 😀", GSM7, 3), ("€", LATIN1, 0), ("é", ASCII, 0), ("ğ", GSM7_PACKED, 0)],
)
def test_force_raises_when_it_cannot_represent_the_text(
    text: str, force: str, position: int
) -> None:
    with pytest.raises(UnencodableText) as info:
        choose_encoding(text, force=force)
    assert info.value.position == position


def test_choose_rejects_unknown_names_and_languages() -> None:
    with pytest.raises(ValueError):
        choose_encoding("a", force="utf8")
    with pytest.raises(ValueError):
        choose_encoding("a", languages=(14,))
    assert choose_encoding("a", languages=(0,)) == GSM


def test_lone_surrogate_cannot_be_sent() -> None:
    with pytest.raises(UnencodableText):
        choose_encoding("a\udc00")


@given(UNICODE_TEXT, st.lists(st.integers(1, 13), max_size=3))
def test_chosen_encoding_represents_the_text_exactly(text: str, languages: list[int]) -> None:
    enc = choose_encoding(text, languages=languages)
    assert enc.name in (GSM7, UCS2)
    data = encode(text, enc)
    assert decode(data, enc.data_coding, locking_shift=enc.locking_shift,
                  single_shift=enc.single_shift) == text  # fmt: skip


@given(st.text(alphabet=st.sampled_from(DEFAULT_CHARS), max_size=500))
def test_gsm_text_is_always_gsm7(text: str) -> None:
    assert choose_encoding(text) == GSM


def test_segment_estimate_keeps_escapes_whole() -> None:
    # 152 letters + euro + 152 letters = 306 septets = 2 x 153, but the euro cannot straddle
    # the boundary, so three segments are needed.
    text = "a" * 152 + "€" + "a" * 152
    assert encoding._segments(text, GSM, units(text, GSM), gsm.septet_costs()) == 3
    text = "a" * 66 + "😀" + "a" * 66  # 134 units = 2 x 67, the emoji cannot straddle
    assert encoding._segments(text, UCS, units(text, UCS), None) == 3


def test_text_modules_import_nothing_from_twisted() -> None:
    code = (
        "import sys\n"
        "import smppd.text.encoding, smppd.text.gsm, smppd.text.national\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'twisted'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
