"""wsrace's error kinds: one tree, used by the conversation rules, the session, the scenarios, the results
and the judge.

It lives in the pure protocol core so that :mod:`.conversation` can raise it with no gevent or Locust
loaded; :mod:`loadgen.errors` re-exports it under the name scenario authors import.

Every failed scenario step raises exactly one of these. Locust records the exception's class name
as the failure, and the results file counts failures by ``kind``::

    ScenarioFailure                      kind
     ├── HandshakeFailed(status)         handshake_failed     TCP or HTTP upgrade refused (status None: no HTTP answer)
     ├── AuthRejected                    auth_rejected        a good token refused (401, ``unauthorized``, 1008)
     ├── StepTimeout(step)               timeout              a step's deadline passed
     ├── AbnormalClose(code)             abnormal_close       1006, 1011, 1002/1003/1007/1009 unprovoked, unknown codes
     ├── UnexpectedClose(code)           unexpected_close     a fine code at the wrong time (1000 mid-conversation...)
     ├── SeqGap(expected, got)           seq_gap              a server message skipped a sequence number
     ├── OutOfOrder                      out_of_order         replies, states or burst items in the wrong order
     ├── MissedEvent                     missed_event         a promised message never came (e.g. no ``halted``)
     ├── ForeignEvent                    foreign_event        another user's data reached this connection
     └── BadReply                        bad_reply            a reply that breaks the protocol's shape or values

What only the server sees (e.g. its ``wsrace_unhandled_errors_total`` growing) is not a failure kind:
the run's server check judges those counters once per run, never per iteration.

Besides the failure kinds, :class:`SessionClosedError` is what a *local* send raises once the session
is closing or closed: it is the clean, expected outcome the send-after-close scenario looks for, so
it is not a failure kind.
"""

from __future__ import annotations

__all__ = [
    "KINDS",
    "AbnormalClose",
    "AuthRejected",
    "BadReply",
    "ForeignEvent",
    "HandshakeFailed",
    "MissedEvent",
    "OutOfOrder",
    "ScenarioFailure",
    "SeqGap",
    "SessionClosedError",
    "StepTimeout",
    "UnexpectedClose",
]


class ScenarioFailure(Exception):
    """A scenario step failed. ``kind`` is the stable name used in results and thresholds."""

    kind = "failure"


class HandshakeFailed(ScenarioFailure):
    kind = "handshake_failed"

    def __init__(self, status: int | None, detail: str = "") -> None:
        self.status = status
        what = f"HTTP {status}" if status is not None else "no HTTP answer"
        super().__init__(f"handshake failed: {what}" + (f" ({detail})" if detail else ""))


class AuthRejected(ScenarioFailure):
    kind = "auth_rejected"


class StepTimeout(ScenarioFailure):
    kind = "timeout"

    def __init__(self, step: str, seconds: float) -> None:
        self.step = step
        self.seconds = seconds
        super().__init__(f"no answer to step {step!r} within {seconds:g} s")


class _CloseFailure(ScenarioFailure):
    def __init__(self, code: int | None, reason: str = "", context: str = "") -> None:
        self.code = code
        self.reason = reason
        shown = "1006 (no close frame)" if code is None or code == 1006 else str(code)
        text = f"received close {shown}"
        if reason:
            text += f" {reason!r}"
        if context:
            text += f" {context}"
        super().__init__(text)


class AbnormalClose(_CloseFailure):
    kind = "abnormal_close"


class UnexpectedClose(_CloseFailure):
    kind = "unexpected_close"


class SeqGap(ScenarioFailure):
    kind = "seq_gap"

    def __init__(self, expected: int, got: int) -> None:
        self.expected = expected
        self.got = got
        super().__init__(f"expected seq {expected}, got {got}")


class OutOfOrder(ScenarioFailure):
    kind = "out_of_order"


class MissedEvent(ScenarioFailure):
    kind = "missed_event"


class ForeignEvent(ScenarioFailure):
    kind = "foreign_event"


class BadReply(ScenarioFailure):
    kind = "bad_reply"


KINDS: tuple[str, ...] = tuple(
    cls.kind
    for cls in (
        HandshakeFailed,
        AuthRejected,
        StepTimeout,
        AbnormalClose,
        UnexpectedClose,
        SeqGap,
        OutOfOrder,
        MissedEvent,
        ForeignEvent,
        BadReply,
    )
)


class SessionClosedError(Exception):
    """A local send or receive on a session that is already closing or closed.

    ``state`` records the session state the call was made in, ``close_code`` the code received
    from the server if any (None while the close handshake is unfinished).
    """

    def __init__(self, state: str, close_code: int | None = None, reason: str = "") -> None:
        self.state = state
        self.close_code = close_code
        self.reason = reason
        code = "no close code yet" if close_code is None else f"close code {close_code}"
        super().__init__(f"session is {state} ({code})")
