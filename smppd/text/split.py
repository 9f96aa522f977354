"""Splitting long messages into SMPP segments: UDH (8/16-bit reference), SAR, message_payload.

Capacities follow the air interface (140 octets of user data per SMS, 3GPP TS 23.040), in the
units of the chosen encoding: GSM septets, octets, or UTF-16 code units.  Every UDH octet --
concatenation IE, port IE, national language shift IEs -- comes out of that budget.

Where a segment ends:

* never inside a GSM escape sequence (an extension character costs 2 septets and stays whole),
* never inside a UTF-16 surrogate pair (a non-BMP character costs 2 units and stays whole),
* not inside a grapheme cluster (see :func:`grapheme_clusters`) as long as the cluster fits in
  one segment; a cluster longer than a whole segment is cut between code points.

Segments are filled greedily, so a segment may carry one unit (or a cluster) less than its
capacity: 152 septets when a ``€`` would straddle the 153 boundary, 66 units for an emoji at
the 67 boundary.

Pure: imports nothing from Twisted.
"""

from __future__ import annotations

import itertools
import random
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TypeVar

import attrs

from smppd.text import gsm
from smppd.text.encoding import (
    ASCII,
    BINARY,
    GSM7,
    GSM7_PACKED,
    LATIN1,
    UCS2,
    TextEncoding,
    choose_encoding,
    encode,
    segment_capacity,
    units,
)
from smppd.text.udh import (
    InformationElement,
    build_udh,
    concat_ie,
    fill_bits,
    parse_ies,
    ports_ie,
)

__all__ = [
    "METHODS",
    "MAX_PAYLOAD",
    "MAX_SEGMENTS",
    "Segment",
    "count_segments",
    "grapheme_clusters",
    "next_reference",
    "split_binary",
    "split_text",
]

#: ``udh8``: concatenation IE 0x00 in a UDH; ``udh16``: IE 0x08; ``sar``: SAR TLVs, no
#: concatenation IE; ``payload``: the whole message in one ``message_payload`` TLV.
METHODS = ("udh8", "udh16", "sar", "payload")
MAX_SEGMENTS = 255
#: message_payload's TLV length is 16-bit.
MAX_PAYLOAD = 0xFFFF
UDHI = 0x40
#: User data octets per SMS on the air interface.
_BINARY_OCTETS = 140

_Body = TypeVar("_Body", str, bytes)


@attrs.frozen
class Segment:
    """What goes into ONE submit_sm / deliver_sm / data_sm."""

    #: UDH included when ``esm_class_flags`` has UDHI; ``b""`` for the payload method.
    short_message: bytes
    #: 0x40 (UDHI) when a UDH is present, else 0; OR it into esm_class.
    esm_class_flags: int
    data_coding: int
    #: ``(sar_msg_ref_num, sar_total_segments, sar_segment_seqnum)`` for the SAR method.
    sar: tuple[int, int, int] | None = None
    #: The whole message (UDH included when UDHI) for the payload method.
    message_payload: bytes | None = None


# --------------------------------------------------------------------------------------------
# Packed GSM 7-bit


def _cr_ambiguous(septet_count: int, ends_with_cr: bool, fill: int) -> bool:
    """Would a receiver take this segment's genuine trailing CR for padding?

    Packed octets carry no septet count in SMPP.  When the bits end exactly on a septet
    boundary, a final CR reads as 23.038 padding (:func:`smppd.text.gsm.decode_packed`); a
    text CR lands there when the septets end exactly on an octet boundary.
    """
    return ends_with_cr and (fill + 7 * septet_count) % 8 == 0


# --------------------------------------------------------------------------------------------
# Grapheme clusters


# Character classes for the cluster rules (a subset of UAX #29's Grapheme_Cluster_Break).
_OTHER, _CONTROL, _CR, _LF, _EXTEND, _ZWJ, _RI, _L, _V, _T, _LV, _LVT = range(12)

_EXTEND_RANGES = (
    (0xFE00, 0xFE0F),  # variation selectors (emoji / text presentation)
    (0x1F3FB, 0x1F3FF),  # emoji skin-tone modifiers
    (0xE0020, 0xE007F),  # tag characters (subdivision flags such as England)
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
_MARKS = frozenset(("Mn", "Me", "Mc"))  # Mc: SpacingMark, GB9a
_CONTROLS = frozenset(("Cc", "Zl", "Zp", "Cf", "Cs"))


@lru_cache(maxsize=4096)
def _kind(ch: str) -> int:
    cp = ord(ch)
    if cp == 0x0D:
        return _CR
    if cp == 0x0A:
        return _LF
    if cp < 0x20 or 0x7F <= cp < 0xA0:
        return _CONTROL
    if cp < 0x300:
        return _OTHER
    if cp == 0x200D:
        return _ZWJ
    if cp == 0x200C:
        return _EXTEND
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return _RI
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return _L
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return _V
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return _T
    if 0xAC00 <= cp <= 0xD7A3:
        return _LV if (cp - 0xAC00) % 28 == 0 else _LVT
    for first, last in _EXTEND_RANGES:
        if first <= cp <= last:
            return _EXTEND
    category = unicodedata.category(ch)
    if category in _MARKS:
        return _EXTEND
    if category in _CONTROLS:
        return _CONTROL
    return _OTHER


_BREAKERS = frozenset((_CONTROL, _CR, _LF))
_HANGUL_NEXT = {
    _L: frozenset((_L, _V, _LV, _LVT)),  # GB6
    _LV: frozenset((_V, _T)),  # GB7
    _V: frozenset((_V, _T)),  # GB7
    _LVT: frozenset((_T,)),  # GB8
    _T: frozenset((_T,)),  # GB8
}


def _joins(prev: int, kind: int, ri_run: int) -> bool:
    """Does a character of class ``kind`` continue a cluster ending in class ``prev``?"""
    if prev == _CR and kind == _LF:
        return True  # GB3
    if prev in _BREAKERS or kind in _BREAKERS:
        return False  # GB4, GB5: nothing attaches to a control, nor a control to anything
    if kind in (_EXTEND, _ZWJ):
        return True  # GB9, GB9a
    if prev == _ZWJ:
        return True  # GB11, simplified: ZWJ glues the next (non-control) character
    if prev == _RI and kind == _RI:
        return ri_run % 2 == 1  # GB12, GB13: regional indicators pair up
    follow = _HANGUL_NEXT.get(prev)
    return follow is not None and kind in follow


def grapheme_clusters(text: str) -> list[str]:
    """Split ``text`` into user-perceived characters (a documented subset of UAX #29).

    Kept together: CR LF; a character and the combining marks, spacing marks, ZWJ/ZWNJ,
    variation selectors, emoji skin-tone modifiers and tag characters after it; characters
    joined by ZWJ (emoji families -- simplified GB11: ZWJ joins any following non-control
    character); regional indicators in pairs (flags); Hangul jamo syllable sequences.
    Nothing attaches to a control character.  Not covered: Prepend characters (GB9b) and
    Indic conjunct breaks (GB9c), where this may cut a cluster in two.
    """
    if text.isascii() and "\r\n" not in text:
        return list(text)  # fast path: ASCII never joins except CR LF
    clusters: list[str] = []
    start = 0
    prev = _CONTROL
    ri_run = 0
    for index, ch in enumerate(text):
        kind = _kind(ch)
        if index and not _joins(prev, kind, ri_run):
            clusters.append(text[start:index])
            start = index
            ri_run = 0
        if kind == _RI:
            ri_run += 1
        prev = kind
    if text:
        clusters.append(text[start:])
    return clusters


# --------------------------------------------------------------------------------------------
# Planning: which characters go into which segment


@attrs.frozen
class _Layout:
    """The IEs every segment's UDH carries besides the concatenation IE."""

    ports: tuple[InformationElement, ...] = ()
    national: tuple[InformationElement, ...] = ()

    def octets(self, concat_ie_octets: int = 0) -> int:
        """UDH size, UDHL included (0 when there is no IE at all)."""
        size = concat_ie_octets + sum(2 + len(ie.data) for ie in (*self.ports, *self.national))
        return 1 + size if size else 0

    def udh(self, concat: InformationElement | None = None) -> bytes:
        """Ports first (as in the WAP push layout), then concatenation, then national shifts."""
        ies = (*self.ports, *((concat,) if concat is not None else ()), *self.national)
        return build_udh(ies) if ies else b""


#: Size of the concatenation IE (IEI + IEDL + data) each method puts in the air-interface UDH.
#: SAR: the SMSC builds it; taken as the common 8-bit IE.
_CONCAT_IE_OCTETS = {"udh8": 5, "udh16": 6, "sar": 5}


def _layout(enc: TextEncoding | None, ports: tuple[int, int] | None) -> _Layout:
    return _Layout(
        ports=(ports_ie(ports[0], ports[1]),) if ports is not None else (),
        national=parse_ies(enc.udh_ies()) if enc is not None else (),
    )


def _fill_for(udh_octets: int) -> int:
    return fill_bits(udh_octets) if udh_octets else 0


# References for callers that give none: one sequence for the process (from a
# random start, so a restart does not begin where the last run did), so that
# consecutive long messages never share one until 256 (udh8) or 65536 others
# were split. (next() on itertools.count is atomic: safe from threads.)
_REFERENCES = itertools.count(random.randrange(0x10000))


def next_reference(method: str = "udh8") -> int:
    """The next concatenation reference of the process-wide sequence, in the range of ``method``."""
    return next(_REFERENCES) % (0x100 if method == "udh8" else 0x10000)


def _check_args(method: str, reference: int | None) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown split method {method!r}; expected one of {', '.join(METHODS)}")
    if method == "payload" or reference is None:
        return
    limit = 0xFF if method == "udh8" else 0xFFFF
    if not 0 <= reference <= limit:
        raise ValueError(f"reference for method {method!r} must be 0..{limit}, not {reference}")


def _capacity(enc: TextEncoding, udh_octets: int) -> int:
    return segment_capacity(enc, concatenated=False, udh_octets=udh_octets)


def _plan(text: str, enc: TextEncoding, method: str, layout: _Layout) -> tuple[list[str], bool]:
    """The text of each segment, and whether they are concatenated parts."""
    packed = enc.name == GSM7_PACKED
    single_udh = layout.octets()
    if method == "payload":
        chunk = text
        if packed and _cr_ambiguous(units(text, enc), text.endswith("\r"), _fill_for(single_udh)):
            chunk += "\r"
        return [chunk], False

    total = units(text, enc)
    single_cap = _capacity(enc, single_udh)
    if total <= single_cap:
        if not packed or not _cr_ambiguous(total, text.endswith("\r"), _fill_for(single_udh)):
            return [text], False
        if total + 1 <= single_cap:
            return [text + "\r"], False

    air_udh = layout.octets(_CONCAT_IE_OCTETS[method])
    cap = _capacity(enc, air_udh)
    if cap < 2:
        raise ValueError(f"a {air_udh}-octet UDH leaves no room for text")
    pdu_udh = single_udh if method == "sar" else air_udh
    chunks = _fill_segments(text, enc, cap, _fill_for(pdu_udh) if packed else None, total)
    if len(chunks) > MAX_SEGMENTS:
        raise ValueError(f"message needs {len(chunks)} segments; at most {MAX_SEGMENTS} are possible")
    return chunks, True


def _fill_segments(
    text: str, enc: TextEncoding, cap: int, fill: int | None, total: int
) -> list[str]:
    """Fill segments of ``cap`` units greedily with whole clusters (``total`` units in all).

    ``fill`` is None, or for packed GSM 7-bit the fill bits after each segment's UDH: a segment
    must then not end in a bare CR exactly on an octet boundary (the receiver would drop it as
    padding), so such a CR moves on to the next segment, and the last segment gets 23.038's
    extra CR instead.
    """
    if total == len(text) and text.isascii() and "\r" not in text:
        # Every character is one unit and its own cluster: plain slices.
        return [text[i : i + cap] for i in range(0, len(text), cap)]

    costs: dict[str, int] = {}
    chunks: list[str] = []
    current: list[str] = []
    used = 0

    def ambiguous() -> bool:
        return fill is not None and bool(current) and current[-1] == "\r" and (fill + 7 * used) % 8 == 0

    def close() -> None:
        nonlocal current, used
        carry: list[str] = []
        if len(current) > 1 and ambiguous():
            carry.append(current.pop())
        chunks.append("".join(current))
        current, used = carry, len(carry)

    for cluster in grapheme_clusters(text):
        size = costs.get(cluster)
        if size is None:
            size = costs[cluster] = units(cluster, enc)
        if size <= cap:
            if used + size > cap:
                close()
            current.append(cluster)
            used += size
            continue
        # A cluster longer than a whole segment is the one case cut between code points.
        for ch in cluster:
            size = costs.get(ch)
            if size is None:
                size = costs[ch] = units(ch, enc)
            if used + size > cap:
                close()
            current.append(ch)
            used += size
    if ambiguous():
        if used + 1 > cap:
            chunks.append("".join(current[:-1]))
            current, used = ["\r"], 1
        if ambiguous():
            current.append("\r")
    if current or not chunks:
        chunks.append("".join(current))
    return chunks


# --------------------------------------------------------------------------------------------
# Building segments, and the public API


#: Units in one SMS without a UDH, for the encodings whose wire form has one octet per unit
#: (two for UCS2); packed GSM 7-bit is left to the general path (its trailing-CR rule).
_SINGLE_CAPACITY = {
    name: segment_capacity(TextEncoding.for_name(name), concatenated=False)
    for name in (GSM7, ASCII, LATIN1, BINARY, UCS2)
}


def _encode_chunk(chunk: str, enc: TextEncoding, udh: bytes) -> bytes:
    if enc.name == GSM7_PACKED:
        return udh + gsm.encode_packed(
            chunk,
            fill_bits=_fill_for(len(udh)),
            locking_shift=enc.locking_shift,
            single_shift=enc.single_shift,
        )
    return udh + encode(chunk, enc)


def _build(
    bodies: Sequence[_Body],
    concatenated: bool,
    method: str,
    reference: int | None,
    layout: _Layout,
    data_coding: int,
    encode_body: Callable[[_Body, bytes], bytes],
) -> list[Segment]:
    if method == "payload":
        udh = layout.udh()
        payload = encode_body(bodies[0], udh)
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"message_payload would be {len(payload)} octets; at most {MAX_PAYLOAD}")
        return [Segment(b"", UDHI if udh else 0, data_coding, None, payload)]
    if not concatenated:
        udh = layout.udh()
        return [Segment(encode_body(bodies[0], udh), UDHI if udh else 0, data_coding)]
    if reference is None:  # (drawn only for a message that is concatenated)
        reference = next_reference(method)
    total = len(bodies)
    segments: list[Segment] = []
    for seq, body in enumerate(bodies, start=1):
        if method == "sar":
            udh = layout.udh()
            sar: tuple[int, int, int] | None = (reference, total, seq)
        else:
            bits = 8 if method == "udh8" else 16
            udh = layout.udh(concat_ie(reference, total, seq, reference_bits=bits))
            sar = None
        segments.append(Segment(encode_body(body, udh), UDHI if udh else 0, data_coding, sar))
    return segments


def split_text(
    text: str,
    *,
    encoding: TextEncoding | None = None,
    languages: Sequence[int] = (),
    method: str = "udh8",
    reference: int | None = None,
    ports: tuple[int, int] | None = None,
) -> list[Segment]:
    """Split ``text`` into the segments to send, one PDU each.

    ``encoding`` None picks one with ``choose_encoding(text, languages=languages)``.
    ``method``: ``"udh8"`` (concatenation IE 0x00, ``reference`` 0..255), ``"udh16"`` (IE
    0x08, 0..65535), ``"sar"`` (SAR TLVs with ``reference`` 0..65535, no concatenation IE; each
    segment still fits the capacity left by the SMSC's 8-bit concatenation IE) or
    ``"payload"`` (one Segment carrying ``message_payload``, up to 65535 octets).
    ``ports`` is ``(destination_port, originator_port)``, sent as a 16-bit port IE (0x05).
    ``reference`` None (the default) takes the next of a process-wide sequence
    (:func:`next_reference`) when the text needs more than one segment: two long
    messages to one handset must not share a reference while both are being
    reassembled, so a caller that gives one should allocate it per destination
    (as :class:`smppd.client.SmppClient` does) and never reuse a constant.

    A text that fits one SMS gives one Segment without concatenation info.  Port and national
    language shift IEs go in every segment's UDH (also with SAR and payload, the only way to
    carry them) and take their share of the capacity.  More than 255 segments raise ValueError;
    characters the encoding cannot represent raise ``UnencodableText``.
    """
    _check_args(method, reference)
    enc = encoding if encoding is not None else choose_encoding(text, languages=tuple(languages))
    if ports is None and method != "payload":
        # The common case first: no UDH at all and a text that fits one SMS is one
        # Segment of the plain encoding, found by encoding once (what _plan and _build
        # below would give, without the layout, the counting and the clusters).
        single = _SINGLE_CAPACITY.get(enc.name)
        if single is not None and not enc.locking_shift and not enc.single_shift:
            body = encode(text, enc)
            if (len(body) >> 1 if enc.name == UCS2 else len(body)) <= single:
                return [Segment(body, 0, enc.data_coding)]
    layout = _layout(enc, ports)
    chunks, concatenated = _plan(text, enc, method, layout)
    return _build(
        chunks,
        concatenated,
        method,
        reference,
        layout,
        enc.data_coding,
        lambda chunk, udh: _encode_chunk(chunk, enc, udh),
    )


def count_segments(
    text: str,
    *,
    encoding: TextEncoding | None = None,
    languages: Sequence[int] = (),
    method: str = "udh8",
    ports: tuple[int, int] | None = None,
) -> int:
    """How many segments :func:`split_text` gives for the same arguments (exactly).

    The common single-segment case only counts units; it builds no clusters and encodes
    nothing.
    """
    _check_args(method, 0)
    enc = encoding if encoding is not None else choose_encoding(text, languages=tuple(languages))
    if method == "payload":
        return len(split_text(text, encoding=enc, method=method, ports=ports))
    layout = _layout(enc, ports)
    return len(_plan(text, enc, method, layout)[0])


def split_binary(
    data: bytes,
    *,
    method: str = "udh8",
    reference: int | None = None,
    ports: tuple[int, int] | None = None,
    data_coding: int = 0x04,
) -> list[Segment]:
    """Split 8-bit data into segments: 140 octets minus the UDH per SMS (134 with an 8-bit
    concatenation IE, 133 with a 16-bit one).  Same methods and limits as :func:`split_text`.
    """
    _check_args(method, reference)
    layout = _layout(None, ports)
    data = bytes(data)
    if method == "payload" or len(data) <= _BINARY_OCTETS - layout.octets():
        chunks = [data]
        concatenated = False
    else:
        cap = _BINARY_OCTETS - layout.octets(_CONCAT_IE_OCTETS[method])
        chunks = [data[i : i + cap] for i in range(0, len(data), cap)]
        if len(chunks) > MAX_SEGMENTS:
            raise ValueError(f"data needs {len(chunks)} segments; at most {MAX_SEGMENTS} are possible")
        concatenated = True
    return _build(chunks, concatenated, method, reference, layout, data_coding, _join_binary)


def _join_binary(chunk: bytes, udh: bytes) -> bytes:
    return udh + chunk
