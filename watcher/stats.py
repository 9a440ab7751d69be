"""`watcher stats`: counts by month, kind and stage, what they suggest, and ghosted applications."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from . import extract
from .chart import text_bars
from .messages import ParsedMessage
from .store import Store

# Acknowledgement cues ("we received your application"), in the languages the classifier reads.
_ACK = re.compile(
    r"thank(?:s| you) for (?:your )?(?:applying|application|applying to|your interest in|submitting)"
    r"|(?:we(?:'ve| have)? received|we got|confirm(?:ing)? (?:receipt|we received)) (?:of )?your application"
    r"|application (?:received|confirmation|submitted|confirmed)|your application (?:has been|was) "
    r"(?:received|submitted)|received your application"
    r"|bewerbung (?:eingegangen|erhalten)|eingangsbest[äa]tigung|vielen dank f[üu]r ihre bewerbung"
    r"|candidature (?:bien )?re[çc]ue|nous avons (?:bien )?re[çc]u votre candidature"
    r"|hemos recibido tu (?:solicitud|candidatura)|sollicitatie ontvangen|recebemos a sua candidatura",
    re.IGNORECASE,
)
# ...and what an acknowledgement never says (a rejection the model missed often opens with "thank you
# for applying").
_NO = re.compile(
    r"unfortunately|regret|not (?:been )?(?:selected|successful|moving forward|to move forward|to proceed)"
    r"|other candidates|decided to (?:pursue|move forward with)|leider|malheureusement|lamentablemente",
    re.IGNORECASE,
)
MIN_FOR_PATTERN = 5


@dataclass(frozen=True)
class Ghosted:
    company: str
    acknowledged: str  # the date of the acknowledgement
    subject: str
    sender: str
    weeks: int  # since the acknowledgement


@dataclass
class Stats:
    total: int
    by_month: list[tuple[str, int]]
    by_kind: dict[str, int]
    by_stage: dict[str, int]
    diagnosis: list[str]
    ghosted: list[Ghosted] = field(default_factory=list)
    acknowledgements: int = 0
    ghost_weeks: int = 4

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["by_month"] = dict(self.by_month)
        return data


def is_acknowledgement(subject: str | None, text: str | None = None) -> bool:
    """An "application received" style message (a heuristic on the subject and the first lines)."""
    head = (text or "")[:600]
    if _NO.search(subject or "") or _NO.search(head):
        return False
    return bool(_ACK.search(subject or "") or _ACK.search(head))


def message_from_row(row: Any) -> ParsedMessage:
    """A ParsedMessage rebuilt from a stored messages row (no quoted text; text only if stored)."""
    sender = row["sender"] or ""
    name, address = parseaddr(sender)
    date = None
    if row["date"]:
        try:
            date = datetime.fromisoformat(row["date"])
        except ValueError:
            date = None
    keys = row.keys()
    refs = row["refs"] if "refs" in keys else ""
    return ParsedMessage(
        message_id=row["message_id"] if "message_id" in keys else None,
        sender=sender, sender_name=name, sender_address=address.lower(),
        reply_to=row["reply_to"] if "reply_to" in keys else None, to="", subject=row["subject"] or "",
        date=date, in_reply_to=row["in_reply_to"] if "in_reply_to" in keys else None,
        references=tuple((refs or "").split()), text=row["text"] or "",
    )


def _months(counts: Counter[str]) -> list[tuple[str, int]]:
    """Every month from the first to the last, zeros included, so the chart shows gaps."""
    known = sorted(m for m in counts if re.fullmatch(r"\d{4}-\d{2}", m))
    if not known:
        return []
    year, month = map(int, known[0].split("-"))
    end = known[-1]
    out = []
    while True:
        label = f"{year:04d}-{month:02d}"
        out.append((label, counts.get(label, 0)))
        if label >= end:
            return out
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def diagnose(by_kind: dict[str, int], job_stages: dict[str, int]) -> list[str]:
    """What the counts suggest, in plain words."""
    lines = []
    application = job_stages.get("application", 0)
    interview = job_stages.get("interview", 0)
    jobs = application + interview
    if jobs and jobs < MIN_FOR_PATTERN:
        lines.append(f"{jobs} job rejection(s) so far: too few to see a pattern yet.")
    elif jobs:
        share = application / jobs
        if share >= 0.75:
            lines.append(
                f"{application} of {jobs} job noes ({share:.0%}) came before any interview: the application "
                "itself is where most are lost. Compare your resume and cover letter with each posting, "
                "mirror its keywords (ATS filters match them literally), lead with the requirements it "
                "lists, and cut what it does not ask for."
            )
        if interview >= 2 and interview / jobs >= 0.25:
            lines.append(
                f"{interview} of {jobs} job noes came after interviews: your applications get you in the "
                "door, so the work is in interview performance and fit. Write each interview down while it "
                "is fresh, rehearse your examples, and ask for feedback (a draft asking for it is queued "
                "where someone can read it)."
            )
        if not lines:
            lines.append(f"{jobs} job noes, spread over both stages: no single stage stands out.")
    for kind, advice in (
        ("pitch", "ask what would make a future pitch fit, and vary the angle or the outlet"),
        ("investor", "ask what would make you a fit later (traction, stage, market) and keep them posted"),
        ("client", "ask what decided it (scope, price, approach) and adjust the next proposal"),
        ("academic", "ask for the reviewers' comments and pick the next venue"),
        ("program", "ask what the strongest applications had, and line up the next deadline"),
    ):
        if by_kind.get(kind, 0) >= 3:
            lines.append(f"{by_kind[kind]} {kind} noes: {advice}.")
    return lines


def ghosted(store: Store, now: datetime, weeks: int) -> tuple[list[Ghosted], int]:
    """Acknowledged applications with no later mail from the company after `weeks` weeks.

    A heuristic, and it says so: an acknowledgement is recognised by subject/first-line cues, its
    company by the rules in extract.py, and "later mail" is any later message whose sender or subject
    names that company, or a logged rejection from it. Replies that went to another address, or
    companies named differently in later mail, are missed.
    """
    rows = store.message_summaries()
    parsed = []
    for row in rows:
        msg = message_from_row(row)
        when = msg.date if msg.date is None or msg.date.tzinfo else msg.date.replace(tzinfo=UTC)
        compact = extract.normalise_company(f"{msg.sender_name} {msg.sender_address.split('@')[-1]} "
                                            f"{msg.subject}")
        parsed.append((row, msg, when, compact))
    answered: dict[str, list[datetime]] = {}
    for entry in store.rejection_log():
        key = extract.normalise_company(entry["company"])
        if key and entry["date"]:
            try:
                moment = datetime.fromisoformat(entry["date"])
            except ValueError:
                continue
            answered.setdefault(key, []).append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    cutoff = now - timedelta(weeks=weeks)
    found: list[Ghosted] = []
    acks = 0
    seen: set[str] = set()
    for row, msg, when, _compact in parsed:
        if row["label"] == "rejection" or when is None or not is_acknowledgement(msg.subject, msg.text):
            continue
        acks += 1
        company = extract.company(msg)
        key = extract.normalise_company(company)
        if not company or len(key) < 3 or key in seen or when > cutoff:
            continue
        later = any(
            other_when is not None and other_when > when and other is not row and key in compact
            for other, _m, other_when, compact in parsed
        ) or any(moment > when for moment in answered.get(key, []))
        if not later:
            seen.add(key)
            found.append(Ghosted(company, when.date().isoformat(), msg.subject, msg.sender,
                                 int((now - when).days // 7)))
    return found, acks


def compute(store: Store, now: datetime, ghost_weeks: int = 4) -> Stats:
    months: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    job_stages: Counter[str] = Counter()
    for row in store.rejection_counts():
        months[row["month"]] += row["n"]
        kinds[row["kind"] or "unknown"] += row["n"]
        stages[row["stage"] or "n/a"] += row["n"]
        if row["kind"] == "job":
            job_stages[row["stage"] or "application"] += row["n"]
    ghosts, acks = ghosted(store, now, ghost_weeks)
    return Stats(
        total=sum(kinds.values()),
        by_month=_months(months),
        by_kind=dict(kinds.most_common()),
        by_stage=dict(stages.most_common()),
        diagnosis=diagnose(dict(kinds), dict(job_stages)),
        ghosted=ghosts,
        acknowledgements=acks,
        ghost_weeks=ghost_weeks,
    )


def report(stats: Stats) -> str:
    """The stats as text for the terminal, with a bar chart of rejections per month."""
    if not stats.total:
        lines = ["No rejections logged yet."]
    else:
        lines = [f"{stats.total} rejection(s)", "", "By month:", text_bars(stats.by_month).rstrip("\n"), ""]
        lines.append("By kind:  " + ", ".join(f"{k} {n}" for k, n in stats.by_kind.items()))
        lines.append("By stage: " + ", ".join(f"{k} {n}" for k, n in stats.by_stage.items()))
        if stats.diagnosis:
            lines += ["", "What it suggests:"] + [f"- {line}" for line in stats.diagnosis]
    lines += ["", f"Ghosted (acknowledged, then nothing for {stats.ghost_weeks}+ weeks; a heuristic on "
                  f"subjects and senders, {stats.acknowledgements} acknowledgement(s) seen):"]
    if stats.ghosted:
        lines += [f"- {g.company}: acknowledged {g.acknowledged} ({g.weeks} weeks ago), \"{g.subject}\""
                  for g in stats.ghosted]
    else:
        lines.append("- none found")
    return "\n".join(lines) + "\n"
