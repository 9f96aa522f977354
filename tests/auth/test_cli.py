"""The smppd command line: hash-password and check-users."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from smppd import cli
from smppd.auth.hashing import hash_parameters, hash_password, verify_password


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    monkeypatch.setattr("sys.stdin", buffer)
    yield buffer


def prompts(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    asked: list[str] = []
    replies = iter(answers)

    def fake_getpass(prompt: str = "Password: ") -> str:
        asked.append(prompt)
        return next(replies)

    monkeypatch.setattr(cli.getpass, "getpass", fake_getpass)
    return asked


def test_hash_password_from_stdin_default_scrypt(
    stdin: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin.write("s3cret\n")
    stdin.seek(0)
    assert cli.main(["hash-password", "--password-stdin"]) == 0
    out, err = capsys.readouterr()
    encoded = out.strip()
    assert out.count("\n") == 1 and err == ""
    assert hash_parameters(encoded)[0] == "scrypt"
    assert verify_password("s3cret", encoded)
    assert "s3cret" not in out


@pytest.mark.parametrize("line", ["pw with space\n", "pw with space\r\n", "pw with space"])
def test_hash_password_stdin_pbkdf2(
    stdin: io.StringIO, capsys: pytest.CaptureFixture[str], line: str
) -> None:
    stdin.write(line)
    stdin.seek(0)
    assert cli.main(["hash-password", "--scheme", "pbkdf2", "--password-stdin"]) == 0
    encoded = capsys.readouterr().out.strip()
    assert hash_parameters(encoded)[0] == "pbkdf2_sha256"
    assert verify_password("pw with space", encoded)


def test_hash_password_empty_stdin(stdin: io.StringIO, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["hash-password", "--password-stdin"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "empty" in err


def test_hash_password_prompts_twice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = prompts(monkeypatch, "typed", "typed")
    assert cli.main(["hash-password", "--scheme", "pbkdf2"]) == 0
    assert len(asked) == 2
    assert verify_password("typed", capsys.readouterr().out.strip())


def test_hash_password_mismatch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts(monkeypatch, "one", "two")
    assert cli.main(["hash-password"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "do not match" in err
    assert "one" not in err and "two" not in err


def test_hash_password_interrupted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr(cli.getpass, "getpass", interrupted)
    assert cli.main(["hash-password"]) == 1
    assert capsys.readouterr().out == ""


def test_hash_password_warns_when_too_long_for_smpp(
    stdin: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin.write("ninechars\n")
    stdin.seek(0)
    assert cli.main(["hash-password", "--scheme", "pbkdf2", "--password-stdin"]) == 0
    out, err = capsys.readouterr()
    assert verify_password("ninechars", out.strip())
    assert "at most 8 octets" in err and "ninechars" not in err


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert cli.main(["hash-password", "--scheme", "md5"]) == 2
    assert cli.main(["no-such-command"]) == 2
    assert cli.main(["check-users"]) == 2
    assert "usage: smppd" in capsys.readouterr().err
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "hash-password" in out and "check-users" in out


def test_check_users_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "users.json"
    encoded = hash_password("pw", "pbkdf2", iterations=10)
    path.write_text(json.dumps({"users": [{"system_id": "a", "password_hash": encoded}]}))
    assert cli.main(["check-users", str(path)]) == 0
    assert capsys.readouterr() == ("ok\n", "")


def test_check_users_warns_about_clear_passwords(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": [{"system_id": "demo", "password": "demo-pw"}]}))
    assert cli.main(["check-users", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == "ok\n"
    assert "clear-text password for demo" in err and "demo-pw" not in err


def test_check_users_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": [{"system_id": "a", "password": "x", "throughput": 0}]}))
    assert cli.main(["check-users", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"{path}: users[0].throughput: must be a positive number\n"


def test_check_users_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-users", str(tmp_path / "nope.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{tmp_path / 'nope.json'}: cannot read") and err.count("\n") == 1
