"""Counters cheap enough for the hot path, exported to Prometheus at scrape time.

The SMPP path only does plain ``dict`` and ``int`` arithmetic
(:class:`PduCounters`, :class:`LatencyHistogram`); a prometheus-client
``Collector`` turns them into metric families when ``/metrics`` is read.
Every service owns its own ``CollectorRegistry``: nothing registers with the
global one.
"""

from __future__ import annotations

import bisect
import struct
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from smppd.pdu.constants import CommandId, status_name

_unpack_head = struct.Struct(">III").unpack_from

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RECEIPT_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 86400.0)


def command_name(command_id: int) -> str:
    try:
        return CommandId(command_id).name
    except ValueError:
        return f"0x{command_id:08x}"


class PduCounters:
    """PDUs in and out by (command_id, command_status)."""

    __slots__ = ("incoming", "outgoing")

    def __init__(self) -> None:
        self.incoming: Counter[tuple[int, int]] = Counter()
        self.outgoing: Counter[tuple[int, int]] = Counter()

    def count_out(self, data: bytes) -> None:
        """Count the PDUs in ``data`` (one or more whole PDUs) as sent."""
        out = self.outgoing
        off = 0
        end = len(data)
        unpack = _unpack_head
        while end - off >= 16:
            length, command_id, status = unpack(data, off)
            out[command_id, status] += 1
            if length < 16:
                break
            off += length


class LatencyHistogram:
    """A fixed-bucket histogram that takes a batch of equal observations at once."""

    __slots__ = ("buckets", "counts", "sum")

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.sum = 0.0

    def observe(self, seconds: float, n: int = 1) -> None:
        self.counts[bisect.bisect_left(self.buckets, seconds)] += n
        self.sum += seconds * n

    @property
    def count(self) -> int:
        return sum(self.counts)

    def family(self, name: str, documentation: str, labels: Sequence[str] = (), values: Sequence[str] = ()) -> HistogramMetricFamily:
        cumulative = []
        running = 0
        for bound, n in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += n
            cumulative.append(("+Inf" if bound == float("inf") else repr(bound), running))
        family = HistogramMetricFamily(name, documentation, labels=list(labels))
        family.add_metric(list(values), cumulative, self.sum)
        return family


class ServiceStats:
    """The hot-path counters of one service (server or client)."""

    def __init__(self) -> None:
        self.pdus = PduCounters()
        self.submits: Counter[str] = Counter()  # by system_id
        self.receipts: Counter[str] = Counter()  # delivered receipts by system_id
        self.submit_latency = LatencyHistogram(LATENCY_BUCKETS)  # submit_sm read -> response written
        self.receipt_latency = LatencyHistogram(RECEIPT_BUCKETS)  # submit accepted -> receipt acknowledged


def pdu_families(prefix: str, counters: PduCounters) -> Iterator[CounterMetricFamily]:
    for direction, table in (("in", counters.incoming), ("out", counters.outgoing)):
        family = CounterMetricFamily(
            f"{prefix}_pdus_{direction}", f"PDUs {'received' if direction == 'in' else 'sent'}", labels=["command", "status"]
        )
        for (command_id, status), n in sorted(table.items()):
            family.add_metric([command_name(command_id), status_name(status)], n)
        yield family


class FunctionCollector(Collector):
    """A collector whose ``collect`` is a function (built by the service)."""

    def __init__(self, collect: Callable[[], Iterator[Any]]) -> None:
        self._collect = collect

    def collect(self) -> Iterator[Any]:
        return self._collect()

    def describe(self) -> list[Any]:
        return []


def gauge(name: str, documentation: str, value: float, labels: dict[str, str] | None = None) -> GaugeMetricFamily:
    if not labels:
        return GaugeMetricFamily(name, documentation, value=value)
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family

