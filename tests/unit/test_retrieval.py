"""Tests for parley.retrieval: tokenizer, BM25 index, snapshots, recall@5."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest

from parley.retrieval import Record, SearchIndex, chunk_text, tokenize
from parley_local.samples import load_sample

QUESTIONS = Path(__file__).resolve().parents[1] / "fixtures" / "fiberup_questions.jsonl"


@pytest.fixture(scope="module")
def sample():
    return load_sample()


@pytest.fixture(scope="module")
def index(sample):
    products, documents = sample
    return SearchIndex.build(products, documents)


# ---------------------------------------------------------------- tokenizer


def test_tokenize_lowercases_and_drops_stopwords():
    assert tokenize("Does FiberUP Business Duplex include an SLA?") == [
        "fiberup",
        "business",
        "duplex",
        "includ",
        "sla",
    ]


def test_tokenize_keeps_numbers_and_alphanumerics():
    assert tokenize("5G speeds up to 1000 Mbps") == ["5g", "speed", "up", "1000", "mbp"]
    assert "99.9" in tokenize("99.9% availability")
    assert "34.95" in tokenize("only 34,95 EUR")


def test_tokenize_does_not_break_short_acronyms():
    for word in ("SLA", "EU", "TV", "IP", "SMS", "VPN", "5G", "4K"):
        assert tokenize(word) == [word.lower()]


def test_tokenize_light_stemming_is_consistent():
    assert tokenize("plans") == tokenize("plan")
    assert tokenize("SLAs") == tokenize("SLA")
    assert tokenize("charges") == tokenize("charge") == tokenize("charged")
    assert tokenize("cancelled") == tokenize("cancel") == tokenize("cancelling")
    assert tokenize("countries") == tokenize("country")
    assert tokenize("boxes") == tokenize("box")
    assert tokenize("business") == ["business"]


def test_tokenize_unicode_and_empty():
    assert tokenize("") == []
    assert tokenize("   ?!  ") == []
    assert tokenize("Größe café") == ["größ", "café"]
    assert tokenize("snake_case words") == ["snak", "case", "word"]


# ---------------------------------------------------------------- chunking


def test_chunk_text_overlaps_and_covers_everything():
    sentences = [f"Sentence number {i} has exactly seven words." for i in range(40)]
    chunks = chunk_text(" ".join(sentences), target_words=50, overlap=1)
    assert len(chunks) > 3
    assert all(len(c.split()) <= 50 for c in chunks)
    for prev, nxt in itertools.pairwise(chunks):
        last = prev.split(". ")[-1].rstrip(".")
        assert nxt.startswith(last)
    joined = " ".join(chunks)
    assert all(s in joined for s in sentences)


def test_long_sentence_becomes_its_own_chunk():
    long = " ".join(["word"] * 300) + "."
    assert chunk_text(long, target_words=100) == [long]


# ---------------------------------------------------------------- search


def test_build_counts_records(sample, index):
    products, documents = sample
    assert len(products) >= 20 and len(documents) >= 4
    assert len(index) > len(products) + len(documents) - 1
    assert sum(1 for r in index.records if r.type == "product") == len(products)
    doc_ids = {r.id for r in index.records if r.type == "document"}
    assert doc_ids == {d["key"] for d in documents}


def test_sla_question_finds_business_duplex_first(index):
    hits = index.search("Does FiberUP Business Duplex include an SLA?")
    assert hits
    record, score = hits[0]
    assert isinstance(record, Record)
    assert (record.type, record.id) == ("product", "FU-BIZ-DUPLEX")
    assert record.title == "FiberUP Business Duplex"
    assert score > 0
    assert any(r.id == "https://fiberup.example/legal/sla" for r, _ in hits)


def test_results_sorted_positive_and_limited(index):
    hits = index.search("fiber internet plan router", k=7)
    assert 0 < len(hits) <= 7
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(s > 0 for s in scores)
    assert index.search("fiber", k=0) == []


def test_unknown_or_stopword_query_returns_nothing(index):
    assert index.search("zebra xylophone") == []
    assert index.search("the and of is") == []
    assert index.search("") == []


def test_product_record_text_renders_all_fields(index):
    rec = next(r for r in index.records if r.id == "FU-BIZ-DUPLEX")
    assert "FU-BIZ-DUPLEX" in rec.text
    assert "sla: yes" in rec.text
    assert "149.00 EUR" in rec.text
    assert "business" in rec.text
    assert rec.url is None


def test_search_by_sku_and_property_value(index):
    assert index.search("FU-HOME-2000")[0][0].id == "FU-HOME-2000"
    assert index.search("WiFi 7 router")[0][0].id == "FU-HOME-2000"


def test_document_chunks_carry_url_and_title(index):
    chunks = [r for r in index.records if r.id == "https://fiberup.example/legal/roaming"]
    assert len(chunks) >= 2
    assert all(r.url == r.id and r.title == "Roaming charges" for r in chunks)
    # a document without url is keyed by its title
    titled = [r for r in index.records if r.type == "document" and r.url is None]
    assert titled and all(r.id == r.title for r in titled)


def test_ties_are_deterministic():
    products = [
        {
            "sku": f"SKU-{i}",
            "name": "Same plan",
            "description": "identical text",
            "properties": {},
            "categories": [],
            "price": None,
        }
        for i in range(5)
    ]
    idx = SearchIndex.build(products, [])
    ids = [r.id for r, _ in idx.search("identical plan", k=5)]
    assert ids == ["SKU-0", "SKU-1", "SKU-2", "SKU-3", "SKU-4"]
    assert ids == [r.id for r, _ in idx.search("identical plan", k=5)]


# ---------------------------------------------------------------- empty / snapshots


def test_empty_index():
    idx = SearchIndex.build([], [])
    assert len(idx) == 0
    assert idx.search("anything at all") == []
    again = SearchIndex.from_bytes(idx.to_bytes())
    assert len(again) == 0 and again.search("anything") == []


def test_snapshot_round_trip_gives_identical_results(index):
    data = index.to_bytes()
    assert isinstance(data, bytes) and data.startswith(b"\x89PBM25\r\n")  # format 3, not pickle
    loaded = SearchIndex.from_bytes(data)
    assert len(loaded) == len(index)
    assert loaded.records == index.records
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    for row in rows:
        assert loaded.search(row["question"], k=5) == index.search(row["question"], k=5)
    assert loaded.to_bytes() == data


def test_snapshot_loading_does_not_tokenize(index, monkeypatch):
    data = index.to_bytes()
    from parley import retrieval

    def boom(text):
        raise AssertionError("from_bytes must not tokenize")

    monkeypatch.setattr(retrieval, "tokenize", boom)
    loaded = SearchIndex.from_bytes(data)
    assert len(loaded) == len(index)


@pytest.mark.parametrize("junk", [b"", b"not gzip", b"\x1f\x8bbroken", b'{"format": "other"}', b"[1, 2, 3]"])
def test_snapshot_rejects_garbage(junk):
    with pytest.raises(ValueError):
        SearchIndex.from_bytes(junk)


# ---------------------------------------------------------------- quality


def test_recall_at_5_on_labelled_questions(index):
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    assert len(rows) >= 35
    kinds = {row["expected"]["type"] for row in rows}
    assert kinds == {"product", "document"}
    found = 0
    misses = []
    for row in rows:
        want = (row["expected"]["type"], row["expected"]["id"])
        got = [(r.type, r.id) for r, _ in index.search(row["question"], k=5)]
        if want in got:
            found += 1
        else:
            misses.append(row["question"])
    recall = found / len(rows)
    assert recall >= 0.9, f"recall@5 {recall:.2f}, missed: {misses}"


def test_fixture_ids_exist_in_sample(sample):
    products, documents = sample
    ids = {("product", p["sku"]) for p in products} | {("document", d["key"]) for d in documents}
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert (row["expected"]["type"], row["expected"]["id"]) in ids


# ---------------------------------------------------------------- scale


def _synthetic_products(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    kinds = ["Home", "Business", "Mobile", "Office", "Travel", "Family", "Student", "Pro"]
    words = [f"feature{i}" for i in range(400)]
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        out.append(
            {
                "sku": f"SYN-{i:06d}",
                "name": f"Synthetic {kind} {i}",
                "description": " ".join(rng.choice(words) for _ in range(25)),
                "properties": {
                    "speed_mbps": rng.choice([100, 300, 1000]),
                    "sla": rng.random() < 0.2,
                    "colour": rng.choice(["red", "blue", "green"]),
                },
                "categories": [kind.lower()],
                "price": round(rng.uniform(5, 150), 2),
            }
        )
    return out


def test_synthetic_5k_build_and_search():
    products = _synthetic_products(5000)
    idx = SearchIndex.build(products, [{"key": "k", "title": "Terms", "content": "Some terms.", "url": None}])
    assert len(idx) == 5001
    hits = idx.search("Synthetic Business 4321", k=3)
    assert hits[0][0].id == "SYN-004321"
    loaded = SearchIndex.from_bytes(idx.to_bytes())
    assert loaded.search("feature17 feature99 blue", k=10) == idx.search("feature17 feature99 blue", k=10)


def _brute_force(idx: SearchIndex, query: str, k: int) -> list[tuple[str, float]]:
    """Plain BM25 over every record, straight from the formula."""
    terms: dict[str, int] = {}
    for t in tokenize(query):
        terms[t] = terms.get(t, 0) + 1
    n = len(idx)
    avgdl = sum(idx.doc_lens) / n
    scores = {}
    for term, qw in terms.items():
        ids, tfs = idx.postings(term)
        idf = idx.idf(term)
        for d, tf in zip(ids, tfs):
            norm = idx.k1 * (1 - idx.b + idx.b * idx.doc_lens[d] / avgdl)
            scores[d] = scores.get(d, 0.0) + qw * idf * tf * (idx.k1 + 1) / (tf + norm)
    best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [(idx.records[d].id, s) for d, s in best if s > 0]


def test_pruned_search_matches_brute_force_bm25():
    rng = random.Random(3)
    idx = SearchIndex.build(_synthetic_products(3000), [])
    vocab = [
        "synthetic",
        "home",
        "business",
        "mobile",
        "red",
        "blue",
        "sla",
        "1000",
        "300",
        "feature1",
        "feature2",
        "feature3",
        "feature250",
        "speed",
        "mbps",
        "travel",
    ]
    for _ in range(60):
        query = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 6)))
        k = rng.choice([1, 3, 5, 10])
        got = [(r.id, s) for r, s in idx.search(query, k=k)]
        want = _brute_force(idx, query, k)
        assert [g[0] for g in got] == [w[0] for w in want], query
        assert all(abs(g[1] - w[1]) < 1e-9 for g, w in zip(got, want)), query


def test_loaded_snapshot_prunes_like_brute_force():
    """Per-term bounds come from the snapshot after a load: the pruned search
    must still equal plain BM25 for queries of very common terms (one of
    them in every record) and of rare ones."""
    rng = random.Random(9)
    products = _synthetic_products(2000)
    for i, product in enumerate(products):
        product["description"] += " fiber" if i % 3 else " fiber plan"
    loaded = SearchIndex.from_bytes(SearchIndex.build(products, []).to_bytes())
    assert loaded.df("fiber") == len(loaded)
    vocab = ["fiber", "plan", "synthetic", "home", "red", "blue", "feature1", "feature2", "feature300", "price"]
    for _ in range(60):
        query = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 6)))
        k = rng.choice([1, 5, 10])
        got = [(r.id, s) for r, s in loaded.search(query, k=k)]
        want = _brute_force(loaded, query, k)
        assert [g[0] for g in got] == [w[0] for w in want], query
        assert all(abs(g[1] - w[1]) < 1e-9 for g, w in zip(got, want)), query


def _format_2_snapshot(idx: SearchIndex) -> bytes:
    """The snapshot layout written before format 3 (gzip'd JSON, base64 arrays)."""
    import base64
    import gzip
    from array import array

    def pack(values, code="I"):
        return base64.b64encode(array(code, values).tobytes()).decode("ascii")

    terms = list(idx._terms)  # the index's own vocabulary, in term-number order
    offsets, ids, tfs = [0], [], []
    for term in terms:
        term_ids, term_tfs = idx.postings(term)
        ids.extend(term_ids)
        tfs.extend(term_tfs)
        offsets.append(len(ids))
    payload = {
        "format": "parley.bm25/2",
        "k1": idx.k1,
        "b": idx.b,
        "records": [[r.type, r.id, r.title, r.url, r.text] for r in idx.records],
        "doc_lens": pack(idx.doc_lens),
        "terms": terms,
        "offsets": pack(offsets),
        "id_deltas": pack([ids[0]] + [b - a for a, b in itertools.pairwise(ids)], "i"),
        "tfs": pack(tfs),
    }
    return gzip.compress(json.dumps(payload).encode("utf-8"), mtime=0)


def test_format_2_snapshots_still_load(index):
    old = _format_2_snapshot(index)
    assert old[:2] == b"\x1f\x8b"
    loaded = SearchIndex.from_bytes(old)
    assert loaded.vocabulary_size == index.vocabulary_size
    assert list(loaded.records) == list(index.records)
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    for row in rows:
        assert loaded.search(row["question"], k=5) == index.search(row["question"], k=5)
    assert loaded.to_bytes() == index.to_bytes()


def test_damaged_snapshot_raises_value_error(index):
    data = index.to_bytes()
    with pytest.raises(ValueError):
        SearchIndex.from_bytes(data[: len(data) // 2])
    # a flipped byte in any section: caught at load, or when the part is first read
    for position in range(len(data) // 3, len(data), max(1, len(data) // 40)):
        damaged = bytearray(data)
        damaged[position] ^= 0x55
        try:
            loaded = SearchIndex.from_bytes(bytes(damaged))
            list(loaded.records)
            for term in list(loaded._terms):
                loaded.postings(term)
        except ValueError:
            continue
        pytest.fail(f"a damaged byte at {position} of {len(data)} went unnoticed")
