"""The offline engine: reads the question against the catalog (`reading`), plans tool calls, and writes short
sentences from their results. Each call is recorded as a `Step`. Questions it cannot place (a feature yes/no
about one product, a policy) go to the extractive engine over the same index, whose facts it quotes."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from parley.agent import tools
from parley.agent.catalog import Attribute, Catalog
from parley.agent.contracts import AnswerListener, Knowledge, Step, ToolError, ToolResult
from parley.agent.reading import POINTING, QUESTION_WORDS, WORD_RE, Reading, named_products, read
from parley.agent.values import Typed, dimension_of, format_number, show, typed, unit_from_key
from parley.agent.vocabulary import fold, words
from parley.engine import NO_ANSWER_TEXT, NO_HINTS, Answer, ExtractiveEngine, Source, Turn, feature_phrase
from parley.retrieval import split_sentences, tokenize

LIST_LIMIT = 10
MAX_SOURCES = 10


class _Calls:
    """Runs tools for one answer, keeping the steps and the sources."""

    def __init__(self, knowledge: Knowledge, listener: AnswerListener | None):
        self.knowledge = knowledge
        self.listener = listener
        self.steps: list[Step] = []
        self.sources: list[Source] = []
        self.results: list[ToolResult] = []

    def __call__(self, name: str, arguments: dict[str, Any]) -> ToolResult | None:
        started = time.perf_counter()
        try:
            result, error = tools.tool(name).run(self.knowledge, arguments), None
        except ToolError as exc:
            result, error = None, str(exc)
        step = Step(name, arguments, result.count if result else 0, (time.perf_counter() - started) * 1000, error)
        self.steps.append(step)
        if self.listener is not None:
            self.listener.step(step)
        if result:
            self.results.append(result)
            self.sources.extend(
                s for s in result.sources if all((s.type, s.id) != (o.type, o.id) for o in self.sources)
            )
        return result


def price_text(item: dict[str, Any], unit: str | None = None) -> str | None:
    money = unit or item.get("currency") or ""
    if item.get("price_range"):
        low, high = item["price_range"]
        return f"from {low:.2f} to {high:.2f} {money}".strip() + (" (on sale)" if item.get("on_sale") else "")
    if item.get("price") is None:
        return None
    text = f"{item['price']:.2f} {money}".strip()
    if item.get("on_sale") and item.get("regular_price"):
        text += f" (on sale, was {item['regular_price']:.2f})"
    return text


def _price_unit(catalog: Catalog, sku: str) -> str | None:
    """A `price_unit` property ("EUR per month") says what the price is per; else the currency is used."""
    found = catalog.find_sku(sku)
    unit = catalog.attribute("price_unit")
    return str(unit.raw_of(found[0])) if found and unit and unit.raw_of(found[0]) is not None else None


def _describe(catalog: Catalog, item: dict[str, Any], attributes: Sequence[str] = (), price: bool = True) -> str:
    parts = []
    for key in attributes:
        raw = (item.get("attributes") or {}).get(key)
        if raw is not None:
            attribute = catalog.known_attribute(key)
            parts.append(f"{_plain_label(attribute)} {value_text(attribute, raw)}")
    money = price_text(item, _price_unit(catalog, item["sku"])) if price else None
    if money:
        parts.append(money)
    return f"{item['name']} ({', '.join(parts)})" if parts else item["name"]


def _names(catalog: Catalog, items: list[dict[str, Any]], total: int, attributes: list[str]) -> str:
    shown = [_describe(catalog, item, attributes) for item in items]
    text = ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + shown[-1]
    more = total - len(items)
    return text + (f", and {more} more" if more > 0 else "")


class PlannerEngine:
    """Answers with the tools; see the module notes and docs/agent.md."""

    def __init__(self, list_limit: int = LIST_LIMIT):
        self.list_limit = list_limit
        self.fallback = ExtractiveEngine()

    def answer(
        self, question: str, history: list[Turn], knowledge: Knowledge, listener: AnswerListener | None = None
    ) -> Answer:
        question = (question or "").strip()
        calls = _Calls(knowledge, listener)
        text = None
        catalog = knowledge.catalog
        if question and catalog is not None and len(catalog):
            text = self._plan(question, history or [], catalog, calls)
        if text is None:
            hints = catalog.vocabulary.hints() if catalog is not None and len(catalog) else NO_HINTS
            fallback = self.fallback.answer(question, history or [], knowledge.index, hints)
            text, sources = fallback.text, fallback.sources
        else:
            sources = calls.sources[:MAX_SOURCES]
        if listener is not None:
            listener.delta(text)
        return Answer(text, sources, steps=calls.steps)

    # -- planning ---------------------------------------------------------------------

    def _plan(self, question: str, history: list[Turn], catalog: Catalog, calls: _Calls) -> str | None:
        reading = read(question, catalog)
        _drop_products_outside_category(reading, catalog)
        if reading.asks_overview:
            return self._overview(catalog, calls)
        index = calls.knowledge.index
        if reading.leftover and not reading.products and _unknown(reading, index):
            return _absent(reading) if reading.asks_existence else NO_ANSWER_TEXT
        if reading.leftover and reading.asks_existence and not reading.products and not reading.points_back:
            return self._existence(reading, catalog, calls)
        if reading.leftover and _about_documents(reading, index):
            return self._documents(reading, calls)
        made_for = _made_for(reading, catalog) if reading.asks_existence and reading.products else None
        if made_for:
            return self._search_made_for(*made_for, catalog, calls)
        if reading.leftover and reading.products and _unsaid(reading, catalog):
            return _not_said(reading, catalog)
        return self._plan_on_products(reading, history, catalog, calls)

    def _plan_on_products(self, reading: Reading, history: list[Turn], catalog: Catalog, calls: _Calls) -> str | None:
        earlier = _earlier_products(history, catalog)
        asks_about_earlier = reading.attributes and not (
            reading.narrows or reading.lists_many or reading.counts or reading.sort
        )  # "Who is the author?"
        if not reading.products and earlier and (reading.points_back or _is_elliptic(reading) or asks_about_earlier):
            reading.products = _resolve_reference(reading, earlier, catalog)
        if len(reading.products) >= 2 and (reading.compares or not reading.narrows):
            return self._compare(reading, catalog, calls)
        if reading.products:
            return self._about_products(reading, catalog, calls)
        if (
            reading.attributes
            and reading.narrows
            and not (reading.counts or reading.sort or reading.asks_existence or reading.lists_many)
        ):
            return self._about_the_one(reading, catalog, calls)
        if reading.narrows or reading.sort or (reading.counts and reading.lists) or reading.counts_everything:
            return self._search(reading, catalog, calls)
        if reading.leftover or reading.attributes:
            return self._documents(reading, calls)
        return None

    def _overview(self, catalog: Catalog, calls: _Calls) -> str | None:
        """The catalog in a sentence: every product when few, else its largest categories."""
        found = calls("search_products", {"limit": self.list_limit})
        if found is None:
            return None
        total, items = found.content["total"], found.content["items"]
        if total <= self.list_limit or not catalog.categories:
            return f"{total} products: {_names(catalog, items, total, [])}."
        calls.sources.clear()
        largest = sorted(catalog.categories, key=lambda k: (-len(catalog.categories[k]), k))[: self.list_limit]
        shown = ", ".join(f"{catalog.category_names[k]} ({len(catalog.categories[k])})" for k in largest)
        return f"{total} products, in these categories among others: {shown}."

    def _existence(self, reading: Reading, catalog: Catalog, calls: _Calls) -> str:
        """ "Do you sell ladders?" with a word the catalog's vocabulary lacks: products whose text holds it, or No."""
        args = self._arguments(reading, self.list_limit)
        args["query"] = " ".join(reading.leftover)
        found = calls("search_products", args)
        if found is None or not found.content["total"]:
            return _absent(reading)
        names = {t for i in found.content["items"] for t in tokenize(i["name"])}
        if not set(reading.leftover) <= names:  # only a description mentions it: not what the shop sells
            calls.sources.clear()
            return _absent(reading)
        return f"Yes, {_names(catalog, found.content['items'], found.content['total'], [])}."

    def _search_made_for(self, kind: list[str], target: int, catalog: Catalog, calls: _Calls) -> str:
        """ "Do you sell a charger for the Lumen 3?": the products whose text holds the asked kind and the named
        product's name (a "Lumen 3 Charger", or a charger whose description says it fits the Lumen 3)."""
        own = [t for t in tokenize(catalog.names[target]) if catalog.vocabulary.distinctive(fold(t))]
        found = calls("search_products", {"query": " ".join(kind + own), "limit": self.list_limit})
        items = [i for i in found.content["items"] if i["sku"] != catalog.skus[target]] if found else []
        calls.sources[:] = [s for s in calls.sources if s.id != catalog.skus[target]]
        if not items:
            return f"No, the catalog has no {' '.join(kind)} for {catalog.names[target]}."
        return f"Yes, {_names(catalog, items, len(items), [])}."

    def _about_the_one(self, reading: Reading, catalog: Catalog, calls: _Calls) -> str | None:
        """ "How long is the warranty on the chainsaw?": when the words narrow the catalog to one product."""
        found = calls("search_products", self._arguments(reading, 2))
        if found is None or found.content["total"] != 1:
            return self._search(reading, catalog, calls) if found else None
        located = catalog.find_sku(found.content["items"][0]["sku"])
        if located is None:  # the search result's own sku: always found
            return None
        reading.products = [located[0]]
        return self._about_products(reading, catalog, calls)

    def _documents(self, reading: Reading, calls: _Calls) -> str | None:
        found = calls("search_documents", {"query": reading.question, "limit": 3})
        if found is None or not found.count:
            return None
        calls.sources[:] = found.sources[:2]
        passages, index = found.content["passages"], calls.knowledge.index
        if reading.products and not _about_the_products(reading, passages, calls.knowledge):
            calls.sources.clear()
            return _not_said(reading, calls.knowledge.catalog)
        return document_answer(reading, passages, index)

    def _arguments(self, reading: Reading, limit: int) -> dict[str, Any]:
        args: dict[str, Any] = {"limit": limit}
        for name in ("category", "min_price", "max_price", "on_sale", "in_stock"):
            if getattr(reading, name) is not None:
                args[name] = getattr(reading, name)
        if reading.filters:
            args["filters"] = reading.filters
        if reading.sort:
            args["sort"], args["order"] = reading.sort
        return args

    def _search(self, reading: Reading, catalog: Catalog, calls: _Calls) -> str | None:
        superlative = reading.sort is not None and not reading.counts
        result = calls("search_products", self._arguments(reading, 3 if superlative else self.list_limit))
        if result is None:
            return None
        total, items = result.content["total"], result.content["items"]
        shown = [f["attribute"] for f in reading.filters] + (
            [reading.sort[0]] if reading.sort and reading.sort[0] != "price" else []
        )
        shown = [catalog.known_attribute(k).key for k in dict.fromkeys(shown)]
        what = _what(reading, catalog)
        if not total and "note" in result.content:  # e.g. in stock, where no product records its stock
            calls.sources.clear()
            return f"I can't tell: {result.content['note']}"
        if not total:
            return (
                f"No, there are no {what} that match." if reading.asks_existence else f"There are no {what} that match."
            )
        if superlative and reading.sort is not None:
            return _superlative_text(reading, reading.sort, catalog, items)
        listing = _names(catalog, items, total, shown)
        if total == 1:
            what = what.replace("products", "product", 1)
        if reading.counts:
            return f"There {'is' if total == 1 else 'are'} {total} {what}{_flag_words(reading)}: {listing}."
        if reading.asks_existence:
            return f"Yes, {total} {what}: {listing}."
        return f"{total} {what} {'matches' if total == 1 else 'match'}: {listing}."

    def _about_products(self, reading: Reading, catalog: Catalog, calls: _Calls) -> str | None:
        facts: list[str] = []
        for product_id in reading.products[:3]:
            result = calls("get_product", {"sku": catalog.skus[product_id]})
            fact = _product_fact(reading, catalog, result.content["product"]) if result is not None else None
            if fact:
                facts.append(fact)
        if reading.asks_existence and not facts:  # "Do you sell jeans?" naming a product
            names = [_describe(catalog, r.content["product"]) for r in calls.results if "product" in r.content]
            return f"Yes: {_series(names)}." if names else None
        if not facts:
            calls.sources.clear()
            return None
        if reading.asks_yes_no and reading.attributes:
            self._supporting_document(reading, catalog, calls)
        return " ".join(facts + self._feature_terms(reading, catalog, calls))

    @staticmethod
    def _feature_terms(reading: Reading, catalog: Catalog, calls: _Calls) -> list[str]:
        """ "How much data can I use in the EU on an unlimited plan?": a question (not a yes/no) that names a yes/no
        feature of the product (EU roaming) asks for that feature's terms, which the document about it holds."""
        flags = [a for k in reading.attributes if (a := catalog.attribute(k)) is not None and a.kind == "bool"]
        if not flags or reading.asks_yes_no:
            return []
        found = calls("search_documents", {"query": reading.question, "limit": 3})
        if not found or not found.count:
            return []
        passages = found.content["passages"]
        about = set(flags[0].name_terms) <= set(tokenize(passages[0]["text"]))
        unrelated = {(s.type, s.id) for s in found.sources[1 if about else 0 :]}
        calls.sources[:] = [s for s in calls.sources if (s.type, s.id) not in unrelated]
        return [document_answer(reading, passages, calls.knowledge.index)] if about else []

    @staticmethod
    def _supporting_document(reading: Reading, catalog: Catalog, calls: _Calls) -> None:
        """A verdict on a feature cites the document about that feature too (an SLA's terms), when one matches."""
        terms = set(catalog.known_attribute(reading.attributes[0]).name_terms)
        found = calls("search_documents", {"query": reading.question, "limit": 1})
        if found and found.count and not terms <= set(tokenize(found.content["passages"][0]["text"])):
            unrelated = {(s.type, s.id) for s in found.sources}
            calls.sources[:] = [s for s in calls.sources if (s.type, s.id) not in unrelated]

    def _compare(self, reading: Reading, catalog: Catalog, calls: _Calls) -> str | None:
        products = [calls("get_product", {"sku": catalog.skus[i]}) for i in reading.products[:4]]
        details = [r.content["product"] for r in products if r is not None]
        if len(details) < 2:
            return None
        wanted = [k for k in reading.attributes if all(k in d["properties"] or k in d["options"] for d in details)]
        keys = wanted or _differing(details)
        lines = []
        for detail in details:
            parts = []
            money = price_text(detail, _price_unit(catalog, detail["sku"]))
            if money and (not wanted or reading.asks_price):
                parts.append(money)
            for key in keys[:5]:
                raw = detail["properties"].get(key, detail["options"].get(key))
                if raw is not None:
                    value = ", ".join(raw) if isinstance(raw, list) else value_text(catalog.known_attribute(key), raw)
                    parts.append(f"{catalog.known_attribute(key).label.lower()} {value}")
            lines.append(f"{detail['name']}: {'; '.join(parts) if parts else 'no listed details'}.")
        cheaper = _cheapest(details)
        if cheaper and (reading.asks_price or not wanted):
            lines.append(f"{cheaper} is the cheaper one.")
        return " ".join(lines)


def _drop_products_outside_category(reading: Reading, catalog: Catalog) -> None:
    """ "Do you have a prepaid SIM?": when a question about a category seems to name a product outside it, that is a
    misreading of the category's words."""
    if reading.category and len(reading.products) == 1 and (reading.asks_existence or reading.lists_many):
        inside = set(catalog.categories.get(reading.category, ()))
        kept = [p for p in reading.products if p in inside]
        if kept or not any(catalog.product_categories[p] for p in reading.products):
            reading.products = kept or reading.products
        else:
            reading.products = []


def _about_documents(reading: Reading, index: Any) -> bool:
    """Whether the words the catalog does not explain are best found in a document (a policy, a guide)."""
    if index is None or not len(index):
        return False
    weights = dict.fromkeys(reading.leftover, 1.0)
    top = index.search_terms(weights, 1)
    return bool(top) and top[0][0].type == "document"


def _unknown(reading: Reading, index: Any) -> bool:
    """A word found nowhere in the data set ("satellite", "CEO") while nothing else of the question is known."""
    if index is None:
        return True
    nothing_known = not (reading.narrows or reading.sort or reading.attributes)
    unknown = [t for t in reading.leftover if index.df(t) == 0]
    # "how loud is it in decibels?": a fact asked in words the data never uses
    asks_unknown_fact = len(unknown) == len(reading.leftover) and not (
        reading.lists_many or reading.counts or reading.sort or reading.attributes
    )
    return bool(unknown) and (nothing_known or reading.asks_existence or asks_unknown_fact)


def _question_words(reading: Reading) -> str:
    """The question's own words for what the catalog does not explain ("gift wrapping")."""
    return " ".join(
        w
        for w in reading.words
        if w in set(reading.leftover) or (tokenize(w)[:1] and tokenize(w)[0] in reading.leftover)
    )


_SERVICE_VERBS = re.compile(r"\b(?:offer|provide)\b", re.I)


def _absent(reading: Reading) -> str:
    """ "Do you sell X?" with X nowhere in the data: No, the catalog lists what the shop sells. "Do you offer X?"
    may ask for a service (gift wrapping, installation), which a catalog does not list: the data does not say."""
    asked = _question_words(reading)
    if reading.has(_SERVICE_VERBS):
        return f"The data set does not say whether {asked or 'that'} is offered: no product or document mentions it."
    return f"No, the catalog has no {asked or 'such products'}."


def document_answer(reading: Reading, passages: list[dict[str, Any]], index: Any) -> str:
    """The two sentences of the best passages that hold most of the question's words, with their document; a
    yes/no question gets its verdict first when the best sentence settles it."""
    first = passages[0]
    sentences = _passage_sentences(passages)
    wanted = set(reading.index_terms)
    ranked = sorted(
        range(len(sentences)), key=lambda i: (-sum(index.idf(t) for t in wanted & set(tokenize(sentences[i]))), i)
    )
    where = f"{first['document']} ({first['url']})" if first.get("url") else first["document"]
    text = f"According to {where}: {' '.join(sentences[i] for i in sorted(ranked[:2]))}"
    verdict = policy_verdict(reading, sentences[ranked[0]], index) if reading.asks_yes_no else None
    return f"{verdict}. {text}" if verdict else text


def _about_the_products(reading: Reading, passages: list[dict[str, Any]], knowledge: Knowledge) -> bool:
    """ "In which country is the Essential Crew Tee made?" finds a passage on shipping abroad: a passage answers a
    question naming products only when its best sentence names one of them or holds much of the question."""
    sentences = _passage_sentences(passages)
    best = max(sentences, key=lambda s: coverage(reading, s, knowledge.index))
    named = {t for i in reading.products for t in tokenize(knowledge.catalog.names[i])}
    return bool(named & set(tokenize(best))) or coverage(reading, best, knowledge.index) >= WEAK_COVERAGE


def _passage_sentences(passages: list[dict[str, Any]]) -> list[str]:
    """The sentences of the best passage's document among the passages, in their order."""
    sentences: list[str] = []
    for passage in passages:
        if passage["id"] == passages[0]["id"]:
            sentences.extend(s for s in split_sentences(passage["text"]) if s not in sentences)
    return sentences


_DENIALS = frozenset(
    ("not", "no", "cannot", "can't", "never", "nor", "none", "won't", "isn't", "aren't", "doesn't", "don't", "excluded")
)
_CHARGES = frozenset(words("cost costs charge charged fee fees price"))
_PERMISSIONS = frozenset(
    ("allowed", "permitted", "possible", "accepted", "available", "eligible", "included", "covered")
)
_NEAR = 3  # a denial bears on the question's words when it stands this close before one ("cannot be returned")


WEAK_COVERAGE = 0.3  # a sentence holding less of the question's weight than this is not about it


def coverage(reading: Reading, sentence: str, index: Any) -> float:
    """The share of the question's words, weighted by rarity, that a sentence holds."""
    wanted = set(reading.index_terms)
    weight = sum(index.idf(t) for t in wanted)
    return sum(index.idf(t) for t in wanted & set(tokenize(sentence))) / weight if weight else 0.0


def policy_verdict(reading: Reading, sentence: str, index: Any) -> str | None:
    """ "Yes" or "No" for a yes/no question about a policy, read off the passage sentence that matches it best:
    a denial just before a word of the question says No ("eBooks cannot be returned"); a question whether something
    is free answered by a sentence that names a charge and not "free" says No; a sentence holding most of the
    question's words and no such denial says Yes. None when the sentence holds too little of the question, or
    the question is itself negated (its yes would read backwards)."""
    covered = coverage(reading, sentence, index)
    if _DENIALS & set(reading.words) or covered < WEAK_COVERAGE:
        return None
    said = WORD_RE.findall(sentence.lower())
    if _denied(said, set(reading.index_terms)):
        return "No"
    if (
        "free" in reading.words
        and "free" not in said
        and (_CHARGES & set(words(sentence)) or re.search(r"\d", sentence))
    ):
        return "No"
    return "Yes" if covered >= 0.5 else None


def _denied(said: list[str], wanted: set[str]) -> bool:
    """A denial in the sentence just before one of the question's words ("eBooks cannot be returned") or before a
    permission ("... is not allowed")."""
    matched = [n for n, word in enumerate(said) if set(tokenize(word)) & wanted]
    return any(
        word in _DENIALS
        and (any(n < m <= n + _NEAR for m in matched) or (n + 1 < len(said) and said[n + 1] in _PERMISSIONS))
        for n, word in enumerate(said)
    )


# a question for one fact ("in which country", "where"), not for a product's summary ("what is X?", "what can you
# tell me about X?", "describe X")
_ASKS_A_FACT = re.compile(r"\b(?:which|where|when|who|whom|whose)\b|\bwhat\b(?!\s+(?:is|are|can)\b|'s)", re.I)


def _unsaid(reading: Reading, catalog: Catalog) -> bool:
    """Whether the question about named products asks in words ("sequel", "country") that appear nowhere in what
    the data holds on them, and is a yes/no or names nothing else the catalog has (an attribute, a price, stock,
    a sale): then the data does not say, and a summary of the product would be no answer."""
    if not reading.asks_yes_no and (
        not reading.has(_ASKS_A_FACT)
        or reading.attributes
        or reading.asks_price
        or reading.in_stock is not None
        or reading.on_sale is not None
    ):
        return False  # "Describe X", "What can you tell me about X?": the product's summary answers
    text: set[str] = set()
    for product_id in reading.products:
        text.update(tokenize(f"{catalog.names[product_id]} {catalog.descriptions[product_id]}"))
        for attribute in catalog.attributes.values():
            raw = attribute.raw_of(product_id)
            if raw is not None:
                text.update(tokenize(f"{attribute.label} {raw}"))
    return not text & set(reading.leftover)


def _not_said(reading: Reading, catalog: Catalog) -> str:
    names = _series([catalog.names[i] for i in reading.products[:3]])
    return f'The data set does not say: nothing it holds on {names} answers "{_question_words(reading)}".'


_FOR = re.compile(r"\bfor\b", re.I)


def _made_for(reading: Reading, catalog: Catalog) -> tuple[list[str], int] | None:
    """ "Do you sell a case for the Orbit A5?": (the asked kind's words, the product after "for") when the words after
    "for" name one product and the words before it ask for something else."""
    match = _FOR.search(reading.question)
    if match is None:
        return None
    targets = named_products(words(reading.question[match.end() :]), catalog)
    kind = [t for t in tokenize(reading.question[: match.start()]) if fold(t) not in QUESTION_WORDS]
    if len(targets) != 1 or not kind:
        return None
    own = {
        k
        for t in kind
        for k in catalog.vocabulary.attribute_terms.get(fold(t), ())
        if catalog.attributes[k].raw_of(targets[0]) is not None
    }
    return None if own else (kind, targets[0])  # "a router for Home 300?" asks about its router_included


def _what(reading: Reading, catalog: Catalog) -> str:
    noun = catalog.category_names.get(reading.category, "") if reading.category else ""
    return f"products in {noun}" if noun else "products"


def _flag_words(reading: Reading) -> str:
    """A count's condition in words (" on sale", " in stock"): a list shows it on each item, a bare number not."""
    said = " on sale" if reading.on_sale else ""
    if reading.in_stock is not None:
        said += " in stock" if reading.in_stock else " out of stock"
    return said


def _superlative_text(reading: Reading, sort: tuple[str, str], catalog: Catalog, items: list[dict[str, Any]]) -> str:
    key, order = sort
    best = items[0]
    if key == "price":
        word = "cheapest" if order == "asc" else "most expensive"
        return f"The {word} of the {_what(reading, catalog)} is {_describe(catalog, best)}."
    attribute = catalog.known_attribute(key)
    items = [i for i in items if attribute.key in (i.get("attributes") or {})]
    if not items:
        return f"None of the {_what(reading, catalog)} lists a {_plain_label(attribute)}."
    best = items[0]
    value = value_text(attribute, best["attributes"][attribute.key])
    word = reading.sort_word or ("highest" if order == "desc" else "lowest")
    ties = [i for i in items[1:] if i["attributes"][attribute.key] == best["attributes"][attribute.key]]
    names = _series([best["name"]] + [i["name"] for i in ties])
    verb = "have" if ties else "has"
    return f"{names} {verb} the {word} {_plain_label(attribute)} of the {_what(reading, catalog)}: {value}."


def value_text(attribute: Attribute, raw: Any) -> str:
    """A value beside its attribute's name: `512` after "pages", `2023` for a year, else `24 months`."""
    value = typed(raw, attribute.key)
    if (
        value.number is not None
        and value.kind == "number"
        and value.unit
        and (value.unit == "year" or _plain_label(attribute).endswith(value.unit))
    ):
        return format_number(value.number)
    return show(value)


def _plain_label(attribute: Attribute) -> str:
    """`contract_term_months` -> `contract term`: the unit shows with the value."""
    words = list(attribute.words)
    if len(words) > 1 and unit_from_key(attribute.key) not in (None, "year"):
        words = words[:-1]
    return " ".join(words)


def _product_fact(reading: Reading, catalog: Catalog, detail: dict[str, Any]) -> str | None:
    """What the question asks about one product, in a sentence; None for a feature yes/no the typed values do not
    settle (the extractive engine weighs the text then)."""
    if reading.picked_by:
        picked = _picked_text(catalog, detail, reading.picked_by)
        asked = [
            a
            for a in (
                _attribute_fact(reading, catalog, detail, k)
                for k in reading.attributes
                if catalog.attribute(k) is not catalog.attribute(reading.picked_by[0])
            )
            if a
        ][:1]
        return " ".join(asked + [picked] if asked and asked[0].startswith(("Yes", "No")) else [picked] + asked)
    if reading.on_sale:
        return _sale_text(catalog, detail)
    if reading.in_stock is not None and "in_stock" in detail:
        return _stock_text(reading, catalog, detail)
    variant = _named_variant(reading, catalog, detail) if reading.asks_price else None
    if variant is not None and variant.get("price") is not None:
        unit = _price_unit(catalog, detail["sku"]) or detail.get("currency") or ""
        return f"{_variant_name(detail, variant)} costs {variant['price']:.2f} {unit}".rstrip() + "."
    options_named = [f["attribute"] for f in reading.filters if catalog.known_attribute(f["attribute"]).is_option]
    for key in dict.fromkeys(options_named + reading.attributes):  # "in green?" asks about the Color option
        fact = _attribute_fact(reading, catalog, detail, key)
        if fact:
            return fact
    if reading.asks_price:
        return _price_fact(catalog, detail)
    if reading.asks_yes_no:
        return None
    return _summary_text(catalog, detail)


def _named_variant(reading: Reading, catalog: Catalog, detail: dict[str, Any]) -> dict[str, Any] | None:
    """The variant whose option values the question names ("in Forest Green, size L", "body only")."""
    named = {
        str(v).lower()
        for f in reading.filters
        if f["op"] == "in" and catalog.known_attribute(f["attribute"]).is_option
        for v in f["value"]
    }
    variants: list[dict[str, Any]] = detail["variants"] if named else []
    for variant in variants:
        values = {str(v).lower() for v in variant["options"].values()}
        if named <= {" ".join(words(v)) for v in values} | values:
            return variant
    return None


def _stocked_options(catalog: Catalog, detail: dict[str, Any], attribute: Attribute) -> str:
    values = []
    for variant in detail["variants"]:
        if variant.get("in_stock") == 1:
            values += [
                str(v)
                for k, v in variant["options"].items()
                if catalog.attribute(k) is attribute and str(v) not in values
            ]
    label = _plain_label(attribute)
    if not values:
        return f"No, {detail['name']} is out of stock in every {label}."
    return f"{detail['name']} is in stock in {label} {_series(values)}."


def _variant_name(detail: dict[str, Any], variant: dict[str, Any]) -> str:
    return f"{detail['name']} ({', '.join(variant['options'].values())})"


def _stock_text(reading: Reading, catalog: Catalog, detail: dict[str, Any]) -> str:
    """Stock of the product, or of the variant whose options the question names."""
    variant = _named_variant(reading, catalog, detail)
    asked = [k for k in reading.attributes if catalog.known_attribute(k).is_option]
    if variant is None and asked and detail["variants"]:  # "which sizes are in stock?"
        return _stocked_options(catalog, detail, catalog.known_attribute(asked[0]))
    item, name = (variant, _variant_name(detail, variant)) if variant else (detail, detail["name"])
    if item.get("in_stock", -1) in (-1, None):
        return f"{name}: the catalog does not say whether it is in stock."
    left = f" ({item['stock_quantity']} left)" if (item.get("stock_quantity") or -1) > 0 else ""
    if reading.asks_restock:
        return _restock_text(catalog, detail, name, bool(item["in_stock"]))
    return f"Yes, {name} is in stock{left}." if item["in_stock"] else f"No, {name} is out of stock."


_RESTOCK_TERMS = frozenset(words("restock restocked arrival arrive expected due back available availability"))


def _restock_text(catalog: Catalog, detail: dict[str, Any], name: str, in_stock: bool) -> str:
    """ "When will it be back in stock?": a property about restocking or availability when the product has one
    ("Expected back: 12 May"); else what the data says now, and that it holds no date."""
    for key, raw in detail["properties"].items():
        attribute = catalog.attribute(key)
        if attribute is not None and _RESTOCK_TERMS & set(attribute.name_terms) and raw is not None:
            return f"{name}: {attribute.label.lower()} {raw}."
    now = "it is in stock now" if in_stock else "it is out of stock now"
    return f"The data set does not say when {name} will be back in stock; {now}."


def _picked_text(catalog: Catalog, detail: dict[str, Any], picked_by: tuple[str, str]) -> str:
    key, order = picked_by
    name = detail["name"]
    if key == "price":
        word = "cheapest" if order == "asc" else "most expensive"
        return f"{name} is the {word} of them, at {price_text(detail, _price_unit(catalog, detail['sku']))}."
    attribute = catalog.known_attribute(key)
    value = value_text(attribute, _property(catalog, detail, key))
    word = "highest" if order == "desc" else "lowest"
    return f"{name} has the {word} {_plain_label(attribute)} of them: {value}."


def _sale_text(catalog: Catalog, detail: dict[str, Any]) -> str:
    name = detail["name"]
    if detail.get("on_sale"):
        return f"Yes, {name} is on sale: {detail['sale_price']:.2f} instead of {detail['regular_price']:.2f}."
    return f"No, {name} is not on sale; it costs {price_text(detail, _price_unit(catalog, detail['sku']))}."


def _property(catalog: Catalog, detail: dict[str, Any], key: str) -> Any:
    """A product's value of an attribute, whatever spelling of the name the product used."""
    wanted = catalog.attribute(key)
    for name, value in detail["properties"].items():
        if catalog.attribute(name) is wanted:
            return value
    return None


def _attribute_fact(reading: Reading, catalog: Catalog, detail: dict[str, Any], key: str) -> str | None:
    attribute = catalog.known_attribute(key)
    name, label = detail["name"], _plain_label(attribute)
    for option, values in detail["options"].items():
        if catalog.attribute(option) is attribute:
            return _option_text(reading, catalog, name, label, attribute, values)
    raw = _property(catalog, detail, key)
    if raw is None:
        return None
    value = typed(raw, attribute.key)
    if reading.asks_yes_no:
        return _verdict_text(reading, catalog, detail, attribute, value) if value.kind == "bool" else None
    return f"{name}: {label} {value_text(attribute, raw)}."


def _verdict_text(
    reading: Reading, catalog: Catalog, detail: dict[str, Any], attribute: Attribute, value: Typed
) -> str:
    """ "Does X include an SLA?" -> "Yes, X includes an SLA." with the attributes that say more about it."""
    name, phrase = detail["name"], feature_phrase(reading.question)
    if phrase and len(phrase.split()) <= 4:
        verdict = f"Yes, {name} includes {phrase}." if value.flag else f"No, {name} does not include {phrase}."
    else:
        verdict = f"{'Yes' if value.flag else 'No'}, {name}: {_plain_label(attribute)} {show(value)}."
    related = [
        f"{_plain_label(a)} {value_text(a, v)}"
        for a in catalog.attributes.values()
        if a is not attribute
        and set(attribute.name_terms) <= set(a.name_terms)
        and (v := _property(catalog, detail, a.key)) is not None
    ]
    return verdict + (f" Details: {'; '.join(related)}." if related else "")


def _option_text(
    reading: Reading, catalog: Catalog, name: str, label: str, attribute: Attribute, values: list[str]
) -> str:
    """ "What colors ...": the values; "Is it available in XL?": yes or no, with the values."""
    asked = [
        str(v)
        for f in reading.filters
        if catalog.attribute(f["attribute"]) is attribute
        for v in (f["value"] if isinstance(f["value"], list) else [f["value"]])
    ]
    if not asked:
        return f"{name} comes in {_series(values)} ({label})."
    having = [v for v in values if v.lower() in {a.lower() for a in asked}]
    if having:
        return f"Yes, {name} comes in {_series(having)} ({label}); all: {', '.join(values)}."
    return f"No, {name} comes in {_series(values)} ({label})."


def _price_fact(catalog: Catalog, detail: dict[str, Any]) -> str:
    money = price_text(detail, _price_unit(catalog, detail["sku"]))
    if money:
        return f"{detail['name']} costs {money}."
    priced = [
        f"{_plain_label(a)} {value_text(a, v)}"
        for a in catalog.attributes.values()
        if (dimension_of(a.unit) == "money" or {"price", "cost", "fee"} & set(a.name_terms))
        and (v := _property(catalog, detail, a.key)) is not None
    ]
    if priced:
        return f"{detail['name']}: {'; '.join(priced)}."
    return f"No price is listed for {detail['name']}."


def _summary_text(catalog: Catalog, detail: dict[str, Any]) -> str:
    parts = [detail["name"]]
    first = split_sentences(detail.get("description") or "")
    text = f"{detail['name']}: {first[0]}" if first else detail["name"]
    money = price_text(detail, _price_unit(catalog, detail["sku"]))
    parts = [text if text.endswith((".", "!", "?")) else text + "."]
    if money:
        parts.append(f"It costs {money}.")
    for option, values in detail["options"].items():
        parts.append(f"{option}: {', '.join(values)}.")
    return " ".join(parts)


def _series(values: list[str]) -> str:
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def _differing(details: list[dict[str, Any]]) -> list[str]:
    keys = []
    for key in details[0]["properties"]:
        values = [d["properties"].get(key) for d in details]
        if all(v is not None for v in values) and len({str(v) for v in values}) > 1:
            keys.append(key)
    return keys


def _cheapest(details: list[dict[str, Any]]) -> str | None:
    priced = [d for d in details if d.get("price") is not None]
    if len(priced) < 2:
        return None
    priced.sort(key=lambda d: d["price"])
    return priced[0]["name"] if priced[0]["price"] < priced[1]["price"] else None


def _earlier_products(history: list[Turn], catalog: Catalog) -> list[int]:
    """The products the latest answer that named any drew on, in its order."""
    for turn in reversed(history):
        if turn.role != "agent":
            continue
        ids = []
        for source in turn.sources:
            found = catalog.find_sku(source.id) if source.type == "product" else None
            if found and found[0] not in ids:
                ids.append(found[0])
        if ids:
            return ids
    return []


def _is_elliptic(reading: Reading) -> bool:
    """A short follow-up that continues the previous question ("and the price?", "what about colors?", "and in
    red?")."""
    if len(reading.terms) > 3:
        return False
    continues = reading.words[:1] == ["and"] or reading.words[:2] in (["what", "about"], ["how", "about"])
    return continues or (not reading.narrows and reading.words[:1] in (["what"], ["how"]))


def _resolve_reference(reading: Reading, earlier: list[int], catalog: Catalog) -> list[int]:
    """ "it", "that one", "the cheaper one", "the premium version": products of the previous answer."""
    question = reading.question.lower()
    if reading.sort and len(earlier) > 1:
        key, order = reading.sort
        values = {
            i: (catalog.prices[i] if key == "price" else catalog.known_attribute(key).number_of(i)) for i in earlier
        }
        known = [i for i in earlier if values[i] == values[i]]
        if known:
            reading.picked_by, reading.sort = reading.sort, None
            best = (min if order == "asc" else max)(values[i] for i in known)
            return [i for i in known if values[i] == best]  # ties: each of them
    for word, pick in (("first", 0), ("second", 1), ("last", -1)):
        if word in question and len(earlier) > abs(pick):
            return [earlier[pick]]
    own = [
        t
        for t in reading.terms
        if catalog.vocabulary.name_df(t) and not catalog.vocabulary.describes(t) and t not in POINTING
    ]
    if own:  # "and the premium version?": a product sharing a name with the earlier ones and naming the new word
        related = _related_by_name(catalog, earlier, own)
        if related:
            return related
    if any(w in reading.words for w in ("both", "them", "they", "those", "these", "either")):
        return earlier[:4]
    return earlier[:1]


def _related_by_name(catalog: Catalog, earlier: list[int], terms: list[str]) -> list[int]:
    names = catalog.vocabulary.name_ids
    candidates = set.intersection(*(set(names.get(w, ())) for w in terms))
    base = set(words(" ".join(catalog.names[i] for i in earlier)))
    ranked = sorted(candidates - set(earlier), key=lambda i: (-len(base & set(words(catalog.names[i]))), i))
    return ranked[:1]
