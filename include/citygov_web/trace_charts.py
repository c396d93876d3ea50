"""The 数据血缘 / 共享追溯 page's pictures, inline SVG drawn on the server (nothing fetched, no JavaScript):
the lineage graph of one dataset (where it comes from, the inspection reading it, who received it) and the
timeline of its shares coloured by the grade each was served at."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from html import escape

from markupsafe import Markup

from citygov.trace import DatasetTrace, Share

GRADE_COLOURS = {"优秀": "#15803d", "良好": "#65a30d", "合格": "#b45309", "不合格": "#b91c1c"}
"""A grade's colour; a share served with no grade is grey."""
NO_GRADE = "#9ca3af"
_NODE_W, _NODE_H, _GAP = 168, 46, 36


def grade_colour(grade: str | None) -> str:
    return GRADE_COLOURS.get(grade or "", NO_GRADE)


def _worst(shares: Sequence[Share]) -> str | None:
    order = list(GRADE_COLOURS)
    graded = [s.grade for s in shares if s.grade in GRADE_COLOURS]
    return max(graded, key=order.index) if graded else None


def _short(text: str, width: int = 26) -> str:
    """``text`` cut to ``width`` columns (a CJK character takes two), with … when cut."""
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0x2E7F else 1
        if used > width:
            return text[: max(0, i - 1)] + "…"
    return text


def _node(x: float, y: float, title: str, sub: str, *, kind: str, colour: str = "#0f62fe",
          tip: str | None = None) -> str:
    return (f'<g class="node" data-node="{escape(kind)}"><title>{escape(tip or f"{title} {sub}")}</title>'
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{_NODE_W}" height="{_NODE_H}" rx="6" fill="#fff" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<text x="{x + 8:.0f}" y="{y + 19:.0f}" font-size="12" fill="#1f2933">{escape(_short(title))}</text>'
            f'<text x="{x + 8:.0f}" y="{y + 36:.0f}" font-size="10" fill="#6b7280">{escape(_short(sub, 31))}</text></g>')


def _edge(x1: float, y1: float, x2: float, y2: float, label: str = "") -> str:
    mid = (x1 + x2) / 2
    out = (f'<path d="M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2 - 6:.0f},{y2:.0f}" '
           f'fill="none" stroke="#9ca3af" stroke-width="1.5" marker-end="url(#arrow)" class="edge"/>')
    if label:
        out += (f'<text x="{mid:.0f}" y="{(y1 + y2) / 2 - 4:.0f}" font-size="10" text-anchor="middle" '
                f'fill="#6b7280">{escape(label)}</text>')
    return out


def lineage_graph(trace: DatasetTrace) -> Markup:
    """Origin → (landing) → the dataset's table → the inspection and the exchange platform → each receiver."""
    o = trace.origin
    receivers = trace.receivers
    col = [10 + i * (_NODE_W + 50) for i in range(5)]
    height = max(3 * (_NODE_H + _GAP), len(receivers) * (_NODE_H + 10) + 40) + 20
    mid = height / 2 - _NODE_H / 2
    parts = [f'<svg class="chart lineage" width="{col[4] + _NODE_W + 10}" height="{height:.0f}" '
             f'viewBox="0 0 {col[4] + _NODE_W + 10} {height:.0f}" role="img" aria-label="数据血缘 lineage of {escape(trace.code)}">'
             '<title>数据血缘 lineage</title><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" '
             'markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#9ca3af"/>'
             '</marker></defs>']
    table_x = col[2]
    if o.kind == "backflow":
        loaded = [b for b in o.batches if b.get("status") == "loaded"]
        parts.append(_node(col[0], mid, "省级回流接口", f"province API · {o.department or '—'}", kind="province"))
        parts.append(_node(col[1], mid, "落地区 landing", f"{o.landing} · {len(o.batches)} 批 batches", kind="landing",
                           tip="; ".join(f"{b['batch_id']} {b['status']}" for b in o.batches)))
        parts.append(_edge(col[0] + _NODE_W, mid + _NODE_H / 2, col[1], mid + _NODE_H / 2, "批次 batches"))
        rows = sum(int(b.get("loaded") or 0) for b in loaded)
        quarantined = sum(int(b.get("quarantined") or 0) for b in loaded)
        parts.append(_edge(col[1] + _NODE_W, mid + _NODE_H / 2, table_x, mid + _NODE_H / 2,
                           f"{rows} 行 rows, {quarantined} 隔离 quarantined"))
    else:
        parts.append(_node(col[1], mid, o.department or "部门 department", f"{o.source_kind or 'source'} {o.conn_id or ''}",
                           kind="department"))
        parts.append(_edge(col[1] + _NODE_W, mid + _NODE_H / 2, table_x, mid + _NODE_H / 2))
    parts.append(_node(table_x, mid, f"{o.conn_id or '—'}/{o.location or '—'}", f"{trace.code} {trace.name or ''}",
                       kind="table"))
    latest = trace.scores[-1] if trace.scores else None
    grade = latest["grade"] if latest else None
    top, bottom = mid - _NODE_H - _GAP, mid + _NODE_H + _GAP
    parts.append(_node(col[3], top, "质量检查 inspection",
                       f"{grade or '未评分'} · {latest['logical_date'] if latest else '—'}", kind="inspection",
                       colour=grade_colour(grade)))
    parts.append(_edge(table_x + _NODE_W, mid + _NODE_H / 2, col[3], top + _NODE_H / 2, "读取 reads"))
    parts.append(_node(col[3], bottom, "共享交换平台", f"exchange · {len(trace.shares)} 次共享 shares", kind="exchange"))
    parts.append(_edge(table_x + _NODE_W, mid + _NODE_H / 2, col[3], bottom + _NODE_H / 2, trace.share_method or ""))
    step = _NODE_H + 10
    first = height / 2 - len(receivers) * step / 2 + 5
    for i, r in enumerate(receivers):
        y = first + i * step
        theirs = [s for s in trace.shares if s.requester == r["requester"]]
        worst = _worst(theirs)
        parts.append(_node(col[4], y, r["requester"], f"×{r['shares']} · 最差 worst {worst or '—'}", kind="receiver",
                           colour=grade_colour(worst),
                           tip=f"{r['requester']}: {r['shares']} 次 shares {r['first']}..{r['last']}"))
        parts.append(_edge(col[3] + _NODE_W, bottom + _NODE_H / 2, col[4], y + _NODE_H / 2))
    if not receivers:
        parts.append(f'<text x="{col[4]}" y="{bottom + _NODE_H / 2:.0f}" font-size="11" fill="#9ca3af">'
                     '尚无共享 no share yet</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def share_timeline(shares: Sequence[Share], *, width: int = 900, height: int = 80) -> Markup:
    """Each share as a dot on a time axis, coloured by the grade it was served at; hover says who and when."""
    if not shares:
        return Markup(f'<svg class="chart timeline" width="{width}" height="{height}" role="img" aria-label="共享时间线">'
                      f'<text x="8" y="{height // 2}" fill="#9ca3af">暂无共享 no share</text></svg>')
    days = [s.served_on for s in shares]
    start, end = min(days), max(days)
    span = max(1, (end - start).days)
    pad = 20
    axis = height - 24

    def x(day: date) -> float:
        return pad + (width - 2 * pad) * (day - start).days / span

    parts = [f'<svg class="chart timeline" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="共享时间线 share timeline"><title>共享时间线 share timeline</title>'
             f'<line x1="{pad}" x2="{width - pad}" y1="{axis}" y2="{axis}" stroke="#e5e7eb"/>']
    stacked: dict[date, int] = {}
    for s in shares:
        level = stacked.get(s.served_on, 0)
        stacked[s.served_on] = level + 1
        cy = axis - 8 - 11 * (level % 5)
        tip = (f"{s.served_on} {s.requester}: {s.grade or '未评分 no grade'}"
               + (f", {len(s.open_high)} 个高严重度异议 open high items" if s.open_high else ""))
        parts.append(f'<circle cx="{x(s.served_on):.1f}" cy="{cy}" r="5" fill="{grade_colour(s.grade)}" '
                     f'stroke="{"#b91c1c" if s.open_high else "#fff"}" stroke-width="1.5" data-share="{escape(s.request_id)}">'
                     f'<title>{escape(tip)}</title></circle>')
    ticks = {start, end} | ({start + timedelta(days=span // 2)} if span > 20 else set())
    for t in sorted(ticks):
        anchor = "start" if t == start else ("end" if t == end else "middle")
        parts.append(f'<text x="{x(t):.1f}" y="{height - 6}" font-size="10" fill="#6b7280" text-anchor="{anchor}">{t}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
