"""Every close-code rule of PROTOCOL.md's judging table, as a table."""

from __future__ import annotations

import pytest

from loadgen.protocol.closecodes import MID_CONVERSATION, Expectation, classify_close

DEFAULT = Expectation()


@pytest.mark.parametrize(
    ("code", "expect", "kind"),
    [
        (1000, DEFAULT, None),
        (1000, MID_CONVERSATION, "unexpected_close"),
        (1000, Expectation(normal=False, asked=1000), None),
        (1001, DEFAULT, "unexpected_close"),
        (1001, Expectation(shutdown=True), None),
        (1008, DEFAULT, "unexpected_close"),
        (1008, Expectation(bad_auth=True), None),
        (1013, DEFAULT, "unexpected_close"),
        (1013, Expectation(slow_reader=True), None),
        (4000, Expectation(asked=4000), None),
        (4999, Expectation(asked=4999), None),
        (4001, Expectation(asked=4000), "unexpected_close"),
        (4001, DEFAULT, "unexpected_close"),
        (1002, DEFAULT, "abnormal_close"),
        (1003, DEFAULT, "abnormal_close"),
        (1003, Expectation(provoked=frozenset({1003})), None),
        (1007, DEFAULT, "abnormal_close"),
        (1009, DEFAULT, "abnormal_close"),
        (1009, Expectation(provoked=frozenset({1009})), None),
        (1006, DEFAULT, "abnormal_close"),
        (None, DEFAULT, "abnormal_close"),
        (1011, DEFAULT, "abnormal_close"),
        (1011, Expectation(shutdown=True, slow_reader=True), "abnormal_close"),
        (1012, DEFAULT, "abnormal_close"),
        (3000, DEFAULT, "abnormal_close"),
    ],
)
def test_close_code_judging(code: int | None, expect: Expectation, kind: str | None) -> None:
    """A close code is fine only where the table allows it; otherwise it is named by kind."""
    assert classify_close(code, expect) == kind
