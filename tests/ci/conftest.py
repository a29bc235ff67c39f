"""Real runs shared by the CI tests, each made once per session and read by several tests.

- ``workflow_run``: the shipped workflow's wsrace steps run locally in order, as on a pull request
  (the quick profile, ~50 s). Its results and JUnit are the clean run the other tests re-judge.
- ``clean_fast_halt`` / ``faulty_fast_halt``: one 10 s scenario against the correct target and
  against the target with ``--fault lost-snapshot`` (its bug), for compare and the JUnit failure.
- ``killed_target_run``: a run whose bundled target is SIGKILLed under load (exit 3).

Every process is a :class:`loadgen.children.Child`, started in its own session, whose whole group is
killed afterwards.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from loadgen.children import Child
from tests.ci.workflow import StepRun, job_steps, load_workflow, run_step, wsrace_commands
from tests.support.wsrace_cli import Finished, run_wsrace

E2E = Path(__file__).resolve().parent.parent / "e2e"
FAST_HALT_SCHEDULE = E2E / "only_fast_halt.toml"
STEADY_SCHEDULE = E2E / "only_steady.toml"
QUICK_TIMEOUT_S = 240
SHORT_TIMEOUT_S = 120
KILL_AFTER_S = 2.0
"""How long the killed run's load runs before its target is killed."""
TARGET_UP = "bundled target listening on"
"""What the plugin logs once the bundled target answers /healthz and the load starts."""


@dataclass(frozen=True)
class WorkflowRun:
    workdir: Path
    steps: list[StepRun]
    """The wsrace steps that ran, in the workflow's order."""

    @property
    def results(self) -> Path:
        return self.workdir / "wsrace-results.json"

    @property
    def junit(self) -> Path:
        return self.workdir / "wsrace-junit.xml"


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory: pytest.TempPathFactory) -> WorkflowRun:
    """Run the workflow's wsrace steps in order in an empty directory, as on a pull request.

    Substituted: the ``pip install .`` step (the venv under test already has wsrace installed) and
    the step that downloads main's baseline artifact: the baseline is this same local run's results,
    copied to ``baseline.json`` where that step leaves it. Nothing else is changed: the profile is
    ``quick``, the arguments are the workflow's.
    """
    workdir = tmp_path_factory.mktemp("workflow")
    done: list[StepRun] = []
    for step in job_steps(load_workflow()):
        if step.get("id") == "baseline":
            results = workdir / "wsrace-results.json"
            if results.exists():  # if not, the run step failed: its test says why
                shutil.copyfile(results, workdir / "baseline.json")
        elif wsrace_commands(step.get("run", "")):
            done.append(run_step(step, workdir, timeout=QUICK_TIMEOUT_S))
    return WorkflowRun(workdir, done)


def _fast_halt(tmp_path_factory: pytest.TempPathFactory, name: str, *extra: str) -> Finished:
    workdir = tmp_path_factory.mktemp(name)
    return run_wsrace(
        "run", *extra, "--schedule", str(FAST_HALT_SCHEDULE), "--results", "results.json", "--junit", "junit.xml",
        timeout=SHORT_TIMEOUT_S, cwd=workdir,
    )


@pytest.fixture(scope="session")
def clean_fast_halt(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """``fast_halt`` alone for 10 s against the correct bundled target."""
    return _fast_halt(tmp_path_factory, "clean-fast-halt")


@pytest.fixture(scope="session")
def faulty_fast_halt(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """The same schedule against the target with the ``lost-snapshot`` bug injected."""
    return _fast_halt(tmp_path_factory, "faulty-fast-halt", "--fault", "lost-snapshot")


# --------------------------------------------------------------------------- the killed target


@dataclass(frozen=True)
class KilledRun:
    returncode: int
    output: str
    results: Path
    junit: Path


def bundled_target(pid: int) -> psutil.Process | None:
    """The bundled target's supervisor (``python -m target_app``) among the descendants of ``pid``."""
    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return None
    for proc in descendants:
        try:
            argv = proc.cmdline()
        except psutil.Error:
            continue
        if any(flag == "-m" and module == "target_app" for flag, module in itertools.pairwise(argv)):
            return proc
    return None


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def killed_target_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KilledRun]:
    """``wsrace run`` whose bundled target is SIGKILLed a few seconds into the load."""
    workdir = tmp_path_factory.mktemp("killed-target")
    cmd = [sys.executable, "-m", "loadgen.cli", "run", "--schedule", str(STEADY_SCHEDULE),
           "--results", "results.json", "--junit", "junit.xml"]
    target: psutil.Process | None = None
    with Child.start(cmd, name="wsrace run", cwd=workdir, output="log") as run:
        try:
            deadline = time.monotonic() + 60
            while run.alive() and time.monotonic() < deadline and TARGET_UP not in run.log_text():
                time.sleep(0.1)  # killed while starting, the target would be "did not start", not "died"
            target = bundled_target(run.pid)
            assert target is not None, f"no bundled target among the run's processes:\n{run.log_text()[-4000:]}"
            time.sleep(KILL_AFTER_S)
            assert run.alive(), f"the run ended before its target was killed:\n{run.log_text()[-4000:]}"
            target.send_signal(signal.SIGKILL)
            returncode = run.wait(time.monotonic() + SHORT_TIMEOUT_S)
            if returncode is None:
                raise AssertionError(f"the run did not stop after its target died:\n{run.log_text()[-4000:]}")
            yield KilledRun(returncode, run.log_text(), workdir / "results.json", workdir / "junit.xml")
        finally:
            if target is not None:
                _kill_group(target.pid)  # its workers, in the target's own session
