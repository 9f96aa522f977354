"""Reading JSON configuration files: typed access with key paths in errors.

Shared by the server's and the client's settings (neither imports the
other). Every mistake is a :class:`ConfigError` whose message is one line
naming the file and the key.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn


class ConfigError(ValueError):
    """A configuration mistake: ``source: key: reason``."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        where = f"{key}: " if key else ""
        super().__init__(f"{source}: {where}{reason}")


class _Reader:
    """Typed access to one JSON object with key paths for error messages."""

    def __init__(self, source: str, data: Mapping[str, Any], prefix: str = "") -> None:
        self.source = source
        self.data = data
        self.prefix = prefix
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def fail(self, name: str, reason: str) -> NoReturn:
        raise ConfigError(self.source, self.key(name), reason)

    def get(self, name: str) -> Any:
        self.used.add(name)
        return self.data.get(name)

    def has(self, name: str) -> bool:
        return name in self.data

    def section(self, name: str) -> _Reader:
        value = self.get(name)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.fail(name, "must be an object")
        return _Reader(self.source, value, f"{self.key(name)}.")

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(self.source, self.key(unknown[0]), "unknown key")

    def string(self, name: str, default: str, *, pattern: str | None = None, choices: tuple[str, ...] = ()) -> str:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            self.fail(name, "must be a string")
        if choices and value not in choices:
            self.fail(name, f"must be one of {', '.join(choices)}")
        if pattern is not None and not re.fullmatch(pattern, value):
            self.fail(name, f"{value!r} is not valid")
        return value

    def optional_string(self, name: str) -> str | None:
        value = self.get(name)
        if value is not None and not isinstance(value, str):
            self.fail(name, "must be a string")
        return value

    def number(self, name: str, default: float | None, *, minimum: float = 0.0, nullable: bool = False, integer: bool = False) -> Any:
        if not self.has(name):
            self.get(name)
            return default
        value = self.get(name)
        if value is None:
            if nullable:
                return None
            self.fail(name, "must be a number")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(name, "must be a number")
        if integer and not isinstance(value, int):
            self.fail(name, "must be an integer")
        if value < minimum:
            self.fail(name, f"must be at least {minimum:g}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(name, "must be true or false")
        return value

    def string_list(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(name, "must be a list of strings")
        return tuple(value)

    def object_list(self, name: str) -> list[_Reader]:
        value = self.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(name, "must be a list")
        readers = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise ConfigError(self.source, f"{self.key(name)}[{i}]", "must be an object")
            readers.append(_Reader(self.source, item, f"{self.key(name)}[{i}]."))
        return readers


def read_json(path: str) -> dict[str, Any]:
    """The JSON object in ``path``, or ConfigError (unreadable, invalid JSON)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(path, "", f"cannot read: {e.strerror or e}") from None

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for k, v in pairs:
            if k in seen:
                raise ConfigError(path, k, "duplicate key")
            seen[k] = v
        return seen

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as e:
        raise ConfigError(path, "", f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "", "must hold a JSON object")
    return data


def relative_to(config_path: str, path: str) -> str:
    """``path`` as written in the file ``config_path``: a relative path is
    relative to the directory of that file (as ``users_file`` always was),
    never to the process's working directory (``/`` under systemd)."""
    if not path or Path(path).is_absolute():
        return path
    return str(Path(config_path).resolve().parent / path)


def resolve_log_file(config_path: str, data: Any) -> Any:
    """``data`` (a configuration object) with a relative ``log.file`` made
    relative to ``config_path``'s directory; anything that is not a string
    is left for the parser to report."""
    if not isinstance(data, dict) or not isinstance(data.get("log"), dict):
        return data
    file = data["log"].get("file")
    if not isinstance(file, str) or not file.strip():
        return data
    return {**data, "log": {**data["log"], "file": relative_to(config_path, file)}}

