"""What happens to each new rejection, inside its batch's transaction: a draft, then reminders."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

from .config import Settings
from .drafts import create_draft
from .messages import ParsedMessage
from .reminders import Facts, Playbook, create_reminders, keep_in_touch, load_playbook
from .store import Record, Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Hook = Callable[[Store, int, ParsedMessage, Record], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def plan_draft(store: Store, settings: Settings, rejection_id: int, msg: ParsedMessage, rec: Record,
               now: datetime) -> int | None:
    return create_draft(store, rejection_id, msg, settings=settings, account=rec.account, kind=rec.kind,
                        stage=rec.stage, company=rec.company, role=rec.role, now=now)


def plan_reminders(store: Store, playbook: Playbook, rejection_id: int, msg: ParsedMessage, rec: Record,
                   now: datetime) -> list[int]:
    facts = Facts(
        kind=rec.kind, stage=rec.stage, company=rec.company, role=rec.role, date=_aware(msg.date),
        drafted=store.draft_for_rejection(rejection_id) is not None,
        keep_in_touch=keep_in_touch(msg.full_text),
    )
    return create_reminders(store, rejection_id, playbook, facts, now)


def _guarded(name: str, fn: Callable[[Store, int, ParsedMessage, Record], object]) -> Hook:
    """A follow-up that fails is logged and skipped: it never costs the batch its records.

    Database errors still propagate, so the batch rolls back as a whole.
    """

    def hook(store: Store, rejection_id: int, msg: ParsedMessage, rec: Record) -> None:
        try:
            fn(store, rejection_id, msg, rec)
        except sqlite3.Error:
            raise
        except Exception:
            log.exception("rejection %d: planning the %s failed", rejection_id, name)

    return hook


def rejection_hooks(settings: Settings, clock: Clock = utc_now) -> list[Hook]:
    """The pipeline's hooks for a new rejection: the draft first, so reminders know whether one exists."""
    playbook = load_playbook(settings.playbook)  # a bad [playbook] is a config error at startup
    return [
        _guarded("draft", lambda s, rid, m, r: plan_draft(s, settings, rid, m, r, clock())),
        _guarded("reminders", lambda s, rid, m, r: plan_reminders(s, playbook, rid, m, r, clock())),
    ]
