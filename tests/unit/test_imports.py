"""`parley load products` reads WooCommerce and Shopify exports as shops write them, and the generic CSV and
JSON Lines as before: format detection, variants, prices, stock, categories, HTML, leftover columns as
properties, bad rows named by line. The samples under samples/ are the realistic exports; small inline files
pin single rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from parley_client import cli, imports

from parley.dal.data_sets import DataSetRepository

ROOT = Path(__file__).resolve().parents[2]
WOO = ROOT / "samples" / "apparel" / "woocommerce-export.csv"
SHOPIFY = ROOT / "samples" / "apparel" / "shopify-export.csv"
TELECOM = ROOT / "samples" / "telecom" / "products.csv"


def by_sku(items: list[dict]) -> dict[str, dict]:
    return {item["sku"]: item for item in items}


def as_stored(items: list[dict]) -> dict[str, dict]:
    """Products by sku as DynamoDB holds them: top-level nulls are not stored."""
    return {item["sku"]: {k: v for k, v in item.items() if v is not None} for item in items}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def unsent(path: Path, capsys, *extra: str) -> str:
    """Load a bad file against an unreachable API: exit 2, nothing sent; returns stderr."""
    code = cli.main(["--url", "http://127.0.0.1:9", "load", "products", str(path), "--data-set", "1", *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    return err


# ---------------------------------------------------------------------------------------------- detection


@pytest.mark.parametrize("path,expected", [(WOO, "woocommerce"), (SHOPIFY, "shopify"), (TELECOM, "csv")])
def test_the_format_is_detected_from_the_header(path, expected):
    assert imports.detect(path.suffix, path.read_text(encoding="utf-8-sig")) == expected
    assert imports.detect(".jsonl", '{"sku": "a"}\n') == "jsonl"


def test_the_woocommerce_export_keeps_its_byte_order_mark_out_of_the_first_column():
    assert WOO.read_bytes().startswith(b"\xef\xbb\xbfID,Type,SKU,Name")
    parsed = imports.parse_products(WOO.read_text(encoding="utf-8"), "woocommerce")
    hoodie = parsed.rows[0][1]
    assert hoodie["sku"] == "HD-PULL" and not [key for key in hoodie["properties"] if "ID" in key]


def test_a_format_that_the_header_does_not_match_is_refused_naming_the_expected_columns(capsys, tmp_path):
    err = unsent(SHOPIFY, capsys, "--format", "woocommerce")
    assert "line 1: the header is not that of a WooCommerce product export" in err and "Regular price" in err
    err = unsent(WOO, capsys, "--format", "shopify")
    assert "Shopify" in err and "Handle" in err
    # --format names a file whatever its suffix; auto still wants .csv or .jsonl
    copy = write(tmp_path, "export.txt", SHOPIFY.read_text())
    assert "--format" in unsent(copy, capsys)
    assert len(cli.read_items(copy, "products", "shopify")) == 5


# ------------------------------------------------------------------------------------------- WooCommerce


@pytest.fixture(scope="module")
def woo() -> list[dict]:
    return cli.read_items(WOO, "products")


def test_woocommerce_variations_become_items_of_their_parent_with_options(woo):
    items = by_sku(woo)
    assert len(woo) == 25
    navy_m = items["HD-PULL-NVY-M"]
    assert navy_m["parent_sku"] == "HD-PULL" and navy_m["options"] == {"Color": "Navy", "Size": "M"}
    assert navy_m["name"] == "Classic Pullover Hoodie - Navy, M"
    # A parent given by SKU instead of id:NN
    assert items["PO-PIQUE-NVY-L"]["parent_sku"] == "PO-PIQUE"
    parent = items["HD-PULL"]
    assert parent["options"] == {"Color": ["Heather Grey", "Navy", "Forest Green"], "Size": ["S", "M", "L", "XL"]}
    assert "parent_sku" not in parent and "Color" not in parent["properties"]
    assert sum(1 for item in woo if item.get("parent_sku") == "HD-PULL") == 4


def test_woocommerce_variations_follow_their_parent_so_every_chunk_has_the_parent_first(woo):
    position = {item["sku"]: n for n, item in enumerate(woo)}
    for item in woo:
        if item.get("parent_sku"):
            assert position[item["parent_sku"]] < position[item["sku"]]
    for size in (1, 3, 7):
        chunk_of = {item["sku"]: n for n, chunk in enumerate(cli.chunked(woo, size)) for item in chunk}
        assert all(chunk_of[i["parent_sku"]] <= chunk_of[i["sku"]] for i in woo if i.get("parent_sku"))


def test_woocommerce_parents_without_a_sku_get_one_from_their_id_and_the_cli_says_so(capsys):
    items = by_sku(cli.read_items(WOO, "products"))
    err = capsys.readouterr().err
    assert items["wc-130"]["name"] == "Zip Fleece Jacket"
    assert items["wc-131"]["parent_sku"] == "wc-130" and items["wc-132"]["options"] == {"Color": "Olive"}
    assert "read " in err and "as a WooCommerce product export: 25 products" in err
    assert "note: line(s) 20, 21, 22 have no SKU: they were given wc-<ID>" in err


def test_woocommerce_sale_and_regular_prices_and_stock(woo):
    items = by_sku(woo)
    green = items["HD-PULL-GRN-XL"]
    assert (green["regular_price"], green["sale_price"], green["price"]) == (54, 39.9, 39.9)
    assert (green["stock_quantity"], green["in_stock"]) == (3, True)
    grey = items["HD-PULL-GRY-M"]
    assert (grey["regular_price"], grey["price"]) == (54, 54) and "sale_price" not in grey
    assert items["HD-PULL-NVY-L"]["in_stock"] is False and items["HD-PULL-NVY-L"]["stock_quantity"] == 0
    # "backorder" is orderable but not in stock; WooCommerce's formula escape '-2 is oversold stock: none
    assert items["AC-SUNNIES"]["in_stock"] is False and items["AC-SUNNIES"]["stock_quantity"] == 0
    assert items["HD-PULL"]["in_stock"] is True and items["HD-PULL"]["price"] is None  # prices live on variations


def test_woocommerce_categories_keep_their_paths_as_given(woo):
    items = by_sku(woo)
    assert items["HD-PULL"]["categories"] == ["Clothing", "Clothing > Hoodies"]
    assert items["AC-BEANIE"]["categories"] == ["Accessories", "Accessories > Hats"]
    assert items["HD-PULL-NVY-M"]["categories"] == []


def test_woocommerce_descriptions_lose_their_html(woo):
    hoodie = by_sku(woo)["HD-PULL"]["description"]
    assert hoodie == (
        "A midweight hoodie with a lined hood and a kangaroo pocket.\n\n"
        "Brushed inside for warmth, cut for layering over a tee.\n\n"
        "- 80% cotton, 20% polyester\n- Ribbed cuffs & hem\n- Machine wash at 30\u00a0°C".replace("\u00a0", " ")
    )
    assert all("<" not in item["description"] and "&" not in item["description"].replace(" & ", "") for item in woo)
    assert by_sku(woo)["wc-130"]["description"].endswith("Two zipped hand pockets.\nMade from recycled bottles.")


def test_woocommerce_columns_become_properties_unless_bookkeeping(woo):
    items = by_sku(woo)
    belt = items["AC-BELT"]["properties"]
    assert belt["Color"] == "Brown" and belt["Material"] == "Leather"  # attribute pairs of a simple product
    assert belt["Weight"] == "0.6 lbs" and belt["Tags"] == "leather"
    assert belt["Image"] == "https://shop.example/wp-content/uploads/2026/03/belt.jpg"
    tote = items["AC-TOTE"]["properties"]
    assert (tote["Length"], tote["Width"], tote["Height"]) == ("16 in", "5 in", "15 in")
    assert tote["Shipping class"] == "Small parcel"
    assert items["HD-PULL"]["properties"]["Fabric"] == "Cotton blend"  # a custom field (Meta: Fabric)
    assert items["CL-JEANS-SLIM"]["properties"]["Date sale price ends"] == "2026-11-30 23:59:59"
    assert items["AC-UMBRELLA"]["url"] == "https://partner.example/umbrella"
    every_key = {key for item in woo for key in item["properties"]}
    for dropped in (
        "Published",
        "Tax status",
        "Visibility in catalog",
        "Position",
        "ID",
        "Type",
        "_wpcom_is_markdown",
        "Attribute 1 visible",
        "Button text",
        "Backorders allowed?",
    ):
        assert dropped not in every_key


WOO_HEADER = (
    "ID,Type,SKU,Name,Published,Short description,Description,In stock?,Stock,Sale price,"
    "Regular price,Categories,Parent,Attribute 1 name,Attribute 1 value(s),Attribute 2 name,"
    "Attribute 2 value(s),Warranty\n"
)


def test_woocommerce_attributes_the_variations_do_not_use_stay_properties_of_the_parent(tmp_path):
    path = write(
        tmp_path,
        "w.csv",
        WOO_HEADER
        + '7,variable,LAMP,Desk Lamp,1,,,1,,,,"Home > Lighting",,Color,"Black, White",Material,Steel,2 years\n'
        "8,variation,LAMP-B,,1,,,1,4,,30,,id:7,Color,Black,,,\n"
        "9,variation,LAMP-W,,1,,,1,0,,30,,id:7,Color,White,,,\n"
        # a variation for any finish: the attribute is named without a value
        '10,variable,SHADE,Shade,1,,,1,,,,,,Finish,"Matte, Gloss",Size,"S, L",\n'
        "11,variation,SHADE-S,,1,,,1,,,9,,id:10,Finish,,Size,S,\n",
    )
    lamp, black, white, shade, shade_s = cli.read_items(path, "products")
    assert shade["options"] == {"Finish": ["Matte", "Gloss"], "Size": ["S", "L"]} and shade["properties"] == {}
    assert shade_s["options"] == {"Size": "S"} and shade_s["name"] == "Shade - S"
    assert lamp["options"] == {"Color": ["Black", "White"]}
    assert lamp["properties"] == {"Material": "Steel", "Warranty": "2 years"}
    assert black["name"] == "Desk Lamp - Black" and black["options"] == {"Color": "Black"}  # name made up
    assert white["in_stock"] is True and white["stock_quantity"] == 0  # "In stock?" says so, stock count aside


def test_bad_woocommerce_rows_are_named_by_line_and_column(tmp_path, capsys):
    path = write(
        tmp_path,
        "w.csv",
        WOO_HEADER + "1,simple,OK-1,Fine,1,,,1,3,,10,,,,,,,\n"
        "2,simple,BAD-1,Cheap,1,,,1,,,ten,,,,,,,\n"
        "3,variation,BAD-2,Orphan,1,,,1,,,5,,id:99,,,,,\n"
        '4,simple,BAD-3,"Multi\nline",1,,,maybe,,,5,,,,,,,\n'
        "5,simple,BAD-4,Part,1,,,1,2.5,,5,,,,,,,\n"
        "6,simple,BAD-5,,1,,,1,,,5,,,,,,,\n"
        ",simple,,No name,1,,,1,,,5,,,,,,,\n",
    )
    err = unsent(path, capsys)
    assert "6 bad rows, nothing was sent (bad lines: 3, 4, 5, 7, 8, 9)" in err
    assert "  line 3: Regular price: 'ten' is not a number" in err
    assert "  line 4: Parent: id:99 is not a product of this file" in err
    assert "  line 5: In stock?: 'maybe' is not yes or no" in err
    assert "  line 7: Stock: '2.5' is not a whole number" in err
    assert "  line 8: name:" in err
    assert "  line 9: SKU: empty, and there is no ID" in err


# ----------------------------------------------------------------------------------------------- Shopify


@pytest.fixture(scope="module")
def shopify() -> list[dict]:
    return cli.read_items(SHOPIFY, "products")


def test_shopify_rows_sharing_a_handle_are_one_product_with_variants(shopify):
    items = by_sku(shopify)
    assert list(items) == [
        "organic-crew-tee",
        "merino-crew-sweater",
        "canvas-low-sneakers",
        "lightweight-rain-jacket",
        "wool-hiking-socks",
    ]
    tee = items["organic-crew-tee"]
    assert tee["name"] == "Organic Crew Tee" and len(tee["variants"]) == 5  # the image-only row is no variant
    assert tee["options"] == {"Color": ["Sand", "Black"], "Size": ["S", "M", "L"]}
    black_m = tee["variants"][3]
    assert black_m["sku"] == "FG-CREW-BLK-M" and black_m["options"] == {"Color": "Black", "Size": "M"}
    assert black_m["name"] == "Organic Crew Tee - Black / M"
    assert items["canvas-low-sneakers"]["options"] == {"Size": ["40", "41", "42"], "Color": ["Off White", "Black"]}


def test_shopify_compare_at_price_above_the_price_means_on_sale(shopify):
    tee = by_sku(shopify)["organic-crew-tee"]["variants"]
    assert (tee[3]["regular_price"], tee[3]["sale_price"], tee[3]["price"]) == (24, 19, 19)
    assert (tee[0]["regular_price"], tee[0]["price"]) == (24, 24) and "sale_price" not in tee[0]
    charcoal = by_sku(shopify)["merino-crew-sweater"]["variants"][2]
    assert charcoal["price"] == 99 and "sale_price" not in charcoal


def test_shopify_stock_weight_and_barcode_per_variant(shopify):
    tee = by_sku(shopify)["organic-crew-tee"]["variants"]
    assert (tee[0]["stock_quantity"], tee[0]["in_stock"]) == (12, True)
    assert (tee[2]["stock_quantity"], tee[2]["in_stock"]) == (0, False)
    assert tee[0]["properties"] == {"Weight": "0.19 kg", "Barcode": "4006381333931"}
    assert by_sku(shopify)["lightweight-rain-jacket"]["variants"][0]["properties"]["Weight"] == "0.99 lb"


def test_a_shopify_product_without_options_carries_its_variant_on_itself(shopify):
    socks = by_sku(shopify)["wool-hiking-socks"]
    assert "variants" not in socks and "options" not in socks
    assert (socks["price"], socks["stock_quantity"], socks["in_stock"]) == (16, 40, True)
    assert socks["properties"]["SKU"] == "FG-SOCK-HIKE" and socks["properties"]["Weight"] == "90 g"


def test_shopify_columns_categories_html_and_what_is_left_out(shopify, capsys):
    sweater = by_sku(shopify)["merino-crew-sweater"]
    assert sweater["categories"] == ["Apparel & Accessories > Clothing > Clothing Tops > Sweaters", "Sweaters"]
    assert sweater["description"] == (
        "Warm, light, no itch\n\nKnitted from extra-fine merino \u2013 wear it on its "
        "own or under a coat.\n\nHand wash cold."
    )
    assert sweater["properties"] == {
        "Vendor": "Fernhill Goods",
        "Tags": "wool, winter",
        "Fabric": "Merino wool",
        "Image": "https://cdn.shop.example/files/merino-oat.jpg",
    }
    text = json.dumps(shopify)
    for left_out in ("Cost per item", "7.1", "Google Shopping", "Published", "Status", "deny", "manual"):
        assert left_out not in text


def test_shopify_variants_without_a_sku_get_one_from_handle_and_options(capsys):
    jacket = by_sku(cli.read_items(SHOPIFY, "products"))["lightweight-rain-jacket"]
    assert [v["sku"] for v in jacket["variants"]] == [
        "lightweight-rain-jacket-yellow-m",
        "lightweight-rain-jacket-yellow-l",
        "FG-RAIN-NVY-M",
    ]
    assert "note: line(s) 15, 16 have no Variant SKU" in capsys.readouterr().err


SHOPIFY_HEADER = (
    "Handle,Title,Body (HTML),Option1 Name,Option1 Value,Variant SKU,Variant Price,"
    "Variant Compare At Price,Variant Inventory Tracker,Variant Inventory Qty,Care instructions\n"
)


def test_bad_shopify_rows_are_named_by_line(tmp_path, capsys):
    path = write(
        tmp_path,
        "s.csv",
        SHOPIFY_HEADER + "mug,Mug,<p>Stoneware</p>,Color,Blue,MUG-B,12,,shopify,3,Dishwasher safe\n"
        "mug,,,,Red,MUG-R,twelve,,shopify,3,\n"
        ",,,,Green,MUG-G,12,,,,\n"
        "cap,,,Size,M,CAP-M,9,,,,\n"
        "hat,Hat,,Size,S,HAT-S,9,,shopify,-4,\n"
        "hat,,,,M,HAT-S,9,,shopify,1,\n",
    )
    err = unsent(path, capsys)
    assert "bad lines: 3, 4, 5, 6" in err
    assert "  line 3: Variant Price: 'twelve' is not a number" in err
    assert "  line 4: Handle: empty" in err
    assert "  line 5: Title: the first row of cap must hold the product's Title" in err
    assert "  line 6: row: Value error, every variant needs its own sku" in err and "HAT-S" in err


def test_shopify_untracked_inventory_is_no_stock_count_and_unknown_columns_are_kept(tmp_path):
    path = write(
        tmp_path,
        "s.csv",
        SHOPIFY_HEADER + "mug,Mug,<p>Stoneware</p>,Color,Blue,MUG-B,12,10,,0,Dishwasher safe\n"
        "mug,,,,Red,MUG-R,12,,shopify,-2,\n",
    )
    (mug,) = cli.read_items(path, "products")
    blue, red = mug["variants"]
    assert "stock_quantity" not in blue and "in_stock" not in blue and blue["price"] == 12  # 10 < 12: no sale
    assert (red["stock_quantity"], red["in_stock"]) == (0, False)  # oversold
    assert mug["properties"] == {"Care instructions": "Dishwasher safe"} and mug["description"] == "Stoneware"


# -------------------------------------------------------------------------------------- generic CSV, JSONL


def test_the_generic_csv_reads_typed_columns_and_keeps_the_rest_as_properties():
    items = by_sku(cli.read_items(TELECOM, "products"))
    plan = items["KM-SIM-30"]
    assert (plan["currency"], plan["regular_price"], plan["sale_price"], plan["price"]) == ("GBP", 12, 10, 10)
    assert plan["in_stock"] is True and plan["url"] == "https://kestrel.example/plans/sim-30"
    assert plan["categories"] == ["Plans", "Plans > SIM only"]
    assert plan["properties"] == {
        "Data": "30GB",
        "Contract": "12 Months",
        "Network": "5G",
        "Calls and texts": "Unlimited",
        "EU roaming": "Yes",
        "Hotspot": "Yes",
    }
    assert items["KM-PH-LUMEN-3"]["in_stock"] is False
    assert items["KM-ACC-CHG-30"]["price"] == 19.99 and "regular_price" not in items["KM-ACC-CHG-30"]


def test_generic_csv_and_jsonl_without_the_new_fields_read_as_before(tmp_path):
    path = write(tmp_path, "p.csv", "sku,name,price,colour\nA-1,Alpha,3,red\n")
    assert cli.read_items(path, "products") == [
        {
            "sku": "A-1",
            "name": "Alpha",
            "description": "",
            "price": 3,
            "categories": [],
            "properties": {"colour": "red"},
        }
    ]
    line = {
        "sku": "B",
        "name": "Beta",
        "regular_price": 20,
        "sale_price": 15,
        "stock_quantity": 2,
        "variants": [{"sku": "B-1", "options": {"Size": "M"}, "price": 15}],
    }
    path = write(tmp_path, "p.jsonl", json.dumps(line) + "\n")
    (beta,) = cli.read_items(path, "products", currency="eur")
    assert (beta["price"], beta["in_stock"], beta["currency"]) == (15, True, "eur".upper())
    assert beta["variants"] == [{"sku": "B-1", "options": {"Size": "M"}, "price": 15, "properties": {}}]


def test_the_cli_takes_a_currency_for_files_that_name_none(tmp_path, capsys):
    items = cli.read_items(SHOPIFY, "products", currency="USD")
    assert {item["currency"] for item in items} == {"USD"}
    assert {item["currency"] for item in cli.read_items(TELECOM, "products", currency="USD")} == {"GBP"}
    assert cli.main(["load", "products", str(SHOPIFY), "--data-set", "1", "--currency", "dollars"]) == 2
    assert "ISO 4217" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ through the handlers


def test_the_woocommerce_export_loads_through_the_api_and_is_stored_as_read(admin, drain, cloud):
    data_set = admin.post("/api/data_sets", {"name": "apparel shop"}).json()["id"]
    items = cli.read_items(WOO, "products", currency="EUR")
    for chunk in cli.chunked(items, 10):
        response = admin.post(f"/api/data_sets/{data_set}/products", {"products": chunk})
        assert response.status == 202, response.body
    drain()
    assert admin.get(f"/api/data_sets/{data_set}").json()["product_count"] == 25
    stored = by_sku(DataSetRepository().contents(data_set)[0])
    assert stored == as_stored(items)
    assert stored["HD-PULL-GRN-XL"]["sale_price"] == 39.9 and stored["HD-PULL-GRN-XL"]["currency"] == "EUR"
    assert stored["HD-PULL"]["options"]["Size"] == ["S", "M", "L", "XL"]
    assert stored["wc-131"]["parent_sku"] == "wc-130"


def test_the_shopify_export_loads_through_the_api_with_its_variants(admin, drain):
    data_set = admin.post("/api/data_sets", {"name": "shopify shop"}).json()["id"]
    items = cli.read_items(SHOPIFY, "products")
    assert admin.post(f"/api/data_sets/{data_set}/products", {"products": items}).status == 202
    drain()
    stored = by_sku(DataSetRepository().contents(data_set)[0])
    assert stored == as_stored(items)
    assert [v["price"] for v in stored["canvas-low-sneakers"]["variants"]] == [65, 65, 65, 55]
