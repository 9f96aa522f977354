"""The pruning rounds (Pruner) and the memory state's order of final messages."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet import task
from twisted.internet.defer import Deferred, fail, succeed

from smppd.pdu.constants import MessageState
from smppd.storage import StoreError, StoreOptions
from smppd.storage._retention import DEFAULT_RETENTION, Pruner, check_retention
from smppd.storage._state import MemoryState
from tests.storage.contract import T0, done
from tests.storage.helpers import logged, message


class Recorder:
    """A store's prune function that drops what it is told to."""

    def __init__(self, *answers: int) -> None:
        self.calls: list[tuple[float, int]] = []
        self.answers = list(answers)
        self.pending: Deferred[int] | None = None

    def __call__(self, before: float, limit: int) -> Deferred[int]:
        self.calls.append((before, limit))
        answer = self.answers.pop(0) if self.answers else 0
        if answer < 0:
            return fail(StoreError("disk on fire"))
        if answer == 999:
            self.pending = Deferred()
            return self.pending
        return succeed(answer)


def pruner(recorder: Recorder, retention: float | None = 100.0) -> tuple[Pruner, task.Clock]:
    clock = task.Clock()
    clock.advance(1000)
    return Pruner("test store", clock, retention, recorder, batch=5, interval=60.0), clock


def test_rounds_at_start_then_every_interval() -> None:
    recorder = Recorder(1, 0, 2)
    p, clock = pruner(recorder)
    assert recorder.calls == []  # nothing before start
    p.start()
    p.start()  # idempotent
    assert recorder.calls == [(900.0, 5)]
    clock.advance(59)
    assert len(recorder.calls) == 1
    clock.advance(1)
    clock.advance(60)
    assert recorder.calls[1:] == [(960.0, 5), (1020.0, 5)]
    assert p.pruned == 3
    p.stop()
    assert clock.getDelayedCalls() == []


def test_a_full_batch_asks_for_the_next_at_once() -> None:
    recorder = Recorder(5, 5, 1)
    p, clock = pruner(recorder)
    p.start()
    assert len(recorder.calls) == 1
    [call] = clock.getDelayedCalls()
    assert call.getTime() == clock.seconds()  # the next reactor turn, not now
    clock.advance(0)
    assert len(recorder.calls) == 3
    assert clock.getDelayedCalls()[0].getTime() == clock.seconds() + 60
    assert p.pruned == 11
    p.stop()


def test_a_failed_round_is_logged_and_retried(clean_reactor: list[dict[str, Any]]) -> None:
    recorder = Recorder(-1, 1)
    p, clock = pruner(recorder)
    p.start()
    assert any("test store: pruning old final messages failed: disk on fire" in line for line in logged(clean_reactor))
    clock.advance(60)
    assert p.pruned == 1
    p.stop()


def test_stop_during_a_round_schedules_nothing(clean_reactor: list[dict[str, Any]]) -> None:
    recorder = Recorder(999)
    p, clock = pruner(recorder)
    p.start()
    p.stop()
    assert recorder.pending is not None
    recorder.pending.errback(StoreError("the store is closed"))  # closing failed the round
    recorder.pending = None
    assert clock.getDelayedCalls() == []
    assert not [line for line in logged(clean_reactor) if "failed" in line]
    p.start()  # a stopped pruner stays stopped
    assert len(recorder.calls) == 1


def test_no_retention_no_rounds() -> None:
    recorder = Recorder()
    p, clock = pruner(recorder, retention=None)
    p.start()
    assert recorder.calls == [] and clock.getDelayedCalls() == []
    assert p.cutoff() is None
    assert p.prune().result == 0


def test_prune_now_goes_on_while_batches_are_full() -> None:
    recorder = Recorder(5, 5, 3)
    p, _ = pruner(recorder)
    assert p.prune().result == 13
    assert len(recorder.calls) == 3


@pytest.mark.parametrize(("value", "expected"), [(None, None), (0, None), (0.0, None), (60, 60.0), (1.5, 1.5)])
def test_check_retention(value: float | None, expected: float | None) -> None:
    assert check_retention(value) == expected


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), True])
def test_bad_retention(value: float) -> None:
    with pytest.raises(ValueError, match="retention"):
        check_retention(value)


def test_bad_pruner() -> None:
    with pytest.raises(ValueError):
        Pruner("x", None, 1.0, Recorder(), batch=0)
    with pytest.raises(ValueError):
        Pruner("x", None, 1.0, Recorder(), batch=1, interval=0)


def test_store_options() -> None:
    assert StoreOptions().retention == DEFAULT_RETENTION == 604800
    assert StoreOptions(retention=0).retention is None
    options = StoreOptions(kind="sqlite", retention=60, sync="full")
    assert options.arguments("sqlite") == {"retention": 60.0, "sync": "full"}
    # another kind (--store changed it): that kind's defaults
    assert options.arguments("memory") == {"retention": DEFAULT_RETENTION}
    assert options.arguments("file") == {"retention": DEFAULT_RETENTION, "fsync": True, "max_segment_bytes": 64 << 20}


# -- the memory state ---------------------------------------------------------


def test_state_drops_oldest_first_up_to_the_limit() -> None:
    state = MemoryState()
    state.add_messages([message(i) for i in range(6)])
    for i in range(6):
        state.update_message(done(message(i), T0 + i), [])
    assert state.prune_final(T0 + 4, limit=3) == 3
    assert sorted(state.messages) == ["m000003", "m000004", "m000005"]
    assert state.prune_final(T0 + 4) == 1
    assert state.prune_final(T0 + 4) == 0
    assert list(state.final_order) == ["m000004", "m000005"]  # nothing due: one look, nothing popped


def test_state_out_of_order_final_is_dropped_on_time() -> None:
    state = MemoryState()
    state.add_messages([message(1), message(2), message(3)])
    state.update_message(done(message(1), T0 + 100), [])
    state.update_message(done(message(2), T0 + 10), [])  # earlier than the last one: the heap
    state.update_message(done(message(3), T0 + 5, MessageState.EXPIRED), [])
    assert state.prune_final(T0 + 50) == 2
    assert list(state.messages) == ["m000001"]
    assert state.prune_final(T0 + 101) == 1


def test_state_skips_messages_no_longer_final_or_final_again() -> None:
    state = MemoryState()
    state.add_messages([message(1), message(2), done(message(3), T0 + 1)])
    state.update_message(done(message(1), T0 + 2), [])
    state.update_message(message(1), [])  # unfinished again
    state.update_message(done(message(2), T0 + 3), [])
    state.update_message(done(message(2), T0 + 1), [])  # final again, earlier: its heap entry counts
    assert state.prune_final(T0 + 2.5) == 2
    assert sorted(state.messages) == ["m000001"]
    assert state.unfinished == {"m000001": None}
    assert state.prune_final(T0 + 1000) == 0


def test_state_order_final_after_a_replay() -> None:
    state = MemoryState()
    state.add_messages([done(message(i), T0 + (7 * i) % 10) for i in range(10)])
    state.order_final()
    assert state.final_late == []
    assert [state.messages[i].final_at for i in state.final_order] == [T0 + k for k in range(10)]
    assert state.prune_final(T0 + 5) == 5
