"""Matching delivery receipts to the messages they report on.

A message is one or more segments, each with the id its submit_sm_resp
carried. :meth:`ReceiptTracker.expect` returns a Deferred that fires once
every segment has a final state (or the receipt timeout passes). Receipt ids
are matched whether the SMSC writes them in hex, decimal, zero-padded or
another case (:class:`~smppd.text.receipt.MessageIdIndex`). A receipt that
arrives before its submit_sm_resp was processed (it happens) is kept for a
while as an orphan and matched when the id is registered.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from typing import Any

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from smppd.pdu import MessageState
from smppd.text.receipt import MessageIdIndex, stat_for_state

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
    __slots__ = ("d", "deadline", "errors", "ids", "remaining", "states")

    def __init__(self, ids: tuple[str, ...], deadline: float) -> None:
        self.ids = ids
        self.states: list[int] = [0] * len(ids)
        self.errors: list[int] = [0] * len(ids)
        self.remaining = len(ids)
        self.deadline = deadline
        self.d: Deferred[MessageOutcome] = Deferred()


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
        ids = tuple(message_ids)
        tracked = _Tracked(ids, self.clock.seconds() + self.timeout)
        for i, message_id in enumerate(ids):
            self._index.put(message_id, (tracked, i))
        heapq.heappush(self._expiry, (tracked.deadline, next(_seq), tracked))
        self._live += 1
        self._arm()
        if self._orphans:
            for message_id in ids:
                orphan = self._take_orphan(message_id)
                if orphan is not None:
                    self.receipt(message_id, orphan[1], orphan[2])
        return tracked.d

    def receipt(self, message_id: str, state: int, error_code: int = 0) -> bool:
        """Record a receipt; True when it matched a tracked segment."""
        found = self._index.find(message_id)
        if found is None:
            self.unmatched += 1
            if state not in _NOT_FINAL:
                self._keep_orphan(message_id, state, error_code)
            return False
        stored_id, (tracked, i) = found
        self.matched += 1
        if state in _NOT_FINAL:
            return True
        self._index.pop(stored_id)
        if not tracked.states[i]:
            tracked.remaining -= 1
        tracked.states[i] = state
        tracked.errors[i] = error_code
        if tracked.remaining == 0:
            self._finish(tracked, timed_out=False)
        return True

    def _finish(self, tracked: _Tracked, *, timed_out: bool) -> None:
        if tracked.d.called:
            return
        states = tuple(s or MessageState.UNKNOWN for s in tracked.states)
        self._live -= 1
        expiry = self._expiry
        if len(expiry) > 2 * self._live + 1024:
            # Mostly finished messages waiting for their timeout: drop them
            # (amortised O(1) per message; a heap entry per message would
            # otherwise live for the whole receipt timeout).
            expiry[:] = [e for e in expiry if not e[2].d.called and e[2] is not tracked]
            heapq.heapify(expiry)
        tracked.d.callback(MessageOutcome(tracked.ids, states, tuple(tracked.errors), timed_out))

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
            if not tracked.d.called:
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
