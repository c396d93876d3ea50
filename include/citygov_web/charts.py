"""Small inline SVG charts (no JavaScript, nothing fetched): trend lines, a radar of the six dimensions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup


def _fmt(value: float, percent: bool) -> str:
    return f"{value:.1%}" if percent else f"{value:.1f}"


def trend_line(
    points: Sequence[tuple[str, float | None]],
    *,
    target: float | None = None,
    percent: bool = True,
    width: int = 360,
    height: int = 140,
    title: str = "",
) -> Markup:
    """A line chart of ``(label, value)`` points, with a dashed target line; empty values are skipped."""
    known = [(label, v) for label, v in points if v is not None]
    if not known:
        return Markup(f'<svg class="chart" width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
                      f'<text x="8" y="{height // 2}" class="muted">暂无数据 no data</text></svg>')
    pad_l, pad_r, pad_t, pad_b = 44, 10, 10, 24
    values = [v for _, v in known] + ([target] if target is not None else [])
    low, high = min(values), max(values)
    if percent:
        low, high = max(0.0, min(low, 1.0) - 0.05), min(1.0, high + 0.02)
    else:
        low, high = max(0.0, low - 5), min(100.0, high + 2)
    if high - low < 1e-9:
        high = low + (0.01 if percent else 1)
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    step = inner_w / max(1, len(known) - 1)

    def x(i: int) -> float:
        return pad_l + (i * step if len(known) > 1 else inner_w / 2)

    def y(v: float) -> float:
        return pad_t + inner_h * (1 - (v - low) / (high - low))

    parts = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for v in (low, (low + high) / 2, high):
        parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
                     f'<text x="{pad_l - 4}" y="{y(v) + 4:.1f}" text-anchor="end" class="axis">{_fmt(v, percent)}</text>')
    if target is not None:
        parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y(target):.1f}" y2="{y(target):.1f}" class="target"/>'
                     f'<text x="{width - pad_r}" y="{y(target) - 3:.1f}" text-anchor="end" class="axis">目标 {_fmt(target, percent)}</text>')
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(v):.1f}" for i, (_, v) in enumerate(known))
    parts.append(f'<path d="{path}" class="line"/>')
    for i, (label, v) in enumerate(known):
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" class="dot"><title>{escape(label)}: '
                     f'{_fmt(v, percent)}</title></circle>')
    labels = {0, len(known) - 1} | ({len(known) // 2} if len(known) > 4 else set())
    for i in sorted(labels):
        anchor = "start" if i == 0 and len(known) > 1 else ("end" if i == len(known) - 1 and len(known) > 1 else "middle")
        parts.append(f'<text x="{x(i):.1f}" y="{height - 6}" text-anchor="{anchor}" class="axis">{escape(known[i][0])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def radar(ratios: dict[str, float | None], *, size: int = 260) -> Markup:
    """A radar (spider) chart of dimension ratios 0–1; a dimension not evaluated is drawn at 0 and greyed."""
    names = list(ratios)
    if not names:
        return Markup("")
    c, r = size / 2, size / 2 - 42
    n = len(names)

    def point(i: int, v: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        return c + r * v * math.cos(angle), c + r * v * math.sin(angle)

    parts = [f'<svg class="chart radar" width="{size}" height="{size}" viewBox="0 0 {size} {size}" role="img" '
             'aria-label="六维度 six dimensions">']
    for ring in (0.25, 0.5, 0.75, 1.0):
        ring_pts = " ".join(f"{px:.1f},{py:.1f}" for px, py in (point(i, ring) for i in range(n)))
        parts.append(f'<polygon points="{ring_pts}" class="grid"/>')
    for i, name in enumerate(names):
        ex, ey = point(i, 1.0)
        lx, ly = point(i, 1.22)
        value = ratios[name]
        label = f"{name} {value:.1%}" if value is not None else f"{name} 未评价"
        parts.append(f'<line x1="{c}" y1="{c}" x2="{ex:.1f}" y2="{ey:.1f}" class="grid"/>'
                     f'<text x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="middle" class="axis'
                     f'{" muted" if value is None else ""}">{escape(label)}</text>')
    shape = " ".join(f"{px:.1f},{py:.1f}" for px, py in (point(i, ratios[nm] or 0.0) for i, nm in enumerate(names)))
    parts.append(f'<polygon points="{shape}" class="area"/></svg>')
    return Markup("".join(parts))


def failing_bars(
    points: Sequence[tuple[str, int | None, bool | None]],
    *,
    links: Sequence[str | None] = (),
    width: int = 240,
    height: int = 56,
    title: str = "",
) -> Markup:
    """A small bar chart of one rule's failing rows per date: ``(date, failing rows, passed)``, oldest first.

    A failing date is a red bar (at least a sliver, so a failure of 1 row among 0 is seen), a passing one a
    green baseline mark, a date the rule did not run a grey dot; each says its date and count on hover
    (``<title>``), and links to ``links[i]`` (the date's Data Docs page) when given. First and last dates
    are written under the bars, the worst date's count (the scale) above them.
    """
    if not points:
        return Markup(f'<svg class="chart bars" width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
                      f'<text x="4" y="{height // 2}" class="muted">暂无数据 no data</text></svg>')
    pad_t, pad_b = 12, 14  # the scale above the bars, the dates below
    inner_h = height - pad_t - pad_b
    slot = width / len(points)
    bar_w = max(2.0, min(18.0, slot * 0.7))
    top = max([n or 0 for _, n, _ in points] + [1])
    base = pad_t + inner_h
    parts = [f'<svg class="chart bars" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
             f'<line x1="0" x2="{width}" y1="{base + 0.5:.1f}" y2="{base + 0.5:.1f}" class="grid"/>']
    for i, (label, failing, passed) in enumerate(points):
        x = i * slot + (slot - bar_w) / 2
        if passed is None:
            tip, shape = f"{label}: 未运行 not run", (f'<circle cx="{x + bar_w / 2:.1f}" cy="{base - 2:.1f}" r="1.5" '
                                                     'class="none"/>')
        elif passed:
            tip = f"{label}: 通过 passed, {failing or 0} 行不符 failing rows"
            shape = f'<rect x="{x:.1f}" y="{base - 2:.1f}" width="{bar_w:.1f}" height="2" class="pass"/>'
        else:
            h = max(3.0, inner_h * (failing or 0) / top) if failing is not None else inner_h
            count = "未能评价 not evaluated" if failing is None else f"{failing} 行不符 failing rows"
            tip = f"{label}: 未通过 failed, {count}"
            shape = f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" class="fail"/>'
        mark = f'<g data-date="{escape(label)}"><title>{escape(tip)}</title>{shape}</g>'
        link = links[i] if i < len(links) else None
        parts.append(f'<a href="{escape(link)}">{mark}</a>' if link else mark)
    if any(passed is False for _, _, passed in points):  # the scale: bars are relative to the worst date
        parts.append(f'<text x="{width}" y="{pad_t - 3}" text-anchor="end" class="axis">最多 max {top}</text>')
    first, last = points[0][0], points[-1][0]
    parts.append(f'<text x="0" y="{height - 2}" class="axis">{escape(first)}</text>')
    if len(points) > 1:
        parts.append(f'<text x="{width}" y="{height - 2}" text-anchor="end" class="axis">{escape(last)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
