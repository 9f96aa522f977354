"""The webhook forwarder: retries with back-off, a bounded queue, the two MO
acknowledgement modes, and the whole path (SMSC -> client -> webhook)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred

from smppd.client.client import IncomingMessage
from smppd.client.settings import WebhookSettings, parse_client_config
from smppd.client.webhook import WebhookForwarder
from smppd.events import DeliveryReport, SmsSubmitted
from smppd.pdu import CommandStatus, DeliverSm
from smppd.tap.client import ClientProcess

from .support import MO_PREFIX, Receiver, start_smsc, wait_until

S = CommandStatus


def report(message_id: str = "abc", state: str = "DELIVRD") -> DeliveryReport:
    return DeliveryReport(at=1.0, message_id=message_id, system_id="test", state=state, error_code=0)


def mo(text: str = "hello") -> IncomingMessage:
    pdu = DeliverSm(source_addr="447700900123", destination_addr="Shop", short_message=text.encode())
    return IncomingMessage("447700900123", "Shop", text.encode(), 0, 1, text, pdu)


async def forwarder_for(receiver: Receiver, **settings: Any) -> tuple[WebhookForwarder, Any]:
    port = receiver.listen(reactor)
    base = WebhookSettings(
        url=f"http://127.0.0.1:{port.getHost().port}/hook", timeout=2.0, backoff_initial=0.05, backoff_maximum=0.2
    )
    forwarder = WebhookForwarder(attrs.evolve(base, **settings), reactor)
    forwarder.startService()
    return forwarder, port


async def shutdown(forwarder: WebhookForwarder, port: Any, receiver: Receiver | None = None) -> None:
    await forwarder.stopService()
    if receiver is not None:
        for request in receiver.hanging:
            if not request.finished and not request._disconnected:
                request.finish()
    await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_failure_then_success_is_retried_with_the_same_id():
    receiver = Receiver([500, 503, 200])
    forwarder, port = await forwarder_for(receiver, retries=3)
    try:
        forwarder.observe(SmsSubmitted(at=0, message_id="x", system_id="t", source_addr="", destination_addr=""))
        forwarder.observe(report("m1"))
        started = reactor.seconds()
        await wait_until(reactor, lambda: forwarder.counters["delivered"] == 1, what="delivery")
        # Back-off: 0.05 s, then 0.1 s.
        assert reactor.seconds() - started >= 0.15
        assert len(receiver.bodies) == 3  # only the delivery report: other events are not forwarded
        first = receiver.bodies[0]
        assert first["type"] == "delivery_report" and first["message_id"] == "m1" and first["state"] == "DELIVRD"
        assert all(b == first for b in receiver.bodies)
        assert {h["idempotency-key"] for h in receiver.headers} == {first["id"]}
        assert receiver.headers[0]["content-type"] == "application/json; charset=UTF-8"
        assert forwarder.counters == {
            "queued": 1, "delivered": 1, "failed": 0, "dropped": 0, "retried": 2, "abandoned": 0,
        }
        assert forwarder.held == 0
    finally:
        await shutdown(forwarder, port)


@pytest_twisted.ensureDeferred
async def test_retries_end_and_client_errors_are_not_retried():
    receiver = Receiver([500])
    forwarder, port = await forwarder_for(receiver, retries=2)
    try:
        forwarder.observe(report("m1"))
        await wait_until(reactor, lambda: forwarder.counters["failed"] == 1, what="giving up")
        assert len(receiver.bodies) == 3 and forwarder.counters["retried"] == 2
        receiver.codes = [400]
        forwarder.observe(report("m2"))
        await wait_until(reactor, lambda: forwarder.counters["failed"] == 2, what="giving up")
        assert len(receiver.bodies) == 4  # one attempt only
    finally:
        await shutdown(forwarder, port)


@pytest_twisted.ensureDeferred
async def test_timeouts_and_refused_connections_are_retried():
    receiver = Receiver([0, 200])  # the first request never gets an answer
    forwarder, port = await forwarder_for(receiver, retries=1, timeout=0.3)
    try:
        forwarder.observe(report("slow"))
        await wait_until(reactor, lambda: forwarder.counters["delivered"] == 1, what="delivery")
        assert forwarder.counters["retried"] == 1 and len(receiver.bodies) == 2
    finally:
        await shutdown(forwarder, port, receiver)
    # Nobody listens any more: connection refused, retried, then given up.
    forwarder = WebhookForwarder(attrs.evolve(forwarder.settings, retries=2), reactor)
    forwarder.startService()
    try:
        forwarder.observe(report("nobody"))
        await wait_until(reactor, lambda: forwarder.counters["failed"] == 1, what="giving up")
        assert forwarder.counters["retried"] == 2
    finally:
        await forwarder.stopService()


@pytest_twisted.ensureDeferred
async def test_queue_overflow_is_counted_and_mo_is_refused_not_dropped():
    receiver = Receiver([0])  # hangs: nothing is ever accepted
    forwarder, port = await forwarder_for(receiver, queue_size=3, concurrency=1)
    try:
        for i in range(5):
            forwarder.observe(report(f"m{i}"))
        assert forwarder.counters["queued"] == 3 and forwarder.counters["dropped"] == 2
        assert forwarder.held == 3
        # A full queue answers an MO with a temporary error: the SMSC keeps it.
        assert forwarder.on_message(mo()) == S.ESME_RX_T_APPN
        assert forwarder.counters["dropped"] == 3
        await wait_until(reactor, lambda: len(receiver.hanging) == 1, what="one request in flight")
    finally:
        await shutdown(forwarder, port, receiver)
    assert forwarder.counters["abandoned"] == 3 and forwarder.held == 0


@pytest_twisted.ensureDeferred
async def test_mo_ack_queued_answers_at_once():
    receiver = Receiver([200])
    forwarder, port = await forwarder_for(receiver)
    try:
        assert forwarder.on_message(mo("hi there")) == S.ESME_ROK
        await wait_until(reactor, lambda: receiver.bodies, what="the webhook call")
        body = receiver.bodies[0]
        assert body["type"] == "message" and body["text"] == "hi there"
        assert (body["from"], body["to"], body["data_hex"], body["parts"]) == ("447700900123", "Shop", b"hi there".hex(), 1)
    finally:
        await shutdown(forwarder, port)


@pytest_twisted.ensureDeferred
async def test_mo_ack_delivered_waits_for_the_webhook():
    receiver = Receiver([500, 200])
    forwarder, port = await forwarder_for(receiver, mo_ack="delivered", retries=5)
    try:
        first = forwarder.on_message(mo())
        assert isinstance(first, Deferred)
        assert await first == S.ESME_RX_T_APPN  # one attempt: the SMSC is the one to retry
        assert await forwarder.on_message(mo()) == S.ESME_ROK
        assert forwarder.counters["retried"] == 0 and len(receiver.bodies) == 2
    finally:
        await shutdown(forwarder, port)


@pytest_twisted.ensureDeferred
async def test_stopping_answers_waiting_mo_with_a_temporary_error():
    receiver = Receiver([0])
    forwarder, port = await forwarder_for(receiver, mo_ack="delivered")
    try:
        pending = forwarder.on_message(mo())
        await wait_until(reactor, lambda: receiver.hanging, what="the request")
    finally:
        await shutdown(forwarder, port, receiver)
    assert await pending == S.ESME_RX_T_APPN
    assert forwarder.on_message(mo()) == S.ESME_RX_T_APPN  # stopped: nothing is accepted


@pytest_twisted.ensureDeferred
async def test_mo_and_receipts_reach_the_webhook_end_to_end():
    """SMSC -> client process -> webhook: an MO (routed back to us by the
    SMSC) and a delivery report; in "delivered" mode a failing webhook makes
    the SMSC deliver the MO again."""
    smsc = await start_smsc(reactor)

    def fail_the_first_mo(body: dict[str, Any]) -> int:
        return 500 if body["type"] == "message" and len(receiver.of_type("message")) == 1 else 200

    receiver = Receiver(decide=fail_the_first_mo)
    hook = receiver.listen(reactor)
    settings = parse_client_config(
        {
            "port": smsc.number,
            "system_id": "test",
            "password": "test",
            "http": {"listen": None},
            "webhook": {
                "url": f"http://127.0.0.1:{hook.getHost().port}/sms",
                "mo_ack": "delivered",
                "backoff_initial": 0.05,
            },
        }
    )
    process = ClientProcess(settings, reactor)
    await process.startService()
    try:
        client = process.client
        await client.when_bound()
        await client.send_message("447700900123", MO_PREFIX + "42", "hello back")
        ids = await client.send_message("Shop", "447700900123", "with receipt", receipt=True)

        def seen() -> bool:
            kinds = [b["type"] for b in receiver.bodies]
            return kinds.count("message") == 2 and "delivery_report" in kinds

        await wait_until(reactor, seen, what="an MO twice and a receipt")
        messages = receiver.of_type("message")
        assert [m["text"] for m in messages] == ["hello back", "hello back"]
        assert messages[0]["id"] != messages[1]["id"]  # two deliveries by the SMSC, not one retry
        assert (messages[0]["from"], messages[0]["to"]) == ("447700900123", MO_PREFIX + "42")
        (dlr,) = receiver.of_type("delivery_report")
        assert (dlr["message_id"], dlr["state"], dlr["system_id"]) == (ids[0], "DELIVRD", "test")
        assert client.counters["mo"] == 2
        assert process.webhook is not None and process.webhook.counters["failed"] == 1
    finally:
        await process.stopService()
        await smsc.stop()
        await hook.stopListening()


@pytest_twisted.ensureDeferred
async def test_receipt_ack_delivered_redelivers_a_receipt_the_webhook_refused():
    """receipt_ack "delivered": the receipt's deliver_sm_resp waits for the
    webhook; its first POST fails (500, one attempt), so the client answers
    ESME_RX_T_APPN, our SMSC keeps the receipt and sends it again, and the
    second delivery reaches the webhook. (With the default "queued" the
    receipt is acknowledged before any POST: see the module doc.)"""
    smsc = await start_smsc(reactor)

    def fail_the_first_report(body: dict[str, Any]) -> int:
        return 500 if body["type"] == "delivery_report" and len(receiver.of_type("delivery_report")) == 1 else 200

    receiver = Receiver(decide=fail_the_first_report)
    hook = receiver.listen(reactor)
    settings = parse_client_config(
        {
            "port": smsc.number,
            "system_id": "test",
            "password": "test",
            "http": {"listen": None},
            "webhook": {
                "url": f"http://127.0.0.1:{hook.getHost().port}/sms",
                "receipt_ack": "delivered",
                "retries": 5,  # (not used for a receipt waited for: one attempt)
                "backoff_initial": 0.05,
            },
        }
    )
    process = ClientProcess(settings, reactor)
    await process.startService()
    try:
        client = process.client
        await client.when_bound()
        ids = await client.send_message("Shop", "447700900123", "with receipt", receipt=True)
        await wait_until(reactor, lambda: len(receiver.of_type("delivery_report")) == 2, what="a receipt twice")
        first, second = receiver.of_type("delivery_report")
        assert first["message_id"] == second["message_id"] == ids[0]
        assert first["id"] != second["id"]  # two deliveries by the SMSC, not a webhook retry
        assert second["state"] == "DELIVRD"
        assert client.counters["receipts"] == 2
        assert process.webhook is not None and process.webhook.counters["failed"] == 1
        store = smsc.smsc.store  # the second answer (ESME_ROK) removed it from the SMSC's outbox
        await wait_until(reactor, lambda: store.outbox_pending().addCallback(lambda items: not items), what="an empty outbox")
    finally:
        await process.stopService()
        await smsc.stop()
        await hook.stopListening()


def test_receipt_ack_is_validated():
    from smppd.config import ConfigError

    assert parse_client_config({"system_id": "t"}).webhook.receipt_ack == "queued"
    assert parse_client_config({"system_id": "t", "webhook": {"receipt_ack": "delivered"}}).webhook.receipt_ack == "delivered"
    with pytest.raises(ConfigError, match=r"c\.json.*webhook\.receipt_ack"):
        parse_client_config({"system_id": "t", "webhook": {"receipt_ack": "never"}}, "c.json")
