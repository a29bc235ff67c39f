"""send_after_close: sends racing a close, from both ends.

Iterations rotate four races on a fresh authenticated connection:

a. ``close_while_sending``: we close with 1000 while another greenlet keeps sending;
b. ``server_close_then_send``: we ask the server to close (``close`` op, a code in 4000-4999) and keep
   sending at once; the server must ignore what follows and close with exactly the code asked;
c. ``concurrent_closes``: we ask the server to close and, at the same moment, close from two
   greenlets; both calls return and the code received is the one asked or our 1000;
d. ``close_while_events_flow``: we subscribe to a running job and ask the server to close while its
   state events are still being sent; the job goes on after the connection closed, and the server
   must stop sending to a connection as it closes, and keep serving everyone else.

Each is judged on what this client sees: the close code received, the messages before it (in order,
no answer to an op sent after a ``close`` op), our sends racing and after the close failing locally
and cleanly (:class:`~loadgen.errors.SessionClosedError`). On a server with the bug (``--fault
unsafe-close``: a send racing a close raises out of the handler or a shared notifier task) race (d)
kills the process's event notifier, and from then on the server answers ops with close ``1011``
instead of the code due: ``abnormal_close``, in every race. The server's own
``wsrace_unhandled_errors_total`` (which races a-c make grow there too) is judged once per run, from
``/metrics`` at its start and end (``[server] unhandled_errors`` in thresholds.toml), never per
iteration: that counter is shared by every connection of every scenario.
"""

from __future__ import annotations

import random

import gevent
from locust import task

from loadgen.client import ProtocolClient
from loadgen.errors import BadReply, SessionClosedError, StepTimeout
from loadgen.protocol import wire
from loadgen.protocol.closecodes import Expectation
from loadgen.protocol.conversation import judge_close
from loadgen.user import RaceUser

SENDS = 40
"""Ops a racing sender sends at most: bounded, like every load loop."""
CLOSE_TIMEOUT_S = 5.0
ASKED_CODES = (4000, 4001, 4500, 4999)
"""Close codes asked of the server: both ends of the private range and two inside, few enough that
the results' per-code close counts stay readable."""
JOB_STEPS = (3, 6)
JOB_STEP_MS = (10, 20)
"""A job of race (d): a few short steps, so that some of its events are due after the close."""


def _send_until_closed(client: ProtocolClient, count: int) -> BaseException | None:
    """Send echo ops until the session refuses; return an exception that is not the clean refusal."""
    try:
        for n in range(count):
            client.session.send(wire.echo_op(n))
            # Yield, so the closing greenlet can run between two sends: that is the race. (Not
            # gevent.idle(): it waits for an idle loop, which a busy generator may not see for seconds.)
            gevent.sleep(0)
    except SessionClosedError:
        return None
    except Exception as exc:  # anything else is the session failing a racing send uncleanly
        return exc
    return None


def _assert_send_refused(client: ProtocolClient) -> None:
    try:
        client.session.send(wire.echo_op("after close"))
    except SessionClosedError:
        return
    raise BadReply(f"a send after the close (state {client.session.state}) did not fail locally")


class SendAfterCloseUser(RaceUser):
    scenario = "send_after_close"

    def on_start(self) -> None:
        self._turn = 0

    @task
    def race(self) -> None:
        variants = (self.close_while_sending, self.server_close_then_send, self.concurrent_closes,
                    self.close_while_events_flow)
        variant = variants[self._turn % len(variants)]
        self._turn += 1
        with self.iteration():
            with self.step("connect"):
                client = self.connect(mode="header")
                client.expect_ready()
            with self.step(variant.__name__):
                code = variant(client)
            self.forget(client)
            self.record_close(code)
            _assert_send_refused(client)

    def close_while_sending(self, client: ProtocolClient) -> int | None:
        sender = gevent.spawn(_send_until_closed, client, SENDS)
        gevent.sleep(random.uniform(0, 0.003))
        code = client.close(1000, timeout=CLOSE_TIMEOUT_S)
        try:
            problem = sender.get(timeout=CLOSE_TIMEOUT_S)
        except gevent.Timeout:
            sender.kill()
            raise StepTimeout("close_while_sending: a send racing the close never returned", CLOSE_TIMEOUT_S) from None
        if problem is not None:
            raise BadReply(f"a send racing our close failed uncleanly: {problem!r}") from problem
        judge_close(code, client.session.close_reason_received or "", Expectation(), "after closing with 1000")
        return code

    def server_close_then_send(self, client: ProtocolClient) -> int | None:
        asked = random.choice(ASKED_CODES)
        close_id = client.send_op(wire.close_op(asked, "wsrace send_after_close"))
        for n in range(SENDS):
            try:
                client.session.send(wire.echo_op(n, close_id + 1 + n))
            except SessionClosedError:
                break
        code = client.read_until_close(CLOSE_TIMEOUT_S, "server close", ops_after=close_id)
        judge_close(code, client.session.close_reason_received or "", Expectation(normal=False, asked=asked),
                    f"after asking for {asked}")
        return code

    def concurrent_closes(self, client: ProtocolClient) -> int | None:
        asked = random.choice(ASKED_CODES)
        client.send_op(wire.close_op(asked))
        closers = [gevent.spawn(client.close, 1000, "", CLOSE_TIMEOUT_S) for _ in range(2)]
        done = gevent.joinall(closers, timeout=CLOSE_TIMEOUT_S * 2)
        if len(done) != len(closers):
            gevent.killall(closers)
            raise StepTimeout("concurrent_closes: a close call never returned", CLOSE_TIMEOUT_S * 2)
        for closer in closers:
            if closer.exception is not None:
                raise BadReply(f"a concurrent close failed: {closer.exception!r}") from closer.exception
        code = client.session.close_code_received
        judge_close(code, client.session.close_reason_received or "", Expectation(asked=asked),
                    f"after asking for {asked} and closing with 1000 at once")
        return code

    def close_while_events_flow(self, client: ProtocolClient) -> int | None:
        asked = random.choice(ASKED_CODES)
        steps, step_ms = random.randint(*JOB_STEPS), random.randint(*JOB_STEP_MS)
        job = client.started(client.start(steps, step_ms), steps)
        client.subscribe(job)
        gevent.sleep(random.uniform(0, steps * step_ms / 1000.0 / 2))  # events flow meanwhile, unread
        close_id = client.send_op(wire.close_op(asked))
        code = client.read_until_close(CLOSE_TIMEOUT_S, "server close", ops_after=close_id)
        judge_close(code, client.session.close_reason_received or "", Expectation(normal=False, asked=asked),
                    f"after asking for {asked} while job events flowed")
        return code
