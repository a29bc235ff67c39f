"""``--fault bus-write-behind``: job changes reach the broker from a flusher every 200 ms, and
``start`` replies before its job is there (needs ``--broker``).

The bug: to save Redis round trips, the owner worker queues each job's creation and changes and a
background flusher writes what was queued every :data:`FLUSH_INTERVAL_S` ("write-behind"), and ``start``
answers ``started`` at once - the job is running on this worker, after all. But the job id is now
in the client's hands while no other worker can find it: the user's other connection, landed on
another worker, subscribes and gets ``not_found`` for its own job (PROTOCOL.md 1.1: jobs belong to
the server, not to a worker).

The correct :class:`~target_app.broker.RedisJobBus` writes as soon as there is something to write
and :meth:`~target_app.broker.RedisJobBus.announced` holds ``started`` until the creation is on
Redis.

Detection (``--workers 2 --broker ...``): ``pressure``'s second connection subscribes to jobs
started on the first within 60 ms; when it sits on the other worker it gets ``not_found``.
"""

from __future__ import annotations

import asyncio
from typing import Final

from target_app.broker import BATCH, RedisJobBus
from target_app.wiring import Parts

FLUSH_INTERVAL_S: Final = 0.2
"""How often the flusher writes what was queued."""


class WriteBehindBus(RedisJobBus):
    async def announced(self, job_id: str) -> None:
        self._created.pop(job_id, None)  # THE BUG: "it runs here, so it exists" - not on Redis yet

    async def _write_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)  # batch up for throughput...
            pending, self._writes = self._writes, []  # ...and write what was queued until now
            for start in range(0, len(pending), BATCH):
                await self._send(pending[start:start + BATCH])


PARTS = Parts(bus=WriteBehindBus)
