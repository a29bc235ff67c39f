"""The table's metrics of one sample, from what the generator said and its usage before and after."""

from __future__ import annotations

from typing import Any

from loadgen.bench import measure
from loadgen.bench.workloads import Workload

__all__ = ["derive"]


def derive(
    workload: Workload,
    done: dict[str, Any],
    gen: tuple[measure.Usage, measure.Usage],
    srv: tuple[measure.Usage, measure.Usage],
) -> dict[str, float | None]:
    """The table's metrics from the generator's ``done`` line and the usage before and after."""
    count = int(done["count"])
    elapsed = float(done["elapsed_s"])
    g_before, g_after = gen
    s_before, s_after = srv
    metrics: dict[str, float | None] = {
        "count": count,
        "failures": int(done.get("failures") or 0),
        "exceptions": int(done.get("exceptions") or 0),
        "gen_cpu_s": g_after.cpu_s - g_before.cpu_s,
        "server_cpu_s": s_after.cpu_s - s_before.cpu_s,
        "gen_peak_rss_mib": g_after.peak_rss_kib / 1024,
        "server_peak_rss_mib": s_after.peak_rss_kib / 1024,
    }
    if workload.unit == 1:  # idle: memory per open connection
        metrics["open_s"] = elapsed
        metrics["gen_kib_per_conn"] = (g_after.rss_kib - g_before.rss_kib) / count if count else None
        metrics["server_kib_per_conn"] = (s_after.rss_kib - s_before.rss_kib) / count if count else None
        return metrics
    units = count / workload.unit
    metrics["elapsed_s"] = elapsed
    metrics["rate"] = count / elapsed if elapsed > 0 else None
    metrics["gen_cpu_per_unit"] = metrics["gen_cpu_s"] / units if units else None  # type: ignore[operator]
    metrics["server_cpu_per_unit"] = metrics["server_cpu_s"] / units if units else None  # type: ignore[operator]
    metrics["p50_ms"] = done.get("p50_ms")
    metrics["p99_ms"] = done.get("p99_ms")
    return metrics
