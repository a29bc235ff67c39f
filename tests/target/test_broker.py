"""PROTOCOL.md's job rules across workers: a real redis-server, the real target with --workers 2
--broker, and a user's connections placed on different workers on purpose (``ready_on_worker``:
connect until the session id names the worker wanted, a bounded number of attempts).

The job owner is always on worker 0 and the other connection on worker 1, so every subscription
here goes through the broker (target_app.broker); the same rules on one worker are tests/target/
test_ops.py's.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loadgen.protocol import metrics as names
from target_app.ids import worker_of
from tests.support.redis import MISSING, running_redis
from tests.support.target import Target, running_target
from tests.target.client import Client, ametric, ready_on_worker, run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A two-worker target whose jobs go through a redis-server of this module's own."""
    if MISSING is not None:
        pytest.skip(MISSING)
    with running_redis(tmp_path_factory.mktemp("redis")) as redis, \
            running_target("--broker", redis.url, workers=2) as served:
        yield served


async def pair(target: Target, user: str = "alice") -> tuple[Client, Client]:
    """Two connections of ``user``: the first on worker 0, the second on worker 1."""
    return await ready_on_worker(target, user, 0), await ready_on_worker(target, user, 1)


async def start(client: Client, steps: int, step_ms: int) -> str:
    reply = await client.request({"op": "start", "id": 1, "steps": steps, "step_ms": step_ms})
    assert reply["type"] == "started", reply
    job = str(reply["job"])
    assert worker_of(job) == client.worker  # the job's owner is the worker that started it
    return job


async def follow(client: Client, job: str, timeout: float = 10.0) -> list[tuple[str, int]]:
    """Subscribe and read to ``halted``: the snapshot, then every event, as (state, step)."""
    snap = await client.request({"op": "subscribe", "id": 2, "job": job})
    assert snap["type"] == "subscribed" and snap["job"] == job, snap
    seen = [(snap["state"], snap["step"])]
    while seen[-1][0] != "halted":
        msg = await client.recv(timeout)
        assert msg["type"] == "state" and msg["job"] == job and msg["user"] == client.user, msg
        seen.append((msg["state"], msg["step"]))
    return seen


def owed(steps: int, snapshot_step: int) -> list[tuple[str, int]]:
    """What a subscriber whose snapshot was at ``snapshot_step`` must see after it, in order."""
    return [("running", i) for i in range(snapshot_step + 1, steps)] + [("halted", steps)]


async def nothing_pending(client: Client) -> None:
    """An echo round trip: if anything else was queued for ``client``, it would come first."""
    reply = await client.request({"op": "echo", "id": 99, "data": "after"})
    assert reply["type"] == "echo" and reply["data"] == "after", reply


def test_a_running_job_of_another_worker_gives_the_snapshot_then_every_change_once(shared: Target) -> None:
    """Subscribing from worker 1 to one's own job on worker 0, at several moments of its run:
    the snapshot, then each later change exactly once, in order, ending in halted."""
    steps = 8

    async def body() -> None:
        owner, other = await pair(shared)
        for delay in (0.0, 0.005, 0.02, 0.05, 0.1):
            job = await start(owner, steps, step_ms=20)
            await asyncio.sleep(delay)
            seen = await follow(other, job)
            assert seen[0][0] == "running" or seen == [("halted", steps)], seen
            assert seen[1:] == owed(steps, seen[0][1]), seen
            await nothing_pending(other)

    run(body())


def test_many_subscriptions_racing_the_steps_lose_and_repeat_nothing(shared: Target) -> None:
    """Jobs of 1 ms steps, subscribed from the other worker as they run: the snapshot lands anywhere
    in the run, and what follows is always exactly the rest."""
    steps, jobs = 20, 30

    async def body() -> None:
        owner, other = await pair(shared)
        for _ in range(jobs):
            job = await start(owner, steps, step_ms=1)
            seen = await follow(other, job)
            assert seen[1:] == ([] if seen[0][0] == "halted" else owed(steps, seen[0][1])), seen
        await nothing_pending(other)

    run(body())


def test_a_halted_job_of_another_worker_gives_halted_and_nothing_more(shared: Target) -> None:
    async def body() -> None:
        owner, other = await pair(shared)
        fast = await start(owner, 0, 0)  # halted at once: a fast halt
        assert await follow(other, fast) == [("halted", 0)]
        job = await start(owner, 2, 5)
        assert (await follow(owner, job))[-1] == ("halted", 2)  # the owner saw it halt
        assert await follow(other, job) == [("halted", 2)]
        await nothing_pending(other)

    run(body())


def test_a_job_is_known_to_every_worker_once_started_is_sent(shared: Target) -> None:
    """No not_found for a job whose id the client holds: start replies once the bus has it."""
    async def body() -> None:
        owner, other = await pair(shared)
        for _ in range(20):
            reply = await owner.request({"op": "start", "id": 1, "steps": 1, "step_ms": 1000})
            snap = await other.request({"op": "subscribe", "id": 2, "job": reply["job"]})
            assert snap["type"] == "subscribed", snap

    run(body())


def test_another_users_job_on_another_worker_is_forbidden_and_an_unknown_one_not_found(shared: Target) -> None:
    async def body() -> None:
        alice = await ready_on_worker(shared, "alice", 0)
        bob = await ready_on_worker(shared, "bob", 1)
        for steps in (0, 3):  # halted and running
            job = await start(alice, steps, 200)
            reply = await bob.request({"op": "subscribe", "id": 3, "job": job})
            assert (reply["type"], reply["code"], reply["id"]) == ("error", "forbidden", 3), reply
        unknown = alice_id_unused(job)
        for missing in (unknown, "no-such-job"):
            reply = await bob.request({"op": "subscribe", "id": 4, "job": missing})
            assert (reply["type"], reply["code"]) == ("error", "not_found"), reply
        await nothing_pending(bob)

    run(body())


def alice_id_unused(job: str) -> str:
    """An id in the owner's own format that it never handed out (its counter is far below this)."""
    return job.rsplit("-j", 1)[0] + "-j999999"


def test_events_reach_only_the_owners_subscribed_connections(shared: Target) -> None:
    """Of four connections on worker 1 (alice subscribed twice, alice not subscribed, bob), only the
    two subscribed ones get the job's events, each with user alice; one leaving mid-run takes
    nothing from the other."""
    steps = 6

    async def body() -> None:
        owner = await ready_on_worker(shared, "alice", 0)
        first, second, idle = [await ready_on_worker(shared, "alice", 1) for _ in range(3)]
        bob = await ready_on_worker(shared, "bob", 1)
        job = await start(owner, steps, 50)
        watchers = [asyncio.ensure_future(follow(c, job)) for c in (first, second)]
        quitter = await ready_on_worker(shared, "alice", 1)
        snap = await quitter.request({"op": "subscribe", "id": 5, "job": job})
        assert snap["type"] == "subscribed"
        await quitter.close()  # unsubscribed as it closes: the channel stays for the others
        for seen in await asyncio.gather(*watchers):
            assert seen[1:] == owed(steps, seen[0][1]), seen
        await nothing_pending(idle)
        await nothing_pending(bob)

    run(body())


def test_metrics_count_each_job_once_whichever_worker_is_asked(shared: Target) -> None:
    """jobs_started grows by the starts made, not by the subscriptions from the other worker."""
    async def body() -> None:
        owner, other = await pair(shared)
        before = await ametric(shared, names.JOBS_STARTED)
        for _ in range(4):
            await follow(other, await start(owner, 1, 1))
        assert await ametric(shared, names.JOBS_STARTED) - before == 4

    run(body())


@pytest.mark.timeout(60)
def test_a_broker_that_does_not_answer_is_bad_input_with_its_reason(tmp_path: Path) -> None:
    """--broker pointing at nothing: exit 2 and one line naming the broker, no traceback."""
    missing = tmp_path / "nothing.sock"
    proc = subprocess.run(
        [sys.executable, "-m", "target_app", "--port", "0", "--broker", f"unix://{missing}"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"cannot reach the broker --broker unix://{missing}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_two_workers_without_a_broker_say_jobs_are_per_worker() -> None:
    """Today's behaviour stays without --broker, and the target says so at start."""
    with running_target(workers=2) as served:
        text: list[Any] = []

        async def body() -> None:
            owner, other = await pair(served)
            job = await start(owner, 1, 1000)
            reply = await other.request({"op": "subscribe", "id": 2, "job": job})
            text.append(reply)

        run(body())
        assert text[0]["code"] == "not_found"
        assert "jobs are per worker: with 2 workers and no --broker" in served.logs()
