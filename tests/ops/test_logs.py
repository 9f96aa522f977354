"""smppd.logs: JSON lines, level filtering, redaction, rotation, settings errors."""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime

import pytest
from twisted.application import service
from twisted.logger import ILogObserver, Logger, LoggingFile, LogLevel

from smppd import logs
from smppd.config import ConfigError, _Reader
from smppd.logs import (
    REDACTED,
    LogSettings,
    attach_observer,
    make_observer,
    parse_log_settings,
    redact,
)


def logger_for(settings: LogSettings) -> tuple[Logger, io.StringIO]:
    out = io.StringIO()
    return Logger(namespace="smppd.test", observer=make_observer(settings, stream=out)), out


def json_lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_carry_time_level_namespace_message_and_simple_fields():
    log, out = logger_for(LogSettings(format="json"))
    log.info(
        "bound {system_id} as {bind_type}",
        system_id="test", bind_type="transceiver", window=50, ratio=0.5, tls=False, peer=None,
        pdu=object(), nan=float("nan"), message="a field named message",
    )  # fmt: skip
    (line,) = json_lines(out)
    assert line["level"] == "info"
    assert line["namespace"] == "smppd.test"
    assert line["message"] == "bound test as transceiver"
    assert line["time"].endswith("Z")
    assert datetime.fromisoformat(line["time"].replace("Z", "+00:00")).utcoffset().total_seconds() == 0
    assert line["system_id"] == "test" and line["window"] == 50 and line["ratio"] == 0.5
    assert line["tls"] is False and line["peer"] is None
    assert line["nan"] == "nan"  # still valid JSON
    assert line["message_"] == "a field named message"
    assert "pdu" not in line
    assert not any(key.startswith("log_") for key in line)


def test_a_failure_carries_its_traceback():
    log, out = logger_for(LogSettings(format="json"))
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.failure("the store could not be opened", store="sqlite:x")
    (line,) = json_lines(out)
    assert line["level"] == "critical"
    assert line["message"] == "the store could not be opened"
    assert "ZeroDivisionError" in line["traceback"] and "Traceback" in line["traceback"]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_events_below_the_level_are_dropped(fmt):
    log, out = logger_for(LogSettings(format=fmt, level="warn"))
    log.debug("d-event")
    log.info("i-event")
    log.warn("w-event")
    log.error("e-event")
    log.critical("c-event")
    text = out.getvalue()
    assert "d-event" not in text and "i-event" not in text
    assert all(word in text for word in ("w-event", "e-event", "c-event"))
    assert len(text.splitlines()) == 3


def test_debug_level_lets_everything_through():
    log, out = logger_for(LogSettings(format="json", level="debug"))
    log.debug("d-event")
    assert [line["level"] for line in json_lines(out)] == ["debug"]


def test_secrets_never_and_bodies_not_at_info_reach_the_output():
    log, out = logger_for(LogSettings(format="json", level="debug"))
    log.info(
        "bind {system_id} with {password}: {text}",
        system_id="esme", password="s3cret-1", client_secret="s3cret-2", passwd="s3cret-3",
        text="hello body", short_message="short body", message_payload="payload body",
    )  # fmt: skip
    log.debug("debug {text}", text="debug body", Password="s3cret-4")
    raw = out.getvalue()
    for leaked in ("s3cret", "hello body", "short body", "payload body"):
        assert leaked not in raw
    info, debug = json_lines(out)
    assert info["message"] == f"bind esme with {REDACTED}: {REDACTED}"
    assert not {"password", "client_secret", "passwd", "text", "short_message", "message_payload"} & set(info)
    assert debug["text"] == "debug body"  # bodies are fine at debug
    assert "Password" not in debug


def test_text_output_is_redacted_too():
    log, out = logger_for(LogSettings(format="text"))
    log.info("bind {system_id} password {password}", system_id="esme", password="s3cret")
    assert "s3cret" not in out.getvalue()
    assert f"bind esme password {REDACTED}" in out.getvalue()


def test_redact_leaves_clean_events_alone():
    event = {"log_level": LogLevel.info, "log_format": "x", "system_id": "a"}
    assert redact(event) is event
    hidden = redact({"log_level": LogLevel.warn, "short_message": b"x"})
    assert hidden["short_message"] == REDACTED and hidden["log_redacted"] == ("short_message",)


def test_the_file_rotates_at_max_bytes_and_keeps_backups(tmp_path):
    path = tmp_path / "smppd.log"
    settings = parse_log_settings(
        {"format": "json", "file": str(path), "max_bytes": 1024, "backups": 2}, "server.json"
    )
    log = Logger(namespace="smppd.test", observer=make_observer(settings))
    for i in range(60):
        log.info("event {i} é", i=i, padding="x" * 40)  # about 150 bytes a line, some not ASCII
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["smppd.log", "smppd.log.1", "smppd.log.2"]
    longest = max(len(line) for p in tmp_path.iterdir() for line in p.read_bytes().splitlines(True))
    for name in ("smppd.log.1", "smppd.log.2"):
        size = (tmp_path / name).stat().st_size
        assert 1024 <= size < 1024 + longest  # rotated once it reached max_bytes
    assert path.stat().st_size < 1024 + longest
    lines = [json.loads(line) for p in tmp_path.iterdir() for line in p.read_text("utf-8").splitlines()]
    assert {line["i"] for line in lines} >= {59, 58}  # the newest are kept
    assert all(line["message"].endswith("é") for line in lines)


def test_no_rotation_with_max_bytes_0(tmp_path):
    path = tmp_path / "smppd.log"
    log = Logger(observer=make_observer(LogSettings(file=str(path), max_bytes=0)))
    for i in range(50):
        log.info("event {i} {padding}", i=i, padding="x" * 40)
    assert [p.name for p in tmp_path.iterdir()] == ["smppd.log"]
    assert len(path.read_text().splitlines()) == 50


@pytest.mark.parametrize(
    "data, message",
    [
        ({"level": "verbose"}, "server.json: log.level: must be one of debug, info, warn, error"),
        ({"format": "xml"}, "server.json: log.format: must be one of text, json"),
        ({"file": 3}, "server.json: log.file: must be a string"),
        ({"file": " "}, "server.json: log.file: must be a file path (or null for stdout)"),
        ({"file": "/nonexistent-dir/smppd.log"}, "server.json: log.file: directory /nonexistent-dir does not exist"),
        ({"max_bytes": 10}, "server.json: log.max_bytes: must be 0 (no rotation) or at least 1024"),
        ({"max_bytes": 1.5e6}, "server.json: log.max_bytes: must be an integer"),
        ({"max_bytes": "10MB"}, "server.json: log.max_bytes: must be a number"),
        ({"backups": 0}, "server.json: log.backups: must be at least 1"),
        ({"rotate": True}, "server.json: log.rotate: unknown key"),
        (["level"], "server.json: log: must be an object"),
    ],
)
def test_bad_settings_are_one_line_naming_the_key(data, message):
    with pytest.raises(ConfigError) as caught:
        parse_log_settings(data, "server.json")
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_settings_from_a_config_reader_keep_its_key_path():
    reader = _Reader("client.json", {"log": {"level": "loud"}})
    with pytest.raises(ConfigError, match=r"^client.json: log.level: must be one of"):
        parse_log_settings(reader.section("log"))


def test_defaults():
    assert parse_log_settings({}, "s.json") == LogSettings(source="s.json")
    assert parse_log_settings(None, "s.json") == LogSettings(source="s.json")
    settings = parse_log_settings({"level": "debug", "format": "json", "file": None}, "s.json")
    assert (settings.level, settings.format, settings.file) == ("debug", "json", None)


def test_an_unwritable_file_is_a_config_error(tmp_path):
    blocked = tmp_path / "ro"
    blocked.mkdir()
    (blocked / "smppd.log").mkdir()  # a directory where the file should be
    with pytest.raises(ConfigError, match="log.file: cannot open"):
        make_observer(LogSettings(file=str(blocked / "smppd.log"), source="s.json"))


def test_twistd_gets_the_observer_through_the_application():
    observer = make_observer(LogSettings(), stream=io.StringIO())
    application = service.Application("smpp-server")
    assert attach_observer(application, observer)
    assert application.getComponent(ILogObserver) is observer
    assert not attach_observer(service.MultiService(), observer)


def test_stdout_is_the_real_one_once_twistd_redirected_it(monkeypatch):
    monkeypatch.setattr(sys, "stdout", LoggingFile(Logger()))
    assert logs._stdout() is sys.__stdout__



def test_legacy_events_come_out_once_without_their_plumbing():
    """What ``twisted.python.log.msg`` (still used inside Twisted) publishes."""
    out = io.StringIO()
    observer = make_observer(LogSettings(format="json"), stream=out)
    legacy = {"message": ("Starting factory",), "time": 1.5e9, "isError": 0, "system": "-"}
    from twisted.logger._legacy import publishToNewObserver
    from twisted.python.log import textFromEventDict

    publishToNewObserver(observer, legacy, textFromEventDict)
    (line,) = json_lines(out)
    assert line["message"] == "Starting factory" and line["level"] == "info"
    assert line["time"] == "2017-07-14T02:40:00.000Z"
    assert line["system"] == "-"
    assert not {"time_", "isError", "message_"} & set(line)


def test_twistd_logs_through_the_attached_observer():
    """What twistd does after makeService: AppLogger.start(application), in a
    child process (it begins global logging and redirects stdout)."""
    import subprocess
    from pathlib import Path

    code = """
from twisted.application import app, service
from twisted.logger import Logger
from smppd.logs import LogSettings, attach_observer, make_observer

class Smsc(service.Service):
    def setServiceParent(self, parent):
        attach_observer(parent, make_observer(LogSettings(format="json", level="info")))
        super().setServiceParent(parent)

application = service.Application("smpp-server")
Smsc().setServiceParent(application)
app.AppLogger({}).start(application)
log = Logger(namespace="smppd.tap.server")
log.debug("not at info")
log.info("bound {system_id}", system_id="esme", password="s3cret")
print("printed text")
"""
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    messages = [line["message"] for line in lines]
    assert any(m.startswith("twistd ") and "starting up" in m for m in messages)
    assert "bound esme" in messages and "not at info" not in messages
    assert "printed text" in messages  # stdout, redirected into the log, as JSON too
    assert "s3cret" not in out.stdout
