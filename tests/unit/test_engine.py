"""Tests for parley.engine: the offline extractive answer engine."""

from __future__ import annotations

import pytest

from parley.agent.catalog import Catalog
from parley.engine import NO_ANSWER_TEXT, Answer, AnswerEngine, ExtractiveEngine, Source, Turn
from parley.retrieval import SearchIndex
from parley_local.samples import load_sample

SLA_URL = "https://fiberup.example/legal/sla"


@pytest.fixture(scope="module")
def index():
    return SearchIndex.build(*load_sample())


@pytest.fixture(scope="module")
def engine():
    return ExtractiveEngine()


def ids(answer: Answer) -> list[str]:
    return [s.id for s in answer.sources]


def test_the_worker_engines_satisfy_the_protocol():
    from parley.agent.planner import PlannerEngine

    assert isinstance(PlannerEngine(), AnswerEngine)


def test_source_as_dict():
    src = Source("document", SLA_URL, "SLA", SLA_URL)
    assert src.as_dict() == {"type": "document", "id": SLA_URL, "title": "SLA", "url": SLA_URL}


def test_sla_question_answers_yes_and_names_product(engine, index):
    answer = engine.answer("Does FiberUP Business Duplex include an SLA?", [], index)
    assert answer.text.startswith("Yes")
    assert "FiberUP Business Duplex" in answer.text
    assert "SLA" in answer.text
    assert "99.9%" in answer.text
    assert ids(answer)[0] == "FU-BIZ-DUPLEX"
    assert SLA_URL in ids(answer)
    assert len(answer.sources) <= 3
    assert len({(s.type, s.id) for s in answer.sources}) == len(answer.sources)


@pytest.mark.parametrize(
    "question, sku",
    [
        ("Does FiberUP Business Basic include an SLA?", "FU-BIZ-BASIC"),
        ("Does Business Pro 1000 have an SLA?", "FU-BIZ-PRO"),
        ("Does Home 300 come with an SLA?", "FU-HOME-300"),
    ],
)
def test_plan_without_sla_answers_no(engine, index, question, sku):
    answer = engine.answer(question, [], index)
    assert answer.text.startswith("No")
    assert ids(answer)[0] == sku
    name = next(s.title for s in answer.sources if s.id == sku)
    assert name in answer.text


@pytest.mark.parametrize(
    "question, expected, sku",
    [
        ("Does Mobile 20 include 5G?", "Yes", "FU-MOB-20"),
        ("Does Prepaid 5 have 5G?", "No", "FU-MOB-PRE5"),
        ("Is EU roaming included in Mobile Junior?", "Yes", "FU-MOB-JUNIOR"),
        ("Does Business Basic include a static IP?", "No", "FU-BIZ-BASIC"),
    ],
)
def test_other_yes_no_questions(engine, index, question, expected, sku):
    answer = engine.answer(question, [], index)
    assert answer.text.startswith(expected)
    assert ids(answer)[0] == sku


def test_unclear_yes_no_question_gets_facts_not_a_verdict(engine, index):
    # "unlimited" (texts) and "data" (5 GB) both appear, but not together
    answer = engine.answer("Does Prepaid 5 include unlimited data?", [], index)
    assert not answer.text.startswith(("Yes", "No"))
    assert "FiberUP Prepaid 5" in answer.text
    assert "5" in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "Do you sell pet insurance?",
        "What is the weather in Paris tomorrow?",
        "Do you offer car insurance?",
        "How do I bake bread?",
    ],
)
def test_absent_topic_says_data_set_has_no_answer(engine, index, question):
    answer = engine.answer(question, [], index)
    assert answer.text == NO_ANSWER_TEXT
    assert "does not contain" in answer.text
    assert answer.sources == []


def test_empty_index_and_empty_question(engine):
    empty = SearchIndex.build([], [])
    assert engine.answer("Does FiberUP Business Duplex include an SLA?", [], empty).sources == []
    assert engine.answer("   ", [], SearchIndex.build(*load_sample())).text == NO_ANSWER_TEXT


def test_follow_up_uses_history(engine, index):
    history = [
        Turn("user", "Does FiberUP Business Duplex include an SLA?"),
        Turn("agent", "Yes, FiberUP Business Duplex includes an SLA."),
    ]
    answer = engine.answer("How much does it cost?", history, index)
    assert "FiberUP Business Duplex" in answer.text
    assert "149.00 EUR" in answer.text
    assert ids(answer)[0] == "FU-BIZ-DUPLEX"
    # without the history the same question is not about that product
    alone = engine.answer("How much does it cost?", [], index)
    assert ids(alone)[:1] != ["FU-BIZ-DUPLEX"]


def test_follow_up_yes_no_uses_history(engine, index):
    history = [Turn("user", "Tell me about Mobile Junior"), Turn("agent", "...")]
    answer = engine.answer("And does it have 5G?", history, index)
    assert answer.text.startswith("No")
    assert ids(answer)[0] == "FU-MOB-JUNIOR"


def test_new_topic_is_not_dragged_back_by_history(engine, index):
    history = [Turn("user", "Does FiberUP Business Duplex include an SLA?"), Turn("agent", "Yes.")]
    answer = engine.answer("What are the roaming charges outside the EU?", history, index)
    assert ids(answer)[0] == "https://fiberup.example/legal/roaming"


def test_roaming_document_is_quoted_with_url(engine, index):
    answer = engine.answer("What are the roaming charges outside the EU?", [], index)
    url = "https://fiberup.example/legal/roaming"
    assert ids(answer)[0] == url
    assert answer.sources[0].url == url
    assert url in answer.text and "Roaming charges" in answer.text
    assert "EUR per MB" in answer.text  # quoted figures from the document


def test_cancellation_notice_period(engine, index):
    answer = engine.answer("What is the notice period to cancel my contract?", [], index)
    url = "https://fiberup.example/legal/cancellation"
    assert ids(answer)[0] == url
    assert answer.sources[0].as_dict()["url"] == url
    assert "notice period of one month" in answer.text


def test_document_without_url(engine, index):
    answer = engine.answer("The light on my router is blinking red, what should I do?", [], index)
    assert answer.sources[0].id == "Setting up your FiberUP router"
    assert answer.sources[0].url is None
    assert "restart the router" in answer.text


def test_price_question(engine, index):
    answer = engine.answer("How much does Home 1000 cost?", [], index)
    assert answer.text.startswith("FiberUP Home 1000 costs 49.95 EUR per month")
    assert ids(answer) == ["FU-HOME-1000"]


def test_facts_question_quotes_properties(engine, index):
    # "fast" finds the speed properties through the catalog's own units (download_mbps, upload_mbps)
    hints = Catalog.build(load_sample()[0]).vocabulary.hints()
    assert engine.answer("How fast is Home 300?", [], index).text.count("Mbps") < 2  # no hints: no speeds
    answer = engine.answer("How fast is Home 300?", [], index, hints)
    assert "FiberUP Home 300" in answer.text
    assert "300" in answer.text and "100" in answer.text
    assert ids(answer) == ["FU-HOME-300"]


def test_answers_are_short(engine, index):
    for q in [
        "Does FiberUP Business Duplex include an SLA?",
        "How do I cancel?",
        "What are the roaming charges outside the EU?",
    ]:
        assert len(engine.answer(q, [], index).text) < 900


def test_engine_works_on_loaded_snapshot(engine, index):
    loaded = SearchIndex.from_bytes(index.to_bytes())
    q = "Does FiberUP Business Duplex include an SLA?"
    assert engine.answer(q, [], loaded) == engine.answer(q, [], index)
