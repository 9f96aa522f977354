"""Every test here fails if a Deferred error went unhandled or a failure was
logged (``log.failure``): convention 3 of STYLE.md."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.logger import globalLogPublisher


@pytest.fixture(autouse=True)
def no_logged_failures() -> Iterator[list[dict[str, Any]]]:
    failures: list[dict[str, Any]] = []

    def observe(event: dict[str, Any]) -> None:
        if "log_failure" in event:
            failures.append(event)

    globalLogPublisher.addObserver(observe)
    try:
        yield failures
        gc.collect()  # unhandled errors in Deferreds are logged when collected
    finally:
        globalLogPublisher.removeObserver(observe)
    assert not failures, [f"{e.get('log_format')}: {e['log_failure'].getErrorMessage()}" for e in failures]
