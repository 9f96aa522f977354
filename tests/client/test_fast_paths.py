"""The ESME's frame handlers and the plain send path take the same turns as
the general ones: the same answers, results, failures and counts, and
everything they do not read falls back to the decoded path."""

from __future__ import annotations

import struct
from typing import Any

import attrs
import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from smppd.client.protocol import EsmeProtocol, SubmitWaiter
from smppd.client.receipts import ReceiptTracker
from smppd.metrics import PduCounters
from smppd.pdu import (
    CommandId,
    CommandStatus,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    MessageState,
    QuerySm,
    SubmitSm,
    SubmitSmResp,
    Tlvs,
    encode_pdu,
)
from smppd.pdu.codec import decode_pdu
from smppd.protocol import SessionConfig, SmppError
from smppd.session import BindType
from tests.client.support import consume, failure_of, result_of

C = CommandId
S = CommandStatus
M = MessageState
_HEADER = struct.Struct(">IIII")


class Recorder:
    """A plain waiter (the base accepts any object with callback/errback)."""

    def __init__(self) -> None:
        self.results: list[Any] = []
        self.errors: list[BaseException] = []

    def callback(self, result: Any) -> None:
        self.results.append(result)

    def errback(self, error: Any) -> None:
        self.errors.append(getattr(error, "value", error))


class IdRecorder(SubmitWaiter, Recorder):
    __slots__ = ("accepted_ids",)

    def __init__(self) -> None:
        Recorder.__init__(self)
        self.accepted_ids: list[tuple[str, int]] = []

    def accepted(self, message_id: str, sequence_number: int) -> None:
        self.accepted_ids.append((message_id, sequence_number))


def esme(window: int = 10, **kw: Any) -> tuple[EsmeProtocol, StringTransport]:
    proto = EsmeProtocol(Clock(), SessionConfig(enquire_link_interval=None, window=window), **kw)
    proto.pdus = PduCounters()
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.mark_bound(BindType.TRANSCEIVER, "alice")
    return proto, transport


def sent(transport: StringTransport) -> list[Any]:
    data = transport.value()
    transport.clear()
    pdus = []
    while data:
        length = _HEADER.unpack_from(data)[0]
        pdus.append(decode_pdu(data[:length]))
        data = data[length:]
    return pdus


def submit_to(proto: EsmeProtocol, waiter: Any, command_id: int = C.submit_sm) -> int:
    pdu = SubmitSm(destination_addr="1") if command_id == C.submit_sm else QuerySm(message_id="1")
    proto.send_request_to(command_id, encode_pdu(pdu), waiter)
    return proto.session._sequence


# -- submit_sm_resp ----------------------------------------------------------------------


def test_a_plain_submit_sm_resp_reaches_a_submit_waiter_as_its_id():
    proto, transport = esme()
    waiter = IdRecorder()
    seq = submit_to(proto, waiter)
    proto.dataReceived(encode_pdu(SubmitSmResp(sequence_number=seq, message_id="1a2b")))
    assert waiter.accepted_ids == [("1a2b", seq)]
    assert waiter.results == waiter.errors == []
    assert proto.outstanding == 0
    assert proto.pdus.incoming == {(C.submit_sm_resp, 0): 1}


def test_any_other_waiter_gets_the_decoded_pdu():
    proto, transport = esme()
    d = proto.send_request(SubmitSm(destination_addr="1"))
    seq = proto.session._sequence
    frame = encode_pdu(SubmitSmResp(sequence_number=seq, message_id="abc"))
    proto.dataReceived(frame)
    assert result_of(consume(d)) == decode_pdu(frame)


@pytest.mark.parametrize("status", [S.ESME_RTHROTTLED, S.ESME_RINVDSTADR, S.ESME_RSYSERR])
def test_an_error_status_fails_the_waiter_with_the_decoded_response(status):
    proto, transport = esme()
    waiter = IdRecorder()
    seq = submit_to(proto, waiter)
    proto.dataReceived(encode_pdu(SubmitSmResp(sequence_number=seq, command_status=status)))
    (error,) = waiter.errors
    assert isinstance(error, SmppError) and error.status == status
    assert error.response == SubmitSmResp(sequence_number=seq, command_status=status)
    assert waiter.accepted_ids == []
    assert proto.pdus.incoming == {(C.submit_sm_resp, status): 1}


def test_an_error_response_with_no_body_still_fails_the_waiter():
    proto, transport = esme()
    waiter = IdRecorder()
    seq = submit_to(proto, waiter)
    proto.dataReceived(_HEADER.pack(16, C.submit_sm_resp, S.ESME_RMSGQFUL, seq))
    (error,) = waiter.errors
    assert error.status == S.ESME_RMSGQFUL


def test_a_response_with_tlvs_takes_the_general_path():
    proto, transport = esme()
    waiter = IdRecorder()
    seq = submit_to(proto, waiter)
    resp = SubmitSmResp(sequence_number=seq, message_id="9", tlvs=Tlvs.of(additional_status_info_text="queued"))
    proto.dataReceived(encode_pdu(resp))
    assert waiter.results == [resp] and waiter.accepted_ids == []
    assert proto.pdus.incoming == {(C.submit_sm_resp, 0): 1}


def test_a_message_id_without_its_nul_is_read_tolerantly_by_the_codec():
    proto, transport = esme()
    waiter = IdRecorder()
    seq = submit_to(proto, waiter)
    proto.dataReceived(_HEADER.pack(19, C.submit_sm_resp, 0, seq) + b"abc")
    assert [r.message_id for r in waiter.results] == ["abc"]


def test_a_response_to_another_request_fails_it_with_rsyserr():
    proto, transport = esme()
    waiter = Recorder()
    seq = submit_to(proto, waiter, C.query_sm)
    proto.dataReceived(encode_pdu(SubmitSmResp(sequence_number=seq, message_id="1")))
    (error,) = waiter.errors
    assert isinstance(error, SmppError) and error.status == S.ESME_RSYSERR


def test_a_response_matching_no_request_is_logged_and_dropped(logged):
    proto, transport = esme()
    waiter = IdRecorder()
    seq = submit_to(proto, waiter)
    proto.dataReceived(encode_pdu(SubmitSmResp(sequence_number=seq + 5, message_id="1")))
    assert waiter.accepted_ids == [] and proto.outstanding == 1
    proto.dataReceived(encode_pdu(SubmitSmResp(sequence_number=seq, message_id="2")))
    assert waiter.accepted_ids == [("2", seq)]
    assert proto.pdus.incoming == {(C.submit_sm_resp, 0): 2}


def test_an_answer_frees_the_window_for_the_next_waiting_request():
    proto, transport = esme(window=1)
    waiters = [IdRecorder() for _ in range(3)]
    for w in waiters:
        proto.send_request_to(C.submit_sm, encode_pdu(SubmitSm(destination_addr="1")), w)
    assert [p.sequence_number for p in sent(transport)] == [1]
    assert proto.waiting == 2
    proto.dataReceived(encode_pdu(SubmitSmResp(sequence_number=1, message_id="a")))
    assert [p.sequence_number for p in sent(transport)] == [2]
    proto.dataReceived(encode_pdu(SubmitSmResp(sequence_number=2, message_id="b")))
    proto.dataReceived(encode_pdu(SubmitSmResp(sequence_number=3, message_id="c")))
    assert [w.accepted_ids for w in waiters] == [[("a", 1)], [("b", 2)], [("c", 3)]]


def test_a_submit_sm_resp_before_bind_is_not_read_by_the_frame_handler(logged):
    proto = EsmeProtocol(Clock(), SessionConfig(enquire_link_interval=None))
    proto.makeConnection(StringTransport())
    proto.dataReceived(encode_pdu(SubmitSmResp(sequence_number=1, message_id="1")))  # no request: logged
    assert proto.outstanding == 0


# -- deliver_sm ----------------------------------------------------------------------------


def receipt(**kw: Any) -> DeliverSm:
    kw.setdefault("esm_class", 0x04)
    kw.setdefault("tlvs", {"receipted_message_id": "1a2b", "message_state": M.DELIVERED})
    return DeliverSm(sequence_number=kw.pop("sequence_number", 11), source_addr="447700900123", **kw)


def receipt_esme(**kw: Any) -> tuple[EsmeProtocol, StringTransport, list[Any], list[Any]]:
    receipts: list[Any] = []
    delivered: list[Any] = []

    def on_receipt(proto: EsmeProtocol, fields: Any) -> None:
        receipts.append(fields)

    def on_deliver(proto: EsmeProtocol, pdu: Any) -> int:
        delivered.append(pdu)
        return S.ESME_ROK

    proto, transport = esme(on_receipt=kw.pop("on_receipt", on_receipt), on_deliver=on_deliver)
    return proto, transport, receipts, delivered


def test_a_receipt_is_read_from_the_frame_and_answered_rok():
    proto, transport, receipts, delivered = receipt_esme()
    proto.dataReceived(encode_pdu(receipt(sequence_number=11)))
    (fields,) = receipts
    assert (fields.receipted_message_id, fields.message_state, fields.source_addr) == ("1a2b", 2, "447700900123")
    assert delivered == []
    assert transport.value() == encode_pdu(DeliverSmResp(sequence_number=11))
    assert proto.pdus.incoming == {(C.deliver_sm, 0): 1}


def test_many_receipts_in_one_read_are_answered_in_one_write():
    proto, transport, receipts, delivered = receipt_esme()
    writes: list[bytes] = []
    transport.write = writes.append  # type: ignore[method-assign]
    proto.dataReceived(b"".join(encode_pdu(receipt(sequence_number=n)) for n in range(1, 6)))
    assert len(receipts) == 5
    assert writes == [b"".join(encode_pdu(DeliverSmResp(sequence_number=n)) for n in range(1, 6))]


@pytest.mark.parametrize(
    "pdu",
    [
        DeliverSm(sequence_number=3, source_addr="1", short_message=b"hello"),  # MO
        DeliverSm(sequence_number=3, source_addr="1", esm_class=0x40, short_message=b"\x05\x00\x03\x07\x02\x01hi"),
    ],
)
def test_an_mo_message_goes_to_on_deliver(pdu):
    proto, transport, receipts, delivered = receipt_esme()
    proto.dataReceived(encode_pdu(pdu))
    assert receipts == [] and delivered == [pdu]
    assert sent(transport) == [DeliverSmResp(sequence_number=3)]
    assert proto.pdus.incoming == {(C.deliver_sm, 0): 1}


def test_without_on_receipt_a_receipt_goes_to_on_deliver():
    delivered: list[Any] = []
    proto, transport = esme(on_deliver=lambda p, pdu: delivered.append(pdu) or 0)
    proto.dataReceived(encode_pdu(receipt()))
    assert delivered == [receipt()]
    assert proto.pdus.incoming == {(C.deliver_sm, 0): 1}


def test_a_malformed_deliver_sm_is_answered_by_the_general_path(logged):
    proto, transport, receipts, delivered = receipt_esme()
    frame = encode_pdu(receipt(short_message=b"id:1 stat:DELIVRD", tlvs={}))[:-6]  # cut into the short message
    frame = len(frame).to_bytes(4, "big") + frame[4:]
    proto.dataReceived(frame)
    assert receipts == delivered == []
    assert sent(transport) == [DeliverSmResp(sequence_number=11, command_status=S.ESME_RINVMSGLEN)]
    assert proto.pdus.incoming == {(C.deliver_sm, 0): 1}  # counted as framed, like every PDU


def test_a_receipt_handler_that_raises_answers_rsyserr(logged):
    def broken(proto: EsmeProtocol, fields: Any) -> None:
        raise RuntimeError("boom")

    proto, transport, receipts, delivered = receipt_esme(on_receipt=broken)
    proto.dataReceived(encode_pdu(receipt(sequence_number=4)))
    assert sent(transport) == [DeliverSmResp(sequence_number=4, command_status=S.ESME_RSYSERR)]
    assert RuntimeError in logged.failure_types()


def test_a_deliver_sm_on_a_transmitter_bind_is_refused_before_the_frame_handler():
    receipts: list[Any] = []
    proto = EsmeProtocol(Clock(), SessionConfig(enquire_link_interval=None), on_receipt=lambda p, f: receipts.append(f))
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.mark_bound(BindType.TRANSMITTER, "alice")
    proto.dataReceived(encode_pdu(receipt(sequence_number=2)))
    assert receipts == []
    assert sent(transport) == [DeliverSmResp(sequence_number=2, command_status=S.ESME_RINVBNDSTS)]


# -- the client: plain sends, receipts --------------------------------------------------------


def bound(rig, **kw):
    ep = rig.smsc(**{k: kw.pop(k) for k in ("answer", "ids") if k in kw})
    client = rig.start(rig.client(**kw))
    rig.net.run_until(lambda: client.bound_count == 1)
    return ep.servers[0], client


@pytest.mark.parametrize(
    ("content", "options"),
    [
        ("hello", {}),
        ("hello", {"receipt": True}),
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ÄÖÑÜ§¿äöñüà", {}),
        ("x" * 160, {"registered_delivery": 0x11, "esm_class": 0x03, "dest_addr_npi": 9, "source_addr_npi": 1}),
        ("hello", {"source_addr_ton": 0, "dest_addr_ton": 2, "concatenation": "sar"}),
        ("hello", {"registered_delivery": 0x11}),
        ("hello", {"registered_delivery": 0}),
        # not plain: the general path builds these
        ("x" * 161, {}),
        ("{curly}", {}),
        ("€uro", {}),
        ("Привет", {}),
        ("hello", {"encoding": "ucs2"}),
        ("hello", {"concatenation": "payload"}),
        ("hello", {"service_type": "CMT", "validity_period": "000001000000000R"}),
        (b"\x00\x01binary", {}),
    ],
)
@pytest.mark.parametrize("source", ["Shop", "+447700900001", "12345"])
def test_send_message_sends_what_build_submits_encodes(rig, content, options, source):
    server, client = bound(rig)
    box = consume(client.send_message(source, "447700900123", content, **options))
    rig.net.flush()
    ids = result_of(box)
    build = dict(options)
    if build.pop("receipt", False):
        build["registered_delivery"] = 1
    expected = client.build_submits(source, "447700900123", content, **build)
    got = server.submits
    assert len(ids) == len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        if e.esm_class & 0x40:  # a concatenation reference is drawn at random
            continue
        assert encode_pdu(g)[16:] == encode_pdu(e)[16:]


def test_the_plain_path_fails_like_the_general_one(rig):
    server, client = bound(rig)
    box = consume(client.send_message("x" * 21, "447700900123", "hi"))
    rig.net.flush()
    assert "source_addr" in str(failure_of(box).value)
    box = consume(client.send_message("Shop", "447700900123", "hi", registered_delivery=300))
    assert "registered_delivery" in str(failure_of(box).value)
    assert server.submits == []


def test_a_plain_message_refused_by_the_smsc_fails_with_send_error(rig):
    from smppd.client import SendError

    server, client = bound(rig, answer=lambda smsc, pdu: pdu.response(command_status=S.ESME_RINVDSTADR))
    box = consume(client.send_message("Shop", "447700900123", "hi"))
    rig.net.flush()
    error = failure_of(box).value
    assert isinstance(error, SendError) and error.status == S.ESME_RINVDSTADR and error.message_ids == ()
    assert isinstance(error.__cause__, SmppError)
    assert client.counters["failed"] == 1


def test_a_plain_message_answered_with_tlvs_still_gives_its_id(rig):
    def answer(smsc, pdu):
        return pdu.response(message_id="77", tlvs=Tlvs.of(additional_status_info_text="ok"))

    server, client = bound(rig, answer=answer)
    box = consume(client.send_message("Shop", "447700900123", "hi"))
    rig.net.flush()
    assert result_of(box) == ["77"]
    assert client.counters["submitted"] == 1


def test_submit_still_fires_with_the_response_pdu(rig):
    server, client = bound(rig, ids=iter(["abc"]))
    box = consume(client.submit(SubmitSm(source_addr="Shop", destination_addr="447700900123", short_message=b"x")))
    rig.net.flush()
    assert result_of(box) == SubmitSmResp(sequence_number=server.submits[0].sequence_number, message_id="abc")


@pytest.mark.parametrize(
    ("submitted", "in_receipt"),
    [
        ("1a2b3c4d5e", str(0x1A2B3C4D5E)),  # hex submitted, decimal in the receipt
        ("112394521950", format(112394521950, "x")),  # decimal submitted, hex in the receipt
        ("00AbC", "abc"),  # padding and case
    ],
)
def test_tlv_receipts_in_another_base_match_through_the_frame_handler(rig, submitted, in_receipt):
    server, client = bound(rig, ids=iter([submitted]))
    box = consume(client.send_message("Shop", "447700900123", "hi", receipt=True))
    rig.net.flush()
    ids = result_of(box)
    outcome = consume(client.outcome(ids))
    consume(server.deliver(receipt(tlvs={"receipted_message_id": in_receipt, "message_state": M.UNDELIVERABLE, "network_error_code": b"\x03\x00\x0b"})))
    rig.net.flush()
    got = result_of(outcome)
    assert got.stat == "UNDELIV" and got.error_codes == (11,)
    assert [a.command_status for a in server.deliver_answers] == [S.ESME_ROK]


def test_a_data_sm_receipt_with_the_text_in_message_payload(rig):
    server, client = bound(rig, ids=iter(["5"]))
    box = consume(client.send_message("Shop", "447700900123", "hi", receipt=True))
    rig.net.flush()
    outcome = consume(client.outcome(result_of(box)))
    consume(server.deliver(DataSm(source_addr="447700900123", esm_class=0x04, tlvs={"message_payload": b"id:5 stat:DELIVRD err:000"})))
    rig.net.flush()
    assert result_of(outcome).delivered
    assert [a.command_status for a in server.deliver_answers] == [S.ESME_ROK]


def test_outcome_waiters_all_fire_and_late_askers_get_the_same_outcome(rig):
    server, client = bound(rig, ids=iter(["9"]))
    box = consume(client.send_message("Shop", "447700900123", "hi", receipt=True))
    rig.net.flush()
    ids = result_of(box)
    early = [consume(client.outcome(ids)) for _ in range(3)]
    consume(server.deliver(receipt(tlvs={"receipted_message_id": "9", "message_state": M.DELIVERED})))
    rig.net.flush()
    outcomes = [result_of(b) for b in early]
    assert outcomes[0].delivered and outcomes.count(outcomes[0]) == 3
    assert result_of(consume(client.outcome(ids))) == outcomes[0]
    assert client.stats.receipt_latency.count == 1
    assert failure_of(consume(client.outcome("nope"))).check(KeyError)


# -- the tracker ---------------------------------------------------------------------------


def test_track_calls_its_function_and_a_failing_one_is_logged(logged):
    clock = Clock()
    tracker = ReceiptTracker(clock, timeout=10.0)
    seen: list[Any] = []
    tracker.track(["a"], seen.append)

    def broken(outcome: Any) -> None:
        raise RuntimeError("observer bug")

    tracker.track(["b"], broken)
    assert tracker.receipt("A", M.DELIVERED)
    assert tracker.receipt("b", M.EXPIRED)
    assert [o.message_ids for o in seen] == [("a",)]
    assert RuntimeError in logged.failure_types()
    tracker.track(["c", "d"], seen.append)
    assert tracker.receipt("c", M.ENROUTE)  # not final: matched, still waiting
    clock.advance(10)
    assert seen[-1].timed_out and seen[-1].states == (M.UNKNOWN, M.UNKNOWN)
    tracker.stop()


def test_expect_still_returns_a_deferred():
    clock = Clock()
    tracker = ReceiptTracker(clock, timeout=10.0)
    d = tracker.expect(("1f",))
    assert isinstance(d, Deferred)
    assert tracker.receipt("31", M.DELIVERED)  # decimal 31 == 0x1f
    assert result_of(consume(d)).delivered
    tracker.stop()


# -- sending at once (no queue) ----------------------------------------------------------


class PathSpy:
    """Counts the messages that went through the send queue (``_enqueue``)."""

    def __init__(self, client: Any) -> None:
        self.queued = 0
        enqueue = client._enqueue

        def counting(entry: Any) -> None:
            self.queued += 1
            enqueue(entry)

        client._enqueue = counting


def test_a_plain_message_goes_out_at_once_when_the_bind_has_room(rig):
    server, client = bound(rig, window=2)
    spy = PathSpy(client)
    boxes = [consume(client.send_message("Shop", "447700900123", f"m{i}")) for i in range(3)]
    assert spy.queued == 1  # the third found the window full: queued, sent when a slot frees
    assert client.queued == 1 and [p.outstanding for p in client.protocols()] == [2]
    rig.net.flush()
    assert [len(result_of(b)) for b in boxes] == [1, 1, 1]
    assert [s.short_message for s in server.submits] == [b"m0", b"m1", b"m2"]
    assert len({s.sequence_number for s in server.submits}) == 3


def test_behind_a_queued_message_the_next_one_queues_too(rig):
    server, client = bound(rig, window=1)
    spy = PathSpy(client)
    first = consume(client.send_message("Shop", "447700900123", "a"))
    second = consume(client.send_message("Shop", "447700900123", "b"))  # window full: queued
    client.config = attrs.evolve(client.config, session=attrs.evolve(client.config.session, window=5))
    third = consume(client.send_message("Shop", "447700900123", "c"))  # room now, but "b" is first in line
    assert spy.queued == 2
    rig.net.flush()
    assert [s.short_message for s in server.submits] == [b"a", b"b", b"c"]
    assert all(result_of(b) for b in (first, second, third))


def test_a_paused_bind_sends_nothing_at_once(rig):
    server, client = bound(rig)
    spy = PathSpy(client)
    client._binds[0].paused_until = rig.clock.seconds() + 5
    box = consume(client.send_message("Shop", "447700900123", "later"))
    assert spy.queued == 1 and server.submits == [] and client.queued == 1
    rig.net.advance(5)
    rig.net.flush()
    assert result_of(box) and [s.short_message for s in server.submits] == [b"later"]


def test_with_a_rate_limit_every_message_takes_the_queue(rig):
    server, client = bound(rig, rate=100.0)
    spy = PathSpy(client)
    box = consume(client.send_message("Shop", "447700900123", "hi"))
    rig.net.flush()
    assert spy.queued == 1 and result_of(box)


def test_a_closing_session_refuses_like_the_general_path(rig):
    from smppd.client import SendError

    server, client = bound(rig)
    spy = PathSpy(client)
    proto = client.protocols()[0]
    proto._closing = True  # close() called, connectionLost not yet in
    box = consume(client.send_message("Shop", "447700900123", "hi"))
    assert spy.queued == 1
    error = failure_of(box).value
    assert isinstance(error, SendError) and "closing" in str(error)
    proto._closing = False


def test_a_stopping_client_fails_the_send_at_once(rig):
    from smppd.client import SendError
    from smppd.client.client import ClientStopped

    server, client = bound(rig)
    client._stopping = True
    box = consume(client.send_message("Shop", "447700900123", "hi"))
    error = failure_of(box).value
    assert isinstance(error, SendError) and isinstance(error.__cause__, ClientStopped)
    assert server.submits == []
    client._stopping = False


def test_sending_at_once_keeps_the_round_robin_of_the_queue(rig):
    a = rig.smsc("tcp:smsc-a:2775")
    client = rig.start(rig.client(binds=2))
    rig.net.run_until(lambda: client.bound_count == 2)
    spy = PathSpy(client)
    for i in range(4):
        consume(client.send_message("Shop", "447700900123", f"m{i}"))
    rig.net.flush()
    assert spy.queued == 0
    assert [[s.short_message for s in srv.submits] for srv in a.servers] == [[b"m0", b"m2"], [b"m1", b"m3"]]
    # the bind whose turn it is paused: the general path picks the other one
    client._binds[client._rr % 2].paused_until = rig.clock.seconds() + 60
    consume(client.send_message("Shop", "447700900123", "m4"))
    rig.net.flush()
    assert spy.queued == 1
    assert [s.short_message for s in a.servers[1].submits] == [b"m1", b"m3", b"m4"]


def test_send_if_room_declines_without_side_effects():
    proto, transport = esme(window=1)
    first, second = Recorder(), Recorder()
    wire = encode_pdu(SubmitSm(destination_addr="1"))
    assert proto.send_if_room(C.submit_sm, wire, first)
    assert not proto.send_if_room(C.submit_sm, wire, second)  # window full
    assert proto.outstanding == 1 and proto.waiting == 0
    proto.send_request_to(C.submit_sm, wire, second)  # waits
    proto._outstanding.clear()
    assert not proto.send_if_room(C.submit_sm, wire, Recorder())  # something waits before it
    proto._waiting.clear()
    proto._closing = True
    assert not proto.send_if_room(C.submit_sm, wire, Recorder())
    assert [p.sequence_number for p in sent(transport)] == [1]
    assert first.errors == second.errors == []


# -- the tracker: one-segment messages, expiry order, orphans -----------------------------------


def test_one_and_several_segment_messages_finish_and_expire_alike():
    clock = Clock()
    tracker = ReceiptTracker(clock, timeout=10.0)
    seen: list[Any] = []
    tracker.track(("a",), seen.append)
    tracker.track(["b", "c"], seen.append)
    tracker.track(("d",), seen.append)
    assert tracker.receipt("a", M.UNDELIVERABLE, 7)
    assert not tracker.receipt("a", M.DELIVERED)  # finished: a second receipt is an orphan
    assert tracker.receipt("b", M.DELIVERED)
    clock.advance(10)
    assert [(o.message_ids, o.states, o.error_codes, o.timed_out) for o in seen] == [
        (("a",), (M.UNDELIVERABLE,), (7,), False),
        (("b", "c"), (M.DELIVERED, M.UNKNOWN), (0, 0), True),
        (("d",), (M.UNKNOWN,), (0,), True),
    ]
    assert len(tracker) == 0 and tracker._live == 0
    tracker.stop()


def test_a_message_tracked_after_the_clock_went_back_expires_on_time():
    clock = Clock()
    clock.advance(1000)
    tracker = ReceiptTracker(clock, timeout=10.0)
    seen: list[Any] = []
    tracker.track(("late",), seen.append)  # deadline 1010
    clock.rightNow = 995.0  # wall clock set back
    tracker.track(("early",), seen.append)  # deadline 1005: before the other one
    assert [t.ids for t in tracker._expiry] == [("early",), ("late",)]
    clock.advance(10)  # 1005
    assert [o.message_ids for o in seen] == [("early",)]
    clock.advance(5)
    assert [o.message_ids for o in seen] == [("early",), ("late",)]
    tracker.stop()


def test_expiry_that_sweeps_finished_messages_while_it_runs_still_expires_the_rest():
    clock = Clock()
    tracker = ReceiptTracker(clock, timeout=10.0)
    seen: list[Any] = []
    for i in range(3000):
        tracker.track((f"{i:x}",), seen.append)
    for i in range(0, 3000, 2):
        assert tracker.receipt(f"{i:x}", M.DELIVERED)
    clock.advance(10)  # 1,500 time out; finishing them sweeps the deque meanwhile
    assert sum(o.timed_out for o in seen) == 1500 and len(seen) == 3000
    assert len(tracker) == 0 and not tracker._expiry and tracker._timer is None
    tracker.stop()


@pytest.mark.parametrize(
    ("orphan", "submitted"),
    [("1A2B", "1a2b"), ("0001a2b", "1a2b"), (str(0x1A2B3C4D5E), "1a2b3c4d5e"), ("1a2b3c4d5e", str(0x1A2B3C4D5E))],
)
def test_an_orphan_is_found_by_any_spelling_the_index_accepts(orphan, submitted):
    clock = Clock()
    tracker = ReceiptTracker(clock, timeout=60.0)
    assert not tracker.receipt(orphan, M.EXPIRED, 3)
    assert not tracker.receipt("unrelated", M.DELIVERED)
    seen: list[Any] = []
    tracker.track((submitted,), seen.append)
    assert [(o.states, o.error_codes) for o in seen] == [((M.EXPIRED,), (3,))]
    assert list(tracker._orphans) == ["unrelated"]
    assert set(tracker._orphan_keys) == {"unrelated"}
    tracker.stop()


def test_of_several_orphans_for_one_message_the_oldest_is_taken():
    clock = Clock()
    tracker = ReceiptTracker(clock, timeout=60.0)
    tracker.receipt("00ff", M.EXPIRED)
    tracker.receipt("FF", M.DELIVERED)
    tracker.receipt("255", M.REJECTED)  # decimal 255 == 0xff
    seen: list[Any] = []
    tracker.track(("ff",), seen.append)
    assert seen[0].states == (M.EXPIRED,)
    assert list(tracker._orphans) == ["FF", "255"]
    tracker.track(("ff",), seen.append)
    assert seen[1].states == (M.DELIVERED,)
    tracker.stop()


def test_orphans_forgotten_by_age_or_by_number_leave_no_index_behind():
    clock = Clock()
    tracker = ReceiptTracker(clock, timeout=600.0, orphan_ttl=30.0, max_orphans=2)
    for message_id in ("10", "20", "30"):
        tracker.receipt(message_id, M.DELIVERED)
    assert list(tracker._orphans) == ["20", "30"]  # the oldest made room
    assert "10" not in tracker._orphan_keys and str(0x10) not in tracker._orphan_keys
    seen: list[Any] = []
    tracker.track(("10",), seen.append)
    assert seen == []
    clock.advance(30)
    assert not tracker._orphans and not tracker._orphan_keys
    tracker.track(("20",), seen.append)
    assert seen == []
    tracker.stop()
