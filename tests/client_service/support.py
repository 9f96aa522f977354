"""Helpers for the client service tests: an in-process SMSC on port 0, a
webhook receiver, an HTTP client, bounded polling.

The subprocess scripts (``smsc_script.py``, ``blocking_script.py``) import
:func:`server_config` and :func:`start_smsc` from here too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from twisted.internet import task
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.web import resource, server

from smppd.auth import UsersAuthenticator
from smppd.auth.users import demo_users
from smppd.pdu import MessageState
from smppd.server.config import RetryPolicy, Route, ServerConfig
from smppd.server.delivery import SimulatorRule
from smppd.server.factory import SmscFactory
from smppd.server.smsc import Smsc
from smppd.storage import MemoryStore

TIMEOUT = 10.0  # bound of anything a test waits for over loopback
UNDELIV_PREFIX = "4479000"  # the simulator ends these UNDELIV, error 11
MO_PREFIX = "999"  # routed back to the ESME "test" as deliver_sm


def server_config(**overrides: Any) -> ServerConfig:
    base: dict[str, Any] = dict(
        simulator_default_delay=0.3,
        simulator_rules=(SimulatorRule(UNDELIV_PREFIX, MessageState.UNDELIVERABLE, 0.2, 11),),
        routes=(Route(f"^{MO_PREFIX}", "test"),),
        retry=RetryPolicy(initial=0.2, factor=2.0, maximum=1.0),
    )
    base.update(overrides)
    return ServerConfig(**base)


class RunningSmsc:
    def __init__(self, smsc: Smsc, port: Any) -> None:
        self.smsc = smsc
        self.port = port
        self.number: int = port.getHost().port
        self.endpoint = f"tcp:127.0.0.1:{self.number}"

    @inlineCallbacks
    def stop(self) -> Any:
        if self.port is not None:
            port, self.port = self.port, None
            yield port.stopListening()
        if self.smsc is not None:
            smsc, self.smsc = self.smsc, None
            yield smsc.stop()


@inlineCallbacks
def start_smsc(reactor: Any, **overrides: Any) -> Any:
    smsc = Smsc(
        reactor,
        MemoryStore(),
        UsersAuthenticator(demo_users(), reactor=reactor),
        config=server_config(**overrides),
    )
    yield smsc.start()
    port = reactor.listenTCP(0, SmscFactory(smsc), interface="127.0.0.1")
    return RunningSmsc(smsc, port)


def wait_until(reactor: Any, predicate: Callable[[], Any], timeout: float = TIMEOUT, what: str = "") -> Deferred[Any]:
    """Poll ``predicate`` every 20 ms; fire with its first truthy value or
    fail after ``timeout`` seconds."""

    @inlineCallbacks
    def poll() -> Any:
        deadline = reactor.seconds() + timeout
        while True:
            value = predicate()
            if isinstance(value, Deferred):
                value = yield value
            if value:
                return value
            if reactor.seconds() > deadline:
                raise AssertionError(f"timed out waiting for {what or predicate!r}")
            yield task.deferLater(reactor, 0.02, lambda: None)

    return poll()


class Receiver(resource.Resource):
    """A webhook receiver: records every JSON body; answers with the codes
    in ``codes`` in order (the last one repeats), or with ``decide(body)``
    when given; code 0 means never answer."""

    isLeaf = True

    def __init__(self, codes: list[int] | None = None, decide: Callable[[dict[str, Any]], int] | None = None) -> None:
        super().__init__()
        self.codes = list(codes or [200])
        self.decide = decide
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.hanging: list[server.Request] = []

    def render_POST(self, request: server.Request) -> bytes | int:
        assert request.content is not None
        body = json.loads(request.content.read())
        self.bodies.append(body)
        self.headers.append({k.decode().lower(): v[0].decode() for k, v in request.requestHeaders.getAllRawHeaders()})
        if self.decide is not None:
            code = self.decide(body)
        else:
            code = self.codes.pop(0) if len(self.codes) > 1 else self.codes[0]
        if code == 0:
            self.hanging.append(request)
            return server.NOT_DONE_YET
        request.setResponseCode(code)
        return b"ok"

    def listen(self, reactor: Any) -> Any:
        site = server.Site(self)
        site.noisy = False
        return reactor.listenTCP(0, site, interface="127.0.0.1")

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies if b["type"] == kind]


def http_client(reactor: Any) -> Any:
    """treq without a persistent pool: no connection outlives a test."""
    from treq.client import HTTPClient
    from twisted.web.client import Agent, HTTPConnectionPool

    return HTTPClient(Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False)))
