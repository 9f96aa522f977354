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
* delivery reports follow ``receipt_ack`` the same way:

  ``"queued"`` (the default)
      as above: the receipt is acknowledged (ESME_ROK, on the client's fast
      path) before the webhook has it; a full queue drops it (counted and
      logged) and a webhook failing past its retries loses it: at-most-once.
  ``"delivered"``
      the receipt's deliver_sm_resp waits for the webhook's 2xx (one attempt,
      bounded by ``timeout``); a failure or a full queue answers
      ESME_RX_T_APPN, so the SMSC keeps the receipt and sends it again:
      at-least-once (each delivery has its own ``id``; the receiver
      deduplicates by ``message_id`` and ``state``). Changing it needs a restart.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from zope.interface import implementer

from smppd.client.client import IncomingMessage
from smppd.client.settings import WebhookSettings
from smppd.events import DeliveryReport
from smppd.interfaces import IEventObserver
from smppd.pdu import CommandStatus
from smppd.webhooks import JsonWebhook, WebhookRefused

__all__ = ["WebhookForwarder", "WebhookRefused"]
S = CommandStatus


@implementer(IEventObserver)
class WebhookForwarder(JsonWebhook):
    """POSTs incoming messages and delivery reports to the webhook.

    Add it to the client's event bus (``client.events.add_observer(f)``) and
    give :meth:`on_message` as the client's ``on_message``.
    """

    def __init__(self, settings: WebhookSettings, reactor: Any = None, *, http_client: Any = None) -> None:
        super().__init__(settings, reactor, http_client=http_client)
        # Fixed at start: with "delivered" the client hands receipts to
        # on_report (its on_report is wired once), not through the event bus.
        self.receipt_ack = settings.receipt_ack

    def reconfigure(self, settings: WebhookSettings) -> None:
        """Use ``settings`` from now on (SIGHUP): the URL, time-out, back-off,
        queue size, concurrency and ``mo_ack`` apply to the next attempt;
        ``retries`` to documents queued from now on. ``settings.url`` must be
        set (turning the webhook on or off needs a restart)."""
        if settings.url is None:
            raise ValueError("the webhook has no url")
        self.settings = settings
        self.url = settings.url
        if self._pool is not None:
            self._pool.maxPersistentPerHost = settings.concurrency
        if self.running:
            self._pump()  # more concurrency may start waiting documents now

    # -- inputs ------------------------------------------------------------------------

    def observe(self, event: Any) -> None:
        """IEventObserver: queue ``delivery.report`` events, ignore the rest."""
        if event.name != DeliveryReport.name or self.receipt_ack == "delivered":
            return  # (with "delivered" the client calls on_report instead)
        self.post("delivery_report", self._report_payload(event))

    def on_report(self, report: DeliveryReport) -> int | Deferred[int | None]:
        """The client's receipt handler for ``receipt_ack`` "delivered": the
        deliver_sm_resp status, once the webhook has answered."""
        ack: Deferred[int | None] = Deferred()
        if not self.post("delivery_report", self._report_payload(report), max_attempts=1, ack=ack):
            return S.ESME_RX_T_APPN
        return ack

    @staticmethod
    def _report_payload(event: DeliveryReport) -> dict[str, Any]:
        return {
            "message_id": event.message_id,
            "state": event.state,
            "error_code": event.error_code,
            "system_id": event.system_id,
            "at": event.at,
        }

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
