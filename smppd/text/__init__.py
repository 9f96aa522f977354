"""The text engine: character sets, long messages and delivery receipts.

Pure (sans-IO): nothing here imports Twisted.

- :mod:`smppd.text.gsm`, :mod:`smppd.text.national`: GSM 03.38 with the
  extension table and the 3GPP TS 23.038 national language shift tables,
  unpacked (the SMPP norm) and packed.
- :mod:`smppd.text.encoding`: encode/decode by data_coding, and the choice
  of the cheapest encoding that represents a text exactly.
- :mod:`smppd.text.udh`, :mod:`smppd.text.split`, :mod:`smppd.text.reassembly`:
  user data headers, splitting (UDH 8/16-bit, SAR, message_payload) and
  reassembly of long messages.
- :mod:`smppd.text.receipt`: delivery receipt text and message-id matching.
"""

from smppd.text.encoding import (
    ASCII,
    BINARY,
    GSM7,
    GSM7_PACKED,
    LATIN1,
    UCS2,
    TextEncoding,
    UnencodableText,
    choose_encoding,
    decode,
    encode,
    segment_capacity,
    units,
)
from smppd.text.reassembly import Completed, Expired, Reassembler, fragment_from_pdu_fields
from smppd.text.receipt import (
    DeliveryReceipt,
    MessageIdIndex,
    format_receipt,
    message_ids_match,
    normalize_message_id,
    parse_receipt,
)
from smppd.text.split import Segment, count_segments, split_binary, split_text

__all__ = [
    "ASCII",
    "BINARY",
    "GSM7",
    "GSM7_PACKED",
    "LATIN1",
    "UCS2",
    "Completed",
    "DeliveryReceipt",
    "Expired",
    "MessageIdIndex",
    "Reassembler",
    "Segment",
    "TextEncoding",
    "UnencodableText",
    "choose_encoding",
    "count_segments",
    "decode",
    "encode",
    "format_receipt",
    "fragment_from_pdu_fields",
    "message_ids_match",
    "normalize_message_id",
    "parse_receipt",
    "segment_capacity",
    "split_binary",
    "split_text",
    "units",
]
