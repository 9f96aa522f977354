from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_twisted
from twisted.internet import reactor

from smppd.model import StoreStats
from smppd.storage import SqliteStore, StoreError
from smppd.storage import sqlite as sqlite_store
from tests.storage.contract import HOUR, T0, BatchedWritesContract, clock_at, failure_of
from tests.storage.helpers import final, item, message


class TestSqliteStore(BatchedWritesContract):
    durable = True

    def make_store(self, path: Path, **options: Any) -> SqliteStore:
        return SqliteStore(str(path / "messages.sqlite"), reactor, **options)

    @pytest_twisted.ensureDeferred
    async def test_open_creates_the_directory_and_schema(self) -> None:
        s = self.store()
        assert not self.path.exists()
        await s.open()
        await s.close()
        db = sqlite3.connect(self.path / "messages.sqlite")
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            assert {"schema_version", "messages", "outbox", "messages_unfinished"} <= tables
            assert db.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            db.close()

    @pytest_twisted.ensureDeferred
    async def test_sync_full(self) -> None:
        s = self.store(sync="full")
        await s.add_messages([message(1)])
        s = await self.reopen(s, sync="full")
        assert await s.get_message("m000001") == message(1)

    def test_bad_sync(self) -> None:
        with pytest.raises(ValueError):
            SqliteStore("x.sqlite", reactor, sync="sometimes")

    @pytest_twisted.ensureDeferred
    async def test_check_fails_when_the_file_is_deleted(self) -> None:
        s = self.store()
        await s.add_messages([message(1)])
        await s.check()
        os.unlink(self.path / "messages.sqlite")
        e = await failure_of(s.check())
        assert isinstance(e, StoreError)
        assert "gone" in str(e)

    @pytest_twisted.ensureDeferred
    async def test_check_fails_when_the_file_is_replaced(self) -> None:
        s = self.store()
        await s.check()
        db = self.path / "messages.sqlite"
        os.rename(db, self.path / "moved.sqlite")
        db.write_bytes(b"")
        e = await failure_of(s.check())
        assert isinstance(e, StoreError)
        assert "replaced" in str(e)

    @pytest_twisted.ensureDeferred
    async def test_cannot_open(self) -> None:
        (self.path / "messages.sqlite").mkdir(parents=True)  # a directory, not a file
        s = self.store()
        e = await failure_of(s.open())
        assert isinstance(e, StoreError)
        assert "messages.sqlite" in str(e)
        # every call fails the same way, check included
        assert isinstance(await failure_of(s.add_messages([message(1)])), StoreError)
        assert isinstance(await failure_of(s.check()), StoreError)
        await s.close()

    @pytest_twisted.ensureDeferred
    async def test_newer_schema_refused(self) -> None:
        s = self.store()
        await s.open()
        await s.close()
        db = sqlite3.connect(self.path / "messages.sqlite")
        with db:
            db.execute("UPDATE schema_version SET version = 99")
        db.close()
        s = self.store()
        e = await failure_of(s.open())
        assert isinstance(e, StoreError)
        assert "99" in str(e)

    @pytest_twisted.ensureDeferred
    async def test_a_version_1_database_is_upgraded_at_open(self) -> None:
        """Version 2 added messages.submitted_as; a version 1 file gets the
        column, its messages read as submitted with submit_sm."""
        s = self.store()
        await s.open()
        await s.add_messages([message(3)])
        await s.close()
        db = sqlite3.connect(self.path / "messages.sqlite")
        with db:
            db.execute("ALTER TABLE messages DROP COLUMN submitted_as")  # as version 1 wrote it
            db.execute("UPDATE schema_version SET version = 1")
        db.close()
        s = self.store()
        await s.open()
        got = await s.get_message(message(3).message_id)
        assert got == message(3) and got.submitted_as == "submit_sm"
        await s.add_messages([attrs.evolve(message(2), submitted_as="data_sm")])
        assert (await s.get_message(message(2).message_id)).submitted_as == "data_sm"
        await s.close()
        db = sqlite3.connect(self.path / "messages.sqlite")
        try:
            assert db.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
        finally:
            db.close()

    @pytest_twisted.ensureDeferred
    async def test_stats_counts_survive_reopen(self) -> None:
        s = self.store()
        await s.add_messages([message(i) for i in range(100)])
        await s.update_message(final(message(5)), [item(5)])
        s = await self.reopen(s)
        assert await s.stats() == StoreStats(messages=100, unfinished=99, outbox=1)
        await s.add_messages([message(100)])
        assert (await s.stats()).messages == 101

    @pytest_twisted.ensureDeferred
    async def test_reads_see_earlier_writes_of_the_same_batch(self) -> None:
        s = self.store()
        await s.open()
        s.writer.pause()
        added = s.add_messages([message(1)])
        got = s.get_message("m000001")
        stats = s.stats()
        s.writer.resume()
        await added
        assert await got == message(1)
        assert (await stats).messages == 1

    # -- retention ----------------------------------------------------------

    def indexes(self) -> set[str]:
        db = sqlite3.connect(self.path / "messages.sqlite")
        try:
            return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        finally:
            db.close()

    @pytest_twisted.ensureDeferred
    async def test_final_at_index_is_added_to_an_older_database(self) -> None:
        s = self.store()
        await s.add_messages([final(message(1))])
        await s.close()
        assert "messages_final_at" in self.indexes()
        db = sqlite3.connect(self.path / "messages.sqlite")
        with db:
            db.execute("DROP INDEX messages_final_at")  # as a database of an earlier smppd
        db.close()
        s = self.store(retention=1.0, clock=clock_at(T0 + HOUR))
        await s.open()
        assert await s.get_message("m000001") is None  # the round at the open used it
        await s.close()
        assert "messages_final_at" in self.indexes()

    def test_pruning_uses_the_final_at_index(self, tmp_path: Path) -> None:
        db = sqlite3.connect(tmp_path / "plan.sqlite")
        try:
            for statement in (*sqlite_store._SCHEMA, *sqlite_store._INDEXES):
                db.execute(statement)
            plan = " ".join(str(r) for r in db.execute(f"EXPLAIN QUERY PLAN {sqlite_store._PRUNE_FINAL}", (1.0, 10)))
        finally:
            db.close()
        assert "USING INDEX messages_final_at (final_at<?)" in plan

    @pytest_twisted.ensureDeferred
    async def test_pruning_deletes_in_bounded_transactions(self) -> None:
        clock = clock_at(T0 + HOUR)
        s = self.store(retention=60.0, clock=clock, prune_batch=4)
        await s.open()  # the round at the open: nothing yet
        await s.add_messages([final(message(i)) for i in range(10)] + [message(10)])
        before = s.commits
        assert await s.prune() == 10
        assert s.commits - before == 3  # 4 + 4 + 2 rows: one transaction each
        s = await self.reopen(s)
        assert await s.stats() == StoreStats(messages=1, unfinished=1, outbox=0)
