"""UsersAuthenticator: order of checks, statuses, threads, cache, reload."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import pytest_twisted
from twisted.logger import formatEvent
from twisted.python import threadable
from zope.interface.verify import verifyObject

from smppd.auth import Account, AuthenticationError, Users, UsersAuthenticator
from smppd.auth import authenticator as authenticator_module
from smppd.auth.hashing import hash_password
from smppd.interfaces import IAuthenticator
from smppd.pdu.constants import CommandStatus as S

from .conftest import FakeReactor, FakeThreadPool, result_of

pytestmark = pytest.mark.usefixtures("no_unhandled_deferred_errors")


def cheap(password: str) -> str:
    return hash_password(password, "pbkdf2", iterations=10)


def make_users(esme_password: str = "secret") -> Users:
    return Users(
        [
            Account(
                system_id="esme",
                password_hash=cheap(esme_password),
                bind_types={"transmitter", "transceiver"},
                allowed_networks=["127.0.0.0/8", "::1"],
                system_type="VMA",
            ),
            Account(system_id="open", password_hash=cheap("open")),
        ],
        source="test",
    )


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, bool]]:
    """Wrap verify_password: record (hash, thread ident, in the reactor thread?)."""
    calls: list[tuple[str, int, bool]] = []
    real = authenticator_module.verify_password

    def wrapped(password: str, encoded: str) -> bool:
        calls.append((encoded, threading.get_ident(), threadable.isInIOThread()))
        return real(password, encoded)

    monkeypatch.setattr(authenticator_module, "verify_password", wrapped)
    return calls


@pytest.fixture
def auth(fake_reactor: FakeReactor, pool: FakeThreadPool) -> UsersAuthenticator:
    return UsersAuthenticator(make_users(), reactor=fake_reactor, threadpool=pool)


def run(pool: FakeThreadPool, d: Any) -> Any:
    pool.run()
    return result_of(d)


def refused(pool: FakeThreadPool, d: Any) -> AuthenticationError:
    pool.run()
    with pytest.raises(AuthenticationError) as info:
        result_of(d)
    return info.value


def test_verify_object(auth: UsersAuthenticator) -> None:
    assert verifyObject(IAuthenticator, auth)


def test_success_waits_for_the_pool(auth: UsersAuthenticator, pool: FakeThreadPool) -> None:
    d = auth.authenticate("esme", "secret", "VMA", "transmitter", "127.0.0.1")
    assert not d.called  # nothing hashed on the calling thread
    assert pool.calls == 1
    account = run(pool, d)
    assert isinstance(account, Account) and account.system_id == "esme"


@pytest.mark.parametrize(
    ("args", "status", "reason"),
    [
        # Each case also breaks every later check, to show which one wins; every
        # refusal has the same status, only the logged reason differs.
        (("nobody", "x", "bad", "receiver", "192.0.2.1"), S.ESME_RBINDFAIL, "unknown system_id"),
        (("ESME", "secret", "VMA", "transmitter", "127.0.0.1"), S.ESME_RBINDFAIL, "unknown"),
        # The network comes before the password: outside the list, right and wrong look alike.
        (("esme", "wrong", "bad", "receiver", "192.0.2.1"), S.ESME_RBINDFAIL, "address"),
        (("esme", "secret", "bad", "receiver", "192.0.2.1"), S.ESME_RBINDFAIL, "address"),
        (("esme", "secret", "bad", "receiver", "::2"), S.ESME_RBINDFAIL, "address"),
        (("esme", "", "VMA", "transmitter", "127.0.0.1"), S.ESME_RBINDFAIL, "wrong password"),
        (("esme", "wrong", "bad", "receiver", "127.0.0.1"), S.ESME_RBINDFAIL, "wrong password"),
        (("esme", "secret", "bad", "receiver", "127.0.0.1"), S.ESME_RBINDFAIL, "bind type"),
        (("esme", "secret", "bad", "transceiver", "::1"), S.ESME_RBINDFAIL, "system_type"),
        (("esme", "secret", "", "transmitter", "127.9.9.9"), S.ESME_RBINDFAIL, "system_type"),
    ],
)
def test_failures_in_order(
    auth: UsersAuthenticator,
    pool: FakeThreadPool,
    verified: list[tuple[str, int, bool]],
    args: tuple[str, str, str, str, str],
    status: int,
    reason: str,
) -> None:
    error = refused(pool, auth.authenticate(*args))
    assert error.status == status
    assert reason in error.reason
    assert S(status).name in str(error)
    # Every path, including an unknown system_id, spends exactly one verify.
    assert len(verified) == 1


def test_unknown_id_spends_a_dummy_verify(
    auth: UsersAuthenticator, pool: FakeThreadPool, verified: list[tuple[str, int, bool]]
) -> None:
    d = auth.authenticate("nobody", "secret", "", "transmitter", "127.0.0.1")
    assert not d.called and pool.calls == 1
    assert refused(pool, d).status == S.ESME_RBINDFAIL
    assert [encoded for encoded, _, _ in verified] == [auth.users.dummy_hash]


def test_outside_the_networks_spends_a_dummy_verify(
    auth: UsersAuthenticator, pool: FakeThreadPool, verified: list[tuple[str, int, bool]]
) -> None:
    """From outside the allow-list the account's own hash is never tried
    (right and wrong password cannot be told apart), yet the same work runs."""
    for password in ("secret", "wrong"):
        d = auth.authenticate("esme", password, "VMA", "transmitter", "192.0.2.1")
        error = refused(pool, d)
        assert error.status == S.ESME_RBINDFAIL and "address" in error.reason
    assert [encoded for encoded, _, _ in verified] == [auth.users.dummy_hash] * 2


def test_verification_caps_refuse_without_hashing(
    fake_reactor: FakeReactor, pool: FakeThreadPool, verified: list[tuple[str, int, bool]]
) -> None:
    auth = UsersAuthenticator(
        make_users(), reactor=fake_reactor, threadpool=pool, max_verifications=3, max_verifications_per_host=2
    )
    host_a = [auth.authenticate("esme", f"guess{i}", "VMA", "transmitter", "127.0.0.1") for i in range(3)]
    assert pool.calls == 2 and auth.hashes == 2  # the third from that host is over its cap
    with pytest.raises(AuthenticationError) as info:
        result_of(host_a[2])
    assert info.value.status == S.ESME_RBINDFAIL and "not verified" in info.value.reason
    host_b = [auth.authenticate("esme", f"x{i}", "VMA", "transmitter", "127.0.0.2") for i in range(2)]
    assert pool.calls == 3  # the total cap: one more, then refused
    with pytest.raises(AuthenticationError):
        result_of(host_b[1])
    for d in (*host_a[:2], host_b[0]):
        refused(pool, d)
    # Answered: the counters are back to zero and the tables empty.
    assert auth._hashing == 0 and auth._hashing_by_host == {}
    assert run(pool, auth.authenticate("esme", "secret", "VMA", "transmitter", "127.0.0.1"))


def test_successes(auth: UsersAuthenticator, pool: FakeThreadPool) -> None:
    assert (
        run(pool, auth.authenticate("esme", "secret", "VMA", "transceiver", "::1")).system_id
        == "esme"
    )
    assert run(pool, auth.authenticate("esme", "secret", "VMA", "transmitter", "::ffff:127.0.0.1"))
    # No system_type on the account: any is accepted; no network list: any peer.
    for system_type in ("", "whatever"):
        for bind_type in ("transmitter", "receiver", "transceiver"):
            d = auth.authenticate("open", "open", system_type, bind_type, "198.51.100.7")
            assert run(pool, d).system_id == "open"


def test_cache_hit_avoids_a_second_verify(
    auth: UsersAuthenticator, pool: FakeThreadPool, verified: list[tuple[str, int, bool]]
) -> None:
    first = auth.authenticate("esme", "secret", "VMA", "transmitter", "127.0.0.1")
    assert run(pool, first).system_id == "esme"
    assert len(verified) == 1
    # A reconnect: answered at once, no hash.
    again = auth.authenticate("esme", "secret", "VMA", "transceiver", "127.0.0.2")
    assert result_of(again).system_id == "esme"
    assert len(verified) == 1 and pool.calls == 1
    # The later checks still run on a cache hit.
    with pytest.raises(AuthenticationError) as info:
        result_of(auth.authenticate("esme", "secret", "VMA", "receiver", "127.0.0.1"))
    assert info.value.status == S.ESME_RBINDFAIL
    assert len(verified) == 1
    # From outside the networks the cache is not consulted: a dummy hash runs,
    # as for any other refusal (the answer's time does not say "cached").
    assert refused(pool, auth.authenticate("esme", "secret", "VMA", "transmitter", "192.0.2.1")).status == S.ESME_RBINDFAIL
    assert len(verified) == 2
    # Another password is not the cached one.
    assert (
        refused(pool, auth.authenticate("esme", "secreT", "VMA", "transmitter", "127.0.0.1")).status
        == S.ESME_RBINDFAIL
    )
    assert len(verified) == 3


def test_failures_are_not_cached(
    auth: UsersAuthenticator, pool: FakeThreadPool, verified: list[tuple[str, int, bool]]
) -> None:
    for expected in (1, 2, 3):
        refused(pool, auth.authenticate("esme", "wrong", "VMA", "transmitter", "127.0.0.1"))
        assert len(verified) == expected
    for expected in (4, 5):
        refused(pool, auth.authenticate("nobody", "x", "", "transmitter", "127.0.0.1"))
        assert len(verified) == expected


def test_concurrent_binds_share_one_verify(
    auth: UsersAuthenticator, pool: FakeThreadPool, verified: list[tuple[str, int, bool]]
) -> None:
    storm = [
        auth.authenticate("esme", "secret", "VMA", "transmitter", "127.0.0.1") for _ in range(5)
    ]
    other = auth.authenticate("esme", "wrong", "VMA", "transmitter", "127.0.0.1")
    assert pool.calls == 2
    pool.run()
    assert len(verified) == 2
    assert {result_of(d).system_id for d in storm} == {"esme"}
    with pytest.raises(AuthenticationError):
        result_of(other)


def test_cache_is_bounded(
    fake_reactor: FakeReactor, pool: FakeThreadPool, verified: list[tuple[str, int, bool]]
) -> None:
    users = Users([Account(system_id=s, password_hash=cheap(s)) for s in "abc"])
    auth = UsersAuthenticator(users, reactor=fake_reactor, threadpool=pool, cache_size=2)
    for s in "abc":
        run(pool, auth.authenticate(s, s, "", "transmitter", "127.0.0.1"))
    assert len(verified) == 3
    result_of(auth.authenticate("c", "c", "", "transmitter", "127.0.0.1"))  # cached
    assert len(verified) == 3
    run(pool, auth.authenticate("a", "a", "", "transmitter", "127.0.0.1"))  # evicted
    assert len(verified) == 4

    no_cache = UsersAuthenticator(users, reactor=fake_reactor, threadpool=pool, cache_size=0)
    for expected in (5, 6):
        run(pool, no_cache.authenticate("a", "a", "", "transmitter", "127.0.0.1"))
        assert len(verified) == expected
    with pytest.raises(ValueError):
        UsersAuthenticator(users, reactor=fake_reactor, threadpool=pool, cache_size=-1)


def test_reload_drops_the_cache_and_takes_new_users(
    auth: UsersAuthenticator, pool: FakeThreadPool, verified: list[tuple[str, int, bool]]
) -> None:
    run(pool, auth.authenticate("esme", "secret", "VMA", "transmitter", "127.0.0.1"))
    auth.reload(make_users())
    d = auth.authenticate("esme", "secret", "VMA", "transmitter", "127.0.0.1")
    assert not d.called  # the cache was dropped: verify again
    run(pool, d)
    assert len(verified) == 2

    new = make_users(esme_password="changed")
    auth.reload(new)
    assert auth.users is new
    old = auth.authenticate("esme", "secret", "VMA", "transmitter", "127.0.0.1")
    assert refused(pool, old).status == S.ESME_RBINDFAIL
    assert run(pool, auth.authenticate("esme", "changed", "VMA", "transmitter", "127.0.0.1"))

    auth.reload(Users([Account(system_id="open", password_hash=cheap("open"))]))
    gone = auth.authenticate("esme", "changed", "VMA", "transmitter", "127.0.0.1")
    assert refused(pool, gone).status == S.ESME_RBINDFAIL


def test_reload_while_verifying_judges_by_the_new_users(
    auth: UsersAuthenticator, pool: FakeThreadPool
) -> None:
    d = auth.authenticate("esme", "secret", "VMA", "transmitter", "127.0.0.1")
    auth.reload(make_users(esme_password="changed"))
    # The old verify succeeds, then the bind is verified again against the new users.
    assert refused(pool, d).status == S.ESME_RBINDFAIL
    assert pool.calls == 2
    # ... and the stale success did not land in the cache.
    again = auth.authenticate("esme", "secret", "VMA", "transmitter", "127.0.0.1")
    assert not again.called
    assert refused(pool, again).status == S.ESME_RBINDFAIL


def test_internal_error_fails_closed(
    auth: UsersAuthenticator,
    pool: FakeThreadPool,
    monkeypatch: pytest.MonkeyPatch,
    log_events: list[dict[str, Any]],
) -> None:
    def broken(password: str, encoded: str) -> bool:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(authenticator_module, "verify_password", broken)
    error = refused(pool, auth.authenticate("esme", "secret", "VMA", "transmitter", "127.0.0.1"))
    assert error.status == S.ESME_RBINDFAIL and error.reason == "internal error"
    failures = [e for e in log_events if "log_failure" in e]
    assert len(failures) == 1
    assert failures[0]["log_failure"].check(RuntimeError)


def test_logs_never_contain_passwords(
    auth: UsersAuthenticator, pool: FakeThreadPool, log_events: list[dict[str, Any]]
) -> None:
    attempts = [
        ("esme", "Pw0rd!xy", "VMA", "transmitter", "127.0.0.1"),
        ("nobody", "Pw0rd!xy", "VMA", "transmitter", "127.0.0.1"),
        ("esme", "secret", "VMA", "receiver", "127.0.0.1"),
    ]
    for args in attempts:
        d = auth.authenticate(*args)
        pool.run()
        d.addErrback(lambda f: None)
    auth.reload(make_users())
    assert log_events
    for event in log_events:
        text = (formatEvent(event) or "") + repr(event)
        assert "Pw0rd!xy" not in text and "secret" not in text


# -- with the real reactor and its thread pool ----------------------------------------


@pytest_twisted.inlineCallbacks
def test_verification_runs_off_the_reactor_thread(
    verified: list[tuple[str, int, bool]],
) -> Any:
    from twisted.internet import reactor

    auth = UsersAuthenticator(make_users(), reactor=reactor)
    reactor_thread = threading.get_ident()
    assert threadable.isInIOThread()  # the test body runs on the reactor thread
    account = yield auth.authenticate("esme", "secret", "VMA", "transmitter", "127.0.0.1")
    assert account.system_id == "esme"
    with pytest.raises(AuthenticationError) as info:
        yield auth.authenticate("ghost", "secret", "VMA", "transmitter", "127.0.0.1")
    assert info.value.status == S.ESME_RBINDFAIL
    assert len(verified) == 2
    for _encoded, ident, in_io_thread in verified:
        assert ident != reactor_thread
        assert not in_io_thread


@pytest_twisted.inlineCallbacks
def test_default_reactor_and_real_scrypt() -> Any:
    users = Users([Account(system_id="s", password_hash=hash_password("pw"))])
    auth = UsersAuthenticator(users)
    account = yield auth.authenticate("s", "pw", "", "transceiver", "::1")
    assert account.system_id == "s"
    with pytest.raises(AuthenticationError) as info:
        yield auth.authenticate("s", "px", "", "transceiver", "::1")
    assert info.value.status == S.ESME_RBINDFAIL


def test_odd_input_fails_as_a_deferred(auth: UsersAuthenticator, pool: FakeThreadPool) -> None:
    # A lone surrogate cannot come from the Latin-1 codec, but must not raise here either.
    d = auth.authenticate("esme", "\udcff", "VMA", "transmitter", "127.0.0.1")
    assert refused(pool, d).status == S.ESME_RBINDFAIL
    d = auth.authenticate("esme", "secret", "VMA", "transmitter", "fe80::1%eth0")
    assert refused(pool, d).status == S.ESME_RBINDFAIL
