"""The run model in Locust's interpreter: one option table for both parsers, one server poller per run.

The poller is fed a scripted ``read`` instead of a server: what is under test is when it reads and
what it makes of the reads, not HTTP (tests/e2e read a real target's /metrics).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gevent
import pytest
from locust import argument_parser
from locust.env import Environment

from loadgen.context import RunContext, run_context
from loadgen.metrics_scrape import ServerCounters
from loadgen.protocol.tokens import SECRET_ENV
from loadgen.run_options import OPTIONS, RunOptions, add_cli_options, add_locust_options, locust_args
from loadgen.server_poller import ServerPoller

WAIT_S = 10.0


def _locust_parser() -> argparse.ArgumentParser:
    parser = argument_parser.get_empty_argument_parser()
    argument_parser.setup_parser_arguments(parser)
    add_locust_options(parser)
    return parser


def _cli_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wsrace run")
    add_cli_options(parser)
    return parser


CLI_ARGV = [
    ["--fault", "lost-snapshot", "--fault", "early-drop", "--target-workers", "3", "--results", "x.json",
     "--target-broker", "unix:///tmp/redis.sock",
     "--junit", "j.xml", "--thresholds", "t.toml", "--schedule", "s.toml", "--profile", "quick"],
    ["--host", "ws://127.0.0.1:1", "--secret", "s3cret", "--token-command", "echo x"],
    ["--token-file", "tokens.txt"],
    [],
]


@pytest.mark.parametrize("argv", CLI_ARGV)
def test_locust_gets_exactly_the_options_wsrace_run_parsed(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """What wsrace run hands to Locust (argv and environment) parses back into the same options."""
    monkeypatch.delenv(SECRET_ENV, raising=False)
    cli = _cli_parser().parse_args(argv)
    handed, env = locust_args(cli)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    in_locust = _locust_parser().parse_args(handed)
    assert RunOptions.from_namespace(in_locust) == RunOptions.from_namespace(cli)
    assert in_locust.host == cli.host
    assert "s3cret" not in handed  # the secret travels in the environment, never in argv


def test_wsrace_options_have_the_same_defaults_in_both_parsers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each option wsrace adds to Locust has the default wsrace run gives it."""
    monkeypatch.delenv(SECRET_ENV, raising=False)
    cli, in_locust = _cli_parser().parse_args([]), _locust_parser().parse_args([])
    own = [spec.dest for spec in OPTIONS if spec.owner == "wsrace"]
    assert own and {name: getattr(in_locust, name) for name in own} == {name: getattr(cli, name) for name in own}


def test_a_bare_environment_gets_a_worker_context_once() -> None:
    """Without the plugin's init (a worker, a test), the context is made on first use, once, judging nothing."""
    env = Environment(user_classes=[], host="ws://127.0.0.1:1")
    ctx = run_context(env)
    assert isinstance(ctx, RunContext) and run_context(env) is ctx
    assert ctx.judging is False and ctx.schedule is None and ctx.options == RunOptions()


# --------------------------------------------------------------------------- the poller


def _scripted(*reads: ServerCounters | Exception) -> tuple[Callable[[str], ServerCounters], list[int]]:
    """A read that returns (or raises) ``reads`` in turn, then repeats the last; and its call count."""
    calls = [0]

    def read(host: str) -> ServerCounters:
        item = reads[min(calls[0], len(reads) - 1)]
        calls[0] += 1
        if isinstance(item, Exception):
            raise item
        return item

    return read, calls


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "the poller never read the counters mid-run"
        gevent.sleep(0.01)


def _counters(sent: float, closes_1000: float = 0.0) -> ServerCounters:
    return ServerCounters({"messages_sent": sent}, {"1000": closes_1000})


def test_the_poller_reads_at_start_mid_run_and_end_and_judges_the_growth() -> None:
    """Start, at least two reads mid-run, end: every one kept with its time; growth is end minus start."""
    reads = [_counters(10.0 * n, n) for n in range(6)]
    read, calls = _scripted(*reads)
    poller = ServerPoller("ws://127.0.0.1:1", interval_s=0.01, read=read)
    poller.start()
    _wait_for(lambda: calls[0] >= 3)
    report = poller.finish()
    kept = report.samples
    assert len(kept) == calls[0] >= 4
    assert [s.t for s in kept] == sorted(s.t for s in kept)
    last = reads[min(calls[0], len(reads)) - 1]
    assert report.error is None and report.resets == ()
    assert report.counters == {"messages_sent": last.values["messages_sent"] - reads[0].values["messages_sent"],
                               "closes.1000": last.closes["1000"] - reads[0].closes["1000"]}
    after = calls[0]
    gevent.sleep(0.05)
    assert calls[0] == after  # finished: no more reads
    assert poller.finish() is report


def test_a_failed_read_mid_run_is_kept_and_the_run_still_judged() -> None:
    """A read that fails between start and end is a sample with its error; the growth spans it."""
    read, calls = _scripted(_counters(1.0), OSError("connection refused"), _counters(5.0))
    poller = ServerPoller("ws://127.0.0.1:1", interval_s=0.01, read=read)
    poller.start()
    _wait_for(lambda: calls[0] >= 3)
    report = poller.finish()
    assert [s.error for s in report.samples[:2]] == [None, "connection refused"]
    assert report.error is None and report.counters is not None and report.counters["messages_sent"] == 4.0


def test_a_failed_read_at_the_start_makes_the_counters_unavailable_and_stops_reading() -> None:
    """No counters at the start: unavailable, saying why; nothing more is read."""
    read, calls = _scripted(OSError("connection refused"))
    poller = ServerPoller("ws://127.0.0.1:1", interval_s=0.01, read=read)
    poller.start()
    gevent.sleep(0.05)
    report = poller.finish()
    assert calls[0] == 1
    assert report.counters is None
    assert report.error == "http://127.0.0.1:1/metrics unreachable at the start: connection refused"


def test_a_failed_read_at_the_end_makes_the_counters_unavailable() -> None:
    """No counters at the end: unavailable, saying why."""
    read, calls = _scripted(_counters(1.0), OSError("reset by peer"))
    poller = ServerPoller("ws://127.0.0.1:1", interval_s=60.0, read=read)
    poller.start()
    report = poller.finish()
    assert calls[0] == 2 and report.counters is None
    assert report.error == "http://127.0.0.1:1/metrics unreachable at the end: reset by peer"


def test_a_restart_mid_run_is_summed_over_and_recorded() -> None:
    """Counters that fall between two reads: growth summed over the restart, the reset in the report."""
    read, calls = _scripted(_counters(50.0), _counters(80.0), _counters(3.0))
    poller = ServerPoller("ws://127.0.0.1:1", interval_s=0.01, read=read)
    poller.start()
    _wait_for(lambda: calls[0] >= 3)
    report = poller.finish()
    assert report.counters is not None and report.counters["messages_sent"] == (80.0 - 50.0) + 3.0
    assert [reset.counters for reset in report.resets] == [("messages_sent",)]
