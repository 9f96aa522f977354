"""Server events POSTed to a webhook: a local twisted.web receiver, a failure then a retry."""

from __future__ import annotations

import json

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, task
from twisted.web import resource, server

from smppd.config import ConfigError, WebhookTarget, parse_server_config
from smppd.events import EventBus, SmsDelivered, SmsSubmitted
from smppd.webhooks import EventWebhook


class Receiver(resource.Resource):
    isLeaf = True

    def __init__(self, fail_first: int) -> None:
        super().__init__()
        self.fail_first = fail_first
        self.seen: list[dict] = []
        self.arrived: defer.DeferredQueue = defer.DeferredQueue()

    def render_POST(self, request):
        if self.fail_first:
            self.fail_first -= 1
            request.setResponseCode(503)
            return b"busy"
        doc = json.loads(request.content.read())
        doc["_key"] = request.getHeader(b"idempotency-key").decode()
        self.seen.append(doc)
        self.arrived.put(doc)
        return b"ok"


@pytest_twisted.inlineCallbacks
def test_events_reach_the_webhook_after_a_retry():
    receiver = Receiver(fail_first=1)
    port = reactor.listenTCP(0, server.Site(receiver), interface="127.0.0.1")
    target = WebhookTarget(
        f"http://127.0.0.1:{port.getHost().port}/hook",
        events=frozenset({"sms.delivered"}),
        backoff_initial=0.05,
    )
    hook = EventWebhook(target, reactor, events=target.events)
    hook.startService()
    bus = EventBus(reactor, [hook])
    try:
        bus.publish(SmsSubmitted(at=1.0, message_id="a", system_id="s", source_addr="x", destination_addr="y"))
        bus.publish(SmsDelivered(at=2.0, message_id="a", system_id="s", destination_addr="y"))
        doc = yield receiver.arrived.get()
        assert doc["type"] == "sms.delivered" and doc["message_id"] == "a" and doc["at"] == 2.0
        assert doc["_key"] == doc["id"]
        assert [d["type"] for d in receiver.seen] == ["sms.delivered"]  # sms.submitted filtered out
        for _ in range(500):  # the receiver answered; wait for the poster to see the answer
            if hook.counters["delivered"]:
                break
            yield task.deferLater(reactor, 0.01, lambda: None)
        assert hook.counters["retried"] == 1 and hook.counters["delivered"] == 1
    finally:
        yield hook.stopService()
        bus.stop()
        yield port.stopListening()


def test_webhooks_config():
    settings = parse_server_config({"webhooks": [{"url": "http://127.0.0.1:8080/x", "events": ["sms.failed"], "retries": 2}]})
    (target,) = settings.webhooks
    assert target.events == frozenset({"sms.failed"}) and target.retries == 2
    with pytest.raises(ConfigError, match=r"webhooks\[0\]\.url"):
        parse_server_config({"webhooks": [{"url": "ftp://x"}]})
    with pytest.raises(ConfigError, match=r"webhooks\[0\]\.events: unknown event 'sms.lost'"):
        parse_server_config({"webhooks": [{"url": "http://x/", "events": ["sms.lost"]}]})
