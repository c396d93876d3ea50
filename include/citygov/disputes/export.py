"""The dispute queue as a file for a spreadsheet (队列导出): CSV (UTF-8 with a BOM) or XLSX.

One row per item, the columns of the queue page plus its dates, in the order :func:`list_disputes` gives
them for the same filters (the pages read them with :func:`~citygov.disputes.queue.list_dispute_lines`, only
the columns written). Record keys are the queue's masked ones and every text that comes from a source or a
person passes through the one masker (:func:`citygov.identifiers.scrub`) again on the way out: a file leaves
the platform, so nothing in it may be an identifier in clear. Only the columns the platform writes itself
(:data:`MADE_HERE`: numbers, states, dates, yes/no) skip it. A text a spreadsheet would run as a formula is
quoted with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

from citygov.disputes.queue import DisputeLine, DisputeView
from citygov.identifiers import scrub
from citygov.settings import city_time_text

FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


COLUMNS: tuple[tuple[str, Callable[[DisputeView | DisputeLine], Any]], ...] = (
    ("编号 ID", lambda d: d.id),
    ("状态 Status", lambda d: d.status),
    ("状态(英) Status (en)", lambda d: d.status_en),
    ("级别 Severity", lambda d: d.severity or ""),
    ("维度 Dimension", lambda d: d.dimension or ""),
    ("规则 Rule", lambda d: d.rule_title),
    ("规则代码 Rule id", lambda d: d.rule_id or ""),
    ("来源 Origin", lambda d: d.origin),
    ("数据集 Dataset", lambda d: d.entry_code or d.location or ""),
    ("信息项 Column", lambda d: d.column or ""),
    ("记录主键(脱敏) Record key (masked)", lambda d: d.record_key or ""),
    ("标题 Title", lambda d: d.title),
    ("责任单位 Unit", lambda d: d.responsible_unit or "未定责"),
    ("经办人 Assignee", lambda d: d.assignee or ""),
    ("提出人 Raised by", lambda d: d.raised_by),
    ("提出时间 Raised at", lambda d: city_time_text(d.created_at)),
    ("已开天数 Age (days)", lambda d: d.age_days),
    ("期限 Due", lambda d: city_time_text(d.due_date)),
    ("超期 Overdue", lambda d: "是 yes" if d.overdue else "否 no"),
    ("办结时间 Resolved at", lambda d: city_time_text(d.resolved_at)),
    ("按期办结 Resolved on time", lambda d: "" if d.resolved_on_time is None else ("是 yes" if d.resolved_on_time else "否 no")),
)
"""Header (Chinese, English) and value of each exported column."""


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is taken as a formula by spreadsheets (CSV injection)."""


MADE_HERE = frozenset({
    "编号 ID", "状态 Status", "状态(英) Status (en)", "提出时间 Raised at", "已开天数 Age (days)", "期限 Due",
    "超期 Overdue", "办结时间 Resolved at", "按期办结 Resolved on time",
})
"""Headers of the columns whose values the platform writes itself (an item's number, its state, dates it
formats, counts, yes/no): they cannot hold personal data and skip the masker. Every other column (titles,
record keys, rules, datasets, columns, units, people) holds text from sources or people and is masked."""


def _unformula(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _cell(value: Any) -> Any:
    """A masked value, a text that a spreadsheet would run as a formula quoted with ``'``."""
    return _unformula(scrub(value))


def queue_rows(items: Sequence[DisputeView | DisputeLine]) -> list[list[Any]]:
    """The items as export rows (the header first), every text from a source or a person masked, none a
    formula."""
    columns = []
    for header, get in COLUMNS:
        values = [get(d) for d in items]
        # Column by column, each distinct value once: units, rules, datasets and people repeat on most lines.
        shown = {v: (_unformula(v) if header in MADE_HERE else _cell(v)) for v in set(values) if isinstance(v, str)}
        columns.append([shown.get(v, v) for v in values])  # numbers and None pass as they are
    return [[h for h, _ in COLUMNS], *map(list, zip(*columns, strict=True))]


def export_queue(items: Sequence[DisputeView | DisputeLine], fmt: str) -> bytes:
    """The items (as :func:`~citygov.disputes.list_disputes` or
    :func:`~citygov.disputes.queue.list_dispute_lines` returned them) as a ``csv`` or ``xlsx`` file."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    rows = queue_rows(items)
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        return buffer.getvalue().encode("utf-8-sig")
    return _xlsx(rows)


def _xlsx(rows: list[list[Any]]) -> bytes:
    """The rows as a one-sheet workbook (openpyxl's write-only mode), the headings frozen. No text starts a
    formula: :func:`queue_rows` quoted those."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet("异议队列 Disputes")
    for i, (header, _) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(header) + 4))
    sheet.freeze_panes = "A2"
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


__all__ = ["COLUMNS", "FORMATS", "MADE_HERE", "MEDIA_TYPES", "export_queue", "queue_rows"]
