"""What a notification says: a unit's daily digest, an escalation to the stewards, a DAG failure.

Each is rendered once into a payload (``subject``, ``text`` for mail, ``markdown`` for the robots,
``data`` for the generic JSON webhook, ``queue_link``) and sealed: every string goes through the one
masker (:func:`citygov.identifiers.scrub`) and the result is refused if :func:`find_unmasked` still finds
an ID number, mobile number, bank card or number plate in it. What is stored and sent is that payload.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from citygov.identifiers import scrub
from citygov.notify.routes import Routes
from citygov.quality.masking import find_unmasked
from citygov.settings import CITY_TZ, city_time_text

SECTIONS = (
    ("overdue", "超期", "Overdue"),
    ("due_soon", "一个工作日内到期", "Due within one working day"),
    ("new", "新增", "New since the last digest"),
)


class UnmaskedContent(RuntimeError):
    """A rendered notification still holds personal data after masking: it is not sent."""


@dataclass(frozen=True)
class DigestItem:
    """One dispute item as a notification shows it (masked fields only)."""

    id: int
    title: str
    rule: str
    dataset: str | None
    unit: str | None
    status: str
    due_date: str | None
    record_key: str | None
    """Masked as the queue keeps it."""
    link: str

    def line(self) -> str:
        parts = [f"#{self.id} {self.title}"]
        if self.dataset:
            parts.append(f"数据集 dataset {self.dataset}")
        if self.rule:
            parts.append(f"规则 rule {self.rule}")
        if self.record_key:
            parts.append(f"记录 record {self.record_key}")
        parts.append(f"状态 {self.status}")
        if self.due_date:
            parts.append(f"截止 due {self.due_date}")
        return " | ".join(parts)


def queue_link(routes: Routes, unit: str | None = None, *, overdue: bool = False) -> str:
    base = (routes.base_url or "http://localhost:8080").rstrip("/")
    query = {k: v for k, v in (("department", unit or ""), ("overdue", "true" if overdue else "")) if v}
    return f"{base}/citygov/web/disputes" + (f"?{urllib.parse.urlencode(query)}" if query else "")


def seal(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` masked, and checked: :class:`UnmaskedContent` if anything personal is left."""
    sealed = scrub(payload)
    left = find_unmasked(json.dumps(sealed, ensure_ascii=False), organisations=False)
    if left:
        raise UnmaskedContent(f"{len(left)} unmasked identifier(s) in a {payload.get('kind')} notification; not sent")
    return sealed


def digest_payload(unit: str, day: str, since: datetime, sections: dict[str, list[DigestItem]], routes: Routes) -> dict[str, Any]:
    """A unit's daily digest: overdue, due within one working day, new since ``since``."""
    counts = {name: len(sections.get(name, [])) for name, _, _ in SECTIONS}
    subject = (f"【数据异议日报】{unit} {day}: 超期 {counts['overdue']}, 即将到期 {counts['due_soon']}, "
               f"新增 {counts['new']} (dispute digest)")
    link = queue_link(routes, unit)
    text = [subject, ""]
    md = [f"### 数据异议日报 Dispute digest · {unit} · {day}", ""]
    for name, zh, en in SECTIONS:
        items = sections.get(name, [])
        title = f"{zh} {en}" + (f" ({city_time_text(since)} 起)" if name == "new" else "") + f": {len(items)}"
        text.append(title)
        md.append(f"**{title}**")
        for item in items:
            text += [f"- {item.line()}", f"  {item.link}"]
            md.append(f"- [#{item.id}]({item.link}) {item.line().split(' ', 1)[1]}")
        text.append("")
        md.append("")
    text.append(f"全部待办 The unit's queue: {link}")
    md.append(f"[全部待办 The unit's queue]({link})")
    data = {
        "type": "citygov.dispute_digest", "unit": unit, "date": day, "since": since.astimezone(CITY_TZ).isoformat(),
        "counts": counts, "queue_link": link,
        "items": {name: [asdict(i) for i in sections.get(name, [])] for name, _, _ in SECTIONS},
    }
    ids = sorted({i.id for items in sections.values() for i in items})
    return seal({"kind": "digest", "subject": subject, "text": "\n".join(text), "markdown": "\n".join(md),
                 "data": data, "queue_link": link, "item_ids": ids})


def escalation_payload(items: list[DigestItem], now: datetime, routes: Routes) -> dict[str, Any]:
    """Overdue items escalated by the SLA run, for the stewards."""
    units = sorted({i.unit or "未定责" for i in items})
    subject = f"【异议超期升级】{len(items)} 项超期 overdue, {len(units)} 个单位 unit(s) (dispute escalation)"
    link = queue_link(routes, overdue=True)
    text, md = [subject, ""], [f"### 异议超期升级 Overdue dispute items escalated · {city_time_text(now)}", ""]
    for unit in units:
        text.append(f"{unit}:")
        md.append(f"**{unit}**")
        for item in (i for i in items if (i.unit or "未定责") == unit):
            text += [f"- {item.line()}", f"  {item.link}"]
            md.append(f"- [#{item.id}]({item.link}) {item.line().split(' ', 1)[1]}")
        text.append("")
        md.append("")
    text.append(f"全部超期 Every overdue item: {link}")
    md.append(f"[全部超期 Every overdue item]({link})")
    data = {"type": "citygov.dispute_escalation", "at": now.astimezone(CITY_TZ).isoformat(), "queue_link": link,
            "items": [asdict(i) for i in items]}
    return seal({"kind": "escalation", "subject": subject, "text": "\n".join(text), "markdown": "\n".join(md),
                 "data": data, "queue_link": link, "item_ids": sorted(i.id for i in items)})


def failure_payload(*, dag_id: str, task_id: str | None, run_id: str, try_number: int | None, logical_date: str | None,
                    error: str | None, log_url: str | None) -> dict[str, Any]:
    """A failed DAG task for the operators: what failed, the error's first line, the log's link."""
    where = f"{dag_id}.{task_id}" if task_id else dag_id
    subject = f"【任务失败 DAG failure】{where} ({run_id})"
    reason = (error or "").strip().splitlines()[0][:500] if error else "(no error message)"
    lines = [subject, "", f"DAG: {dag_id}", f"任务 task: {task_id or '-'}", f"运行 run: {run_id}",
             f"逻辑日期 logical date: {logical_date or '-'}", f"尝试 try: {try_number or '-'}",
             f"错误 error: {reason}"]
    if log_url:
        lines.append(f"日志 log: {log_url}")
    md = [f"### 任务失败 DAG failure · {where}", *[f"- {line}" for line in lines[2:-1 if log_url else None]]]
    if log_url:
        md.append(f"- [日志 log]({log_url})")
    data = {"type": "citygov.dag_failure", "dag_id": dag_id, "task_id": task_id, "run_id": run_id,
            "try_number": try_number, "logical_date": logical_date, "error": reason, "log_url": log_url}
    return seal({"kind": "failure", "subject": subject, "text": "\n".join(lines), "markdown": "\n".join(md),
                 "data": data, "queue_link": log_url, "item_ids": []})


def consumer_notice_payload(item: DigestItem, *, unit: str, dataset_name: str | None, severity: str | None,
                            batch_id: str | None, received: dict[str, Any], basis: str,
                            routes: Routes) -> dict[str, Any]:
    """A department that received a dataset is told of a problem found in it: which dataset, what was found
    (the item, with its link), and when the department received it (``received``: shares, first and last
    served day, as :func:`citygov.trace.receivers_to_notify` lists them)."""
    dataset = " ".join(p for p in (item.dataset, dataset_name and f"《{dataset_name}》") if p) or "-"
    found = (f"回流批次 {batch_id} 的记录被隔离 rows of backflow batch {batch_id} quarantined" if batch_id
             else f"高严重度问题 a {severity}-severity finding")
    subject = f"【数据问题告知】{unit}: 您单位接收的数据集 {item.dataset or '-'} 发现问题 #{item.id} (notice to receivers)"
    when = f"{received['shares']} 次 share(s), {received['first']} – {received['last']}"
    trace = f"{(routes.base_url or 'http://localhost:8080').rstrip('/')}/citygov/web/datasets/{item.dataset}/trace" \
        if item.dataset else None
    text = [subject, "",
            f"数据集 Dataset: {dataset}",
            f"发现 Found: {found}",
            f"问题 Item: {item.line()}",
            f"  {item.link}",
            f"您单位接收 Received by {unit}: {when} ({basis})",
            "请核查已使用该数据的业务，待问题处置后以更正后的数据为准。"
            " Please check what your unit did with this data; the item's page shows how it is resolved."]
    md = [f"### 数据问题告知 Notice to receivers · {unit}", "",
          f"- 数据集 Dataset: {dataset}",
          f"- 发现 Found: {found}",
          f"- 问题 Item: [#{item.id}]({item.link}) {item.line().split(' ', 1)[1]}",
          f"- 您单位接收 Received: {when} ({basis})"]
    if trace:
        text.append(f"共享追溯 Share trace: {trace}")
        md.append(f"- [共享追溯 Share trace]({trace})")
    data = {"type": "citygov.consumer_notice", "unit": unit, "dataset": item.dataset, "dataset_name": dataset_name,
            "severity": severity, "batch_id": batch_id, "item": asdict(item), "received": dict(received),
            "basis": basis, "trace_link": trace}
    return seal({"kind": "consumer_notice", "subject": subject, "text": "\n".join(text), "markdown": "\n".join(md),
                 "data": data, "queue_link": item.link, "item_ids": [item.id]})
