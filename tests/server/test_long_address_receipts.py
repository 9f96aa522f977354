"""Receipts for a data_sm whose addresses do not fit a deliver_sm (issue 11).

data_sm allows 64-octet addresses, deliver_sm 20: such a receipt goes as
data_sm (receipted_message_id, message_state, the text as message_payload),
and it decodes with our own decoder and with smpplib."""

from __future__ import annotations

import smpplib.smpp

from smppd.model import Message
from smppd.pdu import DataSm, DataSmResp, DeliverSm, MessageState, decode_pdu
from smppd.server.config import ServerConfig
from smppd.server.outbox import for_smpp33
from smppd.server.receipts import receipt_pdu
from smppd.testing import send
from smppd.text.receipt import parse_receipt
from tests.server.harness import Harness

LONG = "S" * 40


class _Sequencer:  # smpplib asks its client for sequence numbers
    def next_sequence(self) -> int:
        return 1


def test_a_receipt_for_long_addresses_is_a_data_sm_both_decoders_read():
    m = Message("a1b2", "alice", source_addr=LONG, destination_addr="4477009001234567890123", state=MessageState.UNDELIVERABLE, error_code=11, submitted_as="data_sm")
    wire = receipt_pdu(m)
    pdu = decode_pdu(wire)
    assert isinstance(pdu, DataSm) and pdu.esm_class == 0x04
    assert pdu.destination_addr == LONG and pdu.source_addr == "4477009001234567890123"
    assert pdu.tlvs.value("receipted_message_id") == "a1b2"
    assert pdu.tlvs.value("message_state") == MessageState.UNDELIVERABLE
    assert parse_receipt(pdu.message_payload).stat == "UNDELIV"
    theirs = smpplib.smpp.parse_pdu(wire, client=_Sequencer())
    assert theirs.command == "data_sm" and theirs.destination_addr == LONG.encode()
    assert theirs.receipted_message_id == b"a1b2"


def test_short_addresses_keep_the_deliver_sm_receipt():
    m = Message("a1b2", "alice", source_addr="Shop", destination_addr="447700900123", state=MessageState.DELIVERED, submitted_as="data_sm")
    assert isinstance(decode_pdu(receipt_pdu(m)), DeliverSm)


def test_an_smpp_3_3_peer_gets_the_addresses_cut_to_what_deliver_sm_takes():
    m = Message("a1b2", "alice", source_addr=LONG, destination_addr="447700900123", state=MessageState.DELIVERED)
    pdu = decode_pdu(for_smpp33(receipt_pdu(m)))
    assert isinstance(pdu, DeliverSm) and pdu.destination_addr == LONG[:20]
    assert parse_receipt(pdu.short_message).stat == "DELIVRD"


def test_data_sm_with_a_40_character_source_gets_a_receipt_it_can_decode():
    h = Harness(ServerConfig(simulator_default_delay=1.0))
    proto, transport = h.bind()
    (resp,) = h.request(
        proto,
        transport,
        DataSm(sequence_number=4, source_addr=LONG, destination_addr="447700900123", dest_addr_ton=1, dest_addr_npi=1, registered_delivery=1, tlvs={"message_payload": b"payload"}),
    )
    assert isinstance(resp, DataSmResp) and resp.command_status == 0
    h.clock.advance(1)
    h.clock.advance(0)
    (receipt,) = transport.pdus()  # decoded by our own decoder
    assert isinstance(receipt, DataSm) and receipt.destination_addr == LONG
    assert receipt.tlvs.value("receipted_message_id") == resp.message_id
    send(proto, DataSmResp(sequence_number=receipt.sequence_number))
    h.clock.advance(0)
    assert len(h.smsc.dispatchers["alice"]) == 0 and h.smsc.counters["receipts_sent"] == 1
