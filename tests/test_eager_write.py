"""smppd.protocol.eager_write: straight to the socket when nothing is queued,
through ``transport.write`` otherwise, never out of order."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport

from smppd.protocol import _eager_writer, eager_write


class FakeDescriptor:
    """The FileDescriptor attributes eager_write reads, and what it called."""

    def __init__(self, takes: Any = None) -> None:
        self.connected = True
        self.TLS = False
        self.disconnecting = False
        self._writeDisconnected = False
        self._tempDataLen = 0
        self.dataBuffer = b""
        self.offset = 0
        self.takes = takes  # octets writeSomeData accepts (None: all), or what it returns
        self.sent: list[bytes] = []
        self.queued: list[bytes] = []

    def writeSomeData(self, data: bytes) -> Any:
        if self.takes is None:
            self.sent.append(bytes(data))
            return len(data)
        if isinstance(self.takes, int):
            self.sent.append(bytes(data[: self.takes]))
            return self.takes
        return self.takes  # an exception instance, as tcp.Connection returns CONNECTION_LOST

    def write(self, data: bytes) -> None:
        self.queued.append(data)


def test_nothing_queued_goes_to_the_socket_at_once():
    t = FakeDescriptor()
    _eager_writer(t)(b"abc")
    assert (t.sent, t.queued) == ([b"abc"], [])


def test_what_the_socket_does_not_take_is_queued():
    t = FakeDescriptor(takes=2)
    _eager_writer(t)(b"abcdef")
    assert (t.sent, t.queued) == ([b"ab"], [b"cdef"])


def test_an_error_from_the_socket_queues_everything():
    t = FakeDescriptor(takes=ConnectionError("lost"))
    _eager_writer(t)(b"abc")
    assert t.queued == [b"abc"]


def test_anything_queued_or_a_closing_connection_goes_through_write():
    for attribute, value in [
        ("_tempDataLen", 3),
        ("dataBuffer", b"xyz"),
        ("disconnecting", True),
        ("_writeDisconnected", True),
        ("connected", False),
        ("TLS", True),  # startTLS on this connection since
    ]:
        t = FakeDescriptor()
        setattr(t, attribute, value)
        _eager_writer(t)(b"abc")
        assert (t.sent, t.queued) == ([], [b"abc"]), attribute


def test_anything_but_a_real_tcp_connection_is_left_alone():
    # The duck-typed fake has every attribute eager_write reads: not enough.
    assert eager_write(FakeDescriptor()) is None
    assert eager_write(StringTransport()) is None


class _Closing(Protocol):
    def __init__(self) -> None:
        self.lost: Deferred[None] = Deferred()

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.callback(None)


class _Collect(_Closing):
    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.chunks: list[bytes] = []
        self.received = 0
        self.done: Deferred[bytes] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.chunks.append(data)
        self.received += len(data)
        if self.received >= self.expected and not self.done.called:
            self.done.callback(b"".join(self.chunks))


@pytest_twisted.inlineCallbacks
def test_real_tcp_keeps_the_order_through_partial_sends_and_queueing():
    # A reader that stops reading, a small send buffer: the writer's socket fills,
    # later writes queue in Twisted, and everything must arrive once and in order.
    chunks = [bytes([i % 251]) * (1000 + 37 * i) for i in range(300)]
    stream = b"".join(chunks)
    readers: list[_Collect] = []

    def make_reader() -> _Collect:
        reader = _Collect(len(stream))
        readers.append(reader)
        return reader

    port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(Factory.forProtocol(make_reader))
    writer = _Closing()
    try:
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), writer)
        transport = writer.transport
        transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # type: ignore[union-attr]
        for _ in range(100):  # (the accept is a reactor turn or a few away)
            if readers:
                break
            yield _turn()
        readers[0].transport.pauseProducing()  # type: ignore[union-attr]
        write = eager_write(transport)
        assert write is not None
        for chunk in chunks:
            write(chunk)
        assert transport._tempDataLen > 0  # type: ignore[union-attr]  # the socket filled: the rest queued
        readers[0].transport.resumeProducing()  # type: ignore[union-attr]
        got = yield readers[0].done
        assert got == stream
    finally:
        closing = [p.lost for p in (writer, *readers) if p.transport is not None]
        for p in (writer, *readers):
            if p.transport is not None:
                p.transport.loseConnection()
        yield gatherResults(closing)
        yield port.stopListening()


def _turn() -> Deferred[None]:
    """One turn of the reactor."""
    d: Deferred[None] = Deferred()
    reactor.callLater(0, d.callback, None)  # type: ignore[attr-defined]
    return d


# -- every kind of transport, real ------------------------------------------------------


class _Echo(Protocol):
    """Keeps what eager_write said of its transport; echoes lines back with it."""

    def __init__(self) -> None:
        self.writer: Any = "unset"
        self.got = bytearray()
        self.made: Deferred[None] = Deferred()
        self.lost: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self.writer = eager_write(self.transport)
        self.made.callback(None)

    def dataReceived(self, data: bytes) -> None:
        self.got += data

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.callback(None)

    def send(self, data: bytes) -> None:
        (self.writer or self.transport.write)(data)  # type: ignore[union-attr]


def _wait(predicate: Any, what: str) -> Deferred[None]:
    from tests.e2e.support import within

    d: Deferred[None] = Deferred()

    def poll() -> None:
        if predicate():
            d.callback(None)
        else:
            reactor.callLater(0.01, poll)  # type: ignore[attr-defined]

    poll()
    return within(d, what=what)


@pytest_twisted.inlineCallbacks
def _pair(server_spec: str, client_spec: str) -> Any:
    from twisted.internet.endpoints import clientFromString, serverFromString

    servers: list[_Echo] = []

    def accept() -> _Echo:
        servers.append(_Echo())
        return servers[-1]

    port = yield serverFromString(reactor, server_spec).listen(Factory.forProtocol(accept))
    client = _Echo()
    yield connectProtocol(clientFromString(reactor, client_spec.format(port=getattr(port.getHost(), "port", ""))), client)
    yield _wait(lambda: servers, "accept")
    yield servers[0].made
    return port, servers[0], client


@pytest_twisted.inlineCallbacks
def _close(port: Any, *protos: _Echo) -> Any:
    for p in protos:
        if p.transport is not None:
            p.transport.loseConnection()
    yield gatherResults([p.lost for p in protos])
    yield port.stopListening()


@pytest_twisted.inlineCallbacks
def _roundtrip(server: _Echo, client: _Echo) -> Any:
    client.send(b"from the client")
    server.send(b"from the server")
    yield _wait(lambda: server.got == b"from the client" and client.got == b"from the server", "both ways")


@pytest_twisted.inlineCallbacks
def test_plain_tcp_both_sides_write_eagerly():
    port, server, client = yield _pair("tcp:0:interface=127.0.0.1", "tcp:host=127.0.0.1:port={port}")
    try:
        assert server.writer is not None and client.writer is not None
        yield _roundtrip(server, client)
    finally:
        yield _close(port, server, client)


@pytest_twisted.inlineCallbacks
def test_tls_transports_never_write_around_tls(tmp_path):
    # An ssl: listener and a tls: client: TLSMemoryBIOProtocol transports, which
    # forward every attribute eager_write used to look for to the TCP connection under
    # them (the old check said yes, and the server's answers went out in clear text).
    from twisted.internet.endpoints import quoteStringArgument as q

    from tests.e2e.tlsutil import make_pki

    pki = make_pki(tmp_path)
    port, server, client = yield _pair(
        f"ssl:0:interface=127.0.0.1:privateKey={q(pki.server_key)}:certKey={q(pki.server_cert)}",
        f"tls:host=127.0.0.1:port={{port}}:trustRoots={q(str(tmp_path))}",
    )
    try:
        assert server.writer is None and client.writer is None
        yield _roundtrip(server, client)
    finally:
        yield _close(port, server, client)


@pytest_twisted.inlineCallbacks
def test_start_tls_after_connecting_turns_the_eager_path_off(tmp_path):
    from twisted.internet import ssl

    from tests.e2e.tlsutil import make_pki

    pki = make_pki(tmp_path)
    port, server, client = yield _pair("tcp:0:interface=127.0.0.1", "tcp:host=127.0.0.1:port={port}")
    try:
        assert server.writer is not None and client.writer is not None  # decided at connect
        server_cert = ssl.PrivateCertificate.loadPEM(Path(pki.server_pem).read_bytes())
        ca = ssl.Certificate.loadPEM(Path(pki.ca_cert).read_bytes())
        server.transport.startTLS(server_cert.options())  # type: ignore[union-attr]
        client.transport.startTLS(ssl.optionsForClientTLS("localhost", trustRoot=ca))  # type: ignore[union-attr]
        yield _roundtrip(server, client)  # through the writers: encrypted, or the peer fails
    finally:
        yield _close(port, server, client)


@pytest_twisted.inlineCallbacks
def test_unix_sockets_and_wrappers_take_transport_write(tmp_path):
    from twisted.protocols.policies import WrappingFactory

    path = str(tmp_path / "s.sock")
    port, server, client = yield _pair(f"unix:{path}", f"unix:{path}")
    try:
        assert server.writer is None and client.writer is None  # unix.Server subclasses tcp.Server
        yield _roundtrip(server, client)
    finally:
        yield _close(port, server, client)
    accepted: list[_Echo] = []
    wrapped = WrappingFactory(Factory.forProtocol(lambda: accepted.append(_Echo()) or accepted[-1]))
    port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(wrapped)
    client = _Echo()
    yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), client)
    yield _wait(lambda: accepted, "accept")
    try:
        assert accepted[0].writer is None  # a ProtocolWrapper: forwards attributes too
        yield _roundtrip(accepted[0], client)
    finally:
        yield _close(port, accepted[0], client)
