"""Outbox validity and long-address receipts over real loopback sockets (issue 11)."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall

from smppd.pdu import CommandId, CommandStatus, DataSm
from tests.e2e.support import TIMEOUT, Esme, reactor, server_config, submit_sm, within

S = CommandStatus
LONG = "S" * 40


class DataSmEsme(Esme):
    """An ESME that also takes data_sm (and answers it)."""

    def request_handlers(self) -> dict[int, Any]:
        return {**super().request_handlers(), CommandId.data_sm: self._on_data_sm}

    def _on_data_sm(self, pdu: DataSm) -> None:
        self.send_pdu(pdu.response())


def until(predicate: Any, what: str) -> Deferred[None]:
    """Fires once ``predicate()`` holds (checked every 50 ms, bounded by TIMEOUT)."""
    loop = LoopingCall(lambda: predicate() and loop.stop())
    loop.clock = reactor

    def gave_up(failure: Any) -> Any:
        if loop.running:
            loop.stop()
        return failure

    return within(loop.start(0.05), TIMEOUT, what).addErrback(gave_up)


@pytest_twisted.inlineCallbacks
def test_receipts_for_an_esme_that_never_binds_a_receiver_expire_and_it_may_submit_again(live):
    server = yield live.start(server_config(receipt_validity=1.0, outbox_high_water=1))
    esme = yield server.esme("tx")  # a transmitter only: its receipts have nowhere to go
    for _ in range(2):
        resp = yield esme.request(esme_submit())
        assert resp.command_status == S.ESME_ROK
    # Over the high-water mark once both receipts are in (the fake-clock test
    # in tests/server checks the ESME_RMSGQFUL); with no receiver bound they
    # can only leave the outbox by expiring.
    yield until(lambda: server.smsc.counters["delivered"] == 2, "both messages delivered")
    yield until(lambda: len(server.smsc.dispatchers["test"]) == 0, "the receipts to expire")
    assert "test" not in server.smsc.backlogged and server.smsc.counters["receipts_sent"] == 0
    again = yield esme.request(esme_submit(registered_delivery=0))
    assert again.command_status == S.ESME_ROK
    stats = yield server.smsc.store.stats()
    assert stats.outbox == 0


def esme_submit(**kw: Any) -> Any:
    kw.setdefault("registered_delivery", 1)
    return submit_sm(**kw)


@pytest_twisted.inlineCallbacks
def test_a_data_sm_from_a_40_character_address_gets_a_decodable_receipt(live):
    server = yield live.start()
    esme = DataSmEsme()
    yield server.connect(esme)
    yield esme.bind("trx")
    resp = yield esme.request(
        DataSm(source_addr=LONG, destination_addr="447700900123", dest_addr_ton=1, dest_addr_npi=1, registered_delivery=1, tlvs={"message_payload": b"hi"})
    )
    assert resp.command_status == S.ESME_ROK
    receipt = yield esme.wait_received(lambda p: isinstance(p, DataSm))  # our decoder read it
    assert receipt.destination_addr == LONG and receipt.esm_class == 0x04
    assert receipt.tlvs.value("receipted_message_id") == resp.message_id
    assert b"stat:DELIVRD" in receipt.message_payload
    assert not any(isinstance(p, Exception) for p in esme.received)
    yield until(lambda: len(server.smsc.dispatchers["test"]) == 0, "the data_sm_resp to settle the receipt")
