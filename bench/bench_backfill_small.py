"""Backfill throughput over loopback against a bare imapclient fetch of the same mailbox.

    .venv/bin/python bench/bench_backfill_small.py [--messages 2000] [--server dovecot|pymap] [--stand-in]

Starts a real IMAP server on 127.0.0.1 (Dovecot when installed, else pymap), appends N generated
messages (plain and HTML/multipart, 1-6 KB, one in twenty a rejection), then in the same run:

  1. bare:     IMAPClient login, EXAMINE, SEARCH ALL, FETCH BODY.PEEK[] in batches of 200;
  2. backfill: watcher's app.backfill_imap (RFC822.SIZE + BODY.PEEK[] per batch, parse, classify,
               SQLite writes, one transaction per batch of 200), on a fresh database.

Both include connecting and logging in. Prints both rates and their ratio. The classifier is the
shipped model when models/rejection-model.joblib exists and loads (unless --stand-in), else a trivial
stand-in; the output says which.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from imapserver import DovecotServer, ImapServer, PymapServer  # noqa: E402

from watcher import app  # noqa: E402
from watcher.classifier import Verdict  # noqa: E402
from watcher.config import Account, Secret, Settings  # noqa: E402
from watcher.messages import ParsedMessage  # noqa: E402

FOLDER = "Bench"
BATCH = 200
WORDS = [
    "thanks", "for", "the", "update", "here", "are", "the", "notes", "from", "our", "meeting", "the", "team",
    "reviewed", "the", "plan", "and", "we", "will", "send", "the", "next", "version", "on", "friday",
    "please", "check", "the", "attached", "schedule", "and", "let", "me", "know",
]
REJECTION = ("Thank you for your application. Unfortunately we have decided to move forward with other "
             "candidates whose experience more closely matches our needs.")


def generate(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        body = "\r\n".join(" ".join(rng.choices(WORDS, k=14)) for _ in range(rng.randint(8, 60)))
        if i % 20 == 0:  # about one message in twenty is a rejection, as in a job seeker's inbox
            body = REJECTION + "\r\n\r\n" + body
        head = (f"From: Recruiter {i % 97} <r{i % 97}@company{i % 31}.example>\r\n"
                f"To: me@example.com\r\nSubject: Your application #{i}\r\n"
                f"Date: {format_datetime(start + timedelta(minutes=7 * i))}\r\n"
                f"Message-ID: <bench-{i}@company.example>\r\nMIME-Version: 1.0\r\n")
        if i % 3 == 0:
            html = "".join(f"<p>{line}</p>" for line in body.split("\r\n"))
            out.append((head + 'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
                        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body +
                        "\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>" + html +
                        "</body></html>\r\n--b--\r\n").encode())
        else:
            out.append((head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n").encode())
    return out


StandInVerdict = Verdict


class StandInClassifier:
    version = "bench-stand-in"

    def classify(self, messages: Sequence[ParsedMessage]) -> list[StandInVerdict]:
        return [StandInVerdict("rejection" if "unfortunately" in m.text.lower() else "not_rejection", 0.5)
                for m in messages]


def load_classifier(settings: Settings, stand_in: bool = False) -> tuple[Any, str]:
    if stand_in:
        return StandInClassifier(), "stand-in classifier (--stand-in)"
    if (ROOT / "models" / "rejection-model.joblib").exists():
        try:
            return app.load_classifier(settings), "shipped model"
        except Exception as exc:  # the bench still measures the I/O side
            print(f"(model did not load: {exc}; using the stand-in classifier)")
    return StandInClassifier(), "stand-in classifier (no model file)"


def populate(server: ImapServer, messages: list[bytes]) -> None:
    with server.session() as client:
        client.create_folder(FOLDER)
        multi = b"MULTIAPPEND" in client.capabilities()
        for start in range(0, len(messages), BATCH):
            chunk = messages[start : start + BATCH]
            if multi:
                client.multiappend(FOLDER, chunk)
            else:
                for data in chunk:
                    client.append(FOLDER, data)


def bare_fetch(server: ImapServer) -> tuple[int, int, float]:
    started = time.perf_counter()
    client = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=60)
    client.login(server.user, server.password)
    client.select_folder(FOLDER, readonly=True)
    uids = sorted(client.search(["ALL"]))
    count = size = 0
    for start in range(0, len(uids), BATCH):
        for data in client.fetch(uids[start : start + BATCH], ["BODY.PEEK[]"]).values():
            count += 1
            size += len(data[b"BODY[]"])
    client.logout()
    return count, size, time.perf_counter() - started


def backfill(server: ImapServer, workdir: Path, run: int, stand_in: bool = False) -> tuple[int, float, str]:
    account = Account(name="bench", host="127.0.0.1", port=server.port, security="none",
                      username=server.user, secret=Secret("value", server.password), folders=(FOLDER,),
                      batch_size=BATCH)
    settings = Settings(database=workdir / f"bench-{run}.db", accounts=(account,))
    classifier, which = load_classifier(settings, stand_in)
    started = time.perf_counter()
    summary = app.backfill_imap(settings, classifier=classifier)
    return summary.new, time.perf_counter() - started, which


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--server", choices=["dovecot", "pymap"],
                        default="dovecot" if DovecotServer.available() else "pymap")
    parser.add_argument("--stand-in", action="store_true", help="use the trivial classifier, not the model")
    parser.add_argument("--rounds", type=int, default=2, help="measure each side this many times; best wins")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="watcher-bench-"))
    server: ImapServer = (DovecotServer if args.server == "dovecot" else PymapServer)(workdir / "server")
    server.start()
    try:
        messages = generate(args.messages)
        t0 = time.perf_counter()
        populate(server, messages)
        print(f"server: {args.server} on 127.0.0.1:{server.port}; {len(messages):,} messages, "
              f"{sum(map(len, messages)) / 1e6:.1f} MB appended in {time.perf_counter() - t0:.1f}s")
        bare_fetch(server)  # warm the server's caches for both sides
        bare_times, backfill_times = [], []
        which = ""
        for run in range(args.rounds):
            count, size, seconds = bare_fetch(server)
            assert count == len(messages), f"bare fetch got {count} messages"
            bare_times.append(seconds)
            new, seconds, which = backfill(server, workdir, run, args.stand_in)
            assert new == len(messages), f"backfill recorded {new} messages"
            backfill_times.append(seconds)
        bare_rate = len(messages) / min(bare_times)
        backfill_rate = len(messages) / min(backfill_times)
        print(f"bare imapclient fetch (BODY.PEEK[]): {bare_rate:8,.0f} msg/s  "
              f"(best of {args.rounds}: {min(bare_times):.2f}s, {size / 1e6:.1f} MB)")
        print(f"watcher backfill ({which}): {backfill_rate:8,.0f} msg/s  "
              f"(best of {args.rounds}: {min(backfill_times):.2f}s)")
        print(f"ratio backfill/bare: {backfill_rate / bare_rate:.2f} "
              f"(the backfill takes {bare_rate / backfill_rate:.1f}x the time of a bare fetch)")
    finally:
        server.stop()
        server.cleanup()


if __name__ == "__main__":
    main()
