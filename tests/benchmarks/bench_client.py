"""ESME client throughput and latency: ``SmppClient.send_message`` against a fast fake SMSC.

Not a test (pytest does not collect it): run it and read the figures.

    python tests/benchmarks/bench_client.py                       # every scenario
    python tests/benchmarks/bench_client.py --windows 10 --receipts off --count 50000
    python tests/benchmarks/bench_client.py --json                # one JSON object
    python tests/benchmarks/bench_client.py --tune-gc             # the collector as twistd smpp-client sets it
    python tests/benchmarks/bench_client.py --profile --windows 10 --receipts off   # cProfile
    python tests/benchmarks/bench_client.py --bare                # and a bare Twisted client per scenario
    python tests/benchmarks/bench_client.py --node                # and node-smpp's client per scenario (node_client.js)
    python tests/benchmarks/bench_client.py --inproc [--idle 0.0003]   # CPU per message without sockets
    python tests/benchmarks/bench_client.py --smsc                # only the fake SMSC, in the
                                                                  # foreground (prints its port)

The SMSC is a minimal one written here, in C (fake_smsc.c, built with the
system's ``cc`` into the temporary directory on first use; ``--smsc-impl
python``, or no compiler, runs the same SMSC in Python, :func:`serve`): raw
non-blocking sockets and epoll in a child process, one ``send`` per read, answering
bind_*, enquire_link and unbind, every submit_sm with a submit_sm_resp carrying
an incrementing hex message_id and, with receipts on, a deliver_sm receipt per
submit (``receipted_message_id`` and ``message_state`` TLVs plus the usual
``id:... stat:DELIVRD`` text) right behind the response; deliver_sm_resp is
swallowed. The client and the SMSC take turns (a window's answers come back
as one read), so the SMSC's time per message adds to the client's in the
rate: the C one spends 1–8 µs per message here, most of it in the kernel, the
Python one 4–15 (``--loadgen`` measures its ceiling with the Rust
smpp-loadgen, printed as the "fake SMSC ceiling" rows; skipped when the
binary is missing).

The client runs in this process on the epoll reactor: one bind (transceiver),
``SessionConfig.window`` = WINDOW, and a driver that keeps ``--inflight``
(default: WINDOW) ``send_message`` calls outstanding, starting the next one
from the callback of each that completes. Texts are 20 GSM 7-bit characters,
different for every message (``bench message 000123``), so no per-text cache
flatters the figure. With receipts, ``receipt=True`` and every message's
``client.outcome(ids)`` is awaited; the scenario ends when all outcomes are in.

Figures per scenario: messages/s (send_message calls whose Deferred fired with
ids, over the send phase), latency p50/p90/p99/max of send_message -> ids,
outcomes/s with receipts, and the CPU time per message of the client (this
process) and of the fake SMSC (from /proc), which is steadier than the rate on
a shared machine. Every loop is bounded by ``--count`` and ``--duration``;
nothing leaves 127.0.0.1. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import hashlib
import json
import os
import pstats
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

HEADER = struct.Struct(">IIII")
_I4 = struct.Struct(">I")
_BIND_IDS = (0x00000001, 0x00000002, 0x00000009)
_SUBMIT, _DELIVER, _UNBIND, _ENQUIRE = 0x00000004, 0x00000005, 0x00000006, 0x00000015
_RESP = 0x80000000
SOURCE = "smppd-bench"
DESTINATION = "447700900123"
LOADGEN = "/tmp/smpp-loadgen/release/smpp-loadgen"


# -- the fake SMSC (child process) -------------------------------------------------


def _cstr(s: str) -> bytes:
    return s.encode() + b"\x00"


def _deliver_head() -> bytes:
    """The fixed start of a receipt's deliver_sm body (sm_length, text and TLVs follow)."""
    head = (
        _cstr("")  # service_type
        + bytes((1, 1)) + _cstr(DESTINATION)  # source: the handset
        + bytes((5, 0)) + _cstr(SOURCE)  # destination: the ESME's sender
        + bytes((0x04, 0, 0)) + _cstr("") + _cstr("")  # esm_class receipt, pid, priority, times
        + bytes((0, 0, 0, 0))  # registered_delivery, replace, data_coding, sm_default_msg_id
    )  # fmt: skip
    return head


def serve(listen: socket.socket, receipts: bool) -> None:
    """Answer every connection on ``listen`` until killed (single thread, selectors)."""
    sel = selectors.DefaultSelector()
    listen.setblocking(False)
    sel.register(listen, selectors.EVENT_READ, None)
    pack, pack4, unpack = HEADER.pack, _I4.pack, HEADER.unpack_from
    counter = 0x10000
    dhead = _deliver_head()
    stamp = time.strftime("%y%m%d%H%M", time.gmtime()).encode()
    text_mid = b" sub:001 dlvrd:001 submit date:" + stamp + b" done date:" + stamp + b" stat:DELIVRD err:000 text:bench"
    state_tlv = b"\x04\x27\x00\x01\x02"  # message_state DELIVERED
    conns: dict[socket.socket, list[Any]] = {}  # sock -> [rbuf, out bytearray, deliver seq, closing, writing]

    def flush(sock: socket.socket, c: list[Any]) -> None:
        out = c[1]
        if out:
            try:
                n = sock.send(out)
            except BlockingIOError:
                n = 0
            except OSError:
                drop(sock)
                return
            del out[:n]
        if c[3] and not out:
            drop(sock)
            return
        writing = bool(out)
        if writing != c[4]:  # (an epoll_ctl only when the write interest changes)
            c[4] = writing
            sel.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if writing else 0), c)

    def drop(sock: socket.socket) -> None:
        if sock in conns:
            del conns[sock]
            sel.unregister(sock)
            sock.close()

    while True:
        for key, mask in sel.select():
            if key.data is None:
                try:
                    sock, _ = listen.accept()
                except BlockingIOError:
                    continue
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c = [bytearray(), bytearray(), 1, False, False]
                conns[sock] = c
                sel.register(sock, selectors.EVENT_READ, c)
                continue
            sock, c = key.fileobj, key.data
            if mask & selectors.EVENT_WRITE:
                flush(sock, c)  # type: ignore[arg-type]
                if sock not in conns:
                    continue
            if not mask & selectors.EVENT_READ:
                continue
            try:
                data = sock.recv(1 << 18)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                drop(sock)  # type: ignore[arg-type]
                continue
            buf = c[0]
            buf += data
            off, end = 0, len(buf)
            out = []
            append = out.append
            while end - off >= 16:
                length, cid, _status, seq = unpack(buf, off)
                if end - off < length:
                    break
                if cid == _SUBMIT:
                    counter += 1
                    mid = b"%x" % counter
                    append(pack(17 + len(mid), _SUBMIT | _RESP, 0, seq) + mid + b"\x00")
                    if receipts:
                        text = b"id:" + mid + text_mid
                        body = (
                            dhead + bytes((len(text),)) + text
                            + b"\x00\x1e" + pack4(len(mid) + 1)[2:] + mid + b"\x00" + state_tlv
                        )  # fmt: skip
                        dseq = c[2]
                        c[2] = dseq + 1
                        append(pack(16 + len(body), _DELIVER, 0, dseq) + body)
                elif cid == _DELIVER | _RESP:
                    pass
                elif cid == _ENQUIRE:
                    append(pack(16, _ENQUIRE | _RESP, 0, seq))
                elif cid in _BIND_IDS:
                    append(pack(16 + 9, cid | _RESP, 0, seq) + b"fakesmsc\x00")
                elif cid == _UNBIND:
                    append(pack(16, _UNBIND | _RESP, 0, seq))
                    c[3] = True
                elif not cid & _RESP:
                    append(pack(16, 0x80000000, 0x00000003, seq))  # generic_nack ESME_RINVCMDID
                off += length
            del buf[:off]
            if out:
                c[1] += b"".join(out)
            if c[1] or c[3]:
                flush(sock, c)  # type: ignore[arg-type]


def build_c_smsc() -> str | None:
    """Compile fake_smsc.c (once per source text) with the system's C compiler;
    None without one, or when it fails (its errors are printed)."""
    source = Path(__file__).with_name("fake_smsc.c")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    binary = Path(tempfile.gettempdir()) / f"smppd-bench-fake-smsc-{digest}"
    if not binary.exists():
        partial = binary.with_suffix(f".{os.getpid()}")
        built = subprocess.run([cc, "-O2", "-o", str(partial), str(source)], capture_output=True, text=True)
        if built.returncode:
            print(f"{cc} could not build {source.name}:\n{built.stderr.strip()}", file=sys.stderr)
            return None
        partial.replace(binary)
    return str(binary)


class FakeSmsc:
    """The fake SMSC as a child process: ``with FakeSmsc(receipts) as smsc: smsc.port``.

    ``FakeSmsc.binary`` is the compiled fake_smsc.c when set (the default, see
    ``--smsc-impl``), else the Python :func:`serve` runs in a child interpreter.
    """

    binary: str | None = None

    def __init__(self, receipts: bool) -> None:
        self.receipts = receipts

    def __enter__(self) -> FakeSmsc:
        flag = "1" if self.receipts else "0"
        if self.binary:
            argv = [self.binary, flag]
        else:
            argv = [sys.executable, str(Path(__file__).resolve()), "--_smsc", flag]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise SystemExit("the fake SMSC did not start")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait()

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _smsc_main(receipts: bool, port: int = 0) -> None:
    listen = socket.socket()
    listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listen.bind(("127.0.0.1", port))
    listen.listen(64)
    print(f"PORT {listen.getsockname()[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        serve(listen, receipts)


# -- the client under test (this process) ------------------------------------------


def _collect(opts: argparse.Namespace) -> None:
    """Before measuring: a full collection, and with ``--tune-gc`` the plugin's settings."""
    if opts.tune_gc:
        from smppd.runtime import tune_gc

        tune_gc()
    else:
        gc.collect()


def _percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return dict.fromkeys(("p50", "p90", "p99", "max"), 0.0)
    s = sorted(samples)
    n = len(s)
    pick = lambda f: round(s[min(n - 1, int(f * n))] * 1000, 3)  # noqa: E731
    return {"p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "max": round(s[-1] * 1000, 3)}


async def _scenario(reactor: Any, opts: argparse.Namespace, window: int, receipts: bool) -> dict[str, Any]:
    from twisted.internet.defer import Deferred

    from smppd.client import SmppClient
    from smppd.client.config import ClientConfig
    from smppd.protocol import SessionConfig

    inflight = opts.inflight or window
    total = opts.warmup + opts.count
    with FakeSmsc(receipts) as smsc:
        config = ClientConfig(
            endpoints=(f"tcp:127.0.0.1:{smsc.port}",),
            system_id="bench",
            password="bench",
            session=SessionConfig(enquire_link_interval=30.0, response_timeout=30.0, window=window),
            max_queue=max(100_000, inflight * 2),
        )
        client = SmppClient(config, reactor)
        client.startService()
        await client.when_bound()

        latency: list[float] = []
        st = {"sent": 0, "ok": 0, "failed": 0, "outcomes": 0, "delivered": 0, "t_last_ok": 0.0, "t_last_outcome": 0.0}
        t_start = [0.0]
        cpu_start = [0.0, 0.0, 0.0]
        finished: Deferred[None] = Deferred()
        clock = time.perf_counter
        deadline = [float("inf")]

        def maybe_done() -> None:
            if finished.called:
                return
            if st["ok"] + st["failed"] < st["sent"]:
                return
            if receipts and st["outcomes"] < st["ok"]:
                return
            if st["sent"] >= total or clock() >= deadline[0]:
                finished.callback(None)

        def outcome(result: Any) -> None:
            st["outcomes"] += 1
            st["delivered"] += bool(result.delivered)
            st["t_last_outcome"] = clock()
            maybe_done()

        def ok(ids: list[str], t0: float) -> None:
            t = clock()
            st["ok"] += 1
            st["t_last_ok"] = t
            if st["ok"] > opts.warmup:
                latency.append(t - t0)
            elif st["ok"] == opts.warmup:
                start_phase()
            if receipts:
                client.outcome(ids).addCallbacks(outcome, failed_outcome)
            send_one()

        def failed(failure: Any) -> None:
            st["failed"] += 1
            if st["failed"] <= 3:
                print(f"  send failed: {failure.getErrorMessage()}", file=sys.stderr)
            send_one()

        def failed_outcome(failure: Any) -> None:
            st["outcomes"] += 1
            maybe_done()

        def send_one() -> None:
            n = st["sent"]
            if n >= total or (n >= opts.warmup and clock() >= deadline[0]):
                maybe_done()
                return
            st["sent"] = n + 1
            d = client.send_message(SOURCE, DESTINATION, f"bench message {n % 1000000:06d}", receipt=receipts)
            d.addCallbacks(ok, failed, callbackArgs=(clock(),))

        def start_phase() -> None:
            t_start[0] = clock()
            deadline[0] = t_start[0] + opts.duration
            cpu_start[0] = time.process_time()
            cpu_start[2] = os.times().system
            cpu_start[1] = smsc.cpu_seconds()
            st["ok_at_start"] = st["ok"]
            st["outcomes_at_start"] = st["outcomes"]

        if opts.warmup == 0:
            start_phase()
        profiler = cProfile.Profile() if opts.profile else None
        _collect(opts)
        if profiler:
            profiler.enable()
        for _ in range(inflight):
            send_one()
        await finished
        if profiler:
            profiler.disable()
        t_end = clock()
        client_cpu = time.process_time() - cpu_start[0]
        client_sys = os.times().system - cpu_start[2]
        smsc_cpu = smsc.cpu_seconds() - cpu_start[1]
        measured = st["ok"] - st["ok_at_start"]
        send_phase = max(1e-9, st["t_last_ok"] - t_start[0])
        await client.stopService()
    result: dict[str, Any] = {
        "window": window,
        "receipts": receipts,
        "inflight": inflight,
        "messages": measured,
        "failed": st["failed"],
        "msg_per_s": round(measured / send_phase, 1),
        "send_phase_s": round(send_phase, 3),
        "latency_ms": _percentiles(latency),
        "client_cpu_us_per_msg": round(client_cpu / max(1, measured) * 1e6, 1),
        "client_sys_us_per_msg": round(client_sys / max(1, measured) * 1e6, 1),
        "smsc_cpu_us_per_msg": round(smsc_cpu / max(1, measured) * 1e6, 1),
    }
    if receipts:
        outcomes = st["outcomes"] - st["outcomes_at_start"]
        result["outcomes"] = outcomes
        result["delivered"] = st["delivered"]
        result["outcomes_per_s"] = round(outcomes / max(1e-9, st["t_last_outcome"] - t_start[0]), 1)
        result["total_s"] = round(t_end - t_start[0], 3)
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats(opts.sort)
        print(f"\n--- cProfile, window {window}{' receipts' if receipts else ''} ---")
        stats.print_stats(opts.top)
    return result


async def _bare_scenario(reactor: Any, opts: argparse.Namespace, window: int, receipts: bool) -> dict[str, Any]:
    """The baseline of the same run: a bare Twisted protocol with no per-message work
    beyond framing (precomputed submit_sm, sequence number patched in, deliver_sm_resp
    for receipts, one write per read) against the same fake SMSC and window. Its rate
    is the ceiling of any Twisted client on this machine at that moment; the client's
    rate over it is the ratio to quote."""
    from twisted.internet.defer import Deferred
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
    from twisted.internet.protocol import Protocol

    total = opts.warmup + opts.count
    body = (
        _cstr("") + bytes((1, 1)) + _cstr(SOURCE) + bytes((1, 1)) + _cstr(DESTINATION)
        + bytes((0, 0, 0)) + _cstr("") + _cstr("") + bytes((1 if receipts else 0, 0, 0, 0, 20)) + b"b" * 20
    )  # fmt: skip
    submit_head = _I4.pack(16 + len(body)) + _I4.pack(_SUBMIT) + _I4.pack(0)
    clock = time.perf_counter
    st = {"sent": 0, "ok": 0, "dlr": 0, "ok_at_start": 0, "dlr_at_start": 0}
    marks = {"t_start": 0.0, "t_last": 0.0, "deadline": float("inf"), "cpu": 0.0, "smsc": 0.0}
    finished: Deferred[None] = Deferred()

    class Bare(Protocol):
        buf = b""
        seq = 1

        def connectionMade(self) -> None:
            self.transport.setTcpNoDelay(True)  # type: ignore[attr-defined]
            bind = _cstr("bench") + _cstr("bench") + _cstr("") + bytes((0x34, 0, 0)) + _cstr("")
            self.transport.write(HEADER.pack(16 + len(bind), 0x00000009, 0, 1) + bind)  # type: ignore[union-attr]

        def submits(self, n: int) -> list[bytes]:
            out = []
            for _ in range(n):
                s = st["sent"]
                if s >= total or (s >= opts.warmup and clock() >= marks["deadline"]):
                    break
                st["sent"] = s + 1
                self.seq += 1
                out.append(submit_head + _I4.pack(self.seq) + body)
            return out

        def dataReceived(self, data: bytes) -> None:
            buf = self.buf + data if self.buf else data
            off, end = 0, len(buf)
            out: list[bytes] = []
            answered = 0
            while end - off >= 16:
                length, cid, _status, seq = HEADER.unpack_from(buf, off)
                if end - off < length:
                    break
                if cid == _SUBMIT | _RESP:
                    answered += 1
                elif cid == _DELIVER:
                    out.append(HEADER.pack(17, _DELIVER | _RESP, 0, seq) + b"\x00")
                    st["dlr"] += 1
                elif cid == 0x80000009:
                    out.extend(self.submits(window))
                off += length
            self.buf = buf[off:]
            if answered:
                ok = st["ok"] = st["ok"] + answered
                marks["t_last"] = clock()
                if ok >= opts.warmup and not marks["t_start"]:
                    marks["t_start"] = marks["t_last"]
                    marks["deadline"] = marks["t_start"] + opts.duration
                    marks["cpu"] = time.process_time()
                    marks["smsc"] = smsc.cpu_seconds()
                    st["ok_at_start"], st["dlr_at_start"] = ok, st["dlr"]
                out.extend(self.submits(answered))
            if out:
                self.transport.write(b"".join(out))  # type: ignore[union-attr]
            if st["ok"] >= st["sent"] and (not receipts or st["dlr"] >= st["ok"]) and not finished.called:
                finished.callback(None)

    with FakeSmsc(receipts) as smsc:
        proto = await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", smsc.port), Bare())
        _collect(opts)
        await finished
        cpu = time.process_time() - marks["cpu"]
        smsc_cpu = smsc.cpu_seconds() - marks["smsc"]
        proto.transport.loseConnection()
    measured = st["ok"] - st["ok_at_start"]
    return {
        "name": f"bare Twisted w{window}{' rcpt' if receipts else ''}",
        "window": window,
        "receipts": False,
        "bare": True,
        "messages": measured,
        "failed": 0,
        "msg_per_s": round(measured / max(1e-9, marks["t_last"] - marks["t_start"]), 1),
        "latency_ms": _percentiles([]),
        "client_cpu_us_per_msg": round(cpu / max(1, measured) * 1e6, 1),
        "smsc_cpu_us_per_msg": round(smsc_cpu / max(1, measured) * 1e6, 1),
    }


def inproc(opts: argparse.Namespace, window: int, receipts: bool) -> dict[str, Any]:
    """The client's CPU per message without sockets or reactor: one bind over an in-memory
    transport on a fake clock; each round sends ``window`` messages and feeds their
    responses (and receipts) back as one read, like the fake SMSC does."""
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport

    from smppd.client import SmppClient
    from smppd.client.config import ClientConfig
    from smppd.protocol import SessionConfig

    clock = Clock()
    clock.advance(1_700_000_000)
    client = SmppClient(
        ClientConfig(system_id="bench", password="bench", session=SessionConfig(enquire_link_interval=None, window=window)),
        clock,
    )
    proto = client._make_protocol()
    transport = StringTransport()
    proto.makeConnection(transport)
    client._bind(client._binds[0], proto)
    seq = HEADER.unpack_from(transport.value())[3]
    transport.clear()
    proto.dataReceived(HEADER.pack(25, 0x80000009, 0, seq) + b"fakesmsc\x00")
    assert client.bound_count == 1
    dhead = _deliver_head()
    stamp = b"2611260000"
    text_mid = b" sub:001 dlvrd:001 submit date:" + stamp + b" done date:" + stamp + b" stat:DELIVRD err:000 text:bench"
    st = {"sent": 0, "ok": 0, "outcomes": 0}
    total = opts.warmup + opts.count

    def ok(ids: list[str]) -> None:
        st["ok"] += 1
        if receipts:
            client.outcome(ids).addCallback(outcome)
        send_one()  # from the callback, as the socket driver does: the read's answers leave in one write

    def outcome(_: Any) -> None:
        st["outcomes"] += 1

    def send_one() -> None:
        n = st["sent"]
        if n < total:
            st["sent"] = n + 1
            client.send_message(SOURCE, DESTINATION, f"bench message {n % 1000000:06d}", receipt=receipts).addCallback(ok)

    counter, dseq = 0x10000, 1
    profiler = cProfile.Profile() if opts.profile else None
    n0 = 0
    t0 = c0 = 0.0
    for _ in range(window):
        send_one()
    while st["ok"] < total:
        if st["ok"] >= opts.warmup and not t0:
            _collect(opts)
            t0, c0 = time.perf_counter(), time.process_time()
            n0 = st["ok"]
            if profiler:
                profiler.enable()
        data = transport.value()
        transport.clear()
        out = []
        off = 0
        while off < len(data):
            length, cid, _status, s = HEADER.unpack_from(data, off)
            off += length
            if cid != _SUBMIT:
                continue  # deliver_sm_resp
            counter += 1
            mid = b"%x" % counter
            out.append(HEADER.pack(17 + len(mid), _SUBMIT | _RESP, 0, s) + mid + b"\x00")
            if receipts:
                text = b"id:" + mid + text_mid
                body = dhead + bytes((len(text),)) + text + b"\x00\x1e" + _I4.pack(len(mid) + 1)[2:] + mid
                body += b"\x00\x04\x27\x00\x01\x02"
                out.append(HEADER.pack(16 + len(body), _DELIVER, 0, dseq) + body)
                dseq += 1
        if opts.idle:
            time.sleep(opts.idle)  # the wait for the peer, as over sockets (see --idle)
        proto.dataReceived(b"".join(out))
    if profiler:
        profiler.disable()
    cpu = time.process_time() - c0
    wall = time.perf_counter() - t0
    measured = st["ok"] - n0
    assert st["ok"] == total and (not receipts or st["outcomes"] == total), st
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats(opts.sort)
        print(f"\n--- cProfile in process, window {window}{' receipts' if receipts else ''} ---")
        stats.print_stats(opts.top)
    return {
        "window": window,
        "receipts": receipts,
        "messages": measured,
        "cpu_us_per_msg": round(cpu / measured * 1e6, 2),
        "msg_per_s_one_core": round(measured / cpu, 1),
        "wall_s": round(wall, 3),
    }


def _external_client(
    name: str, argv_for: Callable[[int], list[str]], receipts: bool, timeout: float
) -> tuple[dict[str, Any], float]:
    """Run a client that prints one JSON line (``argv_for(port)``) against a
    fresh fake SMSC: its JSON and the SMSC's CPU seconds meanwhile."""
    with FakeSmsc(receipts) as smsc:
        cpu0 = smsc.cpu_seconds()
        out = subprocess.run(argv_for(smsc.port), capture_output=True, text=True, timeout=timeout)
        if out.returncode:
            raise SystemExit(f"{name} failed: {out.stderr.strip()}")
        raw = json.loads(out.stdout.strip().splitlines()[-1])
        return raw, smsc.cpu_seconds() - cpu0


NODE_CLIENT = Path(__file__).with_name("node_client.js")
NODE_SMPP = Path(__file__).resolve().parents[1] / "interop" / "node" / "node_modules" / "smpp"


def _node_scenario(opts: argparse.Namespace, window: int, receipts: bool) -> dict[str, Any]:
    """node-smpp's client (node_client.js) against the same fake SMSC and window."""
    raw, smsc_cpu = _external_client(
        "node_client.js",
        lambda port: ["node", str(NODE_CLIENT), str(port), str(window), str(opts.count), str(opts.warmup),
                      str(opts.duration), "1" if receipts else "0"],  # fmt: skip
        receipts,
        opts.duration + 60,
    )
    return {
        "name": f"node-smpp w{window}{' rcpt' if receipts else ''}",
        "window": window,
        "receipts": receipts,
        "messages": raw["messages"],
        "failed": 0,
        "msg_per_s": raw["msg_per_s"],
        "latency_ms": _percentiles([]),
        "client_cpu_us_per_msg": raw["cpu_us_per_msg"],
        "smsc_cpu_us_per_msg": round(smsc_cpu / max(1, raw["messages"]) * 1e6, 1),
        "receipts_answered": raw["receipts"],
    }


def _loadgen_ceiling(opts: argparse.Namespace, receipts: bool) -> dict[str, Any]:
    """The fake SMSC driven by the Rust loadgen: how fast it answers one bind at window 64."""
    raw, cpu = _external_client(
        "smpp-loadgen",
        lambda port: [
            opts.loadgen, "--host", "127.0.0.1", "--port", str(port), "--system-id", "bench",
            "--password", "bench", "--bind", "trx", "--conns", "1", "--window", "64",
            "--count", str(opts.loadgen_count), "--duration", str(opts.duration), "--text-len", "20",
            "--coding", "gsm7", "--registered-delivery", "1" if receipts else "0",
        ] + (["--wait-dlr", "10"] if receipts else []),  # fmt: skip
        receipts,
        opts.duration + 60,
    )
    return {
        "receipts": receipts,
        "msg_per_s": raw["throughput_per_s"],
        "messages": raw["resp_ok"],
        "dlr_matched": raw["dlr_matched"],
        "smsc_cpu_us_per_msg": round(cpu / max(1, raw["resp_ok"]) * 1e6, 2),
        "latency_ms": {q: raw[f"latency_{q}_ms"] for q in ("p50", "p90", "p99", "max")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", default="1,10,64", help="window sizes, one bind each (default 1,10,64)")
    parser.add_argument("--receipts", default="off,on", help="off and/or on (receipt=True, outcomes awaited)")
    parser.add_argument("--count", type=int, default=50_000, help="messages measured per scenario, at most")
    parser.add_argument("--warmup", type=int, default=2_000, help="messages sent before measuring")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of sending per scenario, at most")
    parser.add_argument("--inflight", type=int, default=0, help="send_message calls outstanding (default: window)")
    parser.add_argument("--repeat", type=int, default=1, help="run the whole set this many times")
    parser.add_argument("--loadgen", default=LOADGEN, help="smpp-loadgen binary for the SMSC ceiling")
    parser.add_argument("--loadgen-count", type=int, default=300_000)
    parser.add_argument("--no-ceiling", action="store_true", help="skip the fake SMSC ceiling (loadgen)")
    parser.add_argument("--profile", action="store_true", help="cProfile the client during each scenario")
    parser.add_argument("--sort", default="tottime", help="cProfile sort key (tottime, cumulative)")
    parser.add_argument("--top", type=int, default=35, help="rows of the cProfile listing")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    parser.add_argument("--no-gc", action="store_true", help="gc.disable() in the client (a diagnostic)")
    parser.add_argument(
        "--tune-gc", action="store_true", help="tune the collector as twistd smpp-client does (smppd.runtime.tune_gc)"
    )
    parser.add_argument(
        "--bare", action="store_true", help="also run a bare Twisted client per scenario (the run's baseline)"
    )
    parser.add_argument(
        "--node",
        action="store_true",
        help="also run node-smpp's client (node_client.js; needs node and tests/interop/node installed) per scenario",
    )
    parser.add_argument("--inproc", action="store_true", help="CPU per message without sockets (fake clock)")
    parser.add_argument(
        "--idle",
        type=float,
        default=0.0,
        help="with --inproc: sleep this many seconds before each read, as the client waits for the SMSC over sockets"
        " (what waking from idle costs the CPU per message)",
    )
    parser.add_argument(
        "--smsc-impl",
        choices=("c", "python"),
        default="c",
        help="the fake SMSC: fake_smsc.c built with cc (default; Python when there is no compiler) or Python",
    )
    parser.add_argument("--smsc", action="store_true", help="only run the fake SMSC in the foreground")
    parser.add_argument("--smsc-receipts", action="store_true", help="with --smsc: send receipts")
    parser.add_argument("--port", type=int, default=0, help="with --smsc: port to listen on")
    parser.add_argument("--_smsc", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts._smsc is not None:
        _smsc_main(opts._smsc == "1")
        return
    if opts.smsc:
        binary = build_c_smsc() if opts.smsc_impl == "c" else None
        if binary:
            os.execv(binary, [binary, "1" if opts.smsc_receipts else "0", str(opts.port)])
        _smsc_main(opts.smsc_receipts, opts.port)
        return

    if opts.smsc_impl == "c" and not opts.inproc:
        FakeSmsc.binary = build_c_smsc()
        if FakeSmsc.binary is None:
            print("no C fake SMSC (no cc, or it failed): the fake SMSC is the Python one", file=sys.stderr)
    smsc_impl = "c" if FakeSmsc.binary else "python"

    if opts.node and not (shutil.which("node") and NODE_SMPP.is_dir()):
        raise SystemExit(f"--node needs node and the npm smpp package in {NODE_SMPP.parent} (.ci/install-interop)")

    if opts.no_gc:
        gc.disable()
    if opts.inproc:
        rows = []
        for dlr in [r == "on" for r in opts.receipts.split(",") if r]:
            for window in [int(w) for w in opts.windows.split(",") if w]:
                for _ in range(opts.repeat):
                    r = inproc(opts, window, dlr)
                    rows.append(r)
                    if not opts.json:
                        print(
                            f"  in process, window {window:<3}{' receipts' if dlr else '         '}"
                            f" {r['cpu_us_per_msg']:>7.2f} us/msg  ({r['msg_per_s_one_core']:>9,.0f}/s on one core)"
                        )
        if opts.json:
            print(json.dumps({"python": sys.version.split()[0], "inproc": rows}))
        return

    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import reactor
    from twisted.internet.defer import ensureDeferred
    from twisted.internet.threads import deferToThread
    from twisted.logger import globalLogBeginner

    globalLogBeginner.beginLoggingTo([], discardBuffer=True, redirectStandardIO=False)

    windows = [int(w) for w in opts.windows.split(",") if w]
    receipts = [r == "on" for r in opts.receipts.split(",") if r]
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg()[0],
        "count": opts.count,
        "duration": opts.duration,
        "smsc": smsc_impl,
        "scenarios": [],
    }
    if not opts.json:
        print(
            f"CPython {report['python']}, {report['cpus']} CPU(s), load {report['loadavg']:.2f}; one bind; "
            f"at most {opts.count:,} messages or {opts.duration:g} s per scenario (after {opts.warmup:,} warm-up);"
            f" fake SMSC in {'C' if smsc_impl == 'c' else 'Python'}"
        )
        print(
            f"  {'scenario':<22} {'msg/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}"
            f" {'cli us/msg':>10} {'smsc us':>8} {'outcomes/s':>10}"
        )

    async def run() -> None:
        for _ in range(opts.repeat):
            for dlr in receipts:
                for window in windows:
                    r = await _scenario(reactor, opts, window, dlr)
                    r["name"] = f"window {window}{' receipts' if dlr else ''}"
                    report["scenarios"].append(r)
                    if not opts.json:
                        _print_row(r)
                    if opts.bare:
                        baseline(r, "bare", "bare Twisted", await _bare_scenario(reactor, opts, window, dlr))
                    if opts.node:
                        # (it waits for a child process: off the reactor thread)
                        baseline(r, "node", "node-smpp", await deferToThread(_node_scenario, opts, window, dlr))

    def baseline(r: dict[str, Any], key: str, label: str, b: dict[str, Any]) -> None:
        """A baseline scenario run right after ``r``: recorded, and its ratio printed."""
        r[f"{key}_msg_per_s"] = b["msg_per_s"]
        report["scenarios"].append(b)
        if not opts.json:
            _print_row(b)
            print(f"  {'':<22} client / {label}: {r['msg_per_s'] / max(1.0, b['msg_per_s']):.2f}")

    failure: list[Any] = []

    def stop(result: Any) -> None:
        if hasattr(result, "getTraceback"):
            failure.append(result)
        reactor.stop()

    reactor.callWhenRunning(lambda: ensureDeferred(run()).addBoth(stop))
    reactor.run()
    if failure:
        print(failure[0].getTraceback(), file=sys.stderr)
        raise SystemExit(1)

    if not opts.no_ceiling and Path(opts.loadgen).exists():
        report["smsc_ceiling"] = []
        for dlr in receipts:
            r = _loadgen_ceiling(opts, dlr)
            report["smsc_ceiling"].append(r)
            if not opts.json:
                lat = r["latency_ms"]
                print(
                    f"  {'fake SMSC ceiling' + (' rcpt' if dlr else ''):<22} {r['msg_per_s']:>9,.0f}"
                    f" {lat['p50']:>8.2f} {lat['p90']:>8.2f} {lat['p99']:>8.2f} {lat['max']:>8.2f}"
                    f" {'(loadgen)':>10} {r['smsc_cpu_us_per_msg']:>8}"
                )
    if opts.json:
        print(json.dumps(report))


def _print_row(r: dict[str, Any]) -> None:
    lat = r["latency_ms"]
    tracked = r["receipts"] and "receipts_answered" not in r  # (node-smpp's client answers receipts, tracks none)
    outcomes = f"{r['outcomes_per_s']:>10,.0f}" if tracked else f"{'-':>10}"
    print(
        f"  {r['name']:<22} {r['msg_per_s']:>9,.0f} {lat['p50']:>8.2f} {lat['p90']:>8.2f}"
        f" {lat['p99']:>8.2f} {lat['max']:>8.2f} {r['client_cpu_us_per_msg']:>10} {r['smsc_cpu_us_per_msg']:>8}"
        f" {outcomes}" + (f"  ({r['failed']} failed)" if r["failed"] else "")
        + (f"  ({r['outcomes']:,} outcomes, {r['delivered']:,} delivered)" if tracked else "")
        + (f"  ({r['receipts_answered']:,} receipts answered)" if r["receipts"] and "receipts_answered" in r else "")
    )


if __name__ == "__main__":
    main()
