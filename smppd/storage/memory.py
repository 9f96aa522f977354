"""MemoryStore: the reference :class:`~smppd.interfaces.IMessageStore`.

Everything lives in dicts; every method answers with an already-fired
Deferred. Not durable: a restart forgets everything. It is the store tests
use and the one every other store is measured against (the contract suite
in ``tests/storage/contract.py``).

With ``retention`` (seconds), final messages are dropped that long after
their ``final_at``, from :meth:`open` on, on ``clock`` (the global reactor
if None): see :mod:`smppd.storage._retention`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from zope.interface import implementer

from smppd.interfaces import IMessageStore
from smppd.model import Message, OutboxItem, StoreStats
from smppd.storage._retention import PRUNE_INTERVAL, Pruner, Retained
from smppd.storage._state import MemoryState
from smppd.storage.errors import StoreError


@implementer(IMessageStore)
class MemoryStore(Retained):
    """- ``retention``: seconds a final message is kept after ``final_at``;
      None or 0 (default): every message is kept.
    - ``clock``: the ``IReactorTime`` pruning runs on (the reactor if None).
    - ``prune_batch``: messages dropped per reactor turn at most.
    """

    durable = False

    def __init__(
        self,
        *,
        retention: float | None = None,
        clock: Any = None,
        prune_batch: int = 10_000,
        prune_interval: float = PRUNE_INTERVAL,
    ) -> None:
        self._state = MemoryState()
        self._closed = False
        self._pruner = Pruner(
            "memory store", clock, retention, self._prune, batch=prune_batch, interval=prune_interval
        )

    def __repr__(self) -> str:
        return f"<MemoryStore {len(self._state.messages)} messages>"

    def open(self) -> Deferred[None]:
        """Nothing to open but the pruning rounds to start (with ``retention``)."""
        if not self._closed:
            self._pruner.start()
        return succeed(None)

    def _prune(self, before: float, limit: int) -> Deferred[int]:
        return succeed(self._state.prune_final(before, limit))

    def _refused(self) -> Deferred[None]:
        return fail(StoreError("the store is closed"))

    def add_messages(self, messages: Sequence[Message]) -> Deferred[None]:
        if self._closed:
            return self._refused()
        try:
            self._state.add_messages(messages)
        except StoreError as e:
            return fail(e)
        return succeed(None)

    def update_message(self, message: Message, outbox: Sequence[OutboxItem] = ()) -> Deferred[None]:
        if self._closed:
            return self._refused()
        try:
            self._state.update_message(message, outbox)
        except StoreError as e:
            return fail(e)
        return succeed(None)

    def update_messages(self, updates: Sequence[tuple[Message, Sequence[OutboxItem]]]) -> Deferred[None]:
        if self._closed:
            return self._refused()
        state = self._state
        try:
            state.check_updates(updates)
        except StoreError as e:
            return fail(e)
        for message, outbox in updates:
            state.update_message(message, outbox, checked=True)
        return succeed(None)

    def finish_messages(self, updates: Sequence[tuple[Message, Sequence[OutboxItem]]]) -> Deferred[None]:
        """Final states: stored as whole records here (the interface allows less)."""
        return self.update_messages(updates)

    def get_message(self, message_id: str) -> Deferred[Message | None]:
        return succeed(self._state.get_message(message_id))

    def unfinished_messages(self) -> Deferred[list[Message]]:
        return succeed(self._state.unfinished_messages())

    def outbox_put(self, items: Sequence[OutboxItem]) -> Deferred[None]:
        if self._closed:
            return self._refused()
        try:
            self._state.outbox_put(items)
        except StoreError as e:
            return fail(e)
        return succeed(None)

    def outbox_update(self, items: Sequence[OutboxItem]) -> Deferred[None]:
        if self._closed:
            return self._refused()
        self._state.outbox_update(items)
        return succeed(None)

    def outbox_remove(self, item_ids: Sequence[str]) -> Deferred[None]:
        if self._closed:
            return self._refused()
        self._state.outbox_remove(item_ids)
        return succeed(None)

    def outbox_pending(self) -> Deferred[list[OutboxItem]]:
        return succeed(self._state.outbox_pending())

    def stats(self) -> Deferred[StoreStats]:
        return succeed(self._state.stats())

    def check(self) -> Deferred[None]:
        if self._closed:
            return self._refused()
        return succeed(None)

    def close(self) -> Deferred[None]:
        self._closed = True
        self._pruner.stop()
        return succeed(None)
