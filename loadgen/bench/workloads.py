"""What the benchmark runs, what it compares, and the targets of issue 5: data, no I/O.

Three generators drive the same workloads against a fresh echo server each time:

- ``wsrace``: Locust users (:class:`loadgen.user.RaceUser`) on :class:`loadgen.session.Session`,
  one Locust request event per round trip (per connection in the storm), real Locust stats;
- ``wssync``: the same Locust harness, users on ``websockets.sync.client``, the same events;
- ``asyncio``: plain asyncio on uvloop with ``websockets.asyncio.client``, no Locust.

The workloads:

- ``roundtrip``: N connections, each a closed loop of 64-byte JSON echoes, for D seconds;
- ``storm``: N users, each in a loop of connect, one echo, close (no authentication), for D seconds;
- ``idle``: open M connections and hold them; memory per connection on both sides;
- ``idle-target``: the same M idle connections (wsrace only, header token) against the target app,
  to set its memory per connection beside the websockets floor the echo server shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import orjson

__all__ = [
    "BASELINES",
    "GENERATORS",
    "SUBJECT",
    "WORKLOADS",
    "Metric",
    "Target",
    "Workload",
    "echo_message",
]

SUBJECT: Final = "wsrace"
BASELINES: Final = ("wssync", "asyncio")
GENERATORS: Final = (SUBJECT, *BASELINES)
GENERATOR_TITLES: Final = {
    "wsrace": "wsrace (Locust)",
    "wssync": "Locust+ws.sync",
    "asyncio": "asyncio+uvloop",
}
MESSAGE_BYTES: Final = 64


def echo_message(size: int = MESSAGE_BYTES) -> dict[str, object]:
    """The JSON object every generator sends: ``size`` bytes once encoded (compact, as orjson
    writes it)."""
    empty = {"op": "echo", "id": 1, "data": ""}
    pad = size - len(orjson.dumps(empty))
    if pad < 0:
        raise ValueError(f"a message cannot be under {size - pad} bytes")
    return {"op": "echo", "id": 1, "data": "x" * pad}


@dataclass(frozen=True, slots=True)
class Metric:
    """One row of the table: a key of a sample, how to show it, and which way is better."""

    key: str
    label: str
    fmt: str = "{:.3g}"
    lower_is_better: bool = True
    ratio: bool = True


@dataclass(frozen=True, slots=True)
class Target:
    """The issue's bound on wsrace's median of ``metric`` in one workload."""

    metric: str
    limit: float
    text: str


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    title: str
    """Formatted with the plan's ``connections``, ``idle`` and ``duration``."""
    """Formatted with the plan's ``connections``, ``idle`` and ``duration``."""
    server: str
    """``echo`` (the benchmark's echo server) or ``target`` (the bundled target app)."""
    unit: float
    """Units of work per measured unit: 10k round trips, 1k connections, one connection."""
    metrics: tuple[Metric, ...]
    targets: tuple[Target, ...] = ()
    generators: tuple[str, ...] = GENERATORS


_RUN_METRICS: Final = (
    Metric("rate", "rate /s", "{:.0f}", lower_is_better=False),
    Metric("p50_ms", "p50 ms", "{:.1f}"),
    Metric("p99_ms", "p99 ms", "{:.1f}"),
    Metric("gen_peak_rss_mib", "gen peak RSS MiB", "{:.1f}"),
)

WORKLOADS: Final = {
    "roundtrip": Workload(
        "roundtrip",
        "round trips: {connections} connections, 64-byte JSON echo, closed loop, {duration:g} s",
        "echo",
        10_000,
        (
            Metric("gen_cpu_per_unit", "gen CPU-s / 10k round trips", "{:.3f}"),
            *_RUN_METRICS,
            Metric("server_cpu_per_unit", "server CPU-s / 10k", "{:.3f}", ratio=False),
        ),
        (Target("gen_cpu_per_unit", 0.6, "≤ 0.6 CPU-s / 10k"),),
    ),
    "storm": Workload(
        "storm",
        "connect storm: {connections} users, each in a loop: connect, one echo, close (no auth), {duration:g} s",
        "echo",
        1_000,
        (
            Metric("gen_cpu_per_unit", "gen CPU-s / 1k connections", "{:.3f}"),
            *_RUN_METRICS,
            Metric("server_cpu_per_unit", "server CPU-s / 1k", "{:.3f}", ratio=False),
        ),
        (Target("gen_cpu_per_unit", 0.65, "≤ 0.65 CPU-s / 1k"),),
    ),
    "idle": Workload(
        "idle",
        "idle: {idle} connections opened and held (echo server)",
        "echo",
        1,
        (
            Metric("gen_kib_per_conn", "gen KiB / idle connection", "{:.1f}"),
            Metric("server_kib_per_conn", "echo server KiB / connection", "{:.1f}", ratio=False),
            Metric("gen_peak_rss_mib", "gen peak RSS MiB", "{:.1f}"),
            Metric("open_s", "time to open all, s", "{:.2f}"),
        ),
        (Target("gen_kib_per_conn", 16.0, "≤ 16 KiB / connection"),),
    ),
    "idle-target": Workload(
        "idle-target",
        "idle against the target app: {idle} connections (header token), wsrace only",
        "target",
        1,
        (
            Metric("server_kib_per_conn", "target app KiB / connection", "{:.1f}", ratio=False),
            Metric("gen_kib_per_conn", "gen KiB / idle connection", "{:.1f}", ratio=False),
        ),
        # Set from the echo server's median in the same benchmark (the websockets floor) when the
        # idle workload ran; the 13 KiB otherwise. See report.floor_target.
        (),
        (SUBJECT,),
    ),
}

DEFAULT_WORKLOADS: Final = ("roundtrip", "storm", "idle", "idle-target")
FLOOR_KIB: Final = 13.0
"""The issue's websockets floor: server KiB per idle connection without compression."""
FLOOR_SLACK: Final = 1.15
"""The target app is "at the floor" within 15 % of it."""
