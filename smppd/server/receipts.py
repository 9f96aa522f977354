"""Delivery receipts and deliveries as deliver_sm PDUs, ready for the outbox.

A receipt carries the de-facto text (``id:... stat:... text:...``) and the
structured form: receipted_message_id, message_state and, with an error, a
network_error_code. The id in all of them is the id the ESME got in its
submit response.
"""

from __future__ import annotations

import struct
import time

from smppd.model import Message
from smppd.pdu import DataSm, DeliverSm, encode_pdu
from smppd.pdu.tlv import Tlvs, decode_tlvs
from smppd.text.receipt import stat_for_state

GSM_NETWORK = 3  # network_error_code network type: GSM


def submission_id(message: Message) -> str:
    """The id the ESME was given: submit_multi destinations share their submission's."""
    return message.message_id.split("-", 1)[0]


def _user_data(message: Message) -> bytes:
    """The message's text octets: short_message or message_payload, UDH stripped."""
    data = message.short_message
    if not data and message.tlvs:
        data = Tlvs(decode_tlvs(message.tlvs, 0, len(message.tlvs), 0, 0)).raw(0x0424) or b""
    if message.esm_class & 0x40 and data:
        data = data[data[0] + 1 :]
    return data


def preview_text(message: Message, length: int = 20) -> str:
    """The first characters of the message, ASCII only, for the receipt's text field."""
    data = _user_data(message)
    if message.data_coding == 8:
        text = data[: length * 4].decode("utf-16-be", "replace")
    else:
        text = data[: length * 2].decode("latin-1")
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text[:length])


def needs_receipt(message: Message) -> bool:
    """Whether the final state of ``message`` was asked for (registered_delivery)."""
    wanted = message.registered_delivery & 0x03
    if wanted == 1:
        return True
    if wanted == 2:
        return message.state != 2  # DELIVERED
    return False


# The fields a delivered message keeps from its submission, whatever the PDU
# (deliver_sm or data_sm; the Message, or a data_sm turned into deliver_sm).
_CARRIED = (
    "service_type",
    "source_addr_ton",
    "source_addr_npi",
    "source_addr",
    "dest_addr_ton",
    "dest_addr_npi",
    "destination_addr",
    "data_coding",
)


def carried_fields(record: object) -> dict[str, object]:
    """The addressing fields and data_coding of a Message or a PDU, by name."""
    return {name: getattr(record, name) for name in _CARRIED}


def delivery_pdu(message: Message, *, as_data_sm: bool = False) -> bytes:
    """``message`` as the encoded deliver_sm (or data_sm) for the ESME it is routed to."""
    tlvs = Tlvs(decode_tlvs(message.tlvs, 0, len(message.tlvs), 0, 0)) if message.tlvs else Tlvs()
    fields = carried_fields(message)
    if as_data_sm:
        payload = message.short_message
        if payload and tlvs.raw(0x0424) is None:
            tlvs = tlvs.replace(message_payload=payload)
        return encode_pdu(DataSm(esm_class=message.esm_class & 0xC0, tlvs=tlvs, **fields))  # type: ignore[arg-type]
    return encode_pdu(
        DeliverSm(
            esm_class=message.esm_class & 0xC0,
            protocol_id=message.protocol_id,
            priority_flag=message.priority_flag,
            short_message=message.short_message,
            tlvs=tlvs,
            **fields,  # type: ignore[arg-type]
        )
    )

_HEADER = struct.Struct(">IIII")
_PRINTABLE = bytes(c if 32 <= c < 127 else 0x3F for c in range(256))
_TL_LEN = struct.Struct(">H")
_ERROR_TLV = struct.Struct(">HHBH")
_dates: dict[int, bytes] = {}


def _minute(seconds: float) -> bytes:
    """YYMMDDhhmm in UTC, cached per minute (receipts of one minute share it)."""
    minute = int(seconds // 60)
    text = _dates.get(minute)
    if text is None:
        if len(_dates) > 4096:
            _dates.clear()
        text = _dates[minute] = time.strftime("%y%m%d%H%M", time.gmtime(minute * 60)).encode()
    return text


def _preview(message: Message) -> bytes:
    if message.data_coding == 8:
        return preview_text(message).encode("ascii")
    return _user_data(message)[:20].translate(_PRINTABLE)


_D3 = tuple(b"%03d" % i for i in range(1000))
_STATS = {state: stat_for_state(state).encode() for state in range(10)}


def receipt_pdu(message: Message, *, intermediate: bool = False, dlvrd: int | None = None) -> bytes:
    """The encoded deliver_sm receipt for ``message`` in its current state
    (sequence_number 0: the protocol patches it in when sending).

    Written directly rather than through DeliveryReceipt/DeliverSm/encode_pdu
    (one receipt per message is the costliest thing the SMSC makes); the tests
    check it byte for byte against a receipt built through those.
    """
    message_id = message.message_id
    msg_id = (message_id.split("-", 1)[0] if "-" in message_id else message_id).encode("latin-1")
    submitted = message.submitted_at
    done = message.final_at if message.final_at is not None else submitted
    state = message.state
    if dlvrd is None:
        dlvrd = 1 if state == 2 else 0
    sub, err = message.sub_count, message.error_code
    data = message.short_message
    if message.data_coding == 8 or message.esm_class & 0x40 or not data:
        preview = _preview(message)
    else:
        preview = data[:20].translate(_PRINTABLE)
    text = b"id:%s sub:%s dlvrd:%s submit date:%s done date:%s stat:%s err:%s text:%s" % (
        msg_id,
        _D3[sub] if 0 <= sub < 1000 else b"%03d" % sub,
        _D3[dlvrd] if 0 <= dlvrd < 1000 else b"%03d" % dlvrd,
        _dates.get(int(submitted // 60)) or _minute(submitted),
        _dates.get(int(done // 60)) or _minute(done),
        _STATS.get(state) or stat_for_state(state).encode(),
        _D3[err] if 0 <= err < 1000 else b"%03d" % err,
        preview,
    )
    if len(message.source_addr) > 20 or len(message.destination_addr) > 20:
        return _data_sm_receipt(message, msg_id, text, intermediate)
    # deliver_sm body: service_type, source = the message's destination,
    # destination = its source, esm_class, eight zero octets (protocol_id ..
    # sm_default_msg_id, both times empty), sm_length, short_message; then
    # receipted_message_id and message_state (and network_error_code).
    body = b"%s\x00%c%c%s\x00%c%c%s\x00%c\x00\x00\x00\x00\x00\x00\x00\x00%c%s\x00\x1e%s%s\x00\x04\x27\x00\x01%c" % (
        message.service_type.encode("latin-1"),
        message.dest_addr_ton,
        message.dest_addr_npi,
        message.destination_addr.encode("latin-1"),
        message.source_addr_ton,
        message.source_addr_npi,
        message.source_addr.encode("latin-1"),
        0x20 if intermediate else 0x04,
        len(text),
        text,
        _TL_LEN.pack(len(msg_id) + 1),
        msg_id,
        state,
    )
    if err:
        body += _ERROR_TLV.pack(0x0423, 3, GSM_NETWORK, err & 0xFFFF)
    return _HEADER.pack(16 + len(body), 0x00000005, 0, 0) + body


def _data_sm_receipt(message: Message, msg_id: bytes, text: bytes, intermediate: bool) -> bytes:
    """The receipt as data_sm, for a message whose addresses do not fit a
    deliver_sm (at most 20 octets; data_sm, which brought them, allows 64):
    the receipt text as message_payload, the same TLVs as the deliver_sm."""
    pairs = [
        (0x001E, msg_id + b"\x00"),  # receipted_message_id
        (0x0427, bytes((message.state,))),  # message_state
    ]
    if message.error_code:
        pairs.append((0x0423, bytes((GSM_NETWORK,)) + (message.error_code & 0xFFFF).to_bytes(2, "big")))
    pairs.append((0x0424, text))  # message_payload
    return encode_pdu(
        DataSm(
            service_type=message.service_type,
            source_addr_ton=message.dest_addr_ton,
            source_addr_npi=message.dest_addr_npi,
            source_addr=message.destination_addr,
            dest_addr_ton=message.source_addr_ton,
            dest_addr_npi=message.source_addr_npi,
            destination_addr=message.source_addr,
            esm_class=0x20 if intermediate else 0x04,
            tlvs=Tlvs.from_pairs(pairs),
        )
    )
