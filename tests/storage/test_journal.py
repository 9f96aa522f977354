from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_twisted
from twisted.internet import reactor

from smppd.model import StoreStats
from smppd.pdu.constants import MessageState
from smppd.storage import JournalStore, StoreError
from smppd.storage._journal_files import add_line
from tests.storage.contract import (
    HOUR,
    T0,
    BatchedWritesContract,
    clock_at,
    done,
    failure_of,
    settle,
)
from tests.storage.helpers import final, item, logged, message


def files_of(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.name != "LOCK")


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir())


def segments(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.name.startswith("segment-"))


class TestJournalStore(BatchedWritesContract):
    durable = True

    def make_store(self, path: Path, **options: Any) -> JournalStore:
        return JournalStore(str(path), reactor, **options)

    async def snapshot_of(self, s: JournalStore) -> tuple[Any, ...]:
        messages = [await s.get_message(f"m{i:06d}") for i in range(200)]
        return (
            messages,
            await s.unfinished_messages(),
            await s.outbox_pending(),
            await s.stats(),
        )

    # -- recovery ----------------------------------------------------------

    @pytest_twisted.ensureDeferred
    async def test_torn_last_line_is_truncated(self, clean_reactor: list[dict[str, Any]]) -> None:
        s = self.store()
        await s.add_messages([message(1), message(2)])
        await s.outbox_put([item(1)])
        await s.close()
        last = segments(self.path)[-1]
        good_size = last.stat().st_size
        whole = json.dumps({"op": "add", "m": [{"message_id": "torn", "system_id": "x"}]})
        with open(last, "ab") as f:
            f.write(whole[:40].encode())  # a crash in the middle of a write

        s = self.store()
        assert await s.get_message("m000001") == message(1)
        assert await s.get_message("m000002") == message(2)
        assert await s.outbox_pending() == [item(1)]
        assert await s.get_message("torn") is None
        assert last.stat().st_size == good_size
        assert any("torn tail" in line and last.name in line for line in logged(clean_reactor))
        # and the journal goes on from there
        await s.add_messages([message(3)])
        s = await self.reopen(s)
        assert (await s.stats()).messages == 3

    @pytest_twisted.ensureDeferred
    async def test_complete_record_without_newline_was_never_acknowledged(self) -> None:
        s = self.store()
        await s.add_messages([message(1)])
        await s.close()
        last = segments(self.path)[-1]
        good_size = last.stat().st_size
        with open(last, "ab") as f:
            f.write(add_line([message(2)])[:-1])
        s = self.store()
        assert await s.get_message("m000002") is None
        assert await s.get_message("m000001") == message(1)
        assert last.stat().st_size == good_size

    @pytest_twisted.ensureDeferred
    async def test_garbage_followed_by_records_refuses_to_open(self) -> None:
        s = self.store()
        await s.add_messages([message(1)])
        await s.close()
        last = segments(self.path)[-1]
        with open(last, "ab") as f:
            f.write(b"\x00\x00garbage\n")
            f.write(add_line([message(2)]))
        s = self.store()
        e = await failure_of(s.open())
        assert isinstance(e, StoreError)
        assert "refusing to guess" in str(e)

    @pytest_twisted.ensureDeferred
    async def test_a_journal_of_a_newer_format_is_refused(self) -> None:
        self.path.mkdir()
        (self.path / "segment-00000001.jsonl").write_bytes(b'{"op":"hdr","format":99}\n')
        s = self.store()
        e = await failure_of(s.open())
        assert isinstance(e, StoreError)
        assert "newer" in str(e)

    @pytest_twisted.ensureDeferred
    async def test_a_second_store_on_the_same_directory_is_refused(self) -> None:
        s = self.store()
        await s.open()
        other = self.store()
        e = await failure_of(other.open())
        assert isinstance(e, StoreError)
        assert "in use" in str(e)

    @pytest_twisted.ensureDeferred
    async def test_calls_made_before_the_open_completes_keep_their_order(self) -> None:
        s = self.store()
        calls = [
            s.add_messages([message(1)]),
            s.update_message(final(message(1)), [item(1)]),
            s.get_message("m000001"),
            s.outbox_remove(["o000001"]),
            s.stats(),
        ]
        results = [await d for d in calls]
        assert results[2] == final(message(1))
        assert results[4] == StoreStats(messages=1, unfinished=0, outbox=0)

    # -- failures ----------------------------------------------------------

    @pytest_twisted.ensureDeferred
    async def test_check_fails_when_the_segment_is_deleted(self) -> None:
        s = self.store()
        await s.add_messages([message(1)])
        await s.check()
        for p in segments(self.path):
            p.unlink()
        e = await failure_of(s.check())
        assert isinstance(e, StoreError)
        assert "deleted" in str(e)

    @pytest_twisted.ensureDeferred
    async def test_a_write_error_fails_the_store(self, clean_reactor: list[dict[str, Any]]) -> None:
        s = self.store()
        await s.add_messages([message(1)])

        def broken(fd: int, data: bytes) -> None:
            raise OSError(28, "No space left on device")

        s._backend._write_all = broken  # the writer thread's next write fails
        e = await failure_of(s.add_messages([message(2)]))
        assert isinstance(e, StoreError)
        assert "No space left" in str(e)
        assert isinstance(await failure_of(s.add_messages([message(3)])), StoreError)
        assert isinstance(await failure_of(s.check()), StoreError)
        assert any("refusing writes" in line for line in logged(clean_reactor))
        await s.close()
        del s._backend._write_all
        s = self.store()
        assert await s.get_message("m000001") == message(1)
        assert await s.get_message("m000002") is None

    # -- rotation and compaction --------------------------------------------

    @pytest_twisted.ensureDeferred
    async def test_rotation(self) -> None:
        s = self.store(max_segment_bytes=1000)
        for i in range(60):
            await s.add_messages([message(i)])
        assert len(segments(self.path)) >= 8
        for p in segments(self.path)[:-1]:
            # a segment ends at the first batch that takes it past the limit
            assert p.stat().st_size < 1000 + 1000
        s = await self.reopen(s, max_segment_bytes=1000)
        assert (await s.stats()).messages == 60
        assert [await s.get_message(f"m{i:06d}") for i in range(60)] == [
            message(i) for i in range(60)
        ]

    async def churn(self, s: JournalStore, rounds: int) -> None:
        """Many records for little live data: updates of the same messages."""
        await s.add_messages([message(i) for i in range(20)])
        for r in range(rounds):
            await s.update_message(message(r % 20, error_code=r))
            await s.outbox_put([item(1000 + r)])
            await s.outbox_remove([f"o{1000 + r:06d}"])
        await s.update_message(final(message(3)), [item(3)])

    @pytest_twisted.ensureDeferred
    async def test_compaction_shrinks_and_keeps_the_state(self) -> None:
        options = {"max_segment_bytes": 4096, "compact_min_bytes": 1 << 30, "fsync": False}
        s = self.store(**options)  # no automatic compaction
        await self.churn(s, 300)
        before_size = size_of(self.path)
        before_segments = len(segments(self.path))
        expected = await self.snapshot_of(s)
        assert before_segments > 3

        await s.compact()
        assert s.compactions == 1
        names = files_of(self.path)
        snapshots = [n for n in names if n.startswith("snapshot-")]
        assert len(snapshots) == 1
        assert len(segments(self.path)) == 1  # only the active one is left
        assert size_of(self.path) < before_size / 5
        assert await self.snapshot_of(s) == expected

        # writes after the compaction land in the new segment; all of it reopens
        await s.add_messages([message(100)])
        await s.update_message(final(message(4)), [item(4)])
        expected = await self.snapshot_of(s)
        s = await self.reopen(s, **options)
        assert await self.snapshot_of(s) == expected
        assert not [n for n in os.listdir(self.path) if n.endswith(".tmp")]

    @pytest_twisted.ensureDeferred
    async def test_compaction_runs_by_itself(self) -> None:
        options = {
            "max_segment_bytes": 8192,
            "compact_min_bytes": 0,
            "compact_ratio": 3.0,
            "fsync": False,
        }
        s = self.store(**options)
        await self.churn(s, 300)
        expected = await self.snapshot_of(s)
        await s.close()  # waits for a compaction still running
        assert s.compactions >= 1
        assert [n for n in files_of(self.path) if n.startswith("snapshot-")]
        s = self.store(**options)
        assert await self.snapshot_of(s) == expected

    @pytest_twisted.ensureDeferred
    async def test_writes_during_a_compaction_are_kept(self) -> None:
        s = self.store(compact_min_bytes=1 << 30)
        await self.churn(s, 50)
        compaction = s.compact()
        more = [s.add_messages([message(150 + i)]) for i in range(20)]
        more.append(s.update_message(final(message(5)), [item(5)]))
        second = s.compact()  # waits for the running one, starts none
        for d in more:
            await d
        await compaction
        await second
        assert s.compactions == 1
        expected = await self.snapshot_of(s)
        s = await self.reopen(s)
        assert await self.snapshot_of(s) == expected

    @pytest_twisted.ensureDeferred
    async def test_leftovers_of_an_interrupted_compaction_are_removed(self) -> None:
        s = self.store(compact_min_bytes=1 << 30)
        await self.churn(s, 20)
        await s.compact()
        await s.add_messages([message(120)])
        expected = await self.snapshot_of(s)
        await s.close()
        snapshot = next(p for p in self.path.iterdir() if p.name.startswith("snapshot-"))
        number = int(snapshot.name[len("snapshot-") : -len(".jsonl")])
        # a segment the snapshot replaced but which was not deleted yet, and a temp file
        (self.path / f"segment-{number:08d}.jsonl").write_bytes(b"stale, never read\n")
        (self.path / f"snapshot-{number + 5:08d}.jsonl.tmp").write_bytes(b"half a snap")
        s = self.store()
        assert await self.snapshot_of(s) == expected
        names = files_of(self.path)
        assert f"segment-{number:08d}.jsonl" not in names
        assert not [n for n in names if n.endswith(".tmp")]

    @pytest_twisted.ensureDeferred
    async def test_retention_drops_old_final_messages_at_compaction(self) -> None:
        s = self.store(compact_min_bytes=1 << 30, retention=3600.0)
        now = time.time()
        old = final(message(1))  # final_at in 2023
        recent = attrs.evolve(message(2), state=MessageState.DELIVERED, final_at=now)
        unfinished = message(3)
        await s.add_messages([old, recent, unfinished])
        await s.compact()
        assert await s.get_message("m000001") is None
        assert await s.get_message("m000002") == recent
        assert await s.get_message("m000003") == unfinished
        s = await self.reopen(s)
        assert await s.stats() == StoreStats(messages=2, unfinished=1, outbox=0)

    @pytest_twisted.ensureDeferred
    async def test_retention_is_made_permanent_by_compaction(self) -> None:
        clock = clock_at(T0 + 2 * HOUR)
        s = self.store(retention=HOUR, clock=clock, compact_min_bytes=1 << 30)
        await s.open()
        await s.add_messages([done(message(1), T0), done(message(2), T0 + 1.5 * HOUR), message(3)])
        await settle(s, clock, 60)
        assert s.pruned == 1
        # not journaled: a store reopened without retention reads it again ...
        s = await self.reopen(s, retention=None)
        assert (await s.get_message("m000001")) == done(message(1), T0)
        s = await self.reopen(s, retention=HOUR, clock=clock, compact_min_bytes=1 << 30)
        assert await s.get_message("m000001") is None  # dropped at the replay
        assert s.pruned == 1
        # ... until a compaction leaves it out of the snapshot
        await s.compact()
        s = await self.reopen(s, retention=None)
        assert await s.get_message("m000001") is None
        assert await s.stats() == StoreStats(messages=2, unfinished=1, outbox=0)

    @pytest_twisted.ensureDeferred
    async def test_pruning_brings_compaction_sooner(self) -> None:
        clock = clock_at(T0 + 2 * HOUR)
        s = self.store(retention=HOUR, clock=clock, compact_min_bytes=1, compact_ratio=2.0)
        await s.open()
        await s.add_messages([message(i) for i in range(100)])
        await s.update_messages([(done(message(i), T0), []) for i in range(100)])
        assert s.compactions == 0  # 200 records, 100 live
        await settle(s, clock, 60)
        assert s.pruned == 100
        await s.add_messages([message(100)])  # the batch after it sees 201 records, 1 live
        await s.check()  # one more batch: the hook after the add's batch has run
        assert s._compaction is not None  # a compaction started by itself
        await s.compact()  # waits for it
        assert s.compactions == 1
        s = await self.reopen(s, retention=None)
        assert await s.stats() == StoreStats(messages=1, unfinished=1, outbox=0)

    def test_bad_options(self) -> None:
        for options in ({"max_segment_bytes": 0}, {"compact_ratio": 1.0}, {"retention": -1.0}):
            with pytest.raises(ValueError):
                JournalStore(str(self.path), reactor, **options)
