"""The shared protocol base on a fake clock and an in-memory transport."""

from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from smppd.events import CollectingObserver, EventBus
from smppd.pdu import (
    BindTransceiver,
    BindTransceiverResp,
    CommandStatus,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    PduReader,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    encode_pdu,
)
from smppd.protocol import (
    HOLD_LIMIT,
    ConnectionClosed,
    ResponseTimeout,
    SessionConfig,
    SmppError,
    SmppProtocol,
)
from smppd.session import BindType, Role, State

S = CommandStatus


class CountingTransport(StringTransport):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.nodelay = False

    def write(self, data: bytes) -> None:
        self.writes += 1
        super().write(data)

    def setTcpNoDelay(self, enabled: bool) -> None:
        self.nodelay = enabled


class Smsc(SmppProtocol):
    role = Role.SMSC
    deferred_submit: Deferred | None = None

    def request_handlers(self):
        return {
            BindTransceiver.command_id: self.on_bind,
            SubmitSm.command_id: self.on_submit,
        }

    def on_bind(self, pdu):
        self.mark_bound(BindType.TRANSCEIVER, pdu.system_id)
        return pdu.response(system_id="smsc")

    def on_submit(self, pdu):
        if pdu.short_message == b"boom":
            raise RuntimeError("handler bug")
        if pdu.short_message == b"later":
            self.deferred_submit = Deferred()
            return self.deferred_submit
        return pdu.response(message_id=f"m{pdu.sequence_number}")


class Esme(SmppProtocol):
    role = Role.ESME

    def request_handlers(self):
        return {DeliverSm.command_id: lambda pdu: pdu.response()}


def connect(cls, config=None, events=None):
    clock = Clock()
    proto = cls(clock, config or SessionConfig(enquire_link_interval=None), events)
    transport = CountingTransport()
    proto.makeConnection(transport)
    return proto, transport, clock


def read(transport):
    out = PduReader().feed(transport.value())
    transport.clear()
    return out


def bound_smsc(**config):
    proto, transport, clock = connect(Smsc, SessionConfig(enquire_link_interval=None, **config))
    proto.dataReceived(encode_pdu(BindTransceiver(sequence_number=1, system_id="esme", password="pw")))
    assert read(transport) == [BindTransceiverResp(sequence_number=1, system_id="smsc")]
    return proto, transport, clock


def test_tcp_nodelay_is_set():
    _, transport, _ = connect(Smsc)
    assert transport.nodelay


def test_enquire_link_before_bind_is_answered():
    proto, transport, _ = connect(Smsc)
    proto.dataReceived(encode_pdu(EnquireLink(sequence_number=4)))
    assert read(transport) == [EnquireLinkResp(sequence_number=4)]


def test_submit_before_bind_answers_rinvbndsts():
    proto, transport, _ = connect(Smsc)
    proto.dataReceived(encode_pdu(SubmitSm(sequence_number=2)))
    assert read(transport) == [SubmitSmResp(sequence_number=2, command_status=S.ESME_RINVBNDSTS)]


def test_bind_twice_answers_ralybnd():
    proto, transport, _ = bound_smsc()
    proto.dataReceived(encode_pdu(BindTransceiver(sequence_number=2)))
    assert read(transport) == [BindTransceiverResp(sequence_number=2, command_status=S.ESME_RALYBND)]


def test_deliver_sm_from_esme_answers_rinvbndsts():
    proto, transport, _ = bound_smsc()
    proto.dataReceived(encode_pdu(DeliverSm(sequence_number=3)))
    assert read(transport) == [DeliverSmResp(sequence_number=3, command_status=S.ESME_RINVBNDSTS)]


def test_all_answers_of_one_read_go_out_in_one_write():
    proto, transport, _ = bound_smsc()
    transport.writes = 0
    burst = b"".join(encode_pdu(SubmitSm(sequence_number=i)) for i in range(10, 60))
    proto.dataReceived(burst + encode_pdu(EnquireLink(sequence_number=99)))
    assert transport.writes == 1
    out = read(transport)
    assert [p.sequence_number for p in out] == [*range(10, 60), 99]
    assert out[0] == SubmitSmResp(sequence_number=10, message_id="m10")


def test_deferred_answer_is_sent_when_it_fires():
    proto, transport, _ = bound_smsc()
    proto.dataReceived(encode_pdu(SubmitSm(sequence_number=5, short_message=b"later")))
    assert read(transport) == []
    proto.deferred_submit.callback(SubmitSmResp(sequence_number=5, message_id="x"))
    assert read(transport) == [SubmitSmResp(sequence_number=5, message_id="x")]


def test_failing_handler_answers_rsyserr():
    proto, transport, _ = bound_smsc()
    proto.dataReceived(encode_pdu(SubmitSm(sequence_number=6, short_message=b"boom")))
    assert read(transport) == [SubmitSmResp(sequence_number=6, command_status=S.ESME_RSYSERR)]
    proto.dataReceived(encode_pdu(SubmitSm(sequence_number=7, short_message=b"later")))
    proto.deferred_submit.errback(RuntimeError("store down"))
    assert read(transport) == [SubmitSmResp(sequence_number=7, command_status=S.ESME_RSYSERR)]


def test_unknown_command_gets_generic_nack_and_the_session_goes_on():
    proto, transport, _ = bound_smsc()
    proto.dataReceived(bytes.fromhex("00000010 01000001 00000000 00000007") + encode_pdu(EnquireLink(sequence_number=8)))
    assert read(transport) == [
        GenericNack(sequence_number=7, command_status=S.ESME_RINVCMDID),
        EnquireLinkResp(sequence_number=8),
    ]
    assert transport.connected


def test_bad_command_length_gets_generic_nack_and_close():
    proto, transport, _ = bound_smsc()
    proto.dataReceived(bytes.fromhex("00000008 00000015 00000000 00000009"))
    assert read(transport) == [GenericNack(sequence_number=9, command_status=S.ESME_RINVCMDLEN)]
    assert transport.disconnecting


def test_malformed_body_answers_its_own_response():
    proto, transport, _ = bound_smsc()
    wire = encode_pdu(SubmitSm(sequence_number=10, source_addr="1"))
    bad = wire[:16] + b"\x00\x01\x01" + b"9" * 30 + wire[16 + 3 + 2 :]
    bad = (len(bad)).to_bytes(4, "big") + bad[4:]
    proto.dataReceived(bad)
    assert read(transport) == [SubmitSmResp(sequence_number=10, command_status=S.ESME_RINVSRCADR)]


def test_received_generic_nack_is_never_answered():
    proto, transport, _ = bound_smsc()
    proto.dataReceived(encode_pdu(GenericNack(sequence_number=77, command_status=3)))
    assert read(transport) == []


def test_request_response_matching_and_window():
    proto, transport, clock = bound_smsc(window=2)
    results = []
    ds = [proto.send_request(DeliverSm(destination_addr=str(i))) for i in range(5)]
    for d in ds:
        d.addCallback(results.append)
    sent = read(transport)
    assert [p.destination_addr for p in sent] == ["0", "1"]
    assert proto.outstanding == 2 and proto.waiting == 3
    # answers out of order still match; each frees one slot, order is kept
    proto.dataReceived(encode_pdu(DeliverSmResp(sequence_number=sent[1].sequence_number)))
    proto.dataReceived(encode_pdu(DeliverSmResp(sequence_number=sent[0].sequence_number)))
    assert [r.sequence_number for r in results] == [sent[1].sequence_number, sent[0].sequence_number]
    more = read(transport)
    assert [p.destination_addr for p in more] == ["2", "3"]


def test_error_status_and_generic_nack_fail_the_request():
    proto, transport, _ = bound_smsc()
    failures = []
    for _ in range(2):
        proto.send_request(DeliverSm()).addErrback(failures.append)
    a, b = read(transport)
    proto.dataReceived(encode_pdu(DeliverSmResp(sequence_number=a.sequence_number, command_status=S.ESME_RX_T_APPN)))
    proto.dataReceived(encode_pdu(GenericNack(sequence_number=b.sequence_number, command_status=S.ESME_RINVCMDID)))
    assert [f.value.status for f in failures] == [S.ESME_RX_T_APPN, S.ESME_RINVCMDID]
    assert all(f.check(SmppError) for f in failures)


def test_response_timeout_on_the_clock():
    proto, transport, clock = bound_smsc(response_timeout=10.0)
    failures = []
    proto.send_request(DeliverSm()).addErrback(failures.append)
    clock.advance(5)
    proto.send_request(DeliverSm()).addErrback(failures.append)
    clock.advance(5)
    assert len(failures) == 1 and failures[0].check(ResponseTimeout)
    clock.advance(5)
    assert len(failures) == 2
    assert proto.outstanding == 0
    assert clock.getDelayedCalls() == []


def test_connection_lost_fails_outstanding_and_waiting():
    proto, transport, clock = bound_smsc(window=1)
    failures = []
    for _ in range(3):
        proto.send_request(DeliverSm()).addErrback(failures.append)
    proto.connectionLost()
    assert len(failures) == 3 and all(f.check(ConnectionClosed) for f in failures)
    assert clock.getDelayedCalls() == []


def test_sending_a_request_not_allowed_in_this_state_fails():
    proto, transport, _ = connect(Smsc)
    failures = []
    proto.send_request(DeliverSm()).addErrback(failures.append)
    assert failures and read(transport) == []


def test_enquire_link_sent_when_idle_and_peer_dropped_when_silent():
    proto, transport, clock = connect(Esme, SessionConfig(enquire_link_interval=30, response_timeout=10))
    clock.advance(20)
    proto.dataReceived(encode_pdu(EnquireLink(sequence_number=1)))  # activity resets the idle time
    read(transport)
    clock.advance(20)
    assert read(transport) == []
    clock.advance(10)
    (probe,) = read(transport)
    assert isinstance(probe, EnquireLink)
    proto.dataReceived(encode_pdu(EnquireLinkResp(sequence_number=probe.sequence_number)))
    assert transport.connected and not transport.disconnecting
    clock.advance(30)
    (probe,) = read(transport)
    clock.advance(10)  # unanswered
    assert transport.disconnecting or not transport.connected


def test_session_init_timer_closes_an_unbound_connection():
    proto, transport, clock = connect(Smsc, SessionConfig(enquire_link_interval=None, session_init_timeout=5))
    clock.advance(4.9)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert transport.disconnecting


def test_session_init_timer_cancelled_by_bind():
    proto, transport, clock = connect(Smsc, SessionConfig(enquire_link_interval=None, session_init_timeout=5))
    proto.dataReceived(encode_pdu(BindTransceiver(sequence_number=1)))
    clock.advance(10)
    assert not transport.disconnecting


def test_inactivity_unbinds():
    proto, transport, clock = bound_smsc(inactivity_timeout=60, unbind_timeout=5)
    clock.advance(30)
    proto.dataReceived(encode_pdu(SubmitSm(sequence_number=3)))
    read(transport)
    clock.advance(59)
    assert read(transport) == []
    clock.advance(2)
    (unbind,) = read(transport)
    assert isinstance(unbind, Unbind)
    assert proto.session.state is State.UNBOUND
    proto.dataReceived(encode_pdu(UnbindResp(sequence_number=unbind.sequence_number)))
    assert transport.disconnecting


def test_our_unbind_closes_even_without_unbind_resp():
    proto, transport, clock = bound_smsc(unbind_timeout=5)
    done = []
    proto.unbind().addCallback(done.append)
    (unbind,) = read(transport)
    assert isinstance(unbind, Unbind)
    clock.advance(5)
    assert transport.disconnecting
    proto.connectionLost()
    assert done == [None]


def test_peer_unbind_is_answered_then_closed():
    proto, transport, clock = bound_smsc()
    proto.dataReceived(encode_pdu(Unbind(sequence_number=12)))
    assert read(transport) == [UnbindResp(sequence_number=12)]
    clock.advance(0)
    assert transport.disconnecting


def test_write_back_pressure_holds_input_then_handles_it_in_order():
    # The transport stops taking our output: what the peer sends meanwhile is
    # held, not handled, and the transport is not paused (a TLS layer that
    # buffers our writes until its handshake is done must go on reading).
    proto, transport, _ = bound_smsc()
    producer = transport.producer
    producer.pauseProducing()
    assert proto.reading_paused and transport.producerState == "producing"
    proto.dataReceived(encode_pdu(EnquireLink(sequence_number=4)))
    proto.dataReceived(encode_pdu(EnquireLink(sequence_number=5)))
    assert transport.value() == b""
    producer.resumeProducing()
    assert not proto.reading_paused
    assert read(transport) == [EnquireLinkResp(sequence_number=4), EnquireLinkResp(sequence_number=5)]


def test_write_back_pressure_pauses_the_transport_past_the_hold_limit():
    proto, transport, _ = bound_smsc()
    producer = transport.producer
    producer.pauseProducing()
    link = encode_pdu(EnquireLink(sequence_number=4))
    n = HOLD_LIMIT // len(link) + 1
    for _ in range(n):
        proto.dataReceived(link)
    assert transport.producerState == "paused"  # the peer sends and does not read
    producer.resumeProducing()
    assert transport.producerState == "producing" and not proto.reading_paused
    assert read(transport) == [EnquireLinkResp(sequence_number=4)] * n


def test_pause_reasons_stack():
    proto, transport, _ = bound_smsc()
    proto.pause_reading("store")
    proto.pause_reading("outbox")
    proto.resume_reading("store")
    assert proto.reading_paused
    proto.resume_reading("outbox")
    assert not proto.reading_paused


def test_events_published_for_connection_life():
    observer = CollectingObserver()
    clock = Clock()
    bus = EventBus(clock, [observer])
    proto = Smsc(clock, SessionConfig(enquire_link_interval=None), bus)
    proto.makeConnection(CountingTransport())
    proto.dataReceived(encode_pdu(BindTransceiver(sequence_number=1, system_id="esme")))
    proto.connectionLost()
    clock.advance(0)
    assert observer.names() == [
        "connection.connected",
        "connection.bound",
        "connection.unbound",
        "connection.disconnected",
    ]
    assert observer.events[1].system_id == "esme"


def test_sequence_numbers_wrap():
    proto, transport, _ = bound_smsc()
    proto.session._sequence = 0x7FFFFFFE
    proto.send_request(DeliverSm())
    proto.send_request(DeliverSm())
    a, b = read(transport)
    assert (a.sequence_number, b.sequence_number) == (0x7FFFFFFF, 1)
    for d in list(proto._outstanding.values()):
        d[0].addErrback(lambda f: None)
    proto.connectionLost()


@pytest.mark.parametrize("size", [1, 5])
def test_byte_by_byte_input(size):
    proto, transport, _ = bound_smsc()
    wire = encode_pdu(SubmitSm(sequence_number=40)) + encode_pdu(EnquireLink(sequence_number=41))
    for i in range(0, len(wire), size):
        proto.dataReceived(wire[i : i + size])
    assert read(transport) == [SubmitSmResp(sequence_number=40, message_id="m40"), EnquireLinkResp(sequence_number=41)]


def test_esme_answers_deliver_sm_when_bound_only():
    proto, transport, _ = connect(Esme)
    proto.dataReceived(encode_pdu(DeliverSm(sequence_number=1)))
    assert read(transport) == [DeliverSmResp(sequence_number=1, command_status=S.ESME_RINVBNDSTS)]
    proto.mark_bound(BindType.RECEIVER, "me")
    proto.dataReceived(encode_pdu(DeliverSm(sequence_number=2)))
    assert read(transport) == [DeliverSmResp(sequence_number=2)]
    assert succeed(None)  # keeps the import honest for type checkers
