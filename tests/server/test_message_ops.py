"""replace_sm, replace_if_present, submit_multi limits, query/cancel across
destinations and the bound on store look-ups, on fake time."""

from __future__ import annotations

from twisted.internet.defer import Deferred

from smppd.pdu import (
    CancelSm,
    CommandStatus,
    DeliverSm,
    DestAddress,
    MessageState,
    QuerySm,
    ReplaceSm,
    SubmitMulti,
    SubmitSm,
    UnsuccessSme,
)
from smppd.pdu.timefmt import format_relative
from smppd.server.config import Route, ServerConfig
from smppd.storage.memory import MemoryStore
from tests.server.harness import Harness, account

S = CommandStatus


def submit(**kw):
    base = dict(sequence_number=10, source_addr="Shop", source_addr_ton=5, destination_addr="447700900123", dest_addr_ton=1, dest_addr_npi=1, short_message=b"hello")
    base.update(kw)
    return SubmitSm(**base)


def multi(dests, **kw):
    return SubmitMulti(sequence_number=kw.pop("sequence_number", 3), source_addr="Shop", dest_addresses=[DestAddress(d, 1, 1) for d in dests], short_message=b"all", **kw)


def deliveries(transport):
    return [p for p in transport.pdus() if isinstance(p, DeliverSm)]


# -- replace_sm ------------------------------------------------------------------


def test_replace_with_an_immediate_schedule_starts_delivery_now():
    h = Harness(ServerConfig(simulator_default_delay=5.0))
    proto, transport = h.bind()
    (resp,) = h.request(proto, transport, submit(registered_delivery=1, schedule_delivery_time=format_relative(3600)))
    (r,) = h.request(proto, transport, ReplaceSm(sequence_number=2, message_id=resp.message_id, source_addr="Shop", schedule_delivery_time=format_relative(0), short_message=b"now", registered_delivery=1))
    assert r.command_status == 0
    h.clock.advance(6)
    (receipt,) = h.ack_all(proto, transport)
    assert receipt.receipted_message_id == resp.message_id and receipt.message_state == MessageState.DELIVERED
    assert h.smsc.unfinished == {}
    h.clock.advance(3600)
    assert h.ack_all(proto, transport) == []


def test_replace_keeps_a_later_schedule_and_starts_once():
    h = Harness(ServerConfig(simulator_default_delay=5.0))
    proto, transport = h.bind()
    (resp,) = h.request(proto, transport, submit(registered_delivery=1, schedule_delivery_time=format_relative(60)))
    for seq in (2, 3):  # content only, twice: the schedule stays, one start
        (r,) = h.request(proto, transport, ReplaceSm(sequence_number=seq, message_id=resp.message_id, source_addr="Shop", short_message=b"v%d" % seq, registered_delivery=1))
        assert r.command_status == 0
    h.clock.advance(60)  # (the simulator's 5 s start when it is handed the message)
    assert h.ack_all(proto, transport) == []
    h.clock.advance(5)
    (receipt,) = h.ack_all(proto, transport)
    assert receipt.receipted_message_id == resp.message_id
    assert h.store._state.messages[resp.message_id].short_message == b"v3"


def test_replacing_schedules_at_will_does_not_grow_the_schedule():
    h = Harness(ServerConfig(simulator_default_delay=5.0))
    proto, transport = h.bind()
    (resp,) = h.request(proto, transport, submit(registered_delivery=1, schedule_delivery_time=format_relative(100)))
    for i in range(3000):
        (r,) = h.request(proto, transport, ReplaceSm(sequence_number=2, message_id=resp.message_id, source_addr="Shop", schedule_delivery_time=format_relative(60 + i % 2), registered_delivery=1))
        assert r.command_status == 0
    assert len(h.smsc._schedule) <= 1026
    h.clock.advance(61)
    h.clock.advance(5)
    (receipt,) = h.ack_all(proto, transport)
    assert receipt.receipted_message_id == resp.message_id
    h.clock.advance(100)
    assert h.ack_all(proto, transport) == [] and h.smsc._schedule == []


def test_a_started_message_is_not_replaced_and_not_started_twice():
    h = Harness(ServerConfig(routes=(Route("^888", "bob"),)))
    alice, a_t = h.bind("alice")
    (resp,) = h.request(alice, a_t, submit(destination_addr="888", dest_addr_ton=0, schedule_delivery_time=format_relative(10)))
    h.clock.advance(10)  # started: in bob's outbox (bob is not bound)
    (r,) = h.request(alice, a_t, ReplaceSm(sequence_number=2, message_id=resp.message_id, source_addr="Shop", schedule_delivery_time=format_relative(5), short_message=b"again"))
    assert r.command_status == S.ESME_RREPLACEFAIL
    h.clock.advance(10)
    bob, b_t = h.bind("bob", kind="rx")
    h.clock.advance(0)
    (mo,) = deliveries(b_t)
    assert mo.short_message == b"hello"


# -- replace_if_present_flag -------------------------------------------------------


def test_replace_if_present_replaces_the_held_message_and_answers_its_id():
    h = Harness(ServerConfig(simulator_default_delay=5.0))
    alice, a_t = h.bind("alice")
    bob, b_t = h.bind("bob")
    later = format_relative(60)
    (first,) = h.request(alice, a_t, submit(service_type="OTP", schedule_delivery_time=later, registered_delivery=1))
    (second,) = h.request(alice, a_t, submit(service_type="OTP", schedule_delivery_time=later, replace_if_present_flag=1, short_message=b"newer", registered_delivery=1))
    assert second.command_status == 0 and second.message_id == first.message_id
    assert list(h.smsc.unfinished) == [first.message_id]
    assert h.smsc.unfinished[first.message_id].short_message == b"newer"
    # another service_type, another tenant, or nothing held: a new message
    (other_type,) = h.request(alice, a_t, submit(service_type="X", replace_if_present_flag=1))
    (other_tenant,) = h.request(bob, b_t, submit(service_type="OTP", schedule_delivery_time=later, replace_if_present_flag=1))
    assert len({first.message_id, other_type.message_id, other_tenant.message_id}) == 3
    h.clock.advance(60)
    h.clock.advance(5)
    receipts = h.ack_all(alice, a_t)
    assert [r.receipted_message_id for r in receipts].count(first.message_id) == 1


def test_replace_if_present_after_start_makes_a_new_message():
    h = Harness(ServerConfig(simulator_default_delay=5.0))
    proto, transport = h.bind()
    (first,) = h.request(proto, transport, submit())  # started at once: not replaceable
    (second,) = h.request(proto, transport, submit(replace_if_present_flag=1, short_message=b"newer"))
    assert second.command_status == 0 and second.message_id != first.message_id
    assert len(h.smsc.unfinished) == 2


# -- submit_multi ----------------------------------------------------------------


def test_submit_multi_takes_a_token_per_destination():
    h = Harness(accounts=[account("alice", throughput=3)])
    proto, transport = h.bind()
    dests = [f"4477009000{i:02d}" for i in range(5)]
    (resp,) = h.request(proto, transport, multi(dests))
    assert resp.command_status == 0
    assert resp.unsuccess_smes == tuple(UnsuccessSme(d, S.ESME_RTHROTTLED, 1, 1) for d in dests[3:])
    assert len(h.smsc.unfinished) == 3
    (resp,) = h.request(proto, transport, multi(dests, sequence_number=4))
    assert resp.command_status == S.ESME_RTHROTTLED
    h.clock.advance(1)
    (resp,) = h.request(proto, transport, submit())
    assert resp.command_status == 0


def test_submit_multi_checks_the_backlog_of_each_destination():
    h = Harness(ServerConfig(routes=(Route("^888", "bob"),), outbox_high_water=2))
    proto, transport = h.bind("alice")
    h.request(proto, transport, *[submit(sequence_number=i, destination_addr=f"888{i}", dest_addr_ton=0) for i in range(3)])
    h.clock.advance(0)
    assert "bob" in h.smsc.backlogged
    (resp,) = h.request(proto, transport, multi(["8889", "447700900123"]))
    assert resp.command_status == 0
    assert resp.unsuccess_smes == (UnsuccessSme("8889", S.ESME_RMSGQFUL, 1, 1),)


def test_cancel_and_query_reach_every_destination_of_a_submit_multi():
    h = Harness(ServerConfig(simulator_default_delay=5.0))
    alice, a_t = h.bind("alice")
    bob, b_t = h.bind("bob")
    (resp,) = h.request(alice, a_t, multi(["447700900001", "447700900002", "447700900003"]))
    mid = resp.message_id
    (q,) = h.request(alice, a_t, QuerySm(sequence_number=5, message_id=mid))
    assert q.message_state == MessageState.ENROUTE
    # another tenant: the same answers as for an unknown id, nothing cancelled
    assert h.request(bob, b_t, QuerySm(sequence_number=6, message_id=mid))[0].command_status == S.ESME_RQUERYFAIL
    assert h.request(bob, b_t, CancelSm(sequence_number=7, message_id=mid))[0].command_status == S.ESME_RCANCELFAIL
    assert len(h.smsc.unfinished) == 3
    (c,) = h.request(alice, a_t, CancelSm(sequence_number=8, message_id=mid))
    assert c.command_status == 0 and h.smsc.unfinished == {}
    (q,) = h.request(alice, a_t, QuerySm(sequence_number=9, message_id=mid))
    assert q.message_state == MessageState.DELETED and q.final_date


def test_query_of_a_submit_multi_is_enroute_until_every_destination_is_final():
    h = Harness(ServerConfig(simulator_default_delay=5.0))
    proto, transport = h.bind()
    (resp,) = h.request(proto, transport, multi(["447700900001", "447700900002"]))
    (c,) = h.request(proto, transport, CancelSm(sequence_number=4, message_id=resp.message_id + "-2"))
    assert c.command_status == 0
    (q,) = h.request(proto, transport, QuerySm(sequence_number=5, message_id=resp.message_id))
    assert q.message_state == MessageState.ENROUTE and q.final_date == ""
    h.clock.advance(6)
    (q,) = h.request(proto, transport, QuerySm(sequence_number=6, message_id=resp.message_id))
    assert q.message_state == MessageState.DELETED  # the one not delivered


def test_cancel_by_addresses_takes_only_the_tenants_matching_messages():
    h = Harness(ServerConfig(simulator_default_delay=5.0))
    alice, a_t = h.bind("alice")
    bob, b_t = h.bind("bob")
    h.request(alice, a_t, submit(sequence_number=1, service_type="A"), submit(sequence_number=2, service_type="B"), submit(sequence_number=3, destination_addr="447700900999"))
    h.request(bob, b_t, submit(sequence_number=1, service_type="A"))
    (c,) = h.request(alice, a_t, CancelSm(sequence_number=9, service_type="A", source_addr="Shop", destination_addr="447700900123"))
    assert c.command_status == 0
    assert sorted((m.system_id, m.service_type, m.destination_addr) for m in h.smsc.unfinished.values()) == [
        ("alice", "", "447700900999"),
        ("alice", "B", "447700900123"),
        ("bob", "A", "447700900123"),
    ]
    (c,) = h.request(alice, a_t, CancelSm(sequence_number=10, source_addr="Shop", destination_addr="447700900123"))
    assert c.command_status == 0 and len(h.smsc.unfinished) == 2
    assert h.smsc._by_addr.keys() == {("alice", "Shop", "447700900999"), ("bob", "Shop", "447700900123")}


# -- look-ups are bounded by the window ---------------------------------------------


class SlowLookups(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.held: list[Deferred] = []

    def get_message(self, message_id):
        d = Deferred()
        self.held.append(d)
        return d


def test_store_lookups_count_against_the_window():
    store = SlowLookups()
    h = Harness(accounts=[account("alice", window=2)], store=store)
    proto, transport = h.bind()
    answers = h.request(proto, transport, *[QuerySm(sequence_number=i, message_id=f"nope{i}") for i in range(1, 4)])
    assert [(a.sequence_number, a.command_status) for a in answers] == [(3, S.ESME_RTHROTTLED)]
    assert proto._paused == {"store"}
    for d in store.held[:2]:
        d.callback(None)
    assert {a.command_status for a in transport.pdus()} == {S.ESME_RQUERYFAIL}
    assert not proto._paused
    assert len(store.held) == 2  # the refused one never reached the store
