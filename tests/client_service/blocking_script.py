"""Drives :class:`smppd.client.blocking.BlockingClient` from many threads and
prints one JSON object with what it saw (run by test_blocking.py in its own
process: the reactor runs in the facade's thread, not under pytest-twisted).

    python -m tests.client_service.blocking_script THREADS PER_THREAD
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from twisted.internet.threads import blockingCallFromThread

from smppd.client.blocking import BlockingClient, BlockingTimeout, ensure_reactor, stop_reactor
from smppd.client.client import SendError
from smppd.client.config import ClientConfig, ReconnectPolicy
from smppd.pdu import QuerySm

from .support import start_smsc


def main(threads: int, per_thread: int) -> dict[str, Any]:
    reactor = ensure_reactor()
    smsc = blockingCallFromThread(reactor, start_smsc, reactor)
    config = ClientConfig(endpoints=(smsc.endpoint,), system_id="test", password="test", binds=2)
    report: dict[str, Any] = {}
    started = time.monotonic()
    with BlockingClient(config, timeout=20) as client:
        report["bound"] = client.bound_count
        results: list[list[str]] = [[] for _ in range(threads)]
        errors: list[str] = []
        gate = threading.Barrier(threads)

        def work(n: int) -> None:
            gate.wait()
            try:
                for i in range(per_thread):
                    results[n].extend(client.send_message("Shop", "447700900123", f"thread {n} message {i}"))
            except Exception as e:  # reported, not raised: the test asserts on it
                errors.append(f"{type(e).__name__}: {e}")

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        ids = [i for r in results for i in r]
        report.update(ids=len(ids), unique=len(set(ids)), errors=errors, per_thread=[len(r) for r in results])

        tracked = client.send_message("Shop", "447700900123", "with a receipt", receipt=True)
        report["outcome"] = client.outcome(tracked, timeout=10).stat
        response = client.submit(QuerySm(message_id=tracked[0], source_addr="Shop", source_addr_ton=5))
        report["query_sm_status"] = response.command_status
        try:
            client.send_message("Shop", "not-a-number", "refused")
        except SendError as e:
            report["refused"] = str(e)
        try:
            blockingCallFromThread(reactor, lambda: client.send_message("Shop", "1", "from the reactor"))
        except RuntimeError as e:
            report["from_reactor_thread"] = str(e)
    report["bound_after_close"] = client.bound_count
    report["seconds"] = round(time.monotonic() - started, 3)

    # The reactor thread is reused: a second client after the first closed.
    with BlockingClient(config) as again:
        report["second_client_ids"] = len(again.send_message("Shop", "447700900123", "again"))

    # A refused bind: start() times out and says why.
    wrong = BlockingClient(
        ClientConfig(
            endpoints=(smsc.endpoint,),
            system_id="test",
            password="wrong",
            reconnect=ReconnectPolicy(initial=0.1, maximum=0.2),
        )
    )
    try:
        wrong.start(timeout=1.0)
    except BlockingTimeout as e:
        report["bad_password"] = str(e)
    wrong.close()

    blockingCallFromThread(reactor, smsc.stop)
    stop_reactor()
    report["reactor_thread_alive"] = any(t.name == "smppd-reactor" for t in threading.enumerate())
    return report


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), int(sys.argv[2]))))
