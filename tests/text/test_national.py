"""National language locking/single shift tables (3GPP TS 23.038 Annex A)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppd.text import gsm, national

LOCKING_IDS = sorted(national.LOCKING_SHIFT_TABLES)
SINGLE_IDS = sorted(national.SINGLE_SHIFT_TABLES)
INDIC_AND_URDU = list(range(national.BENGALI, national.URDU + 1))

# Every table pair worth round-tripping: each table with the default partner, and each
# language's own pair.
PAIRS = sorted(
    {(lang, 0) for lang in LOCKING_IDS}
    | {(0, lang) for lang in SINGLE_IDS}
    | {(lang, lang) for lang in LOCKING_IDS}
    | {(national.TURKISH, national.SPANISH), (national.PORTUGUESE, national.TURKISH)}
)


def defined(table: national.Table) -> dict[int, str]:
    return {code: char for code, char in enumerate(table) if char is not None}


def test_language_ids() -> None:
    assert national.LANGUAGE_NAMES == {
        1: "Turkish", 2: "Spanish", 3: "Portuguese", 4: "Bengali", 5: "Gujarati", 6: "Hindi",
        7: "Kannada", 8: "Malayalam", 9: "Oriya", 10: "Punjabi", 11: "Tamil", 12: "Telugu",
        13: "Urdu",
    }  # fmt: skip
    # Spanish has a single shift table only.
    assert sorted(national.LOCKING_SHIFT_TABLES) == [1, *range(3, 14)]
    assert sorted(national.SINGLE_SHIFT_TABLES) == list(range(1, 14))


@pytest.mark.parametrize(
    "table",
    [*national.LOCKING_SHIFT_TABLES.values(), *national.SINGLE_SHIFT_TABLES.values()],
)
def test_table_shape(table: national.Table) -> None:
    assert len(table) == 128
    assert table[gsm.ESC] is None
    for char in defined(table).values():
        assert len(char) == 1
        assert unicodedata.category(char) != "Cn", f"U+{ord(char):04X} is unassigned"


@pytest.mark.parametrize("language", LOCKING_IDS)
def test_locking_tables_define_each_character_once(language: int) -> None:
    chars = list(defined(national.LOCKING_SHIFT_TABLES[language]).values())
    assert len(chars) == len(set(chars))


@pytest.mark.parametrize("language", SINGLE_IDS)
def test_single_shift_tables_keep_the_default_extension(language: int) -> None:
    table = national.SINGLE_SHIFT_TABLES[language]
    for code, char in defined(gsm.DEFAULT_EXTENSION).items():
        assert table[code] == char, f"0x{code:02X}"


@pytest.mark.parametrize("language", INDIC_AND_URDU)
def test_indic_and_urdu_locking_tables_share_ascii_cells(language: int) -> None:
    table = national.LOCKING_SHIFT_TABLES[language]
    expected = {0x0A: "\n", 0x0D: "\r", 0x20: " ", 0x21: "!", 0x28: ")", 0x29: "(",
                0x2C: ",", 0x2E: ".", 0x3A: ":", 0x3B: ";", 0x3F: "?"}  # fmt: skip
    expected.update({0x30 + digit: str(digit) for digit in range(10)})
    expected.update({0x61 + index: chr(ord("a") + index) for index in range(26)})
    assert {code: table[code] for code in expected} == expected


@pytest.mark.parametrize("language", INDIC_AND_URDU)
def test_indic_and_urdu_single_shift_tables_share_ascii_cells(language: int) -> None:
    table = national.SINGLE_SHIFT_TABLES[language]
    expected = {0x00: "@", 0x01: "£", 0x02: "$", 0x03: "¥", 0x04: "¿", 0x05: '"', 0x06: "¤",
                0x07: "%", 0x08: "&", 0x09: "'", 0x0B: "*", 0x0C: "+", 0x0E: "-", 0x0F: "/",
                0x10: "<", 0x11: "=", 0x12: ">", 0x13: "¡", 0x14: "^", 0x15: "¡", 0x16: "_",
                0x17: "#", 0x18: "*"}  # fmt: skip
    expected.update({0x41 + index: chr(ord("A") + index) for index in range(26)})
    assert {code: table[code] for code in expected} == expected


def test_turkish_locking_shift_cells() -> None:
    table = national.LOCKING_SHIFT_TABLES[national.TURKISH]
    differs = {code: char for code, char in defined(table).items()
               if gsm.DEFAULT_ALPHABET[code] != char}  # fmt: skip
    assert differs == {0x04: "€", 0x07: "ı", 0x0B: "Ğ", 0x0C: "ğ", 0x1C: "Ş", 0x1D: "ş",
                       0x40: "İ", 0x60: "ç"}  # fmt: skip


def test_turkish_single_shift_table() -> None:
    table = national.SINGLE_SHIFT_TABLES[national.TURKISH]
    extra = {code: char for code, char in defined(table).items()
             if gsm.DEFAULT_EXTENSION[code] != char}  # fmt: skip
    assert extra == {0x47: "Ğ", 0x49: "İ", 0x53: "Ş", 0x63: "ç", 0x67: "ğ", 0x69: "ı",
                     0x73: "ş"}  # fmt: skip


def test_spanish_single_shift_table() -> None:
    table = national.SINGLE_SHIFT_TABLES[national.SPANISH]
    extra = {code: char for code, char in defined(table).items()
             if gsm.DEFAULT_EXTENSION[code] != char}  # fmt: skip
    assert extra == {0x09: "ç", 0x41: "Á", 0x49: "Í", 0x4F: "Ó", 0x55: "Ú", 0x61: "á",
                     0x69: "í", 0x6F: "ó", 0x75: "ú"}  # fmt: skip


def test_portuguese_locking_shift_cells() -> None:
    table = national.LOCKING_SHIFT_TABLES[national.PORTUGUESE]
    assert table[0x04] == "ê"
    assert table[0x09] == "ç"
    assert table[0x12:0x1B] == ("ª", "Ç", "À", "∞", "^", "\\", "€", "Ó", "|")
    assert table[0x24] == "º"
    assert table[0x40] == "Í"
    assert table[0x60] == "~"
    assert table[0x7D] == "`"


def test_portuguese_single_shift_table() -> None:
    table = national.SINGLE_SHIFT_TABLES[national.PORTUGUESE]
    extra = {code: char for code, char in defined(table).items()
             if gsm.DEFAULT_EXTENSION[code] != char}  # fmt: skip
    assert extra == {
        0x05: "ê", 0x09: "ç", 0x0B: "Ô", 0x0C: "ô", 0x0E: "Á", 0x0F: "á", 0x12: "Φ",
        0x13: "Γ", 0x15: "Ω", 0x16: "Π", 0x17: "Ψ", 0x18: "Σ", 0x19: "Θ", 0x1F: "Ê",
        0x41: "À", 0x49: "Í", 0x4F: "Ó", 0x55: "Ú", 0x5B: "Ã", 0x5C: "Õ", 0x61: "Â",
        0x69: "í", 0x6F: "ó", 0x75: "ú", 0x7B: "ã", 0x7C: "õ", 0x7F: "â",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("table", "language", "code", "codepoint"),
    [
        # spot checks against TS 23.038 Annex A (via the sources named in national.py)
        ("locking", national.BENGALI, 0x00, 0x0981),
        ("locking", national.BENGALI, 0x7F, 0x09F1),
        ("locking", national.GUJARATI, 0x60, 0x0AD0),
        ("locking", national.HINDI, 0x3C, 0x0929),
        ("locking", national.HINDI, 0x7E, 0x097E),
        ("locking", national.KANNADA, 0x24, 0x0CA1),  # 23.038 misprints U+0CAA (AOSP fix)
        ("locking", national.KANNADA, 0x3D, 0x0CAA),
        ("locking", national.MALAYALAM, 0x7F, 0x0D79),
        ("locking", national.ORIYA, 0x60, 0x0B56),
        ("locking", national.PUNJABI, 0x7F, 0x0A74),
        ("locking", national.TAMIL, 0x3C, 0x0BA9),
        ("locking", national.TELUGU, 0x60, 0x0C55),
        ("locking", national.URDU, 0x00, 0x0627),
        ("locking", national.URDU, 0x58, 0x0621),
        ("single", national.BENGALI, 0x24, 0x09DF),
        ("single", national.GUJARATI, 0x19, 0x0964),
        ("single", national.HINDI, 0x39, 0x0970),
        ("single", national.KANNADA, 0x2A, 0x0CF2),
        ("single", national.MALAYALAM, 0x2E, 0x0D7A),
        ("single", national.ORIYA, 0x2C, 0x0B71),
        ("single", national.PUNJABI, 0x2D, 0x0A75),
        ("single", national.TAMIL, 0x24, 0x0BEE),
        ("single", national.TELUGU, 0x65, 0x20AC),
        ("single", national.TELUGU, 0x1C, 0x0C66),
        ("single", national.URDU, 0x3F, 0x06D4),
    ],
)
def test_table_spot_checks(table: str, language: int, code: int, codepoint: int) -> None:
    tables = national.LOCKING_SHIFT_TABLES if table == "locking" else national.SINGLE_SHIFT_TABLES
    assert tables[language][code] == chr(codepoint)


def test_undefined_cells_stay_undefined() -> None:
    assert national.LOCKING_SHIFT_TABLES[national.KANNADA][0x00] is None
    assert national.LOCKING_SHIFT_TABLES[national.TAMIL][0x11] is None
    assert national.LOCKING_SHIFT_TABLES[national.TELUGU][0x11] is None
    assert national.SINGLE_SHIFT_TABLES[national.TELUGU][0x19] is None


# --------------------------------------------------------------------------------------------
# UDH information elements


@pytest.mark.parametrize(
    ("locking", "single", "ies"),
    [
        (0, 0, ""),
        (1, 0, "250101"),
        (0, 2, "240102"),
        (3, 3, "240103 250103"),
        (13, 4, "240104 25010d"),
    ],
)
def test_shift_ies(locking: int, single: int, ies: str) -> None:
    assert national.shift_ies(locking, single) == bytes.fromhex(ies)


@pytest.mark.parametrize(("locking", "single"), [(2, 0), (14, 0), (0, 14), (-1, 0), (0, 99)])
def test_languages_without_a_table_are_rejected(locking: int, single: int) -> None:
    with pytest.raises(ValueError):
        national.check_languages(locking, single)
    with pytest.raises(ValueError):
        national.shift_ies(locking, single)


# --------------------------------------------------------------------------------------------
# Encoding and decoding with national tables (through smppd.text.gsm)


def test_turkish_text_with_locking_shift_is_one_septet_per_letter() -> None:
    text = "Güle güle, İstanbul'da şık ığdır"
    data = gsm.encode(text, locking_shift=national.TURKISH)
    assert len(data) == len(text)
    assert gsm.decode(data, locking_shift=national.TURKISH) == text


def test_turkish_single_shift_escapes_the_national_letters() -> None:
    assert gsm.encode("ğ", single_shift=national.TURKISH) == b"\x1b\x67"
    assert gsm.decode(b"\x1b\x67", single_shift=national.TURKISH) == "ğ"
    assert gsm.decode(b"\x1b\x67") == "g"  # without the IE: the basic-table fallback


def test_spanish_single_shift_gives_small_c_cedilla_exactly() -> None:
    assert gsm.encode("ç", single_shift=national.SPANISH) == b"\x1b\x09"
    assert gsm.is_encodable("ç", single_shift=national.SPANISH)


def test_locking_table_wins_over_single_shift_table() -> None:
    # "@" is in the Bengali single shift table, and in the Turkish locking table.
    assert gsm.encode("@", locking_shift=national.TURKISH, single_shift=national.BENGALI) == b"\0"
    # With the Bengali locking table it needs the escape.
    assert gsm.encode("@", locking_shift=national.BENGALI, single_shift=national.BENGALI) == (
        b"\x1b\x00"
    )


def test_duplicate_single_shift_characters_use_the_lower_code() -> None:
    assert gsm.encode("¡*", locking_shift=national.HINDI, single_shift=national.HINDI) == (
        b"\x1b\x13\x1b\x0b"
    )
    assert gsm.decode(b"\x1b\x15\x1b\x18", single_shift=national.HINDI) == "¡*"


def test_hindi_round_trip() -> None:
    text = "नमस्ते दुनिया, 123?"
    data = gsm.encode(text, locking_shift=national.HINDI, single_shift=national.HINDI)
    assert gsm.decode(data, locking_shift=national.HINDI, single_shift=national.HINDI) == text


@pytest.mark.parametrize(("locking", "single"), PAIRS)
def test_whole_charset_round_trips(locking: int, single: int) -> None:
    text = "".join(sorted(gsm.charset(locking, single)))
    data = gsm.encode(text, locking_shift=locking, single_shift=single)
    assert gsm.decode(data, locking_shift=locking, single_shift=single) == text
    packed = gsm.pack(data, fill_bits=1)
    assert (
        gsm.decode_packed(
            packed, fill_bits=1, septets=len(data), locking_shift=locking, single_shift=single
        )
        == text
    )


@given(
    st.sampled_from(PAIRS).flatmap(
        lambda pair: st.tuples(
            st.just(pair), st.text(alphabet=st.sampled_from(sorted(gsm.charset(*pair))))
        )
    )
)
def test_round_trip_every_table_pair(case: tuple[tuple[int, int], str]) -> None:
    (locking, single), text = case
    data = gsm.encode(text, locking_shift=locking, single_shift=single)
    assert gsm.decode(data, locking_shift=locking, single_shift=single) == text
    assert gsm.count_septets(text, locking_shift=locking, single_shift=single) == len(data)


@given(st.binary(max_size=200), st.sampled_from(PAIRS))
def test_decode_with_national_tables_never_raises(data: bytes, pair: tuple[int, int]) -> None:
    assert isinstance(gsm.decode(data, locking_shift=pair[0], single_shift=pair[1]), str)
