"""Pipeline rules that hold whatever the model says."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest
from conftest import FakeClassifier, make_message

from watcher import app
from watcher.config import Settings
from watcher.store import Store


def _mbox(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.mbox(str(path))
    for data in messages:
        box.add(data)
    box.flush()
    box.close()
    return path


def test_a_no_the_user_wrote_is_never_logged_as_a_rejection(tmp_path: Path) -> None:
    mbox = _mbox(tmp_path / "in.mbox", [
        make_message(1, rejection=True, sender="Sam Porter <Sam.Porter@example.com>",
                     subject="Re: Offer - unfortunately I have accepted another offer"),
        make_message(2, rejection=True),
    ])
    settings = Settings(database=tmp_path / "w.db", user_email="sam.porter@example.com")
    summary = app.backfill_local(settings, mbox, "mbox", classifier=FakeClassifier())
    assert summary.new == 2 and summary.rejections == 1
    with Store.open(settings.database) as store:
        labels = {r["sender"]: r["label"] for r in store.db.execute("SELECT sender, label FROM messages")}
        assert store.count("rejections") == 1
    assert labels["Sam Porter <Sam.Porter@example.com>"] == "not_rejection"
    assert labels["Jane Recruiter <jane@acme.example>"] == "rejection"


def test_backfill_with_the_shipped_model_runs_in_a_worker_and_records_each_message_once(
    mailbox, settings_for, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real model, a real server: the pooled backfill gives the sequential pass's records."""
    from conftest import Mailbox

    from watcher import pipeline

    assert isinstance(mailbox, Mailbox)
    rejection = make_message(
        subject="Your application to Northwind",
        body="Dear Sam,\r\n\r\nThank you for applying for the Data Engineer role at Northwind. After careful "
             "consideration we have decided not to move forward with your application.\r\n\r\n"
             "Northwind Talent Team\r\n",
        sender="Priya Raman <priya.raman@northwind.example>",
    )
    messages = [make_message() for _ in range(23)] + [rejection, rejection]  # the same message twice
    mailbox.append(messages)
    pools: list[object] = []

    def spy(settings: Settings) -> object:
        pools.append(pipeline.analysis_pool(settings))
        return pools[-1]

    monkeypatch.setattr(app, "analysis_pool", spy)

    pooled = settings_for(mailbox.account())
    summary = app.backfill_imap(pooled)
    assert len(pools) == 1, "the backfill did not start its worker"
    assert (summary.seen, summary.new, summary.rejections) == (25, 24, 1)

    sequential = Settings(database=pooled.database.with_name("seq.db"), accounts=pooled.accounts)
    same = app.backfill_imap(sequential, command="poll")  # polls never start a worker
    with Store.open(pooled.database) as a, Store.open(sequential.database) as b:
        query = "SELECT dedupe_key, uid, label FROM messages ORDER BY uid"
        assert [tuple(r) for r in a.db.execute(query)] == [tuple(r) for r in b.db.execute(query)]
        assert a.count("rejections") == b.count("rejections") == 1
        assert a.folder_state("test", mailbox.folder) == b.folder_state("test", mailbox.folder)
    assert (same.seen, same.new) == (25, 24)
    assert app.backfill_imap(pooled).seen == 0  # and a second backfill has nothing to do
