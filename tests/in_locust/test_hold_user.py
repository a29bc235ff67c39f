"""scenarios/hold.py's HoldUser, one iteration at a time on a real Locust Environment: a machine limit
at connect is its own kind in plain words (no traceback, no protocol kind), and the user waits
before reconnecting. The socket factory raises the OS error itself: nothing is connected."""

from __future__ import annotations

import errno
import socket
from typing import Any

import pytest
from locust.env import Environment

from loadgen.machine_limits import MachineLimit
from scenarios.hold import RETRY_FIRST_S, HoldUser


def _user() -> tuple[HoldUser, list[dict[str, Any]]]:
    env = Environment(user_classes=[HoldUser], host="ws://127.0.0.1:1")
    events: list[dict[str, Any]] = []
    env.events.request.add_listener(lambda **kwargs: events.append(kwargs))
    user = HoldUser(env)
    user.host = env.host  # what Locust's runner sets on the class at spawn, here on this user alone
    user.on_start()
    return user, events


def _failing(error: OSError):
    def factory(host: str, port: int, timeout: float) -> socket.socket:
        raise error

    return factory


@pytest.mark.parametrize(("number", "kind", "words"), [
    (errno.EMFILE, "out_of_fds", "file descriptors"),
    (errno.EADDRNOTAVAIL, "out_of_ports", "ephemeral ports"),
    (errno.ENOMEM, "out_of_memory", "memory"),
])
def test_a_machine_limit_at_connect_is_its_own_kind(number: int, kind: str, words: str) -> None:
    """The period fails with the limit's kind, the connect step reports it in plain words, and the
    next try waits RETRY_FIRST_S, then twice that."""
    user, events = _user()
    user._factory = _failing(OSError(number, "the machine said no"))
    user.hold()
    assert dict(user.ctx.collector.tallies()["hold"].failures_by_kind) == {kind: 1}
    (connect,) = [e for e in events if e["name"] == "connect"]
    assert isinstance(connect["exception"], MachineLimit) and words in str(connect["exception"])
    assert user.wait_time() == RETRY_FIRST_S
    user.hold()
    assert user.wait_time() == 2 * RETRY_FIRST_S


def test_a_refused_connection_stays_a_handshake_failure() -> None:
    """A refused connect is the server's side, not a machine limit."""
    user, _ = _user()
    user._factory = _failing(ConnectionRefusedError(errno.ECONNREFUSED, "refused"))
    user.hold()
    assert dict(user.ctx.collector.tallies()["hold"].failures_by_kind) == {"handshake_failed": 1}
