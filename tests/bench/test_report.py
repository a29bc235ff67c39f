"""Medians, spreads, paired ratios and targets from samples: pure, fed with made-up samples."""

from __future__ import annotations

from typing import Any

import pytest

from loadgen.bench import measure, report
from loadgen.bench.report import Spread, spread, summarize
from loadgen.bench.runner import derive
from loadgen.bench.workloads import WORKLOADS


def sample(run: int, workload: str, generator: str, **metrics: float) -> dict[str, Any]:
    return {"run": run, "workload": workload, "generator": generator, "metrics": metrics}


def roundtrips(*per_run: tuple[float, float, float]) -> list[dict[str, Any]]:
    """Round-trip samples: for each run, (wsrace, wssync, asyncio) CPU-s per 10k."""
    out = []
    for run, values in enumerate(per_run, start=1):
        for generator, cpu in zip(("wsrace", "wssync", "asyncio"), values, strict=True):
            out.append(sample(run, "roundtrip", generator, gen_cpu_per_unit=cpu, rate=1000.0 / cpu))
    return out


def test_spread_is_median_min_max_of_present_values() -> None:
    assert spread([3.0, None, 1.0, 2.0]) == Spread(2.0, 1.0, 3.0, 3)
    assert spread([None]) is None
    assert spread([]) is None


def test_cells_are_medians_over_runs() -> None:
    summary = summarize(roundtrips((0.5, 1.0, 0.4), (0.7, 1.2, 0.5), (0.6, 1.1, 0.9)))
    assert summary.cells[("roundtrip", "wsrace", "gen_cpu_per_unit")] == Spread(0.6, 0.5, 0.7, 3)


def test_ratios_pair_runs_one_to_one() -> None:
    """Run 1 with run 1: the ratio of medians would hide that each pair shared a minute of the box."""
    summary = summarize(roundtrips((0.5, 1.0, 0.5), (0.8, 1.0, 1.0), (0.6, 1.2, 2.0)))
    to_sync = summary.ratios[("roundtrip", "wssync", "gen_cpu_per_unit")]
    to_asyncio = summary.ratios[("roundtrip", "asyncio", "gen_cpu_per_unit")]
    assert to_sync == Spread(0.5, 0.5, 0.8, 3)
    assert to_asyncio == Spread(0.8, 0.3, 1.0, 3)


def test_metrics_without_ratio_get_none() -> None:
    samples = [sample(1, "roundtrip", g, server_cpu_per_unit=1.0) for g in ("wsrace", "wssync")]
    assert ("roundtrip", "wssync", "server_cpu_per_unit") not in summarize(samples).ratios


def test_target_met_and_missed() -> None:
    met = summarize(roundtrips((0.55, 1.0, 0.5))).targets
    missed = summarize(roundtrips((0.65, 1.0, 0.5))).targets
    assert [(t.workload, t.met) for t in met] == [("roundtrip", True)]
    assert [(t.workload, t.met) for t in missed] == [("roundtrip", False)]


def test_target_not_measured_when_every_sample_failed() -> None:
    failed = {"run": 1, "workload": "storm", "generator": "wsrace", "error": "wsrace generator: boom"}
    summary = summarize([failed])
    assert [(t.workload, t.met) for t in summary.targets] == [("storm", None)]
    assert summary.failures == [failed]
    assert "1 sample(s) did not complete" in report.render(summary, _plan(("storm",)), {})
    assert "not measured" in report.render(summary, _plan(("storm",)), {})


def test_target_app_floor_comes_from_the_echo_server_when_measured() -> None:
    samples = [
        sample(1, "idle", "wsrace", gen_kib_per_conn=12.0, server_kib_per_conn=10.0),
        sample(1, "idle-target", "wsrace", server_kib_per_conn=11.0),
    ]
    (idle, target) = summarize(samples).targets
    assert idle.met is True
    assert target.limit == pytest.approx(11.5) and target.met is True
    alone = summarize(samples[1:]).targets[0]
    assert alone.limit == pytest.approx(13.0 * 1.15) and "issue" in alone.text


def _plan(workloads: tuple[str, ...]) -> dict[str, Any]:
    return {"runs": 3, "duration": 10.0, "connections": 100, "idle": 1000, "workloads": list(workloads),
            "generators": ["wsrace", "wssync", "asyncio"], "cores": "generator on core 0, server on core 1"}


def test_render_shows_median_spread_ratio_and_verdict() -> None:
    summary = summarize(roundtrips((0.5, 1.0, 0.5), (0.8, 1.0, 1.0), (0.6, 1.2, 2.0)))
    text = report.render(summary, _plan(("roundtrip",)), {"cpu_model": "Test CPU", "nproc": 2})
    assert "round trips: 100 connections, 64-byte JSON echo, closed loop, 10 s" in text
    assert "0.600 (0.500-0.800)" in text  # wsrace's cell
    assert "0.50 (0.50-0.80)" in text  # wsrace / wssync
    assert "target ≤ 0.6 CPU-s / 10k: met (wsrace median 0.600)" in text
    assert "Test CPU, 2 cores" in text


def test_json_has_results_ratios_targets_and_samples() -> None:
    samples = roundtrips((0.5, 1.0, 0.5))
    doc = report.to_json(summarize(samples), samples, _plan(("roundtrip",)), {"nproc": 2})
    assert doc["results"]["roundtrip"]["wsrace"]["gen_cpu_per_unit"]["median"] == 0.5
    ratio = doc["ratios"]["roundtrip"]["wsrace/wssync"]["rate"]
    assert ratio["median"] == 2.0 and ratio["lower_is_better"] is False
    assert doc["targets"][0]["met"] is True and doc["samples"] == samples


def test_derive_round_trips_per_10k_and_idle_per_connection() -> None:
    """CPU per unit divides the window's CPU by work done; memory per connection, RSS growth by
    connections open."""
    gen = (measure.Usage(1.0, 50_000, 50_000), measure.Usage(2.5, 51_000, 52_000))
    srv = (measure.Usage(0.0, 20_000, 20_000), measure.Usage(1.0, 21_000, 21_000))
    done = {"count": 30_000, "elapsed_s": 10.0, "p50_ms": 3, "p99_ms": 9, "failures": 0}
    m = derive(WORKLOADS["roundtrip"], done, gen, srv)
    assert m["gen_cpu_per_unit"] == pytest.approx(0.5)
    assert m["server_cpu_per_unit"] == pytest.approx(1 / 3)
    assert m["rate"] == pytest.approx(3000.0)
    assert m["gen_peak_rss_mib"] == pytest.approx(52_000 / 1024)
    idle = derive(WORKLOADS["idle"], {"count": 100, "elapsed_s": 0.5}, gen, srv)
    assert idle["gen_kib_per_conn"] == pytest.approx(10.0)
    assert idle["server_kib_per_conn"] == pytest.approx(10.0)
    assert "rate" not in idle
