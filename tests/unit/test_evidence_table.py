"""An item's evidence on its page is a table: keys as row headers, lists of records as sub-tables, nothing
empty and no Python representation (``None``, ``{'column': …}``, ``[…]``) ever shown."""

from __future__ import annotations

from html.parser import HTMLParser

from citygov_web.app import _templates

EVIDENCE = {
    "expectation": "expect_column_values_to_be_valid_ric",
    "kwargs": {"column": "sfzhm", "mostly": None},
    "unexpected_count": 3,
    "samples": [
        {"key": "320707********6256", "value": "320707********6256", "reason": "校验位错误 check character wrong"},
        {"key": "320723********3352", "value": "320723********3352"},
    ],
    "key_columns": ["sfzhm"],
    "error": None,
    "draft_rule": "",
    "strict": False,
}


class Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.tables = 0
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tables += tag == "table"
        self._in = tag if tag == "th" else None

    def handle_data(self, data: str) -> None:
        if self._in == "th" and data.strip():
            self.headers.append(data.strip())


def test_evidence_is_rendered_as_a_table_without_python_reprs() -> None:
    macro = _templates().from_string('{% from "_items.html" import evidence_table %}{{ evidence_table(e) }}')
    html = macro.render(e=EVIDENCE)
    for text in ("None", "{'", "['", "'column'"):
        assert text not in html, text
    cells = Cells()
    cells.feed(html)
    assert cells.tables == 3  # the evidence, its parameters, its samples
    assert cells.headers[:2] == ["规则 rule", "规则参数 parameters"]
    assert "错误 error" not in cells.headers and "草稿规则 draft rule" not in cells.headers  # empty: left out
    assert ["记录主键 record key", "值 value", "原因 reason"] == [h for h in cells.headers if h in
                                                             ("记录主键 record key", "值 value", "原因 reason")]
    assert "<code>sfzhm</code>" in html and "否 no" in html and html.count("<tr>") >= 7
    assert "—" in html  # the second sample has no reason: a dash, not None
