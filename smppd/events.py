"""Events and the bus that hands them to observers.

Events are frozen attrs values named like ``connection.bound``. The bus never
lets an observer slow or break the SMPP path: :meth:`EventBus.publish` only
appends to a bounded queue per observer and, at most once per reactor turn,
schedules a drain; an observer that raises is logged, one that returns a
Deferred gets its next event only when that fires, and when an observer's
queue is full new events for it are dropped and counted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, ClassVar

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from smppd.interfaces import IEventObserver

log = Logger()


@attrs.frozen
class Event:
    name: ClassVar[str] = "event"
    at: float  # clock seconds

    def as_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["event"] = self.name
        return data


@attrs.frozen
class ConnectionConnected(Event):
    name: ClassVar[str] = "connection.connected"
    session_id: str
    peer: str


@attrs.frozen
class ConnectionDisconnected(Event):
    name: ClassVar[str] = "connection.disconnected"
    session_id: str
    peer: str
    system_id: str | None
    reason: str


@attrs.frozen
class ConnectionBound(Event):
    name: ClassVar[str] = "connection.bound"
    session_id: str
    peer: str
    system_id: str
    bind_type: str


@attrs.frozen
class ConnectionUnbound(Event):
    name: ClassVar[str] = "connection.unbound"
    session_id: str
    peer: str
    system_id: str
    bind_type: str


@attrs.frozen
class SmsSubmitted(Event):
    name: ClassVar[str] = "sms.submitted"
    message_id: str
    system_id: str
    source_addr: str
    destination_addr: str


@attrs.frozen
class SmsDelivered(Event):
    name: ClassVar[str] = "sms.delivered"
    message_id: str
    system_id: str
    destination_addr: str


@attrs.frozen
class SmsFailed(Event):
    name: ClassVar[str] = "sms.failed"
    message_id: str
    system_id: str
    destination_addr: str
    state: str
    error_code: int


@attrs.frozen
class DeliveryReport(Event):
    name: ClassVar[str] = "delivery.report"
    message_id: str
    system_id: str
    state: str
    error_code: int


@attrs.define
class _ObserverQueue:
    observer: Any
    queue: deque[Event]
    busy: bool = False
    dropped: int = 0
    failed: int = 0


class EventBus:
    """Fans events out to observers without ever blocking the publisher."""

    def __init__(
        self, clock: IReactorTime, observers: Iterable[Any] = (), *, queue_size: int = 10_000
    ) -> None:
        self.clock = clock
        self.queue_size = queue_size
        self._queues: list[_ObserverQueue] = []
        #: Whether any observer is registered (read per message on hot paths:
        #: a plain attribute, not ``__bool__``).
        self.observed = False
        self._scheduled: Any = None
        for observer in observers:
            self.add_observer(observer)

    def add_observer(self, observer: Any) -> None:
        if not IEventObserver.providedBy(observer):
            raise TypeError(f"{observer!r} does not provide IEventObserver")
        self._queues.append(_ObserverQueue(observer, deque()))
        self.observed = True

    def remove_observer(self, observer: Any) -> None:
        self._queues = [q for q in self._queues if q.observer is not observer]
        self.observed = bool(self._queues)

    @property
    def dropped(self) -> int:
        return sum(q.dropped for q in self._queues)

    @property
    def failed(self) -> int:
        return sum(q.failed for q in self._queues)

    def __bool__(self) -> bool:
        return bool(self._queues)

    def publish(self, event: Event) -> None:
        """Queue ``event`` for every observer; never raises, never waits."""
        for q in self._queues:
            if len(q.queue) >= self.queue_size:
                q.dropped += 1
                if q.dropped == 1 or q.dropped % 10_000 == 0:
                    log.warn(
                        "event observer {observer!r} is behind: {dropped} event(s) dropped",
                        observer=q.observer,
                        dropped=q.dropped,
                    )
                continue
            q.queue.append(event)
        if self._scheduled is None and self._queues:
            self._scheduled = self.clock.callLater(0, self._drain)

    def _drain(self) -> None:
        self._scheduled = None
        for q in self._queues:
            self._run(q)

    def _run(self, q: _ObserverQueue) -> None:
        while q.queue and not q.busy:
            event = q.queue.popleft()
            try:
                result = q.observer.observe(event)
            except Exception:
                q.failed += 1
                log.failure("event observer {observer!r} failed on {event}", observer=q.observer, event=event.name)
                continue
            if isinstance(result, Deferred):
                q.busy = True
                result.addErrback(self._observer_failed, q, event)
                result.addBoth(self._observer_done, q)

    def _observer_failed(self, failure: Any, q: _ObserverQueue, event: Event) -> None:
        q.failed += 1
        log.failure(
            "event observer {observer!r} failed on {event}", failure, observer=q.observer, event=event.name
        )

    def _observer_done(self, _: object, q: _ObserverQueue) -> None:
        q.busy = False
        if q.queue and self._scheduled is None:
            self._scheduled = self.clock.callLater(0, self._drain)

    def stop(self) -> None:
        """Cancel the pending drain (events still queued are discarded)."""
        if self._scheduled is not None and self._scheduled.active():
            self._scheduled.cancel()
        self._scheduled = None


@implementer(IEventObserver)
class CollectingObserver:
    """Keeps every event it sees: the in-memory observer for tests and embedding."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def observe(self, event: Event) -> None:
        self.events.append(event)

    def names(self) -> list[str]:
        return [e.name for e in self.events]
