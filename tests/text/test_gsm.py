"""GSM 03.38 default alphabet, extension table, packing and tolerant decoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppd.text import gsm
from smppd.text.gsm import UnencodableText

# The default alphabet as printed in the reference sheet (§6.1), column by column: column
# 0xN0 lists the characters of septets 0xN0..0xNF.  None = ESC.
REFERENCE_COLUMNS: dict[int, list[str | None]] = {
    0x00: ["@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "\n", "Ø", "ø", "\r", "Å", "å"],
    0x10: ["Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", None, "Æ", "æ", "ß", "É"],
    0x20: [" ", "!", '"', "#", "¤", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/"],
    0x30: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?"],
    0x40: ["¡", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O"],
    0x50: ["P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "Ä", "Ö", "Ñ", "Ü", "§"],
    0x60: ["¿", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o"],
    0x70: ["p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "ä", "ö", "ñ", "ü", "à"],
}

REFERENCE_EXTENSION = {
    0x0A: "\x0c",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

DEFAULT_CHARS = sorted(gsm.charset())


def bit_loop_pack(septets: bytes, fill_bits: int) -> bytes:
    """Obvious reference packing: septet i at bit 7i + fill, LSB first."""
    value = 0
    for index, septet in enumerate(septets):
        value |= septet << (7 * index + fill_bits)
    return value.to_bytes((7 * len(septets) + fill_bits + 7) // 8, "little")


# --------------------------------------------------------------------------------------------
# Tables


@pytest.mark.parametrize("column", sorted(REFERENCE_COLUMNS))
def test_default_alphabet_matches_reference_column(column: int) -> None:
    assert list(gsm.DEFAULT_ALPHABET[column : column + 16]) == REFERENCE_COLUMNS[column]


@pytest.mark.parametrize(
    ("char", "septet"),
    [
        ("@", 0x00),
        ("£", 0x01),
        ("$", 0x02),
        ("¤", 0x24),
        ("_", 0x11),
        ("§", 0x5F),
        ("¿", 0x60),
        ("¡", 0x40),
        ("Ç", 0x09),
        ("\n", 0x0A),
        ("\r", 0x0D),
        ("à", 0x7F),
        ("Δ", 0x10),
    ],
)
def test_default_alphabet_golden(char: str, septet: int) -> None:
    assert gsm.encode(char) == bytes((septet,))
    assert gsm.decode(bytes((septet,))) == char


def test_extension_table_is_complete() -> None:
    defined = {code: char for code, char in enumerate(gsm.DEFAULT_EXTENSION) if char is not None}
    assert defined == REFERENCE_EXTENSION


@pytest.mark.parametrize(("code", "char"), sorted(REFERENCE_EXTENSION.items()))
def test_extension_characters_cost_an_escape(code: int, char: str) -> None:
    assert gsm.encode(char) == bytes((gsm.ESC, code))
    assert gsm.decode(bytes((gsm.ESC, code))) == char
    assert gsm.count_septets(char) == 2


def test_euro_is_esc_65() -> None:
    assert gsm.encode("€") == b"\x1b\x65"


def test_charset_is_basic_plus_extension() -> None:
    assert len(gsm.charset()) == 127 + 10  # every basic septet but ESC, ten extension chars
    assert "`" not in gsm.charset()
    assert "ç" not in gsm.charset()


def test_small_c_cedilla_encodes_as_0x09() -> None:
    assert gsm.encode("ç") == gsm.encode("Ç") == b"\x09"
    assert gsm.decode(b"\x09") == "Ç"
    assert not gsm.is_encodable("ç")


def test_count_septets() -> None:
    assert gsm.count_septets("") == 0
    assert gsm.count_septets("abc") == 3
    assert gsm.count_septets("a€[]") == 7


def test_septet_costs() -> None:
    costs = gsm.septet_costs()
    assert costs["a"] == 1
    assert costs["€"] == 2
    assert costs["ç"] == 1


@pytest.mark.parametrize(("text", "position"), [("`", 0), ("ab`c", 2), ("Hello 😀", 6), ("ĳ", 0)])
def test_unencodable_text_names_character_and_position(text: str, position: int) -> None:
    with pytest.raises(UnencodableText) as info:
        gsm.encode(text)
    assert info.value.position == position
    assert info.value.character == text[position]
    assert isinstance(info.value, ValueError)


def test_unknown_language_is_a_value_error_when_encoding() -> None:
    with pytest.raises(ValueError, match="locking shift"):
        gsm.encode("a", locking_shift=2)  # Spanish has no locking shift table
    with pytest.raises(ValueError, match="single shift"):
        gsm.encode("a", single_shift=14)


# --------------------------------------------------------------------------------------------
# Tolerant decoding


def test_undefined_escape_decodes_as_the_basic_character() -> None:
    assert gsm.decode(b"\x1b\x41") == "A"
    assert gsm.decode(b"\x1b\x00") == "@"


def test_escape_escape_decodes_as_space_and_keeps_the_next_septet() -> None:
    assert gsm.decode(b"\x1b\x1b\x41") == " A"


def test_lone_trailing_escape_decodes_as_space() -> None:
    assert gsm.decode(b"abc\x1b") == "abc "
    assert gsm.decode(b"\x1b") == " "


def test_octets_with_bit_7_set_decode_as_replacement() -> None:
    assert gsm.decode(b"a\x80\xff") == "a\ufffd\ufffd"
    assert gsm.decode(b"\x1b\xe5") == "\ufffd"


def test_unknown_language_ids_decode_with_default_tables() -> None:
    assert gsm.decode(b"\x1b\x65\x04", locking_shift=2, single_shift=99) == "€è"


@given(st.binary(max_size=300), st.integers(-1, 15), st.integers(-1, 15))
def test_decode_never_raises(data: bytes, locking: int, single: int) -> None:
    text = gsm.decode(data, locking_shift=locking, single_shift=single)
    assert isinstance(text, str)
    assert len(text) <= len(data)


# --------------------------------------------------------------------------------------------
# Round trips (unpacked)


@given(st.text(alphabet=st.sampled_from(DEFAULT_CHARS)))
def test_unpacked_round_trip(text: str) -> None:
    data = gsm.encode(text)
    assert max(data, default=0) < 0x80
    assert gsm.decode(data) == text
    assert len(data) == gsm.count_septets(text)


def test_whole_charset_round_trips() -> None:
    text = "".join(DEFAULT_CHARS)
    assert gsm.decode(gsm.encode(text)) == text


# --------------------------------------------------------------------------------------------
# Packing


def test_hello_packed() -> None:
    assert gsm.encode_packed("Hello") == bytes.fromhex("C8329BFD06")
    assert gsm.decode_packed(bytes.fromhex("C8329BFD06")) == "Hello"


def test_hellohello_packed() -> None:
    assert gsm.encode_packed("hellohello") == bytes.fromhex("E8329BFD4697D9EC37")
    assert gsm.decode_packed(bytes.fromhex("E8329BFD4697D9EC37")) == "hellohello"


def test_one_fill_bit_after_a_six_octet_udh() -> None:
    # UDH 05 00 03 RR TT SS = 48 bits; 1 fill bit brings the text to bit 49 = 7 septets.
    packed = gsm.encode_packed("Hello", fill_bits=1)
    assert packed == bytes.fromhex("906536FB0D")
    assert gsm.decode_packed(packed, fill_bits=1) == "Hello"


def test_eight_septets_fill_seven_octets() -> None:
    assert len(gsm.encode_packed("abcdefgh")) == 7
    assert gsm.decode_packed(gsm.encode_packed("abcdefgh")) == "abcdefgh"


def test_seven_spare_bits_are_padded_with_cr_and_dropped_on_reading() -> None:
    packed = gsm.encode_packed("1234567")
    assert packed == gsm.pack(b"1234567\r")
    assert packed[-1] >> 1 == 0x0D
    assert gsm.decode_packed(packed) == "1234567"
    assert gsm.decode_packed(packed, septets=7) == "1234567"


def test_zero_padding_reads_as_at_sign_without_a_septet_count() -> None:
    packed = gsm.pack(gsm.encode("1234567"))  # no CR padding
    assert gsm.decode_packed(packed) == "1234567@"
    assert gsm.decode_packed(packed, septets=7) == "1234567"


def test_cr_after_escape_is_not_taken_for_padding() -> None:
    septets = b"abcdef\x1b\x0d"  # ESC CR: an undefined extension, reads as CR
    assert gsm.decode_packed(gsm.pack(septets)) == "abcdef\r"


def test_packed_with_national_tables() -> None:
    packed = gsm.encode_packed("ğış", locking_shift=1)
    assert gsm.decode_packed(packed, locking_shift=1) == "ğış"


@given(st.binary(max_size=200).map(lambda b: bytes(x & 0x7F for x in b)), st.integers(0, 6))
def test_pack_matches_bit_loop(septets: bytes, fill_bits: int) -> None:
    packed = gsm.pack(septets, fill_bits=fill_bits)
    if septets:
        assert packed == bit_loop_pack(septets, fill_bits)
    else:
        assert packed == b""
    assert gsm.unpack(packed, fill_bits=fill_bits, septets=len(septets)) == septets


@given(st.text(alphabet=st.sampled_from(DEFAULT_CHARS), max_size=400), st.integers(0, 6))
def test_packed_round_trip_with_septet_count(text: str, fill_bits: int) -> None:
    septets = gsm.encode(text)
    packed = gsm.pack(septets, fill_bits=fill_bits)
    assert gsm.decode_packed(packed, fill_bits=fill_bits, septets=len(septets)) == text


@given(st.text(alphabet=st.sampled_from(DEFAULT_CHARS), max_size=400), st.integers(0, 6))
def test_packed_round_trip_without_septet_count(text: str, fill_bits: int) -> None:
    packed = gsm.encode_packed(text, fill_bits=fill_bits)
    ambiguous = (8 * len(packed) - fill_bits) % 7 == 0
    if ambiguous and text.endswith("\r"):
        # A genuine CR exactly at the end of the bits reads as 23.038 padding.
        assert gsm.decode_packed(packed, fill_bits=fill_bits) == text[:-1]
    else:
        assert gsm.decode_packed(packed, fill_bits=fill_bits) == text


@given(st.binary(max_size=200), st.integers(-3, 9), st.one_of(st.none(), st.integers(0, 300)))
def test_decode_packed_never_raises(data: bytes, fill_bits: int, septets: int | None) -> None:
    assert isinstance(gsm.decode_packed(data, fill_bits=fill_bits, septets=septets), str)


def test_unpack_returns_every_whole_septet() -> None:
    assert gsm.unpack(bytes.fromhex("C8329BFD06")) == b"Hello"
    assert gsm.unpack(b"\x00" * 7) == b"\x00" * 8
    assert gsm.unpack(b"") == b""
    assert gsm.unpack(b"\xff", fill_bits=2) == b""


def test_pack_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        gsm.pack(b"\x80")
    with pytest.raises(ValueError):
        gsm.pack(b"a", fill_bits=7)
    with pytest.raises(ValueError):
        gsm.unpack(b"a", fill_bits=-1)


def test_pack_of_nothing_is_empty() -> None:
    assert gsm.pack(b"", fill_bits=3) == b""
    assert gsm.encode_packed("") == b""
