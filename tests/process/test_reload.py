"""SIGHUP re-reads the users file without dropping sessions; a bad file changes nothing."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from smppd.pdu import CommandStatus
from tests.process.support import Esme, ServerProcess, Servers, submit_sm

OK = CommandStatus.ESME_ROK


def write_users(path: Path, users: dict[str, str]) -> None:
    entries = [
        {"system_id": system_id, "password": password} for system_id, password in users.items()
    ]
    path.write_text(json.dumps({"users": entries}))


def binds(server: ServerProcess, system_id: str, password: str) -> bool:
    with Esme(server.port) as esme:
        resp = esme.bind(system_id, password)
        if resp.command_status == OK:
            assert esme.unbind().command_status == OK
        return resp.command_status == OK


def test_sighup_reloads_users_and_keeps_sessions(servers: Servers, tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    write_users(users, {"alice": "first", "keep": "same"})
    config = tmp_path / "server.json"
    config.write_text(json.dumps({"users_file": "users.json", "store": "memory"}))
    server = servers.start(tmp_path, "--config", str(config))
    assert "demo users" not in "\n".join(server.output())

    with Esme(server.port) as old:
        assert old.bind("keep", "same").command_status == OK

        # A new user, a changed password (alice's sessions would be unbound: see test_reload_revokes).
        write_users(users, {"alice": "second", "bob": "builder", "keep": "same"})
        mark = server.mark()
        server.signal(signal.SIGHUP)
        server.wait_for(r"configuration reloaded", start=mark)
        assert binds(server, "bob", "builder")
        assert binds(server, "alice", "second")
        assert not binds(server, "alice", "first")
        # The session bound before the reload still works.
        assert old.enquire_link().command_status == OK
        assert old.call(submit_sm()).command_status == OK

        # An invalid users file: refused with one line, the current users stay.
        users.write_text(json.dumps({"users": [{"system_id": "carol"}]}))  # no password
        mark = server.mark()
        server.signal(signal.SIGHUP)
        server.wait_for(r"reload refused", start=mark)
        assert binds(server, "alice", "second")
        assert binds(server, "bob", "builder")
        assert not binds(server, "carol", "")
        assert old.enquire_link().command_status == OK

        # Broken JSON: the same.
        users.write_text('{"users": [')
        server.signal(signal.SIGHUP)
        server.wait_for(r"reload refused.*invalid JSON", start=mark)
        assert binds(server, "bob", "builder")
        assert old.enquire_link().command_status == OK
        assert old.unbind().command_status == OK

    since = server.lines_since(mark)
    refused = [line for line in since if "reload refused" in line]
    assert len(refused) == 2, since
    assert all(str(users) in line for line in refused), refused
    assert "users[0]" in refused[0], refused[0]  # names the key, not just the file
    assert not [line for line in since if line.startswith("\t") or "Traceback" in line], since
