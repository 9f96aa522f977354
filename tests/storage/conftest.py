"""Every storage test must leave the reactor as it found it: no new delayed
calls, no store threads, no unhandled errors in Deferreds."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any, cast

import pytest
from twisted.logger import ILogObserver, globalLogPublisher


@pytest.fixture(autouse=True)
def clean_reactor() -> Iterator[list[dict[str, Any]]]:
    """Yields the log events of the test; checks the reactor afterwards (only
    for what the test added: other suites may share the reactor)."""
    from twisted.internet import reactor

    calls_before = set(reactor.getDelayedCalls())
    threads_before = set(threading.enumerate())
    events: list[dict[str, Any]] = []
    observer = cast(ILogObserver, events.append)
    globalLogPublisher.addObserver(observer)
    try:
        yield events
        gc.collect(1)  # the young generations: where a test's garbage is; a full pass costs ~70 ms
    finally:
        globalLogPublisher.removeObserver(observer)
    unhandled = [e for e in events if "Unhandled error" in str(e.get("log_format", ""))]
    assert not unhandled, unhandled
    threads = [t.name for t in set(threading.enumerate()) - threads_before]
    assert not [name for name in threads if name.startswith("smppd-")], threads
    delayed = [c for c in set(reactor.getDelayedCalls()) - calls_before if c.active()]
    assert not delayed, delayed
