"""The playbook turns each rejection into next steps with due times; due ones are delivered.

Every time here comes from an injected clock (`now`), so tests control it. Due times count from the
rejection's date (never later than now); a step whose due time passed more than `stale_after` ago is
not created at all, so a backfill of last year's mail does not bury the user in stale reminders.

The default playbook (issue 4), overridable per step in the config's [playbook] table:

    apply_next         any rejection               1 day    keep the momentum: the next application
    tailor_resume      job, application stage      1 day    tailor resume and cover letter to the posting
    interview_notes    job, interview stage        2 hours  write down what went well, what to improve
    feedback_followup  interview stage + a draft   7 days   no answer to the feedback request: let it go
    check_openings     "keep in touch" in the mail 30 days  check the company's openings again

    [playbook]
    stale_after = "3d"
    [playbook.apply_next]
    after = "2d"              # 30m, 2h, 1d, 1w
    [playbook.interview_notes]
    enabled = false
    [playbook.thank_referrer]  # a step of your own
    when = ["job", "interview"]
    after = "1d"
    text = "Tell whoever referred you to $company how it went"

Conditions in `when` (all must hold): any, job, pitch, investor, client, academic, program,
application, interview, draft (a feedback request was drafted), keep_in_touch.
Texts are string.Template with $company, $role, $who and $next_step.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from email.message import EmailMessage
from pathlib import Path
from string import Template
from typing import Any

import icalendar
from imapclient.exceptions import IMAPClientError

from .config import ConfigError, Settings
from .drafts import DraftError, build_message, load_template, render, user_address
from .sources.imap import (
    ClientFactory,
    ImapError,
    ImapSession,
    ImapTransient,
    default_client_factory,
    with_reconnect,
)
from .store import Store

log = logging.getLogger(__name__)

CONDITIONS = frozenset(
    {"any", "job", "pitch", "investor", "client", "academic", "program", "application", "interview",
     "draft", "keep_in_touch"}
)
STEP_KEYS = frozenset({"when", "after", "text", "enabled"})

DEFAULT_PLAYBOOK: dict[str, dict[str, Any]] = {
    "apply_next": {
        "when": ["any"], "after": "1d",
        "text": "Keep the momentum after the no from $who: $next_step",
    },
    "tailor_resume": {
        "when": ["job", "application"], "after": "1d",
        "text": "$company said no before any interview: tailor your resume and cover letter to the next "
                "posting, mirroring its keywords and leading with the requirements it lists",
    },
    "interview_notes": {
        "when": ["job", "interview"], "after": "2h",
        "text": "Write down what went well in the $who interviews and what you would do differently, "
                "while it is fresh",
    },
    "feedback_followup": {
        "when": ["interview", "draft"], "after": "7d",
        "text": "No answer from $who to your feedback request after a week? Let it go and mark this done",
    },
    "check_openings": {
        "when": ["keep_in_touch"], "after": "30d",
        "text": "$company said to keep in touch: check their openings again",
    },
}
DEFAULT_STALE_AFTER = "3d"

NEXT_STEP = {
    "job": "apply to the next roles on your list",
    "pitch": "send the next pitch on your list",
    "investor": "reach out to the next investor on your list",
    "client": "follow up with the next prospect on your list",
    "academic": "plan where to submit next",
    "program": "pick the next program or grant to apply to",
}

_KEEP_IN_TOUCH = re.compile(
    r"keep (?:you|your (?:details|resume|cv|profile|application)) (?:in mind|on file)"
    r"|keep in touch|stay in touch|future (?:opportunit|opening|role|position|vacanc)"
    r"|(?:encourage|welcome|invite) you to (?:re-?apply|apply again)|apply again in the future"
    r"|talent (?:pool|community)|reach out (?:again )?(?:if|when) (?:a|another|something)",
    re.IGNORECASE,
)


class ReminderError(Exception):
    """A reminder command cannot be carried out; the message says why."""


def keep_in_touch(text: str) -> bool:
    """Did the sender say they would like to hear from the user again?"""
    return bool(_KEEP_IN_TOUCH.search(text or ""))


_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)


def parse_duration(text: str) -> timedelta:
    """'30m', '2h', '3d', '1w' -> timedelta; ValueError otherwise."""
    found = _DURATION.match(str(text))
    if not found:
        raise ValueError(f"{text!r} is not a duration like 30m, 2h, 3d or 1w")
    amount, unit = int(found.group(1)), found.group(2).lower()
    return {"m": timedelta(minutes=amount), "min": timedelta(minutes=amount), "h": timedelta(hours=amount),
            "d": timedelta(days=amount), "w": timedelta(weeks=amount)}[unit]


def local_tz() -> tzinfo:
    tz = datetime.now().astimezone().tzinfo
    assert tz is not None
    return tz


def parse_when(text: str, now: datetime, tz: tzinfo | None = None) -> datetime:
    """'3d', '2h' (from now), 'YYYY-MM-DD' (09:00 local), 'YYYY-MM-DD HH:MM' (local) -> aware UTC."""
    tz = tz or local_tz()
    text = text.strip()
    try:
        return (now + parse_duration(text)).astimezone(UTC)
    except ValueError:
        pass
    for fmt, hour in (("%Y-%m-%d %H:%M", None), ("%Y-%m-%dT%H:%M", None), ("%Y-%m-%d", 9)):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if hour is not None:
            parsed = parsed.replace(hour=hour)
        return parsed.replace(tzinfo=tz).astimezone(UTC)
    raise ReminderError(f"cannot read {text!r}: use YYYY-MM-DD, 'YYYY-MM-DD HH:MM', or 3d / 2h / 30m / 1w")


def iso(moment: datetime) -> str:
    """How times are stored: ISO 8601 in UTC to the second (they sort as text)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- the playbook -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    action: str
    when: frozenset[str]
    after: timedelta
    text: str


@dataclass(frozen=True)
class Playbook:
    steps: tuple[Step, ...]
    stale_after: timedelta


def load_playbook(config: Mapping[str, Any] | None = None) -> Playbook:
    """The default playbook with the config's [playbook] overrides; ConfigError on a bad entry."""
    config = dict(config or {})
    merged = {name: dict(step) for name, step in DEFAULT_PLAYBOOK.items()}
    stale = config.pop("stale_after", DEFAULT_STALE_AFTER)
    for name, override in config.items():
        if not isinstance(override, Mapping):
            raise ConfigError(f"[playbook.{name}] must be a table (with when, after, text, enabled)")
        unknown = set(override) - STEP_KEYS
        if unknown:
            raise ConfigError(f"[playbook.{name}]: unknown key(s) {', '.join(sorted(unknown))}")
        if name not in merged and not {"when", "after", "text"} <= set(override):
            raise ConfigError(f"[playbook.{name}]: a new step needs when, after and text")
        merged.setdefault(name, {}).update(override)
    steps = []
    for name, raw in merged.items():
        if not raw.get("enabled", True):
            continue
        when = raw["when"]
        when_set = frozenset([when] if isinstance(when, str) else when)
        bad = when_set - CONDITIONS
        if bad or not when_set:
            raise ConfigError(f"[playbook.{name}]: unknown condition(s) {', '.join(sorted(bad)) or '(none)'} "
                              f"(known: {', '.join(sorted(CONDITIONS))})")
        try:
            after = parse_duration(raw["after"])
        except ValueError as exc:
            raise ConfigError(f"[playbook.{name}].after: {exc}") from None
        if not isinstance(raw["text"], str) or not raw["text"].strip():
            raise ConfigError(f"[playbook.{name}].text must be a non-empty string")
        steps.append(Step(name, when_set, after, raw["text"].strip()))
    try:
        stale_after = parse_duration(stale)
    except ValueError as exc:
        raise ConfigError(f"[playbook].stale_after: {exc}") from None
    return Playbook(tuple(steps), stale_after)


@dataclass(frozen=True)
class Facts:
    """What the playbook looks at for one rejection."""

    kind: str | None
    stage: str | None
    company: str | None
    role: str | None
    date: datetime | None
    drafted: bool
    keep_in_touch: bool

    def holds(self, condition: str) -> bool:
        if condition == "any":
            return True
        if condition in ("application", "interview"):
            return self.stage == condition
        if condition == "draft":
            return self.drafted
        if condition == "keep_in_touch":
            return self.keep_in_touch
        return self.kind == condition


@dataclass(frozen=True)
class Planned:
    action: str
    text: str
    due: datetime


def plan(playbook: Playbook, facts: Facts, now: datetime) -> list[Planned]:
    """The steps that apply, with due times counted from the rejection's date (at most now)."""
    base = min(facts.date, now) if facts.date else now
    company = facts.company or "the company"
    who = facts.company or "them"
    if facts.company and facts.role:
        who = f"{facts.company} ({facts.role})"
    values = {"company": company, "role": facts.role or "the role", "who": who,
              "next_step": NEXT_STEP.get(facts.kind or "", "send the next application on your list")}
    out = []
    for step in playbook.steps:
        if not all(facts.holds(c) for c in step.when):
            continue
        due = base + step.after
        if due < now - playbook.stale_after:
            log.debug("playbook step %s for %s was due %s: too long ago, skipped", step.action, who, due)
            continue
        out.append(Planned(step.action, Template(step.text).safe_substitute(values), due))
    return out


def create_reminders(
    store: Store, rejection_id: int, playbook: Playbook, facts: Facts, now: datetime
) -> list[int]:
    """Plan and store the reminders of one rejection (inside the caller's transaction)."""
    ids = []
    for step in plan(playbook, facts, now):
        reminder_id = store.add_reminder(rejection_id, step.action, step.text, iso(step.due))
        if reminder_id is not None:
            ids.append(reminder_id)
    return ids


# -- review -------------------------------------------------------------------------------------

def _row(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"], "due": row["due"], "status": row["status"], "action": row["action"],
        "text": row["text"], "company": row["company"], "role": row["role"], "kind": row["kind"],
        "stage": row["stage"], "rejection_id": row["rejection_id"], "due_at": row["due_at"],
        "snoozed_until": row["snoozed_until"], "delivered_at": row["delivered_at"],
    }


def list_reminders(store: Store, include_done: bool = False) -> list[dict[str, Any]]:
    return [_row(r) for r in store.reminders(include_done)]


def _get(store: Store, reminder_id: int) -> Any:
    row = store.reminder(reminder_id)
    if row is None:
        raise ReminderError(f"no reminder with id {reminder_id} (see `watcher reminders`)")
    return row


def mark_done(store: Store, reminder_id: int) -> dict[str, Any]:
    row = _get(store, reminder_id)
    with store.transaction():
        store.set_reminder_done(reminder_id)
    return _row(row) | {"status": "done"}


def snooze(store: Store, reminder_id: int, until: str, now: datetime, tz: tzinfo | None = None) -> datetime:
    """Move a reminder to `until` (see parse_when); it is delivered again then, even if it was already."""
    row = _get(store, reminder_id)
    if row["status"] == "done":
        raise ReminderError(f"reminder {reminder_id} is done; nothing to snooze")
    when = parse_when(until, now, tz)
    if when <= now:
        raise ReminderError(f"{until!r} is in the past")
    with store.transaction():
        store.snooze_reminder(reminder_id, iso(when))
    return when


def export_ics(store: Store, path: Path, now: datetime, include_done: bool = False) -> int:
    """Write the open reminders as an iCalendar file (one event with an alarm each); returns the count."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Rejection Watcher//reminders//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Rejection Watcher")
    rows = store.reminders(include_done)
    for row in rows:
        start = from_iso(row["due"])
        event = icalendar.Event()
        event.add("uid", f"reminder-{row['id']}@rejection-watcher")
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", start.astimezone(UTC))
        event.add("duration", timedelta(minutes=30))
        event.add("summary", row["text"])
        event.add("description", _context(row) + f"\n\nDone? watcher reminders done {row['id']}")
        event.add("categories", ["rejection-watcher", row["action"]])
        if row["status"] == "done":
            event.add("status", "CANCELLED")
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", row["text"])
        alarm.add("trigger", timedelta(0))
        event.add_component(alarm)
        cal.add_component(event)
    _write_atomic(Path(path), cal.to_ical())
    return len(rows)


def _write_atomic(path: Path, data: bytes) -> None:
    path = path.expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise ReminderError(f"cannot write {path}: {exc.strerror or exc}") from None


def _context(row: Any) -> str:
    parts = []
    if row["company"]:
        parts.append(f"Company: {row['company']}")
    if row["role"]:
        parts.append(f"Role: {row['role']}")
    if row["subject"]:
        parts.append(f"About: {row['subject']}")
    return "\n".join(parts)


# -- delivery -----------------------------------------------------------------------------------

Channel = Callable[[Sequence[Any], Settings, datetime], set[int]]
_DELIVERY = threading.Lock()  # the daemon's poll threads may tick at once; deliver one at a time


def deliver_log(due: Sequence[Any], _settings: Settings, _now: datetime) -> set[int]:
    for row in due:
        log.info("reminder %d due: %s", row["id"], row["text"])
    return {row["id"] for row in due}


def deliver_desktop(due: Sequence[Any], _settings: Settings, _now: datetime) -> set[int]:
    """notify-send where it exists (a Linux desktop); skipped quietly elsewhere."""
    program = shutil.which("notify-send")
    if program is None:
        log.debug("desktop notifications: notify-send not found; skipped")
        return set()
    done = set()
    for row in due:
        try:
            result = subprocess.run(
                [program, "--app-name=Rejection Watcher", "Rejection Watcher", row["text"]],
                capture_output=True, timeout=10, check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.debug("desktop notification failed: %s", exc)
            continue
        if result.returncode == 0:
            done.add(row["id"])
    return done


def reminder_message(row: Any, settings: Settings, address: str, now: datetime) -> EmailMessage:
    text, source = load_template(["reminder.txt"], settings)
    due = from_iso(row["due"]).astimezone(local_tz()).strftime("%Y-%m-%d %H:%M")
    body = render(text, {"text": row["text"], "context": _context(row), "due": due, "id": str(row["id"])},
                  source)
    domain = address.rpartition("@")[2] or "localhost"
    stamp = from_iso(row["due"]).strftime("%Y%m%d%H%M")
    subject = "Reminder: " + (row["text"] if len(row["text"]) <= 90 else row["text"][:87] + "...")
    return build_message(
        from_addr=f"Rejection Watcher <{address}>", to_addr=address, subject=subject, body=body,
        in_reply_to=None, references=(), message_id=f"<reminder.{row['id']}.{stamp}@{domain}>", date=now,
    )


def deliver_email(
    due: Sequence[Any], settings: Settings, now: datetime,
    client_factory: ClientFactory = default_client_factory,
) -> set[int]:
    """A small message to self per reminder, APPENDed to the INBOX of the rejection's account."""
    if not settings.accounts:
        log.warning("reminders: the email channel needs an [[accounts]] entry; skipped")
        return set()
    by_account: dict[str, list[Any]] = {}
    names = {a.name for a in settings.accounts}
    for row in due:
        by_account.setdefault(row["account"] if row["account"] in names else settings.accounts[0].name,
                              []).append(row)
    done: set[int] = set()
    for name, rows in by_account.items():
        account = settings.account(name)
        try:
            address = user_address(settings, name)
            messages = [(row["id"], reminder_message(row, settings, address, now)) for row in rows]
        except DraftError as exc:
            log.error("reminders: cannot write the email to self for %s: %s", name, exc)
            continue

        def work(session: ImapSession, messages: list[tuple[int, EmailMessage]] = messages) -> None:
            client = session.require()
            client.select_folder("INBOX", readonly=True)
            for reminder_id, msg in messages:
                if reminder_id in done:
                    continue
                if not client.search(["HEADER", "Message-ID", str(msg["Message-ID"])]):
                    client.append("INBOX", msg.as_bytes(), msg_time=now)
                done.add(reminder_id)

        session = ImapSession(account, client_factory)
        try:
            with_reconnect(session, work, attempts=3)
        except (ImapError, ImapTransient, IMAPClientError, OSError, ConfigError) as exc:
            log.error("reminders: email to self through %s failed: %s", name, exc)
        finally:
            session.close()
    return done


CHANNELS: dict[str, Channel] = {"log": deliver_log, "desktop": deliver_desktop, "email": deliver_email}


def deliver_due(
    store: Store, settings: Settings, now: datetime, channels: Iterable[str] | None = None,
    *, client_factory: ClientFactory = default_client_factory,
) -> list[int]:
    """Deliver every due reminder through the channels; returns the ids delivered.

    A reminder counts as delivered when at least one channel reached the user; otherwise it stays
    pending and the next tick tries again.
    """
    names = list(channels if channels is not None else settings.reminder_channels)
    unknown = set(names) - set(CHANNELS)
    if unknown:
        raise ReminderError(f"unknown reminder channel(s): {', '.join(sorted(unknown))}")
    with _DELIVERY:
        due = store.due_reminders(iso(now))
        if not due:
            return []
        reached: set[int] = set()
        for name in names:
            if name == "email":
                reached |= deliver_email(due, settings, now, client_factory)
            else:
                reached |= CHANNELS[name](due, settings, now)
        delivered = [row["id"] for row in due if row["id"] in reached]
        with store.transaction():
            for reminder_id in delivered:
                store.set_reminder_delivered(reminder_id, iso(now))
        missed = len(due) - len(delivered)
        if missed:
            log.warning("%d due reminder(s) reached no channel; trying again on the next tick", missed)
        return delivered
