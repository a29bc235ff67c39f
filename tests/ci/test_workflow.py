"""The shipped GitHub Actions workflow: its shape, its wsrace steps run locally, and docs/ci.md in step.

The workflow's wsrace steps are run by ``workflow_run`` (conftest) exactly as written, in order, in
an empty directory; only the install step and the download of main's baseline are substituted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from loadgen.judge.schedule import parse_schedule
from loadgen.paths import default_schedule
from tests.ci.conftest import WorkflowRun
from tests.ci.workflow import (
    commands,
    doc_blocks,
    job_steps,
    load_workflow,
    markdown_table,
    readme_ci_section,
    run_step,
    step_summary,
    triggers,
    wsrace_commands,
    wsrace_steps,
)
from tests.support.wsrace_cli import Finished

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

RUN_ARGV = ["wsrace", "run", "--profile", "quick", "--results", "wsrace-results.json", "--junit", "wsrace-junit.xml"]


def _uses(step: dict[str, Any]) -> str:
    return str(step.get("uses", "")).split("@")[0]


def _subcommands(step: dict[str, Any]) -> list[str]:
    return [argv[1] for argv in wsrace_commands(step.get("run", ""))]


def _one(steps: list[dict[str, Any]], what: str, match: Any) -> tuple[int, dict[str, Any]]:
    found = [(i, step) for i, step in enumerate(steps) if match(step)]
    assert len(found) == 1, f"expected one step that {what}, found {[s.get('name') for _, s in found]}"
    return found[0]


def _paths(step: dict[str, Any]) -> list[str]:
    return str(step["with"]["path"]).split()


def test_workflow_parses_and_has_every_step_the_issue_asks_for() -> None:
    """The YAML parses: checkout, Python 3.11+, install, quick run with JUnit, always-upload, report, baseline."""
    workflow = load_workflow()
    on = triggers(workflow)
    assert on["push"]["branches"] == ["main"] and "pull_request" in on
    assert workflow["defaults"]["run"]["shell"] == "bash"  # -eo pipefail: a piped wsrace still fails its step
    steps = job_steps(workflow)

    checkout, _ = _one(steps, "checks out", lambda s: _uses(s) == "actions/checkout")
    setup, setup_step = _one(steps, "sets up Python", lambda s: _uses(s) == "actions/setup-python")
    major, minor = map(int, str(setup_step["with"]["python-version"]).split(".")[:2])
    assert (major, minor) >= (3, 11)
    install, _ = _one(steps, "installs wsrace", lambda s: commands(s.get("run", "")) == [["pip", "install", "."]])
    run, run_step_ = _one(steps, "runs wsrace", lambda s: _subcommands(s) == ["run"])
    assert wsrace_commands(run_step_["run"]) == [RUN_ARGV]
    assert "if" not in run_step_  # runs whenever the steps before it passed

    upload, upload_step = _one(steps, "uploads the results",
                               lambda s: _uses(s) == "actions/upload-artifact" and "wsrace-junit.xml" in _paths(s))
    assert {"wsrace-results.json", "wsrace-junit.xml"} <= set(_paths(upload_step))
    assert upload_step["if"] == "always()"
    report, report_step = _one(steps, "publishes JUnit", lambda s: _uses(s) == "mikepenz/action-junit-report")
    assert report_step["with"]["report_paths"] == "wsrace-junit.xml"
    assert str(report_step["if"]).startswith("always()")

    fetch, fetch_step = _one(steps, "fetches the baseline", lambda s: s.get("id") == "baseline")
    assert "github.event_name == 'pull_request'" in fetch_step["if"]
    assert "gh run download" in fetch_step["run"] and "baseline.json" in fetch_step["run"]
    assert "--branch main" in fetch_step["run"] and "--status success" in fetch_step["run"]
    compare, compare_step = _one(steps, "compares", lambda s: _subcommands(s) == ["compare"])
    assert "steps.baseline.outputs.found == 'true'" in compare_step["if"]
    assert '"$GITHUB_STEP_SUMMARY"' in compare_step["run"]
    [compare_argv] = wsrace_commands(compare_step["run"])
    assert compare_argv[2:4] == ["baseline.json", "wsrace-results.json"] and "--markdown" in compare_argv

    store, store_step = _one(steps, "stores the baseline",
                             lambda s: _uses(s) == "actions/upload-artifact" and s["with"]["name"] == "wsrace-baseline")
    assert "--name wsrace-baseline" in fetch_step["run"]  # what main stores is what a pull request fetches
    assert _paths(store_step) == ["wsrace-results.json"]
    assert "github.event_name == 'push'" in store_step["if"] and "refs/heads/main" in store_step["if"]
    assert "always()" not in store_step["if"]  # only a passing run becomes the baseline

    assert checkout < setup < install < run < fetch < compare < upload < store
    assert run < report


def test_workflow_wsrace_steps_run_locally_as_written(workflow_run: WorkflowRun) -> None:
    """The workflow's wsrace steps, run in order in an empty dir: exit 0, results, JUnit and markdown appear."""
    names = [step["name"] for step in wsrace_steps(load_workflow())]
    assert [step.name for step in workflow_run.steps] == names and len(names) == 2
    for step in workflow_run.steps:
        assert step.returncode == 0, step.explain()
    doc = json.loads(workflow_run.results.read_text())
    assert doc["passed"] is True and doc["run"]["profile"] == "quick"
    assert set(doc["scenarios"]) == set(parse_schedule(default_schedule("quick")).scenarios)
    assert workflow_run.junit.read_text().startswith("<?xml")
    compared = (workflow_run.workdir / "wsrace-compare.md").read_text()
    header, *rows = markdown_table(compared)
    assert header[:3] == ["scenario", "step", "metric"] and rows
    assert "OK: no regression" in compared
    assert compared in step_summary(workflow_run.workdir)  # posted to the job summary


def test_workflow_compare_step_fails_the_job_on_a_regression(
    clean_fast_halt: Finished, faulty_fast_halt: Finished, tmp_path: Path
) -> None:
    """The workflow's compare step, as written, exits 1 on a faulty run and puts the regression in the summary."""
    assert clean_fast_halt.results_path is not None and faulty_fast_halt.results_path is not None
    shutil.copyfile(clean_fast_halt.results_path, tmp_path / "baseline.json")
    shutil.copyfile(faulty_fast_halt.results_path, tmp_path / "wsrace-results.json")
    [compare_step] = [s for s in wsrace_steps(load_workflow()) if "wsrace compare" in s["run"]]
    finished = run_step(compare_step, tmp_path, timeout=60)
    assert finished.returncode == 1, finished.explain()
    summary = step_summary(tmp_path)
    assert "REGRESSED" in summary
    assert any(row[0] == "fast_halt" and row[2] == "error_rate" and "REGRESSED" in row[-1]
               for row in markdown_table(summary)[1:]), summary


def test_docs_show_exactly_the_workflows_commands() -> None:
    """docs/ci.md's first shell block is the workflow's install and wsrace commands, same order, same arguments."""
    blocks = doc_blocks("sh")
    assert blocks, "docs/ci.md has no ```sh block"
    steps = job_steps(load_workflow())
    expected = [argv for step in steps for argv in commands(step.get("run", ""))
                if argv[0] == "wsrace" or argv[:2] == ["pip", "install"]]
    assert commands(blocks[0]) == expected
    used = {argv[1] for block in blocks for argv in commands(block) if argv[0] == "wsrace"}
    assert used == {"run", "compare", "check"}  # each of them is run by a test of tests/ci


def test_readme_ci_section_shows_the_same_commands() -> None:
    """README's CI section shows exactly docs/ci.md's run/compare and check commands, in order."""
    readme = [commands(block) for block in doc_blocks("sh", readme_ci_section())]
    docs = [commands(block) for block in doc_blocks("sh")]
    assert readme == docs[: len(readme)] and len(readme) >= 2


def test_docs_compare_command_works_as_written(workflow_run: WorkflowRun, tmp_path: Path) -> None:
    """The compare line of docs/ci.md, run as written on a run and its baseline: exit 0 and a markdown table."""
    [line] = [line for line in doc_blocks("sh")[0].splitlines() if line.startswith("wsrace compare")]
    for name in ("baseline.json", "wsrace-results.json"):
        shutil.copyfile(workflow_run.workdir / name, tmp_path / name)
    finished = run_step({"name": "docs: compare", "run": line}, tmp_path, timeout=60)
    assert finished.returncode == 0, finished.explain()
    header, *rows = markdown_table((tmp_path / "wsrace-compare.md").read_text())
    assert header[-1] == "status" and rows and all(row[-1] != "**REGRESSED**" for row in rows)
