"""``wsrace bench`` end to end, briefly: every workload and generator runs, the table and the JSON
have their shape. Nothing here judges a number: timings belong to the benchmark, not to tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadgen.bench.workloads import GENERATOR_TITLES, GENERATORS, WORKLOADS
from tests.support.wsrace_cli import run_wsrace

pytestmark = pytest.mark.e2e

SPREAD_KEYS = {"median", "low", "high", "n"}


@pytest.mark.timeout(420)
def test_bench_runs_every_workload_and_reports_table_and_json(tmp_path: Path) -> None:
    """A 2 s, one-run benchmark with a few connections exits 0 with a table and a complete JSON."""
    out = tmp_path / "bench.json"
    finished = run_wsrace(
        "bench", "--duration", "2", "--runs", "1", "--connections", "5", "--idle", "20", "--json", str(out),
        timeout=400,
    )
    assert finished.returncode == 0, finished.output[-6000:]
    text = finished.output
    for generator in GENERATORS:
        assert GENERATOR_TITLES[generator] in text
        assert f"run 1/1 roundtrip   {generator}" in text  # progress line per sample
    for workload in WORKLOADS.values():
        assert workload.title.format(connections=5, idle=20, duration=2.0) in text
        for metric in workload.metrics:
            assert metric.label in text
    assert "wsrace/wssync" in text and "wsrace/asyncio" in text
    assert text.count("target ") >= 4

    doc = json.loads(out.read_text())
    assert doc["format"] == "wsrace-bench/1"
    assert {"cpu_model", "nproc", "python", "locust", "gevent", "websockets"} <= set(doc["machine"])
    assert doc["plan"]["runs"] == 1 and doc["plan"]["connections"] == 5
    for name, workload in WORKLOADS.items():
        for generator in workload.generators:
            cells = doc["results"][name][generator]
            assert {m.key for m in workload.metrics} <= set(cells), (name, generator)
            assert all(set(cell) >= SPREAD_KEYS for cell in cells.values())
    for name in ("roundtrip", "storm", "idle"):
        assert set(doc["ratios"][name]) == {"wsrace/wssync", "wsrace/asyncio"}
    assert {t["workload"] for t in doc["targets"]} == set(WORKLOADS)
    assert all(isinstance(t["met"], bool) for t in doc["targets"])
    assert len(doc["samples"]) == 3 * 3 + 1
    for sample in doc["samples"]:
        assert sample["metrics"]["count"] > 0, sample
        assert sample["metrics"]["failures"] == 0, sample
    assert doc["failures"] == []
