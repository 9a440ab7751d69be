"""Every SQL statement of the project lives here. SQLite in WAL mode; schema from migrations.py."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
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
    if "readonly" in text or "read-only" in text or ("unable to open" in text and _read_only(path)):
        return StoreError(f"{path}: the database is read-only; check the file and folder permissions "
                          "and that its disk is not mounted read-only")
    if "locked" in text:
        return StoreError(f"{path}: the database is locked by another process; try again")
    if "not a database" in text or "malformed" in text:
        return StoreError(f"{path}: the file is not a valid Rejection Watcher database ({text})")
    return StoreError(f"{path}: database error: {text}")


def _read_only(path: Path) -> bool:
    """The database or its folder cannot be written (SQLite then only says it cannot open the file)."""
    with contextlib.suppress(OSError):
        folder = path.expanduser().parent
        return not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK))
    return False


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

    def relocate(self, dedupe_key: str, account: str, folder: str, uidvalidity: int, uid: int) -> None:
        """A known message met again in the same folder under a new UIDVALIDITY: point its record there."""
        self.db.execute(
            """UPDATE messages SET uidvalidity = ?, uid = ?
               WHERE dedupe_key = ? AND account = ? AND folder = ? AND uidvalidity != ?""",
            (uidvalidity, uid, dedupe_key, account, folder, uidvalidity),
        )

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
        if table not in {"messages", "rejections", "errors", "folders", "runs", "drafts", "reminders",
                         "corrections"}:
            raise ValueError(table)
        return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def errors(self, limit: int = 100) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM errors ORDER BY id DESC LIMIT ?", (limit,)).fetchall()

    def messages_at(self, account: str, folder: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM messages WHERE account = ? AND folder = ? ORDER BY uid", (account, folder)
        ).fetchall()

    # -- runs -----------------------------------------------------------------------------------

    @contextmanager
    def _mapped(self) -> Iterator[None]:
        """A write outside transaction(): the same plain-words errors (read-only, full disk)."""
        try:
            yield
        except sqlite3.Error as exc:
            raise _friendly(exc, self.path) from None

    def start_run(self, command: str, account: str | None) -> int:
        with self._mapped():
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
        with self._mapped():
            self.db.execute(
                """UPDATE runs SET finished_at = ?, seen = ?, rejections = ?, errors = ?, status = ?,
                     error = ? WHERE id = ?""",
                (utcnow(), seen, rejections, errors, status, error, run_id),
            )

    def last_runs(self, limit: int = 5) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()

    # == follow-ups (issue 4): the rejection log, drafts, reminders, corrections =================
    # Times are ISO 8601 strings in UTC ("2026-03-01T09:00:00+00:00"), so they compare as text.

    _LOG_COLUMNS = """r.id, r.company, r.role, r.kind, r.stage, COALESCE(r.date, r.created_at) AS date,
        r.sender, r.subject, r.score, m.account, m.folder, m.uidvalidity, m.uid, m.message_id,
        r.draft_note, r.reasons, r.message_ref"""

    def rejection_log(self, since: str | None = None, kind: str | None = None) -> list[sqlite3.Row]:
        """The log, oldest first: each rejection with the link back to its message."""
        where, args = ["1 = 1"], []
        if since:
            where.append("COALESCE(r.date, r.created_at) >= ?")
            args.append(since)
        if kind:
            where.append("r.kind = ?")
            args.append(kind)
        return self.db.execute(
            f"""SELECT {self._LOG_COLUMNS} FROM rejections r JOIN messages m ON m.id = r.message_ref
                WHERE {' AND '.join(where)} ORDER BY COALESCE(r.date, r.created_at), r.id""",
            args,
        ).fetchall()

    def rejection(self, rejection_id: int) -> sqlite3.Row | None:
        return self.db.execute(
            f"""SELECT {self._LOG_COLUMNS} FROM rejections r JOIN messages m ON m.id = r.message_ref
                WHERE r.id = ?""",
            (rejection_id,),
        ).fetchone()

    def add_rejection(self, message_ref: int, rec: Record) -> int | None:
        """Record a rejection for a message already stored (a user's correction)."""
        return self._add_rejection(message_ref, rec)

    def rejection_of_message(self, message_ref: int) -> int | None:
        row = self.db.execute("SELECT id FROM rejections WHERE message_ref = ?", (message_ref,)).fetchone()
        return int(row[0]) if row else None

    def update_rejection(self, rejection_id: int, **fields: str | None) -> None:
        """Fix a rejection's kind, stage, company or role (a user's correction)."""
        allowed = {"kind", "stage", "company", "role"}
        if not fields or set(fields) - allowed:
            raise ValueError(f"update_rejection: only {', '.join(sorted(allowed))}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.db.execute(f"UPDATE rejections SET {assignments} WHERE id = ?", (*fields.values(), rejection_id))

    def set_draft_note(self, rejection_id: int, note: str | None) -> None:
        self.db.execute("UPDATE rejections SET draft_note = ? WHERE id = ?", (note, rejection_id))

    def rejection_counts(self) -> list[sqlite3.Row]:
        """(month, kind, stage, n) for the stats."""
        return self.db.execute(
            """SELECT substr(COALESCE(date, created_at), 1, 7) AS month, kind, stage, count(*) AS n
               FROM rejections GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
        ).fetchall()

    def message(self, message_ref: int) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM messages WHERE id = ?", (message_ref,)).fetchone()

    def message_by_message_id(self, message_id: str) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT * FROM messages WHERE message_id = ? OR dedupe_key = ? ORDER BY id LIMIT 1",
            (message_id, message_id),
        ).fetchone()

    def message_summaries(self) -> list[sqlite3.Row]:
        """Every processed message's sender, subject, date and label (text cut short), for the stats."""
        return self.db.execute(
            """SELECT id, sender, subject, date, label, substr(text, 1, 2000) AS text FROM messages
               ORDER BY COALESCE(date, processed_at), id"""
        ).fetchall()

    def set_message_label(self, message_ref: int, label: str) -> None:
        self.db.execute("UPDATE messages SET label = ? WHERE id = ?", (label, message_ref))

    def set_message_text(self, message_ref: int, text: str) -> None:
        self.db.execute("UPDATE messages SET text = ? WHERE id = ? AND text IS NULL", (text, message_ref))

    def delete_rejection_of(self, message_ref: int) -> int:
        """Remove a message's rejection and (by cascade) its drafts and reminders; returns rows deleted."""
        cur = self.db.execute("DELETE FROM rejections WHERE message_ref = ?", (message_ref,))
        return cur.rowcount

    # -- drafts ---------------------------------------------------------------------------------

    _DRAFT_COLUMNS = """d.*, r.company, r.role, r.kind, r.stage, m.account, m.folder,
        m.subject AS original_subject"""

    def add_draft(
        self, rejection_id: int, *, from_addr: str, to_addr: str, subject: str, body: str,
        in_reply_to: str | None, refs: str, message_id: str, message: str, template: str | None,
    ) -> int | None:
        now = utcnow()
        cur = self.db.execute(
            """INSERT INTO drafts (rejection_id, status, from_addr, to_addr, subject, body, in_reply_to, refs,
                 message_id, message, template, created_at, updated_at)
               VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (rejection_id) DO NOTHING
               RETURNING id""",
            (rejection_id, from_addr, to_addr, subject, body, in_reply_to, refs, message_id, message,
             template, now, now),
        )
        row = cur.fetchone()
        cur.close()
        return int(row[0]) if row else None

    def drafts(self, status: str | None = None) -> list[sqlite3.Row]:
        query = f"""SELECT {self._DRAFT_COLUMNS} FROM drafts d JOIN rejections r ON r.id = d.rejection_id
                    JOIN messages m ON m.id = r.message_ref"""
        if status:
            return self.db.execute(query + " WHERE d.status = ? ORDER BY d.id", (status,)).fetchall()
        return self.db.execute(query + " ORDER BY d.id").fetchall()

    def draft(self, draft_id: int) -> sqlite3.Row | None:
        return self.db.execute(
            f"""SELECT {self._DRAFT_COLUMNS} FROM drafts d JOIN rejections r ON r.id = d.rejection_id
                JOIN messages m ON m.id = r.message_ref WHERE d.id = ?""",
            (draft_id,),
        ).fetchone()

    def draft_for_rejection(self, rejection_id: int) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM drafts WHERE rejection_id = ?", (rejection_id,)).fetchone()

    def drafts_of_message(self, message_ref: int) -> list[sqlite3.Row]:
        return self.db.execute(
            """SELECT d.* FROM drafts d JOIN rejections r ON r.id = d.rejection_id
               WHERE r.message_ref = ?""",
            (message_ref,),
        ).fetchall()

    def update_draft(self, draft_id: int, *, to_addr: str, subject: str, body: str, message: str) -> None:
        self.db.execute(
            "UPDATE drafts SET to_addr = ?, subject = ?, body = ?, message = ?, updated_at = ? WHERE id = ?",
            (to_addr, subject, body, message, utcnow(), draft_id),
        )

    def set_draft_status(self, draft_id: int, status: str, *, expect: Sequence[str] = ()) -> bool:
        """Change a draft's status; with `expect`, only from one of those (False when it was not)."""
        if expect:
            marks = ",".join("?" * len(expect))
            cur = self.db.execute(
                f"UPDATE drafts SET status = ?, updated_at = ? WHERE id = ? AND status IN ({marks})",
                (status, utcnow(), draft_id, *expect),
            )
        else:
            cur = self.db.execute(
                "UPDATE drafts SET status = ?, updated_at = ? WHERE id = ?", (status, utcnow(), draft_id)
            )
        return cur.rowcount == 1

    # -- reminders ------------------------------------------------------------------------------

    _REMINDER_COLUMNS = """t.*, COALESCE(t.snoozed_until, t.due_at) AS due, r.company, r.role, r.kind,
        r.stage, r.subject, m.account"""
    _REMINDER_FROM = """FROM reminders t JOIN rejections r ON r.id = t.rejection_id
        JOIN messages m ON m.id = r.message_ref"""

    def add_reminder(self, rejection_id: int, action: str, text: str, due_at: str) -> int | None:
        cur = self.db.execute(
            """INSERT INTO reminders (rejection_id, action, text, due_at, status, created_at)
               VALUES (?, ?, ?, ?, 'pending', ?)
               ON CONFLICT (rejection_id, action) DO NOTHING
               RETURNING id""",
            (rejection_id, action, text, due_at, utcnow()),
        )
        row = cur.fetchone()
        cur.close()
        return int(row[0]) if row else None

    def reminders(self, include_done: bool = False) -> list[sqlite3.Row]:
        where = "" if include_done else "WHERE t.status != 'done'"
        return self.db.execute(
            f"SELECT {self._REMINDER_COLUMNS} {self._REMINDER_FROM} {where} ORDER BY due, t.id"
        ).fetchall()

    def reminder(self, reminder_id: int) -> sqlite3.Row | None:
        return self.db.execute(
            f"SELECT {self._REMINDER_COLUMNS} {self._REMINDER_FROM} WHERE t.id = ?", (reminder_id,)
        ).fetchone()

    def due_reminders(self, now: str) -> list[sqlite3.Row]:
        return self.db.execute(
            f"""SELECT {self._REMINDER_COLUMNS} {self._REMINDER_FROM}
                WHERE t.status = 'pending' AND COALESCE(t.snoozed_until, t.due_at) <= ?
                ORDER BY due, t.id""",
            (now,),
        ).fetchall()

    def set_reminder_delivered(self, reminder_id: int, at: str) -> None:
        self.db.execute(
            "UPDATE reminders SET status = 'delivered', delivered_at = ? WHERE id = ? AND status = 'pending'",
            (at, reminder_id),
        )

    def set_reminder_done(self, reminder_id: int) -> bool:
        cur = self.db.execute("UPDATE reminders SET status = 'done' WHERE id = ?", (reminder_id,))
        return cur.rowcount == 1

    def snooze_reminder(self, reminder_id: int, until: str) -> bool:
        cur = self.db.execute(
            "UPDATE reminders SET status = 'pending', snoozed_until = ? WHERE id = ?", (until, reminder_id)
        )
        return cur.rowcount == 1

    # -- corrections ----------------------------------------------------------------------------

    def add_correction(
        self, message_ref: int, *, label: str, previous_label: str | None, message_id: str | None,
        subject: str | None, sender: str | None, reply_to: str | None, date: str | None, text: str | None,
        kind: str | None = None, stage: str | None = None, company: str | None = None,
        role: str | None = None,
    ) -> int:
        """Keep the user's verdict on a message as a training label (the latest verdict wins)."""
        cur = self.db.execute(
            """INSERT INTO corrections (message_ref, message_id, label, previous_label, subject, sender,
                 reply_to, date, text, kind, stage, company, role, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (message_ref) DO UPDATE SET
                 label = excluded.label, subject = excluded.subject, sender = excluded.sender,
                 reply_to = excluded.reply_to, date = excluded.date,
                 text = COALESCE(excluded.text, corrections.text), kind = excluded.kind,
                 stage = excluded.stage, company = excluded.company, role = excluded.role,
                 created_at = excluded.created_at
               RETURNING id""",
            (message_ref, message_id, label, previous_label, subject, sender, reply_to, date, text, kind,
             stage, company, role, utcnow()),
        )
        row = cur.fetchone()
        cur.close()
        return int(row[0])

    def correction_rows(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM corrections ORDER BY id").fetchall()

    def corrections(self, *, with_text_only: bool = True) -> list[dict[str, Any]]:
        """The user's corrections shaped like training_data/*.jsonl records (see training_data/FORMAT.md).

        A correction whose text could not be read has no body to learn from and is left out unless
        `with_text_only` is False.
        """
        out = []
        for row in self.correction_rows():
            if with_text_only and not (row["text"] or "").strip():
                continue
            rejection = row["label"] == "rejection"
            ident = f"correction-{row['id']}"
            out.append({
                "id": ident,
                "group": ident,
                "label": row["label"],
                "category": _correction_category(row["label"], row["kind"], row["stage"]),
                "kind": row["kind"] if rejection else None,
                "stage": row["stage"] if rejection and row["kind"] == "job" else None,
                "company": row["company"],
                "role": row["role"] if rejection else None,
                "lang": None,
                "subject": row["subject"] or "",
                "from": row["sender"] or "",
                "reply_to": row["reply_to"],
                "date": _rfc2822(row["date"]),
                "body": row["text"] or "",
                "source": "correction",
            })
        return out


def row_dict(row: sqlite3.Row | None) -> dict[str, Any] | None:
    return dict(row) if row is not None else None


_REJECTION_CATEGORIES = {
    "pitch": "pitch_rejection",
    "investor": "investor_rejection",
    "client": "client_rejection",
    "academic": "academic_rejection",
    "program": "program_rejection",
}


def _correction_category(label: str, kind: str | None, stage: str | None) -> str:
    """The training category of a correction where it follows from kind and stage, else 'user_correction'."""
    if label != "rejection":
        return "user_correction"
    if kind == "job":
        return "job_rejection_interview" if stage == "interview" else "job_rejection_application"
    return _REJECTION_CATEGORIES.get(kind or "", "user_correction")


def _rfc2822(iso: str | None) -> str:
    """Stored ISO dates as the training data writes them (RFC 2822); "" when unknown or unreadable."""
    if not iso:
        return ""
    try:
        return format_datetime(datetime.fromisoformat(iso))
    except (ValueError, TypeError):
        return ""
