"""GB/T 36344 scores: ratios, weights, grades, and how missing dimensions are handled."""

from __future__ import annotations

import json
from datetime import date

import pytest

from citygov.findings import Dimension
from citygov.quality.scores import CheckCount, ScoringPolicy, load_policy, score_dataset

DAY = date(2026, 11, 28)


def _score(checks, **kw):  # type: ignore[no-untyped-def]
    defaults = {"row_count": 100, "readable": True, "patrol_reachable": True, "patrol_rules": ()}
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
    card = _score(checks, patrol_rules={"patrol.timeliness.stale"})
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
    card = _score([], readable=False, patrol_reachable=False, patrol_rules={"patrol.source.unreachable"}, row_count=None)
    assert card.ratios[Dimension.ACCESSIBILITY].ratio == 0.0
    assert card.ratios[Dimension.TIMELINESS].ratio is None
    assert card.score == 0.0 and card.grade == "不合格"


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
