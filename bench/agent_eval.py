"""8. Answer accuracy by question type: every case of the question suites (tests/fixtures/suites/<catalog>.jsonl)
asked through the real path (create a conversation, send each turn, the worker answers from the SQS event, read
the history) on an emulated stack holding the catalog as a data set, and checked against the case's criteria.
The suite format and the criteria are documented in docs/agent-eval.md.

    .venv/bin/python -m bench.agent_eval                      # every catalog: accuracy per catalog and type, failures
    .venv/bin/python -m bench.agent_eval --catalog apparel    # one catalog
    .venv/bin/python -m bench.agent_eval --json               # machine output on stdout
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import ROOT

SUITES = ROOT / "tests" / "fixtures" / "suites"
SAMPLES = ROOT / "samples"
FIBERUP = ROOT / "samples" / "fiberup"
TYPES = (
    "list",
    "filter",
    "superlative",
    "count",
    "compare",
    "attribute",
    "existence",
    "sale_stock",
    "follow_up",
    "fact",
    "document",
    "no_answer",
)
CRITERIA = {"must_mention", "must_not_mention", "any_of", "yes_no", "count", "sources_include", "no_answer"}

# What an answer says when the data set cannot answer (the harness's reading of a refusal, not the engine's).
REFUSALS = (
    "does not contain",
    "doesn't contain",
    "do not contain",
    "no information",
    "not in the data",
    "cannot answer",
    "can't answer",
    "cannot find",
    "can't find",
    "could not find",
    "couldn't find",
    "don't have information",
    "do not have information",
    "does not say",
    "doesn't say",
    "not listed",
    "not mentioned",
    "no answer",
    "unable to",
    "don't know",
    "do not know",
    "no data",
    "not specified",
    "not available in the data",
    "no details",
)
NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
}
_NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?(?![\d])")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass(frozen=True)
class Catalog:
    """Where a suite's catalog comes from: a product file in any format `parley load products` reads (a shop's
    WooCommerce or Shopify export, a generic CSV, JSON Lines), read by the same code (`parley_client.cli.read_items`),
    and optionally a documents file. `currency` is what `--currency` would give an export that names none."""

    products: Path
    documents: Path | None = None
    format: str = "auto"
    currency: str | None = None


CATALOGS = {
    "fiberup": Catalog(FIBERUP / "products.jsonl", FIBERUP / "documents.jsonl"),
    "apparel": Catalog(SAMPLES / "apparel" / "products.jsonl", SAMPLES / "apparel" / "documents.jsonl"),
    "hardware": Catalog(SAMPLES / "hardware" / "products.jsonl", SAMPLES / "hardware" / "documents.jsonl"),
    "books": Catalog(SAMPLES / "books" / "products.jsonl", SAMPLES / "books" / "documents.jsonl"),
    # Catalogs as shops export them: loaded exactly as the CLI loads the files.
    "woocommerce": Catalog(SAMPLES / "apparel" / "woocommerce-export.csv", format="woocommerce", currency="USD"),
    "shopify": Catalog(SAMPLES / "apparel" / "shopify-export.csv", format="shopify", currency="EUR"),
    "telecom": Catalog(SAMPLES / "telecom" / "products.csv", SAMPLES / "telecom" / "documents.jsonl", format="csv"),
}


def catalogs() -> list[str]:
    """The suites; each must name its catalog in CATALOGS."""
    names = sorted(p.stem for p in SUITES.glob("*.jsonl"))
    unknown = [n for n in names if n not in CATALOGS]
    if unknown:
        raise ValueError(f"suites without a catalog in bench.agent_eval.CATALOGS: {', '.join(unknown)}")
    return names


def catalog_files(name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The products and documents of a catalog as `parley load` sends them to the load API."""
    from parley_client.cli import read_items

    catalog = CATALOGS[name]
    products = read_items(catalog.products, "products", catalog.format, catalog.currency)
    documents = read_items(catalog.documents, "documents") if catalog.documents else []
    return products, documents


def load_suite(name: str) -> list[dict[str, Any]]:
    """The cases of a suite, checked for shape so that a typo in a suite fails loudly instead of passing."""
    cases = read_jsonl(SUITES / f"{name}.jsonl")
    seen = set()
    for case in cases:
        where = f"{name} case {case.get('id')!r}"
        if case.get("type") not in TYPES:
            raise ValueError(f"{where}: type must be one of {', '.join(TYPES)}")
        if case["id"] in seen:
            raise ValueError(f"{where}: duplicate id")
        seen.add(case["id"])
        expect = case.get("expect") or {}
        unknown = set(expect) - CRITERIA
        if not expect or unknown:
            raise ValueError(f"{where}: expect needs criteria from {sorted(CRITERIA)}; unknown: {sorted(unknown)}")
        if not isinstance(case.get("question"), str) or not isinstance(case.get("turns", []), list):
            raise ValueError(f"{where}: question must be a string and turns a list of strings")
    return cases


# --- criteria ---------------------------------------------------------------------------------------------------


def _canonical_number(token: str) -> str:
    value = float(token.replace(",", ""))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def normalise(text: str) -> str:
    """Lower case, one kind of dash and quote, `_` as a space, numbers in one form (54.00 -> 54, 1,000 -> 1000)
    and set apart from a following unit (1.5lbs -> 1.5 lbs), whitespace collapsed."""
    text = text.lower().replace("\u2019", "'").replace("_", " ")
    text = re.sub(r"[\u2010-\u2015]", "-", text)
    text = _NUMBER.sub(lambda m: _canonical_number(m.group()), text)
    text = re.sub(r"(\d)([a-z%\"])", r"\1 \2", text)
    return re.sub(r"\s+", " ", text).strip()


def numbers_in(text: str) -> set[float]:
    found = {float(m.group().replace(",", "")) for m in _NUMBER.finditer(text)}
    words = re.findall(r"[a-z]+", text.lower())
    return found | {float(NUMBER_WORDS[w]) for w in words if w in NUMBER_WORDS}


def mentions(text: str, term: str) -> bool:
    """`term` appears in `text` as whole words (after normalising both); a bare number matches any equal number."""
    if re.fullmatch(r"\d+(?:,\d{3})*(?:\.\d+)?", term.strip()):
        return float(term.replace(",", "")) in numbers_in(text)
    needle = normalise(term)
    pattern = r"(?<![\w.])" + re.escape(needle).replace(r"\ ", r"\s?") + r"(?!\w)"
    return re.search(pattern, normalise(text)) is not None


def leading_verdict(text: str) -> str | None:
    """ "yes" or "no" when one of the answer's first two sentences starts with it (so an answer may first say which
    item a follow-up points at: "TV Basic is the cheaper one. No, it has no sports channels.")."""
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip().lower())[:2]:
        first = re.match(r"\W*([a-z]+)", sentence)
        if first and first.group(1) in ("yes", "no"):
            return first.group(1)
    return None


def source_names(sources: Iterable[dict[str, Any]]) -> set[str]:
    names = set()
    for source in sources:
        for key in ("id", "title", "url"):
            if source.get(key):
                names.add(str(source[key]).lower())
    return names


def check(expect: dict[str, Any], text: str, sources: list[dict[str, Any]]) -> list[str]:
    """The criteria an answer misses (empty when it passes)."""
    missed = []
    absent = [t for t in expect.get("must_mention", []) if not mentions(text, t)]
    if absent:
        missed.append(f"does not mention {absent}")
    present = [t for t in expect.get("must_not_mention", []) if mentions(text, t)]
    if present:
        missed.append(f"mentions {present}")
    for group in expect.get("any_of", []):
        if not any(mentions(text, t) for t in group):
            missed.append(f"mentions none of {group}")
    if "yes_no" in expect and leading_verdict(text) != expect["yes_no"]:
        missed.append(f"does not lead with {expect['yes_no']!r}")
    if "count" in expect and float(expect["count"]) not in numbers_in(text):
        missed.append(f"does not give the count {expect['count']}")
    wanted = [s for s in expect.get("sources_include", []) if s.lower() not in source_names(sources)]
    if wanted:
        missed.append(f"sources lack {wanted}")
    if expect.get("no_answer") and not any(r in normalise(text) for r in REFUSALS):
        missed.append("does not say that the data set cannot answer")
    return missed


# --- the real path ----------------------------------------------------------------------------------------------


class Shop:
    """A catalog loaded as a data set of its own through the load API, asked through the conversation API."""

    def __init__(self, api: Any, local: Any, name: str):
        from parley_local.emulated import drain

        self.api, self.local, self.name = api, local, name
        self._drain = drain
        products, documents = catalog_files(name)
        created = api.post("/api/data_sets", {"name": f"{name} suite"})
        assert created.status == 201, created.json()
        self.data_set_id = created.json()["id"]
        tasks = [self._accepted(api.post(f"/api/data_sets/{self.data_set_id}/products", {"products": products}))]
        if documents:
            tasks.append(
                self._accepted(api.post(f"/api/data_sets/{self.data_set_id}/documents", {"documents": documents}))
            )
        drain(local)
        for task in tasks:
            state = api.get(f"/api/task_status/{task}").json()
            if state["state"] != "SUCCESS":
                raise RuntimeError(f"loading {name} failed: {state}")

    @staticmethod
    def _accepted(response: Any) -> str:
        if response.status != 202:
            raise RuntimeError(f"load refused ({response.status}): {response.json()}")
        return response.json()["task_id"]

    def ask(self, case: dict[str, Any]) -> dict[str, Any]:
        """Every turn of the case then its question in one new conversation; returns the last answer message
        (with the worker's failure as its text when the task did not succeed)."""
        conversation = self.api.post("/api/conversations", {"data_set_id": self.data_set_id}).json()["id"]
        path = f"/api/conversations/{conversation}"
        for question in [*case.get("turns", []), case["question"]]:
            sent = self.api.post(path, {"question_message": question})
            if sent.status != 202:
                return {"text": f"(send refused {sent.status}: {sent.json()})", "sources": []}
            self._drain(self.local)
            state = self.api.get(f"/api/task_status/{sent.json()['task_id']}").json()
            if state["state"] == "PENDING":  # the worker raised: the job waits in the queue for redelivery
                return {"text": "(no answer: the worker failed on this question; see its log)", "sources": []}
            if state["state"] != "SUCCESS":
                return {"text": f"(task {state['state']}: {state.get('result') or state})", "sources": []}
        history = self.api.get(path).json()["history"]
        return [m for m in history if m["role"] == "agent"][-1]


def ask_case(shop: Shop, case: dict[str, Any]) -> dict[str, Any]:
    answer = shop.ask(case)
    missed = check(case["expect"], answer["text"], answer.get("sources") or [])
    return {
        "catalog": shop.name,
        "id": case["id"],
        "type": case["type"],
        "question": case["question"],
        "turns": case.get("turns", []),
        "passed": not missed,
        "missed": missed,
        "answer": answer["text"],
        "sources": [s.get("id") for s in answer.get("sources") or []],
    }


def run(names: list[str]) -> dict[str, Any]:
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from parley_local import stack as local_stack
    from parley_local.emulated import Api, emulated_cloud
    from parley_local.runtime import Gateway
    from parley_local.template import Stack

    gateway = Gateway(Stack())
    results = []
    with emulated_cloud(gateway) as local:
        api = Api(gateway, local_stack.seed(None)["token"])
        for name in names:
            shop = Shop(api, local, name)
            results += [ask_case(shop, case) for case in load_suite(name)]
    return summarise(results)


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    def tally(rows: list[dict[str, Any]]) -> dict[str, Any]:
        passed = sum(r["passed"] for r in rows)
        return {"passed": passed, "cases": len(rows), "accuracy": passed / len(rows) if rows else None}

    by_catalog = {}
    for name in dict.fromkeys(r["catalog"] for r in results):
        rows = [r for r in results if r["catalog"] == name]
        by_catalog[name] = {
            **tally(rows),
            "by_type": {
                t: tally([r for r in rows if r["type"] == t]) for t in TYPES if any(r["type"] == t for r in rows)
            },
        }
    by_type = {t: tally([r for r in results if r["type"] == t]) for t in TYPES if any(r["type"] == t for r in results)}
    return {"overall": tally(results), "by_catalog": by_catalog, "by_type": by_type, "cases": results}


def percent(cell: dict[str, Any]) -> str:
    return f"{cell['passed']}/{cell['cases']}"


def print_report(summary: dict[str, Any], out: Any = sys.stdout) -> None:
    names = list(summary["by_catalog"])
    print("type         " + "".join(f"{n:>12}" for n in names) + f"{'all':>12}", file=out)
    for t, cell in summary["by_type"].items():
        cells = [summary["by_catalog"][n]["by_type"].get(t) for n in names]
        print(f"{t:<13}" + "".join(f"{percent(c) if c else '-':>12}" for c in cells) + f"{percent(cell):>12}", file=out)
    overall = summary["overall"]
    print(
        f"{'all':<13}"
        + "".join(f"{percent(summary['by_catalog'][n]):>12}" for n in names)
        + f"{percent(overall):>12}   ({overall['accuracy']:.0%})",
        file=out,
    )
    failures = [r for r in summary["cases"] if not r["passed"]]
    if failures:
        print(f"\nfailures ({len(failures)}):", file=out)
    for r in failures:
        asked = " / ".join([*r["turns"], r["question"]])
        print(f"- {r['id']}: {asked}\n    {'; '.join(r['missed'])}\n    answer: {r['answer'][:300]!r}", file=out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", action="append", choices=catalogs(), help="a suite to run (default: all)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--out", help="write the results as JSON to this file (for bench.run)")
    args = parser.parse_args()
    with contextlib.redirect_stdout(sys.stderr):  # the handlers' JSON logs go to stdout; keep it for the report
        summary = run(args.catalog or catalogs())
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))
    if args.json:
        print(json.dumps(summary, indent=1))
    elif not args.out:
        print_report(summary)


if __name__ == "__main__":
    main()
