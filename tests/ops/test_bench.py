"""``smppd bench`` against our own SMSC (in-process, real sockets on 127.0.0.1
port 0) and against a scripted peer that answers some submit_sm with errors
and leaves others unanswered; the command itself runs in a child process."""

from __future__ import annotations

import json
import os
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import protocol, reactor, task
from twisted.internet.utils import getProcessOutputAndValue

from smppd.auth import UsersAuthenticator, demo_users
from smppd.bench import (
    BenchConfig,
    BenchError,
    BenchResult,
    build_templates,
    format_summary,
    percentiles,
    run_bench,
)
from smppd.pdu import SubmitSm, decode_pdu
from smppd.server.config import ServerConfig
from smppd.server.factory import SmscFactory
from smppd.server.smsc import Smsc
from smppd.storage import MemoryStore

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
H = struct.Struct(">IIII")


@pytest.fixture
def smsc_port() -> Iterator[int]:
    """Our SMSC, demo users, simulator delay 0, on a kernel-chosen port."""
    smsc = Smsc(
        reactor,
        MemoryStore(),
        UsersAuthenticator(demo_users(), reactor=reactor),
        config=ServerConfig(simulator_default_delay=0.0),
    )
    pytest_twisted.blockon(smsc.start())
    port = reactor.listenTCP(0, SmscFactory(smsc), interface=HOST)
    try:
        yield port.getHost().port
    finally:
        pytest_twisted.blockon(port.stopListening())
        pytest_twisted.blockon(smsc.stop())


def config(port: int, **kw: object) -> BenchConfig:
    base: dict[str, object] = dict(host=HOST, port=port, system_id="test", password="test", timeout=5.0)
    base.update(kw)
    return BenchConfig(**base)  # type: ignore[arg-type]


# -- against our SMSC ------------------------------------------------------------------------


@pytest_twisted.inlineCallbacks
def test_every_message_answered_and_every_receipt_matched(smsc_port):
    result = yield run_bench(
        reactor, config(smsc_port, count=2000, connections=2, window=20, receipts=True)
    )
    report = json.loads(json.dumps(result.as_dict()))
    assert report["sent"] == report["ok"] == 2000
    assert report["errors"] == {} and report["error_count"] == 0
    assert report["receipts"]["received"] == 2000
    assert report["receipts"]["matched"] == 2000
    assert report["throughput_per_s"] > 0
    lat = report["submit_latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert report["receipts"]["latency_ms"]["p50"] > 0
    assert result.success
    assert "2,000 matched" in format_summary(result)


@pytest_twisted.inlineCallbacks
def test_rate_limits_the_throughput(smsc_port):
    result = yield run_bench(reactor, config(smsc_port, rate=400, duration=1.0, connections=2, window=20))
    # 400/s for 1 s: about 400 sent (one message is due at once, then 400 a second).
    assert 360 <= result.sent <= 402, result.as_dict()
    assert result.ok == result.sent
    assert result.throughput < 400 * 1.15


@pytest_twisted.inlineCallbacks
def test_long_ucs2_messages_go_out_as_whole_segment_runs(smsc_port):
    result = yield run_bench(
        reactor, config(smsc_port, count=50, window=5, text_length=150, encoding="ucs2", receipts=True)
    )
    assert result.segments == 3  # 150 UCS2 characters: 67 + 67 + 16
    assert result.messages == 50 and result.sent == result.ok == 150
    assert result.receipts_matched == 150


@pytest_twisted.inlineCallbacks
def test_errors_are_counted_by_status_name(smsc_port):
    result = yield run_bench(reactor, config(smsc_port, count=40, window=10, destination=""))
    assert result.sent == 40 and result.ok == 0
    assert result.errors == {"ESME_RINVDSTADR": 40}
    assert not result.success


@pytest_twisted.inlineCallbacks
def test_a_wrong_password_is_a_bench_error_and_nothing_is_left_open(smsc_port):
    with pytest.raises(BenchError, match="bind refused: ESME_RBINDFAIL"):
        yield run_bench(reactor, config(smsc_port, password="wrong", connections=3))


@pytest_twisted.inlineCallbacks
def test_interrupt_ends_the_run_early_with_a_summary(smsc_port):
    handle = []
    d = run_bench(
        reactor, config(smsc_port, count=10_000_000, duration=30, rate=1000), on_start=handle.append
    )
    yield task.deferLater(reactor, 0.3, lambda: None)
    handle[0].interrupt()
    result = yield d
    assert result.interrupted and 0 < result.sent < 1000
    assert result.ok == result.sent  # what was in flight was still answered
    assert result.elapsed < 5


@pytest_twisted.inlineCallbacks
def test_a_second_interrupt_stops_waiting():
    port = reactor.listenTCP(0, protocol.Factory.forProtocol(Scripted), interface=HOST)
    try:
        handle = []
        d = run_bench(reactor, config(port.getHost().port, count=30, window=30, timeout=30), on_start=handle.append)
        yield task.deferLater(reactor, 0.2, lambda: None)  # all sent; a third never answered
        handle[0].interrupt()
        handle[0].interrupt()
        result = yield d
        assert result.interrupted and result.elapsed < 5
        assert result.errors == {"ESME_RTHROTTLED": 10, "no response": 10}
    finally:
        yield port.stopListening()


# -- against a scripted peer --------------------------------------------------------------------


class Scripted(protocol.Protocol):
    """Binds anyone; answers submit_sm by sequence number: 3n OK, 3n+1
    ESME_RTHROTTLED, 3n+2 never; enquire_link once after the bind."""

    def connectionMade(self):
        self.buf = b""

    def dataReceived(self, data):
        self.buf += data
        out = []
        while len(self.buf) >= 16:
            length, cid, _status, seq = H.unpack_from(self.buf)
            if len(self.buf) < length:
                break
            self.buf = self.buf[length:]
            if cid == 0x00000009:  # bind_transceiver
                out.append(H.pack(22, 0x80000009, 0, seq) + b"peer\x00\x00")
                out.append(H.pack(16, 0x00000015, 0, 1))  # enquire_link: the bench answers it
            elif cid == 0x00000004:  # submit_sm
                if seq % 3 == 0:
                    out.append(H.pack(19, 0x80000004, 0, seq) + b"id\x00")
                elif seq % 3 == 1:
                    out.append(H.pack(17, 0x80000004, 0x58, seq) + b"\x00")
            elif cid == 0x00000006:  # unbind
                out.append(H.pack(16, 0x80000006, 0, seq))
        if out:
            self.transport.write(b"".join(out))


@pytest_twisted.inlineCallbacks
def test_error_statuses_and_unanswered_submits_are_counted_and_bounded():
    port = reactor.listenTCP(0, protocol.Factory.forProtocol(Scripted), interface=HOST)
    try:
        before = set(reactor.getDelayedCalls())
        result = yield run_bench(reactor, config(port.getHost().port, count=30, window=30, timeout=0.5))
        assert result.sent == 30
        # sequence numbers 2..31 (1 is the bind): 10 of each kind
        assert result.ok == 10
        assert result.errors == {"ESME_RTHROTTLED": 10, "no response": 10}
        assert result.elapsed < 3
        assert set(reactor.getDelayedCalls()) <= before  # no timer of the bench left behind
    finally:
        yield port.stopListening()


@pytest_twisted.inlineCallbacks
def test_no_smsc_is_a_bench_error():
    port = reactor.listenTCP(0, protocol.Factory.forProtocol(protocol.Protocol), interface=HOST)
    number = port.getHost().port
    yield port.stopListening()
    with pytest.raises(BenchError, match=f"cannot connect to {HOST}:{number}"):
        yield run_bench(reactor, config(number))


# -- the pieces ------------------------------------------------------------------------------


def test_templates_are_the_submit_sm_of_one_message():
    (wire,) = build_templates(BenchConfig(text_length=20, receipts=True))
    pdu = decode_pdu(wire)
    assert isinstance(pdu, SubmitSm)
    assert pdu.sequence_number == 1 and pdu.registered_delivery == 1
    assert pdu.short_message == b"smppd bench message "
    assert (pdu.source_addr_ton, pdu.dest_addr_ton, pdu.dest_addr_npi) == (5, 1, 1)
    patched = decode_pdu(wire[:12] + struct.pack(">I", 77) + wire[16:])
    assert patched.sequence_number == 77 and patched.short_message == pdu.short_message
    two = build_templates(BenchConfig(text_length=200))
    assert len(two) == 2 and all(decode_pdu(w).esm_class & 0x40 for w in two)


def test_percentiles_are_nearest_rank_in_milliseconds():
    samples = [i / 1000 for i in range(1, 101)]
    assert percentiles(samples) == {"p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 100.0}
    assert percentiles([]) == {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"connections": 0}, "--connections"),
        ({"window": 0}, "--window"),
        ({"duration": 0}, "--duration"),
        ({"rate": -1}, "--rate"),
        ({"bind": "tx", "receipts": True}, "--receipts"),
    ],
)
def test_settings_that_cannot_run_name_the_option(fields, message):
    with pytest.raises(ValueError, match=message):
        BenchConfig(**fields).check()


def test_success_needs_every_submit_ok_and_every_receipt():
    base = dict(
        segments=1, messages=10, sent=10, ok=10, errors={}, send_seconds=1.0, throughput=10.0,
        submit_latency_ms={}, receipts_received=10, receipts_matched=10, receipt_latency_ms={}, elapsed=1.0,
    )  # fmt: skip
    assert BenchResult(config=BenchConfig(receipts=True), **base).success
    assert not BenchResult(config=BenchConfig(receipts=True), **{**base, "receipts_matched": 9}).success
    assert not BenchResult(config=BenchConfig(), **{**base, "ok": 9, "errors": {"x": 1}}).success


# -- the command, in a child process ---------------------------------------------------------


def smppd(*argv: str):
    code = "import sys; from smppd.cli import main; sys.exit(main(sys.argv[1:]))"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return getProcessOutputAndValue(sys.executable, ["-c", code, *argv], env=env, path=str(REPO))


@pytest_twisted.inlineCallbacks
def test_the_command_prints_json_and_exits_0(smsc_port):
    out, err, code = yield smppd(
        "bench", "--port", str(smsc_port), "--system-id", "test", "--password", "test",
        "--count", "300", "--connections", "2", "--window", "20", "--receipts", "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] == 300 and report["receipts"]["matched"] == 300
    assert err == b""  # no progress line with --json (and stderr is not a terminal)


@pytest_twisted.inlineCallbacks
def test_the_command_says_why_a_bind_fails_and_exits_1(smsc_port):
    out, err, code = yield smppd(
        "bench", "--port", str(smsc_port), "--system-id", "test", "--password", "wrong", "--count", "5"
    )
    assert code == 1
    assert out == b""
    assert err.decode().strip() == "smppd bench: bind refused: ESME_RBINDFAIL (system_id 'test')"


@pytest_twisted.inlineCallbacks
def test_the_command_refuses_bad_options_with_2():
    out, err, code = yield smppd("bench", "--system-id", "x", "--window", "0")
    assert code == 2 and err.decode().strip() == "smppd bench: --window: must be at least 1"


def test_the_command_line_and_the_config_agree(monkeypatch):
    from smppd import bench, cli

    monkeypatch.setenv("SMPP_PASSWORD", "from-env")
    args = cli.build_parser().parse_args(["bench", "--system-id", "test"])
    assert bench.config_from_args(args) == BenchConfig(system_id="test", password="from-env")
    args = cli.build_parser().parse_args(
        ["bench", "--system-id", "t", "--password", "p", "--bind", "tx", "--encoding", "ucs2",
         "--connections", "3", "--window", "7", "--rate", "5", "--count", "9", "--duration", "2",
         "--text-length", "30", "--from", "123", "--to", "456", "--receipt-wait", "1", "--timeout", "3"]
    )  # fmt: skip
    assert bench.config_from_args(args) == BenchConfig(
        system_id="t", password="p", bind="tx", encoding="ucs2", connections=3, window=7, rate=5.0,
        count=9, duration=2.0, text_length=30, source="123", destination="456", receipt_wait=1.0, timeout=3.0,
    )  # fmt: skip
    (sub,) = [a for a in cli.build_parser()._subparsers._group_actions if a.dest == "command"]
    choices = {a.dest: tuple(a.choices) for a in sub.choices["bench"]._actions if a.choices}
    assert choices == {"bind": bench.BIND_TYPES, "encoding": bench.ENCODINGS}
