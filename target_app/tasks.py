"""Background tasks with an owner: every failure is reported, and the owner cancels them together.

A task that dies of an unexpected exception must never vanish quietly: that is exactly what a race
scenario needs to see. :func:`report_failure` is the done-callback that counts and logs it.
A :class:`TaskSet` may also report its size on every change (the worker's background-tasks gauge),
so a soak can see that tasks do not pile up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

Reporter = Callable[[BaseException, str], None]
SizeReporter = Callable[[int], None]


def report_failure(task: asyncio.Task[Any], report: Reporter) -> None:
    """Done-callback: hand a task's unexpected exception to ``report`` (cancellation is expected)."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        report(exc, task.get_name())


class TaskSet:
    """The background tasks of one owner (a worker's job tickers, its sweeper, a notifier)."""

    def __init__(self, report: Reporter, report_size: SizeReporter | None = None) -> None:
        self._report = report
        self._report_size = report_size
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        self._size_changed()
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._size_changed()
        report_failure(task, self._report)

    def _size_changed(self) -> None:
        if self._report_size is not None:
            self._report_size(len(self._tasks))

    def cancel_all(self) -> list[asyncio.Task[Any]]:
        """Cancel every task; return them so the caller can wait for them to finish."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        return tasks
