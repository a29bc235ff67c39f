"""What the benchmark runs, what it compares, and the targets of issue 13: data, no I/O.

Three generators drive the same workloads against a fresh echo server each time:

- ``wsrace``: Locust users (:class:`loadgen.user.RaceUser`) on :class:`loadgen.session.Session`,
  one Locust request event per round trip (per connection in the storm), real Locust stats; idle:
  the hold scenario's own user;
- ``wssync``: the same Locust harness, users on ``websockets.sync.client``, the same events;
- ``asyncio``: plain asyncio on uvloop with ``websockets.asyncio.client``, no Locust;

and, with ``--peers``, the load tools users would pick instead (:mod:`loadgen.bench.peers`):
``artillery`` (Node, its ``ws`` engine) and ``tsung`` (Erlang), where they can express the workload.

The workloads:

- ``roundtrip``: N connections, each a closed loop of 64-byte JSON echoes, for D seconds;
- ``storm``: N users, each in a loop of connect, one echo, close (no authentication), for D seconds;
- ``idle``: open M **authenticated** sessions and hold them (each with a token of its own, ``ready``
  read; wsrace: the hold scenario's user), against the echo server in its authenticating mode;
  memory per connection on both sides. The server side is the websockets floor;
- ``idle-bare``: the idle workload before issue 13 (not run by default): M bare connections, no
  token, no ``ready``, wsrace a bare session per user; kept to show what the identity, the
  protocol client and the scenario's iteration cost on top;
- ``idle-target``: the same M authenticated sessions (wsrace only) against the target app, to set
  its memory per connection beside the floor the echo server showed in ``idle``.

Every target is a ratio measured in the same run (absolute figures differ about 3x between
machines of one pool): wsrace / a baseline, or the target app / the echo server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import orjson

__all__ = [
    "ALL_GENERATORS",
    "BASELINES",
    "FLOOR",
    "GENERATORS",
    "PEERS",
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
"""The Python generators, run by default."""
PEERS: Final = ("artillery", "tsung")
"""Other load tools, run with ``--peers`` when installed."""
ALL_GENERATORS: Final = (*GENERATORS, *PEERS)
FLOOR: Final = "floor"
"""The ratio key of the target app against the echo server (not a generator)."""
GENERATOR_TITLES: Final = {
    "wsrace": "wsrace (Locust)",
    "wssync": "Locust+ws.sync",
    "asyncio": "asyncio+uvloop",
    "artillery": "Artillery (ws)",
    "tsung": "Tsung",
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
    """The issue's bound on the median ratio of ``metric``: wsrace / ``against`` (a generator,
    paired run by run), or for ``against == FLOOR`` the target app / the echo server."""

    metric: str
    against: str
    limit: float
    text: str


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    title: str
    """Formatted with the plan's ``connections``, ``idle`` and ``duration``."""
    server: str
    """``echo`` (the benchmark's echo server) or ``target`` (the bundled target app)."""
    authenticated: bool
    """Each connection carries a token of its own and reads ``ready`` before it holds (idle)."""
    unit: float
    """Units of work per measured unit: 10k round trips, 1k connections, one connection."""
    metrics: tuple[Metric, ...]
    targets: tuple[Target, ...] = ()
    generators: tuple[str, ...] = GENERATORS
    peers: tuple[str, ...] = ()
    """The peers that can express this workload (run with ``--peers``)."""


_RUN_METRICS: Final = (
    Metric("rate", "rate /s", "{:.0f}", lower_is_better=False),
    Metric("p50_ms", "p50 ms", "{:.1f}"),
    Metric("p99_ms", "p99 ms", "{:.1f}"),
    Metric("gen_peak_rss_mib", "gen peak RSS MiB", "{:.1f}"),
)

_IDLE_METRICS: Final = (
    Metric("gen_kib_per_conn", "gen KiB / idle connection", "{:.1f}"),
    Metric("server_kib_per_conn", "echo server KiB / connection", "{:.1f}", ratio=False),
    Metric("gen_peak_rss_mib", "gen peak RSS MiB", "{:.1f}"),
    Metric("open_s", "time to open all, s", "{:.2f}"),
)

WORKLOADS: Final = {
    "roundtrip": Workload(
        "roundtrip",
        "round trips: {connections} connections, 64-byte JSON echo, closed loop, {duration:g} s",
        "echo",
        False,
        10_000,
        (
            Metric("gen_cpu_per_unit", "gen CPU-s / 10k round trips", "{:.3f}"),
            *_RUN_METRICS,
            Metric("server_cpu_per_unit", "server CPU-s / 10k", "{:.3f}", ratio=False),
        ),
        (
            Target("gen_cpu_per_unit", "asyncio", 1.0, "round trips: wsrace ≤ 1.0x plain asyncio's CPU"),
            Target("gen_cpu_per_unit", "artillery", 1.0, "round trips: wsrace ≤ 1.0x Artillery's CPU"),
            Target("gen_cpu_per_unit", "tsung", 1.0, "round trips: wsrace ≤ 1.0x Tsung's CPU"),
        ),
        peers=PEERS,
    ),
    "storm": Workload(
        "storm",
        "connect storm: {connections} users, each in a loop: connect, one echo, close (no auth), {duration:g} s",
        "echo",
        False,
        1_000,
        (
            Metric("gen_cpu_per_unit", "gen CPU-s / 1k connections", "{:.3f}"),
            *_RUN_METRICS,
            Metric("server_cpu_per_unit", "server CPU-s / 1k", "{:.3f}", ratio=False),
        ),
        (Target("gen_cpu_per_unit", "asyncio", 0.9, "connect storm: wsrace ≤ 0.9x plain asyncio's CPU"),),
        peers=PEERS,
    ),
    "idle": Workload(
        "idle",
        "idle: {idle} authenticated sessions opened and held (token each, ready read; echo server authenticating)",
        "echo",
        True,
        1,
        _IDLE_METRICS,
        (Target("gen_kib_per_conn", "asyncio", 1.0, "idle: wsrace ≤ 1.0x plain asyncio's KiB / connection"),),
    ),
    "idle-bare": Workload(
        "idle-bare",
        "idle, bare: {idle} connections opened and held (no token, no ready; wsrace: a bare session)",
        "echo",
        False,
        1,
        _IDLE_METRICS,
    ),
    "idle-target": Workload(
        "idle-target",
        "idle against the target app: {idle} authenticated sessions (the hold scenario's user), wsrace only",
        "target",
        True,
        1,
        (
            Metric("server_kib_per_conn", "target app KiB / connection", "{:.1f}", ratio=False),
            Metric("gen_kib_per_conn", "gen KiB / idle connection", "{:.1f}", ratio=False),
        ),
        # The floor: the echo server's KiB per connection in the idle workload of the same run.
        (Target("server_kib_per_conn", FLOOR, 1.15,
                "target app ≤ 1.15x the plain websockets server's KiB / idle authenticated connection"),),
        (SUBJECT,),
    ),
}

DEFAULT_WORKLOADS: Final = ("roundtrip", "storm", "idle", "idle-target")
FLOOR_WORKLOAD: Final = "idle"
"""Where the target app's floor is measured: the echo server holding the same authenticated sessions."""
