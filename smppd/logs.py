"""Structured logging: where log events go, in which format, from which level.

A ``log`` section in a configuration file::

    "log": {"level": "info", "format": "json", "file": "/var/log/smppd/server.log",
            "max_bytes": 104857600, "backups": 5}

is validated once, at start-up, by :func:`parse_log_settings` into
:class:`LogSettings` (a mistake is a :class:`~smppd.config.ConfigError` naming
the key), and :func:`make_observer` turns that into one
:class:`~twisted.logger.ILogObserver`:

- events below ``level`` are dropped (a :class:`FilteringLogObserver`);
- :func:`redact` hides secrets (any field whose name contains ``password``,
  ``passwd`` or ``secret``) always, and message bodies (``short_message``,
  ``message_payload``, ``text``) at info and above;
- ``format`` "text" writes Twisted's classic lines; "json" writes one JSON
  object per event (:class:`JsonLinesObserver`): ``time`` (ISO 8601 UTC),
  ``level``, ``namespace``, ``message``, the event's own simple fields, and
  ``traceback`` for a failure;
- ``file`` None writes to stdout (the journal, under systemd); a path writes
  to that file, rotated at ``max_bytes`` (0: never) keeping ``backups`` old
  files (``server.log.1`` the newest).

In a twistd plugin, hand the observer to twistd through the application
(twistd consults it before its own default; ``--logger`` on the command line
still wins)::

    def setServiceParent(self, parent):
        attach_observer(parent, make_observer(settings.log))
        super().setServiceParent(parent)
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import IO, Any

import attrs
from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogEvent,
    LoggingFile,
    LogLevel,
    LogLevelFilterPredicate,
    formatEvent,
    textFileLogObserver,
)
from twisted.python.components import Componentized
from twisted.python.logfile import LogFile
from zope.interface import implementer

from smppd.configfile import ConfigError, _Reader

__all__ = [
    "FORMATS",
    "LEVELS",
    "REDACTED",
    "JsonLinesObserver",
    "LogSettings",
    "RedactingObserver",
    "attach_observer",
    "make_observer",
    "open_log_file",
    "parse_log_settings",
    "redact",
]

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warn", "error")
_LEVEL = {"debug": LogLevel.debug, "info": LogLevel.info, "warn": LogLevel.warn, "error": LogLevel.error}
_PRIORITY = {level: i for i, level in enumerate(LogLevel.iterconstants())}

#: Rotated files smaller than this are almost certainly a units mistake.
MIN_ROTATE_BYTES = 1024
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_BACKUPS = 5

#: What a hidden value reads as in a formatted message.
REDACTED = "[redacted]"
_SECRET_WORDS = ("password", "passwd", "secret")
_BODY_FIELDS = frozenset(("short_message", "message_payload", "text"))

# Keys of legacy ``twisted.python.log`` events (their "message" is a tuple) that
# duplicate ours or are not data.
_LEGACY_KEYS = frozenset(("message", "time", "isError", "format", "why", "failure", "printed", "logLevel"))
_OWN_KEYS = ("time", "level", "namespace", "message", "traceback")


@attrs.frozen
class LogSettings:
    """Where and how to log (the ``log`` section of a configuration file)."""

    format: str = "text"  # "text" | "json"
    level: str = "info"  # "debug" | "info" | "warn" | "error"
    file: str | None = None  # None: stdout
    max_bytes: int = DEFAULT_MAX_BYTES  # rotate when the file reaches this size; 0: never
    backups: int = DEFAULT_BACKUPS  # rotated files kept (file.1 ... file.N)
    source: str = "(defaults)"  # the configuration file, for errors at open time


def parse_log_settings(
    data: Mapping[str, Any] | _Reader | None, source: str = "(config)", *, prefix: str = "log."
) -> LogSettings:
    """Validate a ``log`` configuration object into :class:`LogSettings`.

    ``data`` is the section's dict (errors name ``{prefix}{key}``, so
    ``server.json: log.level: must be one of debug, info, warn, error``), or a
    :class:`smppd.config._Reader` already positioned on it
    (``reader.section("log")``; then its source and key path are used).
    Raises :class:`~smppd.config.ConfigError` (one line: source, key, reason).
    """
    if isinstance(data, _Reader):
        r = data
    else:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(source, prefix.rstrip("."), "must be an object")
        r = _Reader(source, data, prefix)
    fmt = r.string("format", "text", choices=FORMATS)
    level = r.string("level", "info", choices=LEVELS)
    path = r.optional_string("file")
    if path is not None:
        if not path.strip():
            r.fail("file", "must be a file path (or null for stdout)")
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            r.fail("file", f"directory {directory} does not exist")
        if os.path.isdir(path):
            r.fail("file", f"{path} is a directory")
    max_bytes = r.number("max_bytes", DEFAULT_MAX_BYTES, minimum=0, integer=True)
    if 0 < max_bytes < MIN_ROTATE_BYTES:
        r.fail("max_bytes", f"must be 0 (no rotation) or at least {MIN_ROTATE_BYTES}")
    backups = r.number("backups", DEFAULT_BACKUPS, minimum=1, integer=True)
    r.done()
    return LogSettings(
        format=fmt, level=level, file=path, max_bytes=max_bytes, backups=backups, source=r.source
    )


# -- redaction ---------------------------------------------------------------------------


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def redact(event: LogEvent) -> LogEvent:
    """``event``, or a copy of it with what must not be logged hidden.

    Secrets (a field whose name contains password, passwd or secret) are
    hidden at every level; message bodies (short_message, message_payload,
    text) at info and above. A hidden field's value becomes :data:`REDACTED`
    (so a format string that names it still formats) and its name is listed
    in the private ``log_redacted`` key; :class:`JsonLinesObserver` leaves
    those fields out altogether.
    """
    level = event.get("log_level", LogLevel.info)
    bodies = _PRIORITY.get(level, _PRIORITY[LogLevel.info]) >= _PRIORITY[LogLevel.info]
    hidden = [
        key
        for key in event
        if not key.startswith("log_") and (_is_secret(key) or (bodies and key in _BODY_FIELDS))
    ]
    if not hidden:
        return event
    copy = dict(event)
    for key in hidden:
        copy[key] = REDACTED
    copy["log_redacted"] = tuple(hidden)
    return copy


@implementer(ILogObserver)
class RedactingObserver:
    """Passes every event through :func:`redact` to ``observer``."""

    def __init__(self, observer: ILogObserver) -> None:
        self.observer = observer

    def __call__(self, event: LogEvent) -> None:
        self.observer(redact(event))


# -- JSON lines --------------------------------------------------------------------------


def _iso_utc(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _simple(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


@implementer(ILogObserver)
class JsonLinesObserver:
    """One JSON object per event, one per line, written through ``write``.

    ``{"time": "2026-01-02T03:04:05.678Z", "level": "info", "namespace":
    "smppd.tap.server", "message": "...", <the event's str/int/float/bool/None
    fields>, "traceback": "..." (failures only)}``. Private ``log_*`` keys,
    redacted fields (``log_redacted``) and other values (objects, lists) are
    left out; a field named like one of the keys above gets a trailing ``_``.
    """

    def __init__(self, write: Callable[[str], object], flush: Callable[[], object] | None = None) -> None:
        self._write = write
        self._flush = flush

    def __call__(self, event: LogEvent) -> None:
        level = event.get("log_level")
        record: dict[str, Any] = {
            "time": _iso_utc(event.get("log_time")),
            "level": level.name if level is not None else None,
            "namespace": event.get("log_namespace"),
            "message": formatEvent(event),
        }
        hidden = event.get("log_redacted", ())
        legacy = _LEGACY_KEYS if isinstance(event.get("message"), tuple) else ()
        for key, value in event.items():
            if key.startswith("log_") or key in legacy or key in hidden or not _simple(value):
                continue
            if isinstance(value, float) and not math.isfinite(value):
                value = str(value)
            record[f"{key}_" if key in _OWN_KEYS else key] = value
        failure = event.get("log_failure")
        if failure is not None:
            try:
                record["traceback"] = failure.getTraceback()
            except Exception:  # a broken failure object must not lose the event
                record["traceback"] = repr(failure)
        self._write(json.dumps(record, ensure_ascii=False) + "\n")
        if self._flush is not None:
            self._flush()


# -- files and the observer ----------------------------------------------------------------


class _Utf8File:
    """Text in, UTF-8 bytes out to a :class:`LogFile`, so that it counts
    ``max_bytes`` in bytes (it counts the length of what it is given)."""

    def __init__(self, logfile: LogFile) -> None:
        self.logfile = logfile

    def write(self, text: str) -> None:
        self.logfile.write(text.encode("utf-8"))

    def flush(self) -> None:
        self.logfile.flush()

    def close(self) -> None:
        self.logfile.close()


def open_log_file(settings: LogSettings) -> _Utf8File:
    """The rotating file for ``settings.file`` (``ConfigError`` if it cannot be opened)."""
    assert settings.file is not None
    path = os.path.abspath(settings.file)
    try:
        logfile = LogFile(
            os.path.basename(path),
            os.path.dirname(path),
            rotateLength=settings.max_bytes or None,
            maxRotatedFiles=settings.backups,
        )
    except OSError as e:
        raise ConfigError(settings.source, "log.file", f"cannot open {path}: {e.strerror or e}") from None
    return _Utf8File(logfile)


def _stdout() -> IO[str]:
    # Once twistd redirects standard I/O into the log, sys.stdout *is* the log:
    # writing there would loop. The real stdout is still at sys.__stdout__.
    if isinstance(sys.stdout, LoggingFile) and sys.__stdout__ is not None:
        return sys.__stdout__
    return sys.stdout


def make_observer(settings: LogSettings, stream: IO[str] | None = None) -> ILogObserver:
    """The observer ``settings`` describe: level filter, then redaction, then
    text or JSON lines to ``stream`` (default stdout) or the rotating file.

    Opening the file is the only I/O, done here, at start-up
    (:class:`~smppd.config.ConfigError` if it cannot be opened).
    """
    out: Any = open_log_file(settings) if settings.file is not None else (stream or _stdout())
    if settings.format == "json":
        formatter: ILogObserver = JsonLinesObserver(out.write, out.flush)
    else:
        formatter = textFileLogObserver(out)
    return FilteringLogObserver(
        RedactingObserver(formatter),
        [LogLevelFilterPredicate(defaultLogLevel=_LEVEL[settings.level])],
    )


def attach_observer(parent: object, observer: ILogObserver) -> bool:
    """Make ``observer`` the one twistd logs to, from a plugin's service.

    twistd builds the plugin's service, adds it to a new application
    (``service.setServiceParent(application)``) and only then starts logging,
    to the application's :class:`ILogObserver` component if it has one. Call
    this from the service's ``setServiceParent`` with the parent it is given;
    returns False (and does nothing) when that parent is not an application
    (the service is being embedded: the embedder owns logging).
    """
    if not isinstance(parent, Componentized):
        return False
    parent.setComponent(ILogObserver, observer)
    return True
