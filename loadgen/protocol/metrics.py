"""Names of the counters every server exposes on ``/metrics`` (PROTOCOL.md, Transport)."""

from __future__ import annotations

from typing import Final

CONNECTIONS_OPEN: Final = "wsrace_connections_open"
CONNECTIONS_TOTAL: Final = "wsrace_connections_total"
AUTH_FAILURES: Final = "wsrace_auth_failures_total"
MESSAGES_RECEIVED: Final = "wsrace_messages_received_total"
MESSAGES_SENT: Final = "wsrace_messages_sent_total"
JOBS_STARTED: Final = "wsrace_jobs_started_total"
DROPPED_MESSAGES: Final = "wsrace_dropped_messages_total"
UNHANDLED_ERRORS: Final = "wsrace_unhandled_errors_total"
CLOSES: Final = "wsrace_closes_total"

# Gauges of what a worker holds now, summed over workers: a soak (``wsrace soak``) reads them to
# see that nothing stays behind once the load has gone. The bundled target exposes them; a server
# that does not is read as "not exposed", never as 0.
JOBS_RUNNING: Final = "wsrace_jobs_running"
JOBS_KEPT: Final = "wsrace_jobs_kept"
BACKGROUND_TASKS: Final = "wsrace_background_tasks"

# Short names used in thresholds and results files -> exposition names.
COUNTERS: Final[dict[str, str]] = {
    "connections_total": CONNECTIONS_TOTAL,
    "auth_failures": AUTH_FAILURES,
    "messages_received": MESSAGES_RECEIVED,
    "messages_sent": MESSAGES_SENT,
    "jobs_started": JOBS_STARTED,
    "dropped_messages": DROPPED_MESSAGES,
    "unhandled_errors": UNHANDLED_ERRORS,
}
