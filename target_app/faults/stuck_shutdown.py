"""``--fault stuck-shutdown``: the job sweeper swallows its own cancellation.

The bug: "the sweeper must never die", so its loop catches everything - ``except BaseException``
(or a bare ``except:``) - which includes ``asyncio.CancelledError``. At shutdown the worker cancels
its background tasks and waits for them; this one logs, and sweeps on. SIGTERM never finishes the
worker, and the supervisor kills it after the shutdown timeout, reports it, and exits non-zero.

The correct :func:`~target_app.jobs.sweep_expired_jobs` lets cancellation through.

Detection: SIGTERM the app; it does not exit within the shutdown timeout, and exits non-zero.
"""

from __future__ import annotations

import asyncio
import logging

from target_app.jobs import SWEEP_INTERVAL_S, JobService
from target_app.wiring import Parts

log = logging.getLogger(__name__)


async def stubborn_sweeper(jobs: JobService, interval: float = SWEEP_INTERVAL_S) -> None:
    while True:
        try:
            await asyncio.sleep(interval)
            jobs.expire()
        except BaseException:  # THE BUG: also catches CancelledError
            log.warning("job sweeper interrupted; carrying on")


PARTS = Parts(sweeper=stubborn_sweeper)
