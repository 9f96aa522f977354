"""Retention: final messages are dropped ``retention`` seconds after ``final_at``.

Every store owns a :class:`Pruner`. Once the store is open, the pruner asks
it, on the store's clock, to drop one bounded batch of final messages whose
``final_at`` is older than ``now - retention``: as the open completes (before
anyone waiting for the open hears of it), then every ``interval`` seconds, or
on the next reactor turn while batches come back full (a
``LoopingCall``). The store does the dropping its own way (the memory state pops the
oldest final messages; SQLite runs one ``DELETE ... LIMIT n`` on its writer
thread, through the index on ``final_at``), so a round with nothing to drop
costs a look at the oldest final message. Unfinished messages and outbox
items are never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger

log = Logger()

#: what the server uses when the configuration says nothing: a week
DEFAULT_RETENTION = 7 * 24 * 3600.0
#: seconds between two pruning rounds
PRUNE_INTERVAL = 60.0


def check_retention(retention: float | None) -> float | None:
    """``retention`` as the stores keep it: None (or 0) keeps every message."""
    if retention is None or retention == 0:
        return None
    if isinstance(retention, bool) or not math.isfinite(retention) or retention < 0:
        raise ValueError(f"retention must be a number of seconds >= 0, not {retention!r}")
    return float(retention)


class Pruner:
    """Runs ``prune(before, limit) -> Deferred[int]`` (messages dropped)
    periodically on ``clock`` from :meth:`start` to :meth:`stop`.

    ``clock`` may be None until :meth:`start` (the global reactor then).
    """

    def __init__(
        self,
        name: str,
        clock: Any,
        retention: float | None,
        prune: Callable[[float, int], Deferred[int]],
        *,
        batch: int,
        interval: float = PRUNE_INTERVAL,
    ) -> None:
        if batch < 1:
            raise ValueError("the prune batch must be at least 1")
        if interval <= 0:
            raise ValueError("the prune interval must be positive")
        self.name = name
        self.retention = check_retention(retention)
        self._clock = clock
        self._prune = prune
        self._batch = batch
        self._interval = interval
        self._loop: LoopingCall | None = None
        self._stopped = False
        #: final messages dropped since the store was made
        self.pruned = 0

    def _time(self) -> Any:
        if self._clock is None:
            from twisted.internet import reactor

            self._clock = reactor
        return self._clock

    def cutoff(self) -> float | None:
        """Final messages whose ``final_at`` is older than this go; None: keep all."""
        if self.retention is None:
            return None
        return float(self._time().seconds()) - self.retention

    def start(self) -> None:
        """Run a first round now, then one every interval."""
        if self.retention is None or self._stopped or self._loop is not None:
            return
        loop = self._loop = LoopingCall(self._round)
        loop.clock = self._time()
        loop.start(self._interval, now=True)

    def stop(self) -> None:
        """No more rounds (a round already running finishes its batch)."""
        self._stopped = True
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def _one_batch(self) -> Deferred[int]:
        before = self.cutoff()
        if before is None:
            return succeed(0)
        return self._prune(before, self._batch).addCallback(self._counted)

    def _counted(self, n: int) -> int:
        self.pruned += n
        return n

    @inlineCallbacks
    def _round(self) -> Generator[Deferred[Any], Any, None]:
        """Batches until one comes back short, the reactor having its turn
        between two; a failure is logged and the next round tries again."""
        try:
            while not self._stopped:
                n = yield self._one_batch()
                if n < self._batch:
                    return
                yield deferLater(self._time(), 0, lambda: None)
        except Exception as e:
            if not self._stopped:  # (the store closed under the round: nothing to report)
                log.error("{name}: pruning old final messages failed: {error}", name=self.name, error=e)

    @inlineCallbacks
    def prune(self) -> Generator[Deferred[int], int, int]:
        """Drop every final message due now, batch after batch; fires with
        how many went."""
        total = 0
        while True:
            n = yield self._one_batch()
            total += n
            if n < self._batch:
                return total


class Retained:
    """What a store with a :class:`Pruner` (``self._pruner``) shows of it."""

    _pruner: Pruner

    @property
    def retention(self) -> float | None:
        """Seconds a final message is kept after ``final_at``; None: forever."""
        return self._pruner.retention

    @property
    def pruned(self) -> int:
        """Final messages dropped by retention so far (the metric)."""
        return self._pruner.pruned

    def prune(self) -> Deferred[int]:
        """Drop now every final message older than the retention (also done
        periodically once the store is open); fires with how many went."""
        return self._pruner.prune()
