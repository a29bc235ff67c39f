"""The pure half of the jobs across workers (:mod:`target_app.broker`): names, records, merging.

Nothing here touches a socket or an event loop, so the rules that make a subscription from another
worker exact are tested by feeding dicts:

- :func:`key` / :func:`channel`: where a job's state lives on the bus (a Redis hash) and where its
  changes are published (a pub/sub channel of the same name; Redis keeps the two namespaces apart).
- :func:`creation` / :func:`change` and :func:`read_record`: the hash's fields, written by the
  worker that owns the job, read back by any other; :func:`ttl_s`: how long the hash outlives the
  job, so a halted job stays subscribable for at least
  :data:`~loadgen.protocol.jobs.HALTED_RETENTION_S` everywhere.
- :class:`Merge`: one subscriber's view of one job's events on a worker that does not own it. It
  buffers the events that arrive before the snapshot was read, then lets through exactly those after
  the snapshot's step, once each. A job's step is its sequence number: every change has a step
  greater than the one before (running 1 … steps-1, then halted at ``steps``), so "after the
  snapshot" and "not seen yet" are both ``step > last``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from loadgen.protocol.jobs import HALTED, HALTED_RETENTION_S, RUNNING, JobState

SCHEMES: Final = ("redis", "rediss", "unix")
PREFIX: Final = "wsrace:job:"
RETENTION_MARGIN_S: Final = 30
"""Beyond the protocol's retention: a hash outlives its job's halt by 60 + 30 s, never less."""

Event = dict[str, Any]
"""A state event as on the wire, without ``seq`` (each connection stamps its own)."""


def check_url(text: str) -> str | None:
    """What is wrong with a ``--broker`` URL, or None."""
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES:
        return (f"{text!r} is not a broker URL: give redis://HOST:PORT[/DB] or "
                f"unix:///PATH/TO/redis.sock")
    if parts.scheme == "unix" and not parts.path:
        return f"{text!r} names no socket: give unix:///PATH/TO/redis.sock"
    if parts.scheme != "unix" and not parts.hostname:
        return f"{text!r} names no host: give redis://HOST:PORT[/DB]"
    return None


def key(job_id: str) -> str:
    """The Redis hash holding the job's owner, state and step."""
    return PREFIX + job_id


def channel(job_id: str) -> bytes:
    """The pub/sub channel of the job's changes (bytes: what the pub/sub reader hands back)."""
    return (PREFIX + job_id).encode()


def job_of(channel_name: bytes) -> str:
    return channel_name.decode()[len(PREFIX):]


def ttl_s(state: JobState, steps: int, step_ms: int) -> int:
    """Seconds the hash must live from now: the job's remaining steps, then the retention and a margin."""
    remaining = 0.0 if state.state == HALTED else (steps - state.step) * step_ms / 1000
    return math.ceil(remaining + HALTED_RETENTION_S + RETENTION_MARGIN_S)


def creation(owner: str, state: JobState, steps: int, step_ms: int) -> dict[str, str | int]:
    """The hash fields of a new job."""
    return {"owner": owner, "state": state.state, "step": state.step, "steps": steps,
            "step_ms": step_ms}


def change(state: JobState) -> dict[str, str | int]:
    """The hash fields one change rewrites."""
    return {"state": state.state, "step": state.step}


@dataclass(frozen=True, slots=True)
class Record:
    owner: str
    state: JobState


def read_record(fields: dict[bytes, bytes]) -> Record | None:
    """The job a hash describes, or None if it is missing (never made, or expired) or not ours."""
    try:
        owner = fields[b"owner"].decode()
        state = fields[b"state"].decode()
        step = int(fields[b"step"])
    except (KeyError, ValueError, UnicodeDecodeError):
        return None
    if not owner or state not in (RUNNING, HALTED) or step < 0:
        return None
    return Record(owner, JobState(state, step))


class Merge:
    """What one subscriber is owed of one job's events, on a worker that does not own the job.

    Pending from registration until :meth:`snapshot`: events are buffered, none delivered (the
    subscribe reply must go first). Then each event goes through once if its step is beyond the
    last one the subscriber knows (the snapshot's, then the last event's), and nothing after
    ``halted``.
    """

    __slots__ = ("_buffer", "_last", "done")

    def __init__(self) -> None:
        self._buffer: list[Event] | None = []
        self._last = -1
        self.done = False
        """The subscriber knows the job halted: it is owed nothing more."""

    @property
    def pending(self) -> bool:
        return self._buffer is not None

    def event(self, event: Event) -> Event | None:
        """An event from the bus: the one to deliver now, or None (buffered, already known, or done)."""
        if self._buffer is not None:
            self._buffer.append(event)
            return None
        return self._admit(event)

    def snapshot(self, state: JobState) -> list[Event]:
        """The subscriber got this snapshot: the buffered events to deliver right after it, in order."""
        buffered = self._buffer or []
        self._buffer = None
        self._last = state.step
        self.done = state.state == HALTED
        return [event for event in buffered if self._admit(event) is not None]

    def _admit(self, event: Event) -> Event | None:
        step = event.get("step")
        if self.done or not isinstance(step, int) or step <= self._last:
            return None
        self._last = step
        self.done = event.get("state") == HALTED
        return event
