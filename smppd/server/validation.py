"""Field checks for submitted messages: each mistake gets its specific status.

Pure functions over decoded PDUs; ``None`` means the field is acceptable.
"""

from __future__ import annotations

from datetime import datetime, timezone

from smppd.pdu import CommandStatus, Pdu
from smppd.pdu.timefmt import SmppTimeError, parse_time
from smppd.pdu.tlv import TLV_DEFS

S = CommandStatus

VALID_TON = frozenset(range(7))
VALID_NPI = frozenset({0, 1, 3, 4, 6, 8, 9, 10, 14, 18})
# esm_class message-type bits an ESME may set in submit_sm / submit_multi / data_sm.
SUBMIT_MESSAGE_TYPES = frozenset({0x00, 0x08, 0x10})
NUMERIC_TONS = frozenset({1, 2, 4})
_SAR = (0x020C, 0x020E, 0x020F)


def valid_data_coding(dc: int) -> bool:
    if dc <= 0x0E:
        return dc not in (0x0B, 0x0C)
    return 0x10 <= dc <= 0x1F or 0xC0 <= dc <= 0xF7


def _numeric(addr: str) -> bool:
    if addr.isdigit():
        return addr.isascii()
    return addr[:1] == "+" and addr[1:].isdigit() and addr.isascii()


def check_address(addr: str, ton: int, npi: int, *, source: bool, strict: bool) -> int:
    """ESME_ROK or the status for a bad source/destination address."""
    if strict:
        if ton not in VALID_TON:
            return S.ESME_RINVSRCTON if source else S.ESME_RINVDSTTON
        if npi not in VALID_NPI:
            return S.ESME_RINVSRCNPI if source else S.ESME_RINVDSTNPI
    if not source and not addr:
        return S.ESME_RINVDSTADR
    if addr and ton in NUMERIC_TONS and not _numeric(addr):
        return S.ESME_RINVSRCADR if source else S.ESME_RINVDSTADR
    return S.ESME_ROK


def check_message_fields(pdu: Pdu, *, strict: bool = True) -> int:
    """Fields common to submit_sm, submit_multi and data_sm."""
    p = pdu  # duck-typed over the three layouts
    esm_class: int = p.esm_class  # type: ignore[attr-defined]
    if (esm_class & 0x3C) not in SUBMIT_MESSAGE_TYPES:
        return S.ESME_RINVESMCLASS
    rd: int = p.registered_delivery  # type: ignore[attr-defined]
    if rd & 0x03 == 0x03 or rd & 0xE0:
        return S.ESME_RINVREGDLVFLG
    if not valid_data_coding(p.data_coding):  # type: ignore[attr-defined]
        return S.ESME_RINVDCS
    status = check_address(
        p.source_addr, p.source_addr_ton, p.source_addr_npi, source=True, strict=strict  # type: ignore[attr-defined]
    )
    if status:
        return status
    if getattr(p, "priority_flag", 0) > 3:
        return S.ESME_RINVPRTFLG
    if getattr(p, "replace_if_present_flag", 0) > 1:
        return S.ESME_RINVREPFLAG
    if getattr(p, "sm_default_msg_id", 0):
        return S.ESME_RINVDFTMSGID  # no canned messages are defined
    short_message: bytes = getattr(p, "short_message", b"")
    tlvs = p.tlvs
    if tlvs:
        status = check_tlvs(pdu)
        if status:
            return status
        if short_message and tlvs.raw(0x0424) is not None:
            return S.ESME_RINVMSGLEN
    if esm_class & 0x40:
        body = short_message or (tlvs.raw(0x0424) or b"")
        if not body or body[0] + 1 > len(body):
            return S.ESME_RINVMSGLEN
    return S.ESME_ROK


def check_tlvs(pdu: Pdu) -> int:
    """Known TLVs of the wrong size, and the SAR trio present only in part."""
    seen = set()
    for tag, value in pdu.tlvs:
        seen.add(tag)
        defn = TLV_DEFS.get(tag)
        if defn is None:
            continue
        n = len(value)
        if defn.kind == "int":
            if not 1 <= n <= defn.size:
                return S.ESME_RINVPARLEN
        elif defn.kind == "octets" and not defn.min_size <= n <= defn.size:
            return S.ESME_RINVPARLEN
        elif defn.kind == "cstr" and n > defn.size:
            return S.ESME_RINVPARLEN
    sar = [t in seen for t in _SAR]
    if any(sar):
        if not all(sar):
            return S.ESME_RMISSINGOPTPARAM
        total = pdu.sar_total_segments
        seq = pdu.sar_segment_seqnum
        if not total or not seq or seq > total:
            return S.ESME_RINVOPTPARAMVAL
    return S.ESME_ROK


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def resolve_times(
    schedule: str, validity: str, now: float, *, default_validity: float, max_validity: float
) -> tuple[int, float | None, float]:
    """(status, schedule_at or None, expires_at) for the two time fields."""
    now_dt = utc(now)
    schedule_at: float | None = None
    if schedule:
        try:
            dt = parse_time(schedule, now_dt)
        except SmppTimeError:
            return S.ESME_RINVSCHED, None, 0.0
        assert dt is not None
        schedule_at = dt.timestamp()
        if schedule_at <= now:
            schedule_at = None  # already due: deliver now
    base = schedule_at if schedule_at is not None else now
    if validity:
        try:
            dt = parse_time(validity, now_dt)
        except SmppTimeError:
            return S.ESME_RINVEXPIRY, None, 0.0
        assert dt is not None
        expires_at = dt.timestamp()
        if expires_at <= base:
            return S.ESME_RINVEXPIRY, None, 0.0
        expires_at = min(expires_at, base + max_validity)
    else:
        expires_at = base + default_validity
    return S.ESME_ROK, schedule_at, expires_at
