"""Slow down bind brute force: failed binds from one peer wait longer and longer.

The server uses it around authentication::

    try:
        account = yield authenticator.authenticate(...)
    except AuthenticationError as e:
        penalty.record_failure(host)
        delay = penalty.delay_for(host)
        # send the failed bind_resp after `delay` seconds (clock.callLater),
        # then drop the connection
    else:
        penalty.record_success(host)

With the defaults the first 3 failures cost nothing, then 1, 2, 4, 8, 16, 30,
30, ... seconds. While that delay runs (:meth:`active`) the server refuses
further binds from the host without verifying them. A host is forgotten ``forget_after`` seconds after its last
failure, and at most ``max_hosts`` hosts are tracked (the one whose last
failure is oldest is dropped first), so memory stays bounded under a flood
from many addresses. IPv6 peers are counted per /64 (``ipv6_prefix``): one
subscriber usually holds a whole /64 and could otherwise rotate addresses.

Pure: time comes only from ``clock.seconds()``; it schedules nothing.
"""

from __future__ import annotations

import collections
import ipaddress

from twisted.internet.interfaces import IReactorTime

__all__ = ["BindPenalty", "host_key"]


def host_key(host: str, ipv6_prefix: int = 64) -> str:
    """What per-host limits count by: the address, an IPv4-mapped IPv6
    address as IPv4, other IPv6 addresses by their /``ipv6_prefix`` (one
    subscriber usually holds a whole /64 and could otherwise rotate)."""
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(addr), ipv6_prefix), strict=False))
    return str(addr)


class _Entry:
    __slots__ = ("failures", "last")

    def __init__(self, failures: int, last: float) -> None:
        self.failures = failures
        self.last = last


class BindPenalty:
    """Per-peer delay before answering a failed bind."""

    def __init__(
        self,
        clock: IReactorTime,
        *,
        free_failures: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 30.0,
        forget_after: float = 600.0,
        max_hosts: int = 10_000,
        ipv6_prefix: int = 64,
    ) -> None:
        if free_failures < 0:
            raise ValueError("free_failures must be >= 0")
        if base_delay < 0 or max_delay < 0:
            raise ValueError("delays must be >= 0")
        if forget_after <= 0:
            raise ValueError("forget_after must be > 0")
        if max_hosts < 1:
            raise ValueError("max_hosts must be >= 1")
        if not 0 <= ipv6_prefix <= 128:
            raise ValueError("ipv6_prefix must be 0..128")
        self._clock = clock
        self.free_failures = free_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_hosts = max_hosts
        self.ipv6_prefix = ipv6_prefix
        # Ordered by last failure, oldest first: expiry and eviction pop the front.
        self._entries: collections.OrderedDict[str, _Entry] = collections.OrderedDict()

    def _key(self, host: str) -> str:
        return host_key(host, self.ipv6_prefix)

    def _expire(self, now: float) -> None:
        entries = self._entries
        while entries:
            key, entry = next(iter(entries.items()))
            if now - entry.last < self.forget_after:
                break
            del entries[key]

    def _delay(self, failures: int) -> float:
        over = failures - self.free_failures
        if over <= 0:
            return 0.0
        return min(self.max_delay, self.base_delay * 2.0 ** min(over - 1, 64))

    def failures(self, host: str) -> int:
        """Failures remembered for ``host`` (0 once forgotten)."""
        self._expire(self._clock.seconds())
        entry = self._entries.get(self._key(host))
        return 0 if entry is None else entry.failures

    def delay_for(self, host: str) -> float:
        """Seconds to wait before sending a failed bind_resp to ``host``."""
        return self._delay(self.failures(host))

    def active(self, host: str) -> bool:
        """Whether ``host`` is serving a penalty now: its last failure was
        less than :meth:`delay_for` seconds ago. Binds from it are refused
        without verifying them until the penalty is over."""
        now = self._clock.seconds()
        self._expire(now)
        entry = self._entries.get(self._key(host))
        return entry is not None and now - entry.last < self._delay(entry.failures)

    def record_failure(self, host: str) -> float:
        """Count a failed bind from ``host``; returns the new :meth:`delay_for`."""
        now = self._clock.seconds()
        self._expire(now)
        key = self._key(host)
        entry = self._entries.pop(key, None)
        failures = 1 if entry is None else entry.failures + 1
        self._entries[key] = _Entry(failures, now)
        while len(self._entries) > self.max_hosts:
            self._entries.popitem(last=False)
        return self._delay(failures)

    def record_success(self, host: str) -> None:
        """A successful bind from ``host`` clears its record."""
        self._entries.pop(self._key(host), None)
        self._expire(self._clock.seconds())

    def __len__(self) -> int:
        """Hosts (or IPv6 prefixes) currently tracked."""
        self._expire(self._clock.seconds())
        return len(self._entries)
