"""Fixtures for the tests that run the real ``twistd smpp-server`` process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.process.support import Servers


@pytest.fixture
def servers() -> Iterator[Servers]:
    """Starts server processes; every one still running is killed at teardown,
    and the test fails if a server logged a traceback or an unhandled error."""
    started = Servers()
    try:
        yield started
    finally:
        started.close()
    problems = started.problems()
    assert not problems, "server log:\n" + "\n".join(problems)
