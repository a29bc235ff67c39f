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


def _limit(workload: str, against: str) -> float:
    """The issue's bound on wsrace / ``against`` in ``workload``, from the workload's own data."""
    return next(t.limit for t in WORKLOADS[workload].targets if t.against == against)


def test_target_is_a_ratio_to_the_baseline_met_and_missed() -> None:
    """Round trips: met when the median of wsrace / asyncio, paired run by run, is within the
    bound; the absolute CPU does not matter, only the ratio."""
    limit = _limit("roundtrip", "asyncio")
    met = summarize(roundtrips((0.5 * limit, 9.0, 0.5), (5.0 * limit, 9.0, 5.0))).targets
    missed = summarize(roundtrips((0.6 * limit, 9.0, 0.5), (0.6 * limit, 9.0, 0.5))).targets
    assert [(t.workload, t.against, t.met) for t in met] == [("roundtrip", "asyncio", True)]
    assert met[0].median == pytest.approx(limit)
    assert [(t.workload, t.against, t.met) for t in missed] == [("roundtrip", "asyncio", False)]
    assert missed[0].median == pytest.approx(1.2 * limit)


def test_targets_against_generators_that_did_not_run_are_not_listed() -> None:
    """Without asyncio (``--only``) or a peer (not installed), there is nothing to compare with."""
    only_wsrace = [sample(1, "roundtrip", "wsrace", gen_cpu_per_unit=0.5)]
    assert summarize(only_wsrace).targets == []


def test_peer_ratios_and_targets() -> None:
    """A peer is a baseline like the others: its ratio is taken run by run and its target judged."""
    samples = [*roundtrips((0.5, 1.0, 0.5)), sample(1, "roundtrip", "artillery", gen_cpu_per_unit=0.4)]
    summary = summarize(samples)
    assert summary.ratios[("roundtrip", "artillery", "gen_cpu_per_unit")].median == pytest.approx(1.25)
    by_peer = {t.against: t.met for t in summary.targets}
    assert by_peer == {"asyncio": _limit("roundtrip", "asyncio") >= 0.5 / 0.5,
                       "artillery": _limit("roundtrip", "artillery") >= 1.25}


def test_target_not_measured_when_every_sample_failed() -> None:
    failed = [{"run": 1, "workload": "storm", "generator": g, "error": f"{g} generator: boom"}
              for g in ("wsrace", "asyncio")]
    summary = summarize(failed)
    assert [(t.workload, t.met) for t in summary.targets] == [("storm", None)]
    assert summary.failures == failed
    assert "2 sample(s) did not complete" in report.render(summary, _plan(("storm",)), {})
    assert "not measured" in report.render(summary, _plan(("storm",)), {})


def test_target_app_floor_is_the_echo_server_in_idle_run_by_run() -> None:
    """The target app's KiB per connection over the echo server's, both holding wsrace's sessions
    in the same run; its bound is the issue's 1.15."""
    samples = [
        sample(1, "idle", "wsrace", gen_kib_per_conn=12.0, server_kib_per_conn=10.0),
        sample(1, "idle", "asyncio", gen_kib_per_conn=15.0, server_kib_per_conn=99.0),
        sample(1, "idle-target", "wsrace", server_kib_per_conn=11.0),
        sample(2, "idle", "wsrace", gen_kib_per_conn=12.0, server_kib_per_conn=10.0),
        sample(2, "idle", "asyncio", gen_kib_per_conn=15.0, server_kib_per_conn=99.0),
        sample(2, "idle-target", "wsrace", server_kib_per_conn=13.0),
    ]
    summary = summarize(samples)
    floor = summary.ratios[("idle-target", "floor", "server_kib_per_conn")]
    assert (floor.median, floor.low, floor.high, floor.n) == (pytest.approx(1.2), 1.1, 1.3, 2)
    targets = {t.workload: t for t in summary.targets}
    assert targets["idle"].met is True and targets["idle"].median == pytest.approx(0.8)
    assert targets["idle-target"].against == "floor"
    assert targets["idle-target"].met is (_limit("idle-target", "floor") >= 1.2)
    alone = summarize([s for s in samples if s["workload"] == "idle-target"])
    assert alone.targets == []  # no floor measured: no verdict


def _plan(workloads: tuple[str, ...]) -> dict[str, Any]:
    return {"runs": 3, "duration": 10.0, "connections": 100, "idle": 1000, "workloads": list(workloads),
            "generators": ["wsrace", "wssync", "asyncio"], "cores": "generator on core 0, server on core 1"}


def test_render_shows_median_spread_ratio_and_verdict() -> None:
    summary = summarize(roundtrips((0.5, 1.0, 0.5), (0.8, 1.0, 1.0), (0.6, 1.2, 2.0)))
    text = report.render(summary, _plan(("roundtrip",)), {"cpu_model": "Test CPU", "nproc": 2})
    assert "round trips: 100 connections, 64-byte JSON echo, closed loop, 10 s" in text
    assert "0.600 (0.500-0.800)" in text  # wsrace's cell
    assert "0.50 (0.50-0.80)" in text  # wsrace / wssync
    target = next(t for t in WORKLOADS["roundtrip"].targets if t.against == "asyncio")
    assert f"target: {target.text} -> met (median 0.80x, 0.30-1.00 over the runs)" in text
    assert "Test CPU, 2 cores" in text


def test_json_has_results_ratios_targets_and_samples() -> None:
    samples = roundtrips((0.5, 1.0, 0.5))
    doc = report.to_json(summarize(samples), samples, _plan(("roundtrip",)), {"nproc": 2})
    assert doc["results"]["roundtrip"]["wsrace"]["gen_cpu_per_unit"]["median"] == 0.5
    ratio = doc["ratios"]["roundtrip"]["wsrace/wssync"]["rate"]
    assert ratio["median"] == 2.0 and ratio["lower_is_better"] is False
    assert doc["format"] == "wsrace-bench/2"
    (target,) = doc["targets"]
    assert (target["against"], target["median"], target["met"]) == ("asyncio", 1.0, True)
    assert doc["samples"] == samples


def test_render_says_which_peers_were_skipped_and_how_to_get_them() -> None:
    why = "'tsung' is not on PATH; to run it: apt-get install tsung"
    plan = {**_plan(("roundtrip",)), "peers_skipped": {"tsung": why}}
    text = report.render(summarize(roundtrips((0.5, 1.0, 0.5))), plan, {})
    assert "tsung: skipped: 'tsung' is not on PATH; to run it: apt-get install tsung" in text


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
