"""Records to store, shared by the tests and the crash-test child process."""

from __future__ import annotations

from typing import Any

import attrs

from smppd.model import Message, OutboxItem
from smppd.pdu.constants import MessageState

ALL_BYTES = bytes(range(256))


def message(i: int, **changes: Any) -> Message:
    """A message whose every field depends on ``i`` (bytes with 0x00 included)."""
    m = Message(
        message_id=f"m{i:06d}",
        system_id=f"esme{i % 3}",
        service_type="CMT" if i % 2 else "",
        source_addr_ton=i % 7,
        source_addr_npi=i % 5,
        source_addr=f"4477009{i:05d}",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=f"3361234{i:05d}",
        esm_class=0x40 if i % 4 == 0 else 0,
        protocol_id=i % 256,
        priority_flag=i % 4,
        registered_delivery=i % 2,
        data_coding=8 if i % 5 == 0 else 0,
        short_message=b"\x00hello\x00" + i.to_bytes(4, "big"),
        tlvs=b"\x04\x24\x00\x02\x00\x00" if i % 3 == 0 else b"",
        submitted_at=1_700_000_000.0 + i / 1000.0,
        schedule_at=None if i % 2 else 1_700_000_100.25 + i,
        expires_at=1_700_086_400.5 if i % 3 else None,
        state=MessageState.ENROUTE,
        final_at=None,
        error_code=0,
        sub_count=1 + i % 3,
        submitted_as=("submit_sm", "data_sm", "submit_multi")[i % 3],
    )
    return attrs.evolve(m, **changes) if changes else m


def item(i: int, **changes: Any) -> OutboxItem:
    o = OutboxItem(
        item_id=f"o{i:06d}",
        system_id=f"esme{i % 3}",
        kind=OutboxItem.RECEIPT if i % 2 else OutboxItem.MESSAGE,
        message_id=f"m{i:06d}",
        pdu=b"\x00\x00\x00\x10" + i.to_bytes(4, "big") + b"\x00" * 8,
        created_at=1_700_000_000.0 + i,
        expires_at=None if i % 2 else 1_700_086_400.0 + i,
        attempts=0,
        next_attempt_at=0.0,
    )
    return attrs.evolve(o, **changes) if changes else o


def final(m: Message, state: MessageState = MessageState.DELIVERED) -> Message:
    return attrs.evolve(m, state=state, final_at=m.submitted_at + 5.5, error_code=0)


def logged(events: list[dict[str, Any]]) -> list[str]:
    """The text of captured log events."""
    from twisted.logger import formatEvent

    return [formatEvent(e) for e in events]
