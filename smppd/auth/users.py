"""Accounts: who may bind, from where, to do what, how fast.

A users file is JSON::

    {"users": [
        {"system_id": "shop",                 # 1..15 characters (SMPP: 16 with the NUL)
         "password_hash": "scrypt$16384$8$1$...",   # from `smppd hash-password`
         "permissions": ["submit_sm", "query_sm"],  # default: every operation
         "bind_types": ["transmitter", "transceiver"],  # default: all three
         "allowed_ips": ["192.0.2.10", "10.1.0.0/16", "2001:db8::/32"],  # default: any
         "max_binds": 2,                      # null/absent: no limit
         "throughput": 100,                   # messages per second; null/absent: no limit
         "window": 50,                        # outstanding requests; null/absent: server default
         "source_addr_patterns": ["Shop", "4479[0-9]{8}"],  # default: any
         "system_type": null,                 # if a string, the bind must send exactly it
         "receive_ranges": ["4477009", "^4478[0-9]{8}$"],  # default: none (see below)
         "receive_from": ["shop"]}            # default/null: any submitter
    ]}

``receive_ranges`` are the destinations routed to this account while it is
bound as a receiver or transceiver (:mod:`smppd.auth.ranges` patterns:
prefixes or anchored linear-time patterns, no full regular expressions),
``receive_from`` the submitting system_ids they are taken from. Without a
grant an account receives no submitted traffic, whatever its bind's
address_range says (which may only narrow the grant).

``source_addr_patterns`` are Python regular expressions matched against the
whole source_addr (``re.fullmatch``): ``"Shop"`` allows exactly ``Shop``,
anchors are allowed but not needed. ``allowed_ips`` entries are single
addresses or networks (CIDR), IPv4 or IPv6; a network must not have host bits
set. An IPv4 client seen on a dual-stack socket as ``::ffff:a.b.c.d`` matches
IPv4 entries.

Instead of ``password_hash`` an entry may give ``"password"`` in clear (tests
and demos): it is hashed when the file is loaded (cheap PBKDF2 setting) and
the account is listed in :attr:`Users.plaintext_users` so that the service can
warn. Validation is strict: every mistake is a :class:`UsersFileError` whose
message is one line naming the file and the key path.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, NoReturn, TypeAlias

import attrs

from smppd.auth.hashing import (
    dummy_hash_like,
    hash_password,
    most_common_parameters,
    validate_hash,
)
from smppd.auth.ranges import AddressPattern, PatternError, compile_pattern

__all__ = [
    "BIND_TYPES",
    "OPERATIONS",
    "PLAINTEXT_PBKDF2_ITERATIONS",
    "Account",
    "IPNetwork",
    "Users",
    "UsersFileError",
    "demo_users",
    "load_users",
    "parse_users",
]

OPERATIONS: frozenset[str] = frozenset(
    {"submit_sm", "submit_multi", "data_sm", "query_sm", "replace_sm", "cancel_sm"}
)
BIND_TYPES: frozenset[str] = frozenset({"transmitter", "receiver", "transceiver"})

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

# Passwords given in clear (users file "password", demo users) are hashed with
# this cheap setting: the secret already sits in clear in a file or in the
# source, so a costly in-memory hash would only slow start-up (about 3-5 ms each).
PLAINTEXT_PBKDF2_ITERATIONS = 10_000

MAX_SYSTEM_ID = 15  # C-Octet String of 16 with the NUL
MAX_SYSTEM_TYPE = 12  # C-Octet String of 13 with the NUL


def _str_set(values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str):
        raise TypeError("expected an iterable of names, not a string")
    return frozenset(values)


def _networks(values: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    if isinstance(values, str):
        raise TypeError("expected an iterable of networks, not a string")
    return tuple(ipaddress.ip_network(v) for v in values)


def _patterns(values: Iterable[str | re.Pattern[str]]) -> tuple[re.Pattern[str], ...]:
    if isinstance(values, str):
        raise TypeError("expected an iterable of patterns, not a string")
    return tuple(re.compile(v) for v in values)


def _ranges(values: Iterable[str | AddressPattern]) -> tuple[AddressPattern, ...]:
    if isinstance(values, str):
        raise TypeError("expected an iterable of patterns, not a string")
    return tuple(v if isinstance(v, AddressPattern) else compile_pattern(v) for v in values)


def _optional_names(values: Iterable[str] | None) -> frozenset[str] | None:
    return None if values is None else _str_set(values)


def _subset_of(allowed: frozenset[str]) -> Any:
    def check(_instance: Any, attribute: attrs.Attribute[Any], value: frozenset[str]) -> None:
        unknown = value - allowed
        if unknown:
            raise ValueError(f"{attribute.name}: unknown {sorted(unknown)}")

    return check


_DIGEST_KEY = os.urandom(32)


def password_digest(password: str) -> bytes:
    """A keyed digest of a clear-text password (the key is random per process)."""
    return hmac.new(_DIGEST_KEY, password.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


def _ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@attrs.frozen
class Account:
    """One ESME account. Built by :func:`parse_users` or directly (tests)."""

    system_id: str
    password_hash: str = attrs.field(repr=False)
    permissions: frozenset[str] = attrs.field(
        default=OPERATIONS, converter=_str_set, validator=_subset_of(OPERATIONS)
    )
    bind_types: frozenset[str] = attrs.field(
        default=BIND_TYPES, converter=_str_set, validator=_subset_of(BIND_TYPES)
    )
    allowed_networks: tuple[IPNetwork, ...] = attrs.field(default=(), converter=_networks)
    max_binds: int | None = None
    throughput: float | None = None
    window: int | None = None
    source_addr_patterns: tuple[re.Pattern[str], ...] = attrs.field(default=(), converter=_patterns)
    system_type: str | None = None
    # Routing grants: destinations this account receives (as deliver_sm, while
    # bound as receiver/transceiver) from the submitters in receive_from (None: any).
    receive_ranges: tuple[AddressPattern, ...] = attrs.field(default=(), converter=_ranges)
    receive_from: frozenset[str] | None = attrs.field(default=None, converter=_optional_names)
    # For a clear-text password: a keyed digest of it (process-random key), so a
    # reload can tell "same password, new salt" from "password changed".
    password_digest: bytes = attrs.field(default=b"", repr=False, eq=False)

    def may(self, operation: str) -> bool:
        """Whether this account may use ``operation`` (e.g. ``"submit_sm"``)."""
        return operation in self.permissions

    def may_bind_as(self, bind_type: str) -> bool:
        """Whether this account may bind as ``bind_type`` ("transmitter", ...)."""
        return bind_type in self.bind_types

    def source_allowed(self, addr: str) -> bool:
        """Whether ``addr`` fully matches one of the source patterns (any if none)."""
        if not self.source_addr_patterns:
            return True
        return any(p.fullmatch(addr) is not None for p in self.source_addr_patterns)

    def network_allowed(self, host: str) -> bool:
        """Whether a peer at ``host`` (an IP address string) may bind (any if no list).

        With a list, anything that is not an IP address (a UNIX socket path, a
        name) is refused: fail closed.
        """
        if not self.allowed_networks:
            return True
        addr = _ip_address(host)
        if addr is None:
            return False
        candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [addr]
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            candidates.append(addr.ipv4_mapped)
        return any(a in net for a in candidates for net in self.allowed_networks)


@attrs.frozen(init=False, eq=False, repr=False)
class Users:
    """An immutable set of accounts keyed by system_id.

    ``plaintext_users`` lists the system_ids whose password was given in clear
    (users file ``password`` key, demo users): the service should warn.
    ``dummy_hash`` has the scheme and costs most accounts use and matches no
    password: the authenticator verifies against it for unknown system_ids.
    """

    _by_id: Mapping[str, Account]
    plaintext_users: tuple[str, ...]
    source: str
    dummy_hash: str = attrs.field(repr=False)

    def __init__(
        self,
        accounts: Iterable[Account] = (),
        *,
        plaintext_users: Iterable[str] = (),
        source: str = "<memory>",
    ) -> None:
        by_id: dict[str, Account] = {}
        for account in accounts:
            if account.system_id in by_id:
                raise ValueError(f"duplicate system_id {account.system_id!r}")
            by_id[account.system_id] = account
        common = most_common_parameters(a.password_hash for a in by_id.values())
        self.__attrs_init__(
            MappingProxyType(by_id), tuple(plaintext_users), source, dummy_hash_like(common)
        )

    def get(self, system_id: str) -> Account | None:
        """The account for ``system_id`` (exact, case-sensitive), or None."""
        return self._by_id.get(system_id)

    def __contains__(self, system_id: object) -> bool:
        return system_id in self._by_id

    def __iter__(self) -> Iterator[Account]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def system_ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    def __repr__(self) -> str:
        return f"<Users from {self.source}: {', '.join(self._by_id) or 'no accounts'}>"


class UsersFileError(ValueError):
    """A users file is unreadable or invalid. ``str()`` is one line:
    ``<file>: <key path>: <what is wrong>``."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        super().__init__(f"{source}: {key}: {reason}" if key else f"{source}: {reason}")


# -- parsing ---------------------------------------------------------------------

_USER_KEYS = (
    "system_id",
    "password_hash",
    "password",
    "permissions",
    "bind_types",
    "allowed_ips",
    "max_binds",
    "throughput",
    "window",
    "source_addr_patterns",
    "system_type",
    "receive_ranges",
    "receive_from",
)
_TOP_KEYS = ("users",)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(value: Any) -> str:
    return _one_line(repr(value), 60)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, reason: str) -> NoReturn:
        raise UsersFileError(self.source, key, _one_line(reason))

    def check_keys(self, obj: Mapping[str, Any], known: tuple[str, ...], prefix: str) -> None:
        for key in obj:
            if key not in known:
                where = f"{prefix}.{key}" if prefix else str(key)
                self.fail(where, f"unknown key (expected one of {', '.join(known)})")

    def names(self, value: Any, key: str, allowed: frozenset[str], what: str) -> frozenset[str]:
        items = self.string_list(value, key)
        for i, item in enumerate(items):
            if item not in allowed:
                self.fail(
                    f"{key}[{i}]",
                    f"unknown {what} {_shown(item)} (expected one of {', '.join(sorted(allowed))})",
                )
        return frozenset(items)

    def string_list(self, value: Any, key: str) -> list[str]:
        if not isinstance(value, list):
            self.fail(key, "must be a list of strings")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(f"{key}[{i}]", "must be a string")
        return value

    def positive_int(self, value: Any, key: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail(key, "must be a positive integer or null")
        return value

    def positive_number(self, value: Any, key: str) -> float | None:
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value <= 0
        ):
            self.fail(key, "must be a positive number")
        return float(value)

    def c_string(self, value: Any, key: str, max_len: int, *, empty_ok: bool) -> str:
        if not isinstance(value, str):
            self.fail(key, "must be a string")
        if not value and not empty_ok:
            self.fail(key, "must not be empty")
        if len(value) > max_len:
            self.fail(key, f"must be at most {max_len} characters (got {len(value)})")
        if not value.isprintable() or any(ord(c) > 0xFF for c in value):
            self.fail(key, "must be printable Latin-1 characters")
        return value

    def networks(self, value: Any, key: str) -> tuple[IPNetwork, ...]:
        out: list[IPNetwork] = []
        for i, item in enumerate(self.string_list(value, key)):
            try:
                out.append(ipaddress.ip_network(item.strip(), strict=True))
            except ValueError as e:
                if "host bits set" in str(e):
                    loose = ipaddress.ip_network(item.strip(), strict=False)
                    self.fail(
                        f"{key}[{i}]", f"{_shown(item)} has host bits set (did you mean {loose}?)"
                    )
                self.fail(f"{key}[{i}]", f"{_shown(item)} is not an IP address or CIDR network")
        return tuple(out)

    def patterns(self, value: Any, key: str) -> tuple[re.Pattern[str], ...]:
        out: list[re.Pattern[str]] = []
        for i, item in enumerate(self.string_list(value, key)):
            try:
                out.append(re.compile(item))
            except re.error as e:
                self.fail(f"{key}[{i}]", f"bad regular expression {_shown(item)}: {e}")
        return tuple(out)

    def ranges(self, value: Any, key: str) -> tuple[AddressPattern, ...]:
        out: list[AddressPattern] = []
        for i, item in enumerate(self.string_list(value, key)):
            try:
                out.append(compile_pattern(item))
            except PatternError as e:
                self.fail(f"{key}[{i}]", f"bad destination pattern: {e}")
        return tuple(out)

    def account(self, entry: Any, prefix: str) -> tuple[Account, bool]:
        if not isinstance(entry, dict):
            self.fail(prefix, "must be an object")
        self.check_keys(entry, _USER_KEYS, prefix)
        if "system_id" not in entry:
            self.fail(f"{prefix}.system_id", "missing")
        system_id = self.c_string(
            entry["system_id"], f"{prefix}.system_id", MAX_SYSTEM_ID, empty_ok=False
        )

        plaintext = False
        digest = b""
        if "password_hash" in entry and "password" in entry:
            self.fail(prefix, "give either password_hash or password, not both")
        if "password_hash" in entry:
            encoded = entry["password_hash"]
            if not isinstance(encoded, str):
                self.fail(f"{prefix}.password_hash", "must be a string")
            try:
                validate_hash(encoded)
            except ValueError as e:
                self.fail(f"{prefix}.password_hash", str(e))
        elif "password" in entry:
            password = entry["password"]
            if not isinstance(password, str) or not password:
                self.fail(f"{prefix}.password", "must be a non-empty string")
            encoded = hash_password(password, "pbkdf2", iterations=PLAINTEXT_PBKDF2_ITERATIONS)
            digest = password_digest(password)
            plaintext = True
        else:
            self.fail(f"{prefix}.password_hash", 'missing (or give "password" in clear for tests)')

        permissions = OPERATIONS
        if "permissions" in entry:
            permissions = self.names(
                entry["permissions"], f"{prefix}.permissions", OPERATIONS, "operation"
            )
        bind_types = BIND_TYPES
        if "bind_types" in entry:
            bind_types = self.names(
                entry["bind_types"], f"{prefix}.bind_types", BIND_TYPES, "bind type"
            )
            if not bind_types:
                self.fail(f"{prefix}.bind_types", "must not be empty (the account could not bind)")
        networks: tuple[IPNetwork, ...] = ()
        if "allowed_ips" in entry:
            networks = self.networks(entry["allowed_ips"], f"{prefix}.allowed_ips")
        patterns: tuple[re.Pattern[str], ...] = ()
        if "source_addr_patterns" in entry:
            patterns = self.patterns(
                entry["source_addr_patterns"], f"{prefix}.source_addr_patterns"
            )
        system_type = entry.get("system_type")
        if system_type is not None:
            system_type = self.c_string(
                system_type, f"{prefix}.system_type", MAX_SYSTEM_TYPE, empty_ok=True
            )
        ranges: tuple[AddressPattern, ...] = ()
        if "receive_ranges" in entry:
            ranges = self.ranges(entry["receive_ranges"], f"{prefix}.receive_ranges")
        receive_from: frozenset[str] | None = None
        if entry.get("receive_from") is not None:
            receive_from = frozenset(self.string_list(entry["receive_from"], f"{prefix}.receive_from"))
        account = Account(
            system_id=system_id,
            password_hash=encoded,
            permissions=permissions,
            bind_types=bind_types,
            allowed_networks=networks,
            max_binds=self.positive_int(entry.get("max_binds"), f"{prefix}.max_binds"),
            throughput=self.positive_number(entry.get("throughput"), f"{prefix}.throughput"),
            window=self.positive_int(entry.get("window"), f"{prefix}.window"),
            source_addr_patterns=patterns,
            system_type=system_type,
            receive_ranges=ranges,
            receive_from=receive_from,
            password_digest=digest,
        )
        return account, plaintext

    def users(self, data: Any) -> Users:
        if not isinstance(data, dict):
            self.fail("", 'the top level must be an object with a "users" list')
        self.check_keys(data, _TOP_KEYS, "")
        if "users" not in data:
            self.fail("users", "missing")
        entries = data["users"]
        if not isinstance(entries, list):
            self.fail("users", "must be a list of objects")
        accounts: list[Account] = []
        plaintext: list[str] = []
        seen: dict[str, int] = {}
        for i, entry in enumerate(entries):
            account, clear = self.account(entry, f"users[{i}]")
            if account.system_id in seen:
                self.fail(
                    f"users[{i}].system_id",
                    f"duplicate system_id {_shown(account.system_id)} (also users[{seen[account.system_id]}])",
                )
            seen[account.system_id] = i
            accounts.append(account)
            if clear:
                plaintext.append(account.system_id)
        return Users(accounts, plaintext_users=plaintext, source=self.source)


def parse_users(data: Mapping[str, Any], source: str) -> Users:
    """Validate decoded JSON ``data`` into :class:`Users`; ``source`` names the
    file in error messages. Raises :class:`UsersFileError`.

    Blocking when entries give ``password`` in clear (each is hashed, a few
    ms): call at start-up or reload, not per bind.
    """
    return _Parser(source).users(data)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a valid JSON number")


def load_users(path: str | os.PathLike[str]) -> Users:
    """Read and validate a users JSON file. Raises :class:`UsersFileError`.

    Blocking (file I/O, and hashing for clear-text passwords): start-up and
    reload only.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise UsersFileError(source, "", f"cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UsersFileError(source, "", f"not UTF-8 (byte {e.start})") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise UsersFileError(
            source, "", f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
        ) from None
    except _DuplicateKey as e:
        raise UsersFileError(source, "", f"duplicate key {_shown(e.key)} in an object") from None
    except ValueError as e:
        raise UsersFileError(source, "", f"invalid JSON: {_one_line(str(e))}") from None
    return parse_users(data, source)


DEMO_CREDENTIALS: tuple[tuple[str, str], ...] = (
    ("test", "test"),
    ("client1", "password1"),
    ("esme", "esme123"),
)


def demo_users() -> Users:
    """Three demo accounts with every permission: test/test, client1/password1,
    esme/esme123. For demos and local tests only; their passwords are public.

    Hashed with the cheap PBKDF2 setting so start-up stays fast; listed in
    ``plaintext_users`` so that the service warns when it runs with them.
    Note: ``password1`` is 9 octets, one more than SMPP v3.4 allows in a bind
    (8); a strict peer or codec cannot send it.
    """
    accounts = [
        Account(
            system_id=system_id,
            password_hash=hash_password(password, "pbkdf2", iterations=PLAINTEXT_PBKDF2_ITERATIONS),
        )
        for system_id, password in DEMO_CREDENTIALS
    ]
    return Users(accounts, plaintext_users=[a.system_id for a in accounts], source="<demo>")
