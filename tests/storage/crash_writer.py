"""The child process of test_crash: writes to a store until it is killed.

    python -m tests.storage.crash_writer sqlite|journal PATH

Prints ``open`` once the store is open, then, for every message, one line
``ack <message_id>`` — only after the Deferred of the add_messages call that
carried it has fired. Keeps several calls in flight, so the store batches
them, and never stops on its own.
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.internet import task
from twisted.internet.defer import Deferred

from smppd.storage import JournalStore, SqliteStore
from tests.storage.helpers import message

IN_FLIGHT = 8
PER_CALL = 25


async def run(reactor: Any, kind: str, path: str) -> None:
    store = SqliteStore(path, reactor) if kind == "sqlite" else JournalStore(path, reactor)
    await store.open()
    out = sys.stdout
    out.write("open\n")
    out.flush()
    counter = iter(range(10**9))

    def submit() -> None:
        batch = [message(next(counter)) for _ in range(PER_CALL)]
        d = store.add_messages(batch)
        d.addCallback(acked, [m.message_id for m in batch])
        d.addErrback(failed)

    def acked(_: None, ids: list[str]) -> None:
        out.write("".join(f"ack {i}\n" for i in ids))
        out.flush()
        submit()

    def failed(failure: Any) -> None:
        out.write(f"error {failure.value}\n")
        out.flush()

    for _ in range(IN_FLIGHT):
        submit()
    await Deferred()  # until killed


def main(reactor: Any, kind: str, path: str) -> Deferred[None]:
    return Deferred.fromCoroutine(run(reactor, kind, path))


if __name__ == "__main__":
    task.react(main, sys.argv[1:3])
