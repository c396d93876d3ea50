"""Every rule id the pipeline can store is in words: titles, how to fix, dimension (issue 16, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citygov.backflow.findings import RULE_QUARANTINED, RULE_REJECTED
from citygov.disputes.queue import CONSUMER_RULE
from citygov.disputes.routing import CATALOG_RULE, PROBLEM_OF_RULE
from citygov.expectation_rules import EXPECTATION_RULES
from citygov.findings import RULES, Dimension
from citygov.quality.runner import QUALITY_RULES
from citygov.rulebook import all_rules, describe

ROOT = Path(__file__).resolve().parents[2]


def test_every_defined_rule_has_both_titles_a_fix_and_a_dimension() -> None:
    texts = all_rules()
    assert len({t.code for t in texts}) == len(texts) == len(RULES) + len(EXPECTATION_RULES)
    for t in texts:
        assert t.title_zh and t.title_en and t.fix, t.code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in t.title_zh + t.fix), f"{t.code}: no Chinese words"
        assert isinstance(t.dimension, Dimension)
        assert t.label == f"{t.title_zh} {t.title_en}"


@pytest.mark.parametrize(
    "rule_id",
    [RULE_REJECTED, RULE_QUARANTINED, CONSUMER_RULE, CATALOG_RULE, *PROBLEM_OF_RULE, *PROBLEM_OF_RULE.values(), *QUALITY_RULES],
)
def test_rule_ids_written_in_code_are_described(rule_id: str) -> None:
    assert describe(rule_id).known, f"{rule_id} has no definition: add it to citygov.findings.RULES"


def test_every_custom_expectation_and_every_type_in_the_shipped_suites_is_described() -> None:
    import citygov.quality.expectations as custom

    classes = [c for n, c in vars(custom).items() if n.startswith("Expect") and isinstance(c, type)]
    assert len(classes) >= 10
    for cls in classes:
        assert describe(_snake(cls.__name__)).known, cls.__name__
        assert cls.dimension == describe(_snake(cls.__name__)).dimension
    used = {
        e["type"]
        for path in (ROOT / "expectations").glob("*.json")
        for e in json.loads(path.read_text(encoding="utf-8")).get("expectations", [])
    }
    unknown = sorted(t for t in used if not describe(t).known)
    assert not unknown, f"expectation types used in expectations/ without words: {unknown}"


def test_an_unknown_id_is_titled_by_itself_and_never_fails() -> None:
    t = describe("expect_something_new")
    assert (t.label, t.known, t.fix) == ("expect_something_new", False, "")
    assert describe(None).code == "-"


def _snake(name: str) -> str:
    from great_expectations.util import camel_to_snake

    return camel_to_snake(name)
