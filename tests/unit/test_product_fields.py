"""The load API's typed product fields (issue 11): currency, regular and sale price, stock, url, parent_sku,
options and variants. Good products are stored as sent, with the derived price and availability; a bad field
is a 422 naming it and nothing is stored."""

from __future__ import annotations

import json

import pytest

from parley.dal.data_sets import DataSetRepository

PATH = "/api/data_sets/1/products"


def stored(sku: str) -> dict | None:
    return next((p for p in DataSetRepository().contents(1)[0] if p["sku"] == sku), None)


def test_typed_fields_are_stored_with_the_price_and_availability_they_imply(admin, drain):
    hoodie = {
        "sku": "HOOD",
        "name": "Hoodie",
        "currency": "eur",
        "regular_price": 50,
        "sale_price": 35.5,
        "stock_quantity": 4,
        "url": "https://shop.example/hoodie",
        "categories": ["Clothing > Hoodies"],
        "options": {"Color": ["Blue", "Red"], "Size": "M"},
        "variants": [
            {"sku": "HOOD-B", "options": {"Color": "Blue"}, "regular_price": 50, "stock_quantity": 0},
            {
                "sku": "HOOD-R",
                "name": "Hoodie red",
                "options": {"Color": "Red"},
                "price": 45,
                "in_stock": True,
                "properties": {"Weight": "0.5 kg"},
            },
        ],
    }
    variant = {
        "sku": "HOOD-G",
        "name": "Hoodie green",
        "parent_sku": "HOOD",
        "options": {"Color": "Green"},
        "sale_price": 20,
        "regular_price": 20,
    }
    plain = {"sku": "PLAIN", "name": "Plain"}
    assert admin.post(PATH, {"products": [hoodie, variant, plain]}).status == 202
    drain()
    saved = stored("HOOD")
    assert (saved["price"], saved["currency"], saved["in_stock"]) == (35.5, "EUR", True)
    assert saved["variants"] == [
        {
            "sku": "HOOD-B",
            "options": {"Color": "Blue"},
            "regular_price": 50,
            "price": 50,
            "stock_quantity": 0,
            "in_stock": False,
            "properties": {},
        },
        {
            "sku": "HOOD-R",
            "name": "Hoodie red",
            "options": {"Color": "Red"},
            "price": 45,
            "in_stock": True,
            "properties": {"Weight": "0.5 kg"},
        },
    ]
    assert saved["options"] == {"Color": ["Blue", "Red"], "Size": "M"}
    green = stored("HOOD-G")
    assert green["parent_sku"] == "HOOD" and green["price"] == 20 and "in_stock" not in green  # not on sale
    assert stored("PLAIN") == {
        "sku": "PLAIN",
        "name": "Plain",
        "description": "",
        "properties": {},
        "categories": [],
    }  # as before issue 11


def product(**fields) -> dict:
    return {"sku": "X", "name": "X", **fields}


def variant(**fields) -> dict:
    return {"sku": "X-1", "options": {"Size": "M"}, **fields}


BAD = [
    (product(currency="EURO"), ["currency"]),
    (product(currency="E1R"), ["currency"]),
    (product(currency=978), ["currency"]),
    (product(regular_price=-1), ["regular_price"]),
    (product(sale_price="9.99"), ["sale_price"]),
    (product(stock_quantity=-3), ["stock_quantity"]),
    (product(stock_quantity=2.5), ["stock_quantity"]),
    (product(in_stock="yes"), ["in_stock"]),
    (product(url=""), ["url"]),
    (product(parent_sku="X"), []),  # a model-level rule: reported on the product
    (product(parent_sku=""), ["parent_sku"]),
    (product(options={"Color": 3}), ["options", "Color"]),
    (product(options={"Color": ["Blue", 2]}), ["options", "Color"]),
    (product(options={"": "Blue"}), ["options"]),
    (product(variants=[variant()] * 2), []),
    (product(variants=[variant(sku=f"X-{n}") for n in range(251)]), ["variants"]),
    (product(variants=[variant(price=-5)]), ["variants", 0, "price"]),
    (product(variants=[variant(options={"Size": ["M", "L"]})]), ["variants", 0, "options", "Size"]),
    (product(variants=[variant(sku="")]), ["variants", 0, "sku"]),
    (product(variants=[variant(sku="X")]), []),
    (product(variants={"sku": "X-1"}), ["variants"]),
    (product(parent_sku="P", variants=[variant()]), []),
]


@pytest.mark.parametrize("body,loc", BAD, ids=[json.dumps(b)[:60] for b, _ in BAD])
def test_bad_typed_fields_are_422_naming_the_field_and_store_nothing(admin, drain, body, loc):
    response = admin.post(PATH, {"products": [body]})
    assert response.status == 422, response.body
    detail = response.json()["detail"]
    assert detail[0]["loc"][: 3 + len(loc)] == ["body", "products", 0, *loc], detail
    drain()
    assert stored("X") is None


def test_variants_count_toward_the_one_item_size_limit(admin):
    heavy = [variant(sku=f"X-{n}", properties={f"p{k}": "x" * 1_900 for k in range(5)}) for n in range(40)]
    response = admin.post(PATH, {"products": [product(variants=heavy)]})
    assert response.status == 422 and response.json()["detail"][0]["loc"] == ["body", "products", 0]
    assert "350000 bytes" in json.dumps(response.json()["detail"])
