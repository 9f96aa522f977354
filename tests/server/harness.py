"""An SMSC on fake time with in-memory transports."""

from __future__ import annotations

from typing import Any

import attrs

from smppd.auth import Account, BindPenalty, Users, UsersAuthenticator, hash_password
from smppd.events import CollectingObserver, EventBus
from smppd.pdu import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    Pdu,
)
from smppd.server.config import ServerConfig
from smppd.server.protocol import SmscProtocol
from smppd.server.smsc import Smsc
from smppd.storage.memory import MemoryStore
from smppd.testing import PduTransport, TestReactor, connect, send

_HASHES: dict[str, str] = {}


def account(system_id: str, password: str = "secret", **kw: Any) -> Account:
    if password not in _HASHES:
        _HASHES[password] = hash_password(password, scheme="pbkdf2", iterations=1000)
    return Account(system_id=system_id, password_hash=_HASHES[password], **kw)


class Harness:
    def __init__(self, config: ServerConfig | None = None, accounts: list[Account] | None = None, store: Any = None, penalty: bool = False, keep_enquire_link: bool = False) -> None:
        self.clock = TestReactor()
        self.clock.advance(1_764_000_000)  # 2025-11-24: real dates in ids and receipts
        self.store = store if store is not None else MemoryStore()
        accounts = accounts or [account("alice"), account("bob", receive_ranges=["999"])]  # bob is granted 999...
        self.auth = UsersAuthenticator(Users(accounts), reactor=self.clock, threadpool=self.clock.pool)
        self.observer = CollectingObserver()
        self.events = EventBus(self.clock, [self.observer])
        config = config or ServerConfig()
        if not keep_enquire_link:  # tests look at every PDU; keep the link quiet
            config = attrs.evolve(config, session=attrs.evolve(config.session, enquire_link_interval=None))
        self.smsc = Smsc(
            self.clock,
            self.store,
            self.auth,
            config=config,
            events=self.events,
            penalty=BindPenalty(self.clock) if penalty else None,
        )
        self.smsc.start()

    protocol_class: type[SmscProtocol] = SmscProtocol

    def connect(self, host: str = "127.0.0.1") -> tuple[SmscProtocol, PduTransport]:
        proto = self.protocol_class(self.smsc)
        return proto, connect(proto, host)

    def bind(self, system_id: str = "alice", password: str = "secret", kind: str = "trx", **kw: Any) -> tuple[SmscProtocol, PduTransport]:
        proto, transport = self.connect()
        cls = {"trx": BindTransceiver, "tx": BindTransmitter, "rx": BindReceiver}[kind]
        send(proto, cls(sequence_number=1, system_id=system_id, password=password, **kw))
        resp, *rest = transport.pdus()
        transport.unread(rest)
        assert resp.command_status == 0, resp
        assert isinstance(resp, (BindTransceiverResp, BindReceiverResp)) or resp.command_id == 0x80000002
        return proto, transport

    def request(self, proto: SmscProtocol, transport: PduTransport, *pdus: Pdu) -> list[Pdu]:
        send(proto, *pdus)
        return transport.pdus()

    def ack_all(self, proto: SmscProtocol, transport: PduTransport, status: int = 0) -> list[Pdu]:
        """Answer every deliver_sm the SMSC sent; return them."""
        self.clock.advance(0)  # the outbox sends on the next reactor turn
        got = [p for p in transport.pdus() if isinstance(p, DeliverSm)]
        if got:
            send(proto, *[DeliverSmResp(sequence_number=p.sequence_number, command_status=status) for p in got])
        return got
