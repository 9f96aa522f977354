"""Outbox items expire on the SMSC's clock, bound receiver or not (issue 11):
an ESME that never binds as receiver must not hold a backlog, and the
ESME_RMSGQFUL it causes, forever."""

from __future__ import annotations

from smppd.pdu import CommandStatus, DeliverSmResp, MessageState, SubmitSm
from smppd.pdu.timefmt import format_relative
from smppd.server.config import Route, ServerConfig
from smppd.storage.memory import MemoryStore
from smppd.testing import send
from tests.server.harness import Harness

S = CommandStatus


def submit(**kw):
    base = dict(sequence_number=10, source_addr="Shop", source_addr_ton=5, destination_addr="447700900123", dest_addr_ton=1, dest_addr_npi=1, short_message=b"hello")
    base.update(kw)
    return SubmitSm(**base)


def test_receipts_for_an_esme_that_never_binds_as_receiver_expire_and_the_backlog_falls():
    h = Harness(ServerConfig(simulator_default_delay=0.0, outbox_high_water=4, receipt_validity=600.0))
    tx, tx_t = h.bind(kind="tx")  # never a receiver: receipts pile up
    h.request(tx, tx_t, *[submit(sequence_number=i, registered_delivery=1) for i in range(1, 6)])
    h.clock.advance(0)
    assert len(h.smsc.dispatchers["alice"]) == 5
    assert h.request(tx, tx_t, submit(sequence_number=9))[0].command_status == S.ESME_RMSGQFUL
    h.clock.advance(599)
    assert len(h.smsc.dispatchers["alice"]) == 5
    h.clock.advance(2)
    assert len(h.smsc.dispatchers["alice"]) == 0
    h.clock.advance(0)  # the removals reach the store on the next turn
    assert h.store._state.stats().outbox == 0
    assert h.request(tx, tx_t, submit(sequence_number=10))[0].command_status == 0
    assert "alice" not in h.smsc.backlogged


def test_a_message_routed_to_an_esme_that_never_binds_expires_with_a_receipt():
    h = Harness(ServerConfig(routes=(Route("^888", "bob"),)))
    alice, a_t = h.bind("alice")
    (resp,) = h.request(
        alice, a_t, submit(registered_delivery=1, destination_addr="888", dest_addr_ton=0, validity_period=format_relative(60))
    )
    h.clock.advance(0)
    assert len(h.smsc.dispatchers["bob"]) == 1
    h.clock.advance(62)
    assert len(h.smsc.dispatchers["bob"]) == 0
    assert resp.message_id not in h.smsc.unfinished
    (receipt,) = h.ack_all(alice, a_t)
    assert receipt.receipted_message_id == resp.message_id and receipt.message_state == MessageState.EXPIRED
    h.clock.advance(0)
    assert h.store._state.stats().outbox == 0
    bob, b_t = h.bind("bob", kind="rx")  # binding late: nothing left for it
    h.clock.advance(0)
    assert b_t.pdus() == []


def test_outbox_items_recovered_at_start_expire_without_a_bind():
    store = MemoryStore()
    h = Harness(ServerConfig(simulator_default_delay=0.0, receipt_validity=300.0), store=store)
    tx, tx_t = h.bind(kind="tx")
    h.request(tx, tx_t, submit(registered_delivery=1))
    h.clock.advance(0)
    assert store._state.stats().outbox == 1
    h2 = Harness(ServerConfig(simulator_default_delay=0.0, receipt_validity=300.0), store=store)
    h2.clock.advance(0)
    assert len(h2.smsc.dispatchers["alice"]) == 1
    h2.clock.advance(400)  # the second harness starts its clock where the first did
    assert len(h2.smsc.dispatchers["alice"]) == 0
    h2.clock.advance(0)
    assert store._state.stats().outbox == 0


def test_a_bound_receiver_still_gets_what_has_not_expired():
    h = Harness(ServerConfig(simulator_default_delay=0.0, receipt_validity=600.0))
    tx, tx_t = h.bind(kind="tx")
    h.request(tx, tx_t, submit(sequence_number=1, registered_delivery=1))
    h.clock.advance(300)
    h.request(tx, tx_t, submit(sequence_number=2, registered_delivery=1))
    h.clock.advance(301)  # the first receipt is past its validity, the second is not
    rx, rx_t = h.bind(kind="rx")
    (receipt,) = h.ack_all(rx, rx_t)
    send(rx, DeliverSmResp(sequence_number=receipt.sequence_number))
    assert len(h.smsc.dispatchers["alice"]) == 0
