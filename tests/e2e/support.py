"""The real SMSC on the real reactor over loopback, and a small ESME to drive it.

Shared by ``tests/e2e`` and ``tests/interop``. :class:`LiveServers` starts
servers (``Smsc`` + ``SmscFactory`` listening on 127.0.0.1, port 0) and, at
teardown, stops them and checks what they leave behind: no DelayedCall the
test created still pending, no connection still open, no Deferred failing
unhandled, no ``log.failure``.

:class:`Esme` is an ESME written directly against
:class:`smppd.protocol.SmppProtocol` (role ESME): bind, submit, answer
deliver_sm and keep what arrived, every PDU received kept in order.
"""

from __future__ import annotations

import gc
import struct
from collections.abc import Callable
from typing import Any, cast

import attrs
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, DeferredList, fail, inlineCallbacks, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import deferLater
from twisted.logger import ILogObserver, formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from zope.interface import implementer

from smppd.auth import UsersAuthenticator
from smppd.auth.users import demo_users
from smppd.events import Event, EventBus
from smppd.interfaces import IEventObserver
from smppd.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CommandId,
    DeliverSm,
    MessageState,
    Pdu,
    PduReader,
    SubmitSm,
)
from smppd.protocol import SessionConfig, SmppProtocol
from smppd.server.config import ServerConfig
from smppd.server.delivery import SimulatorRule
from smppd.server.factory import SmscFactory
from smppd.server.protocol import SmscProtocol
from smppd.server.smsc import Smsc
from smppd.session import BIND_TYPE_BY_COMMAND, Role
from smppd.storage.memory import MemoryStore

reactor: Any = _reactor
HOST = "127.0.0.1"
TIMEOUT = 10.0  # seconds: generous bound for anything a test waits on over loopback
DEMO = {"test": "test", "client1": "password1", "esme": "esme123"}  # smppd.auth.users.demo_users
BIND_CLASSES = {"trx": BindTransceiver, "tx": BindTransmitter, "rx": BindReceiver}
ESME_SESSION = SessionConfig(
    enquire_link_interval=None, response_timeout=TIMEOUT, window=50, unbind_timeout=5.0
)


HOLD_PREFIX = "4479000"  # with HOLD_RULE: destinations starting with this stay ENROUTE an hour
HOLD_RULE = SimulatorRule(HOLD_PREFIX, MessageState.DELIVERED, 3600.0)


def server_config(**kw: Any) -> ServerConfig:
    """The test servers' settings: receipts after 0.2 s, quick stop."""
    kw.setdefault("simulator_default_delay", 0.2)
    kw.setdefault("grace_period", 5.0)
    return ServerConfig(**kw)


def within(d: Deferred[Any], timeout: float = TIMEOUT, what: str = "") -> Deferred[Any]:
    """A Deferred with ``d``'s result, failing with TimeoutError after
    ``timeout`` seconds. ``d`` keeps a success for its other callbacks; a
    failure is handed over (or dropped once the wait timed out)."""
    out: Deferred[Any] = Deferred()

    def relay(result: Any) -> Any:
        if isinstance(result, Failure):
            if not out.called:
                out.errback(result)
            return None
        if not out.called:
            out.callback(result)
        return result

    def timed_out(_result: Any, seconds: float) -> None:
        raise TimeoutError(f"{what or 'waiting'}: nothing after {seconds}s")

    out.addTimeout(timeout, reactor, onTimeoutCancel=timed_out)
    d.addBoth(relay)
    return out


def turn() -> Deferred[None]:
    """Let the reactor run once (zero-delay calls, pending I/O)."""
    return deferLater(reactor, 0, lambda: None)


# -- events ----------------------------------------------------------------------------


@implementer(IEventObserver)
class EventWaiter:
    """Keeps the server's events; tests wait for one that matches."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._waiters: list[tuple[Callable[[Event], bool], Deferred[Event]]] = []

    def observe(self, event: Event) -> None:
        self.events.append(event)
        keep = []
        for predicate, d in self._waiters:
            if not d.called and predicate(event):
                d.callback(event)
            elif not d.called:
                keep.append((predicate, d))
        self._waiters = keep

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = TIMEOUT) -> Deferred[Event]:
        for event in self.events:
            if predicate(event):
                return succeed(event)
        d: Deferred[Event] = Deferred()
        self._waiters.append((predicate, d))
        return within(d, timeout, "server event")


# -- the ESME --------------------------------------------------------------------------


class Esme(SmppProtocol):
    """A minimal ESME: binds, sends requests, answers deliver_sm with
    ESME_ROK and keeps every PDU it received (in :attr:`received`)."""

    role = Role.ESME

    def __init__(self, config: SessionConfig | None = None) -> None:
        super().__init__(reactor, config or ESME_SESSION)
        self.received: list[Pdu | Exception] = []
        self.sent: list[Pdu | Exception] = []
        self.deliveries: list[DeliverSm] = []
        self._tap = PduReader()
        self._sent_tap = PduReader()
        self._delivery_waiters: list[tuple[int, Deferred[list[DeliverSm]]]] = []
        self._received_waiters: list[tuple[Callable[[Any], bool], Deferred[Any]]] = []
        self.lost: Failure | None = None

    def request_handlers(self) -> dict[int, Any]:
        return {CommandId.deliver_sm: self._on_deliver_sm}

    def dataReceived(self, data: bytes) -> None:
        items = self._tap.feed(data) if not self._tap.broken else []
        self.received.extend(items)
        super().dataReceived(data)
        if items:
            self._wake_received(items)  # after the answers went out

    def _wake_received(self, items: list[Any]) -> None:
        keep = []
        for predicate, d in self._received_waiters:
            match = next((i for i in items if predicate(i)), None)
            if match is not None:
                d.callback(match)
            else:
                keep.append((predicate, d))
        self._received_waiters = keep

    def write(self, data: bytes) -> None:
        if not self._sent_tap.broken:
            self.sent.extend(self._sent_tap.feed(data))
        super().write(data)

    def on_closed(self, reason: Failure) -> None:
        self.lost = reason
        self._wake_received(self.received)
        waiters = self._delivery_waiters + self._received_waiters
        self._delivery_waiters, self._received_waiters = [], []
        for _n, d in waiters:
            d.errback(ConnectionError(f"closed ({reason.value}) after receiving {self.received}"))

    def _on_deliver_sm(self, pdu: DeliverSm) -> None:
        self.deliveries.append(pdu)
        self.send_pdu(pdu.response())  # answered before anyone waiting hears of it
        keep = []
        for n, d in self._delivery_waiters:
            if len(self.deliveries) >= n:
                d.callback(list(self.deliveries))
            else:
                keep.append((n, d))
        self._delivery_waiters = keep

    # -- what tests call ---------------------------------------------------------------

    @property
    def socket(self) -> Any:
        assert self.transport is not None
        return self.transport.getHandle()  # type: ignore[attr-defined]

    def bind(self, kind: str = "trx", system_id: str = "test", password: str | None = None) -> Deferred[Pdu]:
        """Bind; fires with the bind_*_resp, fails with SmppError when refused."""
        cls = BIND_CLASSES[kind]
        pw = DEMO.get(system_id, "") if password is None else password
        d = self.send_request(cls(system_id=system_id, password=pw, interface_version=0x34))

        def bound(resp: Pdu) -> Pdu:
            self.mark_bound(BIND_TYPE_BY_COMMAND[resp.command_id], system_id)
            return resp

        return within(d.addCallback(bound), what=f"bind_{kind}")

    def submit(self, **kw: Any) -> Deferred[Pdu]:
        return self.send_request(submit_sm(**kw))

    def request(self, pdu: Pdu) -> Deferred[Pdu]:
        return within(self.send_request(pdu), what=type(pdu).__name__)

    def wait_deliveries(self, n: int, timeout: float = TIMEOUT) -> Deferred[list[DeliverSm]]:
        """Fires once ``n`` deliver_sm in all have arrived."""
        if len(self.deliveries) >= n:
            return succeed(list(self.deliveries))
        if self.lost is not None:
            return fail(ConnectionError(f"closed after {len(self.deliveries)} deliver_sm"))
        d: Deferred[list[DeliverSm]] = Deferred()
        self._delivery_waiters.append((n, d))
        return within(d, timeout, f"{n} deliver_sm (have {len(self.deliveries)})")

    def wait_received(self, predicate: Callable[[Any], bool], timeout: float = TIMEOUT) -> Deferred[Any]:
        """Fires with the first PDU received (from now on or before) that matches."""
        for item in self.received:
            if predicate(item):
                return succeed(item)
        if self.lost is not None:
            return fail(ConnectionError(f"closed after receiving {self.received}"))
        d: Deferred[Any] = Deferred()
        self._received_waiters.append((predicate, d))
        return within(d, timeout, "a PDU")

    def wait_closed(self, timeout: float = TIMEOUT) -> Deferred[None]:
        return within(self.closed_d, timeout, "connection close")


def submit_sm(**kw: Any) -> SubmitSm:
    base: dict[str, Any] = dict(
        source_addr="Shop",
        source_addr_ton=5,
        destination_addr="447700900123",
        dest_addr_ton=1,
        dest_addr_npi=1,
        short_message=b"hello",
    )
    base.update(kw)
    return SubmitSm(**base)


class RawClient(Protocol):
    """Bytes only: for what an ESME must never send."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed_d: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed_d.callback(None)

    def pdus(self) -> list[Any]:
        return PduReader().feed(bytes(self.data))


def header(command_length: int, command_id: int, status: int = 0, seq: int = 1) -> bytes:
    return struct.pack(">IIII", command_length, command_id, status, seq)


# -- the server ------------------------------------------------------------------------


@attrs.define(eq=False)
class LiveServer:
    smsc: Smsc
    factory: SmscFactory
    listening: Any
    port: int
    events: EventWaiter
    clients: list[Any] = attrs.field(factory=list)
    stopped: bool = False

    @property
    def host(self) -> str:
        return HOST

    def sessions(self) -> list[SmscProtocol]:
        return list(self.smsc.sessions)

    @inlineCallbacks
    def connect(self, protocol: Any = None) -> Any:
        """Connect a protocol (an :class:`Esme` by default); fires with it."""
        proto = protocol if protocol is not None else Esme()
        endpoint = TCP4ClientEndpoint(reactor, HOST, self.port, timeout=TIMEOUT)
        yield within(connectProtocol(endpoint, proto), what="connect")
        self.clients.append(proto)
        return proto

    @inlineCallbacks
    def esme(self, kind: str = "trx", system_id: str = "test", password: str | None = None) -> Any:
        """A connected, bound :class:`Esme`."""
        proto = yield self.connect()
        yield proto.bind(kind, system_id, password)
        return proto

    @inlineCallbacks
    def stop(self) -> Any:
        if self.stopped:
            return
        self.stopped = True
        yield within(self.smsc.stop(), self.smsc.config.grace_period + TIMEOUT, "smsc.stop()")
        yield within(self.listening.stopListening(), what="stopListening")
        closing = [within(p.closed_d, what=f"close of {p!r}") for p in self.clients]
        closing += [within(p.closed_d, what=f"close of {p!r}") for p in list(self.smsc.sessions)]
        results = yield DeferredList(closing, consumeErrors=True)
        failed = [r for ok, r in results if not ok]
        assert not failed, f"connections still open after stop: {failed}"
        assert not self.smsc.sessions, self.smsc.sessions


class LiveServers:
    """Starts servers for one test; :meth:`close` stops them and checks for leftovers."""

    def __init__(self) -> None:
        self.servers: list[LiveServer] = []
        self.log: list[dict[str, Any]] = []
        self._observer = cast(ILogObserver, self.log.append)
        globalLogPublisher.addObserver(self._observer)
        self._calls_before = set(reactor.getDelayedCalls())

    @inlineCallbacks
    def start(
        self, config: ServerConfig | None = None, users: Any = None, penalty: Any = None, authenticator: Any = None
    ) -> Any:
        config = config or server_config()
        waiter = EventWaiter()
        smsc = Smsc(
            reactor,
            MemoryStore(),
            authenticator or UsersAuthenticator(users or demo_users(), reactor=reactor),
            config=config,
            events=EventBus(reactor, [waiter]),
            penalty=penalty,
        )
        yield within(smsc.start(), what="smsc.start()")
        factory = SmscFactory(smsc)
        listening = reactor.listenTCP(0, factory, interface=HOST)
        server = LiveServer(smsc, factory, listening, listening.getHost().port, waiter)
        self.servers.append(server)
        return server

    @inlineCallbacks
    def close(self) -> Any:
        errors: list[str] = []
        try:
            for server in self.servers:
                try:
                    yield server.stop()
                except Exception as e:
                    errors.append(f"stopping the server on port {server.port}: {e!r}")
            # Zero-delay calls (close after unbind, the event drain) run now.
            for _ in range(3):
                yield turn()
            left = [
                call
                for call in reactor.getDelayedCalls()
                if call not in self._calls_before and call.active()
            ]
            if left:
                errors.append(f"DelayedCalls left pending: {left}")
        finally:
            gc.collect()
            globalLogPublisher.removeObserver(self._observer)
        for e in self.log:
            text = formatEvent(e) or repr(e)
            failure = e.get("log_failure")
            if failure is not None:
                errors.append(f"logged failure: {text}\n{failure.getTraceback()}")
            elif "Unhandled error in Deferred" in text:
                errors.append(text)
        assert not errors, "\n".join(errors)
