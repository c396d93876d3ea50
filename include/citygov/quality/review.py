"""Reviewing a suite: drafted rules stay drafts until a steward accepts them; a steward can drop a rule or
loosen/tighten it (``mostly``). The scorecard page, ``govern suites accept|drop|set`` and the dispute queue's
draft-rule items call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from citygov.quality.masking import result_columns
from citygov.quality.suites import SuiteFileError, dimension_of, load_suite, suite_path, write_suite


def is_draft(suite: Any) -> bool:
    """Whether ``suite`` is a draft not yet accepted by a steward (``meta.citygov.draft`` is set)."""
    return bool(((suite.meta or {}).get("citygov") or {}).get("draft"))


def draft_rules(suite: Any) -> list[int]:
    """Positions (1-based) of the rules still marked ``draft`` in their meta."""
    return [i for i, e in enumerate(suite.expectations, start=1) if (e.configuration.meta or {}).get("draft")]


def rule_label(expectation: Any) -> str:
    """``type:column`` of a rule (``type:a,b`` for column pairs and lists), how a steward names it."""
    kwargs = expectation.configuration.kwargs
    columns = kwargs.get("column_list") or [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    return f"{expectation.expectation_type}:{','.join(columns)}" if columns else expectation.expectation_type


def find_rule(suite: Any, rule: str) -> int:
    """The 0-based position of the rule ``rule`` names: its 1-based number, its type (when only one rule
    has it) or ``type:column`` (see :func:`rule_label`). Raises LookupError listing the rules."""
    labels = [rule_label(e) for e in suite.expectations]
    if rule.isdigit() and 1 <= int(rule) <= len(labels):
        return int(rule) - 1
    matches = [i for i, label in enumerate(labels) if rule in (label, label.split(":", 1)[0])]
    if len(matches) == 1:
        return matches[0]
    listed = "; ".join(f"{i} {label}" for i, label in enumerate(labels, start=1))
    what = "names several rules" if matches else "names no rule"
    raise LookupError(f"{rule!r} {what} of suite {suite.name}; give a number or type:column ({listed})")


def accept_suite(suite: Any, *, by: str | None = None, accepted_at: datetime | None = None) -> Any:
    """``suite`` accepted by a steward: the suite's and every rule's draft marker cleared (the evidence
    stays), ``meta.citygov.accepted`` saying by whom and when."""
    citygov = dict((suite.meta or {}).get("citygov") or {})
    citygov.pop("draft", None)
    accepted = {k: v for k, v in (("by", by), ("at", accepted_at.isoformat(timespec="seconds") if accepted_at else None)) if v}
    citygov["accepted"] = accepted or True
    suite.meta = {**(suite.meta or {}), "citygov": citygov}
    suite.expectations = [
        _with_config(e, meta={k: v for k, v in (e.configuration.meta or {}).items() if k != "draft"})
        for e in suite.expectations
    ]
    return suite


def drop_rule(suite: Any, rule: str) -> str:
    """Remove the rule ``rule`` names (see :func:`find_rule`) from ``suite``; returns its label."""
    position = find_rule(suite, rule)
    label = rule_label(suite.expectations[position])
    suite.expectations = [e for i, e in enumerate(suite.expectations) if i != position]
    return label


def set_mostly(suite: Any, rule: str, mostly: float | None) -> str:
    """Loosen (``mostly`` < 1: that share of rows must pass) or tighten (None or 1: every row) the rule
    ``rule`` names; returns its label. Raises ValueError for a rule type without ``mostly``."""
    if mostly is not None and not 0 < mostly <= 1:
        raise ValueError(f"mostly must be a share above 0 and at most 1, got {mostly}")
    position = find_rule(suite, rule)
    e = suite.expectations[position]
    kwargs = {k: v for k, v in e.configuration.kwargs.items() if k != "mostly"}
    if mostly is not None and mostly < 1:
        if "mostly" not in getattr(e, "success_keys", ()):
            raise ValueError(f"{rule_label(e)} has no threshold (mostly) to set")
        kwargs["mostly"] = mostly
    suite.expectations[position] = _with_config(e, kwargs=kwargs)
    return rule_label(e)


def _with_config(expectation: Any, *, kwargs: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> Any:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    config = expectation.configuration
    return ExpectationConfiguration(
        type=config.type,
        kwargs=dict(config.kwargs) if kwargs is None else kwargs,
        meta=config.meta if meta is None else meta,
        notes=config.notes,
    ).to_domain_obj()


@dataclass(frozen=True)
class SuiteEdit:
    """What a steward's review changed in a suite file (:func:`review_suite`)."""

    code: str
    path: Path
    message: str
    """What was done, as the command line prints it and the pages show it."""
    rule: str | None = None
    """The label (``type:column``) of the rule dropped or set; None for accepting the whole suite."""


def review_suite(
    code: str,
    action: str,
    *,
    rule: str | None = None,
    expected_label: str | None = None,
    mostly: float | None = None,
    by: str | None = None,
    at: datetime | None = None,
    directory: Path | str | None = None,
) -> SuiteEdit:
    """Apply one review step to ``code``'s suite file and write it back: ``accept`` the suite (by ``by``,
    at ``at``), ``drop`` the rule ``rule`` names, or ``set`` its threshold (``mostly`` < 1 loosens, None
    or 1 makes it strict). ``govern suites accept/drop/set``, the scorecard page and dropping a draft rule
    from a dispute item all come here.

    ``expected_label`` (a page's form sends the label it showed beside the rule's number) refuses the
    step when the file changed since, rather than dropping another rule. Raises LookupError when there is
    no suite file or no such rule, :class:`SuiteFileError` for an unreadable file and ValueError for a
    threshold that cannot be set; nothing is written then.
    """
    path = suite_path(code, directory)
    suite = load_suite(code, directory)
    if suite is None:
        raise LookupError(f"no suite file {path} (govern suites draft {code} drafts one)")
    if action == "accept":
        accept_suite(suite, by=by, accepted_at=at)
        done = SuiteEdit(code, path, f"accepted {code}: {len(suite.expectations)} rules, no longer a draft")
    elif action in ("drop", "set"):
        if not rule:
            raise LookupError(f"name the rule of suite {code} to {action}")
        label = rule_label(suite.expectations[find_rule(suite, rule)])
        if expected_label is not None and label != expected_label:
            raise LookupError(
                f"rule {rule} of suite {code} is now {label}, not {expected_label}: the file changed; reload and retry"
            )
        if action == "drop":
            drop_rule(suite, rule)
            done = SuiteEdit(code, path, f"dropped {label} from {code}; {len(suite.expectations)} rules left", label)
        else:
            set_mostly(suite, rule, mostly)
            loose = mostly is not None and mostly < 1
            how = f"{mostly:.0%} of rows must pass" if loose else "every row must pass"
            done = SuiteEdit(code, path, f"{label} of {code}: {how}", label)
    else:
        raise ValueError(f"unknown review step {action!r}: accept, drop or set")
    write_suite(suite, path=path)
    return done


@dataclass(frozen=True)
class RuleReview:
    """One rule of a suite as a steward reviews it."""

    number: int
    """1-based position, how ``govern suites drop CODE N`` names it."""
    label: str
    """``type:column`` (:func:`rule_label`)."""
    expectation: str
    column: str | None
    """The column its findings name (:func:`finding_column`)."""
    dimension: str
    draft: bool
    """Still marked ``draft`` (drafted and not yet accepted)."""
    drafted: str | None
    """Why it was suggested."""
    satisfied: int | None
    """Evidence: sampled rows (or values) that satisfied it when drafted …"""
    sampled: int | None
    """… of this many."""
    mostly: float | None
    """Its threshold; None: every row must pass."""
    can_loosen: bool
    """Whether it takes a threshold (``mostly``)."""


@dataclass(frozen=True)
class SuiteReview:
    """A suite file as the scorecard page shows it for review."""

    code: str
    draft: bool
    drafted_at: str | None
    accepted: dict[str, Any] | None
    rules: list[RuleReview]
    error: str | None = None
    """Why the file cannot be read (then ``rules`` is empty)."""


def suite_review(code: str, directory: Path | str | None = None) -> SuiteReview | None:
    """The review view of ``code``'s suite: whether it is a draft and each rule with its draft mark and
    evidence; None when there is no suite file."""
    try:
        suite = load_suite(code, directory)
    except SuiteFileError as exc:
        return SuiteReview(code, False, None, None, [], error=str(exc))
    if suite is None:
        return None
    citygov = (suite.meta or {}).get("citygov") or {}
    rules_: list[RuleReview] = []
    for number, e in enumerate(suite.expectations, start=1):
        meta = e.configuration.meta or {}
        support = meta.get("support") or {}
        rules_.append(
            RuleReview(
                number=number, label=rule_label(e), expectation=e.expectation_type,
                column=finding_column(e.expectation_type, result_columns(e.configuration.kwargs)),
                dimension=dimension_of(e).value, draft=bool(meta.get("draft")), drafted=meta.get("drafted"),
                satisfied=support.get("satisfied"), sampled=support.get("of"),
                mostly=e.configuration.kwargs.get("mostly"), can_loosen="mostly" in getattr(e, "success_keys", ()),
            )
        )
    draft = citygov.get("draft")
    accepted = citygov.get("accepted")
    return SuiteReview(
        code=code, draft=bool(draft), drafted_at=draft.get("drafted_at") if isinstance(draft, dict) else None,
        accepted=accepted if isinstance(accepted, dict) else ({} if accepted else None), rules=rules_,
    )


def finding_column(expectation: str, columns: Sequence[str | None]) -> str | None:
    """The column a quality finding names for an expectation over ``columns``: the checked column; for
    ID-consistency pairs the column that disagrees with the ID (column_B); for compound keys the columns
    joined by commas."""
    columns = [c for c in columns if c]
    if not columns:
        return None
    if "pair_values" in expectation and len(columns) == 2:
        return columns[1]
    return ",".join(columns)


def rule_of_finding(suite: Any, expectation: str, column: str | None, *, draft_only: bool = False) -> int | None:
    """The 1-based number of the rule of ``suite`` a quality finding (rule id ``expectation``, ``column``)
    comes from, or None when the suite no longer has it (with ``draft_only``: not as a draft rule)."""
    for number, e in enumerate(suite.expectations, start=1):
        if e.expectation_type != expectation or (draft_only and not (e.configuration.meta or {}).get("draft")):
            continue
        if finding_column(expectation, result_columns(e.configuration.kwargs)) == column:
            return number
    return None


def draft_rule_of_finding(suite: Any, expectation: str, column: str | None) -> int | None:
    """The 1-based number of the draft rule of ``suite`` a quality finding (rule id ``expectation``,
    ``column``) comes from, or None when that rule is not (or no longer) a draft rule of the suite."""
    return rule_of_finding(suite, expectation, column, draft_only=True)


