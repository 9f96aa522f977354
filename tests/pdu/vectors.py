"""Golden wire vectors: one per PDU type, requests and responses.

Each expected value is written field by field in the order of the SMPP v3.4
layout (shared/smpp34-reference.md §1.4), independently of the encoder:
``c("abc")`` is a C-Octet string (ASCII + NUL), ``i1``/``i2``/``i4`` big-endian
integers, anything else literal hex.
"""

from __future__ import annotations

from smppd.pdu import (
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    DestAddress,
    DistributionList,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Tlvs,
    Unbind,
    UnbindResp,
    UnsuccessSme,
)


def c(text: str) -> str:
    return text.encode("ascii").hex() + "00"


def i1(v: int) -> str:
    return f"{v:02x}"


def i2(v: int) -> str:
    return f"{v:04x}"


def i4(v: int) -> str:
    return f"{v:08x}"


def octets(raw: bytes) -> str:
    return raw.hex()


def tlv(tag: int, value_hex: str) -> str:
    return i2(tag) + i2(len(value_hex) // 2) + value_hex


def pdu(command_id: int, status: int, seq: int, *body: str) -> bytes:
    b = bytes.fromhex("".join(body).replace(" ", ""))
    return bytes.fromhex(i4(16 + len(b)) + i4(command_id) + i4(status) + i4(seq)) + b


def literal(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


SM_TEXT = b"Hello from smppd"

VECTORS: list[tuple[str, Pdu, bytes]] = [
    # From the reference sheet §10 (spec header example), literally.
    (
        "bind_transmitter",
        BindTransmitter(
            sequence_number=1,
            system_id="SMPP3TEST",
            password="secret08",
            system_type="SUBMIT1",
            interface_version=0x00,
            addr_ton=1,
            addr_npi=1,
        ),
        literal(
            "0000002F 00000002 00000000 00000001 534D5050335445535400 7365637265743038 00"
            " 5355424D49543100 00 01 01 00"
        ),
    ),
    (
        "bind_transmitter_resp",
        BindTransmitterResp(sequence_number=1, system_id="SMSC", tlvs=Tlvs.of(sc_interface_version=0x34)),
        pdu(0x80000002, 0, 1, c("SMSC"), tlv(0x0210, "34")),
    ),
    (
        "bind_receiver",
        BindReceiver(sequence_number=2, system_id="esme", password="pw", address_range="^447"),
        pdu(0x00000001, 0, 2, c("esme"), c("pw"), c(""), i1(0x34), i1(0), i1(0), c("^447")),
    ),
    (
        "bind_receiver_resp",
        BindReceiverResp(sequence_number=2, system_id="smppd"),
        pdu(0x80000001, 0, 2, c("smppd")),
    ),
    (
        "bind_transceiver",
        BindTransceiver(sequence_number=3, system_id="test", password="test", system_type="VMA", addr_ton=1, addr_npi=1),
        pdu(0x00000009, 0, 3, c("test"), c("test"), c("VMA"), i1(0x34), i1(1), i1(1), c("")),
    ),
    (
        "bind_transceiver_resp",
        BindTransceiverResp(sequence_number=3, system_id="smppd"),
        pdu(0x80000009, 0, 3, c("smppd")),
    ),
    (
        "bind_transceiver_resp error, strict empty body",
        BindTransceiverResp(sequence_number=3, command_status=0x0E),
        pdu(0x80000009, 0x0E, 3, c("")),
    ),
    ("outbind", Outbind(sequence_number=9, system_id="smsc", password="pw"), pdu(0x0B, 0, 9, c("smsc"), c("pw"))),
    ("unbind", Unbind(sequence_number=5), literal("00000010 00000006 00000000 00000005")),
    ("unbind_resp", UnbindResp(sequence_number=5), literal("00000010 80000006 00000000 00000005")),
    ("enquire_link", EnquireLink(sequence_number=1), literal("00000010 00000015 00000000 00000001")),
    ("enquire_link_resp", EnquireLinkResp(sequence_number=1), literal("00000010 80000015 00000000 00000001")),
    (
        "generic_nack",
        GenericNack(sequence_number=7, command_status=0x03),
        literal("00000010 80000000 00000003 00000007"),
    ),
    (
        "submit_sm",
        SubmitSm(
            sequence_number=0x10,
            service_type="CMT",
            source_addr_ton=5,
            source_addr_npi=0,
            source_addr="Shop",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900123",
            esm_class=0,
            protocol_id=0,
            priority_flag=1,
            schedule_delivery_time="",
            validity_period="000001000000000R",
            registered_delivery=1,
            replace_if_present_flag=0,
            data_coding=0,
            sm_default_msg_id=0,
            short_message=SM_TEXT,
        ),
        pdu(
            0x00000004, 0, 0x10,
            c("CMT"), i1(5), i1(0), c("Shop"), i1(1), i1(1), c("447700900123"),
            i1(0), i1(0), i1(1), c(""), c("000001000000000R"), i1(1), i1(0), i1(0), i1(0),
            i1(len(SM_TEXT)), octets(SM_TEXT),
        ),
    ),
    (
        "submit_sm with SAR TLVs and a vendor TLV",
        SubmitSm(
            sequence_number=0x11,
            destination_addr="1",
            short_message=b"@\x00x",
            tlvs=Tlvs.of(sar_msg_ref_num=0x1234, sar_total_segments=2, sar_segment_seqnum=1)
            + Tlvs.from_pairs([(0x1400, b"\x01\x02")]),
        ),
        pdu(
            0x00000004, 0, 0x11,
            c(""), i1(0), i1(0), c(""), i1(0), i1(0), c("1"),
            i1(0), i1(0), i1(0), c(""), c(""), i1(0), i1(0), i1(0), i1(0),
            i1(3), "400078",
            tlv(0x020C, "1234"), tlv(0x020E, "02"), tlv(0x020F, "01"), tlv(0x1400, "0102"),
        ),
    ),
    (
        "submit_sm_resp",
        SubmitSmResp(sequence_number=0x10, message_id="5f3a9c01"),
        pdu(0x80000004, 0, 0x10, c("5f3a9c01")),
    ),
    (
        "submit_sm_resp error, header only",  # the strict 3.4 form, reference §10
        SubmitSmResp(sequence_number=0x10, command_status=0x45),
        pdu(0x80000004, 0x45, 0x10, c("")),
    ),
    (
        "deliver_sm receipt",
        DeliverSm(
            sequence_number=0x20,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
            destination_addr="Shop",
            esm_class=0x04,
            short_message=b"id:5f3a9c01 stat:DELIVRD",
            tlvs=Tlvs.of(receipted_message_id="5f3a9c01", message_state=2, network_error_code=b"\x03\x00\x00"),
        ),
        pdu(
            0x00000005, 0, 0x20,
            c(""), i1(1), i1(1), c("447700900123"), i1(0), i1(0), c("Shop"),
            i1(4), i1(0), i1(0), c(""), c(""), i1(0), i1(0), i1(0), i1(0),
            i1(24), octets(b"id:5f3a9c01 stat:DELIVRD"),
            tlv(0x001E, c("5f3a9c01")), tlv(0x0427, "02"), tlv(0x0423, "030000"),
        ),
    ),
    ("deliver_sm_resp", DeliverSmResp(sequence_number=0x20), pdu(0x80000005, 0, 0x20, c(""))),
    (
        "submit_multi",
        SubmitMulti(
            sequence_number=0x30,
            source_addr="Shop",
            dest_addresses=(DestAddress("447700900123", 1, 1), DistributionList("staff")),
            registered_delivery=1,
            short_message=b"hi",
        ),
        pdu(
            0x00000021, 0, 0x30,
            c(""), i1(0), i1(0), c("Shop"), i1(2),
            i1(1), i1(1), i1(1), c("447700900123"),
            i1(2), c("staff"),
            i1(0), i1(0), i1(0), c(""), c(""), i1(1), i1(0), i1(0), i1(0),
            i1(2), octets(b"hi"),
        ),
    ),
    (
        "submit_multi_resp",
        SubmitMultiResp(
            sequence_number=0x30,
            message_id="a1",
            unsuccess_smes=(UnsuccessSme("447700900999", 0x0B, 1, 1),),
        ),
        pdu(0x80000021, 0, 0x30, c("a1"), i1(1), i1(1), i1(1), c("447700900999"), i4(0x0B)),
    ),
    (
        "submit_multi_resp, all succeeded",
        SubmitMultiResp(sequence_number=0x31, message_id="a2"),
        pdu(0x80000021, 0, 0x31, c("a2"), i1(0)),
    ),
    (
        "data_sm",
        DataSm(
            sequence_number=0x40,
            source_addr="1234",
            destination_addr="5678",
            esm_class=0,
            registered_delivery=1,
            data_coding=8,
            tlvs=Tlvs.of(message_payload="héllo".encode("utf-16-be")),
        ),
        pdu(
            0x00000103, 0, 0x40,
            c(""), i1(0), i1(0), c("1234"), i1(0), i1(0), c("5678"), i1(0), i1(1), i1(8),
            tlv(0x0424, octets("héllo".encode("utf-16-be"))),
        ),
    ),
    (
        "data_sm_resp",
        DataSmResp(sequence_number=0x40, message_id="77", tlvs=Tlvs.of(delivery_failure_reason=0)),
        pdu(0x80000103, 0, 0x40, c("77"), tlv(0x0425, "00")),
    ),
    (
        "query_sm",
        QuerySm(sequence_number=0x50, message_id="5f3a9c01", source_addr_ton=5, source_addr="Shop"),
        pdu(0x00000003, 0, 0x50, c("5f3a9c01"), i1(5), i1(0), c("Shop")),
    ),
    (
        "query_sm_resp",
        QuerySmResp(sequence_number=0x50, message_id="5f3a9c01", final_date="251125120000000+", message_state=2, error_code=0),
        pdu(0x80000003, 0, 0x50, c("5f3a9c01"), c("251125120000000+"), i1(2), i1(0)),
    ),
    (
        "cancel_sm",
        CancelSm(sequence_number=0x60, message_id="5f3a9c01", source_addr="Shop", dest_addr_ton=1, destination_addr="447700900123"),
        pdu(0x00000008, 0, 0x60, c(""), c("5f3a9c01"), i1(0), i1(0), c("Shop"), i1(1), i1(0), c("447700900123")),
    ),
    ("cancel_sm_resp", CancelSmResp(sequence_number=0x60), pdu(0x80000008, 0, 0x60)),
    (
        "replace_sm",
        ReplaceSm(
            sequence_number=0x70,
            message_id="5f3a9c01",
            source_addr="Shop",
            schedule_delivery_time="251125120000004+",
            registered_delivery=1,
            short_message=b"new text",
        ),
        pdu(
            0x00000007, 0, 0x70,
            c("5f3a9c01"), i1(0), i1(0), c("Shop"), c("251125120000004+"), c(""), i1(1), i1(0),
            i1(8), octets(b"new text"),
        ),
    ),
    ("replace_sm_resp", ReplaceSmResp(sequence_number=0x70), pdu(0x80000007, 0, 0x70)),
    (
        "alert_notification",
        AlertNotification(
            sequence_number=0x80,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
            esme_addr="Shop",
            tlvs=Tlvs.of(ms_availability_status=0),
        ),
        pdu(0x00000102, 0, 0x80, i1(1), i1(1), c("447700900123"), i1(0), i1(0), c("Shop"), tlv(0x0422, "00")),
    ),
]
