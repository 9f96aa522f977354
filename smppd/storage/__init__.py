"""Message stores: implementations of :class:`smppd.interfaces.IMessageStore`.

- :class:`MemoryStore` (``"memory"``): dicts, not durable; the reference.
- :class:`SqliteStore` (``"sqlite:PATH"``): one SQLite file, WAL, group commit.
- :class:`JournalStore` (``"file:DIR"``): append-only JSON-lines journal with
  the state in memory, group commit, rotation and compaction.

The durable stores start their thread and open their files at ``open()`` or
at their first call, never at construction; call ``close()`` when stopping.
"""

from __future__ import annotations

from typing import Any

from smppd.interfaces import IMessageStore
from smppd.storage.errors import StoreError
from smppd.storage.journal import JournalStore
from smppd.storage.memory import MemoryStore
from smppd.storage.sqlite import SqliteStore

__all__ = ["JournalStore", "MemoryStore", "SqliteStore", "StoreError", "open_store"]

_SPEC_HELP = "expected 'memory', 'sqlite:PATH' or 'file:DIR'"


def open_store(spec: str, reactor: Any = None) -> IMessageStore:
    """The store a spec names: ``"memory"``, ``"sqlite:PATH"`` or ``"file:DIR"``.

    Raises :class:`ValueError` (one line) for a spec it does not understand.
    No I/O happens here: a durable store opens at its first call.
    """
    kind, sep, where = spec.partition(":")
    if spec == "memory":
        return MemoryStore()
    if sep and where:
        if kind == "sqlite":
            return SqliteStore(where, reactor)
        if kind == "file":
            return JournalStore(where, reactor)
    raise ValueError(f"bad store spec {spec!r}: {_SPEC_HELP}")
