"""JSON-lines batches and suite row checks, on a SQLite and a PostgreSQL target (store on both backends).

Every bad line of a ``data.jsonl`` is quarantined with its line number and reason, never dropped; a cut-off
last line rejects the batch; rows failing the dataset's suite are quarantined with the expectation's name,
and what people see of them is masked.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine

from citygov.backflow import ingest_landing, list_batches
from citygov.findings import load_findings
from citygov.quality.masking import find_unmasked

INSURED = "320700-SDSJ-0002"


def demo_rows(city: Path, n: int) -> list[dict[str, str]]:
    text = (city / "landing" / "JSDSJ-20261126-002" / "data.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))[:n]


def write_jsonl(landing: Path, batch_id: str, lines: list[str], *, declared: int, newline_at_end: bool = True) -> None:
    folder = landing / batch_id
    folder.mkdir(parents=True)
    data = ("\n".join(lines) + ("\n" if newline_at_end else "")).encode("utf-8")
    (folder / "data.jsonl").write_bytes(data)
    manifest = {
        "batch_id": batch_id, "resource_code": INSURED, "logical_date": "2026-11-29", "mode": "incremental",
        "declared_rows": declared, "sha256": hashlib.sha256(data).hexdigest(), "sender": "江苏省大数据管理中心",
    }  # no "format": data.jsonl makes it jsonl
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def test_jsonl_bad_lines_are_quarantined_with_line_and_reason(
    governed: Engine, target: Engine, city: Path, tmp_path: Path
) -> None:
    rows = demo_rows(city, 9)
    lines = [json.dumps(r, ensure_ascii=False) for r in rows[:4]]
    lines.append('{"sfzhm": "3207', )  # line 5: not valid JSON (mid-file)
    lines.append(json.dumps([1, 2]))  # line 6: not an object
    lines.append(json.dumps({k: v for k, v in rows[4].items() if k != "xm"}, ensure_ascii=False))  # 7: missing key
    lines.append(json.dumps({**rows[5], "extra": 1}, ensure_ascii=False))  # line 8: extra key
    lines.append("")  # line 9: blank, not a record
    bad_id = dict(rows[6], sfzhm=rows[6]["sfzhm"][:17] + ("0" if rows[6]["sfzhm"][17] != "0" else "1"))
    lines.append(json.dumps(bad_id, ensure_ascii=False))  # line 10: fails the suite's ID check
    lines.append(json.dumps({**rows[7], "cbrq": "2024-13-45"}, ensure_ascii=False))  # line 11: not a date
    lines.append(json.dumps({**rows[8], "xzlx": None}, ensure_ascii=False))  # line 12: null primary key
    landing = tmp_path / "landing"
    write_jsonl(landing, "JL-001", lines, declared=11)

    (result,) = ingest_landing(governed, target, landing)
    assert result.status == "loaded", result.reason
    assert (result.declared_rows, result.loaded_rows, result.quarantined_rows) == (11, 4, 7)
    with target.connect() as conn:
        quarantined = conn.execute(sa.text(
            "SELECT line, reason_code, column_name, reason FROM backflow_quarantine WHERE batch_id = 'JL-001' ORDER BY line"
        )).all()
        loaded = conn.execute(sa.text('SELECT "sfzhm", "_batch_id" FROM "hl_sbcbxx"')).all()
    assert [(q[0], q[1]) for q in quarantined] == [
        (5, "bad_json"), (6, "not_object"), (7, "field_keys"), (8, "field_keys"),
        (10, "expect_column_values_to_be_valid_ric"), (11, "bad_value"), (12, "missing_key"),
    ]
    assert "missing key(s) xm" in quarantined[2][3] and "extra key(s) extra" in quarantined[3][3]
    assert quarantined[4][2] == "sfzhm" and quarantined[4][3] == "line 10: sfzhm fails expect_column_values_to_be_valid_ric"
    assert sorted(loaded) == sorted((r["sfzhm"], "JL-001") for r in rows[:4])
    assert list_batches(governed)[0]["reconciliation"] == {"declared": 11, "loaded": 4, "quarantined": 7, "balanced": True}

    findings = load_findings(governed, origin="backflow")
    assert {f["rule_id"] for f in findings} == {"backflow.rows.quarantined"}
    assert sum(f["evidence"]["rows"] for f in findings) == 7
    dump = json.dumps([f["evidence"] for f in findings] + [f["message"] for f in findings], ensure_ascii=False)
    assert bad_id["sfzhm"] not in dump and find_unmasked(dump) == []


def test_jsonl_cut_off_last_line_rejects_the_batch(governed: Engine, target: Engine, city: Path, tmp_path: Path) -> None:
    rows = demo_rows(city, 3)
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines[-1] = lines[-1][:-15]
    landing = tmp_path / "landing"
    write_jsonl(landing, "JL-002", lines, declared=3, newline_at_end=False)
    (result,) = ingest_landing(governed, target, landing)
    assert result.status == "rejected"
    assert [p.code for p in result.problems] == ["truncated"]
    assert "line 3 is cut off" in (result.reason or "")
    with target.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        if "hl_sbcbxx" in tables:
            assert conn.execute(sa.text('SELECT count(*) FROM "hl_sbcbxx"')).scalar() == 0


def test_jsonl_row_count_is_checked_like_csv(governed: Engine, target: Engine, city: Path, tmp_path: Path) -> None:
    lines = [json.dumps(r, ensure_ascii=False) for r in demo_rows(city, 4)]
    landing = tmp_path / "landing"
    write_jsonl(landing, "JL-003", lines, declared=5)
    (result,) = ingest_landing(governed, target, landing)
    assert result.status == "rejected" and [p.code for p in result.problems] == ["row_count_mismatch"]
    assert "declares 5 rows, data.jsonl holds 4" in (result.reason or "")
    deliveries = list_batches(governed)[0]["deliveries"]
    assert [d["status"] for d in deliveries] == ["rejected"]
