"""GB/T 36344 scores: ratios, weights, grades, and how missing dimensions are handled."""

from __future__ import annotations

import json
from datetime import date

import pytest

from citygov.findings import RULES, Dimension, Severity
from citygov.quality.scores import (
    MEASURED_RULES,
    CheckCount,
    ScoredFinding,
    ScoringPolicy,
    load_policy,
    score_dataset,
)

DAY = date(2026, 11, 28)


def _patrol(rule_id: str, column: str | None = None, origin: str = "patrol") -> ScoredFinding:
    rule = RULES[rule_id]
    return ScoredFinding(origin, rule_id, rule.severity or Severity.MEDIUM, rule.dimension, column)


def _score(checks, **kw):  # type: ignore[no-untyped-def]
    defaults = {"row_count": 100, "readable": True, "patrol_reachable": True, "findings": ()}
    return score_dataset("E1", "局", DAY, checks, **{**defaults, **kw})


def test_perfect_dataset_scores_100() -> None:
    card = _score([CheckCount(Dimension.ACCURACY, 100, 0, "ric")])
    assert card.score == 100.0 and card.grade == "优秀"
    assert card.ratios[Dimension.TIMELINESS].ratio == 1.0
    assert card.ratios[Dimension.CONFORMITY].ratio is None  # nothing evaluated it


def test_ratios_are_row_level_pass_rates_and_the_score_their_weighted_mean() -> None:
    checks = [
        CheckCount(Dimension.ACCURACY, 100, 3, "ric(sfzhm)"),
        CheckCount(Dimension.ACCURACY, 100, 0, "unique(sfzhm)"),
        CheckCount(Dimension.COMPLETENESS, 200, 10, "not_blank"),
        CheckCount(Dimension.CONSISTENCY, 50, 5, "id_birth"),
        CheckCount(Dimension.CONFORMITY, 100, 20, "in_set"),
    ]
    card = _score(checks, findings=[_patrol("patrol.timeliness.stale")])
    r = {d: x.ratio for d, x in card.ratios.items()}
    assert r[Dimension.ACCURACY] == pytest.approx(197 / 200)
    assert r[Dimension.COMPLETENESS] == pytest.approx(190 / 200)
    assert r[Dimension.CONSISTENCY] == pytest.approx(45 / 50)
    assert r[Dimension.CONFORMITY] == pytest.approx(0.8)
    assert r[Dimension.TIMELINESS] == 0.0 and r[Dimension.ACCESSIBILITY] == 1.0
    w = ScoringPolicy().weights
    expected = 100 * sum(w[d] * r[d] for d in Dimension) / sum(w.values())
    assert card.score == pytest.approx(round(expected, 2))
    # the stored explanation reproduces the score from A/B and the weights
    details = card.details()
    recomputed = 100 * sum(
        details["weights_applied"][d] * details["dimensions"][d]["passed"] / details["dimensions"][d]["evaluated"]
        for d in details["weights_applied"]
    ) / sum(details["weights_applied"].values())
    assert round(recomputed, 2) == card.score


@pytest.mark.parametrize(("score", "grade"), [(95, "优秀"), (90, "优秀"), (89.99, "良好"), (80, "良好"), (60, "合格"), (59.9, "不合格")])
def test_grades(score: float, grade: str) -> None:
    assert ScoringPolicy().grade(score) == grade


def test_unreachable_dataset_fails_accessibility_and_skips_timeliness() -> None:
    card = _score([], readable=False, patrol_reachable=False, findings=[_patrol("patrol.source.unreachable")], row_count=None)
    assert card.ratios[Dimension.ACCESSIBILITY].ratio == 0.0
    assert card.ratios[Dimension.TIMELINESS].ratio is None
    assert card.score == 0.0 and card.grade == "不合格"
    assert card.ratios[Dimension.ACCESSIBILITY].penalties == []  # counted as the 0/1 fact, not again


def test_empty_table_fails_record_completeness() -> None:
    card = _score([], row_count=0)
    assert card.ratios[Dimension.COMPLETENESS].ratio == 0.0
    assert card.score == 50.0  # completeness 0 (0.2), timeliness 1 (0.1), accessibility 1 (0.1)


def test_weights_are_configurable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps({"weights": {"准确性": 1, "timeliness": 0, "accessibility": 0, "规范性": 0, "完整性": 0, "一致性": 0}, "grades": [[95, "A"], [0, "B"]]}), encoding="utf-8")
    policy = load_policy(policy_file)
    card = _score([CheckCount(Dimension.ACCURACY, 10, 1, "x")], policy=policy)
    assert card.score == 90.0 and card.grade == "B"
    assert set(card.weights_applied) == {Dimension.ACCURACY}
    with pytest.raises(ValueError, match="unknown dimension"):
        load_policy('{"weights": {"speed": 1}}')


def test_the_same_inputs_give_the_same_score() -> None:
    checks = [CheckCount(Dimension.ACCURACY, 77, 3, "a"), CheckCount(Dimension.CONSISTENCY, 13, 1, "b")]
    assert _score(checks).to_dict() == _score(list(checks)).to_dict()


# --- every finding feeds the score ------------------------------------------------------------------------

PERFECT = [CheckCount(Dimension.ACCURACY, 100, 0, "ric")]
"""A dataset whose expectations all pass: 准确性 1, 时效性 1, 可访问性 1 → 100 before any finding."""


@pytest.mark.parametrize(
    ("rule_id", "moved", "capped"),
    [
        ("patrol.schema.missing_column", {Dimension.CONFORMITY: 0.7, Dimension.COMPLETENESS: 0.7}, True),
        ("patrol.schema.type_changed", {Dimension.CONFORMITY: 0.9}, False),
        ("patrol.schema.unexpected_column", {Dimension.CONFORMITY: 0.95}, False),
        ("patrol.grading.inconsistent", {Dimension.CONSISTENCY: 0.7}, True),
        ("patrol.metadata.incomplete", {Dimension.COMPLETENESS: 0.95}, False),
        ("patrol.metadata.invalid", {Dimension.CONFORMITY: 0.9}, False),
        ("patrol.volume.drop", {Dimension.COMPLETENESS: 0.9}, False),
        ("patrol.volume.empty", {Dimension.COMPLETENESS: 0.7}, True),
        ("backflow.batch.rejected", {RULES["backflow.batch.rejected"].dimension: 0.7}, True),
        ("backflow.rows.quarantined", {RULES["backflow.rows.quarantined"].dimension: 0.9}, False),
        ("catalog.row_rejected", {Dimension.CONFORMITY: 0.9}, False),
    ],
)
def test_a_finding_takes_its_share_off_its_rules_dimensions(rule_id: str, moved: dict, capped: bool) -> None:
    origin = rule_id.split(".")[0]
    card = _score(PERFECT, findings=[_patrol(rule_id, "col", origin=origin)])
    values = {d: r.ratio for d, r in card.ratios.items()}
    for dim, value in moved.items():
        assert values[dim] == pytest.approx(value), dim
        (penalty,) = card.details()["dimensions"][dim.value]["findings"]  # the card names the finding
        assert (penalty["rule_id"], penalty["column"], penalty["origin"]) == (rule_id, "col", origin)
    untouched = {d for d in Dimension if d not in moved}
    assert all(not card.ratios[d].penalties for d in untouched)
    assert card.score < 100
    assert card.uncapped == pytest.approx(round(
        100 * sum(card.weights_applied[d] * values[d] for d in card.weights_applied) / sum(card.weights_applied.values()), 2
    ))
    if capped:  # a high-severity rule: at best 合格, and the notes say why
        assert card.score == 79.99 and card.grade == "合格"
        assert any(n.startswith("封顶 capped at 79.99") and rule_id in n for n in card.notes)
        assert card.details()["cap"] == {"limit": 79.99, "findings": [f"{rule_id}(col)"]}
    else:
        assert card.score == card.uncapped and card.grade == "优秀" and card.details()["cap"] is None


def test_the_dimension_of_the_grading_rule_is_consistency() -> None:
    assert RULES["patrol.grading.inconsistent"].dimension is Dimension.CONSISTENCY


def test_every_rule_is_measured_or_has_a_penalty_on_its_own_dimension() -> None:
    policy = ScoringPolicy()
    for rule_id, rule in RULES.items():
        if rule_id in MEASURED_RULES:
            continue
        dims = policy.rule_penalties[rule_id]
        assert rule.dimension in dims and all(0 < share <= 1 for share in dims.values()), rule_id


@pytest.mark.parametrize("rule_id", ["patrol.source.unreachable", "patrol.resource.missing", "census.resource_missing", "census.resource_unreadable"])
def test_accessibility_findings_are_the_accessibility_fact(rule_id: str) -> None:
    card = _score(PERFECT, findings=[_patrol(rule_id, origin=rule_id.split(".")[0])])
    assert card.ratios[Dimension.ACCESSIBILITY].ratio == 0.0
    assert not any(r.penalties for r in card.ratios.values())


def test_a_failed_expectation_counts_by_its_rows_only_but_a_high_one_caps() -> None:
    rows = [CheckCount(Dimension.ACCURACY, 100, 20, "expect_column_values_to_be_valid_ric(sfzh)")]
    medium = ScoredFinding("quality", "expect_column_values_to_be_valid_ric", Severity.MEDIUM, Dimension.ACCURACY, "sfzh")
    card = _score(rows, findings=[medium])
    assert card.ratios[Dimension.ACCURACY].ratio == pytest.approx(0.8) and not card.ratios[Dimension.ACCURACY].penalties
    assert card.score == pytest.approx(round(100 * (0.25 * 0.8 + 0.1 + 0.1) / 0.45, 2)) and card.cap is None
    high = ScoredFinding("quality", "expect_column_values_to_be_valid_ric", Severity.HIGH, Dimension.ACCURACY, "sfzh")
    assert _score(rows, findings=[high]).score == 79.99


def test_a_penalty_multiplies_the_measured_ratio_and_shares_add_up_to_at_most_all() -> None:
    unknown = ScoredFinding("backflow", "some.future.rule", Severity.MEDIUM, Dimension.ACCURACY)
    card = _score([CheckCount(Dimension.ACCURACY, 10, 1, "a")], findings=[unknown])
    assert card.ratios[Dimension.ACCURACY].ratio == pytest.approx(0.9 * 0.9)  # stored dimension, severity share
    many = [_patrol("patrol.schema.missing_column", f"c{i}") for i in range(5)]
    card = _score(PERFECT, findings=many)
    assert card.ratios[Dimension.CONFORMITY].ratio == 0.0 and card.ratios[Dimension.CONFORMITY].penalty == 1.0
    assert len(card.details()["dimensions"]["规范性"]["findings"]) == 5


def test_a_dataset_that_was_not_validated_stays_not_scored_whatever_its_findings() -> None:
    card = _score(PERFECT, findings=[_patrol("patrol.grading.inconsistent")], not_scored="validation did not run (error): x")
    assert (card.score, card.grade, card.status) == (None, None, "not_scored")


def test_penalties_and_the_cap_are_configurable() -> None:
    policy = load_policy(json.dumps({
        "rules": {"patrol.grading.inconsistent": {"一致性": 0.5, "accuracy": 0.1}},
        "severity_penalties": {"low": 0.2},
        "cap_below": None,
    }))
    card = _score(PERFECT, findings=[_patrol("patrol.grading.inconsistent"), _patrol("patrol.schema.unexpected_column")], policy=policy)
    assert card.ratios[Dimension.CONSISTENCY].ratio == pytest.approx(0.5)
    assert card.ratios[Dimension.ACCURACY].ratio == pytest.approx(0.9)
    assert card.ratios[Dimension.CONFORMITY].ratio == pytest.approx(0.95)  # a named rule keeps its default share
    assert card.cap is None and card.score == card.uncapped
    other = ScoredFinding("patrol", "patrol.not.named", Severity.LOW, Dimension.TIMELINESS)
    assert _score(PERFECT, findings=[other], policy=policy).ratios[Dimension.TIMELINESS].ratio == pytest.approx(0.8)
    # with other grade bands the cap keeps a dataset off the top two
    policy = load_policy('{"grades": [[95, "A"], [85, "B"], [0, "C"]]}')
    assert policy.cap == 84.99
    assert _score(PERFECT, findings=[_patrol("patrol.grading.inconsistent")], policy=policy).grade == "C"
    with pytest.raises(ValueError, match="cap_below 'X' is not a grade"):
        load_policy('{"cap_below": "X"}')
    with pytest.raises(ValueError, match="share between 0 and 1"):
        load_policy('{"rules": {"patrol.volume.drop": {"完整性": 2}}}')


def test_the_same_findings_give_the_same_card_in_any_order() -> None:
    findings = [_patrol("patrol.schema.missing_column", "a"), _patrol("patrol.grading.inconsistent", "b"), _patrol("patrol.schema.unexpected_column", "c")]
    assert _score(PERFECT, findings=findings).to_dict() == _score(PERFECT, findings=findings[::-1]).to_dict()
