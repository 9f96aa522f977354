"""The ESME client on fake time: fake SMSC endpoints joined by iosim pumps.

:class:`Network` stands in for the network. Each :class:`FakeEndpoint` is an
``IStreamClientEndpoint`` that either refuses the connection or builds a
server protocol (our real :class:`~smppd.server.protocol.SmscProtocol` or the
:class:`ScriptedSmsc` below) and joins it to the client's protocol with
``twisted.test.iosim``. :func:`patched_endpoints` makes the client's
:class:`~smppd.client.endpoints.FailoverEndpoint` resolve its endpoint strings
to these fakes, so the real failover code runs.

:class:`ScriptedSmsc` is a tiny SMSC whose answers a test decides: it binds
(or refuses to), records every request, answers through a policy function or
holds the request until the test releases it, and can send deliver_sm.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.test import iosim
from zope.interface import implementer

from smppd.client import endpoints as client_endpoints
from smppd.pdu import CommandId, CommandStatus, Pdu
from smppd.protocol import SessionConfig, SmppProtocol
from smppd.session import BIND_TYPE_BY_COMMAND, Role

C = CommandId
S = CommandStatus
QUIET = SessionConfig(enquire_link_interval=None, response_timeout=30.0, window=10, unbind_timeout=5.0)


class Network:
    """Fake endpoints on one fake clock; moves bytes between connected pairs."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.endpoints: dict[str, FakeEndpoint] = {}
        self.pumps: list[iosim.IOPump] = []

    def endpoint(self, spec: str, server: Callable[[], Any] | None = None) -> FakeEndpoint:
        """The fake behind the client endpoint string ``spec``; with no
        ``server`` factory it refuses every connection."""
        ep = self.endpoints[spec] = FakeEndpoint(self, spec, server)
        return ep

    def flush(self) -> None:
        """Move bytes (and run zero-delay calls) until nothing moves."""
        for _ in range(10_000):
            moved = False
            for pump in list(self.pumps):
                if pump.pump():
                    moved = True
                elif pump.clientIO.disconnected or pump.serverIO.disconnected:
                    self.pumps.remove(pump)
            if not moved:
                return
        raise AssertionError("the pumps never settled")

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of fake time pass, waking at every timer on the way
        and moving the bytes each timer produced."""
        end = self.clock.seconds() + seconds
        self.flush()
        for _ in range(100_000):
            due = [c.getTime() for c in self.clock.getDelayedCalls() if c.getTime() <= end]
            if not due:
                self.clock.advance(max(0.0, end - self.clock.seconds()))
                self.flush()
                return
            self.clock.advance(max(0.0, min(due) - self.clock.seconds()))
            self.flush()
        raise AssertionError("timers kept firing at the same instant (a busy loop?)")

    def run_until(self, predicate: Callable[[], bool], limit: float = 600.0) -> None:
        """Advance timer by timer until ``predicate()`` holds (at most ``limit`` s)."""
        end = self.clock.seconds() + limit
        self.flush()
        for _ in range(100_000):
            if predicate():
                return
            due = [c.getTime() for c in self.clock.getDelayedCalls()]
            if not due or min(due) > end:
                break
            self.clock.advance(max(0.0, min(due) - self.clock.seconds()))
            self.flush()
        assert predicate(), "condition never came true"


@implementer(IStreamClientEndpoint)
class FakeEndpoint:
    """Connects a client factory to a fresh server protocol (or refuses)."""

    _ports = itertools.count(30000)

    def __init__(self, net: Network, spec: str, server: Callable[[], Any] | None) -> None:
        self.net = net
        self.spec = spec
        self.server = server
        self.attempts: list[float] = []  # fake time of each connection attempt
        self.servers: list[Any] = []  # the server protocols built, in order
        self.port = next(self._ports)

    def connect(self, factory: Any) -> Deferred[Any]:
        self.attempts.append(self.net.clock.seconds())

        def cancel(d: Deferred[Any]) -> None:
            if call.active():
                call.cancel()

        d: Deferred[Any] = Deferred(cancel)
        call = self.net.clock.callLater(0, self._complete, factory, d)
        return d

    def _complete(self, factory: Any, d: Deferred[Any]) -> None:
        if self.server is None:
            d.errback(ConnectionRefusedError(self.spec))
            return
        client = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", self.port))
        server = self.server()
        self.servers.append(server)
        client_io = iosim.FakeTransport(
            client, isServer=False, peerAddress=IPv4Address("TCP", "127.0.0.1", self.port)
        )
        server_io = iosim.FakeTransport(
            server, isServer=True, peerAddress=IPv4Address("TCP", "127.0.0.1", 40000 + len(self.servers))
        )
        pump = iosim.connect(server, server_io, client, client_io, greet=False, clock=self.net.clock)
        self.net.pumps.append(pump)
        d.callback(client)

    def drop(self) -> None:
        """Close every connection made through this endpoint (server side)."""
        for server in self.servers:
            if server.transport is not None:
                server.transport.loseConnection()


@contextlib.contextmanager
def patched_endpoints(net: Network) -> Iterator[None]:
    """Make FailoverEndpoint resolve endpoint strings to ``net``'s fakes."""
    original = client_endpoints.clientFromString

    def resolve(_reactor: Any, spec: str) -> FakeEndpoint:
        return net.endpoints[spec]

    client_endpoints.clientFromString = resolve  # type: ignore[assignment]
    try:
        yield
    finally:
        client_endpoints.clientFromString = original


Answer = Callable[["ScriptedSmsc", Pdu], "Pdu | None"]


def ok(smsc: ScriptedSmsc, pdu: Pdu) -> Pdu:
    """Answer every request with ESME_ROK and a fresh message id."""
    return smsc.ok(pdu)


class ScriptedSmsc(SmppProtocol):
    """An SMSC that does what the test says.

    ``answer(smsc, request)`` returns the response to send at once, or None
    to hold the request in :attr:`held` until :meth:`release`.
    ``bind_status`` non-zero refuses every bind with it; ``hold_bind`` never
    answers a bind; ``answer_unbind`` False leaves unbind unanswered.
    """

    role = Role.SMSC

    def __init__(
        self,
        clock: Clock,
        answer: Answer | None = ok,
        *,
        bind_status: int = 0,
        hold_bind: bool = False,
        answer_unbind: bool = True,
        ids: Iterator[str] | None = None,
    ) -> None:
        self.answer = answer
        self.bind_status = bind_status
        self.hold_bind = hold_bind
        self.answer_unbind = answer_unbind
        super().__init__(clock, QUIET)
        self.received: list[Pdu] = []  # every PDU, as received
        self.requests: list[tuple[float, Pdu]] = []  # (fake time, request) of the message operations
        self.held: list[Pdu] = []
        self.ids = ids if ids is not None else (f"{n:x}" for n in itertools.count(0xA000))
        self.deliver_answers: list[Pdu] = []

    def request_handlers(self) -> dict[int, Any]:
        handlers: dict[int, Any] = {
            C.bind_transmitter: self._on_bind,
            C.bind_receiver: self._on_bind,
            C.bind_transceiver: self._on_bind,
        }
        for cid in (C.submit_sm, C.submit_multi, C.data_sm, C.query_sm, C.cancel_sm, C.replace_sm):
            handlers[cid] = self._on_request
        if not self.answer_unbind:
            handlers[C.unbind] = self._ignore
        return handlers

    def _dispatch(self, pdu: Pdu) -> None:
        self.received.append(pdu)
        super()._dispatch(pdu)

    def _on_bind(self, pdu: Any) -> Pdu | None:
        if self.hold_bind:
            return None
        if self.bind_status:
            return pdu.response(command_status=self.bind_status)
        self.mark_bound(BIND_TYPE_BY_COMMAND[pdu.command_id], pdu.system_id)
        return pdu.response(system_id="scripted")

    def _ignore(self, pdu: Pdu) -> None:
        self.session.unbound()
        return None

    def _on_request(self, pdu: Pdu) -> Pdu | None:
        self.requests.append((self.clock.seconds(), pdu))
        answer = self.answer(self, pdu) if self.answer is not None else None
        if answer is None:
            self.held.append(pdu)
        return answer

    # -- what tests call ---------------------------------------------------------------

    @property
    def submits(self) -> list[Any]:
        return [p for _, p in self.requests if p.command_id == C.submit_sm]

    def ok(self, pdu: Pdu, message_id: str | None = None) -> Pdu:
        if pdu.command_id in (C.cancel_sm, C.replace_sm):
            return pdu.response()
        return pdu.response(message_id=message_id if message_id is not None else next(self.ids))

    def release(self, n: int | None = None, status: int = 0, message_id: str | None = None) -> list[Pdu]:
        """Answer the ``n`` oldest held requests (all by default)."""
        count = len(self.held) if n is None else n
        done, self.held = self.held[:count], self.held[count:]
        for pdu in done:
            if status:
                self.send_pdu(pdu.response(command_status=status))
            else:
                self.send_pdu(self.ok(pdu, message_id))
        return done

    def deliver(self, pdu: Pdu) -> Deferred[Pdu]:
        """Send a deliver_sm (or data_sm); the response lands in :attr:`deliver_answers`."""
        d = self.send_request(pdu)

        def keep(result: Pdu | Failure) -> None:
            if isinstance(result, Failure):
                response = getattr(result.value, "response", None)
                if response is None:
                    return None
                result = response
            self.deliver_answers.append(result)
            return None

        d.addBoth(keep)
        return d


class LogCatcher:
    """Keeps every log event with a failure; "Unhandled error in Deferred"
    among them fails the test (see conftest)."""

    def __init__(self) -> None:
        self.failures: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("log_failure") is not None or event.get("isError"):
            self.failures.append(event)

    def start(self) -> None:
        globalLogPublisher.addObserver(self)

    def stop(self) -> None:
        globalLogPublisher.removeObserver(self)

    def unhandled(self) -> list[dict[str, Any]]:
        return [e for e in self.failures if "Unhandled error in Deferred" in str(e.get("log_format", ""))]

    def failure_types(self) -> list[type[BaseException]]:
        return [e["log_failure"].type for e in self.failures if e.get("log_failure") is not None]


def consume(d: Deferred[Any]) -> list[Any]:
    """Collect ``d``'s outcome (a result or a Failure) without leaving it unhandled."""
    box: list[Any] = []

    def keep(result: Any) -> None:
        box.append(result)

    d.addBoth(keep)
    return box


def failure_of(box: list[Any]) -> Failure:
    assert box, "the Deferred has not fired"
    assert isinstance(box[0], Failure), f"expected a failure, got {box[0]!r}"
    return box[0]


def result_of(box: list[Any]) -> Any:
    assert box, "the Deferred has not fired"
    if isinstance(box[0], Failure):
        box[0].raiseException()
    return box[0]


__all__ = [
    "QUIET",
    "FakeEndpoint",
    "LogCatcher",
    "Network",
    "ScriptedSmsc",
    "consume",
    "failure_of",
    "ok",
    "patched_endpoints",
    "result_of",
]
