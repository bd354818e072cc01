"""Reading a shopper's question against the catalog's own vocabulary: which products it names, which categories,
attribute values, price or quantity limits, and what it asks for (a list, a count, the most or least of
something, a comparison, whether something exists). Only generic English words are written here; every
product, category, attribute and value word comes from the data."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import product
from typing import Any, TypeVar

from parley.agent.catalog import Catalog
from parley.agent.values import dimension_of, unit_of
from parley.agent.vocabulary import Vocabulary, fold, words
from parley.retrieval import tokenize

# how well a question names a product: (-coverage - unique, -words matched, first position, product id, positions)
_Mention = tuple[float, int, int, int, set[int]]
_Found = TypeVar("_Found")

WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_DESCENDING = frozenset(
    words(
        "most highest largest biggest longest fastest heaviest maximum max greatest "
        "priciest widest tallest deepest thickest strongest more higher larger bigger "
        "longer faster heavier wider taller deeper newest latest newer"
    )
)
_ASCENDING = frozenset(
    words(
        "least lowest smallest shortest slowest lightest minimum min fewest cheapest "
        "narrowest thinnest less lower smaller shorter slower lighter narrower fewer "
        "oldest earliest older"
    )
)
_CHEAP = re.compile(
    r"\b(cheapest|least expensive|lowest[- ]priced|lowest price|most affordable|cheaper|"
    r"less expensive)\b",
    re.I,
)
_DEAR = re.compile(
    r"\b(most expensive|priciest|highest[- ]priced|highest price|dearest|pricier|"
    r"more expensive)\b",
    re.I,
)
_COUNT = re.compile(r"\bhow many\b|\bnumber of\b", re.I)
_COMPARE = re.compile(r"\b(compare|comparison|difference|differences|differ|versus|vs\.?)\b", re.I)
_EXISTENCE = re.compile(
    r"^\s*(?:and\s+)?(?:do|does)\s+(?:you|they|the (?:shop|store))\s+(?:sell|have|offer|carry|"
    r"stock|provide)|^\s*(?:and\s+)?(?:is|are)\s+there\b|^\s*can i buy\b|"
    r"^\s*have you got\b",
    re.I,
)
_LIST = re.compile(r"^\s*(?:and\s+)?(?:which|what)\b|\b(list|show me|all|any|options)\b", re.I)
_LIST_MANY = re.compile(r"^\s*(?:and\s+)?which\b|\b(list|show me|all|any)\b", re.I)
_ON_SALE = re.compile(r"\b(on sale|discount(?:ed|s)?|reduced|on offer|deals?|markdowns?|clearance)\b", re.I)
_OUT_OF_STOCK = re.compile(r"\b(out of stock|sold out|unavailable)\b", re.I)
_IN_STOCK = re.compile(r"\b(in stock|available now|available to buy|ready to ship)\b", re.I)
# "Can I order it now?" asks whether it is available: its stock
_ORDER_NOW = re.compile(r"\b(?:order|buy|purchase|get)\b.*\b(?:now|today|right away)\b", re.I)
# "When will it be back in stock?" asks for a restock date, which a catalog seldom holds
_RESTOCK = re.compile(
    r"\b(?:back in stock|in stock again|available again|restock(?:ed|ing)?)\b|"
    r"\bwhen\b.*\b(?:in stock|available)\b",
    re.I,
)
_NUMBER = r"(\d+(?:[.,]\d+)?)"
_UNIT = r"\s*([a-z%€$£/]+(?:/[a-z]+)?)?"
_OR_LATER = re.compile(
    _NUMBER + r"\s*([a-z%]+)?\s*(?:or (?:later|more|newer|above|higher|over)|and (?:up|above|later)|\+)", re.I
)
_OR_EARLIER = re.compile(_NUMBER + r"\s*([a-z%]+)?\s*(?:or (?:earlier|less|older|below|lower|under|fewer))", re.I)
_AT_MOST = re.compile(
    r"\b(?:under|below|less than|cheaper than|at most|up to|no more than|max(?:imum)?|within)"
    r"\s*[€$£]?\s*" + _NUMBER + _UNIT,
    re.I,
)
_AT_LEAST = re.compile(
    r"\b(?:over|above|more than|at least|min(?:imum)?|from|faster than|longer than|"
    r"bigger than|larger than)\s*[€$£]?\s*" + _NUMBER + _UNIT,
    re.I,
)
_BETWEEN = re.compile(r"\bbetween\s*[€$£]?\s*" + _NUMBER + r"\s*(?:and|-|to)\s*[€$£]?\s*" + _NUMBER + _UNIT, re.I)
_OVERVIEW = re.compile(
    r"^\s*what\s+(?:(?:products|items|things)\s+)?(?:do|does|can)\s+(?:you|they|i|the (?:shop|store))\s+"
    r"(?:sell|have|offer|carry|buy)\b|^\s*what\s+(?:products|items)\s+(?:are there|do you have)",
    re.I,
)
_HYPHENATED = re.compile(r"\b([^\W\d_]+)-([^\W\d_]+)\b")
_QUANTITY = re.compile(r"\b(\d+(?:[.,]\d+)?)\s*([a-z%]+(?:/[a-z]+)?)\b", re.I)
_NEGATION = frozenset("without no not exclude excluding except".split())
_ANAPHORA = re.compile(
    r"\b(it|its|it's|that|this|they|them|those|these|the same|either|one|ones|"
    r"both|the first|the second|the last|the other)\b",
    re.I,
)
_PRICE_WORDS = re.compile(r"\b(price|prices|cost|costs|how much|expensive|cheap|pay|fee)\b", re.I)
YES_NO_START = ("does", "do", "is", "are", "can", "has", "have", "will", "would")
# words that point back ("that one") and so name no product on their own, even when one product's name has them
POINTING = frozenset(words("one ones it this that these those other same"))
_COLLECTIVE = frozenset(
    words(
        "product products item items thing things plan plans option options one ones "
        "kind kinds type types model models version versions"
    )
)


@dataclass
class Reading:
    question: str
    words: list[str]
    terms: list[str]  # folded, for the catalog's vocabulary
    index_terms: list[str]  # the same words as the search index has them
    products: list[int] = field(default_factory=list)  # named products, in question order
    category: str | None = None
    filters: list[dict[str, Any]] = field(default_factory=list)
    min_price: float | None = None
    max_price: float | None = None
    on_sale: bool | None = None
    in_stock: bool | None = None
    sort: tuple[str, str] | None = None  # (price or attribute key, asc | desc)
    picked_by: tuple[str, str] | None = None  # the sort that chose among earlier products
    sort_word: str | None = None  # the question's own superlative ("longest")
    attributes: list[str] = field(default_factory=list)  # attributes the question names
    used: set[int] = field(default_factory=set)  # term positions explained by the catalog
    name_spots: set[int] = field(default_factory=set)  # term positions naming products
    leftover: list[str] = field(default_factory=list)  # content words the catalog does not explain

    @property
    def narrows(self) -> bool:
        return bool(
            self.category
            or self.filters
            or self.min_price is not None
            or self.max_price is not None
            or self.on_sale is not None
            or self.in_stock is not None
        )

    def has(self, pattern: re.Pattern[str]) -> bool:
        return bool(pattern.search(self.question))

    @property
    def counts(self) -> bool:
        return self.has(_COUNT)

    @property
    def counts_everything(self) -> bool:
        """ "How many products do you sell?": a count that names nothing to narrow by, only the catalog itself."""
        return (
            self.counts
            and not (self.narrows or self.products or self.leftover or self.attributes)
            and all(term in QUESTION_WORDS or term in _COLLECTIVE for term in self.terms)
        )

    @property
    def compares(self) -> bool:
        return self.has(_COMPARE)

    @property
    def asks_existence(self) -> bool:
        return self.has(_EXISTENCE)

    @property
    def lists(self) -> bool:
        return self.has(_LIST)

    @property
    def asks_overview(self) -> bool:
        """ "What do you sell?": the whole catalog, in a sentence."""
        return self.has(_OVERVIEW) and not (self.narrows or self.products or self.sort)

    @property
    def lists_many(self) -> bool:
        """ "which jackets ...", "list ...": several products wanted, not a fact about one ("what battery ...")."""
        return self.has(_LIST_MANY)

    @property
    def points_back(self) -> bool:
        return self.has(_ANAPHORA)

    @property
    def asks_price(self) -> bool:
        return self.has(_PRICE_WORDS)

    @property
    def asks_restock(self) -> bool:
        return self.has(_RESTOCK)

    @property
    def asks_yes_no(self) -> bool:
        return bool(self.words) and self.words[0] in YES_NO_START


def read(question: str, catalog: Catalog) -> Reading:
    question = _join_known_compounds(question, catalog)
    reading = Reading(question, WORD_RE.findall(question.lower()), words(question), tokenize(question))
    vocabulary = catalog.vocabulary
    reading.products = named_products(reading.terms, catalog, reading.name_spots)
    reading.used |= reading.name_spots
    _categories(reading, catalog)
    _values(reading, catalog, vocabulary)
    _limits(reading, catalog)
    _flags(reading)
    _superlative(reading, catalog)
    reading.attributes = named_attributes(reading, catalog)
    if not reading.products:
        _flag_filters(reading, catalog)
    reading.leftover = _leftover(reading, catalog)
    return reading


QUESTION_WORDS = frozenset(
    words(
        "include includes included come comes with offer offers sell carry stock buy get order cost costs price priced "
        "pay much many cheap expensive tell about compare difference different between available sale anything "
        "something everything thing things product products item items plan plans package packages option options "
        "kind type sort range model models version one ones need want looking show list give me us you do does have "
        "has there shop store catalog right now currently please also still long big heavy fast large wide tall "
        "high far weigh weighs cheaper cheapest faster bigger smaller longer shorter heavier lighter better "
        "same per use uses used under below over above than between within from least most less more back again "
        "restock today"
    )
)


def _leftover(reading: Reading, catalog: Catalog) -> list[str]:
    """Content words of the question that no product name, category or attribute of the catalog holds, nor a value
    the question names ("satellite", "CEO", "wash")."""
    vocabulary = catalog.vocabulary
    out = []
    for number, term in enumerate(reading.terms):
        if number in reading.used or term in QUESTION_WORDS or term in _DESCENDING or term in _ASCENDING:
            continue
        if (
            term.replace(".", "").isdigit()
            or vocabulary.name_df(term)
            or vocabulary.names_a_property(term)
            or _time_or_money(reading.index_terms[number])
        ):  # "£15 a month"
            continue
        out.append(reading.index_terms[number])
    return out


def _join_known_compounds(question: str, catalog: Catalog) -> str:
    """ "t-shirts" -> "tshirts" when the shop writes it as one word (a category "Tshirts")."""
    vocabulary = catalog.vocabulary

    def join(match: re.Match[str]) -> str:
        joined: str = match.group(1) + match.group(2)
        term = words(joined)
        known = term and (vocabulary.describes(term[0]) or vocabulary.name_df(term[0]))
        whole: str = match.group(0)
        return joined if known else whole

    return _HYPHENATED.sub(join, question)


def _time_or_money(term: str) -> bool:
    return dimension_of(term) in ("duration", "money")


def _flag_filters(reading: Reading, catalog: Catalog) -> None:
    """ "which plans include an SLA", "without a router": a yes/no attribute whose every name word is asked."""
    terms = set(reading.terms)
    for key in reading.attributes:
        attribute = catalog.known_attribute(key)
        words = set(map(fold, attribute.name_terms))
        if attribute.kind != "bool" or not words or not words <= terms:
            continue
        first = min(reading.terms.index(w) for w in words)
        negated = bool(_NEGATION & set(reading.words[: max(1, first + 2)][-4:]))
        reading.filters.append({"attribute": attribute.key, "op": "eq", "value": not negated})
        break


def named_products(terms: list[str], catalog: Catalog, used: set[int] | None = None) -> list[int]:
    """Products whose name words the question holds close together, best covered first. Words that also name a
    category, attribute or value ("lawn mower", "cordless") count only beside a word of the product's own."""
    vocabulary = catalog.vocabulary
    positions: dict[str, list[int]] = {}
    for number, term in enumerate(terms):
        if vocabulary.distinctive(term):
            positions.setdefault(term, []).append(number)
    candidates: dict[int, set[str]] = {}
    for term in positions:
        ids = vocabulary.name_ids.get(term, ())
        if len(ids) <= 200:
            for product_id in ids:
                candidates.setdefault(product_id, set())
    for product_id in candidates:
        candidates[product_id] = set(words(catalog.names[product_id])) & set(positions)
    scored = [
        found
        for product_id, matched in candidates.items()
        if (found := _mention(product_id, matched, positions, catalog)) is not None
    ]
    chosen: list[tuple[int, int]] = []
    claimed: set[int] = set()
    for _, _, _, product_id, spots in sorted(scored):
        if spots - claimed:
            chosen.append((min(spots), product_id))
            claimed |= spots
    if used is not None:
        used |= claimed
    return [product_id for _, product_id in sorted(chosen)]


def _closest(positions: dict[str, list[int]], matched: set[str]) -> list[int]:
    """Positions of the matched words, one occurrence each, as close together as they come ("SIM Only 5GB and SIM
    Only 30GB": each name gets its own three words)."""
    choices = [positions[t][:4] for t in sorted(matched)]
    best: list[int] = []  # matched words are never none: the first combination is taken
    for combination in product(*choices):
        spots = sorted(set(combination))
        if not best or (spots[-1] - spots[0], spots[0]) < (best[-1] - best[0], best[0]):
            best = spots
    return best


def _mention(product_id: int, matched: set[str], positions: dict[str, list[int]], catalog: Catalog) -> _Mention | None:
    """(sort key..., product id, positions) when the matched words name this product, else None."""
    vocabulary = catalog.vocabulary
    own = [t for t in dict.fromkeys(words(catalog.names[product_id])) if vocabulary.distinctive(t)]
    specific = [t for t in own if not vocabulary.describes(t)]
    if not specific:  # "Mobile Unlimited": every word describes, so every word must be there
        if not set(own) <= matched:
            return None
        specific = own
    found = [t for t in specific if t in matched]
    spots = _closest(positions, matched)
    if spots[-1] - spots[0] > len(spots):
        return None
    if found and all(t.replace(".", "").isdigit() or t in POINTING for t in found) and len(matched) < 2:
        return None  # a bare number ("under 20") or "that one" names no product
    unique = any(vocabulary.name_df(t) == 1 for t in found)
    coverage = len(found) / max(1, len(specific))
    if unique or (found and coverage >= 0.5 and (len(matched) >= 2 or (coverage == 1 and len(own) > 1))):
        return (-coverage - unique, -len(matched), spots[0], product_id, set(spots))
    return None


def _phrases(
    terms: list[str], table: Mapping[tuple[str, ...], _Found], skip: set[int]
) -> Iterator[tuple[int, int, _Found]]:
    """(start, end, value) of the longest phrases of `terms` found in `table`, left to right."""
    start = 0
    while start < len(terms):
        for end in range(min(len(terms), start + 4), start, -1):
            key = tuple(terms[start:end])
            if key in table and not skip & set(range(start, end)):
                yield start, end, table[key]
                start = end - 1
                break
        start += 1


def _categories(reading: Reading, catalog: Catalog) -> None:
    vocabulary = catalog.vocabulary
    found = []
    for start, end, key in _phrases(reading.terms, vocabulary.category_phrases, reading.used):
        price_words = reading.has(_CHEAP) or reading.has(_DEAR)
        if (
            start
            and not price_words
            and reading.terms[start - 1] in _DESCENDING | _ASCENDING
            and any(
                catalog.attributes[k].numeric
                for t in reading.terms[start:end]
                for k in vocabulary.attribute_terms.get(t, ())
            )
        ):
            continue  # "the most data": the word is the attribute to sort on, not the category "Data"
        found.append(key)
        reading.used |= set(range(start, end))
    if found:  # the narrowest of nested ones ("prepaid mobile" -> prepaid), else the first ("plans ... my phone")
        reading.category = _subject_category(found, catalog)


def _subject_category(found: list[str], catalog: Catalog) -> str:
    first = found[0]
    overlapping = [k for k in found if set(catalog.categories[k]) & set(catalog.categories[first])]
    return min(overlapping, key=lambda k: len(catalog.categories[k]))


def _values(reading: Reading, catalog: Catalog, vocabulary: Vocabulary) -> None:
    for start, end, pairs in _phrases(reading.terms, vocabulary.value_phrases, reading.used):
        attributes = {key for key, _ in pairs}
        key = min(attributes, key=lambda k: -len(catalog.attributes[k].ids))
        values = [value for k, value in pairs if k == key]
        negated = bool(_NEGATION & set(reading.words[max(0, start - 3) : start]))
        reading.filters.append(
            {"attribute": catalog.attributes[key].key, "op": "ne" if negated else "in", "value": values}
        )
        reading.used |= set(range(start, end))


def _unit_attribute(catalog: Catalog, unit: str | None, reading: Reading) -> str | None:
    """The numeric attribute measured in `unit` (the one the question names, else the most common)."""
    found = unit_of(unit) if unit else None
    if not unit or not found:
        return None
    wanted = found[0]
    exact = len(unit.strip()) == 1  # "36V" is volts; "5G" is not grams
    matches = [
        a
        for a in catalog.attributes.values()
        if a.numeric
        and (
            a.unit == wanted
            or (not exact and a.unit and dimension_of(a.unit) == found[1] and found[1] not in ("money", "count"))
        )
    ]
    terms = set(reading.terms)
    if found[1] == "money":  # "under 30 euros" is the price unless a fee is named
        matches = [a for a in matches if terms & set(words(" ".join(a.words[:-1])))]
    if not matches:
        return None
    return max(matches, key=lambda a: (len(terms & set(words(" ".join(a.words)))), a.unit == wanted, len(a.ids))).key


def _limits(reading: Reading, catalog: Catalog) -> None:
    spans = [(m, "lte") for pattern in (_AT_MOST, _OR_EARLIER) for m in pattern.finditer(reading.question)]
    spans += [(m, "gte") for pattern in (_AT_LEAST, _OR_LATER) for m in pattern.finditer(reading.question)]
    between = _BETWEEN.search(reading.question)
    for match, op in spans:
        if between and between.start() <= match.start() < between.end():
            continue
        _limit(reading, catalog, op, float(match.group(1).replace(",", ".")), match.group(2))
    taken = [m.span() for m, _ in spans] + ([between.span()] if between else [])
    for match in _QUANTITY.finditer(reading.question):
        if not any(a <= match.start() < b for a, b in taken) and unit_of(match.group(2)):
            attribute = _unit_attribute(catalog, match.group(2), reading)
            if attribute and dimension_of(match.group(2)) != "money":
                reading.filters.append(
                    {
                        "attribute": attribute,
                        "op": "eq",
                        "value": _quantity(float(match.group(1).replace(",", ".")), match.group(2)),
                    }
                )
    if between:
        low, high = sorted(float(between.group(n).replace(",", ".")) for n in (1, 2))
        _limit(reading, catalog, "gte", low, between.group(3))
        _limit(reading, catalog, "lte", high, between.group(3))


def _limit(reading: Reading, catalog: Catalog, op: str, number: float, unit: str | None) -> None:
    attribute = _unit_attribute(catalog, unit, reading)
    if attribute is None:
        if unit and unit_of(unit) is None and unit.lower() not in ("euros", "dollars", "pounds", "bucks"):
            attribute = _named_numeric(reading, catalog, words(unit))
        if attribute is None and not unit:  # "published in 2023 or later": no price is near 2023, a year is
            attribute = _attribute_by_range(catalog, number)
        if attribute is None and (not unit or dimension_of(unit) in (None, "money")):
            if op == "lte":
                reading.max_price = number
            else:
                reading.min_price = number
            return
    if attribute:
        reading.filters.append({"attribute": attribute, "op": op, "value": _quantity(number, unit)})


def _quantity(number: float, unit: str | None) -> float | str:
    """A filter value: "2 kg" keeps its unit (the attribute may be in lbs); a bare number is in the attribute's."""
    return f"{number:g} {unit}" if unit and unit_of(unit) else number


def _attribute_by_range(catalog: Catalog, number: float) -> str | None:
    """For a bare number outside every price: the numeric attribute whose values span it."""
    prices = catalog.sorted_prices()
    if not len(prices) or prices[0] <= number <= prices[-1] * 2:
        return None
    spanning = []
    for attribute in catalog.attributes.values():
        if not attribute.numeric:
            continue
        values = attribute.sorted_numbers()
        if len(values) and values[0] <= number <= values[-1] and dimension_of(attribute.unit) != "money":
            spanning.append(attribute)
    return max(spanning, key=lambda a: len(a.ids)).key if spanning else None


def _named_numeric(reading: Reading, catalog: Catalog, terms: list[str]) -> str | None:
    found = [a for a in catalog.attributes.values() if a.numeric and set(terms) & set(words(" ".join(a.words)))]
    return max(found, key=lambda a: len(a.ids)).key if found else None


def _flags(reading: Reading) -> None:
    if reading.has(_ON_SALE):
        reading.on_sale = True
        _explained(reading, _ON_SALE)
    if reading.has(_OUT_OF_STOCK):
        reading.in_stock = False
        _explained(reading, _OUT_OF_STOCK)
    elif reading.has(_IN_STOCK) or reading.has(_ORDER_NOW) or reading.has(_RESTOCK):
        reading.in_stock = True
        _explained(reading, _IN_STOCK)


def _explained(reading: Reading, pattern: re.Pattern[str]) -> None:
    """The words of a phrase the reading took as a flag ("sold out") are not left over as unknown content."""
    said = {term for match in pattern.finditer(reading.question) for term in words(match.group(0))}
    reading.used.update(number for number, term in enumerate(reading.terms) if term in said)


def _superlative(reading: Reading, catalog: Catalog) -> None:
    if reading.has(_CHEAP):
        reading.sort = ("price", "asc")
        return
    if reading.has(_DEAR):
        reading.sort = ("price", "desc")
        return
    lowered = reading.question.lower()
    for number, term in enumerate(reading.terms):
        raw = reading.words[index] if (index := _word_index(reading, number)) is not None else ""
        if (term not in _DESCENDING and term not in _ASCENDING) or f"at {term}" in lowered or f"{raw} than" in lowered:
            continue
        order = "desc" if term in _DESCENDING else "asc"
        rest = [t for t in reading.terms[number + 1 : number + 4] if t not in _COLLECTIVE]
        key = _named_numeric(reading, catalog, rest[:2]) if rest else None
        if key is None:
            key = _by_dimension(catalog, [term])
        if key is None and term in words("priciest best"):
            key = "price"
        if key:
            reading.sort = (key, order)
            said = [w for w in reading.words if words(w)[:1] == [term] and w.endswith("est")]
            reading.sort_word = said[0] if said and said[0] not in ("least", "most", "best") else None
            return


def _word_index(reading: Reading, term_number: int) -> int | None:
    """The position in `reading.words` of the question word that became term `term_number`."""
    count = -1
    for index, word in enumerate(reading.words):
        if words(word):
            count += 1
            if count == term_number:
                return index
    return None


def _by_dimension(catalog: Catalog, terms: list[str]) -> str | None:
    """The attribute a measuring word asks for: of those in its dimensions ("long": a duration, a length, a page
    count), the one most products have."""
    vocabulary = catalog.vocabulary
    for term in terms:
        found = [k for d in vocabulary.dimensions(term) for k in vocabulary.measured_in(d)]
        if found:
            return catalog.attributes[max(found, key=lambda k: len(catalog.attributes[k].ids))].key
    return None


# verbs that ask for a property by another word ("who wrote it?" asks for the author)
_ASKING_VERBS = {
    fold(t): words(v)
    for k, v in {
        "wrote write writes written": "author writer",
        "made make makes manufactured manufactures": "material fabric brand maker manufacturer",
        "published publishes": "publisher",
        "sung sang sings performed": "artist performer",
        "directed directs": "director",
        "designed designs": "designer",
    }.items()
    for t in tokenize(k)
}


def _attributes_of_word(term: str, vocabulary: Vocabulary) -> set[str]:
    """Attributes a question word names: by their own words, by a word they start with ("publish" ->
    Publisher), or through an asking verb ("wrote" -> Author)."""
    found = set(vocabulary.attribute_terms.get(term, ()))
    if not found and len(term) >= 5:
        found = {k for word, keys in vocabulary.attribute_terms.items() if word.startswith(term) for k in keys}
    for word in _ASKING_VERBS.get(term, ()):
        found |= vocabulary.attribute_terms.get(word, set())
    return found


def named_attributes(reading: Reading, catalog: Catalog) -> list[str]:
    """Attributes whose name words the question holds ("what colors" -> Color), most words matched first."""
    vocabulary = catalog.vocabulary
    terms = [t for n, t in enumerate(reading.terms) if n not in reading.name_spots and t not in POINTING]
    scores: dict[str, int] = {}
    for term in dict.fromkeys(terms):
        for key in _attributes_of_word(term, vocabulary):
            scores[key] = scores.get(key, 0) + 1
    yes_no = reading.words[:1] in (["does"], ["do"], ["is"], ["are"], ["can"], ["has"], ["have"])
    ranked = sorted(
        scores,
        key=lambda k: (
            -scores[k] / max(1, len(catalog.attributes[k].name_terms)),
            (catalog.attributes[k].kind == "bool") != yes_no,
            -scores[k],
        ),
    )
    named = [catalog.attributes[k].key for k in ranked]
    if not named:  # "how heavy is it", "how wide is the belt": the attributes measured in that dimension
        vocabulary = catalog.vocabulary
        named = [
            catalog.attributes[k].key
            for t in terms
            for d in vocabulary.dimensions(t)
            for k in vocabulary.measured_in(d)
        ]
    return list(dict.fromkeys(named))
