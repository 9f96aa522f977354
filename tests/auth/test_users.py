"""Accounts, the users file and its validation errors."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import attrs
import pytest

from smppd.auth import BIND_TYPES, OPERATIONS, Account, Users, UsersFileError
from smppd.auth.hashing import hash_parameters, hash_password, verify_password
from smppd.auth.users import DEMO_CREDENTIALS, demo_users, load_users, parse_users

HASH = hash_password("pw", "pbkdf2", iterations=10)


def account(**kwargs: Any) -> Account:
    kwargs.setdefault("system_id", "esme")
    kwargs.setdefault("password_hash", HASH)
    return Account(**kwargs)


def write(tmp_path: Path, data: Any, name: str = "users.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


# -- Account ----------------------------------------------------------------------------


def test_account_defaults_allow_everything() -> None:
    a = account()
    assert a.permissions == OPERATIONS and a.bind_types == BIND_TYPES
    assert all(a.may(op) for op in OPERATIONS)
    assert not a.may("deliver_sm") and not a.may("bind")
    assert a.network_allowed("203.0.113.9") and a.network_allowed("not an address")
    assert a.source_allowed("anything") and a.source_allowed("")
    assert (a.max_binds, a.throughput, a.window, a.system_type) == (None, None, None, None)


def test_account_is_frozen_and_hides_the_hash() -> None:
    a = account()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        a.system_id = "other"  # type: ignore[misc]
    assert HASH not in repr(a)


def test_account_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="permissions"):
        account(permissions={"submit_sm", "deliver_sm"})
    with pytest.raises(ValueError, match="bind_types"):
        account(bind_types={"outbind"})
    with pytest.raises(TypeError):
        account(permissions="submit_sm")


def test_permissions() -> None:
    a = account(permissions=["submit_sm", "query_sm"])
    assert a.may("submit_sm") and a.may("query_sm")
    assert not a.may("submit_multi") and not a.may("cancel_sm")


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("192.0.2.10", True),  # single IPv4 address
        ("192.0.2.11", False),
        ("10.1.0.1", True),  # IPv4 CIDR
        ("10.1.255.254", True),
        ("10.2.0.1", False),
        ("::ffff:10.1.2.3", True),  # IPv4 client on a dual-stack socket
        ("::ffff:10.9.2.3", False),
        ("2001:db8::1", True),  # IPv6 CIDR
        ("2001:db8:ffff::1", True),
        ("2001:db9::1", False),
        ("fe80::1", True),  # single IPv6 address
        ("fe80::2", False),
        ("::1", False),
        ("localhost", False),  # not an address: fail closed
        ("", False),
        ("/var/run/smppd.sock", False),
    ],
)
def test_network_allow_list(host: str, allowed: bool) -> None:
    a = account(allowed_networks=["192.0.2.10", "10.1.0.0/16", "2001:db8::/32", "fe80::1"])
    assert a.network_allowed(host) is allowed


def test_network_objects_accepted() -> None:
    a = account(allowed_networks=[ipaddress.ip_network("127.0.0.0/8")])
    assert a.network_allowed("127.0.0.1")


def test_source_patterns_fullmatch() -> None:
    a = account(source_addr_patterns=["Shop", r"4479\d{8}", re.compile("^Info$")])
    assert a.source_allowed("Shop")
    assert a.source_allowed("447912345678")
    assert a.source_allowed("Info")
    assert not a.source_allowed("Shopping")  # fullmatch, not search
    assert not a.source_allowed("MyShop")
    assert not a.source_allowed("4479123456789")
    assert not a.source_allowed("")


# -- Users --------------------------------------------------------------------------------


def test_users_lookup() -> None:
    users = Users([account(system_id="a"), account(system_id="b")], source="x.json")
    assert users.get("a") is not None and users.get("a").system_id == "a"  # type: ignore[union-attr]
    assert users.get("A") is None and users.get("c") is None
    assert "a" in users and "c" not in users
    assert len(users) == 2 and users.system_ids == ("a", "b")
    assert [a.system_id for a in users] == ["a", "b"]
    assert "x.json" in repr(users)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        users.source = "y"  # type: ignore[misc]


def test_users_reject_duplicates() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Users([account(), account()])


def test_users_dummy_hash_follows_the_accounts() -> None:
    users = Users([account(system_id=str(i)) for i in range(3)])
    assert hash_parameters(users.dummy_hash) == hash_parameters(HASH)
    assert not verify_password("pw", users.dummy_hash)
    assert hash_parameters(Users().dummy_hash)[0] == "scrypt"


def test_demo_users() -> None:
    users = demo_users()
    assert users.system_ids == ("test", "client1", "esme")
    assert set(users.plaintext_users) == {"test", "client1", "esme"}
    for system_id, password in DEMO_CREDENTIALS:
        a = users.get(system_id)
        assert a is not None
        assert verify_password(password, a.password_hash)
        assert a.permissions == OPERATIONS
        assert hash_parameters(a.password_hash)[0] == "pbkdf2_sha256"


# -- the users file ---------------------------------------------------------------------


def test_load_full_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "users": [
                {
                    "system_id": "shop",
                    "password_hash": HASH,
                    "permissions": ["submit_sm", "query_sm"],
                    "bind_types": ["transmitter", "transceiver"],
                    "allowed_ips": ["192.0.2.10", "10.1.0.0/16", "2001:db8::/32"],
                    "max_binds": 2,
                    "throughput": 100,
                    "window": 50,
                    "source_addr_patterns": ["^Shop$"],
                    "system_type": "VMA",
                },
                {"system_id": "plain", "password": "secret"},
            ]
        },
    )
    users = load_users(path)
    shop = users.get("shop")
    assert shop is not None
    assert shop.permissions == {"submit_sm", "query_sm"}
    assert shop.bind_types == {"transmitter", "transceiver"}
    assert shop.allowed_networks == (
        ipaddress.ip_network("192.0.2.10/32"),
        ipaddress.ip_network("10.1.0.0/16"),
        ipaddress.ip_network("2001:db8::/32"),
    )
    assert (shop.max_binds, shop.throughput, shop.window) == (2, 100.0, 50)
    assert isinstance(shop.throughput, float)
    assert shop.source_allowed("Shop") and not shop.source_allowed("Shop2")
    assert shop.system_type == "VMA"
    plain = users.get("plain")
    assert plain is not None and verify_password("secret", plain.password_hash)
    assert "secret" not in plain.password_hash
    assert users.plaintext_users == ("plain",)
    assert users.source == str(path)


def test_minimal_and_null_limits(tmp_path: Path) -> None:
    users = parse_users(
        {
            "users": [
                {
                    "system_id": "a" * 15,
                    "password_hash": HASH,
                    "max_binds": None,
                    "throughput": 0.5,
                    "window": None,
                    "system_type": None,
                    "permissions": [],
                }
            ]
        },
        "mem",
    )
    a = users.get("a" * 15)
    assert a is not None and a.throughput == 0.5 and a.permissions == frozenset()
    assert parse_users({"users": []}, "mem").system_ids == ()


GOOD = {"system_id": "ok", "password_hash": HASH}


def user(**changes: Any) -> dict[str, Any]:
    entry = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            entry.pop(key, None)
        else:
            entry[key] = value
    return entry


BAD_FILES: list[tuple[Any, str]] = [
    ("{", "invalid JSON at line 1 column 2: Expecting property name enclosed in double quotes"),
    ('{"users": [], "users": []}', "duplicate key 'users' in an object"),
    ('{"users": [{"system_id": "a", "password": "x", "throughput": NaN}]}', "invalid JSON: NaN"),
    ([], 'the top level must be an object with a "users" list'),
    ({}, "users: missing"),
    ({"users": [], "groups": []}, "groups: unknown key (expected one of users)"),
    ({"users": {"a": 1}}, "users: must be a list of objects"),
    ({"users": ["a"]}, "users[0]: must be an object"),
    ({"users": [user(system_id=...)]}, "users[0].system_id: missing"),
    ({"users": [user(system_id="")]}, "users[0].system_id: must not be empty"),
    ({"users": [user(system_id=7)]}, "users[0].system_id: must be a string"),
    (
        {"users": [user(system_id="x" * 16)]},
        "users[0].system_id: must be at most 15 characters (got 16)",
    ),
    (
        {"users": [user(system_id="a\tb")]},
        "users[0].system_id: must be printable Latin-1 characters",
    ),
    (
        {"users": [GOOD, user(system_id="b"), user()]},
        "users[2].system_id: duplicate system_id 'ok' (also users[0])",
    ),
    (
        {"users": [user(colour="red")]},
        "users[0].colour: unknown key (expected one of system_id, password_hash, password,",
    ),
    (
        {"users": [user(password_hash=...)]},
        'users[0].password_hash: missing (or give "password" in clear for tests)',
    ),
    (
        {"users": [user(password="x")]},
        "users[0]: give either password_hash or password, not both",
    ),
    (
        {"users": [user(password_hash="md5$x")]},
        "users[0].password_hash: unknown password hash scheme 'md5'",
    ),
    ({"users": [user(password_hash=5)]}, "users[0].password_hash: must be a string"),
    (
        {"users": [user(password_hash=..., password="")]},
        "users[0].password: must be a non-empty string",
    ),
    (
        {"users": [user(permissions=["submit_sm", "submit"])]},
        "users[0].permissions[1]: unknown operation 'submit' (expected one of cancel_sm,",
    ),
    (
        {"users": [user(permissions="submit_sm")]},
        "users[0].permissions: must be a list of strings",
    ),
    ({"users": [user(permissions=[1])]}, "users[0].permissions[0]: must be a string"),
    (
        {"users": [user(bind_types=["tx"])]},
        "users[0].bind_types[0]: unknown bind type 'tx' (expected one of receiver,",
    ),
    ({"users": [user(bind_types=[])]}, "users[0].bind_types: must not be empty"),
    (
        {"users": [user(allowed_ips=["10.0.0.0/33"])]},
        "users[0].allowed_ips[0]: '10.0.0.0/33' is not an IP address or CIDR network",
    ),
    (
        {"users": [user(allowed_ips=["::1", "example.com"])]},
        "users[0].allowed_ips[1]: 'example.com' is not an IP address or CIDR network",
    ),
    (
        {"users": [user(allowed_ips=["10.1.2.3/16"])]},
        "users[0].allowed_ips[0]: '10.1.2.3/16' has host bits set (did you mean 10.1.0.0/16?)",
    ),
    ({"users": [user(allowed_ips="10.0.0.1")]}, "users[0].allowed_ips: must be a list of strings"),
    ({"users": [user(max_binds=0)]}, "users[0].max_binds: must be a positive integer or null"),
    ({"users": [user(max_binds=1.5)]}, "users[0].max_binds: must be a positive integer or null"),
    ({"users": [user(window=True)]}, "users[0].window: must be a positive integer or null"),
    (
        {"users": [GOOD, user(system_id="b"), user(system_id="c", throughput=-1)]},
        "users[2].throughput: must be a positive number",
    ),
    ({"users": [user(throughput="100")]}, "users[0].throughput: must be a positive number"),
    ('{"users": [{"system_id": "a", "throughput": -Infinity}]}', "invalid JSON: -Infinity"),
    (
        {"users": [user(source_addr_patterns=["(unclosed"])]},
        "users[0].source_addr_patterns[0]: bad regular expression '(unclosed': missing ), unterminated subpattern at position 0",
    ),
    (
        {"users": [user(system_type="x" * 13)]},
        "users[0].system_type: must be at most 12 characters (got 13)",
    ),
    ({"users": [user(system_type=5)]}, "users[0].system_type: must be a string"),
]


@pytest.mark.parametrize(("data", "message"), BAD_FILES)
def test_bad_files_give_one_line_naming_file_and_key(
    tmp_path: Path, data: Any, message: str
) -> None:
    path = write(tmp_path, data)
    with pytest.raises(UsersFileError) as info:
        load_users(path)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: {message}"), text
    assert info.value.source == str(path)
    assert isinstance(info.value, ValueError)


def test_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(UsersFileError, match=r"nope\.json: cannot read: No such file"):
        load_users(missing)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b'{"users": ["\xff"]}')
    with pytest.raises(UsersFileError, match=r"bin\.json: not UTF-8"):
        load_users(binary)
    with pytest.raises(UsersFileError, match="cannot read"):
        load_users(tmp_path)


def test_parse_users_names_its_source() -> None:
    with pytest.raises(UsersFileError) as info:
        parse_users({"users": [user(window=0)]}, "etc/users.json")
    assert str(info.value) == "etc/users.json: users[0].window: must be a positive integer or null"
    assert info.value.key == "users[0].window"


def test_errors_never_show_the_password(tmp_path: Path) -> None:
    path = write(tmp_path, {"users": [user(password_hash=..., password="hunter2", window=0)]})
    with pytest.raises(UsersFileError) as info:
        load_users(path)
    assert "hunter2" not in str(info.value)
