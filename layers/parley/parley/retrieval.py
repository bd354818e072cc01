"""BM25 (Okapi) search over products and documents.

Every searchable unit is a :class:`Record`: one per product, and one per
chunk of a document (a few sentences, overlapping with the previous chunk).
The index is an inverted index ``term -> (record ids, term frequencies)``
plus per-record lengths, so a query only touches the postings of its own
terms.  Snapshots are a small JSON header and zlib-compressed packed arrays
(never pickle): they hold the records and the postings, so loading one does
not tokenize anything again, and records and postings are only decoded when
a query needs them.
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
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise
from typing import Any, overload

__all__ = ["Record", "SearchIndex", "chunk_text", "render_product", "tokenize"]

K1 = 1.2
B = 0.75
NAME_BOOST = 3  # product name tokens count this many times
TITLE_BOOST = 2  # document title tokens count this many times per chunk
CHUNK_WORDS = 100  # target words per document chunk
CHUNK_OVERLAP_SENTENCES = 1
SNAPSHOT_FORMAT = "parley.bm25/3"
LEGACY_SNAPSHOT_FORMAT = "parley.bm25/2"  # gzip'd JSON; still loaded
_U32 = "I" if array("I").itemsize == 4 else "L"  # 32-bit unsigned everywhere
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
_PRICE_WORDS: list[str] = []  # filled below, once tokenize exists
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
    elif w.endswith("sses") or w.endswith(("ches", "shes", "xes", "zes")):
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
    while len(w) > 4 and w.endswith("e"):  # guarantee / guaranteed -> guarant
        w = w[:-1]
    if len(w) > 6 and w.endswith("at"):  # relocat(e/ion) -> reloc
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

    type: str  # "product" | "document"
    id: str  # product sku, or document key
    title: str  # product name or document title
    url: str | None
    text: str  # readable passage text


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


def render_product(product: Mapping[str, Any]) -> str:
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
        unit = (
            (product.get("properties") or {}).get("price_unit")
            if isinstance(product.get("properties"), Mapping)
            else None
        )
        unit = unit or product.get("currency")  # "EUR per month" says more than "EUR"
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
    for raw_block in re.split(r"\n\s*\n|\n(?=\s*[-*\u2022]\s)", text or ""):
        block = " ".join(raw_block.split())
        if not block:
            continue
        for raw in _SENTENCE_RE.split(block):
            sent = raw.strip()
            if sent:
                sentences.append(sent)
    return sentences


def chunk_text(text: str, target_words: int = CHUNK_WORDS, overlap: int = CHUNK_OVERLAP_SENTENCES) -> list[str]:
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


def _product_record(product: Mapping[str, Any]) -> tuple[Record, list[str]]:
    text = render_product(product)
    name = str(product.get("name") or "")
    tokens = tokenize(text)
    tokens.extend(tokenize(name) * (NAME_BOOST - 1))
    if product.get("price") is not None:
        tokens.extend(_PRICE_WORDS)  # so "how much does X cost" finds X
    sku = str(product.get("sku") or "")
    rec = Record("product", sku, name, None, text)
    return rec, tokens


def _document_records(doc: Mapping[str, Any]) -> list[tuple[Record, list[str]]]:
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


# ---------------------------------------------------------------- index storage
#
# Snapshot layout (format 3), built so that a cold worker does almost no work
# before its first query:
#
#   MAGIC | u32 header length | header JSON | sections...
#
# The header names every section's byte range.  Sections are zlib streams of
# little-endian arrays, except "records": one zlib stream per block of
# RECORDS_PER_BLOCK records, decoded only when a record of the block is read
# (a query needs k records, not 100k).  Postings stay packed after loading:
# per term, record-id gaps at the narrowest width that fits (1, 2 or 4
# bytes), turned into an id array the first time the term is searched.

_MAGIC = b"\x89PBM25\r\n"  # not text, not gzip: a snapshot is recognised by it
RECORDS_PER_BLOCK = 64  # ~40 KB of text per block: zlib's window, so no ratio lost
_ZLEVEL = 6
_WIDTH_CODES = {1: "B", 2: "H", 4: _U32}


def _uint32_array(values: Iterable[int] = ()) -> array[int]:
    return array(_U32, values)


def _le_bytes(arr: array[Any]) -> bytes:
    if sys.byteorder != "little" and arr.itemsize > 1:
        arr = array(arr.typecode, arr)
        arr.byteswap()
    return arr.tobytes()


def _from_le(typecode: str, raw: bytes | memoryview) -> array[Any]:
    arr = array(typecode)
    if len(raw) % arr.itemsize:
        raise ValueError("packed array has a bad length")
    arr.frombytes(raw)
    if sys.byteorder != "little" and arr.itemsize > 1:
        arr.byteswap()
    return arr


def _narrowest(top: int) -> str:
    return "B" if top < 0x100 else "H" if top < 0x10000 else _U32


class _PackedPostings:
    """Every term's record ids as gap-encoded bytes, plus one flat tf array."""

    __slots__ = ("id_bytes", "id_offsets", "offsets", "tfs")

    def __init__(self, offsets: array[int], id_offsets: array[int], id_bytes: bytes, tfs: array[int]) -> None:
        self.offsets = offsets  # term number -> first posting (len = terms + 1)
        self.id_offsets = id_offsets  # term number -> first byte in id_bytes (len = terms + 1)
        self.id_bytes = id_bytes
        self.tfs = tfs

    @classmethod
    def encode(cls, per_term: Iterable[tuple[list[int], list[int]]]) -> _PackedPostings:
        offsets = _uint32_array([0])
        id_offsets = _uint32_array([0])
        chunks: list[bytes] = []
        size = 0
        all_tfs: list[int] = []
        for ids, tfs in per_term:
            gaps = [ids[0]]
            gaps.extend(b - a for a, b in pairwise(ids))
            packed = _le_bytes(array(_narrowest(max(gaps)), gaps))
            chunks.append(packed)
            size += len(packed)
            all_tfs.extend(tfs)
            offsets.append(len(all_tfs))
            id_offsets.append(size)
        top_tf = min(max(all_tfs, default=0), 0xFFFFFFFF)
        tf_arr = array(_narrowest(top_tf), (min(t, 0xFFFFFFFF) for t in all_tfs))
        return cls(offsets, id_offsets, b"".join(chunks), tf_arr)

    def validate(self, records: int) -> None:
        """The totals; each term's own ranges are checked when it is decoded
        (checking 100k+ terms here would be most of the load time)."""
        offsets, id_offsets = self.offsets, self.id_offsets
        if (
            len(offsets) != len(id_offsets)
            or not offsets
            or offsets[0] != 0
            or id_offsets[0] != 0
            or offsets[-1] != len(self.tfs)
            or id_offsets[-1] != len(self.id_bytes)
            or (records == 0 and len(offsets) > 1)
        ):
            raise ValueError("corrupt search index snapshot: inconsistent postings")

    def ids(self, tid: int, records: int) -> array[int]:
        lo, hi = self.offsets[tid], self.offsets[tid + 1]
        blo, bhi = self.id_offsets[tid], self.id_offsets[tid + 1]
        count = hi - lo
        width = (bhi - blo) // count if count > 0 else 0
        if width not in _WIDTH_CODES or bhi - blo != width * count:
            raise ValueError("corrupt search index snapshot: inconsistent postings")
        gaps = _from_le(_WIDTH_CODES[width], memoryview(self.id_bytes)[blo:bhi])
        try:
            ids = array(_U32, accumulate(gaps))
        except OverflowError:
            ids = None
        if ids is None or ids[-1] >= records:
            raise ValueError("corrupt search index snapshot: record id out of range")
        return ids


class _RecordBlocks(Sequence[Record]):
    """The records of a loaded snapshot, decompressed a block at a time on first access."""

    def __init__(self, count: int, block_offsets: array[int], data: bytes, block_size: int = RECORDS_PER_BLOCK) -> None:
        self._count = count
        self._offsets = block_offsets
        self._data = data
        self._block_size = block_size
        self._blocks: dict[int, list[Record]] = {}

    def __len__(self) -> int:
        return self._count

    def _block(self, number: int) -> list[Record]:
        block = self._blocks.get(number)
        if block is None:
            lo, hi = self._offsets[number], self._offsets[number + 1]
            want = min(self._block_size, self._count - number * self._block_size)
            block = _decode_record_block(self._data[lo:hi], want)
            self._blocks[number] = block
        return block

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError("record index out of range")
        return self._block(index // self._block_size)[index % self._block_size]

    def __iter__(self) -> Iterator[Record]:
        for number in range(len(self._offsets) - 1):
            yield from self._block(number)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (list, tuple, _RecordBlocks)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{self._count} records>"


def _encode_record_blocks(records: Sequence[Record]) -> tuple[array[int], bytes]:
    offsets = _uint32_array([0])
    chunks: list[bytes] = []
    size = 0
    for start in range(0, len(records), RECORDS_PER_BLOCK):
        rows = [[r.type, r.id, r.title, r.url, r.text] for r in records[start : start + RECORDS_PER_BLOCK]]
        chunk = zlib.compress(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), _ZLEVEL)
        chunks.append(chunk)
        size += len(chunk)
        offsets.append(size)
    return offsets, b"".join(chunks)


def _decode_record_block(chunk: bytes, count: int) -> list[Record]:
    try:
        rows = json.loads(zlib.decompress(chunk).decode("utf-8"))
        if not isinstance(rows, list) or len(rows) != count:
            raise ValueError("wrong record count")
        return [Record(str(t), str(i), str(ti), None if u is None else str(u), str(tx)) for t, i, ti, u, tx in rows]
    except (zlib.error, ValueError, TypeError) as exc:
        raise ValueError(f"corrupt search index snapshot: {exc}") from exc


_EPS = 1e-9  # float slack in the max-score pruning comparisons


def _prune(scores: dict[int, float], k: int, still_to_add: float, update_only: bool) -> tuple[dict[int, float], bool]:
    """Max-score pruning step: once the k-th best score exceeds what the remaining terms could add
    (``still_to_add``), records not seen yet cannot reach the top ``k``, so only the current candidates
    are updated from then on (``update_only``), and those that cannot catch up any more are dropped."""
    theta = heapq.nlargest(k, scores.values())[-1]
    if theta > still_to_add + _EPS:
        update_only = True
    if update_only:
        keep_from = theta - still_to_add - _EPS
        if keep_from > 0:
            scores = {d: s for d, s in scores.items() if s >= keep_from}
    return scores, update_only


class SearchIndex:
    """Okapi BM25 over an inverted index of :class:`Record` objects.

    Postings stay packed (:class:`_PackedPostings`) and each term's id array
    is decoded on its first search, so loading a 100k-product snapshot costs
    little more than decompressing it.
    """

    def __init__(
        self,
        records: Sequence[Record],
        doc_lens: Iterable[int],
        terms: dict[str, int],
        postings: _PackedPostings,
        k1: float = K1,
        b: float = B,
        max_weights: array[float] | None = None,
    ) -> None:
        self.records = records
        self.doc_lens = doc_lens if isinstance(doc_lens, array) else _uint32_array(doc_lens)
        self._terms = terms  # term -> term number
        self._postings = postings
        self._offsets = postings.offsets
        self._tfs = postings.tfs
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
        self._ids: dict[int, array[int]] = {}  # decoded lazily per term
        self._weights: dict[int, list[float]] = {}  # lazily cached per term
        self._cached_postings = 0
        self._tf1: list[float] | None = None
        if max_weights is None:
            max_weights = self._compute_max_weights()
        self._max_weights = max_weights

    def _compute_max_weights(self) -> array[float]:
        """Each term's largest tf part, as float32 rounded up (so still a bound):
        the pruning in :meth:`score_terms` needs it before touching postings.
        Only for a new index (or an old snapshot), whose decoded ids stay cached."""
        k1p = self.k1 + 1.0
        norm, tfs, offsets, tf1 = self._norm, self._tfs, self._offsets, self._tf1_weights()
        out = array("f")
        for tid in range(len(self._terms)):
            lo = offsets[tid]
            top = max(
                [
                    tf1[d] if tf == 1 else tf * k1p / (tf + norm[d])
                    for d, tf in zip(self._ids_of(tid), tfs[lo : offsets[tid + 1]])
                ]
            )
            out.append(top * (1.0 + 2.0**-20))  # float32 keeps 24 bits: this rounds up
        return out

    # -- construction -----------------------------------------------------

    @classmethod
    def build(cls, products: list[dict[str, Any]], documents: list[dict[str, Any]]) -> SearchIndex:
        items: list[tuple[Record, list[str]]] = []
        for product in products or []:
            items.append(_product_record(product))
        for doc in documents or []:
            items.extend(_document_records(doc))
        return cls._from_items(items)

    @classmethod
    def _from_items(cls, items: Iterable[tuple[Record, list[str]]]) -> SearchIndex:
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
        order = sorted(post_ids)  # stable layout -> stable snapshots
        terms = {term: number for number, term in enumerate(order)}
        postings = _PackedPostings.encode((post_ids[t], post_tfs[t]) for t in order)
        return cls(records, doc_lens, terms, postings)

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

    def postings(self, term: str) -> tuple[array[int], array[int]]:
        """``(record ids, term frequencies)`` of ``term`` (empty if unknown)."""
        tid = self._terms.get(term)
        if tid is None:
            return _uint32_array(), _uint32_array()
        lo, hi = self._offsets[tid], self._offsets[tid + 1]
        return _uint32_array(self._ids_of(tid)), _uint32_array(self._tfs[lo:hi])

    def record_ids(self, term: str) -> array[int]:
        """Record numbers containing ``term`` (ascending; the cached array, not a copy)."""
        tid = self._terms.get(term)
        return _uint32_array() if tid is None else self._ids_of(tid)

    def _ids_of(self, tid: int) -> array[int]:
        ids = self._ids.get(tid)
        if ids is None:
            ids = self._ids[tid] = self._postings.ids(tid, len(self.records))
        return ids

    def _tf1_weights(self) -> list[float]:
        """The tf part of every record for tf = 1 (computed on first use, not at load)."""
        table = self._tf1
        if table is None:
            k1p = self.k1 + 1.0
            table = self._tf1 = [1 * k1p / (1 + nm) for nm in self._norm]
        return table

    def _term_weights(self, tid: int) -> list[float]:
        """BM25 tf part ``tf*(k1+1)/(tf+norm)`` for every posting of a term."""
        cached = self._weights.get(tid)
        if cached is None:
            lo, hi = self._offsets[tid], self._offsets[tid + 1]
            norm = self._norm
            k1p = self.k1 + 1.0
            tf1 = self._tf1_weights()
            # most postings have tf 1: a table lookup gives the very same float
            cached = [
                tf1[d] if tf == 1 else tf * k1p / (tf + norm[d]) for d, tf in zip(self._ids_of(tid), self._tfs[lo:hi])
            ]
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

    def search_terms(self, term_weights: Mapping[str, float], k: int = 5) -> list[tuple[Record, float]]:
        """Like :meth:`search` for already tokenized, weighted query terms.

        A term's weight multiplies its BM25 contribution (a query term that
        occurs twice counts twice, as in :meth:`search`).
        """
        records = self.records
        return [(records[i], s) for i, s in self.score_terms(term_weights, k)]

    def score_terms(self, term_weights: Mapping[str, float], k: int = 5) -> list[tuple[int, float]]:
        """Top ``k`` ``(record number, score)`` pairs.

        Exact BM25 with "max-score" pruning: terms are scored from the one
        that can add most to the one that can add least (each term's bound
        is its idf times the largest tf part among its postings).  Once the
        k-th best partial score exceeds what the remaining terms could add,
        records not seen yet cannot reach the top ``k``: only the current
        candidates that could still get there are kept and updated (looked
        up by binary search instead of walking long posting lists).  So a
        very common term (tiny idf, e.g. "price" in a catalog where every
        product has one) costs a few lookups instead of a full scan.
        """
        if k <= 0 or not self.records:
            return []
        plan = self._score_plan(term_weights)
        if not plan:
            return []
        # suffix[i]: the most that terms i, i+1, ... can still add to one record
        suffix = [0.0] * (len(plan) + 1)
        for i in range(len(plan) - 1, -1, -1):
            suffix[i] = suffix[i + 1] + plan[i][0]
        scores: dict[int, float] = {}
        update_only = False
        for i, (_, _, tid, factor) in enumerate(plan):
            # the k-th best score can only pass what is left to add once the
            # terms scored so far could add more than that
            if len(scores) >= k and (update_only or suffix[0] - suffix[i] > suffix[i] + _EPS):
                scores, update_only = _prune(scores, k, suffix[i], update_only)
            if update_only:
                self._update_candidates(scores, tid, factor)
            else:
                self._add_term(scores, tid, factor)
        if not scores:
            return []
        # deterministic: higher score first, then lower record number
        best = heapq.nsmallest(k, scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(i, s) for i, s in best if s > 0]

    def _score_plan(self, term_weights: Mapping[str, float]) -> list[tuple[float, str, int, float]]:
        """``(bound, term, term id, factor)`` per known query term, the term that can add most first;
        ``factor`` is the query weight times idf, ``bound`` the most the term adds to one record."""
        plan = []
        max_weights = self._max_weights
        for term in sorted(term_weights):
            qw = term_weights[term]
            tid = self._terms.get(term)
            if tid is None or not qw or qw <= 0:
                continue
            factor = qw * self.idf(term)
            plan.append((factor * max_weights[tid], term, tid, factor))
        plan.sort(key=lambda p: (-p[0], p[1]))
        return plan

    def _add_term(self, scores: dict[int, float], tid: int, factor: float) -> None:
        """Add term ``tid``'s contribution to every record that contains it (new records included)."""
        ids, ws = self._ids_of(tid), self._term_weights(tid)
        if not scores:
            scores.update(zip(ids, [factor * w for w in ws]))
            return
        get = scores.get
        for d, w in zip(ids, ws):
            scores[d] = get(d, 0.0) + factor * w

    def _update_candidates(self, scores: dict[int, float], tid: int, factor: float) -> None:
        """Add term ``tid``'s contribution to the current candidates only."""
        lo, hi = self._offsets[tid], self._offsets[tid + 1]
        ids = self._ids_of(tid)
        if len(scores) * 16 >= hi - lo:  # few postings: walk them
            for d, w in zip(ids, self._term_weights(tid)):
                if d in scores:
                    scores[d] += factor * w
            return
        # a long posting list: look each candidate up by binary search
        all_tfs, norm, k1p = self._tfs, self._norm, self.k1 + 1.0
        pos, end = 0, hi - lo
        for d in sorted(scores):
            pos = bisect_left(ids, d, pos, end)
            if pos >= end:
                break
            if ids[pos] == d:
                tf = all_tfs[lo + pos]
                scores[d] += factor * (tf * k1p / (tf + norm[d]))

    # -- snapshots ------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """A format-3 snapshot (see the storage notes above): no pickle, no code."""
        records = self.records
        if isinstance(records, _RecordBlocks):  # loaded: its blocks are already encoded
            block_offsets, block_data = records._offsets, records._data
        else:
            block_offsets, block_data = _encode_record_blocks(records)
        postings = self._postings
        if any("\n" in term for term in self._terms):  # never from tokenize(); the separator below
            raise ValueError("a term contains a line break")
        terms_text = "\n".join(self._terms)  # in term-number order
        sections = [
            ("doc_lens", zlib.compress(_le_bytes(self.doc_lens), _ZLEVEL)),
            ("terms", zlib.compress(terms_text.encode("utf-8"), _ZLEVEL)),
            ("offsets", zlib.compress(_le_bytes(postings.offsets), _ZLEVEL)),
            ("id_offsets", zlib.compress(_le_bytes(postings.id_offsets), _ZLEVEL)),
            ("ids", zlib.compress(postings.id_bytes, _ZLEVEL)),
            ("tfs", zlib.compress(_le_bytes(postings.tfs), _ZLEVEL)),
            ("max_weights", zlib.compress(_le_bytes(self._max_weights), _ZLEVEL)),
            ("record_blocks", zlib.compress(_le_bytes(block_offsets), _ZLEVEL)),
            ("records", block_data),
        ]
        layout, start = {}, 0
        for name, blob in sections:
            layout[name] = [start, len(blob)]
            start += len(blob)
        header = json.dumps(
            {
                "format": SNAPSHOT_FORMAT,
                "k1": self.k1,
                "b": self.b,
                "records": len(records),
                "terms": len(self._terms),
                "tf_type": postings.tfs.typecode if postings.tfs.itemsize != 4 else "I",
                "records_per_block": RECORDS_PER_BLOCK,
                "sections": layout,
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode("utf-8")
        return b"".join([_MAGIC, len(header).to_bytes(4, "little"), header, *(blob for _, blob in sections)])

    @classmethod
    def from_bytes(cls, data: bytes) -> SearchIndex:
        """Load a :meth:`to_bytes` snapshot (validated; nothing is executed).

        Format-2 snapshots (gzip'd JSON, written before format 3) still load.
        """
        data = bytes(data)
        if data[:2] == b"\x1f\x8b":
            return cls._from_legacy(data)
        if data[: len(_MAGIC)] != _MAGIC:
            raise ValueError("not a search index snapshot")
        try:
            start = len(_MAGIC) + 4
            end = start + int.from_bytes(data[len(_MAGIC) : start], "little")
            header = json.loads(data[start:end].decode("utf-8"))
            if not isinstance(header, dict) or header.get("format") != SNAPSHOT_FORMAT:
                raise ValueError("unknown format")
            layout = header["sections"]

            def section(name: str) -> bytes:
                lo, size = layout[name]
                if not (
                    isinstance(lo, int)
                    and isinstance(size, int)
                    and lo >= 0
                    and size >= 0
                    and end + lo + size <= len(data)
                ):
                    raise ValueError(f"bad section {name}")
                return data[end + lo : end + lo + size]

            count = header["records"]
            term_count = header["terms"]
            per_block = header["records_per_block"]
            tf_type = {"B": "B", "H": "H", "I": _U32}[header["tf_type"]]
            doc_lens = _from_le(_U32, zlib.decompress(section("doc_lens")))
            terms_text = zlib.decompress(section("terms")).decode("utf-8")
            term_list = terms_text.split("\n") if term_count else []
            postings = _PackedPostings(
                _from_le(_U32, zlib.decompress(section("offsets"))),
                _from_le(_U32, zlib.decompress(section("id_offsets"))),
                zlib.decompress(section("ids")),
                _from_le(tf_type, zlib.decompress(section("tfs"))),
            )
            max_weights = _from_le("f", zlib.decompress(section("max_weights")))
            block_offsets = _from_le(_U32, zlib.decompress(section("record_blocks")))
            records_data = section("records")
            k1 = float(header["k1"])
            b = float(header["b"])
            if not (
                isinstance(count, int)
                and isinstance(per_block, int)
                and per_block > 0
                and 0 < k1 < 100
                and 0 <= b <= 1
                and count >= 0
                and len(doc_lens) == count
                and len(term_list) == term_count
                and len(postings.offsets) == term_count + 1
                and len(max_weights) == term_count
                and len(block_offsets) == -(-count // per_block) + 1
                and block_offsets[0] == 0
                and block_offsets[-1] == len(records_data)
                and all(a <= b_ for a, b_ in pairwise(block_offsets))
            ):
                raise ValueError("inconsistent sections")
            postings.validate(count)
        except (KeyError, TypeError, ValueError, IndexError, OverflowError, zlib.error) as exc:
            raise ValueError(f"corrupt search index snapshot: {exc}") from exc
        terms = dict(zip(term_list, range(term_count)))
        if len(terms) != term_count:
            raise ValueError("corrupt search index snapshot: duplicate terms")
        records = _RecordBlocks(count, block_offsets, records_data, per_block)
        return cls(records, doc_lens, terms, postings, k1=k1, b=b, max_weights=max_weights)

    @classmethod
    def _from_legacy(cls, data: bytes) -> SearchIndex:
        """Format 2: gzip'd JSON with base64 arrays and delta-coded ids across all terms."""
        try:
            payload = json.loads(gzip.decompress(data).decode("utf-8"))
        except (OSError, ValueError, EOFError) as exc:
            raise ValueError(f"not a search index snapshot: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("format") != LEGACY_SNAPSHOT_FORMAT:
            raise ValueError("not a search index snapshot (unknown format)")
        try:
            records = [
                Record(str(t), str(i), str(ti), None if u is None else str(u), str(tx))
                for t, i, ti, u, tx in payload["records"]
            ]
            doc_lens = _from_le(_U32, base64.b64decode(payload["doc_lens"], validate=True))
            term_list = payload["terms"]
            offsets = _from_le(_U32, base64.b64decode(payload["offsets"], validate=True))
            ids = array(_U32, accumulate(_from_le(_I32, base64.b64decode(payload["id_deltas"], validate=True))))
            tfs = _from_le(_U32, base64.b64decode(payload["tfs"], validate=True))
            k1 = float(payload.get("k1", K1))
            b = float(payload.get("b", B))
            n = len(records)
            if (
                len(doc_lens) != n
                or not isinstance(term_list, list)
                or len(offsets) != len(term_list) + 1
                or len(ids) != len(tfs)
                or offsets[0] != 0
                or offsets[-1] != len(ids)
                or any(a >= b_ for a, b_ in pairwise(offsets))
                or (ids and max(ids) >= n)
                or not all(isinstance(t, str) for t in term_list)
            ):
                raise ValueError("inconsistent postings")
            postings = _PackedPostings.encode(
                (ids[lo:hi].tolist(), tfs[lo:hi].tolist()) for lo, hi in pairwise(offsets)
            )
        except (KeyError, TypeError, ValueError, OverflowError, binascii.Error) as exc:
            raise ValueError(f"corrupt search index snapshot: {exc}") from exc
        terms = {t: i for i, t in enumerate(term_list)}
        if len(terms) != len(term_list):
            raise ValueError("corrupt search index snapshot: duplicate terms")
        return cls(records, doc_lens, terms, postings, k1=k1, b=b)
