"""Message ids: strictly increasing whatever the clock does, in either format."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from smppd.server.ids import SEQUENCE_BITS, MessageIdGenerator, issued_at

T0 = 1_764_000_000.0

steps = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.floats(0, 5)),
        st.tuples(st.just("back"), st.floats(0, 5)),  # the clock steps back
        st.tuples(st.just("next"), st.none()),  # next() asks the clock
        st.tuples(st.just("next_at_clock"), st.none()),  # next(now) with the clock's time, as a read does
        st.tuples(st.just("next_at"), st.floats(T0 - 10, T0 + 10)),  # next(now) with any time
        st.tuples(st.just("value"), st.none()),  # next_value()
    ),
    max_size=60,
)


@pytest.mark.parametrize("fmt", ["hex", "decimal"])
@given(steps=steps)
def test_ids_strictly_increase(fmt: str, steps: list[tuple[str, Any]]) -> None:
    clock = Clock()
    clock.advance(T0)
    ids = MessageIdGenerator(clock, fmt)
    base = 16 if fmt == "hex" else 10
    values: list[int] = []
    for kind, arg in steps:
        if kind == "advance":
            clock.advance(arg)
        elif kind == "back":
            clock.rightNow -= arg
        elif kind == "next":
            values.append(int(ids.next(), base))
        elif kind == "next_at_clock":
            values.append(int(ids.next(clock.seconds()), base))
        elif kind == "next_at":
            values.append(int(ids.next(arg), base))
        else:
            values.append(ids.next_value())
    assert values == sorted(set(values))


def test_ids_carry_their_millisecond_and_borrow_from_the_next():
    clock = Clock()
    clock.advance(T0)
    ids = MessageIdGenerator(clock)
    first = ids.next()
    assert int(first, 16) == int(T0 * 1000) << SEQUENCE_BITS
    assert issued_at(first) == pytest.approx(T0)
    assert [int(ids.next(T0), 16) for _ in range(3)] == [int(first, 16) + i for i in (1, 2, 3)]
    clock.advance(0.001)
    assert int(ids.next(), 16) == int((T0 + 0.001) * 1000) << SEQUENCE_BITS


def test_at_least_keeps_ids_above_a_recovered_one():
    clock = Clock()
    clock.advance(T0)
    ids = MessageIdGenerator(clock, "decimal")
    recovered = str((int(T0 * 1000) + 60_000) << SEQUENCE_BITS)  # issued before a clock step back
    ids.at_least(recovered)
    ids.at_least("not-a-number")
    assert int(ids.next(T0)) == int(recovered) + 1
    assert issued_at(recovered + "-2") == pytest.approx(T0 + 60)
    assert issued_at("abc") is None
