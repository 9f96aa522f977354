"""Retention seen from an ESME: query_sm for a message past it answers ESME_RQUERYFAIL."""

from __future__ import annotations

from twisted.internet import task

from smppd.pdu import QuerySm, QuerySmResp, SubmitSm
from smppd.pdu.constants import CommandStatus as S
from smppd.pdu.constants import MessageState
from smppd.server.config import ServerConfig
from smppd.server.delivery import SimulatorRule
from smppd.server.web import smsc_metrics
from smppd.storage import MemoryStore
from tests.server.harness import Harness

HOUR = 3600.0


def pruned_metric(h: Harness) -> float | None:
    for family in smsc_metrics(h.smsc)():
        if family.name == "smppd_store_pruned":
            return float(family.samples[0].value)
    return None


def test_query_sm_after_retention_answers_query_fail() -> None:
    config = ServerConfig(
        simulator_default_delay=1.0,
        simulator_rules=(SimulatorRule("4479", MessageState.DELIVERED, 10 * HOUR),),  # still going
    )
    store_clock = task.Clock()  # the store's clock, kept in step with the harness's
    store = MemoryStore(retention=HOUR, clock=store_clock)
    h = Harness(config, store=store)
    store_clock.advance(h.clock.seconds())
    store.open()  # as SmscService does: the pruning rounds start

    def advance(seconds: float) -> None:
        h.clock.advance(seconds)
        store_clock.advance(seconds)

    proto, transport = h.bind()
    done, going = h.request(
        proto,
        transport,
        SubmitSm(sequence_number=2, destination_addr="447700900001", short_message=b"hi", registered_delivery=1),
        SubmitSm(sequence_number=3, destination_addr="447900000001", short_message=b"hi"),
    )
    advance(2)
    (receipt,) = h.ack_all(proto, transport)
    assert receipt.message_state == MessageState.DELIVERED

    def query(seq: int, message_id: str) -> QuerySmResp:
        (answer,) = h.request(proto, transport, QuerySm(sequence_number=seq, message_id=message_id))
        assert isinstance(answer, QuerySmResp)
        return answer

    assert query(10, done.message_id).message_state == MessageState.DELIVERED
    advance(HOUR - 60)
    assert query(11, done.message_id).message_state == MessageState.DELIVERED  # within retention
    assert pruned_metric(h) == 0
    advance(120)  # past it, and a pruning round has run
    assert query(12, done.message_id).command_status == S.ESME_RQUERYFAIL
    assert query(13, going.message_id).message_state == MessageState.ENROUTE  # unfinished: kept
    assert pruned_metric(h) == 1
    assert store.stats().result.messages == 1
    store.close()
    assert store_clock.getDelayedCalls() == []
