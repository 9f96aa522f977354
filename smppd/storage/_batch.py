"""Group commit: one writer thread runs everything queued as one batch.

The reactor thread :meth:`BatchWriter.submit`\\ s operations and gets a
Deferred; the writer thread takes *all* queued operations (up to
``batch_max`` rows' worth), hands them to its backend, which commits them at
once (one transaction, one fsync), and the outcomes go back to the reactor
thread in one ``callFromThread`` per batch, where the Deferreds fire. No
delay is ever added to gather a batch: while one batch commits, the next
one forms in the queue, so batches grow with the load by themselves.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger
from twisted.python.failure import Failure

from smppd.storage._retention import Retained
from smppd.storage.errors import StoreError

OpT = TypeVar("OpT")
OpT_contra = TypeVar("OpT_contra", contravariant=True)
T = TypeVar("T")

log = Logger()


class Failed:
    """The outcome of an operation that failed (an ordinary value is a result)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Backend(Protocol[OpT_contra]):
    """What the writer thread drives. Every method runs on the writer thread."""

    def open(self) -> object:
        """Open the storage; :meth:`BatchWriter.when_opened` fires with the result."""

    def run_batch(self, ops: Sequence[OpT_contra]) -> tuple[list[object], object]:
        """Run ``ops`` as one commit; return one outcome per op (a value or
        :class:`Failed`) and a report for the ``after_batch`` callback. Raising
        fails every op of the batch."""

    def close(self) -> None:
        """Flush and release everything."""


_STOP = object()


class OneShot:
    """A result many callers may wait for, before or after it arrives."""

    def __init__(self) -> None:
        self._waiters: list[Deferred[Any]] | None = []
        self._result: object = None

    def wait(self) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        if self._waiters is None:
            self._fire_one(d)
        else:
            self._waiters.append(d)
        return d

    def fire(self, result: object) -> None:
        """``result`` is a value or a :class:`Failure`."""
        waiters = self._waiters or []
        self._waiters = None
        self._result = result
        for d in waiters:
            self._fire_one(d)

    def _fire_one(self, d: Deferred[Any]) -> None:
        if isinstance(self._result, Failure):
            d.errback(self._result)
        else:
            d.callback(self._result)


def defer_to_thread(reactor: Any, name: str, f: Callable[..., T], *args: object) -> Deferred[T]:
    """Run ``f(*args)`` in a new thread of its own; fire on the reactor thread."""
    d: Deferred[T] = Deferred()

    def run() -> None:
        try:
            result = f(*args)
        except BaseException:
            reactor.callFromThread(d.errback, Failure())
        else:
            reactor.callFromThread(d.callback, result)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()

    def joined(result: object) -> object:
        thread.join()  # it only has to return from run(): immediate
        return result

    return d.addBoth(joined)


class BatchWriter(Generic[OpT]):
    """Owns the writer thread of one store.

    ``weight(op)`` is how many rows an op carries; a batch stops growing once
    it holds ``batch_max`` rows (a single larger op still runs whole).
    """

    def __init__(
        self,
        name: str,
        reactor: Any,
        backend: Backend[OpT],
        *,
        batch_max: int,
        weight: Callable[[OpT], int],
        after_batch: Callable[[object], None] | None = None,
        on_opened: Callable[[object], None] | None = None,
    ) -> None:
        if batch_max < 1:
            raise ValueError("batch_max must be at least 1")
        self._name = name
        self._reactor = reactor
        self._backend = backend
        self._batch_max = batch_max
        self._weight = weight
        self._after_batch = after_batch
        self._on_opened = on_opened
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[tuple[Any, Deferred[Any] | None]] = deque()
        self._paused = False
        self._thread: threading.Thread | None = None
        self._open_error: BaseException | None = None
        self._stopping = False
        self._opened = OneShot()
        self._closed: OneShot | None = None
        #: batches run (one transaction / one fsync each) and operations run
        self.batches = 0
        self.operations = 0

    # -- reactor thread ---------------------------------------------------

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def when_opened(self) -> Deferred[Any]:
        """Fire with the backend's open() result, or fail with a StoreError."""
        self.start()
        return self._opened.wait()

    def submit(self, op: OpT) -> Deferred[Any]:
        """Queue ``op`` for the next batch; fires with its outcome."""
        if self._stopping:
            return fail(StoreError("the store is closed"))
        if self._thread is None:
            self.start()
        d: Deferred[Any] = Deferred()
        with self._cond:
            self._queue.append((op, d))
            if len(self._queue) == 1:
                self._cond.notify()
        return d

    def pause(self) -> None:
        """Hold the writer before its next batch (tests, maintenance)."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify()

    def close(self) -> Deferred[None]:
        """Run everything queued, close the backend, end the thread."""
        if self._closed is None:
            self._closed = OneShot()
            self._stopping = True
            if self._thread is None:
                self._closed.fire(None)
            else:
                with self._cond:
                    self._paused = False
                    self._queue.append((_STOP, None))
                    self._cond.notify()
        return self._closed.wait()

    def _open_done(self, result: object) -> None:
        if self._on_opened is not None:
            try:
                self._on_opened(result)
            except Exception:
                log.failure("open hook of {name} failed", name=self._name)
        self._opened.fire(result)

    def _deliver(
        self,
        entries: list[tuple[Any, Deferred[Any] | None]],
        outcomes: list[object],
        report: object,
    ) -> None:
        for (_, d), outcome in zip(entries, outcomes, strict=True):
            if d is None:
                continue
            if type(outcome) is Failed:
                d.errback(Failure(outcome.error))
            else:
                d.callback(outcome)
        if self._after_batch is not None:
            try:
                self._after_batch(report)
            except Exception:
                log.failure("after-batch hook of {name} failed", name=self._name)

    def _finished(self, error: BaseException | None) -> None:
        if self._thread is not None:
            # the thread's last act was to schedule this call: joining is immediate
            self._thread.join()
        assert self._closed is not None
        self._closed.fire(None if error is None else Failure(error))

    # -- writer thread ----------------------------------------------------

    def _take(self) -> tuple[list[tuple[Any, Deferred[Any] | None]], bool]:
        with self._cond:
            while not self._queue or self._paused:
                self._cond.wait()
            queue = self._queue
            weight = self._weight
            taken: list[tuple[Any, Deferred[Any] | None]] = []
            rows = 0
            while queue and rows < self._batch_max:
                entry = queue[0]
                if entry[0] is _STOP:
                    if taken:
                        break  # run what came before the stop first
                    queue.popleft()
                    return taken, True
                queue.popleft()
                taken.append(entry)
                rows += weight(entry[0])
            return taken, False

    def _run(self) -> None:
        reactor = self._reactor
        try:
            opened: object = self._backend.open()
        except BaseException as e:
            self._open_error = e if isinstance(e, StoreError) else StoreError(str(e))
            opened = Failure(self._open_error)
        reactor.callFromThread(self._open_done, opened)
        while True:
            entries, stop = self._take()
            if stop:
                break
            ops = [op for op, _ in entries]
            report: object = None
            if self._open_error is not None:
                outcomes: list[object] = [Failed(self._open_error)] * len(ops)
            else:
                try:
                    outcomes, report = self._backend.run_batch(ops)
                except BaseException as e:
                    error = e if isinstance(e, StoreError) else StoreError(str(e))
                    outcomes = [Failed(error)] * len(ops)
                self.batches += 1
            self.operations += len(ops)
            reactor.callFromThread(self._deliver, entries, outcomes, report)
        close_error: BaseException | None = None
        if self._open_error is None:
            try:
                self._backend.close()
            except BaseException as e:
                close_error = e if isinstance(e, StoreError) else StoreError(str(e))
        reactor.callFromThread(self._finished, close_error)


def resolve_reactor(reactor: Any) -> Any:
    """``reactor``, or the global one when None (imported only then)."""
    if reactor is None:
        from twisted.internet import reactor as global_reactor

        return global_reactor
    return reactor


class WriterStore(Retained, Generic[OpT]):
    """What the two durable stores share: a :class:`BatchWriter` in
    ``self._writer`` and a :class:`~smppd.storage._retention.Pruner` in
    ``self._pruner``, started once the store is open, stopped at close."""

    _writer: BatchWriter[OpT]

    @property
    def commits(self) -> int:
        """Batches committed so far (one transaction / one write and fsync each)."""
        return self._writer.batches

    @property
    def operations(self) -> int:
        """Calls run so far."""
        return self._writer.operations

    @property
    def writer(self) -> BatchWriter[OpT]:
        """The writer thread (``pause()``/``resume()`` for tests)."""
        return self._writer

    def open(self) -> Deferred[None]:
        """Start the writer and open the storage (in the writer thread);
        fails with StoreError. Calling it is optional: the first operation
        opens the store too."""
        return self._writer.when_opened().addCallback(lambda _: None)

    def _opened(self, result: object) -> None:
        """The open finished (the writer's ``on_opened`` hook): log it, and
        start pruning once it succeeded."""
        if isinstance(result, Failure):
            self._open_failed(result)
        else:
            self._open_succeeded(result)
            self._pruner.start()

    def _open_failed(self, failure: Failure) -> None:
        raise NotImplementedError

    def _open_succeeded(self, result: object) -> None:
        raise NotImplementedError
