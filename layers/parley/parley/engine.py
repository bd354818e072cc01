"""Answer engines: the interface, and the offline extractive engine.

:class:`ExtractiveEngine` needs no network and no key: it retrieves records
from a :class:`~parley.retrieval.SearchIndex`, picks the facts (product
properties, description or document sentences) that match the question and
writes a short plain-English answer naming where each fact came from.  When
retrieval finds nothing that covers the question well enough it says so
instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .retrieval import Record, SearchIndex, split_sentences, tokenize

Hit = tuple[Record, float]  # a search result: the record and its score

__all__ = [
    "NO_ANSWER_TEXT",
    "Answer",
    "AnswerEngine",
    "ExtractiveEngine",
    "Source",
    "Turn",
]

NO_ANSWER_TEXT = (
    "Sorry, the available data set does not contain an answer to that question, so I can't answer it reliably."
)


@dataclass
class Source:
    type: str  # "product" | "document"
    id: str
    title: str
    url: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "title": self.title, "url": self.url}

    @classmethod
    def from_record(cls, record: Record) -> Source:
        return cls(record.type, record.id, record.title, record.url)


@dataclass
class Turn:
    """One earlier message of the conversation, with what an agent answer drew on (for follow-ups)."""

    role: str  # "user" | "agent" | "system"
    text: str
    sources: list[Source] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Answer:
    text: str
    sources: list[Source] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    steps: list[Any] = field(default_factory=list)  # parley.agent.contracts.Step, in call order


@dataclass(frozen=True)
class Hints:
    """What the data set itself says about its words (from the typed catalog's vocabulary): question words and the
    attribute words they point at ("fast" -> download, mbps), and name words most products share (a brand)."""

    related: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    common: frozenset[str] = frozenset()


NO_HINTS = Hints()


@runtime_checkable
class AnswerEngine(Protocol):
    """What the worker calls: the offline planner (`parley.agent.planner`) and the model loop (`parley.providers`).
    `knowledge` is a `parley.agent.contracts.Knowledge`, `listener` an `AnswerListener` (typed loosely here: the
    agent package imports this module)."""

    def answer(self, question: str, history: list[Turn], knowledge: Any, listener: Any = None) -> Answer: ...


# ---------------------------------------------------------------- helpers

_YESNO_START = frozenset(
    "does do is are can could will would has have did should may am was were "
    "isn't aren't doesn't don't can't won't".split()
)
_EXISTENCE_RE = re.compile(
    r"^\s*(is there|are there|do you (have|offer|sell|provide)|can i (get|buy|have|order))\b", re.I
)
_ANAPHORA = frozenset("it its it's that this they them those these one same he she".split())
_PRICE_TERMS = frozenset(
    tokenize("cost costs price prices priced pay expensive cheap cheaper fee fees eur euro euros charge")
)
# terms that carry no feature meaning in "Does X include Y?"
_GENERIC = frozenset(
    tokenize(
        "plan plans include includes included come comes with "
        "offer offers provide contain feature have has get sell there "
        "product package option available support supports"
    )
)
_TRUE_WORDS = frozenset({"yes", "true", "included", "include", "available", "unlimited", "y"})
_FALSE_WORDS = frozenset({"no", "false", "none", "not", "n", "0", "unavailable", "excluded"})
_NEGATION_WORDS = frozenset(
    "no not without never exclude excludes excluded isn't doesn't don't aren't cannot can't".split()
)
_LEADING_FILLER = frozenset("and so but ok okay also then well hi hello".split())
_WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def _first_word(question: str) -> str:
    for w in _words(question):
        if w not in _LEADING_FILLER:
            return w
    return ""


def _mentions(sentence: str, terms: set[str], window: int = 4) -> bool | None:
    """None if ``sentence`` never mentions ``terms``; False if every mention
    is negated by a nearby preceding word ("no SLA", "does not include an
    SLA", "without 5G"); True otherwise."""
    words = _words(sentence)
    seen = False
    for i, w in enumerate(words):
        toks = tokenize(w)
        if not toks or toks[0] not in terms:
            continue
        seen = True
        if not any(p in _NEGATION_WORDS for p in words[max(0, i - window) : i]):
            return True
    return False if seen else None


_FEATURE_PHRASE_RE = re.compile(
    r"\b(?:include|includes|including|have|has|come with|comes with|offer|offers|"
    r"contain|contains|support|supports|provide|provides|give|gives)\s+(.+?)[\s?.!]*$",
    re.I,
)
_ACRONYMS = {
    "sla": "SLA",
    "eu": "EU",
    "ip": "IP",
    "ipv4": "IPv4",
    "ipv6": "IPv6",
    "tv": "TV",
    "5g": "5G",
    "4g": "4G",
    "4k": "4K",
    "hd": "HD",
    "sms": "SMS",
    "esim": "eSIM",
    "gb": "GB",
    "mbps": "Mbps",
    "eur": "EUR",
    "wifi": "WiFi",
    "vpn": "VPN",
    "sku": "SKU",
}


@dataclass
class _Product:
    name: str
    sku: str
    description: str
    categories: str
    price: str | None
    properties: list[tuple[str, str]]


def _parse_product(record: Record) -> _Product:
    """Parse the line layout written by ``retrieval.render_product``."""
    lines = record.text.split("\n")
    desc_parts: list[str] = []
    categories = ""
    price = None
    props: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line.startswith("- ") and ": " in line:
            key, _, value = line[2:].partition(": ")
            props.append((key.strip(), value.strip()))
        elif line.startswith("Categories: "):
            categories = line[len("Categories: ") :]
        elif line.startswith("Price: "):
            price = line[len("Price: ") :]
        else:
            desc_parts.append(line)
    return _Product(record.title, record.id, " ".join(desc_parts), categories, price, props)


def _label(key: str) -> str:
    words = [_ACRONYMS.get(w.lower(), w) for w in key.split()]
    if words and words[0] == words[0].lower():
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def _truthiness(value: str) -> bool | None:
    """True / False for clear yes/no style values, None when unclear."""
    v = value.strip().lower()
    if not v:
        return None
    first = re.split(r"[\s,;:(]+", v, maxsplit=1)[0]
    if v in _FALSE_WORDS or first in ("no", "not", "none", "false") or v.startswith("not "):
        return False
    if v in _TRUE_WORDS or first in ("yes", "true", "included", "unlimited"):
        return True
    try:
        return float(v.replace(",", ".")) > 0
    except ValueError:
        pass
    return True  # a concrete value ("99.9% per month", "24/7", "WiFi 6") means present


def _expand(terms: set[str], related: Mapping[str, tuple[str, ...]]) -> set[str]:
    out = set(terms)
    for t in terms:
        out.update(related.get(t, ()))
    return out


def _sentence_score(sentence: str, weights: dict[str, float], index: SearchIndex) -> float:
    toks = set(tokenize(sentence))
    return sum(w * index.idf(t) for t, w in weights.items() if t in toks)


def _clip(text: str, limit: int = 320) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "..."


def _ensure_period(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


# ---------------------------------------------------------------- engine


class ExtractiveEngine:
    """Offline engine: answers only with facts quoted from the index."""

    def __init__(
        self, k: int = 8, min_coverage: float = 0.4, history_weight: float = 0.5, max_sources: int = 3
    ) -> None:
        self.k = k
        self.min_coverage = min_coverage  # share of the query found in a hit
        self.history_weight = history_weight  # weight of the previous question's terms
        self.max_sources = max_sources

    # -- retrieval -------------------------------------------------------

    @staticmethod
    def _previous_user_text(question: str, history: list[Turn]) -> str | None:
        for turn in reversed(history or []):
            if getattr(turn, "role", None) != "user":
                continue
            text = (getattr(turn, "text", "") or "").strip()
            if text and text != question.strip():
                return text
        return None

    @staticmethod
    def _weights(text: str, factor: float = 1.0) -> dict[str, float]:
        out: dict[str, float] = {}
        for t in tokenize(text):
            out[t] = out.get(t, 0.0) + factor
        return out

    def _coverage(self, record: Record, weights: dict[str, float], index: SearchIndex) -> float:
        """Share of the query's idf mass found in ``record`` (0..1).

        A word found nowhere in the data set counts half: in a question it is often phrasing ("how long")
        rather than the subject, while a question made only of unknown words still covers nothing."""
        toks = set(tokenize(record.title + " " + record.text))
        total = matched = 0.0
        for t, w in weights.items():
            mass = w * index.idf(t) * (0.5 if index.df(t) == 0 else 1.0)
            total += mass
            if t in toks:
                matched += mass
        return matched / total if total else 0.0

    def _retrieve(self, question: str, history: list[Turn], index: SearchIndex) -> tuple[list[Hit], dict[str, float]]:
        """Search with the question; use the previous user question for
        follow-ups ("How much does it cost?") or when the question alone
        finds nothing strong.  Returns ``(hits, weights)``; hits is empty
        when nothing covers the query well enough."""
        q_weights = self._weights(question)
        prev = self._previous_user_text(question, history)
        words = set(_words(question))
        follow_up = prev is not None and (bool(words & _ANAPHORA) or len(q_weights) <= 2)
        combined = None
        if prev is not None:
            combined = dict(q_weights)
            for t, w in self._weights(prev, self.history_weight).items():
                combined[t] = combined.get(t, 0.0) + w
        attempts: list[dict[str, float]] = []
        if follow_up and combined:
            attempts.append(combined)
        if q_weights:
            attempts.append(q_weights)
        if combined and not follow_up:
            attempts.append(combined)
        for weights in attempts:
            hits = index.search_terms(weights, self.k)
            if any(self._coverage(rec, weights, index) >= self.min_coverage for rec, _ in hits[:3]):
                return hits, weights
        return [], q_weights

    # -- answering -------------------------------------------------------

    def answer(self, question: str, history: list[Turn], index: SearchIndex, hints: Hints = NO_HINTS) -> Answer:
        question = (question or "").strip()
        if not question or index is None or len(index) == 0:
            return Answer(NO_ANSWER_TEXT, [])
        hits, weights = self._retrieve(question, history or [], index)
        if not hits:
            return Answer(NO_ANSWER_TEXT, [])

        q_terms = set(tokenize(question))
        top, top_score = hits[0]
        sources = [Source.from_record(top)]
        if top.type == "product":
            parts = [self._product_answer(question, q_terms, weights, top, index, hints)]
        else:
            parts = [self._document_answer(top, hits, weights, index)]

        # one supporting record of the other kind, if it clearly matches too
        support = self._supporting_hit(top, top_score, hits, weights, q_terms, index, hints)
        if support is not None:
            rec, sentence = support
            if rec.type == "document":
                where = f"{rec.title} ({rec.url})" if rec.url else rec.title
                parts.append(f"From {where}: {_ensure_period(_clip(sentence, 260))}")
            else:
                parts.append(f"A related product is {rec.title}: {_ensure_period(_clip(sentence, 200))}")
            sources.append(Source.from_record(rec))

        text = " ".join(p for p in parts if p)
        return Answer(text, _dedupe(sources)[: self.max_sources])

    def _supporting_hit(
        self,
        top: Record,
        top_score: float,
        hits: list[Hit],
        weights: dict[str, float],
        q_terms: set[str],
        index: SearchIndex,
        hints: Hints,
    ) -> tuple[Record, str] | None:
        own = (
            q_terms
            - _GENERIC
            - hints.common
            - _PRICE_TERMS
            - (set(tokenize(top.title)) if top.type == "product" else set())
        )
        for rec, score in hits[1:]:
            if rec.type == top.type or rec.id == top.id or score < 0.5 * top_score:
                continue
            if self._coverage(rec, weights, index) < self.min_coverage:
                continue
            own_weights = dict.fromkeys(own, 1.0)
            if rec.type == "document":
                best = self._best_sentences(rec.text, weights, index, 1, title=rec.title)
                sentence = best[0] if best else ""
            else:
                first = split_sentences(_parse_product(rec).description)
                sentence = first[0] if first else ""
            # it must add something about *this* question, not only the history
            if sentence and _sentence_score(sentence, own_weights, index) > 0:
                return rec, sentence
        return None

    def _best_sentences(
        self, text: str, weights: dict[str, float], index: SearchIndex, n: int, title: str = "", context: bool = False
    ) -> list[str]:
        """The ``n`` sentences of ``text`` that best match ``weights``, best
        first.  With ``context`` a very short pick is followed by the next
        sentence ("Roaming charges apply." -> the sentence with the prices)."""
        sentences = split_sentences(text)
        if not sentences:
            return []
        title_terms = set(tokenize(title))
        # terms the title already explains count less when picking a sentence
        w = {t: (v * 0.3 if t in title_terms else v) for t, v in weights.items()}
        scored = sorted(((_sentence_score(s, w, index), -i) for i, s in enumerate(sentences)), reverse=True)
        picked = [-neg_i for score, neg_i in scored[:n] if score > 0] or [0]
        out: list[int] = []
        for i in picked:
            if i in out:
                continue
            out.append(i)
            if context and len(sentences[i].split()) < 12 and i + 1 < len(sentences) and i + 1 not in out:
                out.append(i + 1)
        return [sentences[i] for i in out[: n + 1]]

    def _document_answer(self, top: Record, hits: list[Hit], weights: dict[str, float], index: SearchIndex) -> str:
        # every retrieved chunk of the same document may contribute
        sentences: list[str] = []
        for rec, _ in hits:
            if rec.type == top.type and rec.id == top.id:
                for s in split_sentences(rec.text):
                    if s not in sentences:
                        sentences.append(s)
        chosen = self._best_sentences("\n\n".join(sentences), weights, index, 2, title=top.title, context=True)
        where = f"{top.title} ({top.url})" if top.url else top.title
        body = " ".join(_ensure_period(_clip(s, 300)) for s in chosen)
        return f"According to {where}: {body}"

    def _product_answer(
        self, question: str, q_terms: set[str], weights: dict[str, float], top: Record, index: SearchIndex, hints: Hints
    ) -> str:
        product = _parse_product(top)
        name = product.name
        name_terms = set(tokenize(name))
        generic = _GENERIC | hints.common
        feature_terms = q_terms - name_terms - generic - _PRICE_TERMS
        asks_price = bool(q_terms & _PRICE_TERMS) or (
            not feature_terms and bool(re.search(r"\bhow much\b", question, re.I))
        )

        # properties that match what is asked (or, for a bare follow-up such
        # as "what about the speed?", what was asked before)
        look_for = _expand(feature_terms, hints.related)
        if not look_for and not asks_price:
            look_for = _expand(set(weights) - name_terms - generic - _PRICE_TERMS, hints.related)
        matched = _matching_properties(product, look_for)
        facts = [f"{_label(k)}: {v}" for _, k, v in matched[:4]]

        desc_best: list[str] = []
        if look_for:
            lw = dict.fromkeys(look_for, 1.0)
            desc_best = [
                s
                for s in self._best_sentences(product.description, lw, index, 1, title=name)
                if _sentence_score(s, lw, index) > 0
            ]

        verdict = self._verdict(question, feature_terms, name_terms, set(weights), product, hints)
        existence = bool(_EXISTENCE_RE.search(question))
        phrase = feature_phrase(question) if verdict is not None and not existence else None

        parts: list[str] = []
        if verdict is not None:
            parts.append(_verdict_sentence(verdict, existence, name, phrase))
        if asks_price:
            parts.append(_price_sentence(product))
        if verdict is not None:  # a bare "SLA: yes" only repeats the Yes/No the answer opens with
            facts = [f for f, (_, _, v) in zip(facts, matched) if v.strip().lower() not in _BARE_FLAGS]
        if facts:
            lead = "Details" if parts else name
            parts.append(f"{lead}: {'; '.join(facts)}.")
        if desc_best:
            sentence = _ensure_period(_clip(desc_best[0], 260))
            parts.append(sentence if parts else f"{name}: {sentence}")
        if not parts:
            parts = _summary(product)
        return " ".join(parts)

    @staticmethod
    def _verdict(
        question: str,
        feature_terms: set[str],
        name_terms: set[str],
        query_terms: set[str],
        product: _Product,
        hints: Hints,
    ) -> bool | None:
        """True / False when one property or one description clause of the
        product clearly says the asked-about feature is / is not included;
        None when the data does not settle it."""
        if _first_word(question) not in _YESNO_START or not feature_terms:
            return None
        names_it = bool((name_terms - _GENERIC - hints.common) & query_terms)
        related = hints.related
        if not names_it and not _EXISTENCE_RE.search(question):
            return None

        def covers(toks: set[str]) -> bool:
            return all(t in toks or toks & set(related.get(t, ())) for t in feature_terms)

        asked = _expand(feature_terms, related)
        votes: list[bool | None] = []
        for key, value in product.properties:
            k_toks, v_toks = set(tokenize(key)), set(tokenize(value))
            if covers(k_toks | v_toks):
                votes.append(_truthiness(value) if asked & k_toks else _mentions(value, asked))
        votes.extend(
            _mentions(clause, asked)
            for sentence in split_sentences(product.description)
            for clause in _CLAUSE_RE.split(sentence)
            if covers(set(tokenize(clause)))
        )
        positives, negatives = votes.count(True), votes.count(False)
        if negatives and not positives:
            return False if names_it else None
        if positives and not negatives:
            return True
        return None


def _matching_properties(product: _Product, look_for: set[str]) -> list[tuple[int, str, str]]:
    """``(score, key, value)`` of the properties that mention the asked-about terms, best first
    (a term in the key counts twice)."""
    matched: list[tuple[int, str, str]] = []
    for key, value in product.properties:
        score = 2 * len(look_for & set(tokenize(key))) + len(look_for & set(tokenize(value)))
        if score:
            matched.append((score, key, value))
    matched.sort(key=lambda m: -m[0])  # stable: keeps data order on ties
    return matched


def _verdict_sentence(verdict: bool, existence: bool, name: str, phrase: str | None) -> str:
    if verdict and existence:
        return f"Yes: {name}."
    if verdict:
        return f"Yes, {name} includes {phrase}." if phrase else f"Yes, according to the details of {name}."
    return f"No, {name} does not include {phrase}." if phrase else f"No, according to the details of {name}."


def _price_sentence(product: _Product) -> str:
    """The price, else the fee-like properties, else that none is listed."""
    name = product.name
    if product.price:
        return f"{name} costs {product.price}."
    fee_props = [f"{_label(k)}: {v}" for k, v in product.properties if set(tokenize(k)) & _PRICE_TERMS]
    if fee_props:
        return f"{name}: {'; '.join(fee_props)}."
    return f"No price is listed for {name}."


def _summary(product: _Product) -> list[str]:
    """The product's name and first sentence, and its price: the answer when nothing specific matched."""
    first = split_sentences(product.description)
    parts = [f"{product.name}: {_ensure_period(_clip(first[0], 260))}" if first else product.name]
    if product.price:
        parts.append(f"It costs {product.price}.")
    return parts


_CLAUSE_RE = re.compile(r"[,;:]\s+|\s+(?:and|but|or|while|whereas)\s+", re.I)


_INCLUDED_IN_RE = re.compile(
    r"^\W*(?:(?:and|so|but|also)\s+)?(?:is|are)\s+(.+?)\s+(?:included|part of|available)\b", re.I
)


_BARE_FLAGS = {"yes", "no", "true", "false", "included", "not included"}


def feature_phrase(question: str) -> str | None:
    q = question.strip()
    m = _INCLUDED_IN_RE.search(q)
    if m:
        phrase = m.group(1).strip()
        if phrase.lower() not in ("it", "that", "this", "there") and len(phrase.split()) <= 6:
            return phrase
    m = _FEATURE_PHRASE_RE.search(q)
    if not m:
        return None
    phrase = m.group(1).strip().rstrip("?.! ")
    if not phrase or len(phrase.split()) > 8:
        return None
    # "an SLA" reads fine; drop a trailing "as well"/"too"
    phrase = re.sub(r"\s+(as well|too|also)$", "", phrase, flags=re.I)
    return phrase


def _dedupe(sources: list[Source]) -> list[Source]:
    seen = set()
    out = []
    for s in sources:
        key = (s.type, s.id)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out
