"""The SMSC core: everything the sessions share.

Sessions (one :class:`~smppd.server.protocol.SmscProtocol` per connection)
decode, validate and answer; this object owns what outlives a connection:
bound sessions by system_id, message ids, the unfinished messages and their
timers (schedule, validity), routing, the delivery backend, the outbox
dispatchers, rate limits and events. The store is the source of truth; the
in-memory indexes here are rebuilt from it at start.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from smppd import events as ev
from smppd.auth.ranges import AddressPattern, Narrowing, compile_pattern, narrowing
from smppd.interfaces import IDeliveryBackend, IMessageStore
from smppd.metrics import ServiceStats
from smppd.model import Message, OutboxItem, finished
from smppd.pdu import CommandStatus, MessageState
from smppd.server.config import ServerConfig
from smppd.server.delivery import DeliveryOutcome, SimulatorBackend
from smppd.server.ids import MessageIdGenerator, issued_at
from smppd.server.outbox import Dispatcher
from smppd.server.receipts import delivery_pdu, needs_receipt, receipt_pdu, submission_id
from smppd.text.receipt import stat_for_state

if TYPE_CHECKING:
    from smppd.server.protocol import SmscProtocol

log = Logger()
S = CommandStatus


class _Bucket:
    """Token bucket for one system_id's throughput limit."""

    __slots__ = ("last", "tokens")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.last = now


class _Receiving:
    """An account bound as receiver/transceiver: its routing grant (from the
    users file) and the narrowing each of its receiver sessions asked for."""

    __slots__ = ("grants", "narrowings", "receive_from", "system_id")

    def __init__(self, system_id: str, grants: tuple[AddressPattern, ...], receive_from: frozenset[str] | None) -> None:
        self.system_id = system_id
        self.grants = grants
        self.receive_from = receive_from
        self.narrowings: dict[Any, Narrowing] = {}

    def takes(self, destination: str, submitter: str | None) -> bool:
        if self.receive_from is not None and submitter not in self.receive_from:
            return False
        return any(n.allows(destination) for n in self.narrowings.values())


class Smsc:
    """State and behaviour shared by every session of one SMSC."""

    def __init__(
        self,
        clock: IReactorTime,
        store: IMessageStore,
        authenticator: Any,
        *,
        config: ServerConfig | None = None,
        backend: IDeliveryBackend | None = None,
        events: ev.EventBus | None = None,
        penalty: Any = None,
    ) -> None:
        self.clock = clock
        self.store = store
        self.authenticator = authenticator
        self.config = config = config or ServerConfig()
        self.backend = backend or SimulatorBackend(
            clock, config.simulator_rules, default_delay=config.simulator_default_delay
        )
        self.events = events if events is not None else ev.EventBus(clock)
        self._old_backends: list[Any] = []  # replaced by a reload, finishing what they hold
        self.penalty = penalty
        self.ids = MessageIdGenerator(clock, config.message_id_format)
        self.sessions: set[SmscProtocol] = set()
        self._bound: dict[str, list[SmscProtocol]] = {}
        self._receivers: dict[str, list[SmscProtocol]] = {}
        # Routing grants of bound receivers, indexed by each pattern's literal
        # prefix (longest first): a route costs a few dict lookups, never a scan.
        self._receiving: dict[str, _Receiving] = {}
        self._grant_index: dict[str, list[tuple[AddressPattern, _Receiving]]] = {}
        self._grant_lengths: list[int] = []
        self._routes = [(compile_pattern(r.pattern), r.system_id) for r in config.routes]
        self.unfinished: dict[str, Message] = {}
        self.dispatchers: dict[str, Dispatcher] = {}
        # Validity: message ids in one-second buckets (a finished message just
        # leaves its bucket; a heap of (time, id) would keep every message
        # until its validity passed, finished or not).
        self._expiry_buckets: dict[int, set[str]] = {}
        self._expiry_keys: list[int] = []
        self._expiry_call: Any = None
        # Outbox validity in the same buckets and timer: the system_ids whose
        # dispatcher holds an item that expires in that second (whether or not
        # the ESME is bound: an ESME that never binds must not hold its
        # backlog forever).
        self._outbox_expiry: dict[int, set[str]] = {}
        # Final states the store failed to write: retried together, with
        # back-off, until they are durable (their receipts wait for that).
        self._unwritten: list[tuple[list[tuple[Message, Sequence[OutboxItem]]], list[OutboxItem], Deferred[None]]] = []
        self._unwritten_call: Any = None
        self._unwritten_failures = 0
        self._schedule: list[tuple[float, str]] = []
        self._schedule_call: Any = None
        # Messages held for their schedule_delivery_time (not yet handed to
        # routing or the backend): the only ones replace_sm and
        # replace_if_present may change. id -> (system_id, source, dest, service_type)
        self._waiting: dict[str, tuple[str, str, str, str]] = {}
        self._waiting_by_key: dict[tuple[str, str, str, str], str] = {}  # the latest held per key
        # Unfinished messages by (system_id, source, dest): cancel_sm by addresses.
        self._by_addr: dict[tuple[str, str, str], dict[str, None]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self.backlogged: set[str] = set()
        self._removals: list[str] = []
        self._removal_call: Any = None
        self._pending_writes: set[Deferred[Any]] = set()
        self.accepting = True
        self.stats = ServiceStats()
        self.counters: dict[str, int] = {
            "submitted": 0,
            "delivered": 0,
            "failed": 0,
            "receipts_sent": 0,
            "throttled": 0,
            "bind_failures": 0,
            "final_write_failures": 0,
        }

    # -- life ------------------------------------------------------------------

    def start(self) -> Deferred[None]:
        """Recover unfinished messages and the outbox from the store."""
        d: Deferred[Any] = self.store.unfinished_messages()
        d.addCallback(self._recovered_messages)
        d.addCallback(lambda _: self.store.outbox_pending())
        d.addCallback(self._recovered_outbox)
        return d

    def _recovered_messages(self, messages: list[Message]) -> None:
        self._recovering = messages
        for m in messages:
            self.ids.at_least(submission_id(m))
        if messages:
            log.info("recovered {n} unfinished message(s)", n=len(messages))

    def _recovered_outbox(self, items: list[OutboxItem]) -> None:
        routed = {i.message_id for i in items if i.kind == OutboxItem.MESSAGE}
        by_system: dict[str, list[OutboxItem]] = {}
        for item in items:
            by_system.setdefault(item.system_id, []).append(item)
        for system_id, its in by_system.items():
            self.dispatcher(system_id).add(its)
        if items:
            log.info("recovered {n} outbox item(s)", n=len(items))
        now = self.clock.seconds()
        for m in self._recovering:
            self._track(m)
            if m.expires_at is not None and m.expires_at <= now:
                self.finish(m, MessageState.EXPIRED)
            elif m.message_id not in routed:
                self._start(m)
        del self._recovering

    def stop(self) -> Deferred[None]:
        """Stop accepting, unbind every session, let in-flight writes finish
        (bounded by the grace period), then close the store."""
        self.accepting = False
        unbinds = [p.unbind() for p in list(self.sessions)]
        waits = DeferredList([*unbinds, *list(self._pending_writes)], consumeErrors=True)
        grace: Deferred[None] = Deferred()
        def settled(_: object = None) -> None:
            if timer.active():
                timer.cancel()
            if not grace.called:
                grace.callback(None)

        timer = self.clock.callLater(self.config.grace_period, settled)

        waits.addBoth(settled)

        def finish(_: object) -> Deferred[None]:
            for p in list(self.sessions):
                p.abort()
            self._flush_removals()
            for disp in self.dispatchers.values():
                disp.stop()
            for call in (self._expiry_call, self._schedule_call, self._unwritten_call):
                if call is not None and call.active():
                    call.cancel()
            for backend in (*self._old_backends, self.backend):
                stop = getattr(backend, "stop", None)
                if stop is not None:
                    stop()
            self.events.stop()
            return self.store.close()

        grace.addCallback(finish)
        return grace

    def reconfigure(self, config: ServerConfig) -> None:
        """Take new settings (SIGHUP): limits, timers, validity, routes, the
        message-id format, distribution lists, retry policy and, with the
        default simulator, its rules. New sessions and new messages see them;
        messages already in the simulator finish as they were going to."""
        old = self.config
        self.config = config
        self._routes = [(compile_pattern(r.pattern), r.system_id) for r in config.routes]
        self.ids.format = config.message_id_format
        if isinstance(self.backend, SimulatorBackend) and (
            config.simulator_rules != old.simulator_rules
            or config.simulator_default_delay != old.simulator_default_delay
        ):
            self._old_backends.append(self.backend)
            self.backend = SimulatorBackend(
                self.clock, config.simulator_rules, default_delay=config.simulator_default_delay
            )

    def revoke_sessions(self, admits: Callable[[Any, str, str], bool]) -> int:
        """Unbind every bound session that ``admits(account, bind_type,
        peer_host)`` no longer lets in (after a users reload: account removed,
        password changed, bind type or network no longer allowed). Returns
        how many were unbound; the others stay bound."""
        revoked = 0
        for proto in list(self.sessions):
            bind_type = proto.session.bind_type
            if proto.account is None or bind_type is None or not proto.session.is_bound:
                continue
            if admits(proto.account, bind_type.value, proto.peer_host):
                continue
            revoked += 1
            log.info(
                "{peer}: {system_id} no longer admitted by the users file; unbinding",
                peer=proto.peer,
                system_id=proto.session.system_id,
            )
            proto.unbind()
        return revoked

    # -- sessions --------------------------------------------------------------

    def connection_allowed(self) -> bool:
        return self.accepting and len(self.sessions) < self.config.max_connections

    def bind_count(self, system_id: str) -> int:
        return len(self._bound.get(system_id, ()))

    def session_bound(self, proto: SmscProtocol, address_range: str) -> None:
        system_id = proto.session.system_id
        bind_type = proto.session.bind_type
        assert system_id is not None and bind_type is not None
        self._bound.setdefault(system_id, []).append(proto)
        if bind_type.receives:
            self._receivers.setdefault(system_id, []).append(proto)
            self._narrow(proto, system_id, address_range)
            disp = self.dispatchers.get(system_id)
            if disp is not None:
                disp.wake()

    def _narrow(self, proto: SmscProtocol, system_id: str, address_range: str) -> None:
        """Index the account's grant (first receiver) and this session's
        narrowing of it. The ESME's address_range is never compiled: see
        :func:`smppd.auth.ranges.narrowing`."""
        account = proto.account
        grants: tuple[AddressPattern, ...] = account.receive_ranges
        narrow = narrowing(address_range)
        if not narrow.understood:
            log.warn(
                "{system_id}: address_range of {n} characters not understood (only a digit prefix is); not narrowing the grant",
                system_id=system_id,
                n=len(address_range),
            )
        elif address_range:
            log.debug("{system_id}: address_range narrows to prefix {prefix}", system_id=system_id, prefix=narrow.prefix)
        state = self._receiving.get(system_id)
        if state is None:
            state = self._receiving[system_id] = _Receiving(system_id, grants, account.receive_from)
            self._index_grants(state)
        state.narrowings[proto] = narrow

    def _index_grants(self, state: _Receiving) -> None:
        index = self._grant_index
        for pattern in state.grants:
            entries = index.setdefault(pattern.prefix, [])
            entries.append((pattern, state))
            # Grants limited to named submitters first; then in bind order.
            entries.sort(key=lambda e: e[1].receive_from is None)
        self._grant_lengths = sorted({len(p) for p in index}, reverse=True)

    def _unindex_grants(self, state: _Receiving) -> None:
        index = self._grant_index
        for pattern in state.grants:
            entries = index.get(pattern.prefix)
            if entries is not None:
                entries[:] = [e for e in entries if e[1] is not state]
                if not entries:
                    del index[pattern.prefix]
        self._grant_lengths = sorted({len(p) for p in index}, reverse=True)

    def users_reloaded(self, users: Any) -> None:
        """New users (SIGHUP): the grants of bound accounts are taken from
        them (an account no longer in ``users`` is granted nothing)."""
        for system_id, state in self._receiving.items():
            account = users.get(system_id)
            grants = account.receive_ranges if account is not None else ()
            receive_from = account.receive_from if account is not None else frozenset()
            if grants != state.grants or receive_from != state.receive_from:
                self._unindex_grants(state)
                state.grants, state.receive_from = grants, receive_from
                self._index_grants(state)

    def session_closed(self, proto: SmscProtocol) -> None:
        self.sessions.discard(proto)
        system_id = proto.session.system_id
        if system_id is None:
            return
        for table in (self._bound, self._receivers):
            lst = table.get(system_id)
            if lst and proto in lst:
                lst.remove(proto)
                if not lst:
                    del table[system_id]
        state = self._receiving.get(system_id)
        if state is not None and state.narrowings.pop(proto, None) is not None and not state.narrowings:
            del self._receiving[system_id]
            self._unindex_grants(state)

    def receivers(self, system_id: str) -> list[SmscProtocol]:
        return self._receivers.get(system_id, [])

    def session_ready(self, proto: SmscProtocol) -> None:
        """A receiver session had responses to its deliver_sm (once per read):
        send what its window now allows, and see whether the backlog fell."""
        system_id = proto.session.system_id
        if system_id is not None:
            disp = self.dispatchers.get(system_id)
            if disp is not None:
                if disp.ready or disp.later:
                    disp.wake()
                if system_id in self.backlogged:
                    self.check_backlog(disp)

    def check_backlog(self, disp: Dispatcher) -> None:
        """Track which system_ids are owed more than the outbox high-water mark.

        Their new submits are answered ESME_RMSGQFUL until the backlog falls
        to half the mark. (Pausing their reading instead would deadlock a
        transceiver: it could no longer read the deliver_sm_resp that drain
        the backlog.)
        """
        high = self.config.outbox_high_water
        n = len(disp)
        if disp.system_id in self.backlogged:
            if n <= high // 2:
                self.backlogged.discard(disp.system_id)
                log.info("{system_id}: outbox backlog down to {n}; accepting again", system_id=disp.system_id, n=n)
        elif n > high:
            self.backlogged.add(disp.system_id)
            log.warn(
                "{system_id}: {n} items owed in the outbox; new submits get ESME_RMSGQFUL",
                system_id=disp.system_id,
                n=n,
            )

    def dispatcher(self, system_id: str) -> Dispatcher:
        disp = self.dispatchers.get(system_id)
        if disp is None:
            disp = self.dispatchers[system_id] = Dispatcher(self, system_id)
        return disp

    # -- limits ----------------------------------------------------------------

    def take_token(self, system_id: str, rate: float, now: float) -> bool:
        """Whether ``system_id`` may submit one more message now (token bucket,
        burst of one second's worth, and at least one message: a rate below
        1/s allows one message every 1/rate seconds)."""
        capacity = rate if rate >= 1.0 else 1.0
        bucket = self._buckets.get(system_id)
        if bucket is None:
            bucket = self._buckets[system_id] = _Bucket(capacity, now)
        else:
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.last) * rate)
            bucket.last = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        self.counters["throttled"] += 1
        return False

    def take_tokens(self, system_id: str, rate: float, now: float, n: int) -> int:
        """Take up to ``n`` tokens at once (submit_multi: one per
        destination); how many were granted."""
        if not self.take_token(system_id, rate, now):
            self.counters["throttled"] += n - 1
            return 0
        bucket = self._buckets[system_id]
        granted = 1 + min(n - 1, int(bucket.tokens))
        bucket.tokens -= granted - 1
        self.counters["throttled"] += n - granted
        return granted

    # -- accepting messages ----------------------------------------------------

    def submit(self, messages: list[Message]) -> Deferred[None]:
        """Persist newly submitted messages. When the Deferred fires they are
        durable: answer the ESME, then call :meth:`accepted` to deliver them."""
        d = self.store.add_messages(messages)
        if not d.called:
            self._pending_writes.add(d)
            d.addBoth(self._write_done, d)
        return d

    def _write_done(self, result: object, d: Deferred[Any]) -> object:
        self._pending_writes.discard(d)
        return result

    def accepted(self, messages: list[Message]) -> None:
        """Start delivering messages the store has (after the ESME was answered)."""
        self.counters["submitted"] += len(messages)
        publish = self.events.publish if self.events else None
        intermediate: list[OutboxItem] = []
        now = self.clock.seconds()
        unfinished = self.unfinished
        by_addr = self._by_addr
        for m in messages:
            unfinished[m.message_id] = m
            by_addr.setdefault((m.system_id, m.source_addr, m.destination_addr), {})[m.message_id] = None
            if publish is not None:
                publish(
                    ev.SmsSubmitted(
                        at=m.submitted_at,
                        message_id=m.message_id,
                        system_id=m.system_id,
                        source_addr=m.source_addr,
                        destination_addr=m.destination_addr,
                    )
                )
            if m.registered_delivery & 0x10:
                intermediate.append(self._receipt_item(m, now, intermediate=True))
        self._start_many(messages)
        # Only what did not finish at once (simulator rules without delay)
        # can outlive its validity.
        for m in messages:
            if m.expires_at is not None and m.message_id in unfinished:
                self._watch_expiry(m)
        if intermediate:
            self._put_outbox(intermediate)

    def _track(self, m: Message) -> None:
        self.unfinished[m.message_id] = m
        self._by_addr.setdefault((m.system_id, m.source_addr, m.destination_addr), {})[m.message_id] = None
        if m.expires_at is not None:
            self._watch_expiry(m)

    def _watch_expiry(self, m: Message) -> None:
        """Expire ``m`` at its validity (buckets of one second, one timer)."""
        key = int(m.expires_at) + 1  # type: ignore[arg-type]
        bucket = self._expiry_buckets.get(key)
        if bucket is not None:
            bucket.add(m.message_id)
            return
        self._expiry_buckets[key] = {m.message_id}
        heapq.heappush(self._expiry_keys, key)
        if self._expiry_call is None or self._expiry_call.getTime() > key:
            self._arm_expiry()

    def _untrack(self, m: Message) -> None:
        if (
            self.unfinished.pop(m.message_id, None) is not None
            and m.expires_at is not None
            and self._expiry_buckets  # none while every message finishes at once
        ):
            key = int(m.expires_at) + 1
            bucket = self._expiry_buckets.get(key)
            if bucket is not None:
                bucket.discard(m.message_id)
                if not bucket:
                    del self._expiry_buckets[key]
                    keys = self._expiry_keys
                    if len(keys) > 2 * len(self._expiry_buckets) + 1024:
                        # Mostly stale keys: rebuild (amortised O(1) per message).
                        keys[:] = sorted(self._expiry_buckets)

    def _start(self, m: Message) -> None:
        self._start_many([m])

    def _start_many(self, messages: list[Message]) -> None:
        """Schedule, route to an ESME, or hand to the delivery backend (in one batch)."""
        now = self.clock.seconds()
        to_backend: list[Message] = []
        routed: list[OutboxItem] = []
        routing = self._grant_index or self._routes
        for m in messages:
            if m.schedule_at is not None and m.schedule_at > now:
                heapq.heappush(self._schedule, (m.schedule_at, m.message_id))
                self._arm_schedule()
                self._hold(m)
                continue
            target = self.route(m.destination_addr, m.system_id) if routing else None
            if target is None:
                to_backend.append(m)
                continue
            routed.append(
                OutboxItem(
                    item_id="m" + m.message_id,  # item ids: a kind letter + the message's unique id
                    system_id=target,
                    kind=OutboxItem.MESSAGE,
                    message_id=m.message_id,
                    pdu=delivery_pdu(m, as_data_sm=m.submitted_as == "data_sm"),
                    created_at=now,
                    expires_at=m.expires_at,
                )
            )
        if routed:
            self._put_outbox(routed)
        if not to_backend:
            return
        deliver_batch = getattr(self.backend, "deliver_batch", None)
        if deliver_batch is not None:
            deliver_batch(to_backend, self._outcomes)
            return
        for m in to_backend:
            d = self.backend.deliver(m)
            d.addCallbacks(
                self._outcome, self._backend_failed, callbackArgs=(m.message_id,), errbackArgs=(m.message_id,)
            )

    def route(self, destination: str, submitter: str | None = None) -> str | None:
        """The ESME a destination submitted by ``submitter`` goes to: a bound
        receiver whose grant (users file ``receive_ranges``, narrowed by its
        binds' address_range) matches, the longest literal prefix winning;
        then the first configured route that matches; None for the delivery
        backend."""
        index = self._grant_index
        if index:
            n = len(destination)
            for length in self._grant_lengths:
                if length > n:
                    continue
                entries = index.get(destination[:length])
                if entries:
                    for pattern, state in entries:
                        if pattern.match(destination) and state.takes(destination, submitter):
                            return state.system_id
        for pattern, system_id in self._routes:
            if pattern.match(destination):
                return system_id
        return None

    def _outcome(self, outcome: DeliveryOutcome, message_id: str) -> None:
        self._outcomes([(message_id, outcome)])

    def _outcomes(self, results: list[tuple[str, DeliveryOutcome]]) -> None:
        """Outcomes from the delivery backend, in a batch."""
        unfinished = self.unfinished
        done = []
        for message_id, outcome in results:
            m = unfinished.get(message_id)
            if m is None:
                continue  # cancelled or expired meanwhile
            if outcome.state in (MessageState.ENROUTE, MessageState.ACCEPTED):
                continue
            done.append((m, outcome.state, outcome.error_code))
        if done:
            self.finish_many(done)

    def _backend_failed(self, failure: Failure, message_id: str) -> None:
        log.failure("delivery backend failed for {message_id}", failure, message_id=message_id)
        m = self.unfinished.get(message_id)
        if m is not None:
            self.finish(m, MessageState.UNKNOWN)

    def finish(self, m: Message, state: int, error_code: int = 0) -> Deferred[None]:
        """Move ``m`` to a final state, persist it with the receipt it causes."""
        return self.finish_many([(m, state, error_code)])

    def finish_many(self, entries: Sequence[tuple[Message, int, int]]) -> Deferred[None]:
        """Move messages to final states; persist them with the receipts they
        cause, in one store call; the receipts go to the outbox once the store
        has the final states."""
        now = self.clock.seconds()
        receipt_validity = now + self.config.receipt_validity
        publish = self.events.publish if self.events else None
        updates: list[tuple[Message, Sequence[OutboxItem]]] = []
        all_items: list[OutboxItem] = []
        delivered = 0
        untrack = self._untrack if self._expiry_buckets else None
        unfinished = self.unfinished
        for m, state, error_code in entries:
            if untrack is not None:
                untrack(m)
            else:
                unfinished.pop(m.message_id, None)  # nothing to take out of the expiry watch
            self._unindex(m)
            # A new record, not a change in place (see smppd.model): the store
            # may still be reading ``m`` from a thread of its own.
            final = m = finished(m, state, now, error_code)
            wanted = m.registered_delivery & 0x03  # needs_receipt(final), inlined
            if wanted == 1 or (wanted == 2 and state != MessageState.DELIVERED):
                item = OutboxItem(
                    "r" + m.message_id,  # the one final receipt of this message
                    m.system_id,
                    OutboxItem.RECEIPT,
                    m.message_id,
                    receipt_pdu(final),
                    now,
                    receipt_validity,
                )
                updates.append((final, [item]))
                all_items.append(item)
            else:
                updates.append((final, ()))
            if state == MessageState.DELIVERED:
                delivered += 1
            if publish is not None:
                self._publish_final(publish, final, final.registered_delivery & 0x03 != 0 and needs_receipt(final))
        self.counters["delivered"] += delivered
        self.counters["failed"] += len(entries) - delivered
        d = self.store.finish_messages(updates)
        if not d.called:
            self._pending_writes.add(d)
            d.addBoth(self._write_done, d)
        return d.addCallbacks(self._finished_stored, self._final_write_failed, callbackArgs=(all_items,), errbackArgs=(updates, all_items))

    def _final_write_failed(
        self, failure: Failure, updates: list[tuple[Message, Sequence[OutboxItem]]], items: list[OutboxItem]
    ) -> Deferred[None]:
        """The store did not take final states: keep them (and their receipts)
        for a retry with back-off; the returned Deferred fires once durable."""
        self.counters["final_write_failures"] += 1
        if self._unwritten_failures == 0:
            log.failure("store failed to write {n} final state(s); retrying until it takes them", failure, n=len(updates))
        self._unwritten_failures += 1
        done: Deferred[None] = Deferred()
        self._unwritten.append((updates, items, done))
        self._pending_writes.add(done)
        done.addBoth(self._write_done, done)
        self._arm_unwritten()
        return done

    def _arm_unwritten(self) -> None:
        """One retry timer for every unwritten final state: 1 s, doubling, at most 60 s."""
        if self._unwritten_call is None and self.accepting:
            delay = min(60.0, 2.0 ** min(self._unwritten_failures - 1, 6))
            self._unwritten_call = self.clock.callLater(delay, self._write_unwritten)

    def _write_unwritten(self) -> None:
        self._unwritten_call = None
        batches, self._unwritten = self._unwritten, []
        updates = [u for batch, _items, _d in batches for u in batch]
        items = [i for _batch, its, _d in batches for i in its]

        def stored(_: object) -> None:
            if self._unwritten_failures:
                log.info("store took the {n} final state(s) it had failed to write", n=len(updates))
            self._unwritten_failures = 0
            self._finished_stored(None, items)
            for _batch, _its, d in batches:
                d.callback(None)

        def failed(failure: Failure) -> None:
            self.counters["final_write_failures"] += 1
            self._unwritten_failures += 1
            log.debug("store still failing final states: {e}", e=failure.value)
            self._unwritten[:0] = batches
            self._arm_unwritten()

        self.store.finish_messages(updates).addCallbacks(stored, failed)

    def _publish_final(self, publish: Any, final: Message, receipt: bool) -> None:
        now = final.final_at or 0.0
        if final.state == MessageState.DELIVERED:
            publish(ev.SmsDelivered(at=now, message_id=final.message_id, system_id=final.system_id, destination_addr=final.destination_addr))
        else:
            publish(
                ev.SmsFailed(
                    at=now,
                    message_id=final.message_id,
                    system_id=final.system_id,
                    destination_addr=final.destination_addr,
                    state=stat_for_state(final.state),
                    error_code=final.error_code,
                )
            )
        if receipt:
            publish(
                ev.DeliveryReport(
                    at=now,
                    message_id=submission_id(final),
                    system_id=final.system_id,
                    state=stat_for_state(final.state),
                    error_code=final.error_code,
                )
            )

    def _receipt_item(self, m: Message, now: float, *, intermediate: bool = False) -> OutboxItem:
        if intermediate:
            m = attrs.evolve(m, state=MessageState.ENROUTE)
        return OutboxItem(
            item_id=("i" if intermediate else "r") + m.message_id,
            system_id=m.system_id,
            kind=OutboxItem.RECEIPT,
            message_id=m.message_id,
            pdu=receipt_pdu(m, intermediate=intermediate),
            created_at=now,
            expires_at=now + self.config.receipt_validity,
        )

    def _finished_stored(self, _: object, items: list[OutboxItem]) -> None:
        if not items:
            return None
        by_system: dict[str, list[OutboxItem]] = {}
        for item in items:
            by_system.setdefault(item.system_id, []).append(item)
        for system_id, its in by_system.items():
            self.dispatcher(system_id).add(its)

    def _put_outbox(self, items: list[OutboxItem]) -> None:
        d = self.store.outbox_put(items)
        d.addCallbacks(self._outbox_stored, self._store_failed, callbackArgs=(items,), errbackArgs=("outbox_put",))

    def _outbox_stored(self, _: object, items: list[OutboxItem]) -> None:
        by_system: dict[str, list[OutboxItem]] = {}
        for item in items:
            by_system.setdefault(item.system_id, []).append(item)
        for system_id, its in by_system.items():
            self.dispatcher(system_id).add(its)

    def _store_failed(self, failure: Failure, what: str) -> None:
        log.failure("store {what} failed", failure, what=what)

    # -- outbox results (called by dispatchers) --------------------------------

    def outbox_live(self, item: OutboxItem) -> bool:
        """Whether an item still needs delivering (its message was not cancelled)."""
        return item.kind != OutboxItem.MESSAGE or item.message_id in self.unfinished

    def outbox_delivered(self, item: OutboxItem) -> None:
        """deliver_sm_resp ESME_ROK for ``item``."""
        self._remove_item(item.item_id)
        if item.kind == OutboxItem.MESSAGE:
            m = self.unfinished.get(item.message_id)
            if m is not None:
                self.finish(m, MessageState.DELIVERED)
        else:
            self.counters["receipts_sent"] += 1
            self.stats.receipts[item.system_id] += 1
            issued = issued_at(item.message_id)
            if issued is not None:
                self.stats.receipt_latency.observe(max(0.0, self.clock.seconds() - issued))

    def outbox_rejected(self, item: OutboxItem, status: int) -> None:
        self._remove_item(item.item_id)
        if item.kind == OutboxItem.MESSAGE:
            m = self.unfinished.get(item.message_id)
            if m is not None:
                self.finish(m, MessageState.UNDELIVERABLE, status & 0xFFFF)
        else:
            log.warn(
                "{system_id} rejected receipt for {message_id} permanently (0x{status:X}); dropped",
                system_id=item.system_id,
                message_id=item.message_id,
                status=status,
            )

    def outbox_expired(self, item: OutboxItem) -> None:
        self._remove_item(item.item_id)
        if item.kind == OutboxItem.MESSAGE:
            m = self.unfinished.get(item.message_id)
            if m is not None:
                self.finish(m, MessageState.EXPIRED)
        else:
            log.info(
                "receipt for {message_id} to {system_id} expired undelivered",
                message_id=item.message_id,
                system_id=item.system_id,
            )

    def outbox_retry(self, item: OutboxItem) -> None:
        self.store.outbox_update([item]).addErrback(self._store_failed, "outbox_update")

    def _remove_item(self, item_id: str) -> None:
        """Remove a delivered/expired item: one store call per reactor turn."""
        self._removals.append(item_id)
        if self._removal_call is None:
            self._removal_call = self.clock.callLater(0, self._flush_removals)

    def _flush_removals(self) -> None:
        if self._removal_call is not None and self._removal_call.active():
            self._removal_call.cancel()
        self._removal_call = None
        ids, self._removals = self._removals, []
        if ids:
            self.store.outbox_remove(ids).addErrback(self._store_failed, "outbox_remove")

    # -- timers ----------------------------------------------------------------

    def _arm_expiry(self) -> None:
        if self._expiry_call is not None and self._expiry_call.active():
            self._expiry_call.cancel()
        self._expiry_call = None
        keys = self._expiry_keys
        while keys and not self._expiry_buckets.get(keys[0]) and keys[0] not in self._outbox_expiry:
            self._expiry_buckets.pop(heapq.heappop(keys), None)  # emptied by finished messages
        if keys:
            delay = max(0.0, keys[0] - self.clock.seconds())
            self._expiry_call = self.clock.callLater(delay, self._expire_due)

    def _expire_due(self) -> None:
        self._expiry_call = None
        now = self.clock.seconds()
        keys = self._expiry_keys
        expired: list[tuple[Message, int, int]] = []
        outbox = self._outbox_expiry
        due: set[str] = set()
        while keys and keys[0] <= now:
            key = heapq.heappop(keys)
            if outbox:
                due.update(outbox.pop(key, ()))
            for message_id in self._expiry_buckets.pop(key, ()):
                m = self.unfinished.get(message_id)
                if m is not None and m.expires_at is not None and m.expires_at <= now:
                    expired.append((m, MessageState.EXPIRED, 0))
        if expired:
            self.finish_many(expired)
        for system_id in due:
            disp = self.dispatchers.get(system_id)
            if disp is not None:
                disp.expire(now)
        self._arm_expiry()

    def watch_outbox_expiry(self, system_id: str, expires_at: float) -> None:
        """Expire ``system_id``'s outbox items at ``expires_at`` (called by its
        dispatcher for each second its items expire in)."""
        key = int(expires_at) + 1
        watched = self._outbox_expiry.get(key)
        if watched is not None:
            watched.add(system_id)
            return
        self._outbox_expiry[key] = {system_id}
        heapq.heappush(self._expiry_keys, key)
        if self._expiry_call is None or self._expiry_call.getTime() > key:
            self._arm_expiry()

    def _arm_schedule(self) -> None:
        if self._schedule_call is not None and self._schedule_call.active():
            if self._schedule_call.getTime() <= self._schedule[0][0]:
                return
            self._schedule_call.cancel()
        delay = max(0.0, self._schedule[0][0] - self.clock.seconds())
        self._schedule_call = self.clock.callLater(delay, self._schedule_due)

    def _schedule_due(self) -> None:
        self._schedule_call = None
        now = self.clock.seconds()
        while self._schedule and self._schedule[0][0] <= now:
            at, message_id = heapq.heappop(self._schedule)
            m = self.unfinished.get(message_id)
            # (a replaced message can have two entries: only a held one starts)
            if m is not None and m.schedule_at == at and message_id in self._waiting:
                self._release(message_id)
                self._start(m)
        if self._schedule:
            self._arm_schedule()

    # -- query, cancel, replace -------------------------------------------------

    def _hold(self, m: Message) -> None:
        key = (m.system_id, m.source_addr, m.destination_addr, m.service_type)
        self._waiting[m.message_id] = key
        self._waiting_by_key[key] = m.message_id

    def _release(self, message_id: str) -> None:
        key = self._waiting.pop(message_id, None)
        if key is not None and self._waiting_by_key.get(key) == message_id:
            del self._waiting_by_key[key]

    def _unindex(self, m: Message) -> None:
        if self._waiting:
            self._release(m.message_id)
        key = (m.system_id, m.source_addr, m.destination_addr)
        ids = self._by_addr.get(key)
        if ids is not None:
            ids.pop(m.message_id, None)
            if not ids:
                del self._by_addr[key]

    def waiting_for(self, system_id: str, source_addr: str, destination_addr: str, service_type: str) -> str | None:
        """The id of the latest message of ``system_id`` still held for its
        schedule with these addresses and service_type (replace_if_present)."""
        return self._waiting_by_key.get((system_id, source_addr, destination_addr, service_type))

    def lookup(self, message_id: str) -> Deferred[Message | None]:
        m = self.unfinished.get(message_id)
        if m is not None:
            return succeed(m)
        return self.store.get_message(message_id)

    def lookup_all(self, message_id: str, system_id: str) -> Deferred[list[Message]]:
        """A message and, for a submit_multi id of ``system_id``, every
        destination of it (``id``, ``id-2`` ... ``id-n``); empty when unknown.
        (Another account's message comes alone: the caller refuses it.)"""
        d = self.lookup(message_id)

        def more(first: Message | None) -> Any:
            if first is None:
                return []
            if first.submitted_as != "submit_multi" or first.sub_count <= 1 or "-" in message_id or first.system_id != system_id:
                return [first]  # (our ids have no "-": the submit_multi id is the first destination's)
            rest = [self.lookup(f"{message_id}-{i}") for i in range(2, first.sub_count + 1)]
            dl = DeferredList(rest, fireOnOneErrback=True, consumeErrors=True)
            dl.addCallback(lambda results: [first] + [m for _ok, m in results if m is not None])
            return dl

        d.addCallback(more)
        return d  # type: ignore[return-value]

    def cancel(
        self, system_id: str, message_id: str, source_addr: str, destination_addr: str, service_type: str
    ) -> Deferred[int]:
        """ESME_ROK when at least one matching unfinished message of
        ``system_id`` was cancelled, else ESME_RCANCELFAIL. A submit_multi id
        cancels every destination still unfinished."""
        unfinished = self.unfinished
        if message_id:
            m = unfinished.get(message_id)
            targets = [m] if m is not None else []
            probe = m if m is not None or "-" in message_id else unfinished.get(f"{message_id}-2")
            if probe is not None and probe.submitted_as == "submit_multi" and "-" not in message_id:
                for i in range(2, probe.sub_count + 1):
                    other = unfinished.get(f"{message_id}-{i}")
                    if other is not None:
                        targets.append(other)
        else:
            ids = self._by_addr.get((system_id, source_addr, destination_addr), {})
            targets = [unfinished[i] for i in ids if i in unfinished]
            if service_type:
                targets = [m for m in targets if m.service_type == service_type]
        targets = [
            m
            for m in targets
            if m.system_id == system_id
            and (not source_addr or m.source_addr == source_addr)
            and (not destination_addr or m.destination_addr == destination_addr)
        ]
        if not targets:
            return succeed(S.ESME_RCANCELFAIL)
        d = self.finish_many([(m, MessageState.DELETED, 0) for m in targets])
        d.addCallback(lambda _: S.ESME_ROK)
        return d  # type: ignore[return-value]

    def replace(self, system_id: str, replacement: Message) -> Deferred[int]:
        """Replace a message still held for its schedule (replace_sm, and
        submit_sm with replace_if_present_flag=1). A message already handed
        to routing or the delivery backend cannot be replaced:
        ESME_RREPLACEFAIL, as for an unknown id or another tenant's. A
        replacement whose schedule is now or past starts at once."""
        message_id = replacement.message_id
        current = self.unfinished.get(message_id)
        if (
            current is None
            or message_id not in self._waiting
            or current.system_id != system_id
            or current.source_addr != replacement.source_addr
        ):
            return succeed(S.ESME_RREPLACEFAIL)
        d = self.store.update_message(replacement)

        def stored(_: object) -> int:
            now_current = self.unfinished.get(message_id)
            if now_current is None or message_id not in self._waiting:
                return S.ESME_RREPLACEFAIL  # started, cancelled or expired meanwhile
            self._untrack(now_current)  # (out of unfinished and the expiry watch)
            self._track(replacement)
            at = replacement.schedule_at
            if at is not None and at > self.clock.seconds():
                if at != now_current.schedule_at:
                    schedule = self._schedule
                    heapq.heappush(schedule, (at, message_id))
                    if len(schedule) > 2 * len(self._waiting) + 1024:
                        # Mostly entries left by replaced schedules (a peer can
                        # make them at will): rebuild, amortised O(1) per replace.
                        schedule[:] = [
                            (m.schedule_at, i)
                            for i in self._waiting
                            if (m := self.unfinished.get(i)) is not None and m.schedule_at is not None
                        ]
                        heapq.heapify(schedule)
                    self._arm_schedule()
                self._hold(replacement)
            else:
                self._release(message_id)
                self._start(replacement)
            return S.ESME_ROK

        d.addCallback(stored)
        return d  # type: ignore[return-value]

    # -- helpers for sessions ----------------------------------------------------

    def expand_destinations(self, dl_name: str) -> Sequence[str] | None:
        return self.config.distribution_lists.get(dl_name)
