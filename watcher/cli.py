"""The `watcher` command: each command parses its options, calls one library function, maps errors."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from . import app, chart, corrections, drafts, rejections, reminders, stats, tables
from .config import ConfigError, Settings, load_settings
from .pipeline import Summary
from .sources.imap import ImapError, ImapTransient
from .sources.local import LocalSourceError
from .store import Store, StoreError

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors() -> tuple[type[Exception], ...]:
    from .service import ServiceError

    errors: list[type[Exception]] = [
        ConfigError, StoreError, ImapError, ImapTransient, LocalSourceError, app.AccountBusy, ServiceError,
        OSError,
    ]
    try:
        from .classifier import ModelError
        from .training import TrainingError

        errors += [ModelError, TrainingError]
    except ImportError:
        pass
    from .corrections import CorrectionError
    from .drafts import DraftError
    from .rejections import LogError
    from .reminders import ReminderError

    errors += [DraftError, ReminderError, LogError, CorrectionError]
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


# == follow-ups (issue 4): the log, stats, drafts, reminders, corrections ============================


def _open(ctx: click.Context) -> Store:
    return Store.open(ctx.find_object(State).settings.database)  # type: ignore[union-attr]


@cli.group("rejections", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one rejection each.")
@click.option("--since", callback=_parse_date, help="Only rejections dated on or after YYYY-MM-DD.")
@click.option("--kind", type=click.Choice(rejections.KINDS), help="Only this kind.")
@click.pass_context
@friendly
def rejections_group(ctx: click.Context, as_json: bool, since: date | None, kind: str | None) -> None:
    """The rejection log: company, role, kind, stage, date, sender, subject, score, and where the
    message is (account, folder, UID, Message-ID)."""
    if ctx.invoked_subcommand is not None:
        return
    with _open(ctx) as store:
        items = rejections.entries(store, since, kind)
    click.echo(rejections.json_lines(items) if as_json else rejections.table(items), nl=False)


@rejections_group.command("export")
@click.option("--csv", "csv_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the log to this CSV file.")
@click.option("--since", callback=_parse_date, help="Only rejections dated on or after YYYY-MM-DD.")
@click.option("--kind", type=click.Choice(rejections.KINDS), help="Only this kind.")
@click.pass_context
@friendly
def rejections_export(ctx: click.Context, csv_path: Path, since: date | None, kind: str | None) -> None:
    """Export the rejection log as CSV."""
    with _open(ctx) as store:
        count = rejections.export_csv(store, csv_path, since, kind)
    click.echo(f"{count} rejection(s) written to {csv_path}")


@cli.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
@click.option("--png", "png", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a bar chart of rejections per month to this PNG file.")
@click.option("--ghost-weeks", default=4, show_default=True, type=click.IntRange(1, 104),
              help="Weeks of silence after an acknowledgement before an application counts as ghosted.")
@click.pass_context
@friendly
def stats_command(ctx: click.Context, as_json: bool, png: Path | None, ghost_weeks: int) -> None:
    """Rejections by month, kind and stage, what they suggest, and ghosted applications."""
    with _open(ctx) as store:
        result = stats.compute(store, datetime.now(UTC), ghost_weeks)
    if png is not None:
        chart.write_png(result.by_month, png)
    click.echo(json.dumps(result.as_dict(), indent=2) if as_json else stats.report(result), nl=as_json)
    if png is not None and not as_json:
        click.echo(f"chart written to {png}")


@cli.group("drafts")
def drafts_group() -> None:
    """Drafted feedback requests: review, edit, approve into your Drafts folder, or send."""


@drafts_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one draft each.")
@click.option("--status", type=click.Choice(drafts.STATUSES), help="Only drafts with this status.")
@click.pass_context
@friendly
def drafts_list(ctx: click.Context, as_json: bool, status: str | None) -> None:
    """List the drafts (all statuses unless --status)."""
    with _open(ctx) as store:
        items = drafts.list_drafts(store, status)
    if as_json:
        click.echo("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), nl=False)
    elif not items:
        click.echo("no drafts")
    else:
        click.echo(tables.table(items, [("id", 6), ("status", 9), ("company", 20), ("role", 22),
                                        ("to", 34), ("subject", 40)]), nl=False)


@drafts_group.command("show")
@click.argument("draft_id", type=int)
@click.option("--raw", is_flag=True, help="The message exactly as it is stored and sent (RFC 5322).")
@click.pass_context
@friendly
def drafts_show(ctx: click.Context, draft_id: int, raw: bool) -> None:
    """Print a draft: its headers and text."""
    with _open(ctx) as store:
        click.echo(drafts.show_draft(store, draft_id, raw=raw))


@drafts_group.command("edit")
@click.argument("draft_id", type=int)
@click.pass_context
@friendly
def drafts_edit(ctx: click.Context, draft_id: int) -> None:
    """Edit a pending draft's To, Subject and text in $EDITOR (the thread headers are kept)."""
    with _open(ctx) as store:
        changed = drafts.edit_draft(store, draft_id, lambda text: click.edit(text, extension=".txt"))
    click.echo(f"draft {draft_id} updated" if changed else "no changes")


@drafts_group.command("approve")
@click.argument("draft_id", type=int)
@click.option("--account", help="Store it in this account (default: the one the rejection came from).")
@click.pass_context
@friendly
def drafts_approve(ctx: click.Context, draft_id: int, account: str | None) -> None:
    """Put a draft in your Drafts folder (IMAP APPEND, flagged \\Draft), to send from your mail client."""
    with _open(ctx) as store:
        done = drafts.approve_draft(store, ctx.find_object(State).settings,  # type: ignore[union-attr]
                                    draft_id, account=account)
    note = " (it was already there)" if done.already_there else ""
    click.echo(f"draft {draft_id} is in {done.account}/{done.folder}{note}: send it from your mail client")


@drafts_group.command("send")
@click.argument("draft_id", type=int)
@click.option("--yes", is_flag=True, help="Send without asking for confirmation.")
@click.option("--account", help="Send through this account's SMTP server.")
@click.pass_context
@friendly
def drafts_send(ctx: click.Context, draft_id: int, yes: bool, account: str | None) -> None:
    """Send a draft over SMTP (smtp_host in the account's config), after you confirm."""
    with _open(ctx) as store:
        if not yes:
            click.echo(drafts.show_draft(store, draft_id))
            click.confirm(f"Send draft {draft_id} now?", abort=True)
        click.echo(drafts.send_draft(store, ctx.find_object(State).settings,  # type: ignore[union-attr]
                                     draft_id, account=account))


@drafts_group.command("discard")
@click.argument("draft_id", type=int)
@click.pass_context
@friendly
def drafts_discard(ctx: click.Context, draft_id: int) -> None:
    """Drop a draft (it stays in the database as discarded)."""
    with _open(ctx) as store:
        click.echo(drafts.discard_draft(store, draft_id))


@cli.group("reminders", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one reminder each.")
@click.option("--all", "include_done", is_flag=True, help="Include the ones marked done.")
@click.pass_context
@friendly
def reminders_group(ctx: click.Context, as_json: bool, include_done: bool) -> None:
    """Next steps from the playbook, soonest first; see the subcommands to act on them."""
    if ctx.invoked_subcommand is not None:
        return
    with _open(ctx) as store:
        items = reminders.list_reminders(store, include_done)
    if as_json:
        click.echo("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), nl=False)
    elif not items:
        click.echo("no reminders")
    else:
        rows = [dict(item, due=item["due"][:16].replace("T", " ")) for item in items]
        click.echo(tables.table(rows, [("id", 6), ("due", 16), ("status", 9), ("company", 20),
                                       ("text", 70)]) + "(times in UTC)", nl=True)


@reminders_group.command("done")
@click.argument("reminder_id", type=int)
@click.pass_context
@friendly
def reminders_done(ctx: click.Context, reminder_id: int) -> None:
    """Mark a reminder done."""
    with _open(ctx) as store:
        reminders.mark_done(store, reminder_id)
    click.echo(f"reminder {reminder_id} done")


@reminders_group.command("snooze")
@click.argument("reminder_id", type=int)
@click.option("--until", "until", required=True,
              help="YYYY-MM-DD (09:00), 'YYYY-MM-DD HH:MM' (local time), or 3d / 2h / 30m / 1w from now.")
@click.pass_context
@friendly
def reminders_snooze(ctx: click.Context, reminder_id: int, until: str) -> None:
    """Remind me again later."""
    with _open(ctx) as store:
        when = reminders.snooze(store, reminder_id, until, datetime.now(UTC))
    click.echo(f"reminder {reminder_id} snoozed until {when.astimezone():%Y-%m-%d %H:%M %Z}")


@reminders_group.command("export")
@click.option("--ics", "ics_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the open reminders to this iCalendar file.")
@click.pass_context
@friendly
def reminders_export(ctx: click.Context, ics_path: Path) -> None:
    """Export the open reminders as an iCalendar (.ics) file for any calendar app."""
    with _open(ctx) as store:
        count = reminders.export_ics(store, ics_path, datetime.now(UTC))
    click.echo(f"{count} reminder(s) written to {ics_path}")


@reminders_group.command("deliver")
@click.option("--channel", "channels", multiple=True, type=click.Choice(sorted(reminders.CHANNELS)),
              help="Deliver through this channel (repeatable; default: reminders.channels from the config).")
@click.pass_context
@friendly
def reminders_deliver(ctx: click.Context, channels: tuple[str, ...]) -> None:
    """Deliver the reminders that are due now (what the daemon does on each tick; for cron)."""
    delivered = app.deliver_reminders(ctx.find_object(State).settings,  # type: ignore[union-attr]
                                      channels=list(channels) or None)
    click.echo(f"{len(delivered)} reminder(s) delivered")


@cli.command("mark")
@click.argument("message")
@click.option("--rejection/--not-rejection", "is_rejection", default=None,
              help="Your verdict on the message.")
@click.option("--kind", type=click.Choice(rejections.KINDS), help="With --rejection: its kind.")
@click.option("--stage", type=click.Choice(["application", "interview"]), help="With --rejection: its stage.")
@click.option("--company", help="With --rejection: the company.")
@click.option("--role", help="With --rejection: the role.")
@click.pass_context
@friendly
def mark_command(ctx: click.Context, message: str, is_rejection: bool | None, kind: str | None,
                 stage: str | None, company: str | None, role: str | None) -> None:
    """Correct a verdict: MESSAGE is a rejection log id or a Message-ID. Fixes the log and keeps the
    message as a training label for `watcher train`."""
    if is_rejection is None:
        raise click.UsageError("say --rejection or --not-rejection")
    with _open(ctx) as store:
        result = corrections.mark(
            store, ctx.find_object(State).settings, message,  # type: ignore[union-attr]
            "rejection" if is_rejection else "not_rejection",
            details=corrections.Details(kind, stage, company, role),
        )
    click.echo(result.line())
    for note in result.notes:
        click.echo(f"note: {note}")


@cli.command("corrections")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of printing.")
@click.pass_context
@friendly
def corrections_command(ctx: click.Context, output: Path | None) -> None:
    """Your corrections as training records (JSON lines, the training_data format)."""
    with _open(ctx) as store:
        text = corrections.export_jsonl(store, output)
    if output is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"{text.count(chr(10))} correction(s) written to {output}")


@cli.command("train")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The training_data directory (default: the one shipped with watcher).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the model (default: model.path from the config, else models/).")
@click.option("--no-corrections", is_flag=True, help="Leave out your `watcher mark` corrections.")
@pass_state
@friendly
def train_command(state: State, data_dir: Path | None, out_dir: Path | None, no_corrections: bool) -> None:
    """Train the rejection model on training_data/ (and your corrections), evaluate it on the
    held-out split, and write it with its metadata to models/ (atomically)."""
    from . import training

    extra = [] if no_corrections else corrections.training_records(state.settings.database)
    meta = training.train(data_dir, out_dir or state.settings.model_dir, extra_records=extra)
    for line in training.summary_lines(meta):
        click.echo(line)


@cli.command("evaluate")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The training_data directory whose held-out split is used (default: the shipped one).")
@click.option("--file", "eval_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Evaluate on every message of this JSONL set instead (e.g. eval/fresh.jsonl).")
@pass_state
@friendly
def evaluate_command(state: State, as_json: bool, data_dir: Path | None, eval_file: Path | None) -> None:
    """Precision, recall, F1, confusion matrix, company/stage accuracy and mistakes of the model on the
    held-out split that training never sees."""
    from . import training

    report = training.evaluate(state.settings.model_dir, data_dir, eval_file)
    click.echo(json.dumps(report, indent=2) if as_json else "\n".join(training.format_report(report)))


@cli.command("classify")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@pass_state
@friendly
def classify_command(state: State, as_json: bool, paths: tuple[Path, ...]) -> None:
    """Classify .eml files, directories of them and mbox files: one line per message."""
    from .classifier import Classifier, classify_paths

    for result in classify_paths(Classifier.load(state.settings.model_dir), paths):
        click.echo(result.json() if as_json else result.line())


def main() -> None:
    cli(prog_name="watcher")
