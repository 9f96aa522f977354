"""Embedding the smppd SMSC in your own Twisted application.

Run it:  python docs/examples/embed_server.py   (listens on 127.0.0.1:2775)

Everything the twistd plugin wires from configuration can be supplied in
code: an authenticator, a message store, a delivery backend and event
observers. Each is a zope.interface contract (smppd.interfaces).
"""

from __future__ import annotations

from twisted.internet import defer, endpoints, task
from twisted.logger import Logger, globalLogBeginner, textFileLogObserver
from zope.interface import implementer

from smppd.auth import AuthenticationError, UsersAuthenticator, parse_users
from smppd.events import EventBus
from smppd.interfaces import IDeliveryBackend, IEventObserver
from smppd.pdu import CommandStatus, MessageState
from smppd.server.config import ServerConfig
from smppd.server.delivery import DeliveryOutcome
from smppd.server.factory import SmscFactory
from smppd.server.smsc import Smsc
from smppd.storage import SqliteStore

log = Logger()


@implementer(IDeliveryBackend)
class MyNetwork:
    """A delivery backend: hand each message to your own network code and
    fire with its final state. This one refuses premium-rate numbers."""

    def __init__(self, clock):
        self.clock = clock

    def deliver(self, message):
        if message.destination_addr.startswith("0900"):
            return defer.succeed(DeliveryOutcome(MessageState.REJECTED, error_code=34))
        return task.deferLater(self.clock, 0.5, lambda: DeliveryOutcome(MessageState.DELIVERED))


@implementer(IEventObserver)
class AuditLog:
    """An event observer: called off the SMPP path, may be slow or fail."""

    def observe(self, event):
        log.info("event {name}: {data}", name=event.name, data=event.as_dict())


class LoopbackOnly:
    """An IAuthenticator wrapping another: any policy you like, Deferred-based.
    This one refuses binds from anywhere but this machine."""

    def __init__(self, inner):
        self.inner = inner

    def authenticate(self, system_id, password, system_type, bind_type, peer_host):
        if not peer_host.startswith("127.") and peer_host != "::1":
            return defer.fail(AuthenticationError(CommandStatus.ESME_RBINDFAIL, "not from loopback"))
        return self.inner.authenticate(system_id, password, system_type, bind_type, peer_host)


def build_factory(reactor, store):
    users = parse_users({"users": [{"system_id": "shop", "password": "s3cret"}]}, "inline")
    smsc = Smsc(
        reactor,
        store,
        LoopbackOnly(UsersAuthenticator(users, reactor=reactor)),
        config=ServerConfig(system_id="embedded"),
        backend=MyNetwork(reactor),
        events=EventBus(reactor, [AuditLog()]),
    )
    return smsc, SmscFactory(smsc)


@defer.inlineCallbacks
def main(reactor, listen="tcp:2775:interface=127.0.0.1"):
    store = SqliteStore("embedded.sqlite3", reactor)
    yield store.open()
    smsc, factory = build_factory(reactor, store)
    yield smsc.start()  # recover unfinished work before accepting binds
    port = yield endpoints.serverFromString(reactor, listen).listen(factory)
    log.info("embedded SMSC on {port}", port=port.getHost().port)
    reactor.addSystemEventTrigger("before", "shutdown", smsc.stop)
    yield defer.Deferred()  # run until the reactor stops


if __name__ == "__main__":
    import sys

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    task.react(main)
