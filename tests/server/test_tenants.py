"""Routing between tenants on fake time: only what the operator granted reaches an ESME."""

from __future__ import annotations

from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure

from smppd.auth import Users
from smppd.pdu import CommandStatus, DeliverSm, DeliverSmResp, MessageState, SubmitSm
from smppd.server.config import Route, ServerConfig
from smppd.testing import send
from tests.server.harness import Harness, account

S = CommandStatus


def submit(destination: str, seq: int = 10) -> SubmitSm:
    return SubmitSm(sequence_number=seq, source_addr="Shop", source_addr_ton=5, destination_addr=destination, dest_addr_ton=1, dest_addr_npi=1, short_message=b"OTP 123456", registered_delivery=1)


def deliveries(transport) -> list[DeliverSm]:
    return [p for p in transport.pdus() if isinstance(p, DeliverSm)]


def tenants(*accounts, config: ServerConfig | None = None) -> Harness:
    return Harness(config or ServerConfig(simulator_default_delay=5.0), accounts=list(accounts))


def test_a_receiver_without_a_grant_gets_nothing_whatever_its_address_range():
    h = tenants(account("alice"), account("mallory"))
    alice, a_t = h.bind("alice")
    thieves = [h.bind("mallory", kind="rx", address_range=r)[1] for r in (".*", "(a+)+$", "", "4477")]
    (resp,) = h.request(alice, a_t, submit("447700900123"))
    assert resp.command_status == 0
    h.clock.advance(0)
    assert all(deliveries(t) == [] for t in thieves)
    h.clock.advance(5)  # the simulator, not mallory, settles it
    (receipt,) = h.ack_all(alice, a_t)
    assert receipt.receipted_message_id == resp.message_id and receipt.message_state == MessageState.DELIVERED


def test_a_grant_routes_and_address_range_only_narrows_it():
    h = tenants(account("alice"), account("bob", receive_ranges=["4477"]))
    alice, a_t = h.bind("alice")
    bob, b_t = h.bind("bob", kind="rx", address_range="^44770[0-9]*$")
    h.request(alice, a_t, submit("447700900123", 1), submit("447799000000", 2), submit("447800000000", 3))
    h.clock.advance(0)
    assert [d.destination_addr for d in deliveries(b_t)] == ["447700900123"]  # inside the narrowing
    # A second bind of bob asking for everything gets the whole grant, never more.
    bob2, b2_t = h.bind("bob", kind="rx", address_range=".*")
    h.request(alice, a_t, submit("447799000001", 4), submit("447800000001", 5))
    h.clock.advance(0)
    got = [d.destination_addr for t in (b_t, b2_t) for d in deliveries(t)]
    assert got == ["447799000001"]


def test_a_pathological_address_range_is_not_compiled_and_does_not_widen():
    h = tenants(account("alice"), account("bob", receive_ranges=["^999[0-9]{3}$"]))
    alice, a_t = h.bind("alice")
    bob, b_t = h.bind("bob", kind="rx", address_range="(a+)+$")
    h.request(alice, a_t, submit("999123", 1), submit("9991234", 2), submit("a" * 20, 3))
    h.clock.advance(0)
    assert [d.destination_addr for d in deliveries(b_t)] == ["999123"]


def test_receive_from_limits_the_submitters_and_wins_over_an_open_grant():
    h = tenants(
        account("alice"),
        account("carol"),
        account("alice_rx", receive_ranges=["4477"], receive_from=["alice"]),
        account("bob", receive_ranges=["4477"]),
    )
    alice, a_t = h.bind("alice")
    carol, c_t = h.bind("carol")
    _, bob_t = h.bind("bob", kind="rx")
    _, own_t = h.bind("alice_rx", kind="rx")
    h.request(alice, a_t, submit("447700000001"))
    h.request(carol, c_t, submit("447700000002"))
    h.clock.advance(0)
    assert [d.destination_addr for d in deliveries(own_t)] == ["447700000001"]
    assert [d.destination_addr for d in deliveries(bob_t)] == ["447700000002"]


def test_the_longest_granted_prefix_wins_and_routes_come_after_grants():
    h = tenants(
        account("alice"),
        account("wide", receive_ranges=["44"]),
        account("narrow", receive_ranges=["447712"]),
        config=ServerConfig(simulator_default_delay=5.0, routes=(Route("^4477", "routed"),)),
    )
    alice, a_t = h.bind("alice")
    _, wide_t = h.bind("wide", kind="rx")
    _, narrow_t = h.bind("narrow", kind="rx")
    assert h.smsc.route("447712000000", "alice") == "narrow"
    assert h.smsc.route("447700000000", "alice") == "wide"
    assert h.smsc.route("330000", "alice") is None
    narrow_proto = next(p for p in h.smsc.sessions if p.session.system_id == "narrow")
    narrow_proto.connectionLost(Failure(ConnectionDone()))
    assert h.smsc.route("447712000000", "alice") == "wide"  # unbound: its grant leaves the index
    wide_proto = next(p for p in h.smsc.sessions if p.session.system_id == "wide")
    wide_proto.connectionLost(Failure(ConnectionDone()))
    assert h.smsc.route("447712000000", "alice") == "routed"  # then the configured route
    assert not h.smsc._grant_index


def test_reloaded_users_change_the_grants_of_bound_accounts():
    h = tenants(account("alice"), account("bob", receive_ranges=["4477"]))
    alice, a_t = h.bind("alice")
    bob, b_t = h.bind("bob", kind="rx")
    assert h.smsc.route("447700000000", "alice") == "bob"
    new = Users([account("alice"), account("bob", receive_ranges=["4478"])])
    h.auth.reload(new)
    h.smsc.users_reloaded(new)
    assert h.smsc.route("447700000000", "alice") is None
    assert h.smsc.route("447800000000", "alice") == "bob"
    h.auth.reload(Users([account("alice")]))
    h.smsc.users_reloaded(h.auth.users)  # bob is gone: granted nothing
    assert h.smsc.route("447800000000", "alice") is None
    h.request(alice, a_t, submit("447800000000"))
    h.clock.advance(0)
    assert deliveries(b_t) == []
    send(bob, DeliverSmResp(sequence_number=99))  # bob's session itself stays (another concern)
