"""Configuration files: every mistake is one line naming the file and the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smppd.config import ConfigError, ServerSettings, load_server_config, parse_server_config
from smppd.logs import LogSettings
from smppd.pdu import MessageState
from smppd.storage import StoreOptions
from smppd.tap.server import Options, SmscService


def write(tmp_path, data, name="server.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


# every mistake in "store" names its key
STORE_MISTAKES = [
    (42, "store", "must be a string"),
    ({"kind": "redis"}, "store.kind", "must be one of memory, sqlite, file"),
    ({"kind": "file"}, "store.path", "is required for a file store"),
    ({"kind": "sqlite", "path": ""}, "store.path", "is required for a sqlite store"),
    ({"kind": "sqlite", "path": 3}, "store.path", "must be a string"),
    ({"kind": "memory", "path": "x"}, "store.path", "the memory store has no path"),
    ({"retention": -1}, "store.retention", "must be at least 0"),
    ({"retention": "7d"}, "store.retention", "must be a number"),
    ({"sync": "always"}, "store.sync", "must be one of normal, full"),
    ({"kind": "file", "path": "j", "sync": "full"}, "store.sync", "is for a sqlite store, not file"),
    ({"kind": "file", "path": "j", "fsync": "yes"}, "store.fsync", "must be true or false"),
    ({"kind": "sqlite", "fsync": False}, "store.fsync", "is for a file store, not sqlite"),
    ({"kind": "memory", "max_segment_bytes": 4096}, "store.max_segment_bytes", "is for a file store, not memory"),
    ({"kind": "file", "path": "j", "max_segment_bytes": 10}, "store.max_segment_bytes", "must be at least 4096"),
    ({"kind": "file", "path": "j", "max_segment_bytes": 1e6}, "store.max_segment_bytes", "must be an integer"),
    ({"kind": "sqlite", "retain": 1}, "store.retain", "unknown key"),
]


def test_example_config_loads():
    settings = load_server_config("etc/server.json")
    assert settings.listen == ("tcp:2775:interface=127.0.0.1",)
    assert settings.users_file == str(REPO_ETC / "users.json")
    server = settings.server
    assert server.session.window == 50 and server.session.inactivity_timeout is None
    assert server.simulator_rules[0].state == MessageState.UNDELIVERABLE
    assert server.distribution_lists["staff"] == ("447700900001", "447700900002")
    assert server.routes[0].system_id == "esme"


def test_empty_config_is_the_defaults():
    assert parse_server_config({}) == ServerSettings(source="(config)")
    assert parse_server_config({"log": {}}).log == LogSettings(source="(config)")


@pytest.mark.parametrize(
    ("data", "key", "reason"),
    [
        ({"listen": "tcp:2775"}, "listen", "must be a list of strings"),
        ({"listen": []}, "listen", "must name at least one endpoint"),
        ({"store": "mysql:x"}, "store", "is not valid"),
        ({"system_id": "x" * 16}, "system_id", "is not valid"),
        ({"session": {"window": 0}}, "session.window", "must be at least 1"),
        ({"session": {"window": 2.5}}, "session.window", "must be an integer"),
        ({"session": {"enquire_link_interval": "60"}}, "session.enquire_link_interval", "must be a number"),
        ({"session": {"typo": 1}}, "session.typo", "unknown key"),
        ({"limits": {"max_connections": True}}, "limits.max_connections", "must be a number"),
        ({"messages": {"id_format": "uuid"}}, "messages.id_format", "must be one of hex, decimal"),
        ({"routes": [{"pattern": "(", "system_id": "a"}]}, "routes[0].pattern", "not an accepted destination pattern"),
        ({"routes": [{"pattern": "^1"}]}, "routes[0].system_id", "is required"),
        ({"simulator": {"rules": [{}, {"prefix": "1", "state": "LOST"}]}}, "simulator.rules[1].state", "must be one of"),
        ({"simulator": {"default_delay": -1}}, "simulator.default_delay", "must be at least 0"),
        ({"distribution_lists": {"staff": []}}, "distribution_lists.staff", "non-empty list"),
        ({"retry": {"factor": 0.5}}, "retry.factor", "must be at least 1"),
        ({"whatever": 1}, "whatever", "unknown key"),
        *[({"store": store}, key, reason) for store, key, reason in STORE_MISTAKES],
    ],
)
def test_mistakes_name_file_and_key(tmp_path, data, key, reason):
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as e:
        load_server_config(path)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key}: ")
    assert reason in message


@pytest.mark.parametrize(
    ("text", "reason"),
    [("{", "invalid JSON at line 1"), ("[]", "must hold a JSON object"), ('{"a": 1, "a": 2}', "duplicate key")],
)
def test_unparseable_files(tmp_path, text, reason):
    with pytest.raises(ConfigError, match=reason):
        load_server_config(write(tmp_path, text))


def test_missing_file():
    with pytest.raises(ConfigError, match="cannot read"):
        load_server_config("/nonexistent/server.json")


def test_twistd_options_bad_config_is_one_line_and_exit_2(tmp_path, capsys):
    path = write(tmp_path, {"session": {"window": -3}})
    with pytest.raises(SystemExit) as e:
        Options().parseOptions(["--config", path])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err == f"smpp-server: {path}: session.window: must be at least 1\n"


def test_twistd_options_bad_users_file(tmp_path, capsys):
    users = write(tmp_path, {"users": [{"system_id": "a", "password": "b", "throughput": -1}]}, "users.json")
    path = write(tmp_path, {"users_file": users})
    with pytest.raises(SystemExit):
        Options().parseOptions(["--config", path])
    err = capsys.readouterr().err.strip()
    assert err.startswith("smpp-server: ") and "users[0].throughput" in err and "\n" not in err


def test_twistd_options_overrides():
    options = Options()
    options.parseOptions(["--listen", "tcp:0", "--listen", r"tcp:0:interface=\:\:1", "--store", "memory"])
    settings = options["settings"]
    assert settings.listen == ("tcp:0", r"tcp:0:interface=\:\:1")
    assert settings.store == "memory"
    assert options["users"] is None  # demo users


def test_twistd_options_bad_store(capsys):
    with pytest.raises(SystemExit):
        Options().parseOptions(["--store", "postgres"])
    assert "--store: store:" in capsys.readouterr().err


def test_http_endpoint_setting():
    assert parse_server_config({}).http == "tcp:9090:interface=127.0.0.1"
    assert parse_server_config({"http": {"enabled": False}}).http is None
    assert parse_server_config({"http": {"listen": "tcp:0"}}).http == "tcp:0"
    options = Options()
    options.parseOptions(["--http", "none"])
    assert options["settings"].http is None


@pytest.mark.parametrize("spec", ["tcp:notaport", "tcp:0:interface=::1", "nosuch:1"])
def test_bad_endpoint_is_a_config_error(spec, capsys):
    with pytest.raises(SystemExit):
        Options().parseOptions(["--listen", spec, "--http", "none"])
    err = capsys.readouterr().err
    assert err.startswith("smpp-server: ") and "listen[0]" in err and err.count("\n") == 1


# -- the store ------------------------------------------------------------------


def test_store_defaults_keep_a_week():
    settings = parse_server_config({})
    assert settings.store == "sqlite:smppd-data/smppd.sqlite3"
    assert settings.store_options == StoreOptions(kind="sqlite", retention=604800, sync="normal")


def test_store_as_a_spec_string_still_works():
    settings = parse_server_config({"store": "file:/var/lib/smppd/journal"})
    assert settings.store == "file:/var/lib/smppd/journal"
    assert settings.store_options == StoreOptions(kind="file")


@pytest.mark.parametrize(
    ("store", "spec", "options"),
    [
        ({"kind": "sqlite", "path": "d/s.sqlite3", "retention": 86400, "sync": "full"}, "sqlite:d/s.sqlite3",
         StoreOptions(kind="sqlite", retention=86400, sync="full")),
        ({"retention": None}, "sqlite:smppd-data/smppd.sqlite3", StoreOptions(kind="sqlite", retention=None)),
        ({"kind": "sqlite", "retention": 0}, "sqlite:smppd-data/smppd.sqlite3", StoreOptions(kind="sqlite", retention=None)),
        ({"kind": "file", "path": "j", "fsync": False, "max_segment_bytes": 1048576, "retention": 3600.5}, "file:j",
         StoreOptions(kind="file", retention=3600.5, fsync=False, max_segment_bytes=1048576)),
        ({"kind": "memory", "retention": 60}, "memory", StoreOptions(kind="memory", retention=60)),
    ],
)
def test_store_object(store, spec, options):
    settings = parse_server_config({"store": store})
    assert settings.store == spec
    assert settings.store_options == options


def test_twistd_bad_store_option_is_one_line_and_exit_2(tmp_path, capsys):
    path = write(tmp_path, {"store": {"kind": "sqlite", "retention": -5}})
    with pytest.raises(SystemExit) as e:
        Options().parseOptions(["--config", path])
    assert e.value.code == 2
    assert capsys.readouterr().err == f"smpp-server: {path}: store.retention: must be at least 0\n"


def test_store_override_keeps_the_options_of_its_kind(tmp_path):
    path = write(tmp_path, {"store": {"kind": "sqlite", "path": "a.sqlite3", "retention": 60, "sync": "full"}})
    options = Options()
    options.parseOptions(["--config", path, "--store", f"sqlite:{tmp_path}/b.sqlite3"])
    store = SmscService(options["settings"], None).store
    assert (store.path, store.retention, store.sync) == (f"{tmp_path}/b.sqlite3", 60.0, "full")
    options = Options()
    options.parseOptions(["--config", path, "--store", "memory"])
    store = SmscService(options["settings"], None).store
    assert store.retention == 604800.0  # another kind: its defaults


def test_example_config_store():
    settings = load_server_config("etc/server.json")
    # (relative to the file: etc/, not the working directory)
    assert settings.store == f"sqlite:{REPO_ETC / 'smppd-data/smppd.sqlite3'}"
    assert settings.store_options == StoreOptions(kind="sqlite", retention=604800, sync="normal")


def test_auth_limits_and_bind_penalty_are_read_and_validated():

    settings = parse_server_config(
        {
            "limits": {"max_unbound_per_host": 5, "max_bind_failures": 2, "max_verifications": 9, "max_verifications_per_host": 3},
            "bind_penalty": {"free_failures": 0, "base_delay": 0.5, "max_delay": 4, "forget_after": 60, "max_hosts": 100},
            "session": {"partial_pdu_timeout": 7},
        },
        "t.json",
    )
    server = settings.server
    assert (server.max_unbound_per_host, server.max_bind_failures) == (5, 2)
    assert (server.max_verifications, server.max_verifications_per_host) == (9, 3)
    assert server.bind_penalty.free_failures == 0 and server.bind_penalty.max_hosts == 100
    assert server.session.partial_pdu_timeout == 7
    example = load_server_config("etc/server.json").server
    assert example.max_bind_failures == 3 and example.session.partial_pdu_timeout == 30
    for bad in (
        {"limits": {"max_bind_failures": 0}},
        {"limits": {"max_verifications_per_host": "4"}},
        {"bind_penalty": {"max_hosts": 0}},
        {"bind_penalty": {"unknown": 1}},
        {"session": {"partial_pdu_timeout": 0}},
    ):
        with pytest.raises(ConfigError) as info:
            parse_server_config(bad, "t.json")
        assert "t.json" in str(info.value)


REPO_ETC = Path(__file__).resolve().parent.parent / "etc"


def test_relative_paths_in_a_config_file_are_relative_to_that_file(tmp_path, monkeypatch):
    """store (string, object, or the default), users_file and log.file, as
    users_file always was; the working directory plays no part."""
    conf = tmp_path / "conf"
    (conf / "logs").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cases = [
        ({"store": "sqlite:data/s.db"}, f"sqlite:{conf / 'data/s.db'}"),
        ({"store": "file:journal"}, f"file:{conf / 'journal'}"),
        ({"store": {"kind": "sqlite", "path": "d/x.sqlite3"}}, f"sqlite:{conf / 'd/x.sqlite3'}"),
        ({}, f"sqlite:{conf / 'smppd-data/smppd.sqlite3'}"),  # the default, with a file
        ({"store": "sqlite:/abs/s.db"}, "sqlite:/abs/s.db"),
        ({"store": "memory"}, "memory"),
    ]
    for data, store in cases:
        settings = load_server_config(write(conf, data))
        assert settings.store == store, data
    (conf / "users.json").write_text(json.dumps({"users": [{"system_id": "a", "password": "b"}]}))
    settings = load_server_config(write(conf, {"users_file": "users.json", "log": {"file": "logs/smppd.log"}}))
    assert settings.users_file == str(conf / "users.json")
    assert settings.log is not None and settings.log.file == str(conf / "logs/smppd.log")
    # (logs/ exists under conf, not under the working directory: validated where it resolves)
    assert not (elsewhere / "logs").exists()
    # no file at all: the documented ./smppd-data under the working directory
    assert ServerSettings().store == "sqlite:smppd-data/smppd.sqlite3"


def test_a_client_log_file_is_relative_to_its_config_file(tmp_path, monkeypatch):
    from smppd.client.settings import load_client_config

    (tmp_path / "conf" / "logs").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "conf" / "client.json"
    path.write_text(json.dumps({"system_id": "a", "log": {"file": "logs/client.log"}}))
    settings = load_client_config(str(path))
    assert settings.log is not None and settings.log.file == str(tmp_path / "conf" / "logs/client.log")
