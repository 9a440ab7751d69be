"""Shared fixtures: real IMAP servers (pymap always, Dovecot when installed), a message builder,
settings pointing at a fresh SQLite file, and a small deterministic classifier for the pure logic.
"""

from __future__ import annotations

import itertools
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from imapserver import DovecotServer, ImapServer, available_backends, start_server

from watcher.classifier import Verdict
from watcher.config import Account, Secret, Settings
from watcher.messages import ParsedMessage

MARKER = "[REJECT]"  # the fake classifier calls a message a rejection when its subject has this


FakeVerdict = Verdict  # the real result type; the fake classifier below decides its values


@dataclass
class FakeClassifier:
    """Deterministic stand-in for watcher.classifier: a rejection iff the subject carries MARKER.

    `interrupt_on_call` raises KeyboardInterrupt on that call (1-based), like Ctrl-C mid-backfill.
    """

    version: str = "fake-1"
    interrupt_on_call: int | None = None
    calls: int = 0
    seen: list[ParsedMessage] = field(default_factory=list)

    def classify(self, messages: Sequence[ParsedMessage]) -> list[FakeVerdict]:
        self.calls += 1
        if self.interrupt_on_call is not None and self.calls == self.interrupt_on_call:
            raise KeyboardInterrupt
        self.seen.extend(messages)
        out = []
        for msg in messages:
            if MARKER in msg.subject:
                out.append(FakeVerdict("rejection", 0.97, kind="job", stage="application",
                                       company="Acme", role="Engineer", reasons=("marker",)))
            else:
                out.append(FakeVerdict("not_rejection", 0.03))
        return out


def rows(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Rows of a query on a database file, read with a connection of its own."""
    con = sqlite3.connect(db)
    try:
        return [tuple(r) for r in con.execute(sql, args)]
    finally:
        con.close()


@pytest.fixture
def classifier() -> FakeClassifier:
    return FakeClassifier()


_counter = itertools.count(1)
BASE_DATE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make_message(
    n: int | None = None,
    *,
    subject: str | None = None,
    body: str | None = None,
    rejection: bool = False,
    message_id: str | None | bool = True,
    sender: str = "Jane Recruiter <jane@acme.example>",
    extra_headers: str = "",
) -> bytes:
    """A small, valid RFC 5322 message; `n` makes subject, Message-ID and date unique."""
    n = next(_counter) if n is None else n
    subject = subject if subject is not None else f"Message number {n}"
    if rejection:
        subject = f"{MARKER} {subject}"
    body = body if body is not None else f"Hello,\r\n\r\nThis is message {n}.\r\n\r\nBest,\r\nJane\r\n"
    headers = [
        f"From: {sender}",
        "To: Me <me@example.com>",
        f"Subject: {subject}",
        f"Date: {format_datetime(BASE_DATE + timedelta(minutes=n))}",
    ]
    if message_id is True:
        headers.append(f"Message-ID: <msg-{n}-{uuid.uuid4().hex[:8]}@acme.example>")
    elif message_id:
        headers.append(f"Message-ID: {message_id}")
    headers += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    head = "\r\n".join(headers) + "\r\n" + extra_headers
    return (head + "\r\n" + body).encode("utf-8")


def _server_params() -> list[object]:
    params: list[object] = []
    for name in ("pymap", "dovecot"):
        if name in available_backends():
            params.append(name)
        else:
            why = ("not installed (apt-get install dovecot-imapd)" if not DovecotServer.available()
                   else "left out by WATCHER_TEST_SERVERS")
            params.append(pytest.param(name, marks=pytest.mark.skip(reason=f"IMAP server {name}: {why}")))
    return params


@pytest.fixture(scope="session", params=_server_params())
def imap_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ImapServer]:
    """A real IMAP server process on 127.0.0.1, one per backend for the whole session."""
    server = start_server(request.param, tmp_path_factory.mktemp(request.param))
    try:
        yield server
    finally:
        server.stop()
        server.cleanup()


@dataclass
class Mailbox:
    """A folder of its own on the test server, so tests never see each other's mail."""

    server: ImapServer
    folder: str

    def append(self, messages: Sequence[bytes]) -> None:
        self.server.append(self.folder, messages)

    def uids(self) -> list[int]:
        return self.server.uids(self.folder)

    def flags(self) -> dict[int, frozenset[bytes]]:
        return self.server.flags(self.folder)

    def uidvalidity(self) -> int:
        return int(self.server.folder_info(self.folder)[b"UIDVALIDITY"])  # type: ignore[call-overload]

    def account(self, **overrides: object) -> Account:
        values: dict[str, object] = dict(
            name="test", host="127.0.0.1", port=self.server.port, security="none",
            username=self.server.user, secret=Secret("value", self.server.password),
            folders=(self.folder,), batch_size=10, timeout=15.0,
        )
        values.update(overrides)
        return Account(**values)  # type: ignore[arg-type]


@pytest.fixture
def mailbox(imap_server: ImapServer) -> Iterator[Mailbox]:
    folder = f"t-{uuid.uuid4().hex[:10]}"
    imap_server.create_folder(folder)
    try:
        yield Mailbox(imap_server, folder)
    finally:
        imap_server.delete_folder(folder)


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., Settings]:
    """settings_for(*accounts) -> Settings with a fresh SQLite file in tmp_path."""

    def build(*accounts: Account, store_text: bool = False) -> Settings:
        return Settings(database=tmp_path / "watcher.db", accounts=tuple(accounts), store_text=store_text)

    return build


def write_config(path: Path, server: ImapServer, folder: str, *, password: str | None = None,
                 database: Path | None = None) -> Path:
    """A config.toml of the shape in the README, with the password in a file next to it."""
    secret = path.parent / "password.txt"
    secret.write_text((password if password is not None else server.password) + "\n", encoding="utf-8")
    secret.chmod(0o600)
    path.write_text(
        f"""
[storage]
database = "{database or path.parent / 'watcher.db'}"

[[accounts]]
name = "personal"
host = "127.0.0.1"
port = {server.port}
security = "none"
username = "{server.user}"
password_file = "{secret}"
folders = ["{folder}"]
timeout = 15
batch_size = 10
""",
        encoding="utf-8",
    )
    return path
