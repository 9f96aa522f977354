"""Fixtures: the real SMSC on the real reactor, listening on 127.0.0.1 port 0.

``live`` starts servers on demand (``server = yield live.start(config)``);
``smsc_server`` is one with the default test settings (demo users, receipts
after 0.2 s). Teardown stops them and fails the test if a connection, a
DelayedCall, an unhandled Deferred error or a logged failure is left.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_twisted

from tests.e2e.support import LiveServer, LiveServers


@pytest.fixture
def live() -> Iterator[LiveServers]:
    servers = LiveServers()
    try:
        yield servers
    finally:
        pytest_twisted.blockon(servers.close())


@pytest.fixture
def smsc_server(live: LiveServers) -> LiveServer:
    return pytest_twisted.blockon(live.start())
