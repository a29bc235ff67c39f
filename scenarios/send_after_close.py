"""send_after_close: sends racing a close, from both ends.

Iterations rotate three races on a fresh authenticated connection:

a. ``close_while_sending``: we close with 1000 while another greenlet keeps sending;
b. ``server_close_then_send``: we ask the server to close (``close`` op, a code in 4000-4999) and keep
   sending at once; the server must ignore what follows and close with exactly the code asked;
c. ``concurrent_closes``: we ask the server to close and, at the same moment, close from two
   greenlets; both calls return and the code received is the one asked or our 1000.

Each is judged on the close code received, on our sends after the close failing locally and cleanly
(:class:`~loadgen.errors.SessionClosedError`), and on the server's ``wsrace_unhandled_errors_total``
not growing. On a server with the bug (``--fault unsafe-close``: a send racing a close raises out of
the handler or a shared notifier task) this gives ``abnormal_close`` (1011) and
``send_after_close_crash`` (the server counted an unhandled error).
"""

from __future__ import annotations

import random
import time

import gevent
from locust import task

from loadgen.client import ProtocolClient, judge_close
from loadgen.errors import BadReply, SendAfterCloseCrash, SessionClosedError, StepTimeout
from loadgen.metrics_scrape import try_scrape
from loadgen.protocol.closecodes import Expectation
from loadgen.user import RaceUser

SENDS = 40
"""Ops a racing sender sends at most: bounded, like every load loop."""
CLOSE_TIMEOUT_S = 5.0
ASKED_CODES = (4000, 4001, 4500, 4999)
"""Close codes asked of the server: both ends of the private range and two inside, few enough that
the results' per-code close counts stay readable."""
COUNTER_CHECK_EVERY_S = 1.0
"""The server counter is read at most this often per user, so the check costs little."""


def _send_until_closed(client: ProtocolClient, count: int) -> BaseException | None:
    """Send echo ops until the session refuses; return an exception that is not the clean refusal."""
    try:
        for n in range(count):
            client.session.send({"op": "echo", "data": n})
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
        client.session.send({"op": "echo", "data": "after close"})
    except SessionClosedError:
        return
    raise BadReply(f"a send after the close (state {client.session.state}) did not fail locally")


class SendAfterCloseUser(RaceUser):
    scenario = "send_after_close"

    def on_start(self) -> None:
        self._turn = 0
        self._unhandled_seen: float | None = None
        self._checked_at = 0.0

    @task
    def race(self) -> None:
        variants = (self.close_while_sending, self.server_close_then_send, self.concurrent_closes)
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
            self._check_server_counter()

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
        close_id = client.send_op({"op": "close", "code": asked, "reason": "wsrace send_after_close"})
        for n in range(SENDS):
            try:
                client.session.send({"op": "echo", "id": close_id + 1 + n, "data": n})
            except SessionClosedError:
                break
        code = client.read_until_close(CLOSE_TIMEOUT_S, "server close", ops_after=close_id)
        judge_close(code, client.session.close_reason_received or "", Expectation(normal=False, asked=asked),
                    f"after asking for {asked}")
        return code

    def concurrent_closes(self, client: ProtocolClient) -> int | None:
        asked = random.choice(ASKED_CODES)
        client.send_op({"op": "close", "code": asked})
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

    def _check_server_counter(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < COUNTER_CHECK_EVERY_S:
            return
        self._checked_at = now
        counters = try_scrape(self.host or "")
        if counters is None:
            return  # /metrics unreachable: the run's server check fails and says so
        seen = counters.values.get("unhandled_errors", 0.0)
        before, self._unhandled_seen = self._unhandled_seen, seen
        if before is not None and seen > before:
            raise SendAfterCloseCrash(f"the server counted {seen - before:g} unhandled errors during these closes")
