"""``wsrace bench`` end to end, briefly: every workload and generator runs, the table and the JSON
have their shape. Nothing here judges a number: timings belong to the benchmark, not to tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadgen.bench.report import ratio_name
from loadgen.bench.workloads import BASELINES, DEFAULT_WORKLOADS, FLOOR, GENERATOR_TITLES, WORKLOADS
from tests.support.wsrace_cli import run_wsrace

pytestmark = pytest.mark.e2e

SPREAD_KEYS = {"median", "low", "high", "n"}
RUNS, DURATION, CONNECTIONS, IDLE = 1, 2.0, 5, 20


def planned_samples() -> list[tuple[str, str]]:
    """(workload, generator) of every sample one run of the default workloads makes, in order."""
    return [(name, generator) for name in DEFAULT_WORKLOADS for generator in WORKLOADS[name].generators]


def expected_ratios() -> dict[str, set[str]]:
    """Per default workload with a ratio metric and a baseline beside wsrace: the ratios it gets;
    the target app's is to the echo server's floor."""
    out = {}
    for name in DEFAULT_WORKLOADS:
        workload = WORKLOADS[name]
        pairs = {ratio_name(b) for b in BASELINES if b in workload.generators}
        if pairs and any(metric.ratio for metric in workload.metrics):
            out[name] = pairs
        if any(t.against == FLOOR for t in workload.targets):
            out.setdefault(name, set()).add(ratio_name(FLOOR))
    return out


def expected_targets() -> list[tuple[str, str]]:
    """(workload, against) of each target a run without --peers judges: those against a Python
    baseline, and the target app's floor."""
    return [(name, t.against) for name in DEFAULT_WORKLOADS for t in WORKLOADS[name].targets
            if t.against in BASELINES or t.against == FLOOR]


@pytest.mark.timeout(420)
def test_bench_runs_every_workload_and_reports_table_and_json(tmp_path: Path) -> None:
    """A 2 s, one-run benchmark with a few connections exits 0 with a table and a complete JSON:
    every planned sample ran once, and every workload, metric, ratio and target is reported."""
    out = tmp_path / "bench.json"
    finished = run_wsrace(
        "bench", "--duration", f"{DURATION:g}", "--runs", str(RUNS), "--connections", str(CONNECTIONS),
        "--idle", str(IDLE), "--json", str(out), timeout=400,
    )
    assert finished.returncode == 0, finished.output[-6000:]
    text = finished.output
    planned = planned_samples()
    progress = [line.split()[2:4] for line in text.splitlines() if line.startswith(f"run {RUNS}/{RUNS} ")]
    assert progress == [list(sample) for sample in planned]  # one progress line per sample, in order
    for generator in {g for _, g in planned}:
        assert GENERATOR_TITLES[generator] in text
    for name in DEFAULT_WORKLOADS:
        workload = WORKLOADS[name]
        assert workload.title.format(connections=CONNECTIONS, idle=IDLE, duration=DURATION) in text
        for metric in workload.metrics:
            assert metric.label in text
    for pairs in expected_ratios().values():
        assert all(pair in text for pair in pairs)

    doc = json.loads(out.read_text())
    assert {"cpu_model", "nproc", "python", "locust", "gevent", "websockets"} <= set(doc["machine"])
    assert doc["plan"]["runs"] == RUNS and doc["plan"]["connections"] == CONNECTIONS
    for name, generator in planned:
        cells = doc["results"][name][generator]
        assert {m.key for m in WORKLOADS[name].metrics} <= set(cells), (name, generator)
        assert all(set(cell) >= SPREAD_KEYS for cell in cells.values())
    assert {name: set(pairs) for name, pairs in doc["ratios"].items()} == expected_ratios()
    assert doc["format"] == "wsrace-bench/2"
    assert [(t["workload"], t["against"]) for t in doc["targets"]] == expected_targets()
    assert all(isinstance(t["met"], bool) for t in doc["targets"])
    for target in doc["targets"]:
        assert f"target: {target['text']} -> " in text
    assert [(s["workload"], s["generator"]) for s in doc["samples"]] == planned
    for sample in doc["samples"]:
        assert sample["metrics"]["count"] > 0, sample
        assert sample["metrics"]["failures"] == 0, sample
    assert doc["failures"] == []
