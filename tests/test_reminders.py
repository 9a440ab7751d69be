"""The playbook, due times under a controlled clock, snooze/done, the ICS export and delivery."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import pytest
from click.testing import CliRunner
from conftest import FakeClassifier, make_message
from test_followups import NOW, ingest, job

from watcher import app, reminders
from watcher.cli import cli
from watcher.config import ConfigError, Settings, load_settings
from watcher.reminders import Facts, load_playbook, parse_when, plan
from watcher.store import Store

DATE = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # when the rejection was sent


def facts(**overrides: object) -> Facts:
    values: dict[str, object] = dict(kind="job", stage="application", company="Acme", role="Data Engineer",
                                     date=DATE, drafted=True, keep_in_touch=False)
    values.update(overrides)
    return Facts(**values)  # type: ignore[arg-type]


def due(planned: list[reminders.Planned]) -> dict[str, datetime]:
    return {p.action: p.due for p in planned}


# -- the playbook -------------------------------------------------------------------------------

def test_application_stage_no() -> None:
    planned = plan(load_playbook(), facts(), now=DATE + timedelta(hours=1))
    assert due(planned) == {"apply_next": DATE + timedelta(days=1), "tailor_resume": DATE + timedelta(days=1)}
    texts = {p.action: p.text for p in planned}
    assert "apply to the next roles" in texts["apply_next"] and "Acme (Data Engineer)" in texts["apply_next"]
    assert texts["tailor_resume"].startswith("Acme said no before any interview")


def test_interview_stage_no_with_a_feedback_request() -> None:
    planned = plan(load_playbook(), facts(stage="interview"), now=DATE)
    assert due(planned) == {
        "apply_next": DATE + timedelta(days=1),
        "interview_notes": DATE + timedelta(hours=2),
        "feedback_followup": DATE + timedelta(days=7),
    }
    # no draft (no-reply sender): no feedback request to wait for
    undrafted = plan(load_playbook(), facts(stage="interview", drafted=False), DATE)
    assert "feedback_followup" not in due(undrafted)


def test_keep_in_touch_means_check_openings_in_30_days() -> None:
    assert reminders.keep_in_touch("We will keep your resume on file for future opportunities.")
    assert reminders.keep_in_touch("We encourage you to apply again in the future")
    assert not reminders.keep_in_touch("We have decided not to move forward.")
    planned = plan(load_playbook(), facts(keep_in_touch=True, kind="investor", stage=None), DATE)
    assert due(planned) == {"apply_next": DATE + timedelta(days=1),
                            "check_openings": DATE + timedelta(days=30)}
    assert "reach out to the next investor" in planned[0].text


def test_due_times_count_from_the_rejection_not_from_a_late_backfill() -> None:
    # processed 2 days late: the step due after 1 day is already due, and still created
    planned = plan(load_playbook(), facts(), now=DATE + timedelta(days=2))
    assert due(planned)["apply_next"] == DATE + timedelta(days=1)
    # a backfill of old mail: steps that were due long ago are not created at all
    old = plan(load_playbook(), facts(keep_in_touch=True), now=DATE + timedelta(days=60))
    assert old == []
    recent_enough = plan(load_playbook(), facts(keep_in_touch=True), now=DATE + timedelta(days=20))
    assert due(recent_enough) == {"check_openings": DATE + timedelta(days=30)}


def test_a_message_dated_in_the_future_counts_from_now() -> None:
    now = DATE - timedelta(days=1)
    assert due(plan(load_playbook(), facts(), now))["apply_next"] == now + timedelta(days=1)
    assert due(plan(load_playbook(), facts(date=None), now))["apply_next"] == now + timedelta(days=1)


def test_playbook_overrides_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[playbook]\nstale_after = "10d"\n'
        '[playbook.apply_next]\nafter = "2d"\n'
        '[playbook.tailor_resume]\nenabled = false\n'
        '[playbook.thank_referrer]\nwhen = ["job", "interview"]\nafter = "1d"\n'
        'text = "Tell whoever referred you to $company how it went"\n',
        encoding="utf-8",
    )
    playbook = load_playbook(load_settings(config, env={}).playbook)
    assert playbook.stale_after == timedelta(days=10)
    assert due(plan(playbook, facts(), DATE)) == {"apply_next": DATE + timedelta(days=2)}
    planned = plan(playbook, facts(stage="interview"), DATE)
    assert due(planned)["thank_referrer"] == DATE + timedelta(days=1)
    assert "referred you to Acme" in {p.action: p.text for p in planned}["thank_referrer"]


@pytest.mark.parametrize("config,message", [
    ({"apply_next": {"after": "soon"}}, "apply_next].after"),
    ({"apply_next": {"when": ["mondays"]}}, "unknown condition(s) mondays"),
    ({"apply_next": {"colour": "red"}}, "unknown key(s) colour"),
    ({"mine": {"after": "1d"}}, "a new step needs when, after and text"),
    ({"apply_next": "1d"}, "must be a table"),
    ({"stale_after": "ages"}, "stale_after"),
])
def test_bad_playbook_entries_are_config_errors(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_playbook(config)
    assert message in str(raised.value)


def test_a_bad_playbook_stops_the_pipeline_at_startup(tmp_path: Path) -> None:
    from watcher.pipeline import build_processor

    settings = Settings(database=tmp_path / "w.db", playbook={"apply_next": {"after": "whenever"}})
    with Store.open(settings.database) as store, pytest.raises(ConfigError):
        build_processor(settings, store, FakeClassifier())


# -- when ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("3d", NOW + timedelta(days=3)),
    ("2h", NOW + timedelta(hours=2)),
    ("30m", NOW + timedelta(minutes=30)),
    ("1w", NOW + timedelta(weeks=1)),
    ("2026-03-10", datetime(2026, 3, 10, 9, 0, tzinfo=UTC)),
    ("2026-03-10 14:30", datetime(2026, 3, 10, 14, 30, tzinfo=UTC)),
])
def test_parse_when(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW, tz=UTC) == expected


def test_parse_when_uses_the_local_time_zone_for_dates() -> None:
    from zoneinfo import ZoneInfo

    assert parse_when("2026-03-10 14:30", NOW, tz=ZoneInfo("Europe/Berlin")) == datetime(
        2026, 3, 10, 13, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["tomorrow", "3 days", "2026-13-01", ""])
def test_parse_when_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(reminders.ReminderError, match="YYYY-MM-DD"):
        parse_when(text, NOW, tz=UTC)


# -- stored reminders ---------------------------------------------------------------------------

@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database=tmp_path / "watcher.db", user_name="Sam", user_email="sam@example.com",
                    store_text=True)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with Store.open(settings.database) as opened:
        ingest(opened, settings, [
            make_message(1, subject="After the onsite", sender="Jane Doe <jane@acme.example>"),
            make_message(2, subject="Your application", sender="Acme <no-reply@acme.example>",
                         body="We will keep your resume on file for future opportunities.\r\n"),
        ], {"onsite": job("interview"), "Your application": job(company="Initech", role="Analyst")})
        yield opened


def test_each_new_rejection_gets_its_reminders_in_the_batch(store: Store) -> None:
    rows = reminders.list_reminders(store)
    got = sorted((r["company"], r["action"], r["due"]) for r in rows)
    first = datetime(2026, 3, 2, 9, 1, tzinfo=UTC)  # make_message(1)'s date
    second = datetime(2026, 3, 2, 9, 2, tzinfo=UTC)
    assert got == sorted([
        ("Acme", "apply_next", reminders.iso(first + timedelta(days=1))),
        ("Acme", "interview_notes", reminders.iso(first + timedelta(hours=2))),
        ("Acme", "feedback_followup", reminders.iso(first + timedelta(days=7))),
        ("Initech", "apply_next", reminders.iso(second + timedelta(days=1))),
        ("Initech", "tailor_resume", reminders.iso(second + timedelta(days=1))),
        ("Initech", "check_openings", reminders.iso(second + timedelta(days=30))),
    ])
    assert [r["due"] for r in rows] == sorted(r["due"] for r in rows)  # soonest first


def test_done_and_snooze(store: Store) -> None:
    first = reminders.list_reminders(store)[0]
    reminders.mark_done(store, first["id"])
    assert first["id"] not in [r["id"] for r in reminders.list_reminders(store)]
    assert first["id"] in [r["id"] for r in reminders.list_reminders(store, include_done=True)]
    with pytest.raises(reminders.ReminderError, match="is done"):
        reminders.snooze(store, first["id"], "1d", NOW)
    other = reminders.list_reminders(store)[0]
    until = reminders.snooze(store, other["id"], "2026-03-20 08:00", NOW, tz=UTC)
    assert until == datetime(2026, 3, 20, 8, 0, tzinfo=UTC)
    moved = store.reminder(other["id"])
    assert moved["due"] == "2026-03-20T08:00:00+00:00" and moved["due_at"] == other["due_at"]
    with pytest.raises(reminders.ReminderError, match="in the past"):
        reminders.snooze(store, other["id"], "2026-01-01", NOW, tz=UTC)
    with pytest.raises(reminders.ReminderError, match="no reminder with id 999"):
        reminders.mark_done(store, 999)


def test_the_cli_lists_snoozes_and_marks_done(tmp_path: Path, store: Store, settings: Settings) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndatabase = "{settings.database}"\n', encoding="utf-8")
    runner = CliRunner()
    listed = [json.loads(line) for line in
              runner.invoke(cli, ["--config", str(config), "reminders", "--json"]).output.splitlines()]
    assert len(listed) == 6
    target = listed[0]["id"]
    snooze = ["--config", str(config), "reminders", "snooze", str(target), "--until"]
    result = runner.invoke(cli, [*snooze, "3d"])
    assert result.exit_code == 0 and "snoozed until" in result.output, result.output
    snoozed = store.reminder(target)["snoozed_until"]
    expected = datetime.now(UTC) + timedelta(days=3)
    assert abs(datetime.fromisoformat(snoozed) - expected) < timedelta(minutes=1)
    result = runner.invoke(cli, [*snooze, "later"])
    assert result.exit_code != 0 and "cannot read 'later'" in result.output
    assert runner.invoke(cli, ["--config", str(config), "reminders", "done", str(target)]).exit_code == 0
    table = runner.invoke(cli, ["--config", str(config), "reminders"]).output
    assert "Initech" in table and len(table.splitlines()) == 1 + 5 + 1


def test_ics_export_parses_with_icalendar(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "cal" / "reminders.ics"
    assert reminders.export_ics(store, path, NOW) == 6
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 6
    rows = {f"reminder-{r['id']}@rejection-watcher": r for r in reminders.list_reminders(store)}
    for event in events:
        row = rows[str(event["UID"])]
        assert event.decoded("DTSTART") == datetime.fromisoformat(row["due"])
        assert str(event["SUMMARY"]) == row["text"]
        assert event.decoded("DURATION") == timedelta(minutes=30)
        alarms = list(event.walk("VALARM"))
        assert len(alarms) == 1 and str(alarms[0]["ACTION"]) == "DISPLAY"
    assert str(calendar["VERSION"]) == "2.0" and "Rejection Watcher" in str(calendar["PRODID"])


def test_deliver_due_with_a_controlled_clock(store: Store, settings: Settings,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="watcher.reminders")
    start = datetime(2026, 3, 2, 10, 5, tzinfo=UTC)  # the rejections came at 09:01 and 09:02
    assert reminders.deliver_due(store, settings, start, ["log"]) == []
    two_hours = reminders.deliver_due(store, settings, start + timedelta(hours=1), ["log"])
    assert [store.reminder(i)["action"] for i in two_hours] == ["interview_notes"]
    assert f"reminder {two_hours[0]} due: Write down what went well" in caplog.text
    assert reminders.deliver_due(store, settings, start + timedelta(hours=1), ["log"]) == []  # once only
    next_day = reminders.deliver_due(store, settings, start + timedelta(days=1), ["log"])
    actions = sorted(store.reminder(i)["action"] for i in next_day)
    assert actions == ["apply_next", "apply_next", "tailor_resume"]
    row = store.reminder(two_hours[0])
    assert row["status"] == "delivered" and row["delivered_at"] == reminders.iso(start + timedelta(hours=1))
    # a delivered reminder snoozed comes back at the new time
    reminders.snooze(store, two_hours[0], "2d", start + timedelta(days=1))
    assert reminders.deliver_due(store, settings, start + timedelta(days=2), ["log"]) == []
    assert reminders.deliver_due(store, settings, start + timedelta(days=3), ["log"]) == [two_hours[0]]


def _fake_notify_send(directory: Path, exit_code: int = 0) -> Path:
    directory.mkdir()
    log = directory / "calls.txt"
    script = directory / "notify-send"
    script.write_text(f'#!/bin/sh\nprintf "%s|" "$@" >> "{log}"\necho >> "{log}"\nexit {exit_code}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return log


def test_desktop_notifications_through_notify_send(tmp_path: Path, store: Store, settings: Settings,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_notify_send(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    delivered = reminders.deliver_due(store, settings, datetime(2026, 3, 2, 12, 0, tzinfo=UTC), ["desktop"])
    assert len(delivered) == 1
    line = calls.read_text().splitlines()[0]
    assert line.startswith("--app-name=Rejection Watcher|Rejection Watcher|Write down what went well")


def test_no_desktop_means_skipped_quietly_and_retried(tmp_path: Path, store: Store, settings: Settings,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    when = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert reminders.deliver_due(store, settings, when, ["desktop"]) == []
    assert all(r["status"] == "pending" for r in reminders.list_reminders(store))
    assert len(reminders.deliver_due(store, settings, when, ["desktop", "log"])) == 1


def test_unknown_channel_is_an_error(store: Store, settings: Settings) -> None:
    with pytest.raises(reminders.ReminderError, match="pager"):
        reminders.deliver_due(store, settings, NOW, ["pager"])


def test_the_daemon_delivers_due_reminders_on_each_tick(store: Store, settings: Settings,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    from dataclasses import replace

    from watcher.config import Account, Secret

    caplog.set_level(logging.INFO, logger="watcher.reminders")
    account = Account(name="a", host="127.0.0.1", username="u", security="none", port=1,
                      secret=Secret("value", "x"))
    monkeypatch.setattr(app, "load_classifier", lambda _settings: FakeClassifier())
    daemon = app.build_daemon(replace(settings, accounts=(account,)))
    assert daemon.on_tick is not None
    with store.transaction():  # the daemon runs on the real clock: a reminder due a minute ago
        rejection_id = store.rejection_log()[0]["id"]
        just_due = store.add_reminder(rejection_id, "custom", "Due a minute ago",
                                      reminders.iso(datetime.now(UTC) - timedelta(minutes=1)))
        later = store.add_reminder(rejection_id, "later", "Due tomorrow",
                                   reminders.iso(datetime.now(UTC) + timedelta(days=1)))
    daemon.on_tick()
    assert just_due is not None and later is not None
    assert store.reminder(just_due)["status"] == "delivered"  # type: ignore[index]
    assert store.reminder(later)["status"] == "pending"  # type: ignore[index]
    assert f"reminder {just_due} due: Due a minute ago" in caplog.text
