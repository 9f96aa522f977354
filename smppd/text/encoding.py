"""Text encodings for SMPP ``short_message`` / ``message_payload``: choose, encode, decode,
count, and the per-SMS capacity of each.

===============  ===========  =================================================================
name             data_coding  payload
===============  ===========  =================================================================
``gsm7``         0            GSM 03.38 septets, one per octet (the SMPP norm); optional
                              national locking/single shift tables (UDH IEs 0x25/0x24)
``gsm7-packed``  0            the same septets packed 8 into 7 octets (by bilateral agreement)
``ascii``        1            IA5 / ASCII, one octet per character
``latin1``       3            ISO-8859-1, one octet per character
``ucs2``         8            UTF-16BE without BOM; characters outside the BMP are surrogate
                              pairs (2 units)
``binary``       4            8-bit data; as text, each character U+0000..U+00FF is one octet
===============  ===========  =================================================================

:func:`choose_encoding` never picks ``ascii`` or ``latin1`` on its own (handsets do not
support Latin-1, and an SMSC turns IA5 into GSM 7-bit anyway); ask for them with ``force``.

Pure: imports nothing from Twisted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import cache
from types import MappingProxyType

import attrs

from smppd.text import gsm, national
from smppd.text.gsm import UnencodableText

__all__ = [
    "ASCII",
    "BINARY",
    "DEFAULT_DATA_CODING",
    "ENCODINGS",
    "GSM7",
    "GSM7_PACKED",
    "LATIN1",
    "UCS2",
    "TextEncoding",
    "UnencodableText",
    "choose_encoding",
    "decode",
    "encode",
    "segment_capacity",
    "units",
]

GSM7 = "gsm7"
GSM7_PACKED = "gsm7-packed"
ASCII = "ascii"
LATIN1 = "latin1"
UCS2 = "ucs2"
BINARY = "binary"

#: Every encoding name.
ENCODINGS = frozenset((GSM7, GSM7_PACKED, ASCII, LATIN1, UCS2, BINARY))

#: The data_coding each encoding is sent with unless told otherwise.
DEFAULT_DATA_CODING: Mapping[str, int] = MappingProxyType(
    {GSM7: 0x00, GSM7_PACKED: 0x00, ASCII: 0x01, LATIN1: 0x03, UCS2: 0x08, BINARY: 0x04}
)

_GSM_NAMES = frozenset((GSM7, GSM7_PACKED))

#: Octets of user data in one SMS (3GPP TS 23.040).
_USER_DATA_OCTETS = 140
#: A concatenation IE with an 8-bit reference: IEI, IEDL, ref, total, seq.
_CONCAT_IE_OCTETS = 5


def _check_shift(instance: TextEncoding, attribute: attrs.Attribute[int], value: int) -> None:
    if value and instance.name not in _GSM_NAMES:
        raise ValueError(f"{attribute.name} applies to GSM 7-bit only, not {instance.name!r}")


@attrs.frozen
class TextEncoding:
    """How a text is turned into octets: the encoding, its data_coding, and the GSM tables."""

    #: One of :data:`ENCODINGS`.
    name: str = attrs.field(validator=attrs.validators.in_(ENCODINGS))
    #: The SMPP data_coding value to put in the PDU.
    data_coding: int = attrs.field(
        validator=[
            attrs.validators.instance_of(int),
            attrs.validators.ge(0),
            attrs.validators.le(0xFF),
        ]
    )
    #: National language id of the locking shift table; 0 = the GSM default alphabet.
    locking_shift: int = attrs.field(
        default=0, validator=[attrs.validators.instance_of(int), _check_shift]
    )
    #: National language id of the single shift table; 0 = the GSM default extension table.
    single_shift: int = attrs.field(
        default=0, validator=[attrs.validators.instance_of(int), _check_shift]
    )

    def __attrs_post_init__(self) -> None:
        national.check_languages(self.locking_shift, self.single_shift)

    @classmethod
    def for_name(cls, name: str, *, locking_shift: int = 0, single_shift: int = 0) -> TextEncoding:
        """The encoding *name* with its usual data_coding (:data:`DEFAULT_DATA_CODING`)."""
        if name not in DEFAULT_DATA_CODING:
            raise ValueError(f"unknown encoding {name!r}; expected one of {sorted(ENCODINGS)}")
        return cls(name, DEFAULT_DATA_CODING[name], locking_shift, single_shift)

    def udh_ies(self) -> bytes:
        """The national language shift IEs this encoding needs (``b""`` when none), without
        a UDHL octet: ``24 01 <single_shift>`` and/or ``25 01 <locking_shift>``."""
        return national.shift_ies(self.locking_shift, self.single_shift)


# --------------------------------------------------------------------------------------------
# Encoding and counting


def encode(text: str, enc: TextEncoding) -> bytes:
    """Encode *text*; raises :class:`UnencodableText` if *enc* cannot represent it.

    ``gsm7`` gives unpacked septets, ``gsm7-packed`` packed ones (no fill bits: a caller that
    puts a UDH in front packs with :func:`smppd.text.gsm.encode_packed` itself).
    """
    name = enc.name
    if name == GSM7:
        return gsm.encode(text, locking_shift=enc.locking_shift, single_shift=enc.single_shift)
    if name == GSM7_PACKED:
        return gsm.encode_packed(
            text, locking_shift=enc.locking_shift, single_shift=enc.single_shift
        )
    codec = {ASCII: "ascii", LATIN1: "latin-1", BINARY: "latin-1", UCS2: "utf-16-be"}[name]
    try:
        return text.encode(codec)
    except UnicodeEncodeError as exc:
        raise UnencodableText(text, exc.start, name) from None


def units(text: str, enc: TextEncoding) -> int:
    """The length of *text* in *enc*'s units: septets for GSM 7-bit (an extension character
    is 2), octets for ascii/latin1/binary, UTF-16 code units for ucs2 (a non-BMP character
    is 2).  Raises :class:`UnencodableText` like :func:`encode`."""
    name = enc.name
    if name in _GSM_NAMES:
        return gsm.count_septets(
            text, locking_shift=enc.locking_shift, single_shift=enc.single_shift
        )
    if name == UCS2:
        return len(encode(text, enc)) // 2
    encode(text, enc)
    return len(text)


# --------------------------------------------------------------------------------------------
# Decoding


def _gsm7(data: bytes, locking_shift: int, single_shift: int, packed: bool) -> str:
    if packed:
        return gsm.decode_packed(data, locking_shift=locking_shift, single_shift=single_shift)
    return gsm.decode(data, locking_shift=locking_shift, single_shift=single_shift)


def _ucs2(data: bytes, locking_shift: int, single_shift: int, packed: bool) -> str:
    return data.decode("utf-16-be", "replace")


def _with(codec: str) -> Callable[[bytes, int, int, bool], str]:
    def read(data: bytes, locking_shift: int, single_shift: int, packed: bool) -> str:
        return data.decode(codec, "replace")

    return read


_latin1 = _with("latin-1")

_DECODERS: dict[int, Callable[[bytes, int, int, bool], str]] = {
    0x00: _gsm7,
    0x01: _with("ascii"),
    0x03: _latin1,
    0x06: _with("iso8859-5"),
    0x07: _with("iso8859-8"),
    0x08: _ucs2,
}
_DECODERS.update(dict.fromkeys((*range(0x10, 0x14), *range(0xC0, 0xE0), *range(0xF0, 0xF4)), _gsm7))
_DECODERS.update(dict.fromkeys((*range(0x18, 0x1C), *range(0xE0, 0xF0)), _ucs2))


def decode(
    data: bytes | bytearray | memoryview,
    data_coding: int,
    *,
    locking_shift: int = 0,
    single_shift: int = 0,
    packed: bool = False,
) -> str:
    """Decode received user data (UDH already removed) as *data_coding* says; never raises.

    ==================  ================================================================
    data_coding         read as
    ==================  ================================================================
    0x00                GSM 03.38 septets, unpacked (packed if *packed*), with the given
                        national tables (an id without a table reads as the default)
    0x01                IA5 / ASCII; an octet above 0x7F becomes U+FFFD
    0x02, 0x04          8-bit data: each octet as the Latin-1 character of that value
    0x03                Latin-1
    0x05                (JIS X 0208) not supported: Latin-1 of the octets
    0x06                ISO-8859-5 (Cyrillic)
    0x07                ISO-8859-8 (Hebrew); undefined octets become U+FFFD
    0x08                UCS2 read as UTF-16BE; an odd last octet or a lone surrogate
                        becomes U+FFFD
    0x10-0x13           GSM DCS "general", GSM 7-bit, message class 0-3
    0x14-0x17           GSM DCS 8-bit, class 0-3: Latin-1 of the octets
    0x18-0x1B           GSM DCS UCS2, class 0-3
    0xC0-0xDF           GSM DCS message waiting, discard / store, GSM 7-bit
    0xE0-0xEF           GSM DCS message waiting, store, UCS2
    0xF0-0xF3           GSM DCS data coding / message class, GSM 7-bit, class 0-3
    0xF4-0xF7           GSM DCS data coding / message class, 8-bit: Latin-1 of the octets
    anything else       Latin-1 of the octets (reserved, compressed, 0x09-0x0F, ...)
    ==================  ================================================================

    *locking_shift*, *single_shift* and *packed* only matter for the GSM 7-bit rows.
    """
    reader = _DECODERS.get(data_coding, _latin1)
    return reader(bytes(data), locking_shift, single_shift, packed)


# --------------------------------------------------------------------------------------------
# Capacity and choice


def segment_capacity(enc: TextEncoding, *, concatenated: bool, udh_octets: int = 0) -> int:
    """Units of *enc* (see :func:`units`) that fit in one SMS of 140 user-data octets.

    *udh_octets* is the whole UDH, UDHL included (6 for an 8-bit-reference concatenation IE
    alone, 7 for a 16-bit one).  Left at 0 it is worked out: the 8-bit concatenation IE if
    *concatenated*, plus *enc*'s national shift IEs (3 octets each), plus UDHL -- or no UDH
    at all.  A given *udh_octets* is taken as the total and *concatenated* is not looked at.

    GSM 7-bit: 160 / 153 / 152 septets (the text starts on a septet boundary after the UDH);
    8-bit: 140 / 134 / 133 octets; UCS2: 70 / 67 / 66 units.
    """
    if udh_octets == 0:
        ies = len(enc.udh_ies()) + (_CONCAT_IE_OCTETS if concatenated else 0)
        udh_octets = ies + 1 if ies else 0
    if not 0 <= udh_octets < _USER_DATA_OCTETS:
        raise ValueError(f"udh_octets must be 0..{_USER_DATA_OCTETS - 1}, not {udh_octets}")
    if enc.name in _GSM_NAMES:
        udh_septets = -(-8 * udh_octets // 7)
        return (8 * _USER_DATA_OCTETS) // 7 - udh_septets
    free = _USER_DATA_OCTETS - udh_octets
    return free // 2 if enc.name == UCS2 else free


def _segments(text: str, enc: TextEncoding, count: int, costs: Mapping[str, int] | None) -> int:
    """SMS segments *text* needs when filled greedily without splitting an escape sequence or
    a surrogate pair; *costs* gives GSM septets per character, None means UTF-16 units."""
    if count <= segment_capacity(enc, concatenated=False):
        return 1
    capacity = segment_capacity(enc, concatenated=True)
    if count == len(text):  # every character is one unit: nothing can straddle a boundary
        return -(-count // capacity)
    segments, used = 1, 0
    for char in text:
        cost = costs[char] if costs is not None else (2 if ord(char) > 0xFFFF else 1)
        if used + cost > capacity:
            segments, used = segments + 1, 0
        used += cost
    return segments


def _gsm_candidates(languages: Iterable[int]) -> list[tuple[int, int]]:
    """(locking, single) pairs worth trying, default tables first (validated; cached by value).

    The cached list is shared: callers only read it.
    """
    key = tuple(languages)
    if not key:
        return _DEFAULT_PAIRS
    pairs = _CANDIDATES.get(key) if all(type(lang) is int for lang in key) else None
    if pairs is None:
        pairs = _gsm_candidates_uncached(key)
        if len(_CANDIDATES) < 256 and all(type(lang) is int for lang in key):
            _CANDIDATES[key] = pairs
    return pairs


_CANDIDATES: dict[tuple[int, ...], list[tuple[int, int]]] = {}
_DEFAULT_PAIRS = [(0, 0)]


def _gsm_candidates_uncached(languages: Iterable[int]) -> list[tuple[int, int]]:
    wanted = []
    for language in languages:
        if language != 0 and language not in national.LANGUAGE_NAMES:
            raise ValueError(f"unknown national language id {language!r}")
        wanted.append(language)
    lockings = [0, *sorted({lang for lang in wanted if lang in national.LOCKING_SHIFT_TABLES})]
    singles = [0, *sorted({lang for lang in wanted if lang in national.SINGLE_SHIFT_TABLES})]
    return [(locking, single) for locking in lockings for single in singles]


@cache
def _standard(name: str, locking_shift: int = 0, single_shift: int = 0) -> TextEncoding:
    return TextEncoding.for_name(name, locking_shift=locking_shift, single_shift=single_shift)


def _best_gsm(
    text: str, name: str, pairs: list[tuple[int, int]], exact: bool
) -> tuple[tuple[int, int, int, int, int], TextEncoding] | None:
    """The cheapest GSM 7-bit table pair that represents *text*, with its sort key."""
    best: tuple[tuple[int, int, int, int, int], TextEncoding] | None = None
    chars = set(text)
    for locking, single in pairs:
        if exact and not gsm.charset(locking, single).issuperset(chars):
            continue
        enc = _standard(name, locking, single)
        try:
            count = units(text, enc)
        except UnencodableText:
            continue
        costs = gsm.septet_costs(locking, single)
        national_rank = 1 if (locking or single) else 0
        key = (
            _segments(text, enc, count, costs),
            national_rank,
            len(enc.udh_ies()),
            count,
            locking * 100 + single,
        )
        if best is None or key < best[0]:
            best = (key, enc)
        if key[:2] == (1, 0):
            break  # the default tables in one SMS: nothing does better
    return best


def choose_encoding(
    text: str, *, languages: Iterable[int] = (), force: str | None = None
) -> TextEncoding:
    """The encoding that sends *text* exactly in the fewest SMS segments.

    Candidates: GSM 7-bit with the default tables, GSM 7-bit with national shift tables of
    *languages* (each shift IE costs 3 UDH octets in every segment), and UCS2.  Ties go to
    the default GSM tables, then national tables (fewer shift IEs first), then UCS2.
    ``ascii`` and ``latin1`` are never chosen unless forced.

    *force* names the encoding to use (``"gsm7"`` still picks the best table pair among
    *languages*; it also accepts ``ç`` for ``Ç``); :class:`UnencodableText` if it cannot
    represent the text.  Unforced, :class:`UnencodableText` only for a lone surrogate,
    which not even UCS2 can carry.  ``ValueError`` for an unknown name or language id.
    """
    pairs = _gsm_candidates(languages)
    if force is None and _GSM_ONE_SEPTET.issuperset(text):
        # The common case, decided without counting: every character is one septet of the
        # default tables, so no table pair and not UCS2 can need fewer segments, and ties
        # go to the default tables (what the general path below finds, in fewer steps).
        return _standard(GSM7)
    if force is not None:
        if force not in ENCODINGS:
            raise ValueError(f"unknown encoding {force!r}; expected one of {sorted(ENCODINGS)}")
        if force in _GSM_NAMES:
            found = _best_gsm(text, force, pairs, exact=False)
            if found is None:
                gsm.encode(text)  # raises UnencodableText for the first bad character
                raise AssertionError("unreachable: the default tables encoded the text")
            return found[1]
        enc = _standard(force)
        encode(text, enc)
        return enc

    found = _best_gsm(text, GSM7, pairs, exact=True)
    ucs2 = _standard(UCS2)
    ucs2_units = units(text, ucs2)  # raises UnencodableText for a lone surrogate
    if found is not None:
        ucs2_segments = _segments(text, ucs2, ucs2_units, None)
        if found[0][0] <= ucs2_segments:
            return found[1]
    return ucs2


#: Characters that the default GSM tables carry exactly in one septet each.
_GSM_ONE_SEPTET = frozenset(
    char for char, cost in gsm.septet_costs(0, 0).items() if cost == 1 and char in gsm.charset(0, 0)
)
