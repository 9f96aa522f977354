"""The bind authenticator over a :class:`~smppd.auth.users.Users` set."""

from __future__ import annotations

import collections
import hashlib
import hmac
import os
from collections.abc import Callable
from typing import Any, Protocol, cast

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from smppd.auth.hashing import verify_password
from smppd.auth.penalty import host_key
from smppd.auth.users import Account, Users
from smppd.interfaces import IAuthenticator
from smppd.pdu.constants import CommandStatus

__all__ = ["AuthenticationError", "UsersAuthenticator"]

log = Logger()

_S = CommandStatus


class AuthenticationError(Exception):
    """A refused bind: ``status`` is the command_status to answer with,
    ``reason`` a short text for logs (never contains the password)."""

    def __init__(self, status: int, reason: str, *, log_system_id: bool = True) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason
        # False: the bind's system_id must not be logged (it may be a mistyped password)
        self.log_system_id = log_system_id

    def __str__(self) -> str:
        try:
            name = CommandStatus(self.status).name
        except ValueError:
            name = f"0x{self.status:08X}"
        return f"{name}: {self.reason}"


class ThreadPoolLike(Protocol):
    """What :func:`deferToThreadPool` needs of a thread pool."""

    def callInThreadWithCallback(
        self,
        onResult: Callable[[bool, Any], object],
        func: Callable[..., Any],
        *args: Any,
        **kw: Any,
    ) -> None: ...


_CacheKey = tuple[str, bytes]  # (system_id, HMAC of the password)
_FlightKey = tuple[str, bytes]  # (password hash, HMAC of the password)


@implementer(IAuthenticator)
class UsersAuthenticator:
    """Authenticates binds against :class:`Users`.

    Every refusal is answered with the same status, ESME_RBINDFAIL, after
    the same work (one password hash, against a dummy hash of the usual cost
    where there is no account to verify), so neither the status nor the time
    tells an unknown system_id from a wrong password, nor a wrong password
    from a right one used outside the account's networks. The real reason
    goes to the log (``reason``). The checks, in order:

    1. peer host not in ``allowed_networks`` (a dummy hash still runs);
    2. unknown system_id (a dummy hash runs);
    3. wrong password;
    4. bind type not allowed, account ``system_type`` set and different.

    Hashes are verified in ``threadpool`` (default: the reactor's), never on
    the reactor thread, at most ``max_verifications`` at a time in total and
    ``max_verifications_per_host`` per peer host: a bind over either cap is
    refused at once, without hashing. Successful verifications are cached
    (LRU of ``cache_size``, keyed by system_id and an HMAC of the password
    under a per-process random key, so the cache holds no password) and
    concurrent identical verifications share one hash: a reconnect storm of
    a valid ESME costs one hash, not one per bind. :meth:`reload` swaps the
    users and drops the cache. Counting binds (``max_binds``) is the
    server's job.
    """

    def __init__(
        self,
        users: Users,
        *,
        reactor: Any = None,
        threadpool: ThreadPoolLike | None = None,
        cache_size: int = 1024,
        max_verifications: int = 16,
        max_verifications_per_host: int = 4,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        if cache_size < 0:
            raise ValueError("cache_size must be >= 0")
        if max_verifications < 1 or max_verifications_per_host < 1:
            raise ValueError("verification caps must be >= 1")
        self._reactor = reactor
        self._threadpool = threadpool
        self._users = users
        self._generation = 0
        self._cache_size = cache_size
        self._cache: collections.OrderedDict[_CacheKey, str] = collections.OrderedDict()
        self._inflight: dict[_FlightKey, list[Deferred[bool]]] = {}
        self._mac_key = os.urandom(32)
        self.max_verifications = max_verifications
        self.max_verifications_per_host = max_verifications_per_host
        self._hashing = 0  # hashes running
        self._hashing_by_host: dict[str, int] = {}  # only hosts with a hash running: bounded by the cap
        self.hashes = 0  # hashes started, ever (for metrics and tests)

    @property
    def users(self) -> Users:
        """The users currently in force."""
        return self._users

    def reload(self, users: Users) -> None:
        """Take ``users`` from now on (SIGHUP) and forget cached verifications.

        Binds being verified when this is called are checked again against
        the new users before they are answered.
        """
        self._users = users
        self._generation += 1
        self._cache.clear()
        log.info(
            "users reloaded from {source}: {count} accounts", source=users.source, count=len(users)
        )

    def authenticate(
        self, system_id: str, password: str, system_type: str, bind_type: str, peer_host: str
    ) -> Deferred[Account]:
        result: Deferred[Account] = maybeDeferred(
            self._authenticate, system_id, password, system_type, bind_type, peer_host
        )

        def refused(failure: Failure) -> Failure:
            if not failure.check(AuthenticationError):
                log.failure("password verification failed", failure)
                failure = Failure(AuthenticationError(_S.ESME_RBINDFAIL, "internal error"))
            return failure

        result.addErrback(refused)
        return result

    def _authenticate(
        self, system_id: str, password: str, system_type: str, bind_type: str, peer_host: str
    ) -> Deferred[Account]:
        users = self._users
        generation = self._generation
        account = users.get(system_id)
        allowed = account is not None and account.network_allowed(peer_host)
        encoded = account.password_hash if account is not None and allowed else users.dummy_hash
        mac = hmac.new(
            self._mac_key, password.encode("utf-8", "surrogatepass"), hashlib.sha256
        ).digest()

        d: Deferred[bool]
        if allowed and self._cached(system_id, mac, encoded):
            d = succeed(True)
        else:
            d = self._verify(encoded, mac, password, peer_host)

        def decide(ok: bool) -> Account | Deferred[Account]:
            if generation != self._generation:
                # Reloaded while the hash ran: judge against the users now in force.
                return self._authenticate(system_id, password, system_type, bind_type, peer_host)
            if account is None:
                # The system_id is not logged: it may be a password typed in the wrong field.
                raise AuthenticationError(
                    _S.ESME_RBINDFAIL, f"unknown system_id ({len(system_id)} characters)", log_system_id=False
                )
            if not allowed:
                raise AuthenticationError(_S.ESME_RBINDFAIL, "peer address not allowed")
            if not ok:
                raise AuthenticationError(_S.ESME_RBINDFAIL, "wrong password")
            self._remember(system_id, mac, encoded)
            if not account.may_bind_as(bind_type):
                raise AuthenticationError(_S.ESME_RBINDFAIL, f"bind type {bind_type} not allowed")
            if account.system_type is not None and system_type != account.system_type:
                raise AuthenticationError(_S.ESME_RBINDFAIL, "system_type not allowed")
            return account

        return d.addCallback(decide)

    def still_admits(self, account: Account, bind_type: str, peer_host: str) -> bool:
        """Whether a session bound as ``account`` would still be let in by
        the users now in force: the account exists with the same password
        hash and system_type, and its bind type and the peer's network are
        still allowed. A reload checks the bound sessions with it."""
        current = self._users.get(account.system_id)
        return (
            current is not None
            and (
                hmac.compare_digest(current.password_hash, account.password_hash)
                or (current.password_digest != b"" and hmac.compare_digest(current.password_digest, account.password_digest))
            )
            and current.system_type == account.system_type
            and current.network_allowed(peer_host)
            and current.may_bind_as(bind_type)
        )

    # -- cache -------------------------------------------------------------------

    def _cached(self, system_id: str, mac: bytes, encoded: str) -> bool:
        key = (system_id, mac)
        stored = self._cache.get(key)
        if stored is None or not hmac.compare_digest(stored, encoded):
            return False
        self._cache.move_to_end(key)
        return True

    def _remember(self, system_id: str, mac: bytes, encoded: str) -> None:
        if self._cache_size == 0:
            return
        key = (system_id, mac)
        self._cache[key] = encoded
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    # -- hashing in a thread -------------------------------------------------------

    def _verify(self, encoded: str, mac: bytes, password: str, host: str) -> Deferred[bool]:
        key = (encoded, mac)
        mine: Deferred[bool] = Deferred()
        waiters = self._inflight.get(key)
        if waiters is not None:
            waiters.append(mine)
            return mine
        host = host_key(host)
        here = self._hashing_by_host.get(host, 0)
        if self._hashing >= self.max_verifications or here >= self.max_verifications_per_host:
            raise AuthenticationError(
                _S.ESME_RBINDFAIL, "too many binds being verified (not verified)", log_system_id=False
            )
        self._hashing += 1
        self._hashing_by_host[host] = here + 1
        self.hashes += 1
        self._inflight[key] = [mine]
        pool = self._threadpool if self._threadpool is not None else self._reactor.getThreadPool()
        running: Deferred[bool] = deferToThreadPool(
            self._reactor, cast(ThreadPool, pool), verify_password, password, encoded
        )

        def done(result: bool | Failure) -> None:
            self._hashing -= 1
            left = self._hashing_by_host[host] - 1
            if left:
                self._hashing_by_host[host] = left
            else:
                del self._hashing_by_host[host]
            for waiter in self._inflight.pop(key):
                if isinstance(result, Failure):
                    waiter.errback(result)
                else:
                    waiter.callback(result)

        running.addBoth(done)
        return mine
