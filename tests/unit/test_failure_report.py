"""The operator's table of what failed (task logs) and the run note (Markdown, Airflow's 1000 characters)."""

from __future__ import annotations

import unicodedata

from citygov.failure_report import NOTE_MAX_CHARS, failure_rows, failure_table, run_note
from citygov.rulebook import describe

BASE = "http://gov.example:8091/airflow"


def _finding(code: str | None, rule: str, column: str | None = None, rows: int | None = None, **extra):  # type: ignore[no-untyped-def]
    return {"entry_code": code, "rule_id": rule, "column": column,
            "evidence": {"unexpected_count": rows} if rows is not None else {}, **extra}


def test_rows_group_by_dataset_rule_and_column_and_link_to_the_scorecard() -> None:
    findings = [
        _finding("320700-GAJ-0001", "expect_column_values_to_not_be_null", "sfzhm", 3),
        _finding("320700-GAJ-0001", "expect_column_values_to_not_be_null", "sfzhm", 2),
        _finding("320700-GAJ-0001", "patrol.volume.empty"),
        _finding(None, "census.uncatalogued", conn_id="dept_gaj", location="rkjbxx_bak"),
    ]
    rows = failure_rows(findings, {"320700-GAJ-0001": "人口基本信息"}, BASE)
    assert [(r.subject, r.rule, r.rows, r.findings) for r in rows] == [
        ("320700-GAJ-0001", f"{describe('expect_column_values_to_not_be_null').label} (sfzhm)", 5, 2),
        ("320700-GAJ-0001", describe("patrol.volume.empty").label, None, 1),
        ("dept_gaj/rkjbxx_bak", describe("census.uncatalogued").label, None, 1),
    ]
    assert rows[0].link == f"{BASE}/citygov/web/datasets/320700-GAJ-0001" and rows[2].link == ""

    table = failure_table("quality 2026-11-28", rows).splitlines()
    assert table[0] == "quality 2026-11-28: 3 failing (dataset, rule) 项未通过"
    # Columns line up in a terminal (CJK characters are two columns wide).
    columns = {sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line[: line.index("http")])
               for line in table[2:4]}
    assert len(columns) == 1, table
    assert failure_table("patrol 2026-11-28", []) == "patrol 2026-11-28: nothing failed"


def test_the_note_fits_airflows_1000_characters_and_counts_what_it_leaves_out() -> None:
    findings = [_finding(f"320700-GAJ-{i:04d}", "expect_column_values_to_not_be_null", "sfzhm", i) for i in range(40)]
    rows = failure_rows(findings, {}, BASE)
    note = run_note("quality 2026-11-28", {"datasets": 40, "failed": 40, "unreachable": None}, rows)
    assert len(note) <= NOTE_MAX_CHARS
    assert note.startswith("**quality 2026-11-28**: datasets 40, failed 40\n")
    shown = [line for line in note.splitlines() if line.startswith("- [")]
    assert shown[0].startswith("- [320700-GAJ-0000](/airflow/citygov/web/datasets/320700-GAJ-0000)")
    assert note.splitlines()[-1] == f"- … and {40 - len(shown)} more (see the task logs)"
    assert run_note("census 2026-11-28", {"findings": 0}, []).endswith("nothing failed 全部通过")
