"""End to end, other ways to run: against a server given by --host (own secret or token file), and
with Locust's master and worker as separate processes. Real target app, real Locust, short runs."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import psutil
import pytest

from loadgen.children import Child
from loadgen.protocol.tokens import mint
from tests.support.target import running_target
from tests.support.wsrace_cli import run_wsrace

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE.parent.parent / "scenarios"
SECRET = "a-secret-only-this-test-knows-0123456789abcdef"
RUN_TIMEOUT_S = 120

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(RUN_TIMEOUT_S + 40)]


def _explain(finished) -> str:
    return f"exit {finished.returncode}; output tail:\n{finished.output[-4000:]}"


def test_host_with_its_own_secret_passes(tmp_path: Path) -> None:
    """--host points the scenarios at a server we did not start; tokens minted with its secret work."""
    with running_target("--secret", SECRET, workers=2) as target:
        finished = run_wsrace(
            "run", "--host", target.url, "--secret", SECRET, "--schedule", str(HERE / "only_rapid_connect.toml"),
            "--results", "r.json", timeout=RUN_TIMEOUT_S, cwd=tmp_path,
        )
    assert finished.returncode == 0, _explain(finished)
    doc = finished.results()
    assert doc["run"]["bundled_target"] is False and doc["run"]["host"] == target.url
    assert doc["server"]["available"] is True
    assert doc["scenarios"]["rapid_connect"]["iterations"] > 0


def test_token_file_signed_with_another_secret_is_auth_rejected(tmp_path: Path) -> None:
    """Tokens from --token-file are used as they are: the server refuses foreign ones, and we say so."""
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("".join(mint("not-the-servers-secret-0123456789abcdef", f"user-{n}") + "\n" for n in range(4)))
    with running_target("--secret", SECRET) as target:
        finished = run_wsrace(
            "run", "--host", target.url, "--token-file", str(tokens), "--schedule",
            str(HERE / "only_rapid_connect.toml"), "--results", "r.json", timeout=RUN_TIMEOUT_S, cwd=tmp_path,
        )
    assert finished.returncode == 1, _explain(finished)
    assert set(finished.failures_by_kind("rapid_connect")) == {"auth_rejected"}


def master_port(master: Child, deadline: float) -> int:
    """The port the Locust master's RPC server listens on, read from the kernel's socket table once
    it listens. The master was given ``--master-bind-port 0``: Locust passes 0 to pyzmq's
    ``bind_to_random_port``, which binds ``tcp://HOST:*`` and lets the OS choose, but logs nothing
    about it; the process's one listening TCP socket is the answer (headless: no web UI)."""
    while master.alive():
        listening = [c.laddr.port for c in psutil.Process(master.pid).net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN]
        if listening:
            assert len(listening) == 1, f"the master listens on several ports: {listening}"
            return listening[0]
        assert time.monotonic() < deadline, f"the master never listened:\n{master.tail(40)}"
        time.sleep(0.05)  # Locust gives no signal when it has bound: look again, until the deadline
    raise AssertionError(f"the master exited (code {master.poll()}) before listening:\n{master.tail(40)}")


def test_separate_master_and_worker_processes(tmp_path: Path) -> None:
    """Locust's own distributed mode: the master starts the target and judges; a worker does the load."""
    base = [sys.executable, "-m", "locust", "-f", str(SCENARIOS)]
    master_cmd = [*base, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", "0", "--headless",
                  "--expect-workers", "1", "--schedule", str(HERE / "only_fast_halt.toml"), "--results", "r.json",
                  "--only-summary"]
    with Child.start(master_cmd, name="locust master", cwd=tmp_path, output="log") as master:
        port = master_port(master, time.monotonic() + 60)
        worker_cmd = [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
        with Child.start(worker_cmd, name="locust worker", cwd=tmp_path, output="log") as worker:
            master_code = master.wait(time.monotonic() + RUN_TIMEOUT_S)
            master_out = master.log_text()
            worker.wait(time.monotonic() + 30)
    assert master_code == 0, master_out[-4000:]
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["passed"] is True and doc["run"]["processes"] == 1
    assert doc["scenarios"]["fast_halt"]["iterations"] > 0
