"""What each command does, callable without click: the CLI parses options and calls one of these."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from .config import Account, Settings, load_settings
from .daemon import Daemon
from .pipeline import (
    Classifier,
    Progress,
    Summary,
    analysis_pool,
    build_processor,
    process_account,
    process_local,
)
from .sources.imap import ClientFactory, ImapError, ImapSession, ImapTransient, default_client_factory
from .store import Store, StoreError

log = logging.getLogger(__name__)


def load_classifier(settings: Settings) -> Classifier:
    from .classifier import Classifier as ModelClassifier  # numpy and scipy: only when a command needs it

    return ModelClassifier.load(settings.model_dir)


class AccountBusy(Exception):
    """Another process is already reading this account."""


@contextlib.contextmanager
def account_lock(settings: Settings, account: str) -> Iterator[None]:
    """An exclusive, non-blocking lock per account so runs of one account never overlap."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in account)
    path = settings.database.expanduser().parent / f".{safe}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AccountBusy(f"{account}: another watcher process is reading this account; "
                              "try again when it finishes") from None
        yield
    finally:
        os.close(fd)


def backfill_local(
    settings: Settings, path: Path, fmt: str, *, dry_run: bool = False, since: date | None = None,
    progress: Progress | None = None, classifier: Classifier | None = None,
) -> Summary:
    classifier = classifier or load_classifier(settings)
    with Store.open(settings.database) as store:
        run = store.start_run("backfill", str(path))
        processor = build_processor(settings, store, classifier, dry_run=dry_run, since=since)
        try:
            summary = process_local(processor, path, fmt, progress=progress)
        except BaseException as exc:
            _record_failure(store, run, exc)
            raise
        store.finish_run(run, seen=summary.seen, rejections=summary.rejections, errors=summary.errors,
                         status="ok")
        return summary


def backfill_imap(
    settings: Settings,
    *,
    account: str | None = None,
    folders: list[str] | None = None,
    dry_run: bool = False,
    since: date | None = None,
    progress: Progress | None = None,
    classifier: Classifier | None = None,
    client_factory: ClientFactory = default_client_factory,
    should_stop: Callable[[], bool] = lambda: False,
    command: str = "backfill",
) -> Summary:
    """One pass over the configured accounts (or one of them): what backfill and poll both do."""
    accounts = [settings.account(account)] if account else list(settings.accounts)
    if not accounts:
        raise ImapError("no accounts configured: add an [[accounts]] table to the config file")
    classifier = classifier or load_classifier(settings)
    total = Summary()
    # a backfill with the shipped model parses and classifies in a second process, beside the fetch
    from .classifier import Classifier as ModelClassifier

    pooled = command == "backfill" and isinstance(classifier, ModelClassifier)
    with Store.open(settings.database) as store, \
            (analysis_pool(settings) if pooled else contextlib.nullcontext()) as pool:
        processor = build_processor(settings, store, classifier, dry_run=dry_run, since=since)
        for acct in accounts:
            with account_lock(settings, acct.name):
                run = store.start_run(command, acct.name)
                try:
                    part = process_account(
                        processor, acct, folders=folders or None, client_factory=client_factory,
                        progress=progress, should_stop=should_stop, pool=pool,
                    )
                except BaseException as exc:
                    _record_failure(store, run, exc)
                    raise
            store.finish_run(run, seen=part.seen, rejections=part.rejections, errors=part.errors,
                             status="ok")
            total.add(part)
    total.finished = time.monotonic()
    return total


def _record_failure(store: Store, run: int, exc: BaseException) -> None:
    """Mark the run failed for `watcher status`; best effort: on a full or read-only disk this write fails
    too, and the error to report is the original one."""
    with contextlib.suppress(StoreError):
        store.finish_run(run, seen=0, rejections=0, errors=0, status="failed",
                         error=str(exc)[:500] or type(exc).__name__)


@dataclass
class DoctorLine:
    ok: bool
    text: str


def doctor(
    config_path: str | None, client_factory: ClientFactory = default_client_factory
) -> list[DoctorLine]:
    """Check config, database, model and every account; say what is wrong in plain words."""
    lines: list[DoctorLine] = []
    try:
        settings = load_settings(config_path)
    except Exception as exc:
        return [DoctorLine(False, f"config: {exc}")]
    lines.append(DoctorLine(True, f"config: {settings.source or 'no file, defaults'}"))
    try:
        with Store.open(settings.database) as store:
            lines.append(DoctorLine(True, f"database: {settings.database} ({store.count('messages'):,} "
                                          f"messages, {store.count('rejections'):,} rejections)"))
    except Exception as exc:
        lines.append(DoctorLine(False, f"database: {exc}"))
    try:
        model = load_classifier(settings)
        lines.append(DoctorLine(True, f"model: {model.version}"))
    except Exception as exc:
        lines.append(DoctorLine(False, f"model: {exc}"))
    if not settings.accounts:
        lines.append(DoctorLine(False, "accounts: none configured"))
    for account in settings.accounts:
        session = ImapSession(account, client_factory)
        try:
            session.connect()
            available = session.folders()
            for folder in account.folders:
                if folder not in available:
                    lines.append(DoctorLine(False, f"{account.name}: folder {folder!r} does not exist "
                                                   f"(have: {', '.join(available[:10])})"))
                    continue
                info = session.select(folder)
                lines.append(DoctorLine(True, f"{account.name}: {folder}: {info.exists:,} messages "
                                              f"(UIDVALIDITY {info.uidvalidity})"))
        except (ImapError, ImapTransient) as exc:
            lines.append(DoctorLine(False, str(exc)))
        except OSError as exc:
            problem = f"cannot connect to {account.host}:{account.port}: {exc.strerror or exc}"
            lines.append(DoctorLine(False, f"{account.name}: {problem}"))
        finally:
            session.close()
    return lines


def status(settings: Settings) -> dict[str, object]:
    """The health line: last poll and last error per account, counts, folder positions."""
    with Store.open(settings.database) as store:
        runs = [dict(r) for r in store.last_runs(50)]
        accounts = []
        for account in settings.accounts:
            mine = [r for r in runs if r["account"] == account.name]
            ok = next((r for r in mine if r["status"] == "ok"), None)
            failed = next((r for r in mine if r["status"] == "failed"), None)
            accounts.append({
                "account": account.name,
                "last_poll": ok["finished_at"] if ok else None,
                "last_error": failed["error"] if failed and (not ok or failed["id"] > ok["id"]) else None,
                "last_error_at": failed["finished_at"] if failed else None,
            })
        return {
            "database": str(settings.database),
            "messages": store.count("messages"),
            "rejections": store.count("rejections"),
            "errors": store.count("errors"),
            "accounts": accounts,
            "folders": [dict(r) for r in store.folder_states()],
        }


def build_daemon(settings: Settings, client_factory: ClientFactory = default_client_factory) -> Daemon:
    """The daemon with its parts: one model load, per-account polls, reminder delivery on each tick."""
    if not settings.accounts:
        raise ImapError(f"{settings.source or 'config'}: no [[accounts]] configured; nothing to watch")
    classifier = load_classifier(settings)

    def poll_account(account: Account, should_stop: Callable[[], bool]) -> Summary:
        try:
            return backfill_imap(settings, account=account.name, classifier=classifier,
                                 client_factory=client_factory, should_stop=should_stop, command="poll")
        except AccountBusy as exc:
            log.info("%s", exc)
            return Summary()

    def on_tick() -> None:
        deliver_reminders(settings, client_factory=client_factory)

    return Daemon(settings, poll_account, on_tick=on_tick, client_factory=client_factory)


def deliver_reminders(
    settings: Settings, *, now: datetime | None = None, channels: list[str] | None = None,
    client_factory: ClientFactory = default_client_factory,
) -> list[int]:
    """Deliver the reminders that are due (the daemon calls this on each tick)."""
    from .reminders import deliver_due

    # one deliverer at a time across processes (the daemon and a cron `reminders deliver`)
    try:
        with account_lock(settings, "reminders-delivery"), Store.open(settings.database) as store:
            return deliver_due(store, settings, now or datetime.now(UTC), channels,
                               client_factory=client_factory)
    except AccountBusy:
        log.info("another process is delivering reminders; skipping this round")
        return []
