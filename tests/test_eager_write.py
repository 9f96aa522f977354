"""smppd.protocol.eager_write: straight to the socket when nothing is queued,
through ``transport.write`` otherwise, never out of order."""

from __future__ import annotations

import socket
from typing import Any

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport

from smppd.protocol import eager_write


class FakeDescriptor:
    """The FileDescriptor attributes eager_write reads, and what it called."""

    def __init__(self, takes: Any = None) -> None:
        self.connected = True
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
    write = eager_write(t)
    assert write is not None
    write(b"abc")
    assert (t.sent, t.queued) == ([b"abc"], [])


def test_what_the_socket_does_not_take_is_queued():
    t = FakeDescriptor(takes=2)
    eager_write(t)(b"abcdef")  # type: ignore[misc]
    assert (t.sent, t.queued) == ([b"ab"], [b"cdef"])


def test_an_error_from_the_socket_queues_everything():
    t = FakeDescriptor(takes=ConnectionError("lost"))
    eager_write(t)(b"abc")  # type: ignore[misc]
    assert t.queued == [b"abc"]


def test_anything_queued_or_a_closing_connection_goes_through_write():
    for attribute, value in [
        ("_tempDataLen", 3),
        ("dataBuffer", b"xyz"),
        ("disconnecting", True),
        ("_writeDisconnected", True),
        ("connected", False),
    ]:
        t = FakeDescriptor()
        setattr(t, attribute, value)
        eager_write(t)(b"abc")  # type: ignore[misc]
        assert (t.sent, t.queued) == ([], [b"abc"]), attribute


def test_tls_and_in_memory_transports_are_left_alone():
    tls = FakeDescriptor()
    tls.TLS = True  # type: ignore[attr-defined]
    assert eager_write(tls) is None
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
