"""``wsrace check`` and ``wsrace compare`` on real results files, as docs/ci.md shows them.

The results come from real runs (conftest): the workflow's quick run, and one scenario against the
correct target and against the target with the ``lost-snapshot`` bug.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.ci.conftest import WorkflowRun
from tests.ci.workflow import StepRun, doc_blocks, markdown_table, run_step
from tests.support.wsrace_cli import Finished, run_wsrace

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CLI_TIMEOUT_S = 60


def _docs_check_lines() -> list[str]:
    lines = [line for block in doc_blocks("sh") for line in block.splitlines() if line.startswith("wsrace check")]
    assert len(lines) == 2, lines
    return lines


def _docs_check(index: int, workflow_run: WorkflowRun, workdir: Path, strict: str | None = None) -> StepRun:
    """Run docs/ci.md's ``wsrace check`` line ``index`` as written, on a copy of the workflow's results."""
    shutil.copyfile(workflow_run.results, workdir / "wsrace-results.json")
    if strict is not None:
        (workdir / "strict.toml").write_text(strict, encoding="utf-8")
    line = _docs_check_lines()[index]
    return run_step({"name": f"docs: {line}", "run": line}, workdir, timeout=CLI_TIMEOUT_S)


def _slowest_step(doc: dict[str, Any]) -> tuple[str, str, float]:
    """(scenario, step, p95) of the step with the highest p95 in a results document."""
    timed = [(name, step, stats["p95"]) for name, entry in doc["scenarios"].items()
             for step, stats in entry["steps"].items() if stats.get("p95")]
    return max(timed, key=lambda item: item[2])


def test_check_with_the_embedded_thresholds_passes(workflow_run: WorkflowRun, tmp_path: Path) -> None:
    """docs/ci.md's ``wsrace check wsrace-results.json`` on the clean quick run exits 0."""
    finished = _docs_check(0, workflow_run, tmp_path)
    assert finished.returncode == 0, finished.explain()
    assert "RESULT: PASS" in finished.output


def test_check_with_a_p95_below_the_measured_one_fails(workflow_run: WorkflowRun, tmp_path: Path) -> None:
    """docs/ci.md's ``--thresholds strict.toml`` line flips to exit 1 when strict.toml's p95 is below the measured."""
    scenario, step, p95 = _slowest_step(json.loads(workflow_run.results.read_text()))
    assert p95 >= 2, f"p95 of {scenario}/{step} is {p95} ms: too fast to set a limit below it"
    limit = int(p95) - 1
    strict = f"[scenarios.{scenario}.latency.{json.dumps(step)}]\np95 = {limit}\n"
    finished = _docs_check(1, workflow_run, tmp_path, strict)
    assert finished.returncode == 1, finished.explain()
    assert "RESULT: FAIL" in finished.output
    assert f"limit {limit} ms" in finished.output and step in finished.output, finished.output


def test_check_with_more_iterations_than_ran_fails(workflow_run: WorkflowRun, tmp_path: Path) -> None:
    """A min_iterations above what every scenario completed flips the same saved run to exit 1."""
    doc = json.loads(workflow_run.results.read_text())
    most = max(entry["iterations"] for entry in doc["scenarios"].values())
    finished = _docs_check(1, workflow_run, tmp_path, f"[defaults]\nmin_iterations = {most + 1}\n")
    assert finished.returncode == 1, finished.explain()
    failed = {line.split(":")[0].strip() for line in finished.output.split("Failed checks:")[1].splitlines()[1:]
              if "min_iterations" in line}
    assert set(doc["scenarios"]) <= failed, finished.output


def test_docs_example_thresholds_file_is_valid(workflow_run: WorkflowRun, tmp_path: Path) -> None:
    """The strict.toml shown in docs/ci.md is accepted by wsrace check (exit 0 or 1, never 2)."""
    [example] = doc_blocks("toml")
    finished = _docs_check(1, workflow_run, tmp_path, example)
    assert finished.returncode in (0, 1), finished.explain()
    assert "Re-judging wsrace-results.json against strict.toml" in finished.output


def test_compare_clean_against_faulty_reports_the_regression(
    clean_fast_halt: Finished, faulty_fast_halt: Finished
) -> None:
    """compare(clean run, run on a faulty target of the same schedule) exits 1 and names the regression."""
    assert clean_fast_halt.returncode == 0, clean_fast_halt.output[-3000:]
    assert faulty_fast_halt.returncode == 1, faulty_fast_halt.output[-3000:]
    finished = run_wsrace("compare", str(clean_fast_halt.results_path), str(faulty_fast_halt.results_path),
                          timeout=CLI_TIMEOUT_S)
    assert finished.returncode == 1, finished.output
    regressed = [line.split() for line in finished.output.splitlines() if line.endswith("REGRESSED")]
    assert ["fast_halt", "-", "error_rate"] in [row[:3] for row in regressed], finished.output
    kinds = set(faulty_fast_halt.failures_by_kind("fast_halt"))
    assert any(f"kind {kind}" in finished.output for kind in kinds), finished.output  # the new error kinds
    assert finished.output.rstrip().splitlines()[-1].startswith("REGRESSED:")


@pytest.mark.parametrize("run", ["workflow", "faulty"])
def test_a_run_compared_with_itself_exits_0(run: str, request: pytest.FixtureRequest) -> None:
    """Any run, clean or failing, compared with itself has no regression: exit 0."""
    if run == "workflow":
        path = request.getfixturevalue("workflow_run").results
    else:
        path = request.getfixturevalue("faulty_fast_halt").results_path
    finished = run_wsrace("compare", str(path), str(path), timeout=CLI_TIMEOUT_S)
    assert finished.returncode == 0, finished.output
    assert "REGRESSED" not in finished.output
    assert finished.output.rstrip().splitlines()[-1].startswith("OK: no regression")


def test_compare_markdown_is_a_table(clean_fast_halt: Finished, faulty_fast_halt: Finished) -> None:
    """``compare --markdown`` prints a GitHub table: a header, a separator, a row per figure, regressions bold."""
    finished = run_wsrace("compare", str(clean_fast_halt.results_path), str(faulty_fast_halt.results_path),
                          "--markdown", timeout=CLI_TIMEOUT_S)
    assert finished.returncode == 1, finished.output
    header, *rows = markdown_table(finished.output)
    assert header == ["scenario", "step", "metric", "baseline", "results", "change", "change %", "status"]
    assert ["fast_halt", "-", "error_rate"] in [row[:3] for row in rows if row[-1] == "**REGRESSED**"]
    assert "**REGRESSED:" in finished.output
