"""Authentication over real loopback sockets: every refusal looks the same,
guesses cannot be hammered (penalty, failures per connection, verification
caps), one host cannot hold every pre-bind slot, a partial PDU times out.

The hashes are counted by wrapping ``verify_password`` (the server runs in
this process, its hashes in the reactor's real thread pool)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import LoopingCall
from twisted.logger import formatEvent
from twisted.python.failure import Failure

from smppd.auth import BindPenalty, Users, UsersAuthenticator
from smppd.auth import authenticator as authenticator_module
from smppd.pdu import BindTransceiver, CommandStatus, EnquireLink, PduReader, encode_pdu
from smppd.protocol import SmppError
from tests.e2e.support import TIMEOUT, RawClient, reactor, server_config, within
from tests.server.harness import account

S = CommandStatus
HOST = "127.0.0.1"


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    calls: list[str] = []
    real = authenticator_module.verify_password

    def counting(password: str, encoded: str) -> bool:
        calls.append(encoded)
        return real(password, encoded)

    monkeypatch.setattr(authenticator_module, "verify_password", counting)
    yield calls


def users() -> Users:
    return Users([account("fenced", allowed_networks=["10.0.0.0/8"]), account("open")])


def bind(seq: int, system_id: str, password: str) -> BindTransceiver:
    return BindTransceiver(sequence_number=seq, system_id=system_id, password=password, interface_version=0x34)


@pytest_twisted.inlineCallbacks
def test_every_refusal_looks_the_same(live: Any, hashes: list[str]) -> Any:
    """A right and a wrong password from outside the account's networks, an
    unknown system_id and a wrong password get the same bind_resp, after one
    hash each; the log says why, without the password or an unknown system_id."""
    server = yield live.start(server_config(), users=users())
    answers = {}
    cases = {
        "fenced, right password": ("fenced", "secret"),
        "fenced, wrong password": ("fenced", "Guess#1"),
        "unknown system_id": ("Passw0rd!", "secret"),
        "open, wrong password": ("open", "Guess#2"),
    }
    for label, (system_id, password) in cases.items():
        esme = yield server.connect()
        with pytest.raises(SmppError) as info:
            yield esme.bind("trx", system_id, password)
        answers[label] = attrs.evolve(info.value.response, sequence_number=0)
        esme.transport.loseConnection()
        yield esme.wait_closed()
    assert len(set(answers.values())) == 1, answers
    assert next(iter(answers.values())).command_status == S.ESME_RBINDFAIL
    assert len(hashes) == 4  # the same work for each
    text = "\n".join(formatEvent(e) for e in live.log)
    for reason in ("peer address not allowed", "unknown system_id (9 characters)", "wrong password"):
        assert reason in text, text
    for secret in ("secret", "Guess#1", "Guess#2", "Passw0rd!"):
        assert secret not in text


class Hammer(Protocol):
    """Sends the next bind as soon as the last one is answered, up to ``n``."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.sent = 0
        self.answers: list[Any] = []
        self.reader = PduReader()
        self.done: Deferred[None] = Deferred()
        self.closed_d = self.done  # (what the teardown waits for)

    def connectionMade(self) -> None:
        self._next()

    def _next(self) -> None:
        self.sent += 1
        assert self.transport is not None
        self.transport.write(encode_pdu(bind(self.sent, "open", f"guess{self.sent}")))

    def dataReceived(self, data: bytes) -> None:
        for pdu in self.reader.feed(data):
            self.answers.append(pdu)
            if self.sent < self.n:
                self._next()
            elif self.transport is not None:
                self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.done.callback(None)


@pytest_twisted.inlineCallbacks
def test_a_connection_is_closed_after_three_failed_binds(live: Any, hashes: list[str]) -> Any:
    server = yield live.start(server_config(), users=users())
    hammer = yield server.connect(Hammer(30))
    yield within(hammer.done, what="the server to close the connection")
    assert [p.command_status for p in hammer.answers] == [S.ESME_RBINDFAIL] * 3
    assert len(hashes) == 3


@pytest_twisted.inlineCallbacks
def test_no_verification_while_the_host_is_penalised(live: Any, hashes: list[str]) -> Any:
    """After the free failures the answer is held back, and binds from that
    host meanwhile (on that connection or another, right password or not)
    are refused without a hash."""
    penalty = BindPenalty(reactor, free_failures=1, base_delay=60.0, max_delay=60.0)
    server = yield live.start(server_config(), users=users(), penalty=penalty)
    first = yield server.connect()
    with pytest.raises(SmppError):
        yield first.bind("trx", "open", "wrong")  # free: answered at once
    held = yield server.connect(RawClient())
    held.transport.write(encode_pdu(bind(1, "open", "wrong")))
    yield within(poll(lambda: penalty.failures(HOST) == 2), what="the second failure")
    assert len(hashes) == 2
    held.transport.write(b"".join(encode_pdu(bind(seq, "open", "secret")) for seq in range(2, 8)))
    other = yield server.connect()
    with pytest.raises(SmppError) as info:
        yield other.bind("trx", "open", "secret")  # the right password: still refused
    assert info.value.status == S.ESME_RBINDFAIL
    yield within(poll(lambda: len(held.pdus()) >= 6), what="answers on the held connection")
    assert [p.command_status for p in held.pdus()] == [S.ESME_RALYBND] * 6
    assert len(hashes) == 2
    for proto in (first, other):
        proto.transport.loseConnection()
    held.transport.loseConnection()
    yield within(held.closed_d)


@pytest_twisted.inlineCallbacks
def test_verifications_are_capped_per_host(live: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    release = threading.Event()
    started: list[str] = []
    real = authenticator_module.verify_password

    def slow(password: str, encoded: str) -> bool:
        started.append(encoded)
        release.wait(TIMEOUT)
        return real(password, encoded)

    monkeypatch.setattr(authenticator_module, "verify_password", slow)
    auth = UsersAuthenticator(users(), reactor=reactor, max_verifications=8, max_verifications_per_host=1)
    server = yield live.start(server_config(), authenticator=auth)
    try:
        first = yield server.connect()
        d = first.bind("trx", "open", "secret")
        yield within(poll(lambda: len(started) == 1), what="the first hash")
        second = yield server.connect()
        with pytest.raises(SmppError) as info:
            yield second.bind("trx", "open", "guess")  # over the cap: at once, not hashed
        assert info.value.status == S.ESME_RBINDFAIL and len(started) == 1
    finally:
        release.set()
    resp = yield d
    assert resp.command_status == 0
    text = "\n".join(formatEvent(e) for e in live.log)
    assert "too many binds being verified" in text


@pytest_twisted.inlineCallbacks
def test_one_host_cannot_hold_every_pre_bind_slot(live: Any) -> Any:
    server = yield live.start(server_config(max_unbound_per_host=2), users=users())
    waiting = []
    for _ in range(2):
        waiting.append((yield server.connect(RawClient())))
    third = yield server.connect(RawClient())
    yield within(third.closed_d, what="the third unbound connection to be closed")
    assert third.data == b"" and server.factory.refused_unbound == 1
    bound = waiting[0]
    bound.transport.write(encode_pdu(bind(1, "open", "secret")))
    yield within(poll(lambda: len(bound.pdus()) == 1), what="bind_resp")
    assert bound.pdus()[0].command_status == 0
    fourth = yield server.connect()  # one of the two bound: a slot again
    yield fourth.bind("trx", "open", "secret")
    for proto in (*waiting, fourth):
        proto.transport.loseConnection()


@pytest_twisted.inlineCallbacks
def test_a_partial_pdu_is_timed_out(live: Any) -> Any:
    d = server_config()
    config = attrs.evolve(d, session=attrs.evolve(d.session, partial_pdu_timeout=0.2))
    server = yield live.start(config, users=users())
    three = yield server.connect(RawClient())
    three.transport.write(b"\x00\x00\x00")
    promised = yield server.connect(RawClient())
    promised.transport.write(encode_pdu(EnquireLink(sequence_number=1)) + (1000).to_bytes(4, "big") + bytes(20))
    yield within(three.closed_d, what="close after 3 octets")
    yield within(promised.closed_d, what="close of a PDU that never completes")
    assert [p.command_id for p in promised.pdus()] == [0x80000015]  # the whole PDU was answered


def poll(done: Any, interval: float = 0.01) -> Any:
    """Fires once ``done()`` is true (checked every ``interval`` seconds);
    callers bound it with :func:`within`."""
    loop = LoopingCall(lambda: loop.stop() if done() else None)
    return loop.start(interval, now=True).addCallback(lambda _: None)
