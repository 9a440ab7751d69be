"""Backfill benchmark: `watcher backfill` against a bare imapclient loop over the same mailbox, on 127.0.0.1.

    python bench/bench_backfill.py                    # 20,000 messages, Dovecot if installed, else pymap
    python bench/bench_backfill.py --messages 2000 --server pymap

One run builds the synthetic mailbox (bench/mailbox.py), APPENDs it to a real IMAP server of its own on
127.0.0.1 (tests/imapserver.py) and prints:
  (a) the rate of a bare imapclient loop fetching headers + text parts (BODYSTRUCTURE, then
      BODY.PEEK[HEADER] and the text sections, in batches) and of a bare whole-message fetch (BODY.PEEK[]);
  (b) the rate of `watcher backfill` (the real CLI in a subprocess, generated config), and the ratios;
  (c) the backfill's peak memory: the watcher and its analysis workers summed (VmRSS, sampled every 50 ms),
      and the largest single process (ru_maxrss, from RUSAGE_CHILDREN of a small launcher process);
  (d) the model's classification throughput over the parsed messages;
  (e) APPEND-to-record latency under IDLE with a running `watcher run`, for 10 messages;
  (f) the CPU use of that daemon while idle, over 10 seconds (/proc/<pid>/stat);
  (g) if mbsync or offlineimap is on PATH, how long it takes to download the same folder.
Everything stays on loopback, uses fixed counts and stops by itself; the work directory is removed
unless --keep is given.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# bench/mailbox.py would shadow the standard library's `mailbox` (used by watcher.sources.local)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT / "tests"))

from imapserver import ImapServer, available_backends, start_server  # noqa: E402

from watcher.messages import ParsedMessage, ParseError, parse  # noqa: E402
from watcher.sources.imap import _text_sections  # noqa: E402

FOLDER = "bench"
LATENCY_FOLDER = "latency"
BATCH = 200  # UIDs per FETCH in the bare loops, as the watcher's default batch_size


def _load_mailbox_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_mailbox", HERE / "mailbox.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def say(text: str) -> None:
    print(text, flush=True)


def chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class Loaded:
    count: int
    size: int
    parsed: list[ParsedMessage]
    generate_s: float
    append_s: float
    parse_s: float


def load(server: ImapServer, n: int) -> Loaded:
    """Generate n messages, APPEND them (MULTIAPPEND, 50 at a time) and keep them parsed for (d)."""
    mailbox = _load_mailbox_module()
    parsed: list[ParsedMessage] = []
    size = 0
    generate_s = append_s = parse_s = 0.0
    with server.session() as client:
        client.create_folder(FOLDER)
        multi = b"MULTIAPPEND" in client.capabilities()
        pending: list[bytes] = []
        source = iter(mailbox.generate(n))
        while True:
            started = time.perf_counter()
            data = next(source, None)
            generate_s += time.perf_counter() - started
            if data is not None:
                pending.append(data)
                size += len(data)
                started = time.perf_counter()
                with contextlib.suppress(ParseError):
                    parsed.append(parse(data))
                parse_s += time.perf_counter() - started
            if len(pending) >= 50 or (data is None and pending):
                started = time.perf_counter()
                if multi:
                    client.multiappend(FOLDER, pending)
                else:
                    for one in pending:
                        client.append(FOLDER, one)
                append_s += time.perf_counter() - started
                pending = []
            if data is None:
                break
    return Loaded(n, size, parsed, generate_s, append_s, parse_s)


def bare_full(server: ImapServer) -> tuple[int, float]:
    """Every message whole, BODY.PEEK[], BATCH UIDs per FETCH."""
    started = time.perf_counter()
    got = 0
    with server.session() as client:
        client.select_folder(FOLDER, readonly=True)
        for chunk in chunks(sorted(client.search(["ALL"])), BATCH):
            got += len(client.fetch(chunk, ["BODY.PEEK[]"]))
    return got, time.perf_counter() - started


def bare_header_text(server: ImapServer) -> tuple[int, float]:
    """Headers + text parts, as a careful client would: BODYSTRUCTURE for a batch, then one FETCH per
    group of messages with the same text sections, of BODY.PEEK[HEADER] and those sections."""
    started = time.perf_counter()
    got: set[int] = set()
    with server.session() as client:
        client.select_folder(FOLDER, readonly=True)
        for chunk in chunks(sorted(client.search(["ALL"])), BATCH):
            groups: dict[tuple[str, ...], list[int]] = {}
            for uid, data in client.fetch(chunk, ["BODYSTRUCTURE"]).items():
                structure = data[b"BODYSTRUCTURE"]
                sections = tuple(_text_sections(structure)) if structure.is_multipart else ("TEXT",)
                groups.setdefault(sections, []).append(uid)
            for sections, uids in groups.items():
                items = ["BODY.PEEK[HEADER]"] + [f"BODY.PEEK[{s}]" for s in sections]
                got.update(client.fetch(uids, items))
    return len(got), time.perf_counter() - started


def write_config(workdir: Path, server: ImapServer, name: str, folder: str, extra: str = "") -> Path:
    password = workdir / "password.txt"
    password.write_text(server.password + "\n", encoding="utf-8")
    password.chmod(0o600)
    config = workdir / f"{name}.toml"
    config.write_text(
        f"""[storage]
database = "{workdir / f'{name}.db'}"
{extra}
[[accounts]]
name = "bench"
host = "127.0.0.1"
port = {server.port}
security = "none"
username = "{server.user}"
password_file = "{password}"
folders = ["{folder}"]
timeout = 120
""",
        encoding="utf-8",
    )
    return config


def watcher_command() -> list[str]:
    exe = Path(sys.executable).with_name("watcher")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "watcher"]


@dataclass
class Backfill:
    seconds: float
    peak_mb: float  # the largest single process (ru_maxrss)
    tree_mb: float  # the whole process tree (the watcher and its analysis workers), sampled
    summary: str
    returncode: int


def _tree_rss_kb(root: int) -> int:
    """Resident memory of `root`'s descendants (VmRSS summed), from /proc; 0 where /proc is missing."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - tree
        tree |= frontier
    total = 0
    for pid in tree:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


# Linux records the high-water RSS of the memory a process had before exec in its ru_maxrss, and
# subprocess starts children with vfork: a child of this process would report this process's peak (all
# the parsed messages). So a small launcher forks the watcher and reads its RUSAGE_CHILDREN.
LAUNCHER = """
import os, resource, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_pid, status = os.waitpid(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_backfill(config: Path, log: Path) -> Backfill:
    """`watcher backfill` as a grandchild through LAUNCHER; ru_maxrss is in KB on Linux."""
    maxrss = log.with_suffix(".maxrss")
    command = watcher_command()
    command[0] = shutil.which(command[0]) or command[0]
    started = time.perf_counter()
    tree_kb = 0
    with log.open("w") as err, (log.with_suffix(".out")).open("w+") as out:
        proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(maxrss), *command, "--config",
                                 str(config), "backfill"], stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        while proc.poll() is None:  # the workers' memory counts too: sum the tree every 50 ms
            tree_kb = max(tree_kb, _tree_rss_kb(proc.pid))
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        out.seek(0)
        summary = out.read().strip()
    peak_kb = int(maxrss.read_text()) if maxrss.exists() else 0
    return Backfill(seconds, peak_kb / 1024, tree_kb / 1024, summary, proc.returncode)


def classify_rate(parsed: list[ParsedMessage]) -> tuple[str, float]:
    from watcher.classifier import Classifier

    model = Classifier.load()
    started = time.perf_counter()
    for start in range(0, len(parsed), BATCH):
        model.classify(parsed[start : start + BATCH])
    return model.version, len(parsed) / (time.perf_counter() - started)


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))


def _latency_message(i: int) -> bytes:
    return (
        f"From: Acme Careers <no-reply@acme.example>\r\nTo: Sam <sam@example.com>\r\n"
        f"Subject: Your application for Data Engineer ({i})\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: <latency-{i}-{time.time_ns()}@bench.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Dear Sam,\r\n\r\nThank you for your interest. After careful consideration we have decided to move "
        "forward with other candidates.\r\n\r\nAcme Talent Team\r\n"
    ).encode()


def idle_latency_and_cpu(server: ImapServer, workdir: Path, samples: int = 10,
                         idle_seconds: float = 10.0) -> tuple[list[float], float, int, str]:
    """(latencies, idle CPU %, exit code, tail of the log) of a `watcher run` on its own folder."""
    server.create_folder(LATENCY_FOLDER)
    config = write_config(workdir, server, "latency", LATENCY_FOLDER, extra="[watch]\npoll_interval = 3600\n")
    db = workdir / "latency.db"
    log = workdir / "run.log"
    latencies: list[float] = []
    with log.open("w") as err:
        proc = subprocess.Popen([*watcher_command(), "--config", str(config), "run"],
                                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        con: sqlite3.Connection | None = None
        while con is None:  # the first poll has run when the folder has its row
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"`watcher run` did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
            with contextlib.suppress(sqlite3.Error):
                candidate = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                if candidate.execute("SELECT count(*) FROM folders").fetchone()[0]:
                    con = candidate
        time.sleep(2.0)  # IDLE established
        with server.session() as client:
            for i in range(samples):
                data = _latency_message(i)
                message_id = data.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0].decode()
                started = time.perf_counter()
                client.append(LATENCY_FOLDER, data)
                query = "SELECT 1 FROM messages WHERE message_id = ?"
                while not con.execute(query, (message_id,)).fetchone():
                    if time.perf_counter() - started > 30:
                        raise RuntimeError(f"message {i} not recorded within 30 s")
                    time.sleep(0.005)
                latencies.append(time.perf_counter() - started)
                time.sleep(0.5)
        con.close()
        time.sleep(2.0)  # let the last poll finish before measuring idleness
        before = _cpu_ticks(proc.pid)
        time.sleep(idle_seconds)
        cpu = (_cpu_ticks(proc.pid) - before) / os.sysconf("SC_CLK_TCK") / idle_seconds * 100
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return latencies, cpu, code, log.read_text()[-300:]


def sync_tool(server: ImapServer, workdir: Path) -> tuple[str, float, int] | None:
    """Time a general mail sync tool downloading the folder to a Maildir: mbsync, else offlineimap."""
    target = workdir / "sync"
    target.mkdir()
    if shutil.which("mbsync"):
        rc = workdir / "mbsyncrc"
        rc.write_text(
            f"IMAPAccount bench\nHost 127.0.0.1\nPort {server.port}\nUser {server.user}\n"
            f"Pass {server.password}\n"
            f"SSLType None\nAuthMechs LOGIN\n\nIMAPStore remote\nAccount bench\n\n"
            f"MaildirStore local\nPath {target}/\nInbox {target}/INBOX\n\n"
            f"Channel bench\nFar :remote:\nNear :local:\nPatterns {FOLDER}\nCreate Near\nSync Pull\n"
            f"SyncState *\n",
            encoding="utf-8",
        )
        command, tool = ["mbsync", "-c", str(rc), "-q", "bench"], "mbsync"
    elif shutil.which("offlineimap"):
        rc = workdir / "offlineimaprc"
        rc.write_text(
            f"[general]\naccounts = bench\nmetadata = {workdir}/offlineimap-meta\n\n"
            f"[Account bench]\nlocalrepository = local\nremoterepository = remote\n\n"
            f"[Repository local]\ntype = Maildir\nlocalfolders = {target}\n\n"
            f"[Repository remote]\ntype = IMAP\nremotehost = 127.0.0.1\nremoteport = {server.port}\n"
            f"remoteuser = {server.user}\nremotepass = {server.password}\nssl = no\nstarttls = no\n"
            f"readonly = True\nfolderfilter = lambda name: name == '{FOLDER}'\n",
            encoding="utf-8",
        )
        command, tool = ["offlineimap", "-c", str(rc), "-u", "quiet", "-o"], "offlineimap"
    else:
        return None
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        say(f"    ({tool} exited {done.returncode}: {(done.stderr or done.stdout).strip()[-300:]})")
    files = sum(len(files) for root, _dirs, files in os.walk(target) if Path(root).name in ("cur", "new"))
    return tool, seconds, files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000, help="mailbox size (default 20000)")
    backends = available_backends()
    parser.add_argument("--server", choices=["dovecot", "pymap"], default=backends[-1],
                        help=f"IMAP server (default: {backends[-1]}; installed: {', '.join(backends)})")
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="do not delete the work directory")
    args = parser.parse_args(argv)
    if args.server not in backends:
        parser.error(f"{args.server} is not installed (apt-get install dovecot-imapd)")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="watcher-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    n = args.messages
    say(f"# watcher backfill benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    say(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.machine()}, "
        f"server: {args.server} on 127.0.0.1, {n:,} messages")
    server = start_server(args.server, workdir / "server")
    try:
        loaded = load(server, n)
        say(f"mailbox: {loaded.count:,} messages, {loaded.size / 1e6:,.0f} MB; generated in "
            f"{loaded.generate_s:.0f}s, APPENDed in {loaded.append_s:.0f}s")

        cold_n, cold_s = bare_header_text(server)  # the server builds its BODYSTRUCTURE cache here
        ht_n, ht_s = bare_header_text(server)
        full_n, full_s = bare_full(server)
        ht_rate, full_rate = ht_n / ht_s, full_n / full_s
        say(f"(a) bare imapclient, headers + text parts: {ht_rate:,.0f} msg/s ({ht_n:,} in {ht_s:.1f}s; "
            f"first, cold pass {cold_n / cold_s:,.0f} msg/s)")
        say(f"    bare imapclient, whole messages (BODY.PEEK[]): {full_rate:,.0f} msg/s "
            f"({full_n:,} in {full_s:.1f}s)")

        backfill = run_backfill(write_config(workdir, server, "backfill", FOLDER), workdir / "backfill.log")
        if backfill.returncode != 0:
            failure = (workdir / "backfill.log").read_text()[-2000:]
            say(f"watcher backfill FAILED ({backfill.returncode}): {failure}")
            return 1
        rate = n / backfill.seconds
        say(f"(b) watcher backfill: {rate:,.0f} msg/s ({n:,} in {backfill.seconds:.1f}s wall, "
            f"process start and model load included); its summary: {backfill.summary}")
        say(f"    ratio: backfill / bare headers+text = {rate / ht_rate:.2f}x (target >= 0.5x); "
            f"bare / backfill = {ht_rate / rate:.2f}; backfill / bare whole = {rate / full_rate:.2f}x")
        say(f"(c) backfill peak memory: {backfill.tree_mb:,.0f} MB for the watcher and its analysis workers "
            f"together (sampled every 50 ms; target < 250 MB); largest single process (ru_maxrss) "
            f"{backfill.peak_mb:,.0f} MB")

        version, class_rate = classify_rate(loaded.parsed)
        say(f"(d) classification: {class_rate:,.0f} msg/s over {len(loaded.parsed):,} parsed messages "
            f"(model {version}); parsing alone: {len(loaded.parsed) / loaded.parse_s:,.0f} msg/s")

        latencies, cpu, code, tail = idle_latency_and_cpu(server, workdir)
        say(f"(e) APPEND -> record under IDLE ({len(latencies)} messages): median "
            f"{statistics.median(latencies):.2f}s, max {max(latencies):.2f}s (target < 2 s)")
        stopped = "stopped" in tail
        say(f"(f) idle daemon CPU over 10 s: {cpu:.2f}% of one core; SIGTERM -> exit {code}"
            f"{', logged stopped' if stopped else ', NO stopped line'}")

        synced = sync_tool(server, workdir)
        if synced is None:
            say("(g) no mbsync or offlineimap on PATH: sync tool comparison skipped")
        else:
            tool, seconds, files = synced
            say(f"(g) {tool} download of the same folder: {seconds:.1f}s ({files:,} messages, "
                f"{n / seconds:,.0f} msg/s); watcher backfill took {backfill.seconds:.1f}s, "
                f"{seconds / backfill.seconds:.2f}x {tool}'s speed")
    finally:
        server.stop()
        server.cleanup()
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
