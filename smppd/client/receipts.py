"""Matching delivery receipts to the messages they report on.

A message is one or more segments, each with the id its submit_sm_resp
carried. :meth:`ReceiptTracker.expect` returns a Deferred that fires once
every segment has a final state (or the receipt timeout passes);
:meth:`ReceiptTracker.track` calls a function instead (no Deferred per message). Receipt ids
are matched whether the SMSC writes them in hex, decimal, zero-padded or
another case (:class:`~smppd.text.receipt.MessageIdIndex`). A receipt that
arrives before its submit_sm_resp was processed (it happens) is kept for a
while as an orphan and matched when the id is registered.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from smppd.pdu import MessageState
from smppd.text.receipt import MessageIdIndex, message_id_keys, normalize_message_id, stat_for_state

log = Logger()
_NOT_FINAL = frozenset({MessageState.ENROUTE, MessageState.ACCEPTED, MessageState.SCHEDULED})
_NEVER = float("inf")
_DELIVERED = int(MessageState.DELIVERED)


@attrs.frozen
class MessageOutcome:
    """Where a message ended: one state per segment, and the overall one.

    The overall state is DELIVERED only when every segment was delivered;
    otherwise the first segment's failure state. ``timed_out`` means some
    receipt never came within the receipt timeout (those segments have
    state UNKNOWN).
    """

    message_ids: tuple[str, ...]
    states: tuple[int, ...]
    error_codes: tuple[int, ...]
    timed_out: bool = False

    @property
    def state(self) -> int:
        for s in self.states:
            if s != _DELIVERED:
                return s
        return MessageState.DELIVERED

    @property
    def delivered(self) -> bool:
        states = self.states
        return states.count(_DELIVERED) == len(states)

    @property
    def stat(self) -> str:
        return stat_for_state(self.state)


class _One:
    """A tracked message of one segment, most of them: its first final
    receipt finishes it, so it needs no per-segment lists (the index holds it
    as is). The handle :meth:`ReceiptTracker.track` returns: ``since`` is when
    it was tracked, and ``waiters`` (None until set) is free for the caller
    (the client keeps its ``outcome()`` Deferreds there)."""

    __slots__ = ("deadline", "done", "finished", "ids", "since", "waiters")

    def __init__(self, ids: tuple[str, ...], since: float, deadline: float, done: Callable[[MessageOutcome], object] | None) -> None:
        self.ids = ids
        self.since = since
        self.deadline = deadline
        self.done = done
        self.finished = False
        self.waiters: list[Any] | None = None


class _Tracked(_One):
    """A tracked message of several segments: a state and an error code per
    segment (the index holds a ``(message, segment)`` pair for each of its ids)."""

    __slots__ = ("errors", "remaining", "states")

    def __init__(self, ids: tuple[str, ...], since: float, deadline: float, done: Callable[[MessageOutcome], object] | None) -> None:
        super().__init__(ids, since, deadline, done)
        self.states: list[int] = [0] * len(ids)
        self.errors: list[int] = [0] * len(ids)
        self.remaining = len(ids)


#: What :meth:`ReceiptTracker.track` returns: the tracked message.
TrackedMessage = _One


def _deadline_of(tracked: _One) -> float:
    return tracked.deadline


class ReceiptTracker:
    """Receipts -> the Deferreds of the messages they belong to.

    Every message gets the same timeout, so deadlines come in the order the
    messages are tracked: they wait in a deque (a message tracked while the
    clock was set back is put in its place), and one timer, armed for the
    earliest deadline, finishes what expired. Orphans are indexed by every
    id spelling a submitted id would find them by.

    ``finished(tracked, outcome)``, when given, is called for a message
    tracked without a ``done`` function of its own: one method for every
    message instead of a closure each.
    """

    def __init__(
        self,
        clock: IReactorTime,
        timeout: float,
        *,
        orphan_ttl: float = 120.0,
        max_orphans: int = 100_000,
        finished: Callable[[_One, MessageOutcome], object] | None = None,
    ) -> None:
        self.clock = clock
        self.finished = finished
        self.timeout = timeout
        self.orphan_ttl = orphan_ttl
        self.max_orphans = max_orphans
        self._index: MessageIdIndex[_One | tuple[_Tracked, int]] = MessageIdIndex()
        self._expiry: deque[_One] = deque()  # by deadline
        self._live = 0  # tracked messages not yet finished
        self._timer: Any = None
        self._timer_at = _NEVER  # when _timer fires (_NEVER: no timer)
        self._orphans: OrderedDict[str, tuple[float, int, int]] = OrderedDict()
        self._orphan_keys: dict[str, list[str]] = {}  # each of message_id_keys(orphan id) -> orphan ids
        self.matched = 0
        self.unmatched = 0

    def __len__(self) -> int:
        return len(self._index)

    def expect(self, message_ids: tuple[str, ...] | list[str]) -> Deferred[MessageOutcome]:
        """A Deferred firing with the outcome once every segment is final."""
        d: Deferred[MessageOutcome] = Deferred()
        self.track(message_ids, d.callback)
        return d

    def track(
        self,
        message_ids: tuple[str, ...] | list[str],
        done: Callable[[MessageOutcome], object] | None = None,
        now: float | None = None,
        *,
        orphans: bool = True,
    ) -> TrackedMessage:
        """Call ``done(outcome)`` once every segment is final (or the receipt
        timeout passed): :meth:`expect` without a Deferred. Without ``done``,
        the tracker's ``finished(tracked, outcome)`` is called instead. An
        exception from either is logged. ``now``: the clock's time, when the
        caller has just read it. Returns the tracked message.

        Receipts that came before (orphans) finish it at once, before this
        returns; with ``orphans=False`` they wait for :meth:`match_orphans`
        (for a caller that must first note the returned message)."""
        ids = message_ids if message_ids.__class__ is tuple else tuple(message_ids)
        if now is None:
            now = self.clock.seconds()
        deadline = now + self.timeout
        tracked: _One
        if len(ids) == 1:
            tracked = _One(ids, now, deadline, done)
            self._index.put(ids[0], tracked)
        else:
            tracked = _Tracked(ids, now, deadline, done)
            put = self._index.put
            for i, message_id in enumerate(ids):
                put(message_id, (tracked, i))
        expiry = self._expiry
        if expiry and deadline < expiry[-1].deadline:
            bisect.insort(expiry, tracked, key=_deadline_of)  # the clock went back
        else:
            expiry.append(tracked)
        self._live += 1
        if deadline < self._timer_at:
            self._arm()
        if orphans and self._orphans:
            self.match_orphans(tracked)
        return tracked

    def match_orphans(self, tracked: TrackedMessage) -> None:
        """Apply the kept receipts (orphans) that belong to ``tracked``."""
        if self._orphans:
            for message_id in tracked.ids:
                orphan = self._take_orphan(message_id)
                if orphan is not None:
                    self.receipt(message_id, orphan[1], orphan[2])

    def receipt(self, message_id: str, state: int, error_code: int = 0) -> bool:
        """Record a receipt; True when it matched a tracked segment."""
        if state in _NOT_FINAL:
            if self._index.find(message_id) is None:
                self.unmatched += 1
                return False
            self.matched += 1
            return True
        found = self._index.take(message_id)
        if found is None:
            self.unmatched += 1
            self._keep_orphan(message_id, state, error_code)
            return False
        self.matched += 1
        value = found[1]
        if value.__class__ is _One:
            one: _One = value
            if not one.finished:
                self._done(one, MessageOutcome(one.ids, (state,), (error_code,), False))
            return True
        tracked, i = value  # type: ignore[misc]
        if not tracked.states[i]:
            tracked.remaining -= 1
        tracked.states[i] = state
        tracked.errors[i] = error_code
        if tracked.remaining == 0:
            self._finish(tracked, timed_out=False)
        return True

    def _finish(self, tracked: _One, *, timed_out: bool) -> None:
        if tracked.finished:
            return
        if tracked.__class__ is _One:
            # (only a timeout finishes a one-segment message here)
            outcome = MessageOutcome(tracked.ids, (MessageState.UNKNOWN,), (0,), timed_out)
        else:
            t: _Tracked = tracked  # type: ignore[assignment]
            # (a segment without a final state is left only by a timeout; final states are never 0)
            states = tuple(s or MessageState.UNKNOWN for s in t.states) if timed_out else tuple(t.states)
            outcome = MessageOutcome(t.ids, states, tuple(t.errors), timed_out)
        self._done(tracked, outcome)

    def _done(self, tracked: _One, outcome: MessageOutcome) -> None:
        tracked.finished = True
        self._live -= 1
        expiry = self._expiry
        if len(expiry) > 2 * self._live + 1024:
            # Mostly finished messages waiting for their timeout: drop them
            # (amortised O(1) per message; an entry per message would
            # otherwise live for the whole receipt timeout).
            live = [e for e in expiry if not e.finished]
            expiry.clear()
            expiry.extend(live)
        try:
            if tracked.done is not None:
                tracked.done(outcome)
            elif self.finished is not None:
                self.finished(tracked, outcome)
        except Exception:
            log.failure("receipt outcome handler failed")

    # -- orphans -------------------------------------------------------------

    def _keep_orphan(self, message_id: str, state: int, error_code: int) -> None:
        now = self.clock.seconds()
        orphans = self._orphans
        if message_id not in orphans:
            for key in message_id_keys(message_id):
                self._orphan_keys.setdefault(key, []).append(message_id)
        orphans[message_id] = (now + self.orphan_ttl, state, error_code)
        while len(orphans) > self.max_orphans:
            self._forget_orphan(orphans.popitem(last=False)[0])
        self._arm()

    def _forget_orphan(self, orphan_id: str) -> None:
        """Drop an orphan (already out of ``_orphans``) from ``_orphan_keys``."""
        keys = self._orphan_keys
        for key in message_id_keys(orphan_id):
            same = keys.get(key)
            if same is not None:
                same.remove(orphan_id)
                if not same:
                    del keys[key]

    def _take_orphan(self, message_id: str) -> tuple[float, int, int] | None:
        """The first kept orphan whose id ``message_id`` would be found by
        (``MessageIdIndex`` rules), removed; else None."""
        candidates = self._orphan_keys.get(normalize_message_id(message_id))
        if not candidates:
            return None
        if len(candidates) == 1:
            orphan_id = candidates[0]
        else:  # several spellings of one id came as orphans: the oldest first
            wanted = set(candidates)
            orphan_id = next(o for o in self._orphans if o in wanted)
        self._forget_orphan(orphan_id)
        return self._orphans.pop(orphan_id)

    # -- expiry --------------------------------------------------------------

    def _arm(self) -> None:
        at = _NEVER
        if self._expiry:
            at = self._expiry[0].deadline
        if self._orphans:
            at = min(at, next(iter(self._orphans.values()))[0])
        if at == _NEVER or self._timer_at <= at:
            return
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer_at = at
        self._timer = self.clock.callLater(max(0.0, at - self.clock.seconds()), self._expire)

    def _expire(self) -> None:
        self._timer = None
        self._timer_at = _NEVER
        now = self.clock.seconds()
        expiry = self._expiry
        while expiry and expiry[0].deadline <= now:
            tracked = expiry.popleft()
            if tracked.finished:
                continue
            if tracked.__class__ is _One:
                self._forget(tracked.ids[0], tracked)
            else:
                t: _Tracked = tracked  # type: ignore[assignment]
                for i, message_id in enumerate(t.ids):
                    if not t.states[i]:
                        self._forget(message_id, t)
            self._finish(tracked, timed_out=True)
        while self._orphans:
            orphan_id, (deadline, _, _) = next(iter(self._orphans.items()))
            if deadline > now:
                break
            del self._orphans[orphan_id]
            self._forget_orphan(orphan_id)
        self._arm()

    def _forget(self, message_id: str, tracked: _One) -> None:
        """Drop ``message_id`` from the index if it still stands for ``tracked``
        (an SMSC that gave the same id twice: the later message has it now)."""
        found = self._index.find(message_id)
        if found is None:
            return
        value = found[1]
        if value is tracked or (value.__class__ is tuple and value[0] is tracked):
            self._index.pop(message_id)

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._timer_at = _NEVER
