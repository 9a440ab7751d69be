"""Load the shipped model, check its metadata, and classify parsed messages (with reasons and extraction)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import extract
from .features import BLOCKS, Features
from .messages import ParsedMessage, ParseError, parse, sender_of, split_reply

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MODEL_FILE = "rejection-model.joblib"
META_FILE = "rejection-model.json"
KINDS = ("job", "pitch", "investor", "client", "academic", "program")
N_REASONS = 4
EXPLAIN_ABOVE = 0.02  # reasons are given for rejections and for mail scoring at least this


@dataclass(frozen=True)
class Verdict:
    label: str  # "rejection" | "not_rejection"
    score: float  # calibrated probability of rejection
    kind: str | None = None  # job|pitch|investor|client|academic|program; None when not a rejection
    stage: str | None = None  # application|interview for job rejections, else None
    company: str | None = None
    role: str | None = None
    reasons: tuple[str, ...] = ()  # the few phrases that weighed most; () for mail scoring under 0.02


@dataclass(frozen=True)
class Details:
    kind: str
    stage: str | None
    company: str | None
    role: str | None


class ModelError(Exception):
    """The model is missing, corrupt or made by an incompatible version; the message says to retrain."""


def default_model_dir() -> Path:
    env = os.environ.get("WATCHER_MODEL_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parent.parent / "models"


# ------------------------------------------------------------------------------------ training records


def record_to_message(rec: dict[str, Any]) -> ParsedMessage:
    """A training_data record as the ParsedMessage production would build (same split of the body)."""
    sender = rec.get("from") or ""
    name, address = sender_of(sender)  # as parse() reads a From header ("Office of X, Y <a@y.edu>")
    text, quoted, signature = split_reply((rec.get("body") or "").replace("\r\n", "\n"))
    date = None
    if rec.get("date"):
        try:
            date = parsedate_to_datetime(rec["date"])
        except (TypeError, ValueError, IndexError):
            date = None
    return ParsedMessage(
        message_id=f"<{rec.get('id', '')}@training>",
        sender=sender,
        sender_name=name,
        sender_address=address.lower(),
        reply_to=rec.get("reply_to"),
        to="",
        subject=rec.get("subject") or "",
        date=date,
        in_reply_to=None,
        references=(),
        text=text,
        quoted=quoted,
        signature=signature,
    )


# ------------------------------------------------------------------------------------------ loading


def _sklearn_version() -> str:
    """The installed scikit-learn's version, read without importing it (that alone takes ~0.7 s)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scikit-learn")
    except PackageNotFoundError:
        return "not installed"


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Classifier:
    """The trained model: rejection score, kind and stage models, and rules for company and role."""

    def __init__(self, model: dict[str, Any], meta: dict[str, Any]) -> None:
        self.model = model
        self.meta = meta
        # the model file's own hash: the same data trained by different code is a different model
        fingerprint = str(meta.get("model_sha256") or meta.get("data_sha256", ""))[:12]
        self.version = f"{meta.get('trained_at', '?')}+{fingerprint}"
        self.threshold = float(model["threshold"])
        self._features: Features = model["features"]
        if not isinstance(self._features, Features) or list(self._features.vectorizers) != list(BLOCKS):
            raise ValueError("its features do not match this version of watcher")
        self._coef = np.asarray(model["coef"], dtype=np.float64).ravel()
        self._intercept = float(model["intercept"])
        self._platt = tuple(model["platt"])
        self._kind = model.get("kind_model")
        self._stage = model.get("stage_model")
        self._reason_names: dict[int, str] = model.get("reason_names", {})
        self._is_reason = np.zeros(len(self._coef), dtype=bool)
        self._is_reason[list(self._reason_names)] = True

    @classmethod
    def load(cls, model_dir: Path | None = None) -> Classifier:
        """Read and check model + metadata; any problem is a one-line ModelError saying to retrain."""
        started = time.perf_counter()
        model_dir = Path(model_dir).expanduser() if model_dir else default_model_dir()
        model_path, meta_path = model_dir / MODEL_FILE, model_dir / META_FILE
        fix = "run `watcher train` to build it"
        if not model_path.is_file() or not meta_path.is_file():
            raise ModelError(f"no model in {model_dir} ({MODEL_FILE} and {META_FILE} needed); {fix}")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise ModelError(f"model metadata {meta_path} is unreadable ({exc}); {fix}") from None
        fmt = meta.get("format_version")
        if fmt != FORMAT_VERSION:
            raise ModelError(
                f"model in {model_dir} has format version {fmt}, this watcher reads version "
                f"{FORMAT_VERSION}; {fix} again"
            )
        made_with = str(meta.get("sklearn_version", "?"))
        if _major_minor(made_with) != _major_minor(_sklearn_version()):
            raise ModelError(
                f"model in {model_dir} was made with scikit-learn {made_with}, this is {_sklearn_version()}; "
                f"{fix} again"
            )
        expected = meta.get("model_sha256")
        if expected and file_sha256(model_path) != expected:
            raise ModelError(f"model file {model_path} does not match its metadata (corrupt or partly "
                             f"written); {fix} again")
        try:
            import joblib

            model = joblib.load(model_path)
            if not isinstance(model, dict) or model.get("format_version") != FORMAT_VERSION:
                raise ValueError("unexpected content")
            classifier = cls(model, meta)
        except Exception as exc:  # unpickling a damaged file fails in many ways
            raise ModelError(f"model file {model_path} cannot be loaded ({type(exc).__name__}: {exc})"[:300]
                             + f"; {fix} again") from None
        log.debug("loaded model %s in %.3fs", classifier.version, time.perf_counter() - started)
        return classifier

    # ------------------------------------------------------------------------------------ predict

    def transform(self, messages: Sequence[ParsedMessage]) -> Any:
        return self._features.transform_messages(messages)

    def scores(self, X: Any) -> np.ndarray:
        decision = np.asarray(X @ self._coef).ravel() + self._intercept
        a, b = self._platt
        return np.asarray(1.0 / (1.0 + np.exp(-(a * decision + b))))

    def classify(self, messages: Sequence[ParsedMessage]) -> list[Verdict]:
        """Verdicts for a batch, in order."""
        if not messages:
            return []
        X = self.transform(messages)
        scores = self.scores(X)
        rows = np.flatnonzero(scores >= self.threshold)
        found = dict(zip(rows.tolist(), self._details(messages, X, rows), strict=True))
        verdicts = []
        for i in range(len(messages)):
            det = found.get(i)
            verdicts.append(Verdict(
                label="rejection" if det else "not_rejection",
                score=round(float(scores[i]), 4),
                kind=det.kind if det else None,
                stage=det.stage if det else None,
                company=det.company if det else None,
                role=det.role if det else None,
                # nothing to explain for mail that is clearly not a rejection
                reasons=self._reasons(X, i, det is not None) if scores[i] >= EXPLAIN_ABOVE else (),
            ))
        return verdicts

    def details(self, messages: Sequence[ParsedMessage]) -> list[Details]:
        """Kind, stage, company and role of every message, as if each were a rejection."""
        if not messages:
            return []
        return self._details(messages, self.transform(messages), np.arange(len(messages)))

    def _details(self, messages: Sequence[ParsedMessage], X: Any, rows: np.ndarray) -> list[Details]:
        if not rows.size:
            return []
        Xr = X[rows]
        kind_pred = self._kind.predict(Xr) if self._kind is not None else None
        stage_prob = self._stage.proba(Xr)[:, 1] if self._stage is not None else None
        out = []
        for j, i in enumerate(rows.tolist()):
            msg = messages[i]
            kind = str(kind_pred[j]) if kind_pred is not None else extract.kind(msg)
            stage = None
            if kind == "job":
                prob = None if stage_prob is None else float(stage_prob[j])
                stage = combine_stage(extract.stage(msg), prob)
            role = extract.role(msg) if kind == "job" else None
            out.append(Details(kind, stage, extract.company(msg, kind), role))
        return out

    def _reasons(self, X: Any, i: int, rejected: bool) -> tuple[str, ...]:
        lo, hi = X.indptr[i], X.indptr[i + 1]
        idx = X.indices[lo:hi]
        keep = self._is_reason[idx]
        if not keep.any():
            return ()
        idx = idx[keep]
        contrib = X.data[lo:hi][keep] * self._coef[idx] * (1.0 if rejected else -1.0)
        out: list[str] = []
        for k in np.argsort(-contrib)[: N_REASONS * 3]:
            if contrib[k] <= 0:
                break
            name = self._reason_names[int(idx[k])]
            if not any(name in o or o in name for o in out):
                out.append(name)
                if len(out) == N_REASONS:
                    break
        return tuple(out)


STAGE_RULE_WEIGHT = 0.25  # the rules nudge the stage model; it overrides them only when confident


def combine_stage(rule: str, prob: float | None) -> str:
    """The stage model's probability, nudged by the interview cues the rules found."""
    if prob is None:
        return rule
    p = prob + (STAGE_RULE_WEIGHT * (1 - prob) if rule == "interview" else -STAGE_RULE_WEIGHT * prob)
    return "interview" if p >= 0.5 else "application"


# ----------------------------------------------------------------------------------- files & CLI


@dataclass(frozen=True)
class FileResult:
    source: str
    message_id: str | None
    verdict: Verdict | None
    subject: str = ""
    sender: str = ""
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "message_id": self.message_id}
        if self.verdict is not None:
            out.update(asdict(self.verdict))
            out["reasons"] = list(self.verdict.reasons)
            out["subject"] = self.subject
            out["from"] = self.sender
        else:
            out.update(label=None, error=self.error)
        return out

    def line(self) -> str:
        if self.verdict is None:
            return f"{self.source}: error: {self.error}"
        v = self.verdict
        if v.label != "rejection":
            return f"{self.source}: not_rejection ({v.score:.2f}) {self.subject[:70]}"
        what = ", ".join(x for x in (v.kind, v.stage, v.company, v.role) if x)
        return f"{self.source}: rejection ({v.score:.2f}) [{what}] {self.subject[:70]}"

    def json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False)


def classify_paths(classifier: Classifier, paths: Iterable[Path], batch: int = 500) -> Iterator[FileResult]:
    """Classify .eml files, directories of them and mbox files; unparseable mail gives an error result."""
    from .sources.local import iter_eml

    pending: list[tuple[str, ParsedMessage]] = []

    def flush() -> Iterator[FileResult]:
        if not pending:
            return
        verdicts = classifier.classify([m for _, m in pending])
        for (source, msg), verdict in zip(pending, verdicts, strict=True):
            yield FileResult(source, msg.message_id, verdict, msg.subject, msg.sender)
        pending.clear()

    for source, data in iter_eml(list(paths)):
        try:
            pending.append((source, parse(data)))
        except ParseError as exc:
            yield from flush()  # keep the output in input order
            yield FileResult(source, None, None, error=str(exc))
            continue
        if len(pending) >= batch:
            yield from flush()
    if pending:
        yield from flush()
