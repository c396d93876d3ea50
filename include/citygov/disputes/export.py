"""The dispute queue as a file for a spreadsheet (队列导出): CSV (UTF-8 with a BOM) or XLSX.

One row per item, the columns of the queue page plus its dates, in the order :func:`list_disputes` gives
them for the same filters. Record keys are the queue's masked ones and every text passes through the one
masker (:func:`citygov.identifiers.scrub`) again on the way out: a file leaves the platform, so nothing in
it may be an identifier in clear. A text a spreadsheet would run as a formula is quoted with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

from citygov.disputes.queue import DisputeView
from citygov.identifiers import scrub
from citygov.settings import city_time_text

FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


COLUMNS: tuple[tuple[str, Callable[[DisputeView], Any]], ...] = (
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


def _cell(value: Any) -> Any:
    """A masked value, a text that a spreadsheet would run as a formula quoted with ``'``."""
    value = scrub(value)
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def queue_rows(items: Sequence[DisputeView]) -> list[list[Any]]:
    """The items as export rows (the header first), every text masked, none a formula."""
    return [[h for h, _ in COLUMNS]] + [[_cell(get(d)) for _, get in COLUMNS] for d in items]


def export_queue(items: Sequence[DisputeView], fmt: str) -> bytes:
    """The items (as :func:`~citygov.disputes.list_disputes` returned them) as a ``csv`` or ``xlsx`` file."""
    rows = queue_rows(items)
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        return buffer.getvalue().encode("utf-8-sig")
    if fmt == "xlsx":
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
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")


__all__ = ["COLUMNS", "FORMATS", "MEDIA_TYPES", "export_queue", "queue_rows"]
