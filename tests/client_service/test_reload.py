"""SIGHUP for ``twistd smpp-client``: what a reload applies, what it leaves
for a restart, and an invalid file that changes nothing. The reload is
called directly, on fake time (the thread hop runs inline); the real signal
is sent to a twistd process in ``test_processes.py``."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.application import service
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, formatEvent, globalLogPublisher

from smppd.client.settings import load_client_config
from smppd.pdu import SubmitSm
from smppd.tap.client import ClientProcess
from smppd.testing import TestReactor
from tests.client.support import Network, ScriptedSmsc, consume, patched_endpoints

BASE: dict[str, Any] = {
    "system_id": "test",
    "password": "test",
    "rate": 5,
    "max_queue": 100,
    "http": {"listen": None, "request_timeout": 30, "max_body": 65536, "max_tracked": 1000},
    "webhook": {"url": "http://127.0.0.1:1/a", "retries": 5, "mo_ack": "queued", "concurrency": 4},
    "log": {"level": "info"},
}


class NoHttp:
    """A webhook HTTP client that is never called in these tests."""

    def post(self, *args: Any, **kw: Any) -> Deferred[Any]:
        raise AssertionError("no document is posted here")


@pytest.fixture
def logged() -> Iterator[list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(events.append)


def lines(events: list[dict[str, Any]], level: LogLevel) -> list[str]:
    return [formatEvent(e) for e in events if e.get("log_level") == level and e.get("log_namespace") == "smppd.tap.client"]


def write(path: Path, data: dict[str, Any] | str) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def process_for(path: str, reactor: Any = None) -> ClientProcess:
    process = ClientProcess(load_client_config(path), reactor or TestReactor(), http_client=NoHttp(), config_path=path)
    process.setServiceParent(service.Application("reload-test"))  # as twistd does: the log observer is ours
    return process


def test_reload_applies_what_it_can_and_names_what_needs_a_restart(tmp_path, logged):
    path = write(tmp_path / "client.json", BASE)
    process = process_for(path)
    before = process.settings
    assert process.log_level is not None and process.log_level.logLevelForNamespace("smppd.client") == LogLevel.info
    changed = {
        **BASE,
        # applied
        "rate": 50,
        "max_queue": 200,
        "concatenation": "udh16",
        "languages": ["turkish"],
        "http": {"listen": "tcp:9999:interface=127.0.0.1", "request_timeout": 5, "max_body": 1024, "max_tracked": 10},
        "webhook": {"url": "http://127.0.0.1:1/b", "retries": 1, "mo_ack": "delivered", "concurrency": 8},
        "log": {"level": "error", "format": "json"},
        # for a restart
        "port": 2776,
        "window": 20,
        "reconnect": {"initial": 3},
        "outbind_listen": "tcp:2777:interface=127.0.0.1",
        "outbind_password": "smscpw",
    }
    write(tmp_path / "client.json", changed)
    d = process.reload()
    assert d.called and d.result is None

    c = process.client.config
    assert (c.rate, c.max_queue, c.concatenation, c.languages) == (50, 200, "udh16", (1,))
    assert c.endpoints == before.client.endpoints and c.session == before.client.session
    assert c.reconnect == before.client.reconnect
    api = process.api
    assert (api.settings.request_timeout, api.site.max_body, api.sent.limit) == (5, 1024, 10)
    assert api.settings.listen is None and process.http is None
    webhook = process.webhook
    assert webhook is not None and webhook.url == "http://127.0.0.1:1/b"
    assert (webhook.settings.retries, webhook.settings.mo_ack, webhook.settings.concurrency) == (1, "delivered", 8)
    assert process.log_level.logLevelForNamespace("smppd.client") == LogLevel.error
    assert process.settings.log is not None and process.settings.log.format == "text"  # kept
    assert process.settings.outbind_listen is None and process.outbind is None
    assert process.settings.client is c and process.settings.webhook is webhook.settings

    (warning,) = lines(logged, LogLevel.warn)
    assert warning == (
        f"changed in {path} but needing a restart, kept as they are: host/port/tls/endpoints, window,"
        " reconnect.initial, outbind_password, outbind_listen, http.listen, log.format"
    )
    assert lines(logged, LogLevel.info) == [f"configuration reloaded from {path}"]

    # Still pending on the next reload; gone once the file matches what runs.
    del logged[:]
    process.reload()
    assert lines(logged, LogLevel.warn) == [warning]
    del logged[:]
    write(tmp_path / "client.json", BASE)
    process.reload()
    assert lines(logged, LogLevel.warn) == []
    assert process.client.config.rate == 5
    assert lines(logged, LogLevel.info) == [f"configuration reloaded from {path}"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({**BASE, "rate": 0}, "rate: must be greater than 0"),
        ({**BASE, "webhook": {"url": "ftp://x"}}, "webhook.url: must be an http:// or https:// URL"),
        ({**BASE, "outbind_listen": "nope:1"}, "outbind_listen: 'nope:1' is not a valid endpoint"),
        ({**BASE, "typo": 1}, "typo: unknown key"),
        ('{"system_id": "test", "rate": ', "invalid JSON at line 1"),
        (None, "cannot read"),
    ],
)
def test_an_invalid_file_keeps_the_current_settings_and_logs_one_line(tmp_path, logged, content, reason):
    path = write(tmp_path / "client.json", BASE)
    process = process_for(path)
    before, config, webhook_settings = process.settings, process.client.config, process.webhook.settings
    if content is None:
        Path(path).unlink()
    else:
        write(Path(path), content)
    d = process.reload()
    assert d.called and d.result is None
    assert process.settings is before and process.client.config is config
    assert process.webhook.settings is webhook_settings
    assert process.log_level.logLevelForNamespace("smppd") == LogLevel.info
    (error,) = lines(logged, LogLevel.error)
    assert error.startswith(f"reload refused, keeping the current settings: {path}: {reason}"), error
    assert "\n" not in error
    assert lines(logged, LogLevel.info) == []


def test_sighup_is_handled_only_while_running_with_a_file(tmp_path):
    path = write(tmp_path / "client.json", {**BASE, "webhook": {}, "log": None})
    previous = signal.getsignal(signal.SIGHUP)
    process = ClientProcess(load_client_config(path), MemoryReactorClock(), config_path=path)
    assert signal.getsignal(signal.SIGHUP) == previous  # not when built
    process.startService()
    try:
        assert process.reloader is not None
        assert signal.getsignal(signal.SIGHUP) == process.reloader._signalled
    finally:
        process.stopService()
    assert signal.getsignal(signal.SIGHUP) == previous
    embedded = ClientProcess(load_client_config(path), MemoryReactorClock())
    embedded.startService()
    try:
        assert embedded.reloader is None  # an embedding application owns its signals
        assert signal.getsignal(signal.SIGHUP) == previous
        with pytest.raises(RuntimeError):
            embedded.reload()
    finally:
        embedded.stopService()


def test_a_lower_rate_holds_from_the_reload_on(tmp_path):
    """A client running at 100/s, sent 150 requests, reloaded to 2/s: from
    then on at most 2 go in any second (the burst it kept is cut to 2)."""
    clock = TestReactor()
    clock.advance(1_764_000_000)
    net = Network(clock)
    smsc = net.endpoint("tcp:smsc-a:2775", lambda: ScriptedSmsc(clock))
    config = {
        "system_id": "test",
        "endpoints": ["tcp:smsc-a:2775"],
        "rate": 100,
        "window": 200,
        "enquire_link_interval": None,
        "http": {"listen": None},
    }
    path = write(tmp_path / "client.json", config)
    with patched_endpoints(net):
        process = ClientProcess(load_client_config(path), clock, config_path=path)
        process.startService()
        net.run_until(lambda: process.client.bound_count == 1)
        boxes = [consume(process.client.submit(SubmitSm(destination_addr="1", short_message=b"x"))) for _ in range(150)]
        net.advance(0.5)
        sent_before = len(smsc.servers[0].submits)
        assert sent_before == 100  # the first second's worth at once

        write(tmp_path / "client.json", {**config, "rate": 2})
        process.reload()
        reloaded_at = clock.seconds()
        net.advance(30)
        times = [t for t, p in smsc.servers[0].requests if t >= reloaded_at]
        assert len(times) == 50 and all(b for b in boxes)
        for start in times:
            assert sum(1 for t in times if start <= t < start + 1.0) <= 2, times[:10]
        assert times[-1] - times[0] >= 24  # 50 at 2/s

        stopped = consume(process.stopService())
        net.run_until(lambda: bool(stopped))
        net.flush()
    assert [c for c in clock.getDelayedCalls() if c.active()] == []


def test_the_signal_handler_hops_to_the_reactor_and_reloads(tmp_path, logged):
    path = write(tmp_path / "client.json", BASE)
    process = process_for(path)  # TestReactor: callFromThread and the thread pool run inline
    write(tmp_path / "client.json", {**BASE, "max_queue": 7})
    assert process.reloader is not None
    process.reloader._signalled(signal.SIGHUP, None)
    assert process.client.config.max_queue == 7
    assert lines(logged, LogLevel.info) == [f"configuration reloaded from {path}"]
