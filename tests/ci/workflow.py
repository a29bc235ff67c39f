"""Read the shipped GitHub Actions workflow and docs/ci.md, and run workflow steps locally.

A step's ``run:`` script is executed as GitHub's ``shell: bash`` does (``bash --noprofile --norc -eo
pipefail``) as a :class:`loadgen.children.Child` (its own process group, always killed afterwards),
with the venv's ``wsrace`` first on PATH and ``GITHUB_STEP_SUMMARY`` / ``GITHUB_OUTPUT`` /
``RUNNER_TEMP`` pointing at files of the test's own.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from loadgen.children import Child

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "github-actions.yml"
CI_DOC = ROOT / "docs" / "ci.md"
BIN = Path(sys.executable).parent
"""The venv's bin directory: its ``wsrace`` console script is the one under test."""

SHELL_PUNCTUATION = frozenset("();<>|&")


def load_workflow() -> dict[Any, Any]:
    return dict(yaml.safe_load(WORKFLOW.read_text(encoding="utf-8")))


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    """The ``on:`` section (YAML 1.1 reads the bare key ``on`` as True)."""
    return dict(workflow.get("on", workflow.get(True)) or {})


def job_steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    jobs = workflow["jobs"]
    assert len(jobs) == 1, f"expected one job, found {list(jobs)}"
    return list(next(iter(jobs.values()))["steps"])


def commands(script: str) -> list[list[str]]:
    """Each command line of a shell script as argv, up to its first redirection or pipe."""
    out: list[list[str]] = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words: list[str] = []
        for token in lexer:
            if set(token) <= SHELL_PUNCTUATION:  # a pipe, a redirection, ; && ||: the command ends
                break
            words.append(token)
        if words:
            out.append(words)
    return out


def wsrace_commands(script: str) -> list[list[str]]:
    return [argv for argv in commands(script) if argv[0] == "wsrace"]


def wsrace_steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    """The workflow's ``run:`` steps that invoke wsrace, in order."""
    return [step for step in job_steps(workflow) if wsrace_commands(step.get("run", ""))]


def doc_blocks(lang: str, text: str | None = None) -> list[str]:
    """The bodies of fenced code blocks tagged ``lang``, in order, in ``text`` (default: docs/ci.md)."""
    if text is None:
        text = CI_DOC.read_text(encoding="utf-8")
    return re.findall(rf"^```{re.escape(lang)}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def readme_ci_section() -> str:
    """The text of README.md's "Running in CI" section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## Running in CI", 1)[1].split("\n## ", 1)[0]


def markdown_table(text: str) -> list[list[str]]:
    """The rows of the first GitHub-flavoured table in ``text`` (cells stripped), checked for shape."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert len(rows) >= 3, f"no markdown table with a header, a separator and a row in:\n{text}"
    cells = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]
    assert all(set(cell) <= set("-:") and cell for cell in cells[1]), f"second line is no separator: {rows[1]}"
    assert all(len(row) == len(cells[0]) for row in cells), "rows of different widths"
    return [cells[0], *cells[2:]]


@dataclass(frozen=True)
class StepRun:
    name: str
    returncode: int
    output: str

    def explain(self) -> str:
        return f"step {self.name!r} exited {self.returncode}; output tail:\n{self.output[-5000:]}"


def run_step(step: dict[str, Any], cwd: Path, *, timeout: float) -> StepRun:
    """Run a step's ``run:`` script in ``cwd`` as GitHub Actions would with ``shell: bash``."""
    script = step["run"]
    assert "${{" not in script, f"step {step.get('name')!r} needs GitHub expressions substituted"
    github = cwd / ".github-files"
    github.mkdir(exist_ok=True)
    env = {
        **os.environ,
        **{key: str(value) for key, value in (step.get("env") or {}).items()},
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "GITHUB_STEP_SUMMARY": str(github / "step_summary.md"),
        "GITHUB_OUTPUT": str(github / "output"),
        "RUNNER_TEMP": str(github),
        "CI": "true",
    }
    script_path = github / "step.sh"
    script_path.write_text(script, encoding="utf-8")
    cmd = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_path)]
    with Child.start(cmd, name="workflow step", env=env, cwd=cwd, output="log") as child:
        returncode = child.wait(time.monotonic() + timeout)
        output = child.log_text()
    if returncode is None:
        name = step.get("name")
        raise AssertionError(f"step {name!r} did not finish within {timeout} s:\n{output[-5000:]}")
    return StepRun(str(step.get("name") or script.splitlines()[0]), returncode, output)


def step_summary(cwd: Path) -> str:
    path = cwd / ".github-files" / "step_summary.md"
    return path.read_text(encoding="utf-8") if path.exists() else ""
