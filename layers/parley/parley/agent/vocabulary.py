"""The planner's words, taken from the catalog itself: attribute names, their values, categories, option values and
product names, each as index terms (`retrieval.tokenize`), so "hoodie" finds `Hoodies` and "colors" finds `Color`.
Built on a worker's first question about a data set, not at load."""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

from parley.agent.values import DIMENSION_WORDS, dimension_of
from parley.retrieval import tokenize

if TYPE_CHECKING:
    from parley.agent.catalog import Catalog
    from parley.engine import Hints

MAX_VALUE_WORDS = 4  # longer property values are descriptions, not values a shopper names
SAMPLE_NAMES = 1000
SHORT_VALUE_WORDS = 2  # a value this short describes products ("navy", "unlimited"); longer ones may be names


def fold(term: str) -> str:
    """One more step than the index's stemming, for matching words to the catalog: `hoodie`/`hoodies`
    (-> hoodi/hoody), `size`/`sizes` (-> size/siz) and `beanie`/`beanies` meet."""
    return term.rstrip("eiy") or term if len(term) >= 4 and term.isalpha() else term


def words(text: str) -> list[str]:
    """The folded index terms of a text."""
    return [fold(t) for t in tokenize(text)]


def _name_ids(catalog: Catalog) -> dict[str, array[int]]:
    """Name term -> ids of the products whose name holds it."""
    ids: dict[str, array[int]] = {}
    for product_id, name in enumerate(catalog.names):
        for term in set(words(name)):
            ids.setdefault(term, array("I")).append(product_id)
    return ids


def _attribute_terms(catalog: Catalog) -> dict[str, set[str]]:
    """Term -> keys (norm) of the attributes whose name holds it."""
    terms: dict[str, set[str]] = {}
    for key, attribute in catalog.attributes.items():
        for term in map(fold, attribute.name_terms):
            terms.setdefault(term, set()).add(key)
    return terms


def _value_phrases(catalog: Catalog) -> dict[tuple[str, ...], set[tuple[str, str]]]:
    """Terms of a short value -> {(attribute key, value)} of the text, list and option attributes holding it."""
    phrases: dict[tuple[str, ...], set[tuple[str, str]]] = {}
    for key, attribute in catalog.attributes.items():
        if attribute.kind not in ("text", "list") and not attribute.is_option:
            continue
        for value in attribute.values:
            terms = tuple(words(value))
            if terms and len(terms) <= MAX_VALUE_WORDS and value not in ("yes", "no"):
                phrases.setdefault(terms, set()).add((key, value))
    return phrases


def _category_phrases(catalog: Catalog) -> dict[tuple[str, ...], str]:
    """Terms of a category's name -> its key (the first category with those terms)."""
    phrases: dict[tuple[str, ...], str] = {}
    for key in catalog.categories:
        terms = tuple(words(key))
        if terms:
            phrases.setdefault(terms, key)
    return phrases


def _common_name_terms(names: list[str]) -> set[str]:
    """Name words most products share (a brand): no help in telling products apart (a sample is enough)."""
    sample = names[:SAMPLE_NAMES]
    counts: dict[str, int] = {}
    for name in sample:
        for term in set(tokenize(name)):
            counts[term] = counts.get(term, 0) + 1
    return {t for t, n in counts.items() if n * 2 > len(sample) and len(sample) > 2}


def _dimension_words() -> dict[str, list[str]]:
    """Folded question word -> the dimensions it asks for."""
    dimensions: dict[str, list[str]] = {}
    for dimension, words_ in DIMENSION_WORDS.items():
        for term in words(words_):
            dimensions.setdefault(term, []).append(dimension)
    return dimensions


def _by_dimension(catalog: Catalog) -> dict[str, list[str]]:
    """Dimension -> keys of the numeric attributes measured in it, most values first."""
    keys: dict[str, list[str]] = {}
    for key, attribute in sorted(catalog.attributes.items(), key=lambda kv: -len(kv[1].ids)):
        dimension = dimension_of(attribute.unit)
        if attribute.numeric and dimension:
            keys.setdefault(dimension, []).append(key)
    return keys


class Vocabulary:
    def __init__(self, catalog: Catalog):
        self.name_ids = _name_ids(catalog)
        self.attribute_terms = _attribute_terms(catalog)
        self.value_phrases = _value_phrases(catalog)
        self.category_phrases = _category_phrases(catalog)
        self.products = len(catalog)
        self._category_words = {t for phrase in self.category_phrases for t in phrase}
        self._describing = set(self.attribute_terms) | self._category_words
        for phrase in self.value_phrases:
            if len(phrase) <= SHORT_VALUE_WORDS:
                self._describing.update(phrase)
        self._hints: Hints | None = None
        self._common = _common_name_terms(catalog.names)
        self._category_sizes = {key: len(ids) for key, ids in catalog.categories.items()}
        self._attribute_words = {key: set(tokenize(" ".join(a.words))) for key, a in catalog.attributes.items()}
        self._dimension_words = _dimension_words()
        self._by_dimension = _by_dimension(catalog)

    def dimensions(self, term: str) -> list[str]:
        """The dimensions a folded question word asks for ("fastest" -> speed)."""
        return self._dimension_words.get(term, [])

    def measured_in(self, dimension: str) -> list[str]:
        """Keys of the numeric attributes in that dimension, most values first."""
        return self._by_dimension.get(dimension, [])

    def related(self) -> dict[str, tuple[str, ...]]:
        """Question word -> index terms of the attributes it points at ("fast" -> download, mbps, upload; "data" ->
        data, gb): how the extractive engine finds the facts a question asks for, from this catalog's names."""
        out: dict[str, set[str]] = {}
        for dimension, words_ in DIMENSION_WORDS.items():
            for key in self._by_dimension.get(dimension, []):
                for word in tokenize(words_):
                    out.setdefault(word, set()).update(self._attribute_words[key])
        for terms in self._attribute_words.values():
            for term in terms:
                out.setdefault(term, set()).update(terms)
        return {word: tuple(sorted(terms - {word})) for word, terms in out.items() if terms - {word}}

    def hints(self) -> Hints:
        """What the extractive engine needs from this vocabulary (computed once)."""
        if self._hints is None:
            from parley.engine import Hints

            self._hints = Hints(self.related(), frozenset(self._common))
        return self._hints

    def category_size(self, key: str) -> int:
        return self._category_sizes.get(key, 0)

    def describes(self, term: str) -> bool:
        """Whether a word names an attribute, a value or a category (so it is not taken for a product name)."""
        return term in self._describing

    def names_a_property(self, term: str) -> bool:
        """A word of an attribute's or a category's name."""
        return term in self.attribute_terms or term in self._category_words

    def name_df(self, term: str) -> int:
        return len(self.name_ids.get(term, ()))

    def distinctive(self, term: str) -> bool:
        """A name word that tells products apart: not in most names (a brand every name starts with is not)."""
        df = self.name_df(term)
        return df > 0 and (df * 2 <= self.products or self.products <= 2)
