"""The shipped model on mail written fresh for these tests, loading failures, and `watcher classify`."""

from __future__ import annotations

import dataclasses
import json
import mailbox
import shutil
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from watcher.classifier import (
    META_FILE,
    MODEL_FILE,
    Classifier,
    ModelError,
    default_model_dir,
    file_sha256,
    record_to_message,
)
from watcher.cli import cli
from watcher.messages import ParsedMessage, parse


def eml(sender: str, subject: str, body: str, msgid: str = "<x@example.org>") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Jordan Ames <jordan.ames@example.net>"
    msg["Subject"] = subject
    msg["Date"] = "Wed, 14 Oct 2026 10:12:00 +0000"
    msg["Message-ID"] = msgid
    msg.set_content(body)
    return msg.as_bytes()


def message(sender: str, subject: str, body: str) -> ParsedMessage:
    return parse(eml(sender, subject, body))


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return Classifier.load()


REJECTIONS = {
    "ats": message(
        "Fernhill Foods Recruiting <no-reply@us.greenhouse-mail.io>",
        "Your application to Fernhill Foods",
        "Hi Jordan,\n\nThank you for your interest in the Supply Chain Analyst role at Fernhill Foods. We "
        "appreciate the time you took to apply.\n\nAfter reviewing your application, we have decided not to "
        "move forward with your candidacy. We had many strong applicants and the decision was not easy.\n\n"
        "We wish you every success in your search.\n\nFernhill Foods Talent Team",
    ),
    "after_interview": message(
        "Marisol Okonkwo <marisol@gridline.io>",
        "Staff Engineer - update",
        "Hi Jordan,\n\nThanks again for spending so much time with us over the last few weeks, and for the "
        "systems design interview on Friday. The panel was impressed, but we've decided to extend an offer "
        "to another candidate whose background is closer to what we need right now.\n\nI'm sorry this isn't "
        "better news. I'd be glad to share feedback on a call if that would help.\n\nMarisol",
    ),
    "investor": message(
        "Dev Patel <dev@slatecreek.vc>",
        "Re: Loomly seed round",
        "Jordan - thanks for the time and the deck. We talked about Loomly at our Monday partner meeting and "
        "we're going to pass. It's a strong team, but we aren't convinced the market is big enough for a "
        "venture outcome at this stage.\n\nHappy to stay in touch as you grow.\n\nDev",
    ),
}

HARD_NEGATIVES = {
    "interview_invitation": message(
        "Aria Novak <aria@tallpine.com>",
        "Interview - Platform Engineer",
        "Hi Jordan,\n\nThanks for applying to Tall Pine! We enjoyed reading your application and would like "
        "to invite you to a 45-minute video interview with our engineering manager. Could you let me know "
        "which of these slots suits you: Tuesday 2pm or Thursday 10am?\n\nLooking forward to it,\nAria",
    ),
    "offer": message(
        "Ben Ashworth <ben.ashworth@quarrystone.co.uk>",
        "Offer - Operations Lead",
        "Dear Jordan,\n\nI'm delighted to confirm that we'd like to offer you the Operations Lead role at "
        "Quarrystone. Your offer letter with salary and a proposed start date of 2 November is attached. "
        "Please sign and return it by Friday.\n\nWelcome aboard!\nBen",
    ),
    "application_received": message(
        "Hollow Oak Careers <careers@hollowoak.org>",
        "We received your application",
        "Dear Jordan,\n\nThank you for applying for the Volunteer Coordinator position. This email confirms "
        "we have received your application. Our team will review every application carefully. Due to the "
        "number of applications, if you don't hear from us within four weeks, please assume you have not "
        "been shortlisted on this occasion.\n\nKind regards,\nHollow Oak People Team",
    ),
    "reschedule": message(
        "Chloe Park <chloe.park@brightmarsh.com>",
        "Change of time for Thursday's interview",
        "Hi Jordan,\n\nUnfortunately the interviewer is ill and won't be able to make Thursday's interview. "
        "I'm so sorry for the late notice. Could we move it to Monday at the same time? Your application is "
        "still very much active.\n\nThanks for your flexibility,\nChloe",
    ),
    "card_declined": message(
        "Northbank Alerts <alerts@northbank.example>",
        "Card payment declined",
        "We declined a payment of £42.10 at CITYMART on your card ending 4471 because it would exceed your "
        "available balance. Unfortunately the transaction could not be completed. If this wasn't you, call "
        "us on the number on the back of your card.",
    ),
    "friend": message(
        "Sam <sam.bryce@gmail.com>",
        "ugh, sorry",
        "Hey Jordan, just heard the Gridline people turned you down after all those interviews. Honestly "
        "their loss. Want to grab a drink on Friday and complain about recruiters? Proud of you for going "
        "for it.\n\nSam",
    ),
    "user_reply_quoting_rejection": message(
        "Jordan Ames <jordan.ames@example.net>",
        "Re: Staff Engineer - update",
        "Hi Marisol,\n\nThanks for letting me know, and for the kind words. I'd really appreciate a short "
        "call for feedback - would next Wednesday work?\n\nBest,\nJordan\n\n"
        "On Tue, 13 Oct 2026 at 16:20, Marisol Okonkwo <marisol@gridline.io> wrote:\n"
        "> Hi Jordan,\n> We've decided to extend an offer to another candidate whose background is closer\n"
        "> to what we need right now. I'm sorry this isn't better news.\n",
    ),
}


@pytest.mark.parametrize("name", sorted(REJECTIONS))
def test_shipped_model_flags_clear_rejections(shipped: Classifier, name: str) -> None:
    [verdict] = shipped.classify([REJECTIONS[name]])
    assert verdict.label == "rejection", verdict
    assert verdict.score >= shipped.threshold
    assert verdict.reasons


@pytest.mark.parametrize("name", sorted(HARD_NEGATIVES))
def test_shipped_model_does_not_flag_hard_negatives(shipped: Classifier, name: str) -> None:
    [verdict] = shipped.classify([HARD_NEGATIVES[name]])
    assert verdict.label == "not_rejection", verdict
    assert verdict.kind is None and verdict.stage is None and verdict.company is None


def test_rejection_details(shipped: Classifier) -> None:
    ats, interview, investor = shipped.classify(
        [REJECTIONS["ats"], REJECTIONS["after_interview"], REJECTIONS["investor"]])
    assert (ats.kind, ats.stage, ats.company, ats.role) == ("job", "application", "Fernhill Foods",
                                                            "Supply Chain Analyst")
    assert (interview.kind, interview.stage) == ("job", "interview")
    assert investor.kind == "investor" and investor.stage is None and investor.role is None


# What an HTML careers mail turns into before its letter starts: banner, navigation, the job's details.
BANNER = (
    "View this email in your browser\n\nCareers | Life at Fernhill | Benefits | Locations | Students\n\n"
    + "Our people are at the heart of everything we do. With 12,000 colleagues in 40 countries, we are proud "
    "to be recognised as a top employer again this year, and we are committed to an inclusive hiring "
    "process for everyone. " * 4
    + "\n\nJob title: Supply Chain Analyst | Requisition ID: 48213 | Location: Hybrid\n\n"
)


@pytest.mark.parametrize(("name", "label"), [("ats", "rejection"), ("interview_invitation", "not_rejection")])
def test_a_long_banner_before_the_letter_hides_nothing(shipped: Classifier, name: str, label: str) -> None:
    plain = REJECTIONS.get(name) or HARD_NEGATIVES[name]
    assert len(BANNER) > 1000  # beyond the word features' window, were it not skipped
    bannered = dataclasses.replace(plain, text=BANNER + plain.text)
    assert [v.label for v in shipped.classify([plain, bannered])] == [label, label]


TRACKING = "https://click.mail.careers-hub.com/ls/click?upn=" + "u001.Zx9" * 40 + "&utm_medium=email"


@pytest.mark.parametrize(("name", "label"), [("ats", "rejection"), ("interview_invitation", "not_rejection")])
def test_tracking_links_do_not_crowd_the_letter_out(shipped: Classifier, name: str, label: str) -> None:
    plain = REJECTIONS.get(name) or HARD_NEGATIVES[name]
    greeting, letter = plain.text.split("\n\n", 1)
    linked = dataclasses.replace(  # links after the greeting: no preamble to skip
        plain, text=f"{greeting}\n\nYour candidate portal: {TRACKING}\n{TRACKING}\n\n{letter}"
                    f"\n\nUnsubscribe: {TRACKING}")
    assert len(linked.text) - len(plain.text) > 1000  # the letter would go on beyond the window
    verdicts = shipped.classify([plain, linked])
    assert [v.label for v in verdicts] == [label, label]
    assert verdicts[0].company == verdicts[1].company


def test_links_are_left_out_of_the_words() -> None:
    from watcher.features import message_texts
    from watcher.messages import without_links

    assert without_links("see <https://a.example/x?y=1> and http://b.example/z.") == "see   and  "
    assert without_links("no links here") == "no links here"
    msg = parse(eml("Fernhill Careers <jobs@fernhill.com>", "Your application",
                    f"Dear Jordan,\n\nView it here: {TRACKING}\n\nWe will not be moving forward."))
    words = message_texts(msg)[0]
    assert "upn" not in words and "click" not in words and "forward" in words


def test_the_subject_words_get_weights_of_their_own() -> None:
    from watcher.features import header_tokens

    msg = parse(eml("Fernhill Careers <no-reply@us.greenhouse-mail.io>", "RE: Your application update", "Hi"))
    tokens = header_tokens(msg).split()
    assert {"s:your", "s:application", "s:update", "n:fernhill", "f:reply"} <= set(tokens)
    assert "s:re" not in tokens  # the reply prefix is a flag, not a word
    assert "f:ask" not in tokens and "f:asks" not in tokens
    asking = parse(eml("Dana <dana@fernhill.com>", "Next round", "Are you free Tuesday? Or Wednesday?"))
    assert "f:asks" in header_tokens(asking).split()


def test_batch_keeps_order_and_handles_empty(shipped: Classifier) -> None:
    msgs = [REJECTIONS["ats"], HARD_NEGATIVES["offer"], REJECTIONS["investor"]]
    assert [v.label for v in shipped.classify(msgs)] == ["rejection", "not_rejection", "rejection"]
    assert shipped.classify([]) == []


def test_shipped_model_files_and_metadata() -> None:
    model_dir = default_model_dir()
    meta = json.loads((model_dir / META_FILE).read_text())
    assert meta["model_sha256"] == file_sha256(model_dir / MODEL_FILE)
    assert (model_dir / MODEL_FILE).stat().st_size < 20_000_000
    assert meta["holdout"]["overall"]["n"] == meta["n_holdout"]


def test_record_to_message_splits_the_quoted_thread() -> None:
    msg = record_to_message({
        "id": "r1", "from": "A B <a@b.example>", "subject": "Re: x",
        "date": "Tue, 11 Feb 2025 16:42:09 +0000",
        "body": "Thanks, no.\n\nOn Mon, 10 Feb 2025 at 09:00, C <c@d.example> wrote:\n> an interview?\n",
    })
    assert msg.text == "Thanks, no." and "interview" in msg.quoted and msg.sender_address == "a@b.example"


@pytest.mark.parametrize(
    "sender",
    ["Office of Admissions, Harrowgate School <adm@harrowgate.edu>", "Jo @ Harrowgate <adm@harrowgate.edu>"],
)
def test_record_to_message_reads_the_sender_as_parse_does(sender: str) -> None:
    # an unquoted comma or "@" in the display name: the address is still the one in angle brackets
    from_record = record_to_message({"id": "r2", "from": sender, "subject": "x", "body": "no"})
    from_mail = parse(f"From: {sender}\r\nSubject: x\r\n\r\nno\r\n".encode())
    assert from_record.sender_address == from_mail.sender_address == "adm@harrowgate.edu"
    assert from_record.sender_name == from_mail.sender_name


# ---------------------------------------------------------------------------------------- load errors


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    target = tmp_path / "models"
    shutil.copytree(default_model_dir(), target)
    return target


def _meta(path: Path) -> dict:
    return json.loads((path / META_FILE).read_text())


def _write_meta(path: Path, meta: dict) -> None:
    (path / META_FILE).write_text(json.dumps(meta))


def _assert_says_train(exc: pytest.ExceptionInfo[ModelError]) -> None:
    text = str(exc.value)
    assert "watcher train" in text and "\n" not in text


def test_missing_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as exc:
        Classifier.load(tmp_path / "nothing-here")
    _assert_says_train(exc)


def test_corrupt_model_file(model_copy: Path) -> None:
    (model_copy / MODEL_FILE).write_bytes(b"not a joblib file at all")
    with pytest.raises(ModelError) as exc:
        Classifier.load(model_copy)
    _assert_says_train(exc)


def test_corrupt_model_file_with_matching_hash(model_copy: Path) -> None:
    (model_copy / MODEL_FILE).write_bytes(b"\x80\x04garbage")
    meta = _meta(model_copy)
    meta["model_sha256"] = file_sha256(model_copy / MODEL_FILE)
    _write_meta(model_copy, meta)
    with pytest.raises(ModelError, match="cannot be loaded") as exc:
        Classifier.load(model_copy)
    _assert_says_train(exc)


def test_corrupt_metadata(model_copy: Path) -> None:
    (model_copy / META_FILE).write_text("{truncated")
    with pytest.raises(ModelError) as exc:
        Classifier.load(model_copy)
    _assert_says_train(exc)


def test_wrong_format_version(model_copy: Path) -> None:
    meta = _meta(model_copy)
    meta["format_version"] = 999
    _write_meta(model_copy, meta)
    with pytest.raises(ModelError, match="format version 999") as exc:
        Classifier.load(model_copy)
    _assert_says_train(exc)


def test_other_scikit_learn_version(model_copy: Path) -> None:
    meta = _meta(model_copy)
    meta["sklearn_version"] = "0.24.2"
    _write_meta(model_copy, meta)
    with pytest.raises(ModelError, match="scikit-learn 0.24.2") as exc:
        Classifier.load(model_copy)
    _assert_says_train(exc)


def test_cli_turns_a_model_error_into_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.eml").write_bytes(eml("x@y.example", "hi", "hello"))
    (tmp_path / "config.toml").write_text("")
    monkeypatch.setenv("WATCHER_MODEL_DIR", str(tmp_path / "no-model"))
    monkeypatch.setenv("WATCHER_CONFIG", str(tmp_path / "config.toml"))
    result = CliRunner().invoke(cli, ["classify", str(tmp_path / "a.eml")])
    assert result.exit_code == 1
    assert "watcher train" in result.output and "Traceback" not in result.output


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_classify_json_on_eml_files_directories_and_mbox(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text("")
    monkeypatch.setenv("WATCHER_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.delenv("WATCHER_MODEL_DIR", raising=False)
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "rejection.eml").write_bytes(eml(
        "Fernhill Foods Recruiting <no-reply@us.greenhouse-mail.io>", "Your application to Fernhill Foods",
        "Hi Jordan,\n\nThank you for applying for the Supply Chain Analyst role at Fernhill Foods. After "
        "careful review we have decided not to move forward with your application.\n\nFernhill Foods Talent "
        "Team", "<r1@example.org>"))
    (folder / "empty.eml").write_bytes(b"")
    box = mailbox.mbox(str(tmp_path / "inbox.mbox"))
    box.add(eml("Aria Novak <aria@tallpine.com>", "Interview", "We'd like to invite you to an interview "
                "on Tuesday. Which time suits you?", "<m1@example.org>"))
    box.add(eml("Dev Patel <dev@slatecreek.vc>", "Re: seed round", "Thanks for the deck. We've decided to "
                "pass on this round; it's not a fit for our fund right now.", "<m2@example.org>"))
    box.close()
    result = CliRunner().invoke(cli, ["classify", "--json", str(folder), str(tmp_path / "inbox.mbox")])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["source"] for r in rows] == [str(folder / "empty.eml"), str(folder / "rejection.eml"),
                                          f"{tmp_path / 'inbox.mbox'}:1", f"{tmp_path / 'inbox.mbox'}:2"]
    assert rows[0]["label"] is None and rows[0]["error"]
    rej = rows[1]
    for key in ("source", "message_id", "label", "score", "kind", "stage", "company", "role", "reasons"):
        assert key in rej
    assert (rej["message_id"], rej["label"], rej["kind"], rej["stage"], rej["company"]) == (
        "<r1@example.org>", "rejection", "job", "application", "Fernhill Foods")
    assert isinstance(rej["reasons"], list) and rej["reasons"]
    assert rows[2]["label"] == "not_rejection" and rows[2]["kind"] is None
    assert rows[3]["label"] == "rejection" and rows[3]["kind"] == "investor"

    plain = CliRunner().invoke(cli, ["classify", str(folder / "rejection.eml")])
    assert plain.exit_code == 0 and "rejection" in plain.output and "Fernhill Foods" in plain.output


def test_tone_words_reach_the_model_only_paired_with_what_the_mail_is_about() -> None:
    from watcher.features import message_texts

    msg = message("Careers <jobs@acme.test>", "Your application",
                  "Unfortunately we will not be moving forward with your application for the Analyst role.")
    main, _, cues = message_texts(msg)
    assert "unfortunately" not in main and "unfortunately we" not in main
    assert "we will" in main  # the words around it stay, and pair with each other
    assert "x:regret|job" in cues.split() and "c:regret" not in cues.split()


def test_the_letter_starts_at_its_greeting_after_a_long_preamble() -> None:
    from watcher.features import _skip_preamble

    letter = "Dear Jordan,\n\nThank you for applying. We will not be moving forward.\n\nBest wishes"
    assert _skip_preamble(letter) == 0  # short: nothing to skip
    assert _skip_preamble(BANNER + letter) == len(BANNER)
    assert _skip_preamble(letter + "x" * 2000 + "\nHi again") == 0  # the letter starts at the top
    signed = BANNER + "Danke für Ihre Bewerbung.\n\nBeste Grüße\nSabine"
    assert _skip_preamble(signed) == 0  # "Beste Grüße" signs a letter off, it does not open one


def test_a_forward_with_a_line_on_top_is_read_with_what_it_forwards() -> None:
    from watcher.features import message_texts

    forwarded = (
        "See below, sorry. Call me later.\n\n---------- Forwarded message ---------\n"
        "From: Fernhill Foods <no-reply@fernhill.com>\nSubject: Your application\n\n"
        "Dear Jordan, we have decided not to move forward with your application.\n"
    )
    fwd = parse(eml("Dana Recruiter <dana@bluepeak.co>", "Fwd: Your application", forwarded))
    reply = parse(eml("Dana Recruiter <dana@bluepeak.co>", "Re: Your application", forwarded))
    assert "forward" in message_texts(fwd)[0] and "c:not_moving" in message_texts(fwd)[2]
    assert "forward" not in message_texts(reply)[0]  # a reply's quoted thread stays cue tokens ("q:...")
    assert "q:not_moving" in message_texts(reply)[2]
