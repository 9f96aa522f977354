"""GSM 03.38 / 3GPP TS 23.038 7-bit alphabet: the default table, its extension table, and the
national language tables of :mod:`smppd.text.national`.

Two layouts of the same septets:

* **unpacked** -- one septet per octet, bit 7 zero.  This is what SMPP peers normally put in
  ``short_message`` for ``data_coding`` 0; the SMSC packs for the air.
* **packed** -- septets packed LSB first, septet *i* in bits 7i..7i+6 of a little-endian bit
  stream, optionally after 0-6 *fill bits* that align the text to a septet boundary after a
  User Data Header (1 fill bit after a 6-octet UDH).  ``"Hello"`` packs to ``C8 32 9B FD 06``.

A character of the single shift (extension) table costs two septets: ESC (0x1B) and its code.
Encoding prefers the locking shift (base) table when a character is in both.

Reading is tolerant and never raises:

* ESC followed by a code the single shift table leaves undefined decodes as the base-table
  character for that code (23.038 §6.2.1.1); ESC ESC (reserved) decodes as a space.
* A lone ESC at the very end decodes as a space, so one septet still gives one character.
* An unpacked octet with bit 7 set, or a code the table leaves undefined, decodes as U+FFFD.

Writing accepts ``ç`` for 0x09 (the code the default table prints as ``Ç``; the mapping notes
the small letter was meant) when the chosen tables have no ``ç`` of their own.  That is the
only character that does not survive a round trip: :func:`charset` and :func:`is_encodable`
report what decodes back exactly.

Pure: imports nothing from Twisted.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from functools import cache

from smppd.text import national
from smppd.text.national import Table

__all__ = [
    "CR",
    "DEFAULT_ALPHABET",
    "DEFAULT_EXTENSION",
    "ESC",
    "UnencodableText",
    "charset",
    "count_septets",
    "decode",
    "decode_packed",
    "encode",
    "encode_packed",
    "is_encodable",
    "pack",
    "septet_costs",
    "unpack",
]

#: Escape to the single shift (extension) table.
ESC = 0x1B
#: Carriage return; pads packed data whose last octet would hold 7 spare bits.
CR = 0x0D

_REPLACEMENT = "\ufffd"


def _rows(*rows: str) -> Table:
    """Build a table from 16-character rows; U+FFFF marks an undefined position."""
    cells = "".join(rows)
    if len(cells) != 128:
        raise AssertionError(f"a GSM table needs 128 cells, got {len(cells)}")
    return tuple(None if cell == "\uffff" else cell for cell in cells)


#: 23.038 §6.2.1, indexed by septet; ``None`` at 0x1B (ESC).
DEFAULT_ALPHABET: Table = _rows(
    "@£$¥èéùìòÇ\nØø\rÅå",  # 0x00
    "Δ_ΦΓΛΩΠΨΣΘΞ\uffffÆæßÉ",  # 0x10
    " !\"#¤%&'()*+,-./",  # 0x20
    "0123456789:;<=>?",  # 0x30
    "¡ABCDEFGHIJKLMNO",  # 0x40
    "PQRSTUVWXYZÄÖÑÜ§",  # 0x50
    "¿abcdefghijklmno",  # 0x60
    "pqrstuvwxyzäöñüà",  # 0x70
)

#: 23.038 §6.2.1.1 (the characters after ESC), indexed by septet.
DEFAULT_EXTENSION: Table = tuple(
    {
        0x0A: "\x0c",  # form feed (page break)
        0x14: "^",
        0x28: "{",
        0x29: "}",
        0x2F: "\\",
        0x3C: "[",
        0x3D: "~",
        0x3E: "]",
        0x40: "|",
        0x65: "€",
    }.get(code)
    for code in range(128)
)


class UnencodableText(ValueError):
    """The text holds a character the chosen encoding cannot represent."""

    def __init__(self, text: str, position: int, encoding: str) -> None:
        self.character = text[position]
        self.position = position
        self.encoding = encoding
        super().__init__(
            f"{encoding} cannot represent {self.character!r} "
            f"(U+{ord(self.character):04X}) at position {position}"
        )


def _encoding_label(locking_shift: int, single_shift: int) -> str:
    if not (locking_shift or single_shift):
        return "GSM 7-bit"
    return f"GSM 7-bit (locking shift {locking_shift}, single shift {single_shift})"


class _Codec:
    """Look-up tables for one (locking shift, single shift) pair."""

    def __init__(self, locking_shift: int, single_shift: int) -> None:
        base = national.LOCKING_SHIFT_TABLES[locking_shift] if locking_shift else DEFAULT_ALPHABET
        ext = national.SINGLE_SHIFT_TABLES[single_shift] if single_shift else DEFAULT_EXTENSION
        self.label = _encoding_label(locking_shift, single_shift)

        # Encoding: ordinal -> septet (int) or ESC + septet (bytes); base table first, lowest
        # code first when a table lists a character twice.
        enc: dict[int, int | bytes] = {}
        for code in range(127, -1, -1):
            char = ext[code]
            if char is not None and code != ESC:
                enc[ord(char)] = bytes((ESC, code))
        for code in range(127, -1, -1):
            char = base[code]
            if char is not None and code != ESC:
                enc[ord(char)] = code
        self.charset = frozenset(chr(ordinal) for ordinal in enc)
        if ord("ç") not in enc and ord("Ç") in enc:
            enc[ord("ç")] = enc[ord("Ç")]
        self.encode_map: Mapping[int, int | bytes] = enc
        self.costs: Mapping[str, int] = {
            chr(ordinal): 1 if isinstance(value, int) else 2 for ordinal, value in enc.items()
        }

        # Decoding: octet -> character, for octets outside escape sequences ...
        self.decode_table = "".join(char or _REPLACEMENT for char in base) + _REPLACEMENT * 128
        # ... and every escape sequence, including a lone ESC at the end.
        escaped: dict[bytes, str] = {bytes((ESC,)): " "}
        for code in range(256):
            if code == ESC:
                char = " "
            elif code < 0x80:
                char = ext[code] or base[code] or _REPLACEMENT
            else:
                char = _REPLACEMENT
            escaped[bytes((ESC, code))] = char
        self.escaped: Mapping[bytes, str] = escaped


@cache
def _codec(locking_shift: int, single_shift: int) -> _Codec:
    national.check_languages(locking_shift, single_shift)
    return _Codec(locking_shift, single_shift)


def _tolerant_codec(locking_shift: int, single_shift: int) -> _Codec:
    """The codec for reading: an id without a table falls back to the default table."""
    if locking_shift not in national.LOCKING_SHIFT_TABLES:
        locking_shift = 0
    if single_shift not in national.SINGLE_SHIFT_TABLES:
        single_shift = 0
    return _codec(locking_shift, single_shift)


def encode(text: str, *, locking_shift: int = 0, single_shift: int = 0) -> bytes:
    """Encode *text* as unpacked septets (one per octet).

    Raises :class:`UnencodableText` for a character neither table holds and ``ValueError``
    for a language id that has no such table.
    """
    codec = _codec(locking_shift, single_shift)
    try:
        septets, _ = codecs.charmap_encode(text, "strict", codec.encode_map)
    except UnicodeEncodeError as exc:
        raise UnencodableText(text, exc.start, codec.label) from None
    return septets


_ESCAPE_SEQUENCE = re.compile(rb"(\x1b[\x00-\xff]?)")


def decode(
    data: bytes | bytearray | memoryview, *, locking_shift: int = 0, single_shift: int = 0
) -> str:
    """Decode unpacked septets; never raises (see the module docstring for odd input).

    A language id without a table decodes with the default table instead.
    """
    codec = _tolerant_codec(locking_shift, single_shift)
    table = codec.decode_table
    if not isinstance(data, bytes):
        data = bytes(data)
    if ESC not in data:
        return codecs.charmap_decode(data, "strict", table)[0]
    parts: list[str] = []
    escaped = codec.escaped
    for index, chunk in enumerate(_ESCAPE_SEQUENCE.split(data)):
        if index % 2:
            parts.append(escaped[chunk])
        elif chunk:
            parts.append(codecs.charmap_decode(chunk, "strict", table)[0])
    return "".join(parts)


def count_septets(text: str, *, locking_shift: int = 0, single_shift: int = 0) -> int:
    """Septets *text* takes (extension characters count 2); raises like :func:`encode`."""
    return len(encode(text, locking_shift=locking_shift, single_shift=single_shift))


def charset(locking_shift: int = 0, single_shift: int = 0) -> frozenset[str]:
    """The characters these tables represent exactly (they decode back to themselves)."""
    return _codec(locking_shift, single_shift).charset


def is_encodable(text: str, *, locking_shift: int = 0, single_shift: int = 0) -> bool:
    """Whether *text* survives encoding and decoding with these tables unchanged."""
    return _codec(locking_shift, single_shift).charset.issuperset(text)


def septet_costs(locking_shift: int = 0, single_shift: int = 0) -> Mapping[str, int]:
    """Septets per encodable character (1, or 2 for the single shift table)."""
    return _codec(locking_shift, single_shift).costs


# --------------------------------------------------------------------------------------------
# Packing.  Septets are moved between one-per-octet and packed form with a few whole-number
# shifts and masks (SWAR) instead of a per-septet loop.


def _mask(size: int, pattern: bytes) -> int:
    """*pattern* repeated over *size* octets, as a little-endian integer."""
    return int.from_bytes(pattern * (size // len(pattern)), "little")


def pack(septets: bytes, *, fill_bits: int = 0) -> bytes:
    """Pack one-septet-per-octet data LSB first after *fill_bits* zero bits (0..6).

    The result is ``ceil((7 * len(septets) + fill_bits) / 8)`` octets; spare bits at the end
    are zero (see :func:`encode_packed` for 23.038's CR padding).
    """
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0..6, not {fill_bits!r}")
    count = len(septets)
    if not count:
        return b""
    if max(septets) > 0x7F:
        raise ValueError("a septet must be below 0x80")
    size = -(-count // 8) * 8
    value = int.from_bytes(septets, "little")
    # Squeeze 8-bit lanes to 7 bits within 16-, 32- and 64-bit lanes: each lane ends up with
    # 56 bits of septets in its low 7 octets.
    for pattern, shift in (
        (b"\xff\x00", 1),
        (b"\xff\xff\x00\x00", 2),
        (b"\xff\xff\xff\xff\x00\x00\x00\x00", 4),
    ):
        low = value & _mask(size, pattern)
        value = low | ((value - low) >> shift)
    octets = bytearray(value.to_bytes(size, "little"))
    del octets[7::8]
    if fill_bits:
        shifted = int.from_bytes(octets, "little") << fill_bits
        octets = bytearray(shifted.to_bytes(len(octets) + 1, "little"))
    return bytes(octets[: (7 * count + fill_bits + 7) // 8])


def unpack(data: bytes, *, fill_bits: int = 0, septets: int | None = None) -> bytes:
    """Unpack packed data (after *fill_bits* bits, 0..6) into one septet per octet.

    With *septets* given, exactly that many are returned (fewer if *data* is too short);
    without, every whole septet the bits hold, padding included (see :func:`decode_packed`).
    """
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0..6, not {fill_bits!r}")
    available = max(8 * len(data) - fill_bits, 0) // 7
    count = available if septets is None else max(0, min(septets, available))
    if not count:
        return b""
    groups = -(-count // 8)
    value = (int.from_bytes(data, "little") >> fill_bits) & ((1 << (7 * count)) - 1)
    packed = value.to_bytes(7 * groups, "little")
    spread = bytearray(8 * groups)
    for offset in range(7):
        spread[offset::8] = packed[offset::7]
    value = int.from_bytes(spread, "little")
    size = 8 * groups
    for pattern, shift in (
        (b"\xff\xff\xff\x0f\x00\x00\x00\x00", 4),
        (b"\xff\x3f\x00\x00", 2),
        (b"\x7f\x00", 1),
    ):
        low = value & _mask(size, pattern)
        value = low | ((value - low) << shift)
    return value.to_bytes(size, "little")[:count]


def _padding_septet(fill_bits: int, count: int) -> bool:
    """Whether packing *count* septets after *fill_bits* leaves 7 spare bits."""
    return (fill_bits + 7 * count) % 8 == 1


def encode_packed(
    text: str, *, fill_bits: int = 0, locking_shift: int = 0, single_shift: int = 0
) -> bytes:
    """Encode *text* and pack it after *fill_bits* bits.

    When the last octet would hold 7 spare bits they carry CR rather than zeros, so that no
    receiver reads a trailing ``@`` (23.038 §6.1.2.3.1).
    """
    septets = encode(text, locking_shift=locking_shift, single_shift=single_shift)
    if _padding_septet(fill_bits, len(septets)):
        septets += bytes((CR,))
    return pack(septets, fill_bits=fill_bits)


def decode_packed(
    data: bytes,
    *,
    fill_bits: int = 0,
    septets: int | None = None,
    locking_shift: int = 0,
    single_shift: int = 0,
) -> str:
    """Unpack and decode; never raises (an invalid *fill_bits* reads as 0).

    Packed octets do not say how many septets they hold.  Given *septets* (e.g. from TP-UDL)
    the count is exact.  Without it, when the bits end exactly on a septet boundary and the
    last septet is CR, that CR is taken as 23.038 padding and dropped (a genuine CR in that
    position is lost); a final zero septet is kept as ``@``.
    """
    if not 0 <= fill_bits <= 6:
        fill_bits = 0
    raw = unpack(data, fill_bits=fill_bits, septets=septets)
    if (
        septets is None
        and raw
        and raw[-1] == CR
        and (8 * len(data) - fill_bits) % 7 == 0
        and raw[-2:-1] != bytes((ESC,))
    ):
        raw = raw[:-1]
    return decode(raw, locking_shift=locking_shift, single_shift=single_shift)
