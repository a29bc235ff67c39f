"""``--fault bus-check-then-subscribe``: on another worker, subscribe reads and checks the job on
the broker first and subscribes to its channel after (needs ``--broker``).

The bug: "check before you register" across workers. The subscribing worker reads the job's hash
(``HGETALL``: not found? another user's?), answers with that snapshot, and only then subscribes
to the job's channel. Every change the owner publishes between the read and the moment Redis has
the subscription goes to no one on this worker: it is in neither the snapshot (read before) nor
the events (published before the subscription existed). The client misses the steps in between,
and a job that halts meanwhile never shows ``halted``.

The correct :meth:`~target_app.broker.RedisJobBus.subscribe` subscribes first, waits for Redis to
confirm it, and reads the hash after; events that also made the snapshot are dropped by their
step (the argument is in :mod:`target_app.broker`).

Detection (``--workers 2 --broker ...``): ``fast_halt`` subscribes from the user's second
connection to a job ticking every millisecond or two; when that connection sits on the other
worker, steps are missing after the snapshot (``missed_event``).
"""

from __future__ import annotations

import asyncio

from loadgen.protocol.jobs import JobForbidden, JobNotFound
from target_app import broker_merge as m
from target_app.broker import BUS_TIMEOUT_S, BrokerUnavailable, Found, RedisJobBus, raise_if_cancelled
from target_app.jobs import Subscriber
from target_app.wiring import Parts


class CheckThenSubscribeBus(RedisJobBus):
    async def subscribe(self, subscriber: Subscriber, user: str, job_id: str) -> Found:
        from redis.exceptions import RedisError

        try:
            async with asyncio.timeout(BUS_TIMEOUT_S):
                fields = await self._client.hgetall(m.key(job_id))  # the check and the snapshot...
        except (RedisError, OSError, TimeoutError) as exc:
            raise_if_cancelled(exc)
            raise BrokerUnavailable(f"reading {job_id} from the broker failed: {exc!r}") from exc
        record = m.read_record(fields)
        if record is None:
            raise JobNotFound(job_id)
        if record.owner != user:
            raise JobForbidden(job_id)
        entry = self._register(subscriber, job_id)  # ...THE BUG: then the subscription, a round trip later
        try:
            async with asyncio.timeout(BUS_TIMEOUT_S):
                await asyncio.shield(entry.ready)
        except BaseException:
            self._drop(subscriber, job_id)
            raise
        return Found(record.state, self, subscriber, job_id)


PARTS = Parts(bus=CheckThenSubscribeBus)
