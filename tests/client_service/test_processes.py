"""The blocking facade and ``smppd send``, each in a process of its own (the
reactor there runs in the facade's thread, not under pytest-twisted)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import UNDELIV_PREFIX

REPO = Path(__file__).resolve().parents[2]
THREADS = 8
PER_THREAD = 40


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("SMPP_PASSWORD", None)
    return env


def run(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={**_env(), **(env or {})},
        stdin=subprocess.DEVNULL,  # (never a terminal: no password prompt)
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_blocking_client_from_eight_threads():
    done = run("-m", "tests.client_service.blocking_script", str(THREADS), str(PER_THREAD))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    assert report["per_thread"] == [PER_THREAD] * THREADS
    assert report["ids"] == report["unique"] == THREADS * PER_THREAD
    assert report["bound"] == 2 and report["bound_after_close"] == 0
    assert report["outcome"] == "DELIVRD"
    assert report["query_sm_status"] == 0
    assert report["refused"] == "submit failed: ESME_RINVDSTADR"
    assert report["from_reactor_thread"] == "the blocking client cannot be used from the reactor thread"
    assert report["second_client_ids"] == 1
    assert report["bad_password"].startswith("no bind within 1s (last error: tcp:127.0.0.1:")
    assert report["bad_password"].endswith("ESME_RBINDFAIL)")
    assert report["reactor_thread_alive"] is False
    assert "Traceback" not in done.stderr, done.stderr[-3000:]


@pytest.fixture(scope="module")
def smsc_port() -> Iterator[int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.client_service.smsc_script"],
        cwd=REPO,
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # bounded: the script exits after 120 s at most
        assert line, proc.stderr.read() if proc.stderr else ""
        yield json.loads(line)["port"]
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def send(port: int, *args: str, password: str = "test") -> subprocess.CompletedProcess[str]:
    return run(
        "-m", "smppd.cli", "send", "--host", "127.0.0.1", "--port", str(port),
        "--system-id", "test", "--from", "Shop", *args,
        env={"SMPP_PASSWORD": password},  # (not in argv, where ps shows it)
    )


def test_send_and_wait_for_the_receipt(smsc_port):
    done = send(smsc_port, "--to", "447700900123", "--text", "hi", "--wait-receipt", "--timeout", "20")
    assert (done.returncode, done.stderr) == (0, ""), done
    message_id, state = done.stdout.splitlines()
    assert len(message_id) == 16 and state == "DELIVRD"


def test_send_without_waiting_prints_every_part(smsc_port):
    done = send(smsc_port, "--to", "447700900123", "--text", "ü" * 100, "--encoding", "ucs2")
    assert (done.returncode, done.stderr) == (0, ""), done
    assert len(done.stdout.split()) == 2


def test_send_undelivered_is_a_failure(smsc_port):
    done = send(smsc_port, "--to", UNDELIV_PREFIX + "1", "--text", "hi", "--wait-receipt", "--timeout", "20")
    assert done.returncode == 1, done
    assert done.stdout.splitlines()[-1] == "UNDELIV", done
    assert done.stderr.startswith("smppd send: message ") and "ended UNDELIV (error 11)" in done.stderr, done
    assert done.stderr.count("\n") == 1, done


def test_send_refused_by_the_smsc(smsc_port):
    done = send(smsc_port, "--to", "not-a-number", "--text", "hi")
    assert (done.returncode, done.stdout) == (1, ""), done
    assert done.stderr == "smppd send: submit failed: ESME_RINVDSTADR\n", done


def test_send_with_a_wrong_password_times_out_saying_why(smsc_port):
    done = send(smsc_port, "--to", "1", "--text", "hi", "--timeout", "1.5", password="nope")
    assert done.returncode == 1, done
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("smppd send: no bind within") and last.endswith("ESME_RBINDFAIL)")


def test_send_to_nobody_says_so():
    with socket.socket() as s:  # a port nobody listens on (any more)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = send(port, "--to", "1", "--text", "hi", "--timeout", "1")
    assert done.returncode == 1
    assert done.stderr == (
        f"smppd send: no bind within 1s (last error: could not connect to tcp:host=127.0.0.1:port={port})\n"
    )


def test_send_gives_up_after_max_reconnect_attempts(smsc_port, tmp_path):
    config = tmp_path / "client.json"
    config.write_text(json.dumps({"system_id": "test", "max_reconnect_attempts": 2, "reconnect": {"initial": 0.05}}))
    secret = tmp_path / "password"
    secret.write_text("nope\n")
    done = run(
        "-m", "smppd.cli", "send", "--config", str(config), "--port", str(smsc_port),
        "--password-file", str(secret), "--to", "1", "--text", "hi", "--timeout", "20",
    )
    assert done.returncode == 1, done
    assert done.stderr.startswith("smppd send: gave up reconnecting (last error: "), done
    assert done.stderr.endswith("ESME_RBINDFAIL)\n") and done.stderr.count("\n") == 1, done


def test_send_usage_errors_exit_2(smsc_port):
    done = send(smsc_port, "--to", "1", "--text", "hi", password="123456789")
    assert (done.returncode, done.stderr) == (2, "smppd send: --password: at most 8 characters (SMPP v3.4)\n")
    done = run("-m", "smppd.cli", "send", "--to", "1", "--text", "hi", "--password-file", "/nonexistent/pw")
    assert done.returncode == 2 and done.stderr.startswith("smppd send: --password-file: cannot read /nonexistent/pw")


def test_send_password_on_the_command_line_is_warned_about(smsc_port):
    done = run(
        "-m", "smppd.cli", "send", "--host", "127.0.0.1", "--port", str(smsc_port),
        "--system-id", "test", "--password", "test", "--from", "Shop", "--to", "447700900123", "--text", "hi",
    )
    assert done.returncode == 0, done
    assert done.stderr.startswith("smppd send: warning: --password is visible to other users"), done
    done = run("-m", "smppd.cli", "send", "--to", "1")
    assert done.returncode == 2 and "one of the arguments --text --data-hex is required" in done.stderr


def twistd(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile=", *args],
        cwd=REPO,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(proc: subprocess.Popen[str], lines: list[str], pattern: str, seconds: float = 20) -> re.Match[str]:
    """Read the process's output until a line matches ``pattern``."""
    assert proc.stdout is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(pattern, line)
        if m:
            return m
    raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(lines)}")


def post_message(http_port: int, text: str) -> dict[str, object]:
    """POST a message to the client's HTTP API; 202 expected, the JSON answer returned."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{http_port}/messages",
        data=json.dumps({"to": "447700900123", "text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        return json.loads(response.read())  # type: ignore[no-any-return]


def stop(proc: subprocess.Popen[str], lines: list[str]) -> str:
    """SIGTERM, then the whole output (what ``lines`` read already first)."""
    try:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    lines.append(out)
    return "".join(lines)


def test_twistd_smpp_client_serves_and_stops_on_sigterm(smsc_port, tmp_path):
    config = tmp_path / "client.json"
    config.write_text(
        json.dumps(
            {
                "port": smsc_port,
                "system_id": "test",
                "password": "test",
                "http": {"listen": "tcp:0:interface=127.0.0.1"},
                "webhook": {"url": "http://127.0.0.1:9/unused"},
            }
        )
    )
    proc = twistd("smpp-client", "--config", str(config))
    lines: list[str] = []
    try:
        http_port = int(read_until(proc, lines, r"HTTP API listening on 127\.0\.0\.1:(\d+)").group(1))
        read_until(proc, lines, "bound as transceiver test")
        assert len(post_message(http_port, "via twistd")["message_ids"]) == 1  # type: ignore[arg-type]
    finally:
        log = stop(proc, lines)
    assert proc.returncode in (0, -signal.SIGTERM), log  # twistd ends with the signal it got
    assert "smpp-client stopped" in log and "Traceback" not in log


def test_twistd_smpp_client_bad_config_is_one_line_exit_2(tmp_path):
    config = tmp_path / "client.json"
    config.write_text('{"system_id": "test", "webhook": {"mo_ack": "never"}}')
    proc = twistd("smpp-client", "--config", str(config))
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert out == f"smpp-client: {config}: webhook.mo_ack: must be one of queued, delivered\n"


def test_twistd_smpp_client_listens_for_outbind_and_reloads_on_sighup(smsc_port, tmp_path):
    config = tmp_path / "client.json"
    base = {
        "port": smsc_port,
        "system_id": "test",
        "password": "test",
        "http": {"listen": "tcp:0:interface=127.0.0.1"},
        "outbind_listen": "tcp:0:interface=127.0.0.1",
        "outbind_password": "smscpw",
        "webhook": {"url": "http://127.0.0.1:9/unused"},
    }
    config.write_text(json.dumps(base))
    proc = twistd("smpp-client", "--config", str(config))
    lines: list[str] = []
    try:
        outbind_port = int(read_until(proc, lines, r"listening for outbind on 127\.0\.0\.1:(\d+)").group(1))
        http_port = int(read_until(proc, lines, r"HTTP API listening on 127\.0\.0\.1:(\d+)").group(1))
        read_until(proc, lines, "bound as transceiver test")
        with socket.create_connection(("127.0.0.1", outbind_port), timeout=10):
            pass  # it accepts connections

        config.write_text(json.dumps({**base, "rate": 20, "webhook": {"url": "http://127.0.0.1:9/other", "retries": 1}}))
        proc.send_signal(signal.SIGHUP)
        read_until(proc, lines, rf"configuration reloaded from {re.escape(str(config))}")
        config.write_text('{"system_id": ')
        proc.send_signal(signal.SIGHUP)
        refused = read_until(proc, lines, r"reload refused, keeping the current settings: (.*)")
        assert refused.group(1).startswith(f"{config}: invalid JSON")

        post_message(http_port, "after two SIGHUPs")  # 202: the bind made before the reloads is still up
    finally:
        log = stop(proc, lines)
    assert proc.returncode in (0, -signal.SIGTERM), log
    assert "smpp-client stopped" in log and "Traceback" not in log
    assert log.count("bound as transceiver test") == 1, log  # no bind was dropped
