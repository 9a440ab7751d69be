"""IMAP ingestion against a real server process on 127.0.0.1 (pymap, and Dovecot when installed)."""

from __future__ import annotations

import base64
import dataclasses
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import MARKER, FakeClassifier, Mailbox, make_message, rows, write_config
from imapserver import CuttingProxy, DovecotServer, available_backends

from watcher import app
from watcher.cli import cli
from watcher.config import Secret
from watcher.pipeline import Processor, process_account
from watcher.sources.imap import WHOLE_LIMIT, ImapError, ImapSession, ImapTransient
from watcher.store import Store


def message_ids(db: Path) -> list[str]:
    return sorted(str(r[0]) for r in rows(db, "SELECT message_id FROM messages"))


def header_ids(messages: list[bytes]) -> list[str]:
    found = []
    for data in messages:
        for line in data.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                found.append(line.split(b":", 1)[1].strip().decode())
    return sorted(found)


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch, classifier: FakeClassifier) -> FakeClassifier:
    """The CLI loads the model through app.load_classifier; give it the fake one."""
    monkeypatch.setattr(app, "load_classifier", lambda settings: classifier)
    return classifier


# -- incremental reading ------------------------------------------------------------------------


def test_backfill_records_each_message_once_with_folder_state(mailbox: Mailbox, settings_for, classifier):
    messages = [make_message(rejection=(i % 4 == 0)) for i in range(25)]
    mailbox.append(messages)
    settings = settings_for(mailbox.account(batch_size=10))

    summary = app.backfill_imap(settings, classifier=classifier)

    assert (summary.seen, summary.new, summary.rejections, summary.errors) == (25, 25, 7, 0)
    assert message_ids(settings.database) == header_ids(messages)
    assert rows(settings.database, "SELECT count(*) FROM rejections") == [(7,)]
    uids = mailbox.uids()
    stored = rows(settings.database, "SELECT uid, uidvalidity FROM messages ORDER BY uid")
    assert [r[0] for r in stored] == uids
    assert {r[1] for r in stored} == {mailbox.uidvalidity()}
    assert rows(settings.database, "SELECT uidvalidity, last_uid FROM folders WHERE folder = ?",
                mailbox.folder) == [(mailbox.uidvalidity(), max(uids))]
    assert classifier.calls == 3  # batches of 10, 10 and 5


def test_second_backfill_records_nothing_twice(mailbox: Mailbox, settings_for, classifier):
    with_ids = [make_message() for _ in range(6)]
    without_ids = [make_message(message_id=None) for _ in range(3)]  # deduped by content hash
    mailbox.append(with_ids + without_ids)
    settings = settings_for(mailbox.account())
    app.backfill_imap(settings, classifier=classifier)
    before = rows(settings.database, "SELECT * FROM messages ORDER BY id")
    assert len(before) == 9

    again = app.backfill_imap(settings, classifier=classifier)
    assert (again.seen, again.new) == (0, 0)

    # even with the folder positions forgotten, every message is read again and none is added twice
    con = sqlite3.connect(settings.database)
    con.execute("DELETE FROM folders")
    con.commit()
    con.close()
    third = app.backfill_imap(settings, classifier=classifier)
    assert (third.seen, third.new) == (9, 0)
    assert rows(settings.database, "SELECT * FROM messages ORDER BY id") == before


def test_poll_picks_up_exactly_the_new_messages(mailbox: Mailbox, settings_for, classifier):
    mailbox.append([make_message() for _ in range(5)])
    settings = settings_for(mailbox.account())
    first = app.backfill_imap(settings, classifier=classifier)
    assert first.new == 5

    new = [make_message(subject=f"fresh {i}", rejection=(i == 1)) for i in range(3)]
    mailbox.append(new)
    classifier.seen.clear()
    polled = app.backfill_imap(settings, classifier=classifier, command="poll")

    assert (polled.seen, polled.new, polled.rejections) == (3, 3, 1)
    assert sorted(m.subject for m in classifier.seen) == sorted(["fresh 0", f"{MARKER} fresh 1", "fresh 2"])
    assert len(rows(settings.database, "SELECT id FROM messages")) == 8

    idle = app.backfill_imap(settings, classifier=classifier, command="poll")
    assert (idle.seen, idle.new) == (0, 0)
    assert rows(settings.database, "SELECT command, status, seen FROM runs ORDER BY id")[-2:] == [
        ("poll", "ok", 3), ("poll", "ok", 0),
    ]


def test_since_only_reads_recent_mail(mailbox: Mailbox, settings_for, classifier):
    from datetime import date

    old = make_message(body="old\r\n").replace(b"Date: Mon, 02 Mar 2026", b"Date: Mon, 02 Mar 2020")
    mailbox.append([old, make_message(subject="recent one")])
    settings = settings_for(mailbox.account())
    app.backfill_imap(settings, classifier=classifier, since=date(2025, 1, 1))
    assert [r[0] for r in rows(settings.database, "SELECT subject FROM messages")] == ["recent one"]


# -- read-only ----------------------------------------------------------------------------------


def big_attachment_message(n: int, size: int = 3 * 1024 * 1024, *, rejection: bool = True) -> bytes:
    """multipart/mixed: a short text/plain (and text/html) body and an attachment of `size` bytes."""
    payload = base64.encodebytes(os.urandom(size)).replace(b"\n", b"\r\n")
    head = make_message(n, subject=f"Your application {n}", rejection=rejection, body="")
    head = head.replace(b"Content-Type: text/plain; charset=utf-8\r\n",
                        b'Content-Type: multipart/mixed; boundary="MIX"\r\n')
    return head.rstrip(b"\r\n") + b"\r\n\r\n" + b"".join([
        b"--MIX\r\n",
        b'Content-Type: multipart/alternative; boundary="ALT"\r\n\r\n',
        b"--ALT\r\n",
        b"Content-Type: text/plain; charset=iso-8859-1\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
        b"Thank you for applying. Unfortunately we will not move forward. Best regards, Ren=E9e\r\n",
        b"--ALT\r\n",
        b"Content-Type: text/html; charset=utf-8\r\n\r\n",
        b"<p>Thank you for applying. Unfortunately we will not move forward.</p>\r\n",
        b"--ALT--\r\n",
        b"--MIX\r\n",
        b'Content-Type: application/pdf; name="offer.pdf"\r\n',
        b'Content-Disposition: attachment; filename="offer.pdf"\r\n',
        b"Content-Transfer-Encoding: base64\r\n\r\n",
        payload,
        b"--MIX--\r\n",
    ])


def test_no_message_gains_seen_or_any_flag(mailbox: Mailbox, settings_for, classifier, imap_server):
    mailbox.append([make_message() for _ in range(6)] + [big_attachment_message(900, size=400_000)])
    with imap_server.session() as client:  # some messages already carry flags; those must stay too
        client.select_folder(mailbox.folder)
        uids = sorted(client.search(["ALL"]))
        client.add_flags(uids[:1], [b"\\Seen"])
        client.add_flags(uids[1:2], [b"\\Flagged", b"$Label1"])
    before = mailbox.flags()
    assert before[uids[0]] == {b"\\Seen"}
    assert sum(1 for f in before.values() if not f) == 5

    settings = settings_for(mailbox.account(batch_size=3))
    summary = app.backfill_imap(settings, classifier=classifier)
    assert summary.new == 7
    mailbox.append([make_message()])
    app.backfill_imap(settings, classifier=classifier, command="poll")

    after = mailbox.flags()
    assert {uid: after[uid] for uid in before} == before
    assert after[max(after)] == frozenset()


def test_large_message_is_classified_from_headers_and_text_only(
    mailbox: Mailbox, settings_for, classifier, imap_server
):
    big = big_attachment_message(901)
    assert len(big) > 3 * 1024 * 1024
    mailbox.append([big, make_message(902)])

    with CuttingProxy(imap_server.port) as proxy:
        account = mailbox.account(port=proxy.port)
        session = ImapSession(account)
        session.connect()
        try:
            info = session.select(mailbox.folder)
            raws = session.fetch(info, session.new_uids(0))
        finally:
            session.close()
        assert [r.truncated for r in raws] == [True, False]
        assert len(raws[0].data) < 20_000
        assert proxy.downstream < 100_000, "the attachment was downloaded"

    settings = settings_for(dataclasses.replace(account, port=imap_server.port), store_text=True)
    summary = app.backfill_imap(settings, classifier=classifier)
    assert (summary.new, summary.rejections) == (2, 1)
    parsed = next(m for m in classifier.seen if "901" in m.subject)
    assert "Unfortunately we will not move forward" in parsed.text
    assert "Renée" in parsed.text  # the quoted-printable latin-1 part decoded
    stored = rows(settings.database, "SELECT text, label FROM messages WHERE subject LIKE '%901%'")
    assert stored[0][1] == "rejection" and "not move forward" in str(stored[0][0])


def test_single_part_message_over_the_limit_is_fetched_in_part(mailbox: Mailbox, imap_server):
    """A huge single-part text message: headers and the first part of the text, not the whole thing."""
    body = ("We regret to inform you. " + "x" * 70 + "\r\n") * 20_000  # ~2 MB
    mailbox.append([make_message(903, body=body)])
    with CuttingProxy(imap_server.port) as proxy:
        session = ImapSession(mailbox.account(port=proxy.port))
        session.connect()
        try:
            info = session.select(mailbox.folder)
            [raw] = session.fetch(info, session.new_uids(0))
        finally:
            session.close()
    assert raw.truncated
    assert WHOLE_LIMIT < len(raw.data) < 1024 * 1024
    assert proxy.downstream < 1024 * 1024
    assert b"We regret to inform you" in raw.data


# -- UIDVALIDITY --------------------------------------------------------------------------------


def test_uidvalidity_change_rescans_without_duplicates(
    mailbox: Mailbox, settings_for, classifier, imap_server
):
    messages = [make_message(rejection=(i == 0)) for i in range(6)]
    mailbox.append(messages)
    settings = settings_for(mailbox.account())
    app.backfill_imap(settings, classifier=classifier)
    old_validity = mailbox.uidvalidity()
    assert rows(settings.database, "SELECT count(*) FROM messages") == [(6,)]

    added = [make_message(subject="after the rebuild")]
    imap_server.recreate_folder(mailbox.folder, messages + added)
    new_validity = mailbox.uidvalidity()
    assert new_validity != old_validity

    summary = app.backfill_imap(settings, classifier=classifier, command="poll")

    assert (summary.seen, summary.new) == (7, 1)
    assert message_ids(settings.database) == header_ids(messages + added)
    assert rows(settings.database, "SELECT count(*) FROM rejections") == [(1,)]
    assert rows(settings.database, "SELECT uidvalidity, last_uid FROM folders") == [
        (new_validity, max(mailbox.uids()))
    ]
    # every record now points at where the message is under the new UIDVALIDITY
    located = rows(settings.database, "SELECT uidvalidity, uid FROM messages ORDER BY uid")
    assert located == [(new_validity, uid) for uid in mailbox.uids()]


# -- dropped connections ------------------------------------------------------------------------


def test_connection_dropped_mid_backfill_is_resumed_without_loss(mailbox: Mailbox, settings_for, classifier,
                                                                  imap_server):
    messages = [make_message(body="x" * 2000 + "\r\n") for _ in range(30)]
    mailbox.append(messages)
    with CuttingProxy(imap_server.port, cut_after=30_000) as proxy:
        settings = settings_for(mailbox.account(port=proxy.port, batch_size=5))
        slept: list[float] = []
        with Store.open(settings.database) as store:
            processor = Processor(store, classifier)
            summary = process_account(processor, settings.accounts[0], sleep=slept.append)
        assert proxy.cuts == 1 and proxy.connections >= 2
    assert slept == [1.0]  # one back-off, then the reconnect resumed from the last committed batch
    assert summary.new == 30
    assert message_ids(settings.database) == header_ids(messages)


def test_server_gone_mid_backfill_keeps_a_consistent_prefix_and_rerun_completes(
    mailbox: Mailbox, settings_for, classifier, imap_server
):
    messages = [make_message(body="y" * 2000 + "\r\n") for _ in range(30)]
    mailbox.append(messages)
    uids = mailbox.uids()
    with CuttingProxy(imap_server.port, cut_after=40_000, refuse_after_cut=True) as proxy:
        account = mailbox.account(port=proxy.port, batch_size=5)
        settings = settings_for(account)
        with Store.open(settings.database) as store, pytest.raises(ImapTransient, match="connection failed"):
            process_account(Processor(store, classifier), account, sleep=lambda _s: None)

    [(last_uid,)] = rows(settings.database, "SELECT last_uid FROM folders")
    done = [r[0] for r in rows(settings.database, "SELECT uid FROM messages ORDER BY uid")]
    assert 0 < len(done) < 30
    assert done == [u for u in uids if u <= last_uid]  # committed batches only, nothing half-done

    rerun = app.backfill_imap(settings_for(mailbox.account(batch_size=5)), classifier=classifier)
    assert rerun.new == 30 - len(done)
    assert message_ids(settings.database) == header_ids(messages)


# -- errors -------------------------------------------------------------------------------------


def test_unparseable_message_is_recorded_with_its_uid_and_the_run_continues(mailbox: Mailbox, settings_for,
                                                                            classifier):
    junk = b"X-Nothing: here\r\n\r\n\r\n"
    mailbox.append([make_message(), junk, make_message()])
    bad_uid = mailbox.uids()[1]
    settings = settings_for(mailbox.account())

    summary = app.backfill_imap(settings, classifier=classifier)

    assert (summary.seen, summary.new, summary.errors) == (3, 2, 1)
    errors = rows(settings.database, "SELECT folder, uidvalidity, uid, error FROM errors")
    assert [(e[0], e[1], e[2]) for e in errors] == [(mailbox.folder, mailbox.uidvalidity(), bad_uid)]
    assert "no sender, subject or text" in str(errors[0][3])
    assert rows(settings.database, "SELECT last_uid FROM folders") == [(max(mailbox.uids()),)]


def test_wrong_password_is_one_clear_line_through_the_cli(mailbox: Mailbox, tmp_path, no_model, imap_server):
    wrong = "Wr0ng-Pa55-n0t-t0-be-l0gged"
    config = write_config(tmp_path / "config.toml", imap_server, mailbox.folder, password=wrong)
    with CuttingProxy(imap_server.port) as proxy:
        text = config.read_text().replace(f"port = {imap_server.port}", f"port = {proxy.port}")
        config.write_text(text)
        result = CliRunner().invoke(cli, ["--config", str(config), "backfill"])
        assert proxy.connections == 1, "a refused login must not be retried"

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        f"Error: personal: the server refused the login for {imap_server.user}; "
        "check the username and password (or token)"
    ]
    assert wrong not in result.output and imap_server.password not in result.output
    assert rows(tmp_path / "watcher.db", "SELECT command, status FROM runs") == [("backfill", "failed")]


def test_password_never_reaches_the_log(mailbox: Mailbox, settings_for, classifier, caplog, imap_server):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("imapclient").setLevel(logging.DEBUG)
    mailbox.append([make_message()])
    good = mailbox.account()
    app.backfill_imap(settings_for(good), classifier=classifier)
    bad = mailbox.account(secret=Secret("value", "An0ther-Wr0ng-0ne"))
    with pytest.raises(ImapError) as caught:
        app.backfill_imap(settings_for(bad), classifier=classifier)
    assert "An0ther-Wr0ng-0ne" not in str(caught.value)
    assert caplog.records, "expected some log output at DEBUG"
    assert imap_server.password not in caplog.text
    assert "An0ther-Wr0ng-0ne" not in caplog.text
    assert imap_server.password not in repr(good)


# -- the real CLI -------------------------------------------------------------------------------


@pytest.fixture
def cli_config(mailbox: Mailbox, tmp_path: Path, imap_server) -> Iterator[Path]:
    yield write_config(tmp_path / "config.toml", imap_server, mailbox.folder)


def test_cli_backfill_then_poll(mailbox: Mailbox, cli_config: Path, no_model, tmp_path):
    mailbox.append([make_message(rejection=True), make_message(), make_message()])
    runner = CliRunner()
    first = runner.invoke(cli, ["--config", str(cli_config), "backfill"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("3 messages seen, 3 new, 1 rejections found, 0 errors in ")

    mailbox.append([make_message()])
    second = runner.invoke(cli, ["--config", str(cli_config), "poll"])
    assert second.exit_code == 0, second.output
    assert second.output.startswith("1 messages seen, 1 new, 0 rejections found")

    status = runner.invoke(cli, ["--config", str(cli_config), "status"])
    assert "4 messages, 1 rejections, 0 unreadable" in status.output
    assert f"personal/{mailbox.folder}: up to UID {max(mailbox.uids())}" in status.output


def test_cli_dry_run_writes_nothing(mailbox: Mailbox, cli_config: Path, no_model, tmp_path):
    mailbox.append([make_message(rejection=True), make_message()])
    result = CliRunner().invoke(cli, ["--config", str(cli_config), "backfill", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("dry run: 2 messages seen, 2 new, 1 rejections found")
    assert rows(tmp_path / "watcher.db", "SELECT count(*) FROM messages") == [(0,)]
    assert rows(tmp_path / "watcher.db", "SELECT count(*) FROM folders") == [(0,)]


def test_doctor_against_the_real_server(mailbox: Mailbox, cli_config: Path, no_model, imap_server):
    mailbox.append([make_message() for _ in range(4)])
    result = CliRunner().invoke(cli, ["--config", str(cli_config), "doctor"])
    assert result.exit_code == 0, result.output
    expected = f"ok    personal: {mailbox.folder}: 4 messages (UIDVALIDITY {mailbox.uidvalidity()})"
    assert expected in result.output
    assert "ok    model: fake-1" in result.output
    assert imap_server.password not in result.output


def test_doctor_names_a_missing_folder_and_a_bad_password(mailbox: Mailbox, tmp_path, no_model, imap_server):
    missing = write_config(tmp_path / "missing.toml", imap_server, "No-Such-Folder")
    result = CliRunner().invoke(cli, ["--config", str(missing), "doctor"])
    assert result.exit_code == 1
    assert "FAIL  personal: folder 'No-Such-Folder' does not exist" in result.output

    bad = write_config(tmp_path / "bad.toml", imap_server, mailbox.folder, password="nope-nope")
    result = CliRunner().invoke(cli, ["--config", str(bad), "doctor"])
    assert result.exit_code == 1
    assert "FAIL  personal: the server refused the login" in result.output
    assert "nope-nope" not in result.output


def test_doctor_when_nothing_listens(tmp_path, no_model, imap_server):
    from imapserver import free_port

    config = write_config(tmp_path / "config.toml", imap_server, "INBOX")
    config.write_text(config.read_text().replace(f"port = {imap_server.port}", f"port = {free_port()}"))
    result = CliRunner().invoke(cli, ["--config", str(config), "doctor"])
    assert result.exit_code == 1
    assert "FAIL  personal: connection refused by 127.0.0.1:" in result.output


def test_folder_deleted_mid_backfill_is_one_clear_line(mailbox: Mailbox, cli_config: Path, monkeypatch,
                                                       imap_server, tmp_path):
    mailbox.append([make_message() for _ in range(25)])

    class DeletingClassifier(FakeClassifier):
        def classify(self, messages):  # type: ignore[no-untyped-def]
            if self.calls == 0:  # while the first batch is being processed, someone deletes the folder
                imap_server.delete_folder(mailbox.folder)
            return super().classify(messages)

    monkeypatch.setattr(app, "load_classifier", lambda settings: DeletingClassifier())
    result = CliRunner().invoke(cli, ["--config", str(cli_config), "backfill"])

    assert result.exit_code == 1, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: personal: ") and "exist" in line
    assert "Traceback" not in result.output
    # the batch that was processed before the folder vanished is kept, with its position
    assert rows(tmp_path / "watcher.db", "SELECT count(*) FROM messages") == [(10,)]
    assert rows(tmp_path / "watcher.db", "SELECT count(*) FROM folders") == [(1,)]


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[DovecotServer]:
    if "dovecot" not in available_backends():
        pytest.skip("IMAP server dovecot: not installed or left out by WATCHER_TEST_SERVERS")
    server = DovecotServer(tmp_path / "dovecot")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.cleanup()


def test_login_unavailable_is_retried_not_fatal(dovecot: DovecotServer, settings_for, classifier):
    """Dovecot answers NO [UNAVAILABLE] when its password database cannot be read: retry, later it works."""
    dovecot.create_folder("Jobs")
    dovecot.append("Jobs", [make_message(), make_message()])
    passwd = dovecot.base_dir / "passwd"
    passwd.chmod(0o000)
    later = time.time() + 5
    os.utime(passwd, (later, later))  # Dovecot reads a passwd-file again when its mtime changes,
    time.sleep(1.1)  # and looks at most once a second
    account = Mailbox(dovecot, "Jobs").account()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        passwd.chmod(0o644)  # the password database is back
        time.sleep(1.1)

    with Store.open(settings_for(account).database) as store:
        summary = process_account(Processor(store, classifier), account, sleep=sleep)
    assert slept == [1.0]
    assert summary.new == 2


def test_single_part_attachment_is_not_downloaded(mailbox: Mailbox, settings_for, classifier, imap_server):
    """A message that is nothing but a 2 MB PDF: its headers are enough (and all there is to read)."""
    payload = base64.encodebytes(os.urandom(2 * 1024 * 1024)).replace(b"\n", b"\r\n")
    pdf = make_message(904, subject="Offer letter", body="", rejection=True).replace(
        b"Content-Type: text/plain; charset=utf-8\r\n",
        b'Content-Type: application/pdf; name="offer.pdf"\r\nContent-Transfer-Encoding: base64\r\n',
    ) + payload
    mailbox.append([pdf])
    with CuttingProxy(imap_server.port) as proxy:
        account = mailbox.account(port=proxy.port)
        summary = app.backfill_imap(settings_for(account), classifier=classifier)
    assert (summary.new, summary.rejections) == (1, 1)
    assert proxy.downstream < 20_000
    assert classifier.seen[0].subject == f"{MARKER} Offer letter"
    assert classifier.seen[0].attachments == ("offer.pdf",)


def test_empty_folder_and_non_ascii_folder_names(imap_server, settings_for, classifier):
    folder = f"Absagen-Müller-{os.getpid()}"
    imap_server.create_folder(folder)
    try:
        account = Mailbox(imap_server, folder).account()
        settings = settings_for(account)
        empty = app.backfill_imap(settings, classifier=classifier)
        assert (empty.seen, empty.new) == (0, 0)
        assert rows(settings.database, "SELECT folder, last_uid FROM folders") == [(folder, 0)]

        imap_server.append(folder, [make_message(subject="Leider nein")])
        polled = app.backfill_imap(settings, classifier=classifier, command="poll")
        assert polled.new == 1
        assert rows(settings.database, "SELECT folder, subject FROM messages") == [(folder, "Leider nein")]
    finally:
        imap_server.delete_folder(folder)
