"""The incremental framer: fed whole, byte by byte, in odd chunks, with trailing bytes."""

import struct

import pytest

from smppd.pdu import (
    DEFAULT_MAX_COMMAND_LENGTH,
    CommandStatus,
    DataSm,
    EnquireLink,
    Framer,
    PduDecodeError,
    PduReader,
    SubmitSm,
    encode_pdu,
    error_response,
)
from tests.pdu.vectors import VECTORS

STREAM = b"".join(wire for _, _, wire in VECTORS)
EXPECTED = [pdu for _, pdu, _ in VECTORS]


def feed_in(reader, data, size):
    out = []
    for i in range(0, len(data), size):
        out += reader.feed(data[i : i + size])
    return out


@pytest.mark.parametrize("size", [len(STREAM), 1, 2, 3, 7, 16, 17, 100, 4096])
def test_every_vector_through_the_framer_in_chunks(size):
    reader = PduReader()
    assert feed_in(reader, STREAM, size) == EXPECTED
    assert reader.buffered == 0


def test_trailing_partial_pdu_is_held_back():
    framer = Framer()
    partial = encode_pdu(EnquireLink(sequence_number=9))[:10]
    frames = framer.feed(STREAM + partial)
    assert len(frames) == len(VECTORS)
    assert framer.buffered == 10
    rest = encode_pdu(EnquireLink(sequence_number=9))[10:]
    assert framer.feed(rest) == [encode_pdu(EnquireLink(sequence_number=9))]
    assert framer.buffered == 0


def test_trailing_bytes_byte_by_byte():
    reader = PduReader()
    wire = encode_pdu(SubmitSm(sequence_number=1, short_message=b"x" * 200))
    out = feed_in(reader, wire + wire[:5], 1)
    assert out == [SubmitSm(sequence_number=1, short_message=b"x" * 200)]
    assert reader.buffered == 5


@pytest.mark.parametrize("length", [0, 15, DEFAULT_MAX_COMMAND_LENGTH + 1, 0xFFFFFFFF])
@pytest.mark.parametrize("size", [1, 1000])
def test_bad_command_length_is_reported_once_and_breaks_the_stream(length, size):
    reader = PduReader()
    good = encode_pdu(EnquireLink(sequence_number=1))
    bad = struct.pack(">IIII", length, 0x15, 0, 2)
    out = feed_in(reader, good + bad + good, size)
    assert out[0] == EnquireLink(sequence_number=1)
    assert len(out) == 2
    error = out[1]
    assert isinstance(error, PduDecodeError)
    assert error.command_status == CommandStatus.ESME_RINVCMDLEN
    assert error.sequence_number == 2
    assert error.fatal
    assert error_response(error).command_id == 0x80000000
    assert reader.broken
    assert reader.feed(good) == []


def test_length_checked_before_buffering():
    framer = Framer(max_command_length=1000)
    out = framer.feed(struct.pack(">IIII", 1001, 4, 0, 3))
    assert isinstance(out[0], PduDecodeError)
    assert framer.buffered == 0


def test_unknown_command_id_is_skipped_and_framing_goes_on():
    reader = PduReader()
    unknown = struct.pack(">IIII", 20, 0x01000001, 0, 5) + b"abcd"
    good = encode_pdu(EnquireLink(sequence_number=6))
    for size in (1, 3, 100):
        out = feed_in(reader, unknown + good, size)
        assert isinstance(out[0], PduDecodeError)
        assert out[0].command_status == CommandStatus.ESME_RINVCMDID
        assert out[0].sequence_number == 5
        assert not out[0].fatal
        assert out[1] == EnquireLink(sequence_number=6)


def test_body_error_does_not_stop_the_stream():
    reader = PduReader()
    broken = struct.pack(">IIII", 18, 8, 0, 5) + b"\x00\x00"  # cancel_sm cut short
    good = encode_pdu(EnquireLink(sequence_number=6))
    out = reader.feed(broken + good)
    assert isinstance(out[0], PduDecodeError) and out[0].sequence_number == 5
    assert out[1] == EnquireLink(sequence_number=6)


def test_full_64k_message_payload_fits_the_default_maximum():
    pdu = DataSm(sequence_number=1, tlvs={"message_payload": b"x" * 65535})
    wire = encode_pdu(pdu)
    assert feed_in(PduReader(), wire, 64 * 1024) == [pdu]


def test_buffering_is_linear():
    # 10,000 PDUs one byte at a time would be quadratic with bytes +=;
    # this checks the buffer never holds more than one partial PDU.
    framer = Framer()
    wire = encode_pdu(SubmitSm(sequence_number=1, short_message=b"y" * 160)) * 50
    largest = 0
    count = 0
    for i in range(0, len(wire), 7):
        count += len(framer.feed(wire[i : i + 7]))
        largest = max(largest, framer.buffered)
    assert count == 50
    assert largest < len(wire) // 50


def test_framer_rejects_silly_maximum():
    with pytest.raises(ValueError):
        Framer(max_command_length=8)


def test_a_64k_pdu_dribbled_byte_by_byte_comes_out_once_whole():
    # The held-back bytes are copied out only when the PDU is complete, not at
    # every one-byte feed (that would be quadratic for a slow peer).
    pdu = DataSm(sequence_number=1, tlvs={"message_payload": b"z" * 65535})
    wire = encode_pdu(pdu) + encode_pdu(EnquireLink(sequence_number=2))[:3]
    framer = Framer()
    frames = [frame for i in range(len(wire)) for frame in framer.feed(wire[i : i + 1])]
    assert frames == [encode_pdu(pdu)]
    assert framer.buffered == 3
