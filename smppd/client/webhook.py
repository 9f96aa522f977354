"""Forwarding incoming messages and delivery reports to an HTTP webhook.

Two kinds of JSON document are POSTed to ``webhook.url``::

    {"type": "message", "id": "5f0c...", "from": "447700900123", "to": "Shop",
     "text": "hello", "data_hex": "68656c6c6f", "data_coding": 0, "parts": 1,
     "at": 1718000000.5}
    {"type": "delivery_report", "id": "9a1e...", "message_id": "6885535e39c00000",
     "state": "DELIVRD", "error_code": 0, "system_id": "test", "at": 1718000001.5}

``id`` is unique per document (also sent as the ``Idempotency-Key`` header):
a receiver that sees it twice got a retry. A 2xx answer accepts a document;
connection errors, time-outs, 408, 429 and 5xx are retried with exponential
back-off (``backoff_initial`` doubling up to ``backoff_maximum``, at most
``retries`` more attempts); any other answer is final and the document is
counted as failed. At most ``concurrency`` requests are in flight.

The SMPP side never waits for the webhook:

* delivery reports come from the client's event bus (``delivery.report``):
  the observer only appends to a bounded queue. When ``queue_size``
  documents are held (waiting, in flight or between retries) new ones are
  dropped, counted (``counters["dropped"]``) and logged.
* incoming messages (the client's ``on_message``) follow ``mo_ack``:

  ``"queued"`` (the default)
      deliver_sm_resp ESME_ROK as soon as the message is in the queue.
      Fast and never holds the SMSC's window, but a message is lost if the
      webhook keeps failing past its retries or the process stops with it
      queued: at-most-once.
  ``"delivered"``
      deliver_sm_resp waits for the webhook's 2xx (one attempt, bounded by
      ``timeout``); any failure answers ESME_RX_T_APPN so that the SMSC keeps
      the message and redelivers it later: at-least-once (the receiver may
      see a message twice). Keep ``timeout`` below the SMSC's response
      timeout, and expect the SMSC's window to fill while the webhook is slow.

  In both modes a full queue answers ESME_RX_T_APPN at once: the SMSC keeps
  the message, nothing is dropped.
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
from smppd.client.client import IncomingMessage
from smppd.client.settings import WebhookSettings
from smppd.events import DeliveryReport
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


@implementer(IEventObserver)
class WebhookForwarder(service.Service):
    """POSTs incoming messages and delivery reports to the webhook.

    Add it to the client's event bus (``client.events.add_observer(f)``) and
    give :meth:`on_message` as the client's ``on_message``. ``http_client``
    is anything with treq's ``post(url, json=, headers=)`` (for example
    ``treq.testing.StubTreq``); by default treq over a persistent pool.
    """

    def __init__(
        self,
        settings: WebhookSettings,
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

    # -- inputs ------------------------------------------------------------------------

    def observe(self, event: Any) -> None:
        """IEventObserver: queue ``delivery.report`` events, ignore the rest."""
        if event.name != DeliveryReport.name:
            return
        self.post(
            "delivery_report",
            {
                "message_id": event.message_id,
                "state": event.state,
                "error_code": event.error_code,
                "system_id": event.system_id,
                "at": event.at,
            },
        )

    def on_message(self, message: IncomingMessage) -> int | Deferred[int | None]:
        """The client's MO handler: the deliver_sm_resp status (see the module doc)."""
        payload = {
            "from": message.source_addr,
            "to": message.destination_addr,
            "text": message.text,
            "data_hex": message.data.hex(),
            "data_coding": message.data_coding,
            "parts": message.parts,
            "at": self.reactor.seconds(),
        }
        if self.settings.mo_ack == "delivered":
            ack: Deferred[int | None] = Deferred()
            if not self.post("message", payload, max_attempts=1, ack=ack):
                return S.ESME_RX_T_APPN
            return ack
        return S.ESME_ROK if self.post("message", payload) else S.ESME_RX_T_APPN

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
        if item.ack is not None:
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
