"""Salted password hashes, standard library only.

Two self-describing formats (fields separated by ``$``, salt and digest in
standard base64 without padding):

- ``scrypt$<n>$<r>$<p>$<salt>$<digest>`` (the default);
- ``pbkdf2_sha256$<iterations>$<salt>$<digest>``.

The default costs were measured on the development machine (2 vCPU, CPython
3.11, OpenSSL): one scrypt verify with n=2**14, r=8, p=1 takes 43-55 ms and
16 MiB; one PBKDF2-SHA256 verify with 100 000 iterations 30-55 ms. Stronger
settings can be asked for; the parameters travel inside the hash, so old and
new hashes verify side by side.

These functions block (on purpose: they burn CPU). Never call them on the
reactor thread in a hot path: :class:`smppd.auth.UsersAuthenticator` runs them
in a thread pool.
"""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import hmac
import os
from collections.abc import Iterable

__all__ = [
    "DEFAULT_PBKDF2_ITERATIONS",
    "DEFAULT_SCRYPT_N",
    "DEFAULT_SCRYPT_P",
    "DEFAULT_SCRYPT_R",
    "SCHEMES",
    "dummy_hash_like",
    "hash_password",
    "hash_parameters",
    "most_common_parameters",
    "validate_hash",
    "verify_password",
]

SCHEMES = ("scrypt", "pbkdf2_sha256")
# "pbkdf2" is accepted as a short name for the scheme argument of hash_password.
_SCHEME_ALIASES = {"scrypt": "scrypt", "pbkdf2": "pbkdf2_sha256", "pbkdf2_sha256": "pbkdf2_sha256"}

DEFAULT_SCRYPT_N = 2**14
DEFAULT_SCRYPT_R = 8
DEFAULT_SCRYPT_P = 1
DEFAULT_PBKDF2_ITERATIONS = 100_000

_SALT_BYTES = 16
_DIGEST_BYTES = 32

# Bounds on what a hash string may ask for, so that a hostile or mistyped
# users file cannot make one verify take minutes or gigabytes.
_MAX_SCRYPT_MEMORY = 256 * 1024 * 1024  # 128 * n * r bytes
_MAX_SCRYPT_P = 16
_MAX_PBKDF2_ITERATIONS = 5_000_000
_MIN_SALT_BYTES = 8
_MAX_SALT_BYTES = 64
_MIN_DIGEST_BYTES = 16
_MAX_DIGEST_BYTES = 64


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _b64decode(text: str, what: str) -> bytes:
    if not text or not text.isascii():
        raise ValueError(f"{what} is not base64")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64") from None


def _positive_int(text: str, what: str) -> int:
    if not text.isdigit() or not text.isascii() or (len(text) > 1 and text[0] == "0"):
        raise ValueError(f"{what} must be a positive integer")
    value = int(text)
    if value < 1:
        raise ValueError(f"{what} must be a positive integer")
    return value


def _to_bytes(password: str | bytes) -> bytes:
    return (
        password.encode("utf-8", "surrogatepass") if isinstance(password, str) else bytes(password)
    )


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    # OpenSSL refuses unless maxmem exceeds the memory the parameters need.
    maxmem = 128 * r * (n + p + 2) + 1024 * 1024
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=dklen)


class _Parsed:
    __slots__ = ("digest", "params", "salt", "scheme")

    def __init__(self, scheme: str, params: tuple[int, ...], salt: bytes, digest: bytes) -> None:
        self.scheme = scheme
        self.params = params
        self.salt = salt
        self.digest = digest

    def compute(self, password: bytes) -> bytes:
        if self.scheme == "scrypt":
            n, r, p = self.params
            return _scrypt(password, self.salt, n, r, p, len(self.digest))
        (iterations,) = self.params
        return hashlib.pbkdf2_hmac("sha256", password, self.salt, iterations, len(self.digest))


def _check_salt_digest(salt: bytes, digest: bytes) -> None:
    if not _MIN_SALT_BYTES <= len(salt) <= _MAX_SALT_BYTES:
        raise ValueError(f"salt must be {_MIN_SALT_BYTES} to {_MAX_SALT_BYTES} bytes")
    if not _MIN_DIGEST_BYTES <= len(digest) <= _MAX_DIGEST_BYTES:
        raise ValueError(f"digest must be {_MIN_DIGEST_BYTES} to {_MAX_DIGEST_BYTES} bytes")


def _check_scrypt_params(n: int, r: int, p: int) -> None:
    if n < 2 or n & (n - 1):
        raise ValueError("scrypt n must be a power of 2 greater than 1")
    if 128 * n * r > _MAX_SCRYPT_MEMORY:
        raise ValueError("scrypt n * r asks for more than 256 MiB")
    if p > _MAX_SCRYPT_P:
        raise ValueError(f"scrypt p must be at most {_MAX_SCRYPT_P}")


def _check_pbkdf2_params(iterations: int) -> None:
    if iterations > _MAX_PBKDF2_ITERATIONS:
        raise ValueError(f"pbkdf2 iterations must be at most {_MAX_PBKDF2_ITERATIONS}")


def _parse(encoded: str) -> _Parsed:
    if not isinstance(encoded, str):
        raise ValueError("a password hash must be a string")
    parts = encoded.split("$")
    scheme = parts[0]
    if scheme == "scrypt":
        if len(parts) != 6:
            raise ValueError("scrypt hash must be scrypt$n$r$p$salt$digest")
        n = _positive_int(parts[1], "scrypt n")
        r = _positive_int(parts[2], "scrypt r")
        p = _positive_int(parts[3], "scrypt p")
        _check_scrypt_params(n, r, p)
        params: tuple[int, ...] = (n, r, p)
    elif scheme == "pbkdf2_sha256":
        if len(parts) != 4:
            raise ValueError("pbkdf2_sha256 hash must be pbkdf2_sha256$iterations$salt$digest")
        iterations = _positive_int(parts[1], "pbkdf2 iterations")
        _check_pbkdf2_params(iterations)
        params = (iterations,)
    else:
        shown = scheme if len(scheme) <= 20 and scheme.isprintable() else scheme[:20] + "..."
        raise ValueError(f"unknown password hash scheme {shown!r}")
    salt = _b64decode(parts[-2], "salt")
    digest = _b64decode(parts[-1], "digest")
    _check_salt_digest(salt, digest)
    return _Parsed(scheme, params, salt, digest)


def _format(scheme: str, params: Iterable[int], salt: bytes, digest: bytes) -> str:
    return "$".join([scheme, *map(str, params), _b64encode(salt), _b64encode(digest)])


def hash_password(
    password: str | bytes,
    scheme: str = "scrypt",
    *,
    n: int | None = None,
    r: int | None = None,
    p: int | None = None,
    iterations: int | None = None,
) -> str:
    """A new salted hash of ``password`` (UTF-8 when given as ``str``).

    ``scheme`` is ``"scrypt"`` (default) or ``"pbkdf2"`` / ``"pbkdf2_sha256"``.
    ``n``, ``r``, ``p`` (scrypt) and ``iterations`` (PBKDF2) override the
    default costs. Unknown scheme or out-of-range parameters: ValueError.
    Blocking: tens of milliseconds with the defaults.
    """
    canonical = _SCHEME_ALIASES.get(scheme)
    if canonical is None:
        raise ValueError(f"unknown password hash scheme {scheme!r}")
    secret = _to_bytes(password)
    salt = os.urandom(_SALT_BYTES)
    if canonical == "scrypt":
        if iterations is not None:
            raise ValueError("iterations applies to pbkdf2, not scrypt")
        sn = DEFAULT_SCRYPT_N if n is None else n
        sr = DEFAULT_SCRYPT_R if r is None else r
        sp = DEFAULT_SCRYPT_P if p is None else p
        if min(sn, sr, sp) < 1:
            raise ValueError("scrypt parameters must be positive")
        _check_scrypt_params(sn, sr, sp)
        digest = _scrypt(secret, salt, sn, sr, sp, _DIGEST_BYTES)
        return _format("scrypt", (sn, sr, sp), salt, digest)
    if n is not None or r is not None or p is not None:
        raise ValueError("n, r and p apply to scrypt, not pbkdf2")
    rounds = DEFAULT_PBKDF2_ITERATIONS if iterations is None else iterations
    if rounds < 1:
        raise ValueError("pbkdf2 iterations must be positive")
    _check_pbkdf2_params(rounds)
    digest = hashlib.pbkdf2_hmac("sha256", secret, salt, rounds, _DIGEST_BYTES)
    return _format("pbkdf2_sha256", (rounds,), salt, digest)


def verify_password(password: str | bytes, encoded: str) -> bool:
    """Whether ``password`` matches the hash ``encoded`` (constant-time compare).

    A malformed hash or an unknown scheme raises ValueError (a configuration
    error, not a wrong password). Blocking: as costly as the hash.
    """
    parsed = _parse(encoded)
    return hmac.compare_digest(parsed.compute(_to_bytes(password)), parsed.digest)


def validate_hash(encoded: str) -> None:
    """Raise ValueError (one-line reason) unless ``encoded`` is a usable hash. Cheap."""
    _parse(encoded)


def hash_parameters(encoded: str) -> tuple[str, tuple[int, ...]]:
    """The scheme and cost parameters of a hash, e.g. ``("scrypt", (16384, 8, 1))``."""
    parsed = _parse(encoded)
    return parsed.scheme, parsed.params


def dummy_hash_like(encoded: str | None = None) -> str:
    """A hash with the scheme and costs of ``encoded`` that matches no password.

    Verifying against it costs what verifying against ``encoded`` costs, which
    lets an authenticator spend the same time on an unknown system_id. Cheap
    to build: random salt and digest, no hashing. Without ``encoded``: the
    default scrypt costs.
    """
    if encoded is None:
        encoded = _format(
            "scrypt",
            (DEFAULT_SCRYPT_N, DEFAULT_SCRYPT_R, DEFAULT_SCRYPT_P),
            bytes(_SALT_BYTES),
            bytes(_DIGEST_BYTES),
        )
    parsed = _parse(encoded)
    return _format(
        parsed.scheme, parsed.params, os.urandom(len(parsed.salt)), os.urandom(len(parsed.digest))
    )


def most_common_parameters(hashes: Iterable[str]) -> str | None:
    """The hash (from ``hashes``) whose scheme and costs occur most often, or None."""
    counts: collections.Counter[tuple[str, tuple[int, ...]]] = collections.Counter()
    first: dict[tuple[str, tuple[int, ...]], str] = {}
    for encoded in hashes:
        key = hash_parameters(encoded)
        counts[key] += 1
        first.setdefault(key, encoded)
    if not counts:
        return None
    return first[counts.most_common(1)[0][0]]
