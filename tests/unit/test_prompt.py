"""parley.prompt: what a language model is sent (system text, earlier turns with their steps, question)."""

from __future__ import annotations

from parley.engine import Source, Turn
from parley.prompt import BASE_SYSTEM_PROMPT, build, estimate_tokens, turn_note


def conversation(pairs: int, chars: int = 400) -> list[Turn]:
    turns = []
    for n in range(1, pairs + 1):
        turns.append(Turn("user", f"question {n} " + "q" * chars))
        turns.append(Turn("agent", f"answer {n} " + "a" * chars))
    return turns


def test_budget_trimming_keeps_the_newest_whole_turns():
    history = conversation(6)  # each pair is about 200 estimated tokens
    pair_tokens = estimate_tokens(history[0].text) + estimate_tokens(history[1].text)
    prompt = build("And now?", history, history_budget=3 * pair_tokens + 10)
    texts = [m["text"] for m in prompt.messages]
    assert [t.split(" ", 2)[:2] for t in texts[:-1]] == [
        ["question", "4"],
        ["answer", "4"],
        ["question", "5"],
        ["answer", "5"],
        ["question", "6"],
        ["answer", "6"],
    ]
    assert [m["role"] for m in prompt.messages] == ["user", "assistant"] * 3 + ["user"]
    assert texts[-1] == "And now?"


def test_a_budget_smaller_than_one_turn_sends_no_history():
    prompt = build("And now?", conversation(2), history_budget=10)
    assert len(prompt.messages) == 1 and prompt.messages[0]["role"] == "user"


def test_failed_turns_and_unanswered_questions_are_left_out():
    history = [
        Turn("user", "Does Business Duplex include an SLA?"),
        Turn("agent", "Yes, 99.9% availability."),
        Turn("user", "What about roaming?"),
        Turn("system", "The language model did not answer in time."),
        Turn("user", "How do I cancel?"),
        Turn("agent", "Online in your account."),
        Turn("user", "A question whose answer is still pending"),
    ]
    prompt = build("Thanks, and the price?", history)
    sent = [(m["role"], m["text"]) for m in prompt.messages[:-1]]
    assert sent == [
        ("user", "Does Business Duplex include an SLA?"),
        ("assistant", "Yes, 99.9% availability."),
        ("user", "How do I cancel?"),
        ("assistant", "Online in your account."),
    ]
    everything = prompt.system + "".join(m["text"] for m in prompt.messages)
    assert "roaming" not in everything and "did not answer in time" not in everything
    assert "still pending" not in everything


def test_earlier_answers_carry_a_note_of_their_steps_and_sources_within_the_budget():
    steps = [
        {
            "tool": "search_products",
            "arguments": {"query": "hoodie", "max_price": 40},
            "result_count": 3,
            "duration_ms": 1.2,
        },
        {
            "tool": "get_product",
            "arguments": {"sku": "X-9"},
            "result_count": 0,
            "duration_ms": 0.3,
            "error": "no product has the sku 'X-9'",
        },
    ]
    sources = [
        Source("product", "HD-1", "Zip Hoodie", None),
        Source("document", "https://shop.example/returns", "Returns", "https://shop.example/returns"),
    ]
    answered = Turn("agent", "The Zip Hoodie costs 35 EUR.", sources, steps)
    note = turn_note(answered)
    assert note == (
        '[looked up search_products({"query": "hoodie", "max_price": 40}) -> 3 results; '
        'get_product({"sku": "X-9"}) -> error: no product has the sku \'X-9\'; '
        "drew on product HD-1 (Zip Hoodie); document https://shop.example/returns (Returns)]"
    )
    prompt = build("How much is it in blue?", [Turn("user", "Any hoodies under 40?"), answered])
    assert prompt.messages[1]["text"] == "The Zip Hoodie costs 35 EUR.\n\n" + note
    assert turn_note(Turn("agent", "Hello.")) == ""
    # the note counts against the history budget: a pair that fits only without it is left out
    plain = estimate_tokens("Any hoodies under 40?") + estimate_tokens(answered.text)
    assert len(build("q", [Turn("user", "Any hoodies under 40?"), answered], history_budget=plain).messages) == 1


def test_system_prompt_asks_for_tools_forbids_invented_prices_and_appends_the_data_sets_own():
    prompt = build("Hi", [], system_prompt="  Answer in German.  ")
    assert prompt.system.startswith(BASE_SYSTEM_PROMPT)
    assert "Use the tools" in prompt.system and "Never invent" in prompt.system and "availab" in prompt.system
    assert prompt.system.endswith("Answer in German.")
    assert build("Hi", [], system_prompt="  ").system == BASE_SYSTEM_PROMPT
