"""A server that cannot listen must say why in one line and exit non-zero,
not keep running listening on nothing."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest

from tests.process.support import HOST, PROCESS_TIMEOUT, ServerProcess, Servers

EXIT_BOUND = 2.0  # seconds from the start-up attempt to the exit
ARGS = ["--http", "none", "--store", "memory"]


def assert_ends_with_one_line(server: ServerProcess, name: str) -> None:
    """The process ends non-zero soon after trying to start, with exactly one
    line naming ``name`` and no traceback."""
    # With the memory store, listening is attempted in the call that logs this.
    try:
        server.wait_for(r"demo users are active|smpp-server: ", PROCESS_TIMEOUT)
    except AssertionError:
        if server.proc.poll() is None:
            raise  # neither started nor ended
    try:
        code = server.proc.wait(EXIT_BOUND)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"still running {EXIT_BOUND}s after failing to start: {server.describe()}"
        ) from None
    server.wait()
    assert code != 0, server.describe()
    assert len([line for line in server.output() if name in line]) == 1, server.describe()
    assert "Traceback" not in "\n".join(server.output()), server.describe()


@pytest.fixture(scope="module")
def attempts(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[ServerProcess, str]]]:
    """Both failing starts at once (each takes EXIT_BOUND to fail while the bugs last)."""
    runs = Servers()
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            yield {
                "syntax": (
                    runs.run(ARGS + ["--listen", "tcp:notaport"], tmp_path_factory.mktemp("start")),
                    "notaport",
                ),
                "in use": (
                    runs.run(
                        ARGS + ["--listen", f"tcp:{port}:interface={HOST}"],
                        tmp_path_factory.mktemp("start"),
                    ),
                    f":{port}",
                ),
            }
        finally:
            runs.close()


def test_unparseable_listen_endpoint_is_one_line(
    attempts: dict[str, tuple[ServerProcess, str]],
) -> None:
    assert_ends_with_one_line(*attempts["syntax"])


def test_port_in_use_ends_the_process(attempts: dict[str, tuple[ServerProcess, str]]) -> None:
    assert_ends_with_one_line(*attempts["in use"])
