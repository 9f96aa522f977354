"""Codec throughput: decode and encode rates, and the framer over a stream.

Not a test (pytest does not collect it): run it and read the figures.

    python tests/benchmarks/bench_codec.py [--seconds 1.0] [--json]

Prints PDU/s for decoding and encoding a 160-character submit_sm and a
deliver_sm delivery receipt, and the rate of PduReader (framing + decoding)
over 10,000 back-to-back submit_sm fed in 64 KiB chunks. Figures are the best
of several timed rounds. Because these machines are shared and noisy, the same
run also times two baselines: a bare header unpack (the floor of any Python
codec) and, when it is installed, smpplib's parser, so ratios can be compared
across runs.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from smppd.pdu import (  # noqa: E402
    DeliverSm,
    PduReader,
    SubmitSm,
    decode_pdu,
    encode_pdu,
)

TEXT = (b"The quick brown fox jumps over the lazy dog. " * 4)[:160]

SUBMIT = SubmitSm(
    sequence_number=1234,
    source_addr_ton=5,
    source_addr="smppd",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="447700900123",
    registered_delivery=1,
    short_message=TEXT,
)
RECEIPT = DeliverSm(
    sequence_number=4321,
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr="447700900123",
    destination_addr="smppd",
    esm_class=0x04,
    short_message=(
        b"id:4f2a9c0e10b3 sub:001 dlvrd:001 submit date:2511251200 "
        b"done date:2511251200 stat:DELIVRD err:000 text:The quick brown fox "
    ),
    tlvs={"receipted_message_id": "4f2a9c0e10b3", "message_state": 2},
)


def rate(fn: Callable[[], object], seconds: float, rounds: int = 5) -> float:
    """Best calls/s of ``rounds`` rounds lasting about ``seconds`` in total."""
    n = 1000
    while True:  # calibrate a batch to ~20 ms
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt > 0.02:
            break
        n *= 2
    per_round = max(1, int(n * (seconds / rounds) / dt))
    best = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(per_round):
            fn()
        best = max(best, per_round / (time.perf_counter() - t0))
    return best


def framer_rate(count: int = 10_000, chunk: int = 64 * 1024, rounds: int = 5) -> float:
    wire = b"".join(encode_pdu(SubmitSm(sequence_number=i + 1, short_message=TEXT)) for i in range(count))
    chunks = [wire[i : i + chunk] for i in range(0, len(wire), chunk)]
    best = 0.0
    for _ in range(rounds):
        reader = PduReader()
        got = 0
        t0 = time.perf_counter()
        for c in chunks:
            got += len(reader.feed(c))
        best = max(best, count / (time.perf_counter() - t0))
        assert got == count
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per figure")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    args = parser.parse_args()

    submit_wire = encode_pdu(SUBMIT)
    receipt_wire = encode_pdu(RECEIPT)
    assert decode_pdu(submit_wire) == SUBMIT and decode_pdu(receipt_wire) == RECEIPT
    header = struct.Struct(">IIII").unpack_from

    figures = {
        "submit_sm decode": rate(lambda: decode_pdu(submit_wire), args.seconds),
        "submit_sm encode": rate(lambda: encode_pdu(SUBMIT), args.seconds),
        "deliver_sm receipt decode": rate(lambda: decode_pdu(receipt_wire), args.seconds),
        "deliver_sm receipt encode": rate(lambda: encode_pdu(RECEIPT), args.seconds),
        "framer+decode, 10,000 submit_sm in 64 KiB chunks": framer_rate(),
        "baseline: bare header unpack": rate(lambda: header(submit_wire), args.seconds),
    }
    try:
        from smpplib import smpp as smpplib_smpp
    except ImportError:
        pass
    else:
        class _Sequencer:  # smpplib asks its client for sequence numbers
            sequence = 1

            def next_sequence(self) -> int:
                return 1

        client = _Sequencer()
        figures["baseline: smpplib submit_sm parse"] = rate(
            lambda: smpplib_smpp.parse_pdu(submit_wire, client=client), args.seconds
        )
    if args.json:
        print(json.dumps({"python": sys.version.split()[0], "pdu_per_s": figures}))
        return
    print(f"CPython {sys.version.split()[0]}, one core, best of 5 rounds")
    for name, value in figures.items():
        print(f"  {name:<52} {value:>12,.0f} PDU/s")
    base = figures["baseline: bare header unpack"]
    print(f"  submit_sm decode as a share of a bare header unpack: {figures['submit_sm decode'] / base:.3f}")


if __name__ == "__main__":
    main()
