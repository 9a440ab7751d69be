"""Named, append-only schema migrations, each applied once in its own transaction.

Never edit a migration that has shipped: add a new one at the end.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Execute each statement of a script inside the caller's transaction.

    (sqlite3's executescript() commits first, which would break the all-or-nothing promise.)
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in migration: {statement.strip()[:80]}")


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        CREATE TABLE folders (
            account TEXT NOT NULL,
            folder TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            last_uid INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (account, folder)
        );
        -- one row per distinct message ever processed; dedupe_key is the Message-ID,
        -- or a content hash when the message has none
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            dedupe_key TEXT NOT NULL UNIQUE,
            account TEXT NOT NULL,
            folder TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            message_id TEXT,
            sender TEXT,
            reply_to TEXT,
            subject TEXT,
            date TEXT,
            in_reply_to TEXT,
            refs TEXT,
            label TEXT NOT NULL,
            score REAL NOT NULL,
            model_version TEXT NOT NULL,
            text TEXT,
            processed_at TEXT NOT NULL
        );
        CREATE INDEX messages_location ON messages (account, folder, uidvalidity, uid);
        CREATE INDEX messages_message_id ON messages (message_id);
        CREATE TABLE errors (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            folder TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            message_id TEXT,
            error TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (account, folder, uidvalidity, uid)
        );
        CREATE TABLE rejections (
            id INTEGER PRIMARY KEY,
            message_ref INTEGER NOT NULL UNIQUE REFERENCES messages (id) ON DELETE CASCADE,
            company TEXT,
            role TEXT,
            kind TEXT,
            stage TEXT,
            date TEXT,
            sender TEXT,
            subject TEXT,
            score REAL NOT NULL,
            reasons TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL
        );
        CREATE INDEX rejections_date ON rejections (date);
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            command TEXT NOT NULL,
            account TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            seen INTEGER NOT NULL DEFAULT 0,
            rejections INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'running',
            error TEXT
        );
        """
    )


@migration
def m002_followups(db: sqlite3.Connection) -> None:
    """Issue 4: drafted replies, reminders, the user's corrections, and why a rejection has no draft."""
    run_script(
        db,
        """
        ALTER TABLE rejections ADD COLUMN draft_note TEXT;
        CREATE TABLE drafts (
            id INTEGER PRIMARY KEY,
            rejection_id INTEGER NOT NULL UNIQUE REFERENCES rejections (id) ON DELETE CASCADE,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'approved', 'sent', 'discarded')),
            from_addr TEXT NOT NULL,
            to_addr TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            in_reply_to TEXT,
            refs TEXT NOT NULL DEFAULT '',
            message_id TEXT NOT NULL,
            message TEXT NOT NULL,
            template TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX drafts_status ON drafts (status);
        CREATE TABLE reminders (
            id INTEGER PRIMARY KEY,
            rejection_id INTEGER NOT NULL REFERENCES rejections (id) ON DELETE CASCADE,
            action TEXT NOT NULL,
            text TEXT NOT NULL,
            due_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'done')),
            snoozed_until TEXT,
            delivered_at TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (rejection_id, action)
        );
        CREATE INDEX reminders_due ON reminders (status, due_at);
        CREATE TABLE corrections (
            id INTEGER PRIMARY KEY,
            message_ref INTEGER NOT NULL UNIQUE REFERENCES messages (id) ON DELETE CASCADE,
            message_id TEXT,
            label TEXT NOT NULL CHECK (label IN ('rejection', 'not_rejection')),
            previous_label TEXT,
            subject TEXT,
            sender TEXT,
            reply_to TEXT,
            date TEXT,
            text TEXT,
            kind TEXT,
            stage TEXT,
            company TEXT,
            role TEXT,
            created_at TEXT NOT NULL
        );
        """,
    )


def apply(db: sqlite3.Connection) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; returns the names applied.

    The connection must be in autocommit mode (isolation_level=None) so BEGIN/COMMIT are ours.
    """
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            fn(db)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, datetime('now'))", (name,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        applied.append(name)
    return applied
