"""Mobile-originated messages handed to the application, on fake time."""

from __future__ import annotations

from twisted.internet.defer import Deferred

from smppd.pdu import CommandStatus, DataSm, DataSmResp, DeliverSm, DeliverSmResp
from smppd.text.split import split_text
from tests.client.support import consume

S = CommandStatus
TEXT = "Three parts, out of order, and one handler call: " + "lorem ipsum " * 30


def parts(text: str = TEXT, method: str = "udh8", reference: int = 42, **kw) -> list[DeliverSm]:
    segments = split_text(text, method=method, reference=reference)
    pdus = []
    for seg in segments:
        tlvs = {}
        if seg.sar is not None:
            tlvs = dict(sar_msg_ref_num=seg.sar[0], sar_total_segments=seg.sar[1], sar_segment_seqnum=seg.sar[2])
        if seg.message_payload is not None:
            tlvs["message_payload"] = seg.message_payload
        pdus.append(
            DeliverSm(
                source_addr=kw.get("source", "447700900999"),
                source_addr_ton=1,
                source_addr_npi=1,
                destination_addr="Shop",
                esm_class=seg.esm_class_flags,
                data_coding=seg.data_coding,
                short_message=seg.short_message,
                tlvs=tlvs,
            )
        )
    return pdus


class Handler:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.messages = []

    def __call__(self, message):
        self.messages.append(message)
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer


def setup(rig, handler):
    ep = rig.smsc()
    client = rig.start(rig.client(on_message=handler))
    rig.net.run_until(lambda: client.bound_count == 1)
    return ep.servers[0], client


def deliver(rig, server, *pdus) -> None:
    for pdu in pdus:
        consume(server.deliver(pdu))
    rig.net.flush()


def test_three_parts_out_of_order_make_one_message(rig):
    handler = Handler()
    server, client = setup(rig, handler)
    one, two, three = parts()
    deliver(rig, server, two, three)
    assert handler.messages == []
    deliver(rig, server, one)
    (message,) = handler.messages
    assert message.text == TEXT and message.parts == 3
    assert message.source_addr == "447700900999" and message.destination_addr == "Shop"
    assert [type(a) for a in server.deliver_answers] == [DeliverSmResp] * 3
    assert [a.command_status for a in server.deliver_answers] == [S.ESME_ROK] * 3
    assert client.counters["mo"] == 1


def test_sar_and_udh16_parts(rig):
    handler = Handler()
    server, client = setup(rig, handler)
    deliver(rig, server, *reversed(parts(method="sar", reference=700)))
    deliver(rig, server, *reversed(parts(method="udh16", reference=701)))
    assert [m.text for m in handler.messages] == [TEXT, TEXT]


def test_a_single_ucs2_message(rig):
    handler = Handler()
    server, client = setup(rig, handler)
    deliver(rig, server, *parts("Grüße 👋"))
    (message,) = handler.messages
    assert message.text == "Grüße 👋" and message.parts == 1 and message.data_coding == 0x08


def test_a_data_sm_with_message_payload(rig):
    handler = Handler()
    server, client = setup(rig, handler)
    deliver(rig, server, DataSm(source_addr="447700900999", destination_addr="Shop", tlvs={"message_payload": b"via data-sm"}))
    (message,) = handler.messages
    assert message.text == "via data-sm"
    (answer,) = server.deliver_answers
    assert isinstance(answer, DataSmResp) and answer.command_status == S.ESME_ROK


def test_a_temporary_refusal_is_answered_and_the_resent_part_calls_the_handler_again(rig):
    handler = Handler(S.ESME_RX_T_APPN, None)
    server, client = setup(rig, handler)
    one, two, three = parts()
    deliver(rig, server, three, one, two)
    assert len(handler.messages) == 1
    assert [a.command_status for a in server.deliver_answers] == [S.ESME_ROK, S.ESME_ROK, S.ESME_RX_T_APPN]
    deliver(rig, server, two)  # the SMSC retries the part that was refused
    assert [m.text for m in handler.messages] == [TEXT, TEXT]
    assert server.deliver_answers[-1].command_status == S.ESME_ROK


def test_a_handler_that_raises_answers_rx_t_appn(rig, logged):
    handler = Handler(ZeroDivisionError("bug"), None)
    server, client = setup(rig, handler)
    deliver(rig, server, *parts("short one"))
    assert [a.command_status for a in server.deliver_answers] == [S.ESME_RX_T_APPN]
    assert ZeroDivisionError in logged.failure_types()
    deliver(rig, server, *parts("short one"))
    assert server.deliver_answers[-1].command_status == S.ESME_ROK
    assert len(handler.messages) == 2


def test_a_handler_may_answer_later(rig):
    later: Deferred[int | None] = Deferred()
    handler = Handler(later)
    server, client = setup(rig, handler)
    deliver(rig, server, *parts("take your time"))
    assert server.deliver_answers == []
    later.callback(S.ESME_RX_P_APPN)
    rig.net.flush()
    assert [a.command_status for a in server.deliver_answers] == [S.ESME_RX_P_APPN]


def test_a_failing_deferred_from_the_handler_answers_rx_t_appn(rig):
    later: Deferred[int | None] = Deferred()
    handler = Handler(later)
    server, client = setup(rig, handler)
    deliver(rig, server, *parts())
    later.errback(RuntimeError("store down"))
    rig.net.flush()
    assert [a.command_status for a in server.deliver_answers] == [S.ESME_ROK, S.ESME_ROK, S.ESME_RX_T_APPN]


def test_without_a_handler_everything_is_acknowledged(rig):
    server, client = setup(rig, None)
    deliver(rig, server, *parts())
    assert [a.command_status for a in server.deliver_answers] == [S.ESME_ROK] * 3
