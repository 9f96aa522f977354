"""Interop with node-smpp (npm ``smpp``, pinned in node/package.json).

``node/client.js`` runs as a child process (``reactor.spawnProcess``, so the
reactor keeps serving it) and prints one JSON line per step; the test checks
those lines and what the SMSC stored. node and the npm package are required:
if either is missing the test fails and says to run ``.ci/install-interop``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.error import ProcessDone
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from smppd.pdu import MessageState
from tests.e2e.support import HOLD_PREFIX, within

NODE_DIR = Path(__file__).parent / "node"
SMPP_VERSION = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["smpp"]
CLIENT_TIMEOUT = 20.0  # client.js gives up by itself after this
RECEIPT_ID = re.compile(r"\bid:(\S+)")


def node_command() -> list[str]:
    """``node client.js``, or a test failure saying how to install what is missing."""
    node = shutil.which("node")
    installed = NODE_DIR / "node_modules" / "smpp" / "package.json"
    hint = "run .ci/install-interop (it installs the npm 'smpp' package with npm ci)"
    assert node is not None, f"node is not on PATH: install Node.js >= 18, then {hint}"
    assert installed.exists(), f"node-smpp is not installed in {NODE_DIR}: {hint}"
    version = json.loads(installed.read_text())["version"]
    assert version == SMPP_VERSION, f"node-smpp {version} installed, {SMPP_VERSION} pinned: {hint}"
    return [node, str(NODE_DIR / "client.js")]


class Collect(ProcessProtocol):
    """Gathers a child's output; :attr:`ended` fires with (exit code, stdout, stderr);
    :meth:`wait_event` fires when a JSON line with that ``event`` is printed."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.events: list[dict[str, Any]] = []
        self._partial = b""
        self._waiters: list[tuple[str, Deferred[dict[str, Any]]]] = []
        self.ended: Deferred[tuple[int | None, str, str]] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.out += data
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            if line.startswith(b"{"):
                event = json.loads(line)
                self.events.append(event)
                waiting, self._waiters = self._waiters, []
                for name, d in waiting:
                    if event["event"] == name:
                        d.callback(event)
                    else:
                        self._waiters.append((name, d))

    def wait_event(self, name: str) -> Deferred[dict[str, Any]]:
        d: Deferred[dict[str, Any]] = Deferred()
        self._waiters.append((name, d))
        return within(d, CLIENT_TIMEOUT, f"node client.js to print {name!r}")

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason: Failure) -> None:
        code = 0 if reason.check(ProcessDone) else getattr(reason.value, "exitCode", None)
        self.ended.callback((code, self.out.decode("utf-8", "replace"), self.err.decode("utf-8", "replace")))


def spawn_node(*args: str) -> tuple[Any, Collect]:
    command = node_command()
    collect = Collect()
    process = reactor.spawnProcess(  # type: ignore[attr-defined]
        collect, command[0], [*command, *args], env=dict(os.environ), path=str(NODE_DIR)
    )
    return process, collect


@inlineCallbacks
def finished(process: Any, collect: Collect) -> Any:
    """(exit code, JSON lines, stderr) once node exits; killed if it outstays its time."""
    try:
        code, _out, err = yield within(collect.ended, CLIENT_TIMEOUT + 10, "node client.js to exit")
    except Exception:
        if process.pid is not None:
            process.signalProcess("KILL")
            yield within(collect.ended, 10, "node client.js to die")
        raise
    return code, collect.events, err


def run_node(*args: str) -> Any:
    return finished(*spawn_node(*args))


@pytest_twisted.inlineCallbacks
def test_node_smpp_transceiver_session(smsc_server):
    held = HOLD_PREFIX + "67890"
    code, lines, err = yield run_node(smsc_server.host, str(smsc_server.port), "test", "test", held)
    transcript = "\n".join(json.dumps(line) for line in lines) + "\nstderr:\n" + err
    assert code == 0 and lines and lines[-1]["event"] == "done", transcript
    by_event: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_event.setdefault(line["event"], []).append(line)

    (bind,) = by_event["bind_transceiver_resp"]
    assert bind["command_status"] == 0 and bind["system_id"] == "smppd"
    assert bind["sc_interface_version"] == 0x34

    submits = by_event["submit_sm_resp"]
    assert [s["label"] for s in submits] == ["gsm", "ucs2", "payload", "udh", "udh", "held"], transcript
    assert all(s["command_status"] == 0 and s["message_id"] for s in submits), transcript
    ids = [s["message_id"] for s in submits]
    assert len(set(ids)) == len(ids)

    # What node-smpp sent is what the SMSC stored.
    stored = {}
    for s in submits:
        message = yield smsc_server.smsc.lookup(s["message_id"])
        assert message is not None, s
        stored[s["label"]] = stored.get(s["label"], []) + [message]
    (ucs2,) = stored["ucs2"]
    assert ucs2.data_coding == 8
    assert ucs2.short_message.decode("utf-16-be") == "Привет 👋 from node-smpp, 你好"
    (payload,) = stored["payload"]
    assert payload.short_message == b"" and b"segment11 of a long message" in payload.tlvs
    assert all(m.esm_class & 0x40 and m.short_message[:3] == b"\x05\x00\x03" for m in stored["udh"])
    (gsm,) = stored["gsm"]
    assert gsm.data_coding == 0 and gsm.short_message.startswith(b"Hello from node-smpp")

    # A receipt per submit_sm, ids agreeing with the responses and with the text.
    receipts = by_event["deliver_sm"]
    assert len(receipts) == len(submits), transcript
    for r in receipts:
        assert r["esm_class"] & 0x3C == 0x04
        match = RECEIPT_ID.search(r["text"])
        assert match and match.group(1) == r["receipted_message_id"], r
    by_id = {r["receipted_message_id"]: r for r in receipts}
    assert set(by_id) == set(ids)
    for message_id in ids[:-1]:
        assert by_id[message_id]["message_state"] == MessageState.DELIVERED
        assert "stat:DELIVRD" in by_id[message_id]["text"]
    assert by_id[ids[-1]]["message_state"] == MessageState.DELETED
    assert "stat:DELETED" in by_id[ids[-1]]["text"]

    (query,) = by_event["query_sm_resp"]
    assert query["command_status"] == 0 and query["message_id"] == ids[0]
    assert query["message_state"] == MessageState.DELIVERED and query["final_date"]
    (cancel,) = by_event["cancel_sm_resp"]
    assert cancel["command_status"] == 0
    (unbind,) = by_event["unbind_resp"]
    assert unbind["command_status"] == 0
    assert "unbind_from_smsc" not in by_event


@pytest_twisted.inlineCallbacks
def test_node_smpp_is_unbound_gracefully_when_the_smsc_stops(smsc_server, live):
    process, collect = spawn_node("--until-unbind", smsc_server.host, str(smsc_server.port), "esme", "esme123")
    try:
        yield collect.wait_event("bound")
        (session,) = smsc_server.sessions()
        assert session.session.system_id == "esme" and session.session.is_bound
        yield smsc_server.stop()  # unbinds every session, then closes
    finally:
        code, lines, err = yield finished(process, collect)
    assert code == 0, (lines, err)
    assert [line["event"] for line in lines] == [
        "connected",
        "bind_transceiver_resp",
        "bound",
        "unbind_from_smsc",
        "done",
    ]
    # node answered the unbind: the server did not have to wait it out.
    assert not [e for e in live.log if "no unbind_resp in time" in (e.get("log_format") or "")]
