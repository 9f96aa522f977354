"""TLS on the real stack: certificates made here, our client on a verifying
``tls:`` endpoint through a TLS terminator in front of a plain SMSC, and an
untrusted certificate refused.

Both directions used to be broken: the SMSC wrote its answers around the TLS
layer (clear text after the handshake) and our client never bound over TLS
(its write back-pressure paused the socket under the TLS layer mid-handshake).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import quoteStringArgument as q
from twisted.internet.endpoints import serverFromString
from twisted.protocols.portforward import ProxyFactory

from smppd.client.client import SmppClient
from smppd.client.config import ClientConfig, ReconnectPolicy
from smppd.protocol import SessionConfig
from tests.e2e.support import HOST, TIMEOUT, reactor, within
from tests.e2e.tlsutil import Pki, make_pki

SECRET_TEXT = "the one-time code is 918273"
SESSION = SessionConfig(enquire_link_interval=None, response_timeout=TIMEOUT, window=10, unbind_timeout=5.0)


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Pki, str]:
    """The certificates, and a directory that holds only the CA (for trustRoots=)."""
    made = make_pki(tmp_path)
    roots = tmp_path / "roots"
    roots.mkdir()
    shutil.copy(made.ca_cert, roots / "ca.pem")
    return made, str(roots)


def ssl_listen(cert: str, key: str) -> str:
    return f"ssl:0:interface={HOST}:privateKey={q(key)}:certKey={q(cert)}"


def tls_endpoint(port: int, roots: str) -> str:
    return f"tls:host={HOST}:port={port}:trustRoots={q(roots)}"


def client_for(spec: str, **kw: Any) -> SmppClient:
    kw.setdefault("reconnect", ReconnectPolicy(initial=0.05, maximum=0.1, jitter=0))
    config = ClientConfig(endpoints=(spec,), system_id="test", password="test", session=SESSION, bind_timeout=TIMEOUT, **kw)
    return SmppClient(config, reactor)


@inlineCallbacks
def send_and_get_receipt(client: SmppClient) -> Any:
    client.startService()
    try:
        yield within(client.when_bound(), what="bind over TLS")
        ids = yield within(client.send_message("Shop", "447700900123", SECRET_TEXT, receipt=True), what="submit")
        outcome = yield within(client.outcome(ids), what="receipt")
        return ids, outcome
    finally:
        yield client.stopService()


@pytest_twisted.inlineCallbacks
def test_our_client_through_a_tls_terminator_in_front_of_a_plain_smsc(live, pki):
    made, roots = pki
    server = yield live.start()  # plain TCP
    terminator = yield serverFromString(reactor, ssl_listen(made.server_cert, made.server_key)).listen(
        ProxyFactory(HOST, server.port)
    )
    try:
        _ids, outcome = yield send_and_get_receipt(client_for(tls_endpoint(terminator.getHost().port, roots)))
        assert outcome.stat == "DELIVRD"
    finally:
        yield terminator.stopListening()


@pytest_twisted.inlineCallbacks
def test_an_untrusted_certificate_is_refused_before_any_bind(live, pki):
    made, roots = pki
    server = yield live.start()
    port = yield serverFromString(reactor, ssl_listen(made.stranger_cert, made.stranger_pem)).listen(server.factory)
    client = client_for(tls_endpoint(port.getHost().port, roots), reconnect=ReconnectPolicy(initial=0.05, maximum=0.1, jitter=0, max_attempts=1))
    client.startService()
    try:
        with pytest.raises(Exception):  # noqa: B017 (ClientStopped once it gave up)
            yield within(client.when_bound(), what="giving up")
        assert "certificate verify failed" in str(client.last_bind_error)
        assert not [e for e in server.events.events if type(e).__name__ == "ConnectionBound"]
        assert server.smsc.sessions == set() or all(not s.session.is_bound for s in server.smsc.sessions)
    finally:
        yield client.stopService()
        yield port.stopListening()
    live.log[:] = [e for e in live.log if "certificate verify failed" not in str(e.get("log_failure", ""))]
