"""One client connection: authentication, its ops in arrival order, one writer, one close.

Life of a connection::

    handshake (a token in it was checked by process_request, or there was none)
      -> authenticate: the handshake's user, or an ``auth`` first message within auth_timeout
      -> ready (seq 0), then every message handled in arrival order
      -> closing: one close code, chosen once (a 1013 or 1001 may still replace a close that is
         waiting for its queued replies to go out)
      -> closed: the handler returns, and the close code is counted

Messages that arrive before ``ready`` stay in websockets' receive buffer: nothing reads them until
the session is open, so they are handled in order after ``ready``, never dropped, never anonymous.

Everything the connection sends goes through its :class:`~target_app.outbox.Outbox` to one writer
task, which stamps ``seq`` as it hands each frame to the socket: seq order is wire order, with no
gaps. The writer runs only while there is something to send: the outbox starts it when a message is
queued and none is running, and it ends when the outbox is empty, so an idle connection holds no
task (there is never more than one writer, so the order holds across writers too).

A slow reader is given backpressure; one that makes no progress for ``stall_timeout``, or lets
more than 4 MiB of replies and events pile up, is closed with 1013 (see :mod:`target_app.stall`).

Dependencies are handed in, one way: the worker's :class:`~target_app.context.WorkerContext`
(settings, metrics, ids, failure reporting, the shutting-down flag), the
:class:`~target_app.jobs.JobService` (which sees a connection only as a
:class:`~target_app.jobs.Subscriber`), and the outbox class.
"""

from __future__ import annotations

import asyncio
import logging
import math

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from loadgen.protocol import closecodes, tokens, wire
from loadgen.protocol.jobs import JobForbidden, JobNotFound
from loadgen.protocol.sequence import Sequencer
from target_app.config import CLOSE_TIMEOUT_S, OUTPUT_LIMIT_BYTES
from target_app.context import WorkerContext
from target_app.jobs import JobService
from target_app.outbox import Message, Outbox
from target_app.stall import StallWatch
from target_app.tasks import report_failure

__all__ = ["Connection", "Message"]

log = logging.getLogger(__name__)


class Connection:
    __slots__ = (
        "__weakref__", "_close_deadline", "_close_sent", "_closer", "_closing", "_sending",
        "_watch", "_watch_handle", "_writer", "context", "jobs", "outbox", "sent", "seq",
        "session", "user", "ws",
    )

    def __init__(self, context: WorkerContext, jobs: JobService, outbox_class: type[Outbox],
                 ws: ServerConnection) -> None:
        self.context = context
        self.jobs = jobs
        self.ws = ws
        self.user: str | None = None
        self.session: str | None = None
        self.seq = Sequencer()
        self.sent = 0
        self.outbox = outbox_class(OUTPUT_LIMIT_BYTES, self)
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._closing: tuple[int, str] | None = None
        self._close_sent = False
        self._close_deadline = math.inf
        self._sending = False
        self._watch: StallWatch | None = None  # made when output first has to wait
        self._watch_handle: asyncio.TimerHandle | None = None

    @property
    def name(self) -> str:
        return self.session or f"connection {str(self.ws.id)[:8]}"

    # ------------------------------------------------------------------------------------- life

    async def run(self) -> None:
        """The websockets handler body: returns once the connection is closed."""
        metrics = self.context.metrics
        metrics.connections_total.inc()
        metrics.connections_open.inc()
        if self.context.shutting_down:  # the handshake finished as the shutdown began
            self.request_close(closecodes.GOING_AWAY, "server shutting down")
        try:
            user = await self.authenticate()
            if user is not None:
                self.open_session(user)
            await self._read_loop()
        except Exception as exc:
            # Anything else is a bug in the server: count it (that counter is how the scenarios
            # see a crash), log it, and close with 1011.
            self.context.report_failure(exc, self.name)
            self.request_close(closecodes.SERVER_ERROR, "internal error")
        finally:
            await self._end()

    async def _end(self) -> None:
        self.jobs.unsubscribe(self)
        self._disarm_watch()
        self.outbox.close()  # nothing more can be delivered
        if self._closer is not None:
            await asyncio.wait([self._closer])  # bounded by its own deadline
        if (writer := self._writer) is not None:
            # Nothing is left for it to send: stop it wherever it is (after a crash, that may be
            # a send waiting on a client that does not read).
            writer.cancel()
            await asyncio.wait([writer])
        self.context.metrics.closed(self.close_code_seen())
        self.context.metrics.connections_open.dec()

    def close_code_seen(self) -> int:
        """The code the server sent, else the one it received, else 1006 (no close frame)."""
        protocol = self.ws.protocol
        for frame in (protocol.close_sent, protocol.close_rcvd):
            if frame is not None:
                return int(frame.code)
        return closecodes.ABNORMAL

    # ------------------------------------------------------------------------- authentication

    def handshake_user(self) -> str | None:
        """The user whose token process_request verified, if the handshake carried one."""
        return getattr(self.ws, "username", None)

    async def authenticate(self) -> str | None:
        """The connection's user, or None (the connection is then closing or closed)."""
        user = self.handshake_user()
        if user is not None:
            return user
        auth = await self.receive_auth()
        return None if auth is None else self.verify(auth)

    async def receive_auth(self) -> wire.Auth | None:
        """The first message, which must be ``auth`` and arrive within auth_timeout."""
        try:
            async with asyncio.timeout(self.context.config.auth_timeout):
                data = await self.ws.recv()
        except TimeoutError:
            self.context.metrics.auth_failures.inc()
            self.request_close(closecodes.POLICY, "no auth message in time", flush=True)
            return None
        except ConnectionClosed:
            return None  # the client left before authenticating
        self.context.metrics.messages_received.inc()
        if isinstance(data, bytes):  # PROTOCOL.md 1.1: 1003 at any time, before authentication too
            self.request_close(closecodes.UNSUPPORTED_DATA, "binary frames are not supported", flush=True)
            return None
        op = wire.parse_client_message(data)
        if not isinstance(op, wire.Auth):
            self.reject("the first message must be an auth op", None if op is None else op.id)
            return None
        return op

    def verify(self, auth: wire.Auth) -> str | None:
        try:
            return tokens.verify(self.context.config.secret, auth.token)
        except tokens.TokenError as exc:
            self.reject(str(exc), auth.id)
            return None

    def reject(self, why: str, msg_id: int | None) -> None:
        """In-band authentication failed: ``unauthorized``, then close 1008."""
        self.context.metrics.auth_failures.inc()
        self.send(wire.error(wire.UNAUTHORIZED, why, msg_id))
        self.request_close(closecodes.POLICY, "unauthorized", flush=True)

    def open_session(self, user: str) -> None:
        self.user = user
        self.session = self.context.ids.session()
        self.send(wire.ready(user, self.session))

    # ---------------------------------------------------------------------------------- reading

    async def _read_loop(self) -> None:
        """Read until the connection closes; handle messages while open, ignore them once closing.

        Reading on after a close keeps websockets' receive buffer from filling up, which would stop
        it from reading the client's close frame.
        """
        while True:
            try:
                data = await self.ws.recv()
            except ConnectionClosed:
                # The end of every connection: the client closed, our close completed, or
                # websockets failed it (1009 over max_size, 1007 bad UTF-8).
                return
            self.context.metrics.messages_received.inc()
            if self._closing is None and self.user is not None:
                await self.handle(data)

    async def handle(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            self.request_close(closecodes.UNSUPPORTED_DATA, "binary frames are not supported",
                               flush=True)
            return
        op = wire.parse_client_message(data)
        if isinstance(op, wire.BadInput):
            await self.reply(wire.error(op.code, op.message, op.id))
        else:
            await self.dispatch(op)

    async def dispatch(self, op: wire.Op) -> None:
        assert self.user is not None
        match op:
            case wire.Echo():
                await self.reply(wire.echo_reply(op.id, op.data))
            case wire.Start():
                job = self.jobs.start(self.user, op.steps, op.step_ms)
                await self.jobs.known(job)  # with a broker: once any worker can find it
                await self.reply(wire.started(op.id, job.id))
            case wire.Subscribe():
                reply = self.subscribe(op)
                if reply is None:
                    await self.subscribe_shared(op)
                else:
                    await self.reply(reply)
            case wire.Burst():
                await self.burst(op)
            case wire.Close():
                self.request_close(op.code, op.reason, flush=True)
            case wire.Auth():
                await self.reply(wire.error(wire.BAD_REQUEST, "already authenticated", op.id))

    def subscribe(self, op: wire.Subscribe) -> Message | None:
        """Register for the job's events and return the reply: the snapshot, or an error; None if
        the job is not on this worker but may be on another (there is a broker to ask).

        Nothing awaits between the snapshot and queueing its reply (see :mod:`target_app.jobs`).
        """
        assert self.user is not None
        try:
            state = self.jobs.snapshot(self, self.user, op.job)
        except JobNotFound:
            if self.jobs.shared is not None:
                return None
            return wire.error(wire.NOT_FOUND, f"no job {op.job!r} on this worker", op.id)
        except JobForbidden:
            return wire.error(wire.FORBIDDEN, f"job {op.job!r} is another user's", op.id)
        return wire.subscribed(op.id, op.job, state.state, state.step)

    async def subscribe_shared(self, op: wire.Subscribe) -> None:
        """Subscribe to a job of another worker through the broker (see :mod:`target_app.broker`).

        Its events are held back until the reply is queued, so the snapshot still comes first.
        """
        assert self.user is not None and self.jobs.shared is not None
        try:
            found = await self.jobs.shared.subscribe(self, self.user, op.job)
        except JobNotFound:
            await self.reply(wire.error(wire.NOT_FOUND, f"no job {op.job!r}", op.id))
            return
        except JobForbidden:
            await self.reply(wire.error(wire.FORBIDDEN, f"job {op.job!r} is another user's", op.id))
            return
        await self.reply(wire.subscribed(op.id, op.job, found.state.state, found.state.step))
        found.release()

    async def burst(self, op: wire.Burst) -> None:
        """Queue ``count`` items at the pace the client reads them (see Outbox.put_flow)."""
        data = "x" * op.size
        for i in range(op.count):
            if not await self.outbox.put_flow(wire.burst_item(op.id, i, data)):
                self.outbox.unproduced(op.count - i)  # closing: counted if it is a 1013
                return

    # ---------------------------------------------------------------------------------- sending

    def send(self, message: Message) -> None:
        """Queue a reply or event for the writer; never waits."""
        self.outbox.push(message, len(orjson.dumps(message)))

    def deliver(self, event: Message) -> None:
        """A job's state event (this connection as a :class:`~target_app.jobs.Subscriber`)."""
        self.send(event)

    async def reply(self, message: Message) -> None:
        """Send the direct reply to an op.

        A coroutine so that a fault may send replies another way; this one only queues.
        """
        self.send(message)

    # The outbox's owner (target_app.outbox.OutboxOwner): these three are all it calls.

    def output_ready(self) -> None:
        """A message was queued: start the writer unless one is running (it takes them all)."""
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(
                self._write_loop(), name=f"writer of {self.name}"
            )
            self._writer.add_done_callback(self._writer_done)

    async def _write_loop(self) -> None:
        """The connection's only sender: seq is stamped as each frame is handed to the socket.

        Ends when the outbox is empty; the next message queued starts the next writer.
        """
        try:
            while (message := self.outbox.take()) is not None:
                self._arm_watch()
                frame = orjson.dumps(self.seq.stamp(message))
                self._sending = True
                try:
                    await self.ws.send(frame, text=True)
                except ConnectionClosed:
                    # Expected: the client went away, or our close frame went out while this
                    # message waited. Nothing more can be delivered here; the close path already
                    # decided whether what is left counts as dropped.
                    self.outbox.close()
                    return
                finally:
                    self._sending = False
                self.sent += 1
                self.context.metrics.messages_sent.inc()
        finally:
            self._writer = None  # at once: a message queued from now on needs a new writer

    def _writer_done(self, task: asyncio.Task[None]) -> None:
        report_failure(task, self.context.report_failure)
        if not task.cancelled() and task.exception() is not None:
            self.request_close(closecodes.SERVER_ERROR, "internal error")

    # ---------------------------------------------------------------------------------- closing

    def request_close(self, code: int, reason: str = "", *, flush: bool = False,
                      deadline: float = math.inf) -> None:
        """Start closing with ``code``.

        ``flush``: deliver what is queued first (a close op, an auth failure); otherwise abandon it
        (counted as dropped for a 1013). A close that does not flush replaces one that is still
        flushing: a stall or a shutdown must not wait behind a reader that does not read.
        """
        if self._closing is not None:
            if flush or self._close_sent:
                return
            self._closing = (code, reason)
            self._close_deadline = min(self._close_deadline, deadline)
            self.outbox.abandon(count=code == closecodes.TRY_AGAIN_LATER)
            return
        self._closing = (code, reason)
        self._close_deadline = deadline
        self.jobs.unsubscribe(self)
        if flush:
            self.outbox.finish()
        else:
            self.outbox.abandon(count=code == closecodes.TRY_AGAIN_LATER)
        self._closer = asyncio.get_running_loop().create_task(
            self._close(), name=f"close of {self.name}"
        )
        self._closer.add_done_callback(lambda task: report_failure(task, self.context.report_failure))

    async def _close(self) -> None:
        await self.outbox.flushed()
        assert self._closing is not None
        code, reason = self._closing
        self._close_sent = True
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(min(self._close_deadline, loop.time() + CLOSE_TIMEOUT_S)):
                await self.ws.close(code, reason)
        except TimeoutError:
            # The client did not finish the closing handshake in time (one that never reads never
            # even sees our close frame): drop the TCP connection so the deadline holds.
            self.abort()

    def abort(self) -> None:
        self.ws.transport.abort()

    def output_overflowed(self) -> None:
        log.info("%s: over %d bytes of output unread; closing with 1013", self.name,
                 OUTPUT_LIMIT_BYTES)
        self.request_close(closecodes.TRY_AGAIN_LATER, "too much output unread")

    def output_dropped(self, count: int) -> None:
        self.context.metrics.dropped_messages.inc(count)

    # ------------------------------------------------------------------------ stall detection

    def _buffered(self) -> int:
        return int(self.ws.transport.get_write_buffer_size())

    def _arm_watch(self) -> None:
        """Output is waiting: sample progress until the writer is idle again."""
        if self._watch_handle is None and (timeout := self.context.config.stall_timeout) > 0:
            if self._watch is None:
                self._watch = StallWatch(timeout)
            loop = asyncio.get_running_loop()
            self._watch.start(loop.time(), self.sent, self._buffered())
            self._watch_handle = loop.call_later(self._watch.interval, self._watch_tick)

    def _disarm_watch(self) -> None:
        if self._watch_handle is not None:
            self._watch_handle.cancel()
            self._watch_handle = None

    def _watch_tick(self) -> None:
        self._watch_handle = None
        if self._close_sent or self.ws.state is not State.OPEN:
            return
        if not self._sending and not self.outbox:
            return  # idle: the next message re-arms the watch
        assert self._watch is not None  # armed
        loop = asyncio.get_running_loop()
        if self._watch.stalled(loop.time(), self.sent, self._buffered()):
            log.info("%s: no progress for %.3g s; closing with 1013", self.name,
                     self._watch.timeout)
            self.request_close(closecodes.TRY_AGAIN_LATER, "reader too slow")
            return
        self._watch_handle = loop.call_later(self._watch.interval, self._watch_tick)

