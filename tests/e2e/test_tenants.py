"""Two tenants side by side over real sockets: one cannot take the other's traffic.

Tenant A ("alice") submits OTPs; the users file grants A's own receiver the
destinations 4477009... (from A only) and nobody anything else. Tenant B
("mallory") binds as a receiver asking for everything (``.*``) and with a
catastrophic-backtracking pattern (``(a+)+$``). B must receive nothing of
A's, A's messages go where the operator routed them (A's receiver, else the
simulator) with a correct receipt, and B's pattern never runs: a submit is
still answered at once. Once in process (the reactor the test runs on) and
once through a real ``twistd smpp-server`` with a users file.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_twisted

from smppd.auth import Account, Users, hash_password
from smppd.pdu import CommandStatus, DataSm, DeliverSm, EnquireLink, MessageState
from smppd.text.receipt import parse_receipt
from tests.e2e.support import server_config, submit_sm, within
from tests.process import support as proc

S = CommandStatus
OWN = "447700900123"  # granted to alice's receiver, from alice only
NOBODY = "447911000000"  # granted to nobody: the simulator
EVIL = "a" * 40 + "!"  # what (a+)+$ backtracks on for 2^40 steps


def users() -> Users:
    def acct(system_id: str, **kw: object) -> Account:
        return Account(system_id=system_id, password_hash=hash_password("pw", "pbkdf2", iterations=1000), **kw)  # type: ignore[arg-type]

    return Users([acct("alice", receive_ranges=["4477009"], receive_from=["alice"]), acct("mallory")])


def is_receipt(pdu: DeliverSm) -> bool:
    return pdu.receipted_message_id is not None or bool(pdu.esm_class & 0x04)


@pytest_twisted.inlineCallbacks
def test_a_hostile_receiver_gets_nothing_and_the_owner_gets_its_own(live):
    server = yield live.start(server_config(), users=users())
    thieves = []
    for address_range in (".*", "(a+)+$"):
        thief = yield server.connect()
        yield within(thief.send_request(proc.BIND_CLASSES["rx"](system_id="mallory", password="pw", address_range=address_range)))
        thieves.append(thief)
    alice = yield server.esme("trx", "alice", "pw")

    own = yield alice.request(submit_sm(destination_addr=OWN, registered_delivery=1, short_message=b"OTP 111111"))
    other = yield alice.request(submit_sm(destination_addr=NOBODY, registered_delivery=1, short_message=b"OTP 222222"))
    assert own.command_status == other.command_status == S.ESME_ROK
    # alice gets: her own OTP (routed to her receiver) and two DELIVRD receipts.
    got = yield alice.wait_deliveries(3)
    messages = [d for d in got if not is_receipt(d)]
    receipts = {d.receipted_message_id: d.message_state for d in got if is_receipt(d)}
    assert [(m.destination_addr, m.short_message) for m in messages] == [(OWN, b"OTP 111111")]
    assert receipts == {own.message_id: MessageState.DELIVERED, other.message_id: MessageState.DELIVERED}
    for thief in thieves:
        yield thief.request(EnquireLink())  # a round trip: anything routed to it came before
        assert thief.deliveries == []


@pytest.fixture
def servers() -> Iterator[proc.Servers]:
    """twistd processes, killed at teardown; a traceback in their log fails the test."""
    started = proc.Servers()
    try:
        yield started
    finally:
        started.close()
    problems = started.problems()
    assert not problems, "server log:\n" + "\n".join(problems)


def write_config(tmp_path: Path) -> Path:
    entries = [
        {"system_id": "alice", "password": "pw", "receive_ranges": ["4477009"], "receive_from": ["alice"]},
        {"system_id": "mallory", "password": "pw"},
    ]
    (tmp_path / "users.json").write_text(json.dumps({"users": entries}))
    config = tmp_path / "server.json"
    config.write_text(json.dumps({"users_file": "users.json", "store": "memory", "simulator": {"default_delay": 0.2}}))
    return config


def test_two_tenants_through_twistd_with_a_users_file(servers, tmp_path):
    server = servers.start(tmp_path, "--config", str(write_config(tmp_path)))
    with proc.Esme(server.port) as redos, proc.Esme(server.port) as any_thief, proc.Esme(server.port) as alice:
        bind = proc.BindTransceiver(system_id="mallory", password="pw", address_range="(a+)+$")
        assert redos.call(bind).command_status == S.ESME_ROK
        assert any_thief.request(proc.BindReceiver, system_id="mallory", password="pw", address_range=".*").command_status == S.ESME_ROK
        # Mallory's own message to a destination its pattern would backtrack on (data_sm: 65 octets).
        resp = redos.call(DataSm(source_addr="x", destination_addr=EVIL, registered_delivery=0))
        assert resp.command_status == S.ESME_ROK
        assert alice.bind("alice", "pw", "trx").command_status == S.ESME_ROK

        own = alice.call(proc.submit_sm(OWN, b"OTP 111111"))  # answered at once: the server is not stuck
        other = alice.call(proc.submit_sm(NOBODY, b"OTP 222222"))
        assert own.command_status == other.command_status == S.ESME_ROK
        alice.wait_until(lambda: len(alice.receipts) == 2, what="two receipts")
        assert sorted(alice.receipts) == sorted([own.message_id, other.message_id])
        stats = [parse_receipt(d.short_message) for d in alice.deliveries if d.receipted_message_id]
        assert [r.stat for r in stats if r is not None] == ["DELIVRD", "DELIVRD"], stats
        assert [d.short_message for d in alice.deliveries if not d.receipted_message_id] == [b"OTP 111111"]
        for thief in (any_thief, redos):
            assert thief.enquire_link().command_status == S.ESME_ROK
            assert [d for d in thief.deliveries if d.short_message.startswith(b"OTP")] == []


def test_sighup_applies_changed_grants_to_bound_receivers(servers, tmp_path):
    server = servers.start(tmp_path, "--config", str(write_config(tmp_path)))
    with proc.Esme(server.port) as bob, proc.Esme(server.port) as alice:
        assert alice.bind("alice", "pw", "trx").command_status == S.ESME_ROK
        assert bob.request(proc.BindReceiver, system_id="mallory", password="pw").command_status == S.ESME_ROK
        first = alice.call(proc.submit_sm("447922000001", b"before"))
        alice.wait_until(lambda: first.message_id in alice.receipts, what="the simulator's receipt")
        assert bob.enquire_link().command_status == S.ESME_ROK and bob.deliveries == []

        users = json.loads((tmp_path / "users.json").read_text())
        users["users"][1]["receive_ranges"] = ["4479220"]  # the operator grants mallory 4479220...
        (tmp_path / "users.json").write_text(json.dumps(users))
        mark = server.mark()
        server.signal(signal.SIGHUP)
        server.wait_for(r"configuration reloaded", start=mark)

        second = alice.call(proc.submit_sm("447922000002", b"after"))
        bob.wait_until(lambda: len(bob.deliveries) == 1, what="the routed message")
        assert bob.deliveries[0].short_message == b"after"
        alice.wait_until(lambda: second.message_id in alice.receipts, what="its receipt")
