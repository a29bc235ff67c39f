"""End to end: what a headless ``wsrace run`` prints, against the real bundled target and real Locust.

By default: Locust's log records, one plain progress line per stage at its start, every
PLAIN_INTERVAL_S and at its end (the output is a file here, not a terminal), no Locust request
table, and the verdict table then the results path as the last lines. With ``--locust-stats``:
Locust's tables are back, and the verdict is still last. The verdict and exit code are the same
either way.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest

from loadgen.judge.evaluate import Verdict
from loadgen.judge.schedule import parse_schedule
from loadgen.judge.table import render_table
from loadgen.progress_line import plain_lines_bound
from loadgen.report.plot import plot_path
from tests.support.wsrace_cli import Finished, run_wsrace

RUN_TIMEOUT_S = 120

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2 * RUN_TIMEOUT_S + 30)]

SCHEDULE = """\
[[stage]]
name = "first"
scenarios = ["steady"]
users = 4
spawn_rate = 4
duration = 5

[[stage]]
name = "second"
scenarios = ["fast_halt"]
users = 4
spawn_rate = 4
duration = 5
"""

LOG_RECORD = re.compile(r"^\[\d{4}-\d\d-\d\d [\d:,]+\] \S+/(DEBUG|INFO|WARNING|ERROR|CRITICAL)/\S+: ")
"""A line of Locust's log format (locust/log.py, the "default" formatter)."""
LOCUST_TABLE = ("# reqs", "Aggregated", "Response time percentiles")
"""Text found only in Locust's request tables (locust/stats.py: print_stats, print_percentile_stats)."""


def _run(tmp_path: Path, *extra: str) -> tuple[Finished, list[str]]:
    finished = run_wsrace("run", "--schedule", str(_write(tmp_path)), "--results", "r.json", *extra,
                          timeout=RUN_TIMEOUT_S, cwd=tmp_path)
    return finished, finished.output.splitlines()


def _verdict_block(finished: Finished) -> list[str]:
    """The lines the verdict must end the output with: its table (after a blank line), then the
    results path and the plot beside it, as the plugin writes them."""
    doc = finished.results()
    assert finished.results_path is not None
    table = render_table([Verdict.from_dict(v) for v in doc["verdicts"]], doc)
    results = os.path.abspath(finished.results_path)
    return f"\n{table}\nresults: {results}\nplot: {plot_path(results)}\n".splitlines()


def _check_verdict(finished: Finished) -> None:
    doc = finished.results()
    assert finished.returncode == (0 if doc["passed"] else 1), finished.output[-4000:]
    assert doc["passed"] is True, finished.output[-4000:]  # the correct target: as every e2e run of it


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Finished, list[str]]:
    return _run(tmp_path_factory.mktemp("quiet"))


def test_a_quiet_run_ends_with_its_verdict_and_keeps_its_exit_code(quiet: tuple[Finished, list[str]]) -> None:
    """The verdict table and the results path are the output's last lines; exit code as the verdict says."""
    finished, lines = quiet
    _check_verdict(finished)
    block = _verdict_block(finished)
    assert lines[-len(block):] == block, "\n".join(lines[-len(block) - 5:])


def test_a_quiet_run_prints_progress_lines_and_no_locust_table(quiet: tuple[Finished, list[str]],
                                                               tmp_path: Path) -> None:
    """Every line is a log record, a progress line or the verdict; each stage has its start and end
    line and at most plain_lines_bound(duration) lines; no Locust table line anywhere."""
    finished, lines = quiet
    stages = parse_schedule(_write(tmp_path)).stages
    block = _verdict_block(finished)
    before = lines[:-len(block)]
    progress = [line for line in before if line.startswith("progress: ")]
    others = [line for line in before if line.strip() and not line.startswith("progress: ")
              and not LOG_RECORD.match(line)]
    assert others == [], "lines that are neither a log record, a progress line nor the verdict"
    assert not [line for line in lines if any(text in line for text in LOCUST_TABLE)]
    for index, stage in enumerate(stages):
        own = [line for line in progress if line.startswith(f"progress: stage {index + 1}/{len(stages)} ")]
        assert 2 <= len(own) <= plain_lines_bound(stage.duration), own
        assert f"{stage.name!r}" in own[0] and "ended" in own[-1]
    assert len(progress) <= sum(plain_lines_bound(stage.duration) for stage in stages)
    # Log records come with events, not with time: a stage changes the user count at most twice (a
    # drain, then its own users), so no message (numbers aside) is logged more than twice a stage.
    messages = Counter(re.sub(r"\d+", "N", LOG_RECORD.sub("", line)) for line in before if LOG_RECORD.match(line))
    assert max(messages.values()) <= 2 * len(stages), messages.most_common(3)


def test_locust_stats_brings_locusts_tables_back_and_the_verdict_stays_last(tmp_path: Path,
                                                                            quiet: tuple[Finished, list[str]]) -> None:
    """With --locust-stats: Locust's periodic tables and its final summary, before the verdict; the
    same verdict and exit code; more lines than the quiet run."""
    finished, lines = _run(tmp_path, "--locust-stats")
    _check_verdict(finished)
    block = _verdict_block(finished)
    assert lines[-len(block):] == block, "\n".join(lines[-len(block) - 5:])
    before = "\n".join(lines[:-len(block)])
    assert before.count("Aggregated") >= 2 and "Response time percentiles" in before  # periodic + final
    assert len(lines) > len(quiet[1])


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "schedule.toml"
    path.write_text(SCHEDULE)
    return path
