"""Field-by-field conversions of the model records for the stores.

Rows (tuples in the attrs field order) feed ``sqlite3`` directly; JSON lists
in the same order (bytes as base64) are the journal's representation. Both keep every field
exactly: bytes with 0x00, ``None``, floats (``repr`` round-trips) and ints.
"""

from __future__ import annotations

import binascii
import operator
from base64 import b64decode, b64encode
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from smppd.model import Message, OutboxItem
from smppd.pdu.constants import MessageState
from smppd.storage.errors import StoreError

MESSAGE_FIELDS: tuple[str, ...] = tuple(f.name for f in attrs.fields(Message))
OUTBOX_FIELDS: tuple[str, ...] = tuple(f.name for f in attrs.fields(OutboxItem))

# operator.attrgetter with several names returns a tuple: the cheapest way to
# turn a frozen record into a row (no recursion, no copies, unlike attrs.astuple).
message_row: Callable[[Message], tuple[Any, ...]] = operator.attrgetter(*MESSAGE_FIELDS)
outbox_row: Callable[[OutboxItem], tuple[Any, ...]] = operator.attrgetter(*OUTBOX_FIELDS)

_STATE_INDEX = MESSAGE_FIELDS.index("state")
_STATES: dict[int, MessageState] = {int(s): s for s in MessageState}


def state_of(value: int) -> int:
    """``value`` as a :class:`MessageState` when it is one, else unchanged."""
    return _STATES.get(value, value)


def message_from_row(row: Sequence[Any]) -> Message:
    values = list(row)
    values[_STATE_INDEX] = state_of(values[_STATE_INDEX])
    return Message(*values)


def outbox_from_row(row: Sequence[Any]) -> OutboxItem:
    return OutboxItem(*row)


_MESSAGE_BYTE_INDEXES = tuple(MESSAGE_FIELDS.index(n) for n in ("short_message", "tlvs"))
_OUTBOX_BYTE_INDEXES = tuple(OUTBOX_FIELDS.index(n) for n in ("pdu",))
_BYTE_FIELDS = frozenset({"short_message", "tlvs", "pdu"})


def _b64(data: bytes) -> str:
    return b64encode(data).decode("ascii")


def message_to_list(message: Message) -> list[Any]:
    """The JSON form: a list in :data:`MESSAGE_FIELDS` order, bytes as base64.
    (Lists, not objects: a third of the size and faster; the field names are
    written once per journal file, see :class:`RecordDecoder`.)"""
    values = list(message_row(message))
    for i in _MESSAGE_BYTE_INDEXES:
        values[i] = _b64(values[i])
    values[_STATE_INDEX] = int(values[_STATE_INDEX])
    return values


def outbox_to_list(item: OutboxItem) -> list[Any]:
    values = list(outbox_row(item))
    for i in _OUTBOX_BYTE_INDEXES:
        values[i] = _b64(values[i])
    return values


class RecordDecoder:
    """Decodes records written with the given field lists (those of the
    smppd that wrote them): by position when they match this model, by name
    when they do not (a field added since then takes its default; a field this
    model does not know is an error)."""

    def __init__(self, message_fields: Sequence[str], outbox_fields: Sequence[str]) -> None:
        self.message_fields = tuple(message_fields)
        self.outbox_fields = tuple(outbox_fields)
        self._messages_match = self.message_fields == MESSAGE_FIELDS
        self._outbox_match = self.outbox_fields == OUTBOX_FIELDS

    def message(self, values: Sequence[Any]) -> Message:
        try:
            if self._messages_match:
                row = list(values)
                for i in _MESSAGE_BYTE_INDEXES:
                    row[i] = b64decode(row[i], validate=True)
                row[_STATE_INDEX] = state_of(row[_STATE_INDEX])
                return Message(*row)
            named = self._by_name(self.message_fields, values)
            if "state" in named:
                named["state"] = state_of(named["state"])
            return Message(**named)
        except (TypeError, ValueError, binascii.Error) as e:
            raise StoreError(f"bad message record: {e}") from None

    def outbox_item(self, values: Sequence[Any]) -> OutboxItem:
        try:
            if self._outbox_match:
                row = list(values)
                for i in _OUTBOX_BYTE_INDEXES:
                    row[i] = b64decode(row[i], validate=True)
                return OutboxItem(*row)
            return OutboxItem(**self._by_name(self.outbox_fields, values))
        except (TypeError, ValueError, binascii.Error) as e:
            raise StoreError(f"bad outbox record: {e}") from None

    @staticmethod
    def _by_name(fields: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
        named = dict(zip(fields, values, strict=True))
        for name in _BYTE_FIELDS.intersection(named):
            named[name] = b64decode(named[name], validate=True)
        return named


CURRENT = RecordDecoder(MESSAGE_FIELDS, OUTBOX_FIELDS)
