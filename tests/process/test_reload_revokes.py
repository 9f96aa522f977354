"""SIGHUP unbinds the sessions of accounts the new users file no longer
admits (removed, password changed, bind type or network no longer allowed)
and keeps every other session bound: through the real twistd process."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

from smppd.pdu import CommandStatus
from tests.process.support import Esme, Servers, submit_sm

OK = CommandStatus.ESME_ROK


def write_users(path: Path, entries: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps({"users": entries}))


def test_sighup_unbinds_revoked_sessions_and_keeps_the_others(servers: Servers, tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    accounts = {
        "keep": {"system_id": "keep", "password": "same"},
        "gone": {"system_id": "gone", "password": "pw1"},
        "moved": {"system_id": "moved", "password": "pw2"},
        "rx": {"system_id": "rx", "password": "pw3"},
        "fenced": {"system_id": "fenced", "password": "pw4"},
    }
    write_users(users, list(accounts.values()))
    config = tmp_path / "server.json"
    config.write_text(json.dumps({"users_file": "users.json", "store": "memory"}))
    server = servers.start(tmp_path, "--config", str(config))

    sessions = {sid: Esme(server.port) for sid in accounts}
    try:
        for sid, esme in sessions.items():
            assert esme.bind(sid, accounts[sid]["password"]).command_status == OK, sid
        # gone: removed; moved: new password; rx: may no longer bind as transceiver;
        # fenced: its network list no longer holds 127.0.0.1. keep: the same (clear-text
        # passwords are hashed again with a new salt on every reload: still the same password).
        write_users(
            users,
            [
                accounts["keep"],
                {"system_id": "moved", "password": "changed"},
                {"system_id": "rx", "password": "pw3", "bind_types": ["receiver"]},
                {"system_id": "fenced", "password": "pw4", "allowed_ips": ["10.0.0.0/8"]},
            ],
        )
        mark = server.mark()
        server.signal(signal.SIGHUP)
        server.wait_for(r"configuration reloaded", start=mark)
        for sid in ("gone", "moved", "rx", "fenced"):
            esme = sessions[sid]
            esme.wait_closed()
            assert esme.unbound_by_server, sid
        keep = sessions["keep"]
        assert not keep.unbound_by_server
        assert keep.enquire_link().command_status == OK
        assert keep.call(submit_sm()).command_status == OK
        assert keep.unbind().command_status == OK
    finally:
        for esme in sessions.values():
            esme.close()
    since = "\n".join(server.lines_since(mark))
    for sid in ("gone", "moved", "rx", "fenced"):
        assert f"{sid} no longer admitted" in since, since
    assert "keep no longer admitted" not in since
