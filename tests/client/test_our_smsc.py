"""The client against our own SMSC (the real SmscProtocol), on fake time."""

from __future__ import annotations

import attrs
import pytest

from smppd.auth import Users, UsersAuthenticator
from smppd.pdu import CommandStatus, MessageState, QuerySm, QuerySmResp
from smppd.server.config import ServerConfig
from smppd.server.delivery import SimulatorRule
from smppd.server.protocol import SmscProtocol
from smppd.server.smsc import Smsc
from smppd.storage.memory import MemoryStore
from tests.client.support import consume, failure_of, result_of
from tests.server.harness import account

S = CommandStatus
M = MessageState
SPEC = "tcp:smppd:2775"


@pytest.fixture
def smsc(rig):
    clock = rig.clock
    auth = UsersAuthenticator(Users([account("alice"), account("bob", receive_ranges=["999"])]), reactor=clock, threadpool=clock.pool)
    config = ServerConfig(
        simulator_default_delay=2.0,
        simulator_rules=(SimulatorRule("4479", M.UNDELIVERABLE, 1.0, 11),),
    )
    config = attrs.evolve(config, session=attrs.evolve(config.session, enquire_link_interval=None))
    smsc = Smsc(clock, MemoryStore(), auth, config=config)
    smsc.start()
    rig.net.endpoint(SPEC, lambda: SmscProtocol(smsc))

    def stop() -> None:
        box = consume(smsc.stop())
        rig.net.run_until(lambda: bool(box))
        result_of(box)

    rig.stoppers.append(stop)
    return smsc


def bound(rig, **kw):
    client = rig.start(rig.client(endpoints=(SPEC,), **kw))
    rig.net.run_until(lambda: client.bound_count == client.config.binds)
    return client


def test_messages_and_their_receipts(rig, smsc):
    client = bound(rig)
    short = consume(client.send_message("Shop", "447700900123", "hello world", receipt=True))
    long = consume(client.send_message("Shop", "447700900123", "é€👍 long " * 30, receipt=True))
    failing = consume(client.send_message("Shop", "447900000001", "no such phone", receipt=True))
    rig.net.flush()
    outcomes = [consume(client.outcome(result_of(box))) for box in (short, long, failing)]
    assert len(result_of(long)) > 1
    rig.net.advance(2.0)
    first, second, third = (result_of(o) for o in outcomes)
    assert first.stat == "DELIVRD" and second.stat == "DELIVRD"
    assert len(second.states) == len(result_of(long))
    assert third.stat == "UNDELIV" and third.error_codes == (11,)
    assert client.counters["receipts"] == 2 + len(result_of(long))


def test_wrong_password_never_binds_and_backs_off(rig, smsc):
    client = rig.start(rig.client(endpoints=(SPEC,), password="wrong"))
    rig.net.advance(10)
    assert client.bound_count == 0
    attempts = rig.net.endpoints[SPEC].attempts
    assert 2 <= len(attempts) <= 4  # 1 s, 2 s, 4 s ... with jitter


def test_query_sm_through_submit(rig, smsc):
    client = bound(rig)
    (mid,) = result_of_flushed(rig, client.send_message("Shop", "447700900123", "query me", receipt=True))
    answer = result_of_flushed(rig, client.submit(QuerySm(message_id=mid, source_addr="Shop", source_addr_ton=5)))
    assert isinstance(answer, QuerySmResp) and answer.message_state == M.ENROUTE
    missing = consume(client.submit(QuerySm(message_id="nope")))
    rig.net.flush()
    assert failure_of(missing).value.status == S.ESME_RQUERYFAIL


def test_one_client_sends_to_another(rig, smsc):
    got = []
    receiver = bound(rig, system_id="bob", bind_type="receiver", address_range="^999", on_message=got.append)
    sender = bound(rig)
    text = "From one ESME to another, in three parts: " + "abc " * 80
    ids = result_of_flushed(rig, sender.send_message("Shop", "999123", text, receipt=True, dest_addr_ton=0, dest_addr_npi=0))
    outcome = consume(sender.outcome(ids))
    rig.net.flush()
    (message,) = got
    assert message.text == text and message.parts == len(ids)
    assert result_of(outcome).delivered
    assert receiver.counters["mo"] == 1


def result_of_flushed(rig, d):
    box = consume(d)
    rig.net.flush()
    return result_of(box)
