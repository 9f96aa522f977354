"""Delivery backends: what happens to a message no bound ESME takes.

:class:`SimulatorBackend` is the default "network": after a configurable delay
it gives each message a final state chosen by rules on the destination
address, so a tester can produce every outcome (DELIVRD, UNDELIV, EXPIRED,
REJECTD, ...) on purpose.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from smppd.interfaces import IDeliveryBackend
from smppd.model import Message
from smppd.pdu.constants import MessageState

STATE_BY_NAME: dict[str, MessageState] = {
    "DELIVRD": MessageState.DELIVERED,
    "DELIVERED": MessageState.DELIVERED,
    "EXPIRED": MessageState.EXPIRED,
    "DELETED": MessageState.DELETED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "UNDELIVERABLE": MessageState.UNDELIVERABLE,
    "ACCEPTD": MessageState.ACCEPTED,
    "UNKNOWN": MessageState.UNKNOWN,
    "REJECTD": MessageState.REJECTED,
    "REJECTED": MessageState.REJECTED,
}


@attrs.frozen
class DeliveryOutcome:
    """The state a message reached, and the network error code to report."""

    state: int
    error_code: int = 0


@attrs.frozen
class SimulatorRule:
    """Destinations starting with ``prefix`` end in ``state`` after ``delay`` s."""

    prefix: str
    state: int
    delay: float = 0.0
    error_code: int = 0


BatchCallback = Callable[[list[tuple[str, DeliveryOutcome]]], None]


@implementer(IDeliveryBackend)
class SimulatorBackend:
    """Simulates the network: a final state after a delay, steered by rules.

    The longest matching prefix wins; with no match the default applies
    (DELIVRD after ``default_delay``). Messages under the same rule finish in
    the order they came, so one timer per rule serves any number of them, and
    :meth:`deliver_batch` reports each timer's outcomes in one call.
    """

    def __init__(
        self,
        clock: IReactorTime,
        rules: Iterable[SimulatorRule] = (),
        *,
        default_state: int = MessageState.DELIVERED,
        default_delay: float = 0.0,
        default_error_code: int = 0,
    ) -> None:
        self.clock = clock
        self.rules = sorted(rules, key=lambda r: len(r.prefix), reverse=True)
        self.default = SimulatorRule("", default_state, default_delay, default_error_code)
        self._all = [*self.rules, self.default]
        self._outcome = [DeliveryOutcome(r.state, r.error_code) for r in self._all]
        # per rule index: (due time, Deferred or (callback, message_id))
        self._queues: list[deque[tuple[float, Any]]] = [deque() for _ in self._all]
        self._timers: list[Any] = [None] * len(self._all)

    def rule_for(self, destination: str) -> SimulatorRule:
        return self._all[self._index(destination)]

    def _index(self, destination: str) -> int:
        for i, rule in enumerate(self.rules):
            if destination.startswith(rule.prefix):
                return i
        return len(self.rules)

    def deliver(self, message: Message) -> Deferred[DeliveryOutcome]:
        d: Deferred[DeliveryOutcome] = Deferred()
        self._queue(self._index(message.destination_addr), d)
        return d

    def deliver_batch(self, messages: list[Message], callback: BatchCallback) -> None:
        """Deliver messages; ``callback`` gets ``[(message_id, outcome), ...]``
        once per timer instead of a Deferred per message (at once, without a
        timer, for rules with no delay)."""
        rules = self.rules
        now: list[tuple[str, DeliveryOutcome]] = []
        for m in messages:
            i = self._index(m.destination_addr) if rules else 0
            if self._all[i].delay <= 0:
                now.append((m.message_id, self._outcome[i]))
            else:
                self._queue(i, (callback, m.message_id))
        if now:
            callback(now)

    def _queue(self, i: int, target: Any) -> None:
        delay = self._all[i].delay
        self._queues[i].append((self.clock.seconds() + delay, target))
        if self._timers[i] is None:
            self._timers[i] = self.clock.callLater(delay, self._due, i)

    def _due(self, i: int) -> None:
        self._timers[i] = None
        queue = self._queues[i]
        now = self.clock.seconds()
        outcome = self._outcome[i]
        batches: dict[Any, list[tuple[str, DeliveryOutcome]]] = {}
        while queue and queue[0][0] <= now:
            target = queue.popleft()[1]
            if isinstance(target, Deferred):
                target.callback(outcome)
            else:
                callback, message_id = target
                batch = batches.get(callback)
                if batch is None:
                    batch = batches[callback] = []
                batch.append((message_id, outcome))
        if queue:
            self._timers[i] = self.clock.callLater(queue[0][0] - now, self._due, i)
        for callback, batch in batches.items():
            callback(batch)

    @property
    def pending(self) -> int:
        return sum(len(q) for q in self._queues)

    def stop(self) -> None:
        """Cancel timers; messages still in flight stay unfinished (and are
        recovered from the store at the next start)."""
        for call in self._timers:
            if call is not None and call.active():
                call.cancel()
        self._timers = [None] * len(self._all)
        for queue in self._queues:
            queue.clear()
