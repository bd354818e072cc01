"""BM25 (Okapi) search over products and documents.

Every searchable unit is a :class:`Record`: one per product, and one per
chunk of a document (a few sentences, overlapping with the previous chunk).
The index is an inverted index ``term -> (record ids, term frequencies)``
plus per-record lengths, so a query only touches the postings of its own
terms.  Snapshots are gzip'd JSON (never pickle): they hold the records and
the postings, so loading one does not tokenize anything again.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import heapq
import json
import math
import re
import sys
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate
from typing import Iterable, Mapping

__all__ = ["Record", "SearchIndex", "tokenize", "render_product", "chunk_text"]

K1 = 1.2
B = 0.75
NAME_BOOST = 3          # product name tokens count this many times
TITLE_BOOST = 2         # document title tokens count this many times per chunk
CHUNK_WORDS = 100       # target words per document chunk
CHUNK_OVERLAP_SENTENCES = 1
SNAPSHOT_FORMAT = "parley.bm25/2"
_U32 = "I" if array("I").itemsize == 4 else "L"   # 32-bit unsigned everywhere
_I32 = "i" if array("i").itemsize == 4 else "l"

# ---------------------------------------------------------------- tokenizer

_STOPWORDS = frozenset(
    """
    a an the and or but nor of to in on at by for from with without into onto
    about as is are was were be been being am do does did doing done have has
    had having i me my mine we us our ours you your yours he him his she her
    it its they them their this that these those there here what which who
    whom whose when where why how if then than so too very just also any some
    all each can could would should will shall may might must let lets s t
    d ll m re ve much many please tell know want need get got would like
    """.split()
)

# numbers (with decimals kept together: "99.9", "34.95") or unicode words.
_PRICE_WORDS: list[str] = []          # filled below, once tokenize exists
_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+")
_VOWELS = frozenset("aeiouy")
_STEM_CACHE: dict[str, str] = {}


def _stem(word: str) -> str:
    """Light suffix stripping; only for alphabetic words longer than 3 chars.

    Short tokens (acronyms such as "sla", "eu", "5g", "tv") and tokens with
    digits are never changed.  The rules are applied identically to the
    documents and to the query, so they only need to be consistent, not
    linguistically perfect.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    w = word
    # plurals / third person
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith(("ches", "shes", "xes", "zes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    # a few derivational / inflectional endings, keeping a real stem
    for suffix in ("ations", "ation", "ings", "ing", "edly", "ed", "ly"):
        if w.endswith(suffix):
            stem = w[: -len(suffix)]
            if len(stem) >= 4 and any(c in _VOWELS for c in stem):
                w = stem
            break
    while len(w) > 4 and w.endswith("e"):      # guarantee / guaranteed -> guarant
        w = w[:-1]
    if len(w) > 6 and w.endswith("at"):       # relocat(e/ion) -> reloc
        w = w[:-2]
    if len(w) > 4 and w[-1] == w[-2] and w[-1] not in _VOWELS and w[-1] != "s":
        w = w[:-1]
    return w


def _normalize(raw: str) -> str:
    """Map one raw lowercase token to its index term ('' for a stopword)."""
    term = _STEM_CACHE.get(raw)
    if term is None:
        if raw in _STOPWORDS:
            term = ""
        else:
            if "," in raw and raw[0].isdigit():
                raw_num = raw.replace(",", ".")
            else:
                raw_num = raw
            term = _stem(raw_num)
        if len(_STEM_CACHE) < 500_000:
            _STEM_CACHE[raw] = term
    return term


def tokenize(text: str) -> list[str]:
    """Lowercase, split into unicode words / numbers, drop stopwords, stem."""
    if not text:
        return []
    out = []
    for raw in _TOKEN_RE.findall(text.lower()):
        term = _normalize(raw)
        if term:
            out.append(term)
    return out


_PRICE_WORDS.extend(tokenize("cost"))

# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Record:
    """One searchable unit: a product, or one chunk of a document."""

    type: str            # "product" | "document"
    id: str              # product sku, or document key
    title: str           # product name or document title
    url: str | None
    text: str            # readable passage text


def _fmt_value(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _fmt_key(key: str) -> str:
    return str(key).replace("_", " ").strip()


def format_price(price: float | int | None, unit: str | None = None) -> str | None:
    """`12.34`, or `12.34 EUR per month` when the product names its price unit (property `price_unit`)."""
    if price is None:
        return None
    return f"{float(price):.2f} {unit}".strip() if unit else f"{float(price):.2f}"


def render_product(product: Mapping) -> str:
    """A readable, line-based rendering of every field of a product.

    Layout (the engine relies on it)::

        <name> (SKU <sku>)
        <description>
        Categories: a, b
        Price: 12.34
        - <property key>: <value>
    """
    name = str(product.get("name") or "").strip()
    sku = str(product.get("sku") or "").strip()
    lines = [f"{name} (SKU {sku})" if sku else name]
    desc = str(product.get("description") or "").strip()
    if desc:
        lines.append(" ".join(desc.split()))
    cats = product.get("categories") or []
    if isinstance(cats, str):
        cats = [cats]
    cats = [str(c) for c in cats if str(c).strip()]
    if cats:
        lines.append("Categories: " + ", ".join(cats))
    try:
        unit = (product.get("properties") or {}).get("price_unit") if isinstance(
            product.get("properties"), Mapping) else None
        price = format_price(product.get("price"), str(unit) if unit else None)
    except (TypeError, ValueError):
        price = str(product.get("price"))
    if price:
        lines.append("Price: " + price)
    props = product.get("properties") or {}
    if not isinstance(props, Mapping):
        props = {}
    for key, value in props.items():
        if key != "price_unit":  # already shown beside the price
            lines.append(f"- {_fmt_key(key)}: {_fmt_value(value)}")
    return "\n".join(lines)


_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9\u00C0-\u024F])")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; blank lines / line breaks also end one."""
    sentences: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*[-*\u2022]\s)", text or ""):
        block = " ".join(block.split())
        if not block:
            continue
        for sent in _SENTENCE_RE.split(block):
            sent = sent.strip()
            if sent:
                sentences.append(sent)
    return sentences


def chunk_text(text: str, target_words: int = CHUNK_WORDS,
               overlap: int = CHUNK_OVERLAP_SENTENCES) -> list[str]:
    """Group sentences into chunks of about ``target_words`` words.

    Consecutive chunks share ``overlap`` sentences so that a fact straddling a
    boundary is still found in one piece.
    """
    sentences = split_sentences(text)
    if not sentences:
        return []
    counts = [len(s.split()) for s in sentences]
    chunks: list[str] = []
    start = 0
    n = len(sentences)
    while start < n:
        end = start
        words = 0
        while end < n and (words == 0 or words + counts[end] <= target_words):
            words += counts[end]
            end += 1
        chunks.append(" ".join(sentences[start:end]))
        if end >= n:
            break
        nxt = end - overlap
        start = nxt if nxt > start else end
    return chunks


def _product_record(product: Mapping) -> tuple[Record, list[str]]:
    text = render_product(product)
    name = str(product.get("name") or "")
    tokens = tokenize(text)
    tokens.extend(tokenize(name) * (NAME_BOOST - 1))
    if product.get("price") is not None:
        tokens.extend(_PRICE_WORDS)      # so "how much does X cost" finds X
    sku = str(product.get("sku") or "")
    rec = Record("product", sku, name, None, text)
    return rec, tokens


def _document_records(doc: Mapping) -> list[tuple[Record, list[str]]]:
    title = str(doc.get("title") or "")
    url = doc.get("url") or None
    key = str(doc.get("key") or url or title)
    title_tokens = tokenize(title) * TITLE_BOOST
    out = []
    chunks = chunk_text(str(doc.get("content") or "")) or [title]
    for chunk in chunks:
        rec = Record("document", key, title, url, chunk)
        out.append((rec, title_tokens + tokenize(chunk)))
    return out


# ---------------------------------------------------------------- index


def _uint32_array(values: Iterable[int] = ()) -> array:
    return array(_U32, values)


def _delta_encode(ids: array) -> array:
    """Signed differences between consecutive ids (small numbers compress
    far better than absolute record numbers)."""
    out = array(_I32, [ids[0]] if ids else [])
    out.extend(b - a for a, b in zip(ids, ids[1:]))
    return out


def _delta_decode(deltas: array) -> array:
    # a negative running sum (corrupt data) raises OverflowError here
    return array(_U32, accumulate(deltas))


def _pack(arr: array) -> str:
    if sys.byteorder != "little":
        arr = array(arr.typecode, arr)
        arr.byteswap()
    return base64.b64encode(arr.tobytes()).decode("ascii")


def _unpack(text: str, typecode: str = "") -> array:
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if len(raw) % 4:
        raise ValueError("packed array has a bad length")
    arr = array(typecode or _U32)
    arr.frombytes(raw)
    if sys.byteorder != "little":
        arr.byteswap()
    return arr


class SearchIndex:
    """Okapi BM25 over an inverted index of :class:`Record` objects.

    Postings live in two flat ``array('I')`` buffers (record ids ascending,
    term frequencies) with per-term offsets, which keeps 100k-product
    indexes small in memory and makes snapshots cheap to write and load.
    """

    def __init__(self, records: list[Record], doc_lens: Iterable[int],
                 terms: dict[str, int], offsets: array, ids: array, tfs: array,
                 k1: float = K1, b: float = B) -> None:
        self.records = records
        self.doc_lens = array(_U32, doc_lens)
        self._terms = terms            # term -> term number
        self._offsets = offsets        # term number -> start in ids/tfs (len = terms + 1)
        self._ids = ids
        self._tfs = tfs
        self.k1 = k1
        self.b = b
        n = len(records)
        self.avgdl = (sum(self.doc_lens) / n) if n else 0.0
        # per-record length normalisation, computed once
        if n and self.avgdl > 0:
            k1b = k1 * (1.0 - b)
            k1b_avg = k1 * b / self.avgdl
            self._norm = [k1b + k1b_avg * dl for dl in self.doc_lens]
        else:
            self._norm = [k1] * n
        self._weights: dict[int, list[float]] = {}   # lazily cached per term
        self._cached_postings = 0

    # -- construction -----------------------------------------------------

    @classmethod
    def build(cls, products: list[dict], documents: list[dict]) -> "SearchIndex":
        items: list[tuple[Record, list[str]]] = []
        for product in products or []:
            items.append(_product_record(product))
        for doc in documents or []:
            items.extend(_document_records(doc))
        return cls._from_items(items)

    @classmethod
    def _from_items(cls, items: Iterable[tuple[Record, list[str]]]) -> "SearchIndex":
        records: list[Record] = []
        doc_lens: list[int] = []
        post_ids: dict[str, list[int]] = {}
        post_tfs: dict[str, list[int]] = {}
        for idx, (rec, tokens) in enumerate(items):
            records.append(rec)
            doc_lens.append(len(tokens))
            tf: dict[str, int] = {}
            for tok in tokens:
                tf[tok] = tf.get(tok, 0) + 1
            for term, count in tf.items():
                lst = post_ids.get(term)
                if lst is None:
                    post_ids[term] = [idx]
                    post_tfs[term] = [count]
                else:
                    lst.append(idx)
                    post_tfs[term].append(count)
        terms: dict[str, int] = {}
        offsets = _uint32_array([0])
        ids = _uint32_array()
        tfs = _uint32_array()
        for term in sorted(post_ids):          # stable layout -> stable snapshots
            terms[term] = len(terms)
            ids.extend(post_ids[term])
            tfs.extend(min(t, 0xFFFFFFFF) for t in post_tfs[term])
            offsets.append(len(ids))
        return cls(records, doc_lens, terms, offsets, ids, tfs)

    # -- statistics ---------------------------------------------------------

    def __len__(self) -> int:
        return len(self.records)

    @property
    def vocabulary_size(self) -> int:
        return len(self._terms)

    def df(self, term: str) -> int:
        """Number of records containing ``term`` (an already tokenized term)."""
        tid = self._terms.get(term)
        return 0 if tid is None else self._offsets[tid + 1] - self._offsets[tid]

    def idf(self, term: str) -> float:
        """BM25 idf (always positive); unseen terms get the maximum value."""
        n = len(self.records)
        df = self.df(term)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def postings(self, term: str) -> tuple[array, array]:
        """``(record ids, term frequencies)`` of ``term`` (empty if unknown)."""
        tid = self._terms.get(term)
        if tid is None:
            return _uint32_array(), _uint32_array()
        lo, hi = self._offsets[tid], self._offsets[tid + 1]
        return self._ids[lo:hi], self._tfs[lo:hi]

    def _term_weights(self, tid: int) -> list[float]:
        """BM25 tf part ``tf*(k1+1)/(tf+norm)`` for every posting of a term."""
        cached = self._weights.get(tid)
        if cached is None:
            lo, hi = self._offsets[tid], self._offsets[tid + 1]
            norm = self._norm
            k1p = self.k1 + 1.0
            cached = [tf * k1p / (tf + norm[d])
                      for d, tf in zip(self._ids[lo:hi], self._tfs[lo:hi])]
            if self._cached_postings > 4_000_000:
                self._weights.clear()
                self._cached_postings = 0
            self._weights[tid] = cached
            self._cached_postings += len(cached)
        return cached

    # -- search -------------------------------------------------------------

    def search(self, query: str, k: int = 5) -> list[tuple[Record, float]]:
        """Top ``k`` records for ``query``, best first, only scores > 0."""
        weights: dict[str, float] = {}
        for term in tokenize(query):
            weights[term] = weights.get(term, 0.0) + 1.0
        return self.search_terms(weights, k)

    def search_terms(self, term_weights: Mapping[str, float],
                     k: int = 5) -> list[tuple[Record, float]]:
        """Like :meth:`search` for already tokenized, weighted query terms.

        A term's weight multiplies its BM25 contribution (a query term that
        occurs twice counts twice, as in :meth:`search`).
        """
        return [(self.records[i], s) for i, s in self.score_terms(term_weights, k)]

    def score_terms(self, term_weights: Mapping[str, float],
                    k: int = 5) -> list[tuple[int, float]]:
        """Top ``k`` ``(record number, score)`` pairs.

        Exact BM25 with "max-score" pruning: terms are scored from the most
        to the least selective; once the k-th best partial score exceeds what
        the remaining terms could add, documents not seen yet cannot reach
        the top ``k`` and only the current candidates are updated (looked up
        by binary search instead of walking long posting lists).
        """
        if k <= 0 or not self.records:
            return []
        k1p = self.k1 + 1.0
        plan = []
        for term in sorted(term_weights):
            qw = term_weights[term]
            tid = self._terms.get(term)
            if tid is None or not qw or qw <= 0:
                continue
            factor = qw * self.idf(term)
            plan.append((factor * k1p, term, tid, factor))   # ub: weight < k1 + 1
        if not plan:
            return []
        plan.sort(key=lambda p: (-p[0], p[1]))
        suffix = [0.0] * (len(plan) + 1)
        for i in range(len(plan) - 1, -1, -1):
            suffix[i] = suffix[i + 1] + plan[i][0]

        eps = 1e-9
        scores: dict[int, float] = {}
        update_only = False
        offsets, all_ids, all_tfs, norm = self._offsets, self._ids, self._tfs, self._norm
        for i, (_, _, tid, factor) in enumerate(plan):
            lo, hi = offsets[tid], offsets[tid + 1]
            if len(scores) >= k:
                theta = heapq.nlargest(k, scores.values())[-1]
                if not update_only and theta > suffix[i] + eps:
                    update_only = True
                if update_only:
                    keep_from = theta - suffix[i] - eps
                    if keep_from > 0:
                        scores = {d: s for d, s in scores.items() if s >= keep_from}
            if not update_only:
                ws = self._term_weights(tid)
                if not scores:
                    scores = dict(zip(all_ids[lo:hi], [factor * w for w in ws]))
                else:
                    get = scores.get
                    for d, w in zip(all_ids[lo:hi], ws):
                        scores[d] = get(d, 0.0) + factor * w
                continue
            # update-only: touch the candidates that contain this term
            if len(scores) * 16 < hi - lo:
                pos = lo
                for d in sorted(scores):
                    pos = bisect_left(all_ids, d, pos, hi)
                    if pos >= hi:
                        break
                    if all_ids[pos] == d:
                        tf = all_tfs[pos]
                        scores[d] += factor * (tf * k1p / (tf + norm[d]))
            else:
                ws = self._term_weights(tid)
                for d, w in zip(all_ids[lo:hi], ws):
                    if d in scores:
                        scores[d] += factor * w
        if not scores:
            return []
        # deterministic: higher score first, then lower record number
        best = heapq.nsmallest(k, scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(i, s) for i, s in best if s > 0]

    # -- snapshots ------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """gzip'd JSON: records, lengths and the packed postings."""
        payload = {
            "format": SNAPSHOT_FORMAT,
            "k1": self.k1,
            "b": self.b,
            "records": [[r.type, r.id, r.title, r.url, r.text] for r in self.records],
            "doc_lens": _pack(self.doc_lens),
            "terms": list(self._terms),            # in term-number order
            "offsets": _pack(self._offsets),
            "id_deltas": _pack(_delta_encode(self._ids)),
            "tfs": _pack(self._tfs),
        }
        raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return gzip.compress(raw.encode("utf-8"), compresslevel=6, mtime=0)

    @classmethod
    def from_bytes(cls, data: bytes) -> "SearchIndex":
        """Load a :meth:`to_bytes` snapshot (validated; nothing is executed)."""
        try:
            raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
            payload = json.loads(raw.decode("utf-8"))
        except (OSError, ValueError, EOFError) as exc:
            raise ValueError(f"not a search index snapshot: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("format") != SNAPSHOT_FORMAT:
            raise ValueError("not a search index snapshot (unknown format)")
        try:
            records = [Record(str(t), str(i), str(ti), None if u is None else str(u), str(tx))
                       for t, i, ti, u, tx in payload["records"]]
            doc_lens = _unpack(payload["doc_lens"])
            term_list = payload["terms"]
            offsets = _unpack(payload["offsets"])
            ids = _delta_decode(_unpack(payload["id_deltas"], _I32))
            tfs = _unpack(payload["tfs"])
            k1 = float(payload.get("k1", K1))
            b = float(payload.get("b", B))
        except (KeyError, TypeError, ValueError, OverflowError, binascii.Error) as exc:
            raise ValueError(f"corrupt search index snapshot: {exc}") from exc
        n = len(records)
        if (len(doc_lens) != n or not isinstance(term_list, list)
                or len(offsets) != len(term_list) + 1 or len(ids) != len(tfs)
                or offsets[0] != 0 or offsets[-1] != len(ids)
                or any(a > b_ for a, b_ in zip(offsets, offsets[1:]))
                or (ids and max(ids) >= n)
                or not all(isinstance(t, str) for t in term_list)):
            raise ValueError("corrupt search index snapshot: inconsistent postings")
        terms = {t: i for i, t in enumerate(term_list)}
        if len(terms) != len(term_list):
            raise ValueError("corrupt search index snapshot: duplicate terms")
        return cls(records, doc_lens, terms, offsets, ids, tfs, k1=k1, b=b)
