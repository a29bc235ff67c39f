"""The timeline sampler, the plot and report outputs, and the web UI's report, in Locust's own
interpreter: real ``RequestStats`` and events, no sockets (the web UI through Flask's test client)."""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

import gevent
import pytest
from locust.env import Environment
from locust.stats import calculate_response_time_percentile

from loadgen.context import run_context
from loadgen.report import hooks, sampler
from loadgen.report.html import SECTION_ID
from loadgen.report.timeline import percentile
from tests.report.samples import document

WAIT_S = 10.0


def test_interval_percentiles_are_locusts_own() -> None:
    """On random histograms, the timeline's percentile is what Locust's function returns."""
    rng = random.Random(3)
    for _ in range(200):
        histogram = {rng.choice([1, 5, 12, 40, 150, 990, 4200]): rng.randint(1, 50) for _ in range(rng.randint(1, 7))}
        for fraction in (0.5, 0.95, 0.99):
            expected = calculate_response_time_percentile(histogram, sum(histogram.values()), fraction)
            assert percentile(histogram, fraction) == expected


def environment() -> Environment:
    return Environment(user_classes=[], host="ws://127.0.0.1:1")


def log(env: Environment, scenario: str, step: str, times: list[int], *, failed: int = 0) -> None:
    for index, ms in enumerate(times):
        env.stats.log_request(scenario, step, ms, 0)
        if index < failed:
            env.stats.log_error(scenario, step, "boom")


def test_reads_of_locusts_stats_become_deltas_and_a_reset_counts_from_zero() -> None:
    """Two reads of real stats and tallies: the sample holds what came between; after Locust's
    reset_all the next sample holds only what came after it."""
    env = environment()
    collector = run_context(env).collector
    log(env, "steady", "echo", [5] * 50)
    s = sampler.Sampler(lambda: sampler.read_snapshot(env), 3600.0)  # read by hand here: the loop is tested below
    s.start()
    log(env, "steady", "echo", [300] * 10, failed=2)
    for _ in range(4):
        collector.attempt("steady")
        collector.success("steady")
    collector.failure("steady", "timeout")
    s.sample()
    env.stats.reset_all()
    log(env, "steady", "echo", [7, 8, 9])
    s.sample()
    first, second = s.timeline.to_dict()["samples"]
    s.stop()
    assert first["scenarios"]["steady"]["steps"]["echo"] == {"count": 10, "failures": 2, "p95": 300.0, "p99": 300.0}
    assert first["scenarios"]["steady"]["attempts"] == 4 and first["scenarios"]["steady"]["failures"] == 1
    assert second["scenarios"]["steady"]["steps"]["echo"]["count"] == 3
    assert second["scenarios"]["steady"]["attempts"] == 0


def wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_S} s: {what}")
        gevent.sleep(0.01)


def test_each_run_gets_its_own_sampler_from_test_start_to_test_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The greenlet samples while the run goes; test_stop ends it; a second test_start (a new run
    from the web UI) starts an empty timeline."""
    monkeypatch.setattr(sampler, "LOCAL_INTERVAL_S", 0.02)
    env = environment()
    sampler.install(env)
    env.events.test_start.fire(environment=env)
    log(env, "steady", "echo", [4] * 6)
    wait_for(lambda: sampler.section(env)["samples"], "a sample by the greenlet")
    env.events.test_stop.fire(environment=env)
    stopped = getattr(env, sampler.ATTR)
    reads = sum(s.reads for s in stopped.timeline.samples)
    gevent.sleep(0.1)
    assert sum(s.reads for s in stopped.timeline.samples) == reads  # stopped: no more reads
    first = sampler.section(env, final=True)
    assert sum(s["scenarios"].get("steady", {}).get("steps", {}).get("echo", {}).get("count", 0)
               for s in first["samples"]) == 6
    assert first["stages"] == []  # no schedule: no stages
    env.events.test_start.fire(environment=env)
    assert getattr(env, sampler.ATTR) is not stopped and sampler.section(env)["samples"] == []
    env.events.test_stop.fire(environment=env)


def stale(path: Path) -> None:
    old = time.time() - 3600
    os.utime(path, (old, old))


def test_outputs_the_png_beside_the_results_and_the_verdict_in_a_fresh_html_report(tmp_path: Path) -> None:
    """A report Locust wrote for this run gets the section at the top of its body; the PNG is beside
    the results."""
    env = environment()
    run_context(env)
    report = tmp_path / "report.html"
    report.write_text("<html><head></head><body><div id='root'></div></body></html>")
    env.parsed_options = argparse.Namespace(html_file=str(report))
    hooks.write_outputs(env, str(tmp_path / "r.json"), document())
    assert (tmp_path / "r.png").read_bytes().startswith(b"\x89PNG")
    text = report.read_text()
    assert text.index(f'<section id="{SECTION_ID}"') < text.index("id='root'")
    assert not hooks.own_report_path(report).exists()


def test_a_stale_or_bodiless_report_gets_a_page_of_wsraces_own_beside_it(tmp_path: Path) -> None:
    """A report left by an earlier run is not touched, nor one without a body, nor a missing one:
    the verdict goes into x.wsrace.html."""
    fragment = f'<section id="{SECTION_ID}">verdict</section>'
    started = time.time()
    for name, content in [("old.html", "<html><body>earlier run</body></html>"), ("odd.html", "<p>no body</p>"),
                          ("none.html", None)]:
        report = tmp_path / name
        if content is not None:
            report.write_text(content)
        if name == "old.html":
            stale(report)
        hooks.add_to_report(report, fragment, started)
        assert (report.read_text() if content is not None else None) == content
        assert fragment in hooks.own_report_path(report).read_text()


def test_the_web_uis_report_shows_the_verdict_as_of_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """GET /stats/report (Locust's page) comes with wsrace's section, marked as of now."""
    monkeypatch.setattr("sys.argv", ["locust"])  # the web UI reads its extra options from the command line
    env = environment()
    env.create_local_runner()
    web_ui = env.create_web_ui("127.0.0.1", 0, delayed_start=True)
    try:
        hooks.install(env, snapshot=lambda: document(failing="steady"))
        response = web_ui.app.test_client().get("/stats/report")
        text = response.get_data(as_text=True)
        assert response.status_code == 200
        assert text.count(f'<section id="{SECTION_ID}"') == 1 and hooks.LIVE_NOTE.split(":")[0] in text
        assert text.index(f'<section id="{SECTION_ID}"') < text.index('<div id="root">')
        other = web_ui.app.test_client().get("/stats/requests").get_data(as_text=True)
        assert SECTION_ID not in other
    finally:
        env.runner.quit()
