"""loadgen.machine_limits: an OS error of a machine limit becomes an error kind and plain words."""

from __future__ import annotations

import errno

import pytest

from loadgen.errors import HandshakeFailed, ScenarioFailure, StepTimeout
from loadgen.machine_limits import KINDS, WORDS, MachineLimit, explain, kind_of_errno, machine_limit


@pytest.mark.parametrize(("number", "kind"), [
    (errno.EMFILE, "out_of_fds"),
    (errno.ENFILE, "out_of_fds"),
    (errno.EADDRNOTAVAIL, "out_of_ports"),
    (errno.EADDRINUSE, "out_of_ports"),
    (errno.ENOMEM, "out_of_memory"),
    (errno.ENOBUFS, "out_of_memory"),
])
def test_each_limit_errno_has_its_kind(number: int, kind: str) -> None:
    assert kind_of_errno(number) == kind
    assert kind in KINDS


@pytest.mark.parametrize("number", [errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT, None])
def test_other_errors_are_not_machine_limits(number: int | None) -> None:
    """A refused or reset connection is the server's or the network's, not the machine's limit."""
    assert kind_of_errno(number) is None


def test_a_handshake_failure_caused_by_emfile_is_a_machine_limit() -> None:
    """HandshakeFailed keeps the OSError as its cause: the limit is found in the chain."""
    cause = OSError(errno.EMFILE, "Too many open files")
    try:
        try:
            raise cause
        except OSError as exc:
            raise HandshakeFailed(None, str(exc)) from exc
    except HandshakeFailed as failure:
        found = machine_limit(failure)
    assert isinstance(found, MachineLimit) and isinstance(found, ScenarioFailure)
    assert found.kind == "out_of_fds"
    assert "file descriptors" in str(found) and "EMFILE" in str(found)


def test_failures_without_a_limit_in_their_chain_stay_as_they_are() -> None:
    assert machine_limit(StepTimeout("connect", 5.0)) is None
    assert machine_limit(HandshakeFailed(503)) is None


def test_a_cycle_in_the_chain_ends() -> None:
    """An exception chain that loops (context set by hand) is walked once."""
    a, b = ValueError("a"), ValueError("b")
    a.__context__, b.__context__ = b, a
    assert machine_limit(a) is None


def test_explain_gives_one_plain_line_per_limit_hit() -> None:
    """Only machine-limit kinds, only those with failures, each with its words."""
    lines = explain({"out_of_ports": 12, "out_of_fds": 0, "timeout": 3})
    assert lines == [f"the machine said no (12 failed): {WORDS['out_of_ports']}"]
    assert "EADDRNOTAVAIL" in lines[0] and "--source-addresses" in lines[0]


def test_the_kinds_are_not_protocol_kinds() -> None:
    """A machine limit never reads as a server finding."""
    from loadgen.errors import KINDS as PROTOCOL_KINDS

    assert not set(KINDS) & set(PROTOCOL_KINDS)
