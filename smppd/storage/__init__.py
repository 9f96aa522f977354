"""Message stores: implementations of :class:`smppd.interfaces.IMessageStore`.

- :class:`MemoryStore` (``"memory"``): dicts, not durable; the reference.
- :class:`SqliteStore` (``"sqlite:PATH"``): one SQLite file, WAL, group commit.
- :class:`JournalStore` (``"file:DIR"``): append-only JSON-lines journal with
  the state in memory, group commit, rotation and compaction.

The durable stores start their thread and open their files at ``open()`` or
at their first call, never at construction; call ``close()`` when stopping.

Every store takes ``retention`` (seconds): final messages are dropped that
long after their ``final_at``, periodically once the store is open. The
classes keep everything by default; :func:`open_store`, what the server uses,
applies :class:`StoreOptions`, whose default retention is a week.
"""

from __future__ import annotations

from typing import Any

import attrs

from smppd.interfaces import IMessageStore
from smppd.storage._retention import DEFAULT_RETENTION, check_retention
from smppd.storage.errors import StoreError
from smppd.storage.journal import JournalStore
from smppd.storage.memory import MemoryStore
from smppd.storage.sqlite import SqliteStore

__all__ = [
    "DEFAULT_RETENTION",
    "JournalStore",
    "MemoryStore",
    "SqliteStore",
    "StoreError",
    "StoreOptions",
    "open_store",
]

_SPEC_HELP = "expected 'memory', 'sqlite:PATH' or 'file:DIR'"

MiB = 1024 * 1024


@attrs.frozen
class StoreOptions:
    """The options of one kind of store (``"memory"``, ``"sqlite"``, ``"file"``),
    as ``server.json`` gives them. They apply to a store of that kind only: a
    store of another kind (``--store`` changed it) gets that kind's defaults.
    """

    kind: str = "sqlite"
    retention: float | None = attrs.field(default=DEFAULT_RETENTION, converter=check_retention)
    sync: str = "normal"  # sqlite
    fsync: bool = True  # file
    max_segment_bytes: int = 64 * MiB  # file

    def arguments(self, kind: str) -> dict[str, Any]:
        """The keyword arguments of the store class of ``kind``."""
        options = self if kind == self.kind else StoreOptions(kind=kind)
        if kind == "sqlite":
            return {"retention": options.retention, "sync": options.sync}
        if kind == "file":
            return {
                "retention": options.retention,
                "fsync": options.fsync,
                "max_segment_bytes": options.max_segment_bytes,
            }
        return {"retention": options.retention}


def spec_kind(spec: str) -> str:
    """``"sqlite"`` of ``"sqlite:PATH"``, ``"memory"`` of ``"memory"``."""
    return spec.partition(":")[0]


def open_store(spec: str, reactor: Any = None, options: StoreOptions | None = None) -> IMessageStore:
    """The store a spec names: ``"memory"``, ``"sqlite:PATH"`` or ``"file:DIR"``,
    with ``options`` (default :class:`StoreOptions`: a week of retention)
    where they are for its kind. ``reactor`` is also the pruning clock.

    Raises :class:`ValueError` (one line) for a spec it does not understand.
    No I/O happens here: a durable store opens at its first call.
    """
    kind, sep, where = spec.partition(":")
    arguments = (options or StoreOptions(kind=kind)).arguments(kind)
    if spec == "memory":
        return MemoryStore(clock=reactor, **arguments)
    if sep and where:
        if kind == "sqlite":
            return SqliteStore(where, reactor, **arguments)
        if kind == "file":
            return JournalStore(where, reactor, **arguments)
    raise ValueError(f"bad store spec {spec!r}: {_SPEC_HELP}")
