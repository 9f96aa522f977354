"""CPU per message on the submit path, in process: no sockets, fake time.

Not a test (pytest does not collect it): run it and read the figures.

    python tests/benchmarks/bench_submit_path.py [--count 100000] [--receipts] [--profile]

One :class:`~smppd.server.protocol.SmscProtocol` bound as a transceiver over an
in-memory transport, the memory store and the simulator at delay 0, on a
``task.Clock``. Windows of 50 submit_sm are fed as one read each; the clock is
advanced so the simulator finishes them; with ``--receipts`` every deliver_sm
receipt is answered. The garbage collector is tuned as ``twistd smpp-server``
tunes it (``smppd.runtime.tune_gc``). It prints the process CPU time per
message: everything the server does per message except the reactor and the socket calls, with no
load client competing for the CPU, so it is far steadier on a shared machine
than ``bench_server.py``'s rates. ``--profile`` adds a cProfile listing
(per-message cumulative and own time, calls per message; cProfile roughly
triples the cost of small functions, so read its shares, not its times).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from smppd.auth import UsersAuthenticator, demo_users  # noqa: E402
from smppd.pdu import BindTransceiver, SubmitSm, encode_pdu  # noqa: E402
from smppd.runtime import tune_gc  # noqa: E402
from smppd.server.config import ServerConfig  # noqa: E402
from smppd.server.protocol import SmscProtocol  # noqa: E402
from smppd.server.smsc import Smsc  # noqa: E402
from smppd.storage import MemoryStore  # noqa: E402
from smppd.testing import PduTransport, TestReactor  # noqa: E402

HEADER = struct.Struct(">IIII")
SEQ = struct.Struct(">I")
WINDOW = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--receipts", action="store_true", help="registered_delivery=1, receipts answered")
    parser.add_argument("--profile", action="store_true", help="print a cProfile listing")
    parser.add_argument("--top", type=int, default=40, help="rows of the listing")
    args = parser.parse_args()

    clock = TestReactor()
    clock.advance(1_700_000_000)
    smsc = Smsc(
        clock,
        MemoryStore(),
        UsersAuthenticator(demo_users(), reactor=clock),
        config=ServerConfig(simulator_default_delay=0),
    )
    smsc.start()
    proto = SmscProtocol(smsc)
    transport = PduTransport()
    proto.makeConnection(transport)
    proto.dataReceived(encode_pdu(BindTransceiver(system_id="test", password="test", sequence_number=1)))
    transport.clear()
    wire = encode_pdu(
        SubmitSm(
            source_addr_ton=5,
            source_addr="smppd-bench",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900123",
            registered_delivery=1 if args.receipts else 0,
            short_message=b"smppd bench message ",
            sequence_number=1,
        )
    )
    head, tail = wire[:12], wire[16:]
    seq = 2

    def run(n: int) -> None:
        nonlocal seq
        for _ in range(n // WINDOW):
            proto.dataReceived(b"".join(head + SEQ.pack(s) + tail for s in range(seq, seq + WINDOW)))
            seq += WINDOW
            clock.advance(0)  # the simulator's delay-0 timer
            out = transport.value()
            transport.clear()
            if args.receipts:
                answers = []
                off = 0
                while off < len(out):
                    length, cid, _status, sq = HEADER.unpack_from(out, off)
                    if cid == 0x00000005:
                        answers.append(HEADER.pack(17, 0x80000005, 0, sq) + b"\x00")
                    off += length
                if answers:
                    proto.dataReceived(b"".join(answers))

    run(5 * WINDOW * 20)  # warm up
    tune_gc()  # as twistd smpp-server does once it has started
    profiler = cProfile.Profile() if args.profile else None
    c0 = time.process_time()
    if profiler is not None:
        profiler.enable()
    run(args.count)
    if profiler is not None:
        profiler.disable()
    cpu = time.process_time() - c0
    n = args.count // WINDOW * WINDOW
    kind = "with receipts" if args.receipts else "no receipts"
    print(f"CPython {sys.version.split()[0]}: {n:,} submit_sm {kind}, window {WINDOW}: "
          f"{cpu / n * 1e6:.1f} us CPU per message ({n / cpu:,.0f}/s on one core)"
          + (" [under cProfile]" if profiler else ""))  # fmt: skip
    if profiler is not None:
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        rows = []
        for (filename, line, name), (_cc, calls, own, cum, _callers) in stats.items():
            where = filename.split("site-packages/")[-1].replace(str(Path(__file__).resolve().parents[2]) + "/", "")
            rows.append((cum, own, calls, f"{where}:{line}({name})"))
        rows.sort(reverse=True)
        print(f"  {'cum us/msg':>10} {'own us/msg':>10} {'calls/msg':>9}  function")
        for cum, own, calls, name in rows[: args.top]:
            print(f"  {cum / n * 1e6:>10.2f} {own / n * 1e6:>10.2f} {calls / n:>9.2f}  {name[:100]}")


if __name__ == "__main__":
    main()
