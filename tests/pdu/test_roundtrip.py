"""Property tests: round trips for every PDU class; arbitrary input fails cleanly."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppd.pdu import (
    PDU_BY_COMMAND_ID,
    PDU_CLASSES,
    Framer,
    Pdu,
    PduDecodeError,
    PduReader,
    decode_pdu,
    encode_pdu,
)
from tests.pdu.strategies import pdus


@pytest.mark.parametrize("cls", PDU_CLASSES, ids=lambda c: c.__name__)
@given(data=st.data())
def test_decode_encode_round_trip(cls, data):
    pdu = data.draw(pdus(cls))
    wire = encode_pdu(pdu)
    assert struct.unpack(">I", wire[:4])[0] == len(wire)
    assert decode_pdu(wire) == pdu
    # and through the framer, with a neighbour on each side
    out = PduReader().feed(wire + wire + wire)
    assert out == [pdu, pdu, pdu]


@given(st.binary(max_size=300))
def test_arbitrary_bytes_into_decoder_raise_only_codec_errors(data):
    try:
        decode_pdu(data)
    except PduDecodeError as e:
        assert e.command_status in (2, 3) or e.command_id is not None
    else:
        assert len(data) >= 16


@given(
    st.sampled_from(sorted(PDU_BY_COMMAND_ID)),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.binary(max_size=300),
)
def test_arbitrary_bodies_decode_or_raise_codec_error(command_id, status, seq, body):
    wire = struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body
    try:
        pdu = decode_pdu(wire)
    except PduDecodeError as e:
        assert e.sequence_number == seq
        assert e.command_status != 0
    else:
        assert isinstance(pdu, Pdu)
        assert pdu.sequence_number == seq


@given(st.lists(st.binary(max_size=100), max_size=20), st.integers(16, 400))
def test_arbitrary_chunks_into_framer_yield_only_frames_or_errors(chunks, limit):
    reader = PduReader(max_command_length=limit)
    framer = Framer(max_command_length=limit)
    for chunk in chunks:
        for item in reader.feed(chunk):
            assert isinstance(item, (Pdu, PduDecodeError))
        for frame in framer.feed(chunk):
            assert isinstance(frame, (bytes, PduDecodeError))
