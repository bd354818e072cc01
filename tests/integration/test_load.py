"""A small `make load` run as a correctness check: every question answered exactly once, in order, nothing
left in the queues. (Its timings are printed by `make load`, never asserted.)"""

from __future__ import annotations

from parley_local import load


def test_concurrent_conversations_lose_nothing_and_keep_order(local_stack):
    report = load.run(
        local_stack.url,
        local_stack.token,
        local_stack.state_path,
        conversations=6,
        questions=4,
        concurrency=6,
        timeout=120,
    )
    assert report.problems == []
    assert report.conversations == 6 and report.questions == 24
    assert report.succeeded == 24 and report.answers_ok == 24 and report.in_order == 6
