"""The real ``twistd smpp-server`` process, and a small blocking ESME to drive it.

:class:`ServerProcess` runs ``twistd -n smpp-server`` from this checkout in a
child process, keeps every line it writes (stdout and stderr, read by two
threads) and waits for log lines with a bound. :meth:`Servers.start` listens
on ``tcp:0:interface=127.0.0.1`` (and without the HTTP endpoint) and takes
the port from the "listening on" line, so no test depends on a free fixed port.

:class:`Esme` is a blocking SMPP client on a plain socket over the pure codec
(``smppd.pdu``): every wait is bounded by a deadline; deliver_sm,
enquire_link and unbind from the server are answered as they arrive and the
receipts kept.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from smppd.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CommandId,
    CommandStatus,
    DeliverSm,
    EnquireLink,
    Pdu,
    PduDecodeError,
    PduReader,
    QuerySm,
    SubmitSm,
    Unbind,
    encode_pdu,
)

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
TIMEOUT = 10.0  # generous bound for anything a test waits on over loopback
# Starting or ending a process: mostly the interpreter importing, which takes
# long on a busy machine (several servers start at once under xdist).
PROCESS_TIMEOUT = 30.0
LISTENING = re.compile(r"listening on (\S+):(\d+)")
ISOLATED = ("--listen", f"tcp:0:interface={HOST}", "--http", "none")
BIND_CLASSES = {"trx": BindTransceiver, "tx": BindTransmitter, "rx": BindReceiver}


class ServerProcess:
    """One ``twistd -n --pidfile= smpp-server ARGS`` child, run in ``cwd``."""

    def __init__(self, args: Sequence[str], cwd: Path) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        self.args = list(args)
        self.cwd = cwd
        self.argv = [
            sys.executable,
            "-c",
            "from twisted.scripts.twistd import run; run()",
            "-n",
            "--pidfile=",
            "smpp-server",
            *self.args,
        ]
        self.lines: list[tuple[str, str]] = []  # (stream, line) in arrival order
        self._changed = threading.Condition()
        self._open_streams = 2
        self.proc = subprocess.Popen(
            self.argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        self._threads = [
            threading.Thread(target=self._pump, args=(name, stream), daemon=True)
            for name, stream in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr))
        ]
        for t in self._threads:
            t.start()
        self.port: int | None = None

    def _pump(self, name: str, stream: Any) -> None:
        try:
            for line in stream:
                with self._changed:
                    self.lines.append((name, line.rstrip("\n")))
                    self._changed.notify_all()
        finally:
            with self._changed:
                self._open_streams -= 1
                self._changed.notify_all()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self, stream: str | None = None) -> list[str]:
        with self._changed:
            return [line for name, line in self.lines if stream is None or name == stream]

    def describe(self, last: int = 40) -> str:
        tail = self.output()[-last:]
        return f"{' '.join(self.args)} (exit {self.proc.poll()}):\n" + "\n".join(tail)

    def wait_for(
        self, pattern: str | re.Pattern[str], timeout: float = TIMEOUT, *, start: int = 0
    ) -> re.Match[str]:
        """The first line from index ``start`` on that matches ``pattern``.

        Fails (with the process's last lines) after ``timeout`` seconds or
        when the process has exited and its output is read to the end.
        """
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        seen = start
        with self._changed:
            while True:
                for _, line in self.lines[seen:]:
                    m = regex.search(line)
                    if m is not None:
                        return m
                seen = len(self.lines)
                if self._open_streams == 0:
                    raise AssertionError(
                        f"server ended without a line matching {regex.pattern!r}: {self.describe()}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no line matching {regex.pattern!r} within {timeout}s: {self.describe()}"
                    )
                self._changed.wait(remaining)

    def mark(self) -> int:
        """An index for :meth:`wait_for` and :meth:`lines_since`: lines after now."""
        with self._changed:
            return len(self.lines)

    def lines_since(self, mark: int) -> list[str]:
        with self._changed:
            return [line for _, line in self.lines[mark:]]

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = PROCESS_TIMEOUT) -> int:
        """The exit code; the streams are read to the end too."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"server still running after {timeout}s: {self.describe()}"
            ) from None
        for t in self._threads:
            t.join(timeout)
        return code

    def kill(self) -> None:
        """SIGKILL (kill -9) and reap."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()

    def close(self) -> None:
        """Teardown: kill if still running, reap, close the pipes."""
        try:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(TIMEOUT)
        finally:
            for t in self._threads:
                t.join(TIMEOUT)
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()


class Servers:
    """Starts server processes for one test; :meth:`close` kills what is left."""

    def __init__(self) -> None:
        self.started: list[ServerProcess] = []

    def run(self, args: Sequence[str], cwd: Path) -> ServerProcess:
        """Start a process without waiting for anything (bad-config tests)."""
        server = ServerProcess(args, cwd)
        self.started.append(server)
        return server

    def start(
        self, cwd: Path, *args: str, isolated: bool = True, timeout: float = PROCESS_TIMEOUT
    ) -> ServerProcess:
        """Start a server and wait until it listens; ``server.port`` is its port.

        ``isolated`` (before ``args``): SMPP on 127.0.0.1 port 0 and no HTTP
        endpoint (its default is a fixed port); without, the configuration decides.
        """
        argv = [*ISOLATED, *args] if isolated else list(args)
        server = self.run(argv, cwd)
        m = server.wait_for(LISTENING, timeout)
        server.port = int(m.group(2))
        return server

    def close(self) -> None:
        for server in self.started:
            server.close()

    def problems(self) -> list[str]:
        """Log lines no healthy run has: tracebacks, unhandled errors, critical events."""
        bad = ("Traceback", "Unhandled error", "#critical]")
        return [
            line
            for server in self.started
            for line in server.output()
            if any(b in line for b in bad)
        ]


# -- the ESME ------------------------------------------------------------------------


class Closed(Exception):
    """The server closed the connection (or reset it)."""


class Esme:
    """A blocking SMPP client; every call is bounded by ``timeout`` seconds.

    Requests from the server are answered on arrival: deliver_sm with
    deliver_sm_resp (its receipted_message_id kept in :attr:`receipts`),
    enquire_link, and unbind (then :attr:`unbound_by_server` is set).
    Responses wait in :attr:`responses` until taken.
    """

    def __init__(self, port: int, host: str = HOST, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = PduReader()
        self._seq = 0
        self.responses: dict[int, Pdu] = {}
        self.receipts: list[str] = []
        self.deliveries: list[DeliverSm] = []
        self.unbound_by_server = False
        self.answer_unbind = True  # False: an ESME that ignores the server's unbind
        self.closed = False
        self.write_failed = False
        self.errors: list[PduDecodeError] = []

    def __enter__(self) -> Esme:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True
        self.sock.close()

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def send(self, *pdus: Pdu) -> None:
        if self.write_failed:
            raise Closed("an earlier write failed")
        try:
            self.sock.sendall(b"".join(encode_pdu(p) for p in pdus))
        except OSError as e:
            # What the server sent before it went away may still be read.
            self.write_failed = True
            raise Closed(str(e)) from e

    def pump(self, deadline: float) -> bool:
        """Read what arrives before ``deadline`` (at least one chunk if any
        comes); answer the server's requests. False once the connection is closed."""
        if self.closed:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        answers: list[Pdu] = []
        for item in self.reader.feed(data):
            if isinstance(item, PduDecodeError):
                self.errors.append(item)
            elif item.is_response:
                self.responses[item.sequence_number] = item
            elif item.command_id == CommandId.deliver_sm:
                assert isinstance(item, DeliverSm)
                self.deliveries.append(item)
                if item.receipted_message_id is not None:
                    self.receipts.append(item.receipted_message_id)
                answers.append(item.response(message_id=""))
            elif item.command_id == CommandId.enquire_link:
                answers.append(item.response())
            elif item.command_id == CommandId.unbind:
                self.unbound_by_server = True
                if self.answer_unbind:
                    answers.append(item.response())
            else:
                answers.append(item.response(command_status=CommandStatus.ESME_RINVCMDID))
        if answers:
            with contextlib.suppress(Closed):
                self.send(*answers)
        return True

    def take(self, seq: int, timeout: float | None = None) -> Pdu:
        """The response to request ``seq``."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while seq not in self.responses:
            if not self.pump(deadline):
                raise Closed(f"connection closed while waiting for the response to #{seq}")
            if time.monotonic() >= deadline and seq not in self.responses:
                raise TimeoutError(f"no response to #{seq} within the timeout")
        return self.responses.pop(seq)

    def request(self, pdu_class: type[Pdu], **fields: Any) -> Pdu:
        seq = self.next_seq()
        self.send(pdu_class(sequence_number=seq, **fields))
        return self.take(seq)

    def call(self, pdu: Pdu) -> Pdu:
        """Send ``pdu`` (with the next sequence number) and wait for its response."""
        seq = self.next_seq()
        self.send(attrs.evolve(pdu, sequence_number=seq))
        return self.take(seq)

    def bind(self, system_id: str, password: str, kind: str = "trx") -> Pdu:
        return self.request(BIND_CLASSES[kind], system_id=system_id, password=password)

    def enquire_link(self) -> Pdu:
        return self.request(EnquireLink)

    def unbind(self) -> Pdu:
        return self.request(Unbind)

    def pipeline(
        self, requests: Iterable[Pdu], window: int = 50, timeout: float | None = None
    ) -> list[Pdu]:
        """Send requests (their sequence numbers are replaced) with at most
        ``window`` unanswered; the responses in request order."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        order: list[int] = []
        out: dict[int, Pdu] = {}
        outstanding: set[int] = set()
        pending = iter(requests)
        exhausted = False
        while not exhausted or outstanding:
            burst = []
            while not exhausted and len(outstanding) + len(burst) < window:
                pdu = next(pending, None)
                if pdu is None:
                    exhausted = True
                    break
                seq = self.next_seq()
                order.append(seq)
                burst.append(_with_seq(pdu, seq))
            if burst:
                self.send(*burst)
                outstanding.update(p.sequence_number for p in burst)
            if not outstanding:
                break
            if not self.pump(deadline):
                raise Closed(f"connection closed with {len(outstanding)} request(s) unanswered")
            for seq in list(outstanding):
                if seq in self.responses:
                    out[seq] = self.responses.pop(seq)
                    outstanding.discard(seq)
            if time.monotonic() >= deadline and outstanding:
                raise TimeoutError(f"{len(outstanding)} request(s) unanswered after the timeout")
        return [out[s] for s in order]

    def wait_until(self, done: Any, timeout: float | None = None, what: str = "condition") -> None:
        """Pump until ``done()`` is true; fail after the timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not done():
            if not self.pump(deadline):
                if done():
                    return
                raise Closed(f"connection closed while waiting for {what}")
            if time.monotonic() >= deadline and not done():
                raise TimeoutError(f"{what}: not reached after {timeout or self.timeout}s")

    def wait_closed(self, timeout: float | None = None) -> None:
        """Pump (answering the server) until the server closes the connection."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self.pump(deadline):
            if time.monotonic() >= deadline:
                raise TimeoutError("the server did not close the connection")


def _with_seq(pdu: Pdu, seq: int) -> Pdu:
    return attrs.evolve(pdu, sequence_number=seq)


def submit_sm(
    destination: str = "447700900123", text: bytes = b"hello", registered_delivery: int = 1
) -> SubmitSm:
    return SubmitSm(
        source_addr="Test",
        source_addr_ton=5,
        source_addr_npi=0,
        destination_addr=destination,
        dest_addr_ton=1,
        dest_addr_npi=1,
        short_message=text,
        registered_delivery=registered_delivery,
    )


def query_sm(message_id: str) -> QuerySm:
    return QuerySm(message_id=message_id, source_addr="Test", source_addr_ton=5, source_addr_npi=0)


def free_port_or_fail(port: int) -> None:
    """Fail the test with a clear message when ``127.0.0.1:port`` is taken."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as twisted's listenTCP does
    try:
        s.bind((HOST, port))
    except OSError as e:
        raise AssertionError(
            f"{HOST}:{port} is in use ({e.strerror}); this test needs the default port free"
        ) from None
    finally:
        s.close()
