"""Keeping binds up on fake time: back-off, giving up, failover, stopping."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest

from smppd.client import ReconnectPolicy, SendError
from smppd.client.client import ClientStopped
from smppd.pdu import CommandStatus, SubmitSm, Unbind
from smppd.protocol import ConnectionClosed
from tests.client.support import consume, failure_of, result_of

S = CommandStatus
A, B = "tcp:smsc-a:2775", "tcp:smsc-b:2775"


def submit(text: str = "hi") -> SubmitSm:
    return SubmitSm(source_addr="Shop", source_addr_ton=5, destination_addr="447700900123", dest_addr_ton=1, dest_addr_npi=1, short_message=text.encode())


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in pairwise(times)]


# -- back-off ------------------------------------------------------------------------


def test_reconnect_delays_grow_by_the_factor_up_to_the_maximum_with_jitter(rig):
    refusing = rig.refusing(A)
    policy = ReconnectPolicy(initial=1.0, factor=2.0, maximum=10.0, jitter=0.2)
    rig.start(rig.client(endpoints=(A,), reconnect=policy, seed=7))
    rig.net.advance(150)
    delays = gaps(refusing.attempts)
    assert len(delays) >= 12
    bases = [min(10.0, 2.0**i) for i in range(len(delays))]
    for delay, base in zip(delays, bases, strict=True):
        assert base * 0.8 - 1e-6 <= delay <= base * 1.2 + 1e-6
    assert delays != pytest.approx(bases, abs=1e-3)  # the jitter is really there
    # ... and it is the seeded rng's: the same seed gives the same delays.
    rng = random.Random(7)
    assert delays == pytest.approx([policy.delay(n, rng) for n in range(1, len(delays) + 1)], abs=1e-6)


def test_without_jitter_the_delays_are_exact(rig):
    refusing = rig.refusing(A)
    rig.start(rig.client(endpoints=(A,), reconnect=ReconnectPolicy(initial=0.5, factor=3.0, maximum=20.0, jitter=0.0)))
    rig.net.advance(60)
    assert gaps(refusing.attempts)[:5] == pytest.approx([0.5, 1.5, 4.5, 13.5, 20.0], abs=1e-6)


def test_max_attempts_gives_up_and_fails_what_waits(rig):
    refusing = rig.refusing(A)
    client = rig.start(rig.client(endpoints=(A,), reconnect=ReconnectPolicy(initial=1.0, jitter=0.0, max_attempts=3)))
    queued = consume(client.submit(submit()))
    message = consume(client.send_message("Shop", "447700900123", "hello"))
    bound = consume(client.when_bound())
    rig.net.advance(600)
    assert gaps(refusing.attempts) == pytest.approx([1.0, 2.0], abs=1e-6)  # three attempts, then no more
    assert failure_of(queued).check(ClientStopped)
    assert failure_of(message).check(SendError)
    assert failure_of(bound).check(ClientStopped)
    assert client.queued == 0
    assert rig.clock.getDelayedCalls() == []  # nothing left trying
    # A send after giving up fails at once instead of waiting for a bind that never comes.
    late = consume(client.submit(submit()))
    assert failure_of(late).check(ClientStopped)
    assert failure_of(consume(client.when_bound())).check(ClientStopped)


def test_repeated_bind_refusals_back_off_too(rig):
    refusing = rig.smsc(A, bind_status=S.ESME_RINVPASWD)
    client = rig.start(rig.client(endpoints=(A,), reconnect=ReconnectPolicy(initial=1.0, factor=2.0, maximum=8.0, jitter=0.0)))
    rig.net.advance(40)
    assert gaps(refusing.attempts)[:5] == pytest.approx([1.0, 2.0, 4.0, 8.0, 8.0], abs=1e-6)
    assert client.bound_count == 0
    assert all(len(s.received) == 1 for s in refusing.servers)  # one bind per connection, then closed
    assert all(s.transport.disconnected for s in refusing.servers)


def test_a_session_bound_again_starts_the_back_off_afresh(rig):
    ep = rig.smsc(A)
    client = rig.start(rig.client(endpoints=(A,), reconnect=ReconnectPolicy(initial=1.0, factor=2.0, jitter=0.0)))
    rig.net.run_until(lambda: client.bound_count == 1)
    factory = ep.server
    ep.server = None  # the SMSC goes away...
    ep.drop()
    rig.net.advance(1.0 + 2.0 + 4.0)
    assert len(ep.attempts) == 4
    start = rig.clock.seconds()
    ep.server = factory  # ...and comes back
    rig.net.run_until(lambda: client.bound_count == 1)
    assert rig.clock.seconds() - start == pytest.approx(8.0, abs=1e-6)
    ep.drop()
    rig.net.flush()
    assert client.bound_count == 0
    again = rig.clock.seconds()
    rig.net.run_until(lambda: client.bound_count == 1)
    assert rig.clock.seconds() - again == pytest.approx(1.0, abs=1e-6)  # reset by the good bind


# -- failover ------------------------------------------------------------------------


def test_failover_when_the_first_endpoint_refuses_the_connection(rig):
    first = rig.refusing(A)
    second = rig.smsc(B)
    client = rig.start(rig.client(endpoints=(A, B), reconnect=ReconnectPolicy(initial=1.0, jitter=0.0)))
    rig.net.run_until(lambda: client.bound_count == 1)
    assert len(first.attempts) == 1 and len(second.attempts) == 1
    assert second.attempts[0] - first.attempts[0] == pytest.approx(1.0, abs=1e-6)
    sent = consume(client.send_message("Shop", "447700900123", "via b"))
    rig.net.flush()
    assert len(result_of(sent)) == 1
    assert second.servers[0].submits[0].short_message == b"via b"


def test_failover_when_the_first_endpoint_refuses_the_bind(rig):
    first = rig.smsc(A, bind_status=S.ESME_RBINDFAIL)
    second = rig.smsc(B)
    client = rig.start(rig.client(endpoints=(A, B), reconnect=ReconnectPolicy(initial=1.0, jitter=0.0)))
    rig.net.run_until(lambda: client.bound_count == 1)
    assert len(first.attempts) == 1 and len(second.attempts) == 1
    (refused,) = first.servers
    assert refused.received[0].system_id == "alice"
    assert refused.transport.disconnected  # the client closed the refused connection
    assert second.servers[0].session.is_bound


def test_failover_when_the_bind_is_never_answered(rig):
    first = rig.smsc(A, hold_bind=True)
    second = rig.smsc(B)
    client = rig.start(rig.client(endpoints=(A, B), bind_timeout=3.0, reconnect=ReconnectPolicy(initial=1.0, jitter=0.0)))
    rig.net.run_until(lambda: client.bound_count == 1)
    assert second.attempts[0] - first.attempts[0] == pytest.approx(3.0 + 1.0, abs=1e-6)
    assert first.servers[0].transport.disconnected


def test_endpoints_are_tried_round_and_round(rig):
    a = rig.refusing(A)
    b = rig.smsc(B, bind_status=S.ESME_RBINDFAIL)
    rig.start(rig.client(endpoints=(A, B), reconnect=ReconnectPolicy(initial=1.0, jitter=0.0)))
    rig.net.advance(1 + 2 + 4 + 8 + 0.5)
    order = sorted([(t, "a") for t in a.attempts] + [(t, "b") for t in b.attempts])
    assert [name for _, name in order] == ["a", "b", "a", "b", "a"]


def test_a_lost_session_reconnects_and_fails_over(rig):
    a = rig.smsc(A)
    b = rig.smsc(B)
    client = rig.start(rig.client(endpoints=(A, B), reconnect=ReconnectPolicy(initial=1.0, jitter=0.0)))
    rig.net.run_until(lambda: client.bound_count == 1)
    assert len(a.servers) == 1 and b.servers == []
    a.server = None  # A restarts and refuses for a while
    a.drop()
    rig.net.flush()
    assert client.bound_count == 0
    queued = consume(client.send_message("Shop", "447700900123", "after the drop"))
    rig.net.run_until(lambda: bool(queued))
    assert len(result_of(queued)) == 1
    assert len(a.attempts) == 2 and len(b.attempts) == 1
    assert b.servers[0].submits[0].short_message == b"after the drop"


# -- stopping ------------------------------------------------------------------------


def test_stop_unbinds_then_closes(rig):
    ep = rig.smsc(A)
    client = rig.start(rig.client())
    rig.net.run_until(lambda: client.bound_count == 1)
    result_of(rig.stop(client))
    (server,) = ep.servers
    assert isinstance(server.received[-1], Unbind)
    assert server.transport.disconnected
    assert len(ep.attempts) == 1  # no reconnection after a deliberate stop
    rig.net.advance(120)
    assert len(ep.attempts) == 1


def test_stop_waits_for_unbind_resp_at_most_the_unbind_timeout(rig):
    ep = rig.smsc(A, answer_unbind=False)
    client = rig.start(rig.client())
    rig.net.run_until(lambda: client.bound_count == 1)
    box = consume(client.stopService())
    rig.net.advance(4.9)
    assert box == []
    rig.net.advance(0.1)
    result_of(box)
    assert ep.servers[0].transport.disconnected


def test_stop_fails_queued_sends_with_client_stopped(rig):
    ep = rig.smsc(A, answer=None)  # holds every submit
    client = rig.start(rig.client(window=2))
    rig.net.run_until(lambda: client.bound_count == 1)
    boxes = [consume(client.submit(submit(f"m{i}"))) for i in range(5)]
    rig.net.flush()
    assert len(ep.servers[0].held) == 2 and client.queued == 3
    rig.stop(client)
    assert all(failure_of(b).check(ConnectionClosed) for b in boxes[:2])  # in flight when the link closed
    assert all(failure_of(b).check(ClientStopped) for b in boxes[2:])
    assert failure_of(consume(client.submit(submit()))).check(ClientStopped)


def test_stop_while_still_connecting(rig):
    rig.refusing(A)
    client = rig.start(rig.client(endpoints=(A,)))
    waiting = consume(client.send_message("Shop", "447700900123", "never"))
    bound = consume(client.when_bound())
    rig.net.advance(0.5)
    rig.stop(client)
    assert failure_of(waiting).check(SendError)
    assert failure_of(bound).check(ClientStopped)


def test_stop_while_a_bind_is_pending(rig):
    ep = rig.smsc(A, hold_bind=True)
    client = rig.start(rig.client(endpoints=(A,), bind_timeout=30.0))
    rig.net.advance(1)
    (server,) = ep.servers
    assert not server.session.is_bound
    waiting = consume(client.send_message("Shop", "447700900123", "never"))
    result_of(rig.stop(client))
    assert server.transport.disconnected
    assert failure_of(waiting).check(SendError)
    rig.net.advance(60)
    assert len(ep.attempts) == 1


def test_start_again_after_a_stop(rig):
    ep = rig.smsc(A)
    client = rig.start(rig.client(binds=2))
    rig.net.run_until(lambda: client.bound_count == 2)
    rig.stop(client)
    assert client.bound_count == 0
    rig.start(client)
    rig.net.run_until(lambda: client.bound_count == 2)
    rig.net.advance(5)
    assert len(ep.servers) == 4  # two binds per run, no leftover services reconnecting
    assert len(client.services) == 2
    box = consume(client.send_message("Shop", "447700900123", "again"))
    rig.net.flush()
    assert len(result_of(box)) == 1
