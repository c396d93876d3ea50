"""disputes.record_key_hash: record keys kept as a keyed hash and a masked form, never as typed

Revision ID: 0006d
Revises: 0006q
Create Date: 2026-12-06 09:00:00

Until now a dispute raised against a record stored its key as typed, and for 人口基本信息 the key is the
resident ID number. Every existing key is replaced by its masked form and its keyed hash
(:mod:`citygov.disputes.recordkeys`, with the deployment's secret), the items' fingerprints are
recomputed over the hash, and the raw key is removed from the titles and from the events' details
(``dispute_events`` is append-only: its triggers are lifted for this one rewrite and put back).
Downgrading drops the hash column; the raw keys are gone for good.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0006d"
down_revision: str | Sequence[str] | None = "0006q"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _append_only_triggers():  # type: ignore[no-untyped-def]
    """The trigger statements of 0003d (one definition of the append-only rule)."""
    path = Path(__file__).with_name("0003d_dispute_queue_optimistic_lock_deadlines_.py")
    spec = importlib.util.spec_from_file_location("citygov_migration_0003d", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module._TRIGGERS, module._DROP_TRIGGERS


def upgrade() -> None:
    from citygov.disputes.queue import CONSUMER_RULE, dispute_fingerprint
    from citygov.disputes.recordkeys import protect
    from citygov.quality.suites import suite_masks

    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record_key_hash", sa.String(length=80), nullable=True))
        batch_op.create_index(batch_op.f("ix_disputes_record_key_hash"), ["record_key_hash"], unique=False)

    bind = op.get_bind()
    disputes = sa.table(
        "disputes", sa.column("id", sa.BigInteger), sa.column("fingerprint", sa.String), sa.column("origin", sa.String),
        sa.column("entry_code", sa.String), sa.column("conn_id", sa.String), sa.column("location", sa.String),
        sa.column("column_name", sa.String), sa.column("record_key", sa.String),
        sa.column("record_key_hash", sa.String), sa.column("rule_id", sa.String), sa.column("title", sa.Text),
        sa.column("version", sa.Integer),
    )
    entries = sa.table("catalog_entries", sa.column("code", sa.String), sa.column("primary_key", sa.JSON))
    events = sa.table("dispute_events", sa.column("id", sa.BigInteger), sa.column("dispute_id", sa.BigInteger),
                      sa.column("details", sa.JSON))
    keys = {code: list(pk or []) for code, pk in bind.execute(sa.select(entries.c.code, entries.c.primary_key))}
    rows = bind.execute(sa.select(disputes).where(disputes.c.record_key.is_not(None))).mappings().all()
    shown: dict[int, tuple[str, str]] = {}
    for row in rows:
        raw = row["record_key"]
        if row["origin"] == "consumer":
            masks = suite_masks(row["entry_code"]) if row["entry_code"] else {}
            key = protect(raw, kinds=[masks.get(c) for c in keys.get(row["entry_code"], [])])
            subject, problem = row["entry_code"], CONSUMER_RULE
        else:
            key = protect(raw, generated=True)
            subject, problem = row["entry_code"] or f"{row['conn_id']}/{row['location']}", row["rule_id"] or ""
        if key is None:
            continue
        shown[row["id"]] = (raw, key.display)
        bind.execute(
            disputes.update().where(disputes.c.id == row["id"]).values(
                record_key=key.display, record_key_hash=key.digest,
                fingerprint=dispute_fingerprint(subject, problem, row["column_name"], key.digest),
                title=(row["title"] or "").replace(raw, key.display), version=row["version"] + 1,
            )
        )
    if not shown:
        return
    triggers, drop = _append_only_triggers()
    dialect = bind.dialect.name
    for statement in drop.get(dialect, []):
        op.execute(statement)
    for event_id, dispute_id, details in bind.execute(
        sa.select(events.c.id, events.c.dispute_id, events.c.details).where(events.c.dispute_id.in_(list(shown)))
    ):
        raw, display = shown[dispute_id]
        if isinstance(details, dict) and details.get("record_key") == raw:
            bind.execute(events.update().where(events.c.id == event_id).values(details={**details, "record_key": display}))
    for statement in triggers.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disputes_record_key_hash"))
        batch_op.drop_column("record_key_hash")
