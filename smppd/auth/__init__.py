"""Accounts, password hashes, the bind authenticator and the bind penalty.

- :mod:`smppd.auth.hashing`: salted scrypt / PBKDF2 hashes (blocking).
- :mod:`smppd.auth.users`: :class:`Account`, :class:`Users`, the users file.
- :mod:`smppd.auth.authenticator`: :class:`UsersAuthenticator` (IAuthenticator).
- :mod:`smppd.auth.penalty`: :class:`BindPenalty` against bind brute force.
"""

from smppd.auth.authenticator import AuthenticationError, UsersAuthenticator
from smppd.auth.hashing import hash_password, verify_password
from smppd.auth.penalty import BindPenalty
from smppd.auth.users import (
    BIND_TYPES,
    OPERATIONS,
    Account,
    Users,
    UsersFileError,
    demo_users,
    load_users,
    parse_users,
)

__all__ = [
    "BIND_TYPES",
    "OPERATIONS",
    "Account",
    "AuthenticationError",
    "BindPenalty",
    "Users",
    "UsersAuthenticator",
    "UsersFileError",
    "demo_users",
    "hash_password",
    "load_users",
    "parse_users",
    "verify_password",
]
