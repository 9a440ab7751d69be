"""Issue 4 against a real IMAP server process on 127.0.0.1 (pymap, and Dovecot when installed).

After a backfill: every rejection is logged once, drafts exist exactly where a person can read them,
an approved draft lands in the server's Drafts folder flagged \\Draft, a reminder's email to self lands
in the INBOX, and a correction re-reads the message from its folder. `drafts send` talks to a small
SMTP server on 127.0.0.1.
"""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FakeClassifier, Mailbox, make_message, write_config
from imapserver import ImapServer

from watcher import app, corrections, drafts, reminders
from watcher.cli import cli
from watcher.config import Account, Settings
from watcher.store import Store

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _settings(tmp_path: Path, account: Account, **overrides: object) -> Settings:
    # backfills run on the real clock; the test mail is from March 2026, so keep its reminders however old
    values: dict[str, object] = dict(database=tmp_path / "watcher.db", accounts=(account,),
                                     user_name="Sam Taylor", user_email="sam@example.com",
                                     playbook={"stale_after": "520w"})
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def _inbox(n: int, tag: str) -> list[bytes]:
    """A person's rejection, a no-reply one, an ATS one with a person in Reply-To, and an ordinary mail."""
    return [
        make_message(n, rejection=True, subject="Your application", sender="Jane Doe <jane.doe@acme.example>",
                     message_id=f"<person-{tag}@acme.example>"),
        make_message(n + 1, rejection=True, subject="Update", sender="Acme <no-reply@acme.example>",
                     message_id=f"<noreply-{tag}@acme.example>"),
        make_message(n + 2, rejection=True, subject="Your candidacy",
                     sender="Acme via Greenhouse <no-reply@us.greenhouse-mail.io>",
                     extra_headers="Reply-To: Raj Patel <raj@acme.example>\r\n",
                     message_id=f"<ats-{tag}@acme.example>"),
        make_message(n + 3, subject="Lunch on Friday?", sender="Kim <kim@friends.example>",
                     message_id=f"<lunch-{tag}@friends.example>"),
    ]


@pytest.fixture
def loaded(mailbox: Mailbox, tmp_path: Path) -> tuple[Settings, Mailbox, str]:
    tag = uuid.uuid4().hex[:8]
    mailbox.append(_inbox(1, tag))
    settings = _settings(tmp_path, mailbox.account())
    summary = app.backfill_imap(settings, classifier=FakeClassifier())
    assert summary.rejections == 3
    return settings, mailbox, tag


def _folder_messages(server: ImapServer, folder: str,
                     message_id: str) -> list[tuple[frozenset[bytes], bytes]]:
    with server.session() as client:
        client.select_folder(folder, readonly=True)
        uids = client.search(["HEADER", "Message-ID", message_id])
        found = client.fetch(uids, ["FLAGS", "BODY.PEEK[]"]) if uids else {}
        return [(frozenset(data[b"FLAGS"]), data[b"BODY[]"]) for data in found.values()]


def test_backfill_logs_each_rejection_once_and_drafts_where_a_person_reads(
    loaded: tuple[Settings, Mailbox, str]
) -> None:
    settings, mailbox, tag = loaded
    app.backfill_imap(settings, classifier=FakeClassifier())  # a second pass adds nothing
    with Store.open(settings.database) as store:
        log = store.rejection_log()
        assert sorted(r["message_id"] for r in log) == sorted(
            [f"<person-{tag}@acme.example>", f"<noreply-{tag}@acme.example>", f"<ats-{tag}@acme.example>"])
        assert {r["folder"] for r in log} == {mailbox.folder}
        assert all(r["uidvalidity"] == mailbox.uidvalidity() for r in log)
        notes = {r["message_id"]: r["draft_note"] for r in log}
        assert notes[f"<noreply-{tag}@acme.example>"] == "no draft: no-reply sender (no-reply@acme.example)"
        rows = store.drafts()
        assert sorted(r["to_addr"] for r in rows) == ["Jane Doe <jane.doe@acme.example>",
                                                      "Raj Patel <raj@acme.example>"]
        for row in rows:
            msg = email.message_from_bytes(row["message"].encode("ascii"), policy=email.policy.default)
            original = store.rejection(row["rejection_id"])["message_id"]
            assert msg["In-Reply-To"] == original and msg["References"].split()[-1] == original
            assert msg["Subject"].startswith("Re: [REJECT]") and not msg["Subject"].startswith("Re: Re:")
            assert str(msg["From"]) == "Sam Taylor <sam@example.com>"
        assert store.count("reminders") == 6  # apply_next + tailor_resume for each rejection
    assert mailbox.flags() and all(b"\\Seen" not in f for f in mailbox.flags().values())


def test_approve_appends_the_draft_to_drafts_flagged_draft(loaded: tuple[Settings, Mailbox, str]) -> None:
    settings, mailbox, _tag = loaded
    with Store.open(settings.database) as store:
        row = store.drafts()[0]
        done = drafts.approve_draft(store, settings, row["id"], now=NOW)
        assert done.folder == "Drafts" and not done.already_there
        copies = _folder_messages(mailbox.server, "Drafts", row["message_id"])
        assert len(copies) == 1
        flags, data = copies[0]
        assert b"\\Draft" in flags
        assert data.replace(b"\r\n", b"\n") == row["message"].encode("ascii").replace(b"\r\n", b"\n")
        assert store.draft(row["id"])["status"] == "approved"
        with pytest.raises(drafts.DraftError, match="not pending"):
            drafts.approve_draft(store, settings, row["id"])
        # approving again after a lost answer never leaves two copies
        store.set_draft_status(row["id"], "pending")
        again = drafts.approve_draft(store, settings, row["id"], now=NOW)
        assert again.already_there
        assert len(_folder_messages(mailbox.server, "Drafts", row["message_id"])) == 1


def test_approve_uses_the_configured_drafts_folder(loaded: tuple[Settings, Mailbox, str]) -> None:
    settings, mailbox, _tag = loaded
    folder = f"{mailbox.folder}-drafts"
    mailbox.server.create_folder(folder)
    try:
        settings = replace(settings, accounts=(mailbox.account(drafts_folder=folder),))
        with Store.open(settings.database) as store:
            row = store.drafts()[0]
            assert drafts.approve_draft(store, settings, row["id"]).folder == folder
            assert len(_folder_messages(mailbox.server, folder, row["message_id"])) == 1
    finally:
        mailbox.server.delete_folder(folder)


def test_approve_through_the_cli(loaded: tuple[Settings, Mailbox, str], tmp_path: Path) -> None:
    settings, mailbox, _tag = loaded
    config = write_config(tmp_path / "config.toml", mailbox.server, mailbox.folder,
                          database=settings.database)
    with config.open("a", encoding="utf-8") as fh:
        fh.write('\n[user]\nname = "Sam Taylor"\nemail = "sam@example.com"\n')
    with Store.open(settings.database) as store:
        draft_id = store.drafts()[1]["id"]
        message_id = store.draft(draft_id)["message_id"]
    result = CliRunner().invoke(cli, ["--config", str(config), "drafts", "approve", str(draft_id)])
    assert result.exit_code == 0, result.output
    assert "Drafts" in result.output and "send it from your mail client" in result.output
    assert len(_folder_messages(mailbox.server, "Drafts", message_id)) == 1
    listed = CliRunner().invoke(cli, ["--config", str(config), "drafts", "list", "--status", "approved"])
    assert f"{draft_id} " in listed.output and "approved" in listed.output


def test_email_to_self_reminder_lands_in_the_inbox(loaded: tuple[Settings, Mailbox, str]) -> None:
    settings, mailbox, _tag = loaded
    with Store.open(settings.database) as store:
        delivered = reminders.deliver_due(store, settings, NOW + timedelta(days=1), ["email"])
        assert len(delivered) == 6
        row = store.reminder(delivered[0])
        stamp = datetime.fromisoformat(row["due"]).strftime("%Y%m%d%H%M")
        copies = _folder_messages(mailbox.server, "INBOX", f"<reminder.{row['id']}.{stamp}@example.com>")
        assert len(copies) == 1
        flags, data = copies[0]
        assert b"\\Seen" not in flags  # unread, so the mail client shows it
        msg = email.message_from_bytes(data, policy=email.policy.default)
        assert msg["Subject"].startswith("Reminder: " + row["text"][:60])
        assert str(msg["To"]) == "sam@example.com"
        assert f"watcher reminders done {row['id']}" in msg.get_content()
        assert all(store.reminder(i)["status"] == "delivered" for i in delivered)
        # nothing is delivered twice
        assert reminders.deliver_due(store, settings, NOW + timedelta(days=1), ["email"]) == []


def test_email_channel_failure_keeps_reminders_pending(loaded: tuple[Settings, Mailbox, str],
                                                       tmp_path: Path) -> None:
    settings, mailbox, _tag = loaded
    from imapserver import free_port

    broken = replace(settings, accounts=(mailbox.account(port=free_port()),))
    with Store.open(settings.database) as store:
        assert reminders.deliver_due(store, broken, NOW + timedelta(days=1), ["email"]) == []
        assert all(r["status"] == "pending" for r in reminders.list_reminders(store))


def test_mark_rereads_the_message_from_imap(loaded: tuple[Settings, Mailbox, str]) -> None:
    settings, mailbox, tag = loaded
    with Store.open(settings.database) as store:
        row = store.message_by_message_id(f"<person-{tag}@acme.example>")
        assert row["text"] is None  # store_text is off: the text must come from the server
        rejection_id = str(store.rejection_of_message(row["id"]))
        result = corrections.mark(store, settings, rejection_id, "not_rejection", now=NOW)
        assert result.removed and result.text_found
        [record] = store.corrections()
        assert record["label"] == "not_rejection" and "This is message 1." in record["body"]
        assert store.drafts_of_message(row["id"]) == []


def test_mark_finds_the_message_after_uidvalidity_changed(loaded: tuple[Settings, Mailbox, str]) -> None:
    settings, mailbox, tag = loaded
    # the same mail in a recreated folder: a new UIDVALIDITY and other UIDs
    mailbox.server.recreate_folder(mailbox.folder, list(reversed(_inbox(1, tag))))
    with Store.open(settings.database) as store:
        details = corrections.Details(kind="job", stage="interview", company="Friends")
        result = corrections.mark(store, settings, f"<lunch-{tag}@friends.example>", "rejection",
                                  details=details, now=NOW)
        assert result.text_found and result.rejection_id is not None
        assert "This is message 4." in store.corrections()[0]["body"]
        assert store.rejection(result.rejection_id)["stage"] == "interview"


# -- sending over SMTP --------------------------------------------------------------------------

@dataclass
class SmtpSink:
    """A minimal SMTP server on 127.0.0.1 that keeps what it receives."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    port: int = 0


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self.reply("220 sink ready")
            sender, recipients = "", list[str]()
            while line := self.rfile.readline():
                command = line.decode().strip()
                verb = command.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250 sink")
                elif verb == "MAIL":
                    sender, recipients = command.split(":", 1)[1].strip(" <>"), []
                    self.reply("250 ok")
                elif verb == "RCPT":
                    recipients.append(command.split(":", 1)[1].strip(" <>"))
                    self.reply("250 ok")
                elif verb == "DATA":
                    self.reply("354 go ahead")
                    data = b""
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data += chunk[1:] if chunk.startswith(b"..") else chunk
                    sink.messages.append((sender, recipients, data))
                    self.reply("250 queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("250 ok")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


def test_send_needs_a_confirmation_then_goes_over_smtp(loaded: tuple[Settings, Mailbox, str], tmp_path: Path,
                                                       smtp_sink: SmtpSink) -> None:
    settings, mailbox, _tag = loaded
    config = write_config(tmp_path / "config.toml", mailbox.server, mailbox.folder,
                          database=settings.database)
    text = config.read_text(encoding="utf-8").replace(
        "timeout = 15\n", f'timeout = 15\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp_sink.port}\n'
                          'smtp_security = "none"\n')
    config.write_text(text + '\n[user]\nname = "Sam Taylor"\nemail = "sam@example.com"\n', encoding="utf-8")
    with Store.open(settings.database) as store:
        row = store.drafts()[0]
    send = ["--config", str(config), "drafts", "send", str(row["id"])]
    declined = CliRunner().invoke(cli, send, input="n\n")
    assert declined.exit_code != 0 and "Aborted" in declined.output
    assert smtp_sink.messages == []
    sent = CliRunner().invoke(cli, [*send, "--yes"])
    assert sent.exit_code == 0, sent.output
    [(sender, recipients, data)] = smtp_sink.messages
    assert sender == "sam@example.com" and recipients == [row["to_addr"].split("<")[1].rstrip(">")]
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg["Message-ID"] == row["message_id"] and msg["In-Reply-To"] == row["in_reply_to"]
    assert msg["Bcc"] is None
    with Store.open(settings.database) as store:
        assert store.draft(row["id"])["status"] == "sent"
        with pytest.raises(drafts.DraftError, match="only pending or approved"):
            drafts.send_draft(store, settings, row["id"])


def test_send_without_smtp_configured_is_a_clear_error(loaded: tuple[Settings, Mailbox, str]) -> None:
    settings, _mailbox, _tag = loaded
    with Store.open(settings.database) as store:
        draft_id = store.drafts()[0]["id"]
        with pytest.raises(drafts.DraftError, match="set smtp_host"):
            drafts.send_draft(store, settings, draft_id)
        assert store.draft(draft_id)["status"] == "pending"
