"""``kill -9`` under load loses no acknowledged message and no receipt.

The server is killed while an ESME is submitting with a full window and every
receipt is still pending (the simulator delivers after RECEIPT_DELAY). After a
restart on the same store, every message whose submit_sm_resp said ESME_ROK
must be known to query_sm and must get its delivery receipt.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

import attrs
import pytest

from smppd.pdu import CommandId, CommandStatus, MessageState
from tests.process.support import TIMEOUT, Closed, Esme, ServerProcess, Servers, query_sm, submit_sm

TOTAL = 3000  # submits the ESME would send; the server dies about halfway
WINDOW = 50
RECEIPT_DELAY = 1.5  # seconds: receipts are still pending when the server dies
STORES = {"sqlite": "sqlite:{dir}/db.sqlite3", "journal": "file:{dir}/journal"}
KNOWN_STATES = {int(s) for s in MessageState}


def submit_until_killed(esme: Esme, server: ServerProcess) -> tuple[list[str], int]:
    """Submit with a full window; SIGKILL the server after TOTAL/2 acks and
    keep going until the connection dies. The acknowledged message_ids, and
    how many submits were sent but never answered."""
    acked: list[str] = []
    outstanding: set[int] = set()
    sent = 0
    killed = False
    deadline = time.monotonic() + TIMEOUT
    while not esme.closed:
        if not esme.write_failed:
            burst = []
            while sent < TOTAL and len(outstanding) + len(burst) < WINDOW:
                seq = esme.next_seq()
                pdu = submit_sm(f"4477009{sent:05d}", text=b"crash test %d" % sent)
                burst.append(attrs.evolve(pdu, sequence_number=seq))
                sent += 1
            if burst:
                outstanding.update(p.sequence_number for p in burst)
                with contextlib.suppress(Closed):  # the server is gone: read what it sent
                    esme.send(*burst)
        if not killed and len(acked) >= TOTAL // 2:
            # Right after refilling the window: the server is reading,
            # storing and answering when it dies.
            server.proc.send_signal(signal.SIGKILL)
            killed = True
        assert not (sent == TOTAL and not outstanding), "every submit answered before the kill"
        assert time.monotonic() < deadline, f"still connected after {TIMEOUT}s"
        esme.pump(deadline)
        for seq in [s for s in esme.responses if s in outstanding]:
            resp = esme.responses.pop(seq)
            outstanding.discard(seq)
            assert resp.command_id == CommandId.submit_sm_resp, resp
            assert resp.command_status == CommandStatus.ESME_ROK, resp
            acked.append(resp.message_id)  # type: ignore[attr-defined]
    assert killed
    return acked, len(outstanding)


@pytest.mark.parametrize("kind", sorted(STORES))
def test_kill_9_loses_no_acknowledged_message_or_receipt(
    servers: Servers, tmp_path: Path, kind: str
) -> None:
    config = tmp_path / "server.json"
    config.write_text(
        json.dumps({"simulator": {"default_delay": RECEIPT_DELAY}, "grace_period": 2})
    )
    store = STORES[kind].format(dir=tmp_path)
    args = ("--config", str(config), "--store", store)

    server = servers.start(tmp_path, *args)
    with Esme(server.port) as esme:
        assert esme.bind("test", "test").command_status == CommandStatus.ESME_ROK
        acked, unanswered = submit_until_killed(esme, server)
        receipted_before = set(esme.receipts)
    assert server.wait() == -signal.SIGKILL
    assert len(acked) >= TOTAL // 2
    assert len(set(acked)) == len(acked), "a message_id was given twice"

    again = servers.start(tmp_path, *args)
    recovered = again.wait_for(r"recovered (\d+) unfinished message")
    assert int(recovered.group(1)) >= len(set(acked) - receipted_before)
    with Esme(again.port) as esme:
        assert esme.bind("test", "test").command_status == CommandStatus.ESME_ROK
        answers = esme.pipeline((query_sm(m) for m in acked), WINDOW)
        lost = [
            m
            for m, a in zip(acked, answers, strict=True)
            if a.command_status != CommandStatus.ESME_ROK
        ]
        assert not lost, (
            f"{len(lost)} acknowledged message(s) unknown after the restart: {lost[:5]}"
        )
        assert {a.message_state for a in answers} <= KNOWN_STATES  # type: ignore[attr-defined]

        wanted = set(acked)
        esme.wait_until(
            lambda: wanted <= receipted_before | set(esme.receipts),
            timeout=RECEIPT_DELAY + TIMEOUT,
            what=f"receipts for {len(wanted)} acknowledged messages",
        )
        after = Counter(esme.receipts)
        twice = [m for m, n in after.items() if n > 1]
        assert not twice, f"receipts sent twice in one session: {twice[:5]}"
        # Receipts for messages stored but not answered before the kill may come
        # too; at most one per submit that was in flight.
        extra = set(after) - wanted - receipted_before
        assert len(extra) <= unanswered

        answers = esme.pipeline((query_sm(m) for m in acked), WINDOW)
        assert {a.message_state for a in answers} == {MessageState.DELIVERED}  # type: ignore[attr-defined]
        assert esme.unbind().command_status == CommandStatus.ESME_ROK

    again.signal(signal.SIGTERM)
    assert again.wait() in (0, -signal.SIGTERM)
    if kind == "sqlite":
        check_sqlite(tmp_path / "db.sqlite3", wanted)


def check_sqlite(path: Path, acked: set[str]) -> None:
    """Read the stopped server's file: every acknowledged message delivered,
    and no receipt still owed to anyone."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        states = dict(db.execute("SELECT message_id, state FROM messages"))
        owed = [row[0] for row in db.execute("SELECT message_id FROM outbox")]
    finally:
        db.close()
    assert acked <= set(states)
    assert {states[m] for m in acked} == {MessageState.DELIVERED}
    assert not owed, f"{len(owed)} outbox item(s) left after every receipt was acknowledged"
