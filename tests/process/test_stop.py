"""SIGTERM: unbind every session, finish within the grace period, keep the store.

twistd ends a process stopped by a signal by re-raising that signal once the
reactor has shut down cleanly (``twisted.application.app._exitWithSignal``),
so a clean SIGTERM stop is exit status 0 *or* "terminated by SIGTERM" (what
systemd counts as success); the log must show the clean shutdown either way.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from smppd.pdu import CommandStatus, MessageState
from tests.process.support import Esme, Servers, query_sm, submit_sm

CLEAN_EXIT = (0, -signal.SIGTERM)
GRACE = 3.0  # seconds


def write_config(tmp_path: Path, grace: float = GRACE, **extra: object) -> Path:
    # Receipts far away: every message is still unfinished when the server stops.
    config = {"simulator": {"default_delay": 600}, "grace_period": grace, **extra}
    path = tmp_path / "server.json"
    path.write_text(json.dumps(config))
    return path


def assert_clean_shutdown(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert "smpp-server stopped" in text, text
    assert "Server Shut Down." in text, text
    assert "Traceback" not in text and "Unhandled" not in text, text


def test_sigterm_unbinds_exits_cleanly_and_keeps_the_messages(
    servers: Servers, tmp_path: Path
) -> None:
    args = ("--config", str(write_config(tmp_path)), "--store", f"sqlite:{tmp_path}/db.sqlite3")
    server = servers.start(tmp_path, *args)
    with Esme(server.port) as esme:
        assert esme.bind("test", "test").command_status == CommandStatus.ESME_ROK
        answers = esme.pipeline((submit_sm(f"4477009{i:05d}") for i in range(300)), window=50)
        assert {a.command_status for a in answers} == {CommandStatus.ESME_ROK}
        ids = [a.message_id for a in answers]  # type: ignore[attr-defined]

        mark = server.mark()
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        esme.wait_closed(timeout=GRACE + 5)
        assert esme.unbound_by_server, "the server closed without unbind"
    assert server.wait(GRACE + 5) in CLEAN_EXIT
    elapsed = time.monotonic() - started
    assert elapsed < GRACE, f"stop took {elapsed:.1f}s although the ESME answered unbind at once"
    assert_clean_shutdown(server.lines_since(mark))

    again = servers.start(tmp_path, *args)
    assert int(again.wait_for(r"recovered (\d+) unfinished message").group(1)) == len(ids)
    with Esme(again.port) as esme:
        assert esme.bind("test", "test").command_status == CommandStatus.ESME_ROK
        states = esme.pipeline((query_sm(m) for m in ids), window=50)
        assert {s.command_status for s in states} == {CommandStatus.ESME_ROK}
        assert {s.message_state for s in states} == {MessageState.ENROUTE}  # type: ignore[attr-defined]


def test_sigterm_with_an_esme_that_ignores_unbind_ends_within_the_grace_period(
    servers: Servers, tmp_path: Path
) -> None:
    # The ESME never answers unbind; unbind_timeout is longer than the grace
    # period, so only the grace period ends the wait.
    grace = 1.5
    config = write_config(tmp_path, grace, session={"unbind_timeout": 30})
    server = servers.start(tmp_path, "--config", str(config), "--store", "memory")
    with Esme(server.port) as esme:
        esme.answer_unbind = False
        assert esme.bind("test", "test").command_status == CommandStatus.ESME_ROK
        mark = server.mark()
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait(grace + 5) in CLEAN_EXIT
        elapsed = time.monotonic() - started
        esme.wait_closed(timeout=1)
        assert esme.unbound_by_server
    assert elapsed < grace + 1.5, f"stop took {elapsed:.1f}s, grace period {grace}s"
    assert_clean_shutdown(server.lines_since(mark))
