"""The journal's files: format, replay, the writer thread's backend, snapshots.

Everything here runs off the reactor thread (the writer thread, or the
compaction thread for :func:`write_snapshot`) and does no logging: what is
worth a log line is returned to the reactor thread, which logs it.

A journal directory holds::

    LOCK                     flock()ed while a store has the directory open
    segment-00000007.jsonl   one JSON object per line, appended and fsynced
    snapshot-00000006.jsonl  the live state as of the end of segment 6

The state is the newest snapshot (if any) replayed, then every segment with
a higher number, in order. Every file starts with ``{"op":"hdr",...}``;
a snapshot ends with ``{"op":"end",...}``. Write operations::

    {"op":"add","m":[<message>, ...]}
    {"op":"upd","m":<message>,"o":[<outbox item>, ...]}
    {"op":"oput","o":[...]}   {"op":"oupd","o":[...]}   {"op":"orm","ids":[...]}

Records are objects keyed by field name (bytes as base64), so fields added
to the model later with a default still read old journals.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from smppd.model import Message, OutboxItem
from smppd.storage._batch import Failed
from smppd.storage._codec import (
    CURRENT as CURRENT_DECODER,
)
from smppd.storage._codec import (
    MESSAGE_FIELDS,
    OUTBOX_FIELDS,
    RecordDecoder,
    message_to_list,
    outbox_to_list,
)
from smppd.storage._state import MemoryState
from smppd.storage.errors import StoreError

FORMAT = 1
_SEGMENT = re.compile(r"^segment-(\d{8})\.jsonl$")
_SNAPSHOT = re.compile(r"^snapshot-(\d{8})\.jsonl$")
_SNAPSHOT_CHUNK = 256  # records per snapshot line

_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def segment_name(number: int) -> str:
    return f"segment-{number:08d}.jsonl"


def snapshot_name(number: int) -> str:
    return f"snapshot-{number:08d}.jsonl"


def line(obj: dict[str, Any]) -> bytes:
    """One journal line: ASCII JSON (non-ASCII escaped), newline-terminated."""
    return (_encode(obj) + "\n").encode("ascii")


def add_line(messages: Sequence[Message]) -> bytes:
    return line({"op": "add", "m": [message_to_list(m) for m in messages]})


def update_line(message: Message, items: Sequence[OutboxItem]) -> bytes:
    return line(
        {"op": "upd", "m": message_to_list(message), "o": [outbox_to_list(i) for i in items]}
    )


def outbox_line(op: str, items: Sequence[OutboxItem]) -> bytes:
    return line({"op": op, "o": [outbox_to_list(i) for i in items]})


def remove_line(item_ids: Sequence[str]) -> bytes:
    return line({"op": "orm", "ids": list(item_ids)})


def _header(**extra: Any) -> bytes:
    fields = {"m": list(MESSAGE_FIELDS), "o": list(OUTBOX_FIELDS)}
    return line({"op": "hdr", "format": FORMAT, "fields": fields, **extra})


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_sync_data: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


# -- replay --------------------------------------------------------------


class _Unreadable(Exception):
    """A line that is not a journal record (torn, garbage, unknown op)."""


class _TooNew(StoreError):
    """The journal was written by a newer smppd."""


Apply = Callable[[MemoryState, dict[str, Any], RecordDecoder], int]


def _apply_add(state: MemoryState, obj: dict[str, Any], dec: RecordDecoder) -> int:
    messages = [dec.message(v) for v in obj["m"]]
    state.add_messages(messages)
    return len(messages)


def _apply_update(state: MemoryState, obj: dict[str, Any], dec: RecordDecoder) -> int:
    items = [dec.outbox_item(v) for v in obj["o"]]
    state.update_message(dec.message(obj["m"]), items)
    return 1 + len(items)


def _apply_outbox_put(state: MemoryState, obj: dict[str, Any], dec: RecordDecoder) -> int:
    items = [dec.outbox_item(v) for v in obj["o"]]
    state.outbox_put(items)
    return len(items)


def _apply_outbox_update(state: MemoryState, obj: dict[str, Any], dec: RecordDecoder) -> int:
    items = [dec.outbox_item(v) for v in obj["o"]]
    state.outbox_update(items)
    return len(items)


def _apply_outbox_remove(state: MemoryState, obj: dict[str, Any], dec: RecordDecoder) -> int:
    ids = [str(i) for i in obj["ids"]]
    state.outbox_remove(ids)
    return len(ids)


def _apply_nothing(state: MemoryState, obj: dict[str, Any], dec: RecordDecoder) -> int:
    return 0


_APPLY: dict[str, Apply] = {
    "add": _apply_add,
    "upd": _apply_update,
    "oput": _apply_outbox_put,
    "oupd": _apply_outbox_update,
    "orm": _apply_outbox_remove,
    "hdr": _apply_nothing,
    "end": _apply_nothing,
}


def _decoder(header: dict[str, Any]) -> RecordDecoder:
    """The decoder for the records after this header."""
    if header.get("format", FORMAT) > FORMAT:
        raise _TooNew(f"journal format {header['format']} is newer than this smppd ({FORMAT})")
    fields = header.get("fields", {})
    return RecordDecoder(fields.get("m", MESSAGE_FIELDS), fields.get("o", OUTBOX_FIELDS))


def _parse(raw: bytes) -> dict[str, Any]:
    if not raw.endswith(b"\n"):
        raise _Unreadable("no newline")
    try:
        obj = json.loads(raw)
    except ValueError as e:
        raise _Unreadable(str(e)) from None
    if not isinstance(obj, dict) or obj.get("op") not in _APPLY:
        raise _Unreadable("not a journal record")
    return obj


@attrs.define
class Replay:
    """What opening found; handed to the reactor thread."""

    state: MemoryState = attrs.Factory(MemoryState)
    records: int = 0  # record entries in the files (the compaction ratio's numerator)
    bytes: int = 0  # size of the files
    files: int = 0
    skipped: list[str] = attrs.Factory(list)  # records that did not apply (first few)
    skipped_count: int = 0
    truncated: list[tuple[str, int, int]] = attrs.Factory(list)  # (file, kept, dropped)
    segment: int = 0  # the segment this run appends to
    pruned: int = 0  # final messages dropped after the replay (retention)


def _replay_file(path: str, replay: Replay, *, snapshot: bool) -> None:
    state = replay.state
    offset = 0
    bad_at: int | None = None
    bad_reason = ""
    ended = False
    decoder = CURRENT_DECODER
    with open(path, "rb") as f:
        for raw in f:
            if bad_at is not None:
                try:
                    _parse(raw)
                except _Unreadable:
                    pass
                else:
                    raise StoreError(
                        f"journal {path}: unreadable record at byte {bad_at} ({bad_reason})"
                        " followed by readable ones; refusing to guess"
                    )
                continue
            try:
                obj = _parse(raw)
            except _Unreadable as e:
                bad_at, bad_reason = offset, str(e)
                continue
            try:
                if obj["op"] == "hdr":
                    decoder = _decoder(obj)
                replay.records += _APPLY[obj["op"]](state, obj, decoder)
            except (KeyError, TypeError, ValueError) as e:
                bad_at, bad_reason = offset, f"malformed {obj['op']} record: {e!r}"
                continue
            except _TooNew:
                raise
            except StoreError as e:
                replay.skipped_count += 1
                if len(replay.skipped) < 5:
                    replay.skipped.append(f"{os.path.basename(path)}@{offset}: {e}")
            ended = obj["op"] == "end"
            offset += len(raw)
    size = offset if bad_at is None else bad_at
    if snapshot:
        if bad_at is not None or not ended:
            raise StoreError(f"journal snapshot {path} is incomplete; refusing to guess")
    elif bad_at is not None:
        # A torn tail: what follows the last good record was never acknowledged
        # (acknowledgement waits for the fsync of whole lines).
        total = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(bad_at)
            f.flush()
            os.fsync(f.fileno())
        replay.truncated.append((os.path.basename(path), bad_at, total - bad_at))
    replay.bytes += size
    replay.files += 1


def _numbered(names: Iterable[str], pattern: re.Pattern[str]) -> list[int]:
    return sorted(int(m.group(1)) for m in map(pattern.match, names) if m)


def replay_directory(directory: str) -> Replay:
    """Rebuild the state from the newest snapshot and the segments after it;
    remove what an interrupted compaction left behind."""
    names = os.listdir(directory)
    for name in names:
        if name.endswith(".tmp"):
            os.unlink(os.path.join(directory, name))
    snapshots = _numbered(names, _SNAPSHOT)
    segments = _numbered(names, _SEGMENT)
    base = snapshots[-1] if snapshots else 0
    for number in snapshots[:-1]:
        os.unlink(os.path.join(directory, snapshot_name(number)))
    for number in segments:
        if number <= base:
            os.unlink(os.path.join(directory, segment_name(number)))
    replay = Replay()
    if snapshots:
        _replay_file(os.path.join(directory, snapshot_name(base)), replay, snapshot=True)
    later = [n for n in segments if n > base]
    for number in later:
        _replay_file(os.path.join(directory, segment_name(number)), replay, snapshot=False)
    replay.segment = max([base, *later]) + 1
    replay.state.order_final()
    return replay


# -- the writer thread's backend -------------------------------------------

LINE, ROTATE, CHECK = range(3)
Op = tuple[int, bytes, int]  # (kind, line, rows)


@attrs.frozen
class BatchReport:
    bytes: int
    error: StoreError | None = None


class JournalBackend:
    """Appends lines to the active segment. Thread-confined to the writer."""

    def __init__(
        self,
        directory: str,
        *,
        fsync: bool,
        max_segment_bytes: int,
        cutoff: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.directory = directory
        self.fsync = fsync
        self.max_segment_bytes = max_segment_bytes
        # retention: final messages older than cutoff() are dropped after the
        # replay, here, rather than on the reactor thread once open
        self.cutoff = cutoff
        self.fd: int | None = None
        self.number = 0
        self.size = 0
        self._lock_fd: int | None = None
        self._failed: StoreError | None = None

    def open(self) -> Replay:
        try:
            os.makedirs(self.directory, exist_ok=True)
            self._lock()
            try:
                replay = replay_directory(self.directory)
                before = self.cutoff()
                if before is not None:
                    replay.pruned = replay.state.prune_final(before)
                self.number = replay.segment
                replay.bytes += self._create_segment()
            except BaseException:
                self._unlock()
                raise
        except OSError as e:
            raise StoreError(f"cannot open journal {self.directory}: {e}") from None
        return replay

    def _lock(self) -> None:
        fd = os.open(os.path.join(self.directory, "LOCK"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreError(
                f"journal {self.directory} is in use by another process (LOCK is held)"
            ) from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def _create_segment(self) -> int:
        path = os.path.join(self.directory, segment_name(self.number))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        header = _header(segment=self.number)
        self._write_all(fd, header)
        if self.fsync:
            _sync_data(fd)
            fsync_dir(self.directory)
        self.fd = fd
        self.size = len(header)
        return len(header)

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def _flush(self, lines: list[bytes], force: bool) -> int:
        """Write ``lines`` in one write() and one fsync. Returns bytes written."""
        if not lines and not force:
            return 0
        assert self.fd is not None
        data = b"".join(lines)
        if data:
            self._write_all(self.fd, data)
            self.size += len(data)
        if self.fsync or force:
            _sync_data(self.fd)
        return len(data)

    def _rotate(self) -> tuple[int, int]:
        """Close the active segment and start the next; returns (closed number, bytes)."""
        assert self.fd is not None
        closed = self.number
        os.close(self.fd)
        self.fd = None
        self.number += 1
        return closed, self._create_segment()

    def _check(self) -> None:
        assert self.fd is not None
        if os.fstat(self.fd).st_nlink == 0:
            raise StoreError(f"journal {self.directory}: the active segment was deleted")
        if not os.access(self.directory, os.W_OK):
            raise StoreError(f"journal {self.directory} is not writable")

    def run_batch(self, ops: Sequence[Op]) -> tuple[list[object], object]:
        if self._failed is not None:
            return [Failed(self._failed)] * len(ops), None
        outcomes: list[object] = []
        lines: list[bytes] = []
        written = 0
        try:
            checks = False
            for kind, data, _ in ops:
                if kind == LINE:
                    lines.append(data)
                    outcomes.append(None)
                elif kind == ROTATE:
                    written += self._flush(lines, False)
                    lines = []
                    closed, header = self._rotate()
                    written += header
                    outcomes.append(closed)
                else:
                    checks = True
                    try:
                        self._check()
                        outcomes.append(None)
                    except StoreError as e:
                        outcomes.append(Failed(e))
            # a check must see the fsync succeed, even when fsync is off
            written += self._flush(lines, checks)
            if self.size >= self.max_segment_bytes:
                written += self._rotate()[1]
        except OSError as e:
            # The tail of the segment is now unknown: refuse every later write
            # (the next open truncates a torn tail).
            self._failed = StoreError(f"journal {self.directory}: write failed: {e}")
            return [Failed(self._failed)] * len(ops), BatchReport(written, self._failed)
        return outcomes, BatchReport(written)

    def close(self) -> None:
        try:
            if self.fd is not None:
                fd, self.fd = self.fd, None
                try:
                    if self._failed is None:
                        _sync_data(fd)
                finally:
                    os.close(fd)
        except OSError as e:
            raise StoreError(f"closing journal {self.directory}: {e}") from None
        finally:
            self._unlock()


# -- compaction (its own thread) --------------------------------------------


def _chunks(seq: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def write_snapshot(
    directory: str, number: int, messages: Sequence[Message], items: Sequence[OutboxItem]
) -> tuple[int, int]:
    """Write the live state as ``snapshot-<number>``, which replaces every
    segment up to ``number``, then delete those. Atomic: temp file, fsync,
    rename, fsync of the directory. Returns (snapshot bytes, bytes deleted).
    Always fsynced, even with ``fsync=False``: it replaces segments."""
    final = os.path.join(directory, snapshot_name(number))
    tmp = final + ".tmp"
    size = 0
    try:
        with open(tmp, "wb") as f:
            size += f.write(_header(snapshot=number))
            for chunk in _chunks(messages, _SNAPSHOT_CHUNK):
                size += f.write(add_line(chunk))
            for chunk in _chunks(items, _SNAPSHOT_CHUNK):
                size += f.write(outbox_line("oput", chunk))
            size += f.write(line({"op": "end", "messages": len(messages), "outbox": len(items)}))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(directory)
    removed = 0
    for name in os.listdir(directory):
        m = _SEGMENT.match(name) or _SNAPSHOT.match(name)
        if m is None:
            continue
        n = int(m.group(1))
        if (name.startswith("segment-") and n <= number) or (
            name.startswith("snapshot-") and n < number
        ):
            path = os.path.join(directory, name)
            removed += os.path.getsize(path)
            os.unlink(path)
    fsync_dir(directory)
    return size, removed
