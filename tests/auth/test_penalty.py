"""BindPenalty on fake time."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from smppd.auth import BindPenalty


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_free_failures_then_doubling_up_to_the_cap(clock: Clock) -> None:
    penalty = BindPenalty(clock)
    delays = []
    for _ in range(12):
        delays.append(penalty.record_failure("192.0.2.1"))
        assert penalty.delay_for("192.0.2.1") == delays[-1]
        clock.advance(1)
    assert delays == [0, 0, 0, 1, 2, 4, 8, 16, 30, 30, 30, 30]
    assert penalty.failures("192.0.2.1") == 12
    assert clock.getDelayedCalls() == []  # pure: schedules nothing


def test_parameters(clock: Clock) -> None:
    penalty = BindPenalty(clock, free_failures=0, base_delay=0.5, max_delay=3.0)
    assert [penalty.record_failure("h") for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    huge = BindPenalty(clock, free_failures=0, max_delay=1e9)
    for _ in range(2000):
        huge.record_failure("h")
    assert huge.delay_for("h") == 1e9


def test_hosts_are_independent(clock: Clock) -> None:
    penalty = BindPenalty(clock, free_failures=1)
    for _ in range(3):
        penalty.record_failure("192.0.2.1")
    assert penalty.delay_for("192.0.2.1") == 2
    assert penalty.delay_for("192.0.2.2") == 0
    assert penalty.delay_for("never seen") == 0


def test_success_clears(clock: Clock) -> None:
    penalty = BindPenalty(clock)
    for _ in range(6):
        penalty.record_failure("h")
    assert penalty.delay_for("h") == 4
    penalty.record_success("h")
    assert penalty.delay_for("h") == 0 and len(penalty) == 0
    penalty.record_success("unknown")  # harmless


def test_forgotten_after_quiet_period(clock: Clock) -> None:
    penalty = BindPenalty(clock, forget_after=600)
    for _ in range(5):
        penalty.record_failure("h")
    assert penalty.delay_for("h") == 2
    clock.advance(599)
    assert penalty.delay_for("h") == 2
    penalty.record_failure("h")  # a new failure restarts the period
    clock.advance(599)
    assert penalty.delay_for("h") == 4
    clock.advance(1)
    assert penalty.delay_for("h") == 0
    assert penalty.failures("h") == 0 and len(penalty) == 0
    assert penalty.record_failure("h") == 0  # counting starts over


def test_bounded_number_of_hosts(clock: Clock) -> None:
    penalty = BindPenalty(clock, free_failures=0, max_hosts=100)
    for _ in range(3):
        penalty.record_failure("victim-of-eviction")
    for i in range(10_000):
        penalty.record_failure(f"10.0.{i // 256}.{i % 256}")
        assert len(penalty) <= 100
    assert len(penalty) == 100
    # The oldest went first; the most recent are still tracked.
    assert penalty.failures("victim-of-eviction") == 0
    assert penalty.failures("10.0.39.15") == 1  # i = 9999


def test_expired_hosts_free_their_memory(clock: Clock) -> None:
    penalty = BindPenalty(clock, forget_after=10)
    for i in range(50):
        penalty.record_failure(f"h{i}")
    clock.advance(5)
    penalty.record_failure("late")
    clock.advance(5)
    assert len(penalty) == 1
    clock.advance(5)
    assert len(penalty) == 0


def test_ipv6_counted_per_prefix(clock: Clock) -> None:
    penalty = BindPenalty(clock, free_failures=0)
    penalty.record_failure("2001:db8:1:2::1")
    penalty.record_failure("2001:db8:1:2:ffff::9")
    assert penalty.delay_for("2001:db8:1:2::77") == 2
    assert penalty.delay_for("2001:db8:1:3::1") == 0
    # IPv4 seen through a dual-stack socket is the same host as plain IPv4.
    penalty.record_failure("::ffff:192.0.2.1")
    assert penalty.delay_for("192.0.2.1") == 1
    per_address = BindPenalty(clock, free_failures=0, ipv6_prefix=128)
    per_address.record_failure("2001:db8::1")
    assert per_address.delay_for("2001:db8::2") == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"free_failures": -1},
        {"base_delay": -1},
        {"max_delay": -1},
        {"forget_after": 0},
        {"max_hosts": 0},
        {"ipv6_prefix": 129},
    ],
)
def test_bad_parameters(clock: Clock, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BindPenalty(clock, **kwargs)  # type: ignore[arg-type]
