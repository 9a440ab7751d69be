"""Parsing real-world MIME: the corpus in tests/mime/, a 20 MB attachment, and property tests."""

from __future__ import annotations

import base64
import os
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watcher.messages import MAX_TEXT_CHARS, ParsedMessage, ParseError, html_to_text, parse, split_reply

MIME = Path(__file__).parent / "mime"


def load(name: str) -> ParsedMessage:
    return parse((MIME / name).read_bytes())


def test_corpus_is_there() -> None:
    assert len(list(MIME.glob("*.eml"))) >= 25


def test_html_only_becomes_readable_text() -> None:
    msg = load("html_only.eml")
    assert msg.has_html
    assert msg.text.startswith(
        "Dear Sam,\n\nThank you for your interest in the Senior Engineer role at Acme & Co."
    )
    assert "Unfortunately, we have decided to move forward with other candidates.\nWe wish you the best." in (
        msg.text
    )
    assert "Keep an eye on our careers page\nApply again in 6 months" in msg.text
    for noise in ("<p>", "color: red", "do-not-show", "Acme mail", "&nbsp;", "&amp;", "\u00a0"):
        assert noise not in msg.text
    # the quoted earlier message (Gmail's container and its blockquote) is split off
    assert "I am applying for the Senior Engineer role." in msg.quoted
    assert "I am applying" not in msg.text


def test_preheader_filler_is_dropped() -> None:
    filler = "&#847;&zwnj;&nbsp;&#8199;&shy;" * 120
    markup = (f'<div style="display:none">Your application update{filler}</div>'
              "<p>Dear Sam,</p><p>We will not be moving forward.</p>")
    text, _ = html_to_text(markup)
    assert text == "Your application update\nDear Sam,\nWe will not be moving forward."


@pytest.mark.parametrize(("plain", "html_wins"), [
    ("To view this message, please use an HTML-capable email client.", True),
    ("Dear Sam, we will not be moving forward with your application. Best of luck, Acme Careers", False),
])
def test_a_plain_stub_gives_way_to_the_html_letter(plain: str, html_wins: bool) -> None:
    mail = EmailMessage()
    mail["From"], mail["Subject"] = "Acme Careers <jobs@acme.example>", "Your application"
    mail.set_content(plain)
    mail.add_alternative("<p>Dear Sam,</p><p>Thank you for applying to Acme. After careful review we have "
                         "decided not to move forward with your application.</p><p>Acme Careers</p>",
                         subtype="html")
    msg = parse(mail.as_bytes())
    assert msg.has_html is html_wins
    assert msg.text.startswith("Dear Sam,\nThank you for applying") is html_wins
    assert (msg.text == plain) is (not html_wins)


def test_base64_utf8() -> None:
    msg = load("base64_utf8.eml")
    assert msg.text.startswith("Sehr geehrte Frau Müller,\n\nleider müssen wir Ihnen mitteilen")
    assert "Mit freundlichen Grüßen" in msg.text


def test_quoted_printable_soft_breaks_and_utf8() -> None:
    msg = load("quoted_printable.eml")
    assert "We’re grateful you took the time to interview with us — it was a pleasure." in msg.text
    assert "this line is long enough to need soft breaks in quoted-printable." in msg.text
    assert "=\n" not in msg.text and "=E2" not in msg.text


def test_latin1_mislabelled_as_utf8() -> None:
    msg = load("latin1_labelled_utf8.eml")
    assert "Après étude de votre dossier, nous regrettons de ne pas donner suite à votre candidature." in (
        msg.text
    )
    assert "\ufffd" not in msg.text
    assert msg.sender_name == "Renée Dupont"


def test_unknown_charset_falls_back() -> None:
    msg = load("unknown_charset.eml")
    assert msg.text == "Nous avons bien reçu votre candidature — merci."
    assert msg.subject == "Candidature reçue"


def test_us_ascii_label_on_windows_1252_text() -> None:
    msg = load("windows1252_smart_quotes.eml")
    assert msg.text == "We’ve reviewed your application – we’re sorry to say it’s a “no” this time."


def test_nested_multiparts_alternative_in_mixed_in_related() -> None:
    msg = load("nested_related_mixed_alternative.eml")
    assert msg.text == (
        "Hi Sam,\n\nAfter careful consideration we will not be progressing your application for the "
        "Data Analyst position.\n\nBest,\nBigCo Hiring"
    )
    assert not msg.has_html  # the plain alternative is preferred
    assert msg.attachments == ("Feedback für Sam.pdf", "image/png")
    assert "PDF" not in msg.text


def test_missing_headers() -> None:
    msg = load("missing_headers.eml")
    assert (msg.sender, msg.message_id, msg.date, msg.reply_to) == ("", None, None, None)
    assert msg.subject == "no sender, no date, no message-id"
    assert msg.dedupe_key().startswith("sha256:")
    assert msg.dedupe_key() == load("missing_headers.eml").dedupe_key()  # stable
    assert load("only_body.eml").text == "This message has no headers at all, only a body after a blank line."


def test_rfc2047_subject_and_sender() -> None:
    msg = load("rfc2047_subject.eml")
    assert msg.subject == "ご応募について (Réf. 42) – résultat"
    assert msg.sender_name == "山田 太郎"
    assert msg.sender_address == "yamada@kaisha.example"
    assert msg.text == "ご連絡ありがとうございます。"  # iso-2022-jp body


def test_raw_8bit_headers_are_decoded() -> None:
    data = "From: Jürgen Müller <j@firma.example>\r\nSubject: Absage für Sie – leider\r\n\r\nLeider.\r\n"
    msg = parse(data.encode("utf-8"))
    assert (msg.sender_name, msg.subject) == ("Jürgen Müller", "Absage für Sie – leider")
    latin = parse(
        "From: J\xfcrgen <j@firma.example>\r\nSubject: Absage f\xfcr Sie\r\n\r\nx\r\n".encode("latin-1")
    )
    assert (latin.sender_name, latin.subject) == ("Jürgen", "Absage für Sie")


def test_forwarded_message_is_not_the_new_text() -> None:
    msg = load("forwarded_rfc822.eml")
    assert msg.text == "See below, is this a rejection?"
    assert msg.attachments == ("original.eml",)


def test_broken_base64_bad_date_and_unclosed_boundary() -> None:
    msg = load("bad_base64_and_boundary.eml")
    assert msg.date is None
    assert msg.message_id == "<no-angle-brackets@example.com>"
    assert msg.text.startswith("Thank you for applying. We regret to")
    assert "VGhhbmsg" not in msg.text  # never the undecoded base64
    assert msg.text.endswith("second part text")


@pytest.mark.parametrize("cut", range(0, 8))
def test_truncated_base64_text_part_still_decodes(cut: int) -> None:
    """A partial IMAP fetch cuts a base64 part anywhere; what arrived must still read as text."""
    text = "We regret to inform you that the position has been filled. " * 40
    encoded = base64.encodebytes(text.encode()).decode()
    data = ("From: a@b.example\r\nSubject: s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" + encoded[: 1000 + cut]).encode()
    msg = parse(data)
    assert msg.text.startswith("We regret to inform you that the position has been filled.")
    assert text.startswith(msg.text)


def test_signature_is_split_off() -> None:
    msg = load("signature.eml")
    assert msg.text == (
        "Hi Sam,\n\nWe have decided not to move forward. Thank you for your time.\n\nBest,\nJane"
    )
    assert msg.signature == "Jane Doe | Senior Recruiter\nAcme Inc. | +1 555 0100"
    assert "Senior Recruiter" in msg.full_text


def test_html_outlook_reply_container_is_quoted() -> None:
    msg = load("html_outlook_reply.eml")
    assert msg.text == "Hi Sam, the role has been filled, sorry."
    assert "Any news on my application?" in msg.quoted


REPLIES = {
    "reply_gmail_en.eml": ("Thanks for letting me know. Could you share any feedback?", "Unfortunately"),
    "reply_outlook_en.eml": ("Thank you for the update, I appreciate it.", "Unfortunately"),
    "reply_outlook_de.eml": ("Vielen Dank für die Rückmeldung.", "Leider müssen wir"),
    "reply_apple_de.eml": ("Danke für die Nachricht.", "Leider müssen wir"),
    "reply_gmail_fr.eml": ("Merci pour votre retour.", "Nous regrettons"),
    "reply_outlook_fr.eml": ("Merci beaucoup.", "Nous regrettons"),
    "reply_gmail_es.eml": ("Gracias por avisarme.", "Lamentamos"),
    "reply_apple_nl.eml": ("Bedankt voor het bericht.", "Helaas"),
    "reply_gmail_pt.eml": ("Obrigado pelo retorno.", "Infelizmente"),
    "reply_apple_en_wrapped.eml": ("Thanks, Jane. Good luck with the hire.", "Unfortunately"),
}


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_quoted_replies_are_separated(name: str) -> None:
    new, quoted_word = REPLIES[name]
    msg = load(name)
    assert msg.text == new
    assert quoted_word in msg.quoted
    assert "jane@acme.example" in msg.quoted
    assert msg.in_reply_to and msg.in_reply_to.startswith("<orig-")
    assert len(msg.references) == 2


@pytest.mark.parametrize("text", [
    "On Monday we met at the office.\nOur team wrote back: yes.\nThanks",
    "Le poste: ingénieur.\nMerci",
    "From now on: please write to jobs@.\nThanks",
])
def test_split_reply_leaves_ordinary_text_alone(text: str) -> None:
    assert split_reply(text) == (text, "", "")


@pytest.mark.parametrize("name", ["empty.eml", "whitespace_only.eml"])
def test_empty_input_is_a_parse_error(name: str) -> None:
    with pytest.raises(ParseError, match="empty"):
        load(name)


def test_headers_without_anything_usable_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="no sender, subject or text"):
        parse(b"X-Nothing: here\r\n\r\n\r\n")


# -- size ---------------------------------------------------------------------------------------


def test_20mb_attachment(tmp_path: Path) -> None:
    payload = base64.encodebytes(os.urandom(20 * 1024 * 1024))
    data = b"".join([
        b"From: Big Files <big@example.com>\r\nSubject: Portfolio feedback\r\n",
        b"Message-ID: <big@example.com>\r\n",
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n",
        b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nWe will not proceed, sorry.\r\n",
        b"--B\r\nContent-Type: application/zip; name=portfolio.zip\r\nContent-Transfer-Encoding: base64\r\n",
        b"Content-Disposition: attachment; filename=portfolio.zip\r\n\r\n", payload, b"\r\n--B--\r\n",
    ])
    assert len(data) > 20 * 1024 * 1024
    started = time.monotonic()
    msg = parse(data)
    assert time.monotonic() - started < 20
    assert msg.text == "We will not proceed, sorry."
    assert msg.attachments == ("portfolio.zip",)


def test_huge_text_part_is_bounded() -> None:
    data = b"From: a@b.example\r\nSubject: long\r\n\r\n" + b"word " * (MAX_TEXT_CHARS // 2)
    assert len(parse(data).text) <= MAX_TEXT_CHARS


# -- properties ---------------------------------------------------------------------------------


def _check(data: bytes) -> None:
    """Either a ParsedMessage whose text fields can be stored (valid UTF-8), or ParseError; nothing else."""
    try:
        msg = parse(data)
    except ParseError:
        return
    for value in (msg.sender, msg.sender_name, msg.sender_address, msg.subject, msg.to, msg.text, msg.quoted,
                  msg.signature, msg.reply_to or "", msg.message_id or "", msg.in_reply_to or "",
                  *msg.references, *msg.attachments):
        assert isinstance(value, str)
        value.encode("utf-8")  # no lone surrogates: SQLite must be able to store it
    assert msg.dedupe_key()
    assert msg.date is None or isinstance(msg.date, datetime)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise_anything_but_parse_error(data: bytes) -> None:
    _check(data)


_CORPUS = sorted(p.read_bytes() for p in MIME.glob("*.eml") if p.stat().st_size > 50)
_TOKENS = [b"\r\n", b"\n", b"--", b"=?", b"?=", b"=?utf-8?b?", b"=?x?q?", b":", b";", b"boundary=", b"\"",
           b"Content-Type: multipart/mixed; boundary=X\r\n", b"Content-Transfer-Encoding: base64\r\n",
           b"Content-Transfer-Encoding: quoted-printable\r\n", b"charset=\"\xff\"", b"\x00", b"\xff\xfe",
           b"<", b">", b"=", b"=\r\n", b"\t", b"Date: 99 Foo 99999 99:99:99 +9999\r\n", b"--X\r\n", b"--X--"]


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_CORPUS)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "token", "truncate", "duplicate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 200))]
        elif kind == "replace":
            data[at : at + 1] = bytes([draw(st.integers(0, 255))])
        elif kind == "token":
            data[at:at] = draw(st.sampled_from(_TOKENS))
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 300))]
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_messages())
def test_mutated_messages_never_raise_anything_but_parse_error(data: bytes) -> None:
    _check(data)


def test_deeply_nested_multipart_is_bounded() -> None:
    depth = 200
    head = b"From: a@b.example\r\nSubject: deep\r\n"
    parts = [b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(depth)]
    data = head + b"".join(parts) + b"Content-Type: text/plain\r\n\r\ninner text\r\n"
    msg = parse(data)  # bounded walk: no RecursionError, no hang
    assert msg.subject == "deep"


def test_dates_are_timezone_aware() -> None:
    msg = load("quoted_printable.eml")
    assert msg.date == datetime(2026, 3, 5, 0, 20, tzinfo=UTC)


def test_encoded_display_name_cannot_supply_the_sender_address() -> None:
    raw = (
        b"From: =?utf-8?q?Jane=0D=0ABcc:_evil@attacker.example?= <jane@acme.example>\r\n"
        b"Subject: Your application\r\n\r\nThank you for applying.\r\n"
    )
    msg = parse(raw)
    assert msg.sender_address == "jane@acme.example"
    assert "\n" not in msg.sender_name and "\r" not in msg.sender_name
