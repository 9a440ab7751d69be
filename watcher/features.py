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
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|antw|r|rv|res|fwd?|wg|tr)\s*(?:\[\d+\])?\s*:\s*)+",
                           re.IGNORECASE)
BLOCKS = ("main", "meta", "quoted", "cues")


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


# Phrases that say "no" or "not a no", in the languages we read. Each found phrase becomes a token
# ("c:other_candidates"; "q:..." when it is in the quoted thread), so the model can learn them from few
# examples and still see a reply that only quotes a rejection for what it is.
CUES: dict[str, str] = {
    "not_moving": r"(?:not|n't|won't|unable to)\s+(?:be\s+)?(?:moving|move|going|proceed\w*|progress\w*|advanc\w*|"
                  r"tak\w+\s+(?:it|this|your)\w*|continu\w*)(?:\s+(?:forward|ahead|further|any\s+further))?",
    "other_candidates": r"(?:other|another|different|stronger|more\s+experienced)\s+(?:candidate|applicant|"
                        r"submission|proposal|vendor|agency|partner|direction|finalist)s?|more\s+closely\s+(?:match|"
                        r"align)|(?:decided|chose|chosen|opted|elected)\s+to\s+(?:go|move|proceed|continue|"
                        r"work|pursue)\s+(?:forward\s+)?with",
    "regret": r"\b(?:unfortunately|regrettably|regret|sadly|afraid|sorry\s+to\s+(?:say|tell|let|inform))\b",
    "not_selected": r"\bnot\s+(?:been\s+)?(?:selected|successful|chosen|shortlisted|accepted|funded|invited|"
                    r"(?:a|the)\s+(?:good\s+|right\s+|strong\s+)?(?:fit|match)|right\s+for\s+us|for\s+us|"
                    r"able\s+to\s+(?:offer|accept|fund|support|include|move|progress|invite|take|extend))|"
                    r"\bunsuccessful\b|\bdecided\s+(?:not|against)\b|\bdeclin(?:e|ed|ing)\s+(?:your|the|this|to)\b",
    "pass": r"\b(?:we(?:'ll|\s+will|'re\s+going\s+to|\s+are\s+going\s+to)|going\s+to|have\s+to|decided\s+to)"
            r"\s+pass\b|\bpass\s+(?:on|for\s+now|this\s+time)\b|\bnot\s+(?:be\s+)?(?:investing|participat\w+|"
            r"publish\w*|run\w*|feature\w*|proceed\w*|accept\w*|mov\w+)\b",
    "filled": r"\b(?:position|role|vacancy|opening|job)\s+(?:has\s+been|was|is\s+now|have\s+been)\s+"
              r"(?:filled|closed|cancelled)|\bfilled\s+(?:the|this)\s+(?:role|position)|internal\s+candidate",
    "future": r"\b(?:keep\s+your\s+(?:resume|cv|details|information|profile)|on\s+file|future\s+(?:openings|"
              r"opportunities|roles|positions|vacancies|rounds|cohorts|calls)|talent\s+(?:pool|community|network)|"
              r"(?:re)?apply\s+(?:again\s+)?in\s+the\s+future|encourage\s+you\s+to\s+(?:re)?apply)",
    "luck": r"\b(?:best\s+of\s+luck|good\s+luck|wish\s+you\s+(?:the\s+best|every\s+success|all\s+the\s+best|"
            r"luck|success|well)|success\s+in\s+your\s+(?:search|job\s+search|future))",
    "volume": r"\b(?:high|large|overwhelming|record)\s+(?:number|volume)\s+of|\bmany\s+(?:strong|qualified|"
              r"talented|excellent)|\bhighly\s+competitive|\bdifficult\s+decision|\bunable\s+to\s+provide\s+"
              r"(?:individual\s+|specific\s+|detailed\s+)?feedback",
    "foreign_no": r"\b(?:leider|absage|nicht\s+(?:berücksichtigen|weiter|in\s+die\s+engere|für\s+sie)|"
                  r"anderen?\s+(?:bewerber|kandidat)|keine\s+positive|malheureusement|(?:pas|ne)\s+(?:été\s+)?"
                  r"retenu|pas\s+donner\s+suite|ne\s+pas\s+poursuivre|autres?\s+candidat|lamentablemente|"
                  r"desafortunadamente|no\s+ha(?:s|mos)?\s+sido\s+seleccionad|no\s+(?:continuar|avanzar|seguir)|"
                  r"otros?\s+candidat|otra\s+candidatura|helaas|niet\s+(?:verder|geselecteerd|door|gekozen)|"
                  r"afgewezen|andere\s+kandida|infelizmente|não\s+(?:foi|fomos|seguir|avançar|selecionad)|"
                  r"outros?\s+candidat)",
    "invite": r"\b(?:(?:invite|inviting)\s+you|like\s+to\s+(?:invite|schedule|set\s+up|arrange|chat|talk|"
              r"speak|meet|move\s+you|offer)|love\s+to\s+(?:chat|talk|meet|set\s+up|have\s+you|schedule)|"
              r"next\s+(?:step|round|stage)|move\s+(?:you\s+)?forward\s+(?:to|with\s+your)|pleased\s+to|"
              r"happy\s+to\s+(?:invite|offer|share|confirm|let\s+you\s+know)|excited\s+to|congratulations|"
              r"congrats|delighted|einladen|einladung|inviter|invitation|invitarte|invitación|uitnodig|convid)",
    "schedule": r"\b(?:reschedul\w*|availability|calendar|time\s+slots?|zoom|google\s+meet|teams\s+link|"
                r"postpone\w*|interviewer\s+(?:is|has\s+been|was)|(?:is|has\s+been)\s+(?:ill|sick|unwell)|"
                r"new\s+time|confirm\s+(?:a|the|your)\s+(?:time|slot))",
    "offer": r"\b(?:offer\s+letter|(?:formal|verbal|written)\s+offer|start\s+date|compensation|salary|"
             r"onboarding|welcome\s+(?:to\s+the\s+team|aboard)|your\s+first\s+day|sign\s+(?:the|your)\s+"
             r"(?:offer|contract))",
    "received": r"\b(?:(?:received|receipt\s+of|we\s+have)\s+your\s+(?:application|submission|proposal|cv|"
                r"resume)|thank\s+you\s+for\s+(?:applying|your\s+application)|will\s+(?:review|be\s+in\s+"
                r"touch|get\s+back|contact\s+you|reach\s+out)|(?:don't|do\s+not|not)\s+hear\s+(?:back\s+)?"
                r"from\s+us|under\s+review|currently\s+reviewing|eingegangen|bien\s+reçu|hemos\s+recibido|"
                r"ontvangen|recebemos)",
    "assessment": r"\b(?:assessment|coding\s+(?:challenge|test|exercise)|hackerrank|codility|complete\s+(?:the|"
                  r"this|your|a)\s+\w+|within\s+\d+\s+(?:days|hours)|questionnaire)",
    "user_declines": r"\bi(?:'ve|\s+have)?\s+(?:decided|chosen)\s+to\s+(?:decline|withdraw|accept|pursue|go|"
                     r"stay|take)|\bi\s+(?:must|will\s+have\s+to|have\s+to|need\s+to|'ll\s+have\s+to)\s+"
                     r"(?:decline|withdraw|pass)|\baccepted\s+(?:another|a\s+different|an?\s+other)\s+"
                     r"(?:offer|role|position)|\bwithdraw\s+my\s+(?:application|candidacy)|"
                     r"\bnot\s+(?:looking|interested)\s+(?:for|in)\s+(?:new|a\s+new|other)",
    "commiserate": r"\b(?:so\s+sorry\s+(?:to\s+hear|about)|sorry\s+to\s+hear|that\s+sucks|their\s+loss|"
                   r"hugs|proud\s+of\s+you|you'll\s+find|you\s+will\s+find|rooting\s+for\s+you|"
                   r"thinking\s+of\s+you|chin\s+up)",
    "accepted": r"\b(?:accepted\s+(?:for|to|into)|acceptance|selected\s+(?:for|to\s+(?:join|present|speak|"
                r"receive))|we(?:'d|\s+would)\s+(?:love|like)\s+to\s+(?:publish|feature|run|have\s+you|"
                r"include)|award(?:ed)?\s+you|pleased\s+to\s+(?:accept|inform\s+you\s+that\s+your))",
    "revise": r"\b(?:revise\s+and\s+resubmit|major\s+revision|minor\s+revision|resubmi\w+|revised\s+"
              r"(?:manuscript|version|draft))",
    "bulk": r"\b(?:unsubscribe|newsletter|view\s+(?:it\s+)?in\s+(?:your\s+)?browser|manage\s+"
            r"(?:your\s+)?(?:preferences|subscription)|webinar|read\s+more)",
}
_CUE_RE = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in CUES.items()), re.IGNORECASE)
_NO_CUES = frozenset({"not_moving", "other_candidates", "regret", "not_selected", "pass", "filled", "foreign_no"})
# What the message is about: a "no" about a job or a pitch is a rejection; about a raffle or an order, not.
CONTEXTS: dict[str, str] = {
    "job": r"\b(?:applica\w*|appl(?:y|ied|ying)|position|role|candida\w*|interview\w*|hiring|recruit\w*|jobs?|"
           r"vacanc\w+|opening|bewerb\w*|stelle|poste|puesto|vaga|sollicit\w*|functie|vacature)\b",
    "pitch": r"\b(?:pitch\w*|editor\w*|publication|publish\w*|essay|piece|story|article|podcast|episode|talk|"
             r"cfp|speakers?|query|anthology|submission)\b",
    "money": r"\b(?:invest\w*|fund|funds|fundraise|portfolio|round|seed|deck|raise|raising|valuation|partners?hip)\b",
    "client": r"\b(?:proposals?|rfp|rfq|tender\w*|bids?|quotes?|quotation|vendor|contract|procurement|agency|"
              r"supplier|angebot|devis|presupuesto|offerte)\b",
    "academic": r"\b(?:paper|manuscript|journal|reviewers?|admission\w*|ph\.?d|doctoral|master'?s|degree|"
                r"conference|programme|program)\b",
    "grant": r"\b(?:grants?|fellowship|accelerator|cohort|residency|scholarship|stipend\w*|award|beca|bolsa|"
             r"stipendium|subvention|subsidie)\b",
    "everyday": r"\b(?:ballot|raffle|lottery|draw|sorteo|sorteio|loting|verlosung|tirage|tickets?|orders?|"
                r"delivery|refund|payment|card|transaction|flights?|booking|reservation|apartment|wohnung|flat|"
                r"viewing|besichtigung|tenancy|parking|permit|concert|membership|subscription|prize|winner|"
                r"giveaway|commande|pedido|bestelling|encomenda|vergunning|mortgage|loan|account)\b",
}
_CONTEXT_RE = {name: re.compile(rx, re.IGNORECASE) for name, rx in CONTEXTS.items()}


def cue_tokens(text: str, prefix: str = "c") -> list[str]:
    """Cue tokens, and for each "no" cue its pairing with what the text is about ("x:regret|job")."""
    cues = {m.lastgroup for m in _CUE_RE.finditer(text) if m.lastgroup}
    tokens = [f"{prefix}:{c}" for c in cues]
    if prefix == "c" and cues & _NO_CUES:
        contexts = [name for name, rx in _CONTEXT_RE.items() if rx.search(text)] or ["none"]
        tokens += [f"x:{c}|{k}" for c in cues & _NO_CUES for k in contexts]
    return sorted(tokens)


def message_texts(msg: ParsedMessage) -> tuple[str, str, str, str]:
    """(subject + new text, sender tokens, quoted text, cue tokens): the four inputs of the model."""
    main = f"{msg.subject}\n{msg.full_text}"[:MAIN_CHARS]
    quoted = msg.quoted[:QUOTED_CHARS]
    cues = cue_tokens(main) + cue_tokens(quoted, "q")
    return main, sender_tokens(msg), quoted, " ".join(cues)


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
    """The blocks side by side, each l2-normalised and weighted: X = [main | meta | quoted | cues]."""

    def __init__(self, weights: dict[str, float] | None = None, max_features: int = 80_000) -> None:
        self.weights = weights or {"main": 1.0, "meta": 0.25, "quoted": 0.15, "cues": 0.35}
        self.vectorizers: dict[str, TermVectorizer] = {
            "main": TermVectorizer(ngrams=2, min_df=2, max_df=0.9, max_features=max_features),
            "meta": TermVectorizer(split=True, min_df=2),
            "quoted": TermVectorizer(ngrams=2, min_df=2, max_df=0.9, max_features=max_features // 4),
            "cues": TermVectorizer(split=True, min_df=1),
        }

    def fit(self, rows: Sequence[tuple[str, ...]], y: Any = None) -> Features:
        for k, name in enumerate(BLOCKS):
            self.vectorizers[name].fit([r[k] for r in rows])
        return self

    def transform(self, rows: Sequence[tuple[str, ...]]) -> sp.csr_matrix:
        blocks = []
        for k, name in enumerate(BLOCKS):
            block = self.vectorizers[name].transform(r[k] for r in rows)
            weight = self.weights.get(name, 1.0)
            if weight != 1.0:
                block.data *= weight
            blocks.append(block)
        return sp.hstack(blocks, format="csr")

    def fit_transform(self, rows: Sequence[tuple[str, ...]], y: Any = None) -> sp.csr_matrix:
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
