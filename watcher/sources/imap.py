"""IMAP source (imapclient): read-only, UID-based, batched; reconnects and backs off in one place."""

from __future__ import annotations

import contextlib
import imaplib
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from ..config import Account, ConfigError
from ..messages import RawMessage

log = logging.getLogger(__name__)

WHOLE_LIMIT = 256 * 1024  # messages up to this size are fetched whole; larger ones headers + text parts only
TEXT_PART_LIMIT = 512 * 1024  # a text part larger than this is fetched truncated
T = TypeVar("T")


class ImapError(Exception):
    """A fatal IMAP problem (login refused, folder missing): retrying will not help."""


class ImapTransient(Exception):
    """The connection dropped or timed out; retrying may help."""


TRANSIENT = (
    imaplib.IMAP4.abort,
    socket.error,  # OSError: ConnectionResetError, BrokenPipeError, TimeoutError...
    ssl.SSLError,
    EOFError,
    ImapTransient,
)

ClientFactory = Callable[[Account], IMAPClient]


def default_client_factory(account: Account) -> IMAPClient:
    """Open the TCP/TLS connection (the only network step before login)."""
    context = ssl.create_default_context()
    if not account.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    use_ssl = account.security == "tls"
    client = IMAPClient(
        account.host, port=account.port, ssl=use_ssl, ssl_context=context, timeout=account.timeout
    )
    if account.security == "starttls":
        client.starttls(context)
    return client


@dataclass(frozen=True)
class FolderInfo:
    name: str
    uidvalidity: int
    uidnext: int
    exists: int


@dataclass(frozen=True)
class Batch:
    uidvalidity: int
    messages: list[RawMessage]
    last_uid: int  # the highest UID this batch covers (also when a UID vanished before fetch)


class ImapSession:
    """A logged-in connection to one account. Construct, then connect(); the constructor does no I/O."""

    def __init__(self, account: Account, client_factory: ClientFactory = default_client_factory) -> None:
        self.account = account
        self.client_factory = client_factory
        self.client: IMAPClient | None = None

    def connect(self) -> IMAPClient:
        self.close()
        try:
            client = self.client_factory(self.account)
        except ssl.SSLCertVerificationError as exc:
            raise ImapError(
                f"{self.account.name}: the server's TLS certificate was not accepted ({exc.verify_message}); "
                "set verify_tls = false only if you trust this network"
            ) from None
        except socket.gaierror:
            raise ImapError(f"{self.account.name}: cannot resolve host {self.account.host!r}") from None
        except ConnectionRefusedError:
            raise ImapTransient(
                f"{self.account.name}: connection refused by {self.account.host}:{self.account.port}"
            ) from None
        try:
            secret = self.account.secret.reveal()
        except ConfigError as exc:
            client.shutdown()
            raise ImapError(f"{self.account.name}: {exc}") from None
        try:
            if self.account.auth == "xoauth2":
                client.oauth2_login(self.account.username, secret)
            else:
                client.login(self.account.username, secret)
        except LoginError as exc:
            _quiet_shutdown(client)
            if "[UNAVAILABLE]" in str(exc).upper():  # RFC 5530: the server's auth backend is down for now
                raise ImapTransient(
                    f"{self.account.name}: the server cannot check logins right now (UNAVAILABLE)"
                ) from None
            raise ImapError(
                f"{self.account.name}: the server refused the login for {self.account.username}; "
                "check the username and password (or token)"
            ) from None
        self.client = client
        return client

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.logout()
            except Exception:
                _quiet_shutdown(self.client)
            self.client = None

    def require(self) -> IMAPClient:
        if self.client is None:
            raise ImapTransient("not connected")
        return self.client

    def select(self, folder: str) -> FolderInfo:
        client = self.require()
        try:
            info = client.select_folder(folder, readonly=True)
        except IMAPClientError as exc:
            if isinstance(exc, imaplib.IMAP4.abort):
                raise
            raise ImapError(f"{self.account.name}: cannot open folder {folder!r}: {exc}") from None
        return FolderInfo(
            name=folder,
            uidvalidity=int(info.get(b"UIDVALIDITY", 0)),
            uidnext=int(info.get(b"UIDNEXT", 0)),
            exists=int(info.get(b"EXISTS", 0)),
        )

    def folders(self) -> list[str]:
        return [name for _flags, _delim, name in self.require().list_folders()]

    def new_uids(self, after_uid: int, since: date | None = None) -> list[int]:
        criteria: list[Any] = ["UID", f"{after_uid + 1}:*"]
        if since is not None:
            criteria += ["SINCE", since]
        uids = self.require().search(criteria)
        return sorted(uid for uid in uids if uid > after_uid)

    def fetch(self, folder: FolderInfo, uids: Sequence[int]) -> list[RawMessage]:
        """Fetch messages without marking them \\Seen: small ones whole, large ones headers + text parts."""
        client = self.require()
        sizes = client.fetch(list(uids), ["RFC822.SIZE"])
        small = [uid for uid in uids if uid in sizes and sizes[uid].get(b"RFC822.SIZE", 0) <= WHOLE_LIMIT]
        large = [uid for uid in uids if uid in sizes and uid not in small]
        out: dict[int, RawMessage] = {}
        if small:
            for uid, data in client.fetch(small, ["BODY.PEEK[]"]).items():
                body = data.get(b"BODY[]")
                if body is not None:
                    out[uid] = RawMessage(self.account.name, folder.name, folder.uidvalidity, uid, body)
        for uid, body in self._fetch_text_only(large).items() if large else ():
            out[uid] = RawMessage(
                self.account.name, folder.name, folder.uidvalidity, uid, body, truncated=True
            )
        return [out[uid] for uid in uids if uid in out]

    def _fetch_text_only(self, uids: Sequence[int]) -> dict[int, bytes]:
        """Rebuild messages from their header and their text parts, leaving attachments on the server.

        Batched: one FETCH of headers and BODYSTRUCTURE for all of them, then one FETCH per group of
        messages with the same text sections (not two round trips per message).
        """
        client = self.require()
        found = client.fetch(list(uids), ["BODY.PEEK[HEADER]", "BODYSTRUCTURE"])
        headers: dict[int, bytes] = {}
        groups: dict[tuple[str, ...], list[int]] = {}
        out: dict[int, bytes] = {}
        for uid in uids:
            if not found.get(uid):
                continue
            header = headers[uid] = found[uid].get(b"BODY[HEADER]", b"")
            structure = found[uid].get(b"BODYSTRUCTURE")
            if structure is not None and not structure.is_multipart:
                if (structure[0] or b"").lower() != b"text":  # one big non-text part (a PDF, an image)
                    out[uid] = header
                else:
                    groups.setdefault(("TEXT",), []).append(uid)
                continue
            sections = tuple(_text_sections(structure)) if structure is not None else ()
            if not sections:
                out[uid] = _strip_content_headers(header) + b"Content-Type: text/plain\r\n\r\n"
            else:
                groups.setdefault(sections, []).append(uid)
        for sections, group in groups.items():
            if sections == ("TEXT",):
                texts = client.fetch(group, [f"BODY.PEEK[TEXT]<0.{TEXT_PART_LIMIT}>"])
                for uid in group:
                    out[uid] = headers[uid] + _first_value(texts.get(uid, {}), b"BODY[TEXT]")
                continue
            items = []
            for section in sections:
                items += [f"BODY.PEEK[{section}.MIME]", f"BODY.PEEK[{section}]<0.{TEXT_PART_LIMIT}>"]
            fetched = client.fetch(group, items)
            for uid in group:
                out[uid] = _text_parts_message(headers[uid], sections, fetched.get(uid, {}))
        return out


    def batches(self, folder: str, after_uid: int, expect_uidvalidity: int | None,
                since: date | None = None) -> Iterator[Batch]:
        """New messages of a folder in UID order, a batch at a time.

        If the folder's UIDVALIDITY is not the expected one, the folder is read from the start
        (the store's dedupe keeps records single).
        """
        info = self.select(folder)
        if expect_uidvalidity is not None and info.uidvalidity != expect_uidvalidity:
            log.warning(
                "%s/%s: UIDVALIDITY changed (%s -> %s); rescanning the folder",
                self.account.name, folder, expect_uidvalidity, info.uidvalidity,
            )
            after_uid = 0
        uids = self.new_uids(after_uid, since)
        size = max(1, self.account.batch_size)
        for start in range(0, len(uids), size):
            chunk = uids[start : start + size]
            yield Batch(info.uidvalidity, self.fetch(info, chunk), chunk[-1])
        if not uids:
            yield Batch(info.uidvalidity, [], after_uid)


def _text_parts_message(header: bytes, sections: Sequence[str], parts: dict[bytes, Any]) -> bytes:
    """A multipart/mixed message of the original header and the fetched text parts."""
    boundary = b"=_rejection_watcher_text_parts_"
    body = [
        _strip_content_headers(header).rstrip(b"\r\n"),
        b"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"" + boundary + b"\"\r\n\r\n",
    ]
    for section in sections:
        mime = parts.get(f"BODY[{section}.MIME]".encode(), b"")
        text = _first_value(parts, f"BODY[{section}]".encode())
        body += [b"--" + boundary + b"\r\n", mime.rstrip(b"\r\n") + b"\r\n\r\n", text, b"\r\n"]
    body.append(b"--" + boundary + b"--\r\n")
    return b"".join(body)


def _first_value(data: dict[bytes, Any], prefix: bytes) -> bytes:
    """Fetch responses name partial sections with their origin (b'BODY[1]<0>'); find either form."""
    for key, value in data.items():
        if isinstance(key, bytes) and key.startswith(prefix) and isinstance(value, bytes):
            return value
    return b""


def _text_sections(structure: Any, prefix: str = "") -> Iterator[str]:
    """IMAP section numbers of the text/plain and text/html parts in a BODYSTRUCTURE."""
    if structure.is_multipart:
        for number, part in enumerate(structure[0], 1):
            yield from _text_sections(part, f"{prefix}{number}.")
        return
    maintype = (structure[0] or b"").lower()
    subtype = (structure[1] or b"").lower()
    if maintype == b"text" and subtype in (b"plain", b"html"):
        yield prefix.rstrip(".") or "1"


def _strip_content_headers(header: bytes) -> bytes:
    kept, skipping = [], False
    for line in header.split(b"\r\n") if b"\r\n" in header else header.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.lower().startswith((b"content-", b"mime-version"))
        if not skipping:
            kept.append(line)
    return b"\r\n".join(kept).rstrip(b"\r\n") + b"\r\n"


def _quiet_shutdown(client: IMAPClient) -> None:
    with contextlib.suppress(Exception):
        client.shutdown()


def with_reconnect(
    session: ImapSession,
    work: Callable[[ImapSession], T],
    *,
    attempts: int = 6,
    base_delay: float = 1.0,
    max_delay: float = 300.0,
    sleep: Callable[[float], object] = time.sleep,
    should_stop: Callable[[], bool] = lambda: False,
) -> T:
    """Run `work` on a connected session; on a dropped connection, back off, reconnect and run it again.

    This is the one place that reconnects. `work` must be resumable (it restarts from the store's state).
    A login failure or other fatal error is raised at once.
    """
    delay = base_delay
    for attempt in range(1, attempts + 1):
        try:
            if session.client is None:
                session.connect()
            return work(session)
        except TRANSIENT as exc:
            _drop(session)
            if attempt == attempts or should_stop():
                raise ImapTransient(
                    f"{session.account.name}: connection failed {attempt} times; last error: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            log.warning(
                "%s: connection problem (%s: %s); reconnecting in %.0fs (attempt %d/%d)",
                session.account.name, type(exc).__name__, exc, delay, attempt, attempts,
            )
            sleep(delay)
            delay = min(delay * 2, max_delay)
        except IMAPClientError as exc:
            # (after TRANSIENT, which has the aborts) a NO/BAD answer or an unparseable response:
            # retrying the same command will not help, and a traceback would not either
            _drop(session)
            raise ImapError(f"{session.account.name}: the server refused a command: {exc}"[:500]) from None
    raise AssertionError("unreachable")


def _drop(session: ImapSession) -> None:
    if session.client is not None:
        _quiet_shutdown(session.client)
    session.client = None
