"""The run's latency baseline: what the latency probe measured, summarised as plain data. Pure.

The probe (:mod:`loadgen.probe`) keeps one session of its own open through the whole run and sends
one small echo every :data:`PROBE_INTERVAL_S`: its round trips cross the same machine, the same
event loops and the same server as the scenarios' — but on a connection that carries no load. So a
step's latency divided by the baseline's says how much the load (or a bug under load) slowed the
step, whatever the machine's speed. :func:`summarize` turns the round trips into the ``baseline``
section of the results file (``docs/results-format.md``); :func:`baseline_problem` says why a
baseline cannot be judged against (the probe never connected, too few round trips).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = [
    "BASELINE_STATS",
    "MAX_SAMPLES",
    "MIN_ROUND_TRIPS",
    "PROBE_INTERVAL_S",
    "baseline_problem",
    "percentile",
    "summarize",
]

PROBE_INTERVAL_S: Final = 0.25
"""One probe echo every 250 ms: about 4 small messages a second, nothing next to the scenarios."""
MIN_ROUND_TRIPS: Final = 8
"""A baseline of fewer round trips (two seconds of probing) is too thin to judge a ratio by."""
MAX_SAMPLES: Final = 2400
"""Samples kept over time in the results file (10 minutes of probing); all round trips still count
in the percentiles."""
BASELINE_STATS: Final = ("p50", "p90", "p95", "p99", "max")


def percentile(sorted_ms: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1) of ascending values; None for no values."""
    if not sorted_ms:
        return None
    rank = max(1, math.ceil(q * len(sorted_ms)))
    return float(sorted_ms[min(rank, len(sorted_ms)) - 1])


def summarize(
    round_trips: Sequence[tuple[float, float]],
    failures: int = 0,
    error: str | None = None,
    *,
    interval_s: float = PROBE_INTERVAL_S,
) -> dict[str, Any]:
    """The ``baseline`` section from the probe's ``(seconds since the run started, round trip ms)``
    pairs, its failed round trips and the last failure's message."""
    ordered = sorted(ms for _, ms in round_trips)
    out: dict[str, Any] = {
        "source": "probe",
        "interval_s": interval_s,
        "count": len(ordered),
        "failures": failures,
        "error": error,
    }
    qs = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}
    for stat, q in qs.items():
        value = percentile(ordered, q)
        out[stat] = None if value is None else round(value, 3)
    out["max"] = round(ordered[-1], 3) if ordered else None
    out["samples"] = [[round(at, 3), round(ms, 3)] for at, ms in round_trips[:MAX_SAMPLES]]
    return out


def baseline_problem(baseline: Mapping[str, Any] | None) -> str | None:
    """Why ``baseline`` cannot be judged against, in words; None when it can."""
    if not baseline:
        return "no latency baseline was measured (the run had no latency probe)"
    count = int(baseline.get("count") or 0)
    error = baseline.get("error")
    if count == 0:
        why = f": {error}" if error else ""
        return f"the latency probe measured no round trip{why}"
    if count < MIN_ROUND_TRIPS:
        why = f"; last failure: {error}" if error else ""
        return f"the latency probe measured only {count} round trips (< {MIN_ROUND_TRIPS}){why}"
    return None
