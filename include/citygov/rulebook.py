"""Every rule in words: one lookup from a stored rule id to its titles, how to fix, dimension and severity.

Rules are defined where they belong: the pipeline's (census, patrol, quality's own, backflow, catalog
import, consumers' claims) in :data:`citygov.findings.RULES`, expectation types each in its module of
:mod:`citygov.quality.registry` (gathered in :data:`citygov.expectation_rules.EXPECTATION_RULES`). Queue titles, pages, Data Docs, exports and
notifications read them through :func:`describe`, so a rule's words are written once. The rule id stays
visible beside its title as a code. No GX import: cheap enough for every page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from citygov.expectation_rules import EXPECTATION_RULES, HIGH_SHARE
from citygov.findings import RULES, Dimension, Rule, Severity


@dataclass(frozen=True)
class RuleText:
    """A rule as people read it."""

    code: str
    """The stored rule id (``patrol.schema.missing_column``, ``expect_column_values_to_be_valid_ric``)."""
    title_zh: str
    title_en: str
    fix: str
    """One line: what the responsible department should do (Chinese, then English); empty when unknown."""
    dimension: Dimension
    severity: Severity | None
    """None when it depends on the finding (quality: the share of failing rows, see :attr:`severity_note`)."""
    known: bool = True
    """False for an id no rule defines (an expectation type citygov does not describe): titled by its id."""

    @property
    def label(self) -> str:
        """``身份证号码无效 invalid resident ID number``: the title as shown in queues and pages."""
        return f"{self.title_zh} {self.title_en}" if self.title_en else self.title_zh

    @property
    def severity_note(self) -> str:
        if self.severity is not None:
            return self.severity.value
        if not self.known:
            return "as each finding says"
        return f"high when ≥ {HIGH_SHARE:.0%} of the evaluated rows fail, else medium"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "title_zh": self.title_zh, "title_en": self.title_en, "label": self.label,
            "fix": self.fix, "dimension": self.dimension.value,
            "severity": self.severity.value if self.severity else None, "severity_note": self.severity_note,
            "known": self.known,
        }


def _text(rule: Rule) -> RuleText:
    return RuleText(rule.rule_id, rule.title_zh, rule.title_en, rule.fix, rule.dimension, rule.severity)


def rule_of(rule_id: str | None) -> Rule | None:
    """The rule defined for ``rule_id``, wherever it is defined; None when none is."""
    if not rule_id:
        return None
    return RULES.get(rule_id) or EXPECTATION_RULES.get(rule_id)


def describe(rule_id: str | None) -> RuleText:
    """The words of ``rule_id``. Never fails: an unknown id is titled by itself (规范性, no fix)."""
    rule = rule_of(rule_id)
    if rule is not None:
        return _text(rule)
    code = rule_id or "-"
    return RuleText(code, code, "", "", Dimension.CONFORMITY, None, known=False)


def all_rules() -> list[RuleText]:
    """Every defined rule, the pipeline's first, then the expectation types, each in definition order."""
    return [_text(r) for r in (*RULES.values(), *EXPECTATION_RULES.values())]
