"""Raw bytes -> parsed message: headers, and clean text with quoted replies and signature split off."""

from __future__ import annotations

import base64
import email
import email.header
import email.policy
import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

import fast_mail_parser
from selectolax.lexbor import LexborHTMLParser

MAX_TEXT_CHARS = 200_000  # a text part larger than this is truncated before any processing
MAX_PARTS = 500  # parts walked per message; header bombs and deep nesting stop here
MAX_DEPTH = 30
MAX_MULTIPARTS = 200  # boundary parameters per message: the stdlib parser takes ~0.4 s to fail on a
# 1,000-deep nesting bomb (RecursionError); real mail has a handful, so refuse such a message at once


class ParseError(Exception):
    """The bytes could not be turned into a usable message."""


@dataclass(frozen=True)
class RawMessage:
    """A message as a source delivers it, with where it came from."""

    account: str
    folder: str
    uidvalidity: int
    uid: int
    data: bytes
    truncated: bool = False  # True when only headers and text parts were fetched


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str | None
    sender: str  # as displayed: "Name <addr>"
    sender_name: str
    sender_address: str
    reply_to: str | None
    to: str
    subject: str
    date: datetime | None
    in_reply_to: str | None
    references: tuple[str, ...]
    text: str  # the new text of this message: no quoted replies, no signature
    quoted: str = ""  # quoted earlier messages of the thread
    signature: str = ""
    has_html: bool = False
    attachments: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def full_text(self) -> str:
        return "\n".join(t for t in (self.text, self.signature) if t)

    def dedupe_key(self) -> str:
        """Message-ID when present, else a hash of the identifying content."""
        if self.message_id:
            return self.message_id
        digest = hashlib.sha256(
            "\x00".join(
                (self.sender_address, self.subject, self.date.isoformat() if self.date else "", self.text)
            ).encode("utf-8", "surrogatepass")
        ).hexdigest()
        return f"sha256:{digest}"


_WS = re.compile(r"[ \t\u00a0\u200b\u200c\u200d\ufeff]+")
# Blanks to spaces; soft hyphens and the combining grapheme joiner that mailers repeat by the hundred in a
# hidden preheader ("&#847;&zwnj;&nbsp;...") to nothing.
_ODD_BLANKS = str.maketrans({**dict.fromkeys("\t\u00a0\u200b\u200c\u200d\u2007\u202f\u2060\ufeff", " "),
                             **dict.fromkeys("\u00ad\u034f")})
_SURROGATES = re.compile("[\udc80-\udcff]")
_BLANKS = re.compile(r"\n\s*\n(\s*\n)+")


def parse(data: bytes) -> ParsedMessage:
    """Parse an RFC 5322 message. Raises ParseError, never anything else, on unusable input.

    Well-formed mail goes through fast-mail-parser (Rust, ~25x the standard library's speed); anything
    it would have to repair (an unknown charset, broken base64, a resynced header block, text that does
    not decode) goes through the standard library's lenient parser and our own charset fallbacks.
    """
    if not data or not data.strip():
        raise ParseError("empty message")
    if data.lower().count(b"boundary") > MAX_MULTIPARTS:
        raise ParseError(f"more than {MAX_MULTIPARTS} nested or sibling multiparts (a MIME bomb?)")
    try:
        fast = _parse_fast(data)
        if fast is not None:
            return fast
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        return _parse(msg)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError("message nested too deeply") from None
    except Exception as exc:  # the stdlib parser has many failure modes on hostile input
        raise ParseError(f"unparseable message: {type(exc).__name__}: {exc}"[:300]) from None


def _parse_fast(data: bytes) -> ParsedMessage | None:
    """The fast path, or None when the message needs the careful one."""
    try:
        mail = fast_mail_parser.parse_email(data, mode="lazy", strict=True)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # its ParseError, or a Rust panic (which is not an Exception)
        return None
    if not mail.headers or len(mail.text_plain) + len(mail.text_html) > MAX_PARTS:
        return None
    texts = [t[:MAX_TEXT_CHARS] for t in mail.text_plain]
    htmls = [t[: MAX_TEXT_CHARS * 4] for t in mail.text_html]
    if any("\ufffd" in t for t in texts) or any("\ufffd" in t for t in htmls):
        return None  # a mislabelled charset: the careful path guesses better
    headers: dict[str, str] = {}
    for key, values in list(mail.headers.items())[:200]:
        key = key.lower()
        if key in _WANTED_HEADERS and values and key not in headers:
            headers[key] = _header(values[0])
    sender = mail.from_
    if sender is None or not sender.address:
        return None  # let the careful path read whatever the From header holds
    attachments = [a.filename or a.mimetype or "attachment" for a in mail.attachments]
    return _assemble(headers, _header(sender.display_name or ""), sender.address,
                     _clean("\n".join(texts)), htmls, attachments)
# Only these are decoded (decoding every header of every message is a tenth of the parse time).
_WANTED_HEADERS = frozenset((
    "from", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references", "reply-to", "sender",
    "list-id", "list-unsubscribe", "auto-submitted", "precedence", "x-autoreply", "x-auto-response-suppress",
    "return-path",
))


def _parse(msg: Message) -> ParsedMessage:
    headers: dict[str, str] = {}
    raw_from = ""
    for key, value in list(msg.raw_items())[:200]:  # raw: 8-bit bytes in headers are decoded by _header
        key = key.lower()
        if key in _WANTED_HEADERS and key not in headers:  # the first one counts, as with msg.get()
            headers[key] = _header(value)
            if key == "from":
                raw_from = value
    if not msg.keys() and not msg.get_payload():
        raise ParseError("no headers and no body")
    # the address comes from the raw header: an encoded display name must not be able to supply it
    name, address = sender_of(_unfold(str(raw_from)))
    plain, htmls, attachments = _collect(msg)
    return _assemble(headers, name, address, plain, htmls, attachments)


STUB_CHARS = 200  # a plain-text part shorter than this gives way to a much longer HTML one


def _assemble(
    headers: dict[str, str], name: str, address: str, plain: str, htmls: list[str], attachments: list[str]
) -> ParsedMessage:
    """Decoded headers, sender and text parts (from either MIME layer) -> ParsedMessage."""
    sender = headers.get("from", "")
    body, html_quoted, has_html = plain, "", False
    if htmls and len(plain) < STUB_CHARS:  # no plain text, or a stub ("Please view this mail in HTML")
        html_text, html_quoted = html_to_text("\n".join(htmls))
        if len(html_text) > 2 * len(plain):
            body, has_html = html_text, True
        else:
            html_quoted = ""
    if not body and not headers.get("subject") and not sender:
        raise ParseError("no sender, subject or text")
    new, quoted, signature = split_reply(body)
    if html_quoted:
        quoted = (quoted + "\n" + html_quoted).strip()
    return ParsedMessage(
        message_id=_msgid(headers.get("message-id")),
        sender=sender,
        sender_name=name,
        sender_address=address.lower(),
        reply_to=headers.get("reply-to") or None,
        to=headers.get("to", ""),
        subject=headers.get("subject", ""),
        date=_date(headers.get("date")),
        in_reply_to=_msgid(headers.get("in-reply-to")),
        references=tuple(re.findall(r"<[^<>\s]+>", headers.get("references", "")))[-50:],
        text=new,
        quoted=quoted,
        signature=signature,
        has_html=has_html,
        attachments=tuple(attachments),
        headers=headers,
    )


def _header(value: object) -> str:
    """Decode RFC 2047 words with charset fallbacks, raw 8-bit text as utf-8/cp1252; unfold; never raise."""
    parts = []
    value = str(value)
    if "=?" not in value and value.isascii():  # no encoded words, no raw 8-bit bytes: most headers
        return _WS.sub(" ", value.replace("\r", " ").replace("\n", " ")).strip()
    if _SURROGATES.search(value):  # the parser keeps raw 8-bit bytes in headers as surrogates
        try:
            value = _decode_bytes(value.encode("ascii", "surrogateescape"), None)
        except UnicodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
    try:
        decoded = email.header.decode_header(value)
    except Exception:
        return _WS.sub(" ", str(value)).strip()
    for chunk, charset in decoded:
        if isinstance(chunk, bytes):
            parts.append(_decode_bytes(chunk, charset))
        else:
            parts.append(chunk)
    text = "".join(parts) if any(c for _, c in decoded) else " ".join(p.strip() for p in parts)
    return _WS.sub(" ", text.replace("\r", " ").replace("\n", " ")).strip()


_ANGLE_ADDR = re.compile(r"<([^<>\s]+@[^<>\s]+)>\s*$")


def sender_of(raw: str) -> tuple[str, str]:
    """(decoded display name, address) of a raw From header; the address is never taken from the
    decoded name, so an encoded word cannot smuggle in a different address."""
    angle = _ANGLE_ADDR.search(raw)
    if angle:
        return _header(raw[: angle.start()].strip().strip('"')), _header(angle.group(1))
    raw_name, address = parseaddr(raw)
    return (_header(raw_name) if raw_name else ""), _header(address)


def _unfold(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def _msgid(value: str | None) -> str | None:
    if not value:
        return None
    found = re.search(r"<[^<>\s]+>", value)
    if found:
        return found.group(0)
    value = value.strip()
    return f"<{value}>" if value and " " not in value else None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, then utf-8, then cp1252 (which mislabelled latin-1 usually is)."""
    candidates = [c for c in (charset, "utf-8") if c]
    for candidate in candidates:
        try:
            return data.decode(_charset_alias(candidate))
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _charset_alias(charset: str) -> str:
    charset = charset.strip().strip('"').lower()
    return {"unknown-8bit": "latin-1", "x-unknown": "latin-1", "ascii": "utf-8", "us-ascii": "utf-8"}.get(
        charset, charset
    )


def _collect(msg: Message) -> tuple[str, list[str], list[str]]:
    """Walk the MIME tree (bounded) and return (plain text, html parts, attachment names)."""
    plains: list[str] = []
    htmls: list[str] = []
    attachments: list[str] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    walked = 0
    while stack and walked < MAX_PARTS:
        part, depth = stack.pop()
        walked += 1
        if part.get_content_type() == "message/rfc822":  # a forwarded message: not this one's text
            attachments.append(_header(part.get_filename() or "message/rfc822"))
            continue
        if part.is_multipart():
            payload = part.get_payload()
            if depth < MAX_DEPTH and isinstance(payload, list):
                stack.extend((p, depth + 1) for p in reversed(payload) if isinstance(p, Message))
            continue
        ctype = part.get_content_type()
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        filename = part.get_filename()
        if disposition == "attachment" or (filename and not ctype.startswith("text/")):
            attachments.append(_header(filename) if filename else ctype)
            continue
        if ctype not in ("text/plain", "text/html") and not (ctype.startswith("text/") and depth == 0):
            if not ctype.startswith("text/"):
                attachments.append(ctype)
            continue
        text = _part_text(part)
        if not text.strip():
            continue
        (htmls if ctype == "text/html" else plains).append(text)
    plain = "\n".join(plains)
    return _clean(plain), htmls, attachments


def _part_text(part: Message) -> str:
    payload: object
    try:
        if str(part.get("Content-Transfer-Encoding", "")).strip().lower() == "base64":
            raw_b64 = part.get_payload()
            payload = _b64decode(raw_b64.encode("ascii", "ignore")) if isinstance(raw_b64, str) else None
        else:
            payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        raw = part.get_payload()
        payload = raw.encode("utf-8", "replace") if isinstance(raw, str) else b""
    if not isinstance(payload, bytes):
        return ""
    payload = payload[: MAX_TEXT_CHARS * 2]
    return _decode_bytes(payload, part.get_content_charset())[:MAX_TEXT_CHARS]


_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def _b64decode(data: bytes) -> bytes:
    """Lenient base64: skip stray characters, tolerate a cut-off end (a partial fetch, a truncated mail).

    (The stdlib hands back the undecoded text when the length is off, which would read as gibberish.)
    """
    data = _NOT_BASE64.sub(b"", data)
    data = data[: len(data) - 1] if len(data) % 4 == 1 else data
    return base64.b64decode(data + b"=" * (-len(data) % 4))


def _clean(text: str) -> str:
    # what _WS.sub(" ", ...) does, with str methods: several times faster on long text
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_ODD_BLANKS)
    while "  " in text:
        text = text.replace("    ", " ").replace("  ", " ")
    return _BLANKS.sub("\n\n", "\n".join(line.rstrip() for line in text.split("\n"))).strip()


_BLOCK_TAGS = frozenset(
    "p div br tr li ul ol table h1 h2 h3 h4 h5 h6 blockquote section article header footer hr pre "  # noqa: SIM905
    "center address dd dt".split()
)
_QUOTE_SELECTORS = "blockquote, div.gmail_quote, div#divRplyFwdMsg, div#appendonsend, div.moz-cite-prefix"


def html_to_text(markup: str) -> tuple[str, str]:
    """HTML -> (readable text, quoted text found in blockquotes and reply containers)."""
    tree = LexborHTMLParser(markup[: MAX_TEXT_CHARS * 4])
    tree.strip_tags(["script", "style", "head", "noscript", "template", "svg", "title"])
    quoted = []
    for node in tree.css(_QUOTE_SELECTORS):
        quoted.append(node.text(separator="\n"))
        node.decompose()
    root = tree.body or tree.root
    if root is None:
        return "", ""
    out: list[str] = []
    for node in root.traverse(include_text=True):
        tag = node.tag
        if tag == "-text":
            out.append(node.text_content or "")
        elif tag in _BLOCK_TAGS:
            out.append("\n")
        elif tag == "td":
            out.append(" ")
    text = html.unescape("".join(out))
    return _clean(text), _clean("\n".join(quoted))


_LINK = re.compile(r"<?https?://[^\s>]*>?", re.IGNORECASE)


def without_links(text: str) -> str:
    """The text with its web addresses taken out.

    A plain-text careers mail can carry several tracking links of hundreds of characters each ("View this
    email in your browser <https://click...>"): left in, they crowd the letter out of the opening the model
    and the extraction read, and their fragments are noise.
    """
    return _LINK.sub(" ", text) if "://" in text else text


# Lines that open a quoted earlier message, in the languages we read.
_QUOTE_HEADER = re.compile(
    r"""^\s*(?:
        (?:On|Am|Le|El|Op|Em|Il|Den|W\sdniu)\s.{0,200}?
        (?:wrote|a\s[ée]crit|escribi[óo]|escreveu|ha\sscritto|napisa[łl]|het\svolgende\sgeschreven
          |(?:schrieb|schreef|skrev)(?:\s.{0,200}?)?)\s?:  # German, Dutch, Nordic: the name comes after
      | -{2,}\s*(?:Original\sMessage|Forwarded\smessage|Urspr[üu]ngliche\sNachricht|Message\sd'origine
                  |Mensaje\soriginal|Oorspronkelijk\sbericht|Mensagem\soriginal|Weitergeleitete\sNachricht
                  |Message\stransf[ée]r[ée])\s*-{2,}
      | Begin\sforwarded\smessage:
      | _{10,}
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_WRAPPED_HEADER = re.compile(r"\s*(?:On|Am|Le|El|Op|Em)\s")  # may go on with "wrote:" on the next line
_OUTLOOK_FROM = re.compile(r"^\s*\*?(?:From|Von|De|Van|Da)\s?:\*?\s+\S", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(
    r"^\s*\*?(?:Sent|Date|Gesendet|Datum|Envoy[ée]|Enviado|Fecha|Verzonden|Data|To|An|À|Para|Aan)\s?:",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^(?:-- ?|—|Sent from my \w+.*|Get Outlook for \w+.*|Enviado desde mi .*)$")


def split_reply(text: str) -> tuple[str, str, str]:
    """Split plain text into (new text, quoted earlier messages, signature)."""
    lines = text.split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        if line.startswith(">"):
            # a block of quoted lines; a header line just above it ("On ... wrote:") goes too
            cut = i
            if i > 0 and lines[i - 1].strip().endswith(":") and len(lines[i - 1]) < 250:
                cut = i - 1
            break
        if _QUOTE_HEADER.match(line):
            cut = i
            break
        # "On Tue, 3 Mar 2026 at 10:02, Jane Doe <jane@x>\nwrote:" wrapped over two lines
        if i + 1 < len(lines) and _WRAPPED_HEADER.match(line) and _QUOTE_HEADER.match(
            line + " " + lines[i + 1]
        ):
            cut = i
            break
        if _OUTLOOK_FROM.match(line) and any(_OUTLOOK_NEXT.match(n) for n in lines[i + 1 : i + 4]):
            cut = i
            break
    new_lines, quoted = lines[:cut], "\n".join(lines[cut:]).strip()
    signature = ""
    for i in range(len(new_lines) - 1, max(-1, len(new_lines) - 40), -1):
        if _SIGNATURE.match(new_lines[i].rstrip()) or new_lines[i] == "-- ":
            signature = "\n".join(new_lines[i + 1 :]).strip()
            if new_lines[i].startswith(("Sent from", "Get Outlook", "Enviado desde")):
                signature = new_lines[i].strip()
            new_lines = new_lines[:i]
            break
    return "\n".join(new_lines).strip(), quoted, signature


def addresses(value: str) -> list[tuple[str, str]]:
    return [(n, a) for n, a in getaddresses([value]) if a]
