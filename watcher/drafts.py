"""Rejection -> a threaded, gracious feedback-request draft; and the review actions on drafts.

Drafts are planned for a new rejection inside the batch's transaction (see followups.py) and only ever
leave the machine through an explicit command: `drafts approve` APPENDs the message to the account's
Drafts folder (flagged \\Draft) so the user sends it from their own mail client; `drafts send` hands it
to SMTP after a confirmation.

Templates are plain-text files (package data watcher/templates/*.txt), overridable by files of the
same name in the config dir's templates/ folder. They are rendered with string.Template; the
placeholders are:

    $greeting   "Hi Jane," (or "Dear Jane," for academic/program), "Hello," without a person's name
    $first_name the person's first name, or ""
    $company    the organisation as written in the mail, or ""
    $role       the role, or ""
    $position   "the Data Engineer role at Acme", "the Data Engineer role", "the role at Acme", "the role"
    $team       "everyone at Acme" or "the team"
    $org        "Acme" or "your team"
    $user_name  [user] name from the config, for the sign-off

Headers are built with email.message.EmailMessage, which refuses CR/LF in any header value; text
taken from the incoming mail is flattened to one line first, and addresses and Message-IDs that do
not parse cleanly are dropped, so no field can inject a header.
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import logging
import re
import smtplib
import ssl
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from importlib import resources
from pathlib import Path
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError
from imapclient.imapclient import DRAFTS

from .config import Account, ConfigError, Settings, default_config_path
from .messages import ParsedMessage
from .sources.imap import ClientFactory, ImapError, ImapSession, default_client_factory, with_reconnect
from .store import Store

log = logging.getLogger(__name__)

POLICY = email.policy.SMTP  # CRLF line endings, RFC 2047 for non-ASCII headers, refuses CR/LF in values
KINDS = ("job", "pitch", "investor", "client", "academic", "program")
STATUSES = ("pending", "approved", "sent", "discarded")
DRAFT_FLAGS = (imapclient.DRAFT, imapclient.SEEN)


class DraftError(Exception):
    """A draft cannot be made, edited, stored or sent; the message says why."""


class NoDraft(DraftError):
    """No draft makes sense for this rejection (no-reply sender, unknown address...)."""


class HeaderInjection(DraftError):
    """A header value contained CR or LF, or did not parse as what the header needs."""


# -- who can read a reply --------------------------------------------------------------------------

ATS_DOMAINS = (
    "greenhouse.io", "greenhouse-mail.io", "myworkday.com", "myworkdayjobs.com", "workday.com",
    "hire.lever.co", "lever.co", "smartrecruiters.com", "smartrecruiters.net", "icims.com", "taleo.net",
    "ashbyhq.com", "workablemail.com", "workable.com", "bamboohr.com", "jobvite.com", "jobvite-mail.com",
    "successfactors.com", "successfactors.eu", "sapsf.com", "recruitee.com", "teamtailor.com",
    "teamtailor-mail.com", "personio.de", "personio.com", "jazzhr.com", "applytojob.com", "breezy.hr",
    "pinpointhq.com", "comeet.co", "recruiterbox.com", "hirebridge.com", "oraclecloud.com",
    "indeed.com", "indeedemail.com", "linkedin.com", "ziprecruiter.com", "glassdoor.com",
    "candidates.workablemail.com", "dover.com", "rippling.com", "gem.com", "paradox.ai", "phenom.com",
)
_NOREPLY = re.compile(r"no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply", re.IGNORECASE)
_AUTOMATED_LOCAL = re.compile(
    r"^(notifications?|notify|mailer[-_.]?daemon|postmaster|bounces?|auto[-_.]?(reply|responder|confirm)"
    r"|automated|system|alerts?|news(letter)?|updates?)([+._-].*)?$",
    re.IGNORECASE,
)


def automated_reason(address: str) -> str | None:
    """Why nobody would read a reply to this address, or None when a person may."""
    address = address.strip().lower()
    if "@" not in address:
        return "no usable sender address"
    local, _, domain = address.rpartition("@")
    if _NOREPLY.search(local):
        return f"no-reply sender ({address})"
    for ats in ATS_DOMAINS:
        if domain == ats or domain.endswith("." + ats):
            return f"automated ATS sender ({ats})"
    if _AUTOMATED_LOCAL.match(local):
        return f"automated sender ({address})"
    return None


_ANGLE_ADDR = re.compile(r"<([^<>\s@\"]+@[^<>\s@\"]+)>")


def mailbox(value: str | None) -> tuple[str, str]:
    """(display name, address) of the first mailbox in a header value as the parser decoded it.

    Header values arrive with RFC 2047 words already decoded, so a display name may itself look like
    addresses ("=?utf-8?q?Jane=0D=0ABcc:_evil@x?= <jane@acme.com>"). The angle-bracketed address at
    the end is the real one: it is taken, and a display name that contains address syntax is dropped.
    """
    text = one_line(value)
    found = list(_ANGLE_ADDR.finditer(text))
    if found:
        last = found[-1]
        before = text[: last.start()].rstrip()
        quoted = re.search(r'"([^"]*)"$', before)
        name = quoted.group(1).strip() if quoted else re.split(r"[<>,;:]", before)[-1].strip()
        return ("" if "@" in name else name), last.group(1)
    pairs = [(n, a) for n, a in getaddresses([text]) if a]
    if not pairs:
        return "", ""
    name, addr = pairs[0]
    return ("" if "@" in name else one_line(name)), addr


def reply_target(sender: str, reply_to: str | None) -> tuple[str, str]:
    """(display name, address) a reply should go to: Reply-To when present, else From.

    Raises NoDraft with the reason when no person reads that address. An automated From with a
    Reply-To reaching a person (a recruiter writing through an ATS) gets a draft to the Reply-To.
    """
    from_name, from_addr = mailbox(sender)
    if reply_to:
        name, addr = mailbox(reply_to)
        reason = automated_reason(addr) if addr else "no address"
        if reason is None:
            if not name and addr.lower() == from_addr.lower():
                name = from_name  # "Reply-To: hannah@x" under "From: Hannah Cole <hannah@x>"
            return name, addr
        log.debug("Reply-To %s is not a person (%s)", addr, reason)
    name, addr = from_name, from_addr
    if not addr:
        raise NoDraft("no draft: no sender address")
    reason = automated_reason(addr)
    if reason is not None:
        raise NoDraft(f"no draft: {reason}")
    return name, addr


# -- personalisation -----------------------------------------------------------------------------

_NOT_A_PERSON = frozenset([
    "team", "careers", "career", "recruiting", "recruitment", "talent", "acquisition", "hr",
    "human", "resources", "hiring", "jobs", "job", "notifications", "notification", "noreply",
    "no-reply", "support", "admissions", "admission", "office", "committee", "editor", "editors",
    "editorial", "desk", "people", "staff", "info", "admin", "department", "program", "programme",
    "newsletter", "board", "panel", "foundation", "university", "college", "school", "institute",
    "inc", "inc.", "llc", "ltd", "gmbh", "ag", "sa", "corp", "company", "group", "partners",
    "capital", "ventures", "fund", "labs", "news", "magazine", "journal", "review", "press",
    "applications", "application", "service", "services", "customer", "mail", "mailer", "system",
    "automated", "portal", "hq", "the", "and", "of", "for", "at", "via", "bot", "recruiter",
    "recruiters", "operations", "ops", "sales", "marketing"
])
_TITLES = frozenset([
    "dr", "dr.", "prof", "prof.", "mr", "mr.", "ms", "ms.", "mrs", "mrs.", "mx", "mx.", "sir",
    "madam"
])
_NAME_TOKEN = re.compile(r"^[^\W\d_][^\W\d_'’.-]*(?:[-'’][^\W\d_]+)*\.?$")


def first_name(display_name: str, address: str = "", company: str | None = None) -> str | None:
    """A person's first name from a display name, or None when it does not look like a person."""
    name = one_line(display_name).strip().strip("\"'")
    if not name or "@" in name:
        return None
    name = re.split(r"\s+(?:via|from|at|@|\||-|–|—)\s+", name, maxsplit=1, flags=re.IGNORECASE)[0]
    name = re.sub(r"\([^)]*\)", " ", name).strip()
    if "," in name:
        last, _, rest = name.partition(",")
        rest_words = rest.strip().split()
        if rest_words and rest_words[0].lower() not in _NOT_A_PERSON and len(last.split()) == 1:
            name = f"{rest.strip()} {last.strip()}"  # "Doe, Jane"
        else:
            name = last  # "Jane Doe, Recruiter"
    tokens = [t for t in name.split() if t.lower() not in _TITLES]
    if not tokens or len(tokens) > 4:
        return None
    first = tokens[0]
    local_parts = re.split(r"[._+-]", address.split("@")[0].lower())
    looks_like_name = bool(_NAME_TOKEN.match(first)) and len(first.rstrip(".")) >= 2
    if (looks_like_name and first.lower() in local_parts and first.lower() not in _NOT_A_PERSON
            and not (company and first.lower() == company.lower())):
        return _capitalised(first)  # "Jane Recruiter <jane@acme.com>": the address agrees it is Jane
    if any(t.lower().strip(".") in _NOT_A_PERSON for t in tokens):
        return None
    if company and company.lower() in name.lower():
        return None
    if not all(_NAME_TOKEN.match(t) for t in tokens) or len(tokens[0].rstrip(".")) < 2:
        return None
    if len(tokens) == 1:
        return None  # a lone word is a person's name only if the address agrees (handled above)
    if first.lower() in address.rpartition("@")[2].lower():
        return None  # "Acme Robotics <hr@acme.com>": the organisation, not a person
    return _capitalised(first)


def _capitalised(word: str) -> str:
    return word.capitalize() if word.isupper() or word.islower() else word


def reply_subject(subject: str) -> str:
    """'Re: ' + the subject without its reply prefixes (never 'Re: Re:')."""
    text = one_line(subject)
    text = re.sub(r"^(?:\s*(?:re|aw|sv|vs|antw|odp|res|rif|r)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*)+", "", text,
                  flags=re.IGNORECASE)
    return f"Re: {text.strip() or 'your message'}"


def one_line(value: str | None) -> str:
    """Header text from incoming mail, flattened: CR, LF and other control characters become spaces."""
    if not value:
        return ""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", value).strip()


_MSGID = re.compile(r"<[^<>\s\"\\]+>")


def valid_msgid(value: str | None) -> str | None:
    if value and _MSGID.fullmatch(value.strip()):
        return value.strip()
    return None


def thread_references(references: Sequence[str], message_id: str | None, keep: int = 20) -> list[str]:
    """References for a reply: the original's References then its Message-ID (first and last kept)."""
    ids = [i for i in (valid_msgid(r) for r in references) if i]
    if message_id and valid_msgid(message_id):
        ids.append(message_id.strip())
    unique: list[str] = []
    for ident in ids:
        if ident not in unique:
            unique.append(ident)
    if len(unique) > keep:
        unique = unique[:1] + unique[-(keep - 1):]
    return unique


# -- templates ----------------------------------------------------------------------------------

def templates_dir(settings: Settings) -> Path:
    if settings.templates_dir is not None:
        return settings.templates_dir
    base = settings.source.parent if settings.source else default_config_path().parent
    return base / "templates"


def template_names(kind: str | None, stage: str | None) -> list[str]:
    if kind == "job":
        return [f"job_{stage or 'application'}.txt", "job_application.txt", "generic.txt"]
    if kind in KINDS:
        return [f"{kind}.txt", "generic.txt"]
    return ["generic.txt"]


def load_template(names: Sequence[str], settings: Settings) -> tuple[str, str]:
    """(template text, where it came from): the user's override if present, else the packaged file."""
    override = templates_dir(settings)
    packaged = resources.files("watcher").joinpath("templates")
    for name in names:
        path = override / name
        if path.is_file():
            try:
                return path.read_text(encoding="utf-8"), str(path)
            except (OSError, UnicodeDecodeError) as exc:
                raise DraftError(f"cannot read template {path}: {exc}") from None
        resource = packaged.joinpath(name)
        if resource.is_file():
            return resource.read_text(encoding="utf-8"), f"watcher/templates/{name}"
    raise DraftError(f"no template found (looked for {', '.join(names)})")


def render(text: str, values: dict[str, str], source: str) -> str:
    try:
        body = string.Template(text).substitute(values)
    except KeyError as exc:
        raise DraftError(
            f"template {source}: unknown placeholder ${exc.args[0]} (known: "
            f"{', '.join('$' + k for k in sorted(values))})"
        ) from None
    except ValueError as exc:
        raise DraftError(f"template {source}: {exc} (write $$ for a literal $)") from None
    lines = [line.rstrip() for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip() + "\n"


def template_values(
    *, kind: str | None, name: str | None, company: str | None, role: str | None, user_name: str
) -> dict[str, str]:
    company = one_line(company)
    role = one_line(role)
    formal = kind in ("academic", "program")
    if name:
        greeting = f"Dear {name}," if formal else f"Hi {name},"
    else:
        greeting = "Dear selection committee," if kind == "program" else "Hello,"
    the_role = f"the {role} role" if role and not role.lower().startswith(("the ", "a ", "an ")) else (
        role or "the role")
    position = f"{the_role} at {company}" if company else the_role
    return {
        "greeting": greeting,
        "first_name": name or "",
        "company": company,
        "role": role,
        "position": position,
        "team": f"everyone at {company}" if company else "the team",
        "org": company or "your team",
        "user_name": one_line(user_name),
    }


# -- planning and building ------------------------------------------------------------------------

@dataclass(frozen=True)
class DraftPlan:
    from_addr: str
    to_addr: str
    subject: str
    body: str
    in_reply_to: str | None
    references: tuple[str, ...]
    template: str


def user_address(settings: Settings, account_name: str, to_header: str = "") -> str:
    """The user's own address: [user] email, else the account's username if it is one, else the To:."""
    if settings.user_email and "@" in settings.user_email:
        return one_line(settings.user_email)
    for account in settings.accounts:
        if account.name == account_name and "@" in account.username:
            return account.username
    found = [a for _n, a in getaddresses([one_line(to_header)]) if "@" in a]
    if found:
        return found[0]
    if len(settings.accounts) == 1 and "@" in settings.accounts[0].username:
        return settings.accounts[0].username
    raise NoDraft("no draft: cannot tell your own address (set [user] email in the config)")


def plan_draft(
    msg: ParsedMessage, *, settings: Settings, account: str, kind: str | None, stage: str | None,
    company: str | None, role: str | None,
) -> DraftPlan:
    """The reply a person could read, or NoDraft with the reason."""
    name, to_addr = reply_target(msg.sender, msg.reply_to)
    me = user_address(settings, account, msg.to)
    if to_addr.lower() == me.lower():
        raise NoDraft("no draft: the message is from you")
    who = first_name(name, to_addr, company)
    names = template_names(kind, stage)
    text, source = load_template(names, settings)
    values = template_values(kind=kind, name=who, company=company, role=role, user_name=settings.user_name)
    body = render(text, values, source)
    mine = format_address(settings.user_name, me)
    return DraftPlan(
        from_addr=mine,
        to_addr=format_address(name, to_addr),
        subject=reply_subject(msg.subject),
        body=body,
        in_reply_to=valid_msgid(msg.message_id),
        references=tuple(thread_references(msg.references, msg.message_id)),
        template=source,
    )


def parse_address(value: str, field: str = "address") -> Address:
    """One mailbox ("Name <addr>" or "addr") as a header Address; HeaderInjection when it is not one."""
    if "\r" in value or "\n" in value:
        raise HeaderInjection(f"{field}: line breaks are not allowed in an address")
    found = [(n, a) for n, a in getaddresses([value]) if a]
    if len(found) != 1:
        raise HeaderInjection(f"{field}: expected exactly one address, got {value!r}")
    name, addr = found[0]
    if not re.fullmatch(r"[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+\.[^@\s<>()\[\],;:\"\\]+", addr):
        raise HeaderInjection(f"{field}: {addr!r} is not a valid email address")
    try:
        return Address(display_name=one_line(name), addr_spec=addr)
    except (ValueError, IndexError) as exc:
        raise HeaderInjection(f"{field}: {exc}") from None


def format_address(name: str, addr: str) -> str:
    """'Name <addr>' with the name quoted as needed (a comma in a name never splits the address)."""
    bare = parse_address(addr)
    try:
        return str(Address(display_name=one_line(name), addr_spec=bare.addr_spec))
    except (ValueError, IndexError) as exc:
        raise HeaderInjection(f"address: {exc}") from None


def _domain(address: str) -> str:
    domain = address.rpartition("@")[2].strip(">").strip()
    return domain if re.fullmatch(r"[A-Za-z0-9.-]+", domain or "") else "localhost"


def build_message(
    *, from_addr: str, to_addr: str, subject: str, body: str, in_reply_to: str | None,
    references: Sequence[str], message_id: str | None = None, date: datetime | None = None,
) -> EmailMessage:
    """An RFC 5322 reply. Raises HeaderInjection if any header value carries CR/LF or does not parse."""
    for field, value in (("Subject", subject), ("In-Reply-To", in_reply_to or ""),
                         ("Message-ID", message_id or ""), *(("References", r) for r in references)):
        if "\r" in value or "\n" in value:
            raise HeaderInjection(f"{field}: line breaks are not allowed in a header")
    sender = parse_address(from_addr, "From")
    recipient = parse_address(to_addr, "To")
    if in_reply_to and not valid_msgid(in_reply_to):
        raise HeaderInjection(f"In-Reply-To: {in_reply_to!r} is not a Message-ID")
    bad = [r for r in references if not valid_msgid(r)]
    if bad:
        raise HeaderInjection(f"References: {bad[0]!r} is not a Message-ID")
    if message_id and not valid_msgid(message_id):
        raise HeaderInjection(f"Message-ID: {message_id!r} is not a Message-ID")
    msg = EmailMessage(policy=POLICY)
    try:
        msg["From"] = sender
        msg["To"] = recipient
        msg["Subject"] = subject
        msg["Date"] = format_datetime(date or datetime.now(UTC))
        msg["Message-ID"] = message_id or make_msgid(domain=_domain(sender.addr_spec))
        if in_reply_to:
            msg["In-Reply-To"] = in_reply_to
        if references:
            msg["References"] = " ".join(references)
    except ValueError as exc:
        raise HeaderInjection(str(exc)) from None
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii():
        msg.set_content(text, charset="us-ascii", cte="7bit")
    else:
        msg.set_content(text, charset="utf-8", cte="quoted-printable")
    return msg


def serialize(msg: EmailMessage) -> str:
    """The message as RFC 5322 text with CRLF line endings (ASCII: non-ASCII is encoded)."""
    return msg.as_bytes(policy=POLICY).decode("ascii")


def parse_stored(text: str) -> EmailMessage:
    parsed = email.message_from_bytes(text.encode("ascii"), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def create_draft(
    store: Store, rejection_id: int, msg: ParsedMessage, *, settings: Settings, account: str,
    kind: str | None, stage: str | None, company: str | None, role: str | None,
    now: datetime | None = None,
) -> int | None:
    """Plan and store the draft for a rejection (inside the caller's transaction).

    Returns the draft id, or None when no draft makes sense; the reason is recorded on the rejection
    (rejections.draft_note) and logged.
    """
    try:
        plan = plan_draft(msg, settings=settings, account=account, kind=kind, stage=stage,
                          company=company, role=role)
        built = build_message(
            from_addr=plan.from_addr, to_addr=plan.to_addr, subject=plan.subject, body=plan.body,
            in_reply_to=plan.in_reply_to, references=plan.references, date=now,
        )
    except NoDraft as exc:
        store.set_draft_note(rejection_id, str(exc))
        log.info("rejection %d (%s): %s", rejection_id, company or msg.sender_address or "?", exc)
        return None
    except DraftError as exc:
        note = f"no draft: {exc}"
        store.set_draft_note(rejection_id, note)
        log.warning("rejection %d: %s", rejection_id, note)
        return None
    draft_id = store.add_draft(
        rejection_id, from_addr=plan.from_addr, to_addr=plan.to_addr, subject=plan.subject,
        body=plan.body, in_reply_to=plan.in_reply_to, refs=" ".join(plan.references),
        message_id=str(built["Message-ID"]), message=serialize(built), template=plan.template,
    )
    store.set_draft_note(rejection_id, None)
    if draft_id is not None:
        log.info("rejection %d: draft %d queued for review (to %s)", rejection_id, draft_id, plan.to_addr)
    return draft_id


# -- review -------------------------------------------------------------------------------------

def list_drafts(store: Store, status: str | None = None) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise DraftError(f"unknown status {status!r} (one of {', '.join(STATUSES)})")
    return [
        {
            "id": row["id"], "status": row["status"], "to": row["to_addr"], "subject": row["subject"],
            "company": row["company"], "role": row["role"], "kind": row["kind"], "stage": row["stage"],
            "rejection_id": row["rejection_id"], "account": row["account"],
            "created_at": row["created_at"], "updated_at": row["updated_at"],
        }
        for row in store.drafts(status)
    ]


def get_draft(store: Store, draft_id: int) -> Any:
    row = store.draft(draft_id)
    if row is None:
        raise DraftError(f"no draft with id {draft_id} (see `watcher drafts list`)")
    return row


def show_draft(store: Store, draft_id: int, raw: bool = False) -> str:
    """The message for reading: headers decoded, then the text (`raw`: exactly as stored and sent)."""
    row = get_draft(store, draft_id)
    text = str(row["message"])
    if raw:
        return text.replace("\r\n", "\n")
    msg = parse_stored(text)
    shown = ("From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References")
    head = [f"{name}: {msg[name]}" for name in shown if msg[name] is not None]
    body = msg.get_content().replace("\r\n", "\n")
    return "\n".join([f"# draft {row['id']} ({row['status']})", *head, "", body.rstrip("\n")])


EDIT_HELP = (
    "# Edit the To and Subject lines and the text below the blank line, then save and quit.\n"
    "# Lines starting with '#' are ignored. The threading headers are kept for you.\n"
)


def edit_form(row: Any) -> str:
    return f"{EDIT_HELP}To: {row['to_addr']}\nSubject: {row['subject']}\n\n{row['body']}"


def parse_edit(text: str) -> tuple[str, str, str]:
    """(to, subject, body) from an edited form; DraftError on anything else in the header part."""
    lines = [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
             if not line.startswith("#")]
    while lines and not lines[0].strip():
        lines.pop(0)
    to = subject = None
    index = 0
    for index, line in enumerate(lines):  # noqa: B007 - index is used after the loop
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if not sep:
            raise DraftError(f"line {line!r}: expected 'To: ...' or 'Subject: ...' before the blank line")
        if key.strip().lower() == "to":
            to = value.strip()
        elif key.strip().lower() == "subject":
            subject = value.strip()
        else:
            raise DraftError(f"only To and Subject can be edited here, not {key.strip()!r}")
    else:
        index = len(lines)
    body = "\n".join(lines[index + 1:]).strip()
    if not to:
        raise DraftError("the To: line is missing or empty")
    if not subject:
        raise DraftError("the Subject: line is missing or empty")
    if not body:
        raise DraftError("the text is empty; use `watcher drafts discard` to drop a draft")
    return to, subject, body + "\n"


def _editable(row: Any) -> None:
    if row["status"] != "pending":
        raise DraftError(
            f"draft {row['id']} is {row['status']}; only pending drafts can be changed here"
            + (" (edit the copy in your mail client's Drafts folder)" if row["status"] == "approved" else "")
        )


def apply_edit(store: Store, draft_id: int, text: str, now: datetime | None = None) -> None:
    """Rebuild a pending draft from an edited form, keeping its From, Message-ID and thread headers."""
    row = get_draft(store, draft_id)
    _editable(row)
    to, subject, body = parse_edit(text)
    built = build_message(
        from_addr=row["from_addr"], to_addr=to, subject=subject, body=body, in_reply_to=row["in_reply_to"],
        references=row["refs"].split(), message_id=row["message_id"], date=now,
    )
    with store.transaction():
        store.update_draft(draft_id, to_addr=str(built["To"]), subject=subject, body=body,
                           message=serialize(built))


def edit_draft(store: Store, draft_id: int, editor: Callable[[str], str | None]) -> bool:
    """Open the draft in an editor (click.edit in the CLI); False when nothing changed."""
    row = get_draft(store, draft_id)
    _editable(row)
    form = edit_form(row)
    edited = editor(form)
    if edited is None or edited == form:
        return False
    apply_edit(store, draft_id, edited)
    return True


def discard_draft(store: Store, draft_id: int) -> str:
    row = get_draft(store, draft_id)
    if row["status"] == "sent":
        raise DraftError(f"draft {draft_id} was already sent")
    with store.transaction():
        store.set_draft_status(draft_id, "discarded")
    if row["status"] == "approved":
        return f"draft {draft_id} discarded; delete its copy in your Drafts folder too"
    return f"draft {draft_id} discarded"


def _account_for(settings: Settings, row: Any, name: str | None) -> Account:
    if name:
        return settings.account(name)
    for account in settings.accounts:
        if account.name == row["account"]:
            return account
    if len(settings.accounts) == 1:
        return settings.accounts[0]
    if not settings.accounts:
        raise DraftError("no [[accounts]] configured to store the draft in")
    raise DraftError(f"draft {row['id']} came from {row['account']!r}, which is not a configured account; "
                     "pick one with --account")


def drafts_folder(client: Any, account: Account) -> str:
    """The Drafts folder: drafts_folder from the config, else SPECIAL-USE \\Drafts (or a folder named
    Drafts), else a new folder "Drafts"."""
    if account.drafts_folder:
        return account.drafts_folder
    found = client.find_special_folder(DRAFTS)
    if found:
        return str(found)
    log.info("%s: no Drafts folder found; creating one", account.name)
    client.create_folder("Drafts")
    return "Drafts"


def _on_server(client: Any, folder: str, message_id: str) -> bool:
    client.select_folder(folder, readonly=True)
    return bool(client.search(["HEADER", "Message-ID", message_id]))


@dataclass(frozen=True)
class Approved:
    draft_id: int
    account: str
    folder: str
    already_there: bool


def approve_draft(
    store: Store, settings: Settings, draft_id: int, *, account: str | None = None,
    client_factory: ClientFactory = default_client_factory, sleep: Callable[[float], None] | None = None,
    now: datetime | None = None,
) -> Approved:
    """APPEND the draft, flagged \\Draft, to the account's Drafts folder; the user sends it from there.

    Safe to retry: a copy already in the folder (same Message-ID) is not appended twice.
    """
    row = get_draft(store, draft_id)
    if row["status"] != "pending":
        raise DraftError(f"draft {draft_id} is {row['status']}, not pending")
    acct = _account_for(settings, row, account)
    data = str(row["message"]).encode("ascii")
    message_id = str(row["message_id"])

    def work(session: ImapSession) -> tuple[str, bool]:
        client = session.require()
        try:
            folder = drafts_folder(client, acct)
            if _on_server(client, folder, message_id):
                return folder, True
            client.append(folder, data, flags=DRAFT_FLAGS, msg_time=now or datetime.now(UTC))
        except IMAPClientError as exc:
            if isinstance(exc, imaplib.IMAP4.abort):
                raise
            raise ImapError(f"{acct.name}: cannot store the draft in the Drafts folder: {exc}") from None
        return folder, False

    session = ImapSession(acct, client_factory)
    try:
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        folder, already = with_reconnect(session, work, **kwargs)
    finally:
        session.close()
    with store.transaction():
        store.set_draft_status(draft_id, "approved", expect=("pending",))
    log.info("draft %d appended to %s/%s", draft_id, acct.name, folder)
    return Approved(draft_id, acct.name, folder, already)


SmtpFactory = Callable[[Account], smtplib.SMTP]


def default_smtp_factory(account: Account) -> smtplib.SMTP:
    """Connect (TLS, STARTTLS, or plain to localhost) and log in when the server offers AUTH."""
    if not account.smtp_host:
        raise DraftError(f"{account.name}: sending is not configured (set smtp_host for this account)")
    security = account.smtp_security
    port = account.smtp_port or {"tls": 465, "starttls": 587, "none": 25}[security]
    context = ssl.create_default_context()
    if not account.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    smtp: smtplib.SMTP
    if security == "tls":
        smtp = smtplib.SMTP_SSL(account.smtp_host, port, context=context, timeout=account.timeout)
    else:
        smtp = smtplib.SMTP(account.smtp_host, port, timeout=account.timeout)
        if security == "starttls":
            smtp.starttls(context=context)
    smtp.ehlo_or_helo_if_needed()
    if security != "none" or smtp.has_extn("auth"):
        try:
            secret = account.secret.reveal()
        except ConfigError as exc:
            smtp.close()
            raise DraftError(f"{account.name}: {exc}") from None
        if account.auth == "xoauth2":
            token = f"user={account.username}\x01auth=Bearer {secret}\x01\x01"
            smtp.auth("XOAUTH2", lambda _challenge=None: token)
        else:
            smtp.login(account.username, secret)
    return smtp


def send_draft(
    store: Store, settings: Settings, draft_id: int, *, account: str | None = None,
    smtp_factory: SmtpFactory = default_smtp_factory, now: datetime | None = None,
) -> str:
    """Send a pending or approved draft over SMTP (the CLI asks for confirmation first)."""
    row = get_draft(store, draft_id)
    if row["status"] not in ("pending", "approved"):
        raise DraftError(f"draft {draft_id} is {row['status']}; only pending or approved drafts are sent")
    acct = _account_for(settings, row, account)
    msg = parse_stored(str(row["message"]))
    del msg["Date"]
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    sender = parse_address(str(row["from_addr"]), "From").addr_spec
    recipient = parse_address(str(row["to_addr"]), "To").addr_spec
    data = msg.as_bytes(policy=POLICY)
    try:
        smtp = smtp_factory(acct)
        try:
            refused = smtp.sendmail(sender, [recipient], data)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    except smtplib.SMTPAuthenticationError:
        raise DraftError(f"{acct.name}: the SMTP server refused the login for {acct.username}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DraftError(f"{acct.name}: sending failed ({type(exc).__name__}: {exc}); "
                         "the draft is unchanged") from None
    if refused:
        raise DraftError(f"the SMTP server refused the recipient: {refused}")
    with store.transaction():
        store.set_draft_status(draft_id, "sent")
    log.info("draft %d sent to %s", draft_id, recipient)
    return f"draft {draft_id} sent to {recipient}"
