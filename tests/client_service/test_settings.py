"""The client's configuration file and the ``twistd smpp-client`` options."""

from __future__ import annotations

import json

import pytest
from twisted.application.service import IServiceMaker
from twisted.plugin import getPlugins

from smppd.client.config import ReconnectPolicy
from smppd.client.settings import (
    DEFAULT_HTTP_LISTEN,
    ClientSettings,
    ConfigError,
    load_client_config,
    parse_client_config,
)
from smppd.tap.client import ClientProcess, Options


def write(tmp_path, data, name="client.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_example_config_has_every_key_and_loads():
    settings = load_client_config("etc/client.json")
    c = settings.client
    assert c.endpoints == ("tcp:host=127.0.0.1:port=2775",)
    assert (c.system_id, c.password, c.bind_type, c.binds) == ("test", "test", "transceiver", 1)
    assert c.session.window == 10 and c.session.enquire_link_interval == 30
    assert c.reconnect == ReconnectPolicy(1, 2, 60, 0.2, None)
    assert settings.http.listen == DEFAULT_HTTP_LISTEN
    assert settings.webhook.url == "http://127.0.0.1:8080/smpp" and settings.webhook.mo_ack == "queued"
    # Every setting the parser knows is spelled out in the example.
    with open("etc/client.json") as f:
        example = json.load(f)
    assert set(example) >= {
        "host", "port", "tls", "system_id", "password", "system_type", "bind_type", "binds",
        "bind_timeout", "response_timeout", "enquire_link_interval", "unbind_timeout", "window",
        "rate", "reconnect", "concatenation", "languages", "receipt_timeout", "http", "webhook",
        "outbind_listen",
    }
    assert example["outbind_listen"] is None and settings.outbind_listen is None
    assert set(example["webhook"]) >= {"url", "timeout", "retries", "queue_size", "mo_ack"}


def test_minimal_config_is_the_defaults():
    settings = parse_client_config({"system_id": "shop"})
    assert settings.client.endpoints == ("tcp:host=127.0.0.1:port=2775",)
    assert settings.http.listen == "tcp:9091:interface=127.0.0.1"
    assert settings.webhook.url is None
    assert settings.outbind_listen is None
    assert isinstance(settings, ClientSettings)


def test_outbind_listen_is_a_server_endpoint_or_null():
    on = parse_client_config(
        {"system_id": "a", "outbind_listen": "tcp:2776:interface=127.0.0.1", "outbind_password": "smscpw"}
    )
    assert on.outbind_listen == "tcp:2776:interface=127.0.0.1"
    assert (on.client.outbind_system_id, on.client.outbind_password) == (None, "smscpw")
    off = parse_client_config({"system_id": "a", "outbind_listen": None})
    assert off.outbind_listen is None
    process = ClientProcess(on)  # built, not started: nothing listens yet
    assert process.outbind is not None and process.outbind.port is None
    assert ClientProcess(off).outbind is None


def test_tls_endpoints_languages_and_alias():
    settings = parse_client_config(
        {
            "system_id": "shop",
            "host": "smsc.example.com",
            "port": 3550,
            "tls": True,
            "languages": ["turkish", 2],
            "max_reconnect_attempts": 3,
            "bind_type": "tx",
            "rate": 50,
            "http": {"listen": None},
        }
    )
    c = settings.client
    assert c.endpoints == ("tls:host=smsc.example.com:port=3550",)
    assert c.languages == (1, 2)
    assert c.reconnect.max_attempts == 3
    assert c.bind_type == "transmitter" and c.rate == 50
    assert settings.http.listen is None
    many = parse_client_config({"system_id": "a", "endpoints": ["tcp:10.0.0.1:2775", "tcp:10.0.0.2:2775"]})
    assert many.client.endpoints == ("tcp:10.0.0.1:2775", "tcp:10.0.0.2:2775")
    v6 = parse_client_config({"system_id": "a", "host": "::1"})
    assert v6.client.endpoints == (r"tcp:host=\:\:1:port=2775",)


@pytest.mark.parametrize(
    ("data", "key", "reason"),
    [
        ({}, "system_id", "is required"),
        ({"system_id": "x" * 16}, "system_id", "at most 15 characters"),
        ({"system_id": "a", "password": "123456789"}, "password", "at most 8 characters"),
        ({"system_id": "a", "password": 1234}, "password", "must be a string"),
        ({"system_id": "a", "port": "2775"}, "port", "must be a number"),
        ({"system_id": "a", "port": 70000}, "port", "at most 65535"),
        ({"system_id": "a", "host": ""}, "host", "must not be empty"),
        ({"system_id": "a", "tls": "yes"}, "tls", "must be true or false"),
        ({"system_id": "a", "endpoints": []}, "endpoints", "at least one endpoint"),
        ({"system_id": "a", "endpoints": ["bogus:1"]}, "endpoints[0]", "not a valid endpoint"),
        ({"system_id": "a", "endpoints": ["tcp:h:1"], "port": 1}, "port", "not both"),
        ({"system_id": "a", "bind_type": "both"}, "bind_type", "must be one of"),
        ({"system_id": "a", "binds": 0}, "binds", "must be at least 1"),
        ({"system_id": "a", "window": 2.5}, "window", "must be an integer"),
        ({"system_id": "a", "enquire_link_interval": "30"}, "enquire_link_interval", "must be a number"),
        ({"system_id": "a", "bind_timeout": 0}, "bind_timeout", "greater than 0"),
        ({"system_id": "a", "rate": 0}, "rate", "greater than 0"),
        ({"system_id": "a", "reconnect": {"factor": 0.5}}, "reconnect.factor", "must be at least 1"),
        ({"system_id": "a", "reconnect": {"jitter": 1.5}}, "reconnect.jitter", "less than 1"),
        ({"system_id": "a", "reconnect": {"initial": 10, "maximum": 5}}, "reconnect.maximum", "at least"),
        ({"system_id": "a", "reconnect": {"typo": 1}}, "reconnect.typo", "unknown key"),
        (
            {"system_id": "a", "reconnect": {"max_attempts": 2}, "max_reconnect_attempts": 3},
            "max_reconnect_attempts",
            "not both",
        ),
        ({"system_id": "a", "max_reconnect_attempts": 0}, "max_reconnect_attempts", "at least 1"),
        ({"system_id": "a", "concatenation": "udh7"}, "concatenation", "must be one of udh8"),
        ({"system_id": "a", "languages": ["klingon"]}, "languages[0]", "not a national language"),
        ({"system_id": "a", "languages": "turkish"}, "languages", "must be a list"),
        ({"system_id": "a", "receipt_timeout": -1}, "receipt_timeout", "must be at least 0"),
        ({"system_id": "a", "http": {"listen": "nope:1"}}, "http.listen", "not a valid endpoint"),
        ({"system_id": "a", "http": {"listen": 9091}}, "http.listen", "endpoint string"),
        ({"system_id": "a", "http": {"max_body": 10}}, "http.max_body", "at least 256"),
        ({"system_id": "a", "http": []}, "http", "must be an object"),
        ({"system_id": "a", "outbind_listen": "nope:2776"}, "outbind_listen", "not a valid endpoint"),
        ({"system_id": "a", "outbind_listen": "tcp:2776"}, "outbind_password", "required with outbind_listen"),
        ({"system_id": "a", "outbind_password": "123456789"}, "outbind_password", "at most 8 characters"),
        ({"system_id": "a", "outbind_listen": "tcp:port=x"}, "outbind_listen", "not a valid endpoint"),
        ({"system_id": "a", "outbind_listen": 2776}, "outbind_listen", "endpoint string (or null: no outbind)"),
        ({"system_id": "a", "outbind_listen": ""}, "outbind_listen", "endpoint string"),
        ({"system_id": "a", "webhook": {"url": "ftp://x"}}, "webhook.url", "http:// or https://"),
        ({"system_id": "a", "webhook": {"url": "http://x", "retries": -1}}, "webhook.retries", "at least 0"),
        ({"system_id": "a", "webhook": {"queue_size": 0}}, "webhook.queue_size", "at least 1"),
        ({"system_id": "a", "webhook": {"timeout": 0}}, "webhook.timeout", "greater than 0"),
        ({"system_id": "a", "webhook": {"mo_ack": "maybe"}}, "webhook.mo_ack", "queued, delivered"),
        ({"system_id": "a", "webhook": {"secret": "x"}}, "webhook.secret", "unknown key"),
        ({"system_id": "a", "whatever": 1}, "whatever", "unknown key"),
    ],
)
def test_mistakes_name_file_and_key(tmp_path, data, key, reason):
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as e:
        load_client_config(path)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key}: "), message
    assert reason in message


@pytest.mark.parametrize(
    ("text", "reason"),
    [("{", "invalid JSON at line 1"), ("[]", "must hold a JSON object"), ('{"a": 1, "a": 2}', "duplicate key")],
)
def test_unparseable_files(tmp_path, text, reason):
    with pytest.raises(ConfigError, match=reason):
        load_client_config(write(tmp_path, text))


def test_twistd_options_load_the_config(tmp_path):
    path = write(tmp_path, {"system_id": "shop", "port": 2776, "webhook": {"url": "http://127.0.0.1:1/x"}})
    options = Options()
    options.parseOptions(["--config", path])
    settings = options["settings"]
    assert settings.client.system_id == "shop" and settings.source == path
    process = ClientProcess(settings)  # built, not started: no I/O in constructors
    assert process.webhook is not None and process.http is not None
    assert not process.running


def test_twistd_options_bad_config_is_one_line_and_exit_2(tmp_path, capsys):
    path = write(tmp_path, {"system_id": "shop", "window": -3})
    with pytest.raises(SystemExit) as e:
        Options().parseOptions(["--config", path])
    assert e.value.code == 2
    assert capsys.readouterr().err == f"smpp-client: {path}: window: must be at least 1\n"


def test_twistd_options_bad_outbind_listen_is_one_line_and_exit_2(tmp_path, capsys):
    path = write(tmp_path, {"system_id": "shop", "outbind_listen": "tcp:nine"})
    with pytest.raises(SystemExit) as e:
        Options().parseOptions(["--config", path])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"smpp-client: {path}: outbind_listen: 'tcp:nine' is not a valid endpoint: ")
    assert err.count("\n") == 1


def test_twistd_options_need_a_config(capsys):
    with pytest.raises(SystemExit) as e:
        Options().parseOptions([])
    assert e.value.code == 2
    assert capsys.readouterr().err == "smpp-client: --config is required (see etc/client.json)\n"


def test_twistd_options_missing_file(capsys):
    with pytest.raises(SystemExit):
        Options().parseOptions(["--config", "/nonexistent/client.json"])
    err = capsys.readouterr().err
    assert err.startswith("smpp-client: /nonexistent/client.json: cannot read") and err.count("\n") == 1


def test_plugin_is_found():
    import twisted.plugins

    names = {p.tapname: p for p in getPlugins(IServiceMaker, twisted.plugins)}
    assert "smpp-client" in names
    assert names["smpp-client"].options is Options


def test_twistd_tunes_the_collector_once_started(tmp_path, monkeypatch):
    from twisted.internet.testing import MemoryReactorClock

    import smppd.tap.client as tap

    calls: list[None] = []
    monkeypatch.setattr(tap, "tune_gc", lambda: calls.append(None))
    options = Options()
    options.parseOptions(["--config", write(tmp_path, {"system_id": "shop", "http": {"listen": None}})])
    assert tap.makeService(options).gc_tuning
    process = ClientProcess(options["settings"], MemoryReactorClock(), gc_tuning=True)
    assert calls == []  # not when built
    process.startService()
    assert calls == [None]
    process.stopService()
    embedded = ClientProcess(options["settings"], MemoryReactorClock())
    embedded.startService()
    assert calls == [None]  # an application embedding the client decides for itself
    embedded.stopService()


def test_tune_gc_freezes_what_start_up_built(monkeypatch):
    import gc

    from smppd.runtime import tune_gc

    seen: list[str] = []
    monkeypatch.setattr(gc, "collect", lambda *a: seen.append("collect"))
    monkeypatch.setattr(gc, "freeze", lambda: seen.append("freeze"))
    monkeypatch.setattr(gc, "set_threshold", lambda *a: seen.append(f"threshold {a}"))
    tune_gc()
    assert seen == ["collect", "freeze", "threshold (50000, 20, 20)"]
