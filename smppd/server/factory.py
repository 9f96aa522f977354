"""The Twisted factory that hands connections to the SMSC."""

from __future__ import annotations

from typing import Any

from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger

from smppd.auth.penalty import host_key
from smppd.server.protocol import SmscProtocol
from smppd.server.smsc import Smsc

log = Logger()


class SmscFactory(ServerFactory):
    """Builds an :class:`SmscProtocol` per connection, within the connection
    limit and, for connections not bound yet, the per-host limit
    (``max_unbound_per_host``): one host cannot hold every pre-bind slot."""

    protocol = SmscProtocol

    def __init__(self, smsc: Smsc) -> None:
        self.smsc = smsc
        self.refused = 0
        self.refused_unbound = 0
        # host -> its connections not bound yet; a host leaves when its last one binds or closes,
        # so the table never holds more than the open connections.
        self._unbound: dict[str, set[SmscProtocol]] = {}

    def buildProtocol(self, addr: Any) -> SmscProtocol | None:
        if not self.smsc.connection_allowed():
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warn(
                    "connection from {addr} refused: {n} connection(s) open (limit {limit})",
                    addr=getattr(addr, "host", addr),
                    n=len(self.smsc.sessions),
                    limit=self.smsc.config.max_connections,
                )
            return None
        host = host_key(str(getattr(addr, "host", "")))  # an IPv6 peer counts by its /64
        waiting = self._unbound.get(host)
        limit = self.smsc.config.max_unbound_per_host
        if waiting is not None and len(waiting) >= limit:
            self.refused_unbound += 1
            if self.refused_unbound == 1 or self.refused_unbound % 1000 == 0:
                log.warn(
                    "connection from {addr} refused: {n} connection(s) from it not bound yet (limit {limit})",
                    addr=host,
                    n=len(waiting),
                    limit=limit,
                )
            return None
        proto = SmscProtocol(self.smsc)
        proto.factory = self
        self._unbound.setdefault(host, set()).add(proto)
        proto.on_leaving_unbound = lambda p: self._left_unbound(host, p)
        return proto

    def unbound_count(self, host: str) -> int:
        """Connections from ``host`` open and not bound yet."""
        return len(self._unbound.get(host, ()))

    def _left_unbound(self, host: str, proto: SmscProtocol) -> None:
        waiting = self._unbound.get(host)
        if waiting is not None:
            waiting.discard(proto)
            if not waiting:
                del self._unbound[host]
