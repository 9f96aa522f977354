"""Every field of every record survives the journal's JSON and sqlite's rows."""

from __future__ import annotations

import json
import sqlite3

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from smppd.model import Message, OutboxItem
from smppd.storage._codec import (
    CURRENT,
    MESSAGE_FIELDS,
    OUTBOX_FIELDS,
    RecordDecoder,
    message_from_row,
    message_row,
    outbox_from_row,
    outbox_row,
)
from smppd.storage._journal_files import _parse, add_line, outbox_line, update_line
from smppd.storage.sqlite import _INSERT_MESSAGE, _INSERT_OUTBOX, _SCHEMA, _SELECT_PENDING

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
floats = st.floats(allow_nan=False)  # NaN != NaN would make equality useless
maybe_float = st.none() | floats
u8 = st.integers(0, 255)

messages = st.builds(
    Message,
    message_id=text,
    system_id=text,
    service_type=text,
    source_addr_ton=u8,
    source_addr_npi=u8,
    source_addr=text,
    dest_addr_ton=u8,
    dest_addr_npi=u8,
    destination_addr=text,
    esm_class=u8,
    protocol_id=u8,
    priority_flag=u8,
    registered_delivery=u8,
    data_coding=u8,
    short_message=st.binary(max_size=300),
    tlvs=st.binary(max_size=300),
    submitted_at=floats,
    schedule_at=maybe_float,
    expires_at=maybe_float,
    state=st.integers(0, 12),  # unknown states too
    final_at=maybe_float,
    error_code=st.integers(0, 2**31),
    sub_count=st.integers(1, 255),
    submitted_as=st.sampled_from(["submit_sm", "data_sm", "submit_multi"]),
)
items = st.builds(
    OutboxItem,
    item_id=text,
    system_id=text,
    kind=st.sampled_from([OutboxItem.RECEIPT, OutboxItem.MESSAGE]),
    message_id=text,
    pdu=st.binary(max_size=300),
    created_at=floats,
    expires_at=maybe_float,
    attempts=st.integers(0, 2**31),
    next_attempt_at=floats,
)


@settings(max_examples=50)
@given(st.lists(messages, max_size=3), st.lists(items, max_size=3))
def test_journal_lines_round_trip(ms: list[Message], os_: list[OutboxItem]) -> None:
    for raw in (add_line(ms), outbox_line("oput", os_)):
        assert raw.endswith(b"\n") and raw.count(b"\n") == 1 and raw.isascii()
    decoded = _parse(add_line(ms))
    assert [CURRENT.message(v) for v in decoded["m"]] == ms
    decoded = _parse(outbox_line("oput", os_))
    assert [CURRENT.outbox_item(v) for v in decoded["o"]] == os_
    if ms:
        decoded = json.loads(update_line(ms[0], os_))
        assert CURRENT.message(decoded["m"]) == ms[0]


@settings(max_examples=50)
@given(messages, items)
def test_records_of_another_field_order_decode_by_name(m: Message, o: OutboxItem) -> None:
    """A journal written by an smppd whose model listed the fields differently
    (here: reversed, and without the last field, which then takes its default)."""
    m_fields = list(reversed(MESSAGE_FIELDS[:-1]))
    o_fields = list(reversed(OUTBOX_FIELDS[:-1]))
    m_values = json.loads(add_line([m]))["m"][0]
    o_values = json.loads(outbox_line("oput", [o]))["o"][0]
    old = RecordDecoder(m_fields, o_fields)
    got = old.message(list(reversed(m_values[:-1])))
    assert got == attrs.evolve(m, submitted_as="submit_sm")
    assert old.outbox_item(list(reversed(o_values[:-1]))) == attrs.evolve(o, next_attempt_at=0.0)


@settings(max_examples=50)
@given(st.lists(messages, max_size=3, unique_by=lambda m: m.message_id))
def test_sqlite_rows_round_trip(ms: list[Message]) -> None:
    db = sqlite3.connect(":memory:")
    for statement in _SCHEMA:
        db.execute(statement)
    db.executemany(_INSERT_MESSAGE, map(message_row, ms))
    rows = db.execute("SELECT * FROM messages ORDER BY seq").fetchall()
    assert [message_from_row(r[1:]) for r in rows] == ms
    db.close()


@settings(max_examples=50)
@given(st.lists(items, max_size=3, unique_by=lambda i: i.item_id))
def test_sqlite_outbox_rows_round_trip(os_: list[OutboxItem]) -> None:
    db = sqlite3.connect(":memory:")
    for statement in _SCHEMA:
        db.execute(statement)
    db.executemany(_INSERT_OUTBOX, map(outbox_row, os_))
    got = [outbox_from_row(r) for r in db.execute(_SELECT_PENDING)]
    assert got == sorted(os_, key=lambda i: i.created_at)
    db.close()
