"""The ESME client's typed settings."""

from __future__ import annotations

import random

import attrs

from smppd.protocol import SessionConfig


@attrs.frozen
class ReconnectPolicy:
    """Exponential back-off with jitter between connection attempts."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0
    jitter: float = 0.2  # +/- fraction of each delay
    max_attempts: int | None = None  # give up after this many failures in a row

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempt`` (1 = the first retry)."""
        base = min(self.maximum, self.initial * self.factor ** max(0, attempt - 1))
        if self.jitter:
            r = (rng or random).uniform(-self.jitter, self.jitter)
            base = max(0.0, base * (1.0 + r))
        return base


@attrs.frozen
class ClientConfig:
    endpoints: tuple[str, ...] = ("tcp:127.0.0.1:2775",)  # Twisted client endpoint strings; failover in order
    system_id: str = ""
    password: str = attrs.field(default="", repr=False)  # (never in a repr or a log line)
    system_type: str = ""
    bind_type: str = "transceiver"  # transmitter, receiver or transceiver
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""
    binds: int = 1  # parallel binds, used round-robin
    session: SessionConfig = SessionConfig(enquire_link_interval=30.0, response_timeout=30.0, window=10)
    bind_timeout: float = 10.0
    reconnect: ReconnectPolicy = ReconnectPolicy()
    rate: float | None = None  # submits per second (each segment counts), all binds together
    throttle_initial: float = 0.1  # pause after ESME_RTHROTTLED / ESME_RMSGQFUL, doubling
    throttle_maximum: float = 5.0
    max_queue: int = 100_000  # messages waiting for a bind or a window slot
    receipt_timeout: float = 48 * 3600.0  # a receipt that never comes
    concatenation: str = "udh8"  # udh8, udh16, sar or payload
    languages: tuple[int, ...] = ()  # national language tables allowed for GSM 7-bit
    reassembly_timeout: float = 300.0
    # What an SMSC must send in outbind before this client binds to it as a
    # receiver (and so hands it system_id and password); None: not checked.
    outbind_system_id: str | None = None
    outbind_password: str | None = attrs.field(default=None, repr=False)
