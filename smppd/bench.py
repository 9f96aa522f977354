"""``smppd bench``: load an SMSC with submit_sm and measure what comes back.

::

    smppd bench --host 127.0.0.1 --port 2775 --system-id test --password test \\
        --connections 4 --window 50 --count 100000 --receipts

N connections bind (transceiver or transmitter), then keep up to W submit_sm
unanswered each, at most R messages a second in total (0: as fast as the SMSC
answers), until C messages are sent or S seconds are up; the last responses
and, with ``--receipts``, the delivery receipts are waited for (bounded), then
every connection unbinds. A summary follows: submit_sm sent, answered OK,
errors by status name, throughput, submit latency (submit_sm written to its
response read) p50/p90/p99/max and, with receipts, how many arrived, how many
matched a submit by receipted_message_id (or the ``id:`` of the receipt text)
and their latency (submit_sm written to the receipt read).

It is built to stay out of the way of what it measures: pre-encoded
submit_sm templates whose sequence number is patched in (``wire[:12] + seq +
wire[16:]``), one write per batch, straight to the socket when Twisted has
nothing queued (:func:`smppd.protocol.eager_write`), TCP_NODELAY, responses framed by the
codec's :class:`~smppd.pdu.Framer` and read from the header alone; only
deliver_sm and the rare other PDUs are fully decoded. It runs on the reactor
it is given (:func:`run_bench`) or, as a command, under ``task.react``.

A message longer than one SMS (``--text-length`` past 160 GSM 7-bit or 70
UCS2 characters) is split as ``smppd.text.split_text`` would (UDH
concatenation); its segments go back to back on one connection, count as
one message for ``--count`` and ``--rate`` and as one submit_sm each
everywhere else (window, sent, latency, receipts). Every message carries the
same concatenation reference: the bench does not care about reassembly.
"""

from __future__ import annotations

import math
import os
import signal
import struct
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import attrs
from twisted.internet import task
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.defer import Deferred, DeferredList, ensureDeferred
from twisted.internet.endpoints import (
    HostnameEndpoint,
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
    connectProtocol,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

from smppd.pdu import (
    BindTransceiver,
    BindTransmitter,
    CommandId,
    CommandStatus,
    DeliverSm,
    Framer,
    PduDecodeError,
    SubmitSm,
    decode_pdu,
    empty_id_response,
    encode_pdu,
    error_response,
    status_name,
)
from smppd.protocol import eager_write
from smppd.text import choose_encoding, parse_receipt, split_text

__all__ = [
    "BIND_TYPES",
    "ENCODINGS",
    "BenchConfig",
    "BenchError",
    "BenchResult",
    "build_templates",
    "format_summary",
    "percentiles",
    "run_bench",
    "run_command",
]

BIND_TYPES = ("trx", "tx")
ENCODINGS = ("gsm7", "ucs2")
_SAMPLE = {"gsm7": "smppd bench message ", "ucs2": "smppd bench: сообщение №1 "}

_HEADER = struct.Struct(">IIII")
_unpack_header = _HEADER.unpack_from
_pack_seq = struct.Struct(">I").pack
_MAX_SEQ = 0x7FFFFFFF
_RESP = 0x80000000

_SUBMIT_RESP = int(CommandId.submit_sm_resp)
_DELIVER = int(CommandId.deliver_sm)
_ENQUIRE = int(CommandId.enquire_link)
_UNBIND = int(CommandId.unbind)
_UNBIND_RESP = int(CommandId.unbind_resp)
_GENERIC_NACK = int(CommandId.generic_nack)
_BIND_RESPS = frozenset((int(CommandId.bind_transceiver_resp), int(CommandId.bind_transmitter_resp)))

#: How often the rate limiter tops up the connections (seconds).
_TICK = 0.005
#: Bound on the unbind exchange and the close at the end (seconds).
_UNBIND_WAIT = 2.0

# Error keys that are not command_status names.
NO_RESPONSE = "no response"
CONNECTION_LOST = "connection lost"


class BenchError(Exception):
    """The run could not be made: no connection, bind refused, ... (one line)."""


@attrs.frozen
class BenchConfig:
    """What to load, how hard and for how long."""

    host: str = "127.0.0.1"
    port: int = 2775
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    bind: str = "trx"  # "trx" | "tx"
    connections: int = 1
    window: int = 10  # unanswered submit_sm per connection
    rate: float = 0.0  # messages per second in total; 0: as fast as possible
    count: int = 10_000  # messages, at most
    duration: float = 60.0  # seconds of sending, at most
    text_length: int = 20  # characters per message
    encoding: str = "gsm7"  # "gsm7" | "ucs2"
    receipts: bool = False  # registered_delivery=1; wait for and match the receipts
    source: str = "smppd-bench"
    destination: str = "447700900123"
    receipt_wait: float = 10.0  # seconds to wait for the last receipts, at most
    timeout: float = 10.0  # connect, bind, and the wait for the last responses

    def check(self) -> None:
        """ValueError (naming the option) for settings that cannot run."""
        if self.bind not in BIND_TYPES:
            raise ValueError(f"--bind: must be one of {', '.join(BIND_TYPES)}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"--encoding: must be one of {', '.join(ENCODINGS)}")
        if not 0 < self.port < 65536:
            raise ValueError("--port: must be 1..65535")
        for name, value in (("--connections", self.connections), ("--window", self.window),
                            ("--count", self.count), ("--text-length", self.text_length)):  # fmt: skip
            if value < 1:
                raise ValueError(f"{name}: must be at least 1")
        for name, number in (("--rate", self.rate), ("--duration", self.duration),
                             ("--receipt-wait", self.receipt_wait), ("--timeout", self.timeout)):  # fmt: skip
            if not math.isfinite(number) or number < 0:
                raise ValueError(f"{name}: must be a number, 0 or more")
        if self.duration <= 0:
            raise ValueError("--duration: must be more than 0")
        if self.receipts and self.bind != "trx":
            raise ValueError("--receipts: receipts come back on a transceiver bind (--bind trx)")


def _addr(address: str) -> tuple[int, int]:
    """(ton, npi) for an address: international ISDN for digits, else alphanumeric."""
    return (1, 1) if address.lstrip("+").isdigit() else (5, 0)


def build_templates(config: BenchConfig) -> list[bytes]:
    """The submit_sm of one message, encoded, one per segment (sequence_number 1)."""
    sample = _SAMPLE[config.encoding]
    text = (sample * (config.text_length // len(sample) + 1))[: config.text_length]
    segments = split_text(text, encoding=choose_encoding(text, force=config.encoding))
    source_ton, source_npi = _addr(config.source)
    dest_ton, dest_npi = _addr(config.destination)
    return [
        encode_pdu(
            SubmitSm(
                source_addr_ton=source_ton,
                source_addr_npi=source_npi,
                source_addr=config.source,
                dest_addr_ton=dest_ton,
                dest_addr_npi=dest_npi,
                destination_addr=config.destination,
                esm_class=segment.esm_class_flags,
                registered_delivery=1 if config.receipts else 0,
                data_coding=segment.data_coding,
                short_message=segment.short_message,
                sequence_number=1,
            )
        )
        for segment in segments
    ]


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p90/p99/max of ``samples`` (seconds) in milliseconds, nearest rank; sorts in place."""
    if not samples:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    samples.sort()
    n = len(samples)

    def at(q: float) -> float:
        return round(samples[max(0, math.ceil(q * n) - 1)] * 1000, 3)

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": round(samples[-1] * 1000, 3)}


@attrs.frozen
class BenchResult:
    """What a run measured. ``as_dict()`` is the ``--json`` output."""

    config: BenchConfig
    segments: int  # submit_sm per message
    messages: int  # messages whose submit_sm were all written
    sent: int  # submit_sm written
    ok: int  # submit_sm answered ESME_ROK
    errors: dict[str, int]  # by command_status name, or "no response", "connection lost"
    send_seconds: float  # first submit_sm written to the last response read
    throughput: float  # ok / send_seconds
    submit_latency_ms: dict[str, float]
    receipts_received: int
    receipts_matched: int
    receipt_latency_ms: dict[str, float]
    elapsed: float  # the whole run, bind to unbind
    interrupted: bool = False

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def success(self) -> bool:
        """Every submit_sm answered ESME_ROK (and, with receipts, every receipt matched)."""
        if self.sent == 0 or self.ok != self.sent:
            return False
        return not self.config.receipts or self.receipts_matched >= self.ok

    def as_dict(self) -> dict[str, Any]:
        c = self.config
        out: dict[str, Any] = {
            "target": f"{c.host}:{c.port}",
            "system_id": c.system_id,
            "bind": c.bind,
            "connections": c.connections,
            "window": c.window,
            "rate": c.rate,
            "encoding": c.encoding,
            "text_length": c.text_length,
            "segments_per_message": self.segments,
            "messages": self.messages,
            "sent": self.sent,
            "ok": self.ok,
            "errors": dict(sorted(self.errors.items())),
            "error_count": self.error_count,
            "send_seconds": round(self.send_seconds, 3),
            "throughput_per_s": round(self.throughput, 1),
            "submit_latency_ms": self.submit_latency_ms,
            "receipts": None,
            "elapsed_s": round(self.elapsed, 3),
            "interrupted": self.interrupted,
        }
        if c.receipts:
            out["receipts"] = {
                "received": self.receipts_received,
                "matched": self.receipts_matched,
                "latency_ms": self.receipt_latency_ms,
            }
        return out


# -- the connection ------------------------------------------------------------------------

_CONNECTING, _BOUND, _UNBINDING, _CLOSED = range(4)


class _Esme(Protocol):
    """One bound connection: a minimal ESME on the raw frames."""

    transport: Any  # an ITCPTransport once connected (write, loseConnection, abortConnection)

    def __init__(self, run: _Run, index: int) -> None:
        self.run = run
        self.index = index
        self.framer = Framer()
        self.inflight: dict[int, float] = {}  # sequence_number -> when written
        self.seq = 2  # 1 is the bind
        self.state = _CONNECTING
        self.bound_d: Deferred[_Esme] = Deferred()
        self.closed_d: Deferred[None] = Deferred()
        self.unbound_d: Deferred[None] = Deferred()
        self._write: Callable[[bytes], None] = self._queue_write

    # -- Twisted -----------------------------------------------------------------------------

    def connectionMade(self) -> None:
        set_nodelay = getattr(self.transport, "setTcpNoDelay", None)
        if set_nodelay is not None:
            set_nodelay(True)
        self._write = eager_write(self.transport) or self._queue_write  # (to the socket when nothing is queued)
        self.transport.write(self.run.bind_pdu)

    def _queue_write(self, data: bytes) -> None:
        self.transport.write(data)

    def dataReceived(self, data: bytes) -> None:
        run = self.run
        t = run.now()
        inflight = self.inflight
        answers: list[bytes] = []
        responses = 0
        for frame in self.framer.feed(data):
            if not isinstance(frame, bytes):
                self._undecodable(frame, answers)
                continue
            _length, cid, status, seq = _unpack_header(frame)
            if cid == _SUBMIT_RESP:
                t0 = inflight.pop(seq, None)
                if t0 is None:
                    continue
                responses += 1
                run.latencies.append(t - t0)
                if status:
                    run.fail(status_name(status))
                else:
                    run.ok += 1
                    if run.track:
                        end = frame.find(b"\x00", 16)
                        run.accepted(frame[16:end].decode("latin-1"), t0, t)
            elif cid == _DELIVER:
                answers.append(self._deliver(frame, t))
            elif cid == _ENQUIRE:
                answers.append(_HEADER.pack(16, _ENQUIRE | _RESP, 0, seq))
            elif cid == _GENERIC_NACK:
                if inflight.pop(seq, None) is not None:
                    responses += 1
                    run.fail(f"generic_nack {status_name(status)}")
            elif cid == _UNBIND:  # the SMSC ends the session: what is in flight is lost
                answers.append(_HEADER.pack(16, _UNBIND_RESP, 0, seq))
                self._set_state(_UNBINDING)
            elif cid == _UNBIND_RESP:
                if not self.unbound_d.called:
                    self.unbound_d.callback(None)
            elif cid in _BIND_RESPS:
                self._bind_resp(status)
            elif not cid & _RESP:  # a request the bench does not serve (data_sm, ...)
                answers.append(_HEADER.pack(16, _GENERIC_NACK, int(CommandStatus.ESME_RINVCMDID), seq))
        if responses:
            run.answered += responses
            run.last_response = t
        if answers:
            self._write(b"".join(answers))
        if self.framer.broken:
            self.transport.loseConnection()
        elif run.sending and self.state == _BOUND:
            allowance = run.allowance(t)
            if allowance > 0:
                self.fill(allowance, t)
        run.poke()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        was = self.state
        self._set_state(_CLOSED)
        lost = len(self.inflight)
        self.inflight.clear()
        if lost:
            self.run.fail(CONNECTION_LOST, lost)
            self.run.answered += lost
        if not self.bound_d.called:
            why = reason.getErrorMessage() if was == _CONNECTING else "closed"
            self.bound_d.errback(BenchError(f"the SMSC closed connection {self.index + 1} before answering the bind ({why})"))
        if not self.unbound_d.called:
            self.unbound_d.callback(None)
        self.closed_d.callback(None)
        self.run.poke()

    # -- sending -----------------------------------------------------------------------------

    def fill(self, allowance: int, t: float) -> int:
        """Write up to ``allowance`` submit_sm (whole messages) that the window has room for."""
        run = self.run
        room = run.window - len(self.inflight)
        if room > allowance:
            room = allowance
        k = run.segments
        if k > 1:
            room -= room % k
        if room <= 0:
            return 0
        seq = self.seq
        if seq + room > _MAX_SEQ:
            seq = 1
        end = seq + room
        if k == 1:
            head, tail = run.heads[0], run.tails[0]
            wire = b"".join([head + _pack_seq(s) + tail for s in range(seq, end)])
        else:
            heads, tails = run.heads, run.tails
            wire = b"".join([heads[i % k] + _pack_seq(s) + tails[i % k] for i, s in enumerate(range(seq, end))])
        self.inflight.update(dict.fromkeys(range(seq, end), t))
        self.seq = end
        run.sent += room
        if run.first_send is None:
            run.first_send = t
        self._write(wire)
        return room

    def unbind(self) -> Deferred[None]:
        """Send unbind; fires on unbind_resp or when the connection closes."""
        if self.state == _BOUND:
            self._set_state(_UNBINDING)
            self.transport.write(_HEADER.pack(16, _UNBIND, 0, self.seq))
        elif self.state != _UNBINDING and not self.unbound_d.called:
            self.unbound_d.callback(None)
        return self.unbound_d

    def _set_state(self, state: int) -> None:
        if self.state == _BOUND and state != _BOUND:
            self.run.alive -= 1
        elif state == _BOUND and self.state != _BOUND:
            self.run.alive += 1
        self.state = state

    # -- the rest ----------------------------------------------------------------------------

    def _bind_resp(self, status: int) -> None:
        if self.bound_d.called:
            return
        if status:
            self.bound_d.errback(BenchError(f"bind refused: {status_name(status)} (system_id {self.run.config.system_id!r})"))
            self.transport.loseConnection()
            return
        self._set_state(_BOUND)
        self.bound_d.callback(self)

    def _deliver(self, frame: bytes, t: float) -> bytes:
        try:
            pdu = decode_pdu(frame)
        except PduDecodeError as e:
            answer = error_response(e)
            return encode_pdu(answer) if answer is not None else b""
        assert isinstance(pdu, DeliverSm)
        if pdu.esm_class & 0x3C or pdu.receipted_message_id is not None:
            rid = pdu.receipted_message_id
            if rid is None:
                parsed = parse_receipt(pdu.short_message)
                rid = parsed.id if parsed is not None else ""
            self.run.receipt(rid, t)
        return empty_id_response(_DELIVER | _RESP, pdu.sequence_number)

    def _undecodable(self, error: PduDecodeError, answers: list[bytes]) -> None:
        answer = error_response(error)
        if answer is not None:
            answers.append(encode_pdu(answer))


# -- the run -------------------------------------------------------------------------------


class _Run:
    """Shared counters and the phases of one run."""

    def __init__(self, reactor: Any, config: BenchConfig, now: Callable[[], float]) -> None:
        self.reactor = reactor
        self.config = config
        self.now = now
        templates = build_templates(config)
        if len(templates) > config.window:
            raise ValueError(
                f"--window: {config.window} is less than the {len(templates)} segments of one message"
            )
        self.segments = len(templates)
        self.heads = [w[:12] for w in templates]
        self.tails = [w[16:] for w in templates]
        self.window = config.window
        self.total = config.count * self.segments  # submit_sm to send, at most
        self.pdu_rate = config.rate * self.segments
        bind_class = BindTransceiver if config.bind == "trx" else BindTransmitter
        self.bind_pdu = encode_pdu(
            bind_class(
                system_id=config.system_id,
                password=config.password,
                system_type=config.system_type,
                sequence_number=1,
            )
        )
        self.conns: list[_Esme] = []
        self.alive = 0  # connections bound
        self.sending = False
        self.interrupted = False
        self.t0 = 0.0  # start of the send phase
        self.first_send: float | None = None
        self.last_response = 0.0
        self.sent = 0
        self.answered = 0  # responses, nacks and submit_sm lost with a connection
        self.ok = 0
        self.errors: dict[str, int] = {}
        self.latencies: list[float] = []
        self.track = config.receipts
        self.submitted: dict[str, float] = {}  # message_id -> when its submit_sm was written
        self.early: dict[str, float] = {}  # receipts read before their submit_sm_resp
        self.receipts_received = 0
        self.receipts_matched = 0
        self.receipt_latencies: list[float] = []
        self._waiting: tuple[Callable[[], bool], Deferred[bool]] | None = None

    # -- the hot path --------------------------------------------------------------------------

    def allowance(self, t: float) -> int:
        """submit_sm that may be written now (the count and the rate)."""
        left = self.total - self.sent
        if self.pdu_rate:
            due = int(self.pdu_rate * (t - self.t0)) + self.segments - self.sent
            if due < left:
                return due
        return left

    def fail(self, key: str, n: int = 1) -> None:
        self.errors[key] = self.errors.get(key, 0) + n

    def accepted(self, message_id: str, t0: float, t: float) -> None:
        arrived = self.early.pop(message_id, None)
        if arrived is None:
            self.submitted[message_id] = t0
        else:
            self.receipts_matched += 1
            self.receipt_latencies.append(arrived - t0)

    def receipt(self, message_id: str, t: float) -> None:
        self.receipts_received += 1
        t0 = self.submitted.pop(message_id, None)
        if t0 is None:
            self.early[message_id] = t  # its submit_sm_resp is still on the way (other connection)
        else:
            self.receipts_matched += 1
            self.receipt_latencies.append(t - t0)

    def poke(self) -> None:
        waiting = self._waiting
        if waiting is not None and waiting[0]():
            self._waiting = None
            waiting[1].callback(True)

    # -- phases ------------------------------------------------------------------------------

    def wait(self, predicate: Callable[[], bool], timeout: float) -> Deferred[bool]:
        """Fires True once ``predicate()`` holds (checked after every read), False after ``timeout``."""
        d: Deferred[bool] = Deferred()
        if predicate():
            d.callback(True)
            return d

        def expire() -> None:
            if self._waiting is not None and self._waiting[1] is d:
                self._waiting = None
                d.callback(False)

        timer = self.reactor.callLater(timeout, expire)

        def done(fired: bool) -> bool:
            if timer.active():
                timer.cancel()
            return fired

        d.addCallback(done)
        self._waiting = (predicate, d)
        return d

    def interrupt(self) -> None:
        """End the run early: the first call stops sending (the responses in
        flight are still waited for; receipts are not), a second one stops
        waiting too. Unbinding and the summary follow either way."""
        first = not self.interrupted
        self.interrupted = True
        if first and self.sending:
            self.sending = False
            self.poke()
            return
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            waiting[1].callback(False)

    def _top_up(self) -> None:
        """The rate limiter's tick: hand out what is due, round-robin."""
        if not self.sending:
            return
        t = self.now()
        allowance = self.allowance(t)
        conns = self.conns
        n = len(conns)
        start = int(t / _TICK) % n
        for i in range(n):
            if allowance <= 0:
                break
            c = conns[(start + i) % n]
            if c.state == _BOUND:
                allowance -= c.fill(allowance, t)

    def _sending_over(self) -> bool:
        return not self.sending or self.sent >= self.total or not self.alive

    def _answered(self) -> bool:
        return self.answered >= self.sent or not self.alive

    def _receipted(self) -> bool:
        return self.receipts_matched >= self.ok or not self.alive

    async def connect(self) -> None:
        """Connect and bind every connection; BenchError (all closed) if one cannot."""
        c = self.config

        async def one(index: int) -> _Esme:
            esme = _Esme(self, index)
            self.conns.append(esme)
            endpoint = _endpoint(self.reactor, c.host, c.port, c.timeout)
            try:
                await connectProtocol(endpoint, esme)
            except Exception as e:
                raise BenchError(f"cannot connect to {c.host}:{c.port}: {_reason(e)}") from None
            bound = esme.bound_d.addTimeout(c.timeout, self.reactor)
            try:
                return await bound
            except BenchError:
                raise
            except Exception:
                raise BenchError(f"no bind response within {c.timeout:g} s") from None

        results: list[tuple[bool, Any]] = await DeferredList(
            [ensureDeferred(one(i)) for i in range(c.connections)], consumeErrors=True
        )
        failures: list[Failure] = [r for ok, r in results if not ok]
        if failures:
            await self.close()
            error = failures[0].value
            if isinstance(error, BenchError):
                raise error
            raise BenchError(str(error))

    async def send(self) -> None:
        """The send phase, then the wait for the last responses."""
        c = self.config
        self.t0 = self.now()
        self.sending = True
        stop = self.reactor.callLater(c.duration, self._stop_sending)
        ticker = None
        if self.pdu_rate:
            ticker = task.LoopingCall(self._top_up)
            ticker.clock = self.reactor
            ticker.start(_TICK, now=True)
        else:
            t = self.now()
            for esme in self.conns:
                esme.fill(self.allowance(t), t)
        try:
            await self.wait(self._sending_over, c.duration + 1.0)
            self.sending = False
            await self.wait(self._answered, c.timeout)
        finally:
            self.sending = False
            if stop.active():
                stop.cancel()
            if ticker is not None and ticker.running:
                ticker.stop()

    def _stop_sending(self) -> None:
        self.sending = False
        self.poke()

    async def wait_receipts(self) -> None:
        if self.track and not self.interrupted:
            await self.wait(self._receipted, self.config.receipt_wait)

    def give_up(self) -> None:
        """What is still unanswered will not be: count it as NO_RESPONSE."""
        for esme in self.conns:
            n = len(esme.inflight)
            if n:
                esme.inflight.clear()
                self.answered += n
                self.fail(NO_RESPONSE, n)

    async def close(self) -> None:
        """Unbind every bound connection and close all (bounded)."""
        unbinds = [esme.unbind() for esme in self.conns if esme.state in (_BOUND, _UNBINDING)]
        if unbinds:
            await _bounded(self.reactor, DeferredList(unbinds), _UNBIND_WAIT)
        for esme in self.conns:
            if esme.state != _CLOSED and esme.transport is not None:
                esme.transport.loseConnection()
        closing = [esme.closed_d for esme in self.conns if esme.state != _CLOSED and esme.transport is not None]
        if closing and not await _bounded(self.reactor, DeferredList(closing), _UNBIND_WAIT):
            for esme in self.conns:
                if esme.state != _CLOSED and esme.transport is not None:
                    esme.transport.abortConnection()

    def result(self, elapsed: float) -> BenchResult:
        start = self.first_send if self.first_send is not None else self.t0
        seconds = max(0.0, self.last_response - start) if self.last_response else 0.0
        return BenchResult(
            config=self.config,
            segments=self.segments,
            messages=self.sent // self.segments,
            sent=self.sent,
            ok=self.ok,
            errors=dict(self.errors),
            send_seconds=seconds,
            throughput=self.ok / seconds if seconds > 0 else 0.0,
            submit_latency_ms=percentiles(self.latencies),
            receipts_received=self.receipts_received,
            receipts_matched=self.receipts_matched,
            receipt_latency_ms=percentiles(self.receipt_latencies),
            elapsed=elapsed,
            interrupted=self.interrupted,
        )

    def progress(self, t: float, last: tuple[float, float]) -> str:
        since, ok_then = last
        rate = (self.ok - ok_then) / (t - since) if t > since else 0.0
        line = (
            f"[{t - self.t0:5.1f}s] sent {self.sent:,}  ok {self.ok:,}  {rate:,.0f}/s"
            f"  in-flight {self.sent - self.answered:,}  errors {sum(self.errors.values()):,}"
        )
        if self.track:
            line += f"  receipts {self.receipts_received:,}"
        return line


def _endpoint(reactor: Any, host: str, port: int, timeout: float) -> Any:
    """A plain TCP endpoint for an address (no resolver thread), HostnameEndpoint for a name."""
    if isIPAddress(host):
        return TCP4ClientEndpoint(reactor, host, port, timeout=timeout)
    if isIPv6Address(host):
        return TCP6ClientEndpoint(reactor, host, port, timeout=timeout)
    return HostnameEndpoint(reactor, host.encode("idna"), port, timeout=timeout)


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[-1] if text else error.__class__.__name__


async def _bounded(reactor: Any, d: Deferred[Any], seconds: float) -> bool:
    """Wait for ``d`` at most ``seconds``; True if it fired in time (it is not cancelled)."""
    done: Deferred[bool] = Deferred()
    d.addBoth(lambda _: None if done.called else done.callback(True))
    timer = reactor.callLater(seconds, lambda: None if done.called else done.callback(False))
    fired = await done
    if timer.active():
        timer.cancel()
    return fired


async def _bench(
    reactor: Any,
    config: BenchConfig,
    now: Callable[[], float],
    progress: Callable[[str], None] | None,
    on_start: Callable[[_Run], None] | None,
) -> BenchResult:
    config.check()
    run = _Run(reactor, config, now)
    started = now()
    await run.connect()
    if on_start is not None:
        on_start(run)
    ticker = None
    if progress is not None:
        last = [now(), 0]

        def report() -> None:
            t = now()
            progress(run.progress(t, (last[0], last[1])))
            last[:] = [t, run.ok]

        ticker = task.LoopingCall(report)
        ticker.clock = reactor
        ticker.start(1.0, now=False)
    try:
        await run.send()
        await run.wait_receipts()
    finally:
        if ticker is not None and ticker.running:
            ticker.stop()
        run.give_up()
        await run.close()
    return run.result(now() - started)


def run_bench(
    reactor: Any,
    config: BenchConfig,
    *,
    now: Callable[[], float] = time.perf_counter,
    progress: Callable[[str], None] | None = None,
    on_start: Callable[[Any], None] | None = None,
) -> Deferred[BenchResult]:
    """Run one bench against ``config.host:port`` on ``reactor``.

    Fires with a :class:`BenchResult`, or fails with :class:`BenchError`
    (cannot connect, bind refused: everything already closed) or ValueError
    (settings that cannot run). ``progress`` gets a one-line status once a
    second; ``on_start`` gets a handle whose ``interrupt()`` ends the run
    early (still unbinding and reporting). ``now`` is the clock latencies are
    measured with.
    """
    return Deferred.fromCoroutine(_bench(reactor, config, now, progress, on_start))


# -- the command ---------------------------------------------------------------------------


def format_summary(result: BenchResult) -> str:
    c = result.config
    rate = f"{c.rate:g}/s" if c.rate else "max"
    seg = f"{result.segments} segment{'s' if result.segments > 1 else ''}"
    lat = result.submit_latency_ms
    lines = [
        f"smppd bench: {c.host}:{c.port}, {c.connections} x {c.bind} as {c.system_id!r}, window {c.window},"
        f" rate {rate}, {c.text_length} chars {c.encoding} ({seg})"
        + ("  [interrupted]" if result.interrupted else ""),
        f"  sent        {result.sent:,} submit_sm ({result.messages:,} messages)",
        f"  ok          {result.ok:,}",
        f"  errors      {result.error_count:,}"
        + (
            "  (" + ", ".join(f"{k} {v:,}" for k, v in sorted(result.errors.items())) + ")"
            if result.errors
            else ""
        ),
        f"  throughput  {result.throughput:,.1f} submit_sm/s over {result.send_seconds:.2f} s",
        f"  latency     p50 {lat['p50']:.2f}  p90 {lat['p90']:.2f}  p99 {lat['p99']:.2f}"
        f"  max {lat['max']:.2f} ms (submit_sm to its response)",
    ]
    if c.receipts:
        rl = result.receipt_latency_ms
        lines.append(
            f"  receipts    {result.receipts_received:,} received, {result.receipts_matched:,} matched"
            f" of {result.ok:,}; latency p50 {rl['p50']:.2f}  p90 {rl['p90']:.2f}  p99 {rl['p99']:.2f}"
            f"  max {rl['max']:.2f} ms (submit_sm to receipt)"
        )
    return "\n".join(lines)


def config_from_args(args: Any) -> BenchConfig:
    return BenchConfig(
        host=args.host,
        port=args.port,
        system_id=args.system_id,
        password=args.password if args.password is not None else os.environ.get("SMPP_PASSWORD", ""),
        system_type=args.system_type,
        bind=args.bind,
        connections=args.connections,
        window=args.window,
        rate=args.rate,
        count=args.count,
        duration=args.duration,
        text_length=args.text_length,
        encoding=args.encoding,
        receipts=args.receipts,
        source=args.source,
        destination=args.destination,
        receipt_wait=args.receipt_wait,
        timeout=args.timeout,
    )


def run_command(args: Any, *, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    """``smppd bench``: run under ``task.react`` (once per process); the exit status.

    0: every submit_sm answered ESME_ROK (and, with --receipts, every receipt
    matched); 1: anything less, or no run (connection, bind); 2: bad options.
    """
    import json

    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        config = config_from_args(args)
        config.check()
        _Run(None, config, time.perf_counter)  # the templates, and whether the window fits them
    except ValueError as e:
        err.write(f"smppd bench: {e}\n")
        return 2
    live = not args.json and err.isatty()
    outcome: list[Any] = []

    async def main(reactor: Any) -> None:
        def show(line: str) -> None:
            err.write(f"\r\x1b[K{line}")
            err.flush()

        def on_start(run: Any) -> None:
            presses = [0]

            def sigint(signum: int, frame: Any) -> None:
                # ^C: stop sending; again: stop waiting; a third ends it the hard way.
                presses[0] += 1
                if presses[0] >= 2:
                    signal.signal(signal.SIGINT, previous)
                reactor.callFromThread(run.interrupt)

            previous = signal.signal(signal.SIGINT, sigint)

        try:
            result = await run_bench(reactor, config, progress=show if live else None, on_start=on_start)
        except BenchError as e:
            outcome.append(e)
            return
        except Exception:
            outcome.append(Failure())
            return
        finally:
            if live:
                err.write("\r\x1b[K")
                err.flush()
        outcome.append(result)

    try:
        task.react(lambda reactor: Deferred.fromCoroutine(main(reactor)))
    except SystemExit as e:
        if e.code not in (0, None) or not outcome:
            err.write("smppd bench: the run ended abnormally\n")
            return 1
    if isinstance(outcome[0], BenchError):
        err.write(f"smppd bench: {outcome[0]}\n")
        return 1
    if isinstance(outcome[0], Failure):
        err.write(f"smppd bench: unexpected error\n{outcome[0].getTraceback()}")
        return 1
    result = outcome[0]
    if args.json:
        out.write(json.dumps(result.as_dict()) + "\n")
    else:
        out.write(format_summary(result) + "\n")
    out.flush()
    return 0 if result.success else 1
