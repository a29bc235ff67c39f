"""One measured sample of a peer (Artillery, Tsung): the same server, core and CPU accounting as
the Python generators, the work counted at the server.

A peer does not speak the benchmark's ready/go/done handshake, so its window is taken from
outside: start a fresh echo server (server core) and the peer (generator core, every thread of
its tree), wait until the server has seen every connection and work flowing (the peer's start-up,
Node's or Erlang's, stays outside), then sample both trees' CPU and memory (psutil, as for the
others) and the server's counts, wait ``duration`` seconds, sample again. Work done in the window
= the server's count difference: messages echoed (round trips) or handshakes completed (storm).
The peer was told to end by itself a little later (``SETUP_S`` + duration + ``TAIL_S`` after its
start; Artillery's round trips as soon as the parent's stop file appears), so that it writes its
report; the errors it counted are the sample's ``failures``.

Tsung's Erlang VM starts ``epmd`` (Erlang's port mapper, a daemon that outlives the VM) if none
runs; one that appeared during the sample is stopped again, by its pid.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from loadgen.bench import measure, processes
from loadgen.bench.metrics import derive
from loadgen.bench.peers import artillery, executable, skip_reason, tsung
from loadgen.bench.workloads import WORKLOADS, echo_message
from loadgen.children import Child, ChildFailed

__all__ = ["run_sample"]

SETUP_S = {"artillery": 45.0, "tsung": 15.0}
"""From the peer's start to work flowing on every connection, at most. Artillery loads ~580
packages on one core: 7-12 s here, over 15 s on this VM at load average 7."""
TAIL_S = 2.0
"""How long the peer runs on after the window, before it ends by itself."""
EXIT_S = 30.0
"""From the peer's planned end to its exit (Artillery writes its report then)."""
POLL_S = 0.2

MESSAGE = json.dumps(echo_message(), separators=(",", ":"))


def _prepare(peer: str, workload: str, srv: processes.Server, connections: int, run_s: float,
             tmp: Path, exe: str) -> tuple[list[str], dict[str, str], Callable[[], tuple[int, str | None]]]:
    """The peer's command, environment, and how to read its errors afterwards."""
    if peer == "artillery":
        (tmp / "processor.js").write_text(artillery.PROCESSOR_JS)
        doc = artillery.script(workload, srv.url, connections, run_s, MESSAGE, "./processor.js")
        (tmp / "script.yml").write_text(artillery.script_text(doc))
        report = tmp / "report.json"
        end_ms = int((time.time() + run_s) * 1000)
        stop = tmp / "stop"

        def collect() -> tuple[int, str | None]:
            if not report.exists():
                return 1, "Artillery wrote no report"
            return artillery.failures(json.loads(report.read_text()))

        return (artillery.command(exe, "script.yml", str(report)),
                {**artillery.ENV, artillery.END_ENV: str(end_ms), artillery.STOP_ENV: str(stop)}, collect)
    if peer == "tsung":
        (tmp / "tsung.xml").write_text(tsung.config(workload, "127.0.0.1", srv.port, srv.path, connections,
                                                    run_s, MESSAGE))
        logs = tmp / "log"
        logs.mkdir()

        def collect() -> tuple[int, str | None]:
            found = sorted(logs.rglob("tsung.log"))
            if not found:
                return 1, "Tsung wrote no tsung.log"
            return tsung.failures(found[-1].read_text(errors="replace"))

        return tsung.command(exe, str(tmp / "tsung.xml"), str(logs)), dict(tsung.ENV), collect
    raise ValueError(f"unknown peer {peer!r}")


def _epmd_pids() -> set[int]:
    pids = set()
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] == "epmd":
            pids.add(proc.pid)
    return pids


def _stop_new_epmd(before: set[int]) -> None:
    for pid in _epmd_pids() - before:
        try:
            psutil.Process(pid).terminate()
        except psutil.Error:  # gone meanwhile
            continue


def _warm(srv: processes.Server, child: Child, workload: str, connections: int, deadline: float) -> None:
    """Wait until every connection is open and each carried work (round trips: an echo each;
    storm: every user connected once) — the peer's start-up done."""
    while True:
        messages, handshakes = srv.count()
        if handshakes >= connections and messages >= connections:
            return
        if child.poll() is not None:
            raise child.fail(f"exited before it got going (server saw {handshakes} connections, "
                             f"{messages} messages)")
        if time.monotonic() >= deadline:
            raise child.fail(f"only {handshakes} of {connections} connections and {messages} messages "
                             f"by its set-up deadline")
        time.sleep(POLL_S)


def run_sample(cores: measure.CorePlan, workload_name: str, peer: str, connections: int,
               duration: float) -> dict[str, Any]:
    """One window of ``peer`` on ``workload_name``: its metrics, as :func:`derive` makes them."""
    why = skip_reason(peer)
    exe = executable(peer)
    if why is not None or exe is None:
        raise ChildFailed(peer, why or "not installed")
    workload = WORKLOADS[workload_name]
    run_s = SETUP_S[peer] + duration + TAIL_S
    epmd_before = _epmd_pids() if peer == "tsung" else set()
    try:
        with tempfile.TemporaryDirectory(prefix=f"wsrace-bench-{peer}-") as scratch, \
                processes.server("echo", cores.server) as srv:
            tmp = Path(scratch)
            cmd, env, collect = _prepare(peer, workload_name, srv, connections, run_s, tmp, exe)
            with Child.start(cmd, name=f"{peer} generator", env=env, cwd=tmp, output="log") as child:
                measure.pin(child.pid, cores.generator)  # early: threads started later inherit it
                launched = time.monotonic()
                _warm(srv, child, workload_name, connections, launched + SETUP_S[peer])
                setup_s = time.monotonic() - launched
                measure.pin(child.pid, cores.generator)  # processes and threads it started meanwhile
                gen_before, srv_before = measure.usage(child.pid), measure.usage(srv.pid)
                counts_before, started = srv.count(), time.monotonic()
                time.sleep(duration)
                gen_after, srv_after = measure.usage(child.pid), measure.usage(srv.pid)
                counts_after, ended = srv.count(), time.monotonic()
                (tmp / "stop").touch()  # Artillery's round trips end now rather than at run_s
                if ended > launched + run_s:
                    raise child.fail("the window outlasted the run it was told to make")
                # Artillery's phases start once it has started: allow for its start-up as well.
                if child.wait(launched + setup_s + run_s + EXIT_S) is None:
                    raise child.fail(f"did not end within {EXIT_S:.0f} s of its planned end")
                failures, first_error = collect()
    finally:
        if peer == "tsung":
            _stop_new_epmd(epmd_before)
    unit_index = 0 if workload_name == "roundtrip" else 1  # messages echoed, or handshakes completed
    count = counts_after[unit_index] - counts_before[unit_index]
    if count <= 0:
        raise ChildFailed(peer, f"did no {workload_name} work in the window (server counts {counts_before} "
                          f"then {counts_after})")
    done = {"count": count, "elapsed_s": ended - started, "failures": failures, "p50_ms": None, "p99_ms": None}
    metrics = derive(workload, done, (gen_before, gen_after), (srv_before, srv_after))
    metrics["setup_s"] = setup_s  # start-up until every connection carried work: outside the window
    return {"metrics": metrics, "first_error": first_error}
