"""A message reaching its final state must not change a record a store
thread is still reading (issue 11).

The journal's compaction hands the live messages to a thread of its own,
which encodes them into the snapshot; the SQLite writer encodes messages in
its thread. ``Smsc.finish_many`` used to set the final state on the very
Message object the store had been given, so a snapshot being written could
pick up a final state the journal had not been told (or had refused) yet.
Here the snapshot thread is held on an Event while the SMSC finishes the
message; the snapshot must hold the message as the lines it replaces say.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import attrs
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from smppd.pdu.constants import MessageState
from smppd.server.smsc import Smsc
from smppd.storage import JournalStore
from smppd.storage import _journal_files as files
from smppd.storage._codec import MESSAGE_FIELDS
from tests.storage.helpers import message


@pytest_twisted.ensureDeferred
async def test_a_message_finished_while_the_snapshot_thread_reads_it(tmp_path: Path, monkeypatch: Any, clean_reactor: Any) -> None:
    store = JournalStore(str(tmp_path), reactor, compact_min_bytes=1 << 30)
    clock = Clock()
    clock.advance(1_764_000_000)
    smsc = Smsc(clock, store, None)
    m = attrs.evolve(message(1), registered_delivery=0, expires_at=None, schedule_at=None)
    await store.add_messages([m])
    smsc.unfinished[m.message_id] = m

    entered: Deferred[None] = Deferred()
    release = threading.Event()
    real = files.write_snapshot

    def held(*args: Any) -> Any:
        reactor.callFromThread(entered.callback, None)
        assert release.wait(30), "never released"
        return real(*args)

    monkeypatch.setattr(files, "write_snapshot", held)
    try:
        compaction = store.compact()
        await entered  # the thread has the messages and waits
        try:
            await smsc.finish(m, MessageState.DELIVERED)
        finally:
            release.set()
        await compaction
    except BaseException:
        await store.close()
        raise

    (snapshot,) = [p for p in tmp_path.iterdir() if p.name.startswith("snapshot-") and p.name.endswith(".jsonl")]
    rows = [row for line in snapshot.read_text().splitlines() for op in [json.loads(line)] if op["op"] == "add" for row in op["m"]]
    (row,) = rows
    assert row[MESSAGE_FIELDS.index("state")] == MessageState.ENROUTE
    assert row[MESSAGE_FIELDS.index("final_at")] is None
    # ...and the final state is what the store gives back, now and after a restart.
    assert (await store.get_message(m.message_id)).state == MessageState.DELIVERED
    await store.close()
    reopened = JournalStore(str(tmp_path), reactor)
    assert (await reopened.get_message(m.message_id)).state == MessageState.DELIVERED
    await reopened.close()


def test_finished_copies_every_field() -> None:
    from smppd.model import Message, finished

    m = attrs.evolve(message(7), schedule_at=1.5, expires_at=2.5, sub_count=3, submitted_as="data_sm")
    assert finished(m, MessageState.EXPIRED, 9.5, 4) == attrs.evolve(m, state=MessageState.EXPIRED, final_at=9.5, error_code=4)
    assert len(attrs.fields(Message)) == 24  # a new field belongs in finished() too
    assert m.state == MessageState.ENROUTE  # the original is left as it was
