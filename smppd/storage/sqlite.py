"""SqliteStore: the embedded durable :class:`~smppd.interfaces.IMessageStore`.

One writer thread owns the only ``sqlite3`` connection; the reactor thread
never touches the database. Every call is queued and the writer runs all the
queued calls as one transaction with one commit (group commit, see
:mod:`smppd.storage._batch`), then their Deferreds fire on the reactor thread.

Reads go through the same thread and the same queue. A second, read-only
connection would let reads overtake writes: a ``get_message`` issued right
after ``add_messages`` could miss the message. Through the queue, every
caller sees its own writes in order, and reads are rare (recovery at start,
query_sm, stats), so they cost the writer little.

Durability (``sync``):

- ``"normal"`` (default): WAL with ``synchronous=NORMAL``. A commit is in the
  operating system's hands when its Deferred fires: it survives the process
  being killed (``kill -9``, a crash), not a power loss or kernel panic,
  which may lose the last commits (never corrupts the database).
- ``"full"``: WAL with ``synchronous=FULL``: the WAL is fsynced at every
  commit, so an acknowledged write survives a power loss too. One fsync per
  batch, not per message.

Retention (``retention`` seconds): final messages whose ``final_at`` is older
are deleted, ``prune_batch`` rows per operation on the writer thread (like
any other call, so it joins the group commit), through a partial index on
``final_at``. Deleted rows leave free pages that new rows reuse: the file
stops growing, it does not shrink (``VACUUM`` it offline for that).
"""

from __future__ import annotations

import contextlib
import operator
import os
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from smppd.interfaces import IMessageStore
from smppd.model import FINAL_STATES, Message, OutboxItem, StoreStats
from smppd.storage._batch import BatchWriter, Failed, WriterStore, resolve_reactor
from smppd.storage._codec import (
    MESSAGE_FIELDS,
    OUTBOX_FIELDS,
    message_from_row,
    message_row,
    outbox_from_row,
    outbox_row,
)
from smppd.storage._retention import PRUNE_INTERVAL, Pruner
from smppd.storage.errors import StoreError

log = Logger()

SCHEMA_VERSION = 2
# Older versions this smppd upgrades at open, each step in one transaction.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE messages ADD COLUMN submitted_as TEXT NOT NULL DEFAULT 'submit_sm'",),
}

_MESSAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("message_id", "TEXT NOT NULL"),
    ("system_id", "TEXT NOT NULL"),
    ("service_type", "TEXT NOT NULL"),
    ("source_addr_ton", "INTEGER NOT NULL"),
    ("source_addr_npi", "INTEGER NOT NULL"),
    ("source_addr", "TEXT NOT NULL"),
    ("dest_addr_ton", "INTEGER NOT NULL"),
    ("dest_addr_npi", "INTEGER NOT NULL"),
    ("destination_addr", "TEXT NOT NULL"),
    ("esm_class", "INTEGER NOT NULL"),
    ("protocol_id", "INTEGER NOT NULL"),
    ("priority_flag", "INTEGER NOT NULL"),
    ("registered_delivery", "INTEGER NOT NULL"),
    ("data_coding", "INTEGER NOT NULL"),
    ("short_message", "BLOB NOT NULL"),
    ("tlvs", "BLOB NOT NULL"),
    ("submitted_at", "REAL NOT NULL"),
    ("schedule_at", "REAL"),
    ("expires_at", "REAL"),
    ("state", "INTEGER NOT NULL"),
    ("final_at", "REAL"),
    ("error_code", "INTEGER NOT NULL"),
    ("sub_count", "INTEGER NOT NULL"),
    ("submitted_as", "TEXT NOT NULL DEFAULT 'submit_sm'"),  # schema version 2
)
_OUTBOX_COLUMNS: tuple[tuple[str, str], ...] = (
    ("item_id", "TEXT NOT NULL"),
    ("system_id", "TEXT NOT NULL"),
    ("kind", "TEXT NOT NULL"),
    ("message_id", "TEXT NOT NULL"),
    ("pdu", "BLOB NOT NULL"),
    ("created_at", "REAL NOT NULL"),
    ("expires_at", "REAL"),
    ("attempts", "INTEGER NOT NULL"),
    ("next_attempt_at", "REAL NOT NULL"),
)
# The columns follow the model field by field; a model change must come with
# a schema change (and a migration), never silently.
if tuple(name for name, _ in _MESSAGE_COLUMNS) != MESSAGE_FIELDS:
    raise ImportError("smppd.storage.sqlite: messages columns differ from Message fields")
if tuple(name for name, _ in _OUTBOX_COLUMNS) != OUTBOX_FIELDS:
    raise ImportError("smppd.storage.sqlite: outbox columns differ from OutboxItem fields")

# The same text in the partial index and in the queries, so sqlite uses the index.
_FINAL_CODES = ",".join(str(int(s)) for s in sorted(FINAL_STATES))
_UNFINISHED = f"state NOT IN ({_FINAL_CODES})"


def _columns(columns: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{name} {decl}" for name, decl in columns)


_SCHEMA = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    f"CREATE TABLE messages (seq INTEGER PRIMARY KEY, {_columns(_MESSAGE_COLUMNS)})",
    "CREATE UNIQUE INDEX messages_by_id ON messages (message_id)",
    f"CREATE INDEX messages_unfinished ON messages (seq) WHERE {_UNFINISHED}",
    f"CREATE TABLE outbox (seq INTEGER PRIMARY KEY, {_columns(_OUTBOX_COLUMNS)})",
    "CREATE UNIQUE INDEX outbox_by_id ON outbox (item_id)",
)
# Added to schema version 1 later: created at open where missing (an older
# smppd keeps it up to date without knowing it). The first open of a large
# database that lacks it takes a while: it is built then.
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS messages_final_at ON messages (final_at) WHERE final_at IS NOT NULL",
)

_M_COLS = ", ".join(MESSAGE_FIELDS)
_O_COLS = ", ".join(OUTBOX_FIELDS)
_M_MARKS = ", ".join("?" * len(MESSAGE_FIELDS))
_O_MARKS = ", ".join("?" * len(OUTBOX_FIELDS))
# the key comes first in a row: SET every other column, then WHERE key = ?
_M_SETS = ", ".join(f"{name} = ?" for name in MESSAGE_FIELDS[1:])
_O_SETS = ", ".join(f"{name} = ?" for name in OUTBOX_FIELDS[1:])

_INSERT_MESSAGE = f"INSERT INTO messages ({_M_COLS}) VALUES ({_M_MARKS})"
_UPDATE_MESSAGE = f"UPDATE messages SET {_M_SETS} WHERE message_id = ?"
# finish_messages: only what a final state changes (a third of the update's cost)
_FINISH_MESSAGE = "UPDATE messages SET state = ?, final_at = ?, error_code = ? WHERE message_id = ?"
_finish_row: Callable[[Message], tuple[Any, ...]] = operator.attrgetter("state", "final_at", "error_code", "message_id")
_SELECT_MESSAGE = f"SELECT {_M_COLS} FROM messages WHERE message_id = ?"
_SELECT_UNFINISHED = f"SELECT {_M_COLS} FROM messages WHERE {_UNFINISHED} ORDER BY seq"
_COUNT_UNFINISHED = f"SELECT COUNT(*) FROM messages WHERE {_UNFINISHED}"
_INSERT_OUTBOX = f"INSERT INTO outbox ({_O_COLS}) VALUES ({_O_MARKS})"
_UPDATE_OUTBOX = f"UPDATE outbox SET {_O_SETS} WHERE item_id = ?"
_DELETE_OUTBOX = "DELETE FROM outbox WHERE item_id = ?"
_SELECT_PENDING = f"SELECT {_O_COLS} FROM outbox ORDER BY created_at, seq"
# oldest first through messages_final_at (final_at < ? implies IS NOT NULL)
_PRUNE_FINAL = (
    "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages"
    f" WHERE final_at < ? AND state IN ({_FINAL_CODES}) ORDER BY final_at LIMIT ?)"
)

# operation kinds (the first element of every queued op)
(_ADD, _UPDATE, _OPUT, _OUPDATE, _OREMOVE, _GET, _UNFIN, _PENDING, _STATS, _CHECK, _UPDATES, _PRUNE, _FINISHES) = range(13)

Op = tuple[int, Any]

_SYNC_MODES = {"normal": "NORMAL", "full": "FULL"}


def _weight(op: Op) -> int:
    kind, payload = op
    if kind in (_ADD, _OPUT, _OUPDATE, _OREMOVE):
        return max(len(payload), 1)
    if kind == _UPDATE:
        return 1 + len(payload[1])
    if kind in (_UPDATES, _FINISHES):
        return sum(1 + len(items) for _, items in payload)
    if kind == _PRUNE:
        return int(payload[1])  # the rows it may delete
    return 1


def _is_system_error(e: BaseException) -> bool:
    """An error of the database itself (disk, I/O, lock, corruption), as
    opposed to one caused by a single operation (constraint, bad value)."""
    return isinstance(e, (sqlite3.OperationalError, sqlite3.InternalError)) or (
        type(e) is sqlite3.DatabaseError
    )


def _update_row(message: Message) -> tuple[Any, ...]:
    row = message_row(message)
    return row[1:] + row[:1]


def _outbox_update_row(item: OutboxItem) -> tuple[Any, ...]:
    row = outbox_row(item)
    return row[1:] + row[:1]


class _SqliteBackend:
    """The writer thread's side: owns the connection. Thread-confined."""

    def __init__(self, path: str, sync: str) -> None:
        self.path = path
        self.sync = sync
        self.conn: sqlite3.Connection | None = None
        self.messages = 0  # rows in messages, kept so stats() never scans the table
        self.identity: tuple[int, int] | None = None
        self._handlers: dict[int, Callable[[Any], object]] = {
            _UPDATE: self._update,
            _UPDATES: self._update_many,
            _FINISHES: self._finish_many,
            _OPUT: self._outbox_put,
            _OUPDATE: self._outbox_update,
            _OREMOVE: self._outbox_remove,
            _GET: self._get,
            _UNFIN: self._unfinished,
            _PENDING: self._pending,
            _STATS: self._stats,
            _CHECK: self._check,
            _PRUNE: self._prune,
        }

    # -- lifecycle --------------------------------------------------------

    def open(self) -> int:
        parent = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(parent, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open sqlite store {self.path}: {e}") from None
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"sqlite store {self.path}: WAL mode refused ({mode})")
            conn.execute(f"PRAGMA synchronous={_SYNC_MODES[self.sync]}")
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute("PRAGMA cache_size=-32768")  # 32 MiB
            # checkpoint (and fsync) every ~40 MiB of WAL rather than every 4 MiB
            conn.execute("PRAGMA wal_autocheckpoint=10000")
            conn.execute("PRAGMA journal_size_limit=67108864")  # truncate the WAL to 64 MiB
            conn.execute("BEGIN IMMEDIATE")
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            ).fetchone()
            if exists is None:
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
                for statement in _INDEXES:
                    conn.execute(statement)
            else:
                row = conn.execute("SELECT version FROM schema_version").fetchone()
                found = None if row is None else row[0]
                while found in _MIGRATIONS:
                    log.info("sqlite store {path}: upgrading schema {v} to {w}", path=self.path, v=found, w=found + 1)
                    for statement in _MIGRATIONS[found]:
                        conn.execute(statement)
                    found += 1
                    conn.execute("UPDATE schema_version SET version = ?", (found,))
                if found != SCHEMA_VERSION:
                    raise StoreError(
                        f"sqlite store {self.path} has schema version {found},"
                        f" this smppd knows {SCHEMA_VERSION}"
                    )
                for statement in _INDEXES:
                    conn.execute(statement)
            conn.execute("COMMIT")
            self.messages = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
            st = os.stat(self.path)
        except StoreError:
            conn.close()
            raise
        except (OSError, sqlite3.Error) as e:
            conn.close()
            raise StoreError(f"cannot open sqlite store {self.path}: {e}") from None
        self.identity = (st.st_dev, st.st_ino)
        self.conn = conn
        return self.messages

    def close(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            try:
                conn.close()
            except sqlite3.Error as e:
                raise StoreError(f"closing sqlite store {self.path}: {e}") from None

    # -- batches ----------------------------------------------------------

    def run_batch(self, ops: Sequence[Op]) -> tuple[list[object], object]:
        conn = self.conn
        assert conn is not None
        counted = self.messages
        try:
            conn.execute("BEGIN")
            outcomes = self._run_all(conn, ops)
            conn.execute("COMMIT")
            return outcomes, None
        except Exception as e:
            self._rollback(conn)
            self.messages = counted
            if _is_system_error(e):
                return self._fail_all(ops, e)
        # One operation broke a constraint (or carried a bad value): run them
        # again one by one, each in a savepoint, so only that one fails.
        try:
            conn.execute("BEGIN")
            outcomes = self._run_each(conn, ops)
            conn.execute("COMMIT")
            return outcomes, None
        except Exception as e:
            self._rollback(conn)
            self.messages = counted
            return self._fail_all(ops, e)

    def _fail_all(self, ops: Sequence[Op], e: BaseException) -> tuple[list[object], object]:
        error = StoreError(f"sqlite store {self.path}: {e}")
        return [Failed(error)] * len(ops), error

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def _run_all(self, conn: sqlite3.Connection, ops: Sequence[Op]) -> list[object]:
        """The fast path: consecutive add_messages, update_message and
        outbox_remove calls each become one executemany (a constraint broken
        anywhere sends the batch to :meth:`_run_each`, which finds the call)."""
        outcomes: list[object] = []
        handlers = self._handlers
        i = 0
        n = len(ops)
        while i < n:
            kind, payload = ops[i]
            if kind == _ADD:
                rows: list[tuple[Any, ...]] = []
                j = i
                while j < n and ops[j][0] == _ADD:
                    rows.extend(map(message_row, ops[j][1]))
                    j += 1
                conn.executemany(_INSERT_MESSAGE, rows)
                self.messages += len(rows)
                outcomes.extend([None] * (j - i))
                i = j
            elif kind in (_UPDATE, _UPDATES, _FINISHES):
                updates: list[tuple[Any, ...]] = []
                items: list[tuple[Any, ...]] = []
                same, statement, to_row = (
                    ((_FINISHES,), _FINISH_MESSAGE, _finish_row)
                    if kind == _FINISHES
                    else ((_UPDATE, _UPDATES), _UPDATE_MESSAGE, _update_row)
                )
                j = i
                while j < n and ops[j][0] in same:
                    pairs = (ops[j][1],) if ops[j][0] == _UPDATE else ops[j][1]
                    for message, its in pairs:
                        updates.append(to_row(message))
                        if its:
                            items.extend(map(outbox_row, its))
                    j += 1
                if conn.executemany(statement, updates).rowcount != len(updates):
                    raise StoreError("update of an unknown message_id")
                if items:
                    conn.executemany(_INSERT_OUTBOX, items)
                outcomes.extend([None] * (j - i))
                i = j
            elif kind == _OREMOVE:
                ids: list[tuple[str]] = []
                j = i
                while j < n and ops[j][0] == _OREMOVE:
                    ids.extend((item_id,) for item_id in ops[j][1])
                    j += 1
                conn.executemany(_DELETE_OUTBOX, ids)
                outcomes.extend([None] * (j - i))
                i = j
            else:
                outcomes.append(handlers[kind](payload))
                i += 1
        return outcomes

    def _run_each(self, conn: sqlite3.Connection, ops: Sequence[Op]) -> list[object]:
        outcomes: list[object] = []
        for kind, payload in ops:
            counted = self.messages
            conn.execute("SAVEPOINT op")
            try:
                if kind == _ADD:
                    self._add(payload)
                    outcome = None
                else:
                    outcome = self._handlers[kind](payload)
            except Exception as e:
                if _is_system_error(e):
                    raise
                conn.execute("ROLLBACK TO op")
                self.messages = counted
                outcome = Failed(self._explain(kind, payload, e))
            conn.execute("RELEASE op")
            outcomes.append(outcome)
        return outcomes

    def _explain(self, kind: int, payload: Any, e: Exception) -> StoreError:
        if isinstance(e, StoreError):
            return e
        if isinstance(e, sqlite3.IntegrityError):
            conn = self.conn
            assert conn is not None
            if kind == _ADD:
                ids = [m.message_id for m in payload]
                if len(set(ids)) != len(ids):
                    return StoreError("message_id repeated within one add_messages call")
                for message_id in ids:
                    if conn.execute(_SELECT_MESSAGE, (message_id,)).fetchone() is not None:
                        return StoreError(f"message_id already stored: {message_id!r}")
            if kind in (_OPUT, _UPDATE, _UPDATES, _FINISHES):
                items = (
                    payload
                    if kind == _OPUT
                    else payload[1]
                    if kind == _UPDATE
                    else [i for _, its in payload for i in its]
                )
                item_ids = [item.item_id for item in items]
                if len(set(item_ids)) != len(item_ids):
                    return StoreError("item_id repeated within one outbox call")
                for item_id in item_ids:
                    found = conn.execute("SELECT 1 FROM outbox WHERE item_id = ?", (item_id,))
                    if found.fetchone() is not None:
                        return StoreError(f"outbox item_id already stored: {item_id!r}")
        return StoreError(f"{type(e).__name__}: {e}")

    # -- operations (writer thread, inside a transaction) -----------------

    def _add(self, messages: Sequence[Message]) -> None:
        assert self.conn is not None
        self.conn.executemany(_INSERT_MESSAGE, map(message_row, messages))
        self.messages += len(messages)

    def _update(self, payload: tuple[Message, Sequence[OutboxItem]]) -> None:
        conn = self.conn
        assert conn is not None
        message, items = payload
        if conn.execute(_UPDATE_MESSAGE, _update_row(message)).rowcount != 1:
            raise StoreError(f"update of an unknown message_id: {message.message_id!r}")
        if items:
            conn.executemany(_INSERT_OUTBOX, map(outbox_row, items))

    def _update_many(self, pairs: Sequence[tuple[Message, Sequence[OutboxItem]]]) -> None:
        for pair in pairs:
            self._update(pair)

    def _finish_many(self, pairs: Sequence[tuple[Message, Sequence[OutboxItem]]]) -> None:
        conn = self.conn
        assert conn is not None
        for message, items in pairs:
            if conn.execute(_FINISH_MESSAGE, _finish_row(message)).rowcount != 1:
                raise StoreError(f"update of an unknown message_id: {message.message_id!r}")
            if items:
                conn.executemany(_INSERT_OUTBOX, map(outbox_row, items))

    def _outbox_put(self, items: Sequence[OutboxItem]) -> None:
        assert self.conn is not None
        self.conn.executemany(_INSERT_OUTBOX, map(outbox_row, items))

    def _outbox_update(self, items: Sequence[OutboxItem]) -> None:
        assert self.conn is not None
        self.conn.executemany(_UPDATE_OUTBOX, map(_outbox_update_row, items))

    def _outbox_remove(self, item_ids: Sequence[str]) -> None:
        assert self.conn is not None
        self.conn.executemany(_DELETE_OUTBOX, [(item_id,) for item_id in item_ids])

    def _get(self, message_id: str) -> Message | None:
        assert self.conn is not None
        row = self.conn.execute(_SELECT_MESSAGE, (message_id,)).fetchone()
        return None if row is None else message_from_row(row)

    def _unfinished(self, _: object) -> list[Message]:
        assert self.conn is not None
        return [message_from_row(row) for row in self.conn.execute(_SELECT_UNFINISHED)]

    def _pending(self, _: object) -> list[OutboxItem]:
        assert self.conn is not None
        return [outbox_from_row(row) for row in self.conn.execute(_SELECT_PENDING)]

    def _stats(self, _: object) -> StoreStats:
        conn = self.conn
        assert conn is not None
        return StoreStats(
            messages=self.messages,
            unfinished=conn.execute(_COUNT_UNFINISHED).fetchone()[0],
            outbox=conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0],
        )

    def _prune(self, payload: tuple[float, int]) -> int:
        assert self.conn is not None
        deleted: int = self.conn.execute(_PRUNE_FINAL, payload).rowcount
        self.messages -= deleted
        return deleted

    def _check(self, _: object) -> None:
        """The file must still be the one we opened, writable, and take a write
        (the write commits with the batch: a failing commit fails the check)."""
        try:
            st = os.stat(self.path)
        except OSError as e:
            raise StoreError(f"sqlite store {self.path} is gone: {e.strerror}") from None
        if (st.st_dev, st.st_ino) != self.identity:
            raise StoreError(f"sqlite store {self.path} was replaced since it was opened")
        if not os.access(self.path, os.W_OK):
            raise StoreError(f"sqlite store {self.path} is not writable")
        assert self.conn is not None
        self.conn.execute("UPDATE schema_version SET version = version")


@implementer(IMessageStore)
class SqliteStore(WriterStore[Op]):
    """A durable store in one SQLite file (WAL mode).

    Nothing happens at construction; the writer thread starts and the
    database opens (parent directory, schema) at :meth:`open` or at the first
    call, whichever comes first. :meth:`close` must be called (a service's
    ``stopService``): it runs every queued call, closes the database and
    joins the thread.

    - ``sync``: ``"normal"`` (default) or ``"full"`` (see the module).
    - ``batch_max``: rows (messages, outbox items) one transaction takes; a
      single larger call still runs whole.
    - ``retention``: seconds a final message is kept after ``final_at``;
      None or 0 (default): every message is kept.
    - ``prune_batch`` (default ``batch_max``): rows one pruning operation
      deletes at most; ``clock``: the ``IReactorTime`` pruning runs on
      (default ``reactor``).
    """

    durable = True

    def __init__(
        self,
        path: str,
        reactor: Any = None,
        *,
        sync: str = "normal",
        batch_max: int = 1000,
        retention: float | None = None,
        clock: Any = None,
        prune_batch: int | None = None,
        prune_interval: float = PRUNE_INTERVAL,
    ) -> None:
        if sync not in _SYNC_MODES:
            raise ValueError(f"sync must be 'normal' or 'full', not {sync!r}")
        reactor = resolve_reactor(reactor)
        self.path = path
        self.sync = sync
        self._pruner = Pruner(
            f"sqlite store {path}",
            reactor if clock is None else clock,
            retention,
            self._prune,
            batch=batch_max if prune_batch is None else prune_batch,
            interval=prune_interval,
        )
        self._backend = _SqliteBackend(path, sync)
        self._writer = BatchWriter(
            "smppd-sqlite-writer",
            reactor,
            self._backend,
            batch_max=batch_max,
            weight=_weight,
            after_batch=self._after_batch,
            on_opened=self._opened,
        )

    def __repr__(self) -> str:
        return f"<SqliteStore {self.path}>"

    def _open_failed(self, failure: Failure) -> None:
        log.error("cannot open sqlite store {path}: {error}", path=self.path, error=failure.value)

    def _open_succeeded(self, result: object) -> None:
        log.info(
            "opened sqlite store {path} ({messages} messages, sync={sync}, retention={retention})",
            path=self.path,
            messages=result,
            sync=self.sync,
            retention=self.retention,
        )

    def _after_batch(self, report: object) -> None:
        if report is not None:
            log.error("sqlite store {path}: batch failed: {error}", path=self.path, error=report)

    def _prune(self, before: float, limit: int) -> Deferred[int]:
        return self._writer.submit((_PRUNE, (before, limit)))

    def add_messages(self, messages: Sequence[Message]) -> Deferred[None]:
        return self._writer.submit((_ADD, tuple(messages)))

    def update_message(self, message: Message, outbox: Sequence[OutboxItem] = ()) -> Deferred[None]:
        return self._writer.submit((_UPDATE, (message, tuple(outbox))))

    def update_messages(self, updates: Sequence[tuple[Message, Sequence[OutboxItem]]]) -> Deferred[None]:
        return self._writer.submit((_UPDATES, tuple((m, tuple(items)) for m, items in updates)))

    def finish_messages(self, updates: Sequence[tuple[Message, Sequence[OutboxItem]]]) -> Deferred[None]:
        return self._writer.submit((_FINISHES, tuple((m, tuple(items)) for m, items in updates)))

    def get_message(self, message_id: str) -> Deferred[Message | None]:
        return self._writer.submit((_GET, message_id))

    def unfinished_messages(self) -> Deferred[list[Message]]:
        return self._writer.submit((_UNFIN, None))

    def outbox_put(self, items: Sequence[OutboxItem]) -> Deferred[None]:
        return self._writer.submit((_OPUT, tuple(items)))

    def outbox_update(self, items: Sequence[OutboxItem]) -> Deferred[None]:
        return self._writer.submit((_OUPDATE, tuple(items)))

    def outbox_remove(self, item_ids: Sequence[str]) -> Deferred[None]:
        return self._writer.submit((_OREMOVE, tuple(item_ids)))

    def outbox_pending(self) -> Deferred[list[OutboxItem]]:
        return self._writer.submit((_PENDING, None))

    def stats(self) -> Deferred[StoreStats]:
        return self._writer.submit((_STATS, None))

    def check(self) -> Deferred[None]:
        return self._writer.submit((_CHECK, None))

    def close(self) -> Deferred[None]:
        self._pruner.stop()
        return self._writer.close()
