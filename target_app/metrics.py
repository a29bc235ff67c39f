"""The counters of PROTOCOL.md, summed over worker processes by prometheus_client's multiprocess mode.

The supervisor creates ``PROMETHEUS_MULTIPROC_DIR`` before it starts any worker; each worker writes
its values to its own files there, and ``/metrics`` (whichever worker serves it) sums them all. The
open-connections gauge uses ``livesum``: the supervisor calls ``mark_process_dead`` for a worker that
died, so its connections stop counting, while the counters of a dead worker stay in the totals.
The gauges of what a worker holds (jobs running, jobs kept, background tasks) are ``livesum`` too.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from loadgen.protocol import metrics as names

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "render"]


class Metrics:
    """One worker's metric objects (not registered globally: the collector reads the files)."""

    def __init__(self) -> None:
        self.connections_open = Gauge(
            names.CONNECTIONS_OPEN, "WebSocket connections open now", multiprocess_mode="livesum",
            registry=None,
        )
        self.connections_total = Counter(
            names.CONNECTIONS_TOTAL, "WebSocket connections accepted", registry=None
        )
        self.auth_failures = Counter(
            names.AUTH_FAILURES, "Refused authentications (401, unauthorized, auth timeout)",
            registry=None,
        )
        self.messages_received = Counter(
            names.MESSAGES_RECEIVED, "Data frames received from clients", registry=None
        )
        self.messages_sent = Counter(
            names.MESSAGES_SENT, "Messages handed to client sockets", registry=None
        )
        self.jobs_started = Counter(names.JOBS_STARTED, "Jobs started", registry=None)
        self.dropped_messages = Counter(
            names.DROPPED_MESSAGES, "Messages abandoned when a slow reader was closed with 1013",
            registry=None,
        )
        self.unhandled_errors = Counter(
            names.UNHANDLED_ERRORS, "Unexpected exceptions in handlers and background tasks",
            registry=None,
        )
        self.jobs_running = Gauge(
            names.JOBS_RUNNING, "Jobs whose ticker runs now", multiprocess_mode="livesum",
            registry=None,
        )
        self.jobs_kept = Gauge(
            names.JOBS_KEPT,
            "Jobs held without a ticker (halted, subscribable until the sweeper forgets them)",
            multiprocess_mode="livesum", registry=None,
        )
        self.background_tasks = Gauge(
            names.BACKGROUND_TASKS, "Background tasks alive now (job tickers, the sweeper...)",
            multiprocess_mode="livesum", registry=None,
        )
        self.closes = Counter(
            names.CLOSES, "Connections closed, by the close code the server sent or observed",
            ["code"], registry=None,
        )

    def closed(self, code: int) -> None:
        self.closes.labels(code=str(code)).inc()


def render() -> bytes:
    """The exposition text summed over every worker's files (needs PROMETHEUS_MULTIPROC_DIR)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return generate_latest(registry)
