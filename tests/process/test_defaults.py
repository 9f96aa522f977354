"""``twistd -n smpp-server`` with no options: the documented demo set-up.

The one test that needs a fixed port: the default 127.0.0.1:2775. When that
port is taken it fails saying so instead of flaking.
"""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from smppd.pdu import CommandStatus
from tests.process.support import HOST, LISTENING, Esme, Servers, free_port_or_fail, submit_sm

DEFAULT_PORT = 2775


def test_no_options_listens_on_2775_with_sqlite_under_cwd_and_demo_users(
    servers: Servers, tmp_path: Path
) -> None:
    free_port_or_fail(DEFAULT_PORT)
    server = servers.start(tmp_path, isolated=False)
    assert server.wait_for(LISTENING).group(1, 2) == (HOST, str(DEFAULT_PORT))
    output = "\n".join(server.output())
    assert "demo users are active" in output, output
    warning = next(line for line in server.output() if "demo users are active" in line)
    assert "#warn]" in warning, warning
    # The demo passwords are public but still not logged.
    assert "password1" not in output and "esme123" not in output

    with Esme(DEFAULT_PORT) as esme:
        assert esme.bind("test", "test").command_status == CommandStatus.ESME_ROK
        assert esme.call(submit_sm(registered_delivery=0)).command_status == CommandStatus.ESME_ROK
        assert esme.unbind().command_status == CommandStatus.ESME_ROK
    server.signal(signal.SIGTERM)
    assert server.wait() in (0, -signal.SIGTERM)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["smppd-data"]
    database = tmp_path / "smppd-data" / "smppd.sqlite3"
    assert database.is_file()
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        assert db.execute("SELECT COUNT(*) FROM messages").fetchone() == (1,)
    finally:
        db.close()
