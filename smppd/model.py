"""Records that cross layers: messages and outbox items.

Plain values with no behaviour beyond derived properties, so every store
implementation can persist them field by field. They are slotted attrs
classes but deliberately not ``frozen``: a frozen class of 23 fields costs
six times as much to construct (every field goes through
``object.__setattr__``). Treat them as values all the same: make a new one
(the constructor, :func:`finished`, or ``attrs.evolve``) rather than change
one. A store may read a record it was given from a thread of its own (the
journal's snapshot, the SQLite writer) while the reactor goes on: a change
in place would reach that thread half made. Times are seconds since
the epoch as given by the service's clock (``IReactorTime.seconds()``).
"""

from __future__ import annotations

import attrs

from smppd.pdu.constants import MessageState

FINAL_STATES = frozenset(
    {
        MessageState.DELIVERED,
        MessageState.EXPIRED,
        MessageState.DELETED,
        MessageState.UNDELIVERABLE,
        MessageState.UNKNOWN,
        MessageState.REJECTED,
        MessageState.SKIPPED,
    }
)


@attrs.define(eq=True, weakref_slot=False)
class Message:
    """A short message accepted from an ESME (one submit_sm, one destination
    of a submit_multi, or one data_sm)."""

    message_id: str
    system_id: str  # the submitting ESME: owner for query/replace/cancel, receipts go back to it
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    registered_delivery: int = 0
    data_coding: int = 0
    short_message: bytes = b""
    tlvs: bytes = b""  # encoded optional parameters carried with the message (payload, SAR, ports)
    submitted_at: float = 0.0
    schedule_at: float | None = None  # None: deliver now
    expires_at: float | None = None  # None: the server's default validity applies
    state: int = MessageState.ENROUTE
    final_at: float | None = None
    error_code: int = 0  # network error code reported with a final state
    sub_count: int = 1  # destinations in the original submission (receipt "sub:")
    submitted_as: str = "submit_sm"  # or "data_sm", "submit_multi": routed data_sm go out as data_sm

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


def finished(m: Message, state: int, final_at: float, error_code: int) -> Message:
    """A copy of ``m`` in a final state (positional, for the finishing hot
    path: about six times cheaper than ``attrs.evolve``)."""
    return Message(
        m.message_id,
        m.system_id,
        m.service_type,
        m.source_addr_ton,
        m.source_addr_npi,
        m.source_addr,
        m.dest_addr_ton,
        m.dest_addr_npi,
        m.destination_addr,
        m.esm_class,
        m.protocol_id,
        m.priority_flag,
        m.registered_delivery,
        m.data_coding,
        m.short_message,
        m.tlvs,
        m.submitted_at,
        m.schedule_at,
        m.expires_at,
        state,
        final_at,
        error_code,
        m.sub_count,
        m.submitted_as,
    )


@attrs.define(eq=True, weakref_slot=False)
class OutboxItem:
    """Something to deliver to an ESME as deliver_sm (or data_sm): a delivery
    receipt, or a message routed to it. The outbox is the source of truth for
    everything the server owes an ESME; an item leaves it on deliver_sm_resp
    ESME_ROK, or when it expires.
    """

    item_id: str  # unique: a kind letter and the message_id ("r" receipt, "i" intermediate, "m" routed)
    system_id: str  # the ESME to deliver to
    kind: str  # "receipt" or "message"
    message_id: str  # the message this carries or reports on
    pdu: bytes  # the encoded PDU, sequence_number 0: patched when sent
    created_at: float
    expires_at: float | None = None
    attempts: int = 0
    next_attempt_at: float = 0.0

    RECEIPT = "receipt"
    MESSAGE = "message"


@attrs.frozen
class StoreStats:
    """Counts for metrics and readiness."""

    messages: int
    unfinished: int
    outbox: int
