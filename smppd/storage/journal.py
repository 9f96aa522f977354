"""JournalStore: a durable :class:`~smppd.interfaces.IMessageStore` made of an
append-only JSON-lines journal and an in-memory state.

Writes: on the reactor thread a call is validated and applied to the
in-memory state (like :class:`~smppd.storage.memory.MemoryStore`) and encoded
as one journal line; the writer thread appends every queued line in one
``write`` and one fsync (group commit, see :mod:`smppd.storage._batch`), then
the Deferreds fire. Reads answer from memory at once, so they see writes
whose Deferreds have not fired yet; a write's Deferred fires only once its
line is on disk. If writing fails, the memory is ahead of the disk: the
store refuses every later write and :meth:`check` fails until a restart,
which replays what is on disk.

Durability: with ``fsync=True`` (default) an acknowledged write survives a
power loss; with ``fsync=False`` it survives the process being killed
(the data is in the kernel after ``write``), not a power loss.

Recovery at start (off the reactor thread): replay the newest snapshot, then
every later segment. A torn tail (a last line cut short by a crash, never
acknowledged) is truncated with a warning; an unreadable record followed by
readable ones is corruption and the store refuses to open.

Rotation: when the active segment passes ``max_segment_bytes``, the next
batch goes to a new segment. Compaction: when the journal holds more than
``compact_ratio`` times as many records as are live (messages plus outbox
items), and at least ``compact_min_bytes``, the live state is written as a
snapshot by a thread of its own (temp file, fsync, rename, fsync of the
directory) and the segments it replaces are deleted.

Retention (``retention`` seconds): final messages whose ``final_at`` is older
are dropped from memory periodically (see :mod:`smppd.storage._retention`)
and at the replay. That is not journaled: the next compaction leaves them out
of the snapshot (dropping them makes one come sooner); until then a replay
reads them again and drops them again (a store reopened with a longer
retention keeps them). Without it, every message is kept forever, in memory
too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from smppd.interfaces import IMessageStore
from smppd.model import Message, OutboxItem, StoreStats
from smppd.storage import _journal_files as files
from smppd.storage._batch import BatchWriter, OneShot, WriterStore, defer_to_thread, resolve_reactor
from smppd.storage._retention import PRUNE_INTERVAL, Pruner
from smppd.storage._state import MemoryState
from smppd.storage.errors import StoreError

log = Logger()

MiB = 1024 * 1024


def _rows(op: files.Op) -> int:
    return op[2]


@implementer(IMessageStore)
class JournalStore(WriterStore[files.Op]):
    """A durable store: an append-only journal in ``directory``, the state in memory.

    - ``fsync``: fsync every batch (survives a power loss) or only write it
      (survives the process being killed).
    - ``max_segment_bytes``: start a new segment once the active one is this big.
    - ``compact_ratio``, ``compact_min_bytes`` (default ``max_segment_bytes``):
      compact once the journal holds more than ``compact_ratio`` times the live
      records and is at least that big.
    - ``retention``: seconds a final message is kept after ``final_at``;
      None or 0 (default) keeps every message, in memory too.
    - ``batch_max``: rows (messages, outbox items) per write; a single larger
      call is still written whole.
    - ``clock``: the ``IReactorTime`` pruning runs on (default ``reactor``);
      ``prune_batch``: messages dropped per reactor turn at most.

    Nothing happens at construction: the directory is locked and replayed at
    :meth:`open` or at the first call. :meth:`close` must be called.
    """

    durable = True

    def __init__(
        self,
        directory: str,
        reactor: Any = None,
        *,
        fsync: bool = True,
        max_segment_bytes: int = 64 * MiB,
        compact_ratio: float = 2.0,
        compact_min_bytes: int | None = None,
        retention: float | None = None,
        batch_max: int = 1000,
        clock: Any = None,
        prune_batch: int = 10_000,
        prune_interval: float = PRUNE_INTERVAL,
    ) -> None:
        if max_segment_bytes < 1:
            raise ValueError("max_segment_bytes must be positive")
        if compact_ratio <= 1.0:
            raise ValueError("compact_ratio must be greater than 1")
        reactor = resolve_reactor(reactor)
        self._pruner = Pruner(
            f"journal {directory}",
            reactor if clock is None else clock,
            retention,
            self._prune,
            batch=prune_batch,
            interval=prune_interval,
        )
        self.directory = directory
        self.fsync = fsync
        self._reactor = reactor
        self._compact_ratio = compact_ratio
        self._compact_min_bytes = (
            max_segment_bytes if compact_min_bytes is None else compact_min_bytes
        )
        self._backend = files.JournalBackend(
            directory,
            fsync=fsync,
            max_segment_bytes=max_segment_bytes,
            cutoff=self._pruner.cutoff,  # called in the writer thread: seconds() only
        )
        self._writer = BatchWriter(
            "smppd-journal-writer",
            reactor,
            self._backend,
            batch_max=batch_max,
            weight=_rows,
            after_batch=self._after_batch,
            on_opened=self._opened,
        )
        self._state: MemoryState | None = None
        self._failed: StoreError | None = None
        self._closing = False
        self._closed: OneShot | None = None
        self._compaction: OneShot | None = None
        self._records = 0  # record entries in the journal files
        self._bytes = 0  # size of the journal files
        #: compactions completed since open
        self.compactions = 0

    def __repr__(self) -> str:
        return f"<JournalStore {self.directory}>"

    # -- opening ----------------------------------------------------------

    def _open_failed(self, failure: Failure) -> None:
        log.error(
            "cannot open journal {directory}: {error}",
            directory=self.directory,
            error=failure.value,
        )

    def _open_succeeded(self, result: object) -> None:
        assert isinstance(result, files.Replay)
        for name, kept, dropped in result.truncated:
            log.warn(
                "journal {directory}: torn tail of {file} truncated at byte {kept}"
                " ({dropped} bytes of an unacknowledged write dropped)",
                directory=self.directory,
                file=name,
                kept=kept,
                dropped=dropped,
            )
        if result.skipped_count:
            log.warn(
                "journal {directory}: {count} records did not apply and were skipped,"
                " e.g. {examples}",
                directory=self.directory,
                count=result.skipped_count,
                examples="; ".join(result.skipped),
            )
        self._state = result.state
        self._records = result.records
        self._bytes = result.bytes
        self._pruner.pruned += result.pruned
        stats = result.state.stats()
        log.info(
            "opened journal {directory}: {messages} messages ({unfinished} unfinished),"
            " {outbox} outbox items, {files} files, {size} bytes;"
            " {pruned} final messages past their retention ({retention}) dropped",
            directory=self.directory,
            messages=stats.messages,
            unfinished=stats.unfinished,
            outbox=stats.outbox,
            files=result.files,
            size=result.bytes,
            pruned=result.pruned,
            retention=self.retention,
        )

    def _when_open(self, call: Callable[..., Deferred[Any]], *args: Any) -> Deferred[Any]:
        """Run ``call`` once the state is loaded (calls keep their order)."""
        return self._writer.when_opened().addCallback(lambda _: call(*args))

    def _prune(self, before: float, limit: int) -> Deferred[int]:
        assert self._state is not None  # pruning starts once the state is loaded
        return succeed(self._state.prune_final(before, limit))

    # -- writes -----------------------------------------------------------

    def _refusal(self) -> StoreError | None:
        if self._closing:
            return StoreError("the store is closed")
        return self._failed

    def _append(self, data: bytes, rows: int) -> Deferred[None]:
        self._records += rows
        return self._writer.submit((files.LINE, data, rows))

    def add_messages(self, messages: Sequence[Message]) -> Deferred[None]:
        state = self._state
        if state is None:
            return self._when_open(self.add_messages, messages)
        refusal = self._refusal()
        if refusal is not None:
            return fail(refusal)
        try:
            state.check_new_messages(messages)
            data = files.add_line(messages)
        except (StoreError, TypeError, ValueError) as e:
            return fail(e if isinstance(e, StoreError) else StoreError(f"add_messages: {e}"))
        state.add_messages(messages, checked=True)
        return self._append(data, len(messages))

    def update_message(self, message: Message, outbox: Sequence[OutboxItem] = ()) -> Deferred[None]:
        state = self._state
        if state is None:
            return self._when_open(self.update_message, message, outbox)
        refusal = self._refusal()
        if refusal is not None:
            return fail(refusal)
        try:
            state.check_update(message, outbox)
            data = files.update_line(message, outbox)
        except (StoreError, TypeError, ValueError) as e:
            return fail(e if isinstance(e, StoreError) else StoreError(f"update_message: {e}"))
        state.update_message(message, outbox, checked=True)
        return self._append(data, 1 + len(outbox))

    def update_messages(self, updates: Sequence[tuple[Message, Sequence[OutboxItem]]]) -> Deferred[None]:
        state = self._state
        if state is None:
            return self._when_open(self.update_messages, updates)
        refusal = self._refusal()
        if refusal is not None:
            return fail(refusal)
        try:
            state.check_updates(updates)
            data = b"".join(files.update_line(message, outbox) for message, outbox in updates)
        except (StoreError, TypeError, ValueError) as e:
            return fail(e if isinstance(e, StoreError) else StoreError(f"update_messages: {e}"))
        for message, outbox in updates:
            state.update_message(message, outbox, checked=True)
        return self._append(data, sum(1 + len(outbox) for _, outbox in updates))

    def finish_messages(self, updates: Sequence[tuple[Message, Sequence[OutboxItem]]]) -> Deferred[None]:
        """Final states: stored as whole records here (the interface allows less)."""
        return self.update_messages(updates)

    def outbox_put(self, items: Sequence[OutboxItem]) -> Deferred[None]:
        state = self._state
        if state is None:
            return self._when_open(self.outbox_put, items)
        refusal = self._refusal()
        if refusal is not None:
            return fail(refusal)
        try:
            state.check_new_items(items)
            data = files.outbox_line("oput", items)
        except (StoreError, TypeError, ValueError) as e:
            return fail(e if isinstance(e, StoreError) else StoreError(f"outbox_put: {e}"))
        state.outbox_put(items, checked=True)
        return self._append(data, len(items))

    def outbox_update(self, items: Sequence[OutboxItem]) -> Deferred[None]:
        state = self._state
        if state is None:
            return self._when_open(self.outbox_update, items)
        refusal = self._refusal()
        if refusal is not None:
            return fail(refusal)
        try:
            data = files.outbox_line("oupd", items)
        except (TypeError, ValueError) as e:
            return fail(StoreError(f"outbox_update: {e}"))
        state.outbox_update(items)
        return self._append(data, len(items))

    def outbox_remove(self, item_ids: Sequence[str]) -> Deferred[None]:
        state = self._state
        if state is None:
            return self._when_open(self.outbox_remove, item_ids)
        refusal = self._refusal()
        if refusal is not None:
            return fail(refusal)
        try:
            data = files.remove_line(item_ids)
        except (TypeError, ValueError) as e:
            return fail(StoreError(f"outbox_remove: {e}"))
        state.outbox_remove(item_ids)
        return self._append(data, len(item_ids))

    # -- reads (from memory) ----------------------------------------------

    def get_message(self, message_id: str) -> Deferred[Message | None]:
        if self._state is None:
            return self._when_open(self.get_message, message_id)
        return succeed(self._state.get_message(message_id))

    def unfinished_messages(self) -> Deferred[list[Message]]:
        if self._state is None:
            return self._when_open(self.unfinished_messages)
        return succeed(self._state.unfinished_messages())

    def outbox_pending(self) -> Deferred[list[OutboxItem]]:
        if self._state is None:
            return self._when_open(self.outbox_pending)
        return succeed(self._state.outbox_pending())

    def stats(self) -> Deferred[StoreStats]:
        if self._state is None:
            return self._when_open(self.stats)
        return succeed(self._state.stats())

    def check(self) -> Deferred[None]:
        """Fails after a write error, or when the active segment was deleted or
        its directory is not writable, or the fsync fails."""
        if self._state is None:
            return self._when_open(self.check)
        refusal = self._refusal()
        if refusal is not None:
            return fail(refusal)
        return self._writer.submit((files.CHECK, b"", 1))

    # -- batches, compaction ----------------------------------------------

    def _after_batch(self, report: object) -> None:
        if not isinstance(report, files.BatchReport):
            return
        self._bytes += report.bytes
        if report.error is not None:
            if self._failed is None:
                log.critical("{error}; refusing writes until restart", error=report.error)
            self._failed = report.error
            return
        if (
            self._compaction is None
            and not self._closing
            and self._state is not None
            and self._bytes >= self._compact_min_bytes
            and self._records > self._compact_ratio * max(self._state.live_records(), 1)
        ):
            self.compact()

    def compact(self) -> Deferred[None]:
        """Write a snapshot of the live state and delete the segments it
        replaces (a compaction already running is waited for instead). Never
        fails: a failed compaction is logged and leaves the journal as it was."""
        if self._compaction is not None:
            return self._compaction.wait()
        state = self._state
        if state is None:
            return self._when_open(self.compact)
        if self._refusal() is not None:
            return succeed(None)
        compaction = self._compaction = OneShot()
        pruned = 0
        cutoff = self._pruner.cutoff()
        if cutoff is not None:
            pruned = state.prune_final(cutoff)
            self._pruner.pruned += pruned
        # The state now is exactly what the lines queued so far produce: the
        # ROTATE queued next ends the segment the snapshot will replace.
        messages = list(state.messages.values())
        items = state.outbox_pending()
        records_before = self._records
        d = self._writer.submit((files.ROTATE, b"", 1))
        d.addCallback(
            lambda number: defer_to_thread(
                self._reactor,
                "smppd-journal-compact",
                files.write_snapshot,
                self.directory,
                number,
                messages,
                items,
            ).addCallback(
                self._compacted, number, records_before, len(messages) + len(items), pruned
            )
        )
        d.addErrback(self._compaction_failed)
        d.addBoth(lambda _: self._compaction_done(compaction))
        return compaction.wait()

    def _compacted(
        self, sizes: tuple[int, int], number: int, records_before: int, live: int, pruned: int
    ) -> None:
        size, removed = sizes
        self._records = live + (self._records - records_before)
        self._bytes += size - removed
        self.compactions += 1
        log.info(
            "journal {directory} compacted through segment {number}: snapshot of {live} records,"
            " {size} bytes; {removed} bytes deleted; {pruned} old final messages dropped",
            directory=self.directory,
            number=number,
            live=live,
            size=size,
            removed=removed,
            pruned=pruned,
        )

    def _compaction_failed(self, failure: Failure) -> None:
        log.error(
            "journal {directory}: compaction failed, journal left as it was: {error}",
            directory=self.directory,
            error=failure.value,
        )

    def _compaction_done(self, compaction: OneShot) -> None:
        self._compaction = None
        compaction.fire(None)

    # -- closing ----------------------------------------------------------

    def close(self) -> Deferred[None]:
        """Write everything called so far (calls made before the open completed
        included), wait for a running compaction, close the files."""
        if self._closed is None:
            closed = self._closed = OneShot()
            if self._writer.started:
                # fires at once if the open is done; else after the calls waiting for it
                d: Deferred[Any] = self._writer.when_opened()
                d.addErrback(lambda _: None)
            else:
                d = succeed(None)
            d.addCallback(self._close)
            d.addBoth(closed.fire)
        return self._closed.wait()

    def _close(self, _: object) -> Deferred[None]:
        self._closing = True
        self._pruner.stop()
        running = self._compaction
        d: Deferred[Any] = running.wait() if running is not None else succeed(None)
        return d.addCallback(lambda _: self._writer.close())
