"""The SMSC over real loopback sockets, driven by a Twisted ESME.

Everything here runs on the real reactor: real TCP, real thread pool for
the password hashes, receipts after the simulator's 0.2 s. Every wait is
bounded (``support.TIMEOUT``); nothing sleeps.
"""

from __future__ import annotations

import re
import socket
from typing import Any

import attrs
import pytest
import pytest_twisted
from twisted.internet.defer import gatherResults

from smppd.events import ConnectionUnbound, DeliveryReport
from smppd.pdu import (
    CancelSm,
    CommandId,
    CommandStatus,
    DeliverSm,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    MessageState,
    QuerySm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    encode_pdu,
)
from smppd.protocol import SmppError
from tests.e2e.support import (
    HOLD_PREFIX,
    HOLD_RULE,
    RawClient,
    header,
    server_config,
    submit_sm,
    within,
)

S = CommandStatus
C = CommandId
RECEIPT_ID = re.compile(rb"\bid:(\S+)")


def receipt_text_id(pdu: DeliverSm) -> str:
    match = RECEIPT_ID.search(pdu.short_message)
    assert match, pdu.short_message
    return match.group(1).decode("ascii")


def nodelay(sock: Any) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


@pytest_twisted.inlineCallbacks
def test_tcp_nodelay_is_set_on_both_sockets(smsc_server):
    esme = yield smsc_server.esme()
    (session,) = smsc_server.sessions()
    assert nodelay(session.transport.getHandle()) != 0
    assert nodelay(esme.socket) != 0
    assert session.session.system_id == "test" and session.session.is_bound


@pytest_twisted.inlineCallbacks
def test_demo_accounts_bind_and_wrong_passwords_do_not(smsc_server):
    for system_id in ("test", "esme"):
        esme = yield smsc_server.esme("trx", system_id)
        assert esme.session.is_bound
    refused = yield smsc_server.connect()
    with pytest.raises(SmppError) as info:
        yield refused.bind("trx", "test", "nope")
    assert info.value.status == S.ESME_RBINDFAIL  # every refusal: the reason is only logged
    assert not refused.session.is_bound


@pytest_twisted.inlineCallbacks
def test_200_submits_in_a_window_of_50_get_ids_and_matching_receipts(smsc_server):
    esme = yield smsc_server.esme()
    assert esme.config.window == 50
    requests = [
        esme.submit(registered_delivery=1, short_message=b"msg %d" % i) for i in range(200)
    ]
    assert esme.outstanding == 50 and esme.waiting == 150  # the window holds the rest back
    responses = yield within(gatherResults(requests), what="200 submit_sm_resp")
    assert all(isinstance(r, SubmitSmResp) and r.command_status == S.ESME_ROK for r in responses)
    ids = [r.message_id for r in responses]
    assert len(set(ids)) == 200 and all(ids)

    receipts = yield esme.wait_deliveries(200)
    assert len(receipts) == 200
    for receipt in receipts:
        assert receipt.esm_class & 0x3C == 0x04  # SMSC delivery receipt
        assert receipt.receipted_message_id == receipt_text_id(receipt)
        assert receipt.message_state == MessageState.DELIVERED
        assert b"stat:DELIVRD" in receipt.short_message
    assert sorted(r.receipted_message_id for r in receipts) == sorted(ids)
    # No receipt overtook the response that gave its id.
    known: set[str] = set()
    for pdu in esme.received:
        if isinstance(pdu, SubmitSmResp):
            known.add(pdu.message_id)
        elif isinstance(pdu, DeliverSm):
            assert pdu.receipted_message_id in known
    # Every receipt was answered, so the outbox is empty.
    answered = [p for p in esme.sent if p.command_id == C.deliver_sm_resp]
    assert len(answered) == 200


@pytest_twisted.inlineCallbacks
def test_bad_command_length_gets_generic_nack_closes_that_connection_only(smsc_server):
    victim = yield smsc_server.esme()
    neighbour = yield smsc_server.esme()
    assert len(smsc_server.sessions()) == 2

    victim.transport.write(header(8, C.submit_sm, seq=9))  # command_length 8 < 16
    nack = yield victim.wait_received(lambda p: isinstance(p, GenericNack))
    assert nack.command_status == S.ESME_RINVCMDLEN and nack.sequence_number == 9
    yield victim.wait_closed()
    assert victim.received[-1] == nack  # nothing after it

    # The neighbour is untouched: enquire_link, submit, receipt.
    yield neighbour.request(EnquireLink())
    resp = yield neighbour.request(submit_sm(registered_delivery=1))
    assert resp.command_status == S.ESME_ROK
    (receipt,) = yield neighbour.wait_deliveries(1)
    assert receipt.receipted_message_id == resp.message_id
    assert [s.session.system_id for s in smsc_server.sessions()] == ["test"]


@pytest_twisted.inlineCallbacks
def test_unknown_command_id_gets_generic_nack_and_the_session_goes_on(smsc_server):
    esme = yield smsc_server.esme()
    esme.transport.write(header(16, 0x00000099, seq=77))
    nack = yield esme.wait_received(lambda p: isinstance(p, GenericNack))
    assert nack.command_status == S.ESME_RINVCMDID and nack.sequence_number == 77
    # A body that does not belong there is skipped by its command_length too.
    esme.transport.write(header(20, 0x0001FFFF, seq=78) + b"\x01\x02\x03\x04")
    nack = yield esme.wait_received(lambda p: isinstance(p, GenericNack) and p.sequence_number == 78)
    assert nack.command_status == S.ESME_RINVCMDID
    link = yield esme.request(EnquireLink())
    assert isinstance(link, EnquireLinkResp)
    resp = yield esme.request(submit_sm())
    assert resp.command_status == S.ESME_ROK
    assert esme.lost is None and len(smsc_server.sessions()) == 1


@pytest_twisted.inlineCallbacks
def test_enquire_link_before_and_after_bind(smsc_server):
    esme = yield smsc_server.connect()
    link = yield esme.request(EnquireLink())
    assert isinstance(link, EnquireLinkResp) and link.command_status == S.ESME_ROK
    yield esme.bind()
    link = yield esme.request(EnquireLink())
    assert link.command_status == S.ESME_ROK
    assert [p.command_id for p in esme.received] == [
        C.enquire_link_resp,
        C.bind_transceiver_resp,
        C.enquire_link_resp,
    ]


@pytest_twisted.inlineCallbacks
def test_the_smsc_sends_enquire_link_when_the_link_is_idle(live):
    config = server_config()
    config = attrs.evolve(config, session=attrs.evolve(config.session, enquire_link_interval=0.2))
    server = yield live.start(config)
    esme = yield server.esme()
    link = yield esme.wait_received(lambda p: isinstance(p, EnquireLink))
    (answer,) = [p for p in esme.sent if isinstance(p, EnquireLinkResp)]
    assert answer.sequence_number == link.sequence_number
    # Answered, so the link stays up and the session works.
    resp = yield esme.request(submit_sm())
    assert resp.command_status == S.ESME_ROK and esme.lost is None


@pytest_twisted.inlineCallbacks
def test_submit_before_bind_is_refused_with_invbndsts(smsc_server):
    esme = yield smsc_server.connect()
    esme.transport.write(encode_pdu(submit_sm(sequence_number=5)))  # the ESME's session would not
    resp = yield esme.wait_received(lambda p: getattr(p, "sequence_number", None) == 5)
    assert resp.command_id == C.submit_sm_resp and resp.command_status == S.ESME_RINVBNDSTS
    yield esme.bind()
    with pytest.raises(SmppError) as info:
        yield esme.request(QuerySm(message_id="nope", source_addr="Shop"))
    assert info.value.status == S.ESME_RQUERYFAIL


@pytest_twisted.inlineCallbacks
def test_esme_unbinds(smsc_server):
    esme = yield smsc_server.esme()
    (session,) = smsc_server.sessions()
    yield within(esme.unbind(), what="unbind")
    assert any(isinstance(p, UnbindResp) and p.command_status == 0 for p in esme.received)
    yield within(session.closed_d, what="server side close")
    yield esme.wait_closed()
    assert smsc_server.sessions() == [] and smsc_server.smsc.bind_count("test") == 0
    event = yield smsc_server.events.wait_for(lambda e: isinstance(e, ConnectionUnbound))
    assert event.system_id == "test"


@pytest_twisted.inlineCallbacks
def test_smsc_unbinds(smsc_server):
    esme = yield smsc_server.esme()
    (session,) = smsc_server.sessions()
    yield within(session.unbind(), what="server unbind")
    yield esme.wait_closed()
    (unbind,) = [p for p in esme.received if isinstance(p, Unbind)]
    (answer,) = [p for p in esme.sent if isinstance(p, UnbindResp)]
    assert answer.sequence_number == unbind.sequence_number and answer.command_status == 0
    yield within(session.closed_d, what="server side close")
    assert smsc_server.sessions() == []


@pytest_twisted.inlineCallbacks
def test_receipt_for_a_transmitter_waits_for_a_receiver_of_the_same_system_id(smsc_server):
    tx = yield smsc_server.esme("tx", "esme")
    resp = yield tx.request(submit_sm(registered_delivery=1))
    message_id = resp.message_id
    # The receipt is made and queued while nobody of "esme" can receive it.
    yield smsc_server.events.wait_for(
        lambda e: isinstance(e, DeliveryReport) and e.message_id == message_id
    )
    assert len(smsc_server.smsc.dispatchers["esme"]) == 1
    other = yield smsc_server.esme("rx", "test")  # another system_id gets nothing

    rx = yield smsc_server.esme("rx", "esme")
    (receipt,) = yield rx.wait_deliveries(1)
    assert receipt.receipted_message_id == message_id == receipt_text_id(receipt)
    assert receipt.message_state == MessageState.DELIVERED
    assert tx.deliveries == [] and other.deliveries == []
    yield within(tx.request(EnquireLink()))  # the transmitter is still fine
    yield within(rx.request(EnquireLink()))  # after our deliver_sm_resp on that connection
    assert len(smsc_server.smsc.dispatchers["esme"]) == 0


@pytest_twisted.inlineCallbacks
def test_connections_beyond_the_limit_are_refused(live):
    server = yield live.start(server_config(max_connections=2))
    first = yield server.esme()
    second = yield server.connect()  # connected, not bound: counts too
    third = yield server.connect(RawClient())
    yield within(third.closed_d, what="refused connection to close")
    assert third.data == b"" and server.factory.refused == 1
    assert len(server.sessions()) == 2
    yield within(second.request(EnquireLink()))

    (first_session,) = [s for s in server.sessions() if s.session.is_bound]
    yield within(first.unbind(), what="unbind")
    yield within(first_session.closed_d, what="server side close")
    again = yield server.esme()  # room again
    assert again.session.is_bound and len(server.sessions()) == 2
    assert server.factory.refused == 1


@pytest_twisted.inlineCallbacks
def test_cancel_sm_is_answered_before_its_deleted_receipt(live):
    server = yield live.start(server_config(simulator_rules=(HOLD_RULE,)))
    esme = yield server.esme()
    resp = yield esme.request(submit_sm(destination_addr=HOLD_PREFIX + "12345", registered_delivery=1))
    cancelled = yield esme.request(CancelSm(message_id=resp.message_id, source_addr="Shop", source_addr_ton=5))
    assert cancelled.command_status == S.ESME_ROK
    (receipt,) = yield esme.wait_deliveries(1)
    assert receipt.message_state == MessageState.DELETED
    order = [p.command_id for p in esme.received if p.command_id in (C.cancel_sm_resp, C.deliver_sm)]
    assert order == [C.cancel_sm_resp, C.deliver_sm]
