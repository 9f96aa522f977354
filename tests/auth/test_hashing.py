"""Password hashes: both schemes, tampering, malformed strings, cost bounds."""

from __future__ import annotations

import base64

import pytest

from smppd.auth.hashing import (
    dummy_hash_like,
    hash_parameters,
    hash_password,
    most_common_parameters,
    validate_hash,
    verify_password,
)

CHEAP_SCRYPT = {"n": 2**4, "r": 1, "p": 1}


@pytest.fixture(scope="module")
def scrypt_hash() -> str:
    return hash_password("s3cret", "scrypt")


@pytest.fixture(scope="module")
def pbkdf2_hash() -> str:
    return hash_password("s3cret", "pbkdf2")


def test_scrypt_default_format(scrypt_hash: str) -> None:
    scheme, n, r, p, salt, digest = scrypt_hash.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt + "==")) == 16
    assert len(base64.b64decode(digest + "=")) == 32
    assert verify_password("s3cret", scrypt_hash)
    assert not verify_password("s3creT", scrypt_hash)
    assert not verify_password("", scrypt_hash)


def test_pbkdf2_default_format(pbkdf2_hash: str) -> None:
    scheme, iterations, _salt, _digest = pbkdf2_hash.split("$")
    assert (scheme, iterations) == ("pbkdf2_sha256", "100000")
    assert verify_password("s3cret", pbkdf2_hash)
    assert verify_password(b"s3cret", pbkdf2_hash)
    assert not verify_password("s3cret ", pbkdf2_hash)


def test_salted() -> None:
    a = hash_password("same", "pbkdf2", iterations=10)
    b = hash_password("same", "pbkdf2", iterations=10)
    assert a != b
    assert verify_password("same", a) and verify_password("same", b)


def test_unicode_password() -> None:
    encoded = hash_password("pässwörd€", "scrypt", **CHEAP_SCRYPT)
    assert verify_password("pässwörd€", encoded)
    assert not verify_password("passwörd€", encoded)


def test_custom_costs_travel_in_the_hash() -> None:
    encoded = hash_password("x", "scrypt", n=2**5, r=2, p=3)
    assert hash_parameters(encoded) == ("scrypt", (32, 2, 3))
    assert verify_password("x", encoded)
    encoded = hash_password("x", "pbkdf2_sha256", iterations=1234)
    assert hash_parameters(encoded) == ("pbkdf2_sha256", (1234,))
    assert verify_password("x", encoded)


def _flip(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64 + "=" * (-len(b64) % 4)))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize("scheme", ["scrypt", "pbkdf2"])
def test_tampering_fails(scheme: str) -> None:
    kwargs = CHEAP_SCRYPT if scheme == "scrypt" else {"iterations": 100}
    encoded = hash_password("pw", scheme, **kwargs)
    parts = encoded.split("$")
    assert verify_password("pw", encoded)
    # Flip the digest, the salt, or change a cost: none verifies.
    for index in (-1, -2):
        tampered = parts.copy()
        tampered[index] = _flip(parts[index])
        assert not verify_password("pw", "$".join(tampered))
    tampered = parts.copy()
    tampered[1] = str(int(parts[1]) * 2)
    assert not verify_password("pw", "$".join(tampered))


@pytest.mark.parametrize(
    ("encoded", "message"),
    [
        ("md5$abc$def", "unknown password hash scheme 'md5'"),
        ("", "unknown password hash scheme ''"),
        ("plain", "unknown password hash scheme 'plain'"),
        ("scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA", "scrypt hash must be"),
        ("scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43, "power of 2"),
        ("scrypt$0$8$1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43, "positive integer"),
        ("scrypt$1048576$8$1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43, "256 MiB"),
        ("scrypt$16384$8$99$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43, "at most 16"),
        ("pbkdf2_sha256$-5$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43, "positive integer"),
        ("pbkdf2_sha256$099$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43, "positive integer"),
        ("pbkdf2_sha256$99999999$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43, "at most"),
        ("pbkdf2_sha256$1000$not*base64$" + "A" * 43, "salt is not base64"),
        ("pbkdf2_sha256$1000$AAAA$" + "A" * 43, "salt must be"),
        ("pbkdf2_sha256$1000$AAAAAAAAAAAAAAAAAAAAAA$AAAA", "digest must be"),
        ("pbkdf2_sha256$1000$AAAAAAAAAAAAAAAAAAAAAA$", "digest is not base64"),
    ],
)
def test_malformed_hashes_raise_value_error(encoded: str, message: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        verify_password("pw", encoded)
    assert message in str(info.value)
    with pytest.raises(ValueError):
        validate_hash(encoded)


def test_unknown_scheme_to_hash_password() -> None:
    with pytest.raises(ValueError, match="unknown password hash scheme 'bcrypt'"):
        hash_password("pw", "bcrypt")
    with pytest.raises(ValueError):
        hash_password("pw", "scrypt", iterations=5)
    with pytest.raises(ValueError):
        hash_password("pw", "pbkdf2", n=16)
    with pytest.raises(ValueError):
        hash_password("pw", "scrypt", n=1000)


def test_dummy_hash_has_the_same_costs_and_matches_nothing() -> None:
    real = hash_password("pw", "pbkdf2", iterations=77)
    dummy = dummy_hash_like(real)
    assert hash_parameters(dummy) == hash_parameters(real)
    assert dummy != dummy_hash_like(real)
    assert not verify_password("pw", dummy)
    assert hash_parameters(dummy_hash_like()) == ("scrypt", (16384, 8, 1))


def test_most_common_parameters() -> None:
    a = hash_password("a", "pbkdf2", iterations=10)
    b = hash_password("b", "pbkdf2", iterations=20)
    c = hash_password("c", "pbkdf2", iterations=20)
    assert hash_parameters(most_common_parameters([a, b, c]) or "") == ("pbkdf2_sha256", (20,))
    assert most_common_parameters([]) is None
