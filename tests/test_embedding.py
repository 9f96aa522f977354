"""The embedding example in docs/ runs: bind, submit, receipt, over loopback."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

from smppd.pdu import BindTransceiver, DeliverSm, SubmitSm
from smppd.protocol import SessionConfig, SmppProtocol
from smppd.session import BindType, Role
from smppd.storage import MemoryStore

spec = importlib.util.spec_from_file_location(
    "embed_server", Path(__file__).resolve().parents[1] / "docs" / "examples" / "embed_server.py"
)
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)


class Esme(SmppProtocol):
    role = Role.ESME

    def __init__(self):
        super().__init__(reactor, SessionConfig(enquire_link_interval=None))
        self.receipts = defer.DeferredQueue()

    def request_handlers(self):
        return {DeliverSm.command_id: self._deliver}

    def _deliver(self, pdu):
        self.receipts.put(pdu)
        return pdu.response()


@pytest_twisted.inlineCallbacks
def test_embedded_smsc_end_to_end():
    store = MemoryStore()
    smsc, factory = example.build_factory(reactor, store)
    yield smsc.start()
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        esme = Esme()
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), esme)
        bind = yield esme.send_request(BindTransceiver(system_id="shop", password="s3cret"))
        esme.mark_bound(BindType.TRANSCEIVER, "shop")
        assert bind.system_id == "embedded"
        ok = yield esme.send_request(SubmitSm(destination_addr="4477", short_message=b"hi", registered_delivery=1))
        rejected = yield esme.send_request(SubmitSm(destination_addr="0900123", short_message=b"hi", registered_delivery=1))
        states = {}
        for _ in range(2):
            receipt = yield esme.receipts.get()
            states[receipt.receipted_message_id] = receipt.message_state
        assert states == {ok.message_id: 2, rejected.message_id: 8}
        yield esme.unbind()
        yield esme.closed_d
    finally:
        yield smsc.stop()
        yield port.stopListening()
