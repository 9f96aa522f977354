"""Fixtures for the interop tests: the same live SMSC as tests/e2e, with a
simulator rule that holds messages to ``support.HOLD_PREFIX`` for an hour (so that
cancel_sm has something to cancel).

Real peers run off the reactor thread (smpplib in a thread, node-smpp in a
child process) so the reactor keeps serving them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_twisted

from tests.e2e.support import HOLD_RULE, LiveServer, LiveServers, server_config


@pytest.fixture
def live() -> Iterator[LiveServers]:
    servers = LiveServers()
    try:
        yield servers
    finally:
        pytest_twisted.blockon(servers.close())


@pytest.fixture
def smsc_server(live: LiveServers) -> LiveServer:
    return pytest_twisted.blockon(live.start(server_config(simulator_rules=(HOLD_RULE,))))
