"""The sans-IO SMPP session: bind state, what may be sent or received when,
and sequence numbers.

No sockets, no clock, no callbacks: the Twisted adapter
(:mod:`smppd.protocol`) asks this object whether a PDU is allowed and tells it
when the state changes. The rules are one table (SMPP v3.4 §2.3, Table 2-1,
as restated in ``shared/smpp34-reference.md`` §8), read from the point of
view of the side that receives the PDU.
"""

from __future__ import annotations

import enum

from smppd.pdu.constants import CommandId, CommandStatus

C = CommandId


class Role(enum.Enum):
    SMSC = "smsc"
    ESME = "esme"


class State(enum.Enum):
    OPEN = "open"  # connected, not bound
    OUTBOUND = "outbound"  # ESME received outbind, must bind as receiver
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBOUND = "unbound"  # unbind exchanged, TCP not yet closed
    CLOSED = "closed"


class BindType(enum.Enum):
    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"
    TRANSCEIVER = "transceiver"

    @property
    def state(self) -> State:
        return _BIND_STATE[self]

    @property
    def receives(self) -> bool:
        """Whether the SMSC may deliver to a session of this type."""
        return self is not BindType.TRANSMITTER

    @property
    def transmits(self) -> bool:
        """Whether the ESME may submit on a session of this type."""
        return self is not BindType.RECEIVER


_BIND_STATE = {
    BindType.TRANSMITTER: State.BOUND_TX,
    BindType.RECEIVER: State.BOUND_RX,
    BindType.TRANSCEIVER: State.BOUND_TRX,
}

BIND_TYPE_BY_COMMAND: dict[int, BindType] = {
    C.bind_transmitter: BindType.TRANSMITTER,
    C.bind_receiver: BindType.RECEIVER,
    C.bind_transceiver: BindType.TRANSCEIVER,
    C.bind_transmitter_resp: BindType.TRANSMITTER,
    C.bind_receiver_resp: BindType.RECEIVER,
    C.bind_transceiver_resp: BindType.TRANSCEIVER,
}

OPEN = frozenset({State.OPEN})
BOUND = frozenset({State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX})
TX = frozenset({State.BOUND_TX, State.BOUND_TRX})
RX = frozenset({State.BOUND_RX, State.BOUND_TRX})
LIVE = frozenset({State.OPEN, State.OUTBOUND, *BOUND, State.UNBOUND})
NEVER: frozenset[State] = frozenset()

# (receiving role, command_id) -> states in which the PDU may be received.
# Anything absent from the table is never allowed for that role.
RECEIVE_RULES: dict[tuple[Role, int], frozenset[State]] = {
    # The SMSC receives from ESMEs.
    (Role.SMSC, C.bind_transmitter): OPEN,
    (Role.SMSC, C.bind_receiver): OPEN,
    (Role.SMSC, C.bind_transceiver): OPEN,
    (Role.SMSC, C.submit_sm): TX,
    (Role.SMSC, C.submit_multi): TX,
    (Role.SMSC, C.data_sm): TX,
    (Role.SMSC, C.query_sm): TX,
    (Role.SMSC, C.cancel_sm): TX,
    (Role.SMSC, C.replace_sm): TX,  # the 3.4 table omits TRX; TRX is TX + RX
    (Role.SMSC, C.deliver_sm_resp): RX,
    (Role.SMSC, C.data_sm_resp): RX,
    # The ESME receives from the SMSC.
    (Role.ESME, C.outbind): OPEN,
    (Role.ESME, C.bind_transmitter_resp): OPEN | {State.OUTBOUND},
    (Role.ESME, C.bind_receiver_resp): OPEN | {State.OUTBOUND},
    (Role.ESME, C.bind_transceiver_resp): OPEN | {State.OUTBOUND},
    (Role.ESME, C.deliver_sm): RX,
    (Role.ESME, C.data_sm): RX,
    (Role.ESME, C.alert_notification): RX,
    (Role.ESME, C.submit_sm_resp): TX | {State.UNBOUND},
    (Role.ESME, C.submit_multi_resp): TX | {State.UNBOUND},
    (Role.ESME, C.data_sm_resp): TX | {State.UNBOUND},
    (Role.ESME, C.query_sm_resp): TX | {State.UNBOUND},
    (Role.ESME, C.cancel_sm_resp): TX | {State.UNBOUND},
    (Role.ESME, C.replace_sm_resp): TX | {State.UNBOUND},
}
for _role in Role:
    # Both sides: unbind while bound; enquire_link and generic_nack whenever the
    # link is up (5.0 and most stacks answer enquire_link before bind too).
    RECEIVE_RULES[(_role, C.unbind)] = BOUND
    RECEIVE_RULES[(_role, C.unbind_resp)] = BOUND | {State.UNBOUND}
    RECEIVE_RULES[(_role, C.enquire_link)] = LIVE
    RECEIVE_RULES[(_role, C.enquire_link_resp)] = LIVE
    RECEIVE_RULES[(_role, C.generic_nack)] = LIVE
# Responses to our own deliver_sm may still arrive while an unbind is exchanged.
RECEIVE_RULES[(Role.SMSC, C.deliver_sm_resp)] = RX | {State.UNBOUND}
RECEIVE_RULES[(Role.SMSC, C.data_sm_resp)] = RX | {State.UNBOUND}

_OTHER = {Role.SMSC: Role.ESME, Role.ESME: Role.SMSC}
_BIND_REQUESTS = frozenset({C.bind_transmitter, C.bind_receiver, C.bind_transceiver})

MAX_SEQUENCE = 0x7FFFFFFF

# (role, state) -> command_ids that may be received: the per-PDU check is one
# int set lookup instead of hashing Enum members.
_RECEIVABLE: dict[tuple[Role, State], frozenset[int]] = {
    (role, state): frozenset(cid for (r, cid), states in RECEIVE_RULES.items() if r is role and state in states)
    for role in Role
    for state in State
}


class SessionError(Exception):
    """A PDU this side may not send in the current state (a programming error
    or a race with unbind)."""


class Session:
    """Bind state and sequence numbers of one SMPP connection."""

    __slots__ = ("_sequence", "_state", "bind_type", "is_bound", "receivable", "role", "system_id")

    def __init__(self, role: Role) -> None:
        self.role = role
        self.state = State.OPEN
        self.bind_type: BindType | None = None
        self.system_id: str | None = None
        self._sequence = 0

    @property
    def state(self) -> State:
        return self._state

    @state.setter
    def state(self, state: State) -> None:
        self._state = state
        self.receivable = _RECEIVABLE[self.role, state]
        self.is_bound = state in BOUND  # read per deliver_sm by the outbox

    def __repr__(self) -> str:
        return f"<Session {self.role.value} {self.state.value} {self.system_id!r}>"

    def next_sequence(self) -> int:
        """The next sequence number: 1..0x7FFFFFFF, wrapping to 1."""
        seq = self._sequence + 1
        if seq > MAX_SEQUENCE:
            seq = 1
        self._sequence = seq
        return seq

    def receive_status(self, command_id: int) -> int:
        """ESME_ROK if a received PDU is allowed now, else the status to answer:
        ESME_RALYBND for a bind on a bound session, ESME_RINVBNDSTS otherwise."""
        if command_id in self.receivable:
            return 0  # ESME_ROK
        if command_id in _BIND_REQUESTS and self._state in BOUND:
            return CommandStatus.ESME_RALYBND
        return CommandStatus.ESME_RINVBNDSTS

    def may_send(self, command_id: int) -> bool:
        """Whether this side may send ``command_id`` now (the peer's receive rule)."""
        if command_id & 0x80000000 and command_id != C.generic_nack:
            return self.state is not State.CLOSED  # answers always go out while connected
        if command_id in _BIND_REQUESTS:
            return self.role is Role.ESME and self.state in (State.OPEN, State.OUTBOUND)
        allowed = RECEIVE_RULES.get((_OTHER[self.role], command_id), NEVER)
        return self.state in allowed

    def check_send(self, command_id: int) -> None:
        if not self.may_send(command_id):
            raise SessionError(
                f"{_name(command_id)} may not be sent by the {self.role.value} in state {self.state.value}"
            )

    # -- transitions ---------------------------------------------------------

    def outbound(self) -> None:
        """ESME: an outbind arrived; the next step is bind_receiver."""
        self.state = State.OUTBOUND

    def bound(self, bind_type: BindType, system_id: str) -> None:
        self.state = bind_type.state
        self.bind_type = bind_type
        self.system_id = system_id

    def unbound(self) -> None:
        """unbind sent or received: no new requests, answers still flow."""
        if self.state is not State.CLOSED:
            self.state = State.UNBOUND

    def closed(self) -> None:
        self.state = State.CLOSED


def _name(command_id: int) -> str:
    try:
        return CommandId(command_id).name
    except ValueError:
        return f"0x{command_id:08X}"
