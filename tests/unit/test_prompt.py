"""parley.prompt: what a language model is sent (system text, earlier turns, labelled context, question)."""

from __future__ import annotations

import pytest

from parley.engine import Turn
from parley.prompt import BASE_SYSTEM_PROMPT, build, estimate_tokens, label
from parley.providers import LanguageModelEngine
from parley.retrieval import Record, SearchIndex
from parley.sample import load_sample


@pytest.fixture(scope="module")
def index():
    return SearchIndex.build(*load_sample())


def conversation(pairs: int, chars: int = 400) -> list[Turn]:
    turns = []
    for n in range(1, pairs + 1):
        turns.append(Turn("user", f"question {n} " + "q" * chars))
        turns.append(Turn("agent", f"answer {n} " + "a" * chars))
    return turns


class _NoCall:
    model = "none"

    def complete(self, prompt, deadline):  # the prompt tests never reach a provider
        raise AssertionError("not called")


def test_budget_trimming_keeps_the_newest_whole_turns():
    history = conversation(6)                       # each pair is about 200 estimated tokens
    pair_tokens = estimate_tokens(history[0].text) + estimate_tokens(history[1].text)
    prompt = build("And now?", history, [], history_budget=3 * pair_tokens + 10)
    texts = [m["text"] for m in prompt.messages]
    assert [t.split(" ", 2)[:2] for t in texts[:-1]] == [
        ["question", "4"], ["answer", "4"], ["question", "5"], ["answer", "5"], ["question", "6"], ["answer", "6"]]
    assert [m["role"] for m in prompt.messages] == ["user", "assistant"] * 3 + ["user"]
    assert texts[-1].endswith("Question: And now?")


def test_a_budget_smaller_than_one_turn_sends_no_history():
    prompt = build("And now?", conversation(2), [], history_budget=10)
    assert len(prompt.messages) == 1 and prompt.messages[0]["role"] == "user"


def test_failed_turns_and_unanswered_questions_are_left_out():
    history = [
        Turn("user", "Does Business Duplex include an SLA?"), Turn("agent", "Yes, 99.9% availability."),
        Turn("user", "What about roaming?"), Turn("system", "The language model did not answer in time."),
        Turn("user", "How do I cancel?"), Turn("agent", "Online in your account."),
        Turn("user", "A question whose answer is still pending"),
    ]
    prompt = build("Thanks, and the price?", history, [])
    sent = [(m["role"], m["text"]) for m in prompt.messages[:-1]]
    assert sent == [("user", "Does Business Duplex include an SLA?"), ("assistant", "Yes, 99.9% availability."),
                    ("user", "How do I cancel?"), ("assistant", "Online in your account.")]
    everything = prompt.system + "".join(m["text"] for m in prompt.messages)
    assert "roaming" not in everything and "did not answer in time" not in everything
    assert "still pending" not in everything


def test_every_retrieved_item_appears_with_its_label_and_becomes_a_source(index):
    engine = LanguageModelEngine(_NoCall())
    question = "Does FiberUP Business Duplex include an SLA?"
    hits = engine.retrieve(question, [], index)
    assert {r.type for r in hits} == {"product", "document"}
    prompt = engine.prompt(question, [], index)
    final = prompt.messages[-1]["text"]
    for record in hits:
        assert f"{label(record)}\n" in final
    assert "[product FU-BIZ-DUPLEX] FiberUP Business Duplex" in final
    assert "[document https://fiberup.example/legal/sla] Service Level Agreement for business fiber" in final
    assert final.index("Context:") < final.index("Question: " + question)
    expected = []
    for record in hits:
        if (record.type, record.id) not in expected:
            expected.append((record.type, record.id))
    assert [(s.type, s.id) for s in prompt.sources] == expected
    assert prompt.sources[0].as_dict() == {"type": "product", "id": "FU-BIZ-DUPLEX",
                                           "title": "FiberUP Business Duplex", "url": None}


def test_follow_ups_also_search_with_the_previous_question(index):
    engine = LanguageModelEngine(_NoCall())
    history = [Turn("user", "Tell me about FiberUP Business Duplex"), Turn("agent", "It is a business plan.")]
    alone = [r.id for r in engine.retrieve("How much does it cost?", [], index)]
    follow_up = [r.id for r in engine.retrieve("How much does it cost?", history, index)]
    assert "FU-BIZ-DUPLEX" in follow_up and follow_up != alone


def test_system_prompt_grounds_the_model_and_appends_the_data_sets_own():
    prompt = build("Hi", [], [], system_prompt="  Answer in German.  ")
    assert prompt.system.startswith(BASE_SYSTEM_PROMPT)
    assert "only from the context" in prompt.system and "does not" in prompt.system
    assert prompt.system.endswith("Answer in German.")
    assert build("Hi", [], [], system_prompt="  ").system == BASE_SYSTEM_PROMPT


def test_context_stops_at_its_budget_but_always_holds_the_best_item():
    records = [Record("document", f"doc-{n}", f"Doc {n}", None, f"passage {n} " + "word " * 500) for n in range(5)]
    prompt = build("q", [], records, context_budget=1_400)
    final = prompt.messages[-1]["text"]
    assert "[document doc-0] Doc 0" in final and "[document doc-1] Doc 1" in final
    assert "doc-2" not in final
    assert [s.id for s in prompt.sources] == ["doc-0", "doc-1"]
    alone = build("q", [], records[:1], context_budget=10)
    assert "[document doc-0] Doc 0" in alone.messages[-1]["text"]


def test_nothing_retrieved_is_said_rather_than_left_blank():
    prompt = build("What is the airspeed of a swallow?", [], [])
    assert "nothing in this data set matches" in prompt.messages[-1]["text"] and prompt.sources == []
