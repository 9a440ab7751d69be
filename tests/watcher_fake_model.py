"""The real `watcher` CLI with conftest's FakeClassifier in place of the shipped model.

For subprocess tests where the model does not matter (kill -9, SIGTERM, overlapping runs):

    python tests/watcher_fake_model.py --config CONFIG backfill

With WATCHER_TEST_PAUSE_AFTER=N in the environment, the process prints `PAUSED` on stdout after writing
its N-th record, inside that batch's open transaction, and then sleeps until it is killed: a kill -9
that is guaranteed to land mid-batch.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import FakeClassifier  # noqa: E402

from watcher import app, cli  # noqa: E402
from watcher.store import Store  # noqa: E402


def _pause_after(limit: int) -> None:
    original = Store.add_record
    written = 0

    def add_record(self: Store, rec):  # type: ignore[no-untyped-def]
        nonlocal written
        result = original(self, rec)
        written += 1
        if written == limit:
            assert self.db.in_transaction
            print("PAUSED", flush=True)
            while True:
                time.sleep(60)
        return result

    Store.add_record = add_record  # type: ignore[method-assign]


def main() -> None:
    app.load_classifier = lambda settings: FakeClassifier()  # type: ignore[assignment]
    if os.environ.get("WATCHER_TEST_PAUSE_AFTER"):
        _pause_after(int(os.environ["WATCHER_TEST_PAUSE_AFTER"]))
    cli.main()


if __name__ == "__main__":
    main()
