"""`watcher run`: scheduled polls per account, IMAP IDLE for push, signals, graceful shutdown.

Signal handlers only set flags; the main loop checks them. Each account has one poll job
(max_instances=1, so polls of one account never overlap); an IDLE thread per account only asks for
an immediate poll when the server announces new mail. A poll in progress finishes its current batch
(one transaction) and stops.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from imapclient import IMAPClient

from .config import Account, Settings
from .pipeline import Summary
from .sources.imap import (
    ClientFactory,
    ImapError,
    ImapSession,
    ImapTransient,
    default_client_factory,
    with_reconnect,
)

log = logging.getLogger(__name__)

IDLE_REFRESH = 9 * 60  # re-issue IDLE well before servers drop it (RFC 2177: 29 minutes)
IDLE_CHECK = 1.0  # seconds blocked in select() per check; the thread sleeps in the kernel meanwhile

PollAccount = Callable[[Account, Callable[[], bool]], Summary]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class IdleWatcher:
    """Waits in IMAP IDLE on an account's first folder and calls `on_new` when mail arrives."""

    account: Account
    on_new: Callable[[Account], None]
    stop_event: threading.Event
    client_factory: ClientFactory = default_client_factory
    refresh: float = IDLE_REFRESH
    supported: bool | None = None
    idles: int = 0  # IDLE commands issued (each refresh issues a new one)

    def _work(self, session: ImapSession) -> None:
        client = session.require()
        if b"IDLE" not in client.capabilities():
            self.supported = False
            log.info("%s: server has no IDLE; relying on the scheduled poll", self.account.name)
            return
        self.supported = True
        session.select(self.account.folders[0])
        self.on_new(self.account)  # catch up on anything that arrived while we were away
        while not self.stop_event.is_set():
            client.idle()
            started = time.monotonic()
            self.idles += 1
            while not self.stop_event.is_set():
                left = self.refresh - (time.monotonic() - started)
                if left <= 0:
                    break
                responses = client.idle_check(timeout=min(IDLE_CHECK, left))
                if _announces_mail(responses):
                    self.on_new(self.account)
                elif not responses and _closed(client):
                    # idle_check swallows EOF and returns [] at once, forever: a dead server looks idle
                    raise ImapTransient(f"{self.account.name}: the server closed the connection during IDLE")
            # Mail announced between the last check and DONE comes with DONE's responses. (A dropped
            # connection raises above instead; with_reconnect drops the session and reconnects.)
            _text, responses = client.idle_done()
            if _announces_mail(responses) and not self.stop_event.is_set():
                self.on_new(self.account)

    def run(self) -> None:
        delay = 5.0
        while not self.stop_event.is_set():
            session = ImapSession(self.account, self.client_factory)
            try:
                with_reconnect(session, self._work, should_stop=self.stop_event.is_set,
                               sleep=self.stop_event.wait)
                if self.supported is False or self.stop_event.is_set():
                    return
            except ImapError as exc:
                log.error("%s: IDLE stopped: %s", self.account.name, exc)
                return
            except Exception as exc:
                log.warning("%s: IDLE connection lost (%s); retrying in %.0fs", self.account.name, exc, delay)
                self.stop_event.wait(delay)
                delay = min(delay * 2, 300.0)
            finally:
                session.close()


@dataclass
class Daemon:
    settings: Settings
    poll_account: PollAccount
    on_tick: Callable[[], None] | None = None  # e.g. deliver due reminders
    client_factory: ClientFactory = default_client_factory
    stop_event: threading.Event = field(default_factory=threading.Event)
    reload_event: threading.Event = field(default_factory=threading.Event)
    scheduler: BackgroundScheduler | None = None
    threads: list[threading.Thread] = field(default_factory=list)
    pending: dict[str, threading.Event] = field(default_factory=dict)
    idle_refresh: float = IDLE_REFRESH  # seconds before each IDLE is re-issued; tests make it short
    watchers: list[IdleWatcher] = field(default_factory=list)

    def should_stop(self) -> bool:
        return self.stop_event.is_set()

    def poll(self, account: Account) -> None:
        """One scheduled or IDLE-triggered poll; repeats while new mail was announced meanwhile."""
        pending = self.pending.setdefault(account.name, threading.Event())
        while True:
            pending.clear()
            try:
                summary = self.poll_account(account, self.should_stop)
                if summary.seen or summary.errors:
                    log.info("%s: %s", account.name, summary.line())
            except Exception as exc:  # a failed poll is logged; the next one tries again
                log.error("%s: poll failed: %s", account.name, exc)
            if not pending.is_set() or self.stop_event.is_set():
                break
        if self.on_tick is not None:
            try:
                self.on_tick()
            except Exception as exc:
                log.error("reminder delivery failed: %s", exc)

    def poll_now(self, account: Account) -> None:
        """Ask for a poll at once; if one is running, it goes round again when done."""
        self.pending.setdefault(account.name, threading.Event()).set()
        if self.scheduler is not None and not self.stop_event.is_set():
            self.scheduler.modify_job(_job_id(account), next_run_time=_now())

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.reload_event.set()
        else:
            self.stop_event.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def start(self) -> None:
        self.scheduler = BackgroundScheduler(timezone="UTC")
        for account in self.settings.accounts:
            self.scheduler.add_job(
                self.poll, "interval", args=[account], seconds=self.settings.poll_interval,
                id=_job_id(account), max_instances=1, coalesce=True, next_run_time=_now(),
                misfire_grace_time=None,
            )
        self.scheduler.start()
        if self.settings.idle:
            for account in self.settings.accounts:
                watcher = IdleWatcher(account, self.poll_now, self.stop_event, self.client_factory,
                                      refresh=self.idle_refresh)
                self.watchers.append(watcher)
                thread = threading.Thread(target=watcher.run, name=f"idle-{account.name}", daemon=True)
                thread.start()
                self.threads.append(thread)
        log.info("watching %d account(s): IDLE %s, polling every %ds", len(self.settings.accounts),
                 "on" if self.settings.idle else "off", self.settings.poll_interval)

    def stop(self) -> None:
        self.stop_event.set()
        log.info("stopping: finishing the current batch")
        for thread in self.threads:
            thread.join(timeout=10)
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        log.info("stopped")

    def run(self) -> None:
        self.start()
        try:
            while not self.stop_event.wait(1.0):
                if self.reload_event.is_set():
                    self.reload_event.clear()
                    log.info("SIGHUP: polling every account now")
                    for account in self.settings.accounts:
                        self.poll_now(account)
        finally:
            self.stop()


def _announces_mail(responses: list[tuple[object, ...]]) -> bool:
    """Untagged `* n EXISTS` / `* n RECENT` (imapclient: (n, b"EXISTS")); `* OK Still here` is not mail."""
    return any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)


def _closed(client: IMAPClient) -> bool:
    """True when the server has closed the connection (EOF waits on the socket)."""
    sock = client.socket()
    timeout = sock.gettimeout()
    sock.setblocking(False)  # with a timeout set, recv would first wait that long for data
    try:
        # the plain socket's recv, also under TLS: peek at the TCP stream without consuming anything
        return socket.socket.recv(sock, 1, socket.MSG_PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)


def _job_id(account: Account) -> str:
    return f"poll:{account.name}"
