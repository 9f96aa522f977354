"""Delivery backends: what happens to a message no bound ESME takes.

:class:`SimulatorBackend` is the default "network": after a configurable delay
it gives each message a final state chosen by rules on the destination
address, so a tester can produce every outcome (DELIVRD, UNDELIV, EXPIRED,
REJECTD, ...) on purpose.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
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


@implementer(IDeliveryBackend)
class SimulatorBackend:
    """Simulates the network: a final state after a delay, steered by rules.

    The longest matching prefix wins; with no match the default applies
    (DELIVRD after ``default_delay``). Messages with the same delay finish in
    the order they came, so one timer per rule serves any number of them.
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
        self._queues: dict[SimulatorRule, deque[tuple[float, Deferred[DeliveryOutcome]]]] = {}
        self._timers: dict[SimulatorRule, Any] = {}

    def rule_for(self, destination: str) -> SimulatorRule:
        for rule in self.rules:
            if destination.startswith(rule.prefix):
                return rule
        return self.default

    def deliver(self, message: Message) -> Deferred[DeliveryOutcome]:
        rule = self.rule_for(message.destination_addr)
        d: Deferred[DeliveryOutcome] = Deferred()
        queue = self._queues.setdefault(rule, deque())
        queue.append((self.clock.seconds() + rule.delay, d))
        if rule not in self._timers:
            self._timers[rule] = self.clock.callLater(rule.delay, self._due, rule)
        return d

    def _due(self, rule: SimulatorRule) -> None:
        del self._timers[rule]
        queue = self._queues[rule]
        now = self.clock.seconds()
        outcome = DeliveryOutcome(rule.state, rule.error_code)
        while queue and queue[0][0] <= now:
            queue.popleft()[1].callback(outcome)
        if queue:
            self._timers[rule] = self.clock.callLater(queue[0][0] - now, self._due, rule)

    @property
    def pending(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def stop(self) -> None:
        """Cancel timers; messages still in flight stay unfinished (and are
        recovered from the store at the next start)."""
        for call in self._timers.values():
            if call.active():
                call.cancel()
        self._timers.clear()
        self._queues.clear()
