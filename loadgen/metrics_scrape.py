"""Read a server's ``/metrics`` (Prometheus text) into the counters wsrace judges.

A run reads them through its one :class:`~loadgen.server_poller.ServerPoller`; the growth over a
run is :func:`loadgen.counter_growth.growth`.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from loadgen.protocol import metrics
from loadgen.urls import http_url

__all__ = ["ServerCounters", "metrics_url", "scrape", "try_scrape"]

SCRAPE_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class ServerCounters:
    """Counter values by short name (see :data:`loadgen.protocol.metrics.COUNTERS`), closes by code."""

    values: dict[str, float] = field(default_factory=dict)
    closes: dict[str, float] = field(default_factory=dict)


def metrics_url(host: str) -> str:
    return http_url(host, "/metrics")


def parse(text: str) -> ServerCounters:
    by_name = {full: short for short, full in metrics.COUNTERS.items()}
    values: dict[str, float] = {}
    closes: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in by_name:
                short = by_name[sample.name]
                values[short] = values.get(short, 0.0) + sample.value
            elif sample.name == metrics.CLOSES:
                code = sample.labels.get("code", "?")
                closes[code] = closes.get(code, 0.0) + sample.value
    return ServerCounters(values, closes)


def scrape(host: str, timeout: float = SCRAPE_TIMEOUT_S) -> ServerCounters:
    """Fetch and parse ``/metrics``; raises OSError (URLError included) when unreachable."""
    with urllib.request.urlopen(metrics_url(host), timeout=timeout) as resp:
        return parse(resp.read().decode())


def try_scrape(host: str) -> ServerCounters | None:
    """:func:`scrape`, or None when unreachable (for a scenario's own check; the run uses the poller)."""
    try:
        return scrape(host)
    except (OSError, urllib.error.URLError, ValueError):
        return None  # the caller reports "metrics unreachable" as a failed check
