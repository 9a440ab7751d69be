"""Pipeline rules that hold whatever the model says."""

from __future__ import annotations

import mailbox
from pathlib import Path

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
