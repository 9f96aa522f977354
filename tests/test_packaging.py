"""The built wheel installs the twistd plugin where twistd finds it.

Not an editable install: a wheel built from this tree goes into a fresh
virtualenv, which borrows this environment's dependencies through a .pth file
(so nothing is downloaded but the build backend), and ``twistd --help`` run
from an unrelated directory must list ``smpp-server``.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_NOT_SOURCE = (
    ".git", ".tox", ".venv", "venv", "node_modules", "build", "dist", "*.egg-info", "__pycache__",
    ".hypothesis", ".mypy_cache", ".ruff_cache", ".pytest_cache", "_build", "smppd-data",
)  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes build/ and *.egg-info into the
    # source tree, and pytest-xdist may run this fixture in two workers at once.
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp / "dist"), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp / "dist").glob("smppd-*.whl")
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    Path(purelib, "borrowed-deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--ignore-installed", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    return env_dir, wheel, Path(purelib)


def run(env_dir, *args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    return subprocess.run(
        [str(env_dir / "bin" / "python"), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_wheel_puts_the_plugin_in_twisted_plugins_without_an_init(installed):
    env_dir, wheel, purelib = installed
    assert (purelib / "twisted" / "plugins" / "smppd_plugins.py").is_file()
    assert not (purelib / "twisted" / "__init__.py").exists()
    assert not (purelib / "twisted" / "plugins" / "__init__.py").exists()


def test_twistd_lists_the_plugins(installed, tmp_path):
    env_dir, _, _ = installed
    result = run(env_dir, "-c", "from twisted.scripts.twistd import run; run()", "--help", cwd=tmp_path)
    assert "smpp-server" in result.stdout, result.stdout + result.stderr


def test_console_script(installed, tmp_path):
    env_dir, _, _ = installed
    result = subprocess.run(
        [str(env_dir / "bin" / "smppd"), "hash-password", "--scheme", "pbkdf2", "--password-stdin"],
        input="s3cret\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("pbkdf2_sha256$")
