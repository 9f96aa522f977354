"""Reassembly of concatenated short messages (UDH 8/16-bit references and SAR TLVs).

Sans-IO: the caller turns each incoming deliver_sm / data_sm into a :class:`Fragment` with
:func:`fragment_from_pdu_fields` (plain values, no PDU objects) and feeds it to a
:class:`Reassembler` together with a conversation key such as ``(source_addr,
destination_addr)``.  The reassembler adds the concatenation reference (and its kind and the
segment total) to that key, so the same reference from two senders, or an 8-bit and a SAR
reference with the same number, never mix.

Time comes from an injected clock (anything with ``seconds() -> float``, e.g.
``twisted.internet.task.Clock``).  Incomplete sets are dropped ``timeout`` seconds after their
first part arrived, and at most ``max_pending`` sets are kept (the oldest is evicted).  Both
are reported as :class:`Expired` by :meth:`Reassembler.expire`, which ``feed`` also runs
lazily; what ``feed`` drops is queued until the next ``expire()`` call.

Pure: imports nothing from Twisted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Literal, Protocol

import attrs

from smppd.text import gsm
from smppd.text.encoding import decode
from smppd.text.udh import Ports, Udh, fill_bits, parse_udh

__all__ = [
    "Completed",
    "ConcatRef",
    "Expired",
    "Fragment",
    "Reassembler",
    "SecondsClock",
    "fragment_from_pdu_fields",
    "is_gsm7_data_coding",
]

UDHI = 0x40

RefKind = Literal["udh8", "udh16", "sar"]


class SecondsClock(Protocol):
    """What the reassembler needs from a clock (``IReactorTime`` provides it)."""

    def seconds(self) -> float: ...


@attrs.frozen
class ConcatRef:
    """Where a fragment belongs: reference (and its kind), total parts, this part's number."""

    kind: RefKind
    reference: int
    total: int
    seq: int


@attrs.frozen
class Fragment:
    """The user data of one incoming PDU, UDH removed.

    ``concat`` is None for a message that is not part of a concatenation ("not a fragment":
    see :attr:`is_fragment`); :meth:`Reassembler.feed` completes such a message at once.
    For packed GSM 7-bit, ``user_data`` already holds the septets unpacked, one per octet.
    """

    user_data: bytes
    data_coding: int
    concat: ConcatRef | None = None
    udh: Udh | None = None

    @property
    def is_fragment(self) -> bool:
        """True when this is one part of a message of two or more parts."""
        return self.concat is not None and self.concat.total > 1

    @property
    def locking_shift(self) -> int:
        return self.udh.locking_shift if self.udh is not None else 0

    @property
    def single_shift(self) -> int:
        return self.udh.single_shift if self.udh is not None else 0


def is_gsm7_data_coding(data_coding: int) -> bool:
    """Does this data_coding select the GSM 7-bit alphabet?

    0x00 (SMSC default, taken as GSM 7-bit), GSM DCS general group with message class
    (0x10-0x13), MWI groups 0xC0-0xDF, and data-coding/message-class group 0xF0-0xF3.
    """
    return (
        data_coding == 0x00
        or 0x10 <= data_coding <= 0x13
        or 0xC0 <= data_coding <= 0xDF
        or 0xF0 <= data_coding <= 0xF3
    )


def fragment_from_pdu_fields(
    esm_class: int,
    short_message: bytes,
    data_coding: int,
    sar: tuple[int, int, int] | None = None,
    message_payload: bytes | None = None,
    *,
    packed: bool = False,
) -> Fragment:
    """Build a :class:`Fragment` from the fields of a deliver_sm / data_sm / submit_sm.

    ``sar`` is ``(sar_msg_ref_num, sar_total_segments, sar_segment_seqnum)`` when all three
    TLVs are present.  The user data is ``message_payload`` when given, else
    ``short_message``; with UDHI (esm_class 0x40) its UDH is parsed and removed (a malformed
    UDH raises :class:`~smppd.text.udh.UdhError`).  A concatenation IE in the UDH wins over
    SAR TLVs.  Meaningless concatenation values (total 0, seq 0 or > total) make the message a
    single one, as 23.040 asks.  ``packed=True`` (a bilateral agreement, never the SMPP default)
    unpacks GSM 7-bit user data, skipping the fill bits after the UDH.
    """
    body = bytes(message_payload if message_payload is not None else short_message)
    udh: Udh | None = None
    udh_octets = 0
    if esm_class & UDHI:
        udh, body = parse_udh(body)
        udh_octets = udh.size
    if packed and is_gsm7_data_coding(data_coding):
        body = _unpack(body, fill_bits(udh_octets) if udh is not None else 0)

    concat: ConcatRef | None = None
    info = udh.concat if udh is not None else None
    if info is not None:
        concat = ConcatRef(
            kind="udh8" if info.reference_bits == 8 else "udh16",
            reference=info.reference,
            total=info.total,
            seq=info.seq,
        )
    elif sar is not None:
        ref, total, seq = sar
        if 1 <= total <= 255 and 1 <= seq <= total and 0 <= ref <= 0xFFFF:
            concat = ConcatRef(kind="sar", reference=ref, total=total, seq=seq)
    return Fragment(user_data=body, data_coding=data_coding, concat=concat, udh=udh)


def _unpack(data: bytes, fill: int) -> bytes:
    """Packed septets to one per octet, dropping 23.038 CR padding as ``gsm.decode_packed`` does.

    Unpacked per part (each has its own fill bits) but decoded only once the parts are joined,
    so an escape sequence a sender cut between two parts still reads right.
    """
    septets = gsm.unpack(data, fill_bits=fill)
    if (
        septets
        and septets[-1] == gsm.CR
        and (8 * len(data) - fill) % 7 == 0
        and septets[-2:-1] != bytes((gsm.ESC,))
    ):
        septets = septets[:-1]
    return septets


@attrs.frozen
class Completed:
    """A whole message: the parts' user data joined in order, UDHs stripped.

    ``data_coding``, the national language shifts and ``ports`` come from the lowest-numbered
    part that carries them (parts of one message agree in practice).
    """

    key: Hashable
    user_data: bytes
    data_coding: int
    parts: int
    concat: ConcatRef | None = None
    locking_shift: int = 0
    single_shift: int = 0
    ports: Ports | None = None
    duplicates: int = 0

    @property
    def text(self) -> str:
        """The user data decoded for ``data_coding`` (never raises)."""
        return decode(
            self.user_data,
            self.data_coding,
            locking_shift=self.locking_shift,
            single_shift=self.single_shift,
        )


@attrs.frozen
class Expired:
    """An incomplete set that was dropped: on ``"timeout"`` or ``"evicted"`` for room."""

    key: Hashable
    concat: ConcatRef
    received: tuple[int, ...]
    first_seen: float
    reason: Literal["timeout", "evicted"]

    @property
    def missing(self) -> tuple[int, ...]:
        have = set(self.received)
        return tuple(seq for seq in range(1, self.concat.total + 1) if seq not in have)


@attrs.define
class _Pending:
    key: Hashable
    concat: ConcatRef
    first_seen: float
    parts: dict[int, Fragment] = attrs.Factory(dict)
    duplicates: int = 0


@attrs.define
class _Done:
    """Fingerprints of a just-completed set, so a late re-sent part is a duplicate."""

    finished: float
    fingerprints: dict[int, int]


_InternalKey = tuple[Hashable, str, int, int]


class Reassembler:
    """Collects fragments per (conversation key, reference kind, reference, total).

    Counters: ``completed``, ``duplicates``, ``expired`` (timeouts), ``evicted``.
    A part re-sent after its message completed (an SMSC retrying a deliver_sm whose response
    was lost) is recognised for ``timeout`` seconds by its content and counted as a duplicate
    instead of opening a new set; a part with the same reference but different content opens a
    new set (references wrap, especially 8-bit ones).
    """

    def __init__(
        self,
        clock: SecondsClock,
        timeout: float = 300.0,
        *,
        max_pending: int = 10_000,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, not {max_pending}")
        self._clock = clock
        self.timeout = timeout
        self.max_pending = max_pending
        # Insertion order is creation order, and every set lives the same ``timeout``, so the
        # oldest set is always first: expiry and eviction look only at the front.
        self._pending: dict[_InternalKey, _Pending] = {}
        self._done: dict[_InternalKey, _Done] = {}
        self._dropped: deque[Expired] = deque(maxlen=max_pending)
        self.completed = 0
        self.duplicates = 0
        self.expired = 0
        self.evicted = 0

    @property
    def pending(self) -> int:
        """Number of incomplete sets held."""
        return len(self._pending)

    def feed(self, key: Hashable, fragment: Fragment) -> Completed | None:
        """Add one fragment; return the whole message once its last part is in."""
        now = self._clock.seconds()
        self._expire_due(now)
        concat = fragment.concat
        if concat is None or concat.total == 1:
            self.completed += 1
            return _complete(key, concat, [fragment], duplicates=0)

        ikey: _InternalKey = (key, concat.kind, concat.reference, concat.total)
        pending = self._pending.get(ikey)
        if pending is None:
            done = self._done.get(ikey)
            if done is not None and done.fingerprints.get(concat.seq) == hash(fragment.user_data):
                self.duplicates += 1
                return None
            while len(self._pending) >= self.max_pending:
                self._drop_oldest(now, "evicted")
            pending = self._pending[ikey] = _Pending(key=key, concat=concat, first_seen=now)
        elif concat.seq in pending.parts:
            pending.duplicates += 1
            self.duplicates += 1
            return None

        pending.parts[concat.seq] = fragment
        if len(pending.parts) < concat.total:
            return None

        del self._pending[ikey]
        ordered = [pending.parts[seq] for seq in range(1, concat.total + 1)]
        self._remember(ikey, now, ordered)
        self.completed += 1
        return _complete(key, concat, ordered, duplicates=pending.duplicates)

    def expire(self) -> list[Expired]:
        """Drop sets older than ``timeout``; return them with any dropped since the last call."""
        self._expire_due(self._clock.seconds())
        dropped = list(self._dropped)
        self._dropped.clear()
        return dropped

    def _expire_due(self, now: float) -> None:
        deadline = now - self.timeout
        while self._pending:
            oldest = next(iter(self._pending.values()))
            if oldest.first_seen > deadline:
                break
            self._drop_oldest(now, "timeout")
        while self._done:
            ikey, done = next(iter(self._done.items()))
            if done.finished > deadline:
                break
            del self._done[ikey]

    def _drop_oldest(self, now: float, reason: Literal["timeout", "evicted"]) -> None:
        ikey = next(iter(self._pending))
        pending = self._pending.pop(ikey)
        if reason == "timeout":
            self.expired += 1
        else:
            self.evicted += 1
        self._dropped.append(
            Expired(
                key=pending.key,
                concat=pending.concat,
                received=tuple(sorted(pending.parts)),
                first_seen=pending.first_seen,
                reason=reason,
            )
        )

    def _remember(self, ikey: _InternalKey, now: float, parts: list[Fragment]) -> None:
        self._done.pop(ikey, None)
        self._done[ikey] = _Done(
            finished=now,
            fingerprints={seq: hash(part.user_data) for seq, part in enumerate(parts, start=1)},
        )
        while len(self._done) > self.max_pending:
            del self._done[next(iter(self._done))]


def _complete(
    key: Hashable, concat: ConcatRef | None, parts: list[Fragment], *, duplicates: int
) -> Completed:
    first = parts[0]
    locking = next((p.locking_shift for p in parts if p.locking_shift), 0)
    single = next((p.single_shift for p in parts if p.single_shift), 0)
    ports = next((p.udh.ports for p in parts if p.udh is not None and p.udh.ports is not None), None)
    return Completed(
        key=key,
        user_data=b"".join(p.user_data for p in parts),
        data_coding=first.data_coding,
        parts=len(parts),
        concat=concat,
        locking_shift=locking,
        single_shift=single,
        ports=ports,
        duplicates=duplicates,
    )
