"""The dispute workflow: states, allowed transitions, who may make them, and the deadline stages.

After Huai'an DB3208/T 219-2024 (raise → accept → flag → verify and handle → lift the flag → archive)::

    待受理 ─┬─> 已受理 ─┬─> 核实中 ─┬─> 已更正 ────┐
            │           │           ├─> 维持原数据 ─┼─> 已核验 ──> 已归档
            └─> 驳回 <──┴───────────┘               │
                 └──────────────────────────────────┘
    (已更正 / 维持原数据 / 驳回 can be sent back to 核实中 by a steward)

Automation adds two moves people cannot make: an item whose check passes on a later run is verified
(待受理, 已受理, 核实中 or 已更正 → 已核验), and one whose check fails again after 已更正 or 已核验 is
reopened (→ 待受理).
"""

from __future__ import annotations

from enum import StrEnum

from citygov.bounds import quoted
from citygov.disputes.errors import IllegalTransition, InvalidInput


class Status(StrEnum):
    """A dispute's state; the value (stored and shown) is the Chinese name."""

    PENDING = "待受理"
    """Raised, waiting for the platform to accept it (deadline: accept)."""
    ACCEPTED = "已受理"
    """Accepted and routed to the responsible unit; the data is flagged (deadline: resolve)."""
    INVESTIGATING = "核实中"
    """The responsible unit is verifying the data (deadline: resolve)."""
    CORRECTED = "已更正"
    """The unit says it corrected the data; the next check run confirms it."""
    UPHELD = "维持原数据"
    """The unit keeps the data as it is, with an explanation."""
    REJECTED = "驳回"
    """The dispute is unfounded, with a reason."""
    VERIFIED = "已核验"
    """The outcome is confirmed (by a steward, or by a passing check); the flag is lifted."""
    ARCHIVED = "已归档"
    """Closed for good; a new failure opens a new item."""

    @property
    def english(self) -> str:
        return _ENGLISH[self]

    @classmethod
    def parse(cls, text: str) -> Status:
        """A state from its Chinese value or its English name (``accepted``, ``ACCEPTED``)."""
        value = (text or "").strip()
        for status in cls:
            if value == status.value or value.lower() in (status.name.lower(), status.english):
                return status
        names = ", ".join(f"{s.value} ({s.english})" for s in cls)
        raise InvalidInput(f"unknown state {quoted(text)}; states: {names}")


_ENGLISH = {
    Status.PENDING: "pending",
    Status.ACCEPTED: "accepted",
    Status.INVESTIGATING: "investigating",
    Status.CORRECTED: "corrected",
    Status.UPHELD: "upheld",
    Status.REJECTED: "rejected",
    Status.VERIFIED: "verified",
    Status.ARCHIVED: "archived",
}


class Role(StrEnum):
    """What a registered person may do on the queue."""

    STEWARD = "steward"
    """数据管理员 of the platform: accepts, rejects, verifies, archives, reassigns, flags."""
    OFFICER = "officer"
    """部门数据专员 of a department: handles its own department's items (核实中, 已更正, 维持原数据)."""
    CONSUMER = "consumer"
    """数据使用方: raises disputes."""

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls((text or "").strip().lower())
        except ValueError:
            raise InvalidInput(
                f"unknown role {quoted(text)}; roles: {', '.join(r.value for r in cls)}"
            ) from None


TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.PENDING: (Status.ACCEPTED, Status.REJECTED),
    Status.ACCEPTED: (Status.INVESTIGATING, Status.REJECTED),
    Status.INVESTIGATING: (Status.CORRECTED, Status.UPHELD, Status.REJECTED),
    Status.CORRECTED: (Status.VERIFIED, Status.INVESTIGATING),
    Status.UPHELD: (Status.VERIFIED, Status.INVESTIGATING),
    Status.REJECTED: (Status.VERIFIED, Status.INVESTIGATING),
    Status.VERIFIED: (Status.ARCHIVED,),
    Status.ARCHIVED: (),
}
"""Moves a person may make (automation also verifies and reopens, see the module docstring)."""

RESOLUTIONS = frozenset({Status.CORRECTED, Status.UPHELD, Status.REJECTED})
"""Outcomes of handling: reaching one ends the running deadline."""

CLOSED = frozenset({Status.VERIFIED, Status.ARCHIVED})
"""No longer open: not counted as open or overdue."""

AUTO_VERIFY_FROM = frozenset({Status.PENDING, Status.ACCEPTED, Status.INVESTIGATING, Status.CORRECTED})
"""States a passing check run verifies automatically."""

REOPEN_FROM = frozenset({Status.CORRECTED, Status.VERIFIED})
"""States a failing check run reopens (→ 待受理)."""

STAGE_OF: dict[Status, str] = {
    Status.PENDING: "accept",
    Status.ACCEPTED: "resolve",
    Status.INVESTIGATING: "resolve",
}
"""The deadline running in a state: ``accept`` (the platform accepts) or ``resolve`` (the unit handles)."""

STAGE_NAMES = {"accept": "受理期限 accept", "resolve": "办理期限 resolve"}

_STEWARD_ONLY = frozenset({Status.ACCEPTED, Status.REJECTED, Status.VERIFIED, Status.ARCHIVED})


def allowed_targets(current: Status) -> tuple[Status, ...]:
    return TRANSITIONS[current]


def check_transition(current: Status, target: Status) -> None:
    """Raise :class:`IllegalTransition` with the allowed moves when ``current → target`` is not one."""
    allowed = TRANSITIONS[current]
    if target not in allowed:
        options = ", ".join(s.value for s in allowed) or "none (the item is closed)"
        raise IllegalTransition(f"illegal transition {current.value} → {target.value}; allowed: {options}")


def may_transition(role: Role, department: str | None, unit: str | None, current: Status, target: Status) -> str | None:
    """Why a person with ``role`` (of ``department``) may not move an item of ``unit``; None if they may."""
    if role is Role.STEWARD:
        return None
    if role is Role.CONSUMER:
        return "consumers may raise disputes but not change their state"
    # Officers handle their own department's items, and only the handling steps.
    if target in _STEWARD_ONLY or current in RESOLUTIONS:
        return f"only a steward may move an item to {target.value}" if target in _STEWARD_ONLY else (
            "only a steward may send a handled item back to 核实中"
        )
    if not unit or department != unit:
        return f"the item belongs to {unit or '未定责 (no unit)'}, not to {department or 'no department'}"
    return None
