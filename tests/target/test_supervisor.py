"""The supervisor: one listening line, restarts, port errors, orphans, and ``wsrace serve``."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from loadgen.protocol import metrics as names
from tests.support.target import Target, running_target
from tests.target.client import Client, ametric, await_metric, ready_on_worker, run

pytestmark = pytest.mark.e2e


def workers_of(target: Target) -> list[psutil.Process]:
    return psutil.Process(target.proc.pid).children()


def wait_for_log(target: Target, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in target.logs():
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{target.logs()[-3000:]}"
        time.sleep(0.05)


def test_stdout_is_exactly_the_listening_line() -> None:
    with running_target(workers=2) as target:
        assert len(workers_of(target)) == 2
        assert target.stop() == 0
        assert target.proc.stdout is not None
        assert target.proc.stdout.read() == b""  # nothing after the listening line


@pytest.mark.timeout(120)
def test_a_worker_that_dies_is_restarted_and_its_connections_stop_counting() -> None:
    with running_target(workers=2) as target:
        async def body() -> None:
            victim = await ready_on_worker(target, "alice", 1)
            survivor = await ready_on_worker(target, "alice", 0)
            await await_metric(target, names.CONNECTIONS_OPEN, 2)
            pids = {p.pid for p in workers_of(target)}
            worker1 = next(p for p in workers_of(target) if "--index" in p.cmdline()
                           and p.cmdline()[p.cmdline().index("--index") + 1] == "1")
            worker1.send_signal(signal.SIGKILL)
            await asyncio.to_thread(wait_for_log, target, "restarted and accepting")
            assert "worker 1 (pid" in target.logs() and "exited unexpectedly" in target.logs()
            new_pids = {p.pid for p in workers_of(target)}
            assert len(new_pids) == 2 and worker1.pid not in new_pids and new_pids & pids
            assert await victim.closed() in (None, 1006)  # no close frame from a killed worker
            # the dead worker's open connection no longer counts; the restarted one serves
            async with asyncio.timeout(5):
                while await ametric(target, names.CONNECTIONS_OPEN) != 1:
                    await asyncio.sleep(0.05)
            fresh = await ready_on_worker(target, "alice", 1)
            assert (await fresh.request({"op": "echo", "id": 1, "data": 0}))["id"] == 1
            assert (await survivor.request({"op": "echo", "id": 1, "data": 0}))["id"] == 1
            await fresh.close()
            await survivor.close()

        run(body())
        assert target.stop() == 0


def test_a_port_in_use_is_a_clear_error_exit_2() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "target_app", "--port", str(port)],
            capture_output=True, text=True, timeout=30,
        )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_workers_stop_when_the_supervisor_is_killed() -> None:
    """A supervisor killed with SIGKILL leaves no orphans: workers get SIGTERM from the kernel."""
    with running_target(workers=2) as target:
        workers = workers_of(target)
        target.proc.send_signal(signal.SIGKILL)
        target.proc.wait(10)
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive


def test_wsrace_serve_runs_the_same_app() -> None:
    helped = subprocess.run([sys.executable, "-m", "loadgen.cli", "serve", "--help"],
                            capture_output=True, text=True, timeout=30)
    assert helped.returncode == 0 and "usage: wsrace serve" in helped.stdout
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen.cli", "serve", "--port", "0", "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        readable, _, _ = select.select([proc.stdout], [], [], 20)
        assert readable, "no listening line from wsrace serve"
        line = proc.stdout.readline().decode()
        assert line.startswith('{"event": "listening"')
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_restarted_worker_keeps_the_totals() -> None:
    """Counters of a dead worker stay in the sums; only its live gauge is dropped."""
    with running_target(workers=1) as target:
        async def body() -> None:
            client = await Client.ready(target)
            for i in range(3):
                await client.request({"op": "echo", "id": i, "data": 0})
            before = await ametric(target, names.MESSAGES_RECEIVED)
            assert before == 3
            workers_of(target)[0].send_signal(signal.SIGKILL)
            await asyncio.to_thread(wait_for_log, target, "restarted and accepting")
            assert await ametric(target, names.MESSAGES_RECEIVED) == before
            assert await ametric(target, names.CONNECTIONS_OPEN) == 0

        run(body())
