"""Incremental framing: feed bytes in any chunks, get whole PDUs in order.

The header is checked before any body is buffered (``16 <= command_length <=
max_command_length`` and a known command_id), buffering is linear in the bytes
fed (a ``bytearray`` trimmed once per feed, never ``bytes +=``, and copied out
only once a whole PDU is in), and a framing error comes out in order, as a
:class:`~smppd.pdu.errors.PduDecodeError` the caller answers with generic_nack. A bad command_length loses the PDU
boundaries: the framer then reports ``broken`` and ignores further input (the
caller should answer and close). An unknown command_id does not: that PDU is
skipped and framing goes on.
"""

from __future__ import annotations

import struct

from smppd.pdu.codec import decode_pdu
from smppd.pdu.constants import HEADER_LENGTH, CommandStatus
from smppd.pdu.errors import PduDecodeError
from smppd.pdu.operations import PDU_BY_COMMAND_ID, Pdu

#: Room for a data_sm carrying a full 65,535-octet message_payload plus its
#: mandatory fields and a few other TLVs.
DEFAULT_MAX_COMMAND_LENGTH = 70_000

_unpack_header = struct.Struct(">IIII").unpack_from
_unpack_length = struct.Struct(">I").unpack_from
_KNOWN = frozenset(PDU_BY_COMMAND_ID)


class Framer:
    """Split a byte stream into whole PDU frames (``bytes``)."""

    __slots__ = ("_buf", "broken", "max_command_length")

    def __init__(self, max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH) -> None:
        if max_command_length < HEADER_LENGTH:
            raise ValueError("max_command_length must be at least 16")
        self.max_command_length = max_command_length
        self.broken = False
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        """Octets of an incomplete PDU held back (for a partial-PDU read timer)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes | PduDecodeError]:
        """Frames completed by ``data``, in order, with framing errors in place."""
        out: list[bytes | PduDecodeError] = []
        if self.broken:
            return out
        if data.__class__ is not bytes:
            data = bytes(data)  # (frames are bytes: sliced from bytes)
        buf = self._buf
        limit = self.max_command_length
        if buf:
            buf += data
            held = len(buf)
            if held < HEADER_LENGTH:
                return out
            length = _unpack_length(buf)[0]
            if HEADER_LENGTH <= length <= limit and held < length:
                return out  # the held-back PDU is still incomplete: nothing to copy yet
            # At least one whole PDU (or a bad length, reported below): frames are
            # then sliced from bytes, one copy each instead of two from a bytearray.
            src = bytes(buf)
        else:
            src = data
        off = 0
        end = len(src)
        while end - off >= HEADER_LENGTH:
            length, cid, _status, seq = _unpack_header(src, off)
            if length < HEADER_LENGTH or length > limit:
                out.append(
                    PduDecodeError(
                        CommandStatus.ESME_RINVCMDLEN,
                        f"command_length {length} outside 16..{limit}",
                        sequence_number=seq,
                        command_id=cid if cid in _KNOWN else None,
                        fatal=True,
                    )
                )
                self.broken = True
                self._buf = bytearray()
                return out
            if end - off < length:
                break
            if cid in _KNOWN:
                out.append(src[off : off + length])
            else:
                out.append(
                    PduDecodeError(
                        CommandStatus.ESME_RINVCMDID,
                        f"unknown command_id 0x{cid:08X}",
                        sequence_number=seq,
                    )
                )
            off += length
        if src is not data:
            del buf[:off]
        elif off < end:
            buf += memoryview(data)[off:]
        return out


class PduReader:
    """A :class:`Framer` that hands out decoded PDUs.

    ``feed`` returns PDUs and :class:`PduDecodeError` instances in stream
    order; answer each error with :func:`smppd.pdu.codec.error_response`.
    """

    __slots__ = ("framer",)

    def __init__(self, max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH) -> None:
        self.framer = Framer(max_command_length)

    @property
    def broken(self) -> bool:
        return self.framer.broken

    @property
    def buffered(self) -> int:
        return self.framer.buffered

    def feed(self, data: bytes) -> list[Pdu | PduDecodeError]:
        out: list[Pdu | PduDecodeError] = []
        append = out.append
        for frame in self.framer.feed(data):
            if frame.__class__ is bytes:
                try:
                    append(decode_pdu(frame))
                except PduDecodeError as e:
                    append(e)
            else:
                append(frame)  # type: ignore[arg-type]
        return out
