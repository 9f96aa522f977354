"""The ESME's byte-level readers and writer agree with the general codec."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppd.client.wire import (
    ONE_SEPTET,
    encode_submit_sm,
    plain_gsm_septets,
    plain_submit_sm,
    read_deliver_sm_receipt,
    read_submit_sm_resp,
)
from smppd.pdu import (
    CommandId,
    DeliverSm,
    DeliverSmResp,
    SubmitSm,
    SubmitSmResp,
    Tlvs,
    empty_id_response,
    encode_pdu,
)
from smppd.pdu.codec import decode_pdu
from smppd.text import gsm
from smppd.text.encoding import _GSM_ONE_SEPTET

octet = st.integers(0, 255)
address = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=20)


def codec_submit(source: str, destination: str, short_message: bytes, **fields: int) -> bytes:
    return encode_pdu(SubmitSm(source_addr=source, destination_addr=destination, short_message=short_message, **fields))


# -- submit_sm -------------------------------------------------------------------------------


@given(
    source=address,
    destination=address,
    short_message=st.binary(max_size=254),
    ints=st.tuples(octet, octet, octet, octet, octet, octet, octet),
)
def test_encode_submit_sm_is_byte_equal_to_the_codec(source, destination, short_message, ints):
    names = ("source_addr_ton", "source_addr_npi", "dest_addr_ton", "dest_addr_npi", "esm_class", "registered_delivery", "data_coding")
    fields = dict(zip(names, ints, strict=True))
    assert encode_submit_sm(source, destination, short_message, **fields) == codec_submit(
        source, destination, short_message, **fields
    )


@pytest.mark.parametrize(
    ("source", "destination", "short_message", "fields"),
    [
        ("", "", b"", {}),
        ("Shop", "447700900123", b"hello", {"source_addr_ton": 5, "dest_addr_ton": 1, "dest_addr_npi": 1}),
        ("x" * 20, "9" * 20, b"\x00" * 254, {"registered_delivery": 1, "esm_class": 0x40}),
        ("\xff", "\x01", b"\x1b\x14", {"data_coding": 0xF0}),
    ],
)
def test_encode_submit_sm_table(source, destination, short_message, fields):
    wire = encode_submit_sm(source, destination, short_message, **fields)
    assert wire == codec_submit(source, destination, short_message, **fields)
    assert decode_pdu(wire) == SubmitSm(source_addr=source, destination_addr=destination, short_message=short_message, **fields)


@pytest.mark.parametrize(
    ("source", "destination", "short_message", "fields"),
    [
        ("x" * 21, "1", b"", {}),  # source_addr too long
        ("1", "x" * 21, b"", {}),  # destination_addr too long
        ("a\x00b", "1", b"", {}),  # NUL inside a C-Octet string
        ("\u0100", "1", b"", {}),  # beyond Latin-1
        ("1", "2", b"x" * 255, {}),  # sm_length > 254
        ("1", "2", "text", {}),  # not bytes
        ("1", "2", b"", {"esm_class": 256}),
        ("1", "2", b"", {"registered_delivery": -1}),
        ("1", "2", b"", {"source_addr_ton": None}),
        ("1", "2", b"", {"dest_addr_npi": b"\x01"}),
    ],
)
def test_encode_submit_sm_leaves_what_it_cannot_write_to_the_codec(source, destination, short_message, fields):
    assert encode_submit_sm(source, destination, short_message, **fields) is None


def test_one_septet_set_is_the_encoding_choices_one():
    assert ONE_SEPTET == _GSM_ONE_SEPTET


@given(st.text(st.sampled_from(sorted(ONE_SEPTET)), max_size=200))
def test_plain_gsm_septets_is_gsm_encode(text):
    assert plain_gsm_septets(text) == gsm.encode(text)


@pytest.mark.parametrize("text", ["", "hello @ £ $ _", "ΔΦΓΛΩΠΨΣΘΞ", "Ää Öö Üü ñ é"])
def test_plain_gsm_septets_table(text):
    assert plain_gsm_septets(text) == gsm.encode(text)


@pytest.mark.parametrize("text", ["{brace}", "€", "ç", "hello 😀", "\u0100"])
def test_plain_gsm_septets_refuses_what_is_not_one_septet(text):
    assert plain_gsm_septets(text) is None


# -- submit_sm_resp --------------------------------------------------------------------------


@given(st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=64), st.integers(0, 0x7FFFFFFF))
def test_read_submit_sm_resp_finds_the_codecs_message_id(message_id, seq):
    frame = encode_pdu(SubmitSmResp(sequence_number=seq, message_id=message_id))
    assert read_submit_sm_resp(frame) == decode_pdu(frame).message_id == message_id


@pytest.mark.parametrize(
    "frame",
    [
        encode_pdu(SubmitSmResp(message_id="abc", tlvs=Tlvs.of(additional_status_info_text="x"))),  # TLVs
        bytes.fromhex("00000010 80000004 00000000 00000001"),  # no body at all
        bytes.fromhex("00000013 80000004 00000000 00000001 616263"),  # no NUL
        bytes.fromhex("00000014 80000004 00000000 00000001 61006200"),  # a NUL inside
        encode_pdu(SubmitSmResp(message_id="x" * 64))[:-1] + b"y\x00",  # 65 characters
    ],
)
def test_read_submit_sm_resp_leaves_odd_shapes_to_the_codec(frame):
    assert read_submit_sm_resp(frame) is None


# -- deliver_sm ------------------------------------------------------------------------------


def framed(frame: bytes) -> bytes:
    """``frame`` with its command_length set to its length (after an edit)."""
    return len(frame).to_bytes(4, "big") + frame[4:]


def receipt_pdu(**kw) -> DeliverSm:
    kw.setdefault("source_addr", "447700900123")
    kw.setdefault("destination_addr", "Shop")
    kw.setdefault("esm_class", 0x04)
    return DeliverSm(sequence_number=7, **kw)


def fields_of(pdu: DeliverSm) -> tuple:
    return (
        pdu.source_addr,
        pdu.esm_class,
        pdu.short_message,
        pdu.receipted_message_id,
        pdu.message_state,
        pdu.network_error_code,
        pdu.message_payload,
    )


def read(frame: bytes) -> tuple | None:
    got = read_deliver_sm_receipt(frame)
    if got is None:
        return None
    return (
        got.source_addr,
        got.esm_class,
        got.short_message,
        got.receipted_message_id,
        got.message_state,
        got.network_error_code,
        got.message_payload,
    )


@pytest.mark.parametrize(
    "pdu",
    [
        receipt_pdu(tlvs={"receipted_message_id": "1a2b", "message_state": 2}),
        receipt_pdu(short_message=b"id:1a2b sub:001 dlvrd:001 stat:DELIVRD err:000 text:x"),
        receipt_pdu(esm_class=0x08, short_message=b"id:5 stat:UNDELIV"),  # SME delivery acknowledgement
        receipt_pdu(esm_class=0x00, tlvs={"receipted_message_id": "77"}),  # marked by the TLV only
        receipt_pdu(tlvs={"message_payload": b"id:9 stat:EXPIRED err:001"}),
        receipt_pdu(tlvs={"receipted_message_id": "42", "message_state": 5, "network_error_code": b"\x03\x00\x0b"}),
        receipt_pdu(tlvs=Tlvs.from_pairs([(0x001E, b"abc"), (0x0427, b"")])),  # no NUL; state of no octets
        receipt_pdu(tlvs=Tlvs.from_pairs([(0x001E, b"first\x00"), (0x001E, b"second\x00"), (0x1400, b"vendor")])),
        receipt_pdu(tlvs=Tlvs.from_pairs([(0x0427, b"\x00\x02"), (0x0427, b"\x05")])),  # two octets; first wins
        receipt_pdu(service_type="CMT", schedule_delivery_time="", validity_period="", data_coding=8),
    ],
)
def test_read_deliver_sm_receipt_finds_what_the_codec_finds(pdu):
    frame = encode_pdu(pdu)
    assert read(frame) == fields_of(decode_pdu(frame))


@given(
    esm_class=octet,
    short_message=st.binary(max_size=40),
    receipted=st.none() | st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=64),
    state=st.none() | octet,
    code=st.none() | st.binary(min_size=3, max_size=3),
)
def test_read_deliver_sm_receipt_agrees_with_the_codec(esm_class, short_message, receipted, state, code):
    pdu = receipt_pdu(
        esm_class=esm_class,
        short_message=short_message,
        tlvs={"receipted_message_id": receipted, "message_state": state, "network_error_code": code},
    )
    frame = encode_pdu(pdu)
    decoded = decode_pdu(frame)
    is_receipt = (esm_class & 0x3C) in (0x04, 0x08, 0x10, 0x20) or receipted is not None
    assert read(frame) == (fields_of(decoded) if is_receipt else None)


@pytest.mark.parametrize(
    "frame",
    [
        encode_pdu(receipt_pdu(esm_class=0x00, short_message=b"hello")),  # an MO message
        encode_pdu(receipt_pdu(esm_class=0x40, short_message=b"\x05\x00\x03\x01\x02\x01hi")),  # MO with a UDH
        framed(encode_pdu(receipt_pdu(short_message=b"id:1"))[:-2]),  # sm_length beyond the frame
        framed(encode_pdu(receipt_pdu(tlvs={"receipted_message_id": "1"})) + b"\x00\x1e"),  # a stray half TLV
        framed(encode_pdu(receipt_pdu(tlvs={"receipted_message_id": "1"}))[:-1]),  # a TLV longer than the frame
        framed(encode_pdu(receipt_pdu(source_addr="1" * 20)).replace(b"1" * 20, b"1" * 21)),  # source_addr too long
        framed(encode_pdu(receipt_pdu())[:20]),  # truncated in the mandatory fields
    ],
)
def test_read_deliver_sm_receipt_leaves_the_rest_to_the_codec(frame):
    assert read_deliver_sm_receipt(frame) is None


def test_deliver_sm_resp_ok_is_the_codecs():
    for seq in (1, 0x7FFFFFFF, 12345):
        assert empty_id_response(CommandId.deliver_sm_resp, seq) == encode_pdu(DeliverSmResp(sequence_number=seq))


def test_a_refusing_submit_sm_resp_is_the_codecs():
    for seq, status in ((1, 0x45), (0x7FFFFFFF, 0x58), (12345, 0x08)):
        wire = empty_id_response(CommandId.submit_sm_resp, seq, status)
        assert wire == encode_pdu(SubmitSmResp(sequence_number=seq, command_status=status))


# -- plain_submit_sm (send_message's commonest message in one step) ----------------------------

one_septet_text = st.text(st.sampled_from(sorted(ONE_SEPTET)), max_size=170)


@given(source=address, destination=address, text=one_septet_text, registered_delivery=st.integers(-1, 256))
def test_plain_submit_sm_is_encode_submit_sm_of_the_septets(source, destination, text, registered_delivery):
    from smppd.client.client import _GSM7_DATA_CODING

    wire = plain_submit_sm(source, destination, text, registered_delivery)
    expected = encode_submit_sm(
        source,
        destination,
        gsm.encode(text),
        source_addr_ton=5 if source and not source.lstrip("+").isdigit() else 1,
        dest_addr_ton=1,
        dest_addr_npi=1,
        registered_delivery=registered_delivery,
        data_coding=_GSM7_DATA_CODING,
    )
    if wire is not None:
        assert wire == expected
        assert len(text) <= 160
    elif len(text) <= 160 and text.isascii() and expected is not None:
        raise AssertionError("an ASCII text encode_submit_sm writes must not be left to it")


@pytest.mark.parametrize(
    ("source", "destination", "text", "registered_delivery"),
    [
        ("Shop", "447700900123", "hello", 1),
        ("+4477", "1", "x" * 160, 0),
        ("", "", "", 0),
        ("Ab", "12", "@£$¥èéùìòÇØøÅåÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà", 0),
    ],
)
def test_plain_submit_sm_table(source, destination, text, registered_delivery):
    wire = plain_submit_sm(source, destination, text, registered_delivery)
    ton = 5 if source and not source.lstrip("+").isdigit() else 1
    pdu = SubmitSm(
        source_addr_ton=ton,
        source_addr=source,
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=destination,
        registered_delivery=registered_delivery,
        short_message=gsm.encode(text),
    )
    assert wire == encode_pdu(pdu)


@pytest.mark.parametrize(
    ("source", "destination", "text", "registered_delivery"),
    [
        ("1", "2", "x" * 161, 0),  # two segments
        ("1", "2", "{brace}", 0),  # an extension character: two septets
        ("1", "2", "ΔΦΓ", 0),  # one septet each, not Latin-1: encode_submit_sm's
        ("x" * 21, "2", "hi", 0),
        ("1", "a\x00", "hi", 0),
        ("1", "2", "hi", True),  # not an int: encode_submit_sm's
        ("1", "2", "hi", 256),
        (None, "2", "hi", 0),
    ],
)
def test_plain_submit_sm_leaves_the_rest(source, destination, text, registered_delivery):
    assert plain_submit_sm(source, destination, text, registered_delivery) is None
