"""Locust's distributed mode across hosts: the target, the master and two workers each on a host of
their own (network namespaces joined by a bridge, made by the test), the quick profile, and a master
whose verdict and results count every worker's iterations.

Skips, with the reason, only where namespaces cannot be made (not root, no iproute2).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loadgen.children import Child
from loadgen.judge.schedule import parse_schedule
from loadgen.paths import default_schedule
from tests.distributed import netns

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
WORKERS = 2
START_TIMEOUT_S = 60
RUN_TIMEOUT_S = 200
COUNTED = ("attempts", "successes", "failures", "interrupted")


@pytest.fixture(scope="module", autouse=True)
def _namespaces_possible() -> None:
    why = netns.unavailable()
    if why:
        pytest.skip(why)


def listening_port(pid: int, address: str, deadline: float) -> int:
    """The TCP port ``pid`` listens on at ``address``, from its network namespace's own table
    (``/proc/PID/net/tcp``; psutil reads the caller's). The master was given ``--master-bind-port 0``
    and is the only process at that address, so its RPC socket is the one listener there. (Until
    ``ip netns exec`` has entered the namespace, the table is the machine's: hence the address.)"""
    wanted = socket.inet_aton(address)[::-1].hex().upper()  # the kernel prints IPv4 little-endian
    while time.monotonic() < deadline:
        lines = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
        ports = {int(port, 16) for local, state in ((f[1], f[3]) for f in (line.split() for line in lines))
                 for host, port in [local.split(":")] if state == "0A" and host == wanted}
        if ports:
            assert len(ports) == 1, f"several listeners at the master's address: {sorted(ports)}"
            return ports.pop()
        time.sleep(0.05)  # Locust says nothing once it has bound: look again, until the deadline
    raise AssertionError("the master never listened")


def test_master_counts_every_workers_iterations_across_hosts(tmp_path: Path) -> None:
    """Target, master and two workers on three hosts: the quick profile passes, the master heard
    from both workers, and each scenario's totals are the sum of what the workers reported
    (attempts = successes + failures + interrupted, summed over workers). Nothing is left behind."""
    python = sys.executable
    scheduled = set(parse_schedule(default_schedule("quick")).scenarios)
    with netns.hosts(["target", "master", "workers"]) as net:
        target_cmd = net.command("target", [python, "-m", "target_app", "--host", net.address("target"), "--port", "0"])
        with Child.start(target_cmd, name="target", cwd=tmp_path) as target:
            port = target.read_listening(time.monotonic() + START_TIMEOUT_S)["port"]
            host = f"ws://{net.address('target')}:{port}"
            master_cmd = net.command("master", [
                python, "-m", "locust", "-f", str(SCENARIOS), "--headless", "--master",
                "--master-bind-host", net.address("master"), "--master-bind-port", "0",
                "--expect-workers", str(WORKERS), "--profile", "quick", "--host", host,
                "--results", "r.json", "--only-summary"])
            with Child.start(master_cmd, name="locust master", cwd=tmp_path, output="log") as master:
                rpc = listening_port(master.pid, net.address("master"), time.monotonic() + START_TIMEOUT_S)
                worker_cmd = net.command("workers", [
                    python, "-m", "locust", "-f", str(SCENARIOS), "--worker",
                    "--master-host", net.address("master"), "--master-port", str(rpc)])
                with contextlib.ExitStack() as stack:
                    workers = [stack.enter_context(Child.start(worker_cmd, name=f"locust worker {n}", cwd=tmp_path,
                                                               output="log")) for n in range(WORKERS)]
                    code = master.wait(time.monotonic() + RUN_TIMEOUT_S)
                    log = master.log_text()
                    for worker in workers:
                        worker.wait(time.monotonic() + 30)
    assert netns.leftovers() == [], "the test's namespaces were not deleted"
    assert code == 0, log[-4000:]
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["passed"] is True and doc["run"]["host"] == host and doc["run"]["processes"] == WORKERS
    assert set(doc["scenarios"]) == scheduled
    reports = doc["processes"]["load"]["reports"]
    assert doc["processes"]["load"]["workers"] == WORKERS and len(reports) == WORKERS
    assert doc["processes"]["load"]["lost_reports"] == []
    assert all(seen["counted"]["attempts"] > 0 for seen in reports.values()), reports  # both did load
    for name, scenario in doc["scenarios"].items():
        assert scenario["iterations"] > 0, name
        assert scenario["attempts"] == scenario["successes"] + scenario["failures"] + scenario["interrupted"], name
    for field in COUNTED:
        assert sum(seen["counted"][field] for seen in reports.values()) == sum(
            scenario[field] for scenario in doc["scenarios"].values()), field



def test_the_hosts_reach_each_other_and_are_deleted_even_when_the_test_fails() -> None:
    """Each host pings every other over the bridge; an exception inside the block still deletes
    every namespace it made."""
    with pytest.raises(RuntimeError, match="the test failed here"), netns.hosts(["a", "b", "c"]) as net:
        assert sorted(netns.leftovers()) == sorted(net.names.values())
        for here in net.names:
            for there in net.names:
                done = subprocess.run(net.command(here, ["ping", "-c", "1", "-W", "2", net.address(there)]),
                                      capture_output=True, text=True, timeout=10, check=False)
                assert done.returncode == 0, f"{here} cannot reach {there}: {done.stdout}{done.stderr}"
        raise RuntimeError("the test failed here")
    assert netns.leftovers() == []
