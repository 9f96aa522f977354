"""The ESME client: binds kept up, a send queue, receipts, incoming messages.

Sending goes through one FIFO queue shared by all binds. A message leaves
the queue when some bound session has room in its window, is not paused,
and the rate limit has a token; ESME_RTHROTTLED or ESME_RMSGQFUL puts it
back at the head and pauses that bind with a growing delay, so the order of
what is still queued is kept. Nothing here blocks: the queue is bounded
(``max_queue``) and a full queue fails the send at once.
"""

from __future__ import annotations

import hmac
import random
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Any, cast

import attrs
from twisted.application import service
from twisted.application.internet import ClientService
from twisted.internet.defer import CancelledError, Deferred, fail, gatherResults, succeed
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from smppd import events as ev
from smppd.client.config import ClientConfig
from smppd.client.endpoints import FailoverEndpoint
from smppd.client.protocol import EsmeProtocol, SubmitWaiter
from smppd.client.receipts import MessageOutcome, ReceiptTracker, TrackedMessage
from smppd.client.wire import ReceiptFields, encode_submit_sm, plain_gsm_septets, plain_submit_sm
from smppd.metrics import ServiceStats
from smppd.pdu import CommandId, CommandStatus, Pdu, SubmitSm, SubmitSmResp, encode_pdu
from smppd.pdu.tlv import EMPTY as EMPTY_TLVS
from smppd.pdu.tlv import Tlvs
from smppd.protocol import SessionConfig, SmppError
from smppd.session import BindType
from smppd.text.encoding import GSM7, TextEncoding, choose_encoding
from smppd.text.reassembly import Completed, Reassembler, fragment_from_pdu_fields
from smppd.text.receipt import parse_receipt, stat_for_state
from smppd.text.split import METHODS, Segment, split_binary, split_text

log = Logger()
S = CommandStatus
_THROTTLED = frozenset({S.ESME_RTHROTTLED, S.ESME_RMSGQFUL})
_SUBMIT_SM = int(CommandId.submit_sm)
_GSM7_DATA_CODING = TextEncoding.for_name(GSM7).data_coding
_RECEIPT_ONLY = {"registered_delivery": 0}.keys()
# The options a one-segment text may come with and still be encoded by
# encode_submit_sm (the rest take build_submits).
_PLAIN_OPTIONS = frozenset(
    {
        "registered_delivery",
        "source_addr_ton",
        "source_addr_npi",
        "dest_addr_ton",
        "dest_addr_npi",
        "esm_class",
        "concatenation",
        "encoding",
    }
)


class SendError(Exception):
    """A message (or one of its segments) was refused or could not be sent."""

    def __init__(self, reason: str, status: int | None = None, message_ids: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.status = status
        self.message_ids = message_ids


class ClientStopped(Exception):
    """The client stopped (or gave up reconnecting) before the send completed."""


@attrs.frozen
class IncomingMessage:
    """A mobile-originated message, reassembled when it came in parts."""

    source_addr: str
    destination_addr: str
    data: bytes
    data_coding: int
    parts: int
    text: str
    pdu: Pdu  # the last part's PDU


# handler(message) -> command_status for the deliver_sm_resp (None = ESME_ROK), or a Deferred of it
MessageHandler = Callable[[IncomingMessage], "int | None | Deferred[int | None]"]
# Destinations whose next concatenation reference is remembered (a forgotten one
# starts again from a random number).
_MAX_REFERENCE_DESTINATIONS = 100_000
#: on_report(report): the deliver_sm_resp status for a delivery receipt (None: ESME_ROK)
ReportHandler = Callable[[ev.DeliveryReport], "int | None | Deferred[int | None]"]


class _Entry(SubmitWaiter):
    """One request in the send queue and, once sent, the waiter for its
    response (the protocol calls it: no Deferred between the two).

    ``d`` fires with the response PDU; for a one-segment send_message
    (``message`` true) with its ids, and ``tracked``, ``source``,
    ``destination`` and ``started`` are what :meth:`SmppClient._sent` needs."""

    __slots__ = (
        "bind",
        "client",
        "command_id",
        "d",
        "destination",
        "message",
        "proto",
        "source",
        "started",
        "tracked",
        "wire",
    )

    def __init__(
        self,
        client: SmppClient,
        command_id: int,
        wire: bytes,
        d: Deferred[Any],
        message: bool = False,
        tracked: bool = False,
        source: str = "",
        destination: str = "",
        started: float = 0.0,
    ) -> None:
        self.client = client
        self.command_id = command_id
        self.wire = wire
        self.d = d
        self.message = message
        self.tracked = tracked
        self.source = source
        self.destination = destination
        self.started = started
        self.bind: _Bind | None = None
        self.proto: EsmeProtocol | None = None

    def accepted(self, message_id: str, sequence_number: int) -> None:
        if self.message:
            self.client._accepted(self, message_id)
        else:
            self.client._answered(self, SubmitSmResp(sequence_number=sequence_number, message_id=message_id))

    def callback(self, result: Any) -> None:
        self.client._answered(self, result)

    def errback(self, fail: Any) -> None:
        self.client._refused(self, fail)


class _Bind:
    """One of the parallel binds: its ClientService and current session."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.service: ClientService | None = None
        self.endpoint: FailoverEndpoint | None = None
        self.protocol: EsmeProtocol | None = None
        self.binding: EsmeProtocol | None = None  # connected, bind_resp not yet in
        self.paused_until = 0.0
        self.throttle = 0.0
        self.failures = 0  # failed connections or binds since the last good bind


def _plain_text_allowed(config: ClientConfig) -> bool:
    """Whether ``config`` lets a one-septet GSM text of one segment take the plain
    encoder: its splitting method is valid and not message_payload, and its
    languages are valid (``choose_encoding`` would raise for them even then)."""
    if config.concatenation not in METHODS or config.concatenation == "payload":
        return False
    try:
        choose_encoding("", languages=config.languages)
    except ValueError:
        return False
    return True


class SmppClient(service.MultiService):
    """Keeps ``config.binds`` binds up and sends through them."""

    def __init__(
        self,
        config: ClientConfig,
        reactor: Any = None,
        *,
        events: ev.EventBus | None = None,
        on_message: MessageHandler | None = None,
        on_report: ReportHandler | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.reactor = reactor
        self.config = config
        self.events = events if events is not None else ev.EventBus(reactor)
        self.on_message = on_message
        # Given: each receipt's deliver_sm_resp waits for on_report's status
        # (at-least-once, e.g. the webhook's receipt_ack "delivered"); the
        # frame fast path, which answers ESME_ROK at once, is then not used.
        self.on_report = on_report
        self.rng = rng or random.Random()
        self.bind_type = BindType(config.bind_type)
        self.tracker = ReceiptTracker(reactor, config.receipt_timeout, finished=self._tracked_done)
        self.reassembler = Reassembler(reactor, config.reassembly_timeout)
        self._binds = [_Bind(i) for i in range(config.binds)]
        self._queue: deque[_Entry] = deque()
        self._rr = 0
        self._pump_call: Any = None
        self._sent_at: deque[float] = deque()  # send times of the last submits (rate limit)
        self._outcomes: dict[str, TrackedMessage] = {}  # first id -> tracked message (its outcome() waiters)
        self._finished: OrderedDict[str, MessageOutcome] = OrderedDict()
        self._rejected_parts: OrderedDict[tuple[Any, ...], Completed] = OrderedDict()
        # destination -> its next concatenation reference (see build_submits), least recently used first
        self._references: OrderedDict[str, int] = OrderedDict()
        self.stats = ServiceStats()  # hot-path counters for /metrics
        self._outbound: set[EsmeProtocol] = set()  # receivers bound after an outbind
        self.last_bind_error: BaseException | None = None  # why the last bind attempt failed
        self._stopping = False
        self._gave_up = False
        self._bound_waiters: list[Deferred[None]] = []
        self.counters = {"submitted": 0, "failed": 0, "throttled": 0, "receipts": 0, "mo": 0}
        self._plain_config: ClientConfig | None = None  # the config _plain_text was judged for
        self._plain_text = False

    # -- life ------------------------------------------------------------------

    def startService(self) -> None:
        self._stopping = False
        self._gave_up = False
        for bind in self._binds:
            if bind.service is not None and bind.service.parent is self:
                bind.service.disownServiceParent()  # from an earlier start: stopped already
            bind.endpoint = FailoverEndpoint(self.reactor, self.config.endpoints)
            factory = Factory.forProtocol(self._make_protocol)
            bind.service = ClientService(
                bind.endpoint,
                factory,
                retryPolicy=self._retry_policy(bind),
                clock=self.reactor,
                prepareConnection=self._preparer(bind),
            )
            bind.service.setServiceParent(self)
        super().startService()

    def reconfigure(self, config: ClientConfig) -> None:
        """Use ``config`` from now on for what is read per request: ``rate``,
        ``max_queue``, ``concatenation``, ``languages``, the throttle pauses.

        The rest is read as binds are made (credentials, ``session``,
        ``bind_timeout``) or only at start (``endpoints``, ``binds``,
        ``bind_type``, ``reconnect``, ``receipt_timeout``,
        ``reassembly_timeout``): change those with a restart, and give them
        here as they were (``twistd smpp-client``'s SIGHUP does).
        """
        self.config = config
        if config.rate is not None:
            burst = max(1, int(config.rate))
            while len(self._sent_at) > burst:  # _take_token judges by the last `burst` sends
                self._sent_at.popleft()
        if self._queue and not self._stopping:
            self._schedule_pump(0)  # a waiting request may go sooner under the new limit

    def _preparer(self, bind: _Bind) -> Callable[[Any], Deferred[Pdu]]:
        return lambda proto: self._bind(bind, proto)

    def outbind_factory(self) -> Factory:
        """A factory to listen with for SMSCs that connect to us and send
        outbind: each such connection is answered with bind_receiver (this
        client's credentials), and what it delivers is handled like any
        deliver_sm of the client's own binds (receipts, incoming messages).

        The outbind's system_id and password are checked against
        ``config.outbind_system_id`` / ``outbind_password`` when those are set;
        an outbind that does not match is not answered (the connection is
        closed), so the client's password goes only to the SMSC it expects.
        Without them anyone who can reach the port gets it: listen only where
        the SMSC alone can connect. A connection that has not bound within
        ``bind_timeout`` is closed."""
        return Factory.forProtocol(self._make_outbound_protocol)

    def _make_outbound_protocol(self) -> EsmeProtocol:
        # the SMSC connected to us: it must outbind and be bound within bind_timeout
        proto = self._make_protocol(attrs.evolve(self.config.session, session_init_timeout=self.config.bind_timeout))
        proto.on_outbind = self._on_outbind
        return proto

    def _on_outbind(self, proto: EsmeProtocol, pdu: Any) -> None:
        if self._stopping:
            proto.close()
            return
        c = self.config
        expected_id, expected_password = c.outbind_system_id, c.outbind_password
        if (expected_id is not None and pdu.system_id != expected_id) or (
            expected_password is not None
            and not hmac.compare_digest(pdu.password.encode("latin-1"), expected_password.encode("latin-1"))
        ):
            log.warn(
                "{peer}: outbind from {system_id} refused: not the expected SMSC credentials",
                peer=proto.peer,
                system_id=pdu.system_id,
            )
            proto.close()
            return
        d = proto.bind(BindType.RECEIVER, c.system_id, c.password, c.system_type, c.addr_ton, c.addr_npi, c.address_range)

        def bound(_: object) -> None:
            self._outbound.add(proto)
            proto.closed_d.addBoth(lambda _: self._outbound.discard(proto))

        def refused(failure: Failure) -> None:
            log.warn("outbind from {system_id}: bind_receiver refused: {why}", system_id=pdu.system_id, why=failure.getErrorMessage())
            proto.close()

        d.addCallbacks(bound, refused)

    def _make_protocol(self, session: SessionConfig | None = None) -> EsmeProtocol:
        proto = EsmeProtocol(
            self.reactor,
            session or self.config.session,
            self.events,
            on_deliver=self._on_deliver,
            on_receipt=self._on_receipt if self.on_report is None else None,
        )
        proto.pdus = self.stats.pdus
        return proto

    def _retry_policy(self, bind: _Bind) -> Callable[[int], float]:
        policy = self.config.reconnect

        def delay(_attempt: int) -> float:
            # Counted here, not by ClientService: a refused bind reaches it as a
            # connection that was made and then lost (see _bind), which resets its count.
            bind.failures += 1
            attempt = bind.failures
            if policy.max_attempts is not None and attempt >= policy.max_attempts:
                log.error(
                    "bind {n}: giving up after {attempts} failed attempt(s)", n=bind.index, attempts=attempt
                )
                self.reactor.callLater(0, self._give_up, bind)
                return policy.maximum
            return policy.delay(attempt, self.rng)

        return delay

    def _give_up(self, bind: _Bind) -> None:
        if bind.service is not None and bind.service.running:
            bind.service.disownServiceParent()
        if not any(b.service is not None and b.service.running for b in self._binds):
            self._gave_up = True  # nothing reconnects any more: later sends fail at once
            self._fail_queue(ClientStopped("gave up reconnecting"))
            self._fail_bound_waiters(ClientStopped("gave up reconnecting"))

    def _bind(self, bind: _Bind, proto: EsmeProtocol) -> Deferred[Pdu]:
        c = self.config
        # ClientService hands over a proxy (it needs to hear connectionLost) that forwards
        # every attribute lookup: keep the protocol itself, the send path reads several
        # of its attributes per message.
        proto = cast(EsmeProtocol, proto.unwrapped)
        bind.binding = proto
        d = proto.bind(self.bind_type, c.system_id, c.password, c.system_type, c.addr_ton, c.addr_npi, c.address_range)

        def too_slow() -> None:
            if not d.called:
                proto.abort()

        timer = self.reactor.callLater(c.bind_timeout, too_slow)

        def bound(response: Pdu) -> Pdu:
            if timer.active():
                timer.cancel()
            bind.binding = None
            bind.protocol = proto
            bind.failures = 0
            proto.closed_d.addBoth(self._unbound, bind, proto)
            for waiter in self._bound_waiters:
                waiter.callback(None)
            self._bound_waiters = []
            self._schedule_pump(0)
            return response

        def refused(failure: Failure) -> Failure | None:
            if timer.active():
                timer.cancel()
            bind.binding = None
            self.last_bind_error = failure.value
            log.warn(
                "bind {n} to {endpoint} failed: {why}",
                n=bind.index,
                endpoint=bind.endpoint.current if bind.endpoint else "?",
                why=failure.getErrorMessage(),
            )
            if bind.endpoint is not None:
                bind.endpoint.advance()
            proto.abort()
            if failure.check(CancelledError):
                return failure  # ClientService itself gave up on this attempt
            # Do not fail prepareConnection: ClientService keeps a connection whose
            # preparation failed, and when it is lost the service is in a state with no
            # transition for that (automat.NoTransition out of connectionLost). To it,
            # this is a connection made and then lost; the back-off still grows through
            # our own failure count (_retry_policy).
            return None

        d.addCallbacks(bound, refused)
        return d

    def _unbound(self, _: object, bind: _Bind, proto: EsmeProtocol) -> None:
        if bind.protocol is proto:
            bind.protocol = None

    def when_bound(self) -> Deferred[None]:
        """Fires once at least one bind is up."""
        if self.bound_count:
            return succeed(None)
        d: Deferred[None] = Deferred()
        if self._gave_up:
            d.errback(ClientStopped("gave up reconnecting"))
            return d
        self._bound_waiters.append(d)
        return d

    @property
    def bound_count(self) -> int:
        return sum(1 for b in self._binds if b.protocol is not None and b.protocol.session.is_bound)

    def stopService(self) -> Deferred[None]:
        """Unbind every session (bounded by the unbind timeout), then stop."""
        self._stopping = True
        if self._pump_call is not None and self._pump_call.active():
            self._pump_call.cancel()
        self._pump_call = None
        unbinds = [b.protocol.unbind() for b in self._binds if b.protocol is not None]
        unbinds += [p.unbind() for p in list(self._outbound)]
        for b in self._binds:
            if b.binding is not None:
                # Closed before ClientService stops, so that it sees the connection
                # end (cancelling a pending prepareConnection leaves it no way to).
                unbinds.append(self._closed(b.binding))
                b.binding.abort()
        d: Deferred[Any] = gatherResults(unbinds, consumeErrors=True) if unbinds else succeed(None)

        def stop(_: object) -> Deferred[None]:
            self._fail_queue(ClientStopped("client stopped"))
            self.tracker.stop()
            self._fail_bound_waiters(ClientStopped("client stopped"))
            return super(SmppClient, self).stopService()

        d.addBoth(stop)
        return d

    @staticmethod
    def _closed(proto: EsmeProtocol) -> Deferred[None]:
        d: Deferred[None] = Deferred()

        def closed(result: object) -> object:
            d.callback(None)
            return result

        proto.closed_d.addBoth(closed)
        return d

    def _fail_bound_waiters(self, error: Exception) -> None:
        waiters, self._bound_waiters = self._bound_waiters, []
        for waiter in waiters:
            waiter.errback(error)

    def _fail_queue(self, error: Exception) -> None:
        queue, self._queue = self._queue, deque()
        for entry in queue:
            self._fail(entry, Failure(error))

    def _fail(self, entry: _Entry, failure: Failure) -> None:
        if not entry.message:
            entry.d.errback(failure)
        else:
            entry.d.errback(self._failed(failure, ()))

    # -- sending -----------------------------------------------------------------

    def submit(self, pdu: Pdu) -> Deferred[Pdu]:
        """Send any request PDU (submit_sm, submit_multi, data_sm, query_sm,
        replace_sm, cancel_sm); fire with its response or fail with
        SmppError / SendError / ClientStopped."""
        try:
            wire = encode_pdu(pdu)
        except Exception as e:
            d: Deferred[Pdu] = Deferred()
            d.errback(e)
            return d
        d = Deferred()
        self._enqueue(_Entry(self, pdu.command_id, wire, d))
        return d

    def _enqueue(self, entry: _Entry) -> None:
        if self._stopping or self._gave_up:
            self._fail(entry, Failure(ClientStopped("client is stopping" if self._stopping else "gave up reconnecting")))
            return
        queue = self._queue
        if len(queue) >= self.config.max_queue:
            self._fail(entry, Failure(SendError("send queue is full", S.ESME_RMSGQFUL)))
            return
        queue.append(entry)
        if len(queue) == 1 or self._pump_call is None:
            self._pump()  # (behind others it waits for what they wait for)

    def _schedule_pump(self, delay: float) -> None:
        if self._pump_call is not None and self._pump_call.active():
            if self._pump_call.getTime() <= self.reactor.seconds() + delay:
                return
            self._pump_call.cancel()
        self._pump_call = self.reactor.callLater(delay, self._pump)

    def _take_token(self, now: float) -> float:
        """0 when the rate limit lets one more request go now, else seconds until it does.

        At most ``rate`` requests in any second: with ``k = max(1, int(rate))``, at most
        ``k`` in any ``k / rate`` seconds, judged by the send times of the last ``k``. (A
        token bucket holding a second's worth lets twice the rate through in the second
        after an idle spell.) The wait runs to the instant the oldest of them leaves the
        window, a difference of two clock readings, so even on a clock at epoch-sized
        times it is never below the clock's resolution.
        """
        rate = self.config.rate
        if rate is None:
            return 0.0
        burst = max(1, int(rate))
        sent = self._sent_at
        if len(sent) >= burst:
            free_at = sent[0] + burst / rate
            if now < free_at:
                return free_at - now
            sent.popleft()
        sent.append(now)
        return 0.0

    def _pump(self) -> None:
        call, self._pump_call = self._pump_call, None
        if call is not None and call.active():
            call.cancel()  # run early (a window slot freed up): it schedules what is left
        queue = self._queue
        if not queue:
            return
        binds = self._binds
        n = len(binds)
        now = self.reactor.seconds()
        limited = self.config.rate is not None
        next_wake: float | None = None
        rr = self._rr
        while queue:
            chosen = None
            for _ in range(n):
                bind = binds[rr % n]
                rr += 1
                proto = bind.protocol
                if proto is None or not proto.session.is_bound:
                    continue
                if bind.paused_until > now:
                    wake = bind.paused_until - now
                    next_wake = wake if next_wake is None else min(next_wake, wake)
                    continue
                if proto.outstanding + proto.waiting >= proto.config.window:
                    continue
                chosen = proto
                break
            if chosen is None:
                break
            if limited:
                wait = self._take_token(now)
                if wait:
                    next_wake = wait if next_wake is None else min(next_wake, wait)
                    break
            entry = queue.popleft()
            self._rr = rr  # a refusal fired at once (closing) may pump again, re-entrantly
            entry.proto = chosen
            entry.bind = bind
            chosen.send_request_to(entry.command_id, entry.wire, entry)
            rr = self._rr
        self._rr = rr
        if next_wake is not None and queue:
            self._schedule_pump(next_wake)

    def _send_at_once(self, entry: _Entry, now: float) -> bool:
        """What :meth:`_pump` does for an entry when the queue is empty, when the
        bind whose turn it is can take it now (bound, not paused, room in its
        window, nothing waiting, not closing): send it and True. Otherwise
        False, and nothing done: the general path decides (another bind, the
        queue, a refusal)."""
        binds = self._binds
        rr = self._rr
        bind = binds[rr % len(binds)]
        proto = bind.protocol
        if proto is None or not proto.session.is_bound or bind.paused_until > now:
            return False
        entry.proto = proto
        entry.bind = bind
        if not proto.send_if_room(entry.command_id, entry.wire, entry):
            return False
        self._rr = rr + 1
        return True

    def _bind_of(self, entry: _Entry) -> _Bind | None:
        """The bind that sent ``entry``, if that session is still its current one."""
        bind = entry.bind
        return bind if bind is not None and bind.protocol is entry.proto else None

    def _answered(self, entry: _Entry, response: Pdu) -> None:
        """A request's response (ESME_ROK): to its Deferred, or for a
        one-segment message its id, as :meth:`_accepted`."""
        if entry.message:
            self._accepted(entry, getattr(response, "message_id", ""))  # (a submit_sm_resp: it has one)
            return
        bind = self._bind_of(entry)
        if bind is not None:
            bind.throttle = 0.0
        entry.d.callback(response)
        if self._queue:
            self._pump()  # even with a wake-up scheduled: another bind may be paused, not this one

    def _accepted(self, entry: _Entry, message_id: str) -> None:
        """A one-segment message accepted: its ids to its send_message Deferred."""
        bind = entry.bind
        if bind is not None and bind.throttle and bind.protocol is entry.proto:
            bind.throttle = 0.0
        try:
            ids = self._sent_ids([message_id], entry.tracked, entry.source, entry.destination, entry.started)
        except Exception:
            entry.d.errback(Failure())
        else:
            entry.d.callback(ids)
        if self._queue:
            self._pump()  # even with a wake-up scheduled: another bind may be paused, not this one

    def _refused(self, entry: _Entry, failure: Failure | BaseException) -> None:
        if not isinstance(failure, Failure):
            failure = Failure(failure)
        error = failure.value
        if isinstance(error, SmppError) and error.status in _THROTTLED:
            self.counters["throttled"] += 1
            bind = self._bind_of(entry)
            self._queue.appendleft(entry)  # first in line again: order is kept
            if bind is not None:
                bind.throttle = min(
                    self.config.throttle_maximum, max(self.config.throttle_initial, bind.throttle * 2)
                )
                bind.paused_until = self.reactor.seconds() + bind.throttle
            self._schedule_pump(self.config.throttle_initial if bind is None else bind.throttle)
            return
        self._fail(entry, failure)
        if self._queue:
            self._pump()

    @property
    def queued(self) -> int:
        return len(self._queue)

    # -- messages ----------------------------------------------------------------

    def build_submits(
        self,
        source: str,
        destination: str,
        content: str | bytes,
        *,
        encoding: str | None = None,
        concatenation: str | None = None,
        registered_delivery: int = 0,
        source_addr_ton: int | None = None,
        source_addr_npi: int = 0,
        dest_addr_ton: int = 1,
        dest_addr_npi: int = 1,
        esm_class: int = 0,
        **fields: Any,
    ) -> list[SubmitSm]:
        """The submit_sm PDUs for one message (one per segment)."""
        method = concatenation or self.config.concatenation
        # The next reference of this destination's sequence (from a random start):
        # consecutive long messages to one handset get different ones, so they
        # cannot be mixed up until 256 (udh8; 65536 with udh16 or sar) more
        # were sent to it. Only a message that was split uses its number up.
        counter = self._references.pop(destination, None)
        if counter is None:
            counter = self.rng.randrange(0x10000)
        reference = counter % (0x100 if method == "udh8" else 0x10000)
        segments: list[Segment]
        try:
            if isinstance(content, bytes):
                segments = split_binary(content, method=method, reference=reference)
            else:
                enc = choose_encoding(content, languages=self.config.languages, force=encoding) if encoding else None
                segments = split_text(
                    content, encoding=enc, languages=self.config.languages, method=method, reference=reference
                )
        finally:
            self._references[destination] = counter  # (most recently used last)
        if len(segments) > 1:
            self._references[destination] = (counter + 1) & 0xFFFF
        while len(self._references) > _MAX_REFERENCE_DESTINATIONS:
            self._references.popitem(last=False)
        if source_addr_ton is None:
            source_addr_ton = 5 if source and not source.lstrip("+").isdigit() else 1
        pdus = []
        for seg in segments:
            tlvs: dict[str, Any] | Tlvs = EMPTY_TLVS  # (the converter's result for {}, without the work)
            if seg.sar is not None or seg.message_payload is not None:
                tlvs = {}
                if seg.sar is not None:
                    tlvs.update(
                        sar_msg_ref_num=seg.sar[0], sar_total_segments=seg.sar[1], sar_segment_seqnum=seg.sar[2]
                    )
                if seg.message_payload is not None:
                    tlvs["message_payload"] = seg.message_payload
            pdus.append(
                SubmitSm(
                    source_addr_ton=source_addr_ton,
                    source_addr_npi=source_addr_npi,
                    source_addr=source,
                    dest_addr_ton=dest_addr_ton,
                    dest_addr_npi=dest_addr_npi,
                    destination_addr=destination,
                    esm_class=esm_class | seg.esm_class_flags,
                    registered_delivery=registered_delivery,
                    data_coding=seg.data_coding,
                    short_message=seg.short_message,
                    tlvs=tlvs,
                    **fields,
                )
            )
        return pdus

    def send_message(
        self, source: str, destination: str, content: str | bytes, *, receipt: bool = False, **options: Any
    ) -> Deferred[list[str]]:
        """Encode, split and submit a message; fire with its message ids (one
        per segment). With ``receipt=True`` a delivery receipt is asked for and
        tracked: :meth:`outcome` gives the final state."""
        if receipt:
            options.setdefault("registered_delivery", 1)
        wire = self._plain_submit(source, destination, content, options)
        if wire is not None:
            # One segment of plain GSM text, no unusual field (the common case): written
            # straight to bytes, and its queue entry fires the Deferred with its id.
            d0: Deferred[list[str]] = Deferred()
            now = self.reactor.seconds()
            tracked = bool(options["registered_delivery"] & 0x03) if "registered_delivery" in options else False
            entry = _Entry(self, _SUBMIT_SM, wire, d0, True, tracked, source, destination, now)
            if self._queue or self._stopping or self._gave_up or self.config.rate is not None or not self._send_at_once(entry, now):
                self._enqueue(entry)
            return d0
        try:
            pdus = self.build_submits(source, destination, content, **options)
        except Exception as e:
            d: Deferred[list[str]] = Deferred()
            d.errback(e)
            return d
        tracked = bool(options.get("registered_delivery", 0) & 0x03)
        started = self.reactor.seconds()
        if len(pdus) == 1:
            # One segment: its own Deferred carries the result, no DeferredList around
            # it. Same results and failures as the general path.
            d1 = self.submit(pdus[0])
            d1.addCallbacks(self._sent_one, self._failed_one, callbackArgs=(tracked, source, destination, started))
            return d1  # type: ignore[return-value]
        results = [self.submit(pdu) for pdu in pdus]
        gathered: Deferred[list[Pdu]] = gatherResults(results, consumeErrors=True)

        def sent(responses: list[Pdu]) -> list[str]:
            return self._sent(responses, tracked, source, destination, started)

        def failed(failure: Failure) -> Failure:
            first = getattr(failure.value, "subFailure", failure)
            done = tuple(getattr(r.result, "message_id", "") for r in results if r.called and isinstance(r.result, Pdu))
            for r in results:
                if r.called and isinstance(r.result, Failure):
                    r.addErrback(lambda _: None)
            return self._failed(first, done)

        gathered.addCallbacks(sent, failed)
        return gathered  # type: ignore[return-value]

    def _plain_submit(self, source: str, destination: str, content: str | bytes, options: dict[str, Any]) -> bytes | None:
        """The submit_sm of a message whose text fits one segment of the default GSM
        tables with one septet a character, when no option asks for more than
        :func:`~smppd.client.wire.encode_submit_sm` writes; else None.

        Byte for byte what ``build_submits`` and ``encode_pdu`` give (one PDU, no UDH,
        no TLVs); anything else, errors included, is theirs to handle."""
        if not isinstance(content, str) or len(content) > 160:
            return None
        config = self.config
        if config is not self._plain_config:
            self._plain_config = config
            self._plain_text = _plain_text_allowed(config)
        if not self._plain_text:
            return None
        usual = not options or options.keys() == _RECEIPT_ONLY
        if usual:
            # (send_message's usual calls: build_submits' defaults, maybe a receipt)
            wire = plain_submit_sm(source, destination, content, options["registered_delivery"] if options else 0)
            if wire is not None:
                return wire
        septets = plain_gsm_septets(content)
        if septets is None:
            return None
        if usual:  # (what plain_submit_sm leaves to it: Greek capitals, odd field values)
            return encode_submit_sm(
                source,
                destination,
                septets,
                source_addr_ton=5 if source and not source.lstrip("+").isdigit() else 1,
                dest_addr_ton=1,
                dest_addr_npi=1,
                registered_delivery=options["registered_delivery"] if options else 0,
                data_coding=_GSM7_DATA_CODING,
            )
        if not _PLAIN_OPTIONS.issuperset(options) or options.get("encoding") is not None:
            return None
        concatenation = options.get("concatenation")
        if concatenation is not None and (concatenation == "payload" or concatenation not in METHODS):
            return None
        source_addr_ton = options.get("source_addr_ton")
        if source_addr_ton is None:
            source_addr_ton = 5 if source and not source.lstrip("+").isdigit() else 1
        return encode_submit_sm(
            source,
            destination,
            septets,
            source_addr_ton=source_addr_ton,
            source_addr_npi=options.get("source_addr_npi", 0),
            dest_addr_ton=options.get("dest_addr_ton", 1),
            dest_addr_npi=options.get("dest_addr_npi", 1),
            esm_class=options.get("esm_class", 0),
            registered_delivery=options.get("registered_delivery", 0),
            data_coding=_GSM7_DATA_CODING,
        )

    def protocols(self) -> list[EsmeProtocol]:
        """The sessions currently connected (bound or binding)."""
        return [b.protocol for b in self._binds if b.protocol is not None]

    def _sent_one(self, response: Pdu, tracked: bool, source: str, destination: str, started: float) -> list[str]:
        return self._sent((response,), tracked, source, destination, started)

    def _failed_one(self, failure: Failure) -> Failure:
        return self._failed(failure, ())

    def _sent(
        self, ids_or_responses: Sequence[Pdu] | Sequence[str], tracked: bool, source: str, destination: str, started: float
    ) -> list[str]:
        """A message's every segment accepted: count, track, publish; its ids."""
        ids = [r if isinstance(r, str) else r.message_id for r in ids_or_responses]  # type: ignore[attr-defined]
        return self._sent_ids(ids, tracked, source, destination, started)

    def _sent_ids(self, ids: list[str], tracked: bool, source: str, destination: str, started: float) -> list[str]:
        self.counters["submitted"] += 1
        now = self.reactor.seconds()
        self.stats.submit_latency.observe(now - started)
        if tracked:
            tracker = self.tracker
            message = tracker.track(tuple(ids), None, now, orphans=False)
            self._outcomes[ids[0]] = message  # (before an orphan receipt can finish it)
            tracker.match_orphans(message)
        if self.events.observed:
            self.events.publish(
                ev.SmsSubmitted(
                    at=now,
                    message_id=ids[0],
                    system_id=self.config.system_id,
                    source_addr=source,
                    destination_addr=destination,
                )
            )
        return ids

    def _failed(self, first: Failure, done: tuple[str, ...]) -> Failure:
        """A segment failed (``first``; ``done``: the ids of those accepted): a SendError."""
        self.counters["failed"] += 1
        error = first.value
        status = error.status if isinstance(error, (SmppError, SendError)) else None
        wrapped = SendError(f"submit failed: {first.getErrorMessage()}", status, done)
        wrapped.__cause__ = error  # ResponseTimeout, ConnectionClosed, SmppError, ClientStopped...
        return Failure(wrapped)

    def _tracked_done(self, tracked: TrackedMessage, outcome: MessageOutcome) -> None:
        """A tracked message's receipts are all in (or timed out): remember its
        outcome, publish it and fire the ``outcome()`` Deferreds waiting for it."""
        key = tracked.ids[0]
        now = self.reactor.seconds()
        self.stats.receipt_latency.observe(now - tracked.since)
        if self._outcomes.get(key) is tracked:
            # (else a later message got the same first id from the SMSC: outcome(key)
            # stands for that one from then on, and this one's waiters are all it has)
            del self._outcomes[key]
            finished = self._finished
            finished[key] = outcome
            if len(finished) > 100_000:
                finished.popitem(last=False)
        if self.events.observed:
            if outcome.delivered:
                self.events.publish(
                    ev.SmsDelivered(at=now, message_id=key, system_id=self.config.system_id, destination_addr="")
                )
            else:
                self.events.publish(
                    ev.SmsFailed(
                        at=now,
                        message_id=key,
                        system_id=self.config.system_id,
                        destination_addr="",
                        state=outcome.stat,
                        error_code=outcome.error_codes[0],
                    )
                )
        waiters = tracked.waiters
        if waiters is not None:
            for waiter in waiters:
                waiter.callback(outcome)

    def outcome(self, message_ids: list[str] | tuple[str, ...] | str) -> Deferred[MessageOutcome]:
        """The final state of a message sent with a receipt (by its first id)."""
        key = message_ids if isinstance(message_ids, str) else message_ids[0]
        tracked = self._outcomes.get(key)  # (the message still waiting comes first:
        if tracked is None:  # an SMSC may have given its id to a finished one before)
            if key in self._finished:
                return succeed(self._finished[key])
            return fail(KeyError(f"no receipt is tracked for {key}"))
        d: Deferred[MessageOutcome] = Deferred()
        if tracked.waiters is None:
            tracked.waiters = [d]
        else:
            tracked.waiters.append(d)
        return d

    # -- incoming ----------------------------------------------------------------

    def _on_deliver(self, proto: EsmeProtocol, pdu: Any) -> int | Deferred[int]:
        fields = ReceiptFields(
            pdu.source_addr,
            pdu.esm_class,
            getattr(pdu, "short_message", b""),  # (data_sm has none)
            pdu.receipted_message_id,
            pdu.message_state,
            pdu.network_error_code,
            pdu.message_payload,
        )
        if fields.is_receipt:
            return self._take_receipt(fields) or S.ESME_ROK
        return self._on_mo(pdu)

    def _on_receipt(self, proto: EsmeProtocol, fields: ReceiptFields) -> None:
        """A delivery receipt read from the frame by the protocol (answered ESME_ROK there)."""
        self._take_receipt(fields)

    def _take_receipt(self, fields: ReceiptFields) -> int | Deferred[int] | None:
        """A delivery receipt; with ``on_report`` its answer is on_report's status."""
        receipted = fields.receipted_message_id
        state = fields.message_state
        error = 0
        if receipted is None or state is None:
            parsed = parse_receipt(fields.short_message or fields.message_payload or b"")
            if parsed is None:
                log.warn("receipt without an id from {source}", source=fields.source_addr)
                return None
            receipted = receipted or parsed.id
            state = state if state is not None else parsed.message_state
            error = int(parsed.err) if parsed.err.isdigit() else 0
        code = fields.network_error_code
        if code and len(code) == 3:
            error = int.from_bytes(code[1:], "big")
        self.counters["receipts"] += 1
        matched = self.tracker.receipt(receipted, state, error)
        if not matched:
            log.debug("receipt for unknown message {id}", id=receipted)
        handler = self.on_report
        if not self.events.observed and handler is None:
            return None
        report = ev.DeliveryReport(
            at=self.reactor.seconds(),
            message_id=receipted,
            system_id=self.config.system_id,
            state=stat_for_state(state),
            error_code=error,
        )
        if self.events.observed:
            self.events.publish(report)
        if handler is None:
            return None

        def handler_failed(failure: Failure) -> int:
            log.failure("receipt handler failed", failure)
            return S.ESME_RX_T_APPN

        try:
            result = handler(report)
        except Exception:
            return handler_failed(Failure())
        if isinstance(result, Deferred):
            result.addCallbacks(lambda status: status or S.ESME_ROK, handler_failed)
            return result  # type: ignore[return-value]
        return result or S.ESME_ROK

    def _on_mo(self, pdu: Any) -> int | Deferred[int]:
        sar = None
        if pdu.sar_msg_ref_num is not None:
            sar = (pdu.sar_msg_ref_num, pdu.sar_total_segments or 1, pdu.sar_segment_seqnum or 1)
        try:
            fragment = fragment_from_pdu_fields(
                pdu.esm_class,
                getattr(pdu, "short_message", b""),
                pdu.data_coding,
                sar=sar,
                message_payload=pdu.message_payload,
            )
        except ValueError:
            log.warn("undecodable message parts from {source}", source=pdu.source_addr)
            return S.ESME_RX_P_APPN
        key = (pdu.source_addr, pdu.destination_addr)
        fingerprint = (key, fragment.concat, hash(fragment.user_data))
        completed = self._rejected_parts.pop(fingerprint, None) or self.reassembler.feed(key, fragment)
        if completed is None:
            return S.ESME_ROK
        self.counters["mo"] += 1
        message = IncomingMessage(
            source_addr=pdu.source_addr,
            destination_addr=pdu.destination_addr,
            data=completed.user_data,
            data_coding=completed.data_coding,
            parts=completed.parts,
            text=completed.text,
            pdu=pdu,
        )
        handler = self.on_message
        if handler is None:
            return S.ESME_ROK

        def status_of(result: int | None) -> int:
            status = result or S.ESME_ROK
            if status and completed.parts > 1:
                # The SMSC will send this last part again: answer it from here.
                self._rejected_parts[fingerprint] = completed
                while len(self._rejected_parts) > 10_000:
                    self._rejected_parts.popitem(last=False)
            return status

        def handler_failed(failure: Failure) -> int:
            log.failure("message handler failed", failure)
            return status_of(S.ESME_RX_T_APPN)

        try:
            result = handler(message)
        except Exception:
            return handler_failed(Failure())
        if isinstance(result, Deferred):
            result.addCallbacks(status_of, handler_failed)
            return result  # type: ignore[return-value]
        return status_of(result)


