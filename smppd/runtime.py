"""Process-level tuning shared by the twistd plugins."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a long-running SMPP process,
    called once it has started (``smpp-server`` and ``smpp-client`` do).

    Almost everything on the SMPP paths is freed by reference counting; the
    cycle collector mostly re-walks long-lived objects (stored messages,
    messages awaiting receipts). Freezing what start-up built and raising the
    first threshold measured 15-25% less CPU per message on the server and
    10-20% on the client, and halved the server's worst latencies
    (docs/performance.rst).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
