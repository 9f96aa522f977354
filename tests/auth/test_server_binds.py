"""Bind handling in the SMSC on fake time: the penalty refuses unverified,
a connection closes after repeated failures, unbound connections are capped
per host, a partial PDU is timed out, a reload unbinds revoked sessions."""

from __future__ import annotations

import attrs
import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure

from smppd.auth import Users
from smppd.auth import authenticator as authenticator_module
from smppd.pdu import (
    BindTransceiver,
    BindTransmitter,
    CommandId,
    CommandStatus,
    EnquireLink,
    encode_pdu,
)
from smppd.server.config import ServerConfig
from smppd.server.factory import SmscFactory
from smppd.testing import connect, send
from tests.server.harness import Harness, account

S = CommandStatus


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password hash verified (by the encoded hash tried)."""
    calls: list[str] = []
    real = authenticator_module.verify_password

    def counting(password: str, encoded: str) -> bool:
        calls.append(encoded)
        return real(password, encoded)

    monkeypatch.setattr(authenticator_module, "verify_password", counting)
    return calls


def bad_bind(seq: int = 1, password: str = "bad") -> BindTransceiver:
    return BindTransceiver(sequence_number=seq, system_id="alice", password=password)


def test_bind_during_the_penalty_is_refused_without_hashing(hashes: list[str]) -> None:
    h = Harness(penalty=True)
    for _ in range(4):  # three free failures, the fourth starts a 1 s penalty
        proto, transport = h.connect()
        send(proto, bad_bind())
    assert len(hashes) == 4
    # Another connection from that host while the penalty runs: refused, not verified.
    proto, transport = h.connect()
    send(proto, bad_bind(password="secret"))
    (resp,) = transport.pdus()
    assert resp.command_status == S.ESME_RBINDFAIL and not proto.session.is_bound
    assert len(hashes) == 4
    # Another host is not concerned.
    other, other_t = h.connect(host="10.9.9.9")
    send(other, bad_bind(password="secret"))
    assert other_t.pdus()[0].command_status == 0
    # Once the penalty has run out, the host is verified again.
    h.clock.advance(1.0)
    proto, transport = h.connect()
    send(proto, bad_bind(password="secret"))
    assert [p.command_status for p in transport.pdus()] == [0]
    assert len(hashes) == 5  # (the success from 10.9.9.9 is cached)


def test_a_bind_while_the_answer_is_held_back_is_not_verified(hashes: list[str]) -> None:
    h = Harness(penalty=True, config=ServerConfig(max_bind_failures=100))
    for _ in range(3):
        proto, _t = h.connect()
        send(proto, bad_bind())
    proto, transport = h.connect()
    send(proto, bad_bind(1))  # the fourth failure: its answer waits a second
    assert len(hashes) == 4 and not transport.value()
    for seq in range(2, 12):  # guesses on the same connection meanwhile
        send(proto, bad_bind(seq, password="secret"))
    assert len(hashes) == 4
    statuses = [p.command_status for p in transport.pdus()]
    assert statuses == [S.ESME_RALYBND] * 10
    h.clock.advance(1.0)
    (resp,) = transport.pdus()
    assert resp.sequence_number == 1 and resp.command_status == S.ESME_RBINDFAIL


def test_connection_closes_after_max_bind_failures(hashes: list[str]) -> None:
    h = Harness(config=ServerConfig(max_bind_failures=3))
    proto, transport = h.connect()
    for seq in (1, 2):
        send(proto, bad_bind(seq))
        assert transport.pdus()[0].command_status == S.ESME_RBINDFAIL
        assert not transport.disconnecting
    send(proto, bad_bind(3))
    assert transport.pdus()[0].command_status == S.ESME_RBINDFAIL  # answered, then closed
    assert transport.disconnecting
    assert len(hashes) == 3


def test_the_held_back_answer_is_cancelled_when_the_peer_leaves() -> None:
    h = Harness(penalty=True)
    for _ in range(3):
        proto, _t = h.connect()
        send(proto, bad_bind())
    proto, transport = h.connect()
    send(proto, bad_bind())
    assert [c for c in h.clock.getDelayedCalls() if c.active()]
    transport.loseConnection()
    proto.connectionLost(Failure(ConnectionDone()))
    assert proto._penalty_call is None


def peer(host: str, port: int = 40000) -> IPv4Address:
    return IPv4Address("TCP", host, port)


def test_unbound_connections_are_capped_per_host() -> None:
    h = Harness(config=ServerConfig(max_unbound_per_host=2))
    factory = SmscFactory(h.smsc)
    a1 = factory.buildProtocol(peer("192.0.2.1"))
    a2 = factory.buildProtocol(peer("192.0.2.1"))
    assert a1 is not None and a2 is not None
    t1, _t2 = connect(a1, "192.0.2.1"), connect(a2, "192.0.2.1")
    assert factory.buildProtocol(peer("192.0.2.1")) is None  # a third waiting from that host
    assert factory.buildProtocol(peer("192.0.2.2")) is not None  # another host is not concerned
    # Once one of them binds, the host has a pre-bind slot again.
    send(a1, BindTransmitter(sequence_number=1, system_id="alice", password="secret"))
    assert t1.pdus()[0].command_status == 0
    a3 = factory.buildProtocol(peer("192.0.2.1"))
    assert a3 is not None
    connect(a3, "192.0.2.1")
    assert factory.buildProtocol(peer("192.0.2.1")) is None
    # ... and when one closes.
    a3.connectionLost(Failure(ConnectionDone()))
    assert factory.unbound_count("192.0.2.1") == 1
    assert factory.buildProtocol(peer("192.0.2.1")) is not None
    assert factory.refused_unbound == 2


def partial_config(timeout: float = 30.0) -> ServerConfig:
    d = ServerConfig()
    return attrs.evolve(d, session=attrs.evolve(d.session, partial_pdu_timeout=timeout, session_init_timeout=None))


def test_a_partial_header_is_closed_after_the_timeout() -> None:
    h = Harness(config=partial_config(30.0))
    proto, transport = h.connect()
    proto.dataReceived(b"\x00\x00\x00")
    h.clock.advance(29.0)
    assert not transport.disconnecting
    h.clock.advance(1.0)
    assert transport.disconnecting


def test_a_trickled_body_is_closed_even_when_bound() -> None:
    h = Harness(config=partial_config(30.0))
    proto, transport = h.bind()
    link = encode_pdu(EnquireLink(sequence_number=5))
    proto.dataReceived(link[:13])
    link_rest = link[13:]
    header = (1000).to_bytes(4, "big") + int(CommandId.submit_sm).to_bytes(4, "big") + bytes(8)
    # the rest of the enquire_link, and a header promising 1000 octets
    proto.dataReceived(link_rest + header)
    transport.pdus()
    for _ in range(4):  # one octet every 6 s: data arrives, the PDU never completes
        h.clock.advance(6.0)
        assert not transport.disconnecting
        proto.dataReceived(b"x")
    h.clock.advance(6.0)  # 30 s after the partial began
    assert transport.disconnecting


def test_a_steady_stream_is_never_taken_for_a_partial_pdu() -> None:
    """Frames completing keep the connection: each read that completes a PDU
    and leaves part of the next starts the partial's clock again."""
    h = Harness(config=partial_config(30.0))
    proto, transport = h.bind()
    link = encode_pdu(EnquireLink(sequence_number=1))
    calls_before = len(h.clock.getDelayedCalls())
    proto.dataReceived(link[:8])
    for _ in range(20):
        h.clock.advance(20.0)
        proto.dataReceived(link[8:] + link[:8])  # one completes, the next begins
        assert not transport.disconnecting
    # one partial-PDU timer at a time, however many reads
    assert len(h.clock.getDelayedCalls()) <= calls_before + 1
    proto.dataReceived(link[8:])  # and nothing left over: the timer lapses
    h.clock.advance(60.0)
    assert not transport.disconnecting


def test_reload_unbinds_only_the_sessions_no_longer_admitted() -> None:
    h = Harness(accounts=[account("alice"), account("bob"), account("carol"), account("dave")])
    sessions = {sid: h.bind(sid) for sid in ("alice", "bob", "carol", "dave")}
    for _proto, t in sessions.values():
        t.pdus()
    new = Users(
        [
            # alice removed; bob's password changed; carol may no longer bind as trx
            account("bob", password="changed"),
            account("carol", bind_types={"transmitter"}),
            account("dave"),
        ]
    )
    h.auth.reload(new)
    assert h.smsc.revoke_sessions(h.auth.still_admits) == 3
    for sid in ("alice", "bob", "carol"):
        (unbind,) = sessions[sid][1].pdus()
        assert unbind.command_id == CommandId.unbind, sid
    assert sessions["dave"][1].pdus() == [] and sessions["dave"][0].session.is_bound
    # An allow-list that no longer admits the peer also revokes.
    h.auth.reload(Users([account("dave", allowed_networks=["10.0.0.0/8"])]))
    assert h.smsc.revoke_sessions(h.auth.still_admits) == 1


def test_an_ipv6_host_counts_by_its_64() -> None:
    from twisted.internet.address import IPv6Address

    h = Harness(config=ServerConfig(max_unbound_per_host=1))
    factory = SmscFactory(h.smsc)
    first = factory.buildProtocol(IPv6Address("TCP", "2001:db8:1:2::1", 40000))
    assert first is not None
    connect(first, "2001:db8:1:2::1")
    assert factory.buildProtocol(IPv6Address("TCP", "2001:db8:1:2::ffff", 40001)) is None  # same /64
    assert factory.buildProtocol(IPv6Address("TCP", "2001:db8:1:3::1", 40002)) is not None
