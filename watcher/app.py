"""What each command does, callable without click: the CLI parses options and calls one of these."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .config import Settings, load_settings
from .pipeline import (
    Classifier,
    Progress,
    Summary,
    build_processor,
    process_account,
    process_local,
)
from .sources.imap import ClientFactory, ImapError, ImapSession, ImapTransient, default_client_factory
from .store import Store

log = logging.getLogger(__name__)


def load_classifier(settings: Settings) -> Classifier:
    from .classifier import Classifier as ModelClassifier

    return ModelClassifier.load(settings.model_dir)


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
            store.finish_run(run, seen=0, rejections=0, errors=0, status="failed", error=str(exc)[:500])
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
    with Store.open(settings.database) as store:
        processor = build_processor(settings, store, classifier, dry_run=dry_run, since=since)
        for acct in accounts:
            run = store.start_run(command, acct.name)
            try:
                part = process_account(
                    processor, acct, folders=folders or None, client_factory=client_factory,
                    progress=progress, should_stop=should_stop,
                )
            except BaseException as exc:
                store.finish_run(run, seen=0, rejections=0, errors=0, status="failed", error=str(exc)[:500])
                raise
            store.finish_run(run, seen=part.seen, rejections=part.rejections, errors=part.errors,
                             status="ok")
            total.add(part)
    total.finished = None
    return total


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
            lines.append(DoctorLine(False, f"{account.name}: cannot connect to {account.host}:{account.port}: "
                                           f"{exc.strerror or exc}"))
        finally:
            session.close()
    return lines
