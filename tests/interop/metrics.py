"""The counters of ``/metrics`` (PROTOCOL.md, Transport), in a registry of their own.

One process serves every connection, so its counts are the server's. ``wsrace_closes_total`` has a
child for ``code="1000"`` from the start, so the metric is exposed before the first close.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.connections_open = Gauge("wsrace_connections_open", "Open WebSocket connections.", registry=reg)
        self.connections = Counter("wsrace_connections_total", "WebSocket connections accepted.", registry=reg)
        self.auth_failures = Counter("wsrace_auth_failures_total", "Refused tokens and failed in-band auth.",
                                     registry=reg)
        self.received = Counter("wsrace_messages_received_total", "Data messages received.", registry=reg)
        self.sent = Counter("wsrace_messages_sent_total", "Data messages sent.", registry=reg)
        self.jobs_started = Counter("wsrace_jobs_started_total", "Jobs started.", registry=reg)
        self.dropped = Counter("wsrace_dropped_messages_total",
                               "Messages abandoned when a slow reader was closed with 1013.", registry=reg)
        self.unhandled = Counter("wsrace_unhandled_errors_total", "Exceptions no handler expected.", registry=reg)
        self.closes = Counter("wsrace_closes_total", "Closed connections by close code.", ["code"], registry=reg)
        self.closes.labels(code="1000")

    def closed(self, code: int) -> None:
        self.closes.labels(code=str(code)).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
