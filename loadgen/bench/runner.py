"""The benchmark's schedule: every run, every workload, every generator, each a fresh pair of
processes; and one measured sample.

A sample: start a fresh server (pinned to the server core) and the generator (pinned to the
generator core); when the generator is ready, sample both trees' CPU and memory in ``/proc``, say
go, wait for done, sample again, say exit. The difference between the samples is the window's
cost; :func:`derive` turns it into the table's metrics. Generators take turns within each run, so
a slow minute on the machine lands on all of them.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from loadgen.bench import measure, processes
from loadgen.bench.metrics import derive
from loadgen.bench.peers import window
from loadgen.bench.workloads import PEERS, WORKLOADS

__all__ = ["Plan", "derive", "run_all", "run_sample"]

SETUP_TIMEOUT_S = 90.0
"""From start to ready: imports, and (round trips) every connection open."""


@dataclass(frozen=True, slots=True)
class Plan:
    runs: int
    duration: float
    connections: int
    idle: int
    workloads: tuple[str, ...]
    generators: tuple[str, ...]
    cores: measure.CorePlan
    timeout: float = 30.0
    """Bound on any one wait inside a generator (a connect, a reply)."""

    def connections_for(self, workload: str) -> int:
        return self.idle if WORKLOADS[workload].unit == 1 else self.connections


def run_sample(plan: Plan, workload_name: str, generator: str) -> dict[str, Any]:
    """One measured window of ``generator`` on ``workload_name``; its metrics and notes."""
    if generator in PEERS:
        return window.run_sample(plan.cores, workload_name, generator, plan.connections, plan.duration)
    workload = WORKLOADS[workload_name]
    secret = secrets.token_hex(16) if workload.authenticated else None
    with processes.server(workload.server, plan.cores.server, secret=secret) as srv, processes.generator(
        generator, workload_name, srv.url, plan.connections_for(workload_name), plan.duration,
        plan.cores.generator, secret=secret, timeout=plan.timeout,
    ) as gen:
        gen.expect("ready", SETUP_TIMEOUT_S)
        measure.pin(gen.pid, plan.cores.generator)  # threads started during setup, if any
        before = measure.usage(gen.pid), measure.usage(srv.pid)
        gen.send("go")
        done = gen.expect("done", plan.duration + plan.timeout + SETUP_TIMEOUT_S)
        after = measure.usage(gen.pid), measure.usage(srv.pid)
        gen.finish()
    metrics = derive(workload, done, (before[0], after[0]), (before[1], after[1]))
    return {"metrics": metrics, "first_error": done.get("first_error")}


Progress = Callable[[str], None]


def _stderr(text: str, stream: TextIO = sys.stderr) -> None:
    stream.write(text + "\n")
    stream.flush()


def run_all(plan: Plan, progress: Progress = _stderr,
            sample: Callable[[Plan, str, str], dict[str, Any]] = run_sample) -> list[dict[str, Any]]:
    """Every sample of the plan, in order; a sample that failed is kept with its ``error``."""
    samples: list[dict[str, Any]] = []
    for run in range(1, plan.runs + 1):
        for workload in plan.workloads:
            for generator in plan.generators:
                if generator not in WORKLOADS[workload].generators + WORKLOADS[workload].peers:
                    continue
                record: dict[str, Any] = {"run": run, "workload": workload, "generator": generator}
                try:
                    record.update(sample(plan, workload, generator))
                except processes.ChildFailed as exc:
                    record["error"] = str(exc)
                    progress(f"run {run}/{plan.runs} {workload:<11} {generator:<8} FAILED: {exc}")
                else:
                    progress(f"run {run}/{plan.runs} {workload:<11} {generator:<8} {_brief(record)}")
                samples.append(record)
    return samples


def _brief(record: dict[str, Any]) -> str:
    m = record["metrics"]
    if "gen_kib_per_conn" in m:
        text = f"gen {m['gen_kib_per_conn']:.1f} KiB/conn, server {m['server_kib_per_conn']:.1f} KiB/conn"
    else:
        unit = WORKLOADS[record["workload"]].unit
        text = f"{m['gen_cpu_per_unit']:.3f} CPU-s/{unit / 1000:g}k, {m['rate']:.0f}/s"
        if m.get("p50_ms") is not None:
            text += f", p50 {m['p50_ms']} ms, p99 {m['p99_ms']} ms"
    if m.get("failures") or m.get("exceptions"):
        text += f", {m['failures']} failed requests, {m['exceptions']} exceptions ({record.get('first_error')})"
    return text
