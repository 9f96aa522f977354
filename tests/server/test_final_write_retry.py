"""A final state the store fails to write is retried until durable, and its
receipt goes out then (issue 11: it used to be logged and lost)."""

from __future__ import annotations

import pytest
from twisted.internet.defer import fail
from twisted.logger import globalLogPublisher
from zope.interface.verify import verifyObject

from smppd.interfaces import IMessageStore
from smppd.pdu import DeliverSmResp, MessageState, SubmitSm
from smppd.server.config import ServerConfig
from smppd.storage.errors import StoreError
from smppd.storage.memory import MemoryStore
from smppd.testing import send
from tests.server.harness import Harness


class FlakyStore(MemoryStore):
    """A memory store whose finish_messages fails ``failures`` times first."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0

    def finish_messages(self, updates):
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            return fail(StoreError("disk full"))
        return super().finish_messages(updates)


@pytest.fixture
def capture_log():
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(events.append)


def submit(**kw):
    base = dict(sequence_number=10, source_addr="Shop", source_addr_ton=5, destination_addr="447700900123", dest_addr_ton=1, dest_addr_npi=1, short_message=b"hello", registered_delivery=1)
    base.update(kw)
    return SubmitSm(**base)


def failures_logged(events):
    return [e for e in events if e.get("log_failure") is not None]


def test_a_failed_final_write_is_retried_with_back_off_and_the_receipt_follows(capture_log):
    store = FlakyStore(failures=3)
    verifyObject(IMessageStore, store)
    h = Harness(ServerConfig(simulator_default_delay=1.0), store=store)
    proto, transport = h.bind()
    (resp,) = h.request(proto, transport, submit())
    h.clock.advance(1)  # delivered: the first write fails
    assert store.calls == 1 and transport.pdus() == []
    h.clock.advance(1)  # retry 1 (after 1 s) fails
    h.clock.advance(2)  # retry 2 (after 2 s) fails
    assert store.calls == 3 and transport.pdus() == []
    h.clock.advance(3.9)
    assert store.calls == 3
    h.clock.advance(0.1)  # retry 3 (after 4 s) succeeds
    assert store.calls == 4
    h.clock.advance(0)
    (receipt,) = transport.pdus()
    assert receipt.receipted_message_id == resp.message_id and receipt.message_state == MessageState.DELIVERED
    send(proto, DeliverSmResp(sequence_number=receipt.sequence_number))
    assert h.smsc.counters["final_write_failures"] == 3
    assert len(failures_logged(capture_log)) == 1  # once per outage, not per attempt
    assert h.smsc._unwritten == [] and h.smsc._unwritten_call is None


def test_writes_failing_together_are_retried_in_one_store_call(capture_log):
    store = FlakyStore(failures=2)
    h = Harness(ServerConfig(simulator_default_delay=1.0), store=store)
    proto, transport = h.bind()
    h.request(proto, transport, submit(sequence_number=1))
    h.clock.advance(0.5)
    h.request(proto, transport, submit(sequence_number=2))
    h.clock.advance(0.5)
    h.clock.advance(0.5)  # both deliveries failed to be written, separately
    assert store.calls == 2
    h.clock.advance(1)  # one retry for both
    assert store.calls == 3
    h.clock.advance(0)
    assert len(transport.pdus()) == 2
    assert len(failures_logged(capture_log)) == 1


def test_a_store_that_stays_broken_keeps_the_final_states_and_stop_ends_the_retries(capture_log):
    store = FlakyStore(failures=10**6)
    h = Harness(ServerConfig(simulator_default_delay=1.0, grace_period=1.0), store=store)
    proto, transport = h.bind()
    (resp,) = h.request(proto, transport, submit())
    h.clock.advance(1)
    for _ in range(12):
        h.clock.advance(60)
    assert 8 <= store.calls <= 20  # back-off at most 60 s apart, not a storm
    assert [m.message_id for batch, _, _ in h.smsc._unwritten for m, _ in batch] == [resp.message_id]
    assert len(failures_logged(capture_log)) == 1
    stopped = h.smsc.stop()
    h.clock.advance(1)
    assert stopped.called
    assert [c for c in h.clock.getDelayedCalls() if c.active() and c.func == h.smsc._write_unwritten] == []
    assert h.smsc._expiry_call is None or not h.smsc._expiry_call.active()
