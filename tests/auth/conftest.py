"""Fixtures for the auth tests: fake thread pool, log capture, no unhandled errors."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from twisted.logger import ILogObserver, formatEvent, globalLogPublisher
from twisted.python.failure import Failure


class FakeReactor:
    """Just what deferToThreadPool needs: callFromThread runs at once."""

    def callFromThread(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        f(*args, **kwargs)


class FakeThreadPool:
    """Queues work; ``run()`` runs it (in the test's thread) when the test says."""

    def __init__(self) -> None:
        self.queue: list[tuple[Callable[[bool, Any], object], Callable[[], Any]]] = []
        self.calls = 0

    def callInThreadWithCallback(
        self,
        onResult: Callable[[bool, Any], object],
        func: Callable[..., Any],
        *args: Any,
        **kw: Any,
    ) -> None:
        self.calls += 1
        self.queue.append((onResult, lambda: func(*args, **kw)))

    def run(self) -> None:
        while self.queue:
            on_result, work = self.queue.pop(0)
            try:
                result = work()
            except BaseException as e:
                on_result(False, e)
            else:
                on_result(True, result)


@pytest.fixture
def pool() -> FakeThreadPool:
    return FakeThreadPool()


@pytest.fixture
def fake_reactor() -> FakeReactor:
    return FakeReactor()


@pytest.fixture
def log_events() -> Iterator[list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    observer = cast(ILogObserver, events.append)
    globalLogPublisher.addObserver(observer)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(observer)


@pytest.fixture
def no_unhandled_deferred_errors() -> Iterator[None]:
    """Fail a test that leaves a Deferred failing with nobody to handle it.

    Costs a full gc.collect() per test: used by the modules that make Deferreds.
    """
    events: list[dict[str, Any]] = []
    observer = cast(ILogObserver, events.append)
    globalLogPublisher.addObserver(observer)
    try:
        yield
        gc.collect()
    finally:
        globalLogPublisher.removeObserver(observer)
    unhandled = [
        formatEvent(e) for e in events if "Unhandled error in Deferred" in (formatEvent(e) or "")
    ]
    assert not unhandled, unhandled


def result_of(d: Any) -> Any:
    """The result a Deferred already has (raises its failure)."""
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, "the Deferred has not fired"
    if isinstance(box[0], Failure):
        box[0].raiseException()
    return box[0]
