"""The operations of PROTOCOL.md over a real connection: ready, early messages, seq, each op."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from target_app.ids import worker_of
from tests.support.target import Target
from tests.target.client import Client, ready_on_worker, run, token

pytestmark = pytest.mark.e2e


async def until_halted(client: Client, job: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """State events of ``job`` up to and including ``halted``."""
    events: list[dict[str, Any]] = []
    while not events or events[-1]["state"] != "halted":
        msg = await client.recv(timeout)
        assert msg["type"] == "state" and msg["job"] == job and msg["user"] == client.user, msg
        events.append(msg)
    return events


async def watch(client: Client, job: str) -> list[tuple[str, int]]:
    """Subscribe and follow ``job`` to its halt: the snapshot, then every event, as (state, step)."""
    snap = await client.request({"op": "subscribe", "job": job})
    assert snap["type"] == "subscribed" and snap["job"] == job, snap
    seen = [(snap["state"], snap["step"])]
    if snap["state"] != "halted":
        seen += [(e["state"], e["step"]) for e in await until_halted(client, job)]
    return seen


def test_ready_is_first_and_names_user_session_and_worker(target: Target) -> None:
    async def body() -> None:
        workers = set()
        for _ in range(8):
            client = await Client.ready(target, "alice")
            assert client.session is not None and worker_of(client.session) is not None
            workers.add(client.worker)
            await client.close()
        assert workers <= set(range(target.listening["workers"]))

    run(body())


@pytest.mark.parametrize("auth", ["header", "query", "inband"])
def test_messages_before_ready_are_queued_and_handled_in_order(target: Target, auth: str) -> None:
    """Ops sent right behind the handshake or the auth message, before ready: all answered."""
    async def body() -> None:
        client = await Client.open(target, "alice", auth=auth)  # type: ignore[arg-type]
        for i in range(20):
            await client.send({"op": "echo", "id": i, "data": i})
        ready = await client.recv()
        assert ready["type"] == "ready" and ready["seq"] == 0 and ready["user"] == "alice"
        for i in range(20):
            msg = await client.recv()
            assert (msg["type"], msg["id"], msg["data"], msg["seq"]) == ("echo", i, i, i + 1)
        await client.close()

    run(body())


@pytest.mark.parametrize(
    "data", [None, 0, -1.5, "text ünï ☃", [], [1, [2, {"a": None}]], {"nested": {"x": [True]}},
             "x" * 100_000],
    ids=["null", "zero", "float", "unicode", "empty-list", "list", "object", "large"],
)
def test_echo_returns_the_same_json(target: Target, data: Any) -> None:
    async def body() -> None:
        client = await Client.ready(target)
        assert await client.request({"op": "echo", "id": 9, "data": data}) == {
            "type": "echo", "id": 9, "seq": 1, "data": data}
        await client.close()

    run(body())


def test_a_reply_to_an_op_without_id_has_null_id(target: Target) -> None:
    async def body() -> None:
        client = await Client.ready(target)
        assert (await client.request({"op": "echo", "data": 1}))["id"] is None
        await client.close()

    run(body())


def test_start_then_subscribe_gets_every_later_change_in_order(target: Target) -> None:
    async def body() -> None:
        client = await Client.ready(target, "alice")
        started = await client.request({"op": "start", "id": 1, "steps": 5, "step_ms": 20})
        assert started["type"] == "started" and started["id"] == 1
        job = started["job"]
        assert worker_of(job) == client.worker
        seen = await watch(client, job)
        first = seen[0][1]
        assert seen == [("running", step) for step in range(first, 5)] + [("halted", 5)], seen
        assert (await client.request({"op": "echo", "id": 3, "data": 0}))["type"] == "echo"
        await client.close()

    run(body())


def test_fast_halt_and_subscribe_after_halt_get_a_halted_snapshot_and_no_event(target: Target) -> None:
    async def body() -> None:
        client = await Client.ready(target, "alice")
        fast = (await client.request({"op": "start", "id": 1, "steps": 0, "step_ms": 0}))["job"]
        assert await client.request({"op": "subscribe", "id": 2, "job": fast}) == {
            "type": "subscribed", "id": 2, "seq": 2, "job": fast, "state": "halted", "step": 0}
        # a job that halts while another connection of the user watches it, then we subscribe
        watcher = await ready_on_worker(target, "alice", client.worker or 0)
        job = (await client.request({"op": "start", "id": 3, "steps": 2, "step_ms": 1}))["job"]
        assert (await watch(watcher, job))[-1] == ("halted", 2)
        snap = await client.request({"op": "subscribe", "id": 4, "job": job})
        assert (snap["state"], snap["step"]) == ("halted", 2)
        # start does not subscribe, and a halted job sends nothing later: the next is the echo
        assert (await client.request({"op": "echo", "id": 5, "data": 0}))["id"] == 5
        await watcher.close()
        await client.close()

    run(body())


def test_every_subscribed_connection_of_the_owner_gets_the_events(target: Target) -> None:
    async def body() -> None:
        first = await Client.ready(target, "carol")
        second = await ready_on_worker(target, "carol", first.worker or 0)
        job = (await first.request({"op": "start", "steps": 3, "step_ms": 30}))["job"]
        for seen in await asyncio.gather(watch(first, job), watch(second, job)):
            assert seen[-1] == ("halted", 3)
            assert [step for _, step in seen] == list(range(seen[0][1], 4))
        await first.close()
        await second.close()

    run(body())


def test_another_users_job_is_forbidden(target: Target) -> None:
    async def body() -> None:
        alice = await Client.ready(target, "alice")
        job = (await alice.request({"op": "start", "steps": 0, "step_ms": 0}))["job"]
        bob = await ready_on_worker(target, "bob", alice.worker or 0)
        reply = await bob.request({"op": "subscribe", "id": 8, "job": job})
        assert (reply["type"], reply["code"], reply["id"]) == ("error", "forbidden", 8)
        await alice.close()
        await bob.close()

    run(body())


def test_an_unknown_job_is_not_found(target: Target) -> None:
    async def body() -> None:
        client = await Client.ready(target)
        reply = await client.request({"op": "subscribe", "id": 1, "job": "w0-nope-j1"})
        assert (reply["type"], reply["code"], reply["id"]) == ("error", "not_found", 1)
        await client.close()

    run(body())


def test_a_job_is_known_only_to_the_worker_that_made_it() -> None:
    """With two workers, subscribing from the other worker is not_found (jobs are per worker)."""
    from tests.support.target import running_target

    with running_target(workers=2) as target:
        async def body() -> None:
            on0 = await ready_on_worker(target, "dave", 0)
            on1 = await ready_on_worker(target, "dave", 1)
            job = (await on0.request({"op": "start", "steps": 0, "step_ms": 0}))["job"]
            assert worker_of(job) == 0
            assert (await on1.request({"op": "subscribe", "job": job}))["code"] == "not_found"
            assert (await on0.request({"op": "subscribe", "job": job}))["state"] == "halted"

        run(body())


@pytest.mark.parametrize(("code", "reason"), [(1000, ""), (4000, "bye"), (4999, "r" * 123)])
def test_close_op_closes_with_the_code_asked_and_ignores_what_follows(
        target: Target, code: int, reason: str) -> None:
    async def body() -> None:
        client = await Client.ready(target)
        await client.send({"op": "echo", "id": 1, "data": "before"})
        await client.send({"op": "close", "id": 2, "code": code, "reason": reason})
        for i in range(10):  # ignored without error
            await client.send({"op": "echo", "id": 10 + i, "data": "after"})
        assert (await client.recv())["id"] == 1  # what came before the close is still answered
        assert await client.closed() == code  # any other message would fail closed()'s checks
        assert client.ws.close_reason == reason

    run(body())


@pytest.mark.parametrize(
    "op",
    [{"code": 999}, {"code": 1001}, {"code": 1011}, {"code": 3000}, {"code": 3999},
     {"code": 5000}, {"code": "4000"}, {}, {"code": 4000, "reason": "r" * 124},
     {"code": 4000, "reason": "é" * 62}, {"code": 4000, "reason": 5}],
    ids=["999", "1001", "1011", "3000", "3999", "5000", "string", "missing", "reason-124",
         "reason-124-bytes-utf8", "reason-not-string"],
)
def test_a_bad_close_op_is_bad_request_and_the_connection_stays_open(target: Target,
                                                                     op: dict[str, Any]) -> None:
    async def body() -> None:
        client = await Client.ready(target)
        reply = await client.request({"op": "close", "id": 3, **op})
        assert (reply["type"], reply["code"], reply["id"]) == ("error", "bad_request", 3)
        assert (await client.request({"op": "echo", "id": 4, "data": 1}))["id"] == 4
        await client.close()

    run(body())


@pytest.mark.parametrize(("count", "size"), [(1, 0), (50, 10), (2000, 100), (10, 65536)])
def test_burst_sends_every_item_in_order(target: Target, count: int, size: int) -> None:
    async def body() -> None:
        client = await Client.ready(target)
        await client.send({"op": "burst", "id": 5, "count": count, "size": size})
        for i in range(count):
            msg = await client.recv()
            assert (msg["type"], msg["id"], msg["i"], len(msg["data"])) == ("burst", 5, i, size)
        assert (await client.request({"op": "echo", "id": 6, "data": 0}))["id"] == 6
        await client.close()

    run(body())


def test_auth_again_after_ready_is_bad_request(target: Target) -> None:
    async def body() -> None:
        for auth in ("header", "inband"):
            client = await Client.ready(target, "alice", auth=auth)  # type: ignore[arg-type]
            reply = await client.request({"op": "auth", "id": 1, "token": token(target, "eve")})
            assert (reply["type"], reply["code"], reply["id"]) == ("error", "bad_request", 1)
            assert (await client.request({"op": "echo", "id": 2, "data": 0}))["id"] == 2
            await client.close()

    run(body())


def test_seq_has_no_gaps_across_replies_events_and_bursts_on_many_connections(
        target: Target) -> None:
    """Interleaved replies, state events and burst items: every seq one more than the last."""
    async def session(n: int) -> None:
        client = await Client.ready(target, f"user{n}")
        job = (await client.request({"op": "start", "steps": 20, "step_ms": 1}))["job"]
        await client.send({"op": "subscribe", "id": 1, "job": job})
        await client.send({"op": "burst", "id": 2, "count": 200, "size": 50})
        for i in range(30):
            await client.send({"op": "echo", "id": 100 + i, "data": i})
        kinds: dict[str, int] = {}
        halted = False
        while not halted or kinds.get("echo", 0) < 30:
            msg = await client.recv()  # checks seq
            kinds[msg["type"]] = kinds.get(msg["type"], 0) + 1
            halted = halted or msg.get("state") == "halted"
        assert kinds["burst"] == 200 and kinds["subscribed"] == 1
        await client.close()

    async def body() -> None:
        await asyncio.gather(*(session(n) for n in range(20)))

    run(body())
