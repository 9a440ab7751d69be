"""The model's parts: message -> TF-IDF rows (new text, sender tokens, quoted text) and linear models.

A small vectorizer of our own instead of scikit-learn's: same TF-IDF maths (smooth idf, sublinear tf, l2
rows), but tokens are looked up with one dict.get each, which makes classification several times faster.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from .messages import ParsedMessage

MAIN_CHARS = 2500  # subject + new text (and signature) fed to the word features
QUOTED_CHARS = 1200
_TOKEN = re.compile(r"\w[\w'’]*")
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|antw|r|rv|res|fwd?|wg|tr)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
BLOCKS = ("main", "meta", "quoted")


def sender_tokens(msg: ParsedMessage) -> str:
    """Sender name words, domain labels and a few header flags, as prefixed tokens."""
    from .extract import is_ats

    tokens = [f"n:{w}" for w in _TOKEN.findall(msg.sender_name.lower())[:8]]
    local, _, domain = msg.sender_address.rpartition("@")
    tokens += [f"d:{label}" for label in domain.split(".") if label]
    if is_ats(domain):
        tokens.append("f:ats")
    if re.search(r"no.?reply|do.?not.?reply", local):
        tokens.append("f:noreply")
    if _REPLY_PREFIX.match(msg.subject):
        tokens.append("f:reply")
    if msg.quoted:
        tokens.append("f:quoted")
    if not msg.text:
        tokens.append("f:empty")
    return " ".join(tokens)


def message_texts(msg: ParsedMessage) -> tuple[str, str, str]:
    """(subject + new text, sender tokens, quoted text): the three inputs of the model."""
    main = f"{msg.subject}\n{msg.full_text}"[:MAIN_CHARS]
    return main, sender_tokens(msg), msg.quoted[:QUOTED_CHARS]


def word_terms(text: str, ngrams: int = 2) -> list[str]:
    tokens = _TOKEN.findall(text.lower())
    if ngrams < 2:
        return tokens
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]


def split_terms(text: str, ngrams: int = 1) -> list[str]:
    return text.split()


class TermVectorizer:
    """TF-IDF over word n-grams (or whitespace tokens), fitted deterministically."""

    def __init__(self, *, ngrams: int = 2, split: bool = False, min_df: int = 2, max_df: float = 1.0,
                 max_features: int | None = None) -> None:
        self.ngrams = ngrams
        self.split = split
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.vocabulary_: dict[str, int] = {}
        self.idf_: np.ndarray = np.zeros(0)

    def terms(self, text: str) -> list[str]:
        return text.split() if self.split else word_terms(text, self.ngrams)

    def fit(self, texts: Sequence[str]) -> TermVectorizer:
        df: Counter[str] = Counter()
        tf: Counter[str] = Counter()
        for text in texts:
            terms = self.terms(text)
            tf.update(terms)
            df.update(set(terms))
        n = len(texts)
        keep = [t for t, d in df.items() if d >= self.min_df and d <= self.max_df * n]
        if self.max_features is not None and len(keep) > self.max_features:
            keep = sorted(keep, key=lambda t: (-tf[t], t))[: self.max_features]
        self.vocabulary_ = {t: i for i, t in enumerate(sorted(keep))}
        self.idf_ = np.array(
            [math.log((1 + n) / (1 + df[t])) + 1.0 for t in sorted(keep)], dtype=np.float64
        )
        return self

    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:
        get = self.vocabulary_.get
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for text in texts:
            counts = Counter(i for i in map(get, self.terms(text)) if i is not None)
            indices.extend(counts.keys())
            data.extend(counts.values())
            indptr.append(len(indices))
        ind = np.asarray(indices, dtype=np.int32)
        tfv = np.asarray(data, dtype=np.float64)
        if tfv.size:
            tfv = (1.0 + np.log(tfv)) * self.idf_[ind]
        matrix = sp.csr_matrix((tfv, ind, np.asarray(indptr, dtype=np.int64)),
                               shape=(len(indptr) - 1, len(self.vocabulary_)))
        return _l2_rows(matrix)

    def feature_names(self) -> list[str]:
        names = [""] * len(self.vocabulary_)
        for term, i in self.vocabulary_.items():
            names[i] = term
        return names


def _l2_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    if not matrix.nnz:
        return matrix
    squares = matrix.data**2
    lengths = np.diff(matrix.indptr)
    sums = np.zeros(matrix.shape[0])
    nonempty = lengths > 0
    sums[nonempty] = np.add.reduceat(squares, matrix.indptr[:-1][nonempty])
    norms = np.sqrt(sums)
    norms[norms == 0] = 1.0
    matrix.data /= np.repeat(norms, lengths)
    return matrix


class Features:
    """The three blocks side by side, each l2-normalised and weighted: X = [main | meta | quoted]."""

    def __init__(self, weights: dict[str, float] | None = None, max_features: int = 80_000) -> None:
        self.weights = weights or {"main": 1.0, "meta": 0.5, "quoted": 0.3}
        self.vectorizers: dict[str, TermVectorizer] = {
            "main": TermVectorizer(ngrams=2, min_df=2, max_df=0.9, max_features=max_features),
            "meta": TermVectorizer(split=True, min_df=2),
            "quoted": TermVectorizer(ngrams=2, min_df=2, max_df=0.9, max_features=max_features // 4),
        }

    def fit(self, rows: Sequence[tuple[str, str, str]], y: Any = None) -> Features:
        for k, name in enumerate(BLOCKS):
            self.vectorizers[name].fit([r[k] for r in rows])
        return self

    def transform(self, rows: Sequence[tuple[str, str, str]]) -> sp.csr_matrix:
        blocks = []
        for k, name in enumerate(BLOCKS):
            block = self.vectorizers[name].transform(r[k] for r in rows)
            weight = self.weights.get(name, 1.0)
            if weight != 1.0:
                block.data *= weight
            blocks.append(block)
        return sp.hstack(blocks, format="csr")

    def fit_transform(self, rows: Sequence[tuple[str, str, str]], y: Any = None) -> sp.csr_matrix:
        return self.fit(rows).transform(rows)

    def feature_names(self) -> list[str]:
        return [f"{name}__{term}" for name in BLOCKS for term in self.vectorizers[name].feature_names()]

    def transform_messages(self, messages: Sequence[ParsedMessage]) -> sp.csr_matrix:
        return self.transform([message_texts(m) for m in messages])


class Linear:
    """A fitted linear model reduced to numpy arrays (so loading the model never imports scikit-learn)."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: Sequence[Any]) -> None:
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64).ravel()
        self.classes = list(classes)

    @classmethod
    def from_sklearn(cls, model: Any) -> Linear:
        return cls(model.coef_, model.intercept_, model.classes_.tolist())

    def decision(self, X: Any) -> np.ndarray:
        return np.asarray(X @ self.coef.T) + self.intercept

    def proba(self, X: Any) -> np.ndarray:
        """Class probabilities as scikit-learn's LogisticRegression gives them (sigmoid or softmax)."""
        d = self.decision(X)
        if d.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-d[:, 0]))
            return np.column_stack([1 - p, p])
        d = d - d.max(axis=1, keepdims=True)
        e = np.exp(d)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    def predict(self, X: Any) -> list[Any]:
        return [self.classes[i] for i in self.proba(X).argmax(axis=1)]
