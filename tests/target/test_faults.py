"""Each ``--fault`` misbehaves in a way a protocol client can see, and the correct app does not.

Every test runs one observation - a client that relies only on what PROTOCOL.md promises - against
the correct app and against the app with the fault, and asserts the contrast.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import time
from typing import Any, Final

import pytest
from websockets.asyncio.server import serve

from loadgen.protocol import metrics as names
from tests.support.target import Target, running_target
from tests.target.client import Client, ametric, run
from tests.target.faulty import observe

pytestmark = pytest.mark.e2e


# ------------------------------------------------------------------------------ lost-snapshot


async def fast_halt(target: Target) -> tuple[str, bool]:
    """Start a fast-halt job and subscribe: the snapshot's state, and whether halted was seen."""
    client = await Client.ready(target)
    job = (await client.request({"op": "start", "steps": 0, "step_ms": 0}))["job"]
    snap = await client.request({"op": "subscribe", "job": job})
    halted = snap["state"] == "halted"
    if not halted:
        with contextlib.suppress(TimeoutError):
            halted = (await client.recv(timeout=1.0)).get("state") == "halted"
    await client.close()
    return snap["state"], halted


def test_lost_snapshot_never_shows_halted(correct: Target) -> None:
    assert observe(None, correct, fast_halt) == ("halted", True)
    assert observe("lost-snapshot", correct, fast_halt) == ("running", False)


# -------------------------------------------------------------------------------- lossy-queue

BURST_COUNT, BURST_SIZE = 300, 16_384


async def slow_burst(target: Target) -> list[int]:
    """Ask for a big burst, read nothing for 0.5 s, then read slowly: the items' ``i`` received."""
    client = await Client.ready(target, rcvbuf=65_536)
    await client.send({"op": "burst", "id": 1, "count": BURST_COUNT, "size": BURST_SIZE})
    await client.send({"op": "echo", "id": 2, "data": "after the burst"})
    await asyncio.sleep(0.5)  # the slow reader under test
    items: list[int] = []
    while (msg := await client.recv())["type"] == "burst":  # recv also checks seq has no gap
        items.append(msg["i"])
        if len(items) % 50 == 0:
            await asyncio.sleep(0.2)
    await client.close()
    return items


def test_lossy_queue_loses_burst_items_under_a_slow_reader(correct: Target) -> None:
    assert observe(None, correct, slow_burst) == list(range(BURST_COUNT))
    items = observe("lossy-queue", correct, slow_burst)
    assert items == sorted(items) and len(items) < BURST_COUNT


# --------------------------------------------------------------------------------- early-drop


def pipelined(auth: str) -> Any:
    async def answered(target: Target) -> list[int]:
        """Ops sent right behind the handshake / auth message: the ids answered."""
        client = await Client.open(target, auth=auth)  # type: ignore[arg-type]
        for i in range(5):
            await client.send({"op": "echo", "id": i, "data": i})
        assert (await client.recv())["type"] == "ready"
        ids: list[int] = []
        try:
            while len(ids) < 5:
                ids.append((await client.recv(timeout=1.0))["id"])
        except TimeoutError:
            pass
        await client.close()
        return ids

    return answered


@pytest.mark.parametrize("auth", ["header", "query", "inband"])
def test_early_drop_loses_ops_pipelined_before_ready(correct: Target, auth: str) -> None:
    assert observe(None, correct, pipelined(auth)) == [0, 1, 2, 3, 4]
    assert len(observe("early-drop", correct, pipelined(auth))) < 5


# --------------------------------------------------------------------------------- cross-talk


async def concurrent_jobs(target: Target) -> tuple[int, int]:
    """Three users run a job each at the same time: (foreign events seen, own steps missed)."""

    async def user(name: str) -> tuple[int, int]:
        client = await Client.ready(target, name)
        job = (await client.request({"op": "start", "steps": 20, "step_ms": 2}))["job"]
        snap = await client.request({"op": "subscribe", "job": job})
        own = {snap["step"]}
        foreign = 0
        try:
            while 20 not in own:
                msg = await client.recv(timeout=2.0)
                if msg["user"] != name or msg["job"] != job:
                    foreign += 1
                else:
                    own.add(msg["step"])
        except TimeoutError:
            pass
        await client.close()
        return foreign, len(set(range(snap["step"] + 1, 21)) - own)

    results = await asyncio.gather(*(user(f"user{n}") for n in range(3)))
    return sum(r[0] for r in results), sum(r[1] for r in results)


def test_cross_talk_delivers_other_users_events(correct: Target) -> None:
    assert observe(None, correct, concurrent_jobs) == (0, 0)
    foreign, missed = observe("cross-talk", correct, concurrent_jobs)
    assert foreign > 0 and missed > 0


# ------------------------------------------------------------------------------- unsafe-close


FLOW_CONTROL_FRAMES: Final = inspect.signature(serve).parameters["max_queue"].default
"""websockets' receive high-water mark (the target keeps the default): with more data frames than
this waiting unread, the server stops reading the socket until its handler drains them."""
OPS_BEFORE_THE_CLOSE: Final = FLOW_CONTROL_FRAMES // 3
OPS_AFTER_THE_CLOSE: Final = FLOW_CONTROL_FRAMES - OPS_BEFORE_THE_CLOSE - 1


async def sends_racing_a_close(target: Target) -> tuple[int | None, float]:
    """Ops before and after a close op: (the close code, unhandled errors counted meanwhile).

    All of them go out in one TCP segment (``TCP_CORK``), so every op after the close is already
    waiting when the server handles the close, whatever the scheduling; and there are no more of
    them than websockets' receive window, so the server keeps reading and can see the client's
    close frame. (With more, unsafe-close's handler, blocked in ``close()``, never drains the
    window: the handshake stalls until the server's close timeout, longer than ``closed()`` waits.)
    """
    before = await ametric(target, names.UNHANDLED_ERRORS)
    open_before = await ametric(target, names.CONNECTIONS_OPEN)
    client = await Client.ready(target)
    sock = client.ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    for i in range(OPS_BEFORE_THE_CLOSE):
        await client.send({"op": "echo", "id": i, "data": i})
    await client.send({"op": "close", "code": 4000})
    for i in range(OPS_AFTER_THE_CLOSE):
        await client.send({"op": "echo", "id": OPS_BEFORE_THE_CLOSE + i, "data": i})
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)  # the segment goes out now
    code = await client.closed()
    async with asyncio.timeout(5):  # the server's handler has finished: its crash, if any, counted
        while await ametric(target, names.CONNECTIONS_OPEN) > open_before:
            await asyncio.sleep(0.02)
    return code, await ametric(target, names.UNHANDLED_ERRORS) - before


async def events_after_another_user_closes(target: Target) -> tuple[bool, Any]:
    """Alice watches her job while Bob, mid-job, closes with 4000: did Alice see ``halted``, and
    what answers her next op?"""
    alice = await Client.ready(target, "alice")
    job_a = (await alice.request({"op": "start", "steps": 40, "step_ms": 25}))["job"]
    await alice.request({"op": "subscribe", "job": job_a})
    bob = await Client.ready(target, "bob")
    job_b = (await bob.request({"op": "start", "steps": 200, "step_ms": 5}))["job"]
    await bob.request({"op": "subscribe", "job": job_b})
    assert (await bob.recv())["type"] == "state"  # Bob's events flow
    await bob.send({"op": "close", "code": 4000})
    assert await bob.closed() == 4000
    halted = False
    try:
        while not halted:
            halted = (await alice.recv(timeout=3.0))["state"] == "halted"
    except TimeoutError:
        pass
    await alice.send({"op": "echo", "id": 1, "data": 0})
    try:
        answer: Any = (await alice.recv())["type"]
    except Exception:
        answer = alice.ws.close_code
    await alice.close()
    return halted, answer


def test_unsafe_close_crashes_when_a_send_races_a_close(correct: Target) -> None:
    assert observe(None, correct, sends_racing_a_close) == (4000, 0)
    code, crashes = observe("unsafe-close", correct, sends_racing_a_close)
    assert code == 4000 and crashes >= 1


def test_unsafe_close_stops_everyones_events_and_then_closes_with_1011(correct: Target) -> None:
    assert observe(None, correct, events_after_another_user_closes) == (True, "echo")
    assert observe("unsafe-close", correct, events_after_another_user_closes) == (False, 1011)


# -------------------------------------------------------------------------------- global-lock


async def echo_beside_a_stuck_burst(target: Target) -> float | None:
    """One client's burst waits on a reader that does not read; another client's echo latency."""
    slow = await Client.ready(target, "slow")
    await slow.send({"op": "burst", "count": 200, "size": 65_536})
    assert (await slow.recv())["type"] == "burst"  # the burst is being handled
    other = await Client.ready(target, "other")
    started = time.monotonic()
    await other.send({"op": "echo", "id": 1, "data": 0})
    try:
        await other.recv(timeout=3.0)
        latency: float | None = time.monotonic() - started
    except TimeoutError:
        latency = None
    slow.ws.transport.abort()
    await other.close()
    return latency


def test_global_lock_serialises_connections(correct: Target) -> None:
    assert observe(None, correct, echo_beside_a_stuck_burst) is not None  # answered beside the burst
    assert observe("global-lock", correct, echo_beside_a_stuck_burst) is None


# ----------------------------------------------------------------------------- stuck-shutdown


def stop_with_a_client(*args: str) -> tuple[int, float, str]:
    """SIGTERM with one open connection: (exit code, seconds to exit, log)."""
    with running_target("--shutdown-timeout", "1", *args) as target:
        async def connect() -> Client:
            return await Client.ready(target)

        loop = asyncio.new_event_loop()
        try:
            client = loop.run_until_complete(connect())
            started = time.monotonic()
            code = target.stop(timeout=15)
            elapsed = time.monotonic() - started
            loop.run_until_complete(asyncio.wait_for(client.ws.wait_closed(), 5))
        finally:
            loop.close()
        return code, elapsed, target.logs()


def test_stuck_shutdown_is_killed_reported_and_exits_non_zero() -> None:
    """The correct target exits by itself (0, nothing killed); with the fault the worker overruns
    --shutdown-timeout 1 plus the supervisor's 1 s grace, is killed, reported, and the exit is non-zero;
    before it is killed, it names the task that would not stop and where it waits."""
    code, _, logs = stop_with_a_client()
    assert code == 0 and "killed it" not in logs and "still running past the shutdown timeout" not in logs
    code, _, logs = stop_with_a_client("--fault", "stuck-shutdown")
    assert code != 0
    assert "did not exit within 2 s of SIGTERM" in logs and "killed it" in logs
    assert "still running past the shutdown timeout: job sweeper at " in logs and "stuck_shutdown.py" in logs


def test_faults_combine() -> None:
    """Two faults at once: both bugs show."""
    with running_target("--fault", "lost-snapshot", "--fault", "early-drop",
                        "--fault", "global-lock") as target:
        assert run(fast_halt(target)) == ("running", False)
        assert len(run(pipelined("inband")(target))) < 5
