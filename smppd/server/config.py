"""The SMSC's typed settings (validated from JSON by :mod:`smppd.config`)."""

from __future__ import annotations

import attrs

from smppd.protocol import SessionConfig
from smppd.server.delivery import SimulatorRule


@attrs.frozen
class Route:
    """Destinations matching ``pattern`` (a regular expression, ``re.match``)
    go to the ESME ``system_id`` as deliver_sm, bound or not (store-and-forward)."""

    pattern: str
    system_id: str


@attrs.frozen
class RetryPolicy:
    """Back-off for outbound deliver_sm that were not acknowledged."""

    initial: float = 5.0
    factor: float = 2.0
    maximum: float = 600.0
    throttled_pause: float = 1.0  # after ESME_RTHROTTLED / ESME_RMSGQFUL

    def delay(self, attempts: int) -> float:
        return min(self.maximum, self.initial * self.factor ** max(0, attempts - 1))


@attrs.frozen
class BindPenaltyConfig:
    """Failed binds from one host (an IPv6 /64): the first ``free_failures``
    are answered at once, then after ``base_delay`` doubling up to
    ``max_delay`` seconds; forgotten ``forget_after`` seconds after the last
    failure; at most ``max_hosts`` hosts remembered."""

    free_failures: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    forget_after: float = 600.0
    max_hosts: int = 10_000


@attrs.frozen
class ServerConfig:
    system_id: str = "smppd"
    session: SessionConfig = SessionConfig(
        enquire_link_interval=60.0,
        response_timeout=30.0,
        session_init_timeout=60.0,
        inactivity_timeout=None,
        window=50,
        partial_pdu_timeout=30.0,
    )
    max_connections: int = 1000
    max_unbound_per_host: int = 20  # connections from one host not (yet) bound
    max_bind_failures: int = 3  # refused binds after which a connection is closed
    max_verifications: int = 16  # password hashes running at once, in total
    max_verifications_per_host: int = 4  # ... and for one peer host
    bind_penalty: BindPenaltyConfig = BindPenaltyConfig()
    default_max_binds: int | None = None  # per system_id, when the account sets none
    default_window: int = 50  # requests an ESME may have unanswered before we stop reading
    message_id_format: str = "hex"
    default_validity: float = 48 * 3600.0
    max_validity: float = 7 * 24 * 3600.0
    receipt_validity: float = 48 * 3600.0
    routes: tuple[Route, ...] = ()
    distribution_lists: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    simulator_rules: tuple[SimulatorRule, ...] = ()
    simulator_default_delay: float = 1.0
    retry: RetryPolicy = RetryPolicy()
    outbox_high_water: int = 100_000  # items owed to one system_id before its submits get ESME_RMSGQFUL
    strict_addresses: bool = True  # TON/NPI values outside the 3.4 tables are rejected
    grace_period: float = 10.0  # seconds to finish in-flight work on stop
