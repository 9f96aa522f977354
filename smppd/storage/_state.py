"""The in-memory state of the memory and journal stores.

Every mutation validates first and applies after, so a rejected call leaves
the state untouched (the contract's atomicity). Records are frozen, so they
are kept and handed out as they are: no copies.
"""

from __future__ import annotations

import heapq
import operator
from collections import deque
from collections.abc import Iterable, Sequence

from smppd.model import FINAL_STATES, Message, OutboxItem, StoreStats
from smppd.storage.errors import StoreError

_created_at = operator.attrgetter("created_at")


class MemoryState:
    """Writes validate first, then apply (``checked=True``: the caller just
    called the matching ``check_*`` method)."""

    def __init__(self) -> None:
        self.messages: dict[str, Message] = {}
        # ids of unfinished messages; a dict keeps them in insertion order
        self.unfinished: dict[str, None] = {}
        # insertion-ordered; replacing a value keeps its place, so a stable
        # sort on created_at gives "oldest first, then insertion order"
        self.outbox: dict[str, OutboxItem] = {}
        # What retention drops, oldest first, without scanning every message:
        # the ids of final messages in final_at order (they become final in
        # clock order), and a heap of the few that came out of that order.
        # Entries whose message is gone or no longer final are skipped.
        self.final_order: deque[str] = deque()
        self.final_last = float("-inf")  # final_at of the last id in final_order
        self.final_late: list[tuple[float, str]] = []

    # -- writes -----------------------------------------------------------

    def check_new_messages(self, messages: Sequence[Message]) -> None:
        self._new_messages(messages)

    def _new_messages(self, messages: Sequence[Message]) -> dict[str, Message]:
        """``messages`` by id, checked: none stored already, none repeated."""
        new = {m.message_id: m for m in messages}
        if len(new) != len(messages):
            raise StoreError("message_id repeated within one add_messages call")
        stored = self.messages
        if not stored.keys().isdisjoint(new):
            taken = next(i for i in new if i in stored)
            raise StoreError(f"message_id already stored: {taken!r}")
        return new

    def add_messages(self, messages: Sequence[Message], *, checked: bool = False) -> None:
        new = self._new_messages(messages) if not checked else {m.message_id: m for m in messages}
        self.messages.update(new)
        unfinished = self.unfinished
        for message_id, m in new.items():
            if m.state not in FINAL_STATES:
                unfinished[message_id] = None
            elif m.final_at is not None:
                self._final(m.final_at, message_id)

    def check_update(self, message: Message, outbox: Sequence[OutboxItem]) -> None:
        if message.message_id not in self.messages:
            raise StoreError(f"update of an unknown message_id: {message.message_id!r}")
        if outbox:
            self.check_new_items(outbox)

    def check_updates(self, updates: Sequence[tuple[Message, Sequence[OutboxItem]]]) -> None:
        items: list[OutboxItem] = []
        for message, outbox in updates:
            if message.message_id not in self.messages:
                raise StoreError(f"update of an unknown message_id: {message.message_id!r}")
            items.extend(outbox)
        if items:
            self.check_new_items(items)

    def update_message(
        self, message: Message, outbox: Sequence[OutboxItem], *, checked: bool = False
    ) -> None:
        if not checked:
            self.check_update(message, outbox)
        message_id = message.message_id
        self.messages[message_id] = message
        if message.state in FINAL_STATES:
            self.unfinished.pop(message_id, None)
            at = message.final_at
            if at is not None:  # inline _final: the finishing path runs it per message
                if at >= self.final_last:
                    self.final_last = at
                    self.final_order.append(message_id)
                else:
                    heapq.heappush(self.final_late, (at, message_id))
        elif message_id not in self.unfinished:
            self.unfinished[message_id] = None
        if outbox:
            self._put(outbox)

    def check_new_items(self, items: Sequence[OutboxItem]) -> None:
        stored = self.outbox
        for item in items:
            if item.item_id in stored:
                raise StoreError(f"outbox item_id already stored: {item.item_id!r}")
        if len(items) > 1 and len({item.item_id for item in items}) != len(items):
            raise StoreError("item_id repeated within one outbox call")

    def outbox_put(self, items: Sequence[OutboxItem], *, checked: bool = False) -> None:
        if not checked:
            self.check_new_items(items)
        self._put(items)

    def _put(self, items: Iterable[OutboxItem]) -> None:
        stored = self.outbox
        for item in items:
            stored[item.item_id] = item

    def outbox_update(self, items: Sequence[OutboxItem]) -> None:
        """Replace items that are still there; an item already removed (acknowledged
        or expired meanwhile) is not brought back."""
        stored = self.outbox
        for item in items:
            if item.item_id in stored:
                stored[item.item_id] = item

    def outbox_remove(self, item_ids: Sequence[str]) -> None:
        """Remove items; ids not (or no longer) present are ignored."""
        stored = self.outbox
        for item_id in item_ids:
            stored.pop(item_id, None)

    def _final(self, at: float, message_id: str) -> None:
        if at >= self.final_last:
            self.final_last = at
            self.final_order.append(message_id)
        else:
            heapq.heappush(self.final_late, (at, message_id))

    def prune_final(self, before: float, limit: int | None = None) -> int:
        """Drop final messages whose ``final_at`` is older than ``before``
        (at most ``limit``); returns how many went. Costs the messages it
        drops, plus one look when there is nothing to drop.

        (A message made final a second time, with a later ``final_at``, may
        hold back the ones made final after its first time: they go late,
        never early. The server never does that.)
        """
        messages = self.messages
        dropped = 0
        room = len(messages) if limit is None else limit
        order = self.final_order
        while order and dropped < room:
            m = messages.get(order[0])
            if m is None or m.final_at is None or m.state not in FINAL_STATES:
                order.popleft()  # dropped already, or no longer final
                continue
            if m.final_at >= before:
                break
            order.popleft()
            del messages[m.message_id]
            dropped += 1
        late = self.final_late
        while late and late[0][0] < before and dropped < room:
            m = messages.get(heapq.heappop(late)[1])
            # a message made final again later has a newer entry: this one is stale
            if m is not None and m.final_at is not None and m.final_at < before and m.state in FINAL_STATES:
                del messages[m.message_id]
                dropped += 1
        return dropped

    def order_final(self) -> None:
        """Rebuild the final order from the messages (after a replay, where
        the records came in the order they were written, not final_at's)."""
        finals = sorted(
            (m.final_at, m.message_id)
            for m in self.messages.values()
            if m.final_at is not None and m.state in FINAL_STATES
        )
        self.final_order = deque(message_id for _, message_id in finals)
        self.final_last = finals[-1][0] if finals else float("-inf")
        self.final_late = []

    # -- reads ------------------------------------------------------------

    def get_message(self, message_id: str) -> Message | None:
        return self.messages.get(message_id)

    def unfinished_messages(self) -> list[Message]:
        messages = self.messages
        return [messages[i] for i in self.unfinished]

    def outbox_pending(self) -> list[OutboxItem]:
        return sorted(self.outbox.values(), key=_created_at)

    def stats(self) -> StoreStats:
        return StoreStats(
            messages=len(self.messages),
            unfinished=len(self.unfinished),
            outbox=len(self.outbox),
        )

    def live_records(self) -> int:
        return len(self.messages) + len(self.outbox)
