"""Ids out of range are unknown ids, on SQLite and PostgreSQL: every dispute function (what ``govern``, the API
and the pages call) answers :class:`DisputeNotFound` for them instead of a database overflow error; an
unknown state typed by someone is quoted back as a short excerpt."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from citygov import disputes as dq
from citygov.bounds import ID_MAX
from citygov.catalog.importer import import_catalog
from tests.catalog_files import GOOD_ROWS, write_catalog

PERSON = "320700-GAJ-0001"

OUT_OF_RANGE = [0, -1, ID_MAX + 1, 10**20, -(10**20)]

CALLS: dict[str, Callable[[Engine, int], Any]] = {
    "show": lambda e, i: dq.get_dispute(e, i),
    "audit": lambda e, i: dq.audit_events(e, dispute_id=i),
    "transition": lambda e, i: dq.transition(e, i, "已受理", by="wang", note="x"),
    "reassign": lambda e, i: dq.reassign(e, i, to_unit="连云港市民政局", by="wang", reason="x"),
    "extend": lambda e, i: dq.extend_deadline(e, i, by="wang", reason="x"),
    "flag": lambda e, i: dq.set_flag(e, i, flagged=True, by="wang", note="x"),
}


@pytest.fixture
def queue(store: Engine, tmp_path: Path) -> Engine:
    write_catalog(tmp_path / "catalog.csv", GOOD_ROWS)
    import_catalog(store, tmp_path / "catalog.csv")
    dq.register_actor(store, "wang", "steward")
    return store


@pytest.mark.parametrize("dispute_id", OUT_OF_RANGE)
@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_an_id_out_of_range_is_not_found(queue: Engine, call: str, dispute_id: int) -> None:
    item = dq.raise_dispute(queue, dataset=PERSON, by="wang", claim="出生日期有误").dispute
    with pytest.raises(dq.DisputeNotFound, match=f"dispute {dispute_id} does not exist"):
        CALLS[call](queue, dispute_id)
    assert dq.get_dispute(queue, item.id).version == item.version and len(dq.list_disputes(queue)) == 1


def test_a_huge_unknown_state_is_quoted_as_an_excerpt(queue: Engine) -> None:
    item = dq.raise_dispute(queue, dataset=PERSON, by="wang", claim="出生日期有误").dispute
    with pytest.raises(dq.InvalidInput) as exc:
        dq.transition(queue, item.id, "x" * 5_000_000, by="wang", note="x")
    assert "unknown state 'xxxx" in exc.value.message and "(5000000 characters)" in exc.value.message
    assert len(exc.value.message) < 400


NUL_CALLS: dict[str, Callable[[Engine, int], Any]] = {
    "dataset": lambda e, i: dq.raise_dispute(e, dataset=f"{PERSON}\x00", by="wang", claim="x"),
    "claim": lambda e, i: dq.raise_dispute(e, dataset=PERSON, by="wang", claim="a\x00b"),
    "record-key": lambda e, i: dq.raise_dispute(e, dataset=PERSON, by="wang", claim="x", record_key="R\x001"),
    "note": lambda e, i: dq.transition(e, i, "已受理", by="wang", note="a\x00b"),
    "unit": lambda e, i: dq.reassign(e, i, to_unit="民政局\x00", by="wang", reason="x"),
}


@pytest.mark.parametrize("call", list(NUL_CALLS), ids=list(NUL_CALLS))
def test_a_nul_character_is_invalid_input_not_a_database_error(queue: Engine, call: str) -> None:
    """PostgreSQL stores no NUL in text and fails on a lookup with one: the queue refuses it first."""
    item = dq.raise_dispute(queue, dataset=PERSON, by="wang", claim="出生日期有误").dispute
    with pytest.raises(dq.InvalidInput, match=r"contains a NUL character"):
        NUL_CALLS[call](queue, item.id)
    assert dq.get_dispute(queue, item.id).version == item.version and len(dq.list_disputes(queue)) == 1
