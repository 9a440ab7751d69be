"""Backfill of local exports (mbox, Maildir) through the real CLI: counts, resume after an interrupt."""

from __future__ import annotations

import mailbox
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FakeClassifier, make_message

from watcher import app
from watcher.cli import cli

ROOT = Path(__file__).resolve().parent.parent
BATCH = 500  # pipeline.process_local's batch size


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        return [tuple(r) for r in con.execute(sql)]
    finally:
        con.close()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\ndatabase = "{tmp_path / "watcher.db"}"\n', encoding="utf-8")
    return path


@pytest.fixture
def use_classifier(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def install(classifier: FakeClassifier) -> FakeClassifier:
        monkeypatch.setattr(app, "load_classifier", lambda settings: classifier)
        return classifier

    return install


def build_mbox(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.mbox(str(path))
    box.lock()
    try:
        for data in messages:
            box.add(data)
        box.flush()
    finally:
        box.unlock()
        box.close()
    return path


def build_maildir(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.Maildir(str(path), create=True)
    for data in messages:
        box.add(data)
    return path


def invoke(config: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--config", str(config), "backfill", *args])


def test_sample_mailbox_from_the_readme(config: Path, use_classifier, tmp_path: Path) -> None:
    use_classifier(FakeClassifier())
    result = invoke(config, "--mbox", str(ROOT / "samples" / "inbox.mbox"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("20 messages seen, 20 new, 0 rejections found, 0 errors in ")
    assert rows(tmp_path / "watcher.db", "SELECT count(DISTINCT message_id) FROM messages") == [(20,)]


@pytest.mark.parametrize("kind", ["mbox", "maildir"])
def test_backfill_is_resumable_after_an_interrupt(kind: str, config: Path, use_classifier, tmp_path: Path):
    total = 2 * BATCH + 200
    messages = [make_message(i, rejection=(i % 100 == 0)) for i in range(1, total + 1)]
    source = (build_mbox(tmp_path / "export.mbox", messages) if kind == "mbox"
              else build_maildir(tmp_path / "Maildir", messages))
    db = tmp_path / "watcher.db"

    # Ctrl-C while the second batch is being classified: the first batch stays, the second is not half-done
    use_classifier(FakeClassifier(interrupt_on_call=2))
    interrupted = invoke(config, f"--{kind}", str(source))
    assert interrupted.exit_code == 1
    assert "Aborted!" in interrupted.output
    assert rows(db, "SELECT count(*) FROM messages") == [(BATCH,)]
    assert rows(db, "SELECT last_uid FROM folders") == [(BATCH,)]
    assert rows(db, "SELECT command, status FROM runs") == [("backfill", "failed")]

    resumed_classifier = use_classifier(FakeClassifier())
    resumed = invoke(config, f"--{kind}", str(source))
    assert resumed.exit_code == 0, resumed.output
    assert resumed.output.startswith(f"{total - BATCH} messages seen, {total - BATCH} new, ")
    assert len(resumed_classifier.seen) == total - BATCH  # nothing read twice
    assert rows(db, "SELECT count(*), count(DISTINCT message_id) FROM messages") == [(total, total)]
    assert rows(db, "SELECT count(*) FROM rejections") == [(total // 100,)]

    again = invoke(config, f"--{kind}", str(source))
    assert again.output.startswith("0 messages seen, 0 new")
    assert rows(db, "SELECT count(*) FROM messages") == [(total,)]


def test_new_mail_appended_to_an_mbox_is_picked_up(config: Path, use_classifier, tmp_path: Path) -> None:
    use_classifier(FakeClassifier())
    path = build_mbox(tmp_path / "export.mbox", [make_message(i) for i in range(1, 4)])
    assert invoke(config, "--mbox", str(path)).exit_code == 0
    build_mbox(path, [make_message(4), make_message(5)])  # appends
    result = invoke(config, "--mbox", str(path))
    assert result.output.startswith("2 messages seen, 2 new")
    assert rows(tmp_path / "watcher.db", "SELECT count(*) FROM messages") == [(5,)]


@pytest.mark.parametrize("kind", ["mbox", "maildir"])
def test_unparseable_message_is_recorded_and_the_run_continues(kind: str, config: Path, use_classifier,
                                                               tmp_path: Path) -> None:
    use_classifier(FakeClassifier())
    messages = [make_message(1), b"X-Junk: only this\n\n\n", make_message(3)]
    source = (build_mbox(tmp_path / "export.mbox", messages) if kind == "mbox"
              else build_maildir(tmp_path / "Maildir", messages))
    result = invoke(config, f"--{kind}", str(source))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("3 messages seen, 2 new, 0 rejections found, 1 errors")
    errors = rows(tmp_path / "watcher.db", "SELECT account, folder, uid, error FROM errors")
    assert len(errors) == 1
    account, folder, uid, error = errors[0]
    assert (account, folder) == ("local", str(source.resolve()))
    assert "no sender, subject or text" in str(error)
    if kind == "mbox":
        assert uid == 2  # the message's position in the file
    status = CliRunner().invoke(cli, ["--config", str(config), "status"])
    assert "2 messages, 0 rejections, 1 unreadable" in status.output


def test_dry_run_writes_nothing(config: Path, use_classifier, tmp_path: Path) -> None:
    use_classifier(FakeClassifier())
    path = build_mbox(tmp_path / "export.mbox", [make_message(1, rejection=True), make_message(2)])
    result = invoke(config, "--mbox", str(path), "--dry-run")
    assert result.output.startswith("dry run: 2 messages seen, 2 new, 1 rejections found")
    assert rows(tmp_path / "watcher.db", "SELECT count(*) FROM messages") == [(0,)]
    assert rows(tmp_path / "watcher.db", "SELECT count(*) FROM folders") == [(0,)]


def test_since_filters_local_mail(config: Path, use_classifier, tmp_path: Path) -> None:
    use_classifier(FakeClassifier())
    old = make_message(1).replace(b"Date: Mon, 02 Mar 2026", b"Date: Mon, 02 Mar 2020")
    path = build_mbox(tmp_path / "export.mbox", [old, make_message(2)])
    result = invoke(config, "--mbox", str(path), "--since", "2025-01-01")
    assert result.exit_code == 0, result.output
    assert rows(tmp_path / "watcher.db", "SELECT subject FROM messages") == [("Message number 2",)]


def test_bad_local_sources_are_clear_errors(config: Path, use_classifier, tmp_path: Path) -> None:
    use_classifier(FakeClassifier())
    not_maildir = tmp_path / "plain-dir"
    not_maildir.mkdir()
    result = invoke(config, "--maildir", str(not_maildir))
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {not_maildir}: not a Maildir (no cur/ or new/ folder)"

    mbox = build_mbox(tmp_path / "x.mbox", [make_message(1)])
    both = invoke(config, "--mbox", str(mbox), "--maildir", str(not_maildir))
    assert both.exit_code == 2 and "give --mbox or --maildir, not both" in both.output

    missing = invoke(config, "--mbox", str(tmp_path / "missing.mbox"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
