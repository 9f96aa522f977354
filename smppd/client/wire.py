"""The ESME's hot PDUs written and read straight as bytes.

Three PDUs carry nearly all of an ESME's traffic: the submit_sm it sends,
the submit_sm_resp that answers it and the deliver_sm receipt that reports on
it. The general codec builds a frozen PDU object for each; here they are
written with one ``bytes`` join and read with a slice or one regular
expression. Each function handles the common shape only and says so (it
returns ``None``) for anything else, so that the caller takes the general
path, which gives the precise error statuses. For the shapes it does handle,
the result is exactly the codec's: :func:`encode_submit_sm` is byte-equal to
``encode_pdu(SubmitSm(...))``, the readers find what ``decode_pdu`` finds
(tests/client/test_wire.py holds them to that).

Pure: no Twisted, no I/O.
"""

from __future__ import annotations

import re
import struct

from smppd.pdu import CommandId, DeliverSm, TlvTag
from smppd.pdu.operations import codec_fields
from smppd.text import gsm

__all__ = [
    "ONE_SEPTET",
    "RECEIPT_ESM_TYPES",
    "ReceiptFields",
    "encode_submit_sm",
    "plain_gsm_septets",
    "plain_submit_sm",
    "read_deliver_sm_receipt",
    "read_submit_sm_resp",
]

_TL = struct.Struct(">HH")
_I4 = struct.Struct(">I")
_SUBMIT_SM = int(CommandId.submit_sm)

#: esm_class message types (bits 2-5) that mark a deliver_sm as a delivery
#: receipt, an SME or intermediate delivery acknowledgement, or a manual/user
#: acknowledgement.
RECEIPT_ESM_TYPES = frozenset({0x04, 0x08, 0x10, 0x20})

# (the tags read_deliver_sm_receipt compares with literals)
assert (TlvTag.receipted_message_id, TlvTag.message_state) == (0x001E, 0x0427)
assert (TlvTag.network_error_code, TlvTag.message_payload) == (0x0423, 0x0424)


# -- submit_sm ---------------------------------------------------------------------------------

#: Characters the default GSM 7-bit tables carry in one septet each (a text
#: made only of them is always sent in GSM 7-bit with the default tables).
ONE_SEPTET = frozenset(ch for ch, cost in gsm.septet_costs(0, 0).items() if cost == 1 and ch in gsm.charset(0, 0))

# Latin-1 octet -> its septet, for the one-septet characters Latin-1 has
# (the rest are never looked up: plain_gsm_septets checks ONE_SEPTET first).
_LATIN1_SEPTETS = bytes(gsm.encode(chr(i))[0] if chr(i) in ONE_SEPTET else i for i in range(256))


def plain_gsm_septets(text: str) -> bytes | None:
    """``gsm.encode(text)`` when every character is in :data:`ONE_SEPTET`, else ``None``."""
    if not ONE_SEPTET.issuperset(text):
        return None
    try:
        return text.encode("latin-1").translate(_LATIN1_SEPTETS)
    except UnicodeEncodeError:  # Greek capitals and the like: one septet, not Latin-1
        return gsm.encode(text)


# command_length, then the rest of the header (command_id submit_sm, status and
# sequence_number 0) and every field of submit_sm in order, the defaults inline.
_SUBMIT_SM_FORMAT = (
    b"%s\x00\x00\x00\x04" + bytes(8)  # command_length, command_id, command_status, sequence_number
    + b"\x00"  # service_type
    + b"%c%c%s\x00"  # source_addr_ton, source_addr_npi, source_addr
    + b"%c%c%s\x00"  # dest_addr_ton, dest_addr_npi, destination_addr
    + b"%c\x00\x00"  # esm_class, protocol_id, priority_flag
    + b"\x00\x00"  # schedule_delivery_time, validity_period
    + b"%c\x00%c\x00"  # registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
    + b"%c%s"  # sm_length, short_message
)  # fmt: skip
assert _SUBMIT_SM == 4


def encode_submit_sm(
    source_addr: str,
    destination_addr: str,
    short_message: bytes,
    *,
    source_addr_ton: int = 0,
    source_addr_npi: int = 0,
    dest_addr_ton: int = 0,
    dest_addr_npi: int = 0,
    esm_class: int = 0,
    registered_delivery: int = 0,
    data_coding: int = 0,
) -> bytes | None:
    """A submit_sm (sequence_number 0, no TLVs, the other fields at their
    defaults) as bytes, or ``None`` when a field is out of the codec's range
    (the codec then names the field and its status)."""
    try:
        source = source_addr.encode("latin-1")
        destination = destination_addr.encode("latin-1")
        # bytes() refuses what the codec's bytes() refuses (not an int, not 0..255)
        bytes((source_addr_ton, source_addr_npi, dest_addr_ton, dest_addr_npi, esm_class, registered_delivery, data_coding))
    except (AttributeError, TypeError, ValueError, UnicodeError):
        return None
    ls = len(source)
    ld = len(destination)
    if ls > 20 or ld > 20 or 0 in source or 0 in destination:
        return None
    n = len(short_message)
    if short_message.__class__ is not bytes or n > 254:
        return None
    return _SUBMIT_SM_FORMAT % (
        _I4.pack(33 + ls + ld + n),
        source_addr_ton,
        source_addr_npi,
        source,
        dest_addr_ton,
        dest_addr_npi,
        destination,
        esm_class,
        registered_delivery,
        data_coding,
        n,
        short_message,
    )


def plain_submit_sm(source_addr: str, destination_addr: str, text: str, registered_delivery: int = 0) -> bytes | None:
    """The submit_sm of ``send_message(source, destination, text)`` without
    options but ``registered_delivery``, when ``text`` is at most 160 Latin-1
    characters of :data:`ONE_SEPTET` (GSM 7-bit, default tables, one segment,
    data_coding 0) and the addresses and ``registered_delivery`` (an int)
    fit; ``None`` for anything else. The TONs are those ``build_submits``
    picks (source 5 when alphanumeric, else 1; destination 1/1).

    :func:`encode_submit_sm` with :func:`plain_gsm_septets` in one step (the
    commonest message, checked once): byte-equal to them."""
    if len(text) > 160 or not ONE_SEPTET.issuperset(text):
        return None
    try:
        septets = text.encode("latin-1").translate(_LATIN1_SEPTETS)
        source = source_addr.encode("latin-1")
        destination = destination_addr.encode("latin-1")
    except (AttributeError, UnicodeError):  # (Greek capitals: one septet, not Latin-1)
        return None
    ls = len(source)
    ld = len(destination)
    if ls > 20 or ld > 20 or 0 in source or 0 in destination:
        return None
    if registered_delivery.__class__ is not int or not 0 <= registered_delivery <= 255:
        return None
    n = len(septets)
    return _SUBMIT_SM_FORMAT % (
        _I4.pack(33 + ls + ld + n),
        5 if source and not source_addr.lstrip("+").isdigit() else 1,
        0,
        source,
        1,
        1,
        destination,
        0,
        registered_delivery,
        0,
        n,
        septets,
    )


# -- submit_sm_resp ----------------------------------------------------------------------------


def read_submit_sm_resp(frame: bytes) -> str | None:
    """The message_id of a submit_sm_resp that is exactly a header and the
    NUL-terminated id (at most 64 characters), else ``None``."""
    end = len(frame) - 1
    if end < 16 or end > 80 or frame[end] != 0 or frame.find(0, 16, end) >= 0:
        return None
    return frame[16:end].decode("latin-1")


# -- deliver_sm --------------------------------------------------------------------------------


def _deliver_sm_pattern() -> re.Pattern[bytes]:
    """The mandatory fields of deliver_sm, as the codec's fast decoder reads
    them (the same field limits), capturing source_addr, esm_class and sm_length."""
    capture = {"source_addr", "esm_class", "short_message"}
    parts = []
    for name, fc in codec_fields(DeliverSm):
        if fc.kind in ("c", "t"):
            field = b"[^\\x00]{0,%d}" % (fc.read_limit - 1)
            parts.append((b"(" + field + b")" if name in capture else field) + b"\\x00")
        elif fc.kind == "i1":
            parts.append(b"(.)" if name in capture else b".")
        elif fc.kind == "sm":
            parts.append(b"(.)")
        else:  # pragma: no cover - the layout changed: rewrite this reader
            raise AssertionError(f"deliver_sm field {name} of kind {fc.kind}")
    return re.compile(b"".join(parts), re.S)


_DELIVER_SM_RX = _deliver_sm_pattern()


class ReceiptFields:
    """What receipt matching reads from a deliver_sm."""

    __slots__ = (
        "esm_class",
        "message_payload",
        "message_state",
        "network_error_code",
        "receipted_message_id",
        "short_message",
        "source_addr",
    )

    def __init__(
        self,
        source_addr: str,
        esm_class: int,
        short_message: bytes,
        receipted_message_id: str | None,
        message_state: int | None,
        network_error_code: bytes | None,
        message_payload: bytes | None,
    ) -> None:
        self.source_addr = source_addr
        self.esm_class = esm_class
        self.short_message = short_message
        self.receipted_message_id = receipted_message_id
        self.message_state = message_state
        self.network_error_code = network_error_code
        self.message_payload = message_payload

    @property
    def is_receipt(self) -> bool:
        """Whether the client treats the deliver_sm as a receipt (not an MO message)."""
        return (self.esm_class & 0x3C) in RECEIPT_ESM_TYPES or self.receipted_message_id is not None


def read_deliver_sm_receipt(frame: bytes) -> ReceiptFields | None:
    """The receipt fields of a deliver_sm (a whole frame), or ``None`` when it
    is not one (an MO message) or not in the shape the codec's fast decoder
    reads (the caller then decodes it)."""
    m = _DELIVER_SM_RX.match(frame, 16)
    if m is None:
        return None
    source, esm, n = m.groups()
    off = m.end()
    end = len(frame)
    stop = off + n[0]
    if stop > end:
        return None
    short_message = frame[off:stop]
    receipted = state = code = payload = None
    off = stop
    unpack = _TL.unpack_from
    while off < end:
        if end - off < 4:
            return None
        tag, length = unpack(frame, off)
        off += 4
        stop = off + length
        if stop > end:
            return None
        # the first of a repeated tag counts (Tlvs.raw)
        if tag == 0x001E:  # receipted_message_id
            if receipted is None:
                nul = frame.find(0, off, stop)
                receipted = frame[off : stop if nul < 0 else nul].decode("latin-1")
        elif tag == 0x0427:  # message_state
            if state is None:
                state = frame[off] if length == 1 else int.from_bytes(frame[off:stop], "big")
        elif tag == 0x0423:  # network_error_code
            if code is None:
                code = frame[off:stop]
        elif tag == 0x0424 and payload is None:  # message_payload
            payload = frame[off:stop]
        off = stop
    esm_class = esm[0]
    if receipted is None and (esm_class & 0x3C) not in RECEIPT_ESM_TYPES:
        return None
    return ReceiptFields(source.decode("latin-1"), esm_class, short_message, receipted, state, code, payload)

