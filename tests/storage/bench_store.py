"""Throughput of the stores from the reactor (a measurement, not a test).

    python -m tests.storage.bench_store --kind sqlite --count 50000 --per-call 50

Keeps ``--in-flight`` add_messages calls outstanding (like many ESME
connections), each of ``--per-call`` messages, until ``--count`` messages are
acknowledged; then, with ``--receipts``, makes every message final with one
receipt (update_message) and acknowledges the receipts (outbox_remove).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

from twisted.internet import task
from twisted.internet.defer import Deferred

from smppd.storage import JournalStore, MemoryStore, SqliteStore
from tests.storage.helpers import final, item, message


def make(args: argparse.Namespace, reactor: Any, where: str) -> Any:
    if args.kind == "sqlite":
        return SqliteStore(os.path.join(where, "bench.sqlite"), reactor, sync=args.sync)
    if args.kind == "journal":
        return JournalStore(os.path.join(where, "journal"), reactor, fsync=args.fsync)
    return MemoryStore()


async def pump(
    total: int, in_flight: int, call: Callable[[int], Deferred[None]], per: int
) -> float:
    """Run call(start) for start in range(0, total, per), in_flight at a time."""
    done: Deferred[None] = Deferred()
    starts = iter(range(0, total, per))
    state = {"outstanding": 0, "filling": False, "wanted": 0}

    def fill() -> None:
        # a loop, not recursion: the memory store answers synchronously
        state["wanted"] += 1
        if state["filling"]:
            return
        state["filling"] = True
        while state["wanted"]:
            state["wanted"] -= 1
            start = next(starts, None)
            if start is None:
                if state["outstanding"] == 0 and not done.called:
                    done.callback(None)
                continue
            state["outstanding"] += 1
            call(start).addCallback(finished)
        state["filling"] = False

    def finished(_: object) -> None:
        state["outstanding"] -= 1
        fill()

    t0 = time.perf_counter()
    cpu0 = time.thread_time()
    for _ in range(in_flight):
        fill()
    await done
    elapsed = time.perf_counter() - t0
    reactor_cpu[0] = time.thread_time() - cpu0
    return elapsed


reactor_cpu = [0.0]  # CPU seconds the reactor thread spent in the last pump


async def run(reactor: Any, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(dir=args.dir) as where:
        store = make(args, reactor, where)
        await store.open()
        msgs = [message(i) for i in range(args.count)]
        per = args.per_call
        c0 = getattr(store, "commits", 0)
        elapsed = await pump(
            args.count, args.in_flight, lambda s: store.add_messages(msgs[s : s + per]), per
        )
        commits = getattr(store, "commits", 0) - c0
        print(
            f"{args.kind}: add_messages {args.count} msgs, {per}/call, {args.in_flight} in flight:"
            f" {elapsed:.2f}s = {args.count / elapsed:,.0f} msg/s"
            f" ({commits} commits, {args.count / max(commits, 1):.0f} msgs/commit;"
            f" reactor thread CPU {reactor_cpu[0] / args.count * 1e6:.1f} us/msg)"
        )
        if args.receipts:
            finals = [final(m) for m in msgs]
            receipts = [item(i) for i in range(args.count)]
            elapsed = await pump(
                args.count,
                args.in_flight,
                lambda s: store.update_message(finals[s], [receipts[s]]),
                1,
            )
            print(
                f"  update_message + receipt: {args.count / elapsed:,.0f}/s"
                f" (reactor thread CPU {reactor_cpu[0] / args.count * 1e6:.1f} us/call)"
            )
            ids = [r.item_id for r in receipts]
            elapsed = await pump(
                args.count, args.in_flight, lambda s: store.outbox_remove(ids[s : s + 1]), 1
            )
            print(f"  outbox_remove: {args.count / elapsed:,.0f}/s")
        await store.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--kind", choices=["sqlite", "journal", "memory"], default="sqlite")
    p.add_argument("--count", type=int, default=50_000)
    p.add_argument("--per-call", type=int, default=50)
    p.add_argument("--in-flight", type=int, default=20)
    p.add_argument("--sync", default="normal")
    p.add_argument("--no-fsync", dest="fsync", action="store_false")
    p.add_argument("--receipts", action="store_true")
    p.add_argument("--dir", default=None)
    args = p.parse_args()
    task.react(lambda reactor: Deferred.fromCoroutine(run(reactor, args)))


if __name__ == "__main__":
    main()
