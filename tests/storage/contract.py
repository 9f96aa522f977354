"""The IMessageStore contract: one suite every store passes.

A test module subclasses :class:`StoreContract` as ``Test...`` and says how
to make its store (``make_store``) and whether it is durable. Durable stores
must also show everything again after a close and a reopen, and commit
concurrent writes in fewer commits than writes (they expose ``commits`` and
a ``writer`` that can be paused, so a batch can be formed deterministically).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
import pytest_twisted
from twisted.internet import task
from twisted.internet.defer import Deferred, DeferredList, gatherResults
from zope.interface.verify import verifyObject

from smppd.interfaces import IMessageStore
from smppd.model import StoreStats
from smppd.pdu.constants import MessageState
from smppd.storage import StoreError
from tests.storage.helpers import ALL_BYTES, final, item, message

NON_FINAL = (MessageState.SCHEDULED, MessageState.ENROUTE, MessageState.ACCEPTED)
FINALS = (
    MessageState.DELIVERED,
    MessageState.EXPIRED,
    MessageState.DELETED,
    MessageState.UNDELIVERABLE,
    MessageState.UNKNOWN,
    MessageState.REJECTED,
    MessageState.SKIPPED,
)


HOUR = 3600.0
T0 = 1_700_000_000.0  # when the helpers' messages were submitted


def clock_at(seconds: float) -> task.Clock:
    clock = task.Clock()
    clock.advance(seconds)
    return clock


def done(m: Any, final_at: float, state: MessageState = MessageState.DELIVERED) -> Any:
    """``m`` made final at ``final_at``."""
    return attrs.evolve(m, state=state, final_at=final_at)


async def settle(s: Any, clock: task.Clock, seconds: float = 0.0) -> None:
    """Advance ``clock``; wait until what a pruning round sent the store
    has run (a durable store runs calls in order: stats() comes after it)."""
    clock.advance(seconds)
    await s.stats()


async def failure_of(d: Deferred[Any]) -> BaseException:
    """The exception ``d`` fails with (the test fails if it succeeds)."""
    try:
        result = await d
    except Exception as e:
        return e
    raise AssertionError(f"expected a failure, got {result!r}")


class StoreContract:
    durable: ClassVar[bool]

    def make_store(self, path: Path, **options: Any) -> Any:
        raise NotImplementedError

    # -- plumbing ---------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _stores(self, tmp_path: Path) -> Iterator[None]:
        self.path = tmp_path / "store"
        self.opened: list[Any] = []
        yield
        closing = DeferredList([s.close() for s in self.opened], consumeErrors=True)
        pytest_twisted.blockon(closing)

    def store(self, **options: Any) -> Any:
        s = self.make_store(self.path, **options)
        self.opened.append(s)
        return s

    async def reopen(self, store: Any, **options: Any) -> Any:
        """Close ``store`` and open the same path again (durable stores only)."""
        assert self.durable, "only durable stores can be reopened"
        await store.close()
        return self.store(**options)

    def hold(self, store: Any) -> None:
        """Keep the writer from starting a batch until ``release``."""
        if self.durable:
            store.writer.pause()

    def release(self, store: Any) -> None:
        if self.durable:
            store.writer.resume()

    # -- the contract -----------------------------------------------------

    def test_provides_interface(self) -> None:
        s = self.store()
        assert verifyObject(IMessageStore, s)
        assert s.durable is self.durable

    @pytest_twisted.ensureDeferred
    async def test_add_and_get(self) -> None:
        s = self.store()
        await s.add_messages([message(1), message(2)])
        await s.add_messages([message(3)])
        assert await s.get_message("m000001") == message(1)
        assert await s.get_message("m000003") == message(3)
        assert await s.get_message("nope") is None
        await s.add_messages([])

    @pytest_twisted.ensureDeferred
    async def test_duplicate_id_fails_and_changes_nothing(self) -> None:
        s = self.store()
        await s.add_messages([message(1)])
        e = await failure_of(s.add_messages([message(2), message(1, short_message=b"x")]))
        assert isinstance(e, StoreError)
        assert "m000001" in str(e)
        e = await failure_of(s.add_messages([message(3), message(3)]))
        assert isinstance(e, StoreError)
        assert await s.get_message("m000001") == message(1)
        assert await s.get_message("m000002") is None
        assert await s.get_message("m000003") is None
        assert (await s.stats()).messages == 1

    @pytest_twisted.ensureDeferred
    async def test_failed_call_does_not_fail_its_batch(self) -> None:
        s = self.store()
        await s.add_messages([message(0)])
        self.hold(s)
        calls = [
            s.add_messages([message(1)]),
            s.add_messages([message(1)]),  # duplicate of a write in the same batch
            s.add_messages([message(2), message(0)]),  # duplicate of a stored one
            s.update_message(final(message(99))),  # unknown message
            s.outbox_put([item(1)]),
            s.outbox_put([item(1)]),
            s.add_messages([message(3)]),
        ]
        self.release(s)
        outcomes = await DeferredList(calls, consumeErrors=True)
        ok = [success for success, _ in outcomes]
        assert ok == [True, False, False, False, True, False, True]
        for success, value in outcomes:
            if not success:
                assert isinstance(value.value, StoreError)
        assert (await s.stats()) == StoreStats(messages=3, unfinished=3, outbox=1)
        assert await s.get_message("m000002") is None

    @pytest_twisted.ensureDeferred
    async def test_update_message_with_outbox(self) -> None:
        s = self.store()
        await s.add_messages([message(1), message(2)])
        delivered = final(message(1))
        await s.update_message(delivered, [item(1), item(2)])
        assert await s.get_message("m000001") == delivered
        assert await s.outbox_pending() == [item(1), item(2)]
        await s.update_message(attrs.evolve(message(2), state=MessageState.ACCEPTED))
        assert (await s.get_message("m000002")).state == MessageState.ACCEPTED

    @pytest_twisted.ensureDeferred
    async def test_update_message_is_atomic(self) -> None:
        s = self.store()
        await s.add_messages([message(1)])
        await s.outbox_put([item(1)])
        # the outbox part fails (item 1 exists): the message is not updated either
        e = await failure_of(s.update_message(final(message(1)), [item(2), item(1)]))
        assert isinstance(e, StoreError)
        assert await s.get_message("m000001") == message(1)
        assert await s.outbox_pending() == [item(1)]
        # an unknown message: its outbox items are not added either
        e = await failure_of(s.update_message(final(message(7)), [item(7)]))
        assert isinstance(e, StoreError)
        assert await s.outbox_pending() == [item(1)]

    @pytest_twisted.ensureDeferred
    async def test_update_messages_all_or_none(self) -> None:
        s = self.store()
        await s.add_messages([message(i) for i in range(6)])
        await s.update_messages([(final(message(i)), [item(i)]) for i in range(3)])
        assert await s.stats() == StoreStats(messages=6, unfinished=3, outbox=3)
        assert await s.get_message("m000001") == final(message(1))
        e = await failure_of(s.update_messages([(final(message(4)), []), (final(message(77)), [])]))
        assert isinstance(e, StoreError)
        e = await failure_of(s.update_messages([(final(message(4)), [item(9)]), (final(message(5)), [item(9)])]))
        assert isinstance(e, StoreError)
        assert await s.get_message("m000004") == message(4)  # none of a failed batch applied
        assert await s.stats() == StoreStats(messages=6, unfinished=3, outbox=3)

    @pytest_twisted.ensureDeferred
    async def test_finish_messages_records_final_states_all_or_none(self) -> None:
        """What the SMSC calls when messages reach their final state: the same
        results as update_messages for such updates, failures included."""
        s = self.store()
        await s.add_messages([message(i) for i in range(6)])
        done = [attrs.evolve(final(message(i)), error_code=i) for i in range(3)]
        await s.finish_messages([(m, [item(i)]) for i, m in enumerate(done)])
        assert await s.stats() == StoreStats(messages=6, unfinished=3, outbox=3)
        assert [await s.get_message(f"m00000{i}") for i in range(3)] == done
        assert await s.unfinished_messages() == [message(i) for i in range(3, 6)]
        e = await failure_of(s.finish_messages([(final(message(4)), []), (final(message(77)), [])]))
        assert isinstance(e, StoreError)
        e = await failure_of(s.finish_messages([(final(message(4)), [item(9)]), (final(message(5)), [item(9)])]))
        assert isinstance(e, StoreError)
        assert await s.get_message("m000004") == message(4)  # none of a failed batch applied
        assert await s.stats() == StoreStats(messages=6, unfinished=3, outbox=3)

    @pytest_twisted.ensureDeferred
    async def test_unfinished_excludes_final_states(self) -> None:
        s = self.store()
        states = NON_FINAL + FINALS
        await s.add_messages([message(i, state=state) for i, state in enumerate(states)])
        unfinished = await s.unfinished_messages()
        assert unfinished == [message(i, state=state) for i, state in enumerate(NON_FINAL)]
        await s.update_message(final(message(1), MessageState.EXPIRED))
        await s.add_messages([message(50)])
        ids = [m.message_id for m in await s.unfinished_messages()]
        assert ids == ["m000000", "m000002", "m000050"]
        assert await s.stats() == StoreStats(messages=len(states) + 1, unfinished=3, outbox=0)

    @pytest_twisted.ensureDeferred
    async def test_outbox_put_update_remove_pending(self) -> None:
        s = self.store()
        # created_at out of order, and ties (broken by insertion order)
        a = item(1, created_at=30.0)
        b = item(2, created_at=10.0)
        c = item(3, created_at=20.0)
        d = item(4, created_at=10.0)
        e = item(5, created_at=10.0)
        await s.outbox_put([a, b])
        await s.outbox_put([c, d])
        await s.outbox_put([e])
        assert await s.outbox_pending() == [b, d, e, c, a]
        b2 = attrs.evolve(b, attempts=1, next_attempt_at=12.5)
        await s.outbox_update([b2, item(99)])  # an item not there is not brought back
        assert await s.outbox_pending() == [b2, d, e, c, a]
        await s.outbox_remove([d.item_id, "not-there"])
        assert await s.outbox_pending() == [b2, e, c, a]
        error = await failure_of(s.outbox_put([item(6), c]))
        assert isinstance(error, StoreError)
        assert await s.outbox_pending() == [b2, e, c, a]
        await s.outbox_remove([b2.item_id, e.item_id, c.item_id, a.item_id])
        assert await s.outbox_pending() == []
        assert (await s.stats()).outbox == 0

    @pytest_twisted.ensureDeferred
    async def test_stats(self) -> None:
        s = self.store()
        assert await s.stats() == StoreStats(messages=0, unfinished=0, outbox=0)
        await s.add_messages([message(i) for i in range(10)])
        await s.update_message(final(message(0)), [item(0)])
        await s.outbox_put([item(1), item(2)])
        assert await s.stats() == StoreStats(messages=10, unfinished=9, outbox=3)

    @pytest_twisted.ensureDeferred
    async def test_check(self) -> None:
        s = self.store()
        await s.check()
        await s.add_messages([message(1)])
        await s.check()
        await s.close()
        assert isinstance(await failure_of(s.check()), StoreError)

    @pytest_twisted.ensureDeferred
    async def test_close_flushes_and_then_writes_fail(self) -> None:
        s = self.store()
        writes = [s.add_messages([message(i)]) for i in range(300)]
        writes.append(s.outbox_put([item(1)]))
        closed = s.close()
        await gatherResults(writes, consumeErrors=True)
        await closed
        await s.close()  # closing twice is harmless
        for call in (
            s.add_messages([message(1000)]),
            s.update_message(final(message(1))),
            s.outbox_put([item(2)]),
            s.outbox_update([item(1)]),
            s.outbox_remove(["o000001"]),
        ):
            assert isinstance(await failure_of(call), StoreError)
        if self.durable:
            again = self.store()
            assert await again.stats() == StoreStats(messages=300, unfinished=300, outbox=1)

    @pytest_twisted.ensureDeferred
    async def test_bytes_round_trip_exactly(self) -> None:
        s = self.store()
        odd = [
            message(1, short_message=ALL_BYTES, tlvs=ALL_BYTES[::-1]),
            message(2, short_message=b"\x00", tlvs=b"\x00\x00"),
            message(3, short_message=b"", tlvs=b""),
            message(4, short_message=b'\n\r{}"\\', tlvs=b"\xff" * 300),
        ]
        items = [item(1, pdu=ALL_BYTES), item(2, pdu=b"\x00"), item(3, pdu=b"")]
        await s.add_messages(odd)
        await s.outbox_put(items)
        if self.durable:
            s = await self.reopen(s)
        for m in odd:
            got = await s.get_message(m.message_id)
            assert got == m
            assert type(got.short_message) is bytes
            assert type(got.tlvs) is bytes
        assert await s.outbox_pending() == items

    @pytest_twisted.ensureDeferred
    async def test_none_float_text_round_trip_exactly(self) -> None:
        s = self.store()
        values = [
            message(
                1,
                submitted_at=0.1,
                schedule_at=None,
                expires_at=None,
                final_at=None,
                source_addr="Ünïcödé ☎",
                service_type="",
            ),
            message(
                2,
                submitted_at=1_700_000_000.123456,
                schedule_at=1e-300,
                expires_at=1.7976931348623157e308,
                final_at=-0.5,
                state=MessageState.UNDELIVERABLE,
                error_code=0xFFFFFF,
                sub_count=255,
            ),
        ]
        items = [item(1, expires_at=None, next_attempt_at=1 / 3, attempts=7)]
        await s.add_messages(values)
        await s.outbox_put(items)
        if self.durable:
            s = await self.reopen(s)
        for m in values:
            got = await s.get_message(m.message_id)
            assert got == m
            for name in ("submitted_at", "schedule_at", "expires_at", "final_at"):
                assert type(getattr(got, name)) is type(getattr(m, name))
            assert got.state == m.state
            assert isinstance(got.state, MessageState)
        assert await s.outbox_pending() == items


    # -- retention ----------------------------------------------------------

    async def aged_store(self, **options: Any) -> tuple[Any, task.Clock]:
        """A store with one hour of retention, two hours after T0: messages
        final before T0 + 1 h are due; one of each kind of record."""
        clock = clock_at(T0 + 2 * HOUR)
        s = self.store(retention=HOUR, clock=clock, **options)
        await s.open()
        await s.add_messages(
            [
                done(message(1), T0 + 10),  # old: goes
                done(message(2), T0 + 1.5 * HOUR),  # recent: stays
                message(3),  # unfinished, submitted two hours ago: stays
                done(message(4), T0 + 20, MessageState.REJECTED),  # old: goes
                message(5, state=MessageState.ACCEPTED, final_at=T0),  # not final: stays
            ]
        )
        await s.update_message(done(message(3), T0 + 30), [item(3, created_at=T0)])
        await s.update_message(message(3))  # made unfinished again: stays
        await s.outbox_put([item(1, created_at=T0), item(4, created_at=T0 + 5)])
        return s, clock

    @pytest_twisted.ensureDeferred
    async def test_retention_drops_old_final_messages_only(self) -> None:
        s, clock = await self.aged_store()
        pending = await s.outbox_pending()
        assert s.retention == HOUR and s.pruned == 0  # the round at the open found nothing
        await settle(s, clock, 60)  # the next round
        assert await s.get_message("m000001") is None
        assert await s.get_message("m000004") is None
        assert await s.get_message("m000002") == done(message(2), T0 + 1.5 * HOUR)
        assert await s.get_message("m000003") == message(3)
        assert (await s.get_message("m000005")).state == MessageState.ACCEPTED
        assert await s.outbox_pending() == pending  # receipts of dropped messages too
        assert await s.stats() == StoreStats(messages=3, unfinished=2, outbox=3)
        assert {m.message_id for m in await s.unfinished_messages()} == {"m000003", "m000005"}
        assert s.pruned == 2

    @pytest_twisted.ensureDeferred
    async def test_retention_runs_every_interval(self) -> None:
        s, clock = await self.aged_store(prune_interval=60.0)
        await settle(s, clock, 60)
        assert s.pruned == 2
        await settle(s, clock, 0.5 * HOUR - 121)  # message 2 not due yet
        assert await s.get_message("m000002") is not None
        await settle(s, clock, 62)  # the next round finds it due
        assert await s.get_message("m000002") is None
        assert s.pruned == 3
        # what finishes now is dropped an hour (and at most a round) later
        await s.update_message(done(message(3), clock.seconds()))
        await settle(s, clock, HOUR)
        assert await s.get_message("m000003") is not None  # final_at is not older yet
        await settle(s, clock, 60)
        assert await s.get_message("m000003") is None
        assert await s.stats() == StoreStats(messages=1, unfinished=1, outbox=3)

    @pytest_twisted.ensureDeferred
    async def test_retention_in_bounded_batches(self) -> None:
        clock = clock_at(T0 + 2 * HOUR)
        s = self.store(retention=HOUR, clock=clock, prune_batch=3)
        await s.open()
        await s.add_messages([done(message(i), T0 + i) for i in range(10)])
        await settle(s, clock, 60)
        for _ in range(3):  # 3 + 3 + 3 + 1: a full batch asks for another round at once
            await settle(s, clock)
        assert s.pruned == 10
        assert await s.stats() == StoreStats(messages=0, unfinished=0, outbox=0)
        assert clock.getDelayedCalls()[0].getTime() == clock.seconds() + 60  # then: idle rounds

    @pytest_twisted.ensureDeferred
    async def test_prune_now(self) -> None:
        s, clock = await self.aged_store(prune_batch=1)
        assert await s.prune() == 2  # batch after batch until a short one
        assert await s.prune() == 0
        assert s.pruned == 2
        assert await s.stats() == StoreStats(messages=3, unfinished=2, outbox=3)

    @pytest_twisted.ensureDeferred
    async def test_no_retention_keeps_everything(self) -> None:
        for retention in (None, 0):
            clock = clock_at(T0 + 1000 * HOUR)
            s = self.store(retention=retention, clock=clock)
            await s.open()
            await s.add_messages([done(message(1), T0)])
            await settle(s, clock, HOUR)
            assert s.retention is None
            assert await s.prune() == 0
            assert await s.get_message("m000001") == done(message(1), T0)
            assert clock.getDelayedCalls() == []
            await s.close()
            self.path = self.path.with_name(f"{self.path.name}-{retention}")

    @pytest_twisted.ensureDeferred
    async def test_no_rounds_after_close(self) -> None:
        s, clock = await self.aged_store()
        await s.close()
        assert clock.getDelayedCalls() == []
        clock.advance(10 * HOUR)
        assert s.pruned == 0

    def test_bad_retention(self) -> None:
        for retention in (-1.0, float("nan"), float("inf")):
            with pytest.raises(ValueError, match="retention"):
                self.make_store(self.path, retention=retention)


class DurableStoreContract(StoreContract):
    """What the durable stores promise beyond the contract: reopening shows
    everything, and concurrent writes share commits (group commit)."""

    @pytest_twisted.ensureDeferred
    async def test_reopen_shows_everything(self) -> None:
        s = self.store()
        await s.add_messages([message(i) for i in range(20)])
        await s.update_message(final(message(3)), [item(3)])
        await s.update_message(attrs.evolve(message(4), state=MessageState.ACCEPTED))
        await s.outbox_put([item(10, created_at=1.0), item(11, created_at=1.0), item(12)])
        await s.outbox_update([item(11, created_at=1.0, attempts=2, next_attempt_at=99.5)])
        await s.outbox_remove(["o000012"])
        expected_messages = [await s.get_message(f"m{i:06d}") for i in range(20)]
        expected_unfinished = await s.unfinished_messages()
        expected_pending = await s.outbox_pending()
        expected_stats = await s.stats()

        s = await self.reopen(s)
        assert [await s.get_message(f"m{i:06d}") for i in range(20)] == expected_messages
        assert await s.unfinished_messages() == expected_unfinished
        assert await s.outbox_pending() == expected_pending
        assert await s.stats() == expected_stats
        # and it keeps working after the reopen
        await s.add_messages([message(20)])
        e = await failure_of(s.add_messages([message(5)]))
        assert isinstance(e, StoreError)
        s = await self.reopen(s)
        assert await s.get_message("m000020") == message(20)

    @pytest_twisted.ensureDeferred
    async def test_retention_across_a_restart(self) -> None:
        s, clock = await self.aged_store()
        await s.close()  # before any round found something to drop
        clock = clock_at(T0 + 3 * HOUR)  # message 2 is due too now
        s = self.store(retention=HOUR, clock=clock)
        await s.open()
        # dropped as the store opened: no caller sees them again
        assert [await s.get_message(f"m{i:06d}") for i in (1, 2, 4)] == [None, None, None]
        assert await s.stats() == StoreStats(messages=2, unfinished=2, outbox=3)
        assert s.pruned == 3
        assert await s.prune() == 0
        s = await self.reopen(s, retention=HOUR, clock=clock)
        assert await s.stats() == StoreStats(messages=2, unfinished=2, outbox=3)

    @pytest_twisted.ensureDeferred
    async def test_concurrent_writes_are_committed_together(self) -> None:
        s = self.store()
        await s.open()
        before_commits, before_ops = s.commits, s.operations
        self.hold(s)
        writes = [s.add_messages([message(i)]) for i in range(200)]
        writes += [s.update_message(final(message(i)), [item(i)]) for i in range(0, 200, 4)]
        writes += [s.outbox_put([item(1000 + i)]) for i in range(30)]
        self.release(s)
        await gatherResults(writes, consumeErrors=True)
        assert s.operations - before_ops == len(writes)
        assert s.commits - before_commits == 1  # 330 rows < batch_max: one batch
        assert await s.stats() == StoreStats(messages=200, unfinished=150, outbox=80)

    @pytest_twisted.ensureDeferred
    async def test_batch_max_bounds_a_batch(self) -> None:
        s = self.store(batch_max=10)
        await s.open()
        before = s.commits
        self.hold(s)
        writes = [s.add_messages([message(i)]) for i in range(25)]
        writes.append(s.add_messages([message(100 + i) for i in range(30)]))  # runs whole
        self.release(s)
        await gatherResults(writes, consumeErrors=True)
        assert s.commits - before == 3  # 10 rows, 10 rows, then 5 + the 30-row call
        assert (await s.stats()).messages == 55


class BatchedWritesContract(DurableStoreContract):
    """Runs of updates and removals in one batch: one bad call fails alone."""

    @pytest_twisted.ensureDeferred
    async def test_a_bad_update_among_many_fails_alone(self) -> None:
        s = self.store()
        await s.add_messages([message(i) for i in range(10)])
        await s.outbox_put([item(i) for i in range(5)])
        self.hold(s)
        good = [s.update_message(final(message(i)), [item(100 + i)]) for i in range(10)]
        bad = s.update_message(final(message(99)), [item(200)])
        removes = [s.outbox_remove([f"o{i:06d}"]) for i in range(5)]
        self.release(s)
        error = await failure_of(bad)
        assert isinstance(error, StoreError)
        await gatherResults(good + removes)
        stats = await s.stats()
        assert stats == StoreStats(messages=10, unfinished=0, outbox=10)
        pending = {i.item_id for i in await s.outbox_pending()}
        assert pending == {f"o{100 + i:06d}" for i in range(10)}

    @pytest_twisted.ensureDeferred
    async def test_finishes_and_updates_in_one_batch_keep_their_order(self) -> None:
        """finish_messages runs beside full updates in one writer batch; a
        bad finish fails alone, and a later full update of the same message
        wins over an earlier finish."""
        s = self.store()
        await s.add_messages([message(i) for i in range(6)])
        self.hold(s)
        finishes = [s.finish_messages([(final(message(i)), [item(i)])]) for i in range(4)]
        replaced = attrs.evolve(message(0), short_message=b"replaced")
        update = s.update_message(replaced)
        bad = s.finish_messages([(final(message(5)), []), (final(message(99)), [])])
        after = s.finish_messages([(final(message(4)), [])])
        self.release(s)
        assert isinstance(await failure_of(bad), StoreError)
        await gatherResults([*finishes, update, after])
        assert await s.get_message("m000000") == replaced
        assert [await s.get_message(f"m00000{i}") for i in (1, 4, 5)] == [final(message(1)), final(message(4)), message(5)]
        assert await s.stats() == StoreStats(messages=6, unfinished=2, outbox=4)
