"""The client's /metrics after real traffic."""

from __future__ import annotations

import pytest_twisted
import treq
from twisted.internet import reactor

from smppd.auth import UsersAuthenticator, demo_users
from smppd.client import ClientConfig, SmppClient
from smppd.client.settings import HttpSettings
from smppd.client.web import MessageApi
from smppd.protocol import SessionConfig
from smppd.server.config import ServerConfig
from smppd.server.factory import SmscFactory
from smppd.server.smsc import Smsc
from smppd.storage import MemoryStore


def value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


@pytest_twisted.inlineCallbacks
def test_client_metrics_move():
    smsc = Smsc(reactor, MemoryStore(), UsersAuthenticator(demo_users(), reactor=reactor), config=ServerConfig(simulator_default_delay=0.0))
    yield smsc.start()
    smpp_port = reactor.listenTCP(0, SmscFactory(smsc), interface="127.0.0.1")
    client = SmppClient(
        ClientConfig(
            endpoints=(f"tcp:127.0.0.1:{smpp_port.getHost().port}",),
            system_id="test",
            password="test",
            session=SessionConfig(enquire_link_interval=None),
        ),
        reactor,
    )
    api = MessageApi(client, HttpSettings(), reactor)
    http_port = reactor.listenTCP(0, api.site, interface="127.0.0.1")
    client.startService()
    try:
        yield client.when_bound()
        for _ in range(3):
            ids = yield client.send_message("Shop", "447700900123", "hi", receipt=True)
            yield client.outcome(ids)
        response = yield treq.get(f"http://127.0.0.1:{http_port.getHost().port}/metrics")
        text = yield treq.text_content(response)
        assert response.code == 200
        assert value(text, 'smppd_client_pdus_out_total{command="submit_sm",status="ESME_ROK"}') == 3
        assert value(text, 'smppd_client_pdus_in_total{command="submit_sm_resp",status="ESME_ROK"}') == 3
        assert value(text, "smppd_client_messages_sent_total") == 3
        assert value(text, "smppd_client_receipts_total") == 3
        assert value(text, "smppd_client_submit_latency_seconds_count") == 3
        assert value(text, "smppd_client_receipt_latency_seconds_count") == 3
        assert value(text, 'smppd_client_bound_sessions{bind_type="transceiver"}') == 1
    finally:
        yield client.stopService()
        yield smsc.stop()
        yield smpp_port.stopListening()
        yield http_port.stopListening()
