"""One ESME connection to the SMSC: binds, message handlers, answers.

The submit path is the hot path: each submit_sm is validated and turned into
a :class:`~smppd.model.Message` synchronously; the messages of one read go to
the store as one batch; when the store has them (at once for the memory
store, at the group commit for a durable one) all their responses go out in
one write. Nothing on that path logs per message or builds a Deferred per
message.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from smppd.model import Message
from smppd.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CancelSm,
    CancelSmResp,
    CommandId,
    CommandStatus,
    DataSm,
    DataSmResp,
    DestAddress,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    UnsuccessSme,
    decode_pdu,
    empty_id_response,
    encode_pdu,
)
from smppd.pdu.codec import layout_pattern
from smppd.pdu.constants import INTERFACE_VERSION_34, MessageState
from smppd.pdu.timefmt import format_absolute
from smppd.pdu.tlv import encode_tlvs
from smppd.protocol import SessionConfig, SmppProtocol
from smppd.server.validation import (
    NUMERIC_TONS,
    SUBMIT_MESSAGE_TYPES,
    VALID_NPI,
    VALID_TON,
    check_address,
    check_message_fields,
    resolve_times,
    utc,
    valid_data_coding,
)
from smppd.session import BIND_TYPE_BY_COMMAND, BindType, Role

if TYPE_CHECKING:
    from smppd.server.smsc import Smsc

log = Logger()
S = CommandStatus
C = CommandId
_RESUME_FRACTION = 0.5


# The submit_sm frame handler reads the mandatory fields with one match and
# takes only the plainly valid case; the sets below say, per one-octet field,
# which values need no closer look (anything else takes the general path,
# which answers the precise status).
_SUBMIT_SM_MATCH = layout_pattern(SubmitSm, strict=True)[0].match
_PLAIN_ESM_CLASS = frozenset(v for v in range(256) if (v & 0x3C) in SUBMIT_MESSAGE_TYPES and not v & 0x40)
_PLAIN_REGISTERED = frozenset(v for v in range(256) if v & 0x03 != 0x03 and not v & 0xE0)
_PLAIN_DATA_CODING = frozenset(v for v in range(256) if valid_data_coding(v))
_PLAIN_TON_NPI = frozenset(ton << 8 | npi for ton in VALID_TON for npi in VALID_NPI)  # (strict addresses)
_ENROUTE = MessageState.ENROUTE
_SUBMIT_SM_RESP_OK = (int(C.submit_sm_resp), 0)


_RESP_LAYOUTS: dict[int, struct.Struct] = {}


def message_id_resp(command_id: int, sequence_number: int, message_id: str) -> bytes:
    """submit_sm_resp / data_sm_resp with a message_id, encoded directly: the
    one response on the hot path (equal to ``encode_pdu`` of the PDU)."""
    # one Struct per id length (header, id and its NUL in one pack); ids are
    # ASCII, and encode() without arguments takes CPython's fast path
    n = len(message_id)
    layout = _RESP_LAYOUTS.get(n)
    if layout is None:
        layout = _RESP_LAYOUTS[n] = struct.Struct(f">IIII{n + 1}s")
    return layout.pack(17 + n, command_id, 0, sequence_number, message_id.encode())


class SmscProtocol(SmppProtocol):
    """The SMSC side of one connection."""

    role = Role.SMSC

    def __init__(self, smsc: Smsc, config: SessionConfig | None = None) -> None:
        super().__init__(smsc.clock, config or smsc.config.session, smsc.events)
        self.smsc = smsc
        self.account: Any = None
        self.interface_version = INTERFACE_VERSION_34
        self._binding = False
        self._bind_refusals = 0  # refused binds on this connection
        self._penalty_call: Any = None  # a refused bind's answer, held back by the penalty
        # set by the factory: called once when this connection binds or closes (per-host unbound count)
        self.on_leaving_unbound: Callable[[SmscProtocol], None] | None = None
        self._rate: float | None = None
        self._window = smsc.config.default_window
        self._may: frozenset[str] = frozenset()
        self._batch_messages: list[Message] = []
        self._batch_answers: list[bytes] = []  # encoded, sent when the store has the batch
        self._batch_plain = True  # every answer in the batch is a submit_sm_resp ESME_ROK
        self._unanswered = 0
        self._strict = smsc.config.strict_addresses
        self._answered_requests = False  # responses to our deliver_sm came in this read
        self.pdus = smsc.stats.pdus

    def frame_handlers(self) -> dict[int, Any]:
        return {C.submit_sm: self._on_submit_sm_frame, C.deliver_sm_resp: self._on_deliver_sm_resp_frame}

    def request_handlers(self) -> dict[int, Any]:
        return {
            C.bind_transmitter: self._on_bind,
            C.bind_receiver: self._on_bind,
            C.bind_transceiver: self._on_bind,
            C.submit_sm: self._on_submit_sm,
            C.submit_multi: self._on_submit_multi,
            C.data_sm: self._on_data_sm,
            C.query_sm: self._on_query_sm,
            C.cancel_sm: self._on_cancel_sm,
            C.replace_sm: self._on_replace_sm,
        }

    # -- connection ----------------------------------------------------------

    def on_connected(self) -> None:
        self.smsc.sessions.add(self)

    def on_closed(self, reason: Failure) -> None:
        if self._penalty_call is not None and self._penalty_call.active():
            self._penalty_call.cancel()
        self._penalty_call = None
        self._leave_unbound()
        self.smsc.session_closed(self)

    def _leave_unbound(self) -> None:
        hook, self.on_leaving_unbound = self.on_leaving_unbound, None
        if hook is not None:
            hook(self)

    @property
    def peer_host(self) -> str:
        peer = self.transport.getPeer() if self.transport is not None else None
        return str(getattr(peer, "host", "")) if peer is not None else ""

    # -- binds ---------------------------------------------------------------

    def _on_bind(self, pdu: BindTransmitter | BindReceiver | BindTransceiver) -> Deferred[Pdu] | Pdu | None:
        if self._binding:
            return pdu.response(command_status=S.ESME_RALYBND)
        bind_type = BIND_TYPE_BY_COMMAND[pdu.command_id]
        host = self.peer_host
        penalty = self.smsc.penalty
        if penalty is not None and penalty.active(host):
            # Not verified (no hash): a guess during the penalty learns nothing and costs nothing.
            self.smsc.counters["bind_failures"] += 1
            log.info("{peer}: bind refused: this host's failed binds are being penalised (not verified)", peer=self.peer)
            self._refuse_bind(pdu)
            return None
        self._binding = True
        try:
            d = self.smsc.authenticator.authenticate(
                pdu.system_id, pdu.password, pdu.system_type, bind_type.value, host
            )
        except Exception:
            d = Deferred()
            d.errback(Failure())
        d.addCallbacks(
            self._bind_authenticated,
            self._bind_failed,
            callbackArgs=(pdu, bind_type),
            errbackArgs=(pdu, host),
        )
        return d

    def _bind_authenticated(self, account: Any, pdu: Any, bind_type: BindType) -> Pdu | None:
        self._binding = False
        smsc = self.smsc
        if self._closing:
            return pdu.response(command_status=S.ESME_RBINDFAIL)
        limit = account.max_binds if account.max_binds is not None else smsc.config.default_max_binds
        if limit is not None and smsc.bind_count(account.system_id) >= limit:
            log.info(
                "{peer}: bind of {system_id} refused: {n} bind(s) already",
                peer=self.peer,
                system_id=account.system_id,
                n=limit,
            )
            smsc.counters["bind_failures"] += 1
            return pdu.response(command_status=S.ESME_RBINDFAIL)
        if smsc.penalty is not None:
            smsc.penalty.record_success(self.peer_host)
        self.account = account
        self._may = frozenset(account.permissions)
        self._rate = account.throughput
        if account.window:
            self._window = account.window
        self.interface_version = pdu.interface_version
        self.mark_bound(bind_type, account.system_id)
        self._leave_unbound()
        log.info(
            "{peer}: {system_id} bound as {bind_type}",
            peer=self.peer,
            system_id=account.system_id,
            bind_type=bind_type.value,
        )
        tlvs = {"sc_interface_version": INTERFACE_VERSION_34} if pdu.interface_version >= INTERFACE_VERSION_34 else {}
        # The bind_resp goes out before anything the outbox has waiting.
        self.send_pdu(pdu.response(system_id=smsc.config.system_id, tlvs=tlvs))
        smsc.session_bound(self, pdu.address_range)
        return None

    def _bind_failed(self, failure: Failure, pdu: Any, host: str) -> None:
        self.smsc.counters["bind_failures"] += 1
        error = failure.value
        if getattr(error, "status", None) is None:
            log.failure("{peer}: bind failed", failure, peer=self.peer)
        elif getattr(error, "log_system_id", True):
            log.info("{peer}: bind of {system_id} refused: {reason}", peer=self.peer, system_id=pdu.system_id, reason=getattr(error, "reason", ""))
        else:
            log.info("{peer}: bind refused: {reason}", peer=self.peer, reason=getattr(error, "reason", ""))
        penalty = self.smsc.penalty
        delay = penalty.record_failure(host) if penalty is not None else 0.0
        if delay > 0 and not self._closing:
            # Still binding while the answer is held back: a bind meanwhile gets ESME_RALYBND.
            self._penalty_call = self.clock.callLater(delay, self._penalty_over, pdu)
            return None
        self._binding = False
        self._refuse_bind(pdu)
        return None

    def _penalty_over(self, pdu: Any) -> None:
        self._penalty_call = None
        self._binding = False
        self._refuse_bind(pdu)

    def _refuse_bind(self, pdu: Any) -> None:
        """Answer a refused bind (always ESME_RBINDFAIL: the reason is only
        logged); close the connection after ``max_bind_failures`` of them."""
        self._bind_refusals += 1
        self.send_pdu(pdu.response(command_status=S.ESME_RBINDFAIL))
        limit = self.smsc.config.max_bind_failures
        if limit is not None and self._bind_refusals >= limit:
            log.info("{peer}: {n} failed binds on this connection; closing", peer=self.peer, n=self._bind_refusals)
            self.close()

    # -- the submit path -----------------------------------------------------

    def _on_submit_sm(self, pdu: SubmitSm) -> Pdu | Deferred[Pdu] | None:
        status = self._admit(pdu, "submit_sm")
        if not status:
            status = check_address(
                pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi, source=False, strict=self._strict
            )
        if status:
            self.write(empty_id_response(C.submit_sm_resp, pdu.sequence_number, status))
            return None
        now = self._last_rx
        if pdu.schedule_delivery_time or pdu.validity_period:
            status, schedule_at, expires_at = self._times(pdu.schedule_delivery_time, pdu.validity_period, now)
            if status:
                self.write(empty_id_response(C.submit_sm_resp, pdu.sequence_number, status))
                return None
        else:
            schedule_at, expires_at = None, now + self.smsc.config.default_validity
        message = self._message(pdu, pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi, now, schedule_at, expires_at)
        if pdu.replace_if_present_flag == 1:
            target = self.smsc.waiting_for(self.account.system_id, pdu.source_addr, pdu.destination_addr, pdu.service_type)
            if target is not None:
                return self._replace_present(pdu, attrs.evolve(message, message_id=target))
        self._batch_messages.append(message)
        self._batch_answers.append(message_id_resp(C.submit_sm_resp, pdu.sequence_number, message.message_id))
        return None

    def _replace_present(self, pdu: SubmitSm, replacement: Message) -> Pdu | Deferred[Pdu]:
        """submit_sm with replace_if_present_flag=1 matching a message still
        held for its schedule: that message takes every field of the new
        submit and keeps its id, which the submit_sm_resp carries."""
        seq = pdu.sequence_number
        if self._window_full():
            return SubmitSmResp(sequence_number=seq, command_status=S.ESME_RTHROTTLED)
        d = self._bounded(self.smsc.replace(self.account.system_id, replacement))

        def answer(status: int) -> Pdu:
            if status:  # started meanwhile: a new message after all would
                status = S.ESME_RSUBMITFAIL  # duplicate it; let the ESME decide
                return SubmitSmResp(sequence_number=seq, command_status=status)
            return SubmitSmResp(sequence_number=seq, message_id=replacement.message_id)

        d.addCallback(answer)
        return d

    def _window_full(self) -> bool:
        """Whether the inbound window is full: a query, cancel or replace
        read beyond it is refused ESME_RTHROTTLED before it starts."""
        return self._unanswered >= self._window

    def _bounded(self, d: Deferred[Any]) -> Deferred[Any]:
        """Count a store look-up (query, cancel, replace) against the inbound
        window while it is unanswered, like a submit: at the window reading
        pauses."""
        if d.called:
            return d
        self._unanswered += 1
        if self._unanswered >= self._window:
            self.pause_reading("store")
        d.addBoth(self._lookup_done)
        return d

    def _lookup_done(self, result: object) -> object:
        self._answered(1)
        return result

    def _on_submit_sm_frame(self, frame: bytes, _status: int, seq: int) -> None:
        """submit_sm straight from the bytes, for the common case: no TLVs, no
        UDH, every field plainly valid. Anything else is decoded and goes
        through :meth:`_on_submit_sm`, which gives the precise status."""
        match = _SUBMIT_SM_MATCH(frame.decode("latin-1"), 16)
        if match is None or "submit_sm" not in self._may:
            self.dispatch_frame(frame)
            return
        (service_type, s_ton, s_npi, source, d_ton, d_npi, destination, esm_class, protocol_id, priority,
         schedule, validity, registered, replace, data_coding, default_msg_id, sm_length) = match.groups()  # fmt: skip
        start = match.end()
        end = start + ord(sm_length)
        s_ton = ord(s_ton)
        s_npi = ord(s_npi)
        d_ton = ord(d_ton)
        d_npi = ord(d_npi)
        esm_class = ord(esm_class)
        registered = ord(registered)
        data_coding = ord(data_coding)
        strict = self._strict
        # a subset of check_message_fields and check_address: what passes here
        # would pass there (tests/server/test_submit_fast_path.py holds both to it)
        if (
            end != len(frame)  # TLVs (or a short_message running past the end)
            or esm_class not in _PLAIN_ESM_CLASS
            or registered not in _PLAIN_REGISTERED
            or data_coding not in _PLAIN_DATA_CODING
            or priority > "\x03"
            or replace != "\x00"  # replace_if_present takes the general path
            or default_msg_id != "\x00"
            or not destination
            or (strict and ((s_ton << 8 | s_npi) not in _PLAIN_TON_NPI or (d_ton << 8 | d_npi) not in _PLAIN_TON_NPI))
            or (s_ton in NUMERIC_TONS and source and not (source.isdigit() and source.isascii()))
            or (d_ton in NUMERIC_TONS and not (destination.isdigit() and destination.isascii()))
        ):
            self.dispatch_frame(frame)  # (a "+" before the digits is fine, but is not plain)
            return
        account = self.account
        if account.source_addr_patterns or self._rate is not None or self.smsc.backlogged:
            status = self._policy(source, destination)
        else:
            status = 0
        now = self._last_rx
        if status:
            schedule_at = expires_at = None
        elif schedule or validity:
            status, schedule_at, expires_at = self._times(schedule, validity, now)
        else:
            schedule_at, expires_at = None, now + self.smsc.config.default_validity
        if status:
            self.write(empty_id_response(C.submit_sm_resp, seq, status))
            return
        message_id = self.smsc.ids.next(now)
        self._batch_messages.append(
            Message(
                message_id,
                account.system_id,
                service_type,
                s_ton,
                s_npi,
                source,
                d_ton,
                d_npi,
                destination,
                esm_class,
                ord(protocol_id),
                ord(priority),
                registered,
                data_coding,
                frame[start:end],
                b"",
                now,
                schedule_at,
                expires_at,
                _ENROUTE,
                None,
                0,
                1,
            )
        )
        self._batch_answers.append(message_id_resp(C.submit_sm_resp, seq, message_id))

    def _admit(self, pdu: Any, operation: str, *, token: bool = True) -> int:
        """Permission, field checks, source policy and the throughput limit."""
        if operation not in self._may:
            return S.ESME_RSUBMITFAIL
        status = check_message_fields(pdu, strict=self._strict)
        if status:
            return status
        return self._policy(pdu.source_addr, getattr(pdu, "destination_addr", None), token=token)

    def _policy(self, source_addr: str, destination_addr: str | None = None, *, token: bool = True) -> int:
        """The account's source patterns, the outbox backlog (what this ESME is
        owed, or what the ESME a destination is routed to is owed), the
        throughput limit."""
        account = self.account
        if account.source_addr_patterns and not account.source_allowed(source_addr):
            return S.ESME_RINVSRCADR
        backlogged = self.smsc.backlogged
        if backlogged:
            if account.system_id in backlogged:
                return S.ESME_RMSGQFUL
            if destination_addr is not None and self.smsc.route(destination_addr, account.system_id) in backlogged:
                return S.ESME_RMSGQFUL
        if token and self._rate is not None and not self.smsc.take_token(account.system_id, self._rate, self._last_rx):
            return S.ESME_RTHROTTLED
        return S.ESME_ROK

    def _times(self, schedule: str, validity: str, now: float) -> tuple[int, float | None, float]:
        config = self.smsc.config
        return resolve_times(
            schedule, validity, now, default_validity=config.default_validity, max_validity=config.max_validity
        )

    def _message(
        self,
        pdu: Any,
        destination: str,
        ton: int,
        npi: int,
        now: float,
        schedule_at: float | None,
        expires_at: float,
        *,
        message_id: str | None = None,
        sub_count: int = 1,
        submitted_as: str = "submit_sm",
    ) -> Message:
        return Message(
            message_id or self.smsc.ids.next(),
            self.account.system_id,
            pdu.service_type,
            pdu.source_addr_ton,
            pdu.source_addr_npi,
            pdu.source_addr,
            ton,
            npi,
            destination,
            pdu.esm_class,
            getattr(pdu, "protocol_id", 0),
            getattr(pdu, "priority_flag", 0),
            pdu.registered_delivery,
            pdu.data_coding,
            getattr(pdu, "short_message", b""),
            encode_tlvs(pdu.tlvs) if pdu.tlvs else b"",
            now,
            schedule_at,
            expires_at,
            MessageState.ENROUTE,
            None,
            0,
            sub_count,
            submitted_as,
        )

    def end_of_input(self) -> None:
        if self._answered_requests:
            self._answered_requests = False
            self.smsc.session_ready(self)  # once per read, not per deliver_sm_resp
        if not self._batch_messages:
            return
        messages, self._batch_messages = self._batch_messages, []
        answers, self._batch_answers = self._batch_answers, []
        plain, self._batch_plain = self._batch_plain, True
        self._unanswered += len(answers)
        if self._unanswered >= self._window:
            self.pause_reading("store")
        d = self.smsc.submit(messages)
        d.addCallbacks(
            self._stored,
            self._store_failed,
            callbackArgs=(messages, answers, self._last_rx, plain),
            errbackArgs=(answers,),
        )

    def _stored(
        self, _: object, messages: list[Message], answers: list[bytes], received: float, plain: bool
    ) -> None:
        self._answered(len(answers))
        self.write_many(answers, _SUBMIT_SM_RESP_OK if plain else None)
        stats = self.smsc.stats
        stats.submits[self.account.system_id] += len(messages)
        stats.submit_latency.observe(self.clock.seconds() - received, len(answers))
        # Only now: no receipt or event may overtake the response it refers to.
        self.smsc.accepted(messages)

    def _store_failed(self, failure: Failure, answers: list[bytes]) -> None:
        log.failure("{peer}: store refused {n} message(s)", failure, peer=self.peer, n=len(answers))
        chunks = [encode_pdu(attrs.evolve(decode_pdu(a), command_status=S.ESME_RSYSERR)) for a in answers]
        self._answered(len(answers))
        self.write_many(chunks)

    def _answered(self, n: int) -> None:
        self._unanswered -= n
        if self._unanswered <= self._window * _RESUME_FRACTION:
            self.resume_reading("store")

    def _on_data_sm(self, pdu: DataSm) -> Pdu | None:
        status = self._admit(pdu, "data_sm")
        if not status:
            status = check_address(
                pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi, source=False, strict=self._strict
            )
        if status:
            return DataSmResp(sequence_number=pdu.sequence_number, command_status=status)
        now = self._last_rx
        expiry = pdu.qos_time_to_live
        config = self.smsc.config
        expires_at = now + (min(float(expiry), config.max_validity) if expiry else config.default_validity)
        message = self._message(
            pdu, pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi, now, None, expires_at, submitted_as="data_sm"
        )
        self._batch_messages.append(message)
        self._batch_answers.append(message_id_resp(C.data_sm_resp, pdu.sequence_number, message.message_id))
        self._batch_plain = False
        return None

    def _on_submit_multi(self, pdu: SubmitMulti) -> Pdu | None:
        seq = pdu.sequence_number
        status = self._admit(pdu, "submit_multi", token=False)  # tokens per destination, below
        if not status and not pdu.dest_addresses:
            status = S.ESME_RINVNUMDESTS
        if status:
            return SubmitMultiResp(sequence_number=seq, command_status=status)
        now = self._last_rx
        status, schedule_at, expires_at = self._times(pdu.schedule_delivery_time, pdu.validity_period, now)
        if status:
            return SubmitMultiResp(sequence_number=seq, command_status=status)
        destinations: list[tuple[str, int, int]] = []
        failed: list[UnsuccessSme] = []
        for dest in pdu.dest_addresses:
            if isinstance(dest, DestAddress):
                bad = check_address(
                    dest.destination_addr, dest.dest_addr_ton, dest.dest_addr_npi, source=False, strict=self._strict
                )
                if bad:
                    failed.append(UnsuccessSme(dest.destination_addr, bad, dest.dest_addr_ton, dest.dest_addr_npi))
                else:
                    destinations.append((dest.destination_addr, dest.dest_addr_ton, dest.dest_addr_npi))
            else:
                members = self.smsc.expand_destinations(dest.dl_name)
                if members is None:
                    failed.append(UnsuccessSme(dest.dl_name, S.ESME_RINVDLNAME))
                else:
                    destinations += [(m, 1, 1) for m in members]
        smsc = self.smsc
        if smsc.backlogged and destinations:  # the backlog of the ESME each destination is routed to
            kept = []
            for addr, ton, npi in destinations:
                if smsc.route(addr) in smsc.backlogged:
                    failed.append(UnsuccessSme(addr, S.ESME_RMSGQFUL, ton, npi))
                else:
                    kept.append((addr, ton, npi))
            destinations = kept
        if self._rate is not None and destinations:  # one throughput token per destination
            granted = smsc.take_tokens(self.account.system_id, self._rate, now, len(destinations))
            if not granted:
                return SubmitMultiResp(sequence_number=seq, command_status=S.ESME_RTHROTTLED)
            failed += [UnsuccessSme(a, S.ESME_RTHROTTLED, t, n) for a, t, n in destinations[granted:]]
            destinations = destinations[:granted]
        if not destinations:
            return SubmitMultiResp(sequence_number=seq, command_status=S.ESME_RSUBMITFAIL, unsuccess_smes=failed)
        base = self.smsc.ids.next()
        count = len(destinations)
        for i, (addr, ton, npi) in enumerate(destinations, 1):
            self._batch_messages.append(
                self._message(
                    pdu,
                    addr,
                    ton,
                    npi,
                    now,
                    schedule_at,
                    expires_at,
                    message_id=base if i == 1 else f"{base}-{i}",
                    sub_count=count,
                    submitted_as="submit_multi",
                )
            )
        self._batch_answers.append(
            encode_pdu(SubmitMultiResp(sequence_number=seq, message_id=base, unsuccess_smes=failed))
        )
        self._batch_plain = False
        return None

    # -- query, cancel, replace ----------------------------------------------

    def _on_query_sm(self, pdu: QuerySm) -> Pdu | Deferred[Pdu]:
        if "query_sm" not in self._may:
            return pdu.response(command_status=S.ESME_RQUERYFAIL)
        if self._window_full():
            return pdu.response(command_status=S.ESME_RTHROTTLED)
        d = self._bounded(self.smsc.lookup_all(pdu.message_id, self.account.system_id))
        d.addCallback(self._query_answer, pdu)
        return d

    def _query_answer(self, found: list[Message], pdu: QuerySm) -> Pdu:
        """One message's state; for a submit_multi id, the destinations'
        together: ENROUTE while any is unfinished, then DELIVERED if all
        were, else the first undelivered one's final state (final_date: the
        last to finish)."""
        m = found[0] if found else None
        if m is None or m.system_id != self.account.system_id or (pdu.source_addr and pdu.source_addr != m.source_addr):
            return pdu.response(command_status=S.ESME_RQUERYFAIL)
        state, error_code, final_at = m.state, m.error_code, m.final_at
        if len(found) > 1:
            if any(not x.is_final for x in found):
                state, error_code, final_at = MessageState.ENROUTE, 0, None
            else:
                bad = [x for x in found if x.state != MessageState.DELIVERED]
                state, error_code = (bad[0].state, bad[0].error_code) if bad else (MessageState.DELIVERED, 0)
                final_at = max(x.final_at or 0.0 for x in found)
        final_date = format_absolute(utc(final_at)) if final_at is not None else ""
        return QuerySmResp(
            sequence_number=pdu.sequence_number,
            message_id=pdu.message_id,
            final_date=final_date,
            message_state=state,
            error_code=min(error_code, 255),
        )

    def _on_cancel_sm(self, pdu: CancelSm) -> Pdu | Deferred[Pdu]:
        if "cancel_sm" not in self._may:
            return CancelSmResp(sequence_number=pdu.sequence_number, command_status=S.ESME_RCANCELFAIL)
        if not pdu.message_id and not (pdu.source_addr and pdu.destination_addr):
            return CancelSmResp(sequence_number=pdu.sequence_number, command_status=S.ESME_RCANCELFAIL)
        if self._window_full():
            return CancelSmResp(sequence_number=pdu.sequence_number, command_status=S.ESME_RTHROTTLED)
        d = self._bounded(
            self.smsc.cancel(self.account.system_id, pdu.message_id, pdu.source_addr, pdu.destination_addr, pdu.service_type)
        )
        d.addCallback(lambda status: CancelSmResp(sequence_number=pdu.sequence_number, command_status=status))
        return d

    def _on_replace_sm(self, pdu: ReplaceSm) -> Pdu | Deferred[Pdu]:
        seq = pdu.sequence_number

        def fail(status: int) -> Pdu:
            return ReplaceSmResp(sequence_number=seq, command_status=status)

        if "replace_sm" not in self._may:
            return fail(S.ESME_RREPLACEFAIL)
        rd = pdu.registered_delivery
        if rd & 0x03 == 0x03 or rd & 0xE0:
            return fail(S.ESME_RINVREGDLVFLG)
        if pdu.sm_default_msg_id:
            return fail(S.ESME_RINVDFTMSGID)
        current = self.smsc.unfinished.get(pdu.message_id)
        if current is None or current.system_id != self.account.system_id:
            return fail(S.ESME_RREPLACEFAIL)
        now = self._last_rx
        schedule_at, expires_at = current.schedule_at, current.expires_at
        if pdu.schedule_delivery_time or pdu.validity_period:
            status, new_schedule, new_expiry = self._times(
                pdu.schedule_delivery_time, pdu.validity_period, now
            )
            if status:
                return fail(status)
            if pdu.schedule_delivery_time:
                schedule_at = new_schedule
            if pdu.validity_period:
                expires_at = new_expiry
        replacement = attrs.evolve(
            current,
            short_message=pdu.short_message,
            registered_delivery=rd,
            schedule_at=schedule_at,
            expires_at=expires_at,
            source_addr=pdu.source_addr or current.source_addr,
        )
        if self._window_full():
            return fail(S.ESME_RTHROTTLED)
        d = self._bounded(self.smsc.replace(self.account.system_id, replacement))
        d.addCallback(lambda status: ReplaceSmResp(sequence_number=seq, command_status=status))
        return d

    # -- outbound --------------------------------------------------------------

    def _on_response(self, pdu: Pdu) -> None:
        super()._on_response(pdu)
        self._answered_requests = True

    def _on_deliver_sm_resp_frame(self, frame: bytes, status: int, seq: int) -> None:
        """deliver_sm_resp ESME_ROK to a deliver_sm, without decoding it (its
        message_id is unused: always NULL in v3.4). Anything else takes the
        general path."""
        waiter = self.take_answered(status, seq, C.deliver_sm_resp)
        if waiter is None:
            self.dispatch_frame(frame)
            return
        waiter.callback(None)
        self.refill_window()
        self._answered_requests = True


