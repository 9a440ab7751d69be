"""Issue 4 on a real SQLite database: drafts, the rejection log, stats, corrections.

The classifier is a scripted fake (a verdict per subject word) so each test gets exactly the verdict it
needs; everything else (parsing, store, hooks, templates, CLI) is the real code.
"""

from __future__ import annotations

import csv
import email
import email.policy
import email.utils
import json
import logging
import mailbox
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FakeVerdict, make_message

from watcher import corrections, drafts, rejections, stats
from watcher.chart import png_bars, text_bars
from watcher.cli import cli
from watcher.config import Settings
from watcher.followups import rejection_hooks
from watcher.messages import ParsedMessage, RawMessage
from watcher.pipeline import Processor, process_local
from watcher.store import Store

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


class ScriptedClassifier:
    """A rejection when the subject contains one of the keys; the verdict is the key's."""

    version = "scripted-1"

    def __init__(self, verdicts: dict[str, FakeVerdict]) -> None:
        self.verdicts = verdicts

    def classify(self, messages: Sequence[ParsedMessage]) -> list[FakeVerdict]:
        out = []
        for msg in messages:
            found = [v for key, v in self.verdicts.items() if key in msg.subject]
            out.append(found[0] if found else FakeVerdict("not_rejection", 0.02))
        return out


def job(stage: str = "application", company: str | None = "Acme", role: str | None = "Data Engineer",
        kind: str = "job") -> FakeVerdict:
    return FakeVerdict("rejection", 0.95, kind=kind, stage=stage if kind == "job" else None,
                       company=company, role=role if kind == "job" else None, reasons=("scripted",))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database=tmp_path / "watcher.db", user_name="Sam Taylor", user_email="sam@example.com",
                    templates_dir=tmp_path / "templates", store_text=True)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with Store.open(settings.database) as opened:
        yield opened


def ingest(store: Store, settings: Settings, messages: Sequence[bytes], verdicts: dict[str, FakeVerdict],
           *, start_uid: int = 1) -> None:
    processor = Processor(store, ScriptedClassifier(verdicts), hooks=rejection_hooks(settings, lambda: NOW),
                          store_text=settings.store_text)
    raws = [RawMessage("local", "/tmp/inbox.mbox", 0, uid, data)
            for uid, data in enumerate(messages, start_uid)]
    processor.process(raws, folder_state=None)


def parsed(text: str) -> EmailMessage:
    """A stored draft parsed back; get_content() has its CRLF line ends turned into newlines."""
    msg = email.message_from_bytes(text.encode("ascii"), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    original = msg.get_content
    msg.get_content = lambda *a, **k: original(*a, **k).replace("\r\n", "\n")  # type: ignore[method-assign]
    return msg


def only_draft(store: Store) -> EmailMessage:
    rows = store.drafts()
    assert len(rows) == 1, [dict(r) for r in rows]
    return parsed(rows[0]["message"])


# -- drafts -------------------------------------------------------------------------------------

def test_draft_is_a_wellformed_threaded_reply(store: Store, settings: Settings) -> None:
    original = make_message(
        1, subject="RE: Re: Your application", sender="Jane Doe <jane.doe@acme.example>",
        message_id="<orig-1@acme.example>",
        extra_headers="References: <first@acme.example> <second@acme.example>\r\n",
    )
    ingest(store, settings, [original], {"Your application": job()})
    row = store.drafts()[0]
    assert "\r\n" in row["message"] and "\n\n" not in row["message"].replace("\r\n", "")
    msg = parsed(row["message"])
    assert msg["In-Reply-To"] == "<orig-1@acme.example>"
    assert msg["References"].split() == ["<first@acme.example>", "<second@acme.example>",
                                         "<orig-1@acme.example>"]
    assert msg["Subject"] == "Re: Your application"
    assert msg["To"].addresses[0].addr_spec == "jane.doe@acme.example"
    assert msg["From"].addresses[0].addr_spec == "sam@example.com"
    assert msg["From"].addresses[0].display_name == "Sam Taylor"
    assert msg["Message-ID"].endswith("@example.com>") and msg["Date"]
    assert sorted(k.lower() for k in msg) == sorted(
        ["from", "to", "subject", "date", "message-id", "in-reply-to", "references", "content-type",
         "content-transfer-encoding", "mime-version"])
    body = msg.get_content()
    assert body.startswith("Hi Jane,\n")
    assert "the Data Engineer role at Acme" in body and "feedback" in body
    assert body.rstrip().endswith("Best regards,\nSam Taylor")
    assert row["status"] == "pending" and row["in_reply_to"] == "<orig-1@acme.example>"


def test_reply_goes_to_reply_to_when_present(store: Store, settings: Settings) -> None:
    original = make_message(2, subject="Update on your application", sender="Jane Doe <jane@acme.example>",
                            extra_headers="Reply-To: Raj Patel <raj.patel@acme.example>\r\n")
    ingest(store, settings, [original], {"Update": job()})
    msg = only_draft(store)
    assert [a.addr_spec for a in msg["To"].addresses] == ["raj.patel@acme.example"]
    assert msg.get_content().startswith("Hi Raj,")


@pytest.mark.parametrize("sender,reason", [
    ("Acme Careers <no-reply@acme.example>", "no-reply sender"),
    ("Acme <noreply@acme.example>", "no-reply sender"),
    ("Acme <donotreply@acme.example>", "no-reply sender"),
    ("Acme <notifications@acme.example>", "automated sender"),
    ("Acme Recruiting <acme@us.greenhouse-mail.io>", "automated ATS sender (greenhouse-mail.io)"),
    ("Workday <acme@myworkday.com>", "automated ATS sender (myworkday.com)"),
    ("Acme <jobs@hire.lever.co>", "automated ATS sender (hire.lever.co)"),
])
def test_no_draft_for_noreply_and_ats_senders(store: Store, settings: Settings, sender: str, reason: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="watcher.drafts")
    ingest(store, settings, [make_message(3, subject="Your application", sender=sender)],
           {"Your application": job()})
    assert store.drafts() == []
    entry = rejections.entries(store)[0]
    assert entry["draft_note"].startswith("no draft: ") and reason in entry["draft_note"]
    assert reason in caplog.text
    assert len(store.reminders()) >= 1  # the rest of the follow-ups still happen


def test_ats_sender_with_a_person_in_reply_to_gets_a_draft(store: Store, settings: Settings) -> None:
    original = make_message(4, subject="Your application",
                            sender="Acme via Greenhouse <no-reply@greenhouse.io>",
                            extra_headers="Reply-To: Jane Doe <jane.doe@acme.example>\r\n")
    ingest(store, settings, [original], {"Your application": job()})
    msg = only_draft(store)
    assert msg["To"].addresses[0].addr_spec == "jane.doe@acme.example"
    assert rejections.entries(store)[0]["draft_note"] is None


@pytest.mark.parametrize("verdict,expected,greeting", [
    (job("interview"), "during the interviews for the Data Engineer role at Acme", "Hi Jane,"),
    (job("application"), "feedback on my application", "Hi Jane,"),
    (job(kind="pitch", company="The Atlantic"),
     "what would make a future pitch a better fit for The Atlantic", "Hi Jane,"),
    (job(kind="investor", company="Sequoia"),
     "what would make us a fit for Sequoia in the future", "Hi Jane,"),
    (job(kind="client", company="Globex"), "what would make a future proposal a better fit for Globex",
     "Hi Jane,"),
    (job(kind="academic", company="NeurIPS"), "strengthen my work for the next submission", "Dear Jane,"),
    (job(kind="program", company="NSF"), "my application to NSF", "Dear Jane,"),
    (job(company=None, role=None), "about the role, and", "Hi Jane,"),
])
def test_draft_adapts_to_kind_and_stage(store: Store, settings: Settings, verdict: FakeVerdict, expected: str,
                                        greeting: str) -> None:
    ingest(store, settings, [make_message(5, subject="Decision", sender="Jane Smith <jane@org.example>")],
           {"Decision": verdict})
    body = only_draft(store).get_content()
    assert body.startswith(greeting + "\n")
    assert expected in body.replace("\n", " ")


def test_no_person_name_means_a_neutral_greeting(store: Store, settings: Settings) -> None:
    talent = make_message(6, subject="Decision", sender="Acme Talent Team <talent@acme.example>")
    ingest(store, settings, [talent], {"Decision": job()})
    assert only_draft(store).get_content().startswith("Hello,\n")


def test_header_injection_through_the_incoming_mail_is_impossible(store: Store, settings: Settings) -> None:
    # RFC 2047 encoded words can decode to CR/LF: a subject and a display name that try to add a Bcc
    subject = "=?utf-8?q?Your_application=0D=0ABcc:_evil@attacker.example?="
    sender = "=?utf-8?q?Jane=0D=0ABcc:_evil@attacker.example?= <jane@acme.example>"
    folded = "References: <ok@acme.example>\r\n\tBcc: <evil@attacker.example>\r\n"
    original = make_message(7, subject=subject, sender=sender, extra_headers=folded)
    ingest(store, settings, [original], {"Your application": job()})
    text = store.drafts()[0]["message"]
    msg = parsed(text)
    assert msg["Bcc"] is None and "\r\nBcc:" not in text
    assert "\n" not in msg["Subject"] and msg["Subject"].startswith("Re: Your application")
    assert [a.addr_spec for a in msg["To"].addresses] == ["jane@acme.example"]
    assert "Bcc" not in msg["References"]  # a folded References line stays a list of Message-IDs


@pytest.mark.parametrize("field,value", [
    ("subject", "Hello\r\nBcc: evil@attacker.example"),
    ("subject", "Hello\nBcc: evil@attacker.example"),
    ("to_addr", "jane@acme.example\r\nBcc: evil@attacker.example"),
    ("to_addr", "jane@acme.example, evil@attacker.example"),
    ("from_addr", "Sam\r\n <sam@example.com>"),
    ("in_reply_to", "<a@b.example>\r\nBcc: evil@attacker.example"),
    ("message_id", "<a@b.example>\nX-Evil: 1"),
])
def test_build_message_refuses_line_breaks_in_headers(field: str, value: str) -> None:
    args = dict(from_addr="Sam <sam@example.com>", to_addr="jane@acme.example", subject="Re: hi",
                body="Hello\n", in_reply_to="<a@b.example>", references=["<a@b.example>"], message_id=None)
    args[field] = value
    with pytest.raises(drafts.HeaderInjection):
        drafts.build_message(**args)  # type: ignore[arg-type]


def test_edit_keeps_the_thread_and_refuses_extra_headers(store: Store, settings: Settings) -> None:
    ingest(store, settings, [make_message(8, subject="Your application", message_id="<e@acme.example>")],
           {"Your application": job()})
    row = store.drafts()[0]
    before = parsed(row["message"])

    def editor(text: str) -> str:
        return text.replace("Subject: Re: Your application", "Subject: Re: Your application (thanks!)") \
                   .replace("Best regards,", "Warmly,")

    assert drafts.edit_draft(store, row["id"], editor)
    after = parsed(store.draft(row["id"])["message"])
    assert after["Subject"] == "Re: Your application (thanks!)"
    assert "Warmly,\nSam Taylor" in after.get_content()
    for header in ("Message-ID", "In-Reply-To", "References", "From"):
        assert after[header] == before[header]
    assert not drafts.edit_draft(store, row["id"], lambda text: text)  # unchanged: nothing written
    with pytest.raises(drafts.DraftError, match="only To and Subject"):
        drafts.edit_draft(store, row["id"],
                          lambda text: text.replace("Subject:", "Bcc: evil@x.example\nSubject:"))
    with pytest.raises(drafts.HeaderInjection):
        drafts.edit_draft(store, row["id"], lambda text: text.replace("To: ", "To: evil@x.example, "))
    assert parsed(store.draft(row["id"])["message"])["Bcc"] is None


def test_discard_and_status_rules(store: Store, settings: Settings) -> None:
    ingest(store, settings, [make_message(9, subject="Your application")], {"Your application": job()})
    draft_id = store.drafts()[0]["id"]
    assert "discarded" in drafts.discard_draft(store, draft_id)
    assert drafts.list_drafts(store, "discarded")[0]["id"] == draft_id
    with pytest.raises(drafts.DraftError, match="only pending"):
        drafts.edit_draft(store, draft_id, lambda t: t + "x")
    with pytest.raises(drafts.DraftError, match="not pending"):
        drafts.approve_draft(store, settings, draft_id)


def test_templates_can_be_overridden_in_the_config_dir(store: Store, settings: Settings) -> None:
    assert settings.templates_dir is not None
    settings.templates_dir.mkdir()
    (settings.templates_dir / "job_application.txt").write_text(
        "$greeting\n\nMy own words to $company about $position.\n\n$user_name\n", encoding="utf-8")
    ingest(store, settings, [make_message(10, subject="Your application")], {"Your application": job()})
    row = store.drafts()[0]
    assert parsed(row["message"]).get_content() == (
        "Hi Jane,\n\nMy own words to Acme about the Data Engineer role at Acme.\n\nSam Taylor\n")
    assert row["template"].endswith("templates/job_application.txt")


def test_templates_dir_defaults_to_the_config_dir(tmp_path: Path) -> None:
    settings = Settings(database=tmp_path / "w.db", source=tmp_path / "conf" / "config.toml")
    assert drafts.templates_dir(settings) == tmp_path / "conf" / "templates"


def test_a_broken_template_costs_the_draft_not_the_batch(store: Store, settings: Settings) -> None:
    assert settings.templates_dir is not None
    settings.templates_dir.mkdir()
    (settings.templates_dir / "job_application.txt").write_text("Hi $nobody\n", encoding="utf-8")
    ingest(store, settings, [make_message(11, subject="Your application")], {"Your application": job()})
    entry = rejections.entries(store)[0]
    assert "unknown placeholder $nobody" in entry["draft_note"]
    assert store.drafts() == [] and store.count("rejections") == 1


# -- the log ------------------------------------------------------------------------------------

def _config(tmp_path: Path, settings: Settings) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\ndatabase = "{settings.database}"\nstore_text = true\n\n'
                    '[user]\nname = "Sam Taylor"\nemail = "sam@example.com"\n', encoding="utf-8")
    return path


def _mixed_log(store: Store, settings: Settings) -> None:
    ingest(store, settings, [
        make_message(20, subject="Your application A"),
        make_message(21, subject="Pitch decision", sender="Ed Itor <ed@magazine.example>"),
        make_message(22, subject="Just a newsletter"),
    ], {"application A": job(), "Pitch": job(kind="pitch", company="The Magazine")})


def test_rejections_lists_json_lines_and_filters(tmp_path: Path, store: Store, settings: Settings) -> None:
    _mixed_log(store, settings)
    config = _config(tmp_path, settings)
    result = CliRunner().invoke(cli, ["--config", str(config), "rejections", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["company"] for line in lines] == ["Acme", "The Magazine"]
    for field in ("id", "company", "role", "kind", "stage", "date", "sender", "subject", "score", "account",
                  "folder", "uid", "message_id"):
        assert field in lines[0]
    assert lines[0]["uid"] == 1 and lines[0]["message_id"].startswith("<msg-20-")
    result = CliRunner().invoke(cli, ["--config", str(config), "rejections", "--json", "--kind", "pitch"])
    assert [json.loads(line)["kind"] for line in result.output.splitlines()] == ["pitch"]
    result = CliRunner().invoke(cli, ["--config", str(config), "rejections", "--since", "2026-03-03"])
    assert result.exit_code == 0 and "no rejections logged yet" in result.output
    table = CliRunner().invoke(cli, ["--config", str(config), "rejections"]).output
    assert "Acme" in table and "The Magazine" in table and "2 rejection(s)" in table


def test_rejections_export_csv(tmp_path: Path, store: Store, settings: Settings) -> None:
    _mixed_log(store, settings)
    out = tmp_path / "out" / "log.csv"
    result = CliRunner().invoke(cli, ["--config", str(_config(tmp_path, settings)), "rejections", "export",
                                      "--csv", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["company"] for r in rows] == ["Acme", "The Magazine"]
    assert rows[0]["kind"] == "job" and rows[0]["stage"] == "application" and rows[0]["uid"] == "1"


# -- stats --------------------------------------------------------------------------------------

def test_stats_diagnose_the_application_when_noes_come_before_interviews(store: Store,
                                                                         settings: Settings) -> None:
    ingest(store, settings, [make_message(30 + i, subject=f"Application {i}") for i in range(6)],
           {"Application": job()})
    result = stats.compute(store, NOW)
    assert result.total == 6 and result.by_stage == {"application": 6} and result.by_kind == {"job": 6}
    assert result.by_month == [("2026-03", 6)]
    assert any("before any interview" in line and "keywords" in line for line in result.diagnosis)
    assert not any("interview performance" in line for line in result.diagnosis)


def test_stats_point_at_interviews_when_noes_come_after_them(store: Store, settings: Settings) -> None:
    ingest(store, settings, [make_message(40 + i, subject=f"Loop {i}") for i in range(5)]
           + [make_message(50, subject="Application x")],
           {"Loop": job("interview"), "Application": job()})
    result = stats.compute(store, NOW)
    assert any("interview performance" in line and "feedback" in line for line in result.diagnosis)
    assert not any("before any interview" in line for line in result.diagnosis)


def test_stats_find_ghosted_applications(store: Store, settings: Settings) -> None:
    def dated(n: int, subject: str, sender: str, when: datetime) -> bytes:
        data = make_message(n, subject=subject, sender=sender)
        head, body = data.split(b"\r\n\r\n", 1)
        lines = [line for line in head.split(b"\r\n") if not line.startswith(b"Date:")]
        date = b"Date: " + email.utils.format_datetime(when).encode()
        return b"\r\n".join([*lines, date]) + b"\r\n\r\n" + body

    old = NOW - timedelta(weeks=8)
    ingest(store, settings, [
        dated(60, "Thank you for applying to Globex", "Globex Careers <careers@globex.example>", old),
        dated(61, "Thank you for applying to Initech", "Initech Talent <talent@initech.example>", old),
        dated(62, "Interview invitation", "Bill Lumbergh <bill@initech.example>", old + timedelta(days=9)),
        dated(63, "Application received - Hooli", "Hooli Jobs <jobs@hooli.example>", NOW - timedelta(days=3)),
    ], {})
    result = stats.compute(store, NOW, ghost_weeks=4)
    assert [g.company for g in result.ghosted] == ["Globex"]
    assert result.ghosted[0].weeks == 8 and result.acknowledgements == 3
    assert "a heuristic" in stats.report(result)


def test_stats_cli_prints_a_chart_and_writes_a_png(tmp_path: Path, store: Store, settings: Settings) -> None:
    _mixed_log(store, settings)
    png = tmp_path / "chart.png"
    config = str(_config(tmp_path, settings))
    result = CliRunner().invoke(cli, ["--config", config, "stats", "--png", str(png)])
    assert result.exit_code == 0, result.output
    assert "2026-03 " in result.output and "█" in result.output and "By kind:" in result.output
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 20 and height > 100
    as_json = CliRunner().invoke(cli, ["--config", str(_config(tmp_path, settings)), "stats", "--json"])
    assert json.loads(as_json.output)["by_month"] == {"2026-03": 2}


def test_png_chart_draws_bars_proportional_to_counts() -> None:
    data = png_bars([("2026-01", 4), ("2026-02", 0), ("2026-03", 2)])
    width, height = struct.unpack(">II", data[16:24])
    idat = b"".join(data[i + 8 : i + 8 + struct.unpack(">I", data[i : i + 4])[0]]
                    for i in _chunks(data) if data[i + 4 : i + 8] == b"IDAT")
    raw = zlib.decompress(idat)
    stride = width * 3 + 1
    assert len(raw) == stride * height
    rows = [raw[y * stride + 1 : (y + 1) * stride] for y in range(height)]

    def bar_pixels(column: int) -> int:
        return sum(1 for row in rows if row[column * 3 : column * 3 + 3] == bytes((66, 103, 178)))

    slot = (width - 24) // 3
    centres = [12 + slot * i + slot // 2 for i in range(3)]
    tall, empty, half = (bar_pixels(x) for x in centres)
    assert empty == 0 and tall > 0 and abs(half * 2 - tall) <= 2


def _chunks(data: bytes) -> list[int]:
    offsets, i = [], 8
    while i < len(data):
        offsets.append(i)
        i += 12 + struct.unpack(">I", data[i : i + 4])[0]
    return offsets


def test_text_bars_scale_to_the_largest_count() -> None:
    lines = text_bars([("2026-01", 8), ("2026-02", 1), ("2026-03", 0)], width=8).splitlines()
    assert lines[0] == "2026-01 ████████ 8"
    assert lines[1] == "2026-02 █        1"
    assert lines[2] == "2026-03          0"


# -- corrections --------------------------------------------------------------------------------

def test_not_a_rejection_removes_the_record_and_becomes_a_training_label(
    tmp_path: Path, store: Store, settings: Settings
) -> None:
    body = "Hi,\r\n\r\nWe are delighted to invite you to interview.\r\n"
    ingest(store, settings, [make_message(70, subject="Your application", message_id="<m70@acme.example>",
                                          body=body)], {"Your application": job()})
    assert store.count("drafts") == 1 and store.count("reminders") >= 1
    result = CliRunner().invoke(cli, ["--config", str(_config(tmp_path, settings)), "mark", "1",
                                      "--not-rejection"])
    assert result.exit_code == 0, result.output
    assert "not a rejection" in result.output and "removed from the log" in result.output
    assert (store.count("rejections"), store.count("drafts"), store.count("reminders")) == (0, 0, 0)
    assert store.message_by_message_id("<m70@acme.example>")["label"] == "not_rejection"
    exported = CliRunner().invoke(cli, ["--config", str(_config(tmp_path, settings)), "corrections"])
    records = [json.loads(line) for line in exported.output.splitlines()]
    assert len(records) == 1
    record = records[0]
    assert record["label"] == "not_rejection" and record["subject"] == "Your application"
    assert "delighted to invite you" in record["body"] and record["from"].startswith("Jane Recruiter")
    assert record["id"] == "correction-1" and record["source"] == "correction"
    assert email.utils.parsedate_to_datetime(record["date"]) == datetime(2026, 3, 2, 10, 10, tzinfo=UTC)
    # the stored label wins: seeing the message again never brings the rejection back
    again = Processor(store, ScriptedClassifier({"Your application": job()}),
                      hooks=rejection_hooks(settings, lambda: NOW))
    raw = RawMessage("local", "/tmp/other.mbox", 0, 1, make_message(70, subject="Your application",
                                                                      message_id="<m70@acme.example>"))
    again.process([raw], folder_state=None)
    record_row = store.message_by_message_id("<m70@acme.example>")
    from watcher.store import Record
    rec = Record(record_row["dedupe_key"], "local", "/x", 0, 1, "<m70@acme.example>", "", None, "", None,
                 None, "", "rejection", 0.9, "v", company="Acme", kind="job")
    assert store.add_record(rec) is None and store.count("rejections") == 0


def test_a_missed_rejection_is_logged_with_draft_and_reminders(store: Store, settings: Settings) -> None:
    proposal = make_message(71, subject="About your proposal", sender="Hank <hank@globex.example>",
                            message_id="<m71@globex.example>")
    ingest(store, settings, [proposal], {})
    assert store.count("rejections") == 0
    result = corrections.mark(store, settings, "m71@globex.example", "rejection",
                              details=corrections.Details(kind="client", company="Globex"), now=NOW)
    assert result.rejection_id is not None and result.draft_id is not None and result.reminders
    entry = rejections.entries(store)[0]
    assert (entry["kind"], entry["company"], entry["stage"]) == ("client", "Globex", None)
    assert "future proposal" in parsed(store.drafts()[0]["message"]).get_content()
    assert [r["label"] for r in store.corrections()] == ["rejection"]
    assert store.corrections()[0]["category"] == "client_rejection"
    # marking it again fixes details, never duplicates
    again = corrections.mark(store, settings, str(result.rejection_id), "rejection",
                             details=corrections.Details(company="Globex Corporation"), now=NOW)
    assert again.rejection_id == result.rejection_id and store.count("rejections") == 1
    assert rejections.entries(store)[0]["company"] == "Globex Corporation"
    assert len(store.corrections()) == 1


def test_mark_rereads_the_text_from_the_local_mbox(tmp_path: Path, settings: Settings) -> None:
    settings = replace(settings, store_text=False)
    box_path = tmp_path / "inbox.mbox"
    box = mailbox.mbox(str(box_path))
    box.add(make_message(80, subject="Newsletter", message_id="<m80@x.example>",
                         body="Top stories this week: unfortunately the weather.\r\n"))
    box.add(make_message(81, subject="Your application", message_id="<m81@x.example>",
                         body="Dear Sam,\r\n\r\nUnfortunately we will not move forward.\r\n"))
    box.flush()
    box.close()
    with Store.open(settings.database) as store:
        processor = Processor(store, ScriptedClassifier({"Newsletter": job()}),
                              hooks=rejection_hooks(settings, lambda: NOW))
        process_local(processor, box_path, "mbox")
        assert store.message_by_message_id("<m80@x.example>")["text"] is None
        result = corrections.mark(store, settings, "<m80@x.example>", "not_rejection", now=NOW)
        assert result.removed and result.text_found
        assert "Top stories this week" in store.corrections()[0]["body"]
        missed = corrections.mark(store, settings, "<m81@x.example>", "rejection", now=NOW)
        assert missed.rejection_id is not None
        assert "will not move forward" in store.corrections()[1]["body"]


def test_mark_errors_are_plain(store: Store, settings: Settings) -> None:
    with pytest.raises(corrections.CorrectionError, match="no rejection with id 99"):
        corrections.mark(store, settings, "99", "not_rejection")
    with pytest.raises(corrections.CorrectionError, match="no processed message"):
        corrections.mark(store, settings, "<nope@x.example>", "rejection")
    with pytest.raises(corrections.CorrectionError, match="job rejections only"):
        corrections.check_details(corrections.Details(kind="pitch", stage="interview"))


def test_corrections_change_the_next_training_run(store: Store, settings: Settings) -> None:
    from watcher import training

    ingest(store, settings, [make_message(90, subject="Your application", message_id="<m90@acme.example>")],
           {"Your application": job()})
    data_dir = ROOT / "training_data"
    before = training.data_sha256(data_dir, corrections.training_records(settings.database))
    corrections.mark(store, settings, "1", "not_rejection", now=NOW)
    extra = corrections.training_records(settings.database)
    assert [r["label"] for r in extra] == ["not_rejection"]
    assert training.data_sha256(data_dir, extra) != before
    corpus = training.load_corpus(data_dir, extra)
    assert corpus[-1]["id"] == "correction-1" and corpus[-1]["correction"] is True
    assert corrections.training_records(settings.database.parent / "missing.db") == []


def test_drafts_show_and_edit_through_the_cli(tmp_path: Path, store: Store, settings: Settings,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(store, settings, [make_message(100, subject="Your application – next steps")],
           {"Your application": job()})
    config = str(_config(tmp_path, settings))
    shown = CliRunner().invoke(cli, ["--config", config, "drafts", "show", "1"])
    assert shown.exit_code == 0, shown.output
    assert "Subject: Re: Your application – next steps" in shown.output and "Hi Jane," in shown.output
    raw = CliRunner().invoke(cli, ["--config", config, "drafts", "show", "1", "--raw"])
    assert "Subject: Re: Your application =?utf-8?" in raw.output  # the wire form is RFC 2047
    monkeypatch.setenv("EDITOR", "sed -i s/^Hi\\ Jane,/Dear\\ Jane,/")
    edited = CliRunner().invoke(cli, ["--config", config, "drafts", "edit", "1"])
    assert edited.exit_code == 0 and "draft 1 updated" in edited.output, edited.output
    assert parsed(store.draft(1)["message"]).get_content().startswith("Dear Jane,\n")
    missing = CliRunner().invoke(cli, ["--config", config, "drafts", "show", "42"])
    assert missing.exit_code == 1 and "no draft with id 42" in missing.output


def test_the_followups_migration_upgrades_an_existing_database(tmp_path: Path) -> None:
    import sqlite3

    from watcher import migrations

    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    db.execute("BEGIN")
    migrations.m001_initial(db)
    db.execute("INSERT INTO _migrations VALUES ('m001_initial', 'then')")
    db.execute("INSERT INTO messages (id, dedupe_key, account, folder, uidvalidity, uid, label, score, "
               "model_version, processed_at) VALUES (1, 'k', 'a', 'f', 1, 1, 'rejection', 0.9, 'v', 'then')")
    db.execute("INSERT INTO rejections (message_ref, score, created_at) VALUES (1, 0.9, 'then')")
    db.execute("COMMIT")
    db.close()
    with Store.open(path) as store:
        assert [r["draft_note"] for r in store.rejection_log()] == [None]
        assert store.count("drafts") == store.count("reminders") == store.count("corrections") == 0
        names = [r[0] for r in store.db.execute("SELECT name FROM _migrations ORDER BY name")]
        assert "m002_followups" in names
