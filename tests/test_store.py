"""The database: named migrations applied once each, all or nothing; batches all or nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from watcher import migrations
from watcher.store import Record, Store, StoreError


def _record(key: str, label: str = "rejection") -> Record:
    return Record(
        dedupe_key=key, account="a", folder="INBOX", uidvalidity=7, uid=1, message_id=key, sender="x@y",
        reply_to=None, subject="s", date=None, in_reply_to=None, refs="", label=label, score=0.9,
        model_version="m", company="Acme", kind="job", stage="application",
    )


def test_migrations_are_named_recorded_and_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    Store.open(path).close()
    with Store.open(path) as store:
        names = [r[0] for r in store.db.execute("SELECT name FROM _migrations ORDER BY rowid")]
        assert names == [name for name, _ in migrations.MIGRATIONS]
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_failing_migration_leaves_nothing_half_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def m999_broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half (x INTEGER)")
        raise RuntimeError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, ("m999_broken", m999_broken)])
    with pytest.raises(RuntimeError):
        Store.open(tmp_path / "w.db")
    db = sqlite3.connect(tmp_path / "w.db")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "half" not in tables and "messages" in tables
    assert ("m999_broken",) not in db.execute("SELECT name FROM _migrations").fetchall()


def test_a_batch_that_fails_is_rolled_back_whole(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db") as store:
        with pytest.raises(ZeroDivisionError), store.transaction():
            store.add_record(_record("<1@x>"))
            store.set_folder_state("a", "INBOX", 7, 1)
            raise ZeroDivisionError
        assert store.count("messages") == 0 and store.folder_state("a", "INBOX") is None
        with store.transaction():
            assert store.add_record(_record("<1@x>")) is not None
        with store.transaction():  # the same message again: no second record, no second rejection
            assert store.add_record(_record("<1@x>")) is None
        assert store.count("messages") == 1 and store.count("rejections") == 1


def test_not_a_database_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a valid Rejection Watcher database"):
        Store.open(path)
