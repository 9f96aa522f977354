"""Tolerant when reading, strict when writing, and errors that say how to answer."""

import pytest

from smppd.pdu import (
    BindTransceiverResp,
    CancelSm,
    CommandStatus,
    DataSm,
    DeliverSm,
    EnquireLink,
    GenericNack,
    Outbind,
    PduDecodeError,
    PduEncodeError,
    QuerySmResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Tlvs,
    decode_pdu,
    encode_pdu,
    error_response,
)
from tests.pdu.vectors import c, i1, pdu

S = CommandStatus


# -- error responses in every shape seen in the field ------------------------


@pytest.mark.parametrize(
    "body",
    ["", "00", c("0A000000A3D323A1")],
    ids=["header only", "one NUL", "full body"],
)
def test_submit_sm_resp_error_any_body_shape(body):
    decoded = decode_pdu(pdu(0x80000004, 0x0B, 42, body))
    assert isinstance(decoded, SubmitSmResp)
    assert decoded.command_status == 0x0B
    assert decoded.sequence_number == 42
    assert decoded.message_id in ("", "0A000000A3D323A1")


@pytest.mark.parametrize("body", ["", "00", c("SMSC")])
def test_bind_resp_error_any_body_shape(body):
    decoded = decode_pdu(pdu(0x80000009, 0x0E, 1, body))
    assert decoded == BindTransceiverResp(sequence_number=1, command_status=0x0E, system_id=decoded.system_id)


def test_query_sm_resp_error_with_only_message_id():
    decoded = decode_pdu(pdu(0x80000003, 0x67, 3, c("abc")))
    assert decoded == QuerySmResp(sequence_number=3, command_status=0x67, message_id="abc")


def test_error_response_with_garbage_body_keeps_the_status():
    decoded = decode_pdu(pdu(0x80000021, 0x45, 3, c("x"), "05 01"))
    assert decoded == SubmitMultiResp(sequence_number=3, command_status=0x45, message_id="x")


def test_submit_multi_resp_without_no_unsuccess():
    decoded = decode_pdu(pdu(0x80000021, 0, 3, c("m1")))
    assert decoded == SubmitMultiResp(sequence_number=3, message_id="m1")


def test_missing_nul_at_end_of_last_field():
    decoded = decode_pdu(pdu(0x80000004, 0, 5, "616263"))
    assert decoded == SubmitSmResp(sequence_number=5, message_id="abc")
    decoded = decode_pdu(pdu(0x0B, 0, 5, c("smsc"), "7077"))
    assert decoded == Outbind(sequence_number=5, system_id="smsc", password="pw")


def test_success_resp_with_empty_body():
    assert decode_pdu(pdu(0x80000004, 0, 5)) == SubmitSmResp(sequence_number=5)


def test_tlvs_decoded_by_their_length_not_the_expected_size():
    # source_telematics_id: 1 octet in some stacks, 2 in others.
    body = [c(""), i1(0), i1(0), c("1"), i1(0), i1(0), c("2"), i1(0), i1(0), i1(0)]
    for value in ("07", "0007"):
        decoded = decode_pdu(pdu(0x103, 0, 1, *body, "0010", f"{len(value) // 2:04x}", value))
        assert isinstance(decoded, DataSm)
        assert decoded.source_telematics_id == 7


def test_alert_on_message_delivery_zero_length():
    body = [c(""), i1(0), i1(0), c("1"), i1(0), i1(0), c("2")] + [i1(0)] * 3 + [c(""), c("")] + [i1(0)] * 5
    decoded = decode_pdu(pdu(4, 0, 1, *body, "130C0000"))
    assert decoded.alert_on_message_delivery == b""
    assert encode_pdu(decoded) == pdu(4, 0, 1, *body, "130C0000")


def test_sequence_number_zero_accepted():
    assert decode_pdu(pdu(0x15, 0, 0)) == EnquireLink(sequence_number=0)


# -- decode errors carry the answer -------------------------------------------


def _submit_body(source="3100", dest="3200", sm="6869", sm_len=None):
    n = len(sm) // 2 if sm_len is None else sm_len
    return [c(""), i1(0), i1(0), source, i1(0), i1(0), dest] + [i1(0)] * 3 + [c(""), c("")] + [i1(0)] * 4 + [i1(n), sm]


def test_over_long_source_addr_answers_rinvsrcadr():
    long = c("1" * 25)
    with pytest.raises(PduDecodeError) as e:
        decode_pdu(pdu(4, 0, 9, *_submit_body(source=long)))
    assert e.value.command_status == S.ESME_RINVSRCADR
    assert e.value.sequence_number == 9
    assert error_response(e.value) == SubmitSmResp(sequence_number=9, command_status=S.ESME_RINVSRCADR)


def test_over_long_destination_answers_rinvdstadr():
    with pytest.raises(PduDecodeError) as e:
        decode_pdu(pdu(4, 0, 9, *_submit_body(dest=c("9" * 21))))
    assert e.value.command_status == S.ESME_RINVDSTADR


def test_sm_length_beyond_pdu_answers_rinvmsglen():
    with pytest.raises(PduDecodeError) as e:
        decode_pdu(pdu(4, 0, 9, *_submit_body(sm="6869", sm_len=200)))
    assert e.value.command_status == S.ESME_RINVMSGLEN
    assert error_response(e.value).command_status == S.ESME_RINVMSGLEN


def test_truncated_body_answers_rinvcmdlen():
    with pytest.raises(PduDecodeError) as e:
        decode_pdu(pdu(8, 0, 4, c(""), c("id")))
    assert e.value.command_status == S.ESME_RINVCMDLEN
    assert e.value.command_id == 8


def test_broken_tlv_stream():
    with pytest.raises(PduDecodeError) as e:
        decode_pdu(pdu(4, 0, 9, *_submit_body(), "0424"))
    assert e.value.command_status == S.ESME_RINVOPTPARSTREAM
    with pytest.raises(PduDecodeError) as e:
        decode_pdu(pdu(4, 0, 9, *_submit_body(), "04240010 41"))
    assert e.value.command_status == S.ESME_RINVPARLEN


def test_unknown_command_id_answers_generic_nack():
    with pytest.raises(PduDecodeError) as e:
        decode_pdu(pdu(0x01000001, 0, 77))
    assert error_response(e.value) == GenericNack(sequence_number=77, command_status=S.ESME_RINVCMDID)


def test_bad_command_length():
    with pytest.raises(PduDecodeError) as e:
        decode_pdu(bytes.fromhex("00000011 00000015 00000000 00000001"))
    assert e.value.command_status == S.ESME_RINVCMDLEN
    assert e.value.fatal
    with pytest.raises(PduDecodeError):
        decode_pdu(b"\x00\x00\x00")


def test_a_response_is_never_answered():
    with pytest.raises(PduDecodeError) as e:
        decode_pdu(pdu(0x80000005, 0, 4, "41" * 70))
    assert error_response(e.value) is None


# -- strict writing -----------------------------------------------------------


@pytest.mark.parametrize(
    ("pdu_obj", "field", "status"),
    [
        (SubmitSm(source_addr="1" * 21), "source_addr", S.ESME_RINVSRCADR),
        (SubmitSm(destination_addr="1" * 21), "destination_addr", S.ESME_RINVDSTADR),
        (SubmitSm(service_type="ABCDEF"), "service_type", S.ESME_RINVSERTYP),
        (SubmitSm(source_addr="a\x00b"), "source_addr", S.ESME_RINVSRCADR),
        (SubmitSm(validity_period="1d"), "validity_period", S.ESME_RINVEXPIRY),
        (SubmitSm(schedule_delivery_time="0" * 17), "schedule_delivery_time", S.ESME_RINVSCHED),
        (SubmitSm(short_message=b"x" * 255), "sm_length", S.ESME_RINVMSGLEN),
        (SubmitSm(esm_class=256), "esm_class", S.ESME_RINVESMCLASS),
        (SubmitSm(data_coding=-1), "data_coding", S.ESME_RSYSERR),
        (SubmitSm(source_addr="€"), "source_addr", S.ESME_RINVSRCADR),
        (SubmitSm(source_addr=123), "source_addr", S.ESME_RINVSRCADR),
        (SubmitSm(short_message="text"), "short_message", S.ESME_RINVMSGLEN),
        (
            SubmitSm(short_message=b"x", tlvs={"message_payload": b"y"}),
            "short_message",
            S.ESME_RINVMSGLEN,
        ),
        (EnquireLink(sequence_number=1 << 32), "sequence_number", S.ESME_RSYSERR),
        (CancelSm(message_id="x" * 65), "message_id", S.ESME_RINVMSGID),
        (SubmitMulti(dest_addresses=["x"]), "dest_addresses", S.ESME_RINVDESTFLAG),
    ],
)
def test_encode_refuses_invalid_fields(pdu_obj, field, status):
    with pytest.raises(PduEncodeError) as e:
        encode_pdu(pdu_obj)
    assert e.value.field == field
    assert e.value.command_status == status


@pytest.mark.parametrize(
    ("named", "field"),
    [
        ({"sar_total_segments": 256}, "sar_total_segments"),
        ({"receipted_message_id": "x" * 65}, "receipted_message_id"),
        ({"network_error_code": b"\x03\x00"}, "network_error_code"),
        ({"message_payload": b"x" * 65536}, "message_payload"),
        ({"no_such_tlv": 1}, "no_such_tlv"),
        ({"user_message_reference": "7"}, "user_message_reference"),
    ],
)
def test_tlv_values_validated_when_built(named, field):
    with pytest.raises(PduEncodeError) as e:
        Tlvs.of(**named)
    assert e.value.field == field


def test_tlvs_built_from_mapping_pairs_and_tlvs():
    a = DeliverSm(tlvs={"receipted_message_id": "x1", "message_state": 2})
    b = DeliverSm(tlvs=[(0x001E, b"x1\x00"), (0x0427, b"\x02")])
    assert a == b
    assert a.tlvs.replace(message_state=None) == Tlvs.of(receipted_message_id="x1")
    assert "message_state" in a.tlvs and 0x0427 in a.tlvs


def test_response_helper_echoes_sequence_number():
    req = SubmitSm(sequence_number=99)
    assert req.response(message_id="m") == SubmitSmResp(sequence_number=99, message_id="m")
    with pytest.raises(TypeError):
        GenericNack().response()


def test_decoded_pdus_are_frozen_and_hashable():
    decoded = decode_pdu(encode_pdu(SubmitSm(source_addr="1", sequence_number=3)))
    with pytest.raises(AttributeError):
        decoded.source_addr = "2"
    assert hash(decoded) == hash(SubmitSm(source_addr="1", sequence_number=3))


def test_derived_lengths():
    sm = SubmitSm(short_message=b"abc")
    assert sm.sm_length == 3
    multi = SubmitMulti(dest_addresses=[])
    assert multi.number_of_dests == 0
    assert SubmitMultiResp().no_unsuccess == 0


def test_passwords_longer_than_8_read_but_never_written():
    from smppd.pdu import BindTransceiver

    wire = pdu(9, 0, 1, c("client1"), c("password1"), c(""), i1(0x34), i1(0), i1(0), c(""))
    assert decode_pdu(wire).password == "password1"
    with pytest.raises(PduEncodeError) as e:
        encode_pdu(BindTransceiver(system_id="client1", password="password1"))
    assert e.value.field == "password"
    too_long = pdu(9, 0, 1, c("client1"), c("p" * 65), c(""), i1(0x34), i1(0), i1(0), c(""))
    with pytest.raises(PduDecodeError) as e:
        decode_pdu(too_long)
    assert e.value.command_status == S.ESME_RINVPASWD
