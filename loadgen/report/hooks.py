"""What the plugin registers for the timeline, the plot and the HTML report (judging process only).

- :func:`install`, from the plugin's ``init``: the per-run sampler (:mod:`.sampler`) and, with the
  web UI, an ``after_request`` hook that adds the verdict *as of now* and the plot to the report the
  web UI serves (``/stats/report``, also its download).
- :func:`timeline`: the ``timeline`` section for the results document (and its checkpoint).
- :func:`write_outputs`, at the end of the plugin's verdict, once the results are written: the PNG
  beside the results file and the verdict in Locust's ``--html`` report.

Why the verdict goes *into* Locust's report rather than a report of wsrace's own beside it: people
open the one file they asked for with ``--html``, and Locust writes it before its ``quitting``
listeners run (``locust/main.py``: ``save_html_report()`` then ``shutdown()``), so the file is there
to be completed. What is added depends only on the report having a ``<body>`` (found by an HTML
parser, not by Locust's markup), so a Locust upgrade that changes its page does not break it; a
report without one gets the verdict in a page of wsrace's own beside it, and a line says where.
Locust writes no report when it is stopped by SIGTERM: then that page of wsrace's own is written.

Nothing here changes the verdict or the exit code: they are set before :func:`write_outputs` runs,
and a plot or report that cannot be written is said on stderr, the run's outcome kept.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from loadgen.context import run_context
from loadgen.judge.atomic import atomic_write_text
from loadgen.report import sampler
from loadgen.report.html import inject, page, section
from loadgen.report.plot import plot_path, render_png, write_png

__all__ = ["LIVE_NOTE", "REPORT_PATH", "add_to_report", "install", "own_report_path", "timeline", "write_outputs"]

log = logging.getLogger("wsrace")

REPORT_PATH: Final = "/stats/report"
LIVE_NOTE: Final = ("As of now, while Locust runs: the run has not ended, so it counts as interrupted here; "
                    "the verdict is made when Locust quits.")


def install(environment: Any, snapshot: Callable[[], dict[str, Any]]) -> None:
    """On the judging process: the sampler per run; with a web UI, the verdict in its report.
    ``snapshot`` builds the results document as of now."""
    sampler.install(environment)
    web_ui = getattr(environment, "web_ui", None)
    if web_ui is not None:
        web_ui.app.after_request(_live_report(snapshot))


def timeline(environment: Any, *, final: bool = False) -> dict[str, Any] | None:
    """The current run's ``timeline`` section (None before any load); ``final`` at the verdict."""
    return sampler.section(environment, final=final)


def _live_report(snapshot: Callable[[], dict[str, Any]]) -> Callable[[Any], Any]:
    from flask import request

    def after(response: Any) -> Any:
        if request.path != REPORT_PATH or response.status_code != 200 or response.mimetype != "text/html":
            return response
        doc = snapshot()
        png = render_png(doc) if (doc.get("timeline") or {}).get("samples") else None
        added = inject(response.get_data(as_text=True), section(doc, png, note=LIVE_NOTE))
        if added is not None:
            response.set_data(added)
        return response

    return after


def own_report_path(html_file: str | Path) -> Path:
    """wsrace's own page beside Locust's report ``x.html``: ``x.wsrace.html``."""
    path = Path(html_file)
    return path.with_name(f"{path.stem}.wsrace.html")


def write_outputs(environment: Any, results: str, doc: dict[str, Any]) -> None:
    """The PNG beside ``results`` and, with ``--html``, the verdict in that report."""
    png: bytes | None = None
    png_file = plot_path(results)
    try:
        png = write_png(doc, png_file)
        sys.stdout.write(f"plot: {os.path.abspath(png_file)}\n")
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"wsrace: could not write the plot {png_file}: {exc}\n")
    html_file = getattr(getattr(environment, "parsed_options", None), "html_file", None)
    if html_file:
        ctx = run_context(environment)
        started_unix = time.time() - (time.monotonic() - ctx.started_monotonic)
        add_to_report(Path(html_file), section(doc, png), started_unix)
    sys.stdout.flush()


def add_to_report(html_file: Path, fragment: str, started_unix: float) -> None:
    """The verdict into Locust's report of this run; a page of wsrace's own where that cannot be."""
    try:
        fresh = html_file.stat().st_mtime >= started_unix - 1.0  # a report left by an earlier run is not this one's
    except FileNotFoundError:
        fresh = False
    why = "Locust wrote no report for this run"
    try:
        if fresh:
            added = inject(html_file.read_text(encoding="utf-8"), fragment)
            if added is not None:
                atomic_write_text(html_file, added)
                sys.stdout.write(f"report: {os.path.abspath(html_file)} (verdict and plot added)\n")
                return
            why = "its report has no <body> to put the verdict in"
        own = own_report_path(html_file)
        atomic_write_text(own, page(fragment))
        sys.stdout.write(f"report: {why}; the verdict and plot are in {os.path.abspath(own)}\n")
    except (OSError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"wsrace: could not add the verdict to the HTML report {html_file}: {exc}\n")
