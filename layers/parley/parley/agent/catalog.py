"""The typed catalog: a data set's products as columns the tools can filter, sort and count quickly.

Built at ingestion from the stored product dicts (see the product JSON fields in docs/agent.md): prices are
numbers, `on_sale` and stock are flags, category paths (`Clothing > Hoodies`) put a product in every level,
property values are typed (`agent.values`), and variants (`parent_sku` items, `variants` lists) are grouped under
their product, which then shows its options and its price range. Each product's row number is its id.

Per attribute the catalog keeps a column (ids, raw values, numbers, and a value -> ids map), per category the ids
in it, and the product ids ordered by price; a query then touches only what it filters or sorts on. The snapshot
(`to_bytes`) is the columns as zlib'd JSON lines, never pickle.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from parley.agent.values import Typed, in_base_unit, key_words, label, typed, unit_from_key
from parley.retrieval import tokenize

if TYPE_CHECKING:
    from parley.agent.vocabulary import Vocabulary

_T = TypeVar("_T")

SNAPSHOT_FORMAT = "parley.catalog/1"
_MAGIC = b"\x89PCAT\r\n"
NAN = float("nan")
_DESCRIPTION_CHARS = 400
_TYPED_CACHE = 100_000
_CHUNK = 4096  # values per snapshot line
_PRICE_FIELDS = ("price", "regular_price", "sale_price")


def norm(text: object) -> str:
    """How names, categories and values are compared: lowercase words."""
    return " ".join(re.findall(r"[^\W_]+", str(text).lower()))


def attribute_key(name: object) -> str:
    """Attributes are one when their names differ only in form: `Color` and `Colors`, `color_name`/`Color name`."""
    return " ".join(tokenize(str(name).replace("_", " "))) or norm(name)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _prices(item: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    """(price, regular, sale): the price is the sale price when on sale, else the regular one."""
    regular, sale, price = (_number(item.get(name)) for name in ("regular_price", "sale_price", "price"))
    on_sale = regular is not None and sale is not None and sale < regular
    if price is None:
        price = sale if on_sale else regular
    return price, regular, sale if on_sale else None


def _stock(item: dict[str, Any]) -> tuple[int, int]:
    """(in stock: 1, 0 or -1 unknown; quantity or -1)."""
    quantity = item.get("stock_quantity")
    quantity = int(quantity) if isinstance(quantity, (int, float)) and not isinstance(quantity, bool) else -1
    flag = item.get("in_stock")
    if isinstance(flag, bool):
        return int(flag), quantity
    return (int(quantity > 0) if quantity >= 0 else -1), quantity


def _category_levels(categories: object) -> list[str]:
    """Every level of every path, in order: `Clothing > Hoodies` -> Clothing, Hoodies."""
    if isinstance(categories, str):
        categories = [categories]
    if not isinstance(categories, (list, tuple)):
        return []
    return list(_levels(tuple(str(c) for c in categories)))


@lru_cache(maxsize=4096)  # shops repeat a few category lists over many products
def _levels(categories: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for entry in categories:
        for part in re.split(r"\s*(?:>|/|»)\s*", entry):
            level = part.strip()
            if level and level not in out:
                out.append(level)
    return tuple(out)


def _variant(item: dict[str, Any]) -> dict[str, Any]:
    price, regular, sale = _prices(item)
    in_stock, quantity = _stock(item)
    options: dict[str, Any] = item["options"] if isinstance(item.get("options"), dict) else {}
    return {
        "sku": str(item.get("sku") or ""),
        "name": str(item.get("name") or ""),
        "options": {str(k): str(v) for k, v in options.items() if not isinstance(v, (list, dict))},
        "price": price,
        "regular_price": regular,
        "sale_price": sale,
        "in_stock": in_stock,
        "stock_quantity": quantity,
        "properties": _properties(item),
    }


def _properties(item: dict[str, Any]) -> dict[str, Any]:
    props = item.get("properties")
    if not isinstance(props, dict):
        return {}
    return {str(k): v for k, v in props.items() if isinstance(v, (str, int, float, bool)) and str(k).strip()}


def _entry(product: dict[str, Any]) -> dict[str, Any]:
    """A stored product as the catalog keeps it (variants attached later)."""
    price, regular, sale = _prices(product)
    in_stock, quantity = _stock(product)
    declared: dict[str, Any] = product["options"] if isinstance(product.get("options"), dict) else {}
    options = {str(k): ([str(x) for x in v] if isinstance(v, list) else [str(v)]) for k, v in declared.items()}
    description = " ".join(str(product.get("description") or "")[: _DESCRIPTION_CHARS * 2].split())
    return {
        "sku": str(product.get("sku") or ""),
        "name": str(product.get("name") or "").strip(),
        "description": description[:_DESCRIPTION_CHARS],
        "url": product.get("url") or None,
        "currency": str(product.get("currency") or "").upper() or None,
        "price": price,
        "regular_price": regular,
        "sale_price": sale,
        "in_stock": in_stock,
        "stock_quantity": quantity,
        "categories": _category_levels(product.get("categories")),
        "properties": _properties(product),
        "options": options,
        "variants": [_variant(v) for v in product.get("variants") or [] if isinstance(v, dict)],
    }


def group(products: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """Catalog entries, one at a time: items with a known `parent_sku` become variants of that parent."""
    listed = [(n, p) for n, p in enumerate(products) if isinstance(p, dict) and p.get("sku")]
    skus = {str(p["sku"]) for _, p in listed}
    children: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for position, product in listed:
        parent = product.get("parent_sku")
        if parent and str(parent) in skus and str(parent) != str(product["sku"]):
            children.setdefault(str(parent), []).append((position, product))
    nested = {str(c["sku"]) for kids in children.values() for _, c in kids} & set(children)
    for position, product in listed:
        sku = str(product["sku"])
        parent = product.get("parent_sku")
        if parent and str(parent) in skus and str(parent) != sku and sku not in nested:
            continue  # listed under its parent
        entry = _entry(product)
        kids = children.get(sku, ())
        entry["variants"].extend(_variant(child) for _, child in kids)
        entry["positions"] = [position, *(p for p, _ in kids)]
        _summarise_variants(entry)
        yield entry


def _summarise_variants(entry: dict[str, Any]) -> None:
    """A parent's options, price range, sale and stock from its variants."""
    variants = entry["variants"]
    if not variants:
        return
    for variant in variants:
        for key, value in variant["options"].items():
            values = entry["options"].setdefault(key, [])
            if value not in values:
                values.append(value)
    prices = [v["price"] for v in variants if v["price"] is not None]
    if prices:
        entry["price_range"] = (min(prices), max(prices))
        entry["price"] = entry["price"] if entry["price"] is not None else min(prices)
    sales = [v for v in variants if v["sale_price"] is not None]
    if entry["sale_price"] is None and sales:
        entry["sale_price"] = min(v["sale_price"] for v in sales)
        entry["regular_price"] = max(v["regular_price"] for v in sales)
    stocked = [v["in_stock"] for v in variants if v["in_stock"] >= 0]
    if stocked:
        entry["in_stock"] = int(any(stocked))
        quantities = [v["stock_quantity"] for v in variants if v["stock_quantity"] >= 0]
        entry["stock_quantity"] = sum(quantities) if quantities else entry["stock_quantity"]


@dataclass
class Attribute:
    """One property (or option) across the catalog: a sparse column, ids ascending."""

    key: str
    label: str
    words: tuple[str, ...]
    ids: array[int] = field(default_factory=lambda: array("I"))
    raw: list[object] = field(default_factory=list)
    numbers: array[float] = field(default_factory=lambda: array("d"))
    kinds: dict[str, int] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)
    values: dict[str, array[int]] = field(default_factory=dict)  # norm(value or list item or yes/no) -> ids
    is_option: bool = False
    _by_number: array[int] | None = None
    _sorted: array[float] | None = None
    _sorted_ids: array[int] | None = None
    _dense: array[float] | None = None

    def add(self, product_id: int, raw: object, value: Typed) -> None:
        if self.ids and self.ids[-1] == product_id:  # an option seen again on the same product
            self.raw[-1] = f"{self.raw[-1]}, {raw}" if str(raw) not in str(self.raw[-1]) else self.raw[-1]
        else:
            self.ids.append(product_id)
            self.raw.append(raw)
            # numbers are kept in their family's base unit, so "500 g" sorts below "1.2 kg"
            self.numbers.append(in_base_unit(value.number, value.unit) if value.number is not None else NAN)
        self.kinds[value.kind] = self.kinds.get(value.kind, 0) + 1
        if value.unit:
            self.units[value.unit] = self.units.get(value.unit, 0) + 1
        words = [("yes" if value.flag else "no")] if value.kind == "bool" else list(value.items)
        for word in words:
            ids = self.values.setdefault(norm(word), array("I"))
            if not ids or ids[-1] != product_id:
                ids.append(product_id)

    @property
    def kind(self) -> str:
        return max(self.kinds, key=lambda k: (self.kinds[k], k == "number")) if self.kinds else "text"

    @property
    def unit(self) -> str | None:
        return max(self.units, key=self.units.__getitem__) if self.units else None

    @property
    def numeric(self) -> bool:
        return self.kinds.get("number", 0) * 2 >= len(self.ids) and self.kinds.get("number", 0) > 0

    @property
    def name_terms(self) -> tuple[str, ...]:
        """The words naming the attribute, without a unit it ends in (`contract_term_months` -> contract, term)."""
        words = list(self.words)
        if len(words) > 1 and unit_from_key(self.key):
            words = words[:-1]
        return tuple(tokenize(" ".join(words)))

    def raw_of(self, product_id: int) -> object | None:
        pos = bisect_left(self.ids, product_id)
        return self.raw[pos] if pos < len(self.ids) and self.ids[pos] == product_id else None

    def number_of(self, product_id: int) -> float:
        pos = bisect_left(self.ids, product_id)
        return self.numbers[pos] if pos < len(self.ids) and self.ids[pos] == product_id else NAN

    def by_number(self) -> array[int]:
        """Positions of the numeric values, ascending by value (computed once)."""
        if self._by_number is None:
            numbers = self.numbers
            self._by_number = array(
                "I", sorted((p for p in range(len(numbers)) if numbers[p] == numbers[p]), key=numbers.__getitem__)
            )
            self._sorted = array("d", (numbers[p] for p in self._by_number))
        return self._by_number

    def sorted_numbers(self) -> array[float]:
        self.by_number()
        assert self._sorted is not None  # set with `_by_number`
        return self._sorted

    def dense(self, products: int) -> array[float]:
        """Every product's number by id (NaN where it has none), for sorting many matches (computed once)."""
        if self._dense is None or len(self._dense) != products:
            dense = array("d", [NAN]) * products
            for product_id, number in zip(self.ids, self.numbers):
                dense[product_id] = number
            self._dense = dense
        return self._dense

    def sorted_ids(self) -> array[int]:
        """Product ids ascending by their number."""
        if self._sorted_ids is None:
            ids = self.ids
            self._sorted_ids = array("I", (ids[p] for p in self.by_number()))
        return self._sorted_ids


class Catalog:
    """Products (variants grouped) as columns; see the module notes."""

    def __init__(self) -> None:
        self.skus: list[str] = []
        self.names: list[str] = []
        self.descriptions: list[str] = []
        self.urls: list[str | None] = []
        self.currencies: list[str | None] = []
        self.prices = array("d")
        self.regular_prices = array("d")
        self.sale_prices = array("d")
        self.on_sale = bytearray()
        self.in_stock = array("b")  # 1, 0, or -1 when the data does not say
        self.stock_quantity = array("i")  # -1 when the data does not say
        self.product_categories: list[tuple[str, ...]] = []
        self.categories: dict[str, array[int]] = {}  # norm(category) -> ids
        self.category_names: dict[str, str] = {}
        self.attributes: dict[str, Attribute] = {}
        self.variants: dict[int, list[dict[str, Any]]] = {}
        self.price_ranges: dict[int, tuple[float, float]] = {}
        self._by_sku: dict[str, tuple[int, int]] | None = None  # built on first lookup
        self._by_name: dict[str, int] | None = None
        self.price_order = array("I")
        self.record_product = array("i")  # the stored products' positions -> product id (or -1)
        self._sorted_prices: array[float] | None = None
        self._aligned: tuple[int, bool] | None = None
        self._shared: dict[Any, Any] = {}  # one object per repeated value (categories, currencies)
        self._by_raw_key: dict[str, Attribute] = {}
        self._category_keys: dict[str, str] = {}
        self._typed: dict[tuple[type, object, str], Typed] = {}  # repeated values are typed once
        self._vocabulary: Vocabulary | None = None

    def _share(self, value: _T) -> _T:
        """Strings and tuples only: 1 == True would merge a number with a flag."""
        if not isinstance(value, (str, tuple)):
            return value
        shared: _T = self._shared.setdefault(value, value)
        return shared

    def add(self, entry: dict[str, Any]) -> None:
        product_id = len(self.skus)
        self.skus.append(entry["sku"])
        self.names.append(entry["name"])
        self.descriptions.append(entry["description"])
        self.urls.append(entry["url"])
        self.currencies.append(self._share(entry["currency"]))
        for column, name in (
            (self.prices, "price"),
            (self.regular_prices, "regular_price"),
            (self.sale_prices, "sale_price"),
        ):
            column.append(NAN if entry[name] is None else float(entry[name]))
        self.on_sale.append(int(entry["sale_price"] is not None))
        self.in_stock.append(entry["in_stock"])
        self.stock_quantity.append(entry["stock_quantity"])
        self.product_categories.append(self._share(tuple(entry["categories"])))
        if entry["variants"]:
            self.variants[product_id] = entry["variants"]
        if entry.get("price_range"):
            self.price_ranges[product_id] = tuple(entry["price_range"])
        self._index_entry(product_id, entry)

    def _index_entry(self, product_id: int, entry: dict[str, Any]) -> None:
        for category in entry["categories"]:
            key = self._category_key(category)
            ids = self.categories.setdefault(key, array("I"))
            if not ids or ids[-1] != product_id:
                ids.append(product_id)
        for key, raw in entry["properties"].items():
            self._attribute(key).add(product_id, self._share(raw), self._typed_value(raw, key))
        for key, values in entry["options"].items():
            attribute = self._attribute(key, option=True)
            for value in values:
                attribute.add(product_id, self._share(value), self._typed_value(value, key))

    def _typed_value(self, raw: Any, key: str) -> Typed:
        cache_key = (raw.__class__, raw, key)
        found = self._typed.get(cache_key)
        if found is None:
            found = typed(raw, key)
            if len(self._typed) < _TYPED_CACHE:
                self._typed[cache_key] = found
        return found

    def _category_key(self, category: str) -> str:
        key = self._category_keys.get(category)
        if key is None:
            key = self._category_keys[category] = norm(category)
            self.category_names.setdefault(key, category)
        return key

    def _attribute(self, key: str, option: bool = False) -> Attribute:
        cached = self._by_raw_key.get(key)
        if cached is not None and (cached.is_option or not option):
            return cached
        found = self.attributes.get(attribute_key(key))
        if found is None:
            found = self.attributes[attribute_key(key)] = Attribute(key, label(key), tuple(key_words(norm(key))))
        found.is_option = found.is_option or option
        self._by_raw_key[key] = found
        return found

    def _finish(self) -> Catalog:
        prices = self.prices
        self.price_order = array(
            "I", sorted((i for i in range(len(prices)) if prices[i] == prices[i]), key=prices.__getitem__)
        )
        self._shared, self._typed, self._by_raw_key, self._category_keys = {}, {}, {}, {}
        return self

    def __len__(self) -> int:
        return len(self.skus)

    def sorted_prices(self) -> array[float]:
        if self._sorted_prices is None:
            self._sorted_prices = array("d", (self.prices[i] for i in self.price_order))
        return self._sorted_prices

    def aligned_with(self, index: Any) -> bool:
        """Whether the search index's product records are the stored products in the order the catalog saw
        them (true when both were built from one list, as a load does): then a record number finds a product."""
        if self._aligned is None or self._aligned[0] != id(index):
            records, positions = index.records, self.record_product
            ok = len(records) >= len(positions)
            for r in {0, len(positions) - 1} if len(positions) else ():
                if not ok:
                    break
                found = self.find_sku(records[r].id) if records[r].type == "product" else None
                ok = found is not None and found[0] == positions[r]
            self._aligned = (id(index), ok)
        return self._aligned[1]

    def text_terms(self, product_id: int) -> set[str]:
        categories = " ".join(self.product_categories[product_id])
        return set(tokenize(f"{self.names[product_id]} {self.descriptions[product_id]} {categories}"))

    # -- lookups -------------------------------------------------------------

    def attribute(self, name: str) -> Attribute | None:
        return self.attributes.get(attribute_key(name))

    def known_attribute(self, name: str) -> Attribute:
        """The attribute of a name taken from this catalog (a reading's or a filter's): raises KeyError if absent."""
        return self.attributes[attribute_key(name)]

    def find_sku(self, sku: str) -> tuple[int, int] | None:
        """(product id, variant number or -1) of a product's or a variant's SKU."""
        if self._by_sku is None:
            by_sku: dict[str, tuple[int, int]] = {}
            for product_id, variants in self.variants.items():
                for number, variant in enumerate(variants):
                    by_sku.setdefault(str(variant["sku"]).lower(), (product_id, number))
            by_sku.update((sku.lower(), (product_id, -1)) for product_id, sku in enumerate(self.skus))
            self._by_sku = by_sku
        return self._by_sku.get(str(sku).strip().lower())

    def find_name(self, name: str) -> int | None:
        """The product with exactly this name (compared as lowercase words)."""
        if self._by_name is None:
            by_name: dict[str, int] = {}
            for product_id, product_name in enumerate(self.names):
                by_name.setdefault(norm(product_name), product_id)
            self._by_name = by_name
        return self._by_name.get(norm(name))

    def price(self, product_id: int) -> float | None:
        value = self.prices[product_id]
        return None if value != value else value

    def properties_of(self, product_id: int) -> dict[str, object]:
        """A product's property values, in the order attributes were first seen. An attribute that is an option
        anywhere (Color) is shown with the options (`options_of`)."""
        out = {}
        for attribute in self.attributes.values():
            raw = None if attribute.is_option else attribute.raw_of(product_id)
            if raw is not None:
                out[attribute.key] = raw
        return out

    def options_of(self, product_id: int) -> dict[str, list[str]]:
        out = {}
        for attribute in self.attributes.values():
            if attribute.is_option:
                raw = attribute.raw_of(product_id)
                if raw is not None:
                    out[attribute.label] = [v.strip() for v in str(raw).split(",") if v.strip()]
        return out

    @property
    def vocabulary(self) -> Vocabulary:
        if self._vocabulary is None:
            from parley.agent.vocabulary import Vocabulary

            self._vocabulary = Vocabulary(self)
        return self._vocabulary

    # -- building and snapshots ------------------------------------------------

    @classmethod
    def build(cls, products: Iterable[dict[str, Any]]) -> Catalog:
        catalog = cls()
        products = list(products)
        catalog.record_product = array("i", [-1]) * len(products)
        for entry in group(products):
            for position in entry.pop("positions"):
                catalog.record_product[position] = len(catalog)
            catalog.add(entry)
        return catalog._finish()

    _COLUMNS = ("skus", "names", "descriptions", "urls", "currencies", "product_categories")
    _NUMBERS = ("prices", "regular_prices", "sale_prices", "in_stock", "stock_quantity")

    def to_bytes(self) -> bytes:
        """Columns as JSON lines of at most `_CHUNK` values, compressed as they are written: never the whole
        catalog as one string in memory."""
        packer = zlib.compressobj(1)  # the snapshot is written at every load: speed over the last few percent
        parts = [_MAGIC]

        def put(value: Any) -> None:
            line = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
            parts.append(packer.compress(line))

        def put_list(values: Any) -> None:
            for start in range(0, len(values), _CHUNK):
                put(values[start : start + _CHUNK])

        attributes = list(self.attributes.values())
        put(
            {
                "format": SNAPSHOT_FORMAT,
                "products": len(self),
                "chunk": _CHUNK,
                "records": len(self.record_product),
                "attributes": [[a.key, a.is_option, len(a.ids)] for a in attributes],
            }
        )
        for name in self._COLUMNS:
            put_list(getattr(self, name))
        for name in self._NUMBERS:
            put_list([None if v != v else v for v in getattr(self, name)])
        for attribute in attributes:
            put_list(attribute.ids.tolist())
            put_list(attribute.raw)
        put([[k, v] for k, v in self.variants.items()])
        put_list(self.record_product.tolist())
        parts.append(packer.flush())
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> Catalog:
        if not data.startswith(_MAGIC):
            raise ValueError("not a catalog snapshot")
        try:
            lines = iter(zlib.decompress(data[len(_MAGIC) :]).split(b"\n"))
            header = json.loads(next(lines))
            if header.get("format") != SNAPSHOT_FORMAT:
                raise ValueError("unknown catalog format")
            chunk = int(header["chunk"])

            def get_list(count: int) -> list[Any]:
                out: list[Any] = []
                for _ in range(-(-count // chunk)):
                    out.extend(json.loads(next(lines)))
                if len(out) != count:
                    raise ValueError("a column has the wrong length")
                return out

            count = int(header["products"])
            payload: dict[str, Any] = {name: get_list(count) for name in cls._COLUMNS + cls._NUMBERS}
            payload["attributes"] = [
                (key, is_option, get_list(size), get_list(size)) for key, is_option, size in header["attributes"]
            ]
            payload["variants"] = json.loads(next(lines))
            catalog = cls._from_payload(payload)
            catalog.record_product = array("i", get_list(int(header["records"])))
            return catalog
        except (KeyError, TypeError, AttributeError, IndexError, ValueError, StopIteration, zlib.error) as exc:
            raise ValueError(f"corrupt catalog snapshot: {exc}") from exc

    @classmethod
    def _from_payload(cls, payload: dict[str, Any]) -> Catalog:
        catalog = cls()
        for name in cls._COLUMNS:
            setattr(catalog, name, list(payload[name]))
        catalog.product_categories = [catalog._share(tuple(c)) for c in catalog.product_categories]
        for name in cls._NUMBERS:
            values = payload[name]
            kind = getattr(catalog, name).typecode
            setattr(
                catalog,
                name,
                array(kind, (NAN if v is None else v for v in values)) if kind == "d" else array(kind, values),
            )
        if not all(len(getattr(catalog, name)) == len(catalog.skus) for name in cls._COLUMNS + cls._NUMBERS):
            raise ValueError("columns of different lengths")
        catalog.on_sale = bytearray(int(s == s) for s in catalog.sale_prices)
        catalog.variants = {int(k): v for k, v in payload["variants"]}
        for product_id, variants in catalog.variants.items():
            prices = [v["price"] for v in variants if v.get("price") is not None]
            if prices:
                catalog.price_ranges[product_id] = (min(prices), max(prices))
        for product_id, categories in enumerate(catalog.product_categories):
            for category in categories:
                catalog.categories.setdefault(catalog._category_key(category), array("I")).append(product_id)
        for key, is_option, ids, raws in payload["attributes"]:
            attribute = catalog._attribute(key, option=is_option)
            for product_id, raw in zip(ids, raws):
                attribute.add(product_id, catalog._share(raw), catalog._typed_value(raw, key))
        return catalog._finish()

    @classmethod
    def from_records(cls, records: Iterable[Any]) -> Catalog:
        """For a snapshot written before catalogs existed: products read back from the index's rendered text."""
        return cls.build(_product_from_text(r.id, r.title, r.text) for r in records if r.type == "product")


def _product_from_text(sku: str, name: str, text: str) -> dict[str, Any]:
    """Reverse of `retrieval.render_product` (its line layout), enough for an old snapshot."""
    product: dict[str, Any] = {"sku": sku, "name": name, "properties": {}}
    description = []
    for line in text.split("\n")[1:]:
        if line.startswith("- ") and ": " in line:
            key, _, value = line[2:].partition(": ")
            product["properties"][key.strip()] = value.strip()
        elif line.startswith("Categories: "):
            product["categories"] = line[len("Categories: ") :].split(", ")
        elif line.startswith("Price: "):
            product["price"] = _number(line[len("Price: ") :].split(" ")[0])
        else:
            description.append(line)
    product["description"] = " ".join(description)
    return product
