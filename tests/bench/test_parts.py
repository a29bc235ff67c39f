"""The benchmark's small parts: the message, the core plan, /proc accounting, the line protocol."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from loadgen.bench import measure
from loadgen.bench.generators.control import LineBuffer, percentile
from loadgen.bench.workloads import echo_message


def test_echo_message_is_64_bytes_of_json() -> None:
    assert len(orjson.dumps(echo_message())) == 64
    assert len(orjson.dumps(echo_message(200))) == 200
    with pytest.raises(ValueError):
        echo_message(10)


def test_core_plan_gives_generator_and_server_a_core_each() -> None:
    plan = measure.core_plan({3, 1, 2})
    assert (plan.generator, plan.server) == (frozenset({1}), frozenset({2}))
    single = measure.core_plan({0})
    assert (single.generator, single.server) == (None, None) and "share" in single.note


def test_usage_and_tree_of_a_real_child() -> None:
    """A child shows up in its parent's tree; its sample has memory; pinning it works."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert child.pid in measure.process_tree(os.getpid())
        usage = measure.usage(child.pid)
        assert usage.rss_kib > 0 and usage.peak_rss_kib >= usage.rss_kib and usage.cpu_s >= 0
        core = min(os.sched_getaffinity(0))
        measure.pin(child.pid, frozenset({core}))
        assert os.sched_getaffinity(child.pid) == {core}
    finally:
        child.communicate(b"", timeout=30)


def test_a_gone_process_measures_as_nothing() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(30)
    assert measure.usage(child.pid) == measure.Usage(0.0, 0, 0)
    measure.pin(child.pid, frozenset({0}))  # no error either


def test_line_buffer_splits_lines_across_reads() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"g") == []
    assert buffer.feed(b"o\nex") == ["go"]
    assert buffer.feed(b"it\n") == ["exit"]
    with pytest.raises(EOFError):
        buffer.feed(b"")


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) == 0.0
