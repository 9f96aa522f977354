"""Delivery-receipt text (SMPP 3.4 Appendix B) and message-id correlation.

Appendix B only gives an *example* layout, which SMSCs have copied with
variations ever since::

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:....

:func:`format_receipt` writes that layout exactly (for our SMSC side).
:func:`parse_receipt` reads what real SMSCs send (for our ESME side):

* Keys are found case-insensitively where a key can start: at the start of
  the text or after whitespace. A key is one of the known ones (``id``,
  ``sub``, ``dlvrd``, ``submit date``, ``done date``, ``stat``, ``err``,
  ``text``; ``submit_date``/``submitdate`` spellings too) or any other
  ``word:`` (a vendor field, kept in ``extra``). A value is everything up to
  the next key, stripped, so it may contain spaces and colons as long as no
  ``<space>word:`` appears in it.
* ``text:`` takes everything after it, verbatim. Appendix B puts it last and
  it is the only user-controlled part, so a message body containing
  ``stat:DELIVRD`` cannot forge a state. The price: a vendor field written
  *after* ``text:`` ends up inside ``text``.
* Missing fields stay at their defaults; fields may come in any order;
  the first occurrence of a repeated key wins.
* ``sub``/``dlvrd`` are ``int`` when the value is decimal digits, else
  ``None``. Dates are 10 (``YYMMDDhhmm``), 12 (``YYMMDDhhmmss``) or 14
  (``yyyyMMddHHmmss``) digits, else ``None``; they are *naive* datetimes
  because receipts never state a zone (it is the SMSC's local time). Two-digit
  years are 2000 + YY.
* ``stat`` and ``err`` are the first whitespace-separated token of their
  value, kept as written (``err`` may be alphanumeric or longer than three
  characters); :attr:`DeliveryReceipt.message_state` maps the stat word,
  abbreviated or in full, to the SMPP message_state.
* ``parse_receipt`` returns ``None`` when neither ``id:`` nor ``stat:`` is
  present, and never raises. The esm_class of the carrying deliver_sm (0x04)
  is the authority on whether a message is a receipt at all; an MO message
  reading "my id:5" parses as a receipt if you ask.

Message ids (:func:`normalize_message_id`, :func:`message_ids_match`,
:class:`MessageIdIndex`) are discussed at :func:`message_id_keys`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Generic, TypeVar

import attrs

from smppd.pdu.constants import MessageState

__all__ = [
    "TRUNCATED_ID_LENGTH",
    "DeliveryReceipt",
    "MessageIdIndex",
    "format_receipt",
    "message_id_keys",
    "message_ids_match",
    "normalize_message_id",
    "parse_receipt",
    "stat_for_state",
]

#: Length an SMSC truncates receipt ids to (the Appendix B layout's ``id`` width).
TRUNCATED_ID_LENGTH = 10

# Upper-cased stat word -> message_state. Appendix B's seven-letter words,
# ENROUTE (intermediate notifications) and the full words some SMSCs send.
_STAT_STATES: dict[str, MessageState] = {
    "ENROUTE": MessageState.ENROUTE,
    "DELIVRD": MessageState.DELIVERED,
    "DELIVERED": MessageState.DELIVERED,
    "EXPIRED": MessageState.EXPIRED,
    "DELETED": MessageState.DELETED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "UNDELIVERABLE": MessageState.UNDELIVERABLE,
    "UNDELIVERED": MessageState.UNDELIVERABLE,
    "ACCEPTD": MessageState.ACCEPTED,
    "ACCEPTED": MessageState.ACCEPTED,
    "UNKNOWN": MessageState.UNKNOWN,
    "REJECTD": MessageState.REJECTED,
    "REJECTED": MessageState.REJECTED,
}

# message_state -> the Appendix B stat word.
_STATE_STATS: dict[int, str] = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}


def stat_for_state(state: int) -> str:
    """The Appendix B stat word for a message_state (``UNKNOWN`` for others)."""
    return _STATE_STATS.get(state, "UNKNOWN")


def _to_err(value: int | str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"err must not be negative, got {value}")
        return f"{value:03d}"
    if isinstance(value, str):
        return value
    raise TypeError(f"err must be int or str, got {value!r}")


def _to_pairs(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k), str(v)) for k, v in items)


_count = attrs.validators.optional(
    attrs.validators.and_(attrs.validators.instance_of(int), attrs.validators.ge(0))
)
_date = attrs.validators.optional(attrs.validators.instance_of(datetime))


@attrs.frozen
class DeliveryReceipt:
    """The fields of an Appendix B delivery receipt.

    ``id``, ``stat``, ``err`` and ``text`` are strings, ``""`` when absent.
    ``sub`` and ``dlvrd`` (message counts) and the two dates are ``None`` when
    absent or unreadable; dates are naive (SMSC local time, see the module
    docstring). ``err`` also accepts an int, stored zero-padded to three
    digits (``err=5`` -> ``"005"``). ``extra`` holds vendor fields as
    ``(key, value)`` pairs in the order seen (a mapping is accepted too).
    """

    id: str = ""
    sub: int | None = attrs.field(default=None, validator=_count)
    dlvrd: int | None = attrs.field(default=None, validator=_count)
    submit_date: datetime | None = attrs.field(default=None, validator=_date)
    done_date: datetime | None = attrs.field(default=None, validator=_date)
    stat: str = ""
    err: str = attrs.field(default="", converter=_to_err)
    text: str = ""
    extra: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_to_pairs)

    @property
    def message_state(self) -> MessageState:
        """The SMPP message_state for ``stat``; ``UNKNOWN`` (7) for unknown words."""
        return _STAT_STATES.get(self.stat.strip().upper(), MessageState.UNKNOWN)


# --------------------------------------------------------------------------- formatting


def _format_date(value: datetime, digits: int) -> str:
    if digits == 14:
        year = f"{value.year:04d}"
    elif 2000 <= value.year <= 2099:
        year = f"{value.year - 2000:02d}"
    else:
        raise ValueError(f"year {value.year} cannot be written as YY (2000-2099 only)")
    stamp = f"{year}{value.month:02d}{value.day:02d}{value.hour:02d}{value.minute:02d}"
    return stamp if digits == 10 else f"{stamp}{value.second:02d}"


def format_receipt(receipt: DeliveryReceipt, *, date_digits: int = 10) -> str:
    """Write ``receipt`` in the Appendix B layout.

    ``id:{id} sub:{sub:03} dlvrd:{dlvrd:03} submit date:{date} done date:{date}
    stat:{stat} err:{err} text:{text[:20]}``, with vendor ``extra`` fields
    placed before ``text:``. Count and date fields that are ``None`` are left
    out (set them all for the widest interoperability); string fields are
    always written. ``date_digits`` is 10 (``YYMMDDhhmm``, Appendix B), 12
    (adds seconds) or 14 (``yyyyMMddHHmmss``).
    """
    if date_digits not in (10, 12, 14):
        raise ValueError(f"date_digits must be 10, 12 or 14, got {date_digits}")
    parts = [f"id:{receipt.id}"]
    if receipt.sub is not None:
        parts.append(f"sub:{receipt.sub:03d}")
    if receipt.dlvrd is not None:
        parts.append(f"dlvrd:{receipt.dlvrd:03d}")
    if receipt.submit_date is not None:
        parts.append(f"submit date:{_format_date(receipt.submit_date, date_digits)}")
    if receipt.done_date is not None:
        parts.append(f"done date:{_format_date(receipt.done_date, date_digits)}")
    parts.append(f"stat:{receipt.stat}")
    parts.append(f"err:{receipt.err}")
    parts.extend(f"{key}:{value}" for key, value in receipt.extra)
    parts.append(f"text:{receipt.text[:20]}")
    return " ".join(parts)


# --------------------------------------------------------------------------- parsing

# A key starts the text or follows whitespace. The two-word keys come first in
# the alternation so "submit date:" is not read as "submit" + key "date:".
_KEY_RE = re.compile(
    r"(?<!\S)(submit[ _]?date|done[ _]?date|[A-Za-z][A-Za-z0-9_\-]*):",
    re.IGNORECASE,
)
_DIGITS_RE = re.compile(r"[0-9]+")
_FIELD_KEYS = frozenset({"id", "sub", "dlvrd", "submit date", "done date", "stat", "err"})


def _canonical_key(raw: str) -> str:
    key = raw.lower()
    if key.startswith("submit"):
        return "submit date" if key[6:].lstrip(" _") == "date" else key
    if key.startswith("done"):
        return "done date" if key[4:].lstrip(" _") == "date" else key
    return key


def _first_token(value: str) -> str:
    parts = value.split(None, 1)
    return parts[0] if parts else ""


def _parse_count(value: str) -> int | None:
    token = _first_token(value)
    # The length cap keeps int() clear of Python's digit limit on hostile input.
    if _DIGITS_RE.fullmatch(token) and len(token) <= 18:
        return int(token)
    return None


def _parse_date(value: str) -> datetime | None:
    token = _first_token(value)
    if not _DIGITS_RE.fullmatch(token) or len(token) not in (10, 12, 14):
        return None
    if len(token) == 14:
        year, token = int(token[:4]), token[4:]
    else:
        year, token = 2000 + int(token[:2]), token[2:]
    # Fixed-width slices, not strptime: it accepts 1-digit fields and could
    # read a malformed 14-digit stamp misaligned into a valid date.
    month, day, hour, minute = (int(token[i : i + 2]) for i in range(0, 8, 2))
    second = int(token[8:10]) if len(token) == 10 else 0
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def parse_receipt(text: str | bytes | bytearray) -> DeliveryReceipt | None:
    """Read delivery-receipt text tolerantly; ``None`` if it is not one.

    ``bytes`` are decoded as Latin-1 (the keys are ASCII in every encoding a
    receipt comes in). Trailing NULs are dropped. See the module docstring for
    the rules. Never raises.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("latin-1")
    source = text.rstrip("\x00")

    fields: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    body: str | None = None
    matches = list(_KEY_RE.finditer(source))
    for i, m in enumerate(matches):
        key = _canonical_key(m.group(1))
        if key == "text":
            body = source[m.end() :]
            break
        end = matches[i + 1].start() if i + 1 < len(matches) else len(source)
        value = source[m.end() : end].strip()
        if key in _FIELD_KEYS:
            fields.setdefault(key, value)
        else:
            extra.append((m.group(1), value))

    if "id" not in fields and "stat" not in fields:
        return None
    return DeliveryReceipt(
        id=fields.get("id", ""),
        sub=_parse_count(fields.get("sub", "")),
        dlvrd=_parse_count(fields.get("dlvrd", "")),
        submit_date=_parse_date(fields.get("submit date", "")),
        done_date=_parse_date(fields.get("done date", "")),
        stat=_first_token(fields.get("stat", "")),
        err=_first_token(fields.get("err", "")),
        text=body if body is not None else "",
        extra=tuple(extra),
    )


# --------------------------------------------------------------------------- message ids

# (str.strip with these characters leaves "" exactly when the string is made
# only of them: the test below costs one C call where a regex match cost more.)
_HEX_DIGITS = "0123456789abcdef"
_DEC_DIGITS = "0123456789"
# message_id is at most 64 characters; never convert anything longer.
_MAX_NUMERIC_LENGTH = 64


def _clean(value: str) -> str:
    return value.strip().strip("\x00").strip().lower()


def _normalize_cleaned(cleaned: str) -> str:
    if cleaned and not cleaned.strip(_HEX_DIGITS):
        return cleaned.lstrip("0") or "0"
    return cleaned


def normalize_message_id(value: str) -> str:
    """The canonical spelling of a message id.

    Whitespace (and NULs) around it are dropped and it is lower-cased; an id
    made only of hex digits (which includes decimal ones) also loses its leading
    zeros (``"0000"`` becomes ``"0"``). Other ids keep their zeros: they are
    opaque strings, not numbers.
    """
    return _normalize_cleaned(_clean(value))


def _cross_base_forms(normalized: str) -> frozenset[str]:
    """Other spellings of the same number: decimal<->hex, each normalized."""
    if len(normalized) > _MAX_NUMERIC_LENGTH or not normalized or normalized.strip(_HEX_DIGITS):
        return frozenset()
    forms = {str(int(normalized, 16))}
    if not normalized.strip(_DEC_DIGITS):
        forms.add(format(int(normalized, 10), "x"))
    forms.discard(normalized)
    return frozenset(forms)


def message_id_keys(value: str) -> frozenset[str]:
    """Every canonical form ``value`` may stand for.

    The normalized id (:func:`normalize_message_id`); if it is all decimal
    digits, also its hex spelling; if it is all hex digits, also its decimal
    spelling. A decimal-looking id gets both, because "1234" may be decimal
    1234 or hex 0x1234 = 4660.

    Correlating by these keys is what lets a receipt match its submit_sm_resp
    when the SMSC writes one in hex and the other in decimal (Kannel's
    ``msg-id-type``), pads with zeros or changes hex case. The risk is a false
    positive: a decimal id whose digits also read as a *different* hex number
    (receipt "16" matches submitted id "10", read as 0x10). For the long ids
    SMSCs actually issue, the two readings of one string are far apart (e.g.
    221067780 vs 0x221067780 = 9144006528), so they rarely belong to
    messages in flight at the same time; :class:`MessageIdIndex` further
    prefers a same-spelling match over a cross-base one. Where the SMSC's
    convention is known, compare with ``cross_base=False``.

    :func:`message_ids_match` does not simply intersect two key sets: two
    *converted* forms agreeing (neither id's own spelling involved) describes
    no real hex/decimal mix-up, so that case is not a match.
    """
    normalized = normalize_message_id(value)
    return frozenset({normalized}) | _cross_base_forms(normalized)


def message_ids_match(
    a: str, b: str, *, cross_base: bool = True, allow_truncation: bool = False
) -> bool:
    """Whether two message ids name the same message.

    True when they normalize equal; or (``cross_base``) when one is the
    other's number written in the other base; or (``allow_truncation``) when
    one is exactly :data:`TRUNCATED_ID_LENGTH` characters and is the start of
    the other (compared case-insensitively, leading zeros kept). An empty id
    matches nothing.
    """
    na, nb = normalize_message_id(a), normalize_message_id(b)
    if not na or not nb:
        return False
    if na == nb:
        return True
    if cross_base and (na in _cross_base_forms(nb) or nb in _cross_base_forms(na)):
        return True
    if allow_truncation:
        ca, cb = _clean(a), _clean(b)
        short, long_ = (ca, cb) if len(ca) <= len(cb) else (cb, ca)
        return len(short) == TRUNCATED_ID_LENGTH < len(long_) and long_.startswith(short)
    return False


V = TypeVar("V")


class MessageIdIndex(Generic[V]):
    """Submitted message ids -> values, looked up by a receipt's id in O(1).

    Put the id from each submit_sm_resp with whatever you track for it, then
    :meth:`get` or :meth:`pop` with the id a receipt carries. A lookup tries,
    in order, and stops at the first step that finds exactly one entry:

    1. the same normalized id;
    2. (``cross_base``) the receipt id's hex/decimal conversions;
    3. (``allow_truncation``) a receipt id of exactly 10 characters against
       the first 10 characters of longer stored ids.

    A step that finds two different entries is ambiguous and the lookup gives
    up (returns the default) rather than guess. Iteration yields the stored ids
    as they were put; putting an id equal, after normalization, to a stored one
    replaces its value.
    """

    def __init__(self, *, cross_base: bool = True, allow_truncation: bool = False) -> None:
        self.cross_base = cross_base
        self.allow_truncation = allow_truncation
        self._entries: dict[str, tuple[str, V]] = {}
        self._prefixes: dict[str, set[str]] = {}
        # Stored keys that may normalize to something else (a NUL inside the
        # whitespace around an id): a receipt id equal to one of them is
        # normalized first, like any other.
        self._unsettled: set[str] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._entries.values())

    def __contains__(self, receipt_id: object) -> bool:
        return isinstance(receipt_id, str) and self._find(receipt_id) is not None

    def __setitem__(self, message_id: str, value: V) -> None:
        self.put(message_id, value)

    def __getitem__(self, receipt_id: str) -> V:
        key = self._find(receipt_id)
        if key is None:
            raise KeyError(receipt_id)
        return self._entries[key][1]

    def __delitem__(self, receipt_id: str) -> None:
        key = self._find(receipt_id)
        if key is None:
            raise KeyError(receipt_id)
        self._remove(key)

    def put(self, message_id: str, value: V) -> None:
        """Store ``value`` under a submitted ``message_id``."""
        cleaned = _clean(message_id)
        key = _normalize_cleaned(cleaned)
        if not key:
            raise ValueError("cannot index an empty message_id")
        self._entries[key] = (message_id, value)
        if "\x00" in key:  # (without a NUL, normalizing the key again gives the key)
            self._unsettled.add(key)
        if len(cleaned) > TRUNCATED_ID_LENGTH:
            self._prefixes.setdefault(cleaned[:TRUNCATED_ID_LENGTH], set()).add(key)

    def get(self, receipt_id: str, default: V | None = None) -> V | None:
        """The value stored for the id ``receipt_id`` stands for, else ``default``."""
        key = self._find(receipt_id)
        return default if key is None else self._entries[key][1]

    def find(self, receipt_id: str) -> tuple[str, V] | None:
        """``(stored message_id, value)`` for ``receipt_id``, or ``None``."""
        key = self._find(receipt_id)
        return None if key is None else self._entries[key]

    def take(self, receipt_id: str) -> tuple[str, V] | None:
        """Remove and return ``(stored message_id, value)`` for ``receipt_id``,
        or ``None``: :meth:`find` and :meth:`pop` in one lookup."""
        key = self._find(receipt_id)
        return None if key is None else self._remove(key)

    def pop(self, receipt_id: str, default: V | None = None) -> V | None:
        """Remove and return the value ``receipt_id`` matches, else ``default``."""
        key = self._find(receipt_id)
        if key is None:
            return default
        return self._remove(key)[1]

    def _remove(self, key: str) -> tuple[str, V]:
        entry = self._entries.pop(key)
        if self._unsettled:
            self._unsettled.discard(key)
        if not self._prefixes:
            return entry
        cleaned = _clean(entry[0])
        if len(cleaned) > TRUNCATED_ID_LENGTH:
            prefix = cleaned[:TRUNCATED_ID_LENGTH]
            keys = self._prefixes.get(prefix)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._prefixes[prefix]
        return entry

    def _find(self, receipt_id: str) -> str | None:
        if receipt_id in self._entries and receipt_id not in self._unsettled:
            return receipt_id  # a stored key that normalizes to itself
        normalized = normalize_message_id(receipt_id)
        if not normalized:
            return None
        if normalized in self._entries:
            return normalized
        if self.cross_base:
            hits = [k for k in _cross_base_forms(normalized) if k in self._entries]
            if hits:
                return hits[0] if len(hits) == 1 else None
        if self.allow_truncation:
            cleaned = _clean(receipt_id)
            if len(cleaned) == TRUNCATED_ID_LENGTH:
                keys = self._prefixes.get(cleaned)
                if keys is not None and len(keys) == 1:
                    return next(iter(keys))
        return None
