"""Fixtures for the client tests on fake time.

``rig`` gives a fake clock, a :class:`~tests.client.support.Network` whose
endpoint strings the client resolves to fakes, and helpers to make clients
and SMSCs. At teardown every client still running is stopped, and the test
fails if a DelayedCall is left on the clock or a Deferred failed unhandled.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from smppd.client import ClientConfig, SmppClient
from smppd.protocol import SessionConfig
from smppd.testing import TestReactor
from tests.client.support import (
    FakeEndpoint,
    LogCatcher,
    Network,
    ScriptedSmsc,
    consume,
    patched_endpoints,
)

CLIENT_SESSION = SessionConfig(enquire_link_interval=None, response_timeout=30.0, window=10, unbind_timeout=5.0)


class Rig:
    def __init__(self, clock: TestReactor, net: Network) -> None:
        self.clock = clock
        self.net = net
        self.clients: list[SmppClient] = []
        self.stoppers: list[Any] = []  # callables run at teardown, before the timer check

    def smsc(self, spec: str = "tcp:smsc-a:2775", **kw: Any) -> FakeEndpoint:
        """An endpoint whose every connection meets a new ScriptedSmsc(**kw)."""
        return self.net.endpoint(spec, lambda: ScriptedSmsc(self.clock, **kw))

    def refusing(self, spec: str) -> FakeEndpoint:
        return self.net.endpoint(spec, None)

    def client(self, *, endpoints: tuple[str, ...] = ("tcp:smsc-a:2775",), seed: int = 1, on_message: Any = None, window: int | None = None, **kw: Any) -> SmppClient:
        session = kw.pop("session", CLIENT_SESSION)
        if window is not None:
            session = attrs.evolve(session, window=window)
        kw.setdefault("system_id", "alice")
        kw.setdefault("password", "secret")
        config = ClientConfig(endpoints=endpoints, session=session, **kw)
        client = SmppClient(config, self.clock, rng=random.Random(seed), on_message=on_message)
        self.clients.append(client)
        return client

    def start(self, client: SmppClient) -> SmppClient:
        client.startService()
        self.net.flush()
        return client

    def stop(self, client: SmppClient, limit: float = 30.0) -> list[Any]:
        """stopService, and let fake time run until it has finished."""
        box = consume(client.stopService())
        self.net.run_until(lambda: bool(box), limit)
        self.net.flush()
        return box


class GuardedClock(TestReactor):
    """A TestReactor whose ``advance`` fails instead of spinning forever when
    timers keep rescheduling themselves at the same instant (a wait shorter
    than the clock's resolution at epoch-sized times does that)."""

    def advance(self, amount: float) -> None:
        self.rightNow += amount
        self._sortCalls()
        for _ in range(100_000):
            if not self.calls or self.calls[0].getTime() > self.seconds():
                return
            call = self.calls.pop(0)
            call.called = 1
            call.func(*call.args, **call.kw)
            self._sortCalls()
        raise AssertionError("timers keep firing at one instant: a busy loop")


@pytest.fixture
def clock() -> TestReactor:
    c = GuardedClock()
    c.advance(1_764_000_000)  # 2025-11-24: real-looking dates
    return c


@pytest.fixture
def logged() -> Iterator[LogCatcher]:
    catcher = LogCatcher()
    catcher.start()
    try:
        yield catcher
        gc.collect()
    finally:
        catcher.stop()
    assert catcher.unhandled() == [], catcher.unhandled()


@pytest.fixture
def rig(clock: TestReactor, logged: LogCatcher) -> Iterator[Rig]:
    net = Network(clock)
    rig = Rig(clock, net)
    with patched_endpoints(net):
        yield rig
        for client in rig.clients:
            if client.running:
                rig.stop(client)
        for stopper in rig.stoppers:
            stopper()
        net.flush()
    assert clock.getDelayedCalls() == []
