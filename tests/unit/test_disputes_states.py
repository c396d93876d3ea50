"""The dispute workflow's states, transitions and permissions, and masking of free text."""

from __future__ import annotations

import pytest

from citygov.disputes import TRANSITIONS, IllegalTransition, InvalidInput, Role, Status
from citygov.disputes.states import check_transition, may_transition
from citygov.identifiers import mask_text, scrub

GAJ = "连云港市公安局"


def test_states_are_stored_in_chinese_and_parse_from_either_language() -> None:
    assert [s.value for s in Status] == ["待受理", "已受理", "核实中", "已更正", "维持原数据", "驳回", "已核验", "已归档"]
    assert Status.parse("accepted") is Status.ACCEPTED
    assert Status.parse(" 维持原数据 ") is Status.UPHELD
    assert Status.parse("INVESTIGATING") is Status.INVESTIGATING
    assert Status.REJECTED.english == "rejected"
    with pytest.raises(InvalidInput, match=r"unknown state 'done'; states: 待受理 \(pending\), 已受理 \(accepted\)"):
        Status.parse("done")


def test_illegal_transition_names_the_allowed_ones() -> None:
    with pytest.raises(IllegalTransition) as exc:
        check_transition(Status.PENDING, Status.VERIFIED)
    assert str(exc.value) == "illegal transition 待受理 → 已核验; allowed: 已受理, 驳回"
    assert exc.value.http_status == 409
    with pytest.raises(IllegalTransition, match="illegal transition 已归档 → 核实中; allowed: none"):
        check_transition(Status.ARCHIVED, Status.INVESTIGATING)
    check_transition(Status.INVESTIGATING, Status.UPHELD)  # allowed: no error


def test_workflow_reaches_archive_from_every_state_and_archive_is_final() -> None:
    reachable = {Status.PENDING}
    frontier = [Status.PENDING]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(Status)
    assert TRANSITIONS[Status.ARCHIVED] == ()
    for status in Status:
        if status is Status.ARCHIVED:
            continue
        seen, todo = {status}, [status]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert Status.ARCHIVED in seen, f"{status} cannot reach 已归档"


@pytest.mark.parametrize(
    ("role", "department", "current", "target", "refusal"),
    [
        (Role.STEWARD, None, Status.PENDING, Status.ACCEPTED, None),
        (Role.OFFICER, GAJ, Status.ACCEPTED, Status.INVESTIGATING, None),
        (Role.OFFICER, GAJ, Status.INVESTIGATING, Status.UPHELD, None),
        (Role.OFFICER, GAJ, Status.PENDING, Status.ACCEPTED, "only a steward may move an item to 已受理"),
        (Role.OFFICER, GAJ, Status.CORRECTED, Status.VERIFIED, "only a steward may move an item to 已核验"),
        (Role.OFFICER, GAJ, Status.CORRECTED, Status.INVESTIGATING, "only a steward may send a handled item back"),
        (Role.OFFICER, "连云港市民政局", Status.ACCEPTED, Status.INVESTIGATING, f"the item belongs to {GAJ}"),
        (Role.CONSUMER, None, Status.ACCEPTED, Status.INVESTIGATING, "consumers may raise disputes but not"),
    ],
)
def test_who_may_move_an_item(role, department, current, target, refusal) -> None:  # type: ignore[no-untyped-def]
    reason = may_transition(role, department, GAJ, current, target)
    if refusal is None:
        assert reason is None
    else:
        assert reason is not None and refusal in reason


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("身份证 320706199001011230 有误", "身份证 320706********1230 有误"),
        ("ID 32070619900101123X, mobile 13812348000.", "ID 320706********123X, mobile 138****8000."),
        ("old ID 320706900101123", "old ID 320706*****1123"),
        # Longer digit runs (an order number) are not identifiers and stay as they are, unless their Luhn
        # digit is right: then they are taken for a bank card number.
        ("order 1381234800012345670", "order 1381234800012345670"),
        ("card 1381234800012345678", "card 138123*********5678"),
        # credit codes are masked like everywhere else (quality results, backflow evidence)
        ("credit code 91320700MA1XXXXX1Y", "credit code 913207********XX1Y"),
    ],
)
def test_mask_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


def test_mask_evidence_masks_every_string_inside() -> None:
    evidence = {"sample": ["320706199001011230", 3], "nested": {"phone": "tel 13900001111"}, "n": 5}
    assert scrub(evidence) == {
        "sample": ["320706********1230", 3],
        "nested": {"phone": "tel 139****1111"},
        "n": 5,
    }
