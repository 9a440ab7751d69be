"""Every SQL statement of the project lives here. SQLite in WAL mode; schema from migrations.py."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import migrations


class StoreError(Exception):
    """The database cannot be opened or written; the message says why in plain words."""


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    last_uid: int


@dataclass(frozen=True)
class Record:
    """One processed message, ready to be written (with its rejection details when it is one)."""

    dedupe_key: str
    account: str
    folder: str
    uidvalidity: int
    uid: int
    message_id: str | None
    sender: str
    reply_to: str | None
    subject: str
    date: str | None
    in_reply_to: str | None
    refs: str
    label: str
    score: float
    model_version: str
    text: str | None = None
    company: str | None = None
    role: str | None = None
    kind: str | None = None
    stage: str | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ErrorRecord:
    account: str
    folder: str
    uidvalidity: int
    uid: int
    message_id: str | None
    error: str


def _friendly(exc: sqlite3.Error, path: Path) -> StoreError:
    text = str(exc)
    if "disk is full" in text or "database or disk is full" in text:
        return StoreError(f"{path}: the disk is full; free some space and run again (nothing was lost)")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"{path}: the database is read-only; check the file and folder permissions")
    if "locked" in text:
        return StoreError(f"{path}: the database is locked by another process; try again")
    if "not a database" in text or "malformed" in text:
        return StoreError(f"{path}: the file is not a valid Rejection Watcher database ({text})")
    return StoreError(f"{path}: database error: {text}")


class Store:
    """A handle on the database. Construct with Store.open(); the constructor does no I/O."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: Path | str) -> Store:
        path = Path(path).expanduser()
        try:
            if str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA busy_timeout = 30000")
            if str(path) != ":memory:":
                db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            migrations.apply(db)
        except sqlite3.Error as exc:
            raise _friendly(exc, path) from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot create the database: {exc.strerror}") from None
        return cls(db, path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing: the batch and the folder state are committed together or not at all."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _friendly(exc, self.path) from None
        try:
            yield self.db
        except BaseException as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _friendly(exc, self.path) from None
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise _friendly(exc, self.path) from None

    # -- folder state ---------------------------------------------------------------------------

    def folder_state(self, account: str, folder: str) -> FolderState | None:
        row = self.db.execute(
            "SELECT uidvalidity, last_uid FROM folders WHERE account = ? AND folder = ?", (account, folder)
        ).fetchone()
        return FolderState(row["uidvalidity"], row["last_uid"]) if row else None

    def set_folder_state(self, account: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        self.db.execute(
            """INSERT INTO folders (account, folder, uidvalidity, last_uid, updated_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (account, folder) DO UPDATE SET
                 uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,
                 updated_at = excluded.updated_at""",
            (account, folder, uidvalidity, last_uid, utcnow()),
        )

    def folder_states(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM folders ORDER BY account, folder").fetchall()

    # -- messages -------------------------------------------------------------------------------

    def known_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                row[0]
                for row in self.db.execute(
                    f"SELECT dedupe_key FROM messages WHERE dedupe_key IN ({marks})", chunk
                )
            )
        return found

    def add_record(self, rec: Record) -> int | None:
        """Insert a processed message (and its rejection). Returns the rejection id, if one was added.

        A message already known by its dedupe key only has its location refreshed: never a duplicate.
        """
        cur = self.db.execute(
            """INSERT INTO messages (dedupe_key, account, folder, uidvalidity, uid, message_id, sender,
                 reply_to, subject, date, in_reply_to, refs, label, score, model_version, text, processed_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (dedupe_key) DO UPDATE SET
                 account = excluded.account, folder = excluded.folder,
                 uidvalidity = excluded.uidvalidity, uid = excluded.uid
               RETURNING id, label""",
            (
                rec.dedupe_key, rec.account, rec.folder, rec.uidvalidity, rec.uid, rec.message_id,
                rec.sender, rec.reply_to, rec.subject, rec.date, rec.in_reply_to, rec.refs, rec.label,
                rec.score, rec.model_version, rec.text, utcnow(),
            ),
        )
        row = cur.fetchone()
        cur.close()
        message_ref, stored_label = row[0], row[1]
        if stored_label != "rejection":  # the stored label wins: a user's correction is never undone
            return None
        return self._add_rejection(message_ref, rec)

    def _add_rejection(self, message_ref: int, rec: Record) -> int | None:
        cur = self.db.execute(
            """INSERT INTO rejections (message_ref, company, role, kind, stage, date, sender, subject, score,
                 reasons, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (message_ref) DO NOTHING
               RETURNING id""",
            (
                message_ref, rec.company, rec.role, rec.kind, rec.stage, rec.date, rec.sender, rec.subject,
                rec.score, json.dumps(list(rec.reasons)), utcnow(),
            ),
        )
        row = cur.fetchone()
        cur.close()
        return int(row[0]) if row else None

    def add_error(self, err: ErrorRecord) -> None:
        self.db.execute(
            """INSERT INTO errors (account, folder, uidvalidity, uid, message_id, error, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (account, folder, uidvalidity, uid) DO UPDATE SET error = excluded.error""",
            (err.account, err.folder, err.uidvalidity, err.uid, err.message_id, err.error, utcnow()),
        )

    def count(self, table: str) -> int:
        if table not in {"messages", "rejections", "errors", "folders", "runs"}:
            raise ValueError(table)
        return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def errors(self, limit: int = 100) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM errors ORDER BY id DESC LIMIT ?", (limit,)).fetchall()

    def messages_at(self, account: str, folder: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM messages WHERE account = ? AND folder = ? ORDER BY uid", (account, folder)
        ).fetchall()

    # -- runs -----------------------------------------------------------------------------------

    def start_run(self, command: str, account: str | None) -> int:
        cur = self.db.execute(
            "INSERT INTO runs (command, account, started_at) VALUES (?, ?, ?) RETURNING id",
            (command, account, utcnow()),
        )
        run_id = int(cur.fetchone()[0])
        cur.close()
        return run_id

    def finish_run(
        self, run_id: int, *, seen: int, rejections: int, errors: int, status: str, error: str | None = None
    ) -> None:
        self.db.execute(
            """UPDATE runs SET finished_at = ?, seen = ?, rejections = ?, errors = ?, status = ?, error = ?
               WHERE id = ?""",
            (utcnow(), seen, rejections, errors, status, error, run_id),
        )

    def last_runs(self, limit: int = 5) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()


def row_dict(row: sqlite3.Row | None) -> dict[str, Any] | None:
    return dict(row) if row is not None else None
