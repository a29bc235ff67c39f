"""The verdict as HTML, and its place in Locust's HTML report: pure, text in and text out.

:func:`section` renders a results document as one self-contained ``<section id="wsrace-report">``:
its own small stylesheet (scoped to that id, so it neither takes nor gives styles to Locust's page),
the verdict (PASS/FAIL), a table with a row per scenario (the columns of the terminal's table), the
server counter and run checks, the failed checks' messages, and the plot as an inline PNG (a
``data:`` URI), so the report stays one file that can be mailed or kept as a CI artifact.

:func:`inject` puts the section at the top of the report's ``<body>``, above Locust's own app (it
renders into its ``#root`` element, which is left as it is). The body tag is found with the
standard library's HTML parser, which skips script contents (Locust's inline bundle contains the
text ``<body`` too), so this holds for any Locust whose report is an HTML page with a body. Where
no body tag is found, :func:`inject` returns None and the caller writes :func:`page` beside it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from html import escape
from html.parser import HTMLParser
from typing import Any, Final

from loadgen.judge.evaluate import Verdict
from loadgen.judge.table import SCENARIO_HEADERS, scenario_rows

__all__ = ["SECTION_ID", "body_start", "inject", "page", "section"]

SECTION_ID: Final = "wsrace-report"

STYLE: Final = f"""
#{SECTION_ID} {{ all: initial; display: block; box-sizing: border-box; margin: 0;
  padding: 16px max(24px, calc(50% - 640px));
  background: #ffffff; color: #1a1a1a; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif;
  border-bottom: 3px solid #cccccc; }}
#{SECTION_ID} h2 {{ font-size: 20px; margin: 0 0 6px; }}
#{SECTION_ID} h3 {{ font-size: 15px; margin: 14px 0 6px; }}
#{SECTION_ID} p {{ margin: 4px 0; }}
#{SECTION_ID} table {{ border-collapse: collapse; margin: 6px 0; }}
#{SECTION_ID} th, #{SECTION_ID} td {{ border: 1px solid #d0d0d0; padding: 3px 8px; text-align: left;
  vertical-align: top; }}
#{SECTION_ID} th {{ background: #f2f2f2; }}
#{SECTION_ID} td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
#{SECTION_ID} .pass {{ color: #1b5e20; font-weight: bold; }}
#{SECTION_ID} .fail {{ color: #b71c1c; font-weight: bold; }}
#{SECTION_ID} .result {{ display: inline-block; padding: 2px 10px; border-radius: 4px; color: #ffffff; }}
#{SECTION_ID} .result.pass {{ background: #2e7d32; color: #ffffff; }}
#{SECTION_ID} .result.fail {{ background: #c62828; color: #ffffff; }}
#{SECTION_ID} img {{ display: block; max-width: 100%; height: auto; margin-top: 8px; }}
#{SECTION_ID} .note {{ color: #555555; }}
"""

NUMERIC_COLUMNS: Final = frozenset({1, 2, 3, 5, 6})
VERDICT_COLUMN: Final = SCENARIO_HEADERS.index("verdict")


def _verdict_cell(text: str) -> str:
    css = {"PASS": "pass", "FAIL": "fail"}.get(text, "")
    return f'<td class="{css}">{escape(text)}</td>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: frozenset[int] = frozenset(),
           verdict: int | None = None, css: str = "", key: int | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            if index == verdict:
                cells.append(_verdict_cell(cell))
            else:
                cells.append(f'<td class="num">{escape(cell)}</td>' if index in numeric else f"<td>{escape(cell)}</td>")
        data = f' data-key="{escape(row[key])}"' if key is not None else ""
        body.append(f"<tr{data}>{''.join(cells)}</tr>")
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _run_line(doc: Mapping[str, Any]) -> str:
    run: Mapping[str, Any] = doc.get("run") or {}
    parts = []
    schedule = str(run.get("schedule") or "")
    if run.get("profile") and schedule.endswith(f"schedule-{run['profile']}.toml"):
        parts.append(f"profile {run['profile']}")
    elif schedule:
        parts.append(f"schedule {schedule}")
    if run.get("duration_s") is not None:
        parts.append(f"{float(run['duration_s']):.0f} s")
    if run.get("host"):
        parts.append(f"host {run['host']}" + (" (bundled)" if run.get("bundled_target") else ""))
    if run.get("processes"):
        parts.append(f"{run['processes']} load process(es)")
    if run.get("faults"):
        parts.append("faults " + ", ".join(run["faults"]))
    text = " · ".join(parts)
    if run.get("interrupted") and run.get("stop_reason"):
        text += f" — {run['stop_reason']}"
    return text


def section(doc: Mapping[str, Any], png: bytes | None, *, note: str | None = None) -> str:
    """The verdict of ``doc`` as one self-contained HTML section (``png``: the plot, or None)."""
    verdicts = [Verdict.from_dict(v) for v in doc.get("verdicts") or []]
    failed = [v for v in verdicts if not v.passed]
    passed = bool(doc.get("passed"))
    result = "PASS" if passed else "FAIL"
    summary = (f"all {len(verdicts)} checks passed" if passed else
               f"{len(failed)} of {len(verdicts)} checks failed" if verdicts else "no checks were made")
    parts = [
        f'<section id="{SECTION_ID}" data-result="{result}"><style>{STYLE}</style>',
        f'<h2>wsrace verdict: <span class="result {result.lower()}">{result}</span></h2>',
        f"<p>{escape(summary)}; {escape(_run_line(doc))}</p>",
    ]
    if note:
        parts.append(f'<p class="note">{escape(note)}</p>')
    if doc.get("run_error"):
        parts.append(f'<p class="fail">the run broke: {escape(str(doc["run_error"]))}</p>')
    rows = scenario_rows(verdicts, doc)
    if rows:
        parts.append("<h3>Scenarios</h3>")
        parts.append(_table(SCENARIO_HEADERS, rows, numeric=NUMERIC_COLUMNS, verdict=VERDICT_COLUMN,
                            css="wsrace-scenarios", key=0))
    others = [[v.category, v.check, "-" if v.value is None else f"{v.value:g}",
               "-" if v.limit is None else f"{v.limit:g}", "PASS" if v.passed else "FAIL", v.message]
              for v in verdicts if v.category != "scenario"]
    if others:
        parts.append("<h3>Server counters and run checks</h3>")
        parts.append(_table(["kind", "check", "value", "limit", "verdict", "detail"], others,
                            numeric=frozenset({2, 3}), verdict=4, css="wsrace-checks", key=1))
    if failed:
        items = "".join(f"<li><b>{escape(v.check)}</b> ({escape(v.metric)}): {escape(v.message)}</li>"
                        for v in failed)
        parts.append(f"<h3>Failed checks</h3><ul>{items}</ul>")
    if png is not None:
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        parts.append("<h3>Over time</h3>")
        parts.append(f'<img class="wsrace-plot" alt="error rate and p99 of each scenario over time, '
                     f'stage boundaries marked" src="{uri}">')
    parts.append("</section>")
    return "\n".join(parts)


class _BodyFinder(HTMLParser):
    """Finds where the first ``<body>`` start tag ends (script and style contents are skipped)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.found: tuple[int, int, str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "body" and self.found is None:
            line, column = self.getpos()
            self.found = (line, column, self.get_starttag_text() or "")


def body_start(html: str) -> int | None:
    """The index just after the first real ``<body ...>`` tag of ``html``, None if it has none."""
    finder = _BodyFinder()
    finder.feed(html)
    finder.close()
    if finder.found is None:
        return None
    line, column, tag = finder.found
    offset = 0
    for _ in range(line - 1):  # the parser counts lines by "\n" only (not str.splitlines' many ends)
        offset = html.index("\n", offset) + 1
    offset += column
    return offset + len(tag) if html.startswith(tag, offset) else None


def inject(html: str, fragment: str) -> str | None:
    """``html`` with ``fragment`` at the top of its body (once: an earlier wsrace section is
    replaced); None when no body tag is found."""
    html = _without_section(html)
    at = body_start(html)
    if at is None:
        return None
    return html[:at] + "\n" + fragment + "\n" + html[at:]


def _without_section(html: str) -> str:
    start = html.find(f'<section id="{SECTION_ID}"')
    if start < 0:
        return html
    end = html.find("</section>", start)
    return html if end < 0 else html[:start].rstrip("\n") + html[end + len("</section>"):].lstrip("\n")


def page(fragment: str, title: str = "wsrace report") -> str:
    """A whole HTML page around ``fragment``, for when there is no Locust report to put it in."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
            f"<body>\n{fragment}\n</body></html>\n")
