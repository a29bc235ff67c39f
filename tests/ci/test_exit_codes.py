"""Every exit code of the contract, reached through the real CLI for each command it applies to.

0 pass, 1 a threshold or regression failed, 2 bad input named in plain words (never a traceback),
3 the run itself broke, with the reason. Where the codes come from:

- ``run``: 0 and 1 here (one scenario on the correct and on a faulty target); 2 for bad flags and
  files, an unknown profile, an unreachable ``--host``; 3 when the bundled target is killed mid-run
  and when Locust crashes on the locustfile.
- ``check``: 0 and 1 in test_check_compare.py (a real run, its own and stricter thresholds); 2 here.
- ``compare``: 0 and 1 in test_check_compare.py (a run with itself, clean against faulty); 2 here.
- ``serve``: 2 here for bad flags (its 0 and 1 are covered by tests/target).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.ci.conftest import FAST_HALT_SCHEDULE, SHORT_TIMEOUT_S, KilledRun
from tests.support.wsrace_cli import Finished, run_wsrace

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CLI_TIMEOUT_S = 60


def _explain(finished: Finished) -> str:
    return f"exit {finished.returncode}; output tail:\n{finished.output[-4000:]}"


def _assert_bad_input(finished: Finished, *named: str) -> None:
    assert finished.returncode == 2, _explain(finished)
    assert "Traceback" not in finished.output, _explain(finished)
    for text in named:
        assert text in finished.output, f"{text!r} not named:\n{_explain(finished)}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- run: 0, 1


def test_run_exits_0_on_a_clean_run(clean_fast_halt: Finished) -> None:
    """A short run against the correct bundled target passes: exit 0, results say passed."""
    assert clean_fast_halt.returncode == 0, _explain(clean_fast_halt)
    assert clean_fast_halt.results()["passed"] is True


def test_run_exits_1_when_a_threshold_fails(faulty_fast_halt: Finished) -> None:
    """The same run against a target with a race bug fails its threshold: exit 1, the failed check printed."""
    assert faulty_fast_halt.returncode == 1, _explain(faulty_fast_halt)
    doc = faulty_fast_halt.results()
    assert doc["passed"] is False and doc["run_error"] is None
    assert "RESULT: FAIL" in faulty_fast_halt.output and "fast_halt: error rate" in faulty_fast_halt.output


# --------------------------------------------------------------------------- run: 2


RUN_BAD_INPUT = [
    pytest.param(["--profile", "nope"], ["--profile", "invalid choice: 'nope'"], id="unknown-profile"),
    pytest.param(["--fault", "nope"], ["unknown fault 'nope'", "lost-snapshot"], id="unknown-fault"),
    pytest.param(["--host", "ws://127.0.0.1:9", "--fault", "lost-snapshot"], ["cannot be used with --host"],
                 id="fault-with-host"),
    pytest.param(["--results", "missing/r.json"], ["--results missing/r.json", "does not exist"],
                 id="results-in-missing-dir"),
    pytest.param(["--junit", "missing/r.xml"], ["--junit missing/r.xml", "does not exist"], id="junit-in-missing-dir"),
    pytest.param(["-f", "missing.py"], ["--locustfile missing.py", "no such"], id="missing-locustfile"),
]


@pytest.mark.parametrize(("args", "named"), RUN_BAD_INPUT)
def test_run_refuses_bad_flags_before_any_load(args: list[str], named: list[str], tmp_path: Path) -> None:
    """A bad flag of wsrace run is exit 2 with the flag named, before Locust starts and without results."""
    finished = run_wsrace("run", "--results", "r.json", *args, timeout=CLI_TIMEOUT_S, cwd=tmp_path)
    _assert_bad_input(finished, *named)
    assert "Starting Locust" not in finished.output
    assert not (tmp_path / "r.json").exists()


def test_run_refuses_faults_the_target_cannot_combine(tmp_path: Path) -> None:
    """Two faults that replace the same part: the bundled target refuses them at start-up, and wsrace
    run says so and exits 2 before any load, with no results and no traceback."""
    finished = run_wsrace("run", "--results", "r.json", "--fault", "global-lock", "--fault", "unsafe-close",
                          timeout=CLI_TIMEOUT_S, cwd=tmp_path)
    _assert_bad_input(finished, "--fault global-lock and --fault unsafe-close cannot be combined",
                      "Connection.dispatch")
    assert "Traceback" not in finished.output
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        pytest.param("max_error_rate = [\n", ["bad.toml", "invalid TOML"], id="not-toml"),
        pytest.param("[defaults]\nmax_error_rate = 2\n", ["bad.toml", "defaults.max_error_rate"], id="out-of-range"),
    ],
)
def test_run_with_a_bad_thresholds_file_exits_2(text: str, named: list[str], tmp_path: Path) -> None:
    """A thresholds file that does not parse or validate is exit 2, naming the file and key; no load, no results."""
    (tmp_path / "bad.toml").write_text(text)
    finished = run_wsrace("run", "--thresholds", "bad.toml", "--schedule", str(FAST_HALT_SCHEDULE),
                          "--results", "r.json", timeout=CLI_TIMEOUT_S, cwd=tmp_path)
    _assert_bad_input(finished, *named)
    assert not (tmp_path / "r.json").exists()


def test_run_against_an_unreachable_host_exits_2_naming_it(tmp_path: Path) -> None:
    """--host of a port nobody listens on is exit 2, and the message names the host and says it is unreachable."""
    host = f"ws://127.0.0.1:{_free_port()}"
    finished = run_wsrace("run", "--host", host, "--schedule", str(FAST_HALT_SCHEDULE), "--results", "r.json",
                          timeout=CLI_TIMEOUT_S, cwd=tmp_path)
    _assert_bad_input(finished, f"--host {host}", "is unreachable", "is the server running")
    assert not (tmp_path / "r.json").exists()


def test_run_with_a_malformed_host_exits_2(tmp_path: Path) -> None:
    """--host that is not a URL is bad input: exit 2 naming it, no traceback."""
    finished = run_wsrace("run", "--host", "not-a-url", "--schedule", str(FAST_HALT_SCHEDULE), "--results", "r.json",
                          timeout=CLI_TIMEOUT_S, cwd=tmp_path)
    _assert_bad_input(finished, "--host not-a-url")


# --------------------------------------------------------------------------- run: 3


def test_run_exits_3_when_the_bundled_target_dies(killed_target_run: KilledRun) -> None:
    """SIGKILL of the bundled target mid-run: exit 3, the reason printed, results carry run_error."""
    assert killed_target_run.returncode == 3, killed_target_run.output[-4000:]
    assert "wsrace run: the run broke: the bundled target died during the run" in killed_target_run.output
    doc = json.loads(killed_target_run.results.read_text())
    assert "the bundled target died during the run" in doc["run_error"]
    assert doc["passed"] is False and doc["run"]["interrupted"] is True


def test_run_exits_3_when_locust_crashes(tmp_path: Path) -> None:
    """A locustfile that raises at import crashes Locust: exit 3, with the exception and 'the run broke'."""
    (tmp_path / "crash.py").write_text('raise RuntimeError("boom at import")\n')
    finished = run_wsrace("run", "-f", "crash.py", "--results", "r.json", timeout=SHORT_TIMEOUT_S, cwd=tmp_path)
    assert finished.returncode == 3, _explain(finished)
    assert "RuntimeError: boom at import" in finished.output
    assert "the run broke" in finished.output.splitlines()[-1]


# --------------------------------------------------------------------------- check, compare, serve: 2


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        pytest.param(["check", "missing.json"], ["missing.json", "no such file"], id="check-missing-file"),
        pytest.param(["check", "bad.json"], ["bad.json", "invalid JSON"], id="check-bad-json"),
        pytest.param(["check", "other.json"], ["other.json"], id="check-not-a-results-file"),
        pytest.param(["check", "ok.json", "--thresholds", "bad.toml"], ["bad.toml", "invalid TOML"],
                     id="check-bad-thresholds"),
        pytest.param(["check", "ok.json", "--thresholds", "range.toml"], ["range.toml", "defaults.max_error_rate"],
                     id="check-thresholds-out-of-range"),
        pytest.param(["check", "ok.json", "--bogus"], ["unrecognized arguments: --bogus"], id="check-bad-flag"),
        pytest.param(["compare", "missing.json", "ok.json"], ["missing.json", "no such file"],
                     id="compare-missing-file"),
        pytest.param(["compare", "ok.json", "bad.json"], ["bad.json", "invalid JSON"], id="compare-bad-json"),
        pytest.param(["compare", "ok.json", "ok.json", "--tolerance", "foo=1"], ["--tolerance", "'foo=1'"],
                     id="compare-bad-tolerance"),
        pytest.param(["serve", "--workers", "0"], ["--workers", "'0'"], id="serve-zero-workers"),
        pytest.param(["serve", "--fault", "nope"], ["unknown fault 'nope'"], id="serve-unknown-fault"),
        pytest.param(["nope"], ["unknown command 'nope'"], id="unknown-command"),
    ],
)
def test_bad_input_exits_2_naming_it(argv: list[str], named: list[str], clean_fast_halt: Finished,
                                     tmp_path: Path) -> None:
    """check, compare and serve: a missing or broken file, or a bad flag, is exit 2 naming it, no traceback."""
    assert clean_fast_halt.results_path is not None
    (tmp_path / "ok.json").write_text(clean_fast_halt.results_path.read_text())
    (tmp_path / "bad.json").write_text('{"format": "wsrace-results",')
    (tmp_path / "other.json").write_text('{"hello": "world"}')
    (tmp_path / "bad.toml").write_text("max_error_rate = [\n")
    (tmp_path / "range.toml").write_text("[defaults]\nmax_error_rate = 2\n")
    finished = run_wsrace(*argv, timeout=CLI_TIMEOUT_S, cwd=tmp_path)
    _assert_bad_input(finished, *named)
