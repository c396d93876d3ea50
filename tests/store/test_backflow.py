"""Provincial backflow ingestion against a real store (SQLite and PostgreSQL) and a SQLite target.

The demo city's good batches load with lineage and exact reconciliation, exactly its two defective
batches (``defects.json``, ``detected_by: backflow``) are rejected with a dispute-ready finding, reruns
change nothing, and every kind of bad input is a recorded rejection or quarantine that never stops the
other batches.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from citygov.backflow import ingest_landing, list_batches, pgfast
from citygov.backflow import stage as backflow_stage
from citygov.findings import load_findings
from citygov.quality.masking import find_unmasked
from citygov.store import session_scope
from citygov.store.models import BackflowBatch

SENDER = "江苏省大数据管理中心"
INSURED = "320700-SDSJ-0002"
"""The incremental backflow resource (primary key sfzhm, xzlx; cbrq is a D column)."""


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite target only (the PostgreSQL fast path has tests of its own)."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'backflow.db'}")
    yield engine
    engine.dispose()


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the target, in a comparable form."""
    out = {}
    with engine.connect() as conn:
        for name in sorted(sa.inspect(conn).get_table_names()):
            rows = conn.execute(sa.text(f'SELECT * FROM "{name}"')).all()
            out[name] = sorted(tuple(str(v) for v in r) for r in rows)
    return out


def store_rows(store: Engine) -> dict[str, tuple[Any, ...]]:
    with session_scope(store) as session:
        return {
            b.batch_id: (b.status, b.declared_rows, b.loaded_rows, b.quarantined_rows, b.sha256, b.reason)
            for b in session.scalars(sa.select(BackflowBatch))
        }


def planted(city: Path) -> dict[str, str]:
    """Batch → kind of the demo's planted batch rejections."""
    return {d["resource"]: d["kind"] for d in planted_all(city) if d["kind"] != "backflow_row_invalid"}


def planted_all(city: Path) -> list[dict[str, Any]]:
    defects = json.loads((city / "defects.json").read_text(encoding="utf-8"))
    items = defects["defects"] if isinstance(defects, dict) else defects
    return [d for d in items if d["detected_by"] == "backflow"]


# --- the demo city ---------------------------------------------------------------------------------------


def test_demo_batches_load_and_exactly_the_defective_ones_are_rejected(
    governed: Engine, target: Engine, city: Path
) -> None:
    results = {r.batch_id: r for r in ingest_landing(governed, target, city / "landing")}
    defective = planted(city)
    assert len(defective) == 2
    rejected = {b for b, r in results.items() if r.status == "rejected"}
    assert rejected == set(defective)
    reasons = {defective[b]: results[b].reason or "" for b in rejected}
    assert "declares 103 rows" in reasons["row_count_mismatch"] and "holds 100" in reasons["row_count_mismatch"]
    assert "sha256" in reasons["corrupt_batch"] and "resend" in reasons["corrupt_batch"]
    assert {p.code for b in rejected for p in results[b].problems} == {"row_count_mismatch", "checksum_mismatch"}

    loaded = [r for r in results.values() if r.status == "loaded"]
    assert len(loaded) == 4
    invalid = [d for d in planted_all(city) if d["kind"] == "backflow_row_invalid"]
    assert len(invalid) == 2
    quarantined = {d["resource"] for d in invalid}
    assert all(r.reconciled for r in loaded)
    assert {r.batch_id: r.quarantined_rows for r in loaded if r.quarantined_rows} == {"JSDSJ-20261126-002": 2}
    with target.connect() as conn:
        rows = conn.execute(sa.text("SELECT batch_id, reason_code, column_name, reason FROM backflow_quarantine")).all()
    assert {(r[0], r[1], r[2]) for r in rows} == {
        (d["resource"], expectation, d["column"])
        for d, expectation in zip(
            sorted(invalid, key=lambda d: d["column"]),
            ["expect_column_values_to_be_valid_division_code", "expect_column_values_to_be_valid_ric"],
            strict=True,
        )
    }
    assert all(r[3].startswith("line ") and " fails expect_" in r[3] for r in rows)
    with target.connect() as conn:
        # The firms are a full dataset: the last good full batch replaced the earlier one.
        firms = conn.execute(sa.text('SELECT "_batch_id", count(*) FROM "hl_qydjxx" GROUP BY 1')).all()
        insured = dict(conn.execute(sa.text('SELECT "_batch_id", count(*) FROM "hl_sbcbxx" GROUP BY 1')).all())
    assert firms == [("JSDSJ-20261127-001", 100)]
    assert insured == {"JSDSJ-20261126-002": 58, "JSDSJ-20261127-002": 40}

    listed = {b["batch_id"]: b for b in list_batches(governed)}
    assert listed["JSDSJ-20261126-002"]["reconciliation"] == {"declared": 60, "loaded": 58, "quarantined": 2, "balanced": True}
    assert [d["status"] for d in listed["JSDSJ-20261126-002"]["deliveries"]] == ["accepted"]
    assert set(listed) == set(results)
    for b in listed.values():
        rec = b["reconciliation"]
        if b["status"] == "loaded":
            assert rec["balanced"] and rec["declared"] == rec["loaded"] + rec["quarantined"]
    assert [b["batch_id"] for b in list_batches(governed, logical_date=results["JSDSJ-20261128-001"].logical_date)] == [
        "JSDSJ-20261128-001",
        "JSDSJ-20261128-002",
    ]

    findings = load_findings(governed, origin="backflow")
    assert {(f["rule_id"], f["record_key"]) for f in findings if f["rule_id"] == "backflow.batch.rejected"} == {
        ("backflow.batch.rejected", b) for b in defective
    }
    rows_findings = [f for f in findings if f["rule_id"] == "backflow.rows.quarantined"]
    assert {(f["location"], f["column"]) for f in rows_findings} == {(d["resource"], d["column"]) for d in invalid}
    assert quarantined == {"JSDSJ-20261126-002"}
    assert all(f["department"] == SENDER for f in findings)
    assert find_unmasked(json.dumps([f["evidence"] for f in findings], ensure_ascii=False)) == []


def _attempts(store: Engine) -> dict[str, list[tuple[str, int]]]:
    return {b["batch_id"]: [(d["status"], d["attempts"]) for d in b["deliveries"]] for b in list_batches(store)}


def test_rerun_changes_nothing(governed: Engine, target: Engine, city: Path) -> None:
    ingest_landing(governed, target, city / "landing")
    # One run is one attempt per delivery, whatever states the load went through.
    assert {attempts for deliveries in _attempts(governed).values() for _, attempts in deliveries} == {1}
    before, recorded = snapshot(target), store_rows(governed)
    findings = load_findings(governed, origin="backflow")
    again = ingest_landing(governed, target, city / "landing")
    assert {r.status for r in again} == {"skipped", "rejected"}
    assert all(r.reconciled for r in again if r.status == "skipped")
    assert snapshot(target) == before
    assert store_rows(governed) == recorded
    assert [f["fingerprint"] for f in load_findings(governed, origin="backflow")] == [
        f["fingerprint"] for f in findings
    ]
    seen = _attempts(governed)
    assert {attempts for deliveries in seen.values() for _, attempts in deliveries} == {2}
    assert {status for deliveries in seen.values() for status, _ in deliveries} == {"accepted", "rejected"}


def test_same_batch_id_with_different_content_is_rejected(governed: Engine, target: Engine, city: Path) -> None:
    ingest_landing(governed, target, city / "landing")
    before = snapshot(target)
    folder = city / "landing" / "JSDSJ-20261127-002"
    data = (folder / "data.csv").read_bytes().replace(b",110,", b",120,", 1)
    rewrite_manifest(folder, data)
    (folder / "data.csv").write_bytes(data)
    results = {r.batch_id: r for r in ingest_landing(governed, target, city / "landing")}
    dup = results["JSDSJ-20261127-002"]
    assert dup.status == "rejected"
    assert "duplicate batch id with different content" in (dup.reason or "")
    rows = store_rows(governed)
    assert rows["JSDSJ-20261127-002"][0] == "loaded"  # the loaded record stays intact
    assert not any("#" in b for b in rows)
    assert snapshot(target) == before
    listed = {b["batch_id"]: b for b in list_batches(governed)}["JSDSJ-20261127-002"]
    assert listed["status"] == "loaded"
    deliveries = {d["sha256"]: d for d in listed["deliveries"]}
    new_sha = hashlib.sha256(data).hexdigest()
    assert deliveries[new_sha]["status"] == "duplicate-different-content"
    assert "different content" in deliveries[new_sha]["reason"]
    assert [d["status"] for d in deliveries.values() if d["sha256"] != new_sha] == ["accepted"]
    keys = {(f["rule_id"], f["record_key"]) for f in load_findings(governed, origin="backflow")}
    assert ("backflow.batch.rejected", f"JSDSJ-20261127-002#{new_sha[:12]}") in keys
    # Seen again: still one delivery of that content, now with two attempts; still nothing loaded.
    ingest_landing(governed, target, city / "landing")
    again = {b["batch_id"]: b for b in list_batches(governed)}["JSDSJ-20261127-002"]["deliveries"]
    assert [(d["status"], d["attempts"]) for d in again if d["sha256"] == new_sha] == [
        ("duplicate-different-content", 2)
    ]
    assert snapshot(target) == before


def _dying_block(self, padded, lines):  # type: ignore[no-untyped-def]
    raise RuntimeError("killed mid-load")


def test_crash_mid_load_leaves_the_target_untouched(
    governed: Engine, target: Engine, city: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day1 = ingest_landing(governed, target, city / "landing", logical_date=_date("2026-11-26"))
    assert {r.status for r in day1} == {"loaded"}
    before = snapshot(target)
    calls = {"n": 0}
    real_write = backflow_stage.write_stage

    def dying_write(stage, rows):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] >= 3:
            raise RuntimeError("killed mid-load")
        real_write(stage, rows)

    monkeypatch.setattr(backflow_stage, "write_stage", dying_write)
    real_block = pgfast.FastLoad._block
    monkeypatch.setattr(pgfast.FastLoad, "_block", _dying_block)  # PostgreSQL's fast path: dies after the TRUNCATE
    crashed = ingest_landing(governed, target, city / "landing", logical_date=_date("2026-11-27"), chunk_size=10)
    assert {r.status for r in crashed} == {"failed"}
    assert "killed mid-load" in (crashed[0].reason or "")
    assert snapshot(target) == before  # the full batch's DELETE and first chunks were rolled back
    assert store_rows(governed)[crashed[0].batch_id][0] == "loading"

    monkeypatch.setattr(backflow_stage, "write_stage", real_write)
    monkeypatch.setattr(pgfast.FastLoad, "_block", real_block)
    retried = ingest_landing(governed, target, city / "landing", logical_date=_date("2026-11-27"), chunk_size=10)
    assert {r.status for r in retried} == {"loaded"}
    with target.connect() as conn:
        firms = conn.execute(sa.text('SELECT "_batch_id", count(*) FROM "hl_qydjxx" GROUP BY 1')).all()
        keys = conn.execute(sa.text('SELECT count(*), count(DISTINCT "sfzhm" || "xzlx") FROM "hl_sbcbxx"')).one()
    assert firms == [("JSDSJ-20261127-001", 100)]
    assert keys == (98, 98)  # the two planted invalid rows of the first insured batch are quarantined


def test_store_update_lost_after_commit_is_recovered_without_reloading(
    governed: Engine, target: Engine, city: Path
) -> None:
    ingest_landing(governed, target, city / "landing", logical_date=_date("2026-11-26"))
    before = snapshot(target)
    with session_scope(governed) as session:
        session.get(BackflowBatch, "JSDSJ-20261126-002").status = "loading"  # the process died here
    results = {r.batch_id: r for r in ingest_landing(governed, target, city / "landing", logical_date=_date("2026-11-26"))}
    assert results["JSDSJ-20261126-002"].status == "loaded"
    assert "recovered" in (results["JSDSJ-20261126-002"].reason or "")
    assert store_rows(governed)["JSDSJ-20261126-002"][:4] == ("loaded", 60, 58, 2)
    assert snapshot(target) == before


# --- bad input -------------------------------------------------------------------------------------------


def _date(text: str):  # type: ignore[no-untyped-def]
    from datetime import date

    return date.fromisoformat(text)


def sample_rows(city: Path, n: int = 6) -> tuple[list[str], list[list[str]]]:
    text = (city / "landing" / "JSDSJ-20261126-002" / "data.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1 : n + 1]


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def rewrite_manifest(folder: Path, data: bytes, **overrides: Any) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["sha256"] = hashlib.sha256(data).hexdigest()
    manifest.update(overrides)
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def write_batch(
    landing: Path, batch_id: str, data: bytes, *, declared: int, manifest: bool = True, **overrides: Any
) -> Path:
    folder = landing / batch_id
    folder.mkdir(parents=True)
    (folder / "data.csv").write_bytes(data)
    if manifest:
        body = {
            "batch_id": batch_id,
            "resource_code": INSURED,
            "logical_date": "2026-11-29",
            "mode": "incremental",
            "declared_rows": declared,
            "sha256": hashlib.sha256(data).hexdigest(),
            "schema_version": "1.0",
            "sender": SENDER,
            "encoding": "utf-8",
        }
        body.update(overrides)
        (folder / "manifest.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return folder


def _truncated(header, rows):  # type: ignore[no-untyped-def]
    whole = to_csv(header, rows).encode()
    return whole[: len(whole) - 25], {"declared": len(rows), "sha256": hashlib.sha256(whole).hexdigest()}


def _cut_in_quotes(header, rows):  # type: ignore[no-untyped-def]
    # The last record's quoted field was cut off; the manifest was (wrongly) computed on what was sent.
    head = to_csv(header, rows[:-1]).encode()
    last = ",".join(rows[-1][:-1]).encode() + b',"2026-11-26 02:'
    return head + last, {}


REJECTIONS = {
    "truncated": (_truncated, {"truncated", "checksum_mismatch"}, "truncated"),
    "truncated_in_quotes": (_cut_in_quotes, {"truncated"}, "ends inside a record"),
    "wrong_checksum": (lambda h, r: (to_csv(h, r).encode(), {"declared": len(r), "sha256": "0" * 64}), {"checksum_mismatch"}, "sha256"),
    "count_mismatch": (lambda h, r: (to_csv(h, r).encode(), {"declared": len(r) + 2}), {"row_count_mismatch"}, "declares 8 rows"),
    "missing_manifest": (lambda h, r: (to_csv(h, r).encode(), {"manifest": False}), {"manifest_missing"}, "manifest.json is missing"),
    "unknown_resource": (lambda h, r: (to_csv(h, r).encode(), {"resource_code": "320700-XXXX-9999"}), {"unknown_resource"}, "320700-XXXX-9999"),
    "gbk_declared_utf8": (lambda h, r: (to_csv(h, r).encode("gbk"), {}), {"encoding_mismatch"}, "not valid utf-8"),
    "utf8_declared_gbk": (lambda h, r: (to_csv(h, r).encode(), {"encoding": "gbk"}), {"encoding_mismatch"}, "declares gbk"),
    "empty_file": (lambda h, r: (b"", {"declared": 0}), {"empty_file"}, "empty"),
    "undeclared_column": (
        lambda h, r: (to_csv([*h, "extra"], [[*x, "1"] for x in r]).encode(), {}),
        {"schema_mismatch"},
        "undeclared column(s) extra",
    ),
    "huge_line": (
        lambda h, r: (to_csv(h, [*r[:-1], [*r[-1][:-1], "x" * 200_000]]).encode(), {}),
        {"unreadable"},
        "field larger than field limit",
    ),
    "bad_manifest": (lambda h, r: (to_csv(h, r).encode(), {"mode": "sometimes"}), {"manifest_invalid"}, "mode"),
}


@pytest.mark.parametrize("case", sorted(REJECTIONS))
def test_bad_batches_are_rejected_and_the_rest_still_load(
    governed: Engine, target: Engine, city: Path, tmp_path: Path, case: str
) -> None:
    build, codes, words = REJECTIONS[case]
    header, rows = sample_rows(city)
    landing = tmp_path / "landing"
    data, opts = build(header, rows)
    declared = opts.pop("declared", len(rows))
    write_batch(landing, "BAD-001", data, declared=declared, **opts)
    good = to_csv(header, sample_rows(city, 12)[1][6:]).encode()
    write_batch(landing, "GOOD-001", good, declared=6)

    results = {r.batch_id: r for r in ingest_landing(governed, target, landing, logical_date=_date("2026-11-29"))}
    assert results["GOOD-001"].status == "loaded" and results["GOOD-001"].loaded_rows == 6
    bad = results["BAD-001"]
    assert bad.status == "rejected"
    assert {p.code for p in bad.problems} == codes
    assert words.lower() in (bad.reason or "").lower()
    recorded = store_rows(governed)["BAD-001"]
    assert recorded[0] == "rejected" and recorded[2] == 0 and recorded[5] == bad.reason
    with target.connect() as conn:
        assert conn.execute(sa.text('SELECT count(*) FROM "hl_sbcbxx" WHERE "_batch_id" = \'BAD-001\'')).scalar() == 0
    findings = load_findings(governed, origin="backflow")
    assert [(f["rule_id"], f["record_key"]) for f in findings] == [("backflow.batch.rejected", "BAD-001")]


def test_bad_rows_are_quarantined_with_reasons_and_reconciled(
    governed: Engine, target: Engine, city: Path, tmp_path: Path
) -> None:
    header, rows = sample_rows(city, 9)
    rows = [list(r) for r in rows]
    rows[1] = [*rows[1], "surplus"]  # line 3: an extra field
    rows[2] = rows[2][:-1]  # line 4: a missing field
    rows[3][header.index("cbrq")] = "2024-13-45"  # line 5: not a date
    rows[4][header.index("sfzhm")] = ""  # line 6: empty primary key
    rows[5] = list(rows[0])  # line 7: the same key as line 2
    data = to_csv(header, rows).encode()
    landing = tmp_path / "landing"
    write_batch(landing, "ROWS-001", data, declared=len(rows))

    (result,) = ingest_landing(governed, target, landing)
    assert result.status == "loaded"
    assert (result.declared_rows, result.loaded_rows, result.quarantined_rows) == (9, 4, 5)
    assert result.reconciled
    with target.connect() as conn:
        quarantined = conn.execute(
            sa.text('SELECT line, reason_code, reason FROM backflow_quarantine WHERE batch_id = \'ROWS-001\' ORDER BY line')
        ).all()
        loaded = conn.execute(sa.text('SELECT count(*) FROM "hl_sbcbxx" WHERE "_batch_id" = \'ROWS-001\'')).scalar()
    assert loaded == 4
    assert [(q[0], q[1]) for q in quarantined] == [
        (3, "field_count"),
        (4, "field_count"),
        (5, "bad_value"),
        (6, "missing_key"),
        (7, "duplicate_key"),
    ]
    assert "extra fields" in quarantined[0][2] and "missing fields" in quarantined[1][2]
    assert "cbrq is not a date" in quarantined[2][2]
    assert "repeats line 2" in quarantined[4][2]

    findings = load_findings(governed, origin="backflow")
    assert {f["rule_id"] for f in findings} == {"backflow.rows.quarantined"}
    assert sum(f["evidence"]["rows"] for f in findings) == 5
    assert all(f["department"] == SENDER for f in findings)
    dump = json.dumps([f["evidence"] for f in findings], ensure_ascii=False)
    for row in rows:
        for value in row:
            if len(value) == 18 and value[:6].isdigit():
                assert value not in dump  # ID numbers only appear masked
    listed = list_batches(governed)[0]["reconciliation"]
    assert listed == {"declared": 9, "loaded": 4, "quarantined": 5, "balanced": True}


def test_demo_staging_database_gets_lineage(governed: Engine, city: Path, tmp_path: Path) -> None:
    """Loading into (a copy of) the demo's own staging database: existing tables gain ``_batch_id``."""
    staging = tmp_path / "sdsj.db"
    shutil.copy(city / "sources" / "sdsj.db", staging)
    engine = sa.create_engine(f"sqlite:///{staging}")
    try:
        results = ingest_landing(governed, engine, city / "landing")
        assert sorted(r.status for r in results) == ["loaded"] * 4 + ["rejected"] * 2
        with engine.connect() as conn:
            firms = conn.execute(sa.text('SELECT "_batch_id", count(*) FROM "hl_qydjxx" GROUP BY 1')).all()
        assert firms == [("JSDSJ-20261127-001", 100)]
    finally:
        engine.dispose()


def test_target_on_the_store_backend_loads_and_survives_a_crash(
    governed: Engine, city: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backflow store on the same backend as the governance store (PostgreSQL in production)."""
    target = governed
    first = ingest_landing(governed, target, city / "landing", logical_date=_date("2026-11-26"))
    assert {r.status for r in first} == {"loaded"}
    before = snapshot(target)["hl_sbcbxx"]

    def dying_write(stage, rows):  # type: ignore[no-untyped-def]
        raise RuntimeError("killed mid-load")

    monkeypatch.setattr(backflow_stage, "write_stage", dying_write)
    monkeypatch.setattr(pgfast.FastLoad, "_block", _dying_block)
    crashed = ingest_landing(governed, target, city / "landing", logical_date=_date("2026-11-27"))
    assert {r.status for r in crashed} == {"failed"}
    assert snapshot(target)["hl_sbcbxx"] == before
    monkeypatch.undo()
    results = {r.batch_id: r for r in ingest_landing(governed, target, city / "landing")}
    assert sorted(r.status for r in results.values()) == ["loaded", "loaded", "rejected", "rejected", "skipped", "skipped"]
    with target.connect() as conn:
        insured = dict(conn.execute(sa.text('SELECT "_batch_id", count(*) FROM "hl_sbcbxx" GROUP BY 1')).all())
        firms = conn.execute(sa.text('SELECT "_batch_id", count(*) FROM "hl_qydjxx" GROUP BY 1')).all()
    assert insured == {"JSDSJ-20261126-002": 58, "JSDSJ-20261127-002": 40}
    assert firms == [("JSDSJ-20261127-001", 100)]
