"""kill -9 a process writing to a store: every acknowledged write is there."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import protocol, reactor
from twisted.internet.defer import Deferred

from smppd.storage import JournalStore, SqliteStore
from tests.storage.helpers import message

ROOT = Path(__file__).resolve().parents[2]
ACKS_BEFORE_KILL = 3000
TIMEOUT = 60.0  # seconds; a healthy run takes about one


class Writer(protocol.ProcessProtocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.opened = False
        self.acked: list[str] = []
        self.errors: list[str] = []
        self.stderr = b""
        self.enough: Deferred[None] = Deferred()
        self.ended: Deferred[Any] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for raw in lines:
            text = raw.decode()
            if text.startswith("ack "):
                self.acked.append(text[4:])
            elif text == "open":
                self.opened = True
            else:
                self.errors.append(text)
        if len(self.acked) >= ACKS_BEFORE_KILL and not self.enough.called:
            self.enough.callback(None)

    def errReceived(self, data: bytes) -> None:
        self.stderr += data

    def processEnded(self, reason: Any) -> None:
        if not self.enough.called:
            self.enough.errback(
                AssertionError(f"writer ended early: {self.stderr.decode(errors='replace')}")
            )
        self.ended.callback(reason.value)


def open_store(kind: str, path: Path) -> Any:
    if kind == "sqlite":
        return SqliteStore(str(path), reactor)
    return JournalStore(str(path), reactor)


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
@pytest_twisted.ensureDeferred
async def test_acknowledged_writes_survive_kill_9(kind: str, tmp_path: Path) -> None:
    path = tmp_path / ("store.sqlite" if kind == "sqlite" else "journal")
    writer = Writer()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "tests.storage.crash_writer", kind, str(path)]
    transport = reactor.spawnProcess(writer, sys.executable, argv, env=env, path=str(ROOT))
    try:
        await writer.enough.addTimeout(TIMEOUT, reactor)
    finally:
        if not writer.ended.called:
            transport.signalProcess("KILL")  # kill -9: no cleanup of any kind
            await writer.ended
    assert writer.opened
    assert not writer.errors, writer.errors
    acked = set(writer.acked)
    assert len(acked) >= ACKS_BEFORE_KILL

    store = open_store(kind, path)
    try:
        stats = await store.stats()
        assert stats.messages >= len(acked)
        for message_id in writer.acked:
            got = await store.get_message(message_id)
            assert got == message(int(message_id[1:])), message_id
    finally:
        await store.close()
