"""The tools over two catalogs: filters, sorts and exact totals, product details, document passages, bad arguments."""

from __future__ import annotations

import pytest

from parley.agent import knowledge
from parley.agent.contracts import ToolError
from parley.agent.tools import TOOLS, tool
from parley_local.samples import load_sample
from tests.unit.agent_shop import DOCUMENTS, PRODUCTS


@pytest.fixture(scope="module")
def shop():
    return knowledge.unpack(knowledge.pack(knowledge.build(PRODUCTS, DOCUMENTS)))


@pytest.fixture(scope="module")
def fiberup():
    products, documents = load_sample()
    return knowledge.build(products, [{**d, "key": d.get("url") or d["title"]} for d in documents])


def search(k, **args):
    result = tool("search_products").run(k, args)
    return result.content["total"], [item["name"] for item in result.content["items"]], result


def test_every_tool_has_a_schema_and_a_name():
    assert [t.name for t in TOOLS] == ["search_products", "get_product", "search_documents"]
    for t in TOOLS:
        assert t.input_schema["type"] == "object" and t.description


def test_numeric_filter_with_sort_and_exact_total(fiberup):
    total, names, result = search(
        fiberup,
        filters=[{"attribute": "download_mbps", "op": "gte", "value": 1000}],
        sort="price",
        order="desc",
        limit=2,
    )
    assert total == 4
    assert names == ["FiberUP Business Duplex", "FiberUP Business Pro 1000"]
    assert [s.id for s in result.sources] == ["FU-BIZ-DUPLEX", "FU-BIZ-PRO"]
    assert result.content["items"][0]["attributes"] == {"download_mbps": 1000}


def test_sort_by_a_numeric_attribute_within_a_category(fiberup):
    total, names, _ = search(fiberup, category="mobile", sort="data_gb", order="desc", limit=2)
    assert total == 7 and names == ["FiberUP Mobile Unlimited", "FiberUP Data SIM 50"]  # "unlimited" is the most


@pytest.mark.parametrize(
    "op, value, expected",
    [
        ("eq", True, {"FiberUP Business Duplex"}),
        ("eq", "yes", {"FiberUP Business Duplex"}),
        ("ne", "yes", None),  # every other plan that states an SLA
        ("in", ["yes"], {"FiberUP Business Duplex"}),
    ],
)
def test_flag_filters(fiberup, op, value, expected):
    total, names, _ = search(fiberup, filters=[{"attribute": "sla", "op": op, "value": value}], limit=50)
    if expected is None:
        assert total == 9 and "FiberUP Business Duplex" not in names
    else:
        assert set(names) == expected and total == len(expected)


def test_value_filters_on_options_and_lists(shop):
    total, names, _ = search(shop, filters=[{"attribute": "color", "op": "eq", "value": "blue"}])
    assert total == 3 and set(names) == {"Storm Rain Jacket", "Grid Fleece Pullover", "Merino Hiking Socks"}
    total, names, _ = search(shop, filters=[{"attribute": "Colors", "op": "contains", "value": "gre"}])
    assert set(names) == {"Grid Fleece Pullover", "Merino Hiking Socks"}
    total, _, _ = search(shop, filters=[{"attribute": "Size", "op": "in", "value": ["44", "L"]}])
    assert total == 2


def test_units_in_values_filter_as_numbers(shop):
    total, names, _ = search(shop, filters=[{"attribute": "weight", "op": "lt", "value": 1}], sort="weight")
    assert names == ["Merino Hiking Socks", "Grid Fleece Pullover", "Storm Rain Jacket"] and total == 3
    total, names, _ = search(shop, filters=[{"attribute": "warranty", "op": "gte", "value": "24 months"}])
    assert set(names) == {"Storm Rain Jacket", "Summit Down Jacket"}


def test_price_sale_stock_and_category_levels(shop):
    assert search(shop, max_price=100)[1] == ["Storm Rain Jacket", "Grid Fleece Pullover", "Merino Hiking Socks"]
    assert search(shop, on_sale=True)[1] == ["Storm Rain Jacket"]
    assert search(shop, in_stock=False)[1] == ["Summit Down Jacket"]
    assert search(shop, category="Clothing")[0] == 3 and search(shop, category="jacket")[0] == 2
    _, names, _ = search(shop, category="footwear", sort="price", order="asc")
    assert names == ["Merino Hiking Socks", "Trail Hiking Boots"]


def test_text_query_needs_every_word(shop, fiberup):
    assert search(shop, query="hiking")[0] == 2
    assert search(shop, query="hiking leather")[1] == ["Trail Hiking Boots"]
    assert search(shop, query="kayak")[0] == 0
    assert search(fiberup, query="router", category="business")[0] >= 1


def test_get_product_by_sku_variant_sku_and_name(shop):
    detail = tool("get_product").run(shop, {"sku": "JK-RAIN-BLU-M"}).content["product"]
    assert detail["name"] == "Storm Rain Jacket" and detail["matched_variant"] == "JK-RAIN-BLU-M"
    assert detail["options"] == {"Color": ["Blue", "Red"], "Size": ["M", "L"]}
    assert detail["price_range"] == [90.0, 95.0] and detail["on_sale"] is True
    assert detail["properties"]["Warranty"] == "24 Months"
    by_name = tool("get_product").run(shop, {"name": "summit down jacket"})
    assert by_name.content["product"]["sku"] == "JK-DOWN" and by_name.sources[0].id == "JK-DOWN"
    assert tool("get_product").run(shop, {"name": "Trail Boots"}).content["product"]["sku"] == "BT-TRAIL"


def test_search_documents_returns_passages_with_their_document(shop):
    result = tool("search_documents").run(shop, {"query": "tumble dry down jacket"})
    assert result.content["passages"][0]["document"] == "Jacket care"
    assert result.sources[0].url == "https://outfitters.example/care"


@pytest.mark.parametrize(
    "name, args, message",
    [
        ("search_products", {"limit": 0}, "at least 1"),
        ("search_products", {"limit": "5"}, "integer"),
        ("search_products", {"colour": "red"}, "not a known argument"),
        ("search_products", {"filters": [{"attribute": "weight", "op": "near", "value": 1}]}, "must be one of"),
        ("search_products", {"filters": [{"attribute": "weight", "op": "lt"}]}, "value is required"),
        ("search_products", {"filters": [{"attribute": "weight", "op": "lt", "value": "heavy"}]}, "needs a number"),
        ("search_products", {"filters": [{"attribute": "sleeve", "op": "eq", "value": 1}]}, "unknown attribute"),
        ("search_products", {"category": "hats"}, "unknown category"),
        ("search_products", {"sort": "colors"}, "not numbers"),
        ("get_product", {}, "give a sku or a name"),
        ("get_product", {"sku": "NOPE"}, "no product has the SKU"),
        ("search_documents", {}, "query is required"),
    ],
)
def test_bad_arguments_raise_tool_errors_naming_the_problem(shop, name, args, message):
    with pytest.raises(ToolError, match=message):
        tool(name).run(shop, args)


def test_unknown_tool():
    with pytest.raises(ToolError, match="no tool named"):
        tool("delete_everything")


def test_values_in_different_units_of_one_attribute_compare_as_quantities():
    items = [
        {"sku": f"W{n}", "name": f"Weight {n}", "properties": {"weight": w}}
        for n, w in enumerate(["1.2 kg", "500 g", "2 lbs", "0.9 kg"])
    ]
    k = knowledge.build(items, [])
    assert search(k, sort="weight", order="asc")[1] == ["Weight 1", "Weight 3", "Weight 2", "Weight 0"]
    assert search(k, filters=[{"attribute": "weight", "op": "lt", "value": "1 kg"}])[1] == [
        "Weight 1",
        "Weight 2",
        "Weight 3",
    ]  # 2 lbs is 0.91 kg
    # a bare number is read in the attribute's usual unit (kg here)
    assert search(k, filters=[{"attribute": "weight", "op": "gte", "value": 1}])[1] == ["Weight 0"]


def test_a_stock_filter_on_a_catalog_without_stock_data_says_so(shop, fiberup):
    # FiberUP's plans record no stock: "none in stock" would be false, so the result says the data is silent
    for wanted in (True, False):
        total, _, result = search(fiberup, in_stock=wanted)
        assert total == 0 and "records whether it is in stock" in result.content["note"]
    # a catalog that records stock: no match is a plain zero, without the note
    total, _, result = search(shop, in_stock=False, min_price=10**9)
    assert total == 0 and "note" not in result.content
    assert search(shop, in_stock=True)[0] > 0
