from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred

from smppd.storage import MemoryStore
from tests.storage.contract import StoreContract
from tests.storage.helpers import message


class TestMemoryStore(StoreContract):
    durable = False

    def make_store(self, path: Path, **options: Any) -> MemoryStore:
        return MemoryStore(**options)


def test_answers_are_already_fired() -> None:
    s = MemoryStore()
    m = message(1)
    results: list[Any] = []
    for d in (
        s.add_messages([m]),
        s.get_message("m000001"),
        s.unfinished_messages(),
        s.outbox_pending(),
        s.stats(),
        s.check(),
        s.close(),
    ):
        assert isinstance(d, Deferred)
        d.addBoth(results.append)
    assert len(results) == 7
    assert results[1] is m  # frozen records are handed back as they are, no copies
