"""Optional parameters (TLVs).

A PDU keeps its TLVs as a :class:`Tlvs`: a tuple of ``(tag, raw_value)`` pairs
in wire order. Values stay raw bytes until someone reads them, so unknown and
vendor TLVs are re-encoded byte for byte and the hot path never decodes a TLV it
does not need. Known TLVs are read by name, typed, through :meth:`Tlvs.value`
(and the per-name properties on every PDU class).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from smppd.pdu.constants import CommandStatus, TlvTag
from smppd.pdu.errors import PduDecodeError, PduEncodeError

_TL = struct.Struct(">HH")


@attrs.frozen
class TlvDef:
    """How one known TLV's value is typed.

    ``kind`` is ``"int"`` (unsigned big-endian of ``size`` octets; read by the
    length actually present), ``"cstr"`` (NUL-terminated ASCII, at most ``size``
    octets including the NUL; read with or without the NUL) or ``"octets"``
    (raw bytes of ``min_size``..``size`` octets).
    """

    tag: int
    name: str
    kind: str
    size: int
    min_size: int = 0


def _defs() -> dict[int, TlvDef]:
    i, c, o = "int", "cstr", "octets"
    table: list[tuple[TlvTag, str, int, int]] = [
        (TlvTag.dest_addr_subunit, i, 1, 0),
        (TlvTag.dest_network_type, i, 1, 0),
        (TlvTag.dest_bearer_type, i, 1, 0),
        (TlvTag.dest_telematics_id, i, 2, 0),
        (TlvTag.source_addr_subunit, i, 1, 0),
        (TlvTag.source_network_type, i, 1, 0),
        (TlvTag.source_bearer_type, i, 1, 0),
        # 1 or 2 octets depending on the implementation: read either, write 2.
        (TlvTag.source_telematics_id, i, 2, 0),
        (TlvTag.qos_time_to_live, i, 4, 0),
        (TlvTag.payload_type, i, 1, 0),
        (TlvTag.additional_status_info_text, c, 256, 0),
        (TlvTag.receipted_message_id, c, 65, 0),
        (TlvTag.ms_msg_wait_facilities, i, 1, 0),
        (TlvTag.privacy_indicator, i, 1, 0),
        (TlvTag.source_subaddress, o, 23, 2),
        (TlvTag.dest_subaddress, o, 23, 2),
        (TlvTag.user_message_reference, i, 2, 0),
        (TlvTag.user_response_code, i, 1, 0),
        (TlvTag.source_port, i, 2, 0),
        (TlvTag.destination_port, i, 2, 0),
        (TlvTag.sar_msg_ref_num, i, 2, 0),
        (TlvTag.language_indicator, i, 1, 0),
        (TlvTag.sar_total_segments, i, 1, 0),
        (TlvTag.sar_segment_seqnum, i, 1, 0),
        (TlvTag.sc_interface_version, i, 1, 0),
        (TlvTag.callback_num_pres_ind, i, 1, 0),
        (TlvTag.callback_num_atag, o, 65, 0),
        (TlvTag.number_of_messages, i, 1, 0),
        (TlvTag.callback_num, o, 19, 4),
        (TlvTag.dpf_result, i, 1, 0),
        (TlvTag.set_dpf, i, 1, 0),
        (TlvTag.ms_availability_status, i, 1, 0),
        (TlvTag.network_error_code, o, 3, 3),
        (TlvTag.message_payload, o, 0xFFFF, 0),
        (TlvTag.delivery_failure_reason, i, 1, 0),
        (TlvTag.more_messages_to_send, i, 1, 0),
        (TlvTag.message_state, i, 1, 0),
        (TlvTag.congestion_state, i, 1, 0),
        (TlvTag.ussd_service_op, i, 1, 0),
        (TlvTag.display_time, i, 1, 0),
        (TlvTag.sms_signal, i, 2, 0),
        (TlvTag.ms_validity, i, 1, 0),
        # Zero octets in 3.4 (presence is the value); 5.0 allows one octet.
        (TlvTag.alert_on_message_delivery, o, 1, 0),
        (TlvTag.its_reply_type, i, 1, 0),
        (TlvTag.its_session_info, o, 2, 2),
    ]
    return {int(t): TlvDef(int(t), t.name, k, s, m) for t, k, s, m in table}


TLV_DEFS: dict[int, TlvDef] = _defs()
TLV_BY_NAME: dict[str, TlvDef] = {d.name: d for d in TLV_DEFS.values()}


def decode_value(defn: TlvDef, raw: bytes) -> Any:
    """A known TLV's raw value as a Python value (tolerant of size variants)."""
    if defn.kind == "int":
        return int.from_bytes(raw, "big")
    if defn.kind == "cstr":
        end = raw.find(0)
        return (raw if end < 0 else raw[:end]).decode("latin-1")
    return raw


def encode_value(defn: TlvDef, value: Any) -> bytes:
    """A Python value as a known TLV's raw value; strict (raises PduEncodeError)."""
    name = defn.name
    if defn.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise PduEncodeError(name, f"expected int, got {type(value).__name__}")
        if not 0 <= value < 1 << (8 * defn.size):
            raise PduEncodeError(
                name, f"{value} does not fit {defn.size} octet(s)", CommandStatus.ESME_RINVOPTPARAMVAL
            )
        return value.to_bytes(defn.size, "big")
    if defn.kind == "cstr":
        if not isinstance(value, str):
            raise PduEncodeError(name, f"expected str, got {type(value).__name__}")
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError as e:
            raise PduEncodeError(name, "not representable as one octet per character") from e
        if 0 in raw:
            raise PduEncodeError(name, "contains NUL")
        if len(raw) >= defn.size:
            raise PduEncodeError(
                name, f"{len(raw)} characters; at most {defn.size - 1}", CommandStatus.ESME_RINVPARLEN
            )
        return raw + b"\x00"
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise PduEncodeError(name, f"expected bytes, got {type(value).__name__}")
    raw = bytes(value)
    if not defn.min_size <= len(raw) <= defn.size:
        raise PduEncodeError(
            name,
            f"{len(raw)} octets; expected {defn.min_size}..{defn.size}",
            CommandStatus.ESME_RINVPARLEN,
        )
    return raw


class Tlvs(tuple):
    """An immutable, ordered collection of ``(tag, raw_value)`` pairs.

    Build one from named, typed values with :meth:`of`; read a value by tag or
    name with :meth:`value`. Repeated tags (callback_num and friends) are kept.
    """

    __slots__ = ()

    @classmethod
    def of(cls, **named: Any) -> Tlvs:
        """Tlvs from spec names: ``Tlvs.of(sar_msg_ref_num=7, message_payload=b"...")``.

        ``None`` values are left out. Unknown names raise ``PduEncodeError``.
        """
        pairs = []
        for name, value in named.items():
            if value is None:
                continue
            defn = TLV_BY_NAME.get(name)
            if defn is None:
                raise PduEncodeError(name, "not a known TLV name")
            pairs.append((defn.tag, encode_value(defn, value)))
        return cls(pairs) if pairs else EMPTY

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, bytes]]) -> Tlvs:
        """Tlvs from raw ``(tag, bytes)`` pairs (vendor TLVs included)."""
        return cls((int(t), bytes(v)) for t, v in pairs)

    def raw(self, tag: int) -> bytes | None:
        """The first raw value for ``tag``, or None."""
        for t, v in self:
            if t == tag:
                return v
        return None

    def raw_all(self, tag: int) -> list[bytes]:
        return [v for t, v in self if t == tag]

    def value(self, key: int | str) -> Any:
        """The first typed value for a known tag or name, or None when absent."""
        defn = TLV_BY_NAME[key] if isinstance(key, str) else TLV_DEFS.get(key)
        if defn is None:
            return self.raw(int(key))
        raw = self.raw(defn.tag)
        return None if raw is None else decode_value(defn, raw)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            key = TLV_BY_NAME[key].tag
        return any(t == key for t, _ in self)

    def replace(self, **named: Any) -> Tlvs:
        """A copy with the named TLVs set (replacing any with the same tag) or,
        when given ``None``, removed."""
        tags = {TLV_BY_NAME[n].tag for n in named}
        kept = [(t, v) for t, v in self if t not in tags]
        added = Tlvs.of(**named)
        return Tlvs(kept + list(added)) if kept or added else EMPTY

    def __add__(self, other: tuple) -> Tlvs:
        return Tlvs(tuple.__add__(self, Tlvs.coerce(other)))

    @classmethod
    def coerce(cls, value: Any) -> Tlvs:
        """Tlvs from a Tlvs, a mapping of spec names to values, or raw pairs."""
        if isinstance(value, Tlvs):
            return value
        if isinstance(value, Mapping):
            return cls.of(**value)
        return cls.from_pairs(value)

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{TLV_DEFS[t].name}={decode_value(TLV_DEFS[t], v)!r}" if t in TLV_DEFS
            else f"0x{t:04X}={v!r}"
            for t, v in self
        )
        return f"Tlvs({inner})"


EMPTY = Tlvs()


def to_tlvs(value: Any) -> Tlvs:
    """Converter for a PDU's ``tlvs`` field (see :meth:`Tlvs.coerce`)."""
    return Tlvs.coerce(value)


def encode_tlvs(tlvs: Iterable[tuple[int, bytes]]) -> bytes:
    """Wire form of TLV pairs (strict: tag and length must fit 16 bits)."""
    out = []
    pack = _TL.pack
    for tag, value in tlvs:
        if not 0 <= tag <= 0xFFFF:
            raise PduEncodeError("tlvs", f"tag {tag} does not fit 16 bits")
        if len(value) > 0xFFFF:
            raise PduEncodeError("tlvs", f"TLV 0x{tag:04X} value longer than 65535 octets")
        out.append(pack(tag, len(value)))
        out.append(value)
    return b"".join(out)


def decode_tlvs(data: bytes, off: int, end: int, seq: int, command_id: int) -> Tlvs:
    """TLVs in ``data[off:end]``, each read by its own length field."""
    pairs = []
    unpack = _TL.unpack_from
    while off < end:
        if end - off < 4:
            raise PduDecodeError(
                CommandStatus.ESME_RINVOPTPARSTREAM,
                f"{end - off} stray octet(s) where a TLV header was expected",
                sequence_number=seq,
                command_id=command_id,
            )
        tag, length = unpack(data, off)
        off += 4
        if off + length > end:
            raise PduDecodeError(
                CommandStatus.ESME_RINVPARLEN,
                f"TLV 0x{tag:04X} claims {length} octets, {end - off} left",
                sequence_number=seq,
                command_id=command_id,
            )
        pairs.append((tag, data[off : off + length]))
        off += length
    return Tlvs(pairs)
