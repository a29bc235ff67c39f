"""Fixtures of the target app tests: a real server process per module, on port 0.

A test module may set ``TARGET_ARGS`` (extra flags for its server). The ``target`` fixture runs the
module's tests once against ``--workers 1`` and once against ``--workers 2``; ``target1`` is a
single-worker server for what does not depend on the number of workers; ``correct`` is the
correct app with its default flags, for fault tests to compare with (see ``tests/target/faulty.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.target import Target, running_target


def _args(request: pytest.FixtureRequest) -> tuple[str, ...]:
    return tuple(getattr(request.module, "TARGET_ARGS", ()))


@pytest.fixture(scope="module", params=[1, 2], ids=["1worker", "2workers"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    with running_target(*_args(request), workers=request.param) as served:
        yield served


@pytest.fixture(scope="module")
def target1(request: pytest.FixtureRequest) -> Iterator[Target]:
    with running_target(*_args(request), workers=1) as served:
        yield served


@pytest.fixture(scope="module")
def correct() -> Iterator[Target]:
    with running_target() as served:
        yield served
