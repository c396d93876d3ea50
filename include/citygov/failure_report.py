"""What a check run found, in a few lines for an operator: a table for a task's log and a run note.

The inspection tasks (quality, patrol, census) end their log with :func:`failure_table` of their findings
(dataset code and name, rule title, failing rows, a link to the dataset's scorecard page), and the DAG run
gets :func:`run_note`, the same in Markdown with the run's counts, so the grid view says what failed without
opening a log. Findings hold masked evidence only; nothing here reads a source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from citygov.rulebook import describe

SCORECARD_PATH = "/citygov/web/datasets/"
"""Where the pages (plugin ``citygov_web``, prefix ``/citygov/web``) show a dataset's scorecard."""

TABLE_LIMIT = 60
"""Rows shown in a task log's table; the rest are counted."""
NOTE_MAX_CHARS = 1000
"""Airflow keeps at most 1000 characters of a DAG run's note (``dag_run_note.content``)."""


@dataclass(frozen=True)
class FailureRow:
    """One dataset's failures under one rule (a column's failures are one row per column)."""

    subject: str
    """The catalog entry's code, or ``conn_id/location`` for a finding about a resource not catalogued."""
    name: str
    """The entry's catalog name (empty when the subject is not catalogued)."""
    rule: str
    """The rule's title in Chinese and English, with the column when the rule is about one."""
    rows: int | None
    """Failing rows (quality), None when the rule does not count rows."""
    findings: int
    """How many findings this row stands for (records, columns within a rule)."""
    link: str
    """The dataset's scorecard page, empty when there is none."""


def failure_rows(
    findings: Iterable[Mapping[str, Any]], names: Mapping[str, str], base_url: str | None
) -> list[FailureRow]:
    """The findings (``FindingRecord.to_dict()`` or :func:`citygov.findings.load_findings` rows) grouped by
    subject, rule and column, in subject order. ``names`` maps entry codes to catalog names; ``base_url``
    is the api-server's address (Airflow's ``[api] base_url``) the links start with."""
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for finding in findings:
        code = finding.get("entry_code")
        subject = code or "/".join(str(p) for p in (finding.get("conn_id"), finding.get("location")) if p)
        key = (subject or "-", str(finding.get("rule_id") or "-"), str(finding.get("column") or ""))
        groups.setdefault(key, []).append(finding)
    rows = []
    for (subject, rule_id, column), members in sorted(groups.items()):
        counts = [m.get("evidence", {}).get("unexpected_count") for m in members if m.get("evidence")]
        counted = [c for c in counts if isinstance(c, int)]
        code = members[0].get("entry_code")
        rows.append(
            FailureRow(
                subject=subject,
                name=names.get(code, "") if code else "",
                rule=describe(rule_id).label + (f" ({column})" if column else ""),
                rows=sum(counted) if counted else None,
                findings=len(members),
                link=scorecard_url(base_url, code) if code else "",
            )
        )
    return rows


def scorecard_url(base_url: str | None, code: str) -> str:
    """The scorecard page of dataset ``code`` under the api-server's ``base_url``."""
    return f"{(base_url or '').rstrip('/')}{SCORECARD_PATH}{quote(code, safe='')}"


def failure_table(what: str, rows: list[FailureRow], limit: int = TABLE_LIMIT) -> str:
    """A plain-text table of ``rows`` for a task log, headed by ``what`` (``quality 2026-11-28``)."""
    if not rows:
        return f"{what}: nothing failed"
    header = ("dataset 数据集", "name 名称", "rule 规则", "rows 行数", "scorecard 评分卡")
    body = [
        (r.subject, r.name, r.rule, "-" if r.rows is None else str(r.rows), r.link or "-") for r in rows[:limit]
    ]
    widths = [max(_width(line[i]) for line in (header, *body)) for i in range(len(header) - 1)]
    lines = [f"{what}: {len(rows)} failing (dataset, rule) 项未通过"]
    for line in (header, *body):
        lines.append("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(line[:-1])) + "  " + line[-1])
    if len(rows) > limit:
        lines.append(f"… and {len(rows) - limit} more")
    return "\n".join(lines)


def run_note(what: str, counts: Mapping[str, Any], rows: list[FailureRow], max_chars: int = NOTE_MAX_CHARS) -> str:
    """A DAG run's note (Markdown, at most ``max_chars``): ``what``, the run's ``counts`` and as many
    failing rows, with links to their scorecards, as fit; the rest are counted."""
    shown = ", ".join(f"{k} {v}" for k, v in counts.items() if v is not None)
    head = f"**{what}**" + (f": {shown}" if shown else "")
    if not rows:
        return f"{head}\n\nnothing failed 全部通过"
    lines = [head, ""]
    for i, r in enumerate(rows):
        # A link within the site (the note is read in Airflow's UI, on the same host): short enough for
        # Airflow's 1000 characters to hold more rows.
        subject = f"[{r.subject}]({urlsplit(r.link).path})" if r.link else r.subject
        line = f"- {subject}{f' {r.name}' if r.name else ''}: {r.rule}" + ("" if r.rows is None else f", {r.rows} rows")
        rest = f"- … and {len(rows) - i} more (see the task logs)"
        if len("\n".join([*lines, line])) + 1 + len(rest) > max_chars and i + 1 < len(rows) or (
            len("\n".join([*lines, line])) > max_chars
        ):
            lines.append(rest)
            break
        lines.append(line)
    return "\n".join(lines)[:max_chars]


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: CJK characters take two."""
    return sum(2 if ord(ch) >= 0x1100 and _wide(ch) else 1 for ch in text)


def _wide(ch: str) -> bool:
    import unicodedata

    return unicodedata.east_asian_width(ch) in ("W", "F")


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
