"""A client endpoint that fails over between several SMSC endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import clientFromString
from twisted.internet.interfaces import IProtocolFactory, IStreamClientEndpoint
from twisted.python.failure import Failure
from zope.interface import implementer


@implementer(IStreamClientEndpoint)
class FailoverEndpoint:
    """Connects to one endpoint at a time; after a failure (to connect, or
    to bind: call :meth:`advance`) the next attempt goes to the next one."""

    def __init__(self, reactor: Any, specs: Sequence[str]) -> None:
        if not specs:
            raise ValueError("at least one endpoint is needed")
        self.specs = tuple(specs)
        self.endpoints = [clientFromString(reactor, spec) for spec in self.specs]
        self._next = 0

    @property
    def current(self) -> str:
        return self.specs[self._next % len(self.specs)]

    def advance(self) -> None:
        self._next += 1

    def connect(self, factory: IProtocolFactory) -> Deferred[Any]:
        d: Deferred[Any] = self.endpoints[self._next % len(self.endpoints)].connect(factory)

        def failed(failure: Failure) -> Failure:
            self.advance()
            return failure

        d.addErrback(failed)
        return d
