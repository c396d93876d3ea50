"""The monthly department report (:class:`citygov.monthly.DepartmentMonth`) as a PDF, drawn with fpdf2
(pure Python, the ``reports`` extra) in a CJK font found on the host.

The font is ``CITYGOV_CJK_FONT`` when set (a .ttf/.otf/.ttc file), else the first of :data:`FONT_CANDIDATES`
that exists (Debian's fonts-wqy-microhei, fonts-wqy-zenhei, fonts-noto-cjk). Without fpdf2 or a font,
:func:`render_pdf` raises :class:`PdfUnavailable` saying what to install; the page itself still prints
from the browser.

fpdf2 reads a CJK font's tables and maps its tens of thousands of characters on every ``add_font`` (about
0.3 s for wqy-microhei), so the font is parsed once per process (:func:`_parsed_font`) and each document
gets a copy of it with its own per-document state (see :func:`_add_cjk_font`). One face draws everything,
the table headings too (a CJK font file here has no bold face; the regular one always stood in for it).
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citygov.monthly import DepartmentMonth

if TYPE_CHECKING:
    from fpdf import FPDF

FONT_ENV = "CITYGOV_CJK_FONT"
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
PRINT_HINT = "打印本页即可 (Ctrl+P) — or print this page from the browser instead"


class PdfUnavailable(RuntimeError):
    """The PDF cannot be made on this host (no fpdf2, no CJK font); the message says what to install."""


def cjk_font(candidates: Sequence[Path] = FONT_CANDIDATES) -> Path:
    """The CJK font to draw with: ``$CITYGOV_CJK_FONT`` when set, else the first candidate present."""
    named = os.environ.get(FONT_ENV)
    if named:
        if not Path(named).is_file():
            raise PdfUnavailable(f"{FONT_ENV}={named} is not a font file; point it at a CJK .ttf/.ttc "
                                 f"(e.g. {FONT_CANDIDATES[0]}). {PRINT_HINT}")
        return Path(named)
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        looked = ", ".join(str(p) for p in candidates) or "nowhere"
        raise PdfUnavailable(f"PDF 需要中文字体 needs a CJK font, none found (looked at {looked}): install one "
                             f"(apt-get install fonts-wqy-microhei) or set {FONT_ENV}. {PRINT_HINT}")
    return found


FAMILY = "cjk"
"""The family name the document draws in (fpdf2's font key)."""


_PARSING = threading.Lock()


@lru_cache(maxsize=4)
def _parsed_font(path: str, version: tuple[int, int]) -> Any:
    """``path`` parsed by fpdf2 (its ``TTFFont``), once per process and font file ``version`` (mtime, size):
    the prototype :func:`_add_cjk_font` copies; it never draws itself."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font(FAMILY, fname=path)
    font = pdf.fonts[FAMILY]
    font.ttfont.close()  # every copy opens its own
    return font


def _add_cjk_font(pdf: FPDF, path: Path) -> None:
    """``pdf.add_font(FAMILY, fname=path)``, without parsing the font again.

    What fpdf2 works out from the font once (character map, widths, glyph ids, descriptor) is shared with
    the process's prototype, as fpdf2 itself shares them between a document and its ``FPDFRecorder`` copies
    (``TTFFont.__deepcopy__``). What a document changes is its own: the used-glyph subset, missing glyphs,
    widths (a defaultdict filled on lookup), the biggest size, the font descriptor (fpdf2 gives it the
    document's object id, font name and embedded file when it writes), and the fontTools font, which fpdf2
    subsets in place and closes when it writes the file. Requests drawing at once share nothing they change."""
    from fontTools import ttLib
    from fpdf.fonts import SubsetMap

    stat = path.stat()
    with _PARSING:  # requests arriving together wait for the one parse
        prototype = _parsed_font(str(path), (stat.st_mtime_ns, stat.st_size))
    font = copy.copy(prototype)
    font.i = len(pdf.fonts) + 1
    font.ttfont = ttLib.TTFont(str(path), recalcTimestamp=False, lazy=True,
                                 fontNumber=getattr(prototype, "collection_font_number", 0))
    font.cw = defaultdict(prototype.cw.default_factory, prototype.cw)
    font.desc = copy.copy(prototype.desc)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font._hbfont = None
    font.subset = SubsetMap(font)
    pdf.fonts[FAMILY] = font


def render_pdf(report: DepartmentMonth, *, printed_at: datetime, candidates: Sequence[Path] = FONT_CANDIDATES) -> bytes:
    """The report as PDF bytes (A4, one table a section), or :class:`PdfUnavailable`."""
    try:
        from fpdf import FPDF
        from fpdf.fonts import FontFace
    except ImportError:
        raise PdfUnavailable(f"PDF needs fpdf2: pip install 'citygov[reports]'. {PRINT_HINT}") from None
    font = cjk_font(candidates)
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # its subsetter logs every table at INFO
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    try:
        _add_cjk_font(pdf, font)
    except (AttributeError, TypeError, ImportError) as exc:  # an fpdf2 whose font internals differ: parse it here
        logging.getLogger(__name__).debug("font copy unavailable (%s): parsing %s", exc, font)
        pdf.add_font(FAMILY, fname=str(font))
    pdf.add_page()
    r = report
    pdf.set_font(FAMILY, size=16)
    pdf.cell(0, 10, f"{r.department} 数据治理月报 {r.month}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=9)
    pdf.cell(0, 6, f"Monthly department report · {r.first_day.isoformat()} – {r.last_day.isoformat()}"
             f"{'' if r.complete else ' (本月未结束 month not over)'} · 打印 printed {printed_at:%Y-%m-%d %H:%M}",
             new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    def table(title: str, widths: tuple[int, ...], rows: list[tuple[str, ...]], *, size: int = 10,
              headings: bool = False) -> None:
        """A section: its title, then ``rows`` (the first one as headings when ``headings``)."""
        pdf.set_font(FAMILY, size=12)
        pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, size=size)
        # Headings in the one face (fpdf2's default asks for a bold one).
        with pdf.table(col_widths=widths, first_row_as_headings=headings, headings_style=FontFace()) as t:
            for row in rows:
                t.row(row)
        pdf.ln(3)

    pct = lambda v: "—" if v is None else f"{v:.2%}"  # noqa: E731
    table("质量与目录 Quality and catalog", (60, 120), [
        ("质量得分 Score", "未评分 not scored" if r.score is None else f"{r.score:.2f} {r.grade}"),
        ("排名 Rank", "—" if r.rank is None else f"{r.rank} / {r.ranked}"),
        ("评分日 Scored on", r.scored_on.isoformat() if r.scored_on else "—"),
        ("数据集 Datasets", str(r.datasets)),
        ("目录覆盖率 Catalog coverage", f"{pct(r.coverage)}" + (f" ({r.catalogued}/{r.found})" if r.found is not None else "")),
        ("普查日 Census of", r.census_on.isoformat() if r.census_on else "—"),
    ])
    table("异议处置 Disputes", (60, 120), [
        ("本月新增 Raised in the month", str(r.raised)),
        ("本月办结 Handled in the month", str(r.resolved)),
        ("按期办结 Handled on time", f"{r.resolved_on_time} ({pct(r.share_on_time)})"),
        (f"{r.last_day.isoformat()} 日终未办结 Open", str(r.open_at_end)),
        (f"{r.last_day.isoformat()} 日终超期 Overdue", str(r.overdue_at_end)),
    ])
    if r.handled:
        table("本月办结事项 Items handled in the month", (15, 30, 25, 110), [
            ("编号", "办结 Resolved", "按期 On time", "事项 Item"),
            *[(f"#{h.dispute_id}", f"{h.resolved_at:%Y-%m-%d %H:%M}", "是 yes" if h.on_time else "否 no",
               (h.title or "")[:80]) for h in r.handled]], size=9, headings=True)
    if r.dataset_rows:
        table("数据集得分（从低到高）Datasets, worst first", (40, 90, 25, 25), [
            ("代码 Code", "名称 Name", "得分 Score", "等级 Grade"),
            *[(d.code, d.name or "—", "—" if d.score is None else f"{d.score:.2f}", d.grade or "—")
              for d in r.dataset_rows]], size=9, headings=True)
    return bytes(pdf.output())


__all__ = ["FONT_CANDIDATES", "FONT_ENV", "PdfUnavailable", "cjk_font", "render_pdf"]
