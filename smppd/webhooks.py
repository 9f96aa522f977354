"""POSTing JSON documents to webhooks without ever blocking the SMPP path.

A document gets a unique ``id`` (also sent as the ``Idempotency-Key``
header: a receiver that sees it twice got a retry). A 2xx answer accepts it;
connection errors, time-outs, 408, 429 and 5xx are retried with exponential
back-off (``backoff_initial`` doubling up to ``backoff_maximum``, at most
``retries`` more attempts); any other answer is final. At most
``concurrency`` requests are in flight; when ``queue_size`` documents are
held (waiting, in flight or between retries) new ones are dropped, counted
and logged. :class:`EventWebhook` posts the events of an event bus (the
server's webhooks); the client's MO/receipt forwarder builds on
:class:`JsonWebhook` too.
"""

from __future__ import annotations

import uuid
from collections import deque
from typing import Any

import treq
from treq.client import HTTPClient
from twisted.application import service
from twisted.internet.defer import Deferred, DeferredList, maybeDeferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool
from zope.interface import implementer

from smppd import __version__
from smppd.interfaces import IEventObserver
from smppd.pdu import CommandStatus

log = Logger()
S = CommandStatus
_RETRIED_CODES = frozenset({408, 429})


class _Item:
    __slots__ = ("ack", "attempts", "kind", "max_attempts", "payload")

    def __init__(self, kind: str, payload: dict[str, Any], max_attempts: int, ack: Deferred[int | None] | None) -> None:
        self.kind = kind
        self.payload = payload
        self.max_attempts = max_attempts
        self.attempts = 0
        self.ack = ack  # mo_ack "delivered": fires with the deliver_sm_resp status


class WebhookRefused(Exception):
    """The webhook answered with a status that is not 2xx."""

    def __init__(self, code: int) -> None:
        super().__init__(f"HTTP {code}")
        self.code = code


class JsonWebhook(service.Service):
    """POSTs JSON documents to one URL with retries, back-off, a bounded
    queue, a time-out and limited concurrency; never blocks its caller.

    ``settings`` has ``url``, ``timeout``, ``retries``, ``backoff_initial``,
    ``backoff_maximum``, ``queue_size`` and ``concurrency``. ``http_client``
    is anything with treq's ``post(url, json=, headers=)`` (for example
    ``treq.testing.StubTreq``); by default treq over a persistent pool.
    """

    def __init__(
        self,
        settings: Any,
        reactor: Any = None,
        *,
        http_client: Any = None,
    ) -> None:
        if settings.url is None:
            raise ValueError("the webhook has no url")
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.reactor = reactor
        self.settings = settings
        self.url = settings.url
        self._pool: HTTPConnectionPool | None = None
        if http_client is None:
            self._pool = HTTPConnectionPool(reactor, persistent=True)
            self._pool.maxPersistentPerHost = settings.concurrency
            self._pool.retryAutomatically = False  # retries are ours, counted
            http_client = HTTPClient(Agent(reactor, pool=self._pool, connectTimeout=settings.timeout))
        self.http = http_client
        self._queue: deque[_Item] = deque()
        self._held = 0  # items waiting, in flight or between retries
        self._in_flight: set[Deferred[Any]] = set()
        self._retrying: dict[_Item, Any] = {}  # item -> the DelayedCall that retries it
        self._pump_call: Any = None
        self.counters = {"queued": 0, "delivered": 0, "failed": 0, "dropped": 0, "retried": 0, "abandoned": 0}

    def post(
        self, kind: str, payload: dict[str, Any], *, max_attempts: int | None = None, ack: Deferred[int | None] | None = None
    ) -> bool:
        """Queue one document; False (counted, logged) when the queue is full
        or the forwarder is stopped."""
        if self._held >= self.settings.queue_size or not self.running:
            self.counters["dropped"] += 1
            dropped = self.counters["dropped"]
            if dropped == 1 or dropped % 1000 == 0:
                log.warn(
                    "webhook {why}: {dropped} document(s) dropped so far",
                    why=f"queue is full ({self._held} held)" if self.running else "is stopped",
                    dropped=dropped,
                )
            return False
        document = {"type": kind, "id": uuid.uuid4().hex, **payload}
        attempts = max_attempts if max_attempts is not None else 1 + self.settings.retries
        self._queue.append(_Item(kind, document, attempts, ack))
        self._held += 1
        self.counters["queued"] += 1
        if self._pump_call is None and self.running:
            # Requests start on the next turn, not inside the SMPP handler that queued.
            self._pump_call = self.reactor.callLater(0, self._pump)
        return True

    @property
    def held(self) -> int:
        """Documents not yet accepted or given up (waiting, in flight, between retries)."""
        return self._held

    # -- sending -----------------------------------------------------------------------

    def _pump(self) -> None:
        if self._pump_call is not None and self._pump_call.active():
            self._pump_call.cancel()
        self._pump_call = None
        while self._queue and len(self._in_flight) < self.settings.concurrency and self.running:
            self._attempt(self._queue.popleft())

    def _attempt(self, item: _Item) -> None:
        item.attempts += 1
        d: Deferred[Any] = maybeDeferred(
            self.http.post,
            self.url,
            json=item.payload,
            headers={"User-Agent": f"smppd/{__version__}", "Idempotency-Key": item.payload["id"]},
        )
        d.addCallback(self._read)
        d.addTimeout(self.settings.timeout, self.reactor)  # the whole attempt: connect to body
        self._in_flight.add(d)
        d.addBoth(self._answered, item, d)

    def _read(self, response: Any) -> Deferred[int]:
        # Read the body so that the connection can go back to the pool.
        body: Deferred[Any] = treq.content(response)
        body.addCallback(lambda _: response.code)
        return body

    def _answered(self, result: int | Failure, item: _Item, d: Deferred[Any]) -> None:
        self._in_flight.discard(d)
        if not self.running:
            self._done(item, "abandoned")
            return
        if isinstance(result, int) and 200 <= result < 300:
            self._done(item, "delivered")
            self._pump()
            return
        retry = not isinstance(result, int) or result in _RETRIED_CODES or result >= 500
        why = f"HTTP {result}" if isinstance(result, int) else result.getErrorMessage()
        if retry and item.attempts < item.max_attempts:
            self.counters["retried"] += 1
            delay = min(self.settings.backoff_maximum, self.settings.backoff_initial * 2 ** (item.attempts - 1))
            log.debug(
                "webhook {kind} {id}: attempt {n} failed ({why}), retrying in {delay:.1f}s",
                kind=item.kind,
                id=item.payload["id"],
                n=item.attempts,
                why=why,
                delay=delay,
            )
            self._retrying[item] = self.reactor.callLater(delay, self._retry, item)
        else:
            self._done(item, "failed")
            failed = self.counters["failed"]
            if failed == 1 or failed % 100 == 0:
                log.warn(
                    "webhook {kind} {id} failed after {n} attempt(s): {why} ({failed} failed so far)",
                    kind=item.kind,
                    id=item.payload["id"],
                    n=item.attempts,
                    why=why,
                    failed=failed,
                )
        self._pump()

    def _retry(self, item: _Item) -> None:
        self._retrying.pop(item, None)
        self._queue.appendleft(item)  # already counted in _held
        self._pump()

    def _done(self, item: _Item, how: str) -> None:
        self._held -= 1
        self.counters[how] += 1
        if item.ack is not None:  # an MO message waiting for its webhook (mo_ack "delivered")
            item.ack.callback(S.ESME_ROK if how == "delivered" else S.ESME_RX_T_APPN)

    # -- life --------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._pump()

    def stopService(self) -> Deferred[Any]:
        """Stop at once: requests in flight are cancelled and every document
        not yet accepted is given up (counted as abandoned, logged); MO
        messages waiting for their webhook answer ESME_RX_T_APPN."""
        super().stopService()
        if self._pump_call is not None and self._pump_call.active():
            self._pump_call.cancel()
        self._pump_call = None
        given_up = list(self._queue)
        self._queue.clear()
        for item, call in self._retrying.items():
            if call.active():
                call.cancel()
            given_up.append(item)
        self._retrying.clear()
        for d in list(self._in_flight):
            d.cancel()  # _answered sees that we stopped and gives the item up
        for item in given_up:
            self._done(item, "abandoned")
        if self.counters["abandoned"]:
            log.warn("webhook stopped: {n} document(s) were not delivered", n=self.counters["abandoned"])
        if self._pool is not None:
            return DeferredList([self._pool.closeCachedConnections()])
        return succeed(None)


@implementer(IEventObserver)
class EventWebhook(JsonWebhook):
    """An event observer that POSTs events as JSON (``{"type": "sms.delivered",
    ...the event's fields}``), all of them or only the names in ``events``."""

    def __init__(self, settings: Any, reactor: Any = None, *, events: frozenset[str] = frozenset(), http_client: Any = None) -> None:
        super().__init__(settings, reactor, http_client=http_client)
        self.events = events

    def observe(self, event: Any) -> None:
        if self.events and event.name not in self.events:
            return
        data = event.as_dict()
        data.pop("event", None)
        self.post(event.name, data)
