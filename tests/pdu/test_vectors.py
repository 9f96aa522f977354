"""Every PDU type against its golden wire vector, both directions."""

import pytest

from smppd.pdu import PDU_CLASSES, decode_pdu, encode_pdu
from tests.pdu.vectors import VECTORS


@pytest.mark.parametrize(("name", "pdu", "wire"), VECTORS, ids=[v[0] for v in VECTORS])
def test_encode_matches_vector(name, pdu, wire):
    assert encode_pdu(pdu).hex() == wire.hex()


@pytest.mark.parametrize(("name", "pdu", "wire"), VECTORS, ids=[v[0] for v in VECTORS])
def test_decode_matches_vector(name, pdu, wire):
    assert decode_pdu(wire) == pdu


def test_every_pdu_class_has_a_vector():
    covered = {type(pdu) for _, pdu, _ in VECTORS}
    assert covered == set(PDU_CLASSES)


def test_known_tlvs_read_by_name():
    receipt = next(p for n, p, _ in VECTORS if n == "deliver_sm receipt")
    decoded = decode_pdu(encode_pdu(receipt))
    assert decoded.receipted_message_id == "5f3a9c01"
    assert decoded.message_state == 2
    assert decoded.network_error_code == b"\x03\x00\x00"
    assert decoded.message_payload is None
    assert decoded.sar_msg_ref_num is None


def test_vendor_tlv_reencoded_byte_for_byte():
    name, pdu, wire = next(v for v in VECTORS if v[0].startswith("submit_sm with SAR"))
    decoded = decode_pdu(wire)
    assert decoded.tlvs.raw(0x1400) == b"\x01\x02"
    assert decoded.sar_msg_ref_num == 0x1234
    assert encode_pdu(decoded) == wire
