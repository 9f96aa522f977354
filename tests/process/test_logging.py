"""twistd smpp-server logs as its config's ``log`` section says."""

from __future__ import annotations

import json
from pathlib import Path

from smppd.pdu import CommandStatus
from tests.process.support import Esme, Servers, submit_sm


def test_json_log_lines_with_level_and_no_secrets(servers: Servers, tmp_path: Path) -> None:
    config = tmp_path / "server.json"
    config.write_text(json.dumps({"store": "memory", "log": {"format": "json", "level": "info"}}))
    server = servers.start(tmp_path, "--config", str(config))
    with Esme(server.port) as esme:
        assert esme.bind("test", "test").command_status == CommandStatus.ESME_ROK
        assert esme.call(submit_sm(text=b"a secret body", registered_delivery=0)).command_status == 0
        esme.unbind()
    server.close()
    lines = server.output("stdout")
    events = [json.loads(line) for line in lines]
    assert events and all({"time", "level", "namespace", "message"} <= set(e) for e in events)
    assert any("listening on 127.0.0.1" in e["message"] for e in events)
    assert any(e["message"].endswith("test bound as transceiver") for e in events)
    assert all(e["level"] in ("info", "warn", "error", "critical") for e in events)
    text = "\n".join(lines)
    assert "a secret body" not in text and '"test"' not in text.replace('"system_id": "test"', "")
