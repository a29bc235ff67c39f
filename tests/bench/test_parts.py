"""The benchmark's small parts: the message, the core plan, process accounting, the line protocol."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import orjson
import pytest

from loadgen.bench import measure
from loadgen.bench.generators.control import LineBuffer, percentile
from loadgen.bench.workloads import echo_message
from loadgen.children import Child


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


BURN_S = 0.2
"""CPU seconds each burner spends, measured by itself (``time.process_time``)."""
BLOCK_MIB = 64
TICK_S = 1 / os.sysconf("SC_CLK_TCK")
"""The kernel accounts CPU in clock ticks: a sum may round down by a tick per process."""

# A child that runs a burner to completion (a reaped grandchild), burns CPU itself, holds a
# resident block, starts a grandchild that stays, and says its own CPU time and that pid.
TREE_CHILD = f"""
import json, subprocess, sys, time
burn = "import time\\nt = time.process_time()\\nwhile time.process_time() - t < {BURN_S}: pass"
subprocess.run([sys.executable, "-c", burn], check=True)
start = time.process_time()
while time.process_time() - start < {BURN_S}:
    pass
block = b"x" * ({BLOCK_MIB} << 20)
stays = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
print(json.dumps({{"own_cpu_s": time.process_time(), "grandchild": stays.pid}}), flush=True)
sys.stdin.read()
"""


def test_usage_and_tree_of_a_real_child() -> None:
    """A real child's tree: its live grandchild is in it; CPU covers the child and the grandchild it
    already reaped; RSS covers the block it holds; pinning reaches every member."""
    with Child.start([sys.executable, "-c", TREE_CHILD], name="tree", stdin=True) as child:
        said = child.read_json_line(time.monotonic() + 60)
        tree = measure.process_tree(child.pid)
        assert tree[0] == child.pid and said["grandchild"] in tree
        assert child.pid in measure.process_tree(os.getpid())
        sample = measure.usage(child.pid)
        reaped_burner_s = BURN_S
        assert sample.cpu_s >= said["own_cpu_s"] + reaped_burner_s - 3 * TICK_S, (sample, said)
        assert measure.cpu_seconds(child.pid) == pytest.approx(sample.cpu_s, abs=3 * TICK_S)  # it idles now
        assert sample.rss_kib >= BLOCK_MIB * 1024 and sample.peak_rss_kib >= sample.rss_kib
        core = min(os.sched_getaffinity(0))
        measure.pin(child.pid, frozenset({core}))
        assert os.sched_getaffinity(child.pid) == {core}
        assert os.sched_getaffinity(said["grandchild"]) == {core}


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
