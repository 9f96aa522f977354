"""Draining the outbox into an ESME's receiver sessions.

One :class:`Dispatcher` per system_id holds that ESME's outbox items (the
store holds the durable copy). Whenever one of its RX/TRX sessions has room in
its window, the next due item goes out as deliver_sm, round-robin over the
sessions. deliver_sm_resp ESME_ROK removes the item; ESME_RTHROTTLED or
ESME_RMSGQFUL pauses that session briefly and puts the item back first in
line; any other error or a timeout retries it later with back-off; an item
past its validity is dropped as expired.
"""

from __future__ import annotations

import heapq
import itertools
import struct
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs
from twisted.logger import Logger
from twisted.python.failure import Failure

from smppd.model import OutboxItem
from smppd.pdu import CommandStatus, DataSm, DeliverSm, decode_pdu, encode_pdu
from smppd.protocol import ConnectionClosed, SmppError
from smppd.server.receipts import carried_fields

if TYPE_CHECKING:
    from smppd.server.protocol import SmscProtocol
    from smppd.server.smsc import Smsc

log = Logger()
S = CommandStatus
_THROTTLED = frozenset({S.ESME_RTHROTTLED, S.ESME_RMSGQFUL})
_PERMANENT = frozenset({S.ESME_RX_P_APPN, S.ESME_RX_R_APPN})
_order = itertools.count()


_command_id = struct.Struct(">4xI").unpack_from


class _Delivery:
    """Waits for the response to one deliver_sm (a Deferred would cost more
    than everything else the outbox does per item)."""

    __slots__ = ("dispatcher", "item", "proto")

    def __init__(self, dispatcher: Dispatcher, item: OutboxItem, proto: SmscProtocol) -> None:
        self.dispatcher = dispatcher
        self.item = item
        self.proto = proto

    def callback(self, _response: object) -> None:
        self.dispatcher.acknowledged(self.item)

    def errback(self, error: BaseException | Failure) -> None:
        exc = error.value if isinstance(error, Failure) else error
        self.dispatcher.failed(exc or Exception("unknown"), self.item, self.proto)


def for_smpp33(wire: bytes) -> bytes:
    """What an SMPP 3.3 peer can take: no optional parameters, and no data_sm
    (3.3 has none): a data_sm goes as a deliver_sm carrying its payload as
    short_message (cut at 254 octets, with a warning)."""
    pdu = decode_pdu(wire)
    if isinstance(pdu, DataSm):
        payload = pdu.tlvs.raw(0x0424) or b""
        if len(payload) > 254:
            log.warn("data_sm payload of {n} octets cut to 254 for an SMPP 3.3 peer", n=len(payload))
        fields = carried_fields(pdu)
        for name in ("source_addr", "destination_addr"):
            address = fields[name]
            if isinstance(address, str) and len(address) > 20:
                # deliver_sm takes 20 octets; there is nothing else to send a 3.3 peer.
                log.warn("data_sm {name} of {n} characters cut to 20 for an SMPP 3.3 peer", name=name, n=len(address))
                fields[name] = address[:20]
        deliver = DeliverSm(
            esm_class=pdu.esm_class,
            registered_delivery=pdu.registered_delivery,
            short_message=payload[:254],
            **fields,  # type: ignore[arg-type]
        )
        return encode_pdu(deliver)
    return encode_pdu(attrs.evolve(pdu, tlvs=()))


class Dispatcher:
    """Delivers one ESME's outbox items over its receiver sessions."""

    def __init__(self, smsc: Smsc, system_id: str) -> None:
        self.smsc = smsc
        self.system_id = system_id
        self.ready: deque[OutboxItem] = deque()
        self.later: list[tuple[float, int, OutboxItem]] = []  # heap by next_attempt_at
        self.inflight: dict[str, OutboxItem] = {}
        self._rr = 0
        self._timer: Any = None
        self._soon: Any = None
        self._paused_until: dict[int, float] = {}  # id(session) -> time

    def __len__(self) -> int:
        return len(self.ready) + len(self.later) + len(self.inflight)

    def add(self, items: Iterable[OutboxItem]) -> None:
        """Queue items; they go out on the next reactor turn, so that whatever
        response caused them (cancel_sm_resp, submit_sm_resp) is written first."""
        now = self.smsc.clock.seconds()
        seconds: set[int] = set()
        for item in items:
            if item.next_attempt_at > now:
                heapq.heappush(self.later, (item.next_attempt_at, next(_order), item))
            else:
                self.ready.append(item)
            if item.expires_at is not None:
                seconds.add(int(item.expires_at))
        for second in seconds:
            self.smsc.watch_outbox_expiry(self.system_id, second)
        if self._soon is None:
            self._soon = self.smsc.clock.callLater(0, self._wake_soon)
        self.smsc.check_backlog(self)

    def _wake_soon(self) -> None:
        self._soon = None
        self.wake()

    def wake(self) -> None:
        """Send what the sessions' windows allow (one write per session)."""
        if self.later:
            self._promote()
        if not self.ready:
            return
        sessions = self.smsc.receivers(self.system_id)
        if not sessions:
            return
        held = [proto for proto in sessions if proto.hold_output()]
        try:
            self._fill(sessions)
        finally:
            for proto in held:
                proto.release_output()

    def _fill(self, sessions: list[SmscProtocol]) -> None:
        now = self.smsc.clock.seconds()
        n = len(sessions)
        blocked = 0
        ready = self.ready
        paused = self._paused_until
        while ready and blocked < n:
            proto = sessions[self._rr % n]
            self._rr += 1
            if (
                len(proto._outstanding) >= proto.config.window
                or (paused and paused.get(id(proto), 0.0) > now)
                or not proto.session.is_bound
            ):
                blocked += 1
                continue
            blocked = 0
            item = ready.popleft()
            if item.expires_at is not None and item.expires_at <= now:
                self.smsc.outbox_expired(item)
                continue
            self._send(proto, item)
        if ready and paused:
            soonest = min(paused.values())
            if soonest > now:
                self._arm(soonest)

    def _send(self, proto: SmscProtocol, item: OutboxItem) -> None:
        if not self.smsc.outbox_live(item):
            self.smsc.outbox_expired(item)  # its message was cancelled meanwhile
            return
        self.inflight[item.item_id] = item
        wire = item.pdu
        if proto.interface_version < 0x34 and len(wire) > 16:
            wire = for_smpp33(wire)
        proto.send_request_to(_command_id(wire)[0], wire, _Delivery(self, item, proto))

    def acknowledged(self, item: OutboxItem) -> None:
        """deliver_sm_resp ESME_ROK: the item is done. The session wakes the
        dispatcher once per read (:meth:`Smsc.session_ready`), not per item."""
        del self.inflight[item.item_id]
        self.smsc.outbox_delivered(item)

    def failed(self, error: BaseException, item: OutboxItem, proto: SmscProtocol) -> None:
        self.inflight.pop(item.item_id, None)
        now = self.smsc.clock.seconds()
        if isinstance(error, ConnectionClosed):
            self.ready.appendleft(item)  # not the ESME's fault: first in line on another bind
            self.wake()
            return
        status = error.status if isinstance(error, SmppError) else None
        if status in _THROTTLED:
            self._paused_until[id(proto)] = now + self.smsc.config.retry.throttled_pause
            self.ready.appendleft(item)
            self._arm(now + self.smsc.config.retry.throttled_pause)
            return
        if status in _PERMANENT:
            self.smsc.outbox_rejected(item, status)
            self.wake()
            return
        attempts = item.attempts + 1
        retry = attrs.evolve(item, attempts=attempts, next_attempt_at=now + self.smsc.config.retry.delay(attempts))
        if retry.expires_at is not None and retry.next_attempt_at >= retry.expires_at:
            self.smsc.outbox_expired(retry)
        else:
            log.debug(
                "deliver_sm to {system_id} failed ({why}); retry {n} at {t}",
                system_id=self.system_id,
                why=str(error) or type(error).__name__,
                n=attempts,
                t=retry.next_attempt_at,
            )
            self.smsc.outbox_retry(retry)
            heapq.heappush(self.later, (retry.next_attempt_at, next(_order), retry))
            self._arm(retry.next_attempt_at)
        self.wake()

    def expire(self, now: float) -> None:
        """Drop the queued items past their validity (the SMSC's expiry timer
        calls this whether or not a session of this ESME is bound; an item in
        flight waits for its response or its timeout)."""
        expired = [i for i in self.ready if i.expires_at is not None and i.expires_at <= now]
        if expired:
            self.ready = deque(i for i in self.ready if i.expires_at is None or i.expires_at > now)
        later = [e for e in self.later if e[2].expires_at is not None and e[2].expires_at <= now]
        if later:
            self.later = [e for e in self.later if e[2].expires_at is None or e[2].expires_at > now]
            heapq.heapify(self.later)
            expired.extend(e[2] for e in later)
        for item in expired:
            self.smsc.outbox_expired(item)
        if expired:
            self.smsc.check_backlog(self)

    def _promote(self) -> None:
        now = self.smsc.clock.seconds()
        while self.later and self.later[0][0] <= now:
            self.ready.append(heapq.heappop(self.later)[2])
        if self.later:
            self._arm(self.later[0][0])

    def _arm(self, at: float) -> None:
        now = self.smsc.clock.seconds()
        if self._timer is not None and self._timer.active():
            if self._timer.getTime() <= at:
                return
            self._timer.cancel()
        self._timer = self.smsc.clock.callLater(max(0.0, at - now), self._tick)

    def _tick(self) -> None:
        self._timer = None
        now = self.smsc.clock.seconds()
        self._paused_until = {k: v for k, v in self._paused_until.items() if v > now}
        self.wake()

    def stop(self) -> None:
        for call in (self._timer, self._soon):
            if call is not None and call.active():
                call.cancel()
        self._timer = self._soon = None
