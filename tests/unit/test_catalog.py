"""The typed catalog: value typing, variant grouping, category paths, snapshots and the knowledge cache."""

from __future__ import annotations

import pytest

from parley import config
from parley.agent import knowledge
from parley.agent.catalog import Catalog
from parley.agent.values import show, typed
from parley.retrieval import SearchIndex
from parley_local.samples import load_sample
from tests.unit.agent_shop import DOCUMENTS, PRODUCTS


@pytest.mark.parametrize(
    "raw, key, kind, number, unit",
    [
        ("24 Months", "", "number", 24, "months"),
        ("10Mb/s", "", "number", 10, "mbps"),
        ("99.99%", "", "number", 99.99, "%"),
        ("1.5 lbs", "", "number", 1.5, "lbs"),
        ("up to 400", "download_mbps", "number", 400, "mbps"),
        (300, "download_mbps", "number", 300, "mbps"),
        (36, "contract_term_months", "number", 36, "months"),
        ("2 Gbit/s", "", "number", 2, "gbps"),
    ],
)
def test_numbers_with_units(raw, key, kind, number, unit):
    value = typed(raw, key)
    assert (value.kind, value.number, value.unit) == (kind, number, unit)


@pytest.mark.parametrize("raw, flag", [("Yes", True), ("no", False), (True, True), ("false", False)])
def test_flags(raw, flag):
    assert typed(raw).kind == "bool" and typed(raw).flag is flag


def test_lists_and_names_that_look_like_numbers():
    assert typed("Blue, Green, Red").items == ("Blue", "Green", "Red")
    for name in ("5G", "WiFi 6", "4K", "24/7", "5G fixed wireless"):
        assert typed(name).kind == "text", name
    assert show(typed(24, "contract_term_months")) == "24 months"


@pytest.fixture(scope="module")
def shop() -> Catalog:
    return Catalog.build(PRODUCTS)


def test_variants_are_grouped_under_their_product(shop):
    assert len(shop) == 5  # 7 rows: two are variants of the rain jacket
    jacket, variant = shop.find_sku("JK-RAIN-RED-L")
    assert shop.names[jacket] == "Storm Rain Jacket" and variant == 1
    assert shop.options_of(jacket) == {"Color": ["Blue", "Red"], "Size": ["M", "L"]}
    assert shop.price_ranges[jacket] == (90.0, 95.0)
    boots = shop.find_sku("BT-TRAIL")[0]
    assert shop.options_of(boots) == {"Size": ["42", "44"]}
    assert shop.price(boots) == 140.0 and shop.price_ranges[boots] == (140.0, 150.0)


def test_prices_sale_and_stock(shop):
    jacket = shop.find_sku("JK-RAIN")[0]
    assert shop.on_sale[jacket] and shop.price(jacket) == 90.0 and shop.regular_prices[jacket] == 120.0
    assert shop.in_stock[jacket] == 1 and shop.stock_quantity[jacket] == 4  # from its variants
    down = shop.find_sku("JK-DOWN")[0]
    assert shop.in_stock[down] == 0 and not shop.on_sale[down]
    fleece = shop.find_sku("FL-GRID")[0]
    assert shop.in_stock[fleece] == 1  # quantity 12, no flag given


def test_category_paths_put_a_product_in_every_level(shop):
    assert sorted(shop.names[i] for i in shop.categories["footwear"]) == ["Merino Hiking Socks", "Trail Hiking Boots"]
    assert [shop.names[i] for i in shop.categories["boots"]] == ["Trail Hiking Boots"]


def test_attribute_columns_are_typed(shop):
    weight = shop.attribute("weight")
    assert weight.numeric and weight.unit == "lbs"
    assert shop.attribute("Colors") is shop.attribute("color")  # one attribute, whatever the form
    assert shop.attribute("waterproof").kind == "bool"


def test_snapshot_round_trip_keeps_everything(shop):
    loaded = Catalog.from_bytes(shop.to_bytes())
    assert loaded.skus == shop.skus and loaded.names == shop.names
    assert list(loaded.prices) == list(shop.prices) and loaded.price_ranges == shop.price_ranges
    assert loaded.options_of(0) == shop.options_of(0) and loaded.variants == shop.variants
    assert loaded.attribute("weight").numbers == shop.attribute("weight").numbers
    assert loaded.record_product == shop.record_product


def test_a_corrupt_snapshot_is_refused(shop):
    data = shop.to_bytes()
    for bad in (data[:-20], b"\x89PCAT\r\n" + b"junk", b"not a catalog"):
        with pytest.raises(ValueError):
            Catalog.from_bytes(bad)


def test_an_old_index_only_snapshot_still_loads_with_a_catalog():
    products, documents = load_sample()
    old = SearchIndex.build(products, documents).to_bytes()  # what loads wrote before catalogs existed
    loaded = knowledge.unpack(old)
    duplex = loaded.catalog.find_sku("FU-BIZ-DUPLEX")[0]
    assert loaded.catalog.price(duplex) == 149.0
    assert loaded.catalog.attribute("download_mbps").number_of(duplex) == 1000
    assert loaded.catalog.aligned_with(loaded.index)


def test_knowledge_snapshot_holds_index_and_catalog():
    built = knowledge.build(PRODUCTS, DOCUMENTS)
    loaded = knowledge.unpack(knowledge.pack(built))
    assert loaded.catalog.skus == built.catalog.skus and len(loaded.index) == len(built.index)
    assert loaded.catalog.aligned_with(loaded.index)


def test_knowledge_cache_is_bounded_by_bytes(cloud, monkeypatch):
    from parley.dal import blobs
    from parley.logic import knowledge_cache

    data = knowledge.pack(knowledge.build(PRODUCTS, DOCUMENTS))
    for number in (1, 2, 3):
        blobs.put(f"index/{number}/1.knowledge", data)
    monkeypatch.setenv("KNOWLEDGE_CACHE_BYTES", str(len(data) * 4 * 2))  # room for two
    config.reset()  # settings are read once per process
    for number in (1, 2, 3):
        knowledge_cache.knowledge_for({"id": number, "index_version": 1, "index_key": f"index/{number}/1.knowledge"})
    assert knowledge_cache.cached_ids() == [2, 3]
    knowledge_cache.knowledge_for({"id": 2, "index_version": 1, "index_key": "index/2/1.knowledge"})
    knowledge_cache.knowledge_for({"id": 1, "index_version": 1, "index_key": "index/1/1.knowledge"})
    assert knowledge_cache.cached_ids() == [2, 1]  # 3 was the least recently used
