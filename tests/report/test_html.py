"""The verdict as HTML and its place in Locust's report: pure, HTML in and HTML out."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

from loadgen.report.html import SECTION_ID, body_start, inject, page, section
from tests.report.samples import document

LOCUST_LIKE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <title>Locust</title>
    <script type="module">const frame = '<body style="margin:0;">'; const end = "</body>";</script>
  </head>
  <body class="x">
    <div id="root"></div>
    <script>window.templateArgs = {"a": "<body>"}</script>
  </body>
</html>
"""
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


class Cells(HTMLParser):
    """The text of each table row of the section, and the img sources."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.images: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs)["src"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parsed(html: str) -> Cells:
    cells = Cells()
    cells.feed(html)
    return cells


def test_the_section_has_a_row_per_scenario_with_its_verdict_and_the_plot_inline() -> None:
    """Every judged scenario has its row, PASS or FAIL as judged; the PNG is a data URI of its bytes."""
    doc = document(failing="steady")
    html = section(doc, PNG)
    cells = parsed(html)
    by_scenario = {row[0]: row for row in cells.rows if row and row[0] in doc["scenarios"]}
    assert set(by_scenario) == set(doc["scenarios"])
    for name, row in by_scenario.items():
        judged = [v["passed"] for v in doc["verdicts"] if v["check"] == name]
        assert row[7] == ("PASS" if all(judged) else "FAIL")
    assert cells.images == ["data:image/png;base64," + base64.b64encode(PNG).decode()]
    assert 'data-result="FAIL"' in html and "FAIL" in html


def test_text_from_the_results_is_escaped() -> None:
    """A stop reason or message with markup shows as text, never as HTML."""
    doc = document(failing=None)
    doc["run"] = {**doc["run"], "interrupted": True, "stop_reason": "<script>alert(1)</script>"}
    html = section(doc, None)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_section_goes_at_the_top_of_the_real_body_not_into_a_script() -> None:
    """Locust's inline scripts hold '<body' text: the section lands after the real body tag, with
    the rest of the page unchanged."""
    fragment = section(document(), PNG)
    out = inject(LOCUST_LIKE, fragment)
    assert out is not None
    real = LOCUST_LIKE.index('<body class="x">') + len('<body class="x">')
    assert body_start(LOCUST_LIKE) == real
    assert out.replace("\n" + fragment + "\n", "", 1) == LOCUST_LIKE
    assert out.index(f'<section id="{SECTION_ID}"') == real + 1


def test_injecting_again_replaces_the_earlier_section() -> None:
    """One wsrace section at most: a report that already has one gets the new one instead."""
    once = inject(LOCUST_LIKE, section(document(failing="steady"), None))
    assert once is not None
    twice = inject(once, section(document(failing=None), None))
    assert twice is not None and twice.count(f'<section id="{SECTION_ID}"') == 1
    assert 'data-result="PASS"' in twice and 'data-result="FAIL"' not in twice


def test_a_page_without_a_body_cannot_take_the_section_but_a_page_of_its_own_can() -> None:
    """No body tag: None (the caller writes wsrace's own page); that page has one."""
    assert inject("<html><head><script>'<body>'</script></head></html>", "<section></section>") is None
    own = page(section(document(), None))
    assert body_start(own) is not None and f'<section id="{SECTION_ID}"' in own
