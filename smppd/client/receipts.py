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

import heapq
import itertools
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from smppd.pdu import MessageState
from smppd.text.receipt import MessageIdIndex, stat_for_state

log = Logger()
_NOT_FINAL = frozenset({MessageState.ENROUTE, MessageState.ACCEPTED, MessageState.SCHEDULED})
_seq = itertools.count()


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
            if s != MessageState.DELIVERED:
                return s
        return MessageState.DELIVERED

    @property
    def delivered(self) -> bool:
        return self.state == MessageState.DELIVERED

    @property
    def stat(self) -> str:
        return stat_for_state(self.state)


class _Tracked:
    __slots__ = ("deadline", "done", "errors", "finished", "ids", "remaining", "states")

    def __init__(self, ids: tuple[str, ...], deadline: float, done: Callable[[MessageOutcome], object]) -> None:
        self.ids = ids
        self.states: list[int] = [0] * len(ids)
        self.errors: list[int] = [0] * len(ids)
        self.remaining = len(ids)
        self.deadline = deadline
        self.done = done
        self.finished = False


class ReceiptTracker:
    """Receipts -> the Deferreds of the messages they belong to."""

    def __init__(
        self, clock: IReactorTime, timeout: float, *, orphan_ttl: float = 120.0, max_orphans: int = 100_000
    ) -> None:
        self.clock = clock
        self.timeout = timeout
        self.orphan_ttl = orphan_ttl
        self.max_orphans = max_orphans
        self._index: MessageIdIndex[tuple[_Tracked, int]] = MessageIdIndex()
        self._expiry: list[tuple[float, int, _Tracked]] = []
        self._live = 0  # tracked messages not yet finished
        self._timer: Any = None
        self._orphans: OrderedDict[str, tuple[float, int, int]] = OrderedDict()
        self.matched = 0
        self.unmatched = 0

    def __len__(self) -> int:
        return len(self._index)

    def expect(self, message_ids: tuple[str, ...] | list[str]) -> Deferred[MessageOutcome]:
        """A Deferred firing with the outcome once every segment is final."""
        d: Deferred[MessageOutcome] = Deferred()
        self.track(message_ids, d.callback)
        return d

    def track(self, message_ids: tuple[str, ...] | list[str], done: Callable[[MessageOutcome], object]) -> None:
        """Call ``done(outcome)`` once every segment is final (or the receipt
        timeout passed): :meth:`expect` without a Deferred. An exception from
        ``done`` is logged."""
        ids = tuple(message_ids)
        deadline = self.clock.seconds() + self.timeout
        tracked = _Tracked(ids, deadline, done)
        put = self._index.put
        for i, message_id in enumerate(ids):
            put(message_id, (tracked, i))
        heapq.heappush(self._expiry, (deadline, next(_seq), tracked))
        self._live += 1
        timer = self._timer
        if timer is None or not timer.active() or timer.getTime() > deadline:
            self._arm()
        if self._orphans:
            for message_id in ids:
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
        tracked, i = found[1]
        self.matched += 1
        if not tracked.states[i]:
            tracked.remaining -= 1
        tracked.states[i] = state
        tracked.errors[i] = error_code
        if tracked.remaining == 0:
            self._finish(tracked, timed_out=False)
        return True

    def _finish(self, tracked: _Tracked, *, timed_out: bool) -> None:
        if tracked.finished:
            return
        tracked.finished = True
        # (a segment without a final state is left only by a timeout; final states are never 0)
        states = tuple(s or MessageState.UNKNOWN for s in tracked.states) if timed_out else tuple(tracked.states)
        self._live -= 1
        expiry = self._expiry
        if len(expiry) > 2 * self._live + 1024:
            # Mostly finished messages waiting for their timeout: drop them
            # (amortised O(1) per message; a heap entry per message would
            # otherwise live for the whole receipt timeout).
            expiry[:] = [e for e in expiry if not e[2].finished]
            heapq.heapify(expiry)
        try:
            tracked.done(MessageOutcome(tracked.ids, states, tuple(tracked.errors), timed_out))
        except Exception:
            log.failure("receipt outcome handler failed")

    # -- orphans -------------------------------------------------------------

    def _keep_orphan(self, message_id: str, state: int, error_code: int) -> None:
        now = self.clock.seconds()
        self._orphans[message_id] = (now + self.orphan_ttl, state, error_code)
        while len(self._orphans) > self.max_orphans:
            self._orphans.popitem(last=False)
        self._arm()

    def _take_orphan(self, message_id: str) -> tuple[float, int, int] | None:
        probe: MessageIdIndex[None] = MessageIdIndex()
        probe.put(message_id, None)
        for orphan_id in list(self._orphans):
            if orphan_id in probe:
                return self._orphans.pop(orphan_id)
        return None

    # -- expiry --------------------------------------------------------------

    def _arm(self) -> None:
        times = []
        if self._expiry:
            times.append(self._expiry[0][0])
        if self._orphans:
            times.append(next(iter(self._orphans.values()))[0])
        if not times:
            return
        at = min(times)
        if self._timer is not None and self._timer.active():
            if self._timer.getTime() <= at:
                return
            self._timer.cancel()
        self._timer = self.clock.callLater(max(0.0, at - self.clock.seconds()), self._expire)

    def _expire(self) -> None:
        self._timer = None
        now = self.clock.seconds()
        while self._expiry and self._expiry[0][0] <= now:
            _, _, tracked = heapq.heappop(self._expiry)
            if not tracked.finished:
                for i, message_id in enumerate(tracked.ids):
                    if not tracked.states[i]:
                        self._index.pop(message_id)
                self._finish(tracked, timed_out=True)
        while self._orphans:
            orphan_id, (deadline, _, _) = next(iter(self._orphans.items()))
            if deadline > now:
                break
            del self._orphans[orphan_id]
        self._arm()

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
