"""The plot is a pure function of a results document: a PNG with one panel per scenario, the stage
boundaries marked and named; matplotlib is loaded only when a plot is drawn."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from loadgen.report.plot import DPI, PANEL_HEIGHT_IN, WIDTH_IN, figure, plot_path, write_png
from tests.report.samples import STAGES, document

pytestmark = pytest.mark.timeout(60)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


def panels(fig) -> list[str]:
    """The titles of the figure's main axes (the twin p99 axes have none)."""
    return [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]


def test_a_png_is_written_with_one_panel_per_scenario(tmp_path: Path) -> None:
    """The PNG's height grows with the scenarios of the document: one panel each, titled with its verdict."""
    doc = document()
    path = tmp_path / "r.png"
    data = write_png(doc, path)
    assert path.read_bytes() == data
    scenarios = sorted(doc["scenarios"])
    width, height = png_size(data)
    assert width == pytest.approx(WIDTH_IN * DPI, abs=2)
    assert height == pytest.approx((PANEL_HEIGHT_IN * len(scenarios) + 0.9) * DPI, abs=2)
    verdict = {name: "FAIL" if name == "steady" else "PASS" for name in scenarios}
    assert panels(figure(doc)) == [f"{name}: {verdict[name]}" for name in scenarios]


def test_stage_boundaries_are_lines_with_the_stage_names() -> None:
    """Every stage's name is written on each panel, and a dashed line stands at each boundary."""
    doc = document()
    fig = figure(doc)
    stages = doc["timeline"]["stages"]
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert [name for name, _ in STAGES] == [s["name"] for s in stages]
    assert all(name in texts for name, _ in STAGES)
    boundaries = {round(s["start_s"], 3) for s in stages} | {round(stages[-1]["end_s"], 3)}
    vertical = {round(line.get_xdata()[0], 3) for line in fig.axes[0].lines if line.get_linestyle() == "--"}
    assert vertical == boundaries


def test_a_document_without_a_timeline_still_plots_its_scenarios() -> None:
    """An older results file (no timeline): the panels are there, saying there are no samples."""
    doc = document()
    del doc["timeline"]
    fig = figure(doc)
    assert len(panels(fig)) == len(doc["scenarios"])
    assert all("no samples" in [t.get_text() for t in ax.texts] for ax in fig.axes)


def test_the_png_goes_beside_the_results() -> None:
    """``x.json`` -> ``x.png`` in the same folder; a name without a suffix gets ``.png`` added."""
    assert plot_path("out/wsrace-results.json") == Path("out/wsrace-results.png")
    assert plot_path("out/r") == Path("out/r.png")


def test_importing_the_report_maths_loads_no_matplotlib_locust_or_gevent() -> None:
    """The pure report modules import nothing heavy: matplotlib waits for a plot to be drawn."""
    code = ("import sys\nimport loadgen.report.timeline, loadgen.report.plot, loadgen.report.html\n"
            "print(sorted(m for m in ('matplotlib', 'locust', 'gevent', 'socket') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
