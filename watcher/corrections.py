"""`watcher mark`: the user's verdict on a message fixes the log and becomes a training label.

Marking a message "not a rejection" removes its rejection (and, by cascade, its draft and reminders)
and sets the message's label, which later runs never overwrite. Marking it "a rejection" logs it and
plans its draft and reminders. Either way the message's text is kept as a correction: from the
database when it was stored, else re-read from its IMAP folder (UID checked against UIDVALIDITY, with
a Message-ID search as the fallback) or its local mbox/Maildir. `store.corrections()` gives them in
the training-data format, so `watcher train` learns from them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import extract
from .config import ConfigError, Settings
from .followups import plan_draft, plan_reminders
from .messages import ParsedMessage, ParseError, RawMessage, parse
from .reminders import load_playbook
from .sources import local
from .sources.imap import (
    ClientFactory,
    ImapError,
    ImapSession,
    ImapTransient,
    default_client_factory,
    with_reconnect,
)
from .stats import message_from_row
from .store import Record, Store

log = logging.getLogger(__name__)

LABELS = ("rejection", "not_rejection")


class CorrectionError(Exception):
    """The message to mark cannot be found or the correction cannot be applied."""


@dataclass(frozen=True)
class Details:
    """What the user says about a rejection (anything left None is taken from the rules in extract.py)."""

    kind: str | None = None
    stage: str | None = None
    company: str | None = None
    role: str | None = None


@dataclass
class MarkResult:
    message_ref: int
    message_id: str | None
    label: str
    previous_label: str
    rejection_id: int | None = None
    draft_id: int | None = None
    reminders: list[int] = field(default_factory=list)
    removed: bool = False
    text_found: bool = False
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        what = "a rejection" if self.label == "rejection" else "not a rejection"
        parts = [f"{self.message_id or f'message {self.message_ref}'} marked as {what}"]
        if self.removed:
            parts.append("removed from the log with its draft and reminders")
        if self.rejection_id is not None:
            parts.append(f"logged as rejection {self.rejection_id}"
                         + (f", draft {self.draft_id}" if self.draft_id else "")
                         + (f", {len(self.reminders)} reminder(s)" if self.reminders else ""))
        parts.append("kept as a training label" + ("" if self.text_found else " (without its text)"))
        return "; ".join(parts)


def find_message(store: Store, ref: str) -> Any:
    """A messages row from a rejection log id ("12") or a Message-ID ("<abc@x>" or "abc@x")."""
    ref = ref.strip()
    if ref.isdigit():
        rejection = store.rejection(int(ref))
        if rejection is None:
            raise CorrectionError(f"no rejection with id {ref} in the log; to mark a message that is not "
                                  "in the log, give its Message-ID")
        row = store.message(rejection["message_ref"])
    else:
        message_id = ref if ref.startswith("<") else f"<{ref}>"
        row = store.message_by_message_id(message_id)
        if row is None:
            raise CorrectionError(f"no processed message has the Message-ID {message_id}")
    if row is None:
        raise CorrectionError(f"message for {ref!r} not found")
    return row


# -- re-reading a message -----------------------------------------------------------------------

def _same(msg: ParsedMessage, row: Any) -> bool:
    if not row["message_id"]:
        return msg.dedupe_key() == row["dedupe_key"]
    return msg.message_id == row["message_id"]


def _from_local(row: Any) -> ParsedMessage | None:
    path = Path(row["folder"])
    if path.is_file():
        reader = local.iter_mbox
    elif path.is_dir():
        reader = local.iter_maildir
    else:
        return None
    for raw in reader(path, int(row["uid"])):
        msg = parse(raw.data)
        if _same(msg, row):
            return msg
        break
    for raw in reader(path, 1):  # the file changed since: look for the Message-ID
        msg = parse(raw.data)
        if row["message_id"] and msg.message_id == row["message_id"]:
            return msg
    return None


def _from_imap(row: Any, settings: Settings, client_factory: ClientFactory) -> ParsedMessage | None:
    account = settings.account(row["account"])

    def work(session: ImapSession) -> list[RawMessage]:
        info = session.select(row["folder"])
        uids = [int(row["uid"])] if info.uidvalidity == row["uidvalidity"] else []
        if not uids:
            log.info("%s/%s: UIDVALIDITY changed; looking for the message by its Message-ID",
                     account.name, row["folder"])
        raws = session.fetch(info, uids) if uids else []
        if raws and _same(parse(raws[0].data), row):
            return raws
        if row["message_id"]:
            found = session.require().search(["HEADER", "Message-ID", row["message_id"]])
            if found:
                return session.fetch(info, sorted(found)[:1])
        return []

    session = ImapSession(account, client_factory)
    try:
        raws = with_reconnect(session, work, attempts=3)
    finally:
        session.close()
    return parse(raws[0].data) if raws else None


def reread(row: Any, settings: Settings, client_factory: ClientFactory = default_client_factory
           ) -> ParsedMessage | None:
    """The message parsed again from where it was read, or None (with a warning) when that fails."""
    try:
        if row["account"] == local.LOCAL_ACCOUNT:
            return _from_local(row)
        return _from_imap(row, settings, client_factory)
    except (ConfigError, ImapError, ImapTransient, local.LocalSourceError, ParseError, OSError) as exc:
        log.warning("cannot re-read message %s from %s/%s: %s", row["id"], row["account"], row["folder"], exc)
        return None


def body_text(msg: ParsedMessage) -> str:
    """The body as the training data has it: new text, signature, then the quoted thread."""
    return "\n\n".join(part for part in (msg.text, msg.signature, msg.quoted) if part).strip()


# -- marking ------------------------------------------------------------------------------------

def mark(
    store: Store, settings: Settings, ref: str, label: str, *, details: Details | None = None,
    client_factory: ClientFactory = default_client_factory, now: datetime | None = None,
    fetch: Callable[[Any], ParsedMessage | None] | None = None,
) -> MarkResult:
    """Apply the user's verdict on a message (see the module docstring)."""
    if label not in LABELS:
        raise CorrectionError(f"label must be one of {', '.join(LABELS)}")
    now = now or datetime.now(UTC)
    details = check_details(details or Details())
    row = find_message(store, ref)
    stored_text = row["text"]
    msg = None if stored_text else (fetch or (lambda r: reread(r, settings, client_factory)))(row)
    if msg is None:
        msg = message_from_row(row)
        text = stored_text
    else:
        text = body_text(msg)
    result = MarkResult(message_ref=row["id"], message_id=row["message_id"], label=label,
                        previous_label=row["label"],
                        text_found=bool(text and text.strip()))
    rules = extract.extract(msg) if label == "rejection" else None
    kind = details.kind or (rules.kind if rules else None)
    facts = {
        "kind": kind,
        "stage": (details.stage or (rules.stage if rules else None)) if kind == "job" else None,
        "company": details.company or (rules.company if rules else None),
        "role": details.role or (rules.role if rules and kind == "job" else None),
    }
    with store.transaction():
        existing = store.rejection_of_message(row["id"])
        if label == "not_rejection":
            for draft in store.drafts_of_message(row["id"]):
                if draft["status"] == "approved":
                    result.notes.append(f"draft {draft['id']} is in your Drafts folder: delete it there")
                elif draft["status"] == "sent":
                    result.notes.append(f"draft {draft['id']} had already been sent")
            result.removed = store.delete_rejection_of(row["id"]) > 0
            store.set_message_label(row["id"], "not_rejection")
        else:
            store.set_message_label(row["id"], "rejection")
            if existing is None:
                result.rejection_id = _log_rejection(store, settings, row, msg, facts, now, result)
            else:
                result.rejection_id = existing
                changes = {k: v for k, v in asdict_details(details).items() if v is not None}
                if changes:
                    store.update_rejection(result.rejection_id, **changes)
                result.notes.append(f"already in the log as rejection {result.rejection_id}")
        store.add_correction(
            row["id"], label=label, previous_label=row["label"], message_id=row["message_id"],
            subject=msg.subject or row["subject"], sender=msg.sender or row["sender"],
            reply_to=msg.reply_to or row["reply_to"], date=row["date"], text=text or None, **facts,
        )
    if not result.text_found:
        result.notes.append("its text could not be read, so it is not used for training")
    return result


def asdict_details(details: Details) -> dict[str, str | None]:
    return {"kind": details.kind, "stage": details.stage, "company": details.company, "role": details.role}


def _log_rejection(store: Store, settings: Settings, row: Any, msg: ParsedMessage, facts: dict[str, Any],
                   now: datetime, result: MarkResult) -> int | None:
    rec = Record(
        dedupe_key=row["dedupe_key"], account=row["account"], folder=row["folder"],
        uidvalidity=row["uidvalidity"], uid=row["uid"], message_id=row["message_id"], sender=row["sender"],
        reply_to=row["reply_to"], subject=row["subject"], date=row["date"], in_reply_to=row["in_reply_to"],
        refs=row["refs"] or "", label="rejection", score=row["score"], model_version=row["model_version"],
        reasons=("marked as a rejection by you",), **facts,
    )
    rejection_id = store.add_rejection(row["id"], rec)
    if rejection_id is None:
        return None
    result.draft_id = plan_draft(store, settings, rejection_id, msg, rec, now)
    result.reminders = plan_reminders(store, load_playbook(settings.playbook), rejection_id, msg, rec, now)
    return rejection_id


# -- export for training ------------------------------------------------------------------------

def training_records(database: Path) -> list[dict[str, Any]]:
    """The corrections in a database, as training records; [] when there is no database yet.

    For watcher/training.py: `records += corrections.training_records(settings.database)`.
    """
    if not Path(database).expanduser().exists():
        return []
    with Store.open(database) as store:
        return store.corrections()


def export_jsonl(store: Store, path: Path | None = None) -> str:
    """The corrections as JSON lines (training_data/FORMAT.md); written atomically to `path` if given."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in store.corrections())
    if path is not None:
        path = Path(path).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except OSError as exc:
            raise CorrectionError(f"cannot write {path}: {exc.strerror or exc}") from None
    return text


_KINDS = ("job", "pitch", "investor", "client", "academic", "program")


def check_details(details: Details) -> Details:
    if details.kind is not None and details.kind not in _KINDS:
        raise CorrectionError(f"kind must be one of {', '.join(_KINDS)}")
    if details.stage is not None and details.stage not in ("application", "interview"):
        raise CorrectionError("stage must be application or interview")
    if details.stage and details.kind not in (None, "job"):
        raise CorrectionError("a stage applies to job rejections only")
    return Details(details.kind or ("job" if details.stage else None), details.stage,
                   re.sub(r"\s+", " ", details.company).strip() if details.company else None,
                   re.sub(r"\s+", " ", details.role).strip() if details.role else None)
