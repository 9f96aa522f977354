"""An SMSC for subprocess tests: memory store, demo users, the simulator of
support.py. Prints ``{"port": N}`` once listening on 127.0.0.1:0 and runs
until its stdin closes (or 120 s pass).

    python -m tests.client_service.smsc_script
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

from twisted.internet import stdio, task
from twisted.internet.defer import Deferred
from twisted.internet.error import TimeoutError as Expired
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from .support import start_smsc


class _UntilEof(Protocol):
    def __init__(self) -> None:
        self.closed: Deferred[None] = Deferred()

    def connectionLost(self, reason: Failure | None = None) -> None:
        if not self.closed.called:
            self.closed.callback(None)


async def main(reactor: Any) -> None:
    smsc = await start_smsc(reactor)
    sys.stdout.write(json.dumps({"port": smsc.number}) + "\n")
    sys.stdout.flush()
    watcher = _UntilEof()
    stdio.StandardIO(watcher)
    watcher.closed.addTimeout(120, reactor)
    with contextlib.suppress(Expired):  # nobody closed stdin: stop anyway
        await watcher.closed
    await smsc.stop()


if __name__ == "__main__":
    task.react(lambda reactor: Deferred.fromCoroutine(main(reactor)))
