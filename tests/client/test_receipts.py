"""Delivery receipts matched to sent messages, on fake time."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppd.client import MessageOutcome
from smppd.pdu import CommandStatus, DeliverSm, MessageState
from smppd.protocol import SessionConfig
from smppd.text.receipt import (
    MessageIdIndex,
    message_id_keys,
    message_ids_match,
    normalize_message_id,
)
from tests.client.support import consume, failure_of, ok, result_of

S = CommandStatus
M = MessageState


def tlv_receipt(message_id: str, state: int = M.DELIVERED, **tlvs) -> DeliverSm:
    return DeliverSm(
        source_addr="447700900123",
        destination_addr="Shop",
        esm_class=0x04,
        tlvs={"receipted_message_id": message_id, "message_state": state, **tlvs},
    )


def text_receipt(message_id: str, stat: str = "DELIVRD", err: str = "000", esm_class: int = 0x04) -> DeliverSm:
    text = f"id:{message_id} sub:001 dlvrd:001 submit date:2511240000 done date:2511240001 stat:{stat} err:{err} text:hello"
    return DeliverSm(source_addr="447700900123", destination_addr="Shop", esm_class=esm_class, short_message=text.encode())


def setup(rig, ids: list[str] | None = None, answer=ok, **client_kw):
    ep = rig.smsc(ids=iter(ids) if ids is not None else None, answer=answer)
    client = rig.start(rig.client(**client_kw))
    rig.net.run_until(lambda: client.bound_count == 1)
    return ep.servers[0], client


def send(rig, client, text: str = "hello") -> list[str]:
    box = consume(client.send_message("Shop", "447700900123", text, receipt=True))
    rig.net.flush()
    return result_of(box)


def deliver(rig, server, *receipts: DeliverSm) -> None:
    for r in receipts:
        consume(server.deliver(r))
    rig.net.flush()


def test_receipt_by_receipted_message_id(rig):
    server, client = setup(rig)
    ids = send(rig, client)
    outcome = consume(client.outcome(ids))
    assert outcome == []
    deliver(rig, server, tlv_receipt(ids[0]))
    got = result_of(outcome)
    assert isinstance(got, MessageOutcome)
    assert got.delivered and got.stat == "DELIVRD" and got.message_ids == tuple(ids)
    assert [a.command_status for a in server.deliver_answers] == [S.ESME_ROK]
    assert client.counters["receipts"] == 1
    assert result_of(consume(client.outcome(ids[0]))) == got  # asked again: the same answer


@pytest.mark.parametrize(
    ("submitted", "in_receipt"),
    [
        ("1a2b3c4d5e", str(0x1A2B3C4D5E)),  # hex in submit_sm_resp, decimal in the receipt
        ("112394521950", format(112394521950, "x")),  # and the other way round
        ("1a2b3c4d5e", "00001A2B3C4D5E"),  # padded, upper case
    ],
)
def test_receipt_by_text_id_in_another_base(rig, submitted, in_receipt):
    server, client = setup(rig, ids=[submitted])
    ids = send(rig, client)
    assert ids == [submitted]
    outcome = consume(client.outcome(ids))
    deliver(rig, server, text_receipt(in_receipt))
    assert result_of(outcome).stat == "DELIVRD"


def test_every_segment_of_a_long_message_needs_its_receipt(rig):
    server, client = setup(rig)
    ids = send(rig, client, "z" * 400)
    assert len(ids) == 3 and len(set(ids)) == 3
    outcome = consume(client.outcome(ids))
    deliver(rig, server, tlv_receipt(ids[2]), text_receipt(ids[0]))
    assert outcome == []
    deliver(rig, server, tlv_receipt(ids[1]))
    got = result_of(outcome)
    assert got.states == (M.DELIVERED,) * 3 and got.delivered


def test_one_failed_segment_fails_the_message(rig):
    server, client = setup(rig)
    ids = send(rig, client, "z" * 400)
    outcome = consume(client.outcome(ids))
    deliver(
        rig,
        server,
        tlv_receipt(ids[0]),
        tlv_receipt(ids[1], M.UNDELIVERABLE, network_error_code=b"\x03\x00\x0b"),
        text_receipt(ids[2]),
    )
    got = result_of(outcome)
    assert not got.delivered
    assert got.state == M.UNDELIVERABLE and got.stat == "UNDELIV"
    assert got.states == (M.DELIVERED, M.UNDELIVERABLE, M.DELIVERED)
    assert got.error_codes == (0, 11, 0)


def test_text_receipt_error_code(rig):
    server, client = setup(rig)
    ids = send(rig, client)
    outcome = consume(client.outcome(ids))
    deliver(rig, server, text_receipt(ids[0], stat="EXPIRED", err="042"))
    got = result_of(outcome)
    assert got.stat == "EXPIRED" and got.error_codes == (42,)


def test_a_receipt_before_the_submit_sm_resp_still_matches(rig):
    server, client = setup(rig, ids=["77aa"], answer=None)
    box = consume(client.send_message("Shop", "447700900123", "quick", receipt=True))
    rig.net.flush()
    assert len(server.held) == 1
    deliver(rig, server, tlv_receipt("77aa"))  # the network was faster than our SMSC's answer
    assert [a.command_status for a in server.deliver_answers] == [S.ESME_ROK]
    server.release()
    rig.net.flush()
    ids = result_of(box)
    assert ids == ["77aa"]
    assert result_of(consume(client.outcome(ids))).delivered


def test_an_orphan_receipt_is_forgotten_after_a_while(rig):
    slow = SessionConfig(enquire_link_interval=None, response_timeout=300.0)
    server, client = setup(rig, ids=["77aa"], answer=None, session=slow)
    box = consume(client.send_message("Shop", "447700900123", "slow", receipt=True))
    deliver(rig, server, tlv_receipt("77aa"))
    rig.net.advance(121)  # the tracker keeps orphans for 120 s
    server.release()
    rig.net.flush()
    assert consume(client.outcome(result_of(box))) == []


def test_intermediate_notifications_do_not_finish_a_message(rig):
    server, client = setup(rig)
    ids = send(rig, client)
    outcome = consume(client.outcome(ids))
    deliver(rig, server, tlv_receipt(ids[0], M.ENROUTE), text_receipt(ids[0], stat="ENROUTE", esm_class=0x20))
    assert outcome == []
    deliver(rig, server, tlv_receipt(ids[0]))
    assert result_of(outcome).delivered


def test_receipt_expiry_gives_timed_out_and_unknown(rig):
    server, client = setup(rig, receipt_timeout=60.0)
    ids = send(rig, client, "z" * 200)
    assert len(ids) == 2
    outcome = consume(client.outcome(ids))
    deliver(rig, server, tlv_receipt(ids[0]))
    rig.net.advance(59.9)
    assert outcome == []
    rig.net.advance(0.1)
    got = result_of(outcome)
    assert got.timed_out
    assert got.states == (M.DELIVERED, M.UNKNOWN)
    assert got.state == M.UNKNOWN and got.stat == "UNKNOWN" and not got.delivered
    deliver(rig, server, tlv_receipt(ids[1]))  # too late: acknowledged, changes nothing
    assert [a.command_status for a in server.deliver_answers] == [S.ESME_ROK, S.ESME_ROK]
    assert result_of(consume(client.outcome(ids))).timed_out


def test_no_receipt_asked_no_outcome_tracked(rig):
    server, client = setup(rig)
    box = consume(client.send_message("Shop", "447700900123", "plain"))
    rig.net.flush()
    assert failure_of(consume(client.outcome(result_of(box)))).check(KeyError)
    assert len(client.tracker) == 0


def test_receipts_are_not_incoming_messages(rig):
    got = []
    ep = rig.smsc()
    client = rig.start(rig.client(on_message=got.append))
    rig.net.run_until(lambda: client.bound_count == 1)
    ids = send(rig, client)
    deliver(rig, ep.servers[0], tlv_receipt(ids[0]), text_receipt("unknown-id"))
    assert got == []
    assert client.counters["receipts"] == 2 and client.counters["mo"] == 0


def test_finished_messages_do_not_pile_up_in_the_expiry_heap():
    from twisted.internet.task import Clock

    from smppd.client.receipts import ReceiptTracker

    clock = Clock()
    tracker = ReceiptTracker(clock, timeout=48 * 3600.0)
    for i in range(5000):
        tracker.expect([f"{i:x}"])
        assert tracker.receipt(f"{i:x}", 2)
    assert len(tracker._expiry) <= 1024 + 2
    tracker.stop()


# -- message id normalisation without regular expressions ---------------------------------

_HEX = re.compile(r"[0-9a-f]+")
_DEC = re.compile(r"[0-9]+")


def _regex_normalize(value: str) -> str:
    """normalize_message_id as it was written with regular expressions."""
    cleaned = value.strip().strip("\x00").strip().lower()
    if cleaned and _HEX.fullmatch(cleaned):
        return cleaned.lstrip("0") or "0"
    return cleaned


_ids = st.text(st.sampled_from("0123456789abcdefABCDEFxyz- \x00_\u00e9\u0660"), max_size=20)


@given(_ids)
def test_normalize_message_id_is_what_the_regular_expressions_gave(value):
    assert normalize_message_id(value) == _regex_normalize(value)


@given(_ids, _ids)
def test_message_ids_match_is_symmetric_and_index_take_finds_what_find_finds(a, b):
    assert message_ids_match(a, b) == message_ids_match(b, a)
    if not normalize_message_id(a):
        return
    index: MessageIdIndex[int] = MessageIdIndex()
    index.put(a, 1)
    found = index.find(b)
    assert index.take(b) == found
    assert len(index) == (1 if found is None else 0)


def test_a_receipt_id_equal_to_a_stored_key_is_found_as_before():
    index: MessageIdIndex[int] = MessageIdIndex()
    index.put("1A2B", 1)
    index.put("\x00 \x00x", 2)  # stored as "\x00x" (one strip pass), which itself normalizes to "x"
    assert index.get("1a2b") == 1  # the stored key itself: found at once
    assert index.get("\x00x") is None and index.get("x") is None  # as the normalizing lookup answers
    assert index.take("\x00 \x00x") == ("\x00 \x00x", 2)
    assert not index._unsettled


@given(st.text(alphabet="\x00 \t0123456789abcdefABCDEFxyz\u00a0", max_size=8), st.text(alphabet="\x00 0123456789abcdefxyz", max_size=8))
def test_lookups_answer_as_a_fresh_normalization_would(stored, probe):
    index: MessageIdIndex[int] = MessageIdIndex()
    try:
        index.put(stored, 1)
    except ValueError:
        return
    expected = bool(normalize_message_id(probe)) and normalize_message_id(stored) in message_id_keys(probe)
    assert (index.get(probe) == 1) == expected


# -- an SMSC that gives the same message id twice ---------------------------------------------


def test_a_reused_id_belongs_to_the_later_message_and_the_earlier_times_out(rig):
    server, client = setup(rig, ids=["dup", "dup"], receipt_timeout=60.0)
    first = send(rig, client, "first")
    first_outcome = consume(client.outcome(first))
    rig.net.advance(10)
    second = send(rig, client, "second")
    assert first == second == ["dup"]
    second_outcome = consume(client.outcome(second))

    deliver(rig, server, tlv_receipt("dup"))  # the index holds the later message under "dup"
    assert result_of(second_outcome).delivered
    assert first_outcome == []
    assert result_of(consume(client.outcome("dup"))).delivered

    rig.net.advance(50)  # the first message's receipt timeout
    got = result_of(first_outcome)
    assert got.timed_out and not got.delivered
    assert result_of(consume(client.outcome("dup"))).delivered  # still the later message's


def test_the_earlier_messages_timeout_leaves_the_later_one_matchable(rig):
    server, client = setup(rig, ids=["dup", "dup"], receipt_timeout=60.0)
    first = send(rig, client, "first")
    first_outcome = consume(client.outcome(first))
    rig.net.advance(10)
    send(rig, client, "second")
    second_outcome = consume(client.outcome("dup"))

    rig.net.advance(50)  # the first one times out; "dup" must still find the second
    assert result_of(first_outcome).timed_out
    assert second_outcome == []
    deliver(rig, server, tlv_receipt("dup", M.UNDELIVERABLE))
    got = result_of(second_outcome)
    assert got.state == M.UNDELIVERABLE and not got.timed_out


def test_a_finished_message_does_not_answer_for_a_later_one_with_its_id(rig):
    server, client = setup(rig, ids=["dup", "dup"])
    first = send(rig, client, "first")
    deliver(rig, server, tlv_receipt("dup"))
    assert result_of(consume(client.outcome(first))).delivered
    send(rig, client, "second")
    pending = consume(client.outcome("dup"))
    assert pending == []  # waits for the second message's receipt
    deliver(rig, server, tlv_receipt("dup", M.EXPIRED))
    assert result_of(pending).state == M.EXPIRED


def test_a_long_messages_timeout_leaves_a_segment_id_reused_by_a_later_message():
    from twisted.internet.task import Clock

    from smppd.client.receipts import ReceiptTracker

    clock = Clock()
    seen = []
    tracker = ReceiptTracker(clock, timeout=60.0, finished=lambda tracked, outcome: seen.append((tracked, outcome)))
    long_message = tracker.track(("a", "b"))
    clock.advance(10)
    later = tracker.track(("b",))  # the SMSC gave "b" again
    clock.advance(50)
    assert [(t, o.timed_out, o.states) for t, o in seen] == [(long_message, True, (M.UNKNOWN, M.UNKNOWN))]
    assert tracker.receipt("b", M.DELIVERED)
    assert seen[-1][0] is later and seen[-1][1].delivered
    tracker.stop()


def test_orphans_wait_for_match_orphans_when_asked_to():
    from twisted.internet.task import Clock

    from smppd.client.receipts import ReceiptTracker

    clock = Clock()
    seen = []
    tracker = ReceiptTracker(clock, timeout=60.0, finished=lambda tracked, outcome: seen.append(outcome))
    assert not tracker.receipt("7f", M.DELIVERED)  # before its submit_sm_resp: kept
    message = tracker.track(("7f",), orphans=False)
    assert seen == [] and not message.finished
    tracker.match_orphans(message)
    assert [o.delivered for o in seen] == [True] and message.finished
    tracker.stop()
