"""`watcher run`: an APScheduler job polls every account on an interval until SIGTERM/SIGINT.

Signal handlers only set flags; the main loop checks them. A poll in progress finishes its current
batch (each batch is one transaction) and then stops.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler

from .config import Settings
from .pipeline import Summary

log = logging.getLogger(__name__)


@dataclass
class Daemon:
    settings: Settings
    poll_once: Callable[[Callable[[], bool]], Summary]  # given should_stop, runs one pass
    stop_event: threading.Event = field(default_factory=threading.Event)
    reload_event: threading.Event = field(default_factory=threading.Event)

    def should_stop(self) -> bool:
        return self.stop_event.is_set()

    def tick(self) -> None:
        try:
            summary = self.poll_once(self.should_stop)
            log.info("poll: %s", summary.line())
        except Exception as exc:  # a failed tick is logged; the next tick tries again
            log.error("poll failed: %s", exc)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.reload_event.set()
        else:
            self.stop_event.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def run(self) -> None:
        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.add_job(
            self.tick, "interval", seconds=self.settings.poll_interval, id="poll",
            max_instances=1, coalesce=True, next_run_time=None,
        )
        scheduler.start()
        scheduler.modify_job("poll", next_run_time=_now())
        log.info("watching %d account(s), polling every %ds", len(self.settings.accounts),
                 self.settings.poll_interval)
        try:
            while not self.stop_event.wait(1.0):
                if self.reload_event.is_set():
                    self.reload_event.clear()
                    log.info("SIGHUP: polling now")
                    scheduler.modify_job("poll", next_run_time=_now())
        finally:
            log.info("stopping: finishing the current batch")
            scheduler.shutdown(wait=True)
            log.info("stopped")


def _now():  # noqa: ANN202 - datetime, kept local to avoid a module-level tz import
    from datetime import UTC, datetime

    return datetime.now(UTC)
