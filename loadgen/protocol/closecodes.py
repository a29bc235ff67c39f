"""How the scenarios judge a close code (PROTOCOL.md, "Close codes, as the scenarios judge them").

Pure: :func:`classify_close` takes the code received and what the scenario step expected, and names
the failure kind, or None when the close is fine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

NORMAL: Final = 1000
GOING_AWAY: Final = 1001
PROTOCOL_ERROR: Final = 1002
UNSUPPORTED_DATA: Final = 1003
NO_STATUS: Final = 1005
ABNORMAL: Final = 1006
INVALID_DATA: Final = 1007
POLICY: Final = 1008
TOO_BIG: Final = 1009
SERVER_ERROR: Final = 1011
TRY_AGAIN_LATER: Final = 1013

PROVOKABLE: Final = frozenset({PROTOCOL_ERROR, UNSUPPORTED_DATA, INVALID_DATA, TOO_BIG})


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a step allows. The default allows only a normal close that the client took part in."""

    normal: bool = True
    shutdown: bool = False
    bad_auth: bool = False
    slow_reader: bool = False
    asked: int | None = None
    provoked: frozenset[int] = field(default_factory=frozenset)


MID_CONVERSATION: Final = Expectation(normal=False)
"""While waiting for a reply: no close is fine."""


def classify_close(code: int | None, expect: Expectation = Expectation()) -> str | None:
    """Return the error kind for a close code received (None: no close frame), or None if fine."""
    if code is None or code == ABNORMAL:
        return "abnormal_close"
    if code == NORMAL:
        return None if expect.normal or expect.asked == NORMAL else "unexpected_close"
    if code == GOING_AWAY:
        return None if expect.shutdown else "unexpected_close"
    if code == POLICY:
        return None if expect.bad_auth else "unexpected_close"
    if code == TRY_AGAIN_LATER:
        return None if expect.slow_reader else "unexpected_close"
    if 4000 <= code <= 4999:
        return None if code == expect.asked else "unexpected_close"
    if code in PROVOKABLE:
        return None if code in expect.provoked else "abnormal_close"
    # 1011 and every other code (1005 is never sent on the wire; 1012, 1014, unknown...).
    return "abnormal_close"
