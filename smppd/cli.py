"""The ``smppd`` command line.

::

    smppd hash-password [--scheme scrypt|pbkdf2] [--password-stdin]
    smppd check-users FILE
    smppd send --host H --port P --system-id ID [--password-file F] --to DEST --text TEXT [--wait-receipt]

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
import os
import sys
import time
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


# -- send --------------------------------------------------------------------------------


def _send_settings(args: argparse.Namespace) -> Any:
    """The client settings for ``send``: the --config file (if any) with the
    command line's connection options on top, validated like a config file."""
    from smppd.client.settings import parse_client_config
    from smppd.configfile import read_json

    data: dict[str, Any] = read_json(args.config) if args.config else {}
    source = args.config or "command line"
    given = {
        "host": args.host,
        "port": args.port,
        "system_id": args.system_id,
        "password": _send_password(args, "password" in data),
        "system_type": args.system_type,
    }
    given = {k: v for k, v in given.items() if v is not None}
    if args.tls:
        given["tls"] = True
    if args.endpoint:
        given["endpoints"] = args.endpoint
        for key in ("host", "port", "tls"):
            data.pop(key, None)
    elif {"host", "port", "tls"} & set(given):
        data.pop("endpoints", None)
    data.update(given)
    data["bind_type"] = "transceiver"  # receipts come back on the same bind
    data["binds"] = 1
    data.pop("http", None)
    data.pop("webhook", None)
    return parse_client_config(data, source)


def _send_password(args: argparse.Namespace, in_config: bool) -> str | None:
    """The bind password: --password (visible to other users: warned),
    --password-file, $SMPP_PASSWORD, the --config file's, or a prompt when
    stdin is a terminal; None: the config's (or none at all)."""
    if args.password is not None:
        print(
            "smppd send: warning: --password is visible to other users of this machine (ps);"
            " use --password-file or $SMPP_PASSWORD",
            file=sys.stderr,
        )
        return str(args.password)
    if args.password_file is not None:
        try:
            with open(args.password_file, encoding="latin-1") as f:
                return f.readline().rstrip("\r\n")
        except OSError as e:
            raise _UsageError(f"--password-file: cannot read {args.password_file}: {e.strerror or e}") from None
    if "SMPP_PASSWORD" in os.environ:
        return os.environ["SMPP_PASSWORD"]
    if in_config or not sys.stdin.isatty():
        return None
    return getpass.getpass("Password: ")


class _UsageError(Exception):
    """A bad command-line option (exit 2)."""


def _run_send(args: argparse.Namespace) -> int:
    from smppd.client.blocking import BlockingClient, BlockingTimeout
    from smppd.client.client import ClientStopped, SendError
    from smppd.configfile import ConfigError
    from smppd.pdu import MessageState

    if not args.timeout > 0:
        _error("send", "--timeout: must be greater than 0")
        return 2
    try:
        settings = _send_settings(args)
    except _UsageError as e:
        _error("send", str(e))
        return 2
    except ConfigError as e:
        if e.source == "command line":
            _error("send", f"--{e.key.replace('_', '-')}: {e.reason}")
        else:
            _error("send", str(e))
        return 2
    content: str | bytes
    if args.data_hex is not None:
        try:
            content = bytes.fromhex(args.data_hex)
        except ValueError:
            _error("send", "--data-hex: not a string of hex digits")
            return 2
    else:
        content = args.text
    if args.verbose:
        from twisted.logger import globalLogBeginner, textFileLogObserver

        globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
    options: dict[str, Any] = {}
    if args.encoding:
        options["encoding"] = args.encoding
    if args.concatenation:
        options["concatenation"] = args.concatenation
    deadline = time.monotonic() + args.timeout

    def left() -> float:
        return max(0.1, deadline - time.monotonic())

    client = BlockingClient(settings.client, timeout=args.timeout)
    try:
        client.start(timeout=left())
        ids = client.send_message(
            args.source, args.to, content, receipt=args.wait_receipt, timeout=left(), **options
        )
        for message_id in ids:
            print(message_id)
        sys.stdout.flush()
        if not args.wait_receipt:
            return 0
        try:
            outcome = client.outcome(ids, timeout=left())
        except BlockingTimeout:
            _error("send", f"no delivery receipt for {ids[0]} within {args.timeout:g}s")
            return 1
        print(outcome.stat)
        if outcome.state == MessageState.DELIVERED:
            return 0
        _error("send", f"message {ids[0]} ended {outcome.stat} (error {outcome.error_codes[0]})")
        return 1
    except BlockingTimeout as e:
        _error("send", str(e))
        return 1
    except (SendError, ClientStopped) as e:
        _error("send", str(e))
        return 1
    except (ValueError, RuntimeError) as e:  # text not encodable, reactor unavailable
        _error("send", str(e))
        return 1
    except KeyboardInterrupt:
        _error("send", "interrupted")
        return 1
    finally:
        try:
            client.close(timeout=5.0)
        except Exception as e:  # the message went out (or not) already: just say so
            _error("send", f"closing: {e}")


def _add_send(subparsers: _Subparsers) -> None:
    from smppd.text.encoding import ENCODINGS
    from smppd.text.split import METHODS

    p = subparsers.add_parser(
        "send",
        help="send one message through an SMSC",
        description="Bind as a transceiver, send one message (split as needed) and print its"
        " message id(s), one per line; with --wait-receipt, wait for the delivery receipt and"
        " print the final state (DELIVRD, UNDELIV, ...). Exit 0 when the SMSC accepted the"
        " message (and, with --wait-receipt, it was delivered), 1 otherwise.",
    )
    where = p.add_argument_group("connection (or --config FILE)")
    where.add_argument("--config", metavar="FILE", help="client JSON config (see etc/client.json)")
    where.add_argument("--host", help="SMSC host (default 127.0.0.1)")
    where.add_argument("--port", type=int, help="SMSC port (default 2775)")
    where.add_argument("--tls", action="store_true", help="connect with TLS")
    where.add_argument(
        "--endpoint", action="append", metavar="SPEC",
        help="Twisted client endpoint instead of host/port (repeatable: failover)",
    )
    where.add_argument("--system-id", help="bind system_id")
    secret = where.add_mutually_exclusive_group()
    secret.add_argument(
        "--password",
        help="bind password: visible to other users in the process list; prefer --password-file,"
        " $SMPP_PASSWORD, the --config file, or the prompt (when none is given on a terminal)",
    )
    secret.add_argument("--password-file", metavar="FILE", help="read the bind password from the first line of FILE")
    where.add_argument("--system-type", help="bind system_type")
    what = p.add_argument_group("message")
    what.add_argument("--from", dest="source", default="", help="source address")
    what.add_argument("--to", required=True, help="destination address")
    body = what.add_mutually_exclusive_group(required=True)
    body.add_argument("--text", help="message text")
    body.add_argument("--data-hex", help="binary message, as hex")
    what.add_argument("--encoding", choices=sorted(ENCODINGS), help="force a text encoding")
    what.add_argument("--concatenation", choices=METHODS, help="how long messages are split")
    p.add_argument("--wait-receipt", action="store_true", help="wait for the delivery receipt")
    p.add_argument(
        "--timeout", type=float, default=30.0, help="seconds for everything: bind, send, receipt (default 30)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log the SMPP client's activity to stderr")
    p.set_defaults(run=_run_send)


# -- bench -------------------------------------------------------------------------------


def _run_bench(args: argparse.Namespace) -> int:
    from smppd.bench import run_command

    return run_command(args)


def _add_bench(subparsers: _Subparsers) -> None:
    # The options are spelled out here (not imported with smppd.bench) so that
    # building the parser stays cheap for every other command.
    p = subparsers.add_parser(
        "bench",
        help="load-test an SMSC",
        description="Bind N connections, keep W submit_sm unanswered on each (at most R messages"
        " a second in total), until C messages are sent or S seconds are up; then print sent, ok,"
        " errors by status, throughput and latency percentiles (and, with --receipts, receipts"
        " received, matched and their latency). A progress line goes to stderr once a second"
        " when it is a terminal. Exit 0 when every submit_sm was answered ESME_ROK (and every"
        " receipt matched), 1 otherwise or when the run could not be made, 2 on bad options.",
    )
    where = p.add_argument_group("SMSC")
    where.add_argument("--host", default="127.0.0.1", help="SMSC host (default 127.0.0.1)")
    where.add_argument("--port", type=int, default=2775, help="SMSC port (default 2775)")
    where.add_argument("--system-id", required=True, help="bind system_id")
    where.add_argument("--password", help="bind password (default: $SMPP_PASSWORD)")
    where.add_argument("--system-type", default="", help="bind system_type")
    where.add_argument("--bind", choices=("trx", "tx"), default="trx", help="bind type (default trx)")
    load = p.add_argument_group("load")
    load.add_argument("--connections", type=int, default=1, metavar="N", help="binds (default 1)")
    load.add_argument("--window", type=int, default=10, metavar="W", help="unanswered submit_sm per bind (default 10)")
    load.add_argument(
        "--rate", type=float, default=0.0, metavar="R",
        help="messages per second in total; 0: as fast as possible (default)",
    )  # fmt: skip
    load.add_argument("--count", type=int, default=10_000, metavar="C", help="messages to send, at most (default 10000)")
    load.add_argument("--duration", type=float, default=60.0, metavar="S", help="seconds of sending, at most (default 60)")
    load.add_argument("--text-length", type=int, default=20, metavar="L", help="characters per message (default 20)")
    load.add_argument("--encoding", choices=("gsm7", "ucs2"), default="gsm7", help="data coding (default gsm7)")
    load.add_argument("--from", dest="source", default="smppd-bench", help="source address (default smppd-bench)")
    load.add_argument("--to", dest="destination", default="447700900123", help="destination (default 447700900123)")
    load.add_argument(
        "--receipts", action="store_true",
        help="request receipts (registered_delivery=1), match them to the submits and time them",
    )  # fmt: skip
    load.add_argument(
        "--receipt-wait", type=float, default=10.0, metavar="S",
        help="seconds to wait for the last receipts (default 10)",
    )  # fmt: skip
    load.add_argument(
        "--timeout", type=float, default=10.0, metavar="S",
        help="seconds for connect, bind, and the last responses (default 10)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object, no progress line")
    p.set_defaults(run=_run_bench)


# -- the parser --------------------------------------------------------------------------

COMMANDS: list[Callable[[_Subparsers], None]] = [_add_hash_password, _add_check_users, _add_send, _add_bench]


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
