"""A small outdoor-clothing shop written for the agent tests (a second domain beside FiberUP): variants as separate
items with `parent_sku` and as a `variants` list, sale prices, stock, category paths, units in property values."""

from __future__ import annotations

PRODUCTS = [
    {
        "sku": "JK-RAIN",
        "name": "Storm Rain Jacket",
        "description": "A waterproof shell with taped seams and a hood.",
        "categories": ["Clothing > Jackets"],
        "regular_price": 120.0,
        "sale_price": 90.0,
        "currency": "EUR",
        "properties": {"Waterproof": "Yes", "Weight": "0.9 lbs", "Warranty": "24 Months"},
    },
    {
        "sku": "JK-RAIN-BLU-M",
        "name": "Storm Rain Jacket - Blue, M",
        "parent_sku": "JK-RAIN",
        "options": {"Color": "Blue", "Size": "M"},
        "regular_price": 120.0,
        "sale_price": 90.0,
        "stock_quantity": 4,
    },
    {
        "sku": "JK-RAIN-RED-L",
        "name": "Storm Rain Jacket - Red, L",
        "parent_sku": "JK-RAIN",
        "options": {"Color": "Red", "Size": "L"},
        "regular_price": 125.0,
        "sale_price": 95.0,
        "stock_quantity": 0,
    },
    {
        "sku": "JK-DOWN",
        "name": "Summit Down Jacket",
        "description": "A warm down jacket for cold, dry days.",
        "categories": ["Clothing > Jackets"],
        "price": 210.0,
        "currency": "EUR",
        "in_stock": False,
        "properties": {"Waterproof": "No", "Weight": "1.3 lbs", "Fill": "800 fill down", "Warranty": "36 Months"},
    },
    {
        "sku": "FL-GRID",
        "name": "Grid Fleece Pullover",
        "description": "A light grid fleece for layering.",
        "categories": ["Clothing > Fleeces"],
        "price": 55.0,
        "currency": "EUR",
        "stock_quantity": 12,
        "properties": {"Weight": "0.6 lbs", "Colors": "Green, Grey, Blue", "Warranty": "12 Months"},
    },
    {
        "sku": "BT-TRAIL",
        "name": "Trail Hiking Boots",
        "description": "Leather hiking boots with a grippy sole.",
        "categories": ["Footwear > Boots"],
        "currency": "EUR",
        "properties": {"Waterproof": "Yes", "Weight": "2.4 lbs"},
        "variants": [
            {"sku": "BT-TRAIL-42", "options": {"Size": "42"}, "price": 140.0, "stock_quantity": 3},
            {"sku": "BT-TRAIL-44", "options": {"Size": "44"}, "price": 150.0, "stock_quantity": 1},
        ],
    },
    {
        "sku": "SK-MERINO",
        "name": "Merino Hiking Socks",
        "description": "Cushioned merino socks.",
        "categories": ["Footwear > Socks"],
        "price": 18.0,
        "currency": "EUR",
        "in_stock": True,
        "properties": {"Pack Size": 2, "Weight": "0.1 lbs", "Colors": "Grey, Blue"},
    },
]

DOCUMENTS = [
    {
        "title": "Returns",
        "url": "https://outfitters.example/returns",
        "key": "https://outfitters.example/returns",
        "content": "You can return unworn items within 30 days for a full refund. Sale items can be exchanged but not "
        "refunded. Boots must come back in their original box.",
    },
    {
        "title": "Jacket care",
        "url": "https://outfitters.example/care",
        "key": "https://outfitters.example/care",
        "content": "Wash waterproof jackets at 30 degrees with a technical detergent. Never tumble dry down jackets on "
        "high heat; use a low setting with two clean tennis balls.",
    },
]
