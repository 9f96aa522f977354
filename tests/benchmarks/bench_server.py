"""Server throughput, latency and memory: ``twistd smpp-server`` under load.

Not a test (pytest does not collect it): run it and read the figures.

    python tests/benchmarks/bench_server.py                  # every scenario
    python tests/benchmarks/bench_server.py --shapes 4x50 --stores memory --receipts off
    python tests/benchmarks/bench_server.py --client loadgen \\
        --loadgen /tmp/smpp-loadgen/release/smpp-loadgen    # the Rust load generator
    python tests/benchmarks/bench_server.py --json           # one JSON object

Each scenario starts a fresh server as its own process (twistd, loopback, a
port chosen by the kernel, a temporary directory and configuration with the
simulator's delay at 0 and the demo users), then drives it from a second
process: by default a lean Python load client (raw non-blocking sockets,
``selectors``, pre-encoded submit_sm; see ``_LoadClient``), or with
``--client loadgen`` the Rust smpp-loadgen, which takes far less CPU and is
the fair measurement on a 2-core machine. Scenarios are CONNSxWINDOW shapes
(default 1x1 and 4x50) times stores (memory, sqlite) times receipts (off, or
registered_delivery=1 with every deliver_sm receipt answered and matched to
its submit by receipted_message_id).

For each scenario it prints throughput (submit_sm_resp ESME_ROK per second
over the send phase), latency p50/p90/p99/max (submit_sm written to its
response read), receipts/s and matched count when on, and the server's CPU
time per message (from /proc, less noisy than the rate on a shared machine).
Then the server's RSS idle after start and with ``--sessions`` (1,000) bound
transceiver sessions held open, and, for scale, the rate of a bare Twisted
protocol that only frames submit_sm and answers (``--no-baseline`` skips it).

Every loop is bounded by ``--count`` and ``--duration``; nothing leaves
127.0.0.1. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from smppd.pdu import (  # noqa: E402
    BindTransceiver,
    CommandId,
    SubmitSm,
    decode_pdu,
    encode_pdu,
)

HEADER = struct.Struct(">IIII")
SEQ = struct.Struct(">I")
SYSTEM_ID, PASSWORD = "test", "test"  # a demo user
TEXT_LEN = 20
SOURCE, DESTINATION = "smppd-bench", "447700900123"

C = CommandId
_SUBMIT_RESP = int(C.submit_sm_resp)
_DELIVER = int(C.deliver_sm)
_ENQUIRE = int(C.enquire_link)
_UNBIND = int(C.unbind)
_UNBIND_RESP = int(C.unbind_resp)
_GENERIC_NACK = int(C.generic_nack)
_BIND_TRX_RESP = int(C.bind_transceiver_resp)

BASELINE_SERVER = r"""
import struct, sys
from twisted.internet import protocol, reactor
H = struct.Struct(">IIII")
class P(protocol.Protocol):
    def connectionMade(self):
        self.buf = b""
    def dataReceived(self, data):
        buf = self.buf + data
        off, out, end = 0, [], len(buf)
        while end - off >= 16:
            length, cid, status, seq = H.unpack_from(buf, off)
            if end - off < length:
                break
            if cid & 0x80000000 == 0:
                body = b"0\x00" if cid == 4 else (b"bench\x00" if cid in (1, 2, 9) else b"")
                out.append(H.pack(16 + len(body), cid | 0x80000000, 0, seq) + body)
            off += length
        self.buf = buf[off:]
        if out:
            self.transport.write(b"".join(out))
f = protocol.Factory.forProtocol(P)
port = reactor.listenTCP(0, f, interface="127.0.0.1")
print("listening on 127.0.0.1:%d" % port.getHost().port, flush=True)
reactor.run()
"""


# -- the server process ---------------------------------------------------------


class Server:
    """``twistd -n smpp-server`` in a temporary directory, as a child process."""

    def __init__(self, store: str, *, baseline: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="smppd-bench-"))
        self.store = store
        self.baseline = baseline
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, timeout: float = 30.0) -> Server:
        config = {
            "simulator": {"default_delay": 0},
            "limits": {"max_connections": 5000},
            "grace_period": 2,
        }
        cfg = self.dir / "server.json"
        cfg.write_text(json.dumps(config))
        store = f"sqlite:{self.dir / 'smppd.sqlite3'}" if self.store == "sqlite" else self.store
        if self.baseline:
            argv = [sys.executable, "-c", BASELINE_SERVER]
        else:
            argv = [
                sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
                "-n", "--pidfile=", "smpp-server",
                "--listen", "tcp:0:interface=127.0.0.1",
                "--store", store, "--config", str(cfg),
            ]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        self.log = self.dir / "server.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(argv, cwd=self.dir, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        marker = b"listening on 127.0.0.1:"
        while time.monotonic() < deadline:
            text = self.log.read_bytes()
            i = text.find(marker)
            if i >= 0 and b"\n" in text[i:]:
                self.port = int(text[i + len(marker) :].split()[0].rstrip(b")").decode())
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise SystemExit(f"the server did not start; its log:\n{self.log.read_text(errors='replace')}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the Python load client (runs in its own process) ---------------------------


def _percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    samples.sort()
    n = len(samples)

    def at(q: float) -> float:
        return round(samples[min(n - 1, int(q * n))] * 1000, 3)

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": round(samples[-1] * 1000, 3)}


class _Conn:
    __slots__ = ("inflight", "out", "rbuf", "seq", "sock", "unbound")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.seq = 1
        self.inflight: dict[int, float] = {}
        self.out = bytearray()
        self.rbuf = bytearray()
        self.unbound = False


class _LoadClient:
    """A lean ESME: N transceiver binds, a window of W submit_sm each."""

    def __init__(self, port: int, conns: int, window: int, count: int, duration: float, receipts: bool, wait_dlr: float) -> None:
        self.port = port
        self.n = conns
        self.window = window
        self.count = count
        self.duration = duration
        self.receipts = receipts
        self.wait_dlr = wait_dlr
        self.sel = selectors.DefaultSelector()
        self.conns: list[_Conn] = []
        self.sent = 0
        self.resp_ok = 0
        self.resp_err: dict[str, int] = {}
        self.nacks = 0
        self.latency: list[float] = []
        self.ids: set[bytes] = set()
        self.dlr_ids: list[bytes] = []
        self.t_first_send = 0.0
        self.t_last_resp = 0.0
        self.t_last_dlr = 0.0
        template = encode_pdu(
            SubmitSm(
                source_addr_ton=5,
                source_addr=SOURCE,
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=DESTINATION,
                registered_delivery=1 if receipts else 0,
                short_message=(b"smppd bench message " * 8)[:TEXT_LEN],
                sequence_number=1,
            )
        )
        self.head, self.tail = template[:12], template[16:]

    # connection set-up, shared with the hold mode
    def bind_all(self, n: int) -> list[_Conn]:
        conns = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conns.append(_Conn(s))
        bind = encode_pdu(BindTransceiver(system_id=SYSTEM_ID, password=PASSWORD, sequence_number=1))
        for c in conns:
            c.sock.sendall(bind)
        for c in conns:
            head = _recv_exact(c.sock, 16)
            length, cid, status, _seq = HEADER.unpack(head)
            _recv_exact(c.sock, length - 16)
            if cid != _BIND_TRX_RESP or status:
                raise SystemExit(f"bind failed: command_id 0x{cid:08X} status 0x{status:X}")
            c.seq = 2
            c.sock.setblocking(False)
        return conns

    def run(self) -> dict[str, Any]:
        self.conns = self.bind_all(self.n)
        for c in self.conns:
            self.sel.register(c.sock, selectors.EVENT_READ, c)
        now = time.perf_counter
        t0 = self.t_first_send = now()
        send_end = t0 + self.duration
        for c in self.conns:
            self._fill(c, t0)
            self._send(c)
        # Send phase: until every submit is answered, or the duration is up.
        while (self.sent < self.count or self._inflight()) and now() < send_end:
            self._poll(0.5)
        # Stragglers: wait a little for responses still in flight.
        drain_end = now() + 5.0
        while self._inflight() and now() < drain_end:
            self._poll(0.2)
        if self.receipts:
            dlr_end = now() + self.wait_dlr
            while len(self.dlr_ids) < self.resp_ok and now() < dlr_end:
                self._poll(0.2)
        self._unbind_all()
        elapsed_send = max(1e-9, self.t_last_resp - self.t_first_send)
        matched = len(self.ids.intersection(self.dlr_ids)) if self.receipts else 0
        result = {
            "sent": self.sent,
            "resp_ok": self.resp_ok,
            "resp_err": self.resp_err,
            "generic_nacks": self.nacks,
            "timeouts": self._inflight(),
            "throughput_per_s": round(self.resp_ok / elapsed_send, 1),
            "send_phase_s": round(elapsed_send, 3),
            "latency_ms": _percentiles(self.latency),
            "dlr_received": len(self.dlr_ids),
            "dlr_matched": matched,
            "dlr_per_s": round(len(self.dlr_ids) / max(1e-9, self.t_last_dlr - self.t_first_send), 1)
            if self.dlr_ids
            else 0.0,
            "client_cpu_s": round(sum(os.times()[:2]), 3),
        }
        return result

    def _inflight(self) -> int:
        return sum(len(c.inflight) for c in self.conns)

    def _fill(self, c: _Conn, t: float) -> None:
        room = min(self.window - len(c.inflight), self.count - self.sent)
        if room <= 0 or c.unbound:
            return
        head, tail, pack, inflight = self.head, self.tail, SEQ.pack, c.inflight
        seq = c.seq
        parts = []
        for s in range(seq, seq + room):
            parts.append(head + pack(s) + tail)
            inflight[s] = t
        c.seq = seq + room
        self.sent += room
        c.out += b"".join(parts)

    def _send(self, c: _Conn) -> None:
        try:
            n = c.sock.send(c.out)
        except BlockingIOError:
            n = 0
        del c.out[:n]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0)
        self.sel.modify(c.sock, events, c)

    def _poll(self, timeout: float) -> None:
        for key, mask in self.sel.select(timeout):
            c: _Conn = key.data
            if mask & selectors.EVENT_WRITE:
                self._send(c)
            if mask & selectors.EVENT_READ:
                self._read(c)

    def _read(self, c: _Conn) -> None:
        try:
            data = c.sock.recv(1 << 18)
        except BlockingIOError:
            return
        if not data:
            self.sel.unregister(c.sock)
            c.unbound = True
            c.inflight.clear()
            return
        t = time.perf_counter()
        buf = c.rbuf
        buf += data
        off, end = 0, len(buf)
        unpack = HEADER.unpack_from
        inflight, latency = c.inflight, self.latency
        answers = []
        while end - off >= 16:
            length, cid, status, seq = unpack(buf, off)
            if end - off < length:
                break
            if cid == _SUBMIT_RESP:
                t0 = inflight.pop(seq, None)
                if t0 is not None:
                    latency.append(t - t0)
                if status:
                    key = f"0x{status:08X}"
                    self.resp_err[key] = self.resp_err.get(key, 0) + 1
                else:
                    self.resp_ok += 1
                    if self.receipts:
                        self.ids.add(bytes(buf[off + 16 : off + length - 1]))
                self.t_last_resp = t
            elif cid == _DELIVER:
                pdu = decode_pdu(bytes(buf[off : off + length]))
                rid = pdu.tlvs.value("receipted_message_id") if pdu.tlvs else None
                self.dlr_ids.append((rid or "").encode())
                self.t_last_dlr = t
                answers.append(HEADER.pack(17, _DELIVER | 0x80000000, 0, seq) + b"\x00")
            elif cid == _ENQUIRE:
                answers.append(HEADER.pack(16, _ENQUIRE | 0x80000000, 0, seq))
            elif cid == _UNBIND:
                answers.append(HEADER.pack(16, _UNBIND_RESP, 0, seq))
                c.unbound = True
            elif cid == _UNBIND_RESP:
                c.unbound = True
            elif cid == _GENERIC_NACK:
                self.nacks += 1
                inflight.pop(seq, None)
            off += length
        del buf[:off]
        if answers:
            c.out += b"".join(answers)
        if self.sent < self.count and t < self.t_first_send + self.duration:
            self._fill(c, t)
        if c.out:
            self._send(c)

    def _unbind_all(self) -> None:
        for c in self.conns:
            if not c.unbound:
                c.out += HEADER.pack(16, _UNBIND, 0, c.seq)
                self._send(c)
        end = time.perf_counter() + 2.0
        while not all(c.unbound for c in self.conns) and time.perf_counter() < end:
            self._poll(0.1)
        for c in self.conns:
            c.sock.close()


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise SystemExit("the server closed the connection")
        data += chunk
    return data


def _hold(port: int, n: int, hold: float) -> dict[str, Any]:
    """Bind ``n`` sessions, say READY, keep them until stdin says GO (or ``hold`` s)."""
    client = _LoadClient(port, n, 1, 0, 0, False, 0)
    t0 = time.perf_counter()
    conns = client.bind_all(n)
    bind_s = time.perf_counter() - t0
    print("READY", flush=True)
    sel = selectors.DefaultSelector()
    sel.register(sys.stdin, selectors.EVENT_READ)
    for c in conns:
        sel.register(c.sock, selectors.EVENT_READ, c)
    end = time.perf_counter() + hold
    done = False
    while not done and time.perf_counter() < end:
        for key, _mask in sel.select(0.5):
            if key.fileobj is sys.stdin:
                done = True
                continue
            c = key.data
            try:
                data = c.sock.recv(4096)
            except BlockingIOError:
                continue
            off = 0
            while len(data) - off >= 16:  # answer enquire_link
                length, cid, _status, seq = HEADER.unpack_from(data, off)
                if cid == _ENQUIRE:
                    c.sock.send(HEADER.pack(16, _ENQUIRE | 0x80000000, 0, seq))
                off += length
    for c in conns:
        c.sock.close()
    return {"bound": len(conns), "bind_all_s": round(bind_s, 3)}


# -- scenarios -------------------------------------------------------------------


def _child(args: list[str], **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args], stdout=subprocess.PIPE, text=True, **kw
    )


def run_load(server: Server, opts: argparse.Namespace, conns: int, window: int, receipts: bool) -> dict[str, Any]:
    cpu0 = server.cpu_seconds()
    if opts.client == "loadgen":
        argv = [
            opts.loadgen, "--host", "127.0.0.1", "--port", str(server.port),
            "--system-id", SYSTEM_ID, "--password", PASSWORD, "--bind", "trx",
            "--conns", str(conns), "--window", str(window), "--count", str(opts.count),
            "--duration", str(opts.duration), "--text-len", str(TEXT_LEN), "--coding", "gsm7",
            "--registered-delivery", "1" if receipts else "0",
        ]  # fmt: skip
        if receipts:
            argv += ["--wait-dlr", str(opts.wait_dlr)]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=opts.duration + opts.wait_dlr + 60)
        if out.returncode:
            raise SystemExit(f"smpp-loadgen failed: {out.stderr.strip()}")
        raw = json.loads(out.stdout.strip().splitlines()[-1])
        result = {
            "sent": raw["sent"],
            "resp_ok": raw["resp_ok"],
            "resp_err": raw["resp_err"],
            "generic_nacks": raw["generic_nacks"],
            "timeouts": raw["timeouts"],
            "throughput_per_s": raw["throughput_per_s"],
            "send_phase_s": raw["send_phase_s"],
            "latency_ms": {q: raw[f"latency_{q}_ms"] for q in ("p50", "p90", "p99", "max")},
            "dlr_received": raw["dlr_received"],
            "dlr_matched": raw["dlr_matched"],
            # the loadgen reports receipt latency, not a rate: receipts over its whole run
            "dlr_per_s": round(raw["dlr_received"] / raw["elapsed_s"], 1) if raw["dlr_received"] else 0.0,
        }
    else:
        spec = {
            "port": server.port, "conns": conns, "window": window, "count": opts.count,
            "duration": opts.duration, "receipts": receipts, "wait_dlr": opts.wait_dlr,
        }  # fmt: skip
        proc = _child(["--_load", json.dumps(spec)])
        stdout, _ = proc.communicate(timeout=opts.duration + opts.wait_dlr + 60)
        if proc.returncode:
            raise SystemExit("the load client failed")
        result = json.loads(stdout.strip().splitlines()[-1])
    cpu = server.cpu_seconds() - cpu0
    result["server_cpu_s"] = round(cpu, 3)
    result["server_rss_after_mib"] = round(server.rss_kib() / 1024, 1)
    result["server_cpu_us_per_msg"] = round(cpu / result["resp_ok"] * 1e6, 1) if result["resp_ok"] else None
    return result


def run_rss(opts: argparse.Namespace) -> dict[str, Any]:
    with Server("memory") as server:
        time.sleep(1.0)
        idle = server.rss_kib()
        if opts.client == "loadgen":
            proc = subprocess.Popen(
                [
                    opts.loadgen, "--host", "127.0.0.1", "--port", str(server.port),
                    "--system-id", SYSTEM_ID, "--password", PASSWORD, "--bind", "trx",
                    "--hold-only", "--conns", str(opts.sessions), "--duration", "10",
                ],  # fmt: skip
                stdout=subprocess.PIPE,
                text=True,
            )
            peak = 0
            while proc.poll() is None:  # sample while it holds; the peak is the figure
                peak = max(peak, server.rss_kib())
                time.sleep(0.2)
            raw = json.loads(proc.stdout.read().strip().splitlines()[-1]) if proc.stdout else {}
            held = {"bound": raw.get("binds_ok", 0), "loadgen": raw}
            bound_rss = peak
        else:
            proc = _child(["--_hold", json.dumps({"port": server.port, "n": opts.sessions, "hold": 60})], stdin=subprocess.PIPE)
            assert proc.stdout is not None and proc.stdin is not None
            line = proc.stdout.readline()
            if line.strip() != "READY":
                proc.kill()
                raise SystemExit("the hold client failed")
            time.sleep(1.0)
            bound_rss = server.rss_kib()
            proc.stdin.write("GO\n")
            proc.stdin.flush()
            held = json.loads(proc.stdout.read().strip().splitlines()[-1])
            proc.wait()
    return {
        "idle_rss_mib": round(idle / 1024, 1),
        "sessions": opts.sessions,
        "bound": held["bound"],
        "bound_rss_mib": round(bound_rss / 1024, 1),
        "per_session_kib": round((bound_rss - idle) / max(1, held["bound"]), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="1x1,4x50", help="CONNSxWINDOW list (default 1x1,4x50)")
    parser.add_argument("--stores", default="memory,sqlite", help="memory and/or sqlite")
    parser.add_argument("--receipts", default="off,on", help="off and/or on (registered_delivery=1)")
    parser.add_argument("--count", type=int, default=100_000, help="submit_sm per scenario, at most")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of sending per scenario, at most")
    parser.add_argument("--wait-dlr", type=float, default=15.0, help="seconds to wait for the last receipts")
    parser.add_argument("--sessions", type=int, default=1000, help="bound sessions for the RSS figure")
    parser.add_argument("--no-rss", action="store_true", help="skip the RSS figures")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare Twisted baseline")
    parser.add_argument("--client", choices=("python", "loadgen"), default="python")
    parser.add_argument("--loadgen", default="/tmp/smpp-loadgen/release/smpp-loadgen", help="smpp-loadgen binary")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    parser.add_argument("--_load", help=argparse.SUPPRESS)
    parser.add_argument("--_hold", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    _raise_nofile(opts.sessions + 200)

    if opts._load:  # the load client process
        s = json.loads(opts._load)
        client = _LoadClient(s["port"], s["conns"], s["window"], s["count"], s["duration"], s["receipts"], s["wait_dlr"])
        print(json.dumps(client.run()))
        return
    if opts._hold:
        s = json.loads(opts._hold)
        print(json.dumps(_hold(s["port"], s["n"], s["hold"])))
        return
    if opts.client == "loadgen" and not Path(opts.loadgen).exists():
        parser.error(f"no smpp-loadgen at {opts.loadgen} (see shared/tools/smpp-loadgen/README.md)")

    shapes = [tuple(int(x) for x in s.split("x")) for s in opts.shapes.split(",") if s]
    stores = [s for s in opts.stores.split(",") if s]
    receipts = [r == "on" for r in opts.receipts.split(",") if r]
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "client": opts.client,
        "cpus": os.cpu_count(),
        "count": opts.count,
        "duration": opts.duration,
        "scenarios": [],
    }
    if not opts.json:
        print(f"CPython {report['python']}, {report['cpus']} CPU(s), client: {opts.client}; "
              f"at most {opts.count:,} submit_sm or {opts.duration:g} s per scenario")  # fmt: skip
        print(f"  {'scenario':<28} {'submit/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}"
              f" {'srv us/msg':>10} {'dlr/s':>8} {'matched':>9}")  # fmt: skip
    for store in stores:
        for conns, window in shapes:
            for dlr in receipts:
                name = f"{conns}x{window} {store}{' receipts' if dlr else ''}"
                with Server(store) as server:
                    r = run_load(server, opts, conns, window, dlr)
                r.update(name=name, store=store, conns=conns, window=window, receipts=dlr)
                report["scenarios"].append(r)
                if not opts.json:
                    _print_row(r)
    if not opts.no_baseline:
        report["baseline"] = []
        for conns, window in shapes:
            with Server("memory", baseline=True) as server:
                r = run_load(server, opts, conns, window, False)
            r.update(name=f"baseline: bare Twisted {conns}x{window}", store="-", conns=conns, window=window, receipts=False)
            report["baseline"].append(r)
            if not opts.json:
                _print_row(r)
    if not opts.no_rss:
        report["rss"] = run_rss(opts)
        if not opts.json:
            m = report["rss"]
            print(f"  RSS idle after start {m['idle_rss_mib']} MiB; with {m['bound']:,} bound sessions "
                  f"{m['bound_rss_mib']} MiB ({m['per_session_kib']} KiB per session)")  # fmt: skip
    if opts.json:
        print(json.dumps(report))


def _print_row(r: dict[str, Any]) -> None:
    lat = r["latency_ms"]
    errors = sum(r["resp_err"].values()) + r["generic_nacks"] + r["timeouts"]
    dlr = f"{r['dlr_per_s']:>8,.0f} {r['dlr_matched']:>9,}" if r["receipts"] else f"{'-':>8} {'-':>9}"
    us = r["server_cpu_us_per_msg"]
    print(
        f"  {r['name']:<28} {r['throughput_per_s']:>9,.0f} {lat['p50']:>8.2f} {lat['p90']:>8.2f}"
        f" {lat['p99']:>8.2f} {lat['max']:>8.2f} {us if us is not None else '-':>10} {dlr}"
        + (f"  ({errors} errors)" if errors else "")
    )


def _raise_nofile(want: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))  # children inherit it


if __name__ == "__main__":
    main()
