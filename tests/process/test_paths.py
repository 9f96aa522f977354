"""Relative paths in a config file resolve against that file's directory,
not the working directory (under systemd without WorkingDirectory= that is /)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from smppd.pdu import CommandStatus
from tests.process.support import Esme, Servers, submit_sm


def test_a_relative_store_and_users_file_resolve_beside_the_config(servers: Servers, tmp_path: Path) -> None:
    conf = tmp_path / "etc"
    conf.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (conf / "users.json").write_text(json.dumps({"users": [{"system_id": "pathy", "password": "secret"}]}))
    config = conf / "server.json"
    config.write_text(
        json.dumps(
            {
                "store": {"kind": "sqlite", "path": "data/smppd.sqlite3"},
                "users_file": "users.json",
            }
        )
    )
    server = servers.start(cwd, "--config", str(config))
    with Esme(server.port) as esme:
        assert esme.bind("pathy", "secret").command_status == CommandStatus.ESME_ROK
        assert esme.call(submit_sm(registered_delivery=0)).command_status == CommandStatus.ESME_ROK
        assert esme.unbind().command_status == CommandStatus.ESME_ROK
    server.signal(signal.SIGTERM)
    server.wait()
    assert (conf / "data" / "smppd.sqlite3").is_file()
    # (log.file: tests/test_config.py; here the log is read from stdout)
    assert list(cwd.iterdir()) == []  # nothing under the working directory
