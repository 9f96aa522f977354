"""A bad configuration: one line on stderr naming the file and the key, a
non-zero exit, no traceback and no usage dump.

Every case is its own ``twistd`` process; they all start at once (module
fixture) because most of each run is the interpreter starting. The many
ways a file can be wrong are unit-tested (tests/test_config.py,
tests/auth/test_users.py); here: that each kind of error reaches the
command line as one line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.process.support import PROCESS_TIMEOUT, Servers

USERS_BAD_ID = json.dumps({"users": [{"system_id": "x" * 16, "password": "p"}]})


@attrs.frozen
class Case:
    files: dict[str, str]  # written into the case's directory (the cwd)
    args: tuple[str, ...]  # "{dir}" is the case's directory
    names: tuple[str, ...]  # what the one line must name ("{dir}" likewise)


CASES = {
    "unknown key": Case(
        {"server.json": json.dumps({"store": "memory", "bogus_key": 1})},
        ("--config", "{dir}/server.json"),
        ("{dir}/server.json", "bogus_key", "unknown key"),
    ),
    "nested value": Case(
        {"server.json": json.dumps({"simulator": {"rules": [{"prefix": "44", "state": "LOST"}]}})},
        ("--config", "{dir}/server.json"),
        ("{dir}/server.json", "simulator.rules[0].state"),
    ),
    "missing config file": Case({}, ("--config", "{dir}/nowhere.json"), ("{dir}/nowhere.json",)),
    "bad users file": Case(
        {"server.json": json.dumps({"users_file": "users.json"}), "users.json": USERS_BAD_ID},
        ("--config", "{dir}/server.json"),
        ("{dir}/users.json", "users[0].system_id"),
    ),
}


@attrs.frozen
class Outcome:
    code: int
    stdout: list[str]
    stderr: list[str]
    directory: Path


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    runs = Servers()
    try:
        started = {}
        for name, case in CASES.items():
            directory = tmp_path_factory.mktemp("config")
            for filename, text in case.files.items():
                (directory / filename).write_text(text)
            args = [*(a.format(dir=directory) for a in case.args), "--http", "none"]
            started[name] = (runs.run(args, directory), directory)
        yield {
            name: Outcome(
                server.wait(PROCESS_TIMEOUT),
                server.output("stdout"),
                server.output("stderr"),
                directory,
            )
            for name, (server, directory) in started.items()
        }
    finally:
        runs.close()


@pytest.mark.parametrize("name", list(CASES))
def test_bad_configuration_is_one_line_and_a_non_zero_exit(
    outcomes: dict[str, Outcome], name: str
) -> None:
    outcome = outcomes[name]
    assert outcome.code != 0
    assert len(outcome.stderr) == 1, outcome.stderr
    line = outcome.stderr[0]
    for expected in CASES[name].names:
        assert expected.format(dir=outcome.directory) in line, line
    everything = "\n".join(outcome.stdout + outcome.stderr)
    assert "Traceback" not in everything, everything
    assert "Usage:" not in everything and "--help" not in everything, everything
    # Nothing was started: no store created in the working directory.
    assert not (outcome.directory / "smppd-data").exists()
