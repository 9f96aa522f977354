"""The fast receipt encoder is byte for byte the general codec's receipt."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from smppd.model import Message
from smppd.pdu import DeliverSm, decode_pdu, encode_pdu
from smppd.pdu.constants import EsmClass
from smppd.pdu.tlv import encode_tlvs
from smppd.server.receipts import GSM_NETWORK, preview_text, receipt_pdu, submission_id
from smppd.server.validation import utc
from smppd.text.receipt import DeliveryReceipt, format_receipt, parse_receipt, stat_for_state


def receipt_pdu_reference(message: Message, *, intermediate: bool = False, dlvrd: int | None = None) -> bytes:
    """The receipt built through the general codec and the receipt text
    module: the oracle the fast encoder must match byte for byte."""
    msg_id = submission_id(message)
    done = message.final_at if message.final_at is not None else message.submitted_at
    delivered = 1 if message.state == 2 else 0
    text = format_receipt(
        DeliveryReceipt(
            id=msg_id,
            sub=message.sub_count,
            dlvrd=delivered if dlvrd is None else dlvrd,
            submit_date=utc(message.submitted_at).replace(tzinfo=None),
            done_date=utc(done).replace(tzinfo=None),
            stat=stat_for_state(message.state),
            err=f"{message.error_code:03d}",
            text=preview_text(message),
        )
    )
    tlvs: dict[str, object] = {"receipted_message_id": msg_id, "message_state": message.state}
    if message.error_code:
        tlvs["network_error_code"] = bytes((GSM_NETWORK,)) + (message.error_code & 0xFFFF).to_bytes(2, "big")
    pdu = DeliverSm(
        service_type=message.service_type,
        source_addr_ton=message.dest_addr_ton,
        source_addr_npi=message.dest_addr_npi,
        source_addr=message.destination_addr,
        dest_addr_ton=message.source_addr_ton,
        dest_addr_npi=message.source_addr_npi,
        destination_addr=message.source_addr,
        esm_class=EsmClass.TYPE_INTERMEDIATE_NOTIFICATION if intermediate else EsmClass.TYPE_SMSC_DELIVERY_RECEIPT,
        short_message=text.encode("ascii", "replace"),
        tlvs=tlvs,
    )
    return encode_pdu(pdu)



addr = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20)
messages = st.builds(
    Message,
    message_id=st.one_of(st.from_regex(r"[0-9a-f]{1,16}", fullmatch=True), st.from_regex(r"[0-9a-f]{8}-[0-9]", fullmatch=True)),
    system_id=st.just("sys"),
    service_type=st.sampled_from(["", "CMT", "W\u00e9"]),  # any octet, written as Latin-1
    source_addr_ton=st.integers(0, 6),
    source_addr_npi=st.sampled_from([0, 1]),
    source_addr=addr,
    dest_addr_ton=st.integers(0, 6),
    dest_addr_npi=st.sampled_from([0, 1]),
    destination_addr=addr,
    esm_class=st.sampled_from([0, 0x40]),
    data_coding=st.sampled_from([0, 3, 8]),
    short_message=st.binary(min_size=1, max_size=160),
    submitted_at=st.floats(1.0e9, 4.0e9),
    final_at=st.one_of(st.none(), st.floats(1.0e9, 4.0e9)),
    state=st.integers(1, 8),
    error_code=st.integers(0, 999),
    sub_count=st.integers(1, 254),
)


@given(messages, st.booleans())
def test_fast_receipt_equals_reference(message, intermediate):
    assert receipt_pdu(message, intermediate=intermediate) == receipt_pdu_reference(message, intermediate=intermediate)


def test_receipt_from_a_message_payload_and_its_fields():
    m = Message(
        message_id="abc-2",
        system_id="s",
        source_addr="Shop",
        destination_addr="447700900123",
        tlvs=encode_tlvs([(0x0424, b"payload text")]),
        submitted_at=1764000000.0,
        final_at=1764000061.0,
        state=5,
        error_code=11,
        sub_count=3,
    )
    wire = receipt_pdu(m)
    assert wire == receipt_pdu_reference(m)
    pdu = decode_pdu(wire)
    assert pdu.receipted_message_id == "abc" and pdu.message_state == 5
    assert pdu.network_error_code == b"\x03\x00\x0b"
    r = parse_receipt(pdu.short_message)
    assert (r.id, r.sub, r.stat, r.err, r.text) == ("abc", 3, "UNDELIV", "011", "payload text")
    assert pdu.source_addr == "447700900123" and pdu.destination_addr == "Shop"
