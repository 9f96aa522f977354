"""The SMSC end to end on fake time: binds, messages, receipts, outbox."""

from __future__ import annotations

import pytest

from smppd.pdu import (
    BindTransceiver,
    CancelSm,
    CancelSmResp,
    CommandStatus,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    DestAddress,
    DistributionList,
    EnquireLink,
    MessageState,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    UnsuccessSme,
    encode_pdu,
)
from smppd.pdu.timefmt import format_absolute, format_relative
from smppd.server.config import Route, ServerConfig
from smppd.server.delivery import SimulatorRule
from smppd.server.validation import utc
from smppd.testing import send
from smppd.text.receipt import parse_receipt
from tests.server.harness import Harness, account

S = CommandStatus


def submit(**kw):
    base = dict(sequence_number=10, source_addr="Shop", source_addr_ton=5, destination_addr="447700900123", dest_addr_ton=1, dest_addr_npi=1, short_message=b"hello")
    base.update(kw)
    return SubmitSm(**base)


@pytest.fixture
def h():
    return Harness(ServerConfig(simulator_default_delay=5.0))


# -- binds ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [("nobody", "secret", S.ESME_RBINDFAIL), ("alice", "wrong", S.ESME_RBINDFAIL)],
)
def test_bind_refused(h, system_id, password, status):
    proto, transport = h.connect()
    send(proto, BindTransceiver(sequence_number=1, system_id=system_id, password=password))
    (resp,) = transport.pdus()
    assert resp.command_status == status
    assert not proto.session.is_bound


def test_bind_answers_with_our_system_id_and_version(h):
    proto, transport = h.connect()
    send(proto, BindTransceiver(sequence_number=1, system_id="alice", password="secret"))
    (resp,) = transport.pdus()
    assert resp.system_id == "smppd" and resp.sc_interface_version == 0x34
    send(proto, BindTransceiver(sequence_number=2, system_id="alice", password="secret"))
    assert transport.pdus()[0].command_status == S.ESME_RALYBND


def test_max_binds_per_system_id():
    h = Harness(accounts=[account("alice", max_binds=1)])
    h.bind("alice")
    proto, transport = h.connect()
    send(proto, BindTransceiver(sequence_number=1, system_id="alice", password="secret"))
    assert transport.pdus()[0].command_status == S.ESME_RBINDFAIL


def test_bind_type_and_ip_allow_list():
    h = Harness(accounts=[account("alice", bind_types={"transmitter"}, allowed_networks=["10.0.0.0/8"])])
    proto, transport = h.connect()
    send(proto, BindTransceiver(sequence_number=1, system_id="alice", password="secret"))
    assert transport.pdus()[0].command_status == S.ESME_RBINDFAIL
    proto, transport = h.connect(host="10.1.2.3")
    send(proto, BindTransceiver(sequence_number=1, system_id="alice", password="secret"))
    assert transport.pdus()[0].command_status == S.ESME_RBINDFAIL  # transceiver not allowed


def test_repeated_bind_failures_are_answered_later_and_later():
    h = Harness(penalty=True)
    delays = []
    for _ in range(6):
        proto, transport = h.connect()
        send(proto, BindTransceiver(sequence_number=1, system_id="alice", password="bad"))
        waited = 0.0
        while not transport.value():
            h.clock.advance(0.5)
            waited += 0.5
        assert transport.pdus()[0].command_status == S.ESME_RBINDFAIL
        delays.append(waited)
    assert delays[0] == 0.0 and delays[-1] > delays[3] > 0


def test_max_connections():
    h = Harness(ServerConfig(max_connections=1))
    from smppd.server.factory import SmscFactory

    factory = SmscFactory(h.smsc)
    first = factory.buildProtocol(None)
    from smppd.testing import connect

    connect(first)
    assert factory.buildProtocol(None) is None


# -- submit and receipts ---------------------------------------------------------


def test_submit_gets_an_id_and_a_receipt_with_that_id(h):
    proto, transport = h.bind()
    (resp,) = h.request(proto, transport, submit(registered_delivery=1))
    assert isinstance(resp, SubmitSmResp) and resp.command_status == 0
    message_id = resp.message_id
    assert len(message_id) == 16
    h.clock.advance(5)
    (receipt,) = h.ack_all(proto, transport)
    assert receipt.esm_class == 0x04
    assert receipt.receipted_message_id == message_id
    assert receipt.message_state == MessageState.DELIVERED
    parsed = parse_receipt(receipt.short_message)
    assert parsed.id == message_id and parsed.stat == "DELIVRD" and parsed.text == "hello"
    assert receipt.source_addr == "447700900123" and receipt.destination_addr == "Shop"
    assert h.smsc.dispatchers["alice"].inflight == {}
    h.clock.advance(0)  # removals reach the store once per reactor turn
    assert h.store.stats().result.outbox == 0


def test_no_receipt_unless_asked(h):
    proto, transport = h.bind()
    h.request(proto, transport, submit(registered_delivery=0))
    h.clock.advance(10)
    assert transport.pdus() == []


def test_failure_only_receipt():
    h = Harness(ServerConfig(simulator_rules=(SimulatorRule("4479", MessageState.UNDELIVERABLE, 1.0, 11),)))
    proto, transport = h.bind()
    h.request(proto, transport, submit(sequence_number=1, registered_delivery=2))
    h.request(proto, transport, submit(sequence_number=2, registered_delivery=2, destination_addr="447900000001"))
    h.clock.advance(2)
    (receipt,) = h.ack_all(proto, transport)
    assert receipt.message_state == MessageState.UNDELIVERABLE
    assert receipt.network_error_code == b"\x03\x00\x0b"
    assert parse_receipt(receipt.short_message).stat == "UNDELIV"


@pytest.mark.parametrize(
    ("state", "word"),
    [(MessageState.EXPIRED, "EXPIRED"), (MessageState.REJECTED, "REJECTD"), (MessageState.DELETED, "DELETED"), (MessageState.UNKNOWN, "UNKNOWN")],
)
def test_every_outcome_can_be_produced_on_purpose(state, word):
    h = Harness(ServerConfig(simulator_rules=(SimulatorRule("999", state, 0.5),)))
    proto, transport = h.bind()
    h.request(proto, transport, submit(registered_delivery=1, destination_addr="9991", dest_addr_ton=0))
    h.clock.advance(1)
    (receipt,) = h.ack_all(proto, transport)
    assert parse_receipt(receipt.short_message).stat == word


def test_receipt_kept_until_a_receiver_binds(h):
    tx, tx_transport = h.bind(kind="tx")
    (resp,) = h.request(tx, tx_transport, submit(registered_delivery=1))
    h.clock.advance(5)
    assert tx_transport.pdus() == []
    assert h.store.stats().result.outbox == 1
    rx, rx_transport = h.bind(kind="rx")
    (receipt,) = h.ack_all(rx, rx_transport)
    assert receipt.receipted_message_id == resp.message_id
    h.clock.advance(0)  # removals reach the store once per reactor turn
    assert h.store.stats().result.outbox == 0


def test_receipts_go_only_to_the_submitting_system_id(h):
    alice, a_t = h.bind("alice")
    bob, b_t = h.bind("bob")
    h.request(alice, a_t, submit(registered_delivery=1))
    h.clock.advance(5)
    assert len(h.ack_all(alice, a_t)) == 1
    assert b_t.pdus() == []


def test_deliver_sm_retried_with_back_off_until_acknowledged(h):
    proto, transport = h.bind()
    h.request(proto, transport, submit(registered_delivery=1))
    h.clock.advance(5)
    first = h.ack_all(proto, transport, status=S.ESME_RX_T_APPN)
    assert len(first) == 1
    h.clock.advance(4.9)
    assert transport.pdus() == []
    h.clock.advance(0.2)  # retry.initial = 5 s
    second = h.ack_all(proto, transport, status=S.ESME_RSYSERR)
    assert second[0].receipted_message_id == first[0].receipted_message_id
    h.clock.advance(10)  # doubled
    assert len(h.ack_all(proto, transport)) == 1
    h.clock.advance(0)  # removals reach the store once per reactor turn
    assert h.store.stats().result.outbox == 0


def test_throttled_deliver_sm_paused_and_resent_in_order(h):
    proto, transport = h.bind()
    h.request(proto, transport, submit(sequence_number=1, registered_delivery=1), submit(sequence_number=2, registered_delivery=1))
    h.clock.advance(5)
    got = transport.pdus()
    assert len(got) == 2
    send(proto, DeliverSmResp(sequence_number=got[0].sequence_number, command_status=S.ESME_RTHROTTLED))
    send(proto, DeliverSmResp(sequence_number=got[1].sequence_number))
    assert transport.pdus() == []
    h.clock.advance(1.0)
    (again,) = h.ack_all(proto, transport)
    assert again.receipted_message_id == got[0].receipted_message_id


def test_unanswered_deliver_sm_times_out_and_is_retried():
    h = Harness(ServerConfig(simulator_default_delay=0.0))
    proto, transport = h.bind()
    h.request(proto, transport, submit(registered_delivery=1))
    h.clock.advance(0)
    (first,) = transport.pdus()
    h.clock.advance(30)  # response timeout
    h.clock.advance(5)  # first retry
    (second,) = h.ack_all(proto, transport)
    assert second.receipted_message_id == first.receipted_message_id


def test_window_limits_outstanding_deliver_sm():
    h = Harness(ServerConfig(simulator_default_delay=1.0))
    proto, transport = h.bind()
    subs = [submit(sequence_number=i, registered_delivery=1) for i in range(1, 121)]
    h.request(proto, transport, *subs)
    h.clock.advance(1)
    sent = transport.pdus()
    assert len(sent) == 50  # session window
    send(proto, *[DeliverSmResp(sequence_number=p.sequence_number) for p in sent])
    assert len(transport.pdus()) == 50


def test_validity_expiry_gives_expired():
    h = Harness(ServerConfig(simulator_default_delay=600.0))
    proto, transport = h.bind()
    h.request(proto, transport, submit(registered_delivery=1, validity_period=format_relative(60)))
    h.clock.advance(61)
    (receipt,) = h.ack_all(proto, transport)
    assert receipt.message_state == MessageState.EXPIRED
    h.clock.advance(600)  # the late network outcome is ignored
    assert transport.pdus() == []


def test_scheduled_delivery():
    h = Harness(ServerConfig(simulator_default_delay=0.0))
    proto, transport = h.bind()
    at = format_absolute(utc(h.clock.seconds() + 120))
    h.request(proto, transport, submit(registered_delivery=1, schedule_delivery_time=at))
    h.clock.advance(119)
    assert transport.pdus() == []
    h.clock.advance(1)
    assert len(h.ack_all(proto, transport)) == 1


def test_intermediate_notification(h):
    proto, transport = h.bind()
    send(proto, submit(registered_delivery=0x11))
    h.clock.advance(0)
    resp, note = transport.pdus()
    assert isinstance(resp, SubmitSmResp)  # the response comes first
    send(proto, DeliverSmResp(sequence_number=note.sequence_number))
    assert note.esm_class == 0x20 and note.message_state == MessageState.ENROUTE
    h.clock.advance(5)
    (final,) = h.ack_all(proto, transport)
    assert final.esm_class == 0x04


# -- validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"destination_addr": ""}, S.ESME_RINVDSTADR),
        ({"destination_addr": "12ab", "dest_addr_ton": 1}, S.ESME_RINVDSTADR),
        ({"source_addr": "x y", "source_addr_ton": 1}, S.ESME_RINVSRCADR),
        ({"esm_class": 0x04}, S.ESME_RINVESMCLASS),
        ({"registered_delivery": 3}, S.ESME_RINVREGDLVFLG),
        ({"data_coding": 0x0B}, S.ESME_RINVDCS),
        ({"priority_flag": 4}, S.ESME_RINVPRTFLG),
        ({"replace_if_present_flag": 2}, S.ESME_RINVREPFLAG),
        ({"sm_default_msg_id": 3}, S.ESME_RINVDFTMSGID),
        ({"dest_addr_ton": 7}, S.ESME_RINVDSTTON),
        ({"source_addr_npi": 2}, S.ESME_RINVSRCNPI),
        ({"schedule_delivery_time": "991399000000000+"}, S.ESME_RINVSCHED),
        ({"validity_period": "200101000000000+"}, S.ESME_RINVEXPIRY),
        ({"esm_class": 0x40, "short_message": b"\x09ab"}, S.ESME_RINVMSGLEN),
        ({"tlvs": {"sar_msg_ref_num": 1}}, S.ESME_RMISSINGOPTPARAM),
        ({"tlvs": {"sar_msg_ref_num": 1, "sar_total_segments": 2, "sar_segment_seqnum": 3}}, S.ESME_RINVOPTPARAMVAL),
        ({"tlvs": [(0x0204, b"\x00\x00\x01")]}, S.ESME_RINVPARLEN),
    ],
)
def test_field_mistakes_get_their_specific_status(h, fields, status):
    proto, transport = h.bind()
    (resp,) = h.request(proto, transport, submit(**fields))
    assert resp.command_status == status


def test_short_message_and_message_payload_together_answer_rinvmsglen(h):
    proto, transport = h.bind()
    wire = encode_pdu(submit(sequence_number=77)) + bytes.fromhex("04240001") + b"x"
    proto.dataReceived(len(wire).to_bytes(4, "big") + wire[4:])
    (resp,) = transport.pdus()
    assert resp.command_status == S.ESME_RINVMSGLEN


def test_operation_permissions_and_source_patterns():
    h = Harness(accounts=[account("alice", permissions={"query_sm"}, source_addr_patterns=["Shop"])])
    proto, transport = h.bind()
    (resp,) = h.request(proto, transport, submit())
    assert resp.command_status == S.ESME_RSUBMITFAIL
    h2 = Harness(accounts=[account("alice", source_addr_patterns=["Shop"])])
    proto, transport = h2.bind()
    assert h2.request(proto, transport, submit())[0].command_status == 0
    assert h2.request(proto, transport, submit(source_addr="Other"))[0].command_status == S.ESME_RINVSRCADR


def test_throughput_limit_answers_throttled():
    h = Harness(accounts=[account("alice", throughput=10)])
    proto, transport = h.bind()
    answers = h.request(proto, transport, *[submit(sequence_number=i) for i in range(1, 16)])
    statuses = [a.command_status for a in answers]
    assert statuses.count(0) == 10 and statuses.count(S.ESME_RTHROTTLED) == 5
    h.clock.advance(1)
    assert h.request(proto, transport, submit(sequence_number=99))[0].command_status == 0


def test_submit_on_receiver_bind_is_refused(h):
    proto, transport = h.bind(kind="rx")
    assert h.request(proto, transport, submit())[0].command_status == S.ESME_RINVBNDSTS


def test_responses_of_one_read_share_one_write(h):
    proto, transport = h.bind()
    transport.writes = 0
    answers = h.request(proto, transport, *[submit(sequence_number=i) for i in range(1, 101)])
    assert len(answers) == 100 and transport.writes == 1
    assert len({a.message_id for a in answers}) == 100


# -- query, cancel, replace ------------------------------------------------------


def test_query_cancel_replace_lifecycle(h):
    proto, transport = h.bind()
    (resp,) = h.request(proto, transport, submit(registered_delivery=1, schedule_delivery_time=format_relative(60)))
    mid = resp.message_id
    (q,) = h.request(proto, transport, QuerySm(sequence_number=20, message_id=mid, source_addr="Shop", source_addr_ton=5))
    assert isinstance(q, QuerySmResp) and q.message_state == MessageState.ENROUTE and q.final_date == ""
    (r,) = h.request(proto, transport, ReplaceSm(sequence_number=21, message_id=mid, source_addr="Shop", short_message=b"changed", registered_delivery=1))
    assert isinstance(r, ReplaceSmResp) and r.command_status == 0
    (c,) = h.request(proto, transport, CancelSm(sequence_number=22, message_id=mid, source_addr="Shop"))
    assert isinstance(c, CancelSmResp) and c.command_status == 0  # before its receipt
    (receipt,) = h.ack_all(proto, transport)
    assert receipt.message_state == MessageState.DELETED
    (q,) = h.request(proto, transport, QuerySm(sequence_number=23, message_id=mid))
    assert q.message_state == MessageState.DELETED and len(q.final_date) == 16
    (c,) = h.request(proto, transport, CancelSm(sequence_number=24, message_id=mid))
    assert c.command_status == S.ESME_RCANCELFAIL
    (r,) = h.request(proto, transport, ReplaceSm(sequence_number=25, message_id=mid, short_message=b"x"))
    assert r.command_status == S.ESME_RREPLACEFAIL
    h.clock.advance(10)
    assert transport.pdus() == []  # the cancelled message never reaches a final network state


def test_only_the_owner_may_query_or_cancel(h):
    alice, a_t = h.bind("alice")
    bob, b_t = h.bind("bob")
    (resp,) = h.request(alice, a_t, submit())
    assert h.request(bob, b_t, QuerySm(sequence_number=2, message_id=resp.message_id))[0].command_status == S.ESME_RQUERYFAIL
    assert h.request(bob, b_t, CancelSm(sequence_number=3, message_id=resp.message_id))[0].command_status == S.ESME_RCANCELFAIL
    assert h.request(bob, b_t, ReplaceSm(sequence_number=4, message_id=resp.message_id))[0].command_status == S.ESME_RREPLACEFAIL
    assert h.request(alice, a_t, QuerySm(sequence_number=5, message_id="nope"))[0].command_status == S.ESME_RQUERYFAIL


def test_cancel_all_by_addresses(h):
    proto, transport = h.bind()
    h.request(proto, transport, *[submit(sequence_number=i) for i in range(3)])
    (c,) = h.request(proto, transport, CancelSm(sequence_number=9, source_addr="Shop", destination_addr="447700900123"))
    assert c.command_status == 0
    assert h.smsc.unfinished == {}


# -- submit_multi, data_sm, routing ---------------------------------------------


def test_submit_multi_with_distribution_list_and_a_bad_destination():
    h = Harness(ServerConfig(distribution_lists={"staff": ("447700900001", "447700900002")}))
    proto, transport = h.bind()
    (resp,) = h.request(
        proto,
        transport,
        SubmitMulti(
            sequence_number=3,
            source_addr="Shop",
            dest_addresses=[DestAddress("447700900123", 1, 1), DistributionList("staff"), DestAddress("", 1, 1), DistributionList("nope")],
            registered_delivery=1,
            short_message=b"all",
        ),
    )
    assert isinstance(resp, SubmitMultiResp) and resp.command_status == 0
    assert resp.unsuccess_smes == (UnsuccessSme("", S.ESME_RINVDSTADR, 1, 1), UnsuccessSme("nope", S.ESME_RINVDLNAME))
    h.clock.advance(1)
    receipts = h.ack_all(proto, transport)
    assert len(receipts) == 3
    assert {r.receipted_message_id for r in receipts} == {resp.message_id}
    assert all(parse_receipt(r.short_message).sub == 3 for r in receipts)


def test_data_sm(h):
    proto, transport = h.bind()
    (resp,) = h.request(proto, transport, DataSm(sequence_number=4, source_addr="Shop", destination_addr="447700900123", dest_addr_ton=1, dest_addr_npi=1, registered_delivery=1, tlvs={"message_payload": b"payload"}))
    assert isinstance(resp, DataSmResp) and resp.command_status == 0
    h.clock.advance(5)
    (receipt,) = h.ack_all(proto, transport)
    assert receipt.receipted_message_id == resp.message_id


def test_routed_to_a_bound_esme_by_address_range_and_receipt_from_its_answer(h):
    alice, a_t = h.bind("alice")
    bob, b_t = h.bind("bob", kind="rx", address_range="^999")
    (resp,) = h.request(alice, a_t, submit(registered_delivery=1, destination_addr="999123", dest_addr_ton=0))
    h.clock.advance(0)
    (mo,) = b_t.pdus()
    assert isinstance(mo, DeliverSm) and mo.short_message == b"hello" and mo.esm_class == 0
    assert a_t.pdus() == []
    send(bob, DeliverSmResp(sequence_number=mo.sequence_number))
    (receipt,) = h.ack_all(alice, a_t)
    assert receipt.receipted_message_id == resp.message_id and receipt.message_state == MessageState.DELIVERED


def test_configured_route_stores_and_forwards():
    h = Harness(ServerConfig(routes=(Route("^888", "bob"),)))
    alice, a_t = h.bind("alice")
    h.request(alice, a_t, submit(registered_delivery=1, destination_addr="888", dest_addr_ton=0))
    h.clock.advance(100)
    assert a_t.pdus() == []
    bob, b_t = h.bind("bob", kind="rx")
    h.clock.advance(0)
    (mo,) = b_t.pdus()
    send(bob, DeliverSmResp(sequence_number=mo.sequence_number, command_status=S.ESME_RX_P_APPN))
    (receipt,) = h.ack_all(alice, a_t)
    assert receipt.message_state == MessageState.UNDELIVERABLE


# -- restart and events ------------------------------------------------------------


def test_outbox_and_unfinished_messages_survive_a_new_smsc_on_the_same_store():
    h = Harness(ServerConfig(simulator_default_delay=5.0))
    proto, transport = h.bind(kind="tx")
    h.request(proto, transport, submit(sequence_number=1, registered_delivery=1))
    h.clock.advance(5)  # the receipt waits in the outbox
    h.request(proto, transport, submit(sequence_number=2, registered_delivery=1))  # still in the network
    h2 = Harness(ServerConfig(simulator_default_delay=5.0), store=h.store)
    rx, rx_t = h2.bind(kind="rx")
    assert len(h2.ack_all(rx, rx_t)) == 1
    h2.clock.advance(5)
    assert len(h2.ack_all(rx, rx_t)) == 1


def test_events(h):
    proto, transport = h.bind()
    h.request(proto, transport, submit(registered_delivery=1))
    h.clock.advance(5)
    h.ack_all(proto, transport)
    h.clock.advance(0)
    names = h.observer.names()
    for name in ("connection.connected", "connection.bound", "sms.submitted", "sms.delivered", "delivery.report"):
        assert name in names


def test_outbox_backlog_answers_msgqful_until_drained():
    h = Harness(ServerConfig(simulator_default_delay=0.0, outbox_high_water=4))
    tx, tx_t = h.bind(kind="tx")  # no receiver: receipts pile up
    answers = h.request(tx, tx_t, *[submit(sequence_number=i, registered_delivery=1) for i in range(1, 6)])
    assert [a.command_status for a in answers] == [0] * 5
    h.clock.advance(0)
    assert h.request(tx, tx_t, submit(sequence_number=9))[0].command_status == S.ESME_RMSGQFUL
    rx, rx_t = h.bind(kind="rx")
    assert len(h.ack_all(rx, rx_t)) == 5
    assert h.request(tx, tx_t, submit(sequence_number=10))[0].command_status == 0


def test_a_3_3_peer_gets_receipts_without_tlvs(h):
    proto, transport = h.bind(interface_version=0x33)
    h.request(proto, transport, submit(registered_delivery=1))
    h.clock.advance(5)
    (receipt,) = h.ack_all(proto, transport)
    assert receipt.tlvs == () and parse_receipt(receipt.short_message).stat == "DELIVRD"


def test_finished_messages_leave_nothing_behind():
    h = Harness(ServerConfig(simulator_default_delay=1.0))
    proto, transport = h.bind()
    h.request(proto, transport, *[submit(sequence_number=i) for i in range(1, 201)])
    h.clock.advance(1)
    assert h.smsc.unfinished == {}
    assert sum(len(b) for b in h.smsc._expiry_buckets.values()) == 0
    h.clock.advance(1)  # the next submit re-arms the expiry timer and drops empty buckets
    h.request(proto, transport, submit(sequence_number=500))
    assert len(h.smsc._expiry_buckets) == 1


def test_throughput_below_one_per_second_still_lets_messages_through():
    h = Harness(accounts=[account("alice", throughput=0.5)])
    proto, transport = h.bind()
    statuses = {a.sequence_number: a.command_status for a in h.request(proto, transport, submit(sequence_number=1), submit(sequence_number=2))}
    assert statuses == {1: 0, 2: S.ESME_RTHROTTLED}
    h.clock.advance(2)
    assert h.request(proto, transport, submit(sequence_number=3))[0].command_status == 0


def test_reconfigure_takes_new_routes_and_simulator_rules():
    h = Harness(ServerConfig(simulator_default_delay=0.0))
    proto, transport = h.bind()
    h.smsc.reconfigure(ServerConfig(simulator_rules=(SimulatorRule("4477", MessageState.REJECTED, 0.0),), message_id_format="decimal"))
    (resp,) = h.request(proto, transport, submit(registered_delivery=1))
    assert resp.message_id.isdigit()
    (receipt,) = h.ack_all(proto, transport)
    assert receipt.message_state == MessageState.REJECTED
    h.smsc.reconfigure(ServerConfig(routes=(Route("^4477", "bob"),)))
    h.request(proto, transport, submit(sequence_number=11, registered_delivery=1))
    assert h.ack_all(proto, transport) == []
    assert len(h.smsc.dispatchers["bob"]) == 1


class SlowStore:
    """A memory store whose add_messages answers only when released (a durable
    store behind on its commits)."""

    def __init__(self):
        from smppd.storage.memory import MemoryStore

        self.inner = MemoryStore()
        self.held = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def add_messages(self, messages):
        from twisted.internet.defer import Deferred

        d = Deferred()
        self.held.append((d, messages))
        return d

    def release(self):
        held, self.held = self.held, []
        for d, messages in held:
            self.inner.add_messages(messages).chainDeferred(d)


def test_reading_pauses_while_the_store_is_behind_and_resumes():
    store = SlowStore()
    h = Harness(ServerConfig(default_window=50), store=store)
    proto, transport = h.bind()
    send(proto, *[submit(sequence_number=i) for i in range(1, 61)])
    assert transport.pdus() == []  # nothing answered before the store has it
    assert proto.reading_paused and transport.producerState == "paused"
    store.release()
    answers = transport.pdus()
    assert len(answers) == 60 and all(a.command_status == 0 for a in answers)
    assert not proto.reading_paused and transport.producerState == "producing"


def test_outbox_writes_one_batch_per_session_and_wake():
    """Receipts due together go out in one transport write, and the
    deliver_sm_resp of one read refill the window in one write."""
    h = Harness(ServerConfig(simulator_default_delay=1.0))
    proto, transport = h.bind()
    writes: list[bytes] = []
    original = transport.write
    transport.write = lambda data: (writes.append(data), original(data))[1]  # type: ignore[method-assign]
    h.request(proto, transport, *[submit(sequence_number=i, registered_delivery=1) for i in range(1, 81)])
    writes.clear()
    h.clock.advance(1)
    sent = transport.pdus()
    assert len(sent) == 50 and len(writes) == 1  # the window, in one write
    writes.clear()
    send(proto, *[DeliverSmResp(sequence_number=p.sequence_number) for p in sent])
    assert len(transport.pdus()) == 30 and len(writes) == 1


def test_deliver_sm_resp_read_from_the_frame_settles_the_outbox(h):
    proto, transport = h.bind()
    h.request(proto, transport, submit(registered_delivery=1))
    h.clock.advance(5)
    (receipt,) = transport.pdus()
    # no request of that sequence_number: logged and ignored, the item stays owed
    send(proto, DeliverSmResp(sequence_number=receipt.sequence_number + 1000))
    h.clock.advance(0)
    assert h.store.stats().result.outbox == 1
    send(proto, DeliverSmResp(sequence_number=receipt.sequence_number))
    h.clock.advance(0)
    assert h.store.stats().result.outbox == 0
    assert h.smsc.counters["receipts_sent"] == 1
    assert proto.outstanding == 0 and transport.pdus() == []


def test_deliver_sm_resp_to_another_request_is_not_taken_as_an_ack(h):
    """A deliver_sm_resp answering our enquire_link's sequence_number fails
    that request (the general path), it does not settle anything."""
    proto, transport = h.bind()
    d = proto.send_request_wire(0x00000015, encode_pdu(EnquireLink()))
    (el,) = transport.pdus()
    failures: list[object] = []
    d.addErrback(failures.append)
    send(proto, DeliverSmResp(sequence_number=el.sequence_number))
    assert len(failures) == 1 and failures[0].value.status == S.ESME_RSYSERR  # type: ignore[attr-defined]


def test_messages_finished_at_once_leave_no_expiry_watch():
    """With a zero-delay simulator nothing is left to expire: no timer stays."""
    h = Harness(ServerConfig(simulator_default_delay=0.0))
    proto, transport = h.bind()
    h.request(proto, transport, *[submit(sequence_number=i) for i in range(1, 6)])
    h.clock.advance(0)
    assert not h.smsc.unfinished
    assert [c for c in h.clock.getDelayedCalls() if c.func.__name__ == "_expire_due"] == []


def test_pdus_sent_are_counted_once_whichever_way_they_are_written():
    h = Harness(ServerConfig(simulator_default_delay=0.0))
    proto, transport = h.bind()
    before = dict(h.smsc.stats.pdus.outgoing)
    h.request(
        proto,
        transport,
        *[submit(sequence_number=i) for i in range(1, 4)],  # a batch of plain answers
        submit(sequence_number=4, destination_addr=""),  # an error answer, written at once
        DataSm(sequence_number=5, source_addr="Shop", destination_addr="447700900123"),  # a mixed batch
    )
    h.request(proto, transport, submit(sequence_number=6, registered_delivery=1))
    h.clock.advance(0)
    got = {k: v - before.get(k, 0) for k, v in h.smsc.stats.pdus.outgoing.items() if v != before.get(k, 0)}
    assert got == {
        (0x80000004, 0): 4,
        (0x80000004, S.ESME_RINVDSTADR): 1,
        (0x80000103, 0): 1,
        (0x00000005, 0): 1,  # the receipt
    }


def test_traffic_routed_to_a_backlogged_esme_gets_msgqful():
    """Messages routed to an ESME that is not bound pile up in its outbox; past
    the high-water mark, new submits for it are refused, others still pass."""
    h = Harness(ServerConfig(routes=(Route("^888", "bob"),), outbox_high_water=3))
    alice, a_t = h.bind("alice")
    answers = h.request(alice, a_t, *[submit(sequence_number=i, destination_addr="888", dest_addr_ton=0) for i in range(1, 5)])
    assert [a.command_status for a in answers] == [0] * 4
    h.clock.advance(0)
    refused, other = h.request(
        alice, a_t, submit(sequence_number=5, destination_addr="888", dest_addr_ton=0), submit(sequence_number=6)
    )
    assert refused.command_status == S.ESME_RMSGQFUL and other.command_status == 0
    bob, b_t = h.bind("bob", kind="rx")
    assert len(h.ack_all(bob, b_t)) == 4
    h.clock.advance(0)
    (again,) = h.request(alice, a_t, submit(sequence_number=7, destination_addr="888", dest_addr_ton=0))
    assert again.command_status == 0


def test_a_data_sm_routed_to_an_esme_goes_out_as_data_sm(h):
    """data_sm both ways: what an ESME submits with data_sm reaches the ESME
    it is routed to as data_sm, and its data_sm_resp settles it."""
    alice, a_t = h.bind("alice")
    bob, b_t = h.bind("bob", kind="rx", address_range="^999")
    (resp,) = h.request(
        alice,
        a_t,
        DataSm(sequence_number=3, source_addr="Shop", destination_addr="999123", registered_delivery=1, tlvs={"message_payload": b"hello there"}),
    )
    assert isinstance(resp, DataSmResp) and resp.command_status == 0
    h.clock.advance(0)
    (mo,) = b_t.pdus()
    assert isinstance(mo, DataSm) and mo.message_payload == b"hello there" and mo.destination_addr == "999123"
    send(bob, DataSmResp(sequence_number=mo.sequence_number))
    (receipt,) = h.ack_all(alice, a_t)
    assert receipt.receipted_message_id == resp.message_id and receipt.message_state == MessageState.DELIVERED


def test_an_smpp_3_3_peer_gets_a_routed_data_sm_as_deliver_sm(h):
    alice, a_t = h.bind("alice")
    bob, b_t = h.bind("bob", kind="rx", address_range="^999", interface_version=0x33)
    h.request(alice, a_t, DataSm(sequence_number=3, source_addr="Shop", destination_addr="999123", tlvs={"message_payload": b"hello"}))
    h.clock.advance(0)
    (mo,) = b_t.pdus()
    assert isinstance(mo, DeliverSm) and mo.short_message == b"hello" and not mo.tlvs
    send(bob, DeliverSmResp(sequence_number=mo.sequence_number))
    assert bob.outstanding == 0


def test_an_smpp_3_3_peer_gets_a_long_data_sm_payload_cut_to_254_octets(h):
    alice, a_t = h.bind("alice")
    bob, b_t = h.bind("bob", kind="rx", address_range="^999", interface_version=0x33)
    payload = bytes(range(256)) + b"tail"
    h.request(alice, a_t, DataSm(sequence_number=3, source_addr="Shop", destination_addr="999123", tlvs={"message_payload": payload}))
    h.clock.advance(0)
    (mo,) = b_t.pdus()
    assert isinstance(mo, DeliverSm) and mo.short_message == payload[:254] and not mo.tlvs
    assert (mo.source_addr, mo.destination_addr) == ("Shop", "999123")
