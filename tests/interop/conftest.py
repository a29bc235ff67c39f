"""Fixtures of the interop tests: one interop server process per uvicorn WebSocket stack.

Module-scoped and parametrized by stack, so each stack's tests share one server (and one with short
timeouts for the rows that wait for them); see :mod:`tests.interop.process` for how it is stopped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.process import ServerProcess, running_server
from tests.interop.serve import WS_STACKS


@pytest.fixture(scope="module", params=WS_STACKS)
def ws_stack(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def server(ws_stack: str) -> Iterator[ServerProcess]:
    """The interop server with PROTOCOL.md's default timeouts."""
    with running_server(ws_stack) as proc:
        yield proc


@pytest.fixture(scope="module")
def impatient_server(ws_stack: str) -> Iterator[ServerProcess]:
    """The interop server with short auth and stall timeouts, for the rows that wait for them."""
    with running_server(ws_stack, "--auth-timeout", "0.5", "--stall-timeout", "1") as proc:
        yield proc
