"""Sending on fake time: window, throttling, rate limit, timeouts, binds, options."""

from __future__ import annotations

from itertools import pairwise

import pytest

from smppd.client import SendError
from smppd.pdu import CommandStatus, SubmitSm
from smppd.protocol import ResponseTimeout, SmppError
from smppd.text.encoding import UnencodableText
from tests.client.support import ScriptedSmsc, consume, failure_of, ok, result_of

S = CommandStatus
THROTTLES = [S.ESME_RTHROTTLED, S.ESME_RMSGQFUL]


def submit(text: str) -> SubmitSm:
    return SubmitSm(source_addr="Shop", source_addr_ton=5, destination_addr="447700900123", dest_addr_ton=1, dest_addr_npi=1, short_message=text.encode())


def bound(rig, ep=None, **kw):
    ep = ep or rig.smsc()
    client = rig.start(rig.client(**kw))
    rig.net.run_until(lambda: client.bound_count == client.config.binds)
    return ep, client


def texts(pdus) -> list[str]:
    return [p.short_message.decode() for p in pdus]


def refuse_first(plan: dict[bytes, list[int]]):
    """An SMSC answer: the statuses listed for a text first, then ESME_ROK."""

    def answer(smsc: ScriptedSmsc, pdu):
        statuses = plan.get(pdu.short_message)
        if statuses:
            return pdu.response(command_status=statuses.pop(0))
        return smsc.ok(pdu)

    return answer


# -- window --------------------------------------------------------------------------


def test_window_limits_outstanding_submits_and_the_rest_wait_in_order(rig):
    ep, client = bound(rig, rig.smsc(answer=None), window=3)
    boxes = [consume(client.submit(submit(f"m{i}"))) for i in range(10)]
    rig.net.flush()
    server = ep.servers[0]
    assert texts(server.submits) == ["m0", "m1", "m2"]
    assert client.queued == 7
    server.release(1)
    rig.net.flush()
    assert texts(server.submits) == ["m0", "m1", "m2", "m3"]
    assert len(server.held) == 3
    while server.held:
        assert len(server.held) <= 3
        server.release(1)
        rig.net.flush()
    assert texts(server.submits) == [f"m{i}" for i in range(10)]
    assert all(result_of(b).command_status == 0 for b in boxes)
    assert client.queued == 0


# -- throttling ----------------------------------------------------------------------


@pytest.mark.parametrize("status", THROTTLES)
def test_throttled_message_pauses_the_bind_and_is_resent_first(rig, status):
    ep = rig.smsc(answer=refuse_first({b"m1": [status]}))
    _, client = bound(rig, ep, window=1)
    boxes = [consume(client.submit(submit(f"m{i}"))) for i in range(5)]
    rig.net.advance(1)
    server = ep.servers[0]
    assert texts(server.submits) == ["m0", "m1", "m1", "m2", "m3", "m4"]
    times = [t for t, _ in server.requests]
    assert times[2] - times[1] == pytest.approx(0.1, abs=1e-6)  # throttle_initial; nothing in between
    assert times[3:] == [times[2]] * 3
    assert all(result_of(b).command_status == 0 for b in boxes)
    assert client.counters["throttled"] == 1


@pytest.mark.parametrize("status", THROTTLES)
def test_nothing_is_sent_during_the_pause_and_the_queue_keeps_its_order(rig, status):
    ep = rig.smsc(answer=refuse_first({b"m1": [status]}))
    _, client = bound(rig, ep, window=3, throttle_initial=0.5)
    boxes = [consume(client.submit(submit(f"m{i}"))) for i in range(10)]
    rig.net.flush()
    server = ep.servers[0]
    throttled_at = server.requests[1][0]
    before = len(server.requests)
    rig.net.advance(0.49)
    assert len(server.requests) == before  # paused
    rig.net.advance(0.02)
    after = [p for t, p in server.requests if t > throttled_at]
    assert after[0].short_message == b"m1"  # the throttled message goes first
    resent = texts(after)
    assert resent == sorted(resent, key=lambda s: int(s[1:]))  # and the others keep their order
    assert sorted(texts(server.submits)) == sorted([f"m{i}" for i in range(10)] + ["m1"])
    assert all(result_of(b).command_status == 0 for b in boxes)


@pytest.mark.parametrize("status", THROTTLES)
def test_the_pause_doubles_up_to_the_maximum_and_resets_after_a_success(rig, status):
    ep = rig.smsc(answer=refuse_first({b"m0": [status] * 6, b"m2": [status]}))
    _, client = bound(rig, ep, window=1, throttle_initial=0.1, throttle_maximum=1.0)
    boxes = [consume(client.submit(submit(f"m{i}"))) for i in range(3)]
    rig.net.advance(10)
    server = ep.servers[0]
    m0 = [t for t, p in server.requests if p.short_message == b"m0"]
    assert len(m0) == 7
    pauses = [b - a for a, b in pairwise(m0)]
    assert pauses == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0], abs=1e-6)
    m2 = [t for t, p in server.requests if p.short_message == b"m2"]
    assert m2[1] - m2[0] == pytest.approx(0.1, abs=1e-6)  # m1 succeeded in between: back to the start
    assert all(result_of(b).command_status == 0 for b in boxes)


def test_other_errors_fail_the_send_without_a_pause(rig):
    ep = rig.smsc(answer=refuse_first({b"m0": [S.ESME_RINVDSTADR]}))
    _, client = bound(rig, ep, window=1)
    first = consume(client.submit(submit("m0")))
    second = consume(client.send_message("Shop", "447700900123", "m0"))
    rig.net.flush()
    assert failure_of(first).value.status == S.ESME_RINVDSTADR
    assert isinstance(failure_of(first).value, SmppError)
    assert len(result_of(second)) == 1
    assert ep.servers[0].requests[0][0] == ep.servers[0].requests[1][0]


def test_a_throttled_bind_pauses_alone(rig):
    ep = rig.smsc(answer=refuse_first({b"m0": [S.ESME_RTHROTTLED]}))
    _, client = bound(rig, ep, binds=2, window=1, throttle_initial=1.0)
    boxes = [consume(client.submit(submit(f"m{i}"))) for i in range(6)]
    rig.net.advance(0.5)
    one, two = ep.servers
    throttled, other = (one, two) if one.submits[0].short_message == b"m0" else (two, one)
    assert texts(throttled.submits) == ["m0"]  # refused, and paused since
    # Everything else went through the other bind, the refused message first in line again.
    assert texts(other.submits) == ["m1", "m0", "m2", "m3", "m4", "m5"]
    rig.net.advance(1)
    assert all(result_of(b).command_status == 0 for b in boxes)
    more = [consume(client.submit(submit(f"n{i}"))) for i in range(4)]
    rig.net.flush()
    assert len(throttled.submits) == 3 and len(other.submits) == 8  # back in the rotation after the pause
    assert all(result_of(b).command_status == 0 for b in more)


# -- rate limit ----------------------------------------------------------------------


def test_rate_limit_counts_every_segment(rig):
    ep, client = bound(rig, rate=10.0, window=100)
    long_text = "x" * 400  # three segments
    message = consume(client.send_message("Shop", "447700900123", long_text))
    boxes = [consume(client.submit(submit(f"m{i}"))) for i in range(32)]
    rig.net.advance(10)
    times = [t for t, _ in ep.servers[0].requests]
    assert len(times) == 35
    for start in times:
        assert sum(1 for t in times if start <= t < start + 1.0) <= 10
    assert times[-1] - times[0] >= 3.0 - 1e-6  # 35 at 10/s
    assert times[-1] - times[0] <= 3.5
    assert len(result_of(message)) == 3
    assert all(result_of(b).command_status == 0 for b in boxes)


def test_rate_limit_after_an_idle_spell_still_holds(rig):
    ep, client = bound(rig, rate=5.0, window=100)
    for i in range(3):
        consume(client.submit(submit(f"a{i}")))
    rig.net.advance(60)
    for i in range(20):
        consume(client.submit(submit(f"b{i}")))
    rig.net.advance(10)
    times = [t for t, _ in ep.servers[0].requests]
    assert len(times) == 23
    for start in times:
        assert sum(1 for t in times if start <= t < start + 1.0) <= 5


# -- response timeout ----------------------------------------------------------------


def test_an_unanswered_submit_fails_with_response_timeout(rig):
    ep, client = bound(rig, rig.smsc(answer=None))
    box = consume(client.submit(submit("m0")))
    message = consume(client.send_message("Shop", "447700900123", "m1"))
    rig.net.advance(29.9)
    assert box == [] and message == []
    rig.net.advance(0.1)
    assert failure_of(box).check(ResponseTimeout)
    assert failure_of(message).check(SendError)
    assert "no response" in str(failure_of(message).value)
    # The session is still good: the next submit gets its answer.
    ep.servers[0].answer = ok
    later = consume(client.submit(submit("m2")))
    rig.net.flush()
    assert result_of(later).command_status == 0


# -- several binds -------------------------------------------------------------------


def test_binds_are_used_round_robin(rig):
    ep, client = bound(rig, binds=2)
    assert client.bound_count == 2
    boxes = [consume(client.submit(submit(f"m{i}"))) for i in range(6)]
    rig.net.flush()
    one, two = ep.servers
    assert len(one.submits) == 3 and len(two.submits) == 3
    owner = {p.short_message: n for n, server in enumerate(ep.servers) for p in server.submits}
    owners = [owner[f"m{i}".encode()] for i in range(6)]
    assert all(a != b for a, b in pairwise(owners))
    assert all(result_of(b).command_status == 0 for b in boxes)


def test_a_lost_bind_leaves_the_other_one_working(rig):
    ep, client = bound(rig, binds=2)
    ep.servers[0].transport.loseConnection()
    rig.net.flush()
    assert client.bound_count == 1
    boxes = [consume(client.submit(submit(f"m{i}"))) for i in range(4)]
    rig.net.flush()
    assert len(ep.servers[1].submits) == 4
    assert all(result_of(b).command_status == 0 for b in boxes)
    rig.net.run_until(lambda: client.bound_count == 2)


# -- send_message options ------------------------------------------------------------


def sent(rig, ep, client, *args, **kw):
    box = consume(client.send_message(*args, **kw))
    rig.net.flush()
    ids = result_of(box)
    server = ep.servers[0]
    pdus, server.requests = [p for _, p in server.requests], []
    assert len(pdus) == len(ids)
    return pdus


def test_forced_ucs2(rig):
    ep, client = bound(rig)
    (pdu,) = sent(rig, ep, client, "Shop", "447700900123", "hello", encoding="ucs2")
    assert pdu.data_coding == 0x08 and pdu.short_message == "hello".encode("utf-16-be")


def test_gsm_by_default_and_ucs2_when_needed(rig):
    ep, client = bound(rig)
    (gsm,) = sent(rig, ep, client, "Shop", "447700900123", "hello @ £")
    assert gsm.data_coding == 0x00
    (ucs2,) = sent(rig, ep, client, "Shop", "447700900123", "hi 👍")
    assert ucs2.data_coding == 0x08 and ucs2.short_message == "hi 👍".encode("utf-16-be")


def test_concatenation_sar(rig):
    ep, client = bound(rig)
    pdus = sent(rig, ep, client, "Shop", "447700900123", "a" * 300, concatenation="sar")
    assert len(pdus) == 2
    assert {p.sar_msg_ref_num for p in pdus} == {pdus[0].sar_msg_ref_num}
    assert [(p.sar_total_segments, p.sar_segment_seqnum) for p in pdus] == [(2, 1), (2, 2)]
    assert all(p.esm_class & 0x40 == 0 for p in pdus)
    assert b"".join(p.short_message for p in pdus) == b"a" * 300


def test_concatenation_payload(rig):
    ep, client = bound(rig)
    (pdu,) = sent(rig, ep, client, "Shop", "447700900123", "b" * 500, concatenation="payload")
    assert pdu.short_message == b""
    assert pdu.message_payload == b"b" * 500
    assert pdu.sar_msg_ref_num is None


def test_concatenation_udh16(rig):
    ep, client = bound(rig)
    pdus = sent(rig, ep, client, "Shop", "447700900123", "c" * 200, concatenation="udh16")
    assert len(pdus) == 2
    for n, pdu in enumerate(pdus, 1):
        assert pdu.esm_class & 0x40
        assert pdu.short_message[:3] == b"\x06\x08\x04"
        assert pdu.short_message[5:7] == bytes((2, n))
    assert pdus[0].short_message[3:5] == pdus[1].short_message[3:5]


def test_concatenation_udh8_is_the_default(rig):
    ep, client = bound(rig)
    pdus = sent(rig, ep, client, "Shop", "447700900123", "d" * 200)
    assert len(pdus) == 2
    for n, pdu in enumerate(pdus, 1):
        assert pdu.esm_class & 0x40
        assert pdu.short_message[:3] == b"\x05\x00\x03"
        assert pdu.short_message[4:6] == bytes((2, n))


def test_binary_content(rig):
    ep, client = bound(rig)
    data = bytes(range(256)) * 1
    pdus = sent(rig, ep, client, "Shop", "447700900123", data)
    assert len(pdus) == 2
    assert all(p.data_coding == 0x04 and p.esm_class & 0x40 for p in pdus)
    assert b"".join(p.short_message[6:] for p in pdus) == data
    (small,) = sent(rig, ep, client, "Shop", "447700900123", b"\x00\xff")
    assert small.short_message == b"\x00\xff" and small.esm_class & 0x40 == 0


@pytest.mark.parametrize(
    ("source", "ton"),
    [("Shop", 5), ("My Shop", 5), ("447700900123", 1), ("+447700900123", 1)],
)
def test_source_ton_is_chosen_from_the_address(rig, source, ton):
    ep, client = bound(rig)
    (pdu,) = sent(rig, ep, client, source, "447700900123", "x")
    assert pdu.source_addr_ton == ton and pdu.source_addr == source


def test_explicit_fields_win(rig):
    ep, client = bound(rig)
    (pdu,) = sent(rig, ep, client, "12345", "447700900123", "x", source_addr_ton=3, source_addr_npi=9, dest_addr_ton=0, dest_addr_npi=0, protocol_id=0x7F, priority_flag=2)
    assert (pdu.source_addr_ton, pdu.source_addr_npi, pdu.dest_addr_ton, pdu.dest_addr_npi) == (3, 9, 0, 0)
    assert pdu.protocol_id == 0x7F and pdu.priority_flag == 2


def test_receipt_asks_for_a_delivery_receipt(rig):
    ep, client = bound(rig)
    (pdu,) = sent(rig, ep, client, "Shop", "447700900123", "x", receipt=True)
    assert pdu.registered_delivery == 1
    (plain,) = sent(rig, ep, client, "Shop", "447700900123", "x")
    assert plain.registered_delivery == 0


def test_a_message_that_cannot_be_encoded_fails_at_once(rig):
    ep, client = bound(rig)
    box = consume(client.send_message("Shop", "447700900123", "thumbs 👍", encoding="gsm7"))
    assert failure_of(box).check(UnencodableText)
    assert client.queued == 0
    rig.net.flush()
    assert ep.servers[0].requests == []


def test_one_refused_segment_fails_the_message_with_the_ids_that_went_through(rig):
    def answer(smsc, pdu):
        if pdu.short_message.endswith(b"y" * 10) and pdu.short_message[5] == 2:
            return pdu.response(command_status=S.ESME_RSUBMITFAIL)
        return smsc.ok(pdu)

    ep, client = bound(rig, rig.smsc(answer=answer))
    box = consume(client.send_message("Shop", "447700900123", "y" * 300))
    rig.net.flush()
    error = failure_of(box).value
    assert isinstance(error, SendError) and error.status == S.ESME_RSUBMITFAIL
    assert len(error.message_ids) == 1
