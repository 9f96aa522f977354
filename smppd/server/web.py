"""The SMSC's HTTP endpoint: ``/metrics``, ``/healthz``, ``/readyz``.

Served by twisted.web on loopback by default (127.0.0.1:9090). Metrics come
from a registry owned by the service, filled at scrape time from the plain
counters the SMPP path keeps (:mod:`smppd.metrics`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web import resource, server

from smppd.metrics import FunctionCollector, pdu_families
from smppd.server.smsc import Smsc
from smppd.web import MetricsResource


def smsc_metrics(smsc: Smsc) -> Callable[[], Iterator[Any]]:
    """A collect() function over one SMSC's state and counters."""

    def collect() -> Iterator[Any]:
        stats = smsc.stats
        yield from pdu_families("smppd", stats.pdus)
        submits = CounterMetricFamily("smppd_submits", "Messages accepted, by system_id", labels=["system_id"])
        for system_id, n in sorted(stats.submits.items()):
            submits.add_metric([system_id], n)
        yield submits
        receipts = CounterMetricFamily(
            "smppd_receipts_delivered", "Receipts acknowledged by the ESME, by system_id", labels=["system_id"]
        )
        for system_id, n in sorted(stats.receipts.items()):
            receipts.add_metric([system_id], n)
        yield receipts
        yield stats.submit_latency.family("smppd_submit_latency_seconds", "submit_sm read to its response written")
        yield stats.receipt_latency.family(
            "smppd_receipt_latency_seconds", "Message accepted to its receipt acknowledged by the ESME"
        )
        bound: Counter[str] = Counter()
        outstanding = 0
        window = 0
        for proto in smsc.sessions:
            bind_type = proto.session.bind_type
            if proto.session.is_bound and bind_type is not None:
                bound[bind_type.value] += 1
                if bind_type.receives:
                    outstanding += proto.outstanding
                    window += proto.config.window
        sessions = GaugeMetricFamily("smppd_bound_sessions", "Bound sessions by bind type", labels=["bind_type"])
        for kind in ("transmitter", "receiver", "transceiver"):
            sessions.add_metric([kind], bound[kind])
        yield sessions
        yield GaugeMetricFamily("smppd_connections", "Open connections", value=len(smsc.sessions))
        yield GaugeMetricFamily(
            "smppd_deliver_window_outstanding", "deliver_sm sent and not yet answered", value=outstanding
        )
        yield GaugeMetricFamily(
            "smppd_deliver_window_occupancy", "Outstanding deliver_sm over the receivers' windows",
            value=(outstanding / window) if window else 0.0,
        )
        yield GaugeMetricFamily("smppd_unfinished_messages", "Messages not yet final", value=len(smsc.unfinished))
        owed = GaugeMetricFamily("smppd_outbox_items", "Receipts and messages owed to ESMEs", labels=["system_id"])
        for system_id, disp in sorted(smsc.dispatchers.items()):
            owed.add_metric([system_id], len(disp))
        yield owed
        counters = smsc.counters
        for name, doc in (
            ("delivered", "Messages that reached DELIVRD"),
            ("failed", "Messages that reached another final state"),
            ("bind_failures", "Refused binds"),
            ("throttled", "Submits answered ESME_RTHROTTLED"),
            ("final_write_failures", "Final-state writes the store failed (each retried until durable)"),
        ):
            yield CounterMetricFamily(f"smppd_{name}", doc, value=counters[name])
        yield CounterMetricFamily(
            "smppd_event_observer_dropped", "Events dropped by slow observers", value=smsc.events.dropped
        )
        pruned = getattr(smsc.store, "pruned", None)  # a store of ours (retention) has it
        if pruned is not None:
            yield CounterMetricFamily(
                "smppd_store_pruned", "Final messages the store dropped after their retention", value=pruned
            )

    return collect


class Health(resource.Resource):
    """``/healthz``: the process is alive and its reactor turns."""

    isLeaf = True

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        return b'{"status": "ok"}\n'


class Ready(resource.Resource):
    """``/readyz``: 200 when ``is_listening()`` and ``check()`` succeeds, else 503."""

    isLeaf = True

    def __init__(self, is_listening: Callable[[], bool], check: Callable[[], Deferred[None]]) -> None:
        super().__init__()
        self.is_listening = is_listening
        self.check = check

    def render_GET(self, request: server.Request) -> Any:
        request.setHeader(b"content-type", b"application/json")
        if not self.is_listening():
            request.setResponseCode(503)
            return b'{"status": "not listening"}\n'
        d = self.check()

        def ok(_: object) -> None:
            request.write(b'{"status": "ready"}\n')
            request.finish()

        def failed(failure: Failure) -> None:
            request.setResponseCode(503)
            reason = failure.getErrorMessage().replace('"', "'")
            request.write(f'{{"status": "store not writable", "reason": "{reason}"}}\n'.encode())
            request.finish()

        d.addCallbacks(ok, failed)
        return server.NOT_DONE_YET


def build_site(smsc: Smsc, is_listening: Callable[[], bool]) -> tuple[server.Site, CollectorRegistry]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FunctionCollector(smsc_metrics(smsc)))
    root = resource.Resource()
    root.putChild(b"metrics", MetricsResource(registry))
    root.putChild(b"healthz", Health())
    root.putChild(b"readyz", Ready(is_listening, smsc.store.check))
    site = server.Site(root)
    site.displayTracebacks = False
    site.noisy = False
    return site, registry
