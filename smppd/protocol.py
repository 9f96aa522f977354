"""The Twisted Protocol both sides share: framing, dispatch, request/response
matching, timers and back-pressure, over the sans-IO session.

Bytes in -> :class:`~smppd.pdu.framer.Framer` -> frames -> the session's
receive rule -> a frame handler (the hot PDUs: submit_sm on the SMSC,
submit_sm_resp and deliver_sm on the ESME, read straight from the bytes) or
a decoded PDU for the handler table -> answers, all answers produced while
handling one ``dataReceived`` going out in a single write (straight to the
socket when Twisted has nothing queued: :func:`eager_write`). Requests this side
sends are matched to their responses by sequence number, limited by a window
(requests beyond it wait for a slot, in order) and expire after the response
timeout through one sweep timer rather than a timer per request. Every timer
runs on the injected clock.
"""

from __future__ import annotations

import contextlib
import itertools
import struct
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar
from typing import Protocol as TypingProtocol

import attrs
from twisted.internet import error as tx_error
from twisted.internet import tcp
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from smppd import events as ev
from smppd.metrics import PduCounters
from smppd.pdu import (
    DEFAULT_MAX_COMMAND_LENGTH,
    CommandId,
    CommandStatus,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    PduDecodeError,
    Unbind,
    UnbindResp,
    empty_id_response,
    encode_pdu,
    error_response,
    status_name,
)
from smppd.pdu.codec import decode_pdu
from smppd.pdu.framer import Framer
from smppd.session import Role, Session, SessionError, State

log = Logger()
_I4 = struct.Struct(">I")
_CLOSED = State.CLOSED  # (a module global: reading an Enum member off its class costs more)
_unpack_header = struct.Struct(">IIII").unpack_from
_session_ids = itertools.count(1)

# The transports eager_write writes around: exactly these classes, the plain
# TCP connections of Twisted's POSIX reactors (not a subclass such as
# unix.Server, not a wrapper: a TLS layer, like any ProtocolWrapper, forwards
# unknown attribute lookups to the TCP connection under it, and bytes written
# there would bypass it).
_EAGER_TYPES = frozenset({tcp.Server, tcp.Client})
# What eager_write reads of them (Twisted's FileDescriptor buffer state: no
# public API says whether it has anything queued); checked once per connection,
# so that a Twisted without them gets plain transport.write.
_EAGER_ATTRIBUTES = ("TLS", "writeSomeData", "connected", "disconnecting", "_writeDisconnected", "_tempDataLen", "dataBuffer", "offset")


def eager_write(transport: Any) -> Callable[[bytes], None] | None:
    """For a plain TCP transport, a ``transport.write`` that sends the bytes
    to the socket at once when nothing is queued; None for other transports.

    Twisted queues every write until the next turn of the reactor: an
    epoll_ctl, an epoll_wait and a loop iteration more per batch of answers,
    and the peer waits for them (at window 1 that doubles the cost per
    message and adds to every round trip). What the socket does not take at
    once, and every write while anything is queued, goes through
    ``transport.write``, so the order of the bytes is kept.

    Decided by the transport's real type: only a ``tcp.Server`` or
    ``tcp.Client`` itself qualifies (TLS layers, other wrappers, unix
    sockets, in-memory test transports get None: the caller uses
    ``transport.write``). A TCP connection on which TLS was started later
    (``startTLS``) is seen at every write (``TLS``) and then goes through
    ``transport.write``, which encrypts."""
    if type(transport) not in _EAGER_TYPES or not all(hasattr(transport, a) for a in _EAGER_ATTRIBUTES):
        return None
    return _eager_writer(transport)


def _eager_writer(t: Any) -> Callable[[bytes], None]:
    def write(data: bytes) -> None:
        if t.connected and not (t.TLS or t.disconnecting or t._writeDisconnected or t._tempDataLen) and t.offset == len(t.dataBuffer):
            sent = t.writeSomeData(data)
            if sent.__class__ is int:
                if sent == len(data):
                    return
                data = data[sent:]
        t.write(data)

    return write


_CONNECTION_DONE = Failure(tx_error.ConnectionDone())

C = CommandId
S = CommandStatus


@attrs.frozen
class SessionConfig:
    """Timers and limits of one SMPP session (seconds; None disables)."""

    enquire_link_interval: float | None = 30.0
    response_timeout: float = 30.0
    session_init_timeout: float | None = None  # accepting side: connect -> bind
    inactivity_timeout: float | None = None  # no transaction for this long: unbind
    unbind_timeout: float = 5.0  # wait for unbind_resp before closing
    window: int = 10  # outstanding requests this side sends
    max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH
    partial_pdu_timeout: float | None = None  # part of a PDU held this long: close


class SmppError(Exception):
    """A request answered with a non-zero command_status (or generic_nack)."""

    def __init__(self, status: int, response: Pdu | None = None) -> None:
        super().__init__(status_name(status))
        self.status = status
        self.response = response


class ResponseTimeout(Exception):
    """No response within the response timeout."""


class ConnectionClosed(Exception):
    """The connection closed before the request was answered."""


# Input kept while the transport cannot take our output, before the
# transport itself is paused (see _WriteBackPressure).
HOLD_LIMIT = 64 * 1024


@implementer(IPushProducer)
class _WriteBackPressure:
    """Registered with the transport: when the peer stops reading our output,
    stop handling its input (so we stop producing answers).

    The input is held in the protocol, not left in the transport: a TLS
    transport pauses its producer while it buffers our writes until its
    handshake is done, and it needs the socket under it read for that; a
    paused transport would be that socket, and the handshake would never end.
    Only past HOLD_LIMIT octets held is the transport paused too (by then the
    peer is sending without reading)."""

    def __init__(self, protocol: SmppProtocol) -> None:
        self.protocol = protocol

    def pauseProducing(self) -> None:
        self.protocol._output_blocked()

    def resumeProducing(self) -> None:
        self.protocol._output_unblocked()

    def stopProducing(self) -> None:
        pass


Handler = Callable[[Any], "Pdu | Deferred[Pdu] | None"]
#: frame_handler(frame, command_status, sequence_number): a whole PDU as bytes
FrameHandler = Callable[[bytes, int, int], None]


class Waiter(TypingProtocol):
    """What waits for a response: a Deferred, or any object with the same two
    methods (the outbox passes a plain object so that a deliver_sm costs no
    Deferred). ``errback`` receives an exception: SmppError, ResponseTimeout,
    ConnectionClosed or SessionError."""

    def callback(self, result: Any) -> object: ...

    def errback(self, fail: Any) -> object: ...


class SmppProtocol(Protocol):
    """One SMPP connection, either side.

    Subclasses set ``role`` and fill :meth:`request_handlers`: a table from
    command_id to a callable taking the request and returning its response
    PDU, a Deferred firing with it, or None when the handler answers itself.
    """

    role: ClassVar[Role]

    @property
    def unwrapped(self) -> SmppProtocol:
        """This protocol itself, also when read through a wrapper that forwards
        attribute lookups (ClientService's proxy): a public way to reach it."""
        return self

    def __init__(
        self,
        clock: IReactorTime,
        config: SessionConfig | None = None,
        events: ev.EventBus | None = None,
    ) -> None:
        self.clock = clock
        self.config = config or SessionConfig()
        self.events = events
        self.pdus: PduCounters | None = None  # set by the service to count PDUs for metrics
        self.session = Session(self.role)
        self.session_id = f"s{next(_session_ids)}"
        self.peer = "?"
        self._framer = Framer(self.config.max_command_length)
        self._handlers: dict[int, Handler] = {
            C.enquire_link: self._on_enquire_link,
            C.unbind: self._on_unbind,
        }
        self._handlers.update(self.request_handlers())
        self._frame_handlers = self.frame_handlers()
        # sequence_number -> (waiter, deadline, command_id)
        self._outstanding: dict[int, tuple[Waiter, float, int]] = {}
        self._waiting: deque[tuple[int, bytes, Waiter]] = deque()
        self._out: list[bytes] = []
        self._uncounted: list[bytes] = []  # the part of _out not counted yet (metrics)
        self._receiving = False
        self._send_out: Callable[[bytes], None] = self._transport_write  # eager_write once connected
        self._paused: set[str] = set()
        self._blocked = False  # the transport cannot take our output now
        self._held: list[bytes] | None = None  # input kept meanwhile (None: none is)
        self._held_size = 0
        self._closing = False
        self._last_rx = 0.0
        self._last_transaction = 0.0
        self._sweep_call: Any = None
        self._enquire_call: Any = None
        self._inactivity_call: Any = None
        self._init_call: Any = None
        self._enquire_pending = False
        self._unbind_d: Deferred[None] | None = None
        self._unbind_call: Any = None
        self._partial_since: float | None = None  # when the framer began holding the current partial PDU
        self._partial_call: Any = None
        self.closed_d: Deferred[None] = Deferred()

    # -- overridable ---------------------------------------------------------

    def request_handlers(self) -> dict[int, Handler]:
        return {}

    def frame_handlers(self) -> dict[int, FrameHandler]:
        """Handlers that take the undecoded frame of a hot PDU.

        Called only when the session may receive that command_id now (the
        state check, PDU counting and activity time are done). A frame
        handler answers by itself; when it cannot read the frame it calls
        :meth:`dispatch_frame`, which decodes it and takes the general path
        (precise error statuses included).
        """
        return {}

    def on_connected(self) -> None:
        """Called once the transport is ready."""

    def end_of_input(self) -> None:
        """Called after the PDUs of one read were dispatched, before their
        answers are written: the place to hand a batch to the store."""

    def on_closed(self, reason: Failure) -> None:
        """Called after the connection closed and outstanding requests failed."""

    # -- connection ----------------------------------------------------------

    def connectionMade(self) -> None:
        transport = self.transport
        assert transport is not None
        self._send_out = eager_write(transport) or self._transport_write
        set_no_delay = getattr(transport, "setTcpNoDelay", None)
        if set_no_delay is not None:
            with contextlib.suppress(Exception):  # not a TCP socket (unix, in-memory)
                set_no_delay(True)
        peer = transport.getPeer()
        self.peer = f"{getattr(peer, 'host', peer)}:{getattr(peer, 'port', '')}"
        register = getattr(transport, "registerProducer", None)
        if register is not None:
            with contextlib.suppress(RuntimeError):  # a producer is registered already
                register(_WriteBackPressure(self), True)
        now = self.clock.seconds()
        self._last_rx = self._last_transaction = now
        if self.config.session_init_timeout:
            self._init_call = self.clock.callLater(self.config.session_init_timeout, self._session_init_expired)
        self._arm_enquire_link()
        self._arm_inactivity()
        self.publish(ev.ConnectionConnected(at=now, session_id=self.session_id, peer=self.peer))
        self.on_connected()

    def connectionLost(self, reason: Failure = _CONNECTION_DONE) -> None:
        was = self.session.state
        self.session.closed()
        self._closing = True
        for call in (self._sweep_call, self._enquire_call, self._inactivity_call, self._init_call, self._unbind_call, self._partial_call):
            if call is not None and call.active():
                call.cancel()
        self._sweep_call = self._enquire_call = self._inactivity_call = self._init_call = self._partial_call = None
        # Swap the pending requests out before firing anything (amp's rule).
        outstanding, self._outstanding = self._outstanding, {}
        waiting, self._waiting = self._waiting, deque()
        for d, _deadline, _cid in outstanding.values():
            d.errback(ConnectionClosed(str(reason.value)))
        for _cid, _wire, d in waiting:
            d.errback(ConnectionClosed(str(reason.value)))
        if self._unbind_d is not None:
            d2, self._unbind_d = self._unbind_d, None
            d2.callback(None)
        now = self.clock.seconds()
        if was in (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX, State.UNBOUND) and self.session.bind_type:
            self.publish(
                ev.ConnectionUnbound(
                    at=now,
                    session_id=self.session_id,
                    peer=self.peer,
                    system_id=self.session.system_id or "",
                    bind_type=self.session.bind_type.value,
                )
            )
        self.publish(
            ev.ConnectionDisconnected(
                at=now,
                session_id=self.session_id,
                peer=self.peer,
                system_id=self.session.system_id,
                reason=reason.getErrorMessage(),
            )
        )
        try:
            self.on_closed(reason)
        finally:
            self.closed_d.callback(None)

    def publish(self, event: ev.Event) -> None:
        if self.events:
            self.events.publish(event)

    def close(self) -> None:
        """Close after what is already written (no unbind)."""
        if not self._closing:
            self._closing = True
            self._flush()
            if self.transport is not None:
                self.transport.loseConnection()

    def abort(self) -> None:
        self._closing = True
        if self.transport is not None:
            abort = getattr(self.transport, "abortConnection", None)
            (abort or self.transport.loseConnection)()

    # -- data in -------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        if self._held is not None:
            self._hold(data)
            return
        self._last_rx = self.clock.seconds()
        self._receiving = True
        fast = self._frame_handlers
        session = self.session
        pdus = self.pdus
        try:
            frames = self._framer.feed(data)
            for frame in frames:
                if frame.__class__ is not bytes:
                    self._on_decode_error(frame)  # type: ignore[arg-type]
                    continue
                _length, cid, status, seq = _unpack_header(frame)
                if pdus is not None:
                    pdus.incoming[cid, status] += 1  # every framed PDU, decodable or not
                handler = fast.get(cid)
                if handler is None or cid not in session.receivable:
                    self.dispatch_frame(frame)
                    continue
                self._last_transaction = self._last_rx
                try:
                    handler(frame, status, seq)
                except Exception:
                    log.failure("{peer}: handler for 0x{cid:08X} failed", peer=self.peer, cid=cid)
                    if not cid & 0x80000000:
                        self.write(empty_id_response(cid | 0x80000000, seq, S.ESME_RSYSERR))
            self.end_of_input()
        finally:
            self._receiving = False
            self._flush()
        if self._framer.broken:
            self.close()
        elif self._framer.buffered:
            if frames or self._partial_since is None:  # a new partial PDU (one timer per timeout, not per PDU)
                self._partial_since = self._last_rx
                if self._partial_call is None and self.config.partial_pdu_timeout and not self._closing:
                    self._partial_call = self.clock.callLater(self.config.partial_pdu_timeout, self._partial_due)
        else:
            self._partial_since = None

    def _partial_due(self) -> None:
        """Close a connection that has held one incomplete PDU for
        ``partial_pdu_timeout`` (a header promising more than ever comes, or
        a trickle); re-arm for a partial PDU that began later."""
        self._partial_call = None
        since = self._partial_since
        timeout = self.config.partial_pdu_timeout
        if since is None or not timeout or self._closing:
            return
        left = since + timeout - self.clock.seconds()
        if left > 0:
            self._partial_call = self.clock.callLater(left, self._partial_due)
            return
        log.info("{peer}: part of a PDU held {t}s without the rest; closing", peer=self.peer, t=timeout)
        self.close()

    def dispatch_frame(self, frame: bytes) -> None:
        """Decode a frame and take the general path (frame handlers call it
        for what they do not read themselves)."""
        try:
            pdu = decode_pdu(frame)
        except PduDecodeError as e:
            self._on_decode_error(e)
        else:
            self._dispatch(pdu)

    def _dispatch(self, pdu: Pdu) -> None:
        cid = pdu.command_id
        if cid != C.enquire_link and cid != C.enquire_link_resp:
            self._last_transaction = self._last_rx
        if cid & 0x80000000:
            if self.session.receive_status(cid):
                log.warn(
                    "{peer}: unexpected {pdu} in state {state}",
                    peer=self.peer,
                    pdu=type(pdu).__name__,
                    state=self.session.state.value,
                )
            self._on_response(pdu)
            return
        status = self.session.receive_status(cid)
        if status:
            self._reject(pdu, status)
            return
        handler = self._handlers.get(cid)
        if handler is None:
            self._reject(pdu, S.ESME_RINVCMDID)
            return
        try:
            result = handler(pdu)
        except Exception:
            log.failure("{peer}: handler for {pdu} failed", peer=self.peer, pdu=type(pdu).__name__)
            self._reject(pdu, S.ESME_RSYSERR)
            return
        if result is None:
            return
        if isinstance(result, Deferred):
            result.addCallbacks(self._send_answer, self._handler_failed, errbackArgs=(pdu,))
        else:
            self.send_pdu(result)

    def _send_answer(self, answer: Pdu | None) -> None:
        if answer is not None:
            self.send_pdu(answer)

    def _handler_failed(self, failure: Failure, request: Pdu) -> None:
        log.failure("{peer}: handler for {pdu} failed", failure, peer=self.peer, pdu=type(request).__name__)
        self._reject(request, S.ESME_RSYSERR)

    def _reject(self, request: Pdu, status: int) -> None:
        """Answer a request with an error status (generic_nack if it has no response)."""
        cls = request.response_class
        if cls is None:
            self.send_pdu(GenericNack(sequence_number=request.sequence_number, command_status=status))
        else:
            self.send_pdu(cls(sequence_number=request.sequence_number, command_status=status))

    def _on_decode_error(self, error: PduDecodeError) -> None:
        log.warn(
            "{peer}: undecodable PDU ({status}): {why}",
            peer=self.peer,
            status=status_name(error.command_status),
            why=str(error),
        )
        answer = error_response(error)
        if answer is not None:
            self.send_pdu(answer)
        elif error.sequence_number in self._outstanding:
            d, _deadline, _cid = self._outstanding.pop(error.sequence_number)
            d.errback(SmppError(error.command_status))
            self._pump()

    def _on_response(self, pdu: Pdu) -> None:
        pending = self._outstanding.pop(pdu.sequence_number, None)
        if pending is None:
            log.warn(
                "{peer}: {pdu} with sequence_number {seq} matches no request",
                peer=self.peer,
                pdu=type(pdu).__name__,
                seq=pdu.sequence_number,
            )
            return
        d, _deadline, request_id = pending
        if pdu.command_status:
            d.errback(SmppError(pdu.command_status, pdu))
        elif pdu.command_id != (request_id | 0x80000000):
            d.errback(SmppError(S.ESME_RSYSERR, pdu))
        else:
            d.callback(pdu)
        self.refill_window()

    def take_answered(self, status: int, seq: int, response_id: int) -> Waiter | None:
        """For frame handlers of responses: when this is the plain answer to
        request ``seq`` (ESME_ROK, the response of that request's command),
        take the request out of the window and return its waiter; the caller
        fires it, then calls :meth:`refill_window`. None (nothing taken):
        anything else, which the general path answers (:meth:`dispatch_frame`)."""
        pending = self._outstanding.get(seq)
        if status or pending is None or pending[2] | 0x80000000 != response_id:
            return None
        del self._outstanding[seq]
        return pending[0]

    def refill_window(self) -> None:
        """Send what waits for a window slot, now that a response freed one."""
        if self._waiting:
            self._pump()

    # -- data out ------------------------------------------------------------

    def send_pdu(self, pdu: Pdu) -> None:
        """Send a PDU as is (responses; requests go through send_request)."""
        self.write(encode_pdu(pdu))

    def write(self, data: bytes) -> None:
        """Write whole PDUs: batched while a read is handled, at once otherwise."""
        if self._receiving:
            self._out.append(data)
            if self.pdus is not None:
                self._uncounted.append(data)
        elif self.transport is not None and self.session.state is not _CLOSED:
            self._send_out(data)
            if self.pdus is not None:
                self.pdus.count_out(data)

    def write_one(self, data: bytes, kind: tuple[int, int]) -> None:
        """Write one PDU whose (command_id, command_status) is ``kind``: counted
        for the metrics as such instead of read back when written."""
        if self.transport is None or self.session.state is _CLOSED:
            return
        if self._receiving:
            self._out.append(data)
        else:
            self._send_out(data)
        if self.pdus is not None:
            self.pdus.outgoing[kind] += 1

    def write_many(self, chunks: list[bytes], kind: tuple[int, int] | None = None) -> None:
        """Write PDUs, one per chunk. ``kind``: all of them have this
        (command_id, command_status), so they are counted for the metrics at
        once instead of read back when written."""
        if self.transport is None or self.session.state is _CLOSED:
            return
        pdus = self.pdus
        if pdus is not None and kind is not None:
            pdus.outgoing[kind] += len(chunks)
        if self._receiving:
            self._out.extend(chunks)
            if pdus is not None and kind is None:
                self._uncounted.extend(chunks)
        else:
            data = b"".join(chunks)
            self._send_out(data)
            if pdus is not None and kind is None:
                pdus.count_out(data)

    def _transport_write(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]

    def hold_output(self) -> bool:
        """Batch writes as during a read, until :meth:`release_output`; False
        (and nothing to release) when they are batched already."""
        if self._receiving:
            return False
        self._receiving = True
        return True

    def release_output(self) -> None:
        """Write what was batched since :meth:`hold_output`, in one write."""
        self._receiving = False
        self._flush()

    def _flush(self) -> None:
        if self._out:
            out, self._out = self._out, []
            uncounted, self._uncounted = self._uncounted, []
            if self.transport is not None and self.session.state is not _CLOSED:
                self._send_out(out[0] if len(out) == 1 else b"".join(out))
                if self.pdus is not None and uncounted:
                    self.pdus.count_out(uncounted[0] if len(uncounted) == 1 else b"".join(uncounted))

    def send_request(self, pdu: Pdu) -> Deferred[Pdu]:
        """Send a request; fire with its response, or fail with SmppError
        (non-zero status), ResponseTimeout or ConnectionClosed.

        The PDU's own sequence_number is replaced by the session's next one.
        Beyond the window, requests wait for a slot in order.
        """
        try:
            self.session.check_send(pdu.command_id)
            wire = encode_pdu(pdu)
        except Exception as e:
            return fail(e)
        return self.send_request_wire(pdu.command_id, wire)

    def send_request_wire(self, command_id: int, wire: bytes) -> Deferred[Pdu]:
        """Like :meth:`send_request` for an already encoded request (its
        sequence_number is patched in)."""
        d: Deferred[Pdu] = Deferred()
        self.send_request_to(command_id, wire, d)
        return d

    def send_if_room(self, command_id: int, wire: bytes, waiter: Waiter) -> bool:
        """:meth:`send_request_to` when the request goes out at once (room in
        the window, nothing waiting before it, not closing): sent, True.
        Otherwise nothing is done and False: the caller decides."""
        if self._closing or self._waiting or len(self._outstanding) >= self.config.window:
            return False
        self._send_now(command_id, wire, waiter)
        return True

    def send_request_to(self, command_id: int, wire: bytes, waiter: Waiter) -> None:
        """Send an encoded request; its response (or failure) goes to
        ``waiter.callback`` (``waiter.errback``), exactly once."""
        if self._closing or self.session.state is _CLOSED:
            waiter.errback(ConnectionClosed("connection is closing"))
        elif len(self._outstanding) >= self.config.window or self._waiting:
            self._waiting.append((command_id, wire, waiter))
        else:
            self._send_now(command_id, wire, waiter)

    @property
    def outstanding(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._outstanding)

    @property
    def waiting(self) -> int:
        """Requests held back by the window."""
        return len(self._waiting)

    def _send_now(self, command_id: int, wire: bytes, d: Waiter) -> int:
        seq = self.session.next_sequence()
        deadline = self.clock.seconds() + self.config.response_timeout
        self._outstanding[seq] = (d, deadline, command_id)
        self.write_one(wire[:12] + _I4.pack(seq) + wire[16:], (command_id, _I4.unpack_from(wire, 8)[0]))
        if self._sweep_call is None:
            self._sweep_call = self.clock.callLater(self.config.response_timeout, self._sweep)
        return seq

    def _pump(self) -> None:
        window = self.config.window
        while self._waiting and len(self._outstanding) < window:
            cid, wire, d = self._waiting.popleft()
            if not self.session.may_send(cid):
                d.errback(SessionError(f"state is {self.session.state.value}"))
                continue
            self._send_now(cid, wire, d)

    def _sweep(self) -> None:
        """Fail every request past its deadline; re-arm for the oldest left."""
        self._sweep_call = None
        now = self.clock.seconds()
        expired = []
        for seq, (_d, deadline, _cid) in self._outstanding.items():
            if deadline > now:
                break
            expired.append(seq)
        for seq in expired:
            d, _deadline, cid = self._outstanding.pop(seq)
            d.errback(ResponseTimeout(f"no response to {_command_name(cid)} #{seq}"))
        if self._outstanding and self.session.state is not _CLOSED:
            oldest = next(iter(self._outstanding.values()))[1]
            self._sweep_call = self.clock.callLater(max(0.0, oldest - now), self._sweep)
        if expired:
            self._pump()

    # -- back-pressure -------------------------------------------------------

    def _output_blocked(self) -> None:
        self._blocked = True
        if self._held is None:
            self._held = []

    def _output_unblocked(self) -> None:
        self._blocked = False
        if self._receiving:  # (not from a Twisted transport: it resumes between reads)
            self.clock.callLater(0, self._release_held)
        else:
            self._release_held()

    def _hold(self, data: bytes) -> None:
        assert self._held is not None
        self._last_rx = self.clock.seconds()
        self._held.append(data)
        self._held_size += len(data)
        if self._held_size > HOLD_LIMIT:
            self.pause_reading("write-buffer")

    def _release_held(self) -> None:
        """Handle the input held while the output was blocked, in order."""
        if self._blocked or self._held is None:
            return
        held, self._held, self._held_size = self._held, None, 0
        if held and self.transport is not None and self.session.state is not _CLOSED:
            self.dataReceived(b"".join(held))
        if not self._blocked:
            self.resume_reading("write-buffer")

    def pause_reading(self, reason: str) -> None:
        if not self._paused and self.transport is not None:
            self.transport.pauseProducing()  # type: ignore[attr-defined]
        self._paused.add(reason)

    def resume_reading(self, reason: str) -> None:
        if reason in self._paused:
            self._paused.discard(reason)
            if not self._paused and self.transport is not None and not self._closing:
                self.transport.resumeProducing()  # type: ignore[attr-defined]

    @property
    def reading_paused(self) -> bool:
        """Input is not being handled now (held, or the transport paused)."""
        return bool(self._paused) or self._held is not None

    # -- session life --------------------------------------------------------

    def mark_bound(self, bind_type: Any, system_id: str) -> None:
        self.session.bound(bind_type, system_id)
        if self._init_call is not None and self._init_call.active():
            self._init_call.cancel()
        self._init_call = None
        self.publish(
            ev.ConnectionBound(
                at=self.clock.seconds(),
                session_id=self.session_id,
                peer=self.peer,
                system_id=system_id,
                bind_type=bind_type.value,
            )
        )

    def unbind(self) -> Deferred[None]:
        """Send unbind, wait (bounded) for unbind_resp, then close.

        Fires when the connection is closing. Without a bound session it
        just closes.
        """
        if self._unbind_d is not None:
            return self._unbind_d
        done: Deferred[None] = Deferred()
        self._unbind_d = done
        if not self.session.is_bound:
            self.close()
            if self.transport is None:
                self._unbind_d = None
                done.callback(None)
            return done
        d = self._send_unbind()
        self.session.unbound()

        def finished(_: object) -> None:
            self.close()

        d.addBoth(finished)
        return done

    def _send_unbind(self) -> Deferred[Pdu]:
        d: Deferred[Pdu] = Deferred()
        seq = self._send_now(C.unbind, encode_pdu(Unbind()), d)
        self._unbind_call = self.clock.callLater(self.config.unbind_timeout, self._unbind_expired, seq)

        def got(result: object) -> object:
            if self._unbind_call is not None and self._unbind_call.active():
                self._unbind_call.cancel()
            self._unbind_call = None
            return None

        d.addBoth(got)
        return d

    def _unbind_expired(self, seq: int) -> None:
        self._unbind_call = None
        pending = self._outstanding.pop(seq, None)
        if pending is not None:
            log.info("{peer}: no unbind_resp in time; closing", peer=self.peer)
            pending[0].errback(ResponseTimeout("unbind"))

    def _on_unbind(self, pdu: Unbind) -> UnbindResp:
        was = self.session.state
        self.session.unbound()
        log.info(
            "{peer}: {system_id} unbound by peer (was {state})",
            peer=self.peer,
            system_id=self.session.system_id,
            state=was.value,
        )
        for _cid, _wire, d in list(self._waiting):
            d.errback(ConnectionClosed("peer unbound"))
        self._waiting.clear()
        self.clock.callLater(0, self.close)
        return pdu.response()  # type: ignore[return-value]

    def _on_enquire_link(self, pdu: EnquireLink) -> EnquireLinkResp:
        return pdu.response()  # type: ignore[return-value]

    # -- timers --------------------------------------------------------------

    def _session_init_expired(self) -> None:
        self._init_call = None
        if not self.session.is_bound:
            log.info("{peer}: no bind within {t}s; closing", peer=self.peer, t=self.config.session_init_timeout)
            self.close()

    def _arm_enquire_link(self) -> None:
        interval = self.config.enquire_link_interval
        if interval:
            self._enquire_call = self.clock.callLater(interval, self._enquire_link_due)

    def _enquire_link_due(self) -> None:
        self._enquire_call = None
        interval = self.config.enquire_link_interval
        assert interval
        now = self.clock.seconds()
        idle = now - self._last_rx
        if idle < interval or self._enquire_pending:
            self._enquire_call = self.clock.callLater(interval - idle if idle < interval else interval, self._enquire_link_due)
            return
        if self.session.state is _CLOSED or self._closing:
            return
        self._enquire_pending = True
        d: Deferred[Pdu] = Deferred()
        self._send_now(C.enquire_link, encode_pdu(EnquireLink()), d)
        d.addCallbacks(self._enquire_link_answered, self._enquire_link_failed)
        self._enquire_call = self.clock.callLater(interval, self._enquire_link_due)

    def _enquire_link_answered(self, _: Pdu) -> None:
        self._enquire_pending = False

    def _enquire_link_failed(self, failure: Failure) -> None:
        self._enquire_pending = False
        if failure.check(ConnectionClosed):
            return
        if failure.check(SmppError):
            return  # an answer (even an error one) proves the peer is alive
        log.info("{peer}: enquire_link unanswered; dropping the connection", peer=self.peer)
        self.abort()

    def _arm_inactivity(self) -> None:
        timeout = self.config.inactivity_timeout
        if timeout:
            self._inactivity_call = self.clock.callLater(timeout, self._inactivity_due)

    def _inactivity_due(self) -> None:
        self._inactivity_call = None
        timeout = self.config.inactivity_timeout
        assert timeout
        idle = self.clock.seconds() - max(self._last_transaction, self._last_tx_activity())
        if idle < timeout:
            self._inactivity_call = self.clock.callLater(timeout - idle, self._inactivity_due)
            return
        log.info("{peer}: inactive for {t}s; unbinding", peer=self.peer, t=timeout)
        self.unbind()

    def _last_tx_activity(self) -> float:
        """When this side last had a request outstanding (counts as activity)."""
        return self.clock.seconds() if self._outstanding else 0.0


def _command_name(command_id: int) -> str:
    try:
        return CommandId(command_id).name
    except ValueError:
        return f"0x{command_id:08X}"
