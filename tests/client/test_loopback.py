"""The client against our own SMSC over real loopback sockets (127.0.0.1, port 0).

Real reactor, real TCP, real thread pool for the password hashes; receipts
come after the simulator's 0.05 s. Every wait is bounded; nothing sleeps.
Teardown stops the clients, then the SMSCs and their ports, and fails the
test if a client timer is left pending.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
import pytest_twisted
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.task import deferLater

from smppd.auth import Users, UsersAuthenticator, demo_users
from smppd.client import ClientConfig, ReconnectPolicy, SmppClient
from smppd.pdu import (
    CancelSm,
    CancelSmResp,
    CommandStatus,
    DataSm,
    DataSmResp,
    DestAddress,
    MessageState,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SubmitMulti,
    SubmitMultiResp,
)
from smppd.pdu.timefmt import format_relative
from smppd.protocol import SessionConfig, SmppError
from smppd.server.config import ServerConfig
from smppd.server.delivery import SimulatorRule
from smppd.server.factory import SmscFactory
from smppd.server.smsc import Smsc
from smppd.storage import MemoryStore

reactor: Any = _reactor
HOST = "127.0.0.1"
TIMEOUT = 10.0
S = CommandStatus
M = MessageState
SLOW = "4470099"  # the simulator keeps these in the network for a minute
FAILS = "4479"  # and these end UNDELIV, error 11
SESSION = SessionConfig(enquire_link_interval=None, response_timeout=TIMEOUT, window=20, unbind_timeout=2.0)


def within(d: Deferred[Any], timeout: float = TIMEOUT) -> Deferred[Any]:
    return d.addTimeout(timeout, reactor)


@inlineCallbacks
def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> Any:
    deadline = reactor.seconds() + timeout
    while not predicate():
        if reactor.seconds() > deadline:
            raise TimeoutError("condition never came true")
        yield deferLater(reactor, 0.01, lambda: None)


class Live:
    """Servers and clients started by one test, stopped at its end."""

    def __init__(self) -> None:
        self.smscs: list[Smsc] = []
        self.ports: list[Any] = []
        self.clients: list[SmppClient] = []

    @inlineCallbacks
    def smsc(self, users: Any = None) -> Any:
        config = ServerConfig(
            simulator_default_delay=0.05,
            simulator_rules=(SimulatorRule(SLOW, M.DELIVERED, 60.0), SimulatorRule(FAILS, M.UNDELIVERABLE, 0.05, 11)),
            grace_period=2.0,
        )
        auth = UsersAuthenticator(users if users is not None else demo_users(), reactor=reactor)
        smsc = Smsc(reactor, MemoryStore(), auth, config=config)
        yield smsc.start()
        self.smscs.append(smsc)
        return smsc

    def listen(self, smsc: Smsc) -> Any:
        port = reactor.listenTCP(0, SmscFactory(smsc), interface=HOST)
        self.ports.append(port)
        return port

    def client(self, *ports: Any, on_message: Any = None, **kw: Any) -> SmppClient:
        kw.setdefault("system_id", "test")
        kw.setdefault("password", "test")
        kw.setdefault("session", SESSION)
        config = ClientConfig(endpoints=tuple(f"tcp:{HOST}:{p.getHost().port}" for p in ports), **kw)
        client = SmppClient(config, reactor, on_message=on_message)
        self.clients.append(client)
        client.startService()
        return client

    @inlineCallbacks
    def close(self) -> Any:
        for client in self.clients:
            if client.running:
                yield within(client.stopService())
        leftover = [c for c in reactor.getDelayedCalls() if _from_client(c)]
        for smsc in self.smscs:
            yield within(smsc.stop())
        for port in self.ports:
            yield port.stopListening()
        assert leftover == [], leftover


def _from_client(call: Any) -> bool:
    func = call.func
    owner = getattr(func, "__self__", None)
    module = getattr(owner.__class__ if owner is not None else func, "__module__", "") or ""
    return module.startswith(("smppd.client", "twisted.application"))


@pytest.fixture
def live(logged: Any) -> Iterator[Live]:
    live = Live()
    try:
        yield live
    finally:
        pytest_twisted.blockon(live.close())
    assert logged.failures == []  # no traceback logged anywhere (client, server, ClientService)


@pytest_twisted.inlineCallbacks
def test_gsm_ucs2_and_long_messages_are_delivered(live):
    smsc = yield live.smsc()
    client = live.client(live.listen(smsc))
    yield within(client.when_bound())
    gsm = yield within(client.send_message("Shop", "447700900123", "hello world", receipt=True))
    emoji = yield within(client.send_message("Shop", "447700900123", "thumbs 👍 up", receipt=True))
    long = yield within(client.send_message("Shop", "447700900123", "é€👍 long " * 30, receipt=True))
    assert len(gsm) == 1 and len(emoji) == 1 and len(long) > 1
    outcomes = yield within(gatherResults([client.outcome(ids) for ids in (gsm, emoji, long)]))
    assert [o.stat for o in outcomes] == ["DELIVRD"] * 3
    assert len(outcomes[2].states) == len(long)


@pytest_twisted.inlineCallbacks
def test_a_simulator_rule_gives_undeliv(live):
    smsc = yield live.smsc()
    client = live.client(live.listen(smsc))
    ids = yield within(client.send_message("Shop", FAILS + "00000001", "nobody home", receipt=True))
    outcome = yield within(client.outcome(ids))
    assert outcome.state == M.UNDELIVERABLE and outcome.stat == "UNDELIV"
    assert outcome.error_codes == (11,)


@pytest_twisted.inlineCallbacks
def test_query_replace_cancel_submit_multi_and_data_sm(live):
    smsc = yield live.smsc()
    client = live.client(live.listen(smsc))
    # (held for its schedule: replace_sm applies to a message not yet started)
    (mid,) = yield within(client.send_message("Shop", SLOW + "00001", "to be changed", receipt=True, schedule_delivery_time=format_relative(3600)))
    q = yield within(client.submit(QuerySm(message_id=mid, source_addr="Shop", source_addr_ton=5)))
    assert isinstance(q, QuerySmResp) and q.message_state == M.ENROUTE
    r = yield within(client.submit(ReplaceSm(message_id=mid, source_addr="Shop", source_addr_ton=5, short_message=b"changed", registered_delivery=1)))
    assert isinstance(r, ReplaceSmResp) and r.command_status == 0
    c = yield within(client.submit(CancelSm(message_id=mid, source_addr="Shop", source_addr_ton=5)))
    assert isinstance(c, CancelSmResp) and c.command_status == 0
    outcome = yield within(client.outcome(mid))
    assert outcome.state == M.DELETED
    multi = yield within(
        client.submit(
            SubmitMulti(
                source_addr="Shop",
                source_addr_ton=5,
                dest_addresses=[DestAddress("447700900001", 1, 1), DestAddress("447700900002", 1, 1)],
                short_message=b"to both",
            )
        )
    )
    assert isinstance(multi, SubmitMultiResp) and multi.message_id and multi.unsuccess_smes == ()
    data = yield within(
        client.submit(
            DataSm(source_addr="Shop", source_addr_ton=5, destination_addr="447700900123", dest_addr_ton=1, dest_addr_npi=1, tlvs={"message_payload": b"data"})
        )
    )
    assert isinstance(data, DataSmResp) and data.message_id
    refused = client.submit(QuerySm(message_id="no-such-id"))
    error = yield within(refused).addErrback(lambda f: f.value)
    assert isinstance(error, SmppError) and error.status == S.ESME_RQUERYFAIL


@pytest_twisted.inlineCallbacks
def test_two_binds(live):
    smsc = yield live.smsc()
    client = live.client(live.listen(smsc), binds=2)
    yield wait_until(lambda: client.bound_count == 2)
    assert len(smsc.sessions) == 2
    assert {p.session.system_id for p in smsc.sessions} == {"test"}
    sent = yield within(gatherResults([client.send_message("Shop", "447700900123", f"m{i}", receipt=True) for i in range(10)]))
    outcomes = yield within(gatherResults([client.outcome(ids) for ids in sent]))
    assert all(o.delivered for o in outcomes)


@pytest_twisted.inlineCallbacks
def test_an_incoming_message_reaches_the_handler(live):
    # The users file grants "test" the destinations 999...; its bind narrows to them.
    granted = Users([attrs.evolve(a, receive_ranges=["999"]) if a.system_id == "test" else a for a in demo_users()])
    smsc = yield live.smsc(users=granted)
    got: list[Any] = []
    client = live.client(live.listen(smsc), address_range="^999", on_message=got.append)
    yield within(client.when_bound())
    text = "Back to ourselves through the SMSC 👋 " * 4
    ids = yield within(client.send_message("Shop", "999123", text, receipt=True, dest_addr_ton=0, dest_addr_npi=0))
    outcome = yield within(client.outcome(ids))
    assert outcome.delivered
    (message,) = got
    assert message.text == text and message.parts == len(ids) > 1


@pytest_twisted.inlineCallbacks
def test_the_client_fails_over_when_its_smsc_goes_away(live):
    smsc = yield live.smsc()
    first, second = live.listen(smsc), live.listen(smsc)
    policy = ReconnectPolicy(initial=0.05, factor=2.0, maximum=0.2, jitter=0.1)
    client = live.client(first, second, reconnect=policy)
    yield within(client.when_bound())
    (session,) = smsc.sessions
    assert session.transport.getHost().port == first.getHost().port
    ids = yield within(client.send_message("Shop", "447700900123", "before", receipt=True))
    # The first address goes away: no more listening there, its connection dropped.
    live.ports.remove(first)
    yield first.stopListening()
    session.transport.abortConnection()
    yield wait_until(lambda: client.bound_count == 0)
    later = client.send_message("Shop", "447700900123", "after", receipt=True)
    yield wait_until(lambda: client.bound_count == 1)
    (session,) = smsc.sessions
    assert session.transport.getHost().port == second.getHost().port
    after = yield within(later)
    outcomes = yield within(gatherResults([client.outcome(ids), client.outcome(after)]))
    assert all(o.delivered for o in outcomes)


@pytest_twisted.inlineCallbacks
def test_a_refused_bind_fails_over_to_the_next_smsc(live):
    strangers = yield live.smsc(users=Users([]))  # knows nobody: every bind is refused
    friends = yield live.smsc()
    policy = ReconnectPolicy(initial=0.05, factor=2.0, maximum=0.2, jitter=0.0)
    client = live.client(live.listen(strangers), live.listen(friends), reconnect=policy)
    yield within(client.when_bound())
    assert len(friends.sessions) == 1 and strangers.sessions == set()
    ids = yield within(client.send_message("Shop", "447700900123", "second time lucky", receipt=True))
    outcome = yield within(client.outcome(ids))
    assert outcome.delivered
