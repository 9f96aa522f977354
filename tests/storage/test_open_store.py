from __future__ import annotations

from pathlib import Path

import pytest

from smppd.storage import JournalStore, MemoryStore, SqliteStore, StoreError, open_store


def test_specs(tmp_path: Path) -> None:
    assert isinstance(open_store("memory"), MemoryStore)
    sqlite = open_store(f"sqlite:{tmp_path}/db/store.sqlite")
    assert isinstance(sqlite, SqliteStore)
    assert sqlite.path == f"{tmp_path}/db/store.sqlite"
    journal = open_store(f"file:{tmp_path}/journal")
    assert isinstance(journal, JournalStore)
    assert journal.directory == f"{tmp_path}/journal"
    # nothing is created before the store is used
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "spec", ["", "memory:", "Memory", "sqlite", "sqlite:", "file:", "redis:host", "file"]
)
def test_bad_spec(spec: str) -> None:
    with pytest.raises(ValueError) as e:
        open_store(spec)
    assert "\n" not in str(e.value)
    assert repr(spec) in str(e.value)


def test_store_error_is_exported() -> None:
    assert issubclass(StoreError, Exception)
