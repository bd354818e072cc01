"""The offline planner on two catalogs of different domains (FiberUP telecom plans and a small outdoor-clothing
shop): lists, filters, superlatives, counts, comparisons, existence, attributes, sale and stock, documents,
follow-ups, refusals; the steps it records; and one conversation through the API, SQS and the worker."""

from __future__ import annotations

import re

import pytest

from parley.agent import knowledge
from parley.agent.planner import PlannerEngine
from parley.dal.conversations import ConversationRepository
from parley.engine import NO_ANSWER_TEXT, Turn
from parley_local.samples import load_sample
from tests.unit.agent_shop import DOCUMENTS, PRODUCTS


@pytest.fixture(scope="module")
def shop():
    return knowledge.unpack(knowledge.pack(knowledge.build(PRODUCTS, DOCUMENTS)))


@pytest.fixture(scope="module")
def fiberup():
    products, documents = load_sample()
    return knowledge.build(products, [{**d, "key": d.get("url") or d["title"]} for d in documents])


def ask(k, *questions):
    """Ask in one conversation; the last answer."""
    engine, history, answer = PlannerEngine(), [], None
    for question in questions:
        answer = engine.answer(question, history, k)
        history += [Turn("user", question), Turn("agent", answer.text, answer.sources)]
    return answer


def skus(answer):
    return [s.id for s in answer.sources if s.type == "product"]


# -- lists and filters --------------------------------------------------------------------------------------------


def test_list_names_every_match_and_the_total(shop, fiberup):
    answer = ask(shop, "Which jackets do you sell?")
    assert answer.text.startswith("2 products in Jackets")
    assert "Storm Rain Jacket" in answer.text and "Summit Down Jacket" in answer.text
    assert [s.tool for s in answer.steps] == ["search_products"]
    answer = ask(fiberup, "Which plans include an SLA?")
    assert answer.text.startswith("1 product matches: FiberUP Business Duplex")
    assert answer.steps[0].arguments["filters"] == [{"attribute": "sla", "op": "eq", "value": True}]


def test_a_long_list_stops_at_the_limit_and_says_how_many_more():
    engine = PlannerEngine(list_limit=2)
    products, documents = load_sample()
    answer = engine.answer("Which mobile plans do you have?", [], knowledge.build(products, documents))
    assert answer.text.startswith("7 products in mobile") and answer.text.endswith("and 5 more.")


@pytest.mark.parametrize(
    "question, names, absent",
    [
        ("Which mobile plans cost under 20?", ["Prepaid 5", "Data SIM 50", "Mobile Junior"], ["Mobile Unlimited"]),
        ("Which plans have at least 20 GB?", ["Prepaid 20", "Mobile 20", "Data SIM 50"], ["Prepaid 5"]),
        ("Which plans have no SLA?", ["Home 300", "Business Pro 1000"], ["Duplex"]),
    ],
)
def test_filters_on_fiberup(fiberup, question, names, absent):
    text = ask(fiberup, question).text
    assert all(n in text for n in names) and not any(a in text for a in absent), text


def test_filters_on_the_shop(shop):
    text = ask(shop, "Anything in blue under 100?").text
    assert text.startswith("3 products") and "Summit Down Jacket" not in text
    text = ask(shop, "Which jackets are waterproof?").text
    assert "Storm Rain Jacket" in text and "Summit" not in text


# -- superlatives, counts, comparisons ---------------------------------------------------------------------------


def test_superlatives_on_price_and_on_attributes_found_by_their_units(shop, fiberup):
    assert "FiberUP Mobile Junior" in ask(fiberup, "What is the cheapest mobile plan?").text
    fastest = ask(fiberup, "Which is the fastest home plan?")
    assert "FiberUP Home 2000" in fastest.text and "2000 mbps" in fastest.text
    assert fastest.steps[0].arguments["sort"] == "download_mbps"
    assert "36 months" in ask(fiberup, "Which plan has the longest contract?").text
    heaviest = ask(shop, "What is the heaviest item?")
    assert heaviest.text.startswith("Trail Hiking Boots") and "2.4 lbs" in heaviest.text
    assert ask(shop, "What is the most expensive jacket?").text.count("Summit Down Jacket") == 1


def test_counts(shop, fiberup):
    assert re.search(r"\b7\b", ask(fiberup, "How many mobile plans do you have?").text)
    text = ask(shop, "How many products are in stock?").text
    assert text.startswith("There are 4 products") and "Summit" not in text


def test_comparisons_show_prices_and_differing_properties(shop, fiberup):
    answer = ask(shop, "Compare the Storm Rain Jacket and the Summit Down Jacket")
    assert (
        "0.9 lbs" in answer.text and "1.3 lbs" in answer.text and "Storm Rain Jacket is the cheaper one" in answer.text
    )
    assert [s.tool for s in answer.steps] == ["get_product", "get_product"]
    answer = ask(fiberup, "What's the difference between Mobile 20 and Prepaid 20?")
    assert skus(answer) == ["FU-MOB-20", "FU-MOB-PRE20"] and "24.95" in answer.text and "19.95" in answer.text


# -- existence, attributes, sale and stock -------------------------------------------------------------------------


def test_existence_yes_with_the_items_and_no(shop, fiberup):
    assert ask(shop, "Do you sell boots?").text.startswith("Yes, 1 product in Boots: Trail Hiking Boots")
    assert ask(shop, "Do you sell sandals?").text.startswith("No")
    assert ask(fiberup, "Do you have a satellite internet plan?").text.startswith("No")
    assert ask(fiberup, "Do you sell TV packages?").text.startswith("Yes, 2 products")


def test_attribute_questions(shop, fiberup):
    assert (
        ask(shop, "What colors does the Storm Rain Jacket come in?").text
        == "Storm Rain Jacket comes in Blue and Red (color)."
    )
    assert "42 and 44" in ask(shop, "What sizes do the Trail Hiking Boots come in?").text
    assert "36 Months" in ask(shop, "How long is the warranty on the Summit Down Jacket?").text
    assert "24 months" in ask(fiberup, "How long is the contract for Mobile 20?").text
    assert "69" in ask(fiberup, "How much does the Professional Installation cost?").text


def test_sale_and_stock(shop):
    assert ask(shop, "What is on sale?").text.startswith("1 product matches: Storm Rain Jacket")
    assert ask(shop, "Is the Summit Down Jacket in stock?").text == "No, Summit Down Jacket is out of stock."
    assert ask(shop, "Is the Storm Rain Jacket on sale?").text.startswith("Yes, Storm Rain Jacket is on sale")


def test_what_do_you_sell(shop, fiberup):
    assert ask(shop, "What do you sell?").text.startswith("5 products: Storm Rain Jacket")
    text = ask(fiberup, "What do you sell?").text
    assert text.startswith("27 products, in these categories") and "mobile (7)" in text


def test_variants_named_by_their_options(shop):
    assert (
        ask(shop, "How much are the Trail Hiking Boots in size 44?").text == "Trail Hiking Boots (44) costs 150.00 EUR."
    )
    assert (
        ask(shop, "Is the Storm Rain Jacket in red size L in stock?").text
        == "No, Storm Rain Jacket (Red, L) is out of stock."
    )
    assert ask(shop, "Does the Storm Rain Jacket come in red?").text.startswith("Yes, Storm Rain Jacket comes in Red")
    assert ask(shop, "Do you sell the Summit Down Jacket?").text.startswith("Yes: Summit Down Jacket")


def test_a_hyphenated_word_finds_the_shop_s_one_word_spelling():
    items = [
        {"sku": f"T{n}", "name": name, "categories": ["Tshirts"], "price": 10 + n}
        for n, name in enumerate(["Crew Tee", "Pocket Tee"])
    ] + [{"sku": "S1", "name": "Oxford Shirt", "categories": ["Shirts"], "price": 40}]
    assert ask(knowledge.build(items, []), "How many t-shirts do you have?").text.startswith(
        "There are 2 products in Tshirts"
    )


BOOKS = [
    {
        "sku": f"B{n}",
        "name": name,
        "categories": ["Books > Fiction"],
        "price": price,
        "properties": {"Author": author, "Pages": pages, "Publication Year": year},
    }
    for n, (name, author, pages, year, price) in enumerate(
        [
            ("Harbour Lights", "Ada Brook", 320, 2018, 9.99),
            ("The Long Road", "Ben Carr", 512, 2021, 12.5),
            ("Small Hours", "Ada Brook", 190, 2023, 7.0),
        ]
    )
]


def test_a_third_domain_years_pages_and_people():
    k = knowledge.build(BOOKS, [])
    assert ask(k, "Which books were published in 2021 or later?").text.startswith("2 products in Books")
    assert "Harbour Lights" not in ask(k, "Which books were published in 2021 or later?").text
    assert ask(k, "Which books have more than 300 pages?").text.count("pages") == 2
    assert ask(k, "What is the longest book?").text.startswith("The Long Road has the longest pages")
    assert ask(k, "What is your newest book?").text.startswith("Small Hours has the newest publication year")
    assert ask(k, "Who wrote Small Hours?").text == "Small Hours: author Ada Brook."
    assert ask(k, "What is the most expensive book?", "Who is the author?").text == "The Long Road: author Ben Carr."


def test_unlimited_is_more_than_any_number(fiberup):
    assert ask(fiberup, "Which mobile plan has the most data?").text.startswith("FiberUP Mobile Unlimited")


def test_option_follow_ups_and_stock_by_option(shop):
    assert ask(shop, "Does the Storm Rain Jacket come in blue?", "And in green?").text.startswith(
        "No, Storm Rain Jacket comes in Blue and Red"
    )
    assert (
        ask(shop, "Which sizes of the Trail Hiking Boots are in stock?").text
        == "Trail Hiking Boots is in stock in size 42 and 44."
    )


# -- follow-ups ---------------------------------------------------------------------------------------------------


def test_follow_ups_resolve_through_earlier_sources(shop, fiberup):
    assert (
        ask(shop, "Tell me about the Grid Fleece Pullover", "How much does it cost?").text
        == "Grid Fleece Pullover costs 55.00 EUR."
    )
    lighter = ask(shop, "Which jackets do you sell?", "Which one is lighter?")
    assert lighter.text.startswith("Storm Rain Jacket has the lowest weight of them")
    assert skus(ask(shop, "Which jackets do you sell?", "Which one is lighter?", "And the down version?")) == [
        "JK-DOWN"
    ]
    cheaper = ask(fiberup, "Which TV packages do you have?", "Does the cheaper one include sports?")
    assert "FiberUP TV Basic" in cheaper.text and "No" in cheaper.text


# -- documents and refusals ---------------------------------------------------------------------------------------


def test_policy_questions_are_answered_from_documents(shop, fiberup):
    answer = ask(shop, "Can I get a refund on sale items?")
    assert answer.text.startswith("No. According to Returns") and "not refunded" in answer.text
    assert answer.sources[0].id == "https://outfitters.example/returns" and answer.steps[0].tool == "search_documents"
    answer = ask(fiberup, "What is the notice period to cancel my contract?")
    assert "notice period of one month" in answer.text


def test_policy_yes_no_questions_lead_with_the_verdict_of_the_matching_sentence(shop, fiberup):
    assert ask(shop, "Can I return unworn items?").text.startswith("Yes. According to Returns")
    # a denial just before the question's word ("not refunded") or before a permission ("is not allowed")
    assert ask(shop, "Can I get a refund on sale items?").text.startswith("No. According to Returns")
    answer = ask(fiberup, "Can I use a SIM card in a permanently installed router?")
    assert answer.text.startswith("No. According to Fair use policy") and "not allowed" in answer.text
    # "free?" answered by a sentence that names a charge
    answer = ask(fiberup, "Is a paper invoice free?")
    assert answer.text.startswith("No. According to Billing and payments FAQ") and "1.50 EUR" in answer.text
    assert ask(fiberup, "Can I pay by bank transfer?").text.startswith("Yes. According to Billing")
    # a question that is not a yes/no gets the passage alone
    assert ask(fiberup, "How much is the late payment fee?").text.startswith("According to Billing")


def test_a_passage_that_is_not_about_the_named_product_is_not_quoted():
    documents = [{"title": "Shipping", "key": "shipping", "content": "We do not ship to other countries yet."}]
    for items, question in (
        (PRODUCTS, "In which country is the Storm Rain Jacket made?"),
        (BOOKS, "In which country is Small Hours set?"),
    ):
        answer = ask(knowledge.build(items, documents), question)
        assert answer.text.startswith("The data set does not say") and not answer.sources


def test_questions_about_a_product_in_words_its_data_never_uses_say_so(shop, fiberup):
    assert (
        ask(shop, "Is the Storm Rain Jacket made in Portugal?").text
        == 'The data set does not say: nothing it holds on Storm Rain Jacket answers "made portugal".'
    )
    assert ask(fiberup, "Will FiberUP Home 300 get a sequel?").text.startswith("The data set does not say")
    assert ask(shop, "Where are the Trail Hiking Boots made?").text.startswith("The data set does not say")
    # words the product's own text holds are still answered from it, and a request for its summary gets it
    assert "taped seams" in ask(shop, "Does the Storm Rain Jacket have taped seams?").text
    assert ask(shop, "Describe the Storm Rain Jacket").text.startswith("Storm Rain Jacket: A waterproof shell")
    assert ask(fiberup, "Give me details on FiberUP TV Plus").text.startswith("FiberUP TV Plus: Extended TV")


def test_when_back_in_stock_asks_for_a_date_the_data_does_not_hold(shop):
    assert (
        ask(shop, "When will the Summit Down Jacket be back in stock?").text
        == "The data set does not say when Summit Down Jacket will be back in stock; it is out of stock now."
    )
    books = [
        {**BOOKS[0], "in_stock": False},
        {**BOOKS[1], "in_stock": False, "properties": {**BOOKS[1]["properties"], "Expected back": "12 May"}},
    ]
    k = knowledge.build(books, [])
    assert ask(k, "When is Harbour Lights back in stock?").text.startswith("The data set does not say when Harbour")
    assert ask(k, "When will The Long Road be available again?").text == "The Long Road: expected back 12 May."


def test_can_i_order_it_now_asks_for_its_stock(shop):
    assert (
        ask(shop, "Tell me about the Summit Down Jacket", "Can I order that one now?").text
        == "No, Summit Down Jacket is out of stock."
    )
    assert ask(shop, "Tell me about the Storm Rain Jacket", "Can I buy it today?").text.startswith(
        "Yes, Storm Rain Jacket is in stock"
    )
    books = [{**b, "in_stock": n != 1} for n, b in enumerate(BOOKS)]
    assert (
        ask(knowledge.build(books, []), "Tell me about The Long Road", "Can I order it now?").text
        == "No, The Long Road is out of stock."
    )


def test_that_one_names_no_product_whose_name_holds_one():
    """ "Is there an ebook of that one?" is about the earlier product, not a product called "One ..."."""
    for items, first, earlier in (
        (BOOKS + [{"sku": "B9", "name": "One Pan Dinners", "price": 15.0}], "Tell me about Small Hours", "Small Hours"),
        (
            PRODUCTS + [{"sku": "TN-1", "name": "One Man Tent", "price": 99.0}],
            "Tell me about the Grid Fleece Pullover",
            "Grid Fleece Pullover",
        ),
    ):
        answer = ask(knowledge.build(items, []), first, "How much does that one cost?")
        assert answer.text.startswith(f"{earlier} costs"), answer.text


def test_sell_a_thing_for_a_product_searches_for_that_kind_naming_it(fiberup):
    phones = [
        {
            "sku": "PH-1",
            "name": "Lumen 3",
            "description": "A 6.1 inch phone.",
            "price": 299,
            "properties": {"Screen protector": "Yes"},
        },
        {"sku": "PH-2", "name": "Orbit A5", "description": "A 6.5 inch phone.", "price": 349},
        {
            "sku": "AC-1",
            "name": "Fast Charger 30W",
            "description": "A charger for the Lumen 3 and the Orbit A5.",
            "price": 25,
        },
        {"sku": "AC-2", "name": "Lumen 3 Clear Case", "description": "A thin clear case.", "price": 12},
    ]
    k = knowledge.build(phones, [])
    assert ask(k, "Do you sell a case for the Lumen 3?").text == "Yes, Lumen 3 Clear Case (12.00)."
    assert ask(k, "Do you sell a charger for the Orbit A5?").text == "Yes, Fast Charger 30W (25.00)."
    answer = ask(k, "Do you sell a case for the Orbit A5?")
    assert answer.text == "No, the catalog has no case for Orbit A5." and not answer.sources
    # the kind is the product's own attribute: its data answers
    assert ask(k, "Do you sell a screen protector for the Lumen 3?").text.startswith("Yes, Lumen 3")
    assert ask(fiberup, "Do you have a router for FiberUP Home 300?").text.startswith("Yes, FiberUP Home 300")
    shop = knowledge.build(PRODUCTS + [{"sku": "LC-1", "name": "Trail Hiking Boots Laces", "price": 6.0}], [])
    assert ask(shop, "Do you have laces for the Trail Hiking Boots?").text == "Yes, Trail Hiking Boots Laces (6.00)."
    assert (
        ask(shop, "Do you have a hood for the Grid Fleece Pullover?").text
        == "No, the catalog has no hood for Grid Fleece Pullover."
    )


def test_offer_a_service_nothing_mentions_is_not_a_no(shop, fiberup):
    """A catalog lists what a shop sells, not its services: "sell X" nowhere in the data is No, "offer X" is
    unknown."""
    for k in (shop, fiberup):
        assert (
            ask(k, "Do you offer gift wrapping?").text
            == "The data set does not say whether gift wrapping is offered: no product or document mentions it."
        )
        assert ask(k, "Do you sell gift wrapping?").text == "No, the catalog has no gift wrapping."


def test_a_question_on_a_feature_of_a_product_gets_the_feature_s_terms_from_its_document():
    plans = [
        {
            "sku": "P1",
            "name": "SIM Unlimited",
            "description": "Unlimited data.",
            "price": 22,
            "properties": {"Data": "Unlimited", "EU roaming": "Yes"},
        },
        {"sku": "P2", "name": "SIM 10", "price": 10, "properties": {"Data": "10 GB", "EU roaming": "No"}},
    ]
    documents = [
        {
            "title": "Roaming",
            "key": "roaming",
            "content": "On unlimited plans, data used in the EU is capped "
            "at 20GB a month. EU roaming uses your allowance at home prices.",
        },
        {"title": "Billing", "key": "billing", "content": "Invoices are sent monthly."},
    ]
    answer = ask(knowledge.build(plans, documents), "How much data can I use in the EU on SIM Unlimited?")
    assert "20GB" in answer.text and [s.id for s in answer.sources] == ["P1", "roaming"]
    documents = [
        {"title": "Rainwear", "key": "rainwear", "content": "Our waterproof jackets hold a 10,000 mm column of water."},
        *DOCUMENTS,
    ]
    answer = ask(knowledge.build(PRODUCTS, documents), "How waterproof is the Storm Rain Jacket?")
    assert "10,000 mm" in answer.text and [s.id for s in answer.sources] == ["JK-RAIN", "rainwear"]
    # a document that does not name the feature is not added
    answer = ask(knowledge.build(plans, documents[1:]), "How much data can I use in the EU on SIM Unlimited?")
    assert [s.id for s in answer.sources] == ["P1"]


def test_questions_the_data_cannot_answer_say_so(shop, fiberup):
    for k in (shop, fiberup):
        assert ask(k, "What is the name of your CEO?").text == NO_ANSWER_TEXT
        assert ask(k, "How do I bake bread?").text == NO_ANSWER_TEXT


def test_fiberup_fact_answers_still_come_from_the_extractive_engine(fiberup):
    answer = ask(fiberup, "Does FiberUP Business Duplex include an SLA?")
    assert answer.text.startswith("Yes") and "99.9%" in answer.text


# -- steps and the listener ---------------------------------------------------------------------------------------


class Recorder:
    def __init__(self):
        self.steps, self.deltas = [], []

    def step(self, step):
        self.steps.append(step)

    def delta(self, text):
        self.deltas.append(text)


def test_steps_are_recorded_and_streamed(shop):
    listener = Recorder()
    answer = PlannerEngine().answer("Compare the Storm Rain Jacket and the Summit Down Jacket", [], shop, listener)
    assert listener.steps == answer.steps and len(answer.steps) == 2
    assert listener.deltas == [answer.text]
    shown = answer.steps[0].as_dict()
    assert shown["tool"] == "get_product" and shown["arguments"] == {"sku": "JK-RAIN"} and shown["result_count"] == 1


# -- through the API, the queue and the worker --------------------------------------------------------------------


def test_a_conversation_through_the_worker_stores_the_answer_and_its_steps(admin, drain):
    created = admin.post("/api/data_sets", {"name": "outfitters"}).json()["id"]
    plain = [
        {k: v for k, v in p.items() if k in ("sku", "name", "description", "properties", "categories", "price")}
        for p in PRODUCTS
    ]  # the fields every deployed API takes
    assert admin.post(f"/api/data_sets/{created}/products", {"products": plain}).status == 202
    drain()
    conversation = admin.post("/api/conversations", {"data_set_id": created}).json()["id"]
    for question in ("What is the heaviest item?", "Is it waterproof?"):
        assert admin.post(f"/api/conversations/{conversation}", {"question_message": question}).status == 202
        drain()
    history = admin.get(f"/api/conversations/{conversation}").json()["history"]
    first, second = history[1], history[3]
    assert first["text"].startswith("Trail Hiking Boots has the heaviest weight") and "2.4 lbs" in first["text"]
    assert first["sources"][0]["id"] == "BT-TRAIL"
    assert second["text"].startswith("Yes, Trail Hiking Boots")
    # the stored messages keep the tool calls that produced them
    _, stored = ConversationRepository().read(conversation)
    steps = [m["steps"] for m in stored if m["role"] == "agent"]
    assert steps[0][0]["tool"] == "search_products" and steps[0][0]["arguments"]["sort"] == "Weight"
    assert steps[1][0]["tool"] == "get_product" and steps[1][0]["arguments"] == {"sku": "BT-TRAIL"}


def test_api_handlers_do_not_load_the_answering_package():
    import subprocess
    import sys

    probe = (
        "import sys; import parley.logic.data_sets, parley.logic.conversations, parley.logic.tasks; "
        "print([m for m in sys.modules if m.startswith(('parley.agent', 'parley.retrieval'))])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
