"""Waiting for a condition and running a call in a thread, for the session tests that drive a
blocking session from a second thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

POLL_S = 0.001


def wait_for(predicate: Callable[[], bool], timeout: float) -> None:
    """Return once ``predicate()`` holds; fail the test if it does not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(POLL_S)


def run_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``target`` in a thread; the list gets its result or exception."""
    out: list[Any] = []

    def wrapper() -> None:
        try:
            out.append(target())
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=wrapper, daemon=True)
    thread.start()
    return thread, out
