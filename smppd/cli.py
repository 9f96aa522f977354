"""The ``smppd`` command line.

::

    smppd hash-password [--scheme scrypt|pbkdf2] [--password-stdin]
    smppd check-users FILE

Each subcommand is one ``_add_<name>(subparsers)`` function that builds its
parser and sets ``run`` (``run(args) -> int``, the exit status); adding a
command (``send``, ``bench``, ...) is writing one such function and listing it
in ``COMMANDS``. Exit status: 0 success, 1 failure, 2 usage error. Commands
write results to stdout and diagnostics to stderr; no traceback for an
expected error.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["COMMANDS", "build_parser", "main"]

_Subparsers = Any  # argparse._SubParsersAction is private

# Octets a bind's password may carry in SMPP v3.4 (C-Octet String of 9 with NUL).
_SMPP_MAX_PASSWORD = 8


def _error(command: str, message: str) -> None:
    print(f"smppd {command}: {message}", file=sys.stderr)


# -- hash-password -------------------------------------------------------------------


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    first = getpass.getpass("Password: ")
    second = getpass.getpass("Password (again): ")
    if first != second:
        _error("hash-password", "passwords do not match")
        return None
    return first


def _run_hash_password(args: argparse.Namespace) -> int:
    from smppd.auth.hashing import hash_password

    try:
        password = _read_password(args)
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        _error("hash-password", "no password given")
        return 1
    if password is None:
        return 1
    password = password.removesuffix("\r")
    if not password:
        _error("hash-password", "the password is empty")
        return 1
    try:
        octets = len(password.encode("latin-1"))
    except UnicodeEncodeError:
        _error(
            "hash-password",
            "warning: characters outside Latin-1 cannot be sent in an SMPP bind",
        )
    else:
        if octets > _SMPP_MAX_PASSWORD:
            _error(
                "hash-password",
                f"warning: SMPP v3.4 binds carry at most {_SMPP_MAX_PASSWORD} octets"
                f" of password, this one has {octets}",
            )
    print(hash_password(password, args.scheme))
    return 0


def _add_hash_password(subparsers: _Subparsers) -> None:
    p = subparsers.add_parser(
        "hash-password",
        help="hash a password for the users file",
        description="Prompt for a password (twice) or read one line from stdin,"
        " and print its salted hash for the users file's password_hash.",
    )
    p.add_argument(
        "--scheme",
        choices=("scrypt", "pbkdf2"),
        default="scrypt",
        help="hash scheme (default: scrypt)",
    )
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of prompting",
    )
    p.set_defaults(run=_run_hash_password)


# -- check-users ------------------------------------------------------------------------


def _run_check_users(args: argparse.Namespace) -> int:
    from smppd.auth.users import UsersFileError, load_users

    try:
        users = load_users(args.file)
    except UsersFileError as e:
        print(str(e), file=sys.stderr)
        return 1
    if users.plaintext_users:
        print(
            f"{users.source}: warning: clear-text password for"
            f" {', '.join(users.plaintext_users)} (use password_hash)",
            file=sys.stderr,
        )
    print("ok")
    return 0


def _add_check_users(subparsers: _Subparsers) -> None:
    p = subparsers.add_parser(
        "check-users",
        help="validate a users file",
        description="Validate a users JSON file: print 'ok', or the first error"
        " (file and key) and exit with status 1.",
    )
    p.add_argument("file", metavar="FILE", help="the users JSON file")
    p.set_defaults(run=_run_check_users)


# -- the parser --------------------------------------------------------------------------

COMMANDS: list[Callable[[_Subparsers], None]] = [_add_hash_password, _add_check_users]


def build_parser() -> argparse.ArgumentParser:
    from smppd import __version__

    parser = argparse.ArgumentParser(
        prog="smppd", description="SMPP v3.4 SMSC server and ESME client tools."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (never raises SystemExit)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
