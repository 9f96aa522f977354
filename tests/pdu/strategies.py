"""Hypothesis strategies for every PDU class, derived from its wire layout."""

from __future__ import annotations

from hypothesis import strategies as st

from smppd.pdu import DestAddress, DistributionList, Pdu, Tlvs, UnsuccessSme
from smppd.pdu.operations import codec_fields

LATIN1_NO_NUL = st.characters(min_codepoint=1, max_codepoint=255)


def cstring(size: int) -> st.SearchStrategy[str]:
    return st.text(LATIN1_NO_NUL, max_size=size - 1)


time_string = st.one_of(
    st.just(""), st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=16, max_size=16)
)
octet = st.integers(0, 255)
u32 = st.integers(0, 0xFFFFFFFF)

dest = st.one_of(
    st.builds(DestAddress, cstring(21), octet, octet),
    st.builds(DistributionList, cstring(21)),
)
unsuccess = st.builds(UnsuccessSme, cstring(21), u32, octet, octet)

raw_tlvs = st.lists(
    st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40)), max_size=4
).map(Tlvs.from_pairs)


def _field(kind: str, size: int) -> st.SearchStrategy:
    if kind == "c":
        return cstring(size)
    if kind == "t":
        return time_string
    if kind == "i1":
        return octet
    if kind == "sm":
        return st.binary(max_size=254)
    if kind == "dests":
        return st.lists(dest, max_size=6).map(tuple)
    if kind == "unsuccess":
        return st.lists(unsuccess, max_size=6).map(tuple)
    raise AssertionError(kind)


def pdus(cls: type[Pdu]) -> st.SearchStrategy[Pdu]:
    fields = {name: _field(fc.kind, fc.size) for name, fc in codec_fields(cls)}
    strategy = st.builds(cls, sequence_number=u32, command_status=u32, tlvs=raw_tlvs, **fields)
    # short_message and message_payload together are refused when writing.
    return strategy.filter(
        lambda p: not (getattr(p, "short_message", b"") and p.tlvs.raw(0x0424) is not None)
    )
