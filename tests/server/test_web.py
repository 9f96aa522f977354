"""/metrics after real traffic, /healthz, and /readyz flipping when the store fails."""

from __future__ import annotations

import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

from smppd.auth import UsersAuthenticator, demo_users
from smppd.client.protocol import EsmeProtocol
from smppd.pdu import DeliverSm, SubmitSm
from smppd.protocol import SessionConfig
from smppd.server.config import ServerConfig
from smppd.server.factory import SmscFactory
from smppd.server.smsc import Smsc
from smppd.server.web import build_site
from smppd.session import BindType
from smppd.storage import MemoryStore


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{") and line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest_twisted.inlineCallbacks
def test_metrics_move_and_readiness_follows_the_store():
    store = MemoryStore()
    smsc = Smsc(
        reactor,
        store,
        UsersAuthenticator(demo_users(), reactor=reactor),
        config=ServerConfig(simulator_default_delay=0.0),
    )
    yield smsc.start()
    smpp_port = reactor.listenTCP(0, SmscFactory(smsc), interface="127.0.0.1")
    listening = [True]
    site, _registry = build_site(smsc, lambda: listening[0])
    http_port = reactor.listenTCP(0, site, interface="127.0.0.1")
    base = f"http://127.0.0.1:{http_port.getHost().port}"
    receipts = []
    esme = EsmeProtocol(reactor, SessionConfig(enquire_link_interval=None), on_deliver=lambda p, pdu: receipts.append(pdu) or 0)
    try:
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", smpp_port.getHost().port), esme)
        yield esme.bind(BindType.TRANSCEIVER, "test", "test")
        for _ in range(3):
            yield esme.send_request(SubmitSm(destination_addr="4477", short_message=b"x", registered_delivery=1))
        while len(receipts) < 3:
            yield treq.get(f"{base}/healthz").addCallback(treq.content)  # let the reactor turn
        response = yield treq.get(f"{base}/metrics")
        text = yield treq.text_content(response)
        assert response.code == 200
        assert metric(text, 'smppd_pdus_in_total{command="submit_sm",status="ESME_ROK"}') == 3
        assert metric(text, 'smppd_pdus_out_total{command="submit_sm_resp",status="ESME_ROK"}') == 3
        assert metric(text, 'smppd_submits_total{system_id="test"}') == 3
        assert metric(text, 'smppd_bound_sessions{bind_type="transceiver"}') == 1
        assert metric(text, "smppd_submit_latency_seconds_count") == 3
        assert metric(text, 'smppd_pdus_out_total{command="deliver_sm",status="ESME_ROK"}') == 3
        assert all(isinstance(r, DeliverSm) for r in receipts)

        health = yield treq.get(f"{base}/healthz")
        assert health.code == 200
        ready = yield treq.get(f"{base}/readyz")
        assert ready.code == 200
        listening[0] = False
        ready = yield treq.get(f"{base}/readyz")
        assert ready.code == 503
        listening[0] = True
        yield store.close()  # a store that cannot write
        ready = yield treq.get(f"{base}/readyz")
        body = yield treq.text_content(ready)
        assert ready.code == 503 and "store" in body
        yield esme.unbind()
    finally:
        yield smsc.stop()
        yield smpp_port.stopListening()
        yield http_port.stopListening()
