"""Fakes for testing against smppd without a real reactor or network.

- :class:`TestReactor`: a ``task.Clock`` whose thread hops run inline, so
  code that hashes passwords or talks to a threaded store in a thread runs
  deterministically on fake time.
- :class:`ImmediateThreadPool`: runs "threaded" work at once.
- :class:`PduTransport`: an in-memory transport that decodes what is written.
- :func:`connect`: a protocol wired to a :class:`PduTransport`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from smppd.pdu import Pdu, PduDecodeError, PduReader, encode_pdu


class ImmediateThreadPool:
    """A thread pool that runs each job inline (for deferToThreadPool)."""

    def callInThreadWithCallback(
        self, onResult: Callable[[bool, Any], None], func: Callable[..., Any], *args: Any, **kw: Any
    ) -> None:
        try:
            result = func(*args, **kw)
        except BaseException:
            onResult(False, Failure())
        else:
            onResult(True, result)

    def callInThread(self, func: Callable[..., Any], *args: Any, **kw: Any) -> None:
        func(*args, **kw)


class TestReactor(Clock):
    """A fake clock whose ``callFromThread`` and thread pool run inline."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        super().__init__()
        self.pool = ImmediateThreadPool()

    def callFromThread(self, f: Callable[..., Any], *args: Any, **kw: Any) -> None:
        f(*args, **kw)

    def getThreadPool(self) -> ImmediateThreadPool:
        return self.pool


class PduTransport(StringTransport):
    """An in-memory transport; :meth:`pdus` decodes and clears what was written."""

    def __init__(self, host: str = "127.0.0.1", port: int = 40000) -> None:
        from twisted.internet.address import IPv4Address

        super().__init__(peerAddress=IPv4Address("TCP", host, port))
        self.writes = 0
        self._reader = PduReader()
        self._unread: list[Pdu] = []

    def write(self, data: bytes) -> None:
        self.writes += 1
        super().write(data)

    def pdus(self) -> list[Pdu]:
        out = self._reader.feed(self.value())
        self.clear()
        for item in out:
            if isinstance(item, PduDecodeError):
                raise item
        pending, self._unread = self._unread, []
        return pending + out  # type: ignore[operator]

    def unread(self, pdus: list[Pdu]) -> None:
        """Put PDUs back to be returned first by the next :meth:`pdus`."""
        self._unread = list(pdus) + self._unread


def connect(protocol: Any, host: str = "127.0.0.1") -> PduTransport:
    transport = PduTransport(host)
    protocol.makeConnection(transport)
    return transport


def send(protocol: Any, *pdus: Pdu) -> None:
    """Feed PDUs to a protocol as one read."""
    protocol.dataReceived(b"".join(encode_pdu(p) for p in pdus))
