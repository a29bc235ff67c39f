"""``--fault lost-snapshot-await``: subscribe reads the job's state, awaits, and only then registers.

The bug: the subscribe handler reads the job's status, then awaits a permission check (an ACL
lookup in a real service; 20 ms here), and only then adds the connection to the job's subscribers -
"the check must pass before we register". Every state change that happens during the await is in
neither the snapshot (read before it) nor the events (registered after it): the client misses the
steps in between, and a job that halts meanwhile is reported ``running`` and never ``halted``.

The correct :meth:`JobService.snapshot` registers and reads the live state in one step, with no
await between them (a permission check, if any, goes before both).

Detection: start a multi-step job and subscribe at once: steps are missing after the snapshot.
"""

from __future__ import annotations

import asyncio
from typing import Final

from loadgen.protocol import wire
from loadgen.protocol.jobs import JobForbidden, JobNotFound
from target_app.connection import Connection
from target_app.wiring import Parts

ACL_LOOKUP_S: Final = 0.02
"""The permission check's round trip (simulated)."""


class AwaitBeforeRegisterConnection(Connection):
    __slots__ = ()

    async def dispatch(self, op: wire.Op) -> None:
        if not isinstance(op, wire.Subscribe):
            await super().dispatch(op)
            return
        assert self.user is not None
        try:
            state = self.jobs.registry.get(op.job, self.user).state  # the snapshot...
        except JobNotFound:
            await self.reply(wire.error(wire.NOT_FOUND, f"no job {op.job!r} on this worker", op.id))
            return
        except JobForbidden:
            await self.reply(wire.error(wire.FORBIDDEN, f"job {op.job!r} is another user's", op.id))
            return
        await asyncio.sleep(ACL_LOOKUP_S)  # ..."check the ACL"... THE BUG: an await in between
        self.jobs.snapshot(self, self.user, op.job)  # ...then register
        await self.reply(wire.subscribed(op.id, op.job, state.state, state.step))


PARTS = Parts(connection=AwaitBeforeRegisterConnection)
