"""The submit_sm frame handler answers exactly what the general path answers.

``SmscProtocol`` reads plain submit_sm straight from the bytes and hands
everything else to the decoder and :meth:`SmscProtocol._on_submit_sm`. These
tests run every submit_sm twice, through the server as it is and through one
whose frame handler is switched off, and require the same responses and the
same stored messages (both servers start at the same fake time, so they
issue the same message ids).
"""

from __future__ import annotations

import struct
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smppd.pdu import CommandStatus, SubmitSm, encode_pdu
from smppd.server.protocol import SmscProtocol
from tests.server.harness import Harness, account

HEADER = struct.Struct(">IIII")


class GeneralPathProtocol(SmscProtocol):
    """The server with the submit_sm frame handler switched off."""

    def frame_handlers(self) -> dict[int, Any]:
        return {}


def _servers(**account_kw: Any) -> tuple[tuple[Any, Any, Harness], tuple[Any, Any, Harness]]:
    pair = []
    for cls in (SmscProtocol, GeneralPathProtocol):
        h = Harness(accounts=[account("alice", **account_kw)])
        h.protocol_class = cls
        proto, transport = h.bind("alice")
        pair.append((proto, transport, h))
    assert type(pair[0][0]) is SmscProtocol and type(pair[1][0]) is GeneralPathProtocol
    return pair[0], pair[1]


def _run(server: tuple[Any, Any, Harness], frames: list[bytes]) -> tuple[list[Any], list[Any]]:
    proto, transport, h = server
    proto.dataReceived(b"".join(frames))
    answers = transport.pdus()
    stored = [h.store._state.messages[m] for m in sorted(h.store._state.messages)]
    return answers, stored


def _same(frames: list[bytes], **account_kw: Any) -> list[Any]:
    fast, general = _servers(**account_kw)
    got_fast = _run(fast, frames)
    got_general = _run(general, frames)
    assert got_fast == got_general
    return got_fast[0]


addresses = st.one_of(st.text(alphabet="0123456789+abcXYZ \u00b2", max_size=20), st.from_regex(r"\+?[0-9]{1,15}", fullmatch=True))
times = st.sampled_from(["", "000001000000000R", "000000000010000R", "991231235959000+", "garbage-time-000", "260101000000000+"])
byte = st.integers(0, 255)
small = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 18, 0x40, 0xFF])


@st.composite
def submit_sms(draw: Any) -> SubmitSm:
    tlvs: Any = draw(
        st.sampled_from([
            (),
            ((0x0204, b"\x00\x07"),),  # user_message_reference
            ((0x020C, b"\x00\x01"), (0x020E, b"\x02"), (0x020F, b"\x01")),  # SAR
            ((0x0424, b"payload"),),
            ((0x020C, b"\x00\x01"),),  # SAR in part
        ])
    )
    short_message = draw(
        st.one_of(
            st.binary(max_size=160),
            st.sampled_from([b"\x05\x00\x03\x01\x02\x01hello", b"\x05\x00\x03", b""]),
        )
    )
    if any(tag == 0x0424 for tag, _ in tlvs):
        short_message = b""  # the encoder refuses both
    return SubmitSm(
        sequence_number=draw(st.integers(1, 0x7FFFFFFF)),
        service_type=draw(st.sampled_from(["", "CMT", "WAP"])),
        source_addr_ton=draw(small),
        source_addr_npi=draw(small),
        source_addr=draw(addresses),
        dest_addr_ton=draw(small),
        dest_addr_npi=draw(small),
        destination_addr=draw(addresses),
        esm_class=draw(st.one_of(st.sampled_from([0, 0x03, 0x08, 0x10, 0x40, 0x43, 0x80]), byte)),
        protocol_id=draw(byte),
        priority_flag=draw(st.integers(0, 5)),
        schedule_delivery_time=draw(times),
        validity_period=draw(times),
        registered_delivery=draw(st.one_of(st.sampled_from([0, 1, 2, 0x10, 0x11]), byte)),
        replace_if_present_flag=draw(st.integers(0, 2)),
        data_coding=draw(st.one_of(st.sampled_from([0, 3, 8, 0xF0]), byte)),
        sm_default_msg_id=draw(st.sampled_from([0, 0, 0, 1])),
        short_message=short_message,
        tlvs=tlvs,
    )


@settings(max_examples=300)
@given(st.lists(submit_sms(), min_size=1, max_size=4))
def test_any_submit_sm_gets_the_general_paths_answer(pdus: list[SubmitSm]) -> None:
    _same([encode_pdu(p) for p in pdus])


@settings(max_examples=150)
@given(submit_sms(), st.data())
def test_damaged_frames_get_the_general_paths_answer(pdu: SubmitSm, data: Any) -> None:
    """Bodies cut short, fields without their NUL, lengths that lie."""
    wire = bytearray(encode_pdu(pdu))
    body_len = len(wire) - 16
    if body_len:
        cut = data.draw(st.integers(0, body_len - 1))
        kind = data.draw(st.sampled_from(["truncate", "flip", "no-nul"]))
        if kind == "truncate":
            wire = wire[: 16 + cut]
        elif kind == "flip":
            wire[16 + cut] = data.draw(byte)
        else:
            wire[16 + cut] = 0x41 if wire[16 + cut] == 0 else wire[16 + cut]
    wire[0:4] = struct.pack(">I", len(wire))
    _same([bytes(wire)])


PLAIN = SubmitSm(
    sequence_number=7,
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr="447700900001",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="447700900123",
    registered_delivery=1,
    short_message=b"hello",
)


@pytest.mark.parametrize(
    "account_kw",
    [
        {},
        {"permissions": {"query_sm"}},  # no submit_sm: ESME_RSUBMITFAIL
        {"source_addr_patterns": ["^4477"]},
        {"source_addr_patterns": ["^33"]},  # ESME_RINVSRCADR
        {"throughput": 2.0},  # the third in the same instant is ESME_RTHROTTLED
    ],
)
def test_account_policies_answer_alike(account_kw: dict[str, Any]) -> None:
    frames = [encode_pdu(attrs.evolve(PLAIN, sequence_number=n)) for n in range(1, 6)]
    answers = _same(frames, **account_kw)
    assert len(answers) == 5


def test_the_plain_case_takes_the_frame_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Guard against the fast path silently never running."""
    (proto, transport, h), _ = _servers()
    decoded: list[bytes] = []
    original = proto.dispatch_frame
    monkeypatch.setattr(proto, "dispatch_frame", lambda frame: (decoded.append(frame), original(frame)))
    proto.dataReceived(encode_pdu(PLAIN) + encode_pdu(attrs.evolve(PLAIN, esm_class=0x40, sequence_number=8)))
    answers = sorted(transport.pdus(), key=lambda a: a.sequence_number)  # errors go out before the store answers
    # esm_class 0x40 says the message starts with a UDH, and "hello" is no UDH
    assert [a.command_status for a in answers] == [0, CommandStatus.ESME_RINVMSGLEN]
    assert len(decoded) == 1  # only that one was decoded
    assert proto.pdus is not None and proto.pdus.incoming[0x00000004, 0] == 2  # each counted once
    stored = h.store._state.messages[answers[0].message_id]
    assert (stored.source_addr, stored.destination_addr, stored.short_message, stored.registered_delivery) == (
        "447700900001",
        "447700900123",
        b"hello",
        1,
    )


@given(st.integers(1, 0x7FFFFFFF), st.text(alphabet="0123456789abcdef-", max_size=64))
def test_the_direct_response_encoder_is_the_codecs(seq: int, message_id: str) -> None:
    from smppd.pdu import DataSmResp, SubmitSmResp
    from smppd.server.protocol import message_id_resp

    assert message_id_resp(0x80000004, seq, message_id) == encode_pdu(SubmitSmResp(sequence_number=seq, message_id=message_id))
    assert message_id_resp(0x80000103, seq, message_id) == encode_pdu(DataSmResp(sequence_number=seq, message_id=message_id))
