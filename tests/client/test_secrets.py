"""Secrets stay out of reprs and argv: ClientConfig's repr, ``smppd send``'s password sources."""

from __future__ import annotations

import io

import pytest

from smppd import cli
from smppd.client.config import ClientConfig
from smppd.client.settings import parse_client_config


def test_no_password_in_the_repr_of_a_client_config():
    config = ClientConfig(system_id="acme", password="s3cr3t", outbind_password="0utb1nd")
    assert "s3cr3t" not in repr(config) and "0utb1nd" not in repr(config)
    assert "acme" in repr(config)
    settings = parse_client_config(
        {"system_id": "acme", "password": "s3cr3t", "outbind_listen": "tcp:0", "outbind_password": "0utb1nd"}
    )
    assert "s3cr3t" not in repr(settings) and "0utb1nd" not in repr(settings)


def settings_for(argv, monkeypatch, *, tty=False, env=None):
    monkeypatch.delenv("SMPP_PASSWORD", raising=False)
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    stdin = io.StringIO()
    stdin.isatty = lambda: tty  # type: ignore[method-assign]
    monkeypatch.setattr("sys.stdin", stdin)
    args = cli.build_parser().parse_args(["send", "--system-id", "acme", "--to", "1", "--text", "hi", *argv])
    return cli._send_settings(args).client


def test_password_file_environment_and_prompt(monkeypatch, tmp_path, capsys):
    secret = tmp_path / "pw"
    secret.write_text("fromfile\r\nsecond line\n")
    assert settings_for(["--password-file", str(secret)], monkeypatch).password == "fromfile"
    assert settings_for([], monkeypatch, env={"SMPP_PASSWORD": "fromenv"}).password == "fromenv"
    monkeypatch.setattr("getpass.getpass", lambda prompt: "typed")
    assert settings_for([], monkeypatch, tty=True).password == "typed"
    assert settings_for([], monkeypatch, tty=False).password == ""  # not a terminal: no prompt
    assert capsys.readouterr().err == ""
    assert settings_for(["--password", "argv"], monkeypatch).password == "argv"
    assert "--password is visible to other users" in capsys.readouterr().err


def test_a_config_file_password_is_not_prompted_for(monkeypatch, tmp_path):
    config = tmp_path / "c.json"
    config.write_text('{"system_id": "acme", "password": "inconf"}')
    monkeypatch.setattr("getpass.getpass", lambda prompt: pytest.fail("prompted"))
    assert settings_for(["--config", str(config)], monkeypatch, tty=True).password == "inconf"


def test_password_and_password_file_are_exclusive(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["send", "--to", "1", "--text", "x", "--password", "a", "--password-file", "f"])
