"""The Twisted factory that hands connections to the SMSC."""

from __future__ import annotations

from typing import Any

from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger

from smppd.server.protocol import SmscProtocol
from smppd.server.smsc import Smsc

log = Logger()


class SmscFactory(ServerFactory):
    """Builds an :class:`SmscProtocol` per connection, within the connection limit."""

    protocol = SmscProtocol

    def __init__(self, smsc: Smsc) -> None:
        self.smsc = smsc
        self.refused = 0

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
        proto = SmscProtocol(self.smsc)
        proto.factory = self
        return proto
