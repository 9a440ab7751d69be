"""Messages in, records out: parse, classify and store a batch at a time, with the folder state.

Each batch is one transaction: its records, errors, follow-ups and the folder's new high-water mark
are committed together, so an interrupt or crash never loses or duplicates a record.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

from .config import Account, Settings
from .messages import ParsedMessage, ParseError, RawMessage, parse
from .sources import local
from .sources.imap import Batch, ClientFactory, ImapSession, default_client_factory, with_reconnect
from .store import ErrorRecord, Record, Store

log = logging.getLogger(__name__)


class Verdict(Protocol):
    # read-only members, so a frozen dataclass (classifier.Verdict) satisfies the protocol
    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def kind(self) -> str | None: ...
    @property
    def stage(self) -> str | None: ...
    @property
    def company(self) -> str | None: ...
    @property
    def role(self) -> str | None: ...
    @property
    def reasons(self) -> tuple[str, ...]: ...


class Classifier(Protocol):
    version: str

    def classify(self, messages: Sequence[ParsedMessage]) -> Sequence[Verdict]: ...


# Called inside the batch's transaction for each new rejection: (store, rejection id, message, record).
RejectionHook = Callable[[Store, int, ParsedMessage, Record], None]


class Progress(Protocol):
    def total(self, n: int) -> None: ...
    def advance(self, n: int) -> None: ...


class NoProgress:
    def total(self, n: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


@dataclass
class Summary:
    seen: int = 0
    new: int = 0
    rejections: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def add(self, other: Summary) -> None:
        self.seen += other.seen
        self.new += other.new
        self.rejections += other.rejections
        self.errors += other.errors

    def line(self) -> str:
        secs = self.seconds
        rate = f" ({self.seen / secs:,.0f} msg/s)" if secs > 0 and self.seen else ""
        return (
            f"{self.seen:,} messages seen, {self.new:,} new, {self.rejections:,} rejections found, "
            f"{self.errors:,} errors in {secs:.1f}s{rate}"
        )


@dataclass
class Processor:
    store: Store
    classifier: Classifier
    hooks: Sequence[RejectionHook] = ()
    dry_run: bool = False
    store_text: bool = False
    since: date | None = None
    own_addresses: frozenset[str] = frozenset()  # the user's own: what they send is never a rejection

    def process(
        self, raws: Sequence[RawMessage], *, folder_state: tuple[str, str, int, int] | None
    ) -> Summary:
        """Process one batch; `folder_state` (account, folder, uidvalidity, last_uid) is saved with it."""
        parsed, errors = parse_batch(raws, self.since)
        keys = [m.dedupe_key() for _, m in parsed]
        known = self.store.known_keys(keys)
        fresh = [parsed[i] for i in _new_once(keys, known)]
        verdicts = self.classifier.classify([m for _, m in fresh]) if fresh else []
        records = [(self._record(raw, msg, v), msg) for (raw, msg), v in zip(fresh, verdicts, strict=True)]
        moved = [(key, raw) for key, (raw, _) in zip(keys, parsed, strict=True) if key in known]
        return self._commit(len(raws), records, moved, errors, folder_state)

    def commit_analysis(
        self, analysis: Analysis, *, folder_state: tuple[str, str, int, int] | None
    ) -> Summary:
        """Store a batch that a worker process parsed and classified: only what is new is added."""
        keys = [item.record.dedupe_key for item in analysis.items]
        known = self.store.known_keys(keys)
        records = [(analysis.items[i].record, analysis.items[i].message) for i in _new_once(keys, known)]
        moved = [(key, item.location) for key, item in zip(keys, analysis.items, strict=True) if key in known]
        return self._commit(analysis.seen, records, moved, analysis.errors, folder_state)

    def _commit(
        self,
        seen: int,
        records: Sequence[tuple[Record, ParsedMessage | None]],
        moved: Sequence[tuple[str, RawMessage]],
        errors: Sequence[ErrorRecord],
        folder_state: tuple[str, str, int, int] | None,
    ) -> Summary:
        """One transaction: new records with their follow-ups, relocations, errors and the folder state."""
        summary = Summary(seen=seen, new=len(records), errors=len(errors),
                          rejections=sum(rec.label == "rejection" for rec, _ in records))
        if self.dry_run:
            return summary
        with self.store.transaction():
            for rec, msg in records:
                rejection_id = self.store.add_record(rec)
                if rejection_id is not None and msg is not None:
                    for hook in self.hooks:
                        hook(self.store, rejection_id, msg, rec)
            for key, raw in moved:  # after a UIDVALIDITY change: known mail, new UIDs
                self.store.relocate(key, raw.account, raw.folder, raw.uidvalidity, raw.uid)
            for err in errors:
                self.store.add_error(err)
            if folder_state is not None:
                self.store.set_folder_state(*folder_state)
        for err in errors:
            log.warning("%s/%s UID %d: skipped: %s", err.account, err.folder, err.uid, err.error)
        return summary

    def _record(self, raw: RawMessage, msg: ParsedMessage, verdict: Verdict) -> Record:
        return make_record(raw, msg, verdict, model_version=self.classifier.version,
                           own_addresses=self.own_addresses, store_text=self.store_text)


def make_record(
    raw: RawMessage, msg: ParsedMessage, verdict: Verdict, *, model_version: str,
    own_addresses: frozenset[str], store_text: bool,
) -> Record:
    """What is stored of a classified message."""
    # a "no" the user wrote (declining an offer, a copy in Sent) is not someone rejecting them
    rejection = verdict.label == "rejection" and msg.sender_address not in own_addresses
    return Record(
        dedupe_key=msg.dedupe_key(),
        account=raw.account,
        folder=raw.folder,
        uidvalidity=raw.uidvalidity,
        uid=raw.uid,
        message_id=msg.message_id,
        sender=msg.sender,
        reply_to=msg.reply_to,
        subject=msg.subject,
        date=msg.date.isoformat() if msg.date else None,
        in_reply_to=msg.in_reply_to,
        refs=" ".join(msg.references),
        label="rejection" if rejection else "not_rejection",
        score=round(float(verdict.score), 4),
        model_version=model_version,
        text=msg.full_text if store_text else None,
        company=verdict.company if rejection else None,
        role=verdict.role if rejection else None,
        kind=verdict.kind if rejection else None,
        stage=verdict.stage if rejection else None,
        reasons=tuple(verdict.reasons) if rejection else (),
    )


def _new_once(keys: Sequence[str], known: set[str]) -> list[int]:
    """Positions of the keys not stored yet, each key once (a batch may hold a message twice)."""
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key not in known:
            first.setdefault(key, i)
    return list(first.values())


def parse_batch(
    raws: Sequence[RawMessage], since: date | None = None
) -> tuple[list[tuple[RawMessage, ParsedMessage]], list[ErrorRecord]]:
    """Parse a batch: (location, parsed) pairs dated on or after `since`, and the unparseable ones."""
    parsed: list[tuple[RawMessage, ParsedMessage]] = []
    errors: list[ErrorRecord] = []
    for raw in raws:
        try:
            msg = parse(raw.data)
        except ParseError as exc:
            errors.append(ErrorRecord(raw.account, raw.folder, raw.uidvalidity, raw.uid, None, str(exc)))
            continue
        if since and msg.date and msg.date.date() < since:
            continue
        location = RawMessage(raw.account, raw.folder, raw.uidvalidity, raw.uid, b"", raw.truncated)
        parsed.append((location, msg))
    return parsed, errors


# -- a worker process for backfills: parses and classifies while the parent fetches and stores -------


@dataclass(frozen=True)
class Analysed:
    location: RawMessage  # without its bytes
    record: Record
    message: ParsedMessage | None  # kept for rejections only: their follow-ups need it


@dataclass(frozen=True)
class Analysis:
    seen: int
    items: list[Analysed]
    errors: list[ErrorRecord]


@dataclass(frozen=True)
class WorkerSetup:
    model_dir: Path | None
    own_addresses: frozenset[str]
    store_text: bool


_WORKER: tuple[Classifier, WorkerSetup] | None = None


def _init_worker(setup: WorkerSetup) -> None:
    global _WORKER
    from .classifier import Classifier as ModelClassifier

    _WORKER = (ModelClassifier.load(setup.model_dir), setup)


def _ready() -> bool:
    return _WORKER is not None


def analyze(raws: Sequence[RawMessage], since: date | None) -> Analysis:
    """In the worker: parse and classify a batch into records (the database stays the parent's)."""
    if _WORKER is None:
        raise RuntimeError("analyze() runs in the worker of analysis_pool()")
    classifier, setup = _WORKER
    parsed, errors = parse_batch(raws, since)
    verdicts = classifier.classify([m for _, m in parsed]) if parsed else []
    items = []
    for (raw, msg), verdict in zip(parsed, verdicts, strict=True):
        rec = make_record(raw, msg, verdict, model_version=classifier.version,
                          own_addresses=setup.own_addresses, store_text=setup.store_text)
        items.append(Analysed(raw, rec, msg if rec.label == "rejection" else None))
    return Analysis(len(raws), items, errors)


def analysis_pool(settings: Settings) -> ProcessPoolExecutor:
    """One worker process, started (and its model loaded) at once, while the parent connects."""
    pool = ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("forkserver"), initializer=_init_worker,
        initargs=(WorkerSetup(settings.model_dir, own_addresses(settings), settings.store_text),),
    )
    pool.submit(_ready)
    return pool


def _chunks(items: Iterable[RawMessage], size: int) -> Iterator[list[RawMessage]]:
    chunk: list[RawMessage] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def process_local(
    processor: Processor, path: Path, fmt: str, *, progress: Progress | None = None, batch_size: int = 500
) -> Summary:
    """Backfill an mbox file or Maildir; resumes after the last committed message."""
    progress = progress or NoProgress()
    folder = str(Path(path).expanduser().resolve())
    state = processor.store.folder_state(local.LOCAL_ACCOUNT, folder)
    start = state.last_uid + 1 if state else 1
    reader = local.iter_mbox if fmt == "mbox" else local.iter_maildir
    total = Summary()
    for chunk in _chunks(reader(Path(path), start), batch_size):
        part = processor.process(chunk, folder_state=(local.LOCAL_ACCOUNT, folder, 0, chunk[-1].uid))
        total.add(part)
        progress.advance(len(chunk))
    total.finished = time.monotonic()
    return total


def process_account(
    processor: Processor,
    account: Account,
    *,
    folders: Sequence[str] | None = None,
    client_factory: ClientFactory = default_client_factory,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] = lambda: False,
    session: ImapSession | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> Summary:
    """One incremental pass over an account's folders; reconnects (in with_reconnect) and resumes.

    With a `pool` (analysis_pool), a worker process parses and classifies each batch while the next
    one downloads; batches are still committed one at a time, in UID order.
    """
    progress = progress or NoProgress()
    session = session or ImapSession(account, client_factory)
    total = Summary()

    def done(part: Summary, batch: Batch) -> None:
        total.add(part)
        progress.advance(len(batch.messages))

    def work(s: ImapSession) -> None:
        for folder in folders or account.folders:
            if should_stop():
                return
            state = processor.store.folder_state(account.name, folder)
            after = state.last_uid if state else 0
            expect = state.uidvalidity if state else None
            pending: deque[tuple[Batch, Future[Analysis]]] = deque()
            try:
                for batch in s.batches(folder, after, expect, processor.since):
                    where = (account.name, folder, batch.uidvalidity, batch.last_uid)
                    if pool is None:
                        done(processor.process(batch.messages, folder_state=where), batch)
                    else:
                        pending.append((batch, pool.submit(analyze, batch.messages, processor.since)))
                        while len(pending) > PIPELINE_DEPTH:
                            _commit_oldest(processor, pending, account.name, folder, done)
                    if should_stop():
                        break
                while pending:  # what was fetched is finished and stored, also when stopping
                    _commit_oldest(processor, pending, account.name, folder, done)
            finally:
                for _, future in pending:  # after an error: dropped; the next pass fetches them again
                    future.cancel()
            if should_stop():
                return

    try:
        with_reconnect(session, work, sleep=sleep, should_stop=should_stop)
    finally:
        if session.client is not None:
            session.close()
    total.finished = time.monotonic()
    return total


PIPELINE_DEPTH = 2  # batches being analysed ahead of the one being committed


def _commit_oldest(
    processor: Processor, pending: deque[tuple[Batch, Future[Analysis]]], account: str, folder: str,
    done: Callable[[Summary, Batch], None],
) -> None:
    batch, future = pending.popleft()
    where = (account, folder, batch.uidvalidity, batch.last_uid)
    done(processor.commit_analysis(future.result(), folder_state=where), batch)


def build_processor(
    settings: Settings, store: Store, classifier: Classifier, *, dry_run: bool = False,
    since: date | None = None,
) -> Processor:
    return Processor(
        store=store,
        classifier=classifier,
        hooks=default_hooks(settings),
        dry_run=dry_run,
        store_text=settings.store_text,
        since=since,
        own_addresses=own_addresses(settings),
    )


def own_addresses(settings: Settings) -> frozenset[str]:
    """The user's addresses: [user] email and every account login that is an address."""
    found = {settings.user_email} | {a.username for a in settings.accounts}
    return frozenset(a.strip().lower() for a in found if "@" in a)


def default_hooks(settings: Settings) -> list[RejectionHook]:
    """Follow-ups planned for each new rejection (drafts, reminders), in the batch's transaction."""
    from .followups import rejection_hooks

    return list(rejection_hooks(settings))
