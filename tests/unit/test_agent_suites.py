"""Every case of every question suite (tests/fixtures/suites/), asked through the API and the worker's SQS event
on its catalog, must meet its criteria (docs/agent-eval.md). One test per case, named by the case's id."""

from __future__ import annotations

import pytest

from bench.agent_eval import (
    CATALOGS,
    TYPES,
    Shop,
    ask_case,
    catalog_files,
    catalogs,
    check,
    load_suite,
    mentions,
    read_jsonl,
)
from parley_local import stack as local_stack
from parley_local.emulated import Api, emulated_cloud

CASES = [(name, case) for name in catalogs() for case in load_suite(name)]


@pytest.fixture(scope="module")
def shops(gateway):
    """Each catalog loaded once as a data set of its own (the cases only add conversations)."""
    with emulated_cloud(gateway) as local:
        api = Api(gateway, local_stack.seed(None)["token"])
        yield {name: Shop(api, local, name) for name in catalogs()}


@pytest.mark.parametrize("name,case", CASES, ids=[case["id"] for _, case in CASES])
def test_suite_case(shops, name, case):
    result = ask_case(shops[name], case)
    assert result["passed"], (
        f"{' / '.join([*case['turns'], case['question']])}: {'; '.join(result['missed'])}\n"
        f"answer: {result['answer']}\nsources: {result['sources']}"
    )


def test_every_catalog_has_a_suite_covering_the_issue_types():
    assert {"fiberup", "apparel", "hardware", "books", "woocommerce", "shopify", "telecom"} <= set(catalogs())
    for name in ("apparel", "hardware", "books"):
        types = {case["type"] for case in load_suite(name)}
        assert types == set(TYPES), name  # every question type the issue names


def test_criteria_match_whole_words_and_numbers_in_any_form():
    assert mentions("It costs 54.00 USD", "54") and mentions("It costs $54", "54.0")
    assert not mentions("It costs 154 USD", "54") and not mentions("Reduced", "Red")
    assert mentions("Weight: 1.5lbs", "1.5 lbs") and mentions("3GB of data", "3 GB")
    assert mentions("The V\u2011Neck T-Shirt", "V-Neck T-Shirt") and not mentions("size XL", "L")
    assert mentions("about 1,000 Mbps", "1000")


def test_criteria_report_each_miss():
    expect = {
        "must_mention": ["Blue"],
        "must_not_mention": ["Red"],
        "yes_no": "no",
        "count": 3,
        "sources_include": ["SKU-1"],
        "any_of": [["30 days", "a month"]],
    }
    assert check(expect, "No: there are three, in Blue, within 30 days.", [{"id": "SKU-1", "title": "x"}]) == []
    missed = check(expect, "Yes, Red ones, 2 of them.", [{"id": "SKU-2", "title": "x"}])
    assert len(missed) == 6
    assert check({"yes_no": "no"}, "TV Basic is the cheaper one. No, it has no sports.", []) == []
    assert check({"yes_no": "no"}, "It is here. It has sports. No, wait.", []) != []
    assert check({"yes_no": "no"}, "Yes, in stock. No returns though.", []) != []
    assert check({"no_answer": True}, "The data set does not contain an answer to that.", []) == []
    assert check({"no_answer": True}, "It costs 20 EUR.", []) == ["does not say that the data set cannot answer"]


PRODUCT_FIELDS = {
    "sku",
    "name",
    "description",
    "properties",
    "categories",
    "price",
    "currency",
    "regular_price",
    "sale_price",
    "in_stock",
    "stock_quantity",
    "url",
    "parent_sku",
    "options",
    "variants",
}
VARIANT_FIELDS = {
    "sku",
    "name",
    "options",
    "price",
    "regular_price",
    "sale_price",
    "in_stock",
    "stock_quantity",
    "properties",
}


@pytest.mark.parametrize("name", ["apparel", "hardware", "books"])
def test_sample_catalogs_use_only_the_product_fields_of_the_load_api(name):
    products, documents = read_jsonl(CATALOGS[name].products), read_jsonl(CATALOGS[name].documents)
    skus = [p["sku"] for p in products] + [v["sku"] for p in products for v in p.get("variants", [])]
    assert len(skus) == len(set(skus))
    parents = {p["sku"] for p in products}
    for product in products:
        assert set(product) <= PRODUCT_FIELDS, product["sku"]
        assert product.get("parent_sku", product["sku"]) in parents
        for variant in product.get("variants", []):
            assert set(variant) <= VARIANT_FIELDS and variant["options"], variant["sku"]
    assert documents and all(d["title"] and d["content"] for d in documents)


@pytest.mark.parametrize(
    "name,fmt,count", [("woocommerce", "woocommerce", 25), ("shopify", "shopify", 5), ("telecom", "csv", 12)]
)
def test_export_catalogs_load_through_the_cli_importer(name, fmt, count, capsys):
    """A suite over a shop's export gets the products `parley load products FILE` would send, format and all."""
    from parley_client.cli import read_items

    catalog = CATALOGS[name]
    assert catalog.format == fmt
    products, documents = catalog_files(name)
    assert products == read_items(catalog.products, "products", fmt, catalog.currency)
    assert len(products) == count and all(p["currency"] for p in products)
    assert bool(documents) == (catalog.documents is not None)
