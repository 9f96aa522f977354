"""replace_if_present, submit_multi throttling and query/cancel across the
destinations of a submit_multi, over real loopback sockets."""

from __future__ import annotations

import pytest
import pytest_twisted

from smppd.auth import Users
from smppd.pdu import (
    CancelSm,
    CommandStatus,
    DestAddress,
    MessageState,
    QuerySm,
    SubmitMulti,
    UnsuccessSme,
)
from smppd.pdu.timefmt import format_relative
from smppd.protocol import SmppError
from tests.e2e.support import HOLD_PREFIX, HOLD_RULE, server_config, submit_sm
from tests.server.harness import account

S = CommandStatus


def multi(dests: list[str]) -> SubmitMulti:
    return SubmitMulti(source_addr="Shop", source_addr_ton=5, dest_addresses=[DestAddress(d, 1, 1) for d in dests], short_message=b"all")


@pytest_twisted.inlineCallbacks
def test_replace_if_present_replaces_a_held_message_over_the_wire(live):
    server = yield live.start()
    esme = yield server.esme()
    later = format_relative(3600)
    first = yield esme.request(submit_sm(service_type="OTP", schedule_delivery_time=later))
    second = yield esme.request(submit_sm(service_type="OTP", schedule_delivery_time=later, replace_if_present_flag=1, short_message=b"newer"))
    assert second.message_id == first.message_id
    (held,) = server.smsc.unfinished.values()
    assert held.short_message == b"newer"
    cancelled = yield esme.request(CancelSm(message_id=first.message_id))
    assert cancelled.command_status == S.ESME_ROK and server.smsc.unfinished == {}


@pytest_twisted.inlineCallbacks
def test_submit_multi_is_throttled_per_destination_over_the_wire(live):
    users = Users([account("alice", throughput=3)])
    server = yield live.start(users=users)
    esme = yield server.esme(system_id="alice", password="secret")
    dests = [f"{HOLD_PREFIX}{i:05d}" for i in range(5)]
    resp = yield esme.request(multi(dests))
    # a burst of 3 (one second's worth): three destinations accepted, two refused
    assert resp.unsuccess_smes == tuple(UnsuccessSme(d, S.ESME_RTHROTTLED, 1, 1) for d in dests[3:])
    assert len(server.smsc.unfinished) == 3


@pytest_twisted.inlineCallbacks
def test_query_and_cancel_reach_every_destination_over_the_wire(live):
    server = yield live.start(server_config(simulator_rules=(HOLD_RULE,)))
    esme = yield server.esme()
    other = yield server.esme(system_id="esme")
    resp = yield esme.request(multi([HOLD_PREFIX + "1", HOLD_PREFIX + "2", HOLD_PREFIX + "3"]))
    query = yield esme.request(QuerySm(message_id=resp.message_id, source_addr="Shop", source_addr_ton=5))
    assert query.message_state == MessageState.ENROUTE
    for request, status in ((QuerySm(message_id=resp.message_id), S.ESME_RQUERYFAIL), (CancelSm(message_id=resp.message_id), S.ESME_RCANCELFAIL)):
        with pytest.raises(SmppError) as refused:  # another tenant: as for an unknown id
            yield other.request(request)
        assert refused.value.status == status
    cancelled = yield esme.request(CancelSm(message_id=resp.message_id))
    assert cancelled.command_status == S.ESME_ROK and server.smsc.unfinished == {}
    query = yield esme.request(QuerySm(message_id=resp.message_id))
    assert query.message_state == MessageState.DELETED
