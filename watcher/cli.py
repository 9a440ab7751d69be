"""The `watcher` command: each command parses its options, calls one library function, maps errors."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from . import app
from .config import ConfigError, Settings, load_settings
from .pipeline import Summary
from .sources.imap import ImapError, ImapTransient
from .sources.local import LocalSourceError
from .store import StoreError

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors() -> tuple[type[Exception], ...]:
    from .service import ServiceError

    errors: list[type[Exception]] = [
        ConfigError, StoreError, ImapError, ImapTransient, LocalSourceError, app.AccountBusy, ServiceError,
        OSError,
    ]
    try:
        from .classifier import ModelError

        errors.append(ModelError)
    except ImportError:
        pass
    return tuple(errors)


def friendly(fn: F) -> F:
    """Turn a library error into one clear line (click.ClickException), never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except _user_errors() as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


class State:
    """Holds --config; loads the settings on first use (no I/O until a command needs it)."""

    def __init__(self, config: str | None) -> None:
        self.config = config
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings


pass_state = click.make_pass_decorator(State)


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    if verbose < 2:
        logging.getLogger("imapclient").setLevel(logging.WARNING)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", type=click.Path(dir_okay=False), envvar="WATCHER_CONFIG",
              help="Config file (default: $WATCHER_CONFIG, else ~/.config/rejection-watcher/config.toml).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for protocol debugging).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.version_option(package_name="rejection-watcher")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: int, quiet: bool) -> None:
    """Rejection Watcher: finds the rejections in your inbox, logs them, drafts a polite
    feedback request and reminds you of the next step. Nothing leaves your machine."""
    _setup_logging(verbose, quiet)
    ctx.obj = State(config)


class ClickProgress:
    """A progress bar on a terminal; silent otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.enabled = sys.stderr.isatty()

    def __enter__(self) -> ClickProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)

    def total(self, n: int) -> None:
        if self.enabled and self.bar is None:
            self.bar = click.progressbar(length=n, label=self.label, file=sys.stderr).__enter__()

    def advance(self, n: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=None, label=self.label, file=sys.stderr,
                                         show_pos=True).__enter__()
        self.bar.update(n)


def _parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD, e.g. 2026-01-31") from None


@cli.command()
@click.option("--account", help="Only this account (default: all).")
@click.option("--folder", "folders", multiple=True, help="Only this folder (repeatable).")
@click.option("--since", callback=_parse_date, help="Only mail dated on or after YYYY-MM-DD.")
@click.option("--dry-run", is_flag=True, help="Classify and count, but write nothing.")
@click.option("--mbox", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Backfill an mbox file (e.g. a Google Takeout export) instead of IMAP.")
@click.option("--maildir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Backfill a Maildir instead of IMAP.")
@pass_state
@friendly
def backfill(state: State, account: str | None, folders: tuple[str, ...], since: date | None,
             dry_run: bool, mbox: Path | None, maildir: Path | None) -> None:
    """Process all existing mail once (resumable: run it again after an interrupt)."""
    if mbox and maildir:
        raise click.UsageError("give --mbox or --maildir, not both")
    with ClickProgress("backfill") as progress:
        if mbox or maildir:
            summary = app.backfill_local(state.settings, mbox or maildir,  # type: ignore[arg-type]
                                         "mbox" if mbox else "maildir", dry_run=dry_run, since=since,
                                         progress=progress)
        else:
            summary = app.backfill_imap(state.settings, account=account, folders=list(folders),
                                        dry_run=dry_run, since=since, progress=progress)
    _summary(summary, dry_run)


def _summary(summary: Summary, dry_run: bool = False) -> None:
    click.echo(("dry run: " if dry_run else "") + summary.line())


@cli.command()
@pass_state
@friendly
def poll(state: State) -> None:
    """One incremental pass over every account (what the daemon does on each tick)."""
    _summary(app.backfill_imap(state.settings, command="poll"))


@cli.command()
@pass_state
@friendly
def run(state: State) -> None:
    """Run the daemon: poll every `poll_interval` seconds until SIGTERM or Ctrl-C."""

    settings = state.settings
    if not settings.accounts:
        raise ConfigError(f"{settings.source or 'config'}: no [[accounts]] configured; nothing to watch")
    daemon = app.build_daemon(settings)
    daemon.install_signal_handlers()
    daemon.run()


@cli.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check the config, database, model and each account, and say what is wrong."""
    lines = app.doctor(ctx.find_object(State).config)  # type: ignore[union-attr]
    for line in lines:
        click.echo(("ok    " if line.ok else "FAIL  ") + line.text)
    if not all(line.ok for line in lines):
        ctx.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
@friendly
def status(state: State, as_json: bool) -> None:
    """Health: last poll and last error per account, counts, folder positions."""
    info = app.status(state.settings)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"database: {info['database']}: {info['messages']:,} messages, "
               f"{info['rejections']:,} rejections, {info['errors']:,} unreadable")
    for acct in info["accounts"]:  # type: ignore[attr-defined]
        line = f"{acct['account']}: last poll {acct['last_poll'] or 'never'}"
        if acct["last_error"]:
            line += f"; last error at {acct['last_error_at']}: {acct['last_error']}"
        click.echo(line)
    for folder in info["folders"]:  # type: ignore[attr-defined]
        click.echo(f"  {folder['account']}/{folder['folder']}: up to UID {folder['last_uid']} "
                   f"(UIDVALIDITY {folder['uidvalidity']}, {folder['updated_at']})")


@cli.command("install-service")
@click.option("--no-enable", is_flag=True, help="Write the unit but do not enable or start it.")
@click.pass_context
@friendly
def install_service(ctx: click.Context, no_enable: bool) -> None:
    """Install the systemd user unit (~/.config/systemd/user) and enable it."""
    from . import service

    config = ctx.find_object(State).config  # type: ignore[union-attr]
    for line in service.install(config, enable=not no_enable):
        click.echo(line)


def main() -> None:
    cli(prog_name="watcher")
