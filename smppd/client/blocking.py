"""A blocking facade over :class:`~smppd.client.client.SmppClient`.

For scripts and threaded programs that do not run a reactor themselves::

    from smppd.client import ClientConfig
    from smppd.client.blocking import BlockingClient

    config = ClientConfig(endpoints=("tcp:127.0.0.1:2775",), system_id="test", password="test")
    with BlockingClient(config) as client:          # start(): waits for a bind
        ids = client.send_message("Shop", "447700900123", "hello", receipt=True)
        print(client.outcome(ids, timeout=60).stat)  # DELIVRD

The reactor can run only once per process. The first facade that needs it
starts the global reactor in a daemon thread (``smppd-reactor``) and every
later facade reuses it; :meth:`BlockingClient.close` stops only its client
(unbinds), and :func:`stop_reactor` (also registered with ``atexit``) stops
the thread. When the application already runs the reactor in another thread,
the facade uses that one. Calling the facade from the reactor thread itself
would deadlock, so it raises RuntimeError instead.

Every method is safe to call from many threads at once: the work runs in the
reactor thread (``blockingCallFromThread``), each call waits for its own
result, bounded by its ``timeout`` (a :class:`BlockingTimeout`; a message
that timed out may still be sent). ``on_message`` handlers run in the
reactor's thread pool and may block; their return value (None or a
command_status) answers the deliver_sm.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.threads import blockingCallFromThread, deferToThreadPool
from twisted.logger import ILogObserver, globalLogPublisher
from twisted.python import threadable
from twisted.python.failure import Failure
from zope.interface import implementer

from smppd.client.client import ClientStopped, IncomingMessage, SmppClient
from smppd.client.config import ClientConfig
from smppd.client.receipts import MessageOutcome
from smppd.pdu import Pdu

__all__ = ["BlockingClient", "BlockingTimeout", "ensure_reactor", "stop_reactor"]

_lock = threading.Lock()
_thread: threading.Thread | None = None


class BlockingTimeout(TimeoutError):
    """A blocking call did not complete within its timeout."""


def _global_reactor() -> Any:
    from twisted.internet import reactor

    return reactor


def ensure_reactor(timeout: float = 10.0) -> Any:
    """The global reactor, running: started in a daemon thread when nothing
    runs it yet. RuntimeError when called from the reactor thread or when
    the reactor ran and stopped (it cannot run twice)."""
    global _thread
    reactor = _global_reactor()
    with _lock:
        if reactor.running:
            if threadable.isInIOThread():
                raise RuntimeError("the blocking client cannot be used from the reactor thread")
            return reactor
        if _thread is not None or getattr(reactor, "_startedBefore", False):
            raise RuntimeError("the reactor has stopped; it cannot run again in this process")
        started = threading.Event()
        reactor.callWhenRunning(started.set)
        _thread = threading.Thread(
            target=reactor.run, kwargs={"installSignalHandlers": False}, name="smppd-reactor", daemon=True
        )
        _thread.start()
        atexit.register(stop_reactor)
        if not started.wait(timeout):
            raise RuntimeError(f"the reactor did not start within {timeout:g}s")
    return reactor


def stop_reactor(timeout: float = 10.0) -> None:
    """Stop the reactor thread started by :func:`ensure_reactor` (if any)
    and wait for it; the reactor cannot be started again afterwards."""
    thread = _thread
    if thread is None or not thread.is_alive():
        return
    reactor = _global_reactor()
    if reactor.running:
        reactor.callFromThread(reactor.stop)
    thread.join(timeout)


def _within(reactor: Any, d: Deferred[Any], timeout: float, what: str) -> Deferred[Any]:
    """A Deferred with ``d``'s result, or BlockingTimeout after ``timeout``.
    ``d`` itself is not cancelled (its work may still complete)."""
    out: Deferred[Any] = Deferred()

    def expire() -> None:
        if not out.called:
            out.errback(BlockingTimeout(f"{what}: no answer within {timeout:.3g}s"))

    timer = reactor.callLater(timeout, expire)

    def relay(result: Any) -> None:
        if timer.active():
            timer.cancel()
        if out.called:
            return None  # too late; a failure is dropped here, on purpose
        if isinstance(result, Failure):
            out.errback(result)
        else:
            out.callback(result)
        return None

    d.addBoth(relay)
    return out


@implementer(ILogObserver)
class _BindErrors:
    """Remembers why binds to our endpoints failed (from the client's log
    events), to say more than "no bind" when start() times out."""

    def __init__(self, endpoints: tuple[str, ...]) -> None:
        self.endpoints = endpoints
        self.last: str | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("log_namespace") != "smppd.client.client":
            return
        endpoint, why = event.get("endpoint"), event.get("why")
        if why is not None and endpoint in self.endpoints:
            self.last = f"{endpoint}: {why}"


class BlockingClient:
    """An :class:`SmppClient` driven from ordinary threads.

    ``timeout`` is the default bound of every call (seconds).
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        on_message: Callable[[IncomingMessage], int | None] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.on_message = on_message
        self.client: SmppClient | None = None
        self._reactor: Any = None
        self._life = threading.Lock()

    # -- plumbing ----------------------------------------------------------------------

    def _call(self, f: Callable[..., Any], *args: Any, timeout: float | None, what: str) -> Any:
        reactor = self._reactor
        if reactor is None or self.client is None:
            raise RuntimeError("the client is not started: call start() first")
        if not reactor.running:
            raise RuntimeError("the reactor is not running")
        if threadable.isInIOThread():
            raise RuntimeError("the blocking client cannot be used from the reactor thread")
        bound = self.timeout if timeout is None else timeout

        def run() -> Deferred[Any]:
            return _within(reactor, f(*args), bound, what)

        return blockingCallFromThread(reactor, run)

    def _handle(self, message: IncomingMessage) -> Deferred[int | None]:
        handler = self.on_message
        assert handler is not None
        reactor = self._reactor
        return deferToThreadPool(reactor, reactor.getThreadPool(), handler, message)

    # -- life --------------------------------------------------------------------------

    def start(self, timeout: float | None = None) -> None:
        """Start the client and wait until at least one bind is up:
        BlockingTimeout after ``timeout``, ClientStopped when the client gave
        up (``reconnect.max_attempts``); both say why the last attempt failed."""
        with self._life:
            if self.client is not None:
                return
            reactor = self._reactor = ensure_reactor()
            errors = _BindErrors(self.config.endpoints)

            def create() -> Deferred[None]:
                self.client = SmppClient(
                    self.config, reactor, on_message=self._handle if self.on_message is not None else None
                )
                globalLogPublisher.addObserver(errors)
                self.client.startService()
                return self.client.when_bound()

            bound = self.timeout if timeout is None else timeout
            # Without a refused (or timed-out) bind, no connection was made at all.
            def why() -> str:
                return errors.last or f"could not connect to {', '.join(self.config.endpoints)}"

            try:
                blockingCallFromThread(reactor, lambda: _within(reactor, create(), bound, "bind"))
            # (why() is read before stopping: stopping aborts a bind in flight,
            # and "aborted locally" would hide the error that matters)
            except BlockingTimeout:
                last = why()
                self._stop_client(bound)
                raise BlockingTimeout(f"no bind within {bound:.3g}s (last error: {last})") from None
            except ClientStopped as e:  # reconnect.max_attempts reached
                last = why()
                self._stop_client(bound)
                raise ClientStopped(f"{e} (last error: {last})") from None
            except BaseException:
                self._stop_client(bound)
                raise
            finally:
                reactor.callFromThread(globalLogPublisher.removeObserver, errors)

    def close(self, timeout: float | None = None) -> None:
        """Unbind and stop the client (the reactor thread keeps running for
        other clients). Idempotent."""
        with self._life:
            self._stop_client(self.timeout if timeout is None else timeout)

    def _stop_client(self, timeout: float) -> None:
        client, reactor = self.client, self._reactor
        self.client = None
        if client is None or reactor is None or not reactor.running:
            return

        def stop() -> Deferred[Any]:
            if not client.running:
                return succeed(None)
            return _within(reactor, maybeDeferred(client.stopService), timeout, "unbind")

        blockingCallFromThread(reactor, stop)

    def __enter__(self) -> BlockingClient:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- sending -----------------------------------------------------------------------

    @property
    def bound_count(self) -> int:
        """Binds up right now (0 when not started)."""
        client, reactor = self.client, self._reactor
        if client is None or reactor is None or not reactor.running:
            return 0
        result: int = blockingCallFromThread(reactor, lambda: client.bound_count)
        return result

    def send_message(
        self,
        source: str,
        destination: str,
        content: str | bytes,
        *,
        receipt: bool = False,
        timeout: float | None = None,
        **options: Any,
    ) -> list[str]:
        """Send one message (split as needed); its message ids, one per
        segment. Raises :class:`~smppd.client.client.SendError` (with
        ``status``) when the SMSC refused it, BlockingTimeout, or ValueError
        for text that cannot be encoded."""

        def send() -> Deferred[list[str]]:
            assert self.client is not None
            return self.client.send_message(source, destination, content, receipt=receipt, **options)

        result: list[str] = self._call(send, timeout=timeout, what="send_message")
        return result

    def outcome(self, message_ids: list[str] | tuple[str, ...] | str, timeout: float | None = None) -> MessageOutcome:
        """Wait for the final state of a message sent with ``receipt=True``."""

        def wait() -> Deferred[MessageOutcome]:
            assert self.client is not None
            return self.client.outcome(message_ids)

        result: MessageOutcome = self._call(wait, timeout=timeout, what="outcome")
        return result

    def submit(self, pdu: Pdu, timeout: float | None = None) -> Pdu:
        """Send any request PDU; its response (SmppError for a non-zero status)."""

        def send() -> Deferred[Pdu]:
            assert self.client is not None
            return self.client.submit(pdu)

        result: Pdu = self._call(send, timeout=timeout, what="submit")
        return result
