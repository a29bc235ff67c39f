"""Each fault variant misbehaves in a way a protocol client can see, and the correct app does not.

The variants are the same race classes as the seven original faults (tests/target/test_faults.py),
written the other ways real bugs are written. Every test runs one small client script - relying
only on what PROTOCOL.md promises - against the correct app and against a fresh app with the
fault, and asserts the contrast. Each race is provoked by construction: frames corked into one TCP
segment, a reader that does not read (a small SO_RCVBUF) until the server acknowledges what it
handled, a second job started while a first one holds a step. No assertion is about time.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any, Final

import orjson
import pytest
from websockets.protocol import State

from loadgen.protocol import metrics as names
from loadgen.protocol import wire
from loadgen.protocol.errors import OutOfOrder, SeqGap
from tests.support.target import Target, running_target
from tests.target.client import Client, ametric, await_metric, run
from tests.target.faulty import observe

pytestmark = pytest.mark.e2e

SLOW_RCVBUF: Final = 8192
"""A slow reader's receive buffer: the server feels it at once."""
ACK_WAIT_S: Final = 10.0
"""A deadline for the server's acknowledgement (never an expected duration)."""


@contextlib.contextmanager
def corked(client: Client) -> Iterator[None]:
    """Everything sent inside goes out in one TCP segment, so the server reads it all at once."""
    sock = client.ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    try:
        yield
    finally:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)


async def read_raw(client: Client, timeout: float) -> dict[str, Any]:
    """The next message without the seq check (for tests where the order itself is the finding)."""
    async with asyncio.timeout(timeout):
        msg: dict[str, Any] = orjson.loads(await client.ws.recv())
    return msg


# -------------------------------------------------------------------------------- lossy queue

BURST_COUNT, BURST_SIZE = 80, 16_384


async def burst_read_late(target: Target) -> tuple[list[int], str | None]:
    """Ask for a burst, then an echo; read nothing until the server has read the echo (so it has
    finished producing the burst) or the deadline passes; then read all: the items' ``i`` received
    before the echo reply, and the seq problem that stopped the reading, if any."""
    client = await Client.ready(target, rcvbuf=SLOW_RCVBUF)
    base = await ametric(target, names.MESSAGES_RECEIVED)
    await client.send(wire.burst_op(BURST_COUNT, BURST_SIZE, msg_id=1))
    await client.send(wire.echo_op("after the burst", msg_id=2))
    with contextlib.suppress(TimeoutError):  # a correct server waits for us: it never acknowledges
        await await_metric(target, names.MESSAGES_RECEIVED, base + 2, timeout=ACK_WAIT_S)
    items: list[int] = []
    problem: str | None = None
    try:
        while (msg := await client.recv())["type"] == "burst":  # recv checks each seq
            items.append(msg["i"])
    except (SeqGap, OutOfOrder) as exc:
        problem = type(exc).__name__
    await client.close()
    return items, problem


@pytest.fixture(scope="module")
def correct_burst(correct: Target) -> tuple[list[int], str | None]:
    return observe(None, correct, burst_read_late)


def test_correct_app_delivers_a_burst_read_late_whole(correct_burst: Any) -> None:
    assert correct_burst == (list(range(BURST_COUNT)), None)


def test_lossy_queue_ring_evicts_burst_items_with_no_seq_gap(correct: Target) -> None:
    items, problem = observe("lossy-queue-ring", correct, burst_read_late)
    assert problem is None and items == sorted(items) and len(items) < BURST_COUNT


def test_lossy_queue_buffered_skips_burst_items_with_no_seq_gap(correct: Target) -> None:
    items, problem = observe("lossy-queue-buffered", correct, burst_read_late)
    assert problem is None and items == sorted(items) and len(items) < BURST_COUNT


def test_lossy_queue_stamped_shows_a_seq_gap(correct: Target) -> None:
    items, problem = observe("lossy-queue-stamped", correct, burst_read_late)
    assert problem == "SeqGap" and len(items) < BURST_COUNT


# ----------------------------------------------------------------------------- stale snapshot

STEPS: Final = 50


async def steps_after_subscribing(target: Target) -> tuple[set[int], bool]:
    """Start a job of 50 short steps and subscribe at once: the steps after the snapshot that never
    came, and whether ``halted`` came."""
    client = await Client.ready(target)
    job = (await client.request(wire.start_op(STEPS, 10, msg_id=1)))["job"]
    snap = await client.request(wire.subscribe_op(job, msg_id=2))
    seen, halted = {snap["step"]}, snap["state"] == "halted"
    with contextlib.suppress(TimeoutError):
        while not halted:
            msg = await client.recv(timeout=3.0)
            seen.add(msg["step"])
            halted = msg["state"] == "halted"
    await client.close()
    return set(range(snap["step"], STEPS + 1)) - seen, halted


def test_lost_snapshot_await_loses_the_steps_during_the_await(correct: Target) -> None:
    assert observe(None, correct, steps_after_subscribing) == (set(), True)
    missing, _ = observe("lost-snapshot-await", correct, steps_after_subscribing)
    assert missing


async def subscribe_to_the_earlier_job(target: Target) -> tuple[str, bool]:
    """Start job A, then a fast-halt job B, subscribe to A: A's snapshot, and whether A's halted came."""
    client = await Client.ready(target)
    job_a = (await client.request(wire.start_op(5, 20, msg_id=1)))["job"]
    await client.request(wire.start_op(0, 0, msg_id=2))
    snap = await client.request(wire.subscribe_op(job_a, msg_id=3))
    halted = False
    with contextlib.suppress(TimeoutError):
        while not halted:
            msg = await client.recv(timeout=3.0)
            halted = msg["job"] == job_a and msg["state"] == "halted"
    await client.close()
    return snap["state"], halted


def test_lost_snapshot_wrong_key_registers_on_the_latest_job(correct: Target) -> None:
    assert observe(None, correct, subscribe_to_the_earlier_job) == ("running", True)
    assert observe("lost-snapshot-wrong-key", correct, subscribe_to_the_earlier_job) == ("running", False)


# --------------------------------------------------------------------------------- cross-talk

XT_COUNT, XT_SIZE = 200, 4096
A_STEPS: Final = 10


async def burst_while_another_user_talks(target: Target) -> tuple[int, int]:
    """Alice's burst is held by her slow reading while Bob sends an echo: (burst items Alice got,
    burst items Bob got)."""
    alice = await Client.ready(target, "alice", rcvbuf=SLOW_RCVBUF)
    await alice.send(wire.burst_op(XT_COUNT, XT_SIZE, msg_id=1))
    await alice.send(wire.echo_op("after the burst", msg_id=2))
    first = await alice.recv()
    assert first["type"] == "burst"  # the burst is being produced, and waits for Alice
    bob = await Client.ready(target, "bob")
    assert (await bob.request(wire.echo_op("hi", msg_id=5)))["type"] == "echo"

    async def bob_reads() -> int:
        got = 0
        while (msg := await bob.recv(timeout=ACK_WAIT_S))["type"] != "echo":
            got += msg["type"] == "burst"
        return got

    bob_reading = asyncio.ensure_future(bob_reads())
    alice_items = 1
    with contextlib.suppress(TimeoutError):
        while (await alice.recv(timeout=3.0))["type"] == "burst":
            alice_items += 1
    await bob.send(wire.echo_op("done", msg_id=9))  # ends Bob's reading: everything before it counted
    bob_items = await bob_reading
    await alice.close()
    await bob.close()
    return alice_items, bob_items


def test_cross_talk_global_sends_a_burst_to_another_user(correct: Target) -> None:
    assert observe(None, correct, burst_while_another_user_talks) == (XT_COUNT, 0)
    alice_items, bob_items = observe("cross-talk-global", correct, burst_while_another_user_talks)
    assert alice_items < XT_COUNT and bob_items > 0


async def events_behind_a_burst(target: Target) -> tuple[bool, int]:
    """Alice's job events wait in her outbox behind a burst she does not read, while Bob's longer job
    (started later, so it steps last) runs to its end; then Alice reads: (did she get exactly her
    own events after her snapshot, how many foreign events she got)."""
    alice = await Client.ready(target, "alice", rcvbuf=SLOW_RCVBUF)
    job_a = (await alice.request(wire.start_op(A_STEPS, 50, msg_id=1)))["job"]
    snap = await alice.request(wire.subscribe_op(job_a, msg_id=2))
    await alice.send(wire.burst_op(XT_COUNT, XT_SIZE, msg_id=3))
    await alice.send(wire.echo_op("after the burst", msg_id=4))
    bob = await Client.ready(target, "bob")
    job_b = (await bob.request(wire.start_op(A_STEPS + 2, 50, msg_id=1)))["job"]  # ends after Alice's
    await bob.request(wire.subscribe_op(job_b, msg_id=2))
    while (await bob.recv())["state"] != "halted":
        pass
    own: list[int] = []
    foreign = 0
    while (msg := await alice.recv())["type"] != "echo":
        if msg["type"] == "state":
            if msg["job"] == job_a and msg["user"] == "alice":
                own.append(msg["step"])
            else:
                foreign += 1
    await alice.close()
    await bob.close()
    return own == list(range(snap["step"] + 1, A_STEPS + 1)), foreign


def test_cross_talk_buffer_hands_a_backed_up_subscriber_another_users_event(correct: Target) -> None:
    assert observe(None, correct, events_behind_a_burst) == (True, 0)
    own_events_whole, foreign = observe("cross-talk-buffer", correct, events_behind_a_burst)
    assert not own_events_whole and foreign > 0


# -------------------------------------------------------------------------------- global lock


async def short_job_beside_a_long_step(target: Target) -> list[tuple[str, str, int]]:
    """Job A (2 steps of 300 ms) starts, then job B (1 step of 1 ms): every snapshot and event, in
    wire order, as (job, state, step)."""
    client = await Client.ready(target)
    jobs = {(await client.request(wire.start_op(2, 300, msg_id=1)))["job"]: "A"}
    order: list[tuple[str, str, int]] = []
    snap = await client.request(wire.subscribe_op(next(iter(jobs)), msg_id=2))
    order.append(("A", snap["state"], snap["step"]))
    await client.send(wire.start_op(1, 1, msg_id=3))
    while (msg := await client.recv())["type"] != "started":
        order.append((jobs[msg["job"]], msg["state"], msg["step"]))  # A's, had it stepped already
    jobs[msg["job"]] = "B"
    await client.send(wire.subscribe_op(next(j for j, n in jobs.items() if n == "B"), msg_id=4))
    halted: set[str] = set()
    while len(halted) < 2:
        msg = await client.recv()
        entry = (jobs[msg["job"]], msg["state"], msg["step"])
        if entry not in order:  # a halted snapshot and no event after it, or the events
            order.append(entry)
        if msg["state"] == "halted":
            halted.add(entry[0])
    await client.close()
    return order


def test_global_lock_steps_makes_a_short_job_wait_for_a_long_step(correct: Target) -> None:
    order = observe(None, correct, short_job_beside_a_long_step)
    assert order.index(("B", "halted", 1)) < order.index(("A", "running", 1))
    order = observe("global-lock-steps", correct, short_job_beside_a_long_step)
    assert order.index(("B", "halted", 1)) > order.index(("A", "running", 1))


async def echo_beside_an_unread_echo(target: Target) -> str | None:
    """One client sends a big echo and reads nothing at all (its transport paused); once the server
    is shown stuck sending the reply, another client's echo: what answers it within the deadline
    (None: nothing)."""
    slow = await Client.ready(target, "slow", rcvbuf=SLOW_RCVBUF)
    slow.ws.transport.pause_reading()  # not even websockets' own reader takes bytes off the socket
    received = await ametric(target, names.MESSAGES_RECEIVED)
    sent = await ametric(target, names.MESSAGES_SENT)
    await slow.send(wire.echo_op("x" * 900_000, msg_id=1))
    await await_metric(target, names.MESSAGES_RECEIVED, received + 1)  # its handler ran...
    assert await ametric(target, names.MESSAGES_SENT) == sent  # ...and its reply is stuck unsent
    other = await Client.ready(target, "other")
    try:
        answer: str | None = (await other.request(wire.echo_op(0, msg_id=1), timeout=3.0))["type"]
    except TimeoutError:
        answer = None
    slow.ws.transport.abort()
    await other.close()
    return answer


def test_global_lock_echo_makes_every_echo_wait_for_a_slow_reader(correct: Target) -> None:
    assert observe(None, correct, echo_beside_an_unread_echo) == "echo"
    assert observe("global-lock-echo", correct, echo_beside_an_unread_echo) is None


# -------------------------------------------------------------------------- send after close

OPS_WITH_THE_CLOSE: Final = 5


async def ops_read_with_the_close_frame(target: Target) -> tuple[int | None, float]:
    """Echo ops and our close frame in one TCP segment: (the close code, unhandled errors counted)."""
    before = await ametric(target, names.UNHANDLED_ERRORS)
    open_before = await ametric(target, names.CONNECTIONS_OPEN)
    client = await Client.ready(target)
    with corked(client):
        for i in range(OPS_WITH_THE_CLOSE):
            await client.send(wire.echo_op(i, msg_id=i))
        closing = asyncio.ensure_future(client.ws.close(1000))
        for _ in range(100):  # close() writes its frame in its first step; bounded
            if client.ws.protocol.state is not State.OPEN:
                break
            await asyncio.sleep(0)
        assert client.ws.protocol.state is State.CLOSING
    await closing
    async with asyncio.timeout(5):  # the server's handler has finished: its crash, if any, counted
        while await ametric(target, names.CONNECTIONS_OPEN) > open_before:
            await asyncio.sleep(0.02)
    return client.ws.close_code, await ametric(target, names.UNHANDLED_ERRORS) - before


def test_unsafe_close_handler_crashes_replying_after_the_clients_close(correct: Target) -> None:
    assert observe(None, correct, ops_read_with_the_close_frame) == (1000, 0)
    code, crashes = observe("unsafe-close-handler", correct, ops_read_with_the_close_frame)
    assert code == 1000 and crashes >= 1


async def other_subscriber_after_a_close(target: Target) -> tuple[bool, int, float]:
    """Two connections of Alice watch one running job; the first closes: (did the second see
    ``halted``, its running events after the close, unhandled errors counted)."""
    before = await ametric(target, names.UNHANDLED_ERRORS)
    first = await Client.ready(target, "alice")
    job = (await first.request(wire.start_op(60, 20, msg_id=1)))["job"]
    await first.request(wire.subscribe_op(job, msg_id=2))
    second = await Client.ready(target, "alice")
    assert (await second.request(wire.subscribe_op(job, msg_id=1)))["state"] == "running"
    await first.close()
    halted, running_after = False, 0
    with contextlib.suppress(TimeoutError):
        while not halted:
            msg = await second.recv(timeout=3.0)
            halted = msg["state"] == "halted"
            running_after += not halted
    crashes = await ametric(target, names.UNHANDLED_ERRORS) - before
    await second.close()
    return halted, running_after, crashes


def test_unsafe_close_ticker_dies_on_a_closed_subscriber_and_the_job_never_halts(correct: Target) -> None:
    halted, running_after, crashes = observe(None, correct, other_subscriber_after_a_close)
    assert halted and running_after > 0 and crashes == 0  # the close was mid-job
    halted, _, crashes = observe("unsafe-close-ticker", correct, other_subscriber_after_a_close)
    assert not halted and crashes >= 1


# ----------------------------------------------------------------------------- early messages


async def ops_in_the_auth_segment(target: Target) -> list[str]:
    """The auth message and three echo ops in one TCP segment: the types of the first four
    messages received, in order."""
    client = await Client.open(target, auth="none")
    with corked(client):
        await client.send(wire.auth_op(client_token(target)))
        for i in range(3):
            await client.send(wire.echo_op(i, msg_id=i))
    types = [(await read_raw(client, 5.0))["type"] for _ in range(4)]
    await client.close()
    return types


def client_token(target: Target) -> str:
    from tests.target.client import token

    return token(target, "alice")


def test_early_drop_anonymous_answers_early_ops_as_unauthenticated(correct: Target) -> None:
    assert observe(None, correct, ops_in_the_auth_segment) == ["ready", "echo", "echo", "echo"]
    types = observe("early-drop-anonymous", correct, ops_in_the_auth_segment)
    assert types[0] == "error" and "ready" in types


def test_early_drop_ready_late_answers_before_ready(correct: Target) -> None:
    assert observe(None, correct, ops_in_the_auth_segment) == ["ready", "echo", "echo", "echo"]
    types = observe("early-drop-ready-late", correct, ops_in_the_auth_segment)
    assert types[0] == "echo" and sorted(types) == ["echo", "echo", "echo", "ready"]


# --------------------------------------------------------------------------- stuck shutdown


def stop_after(script: Any, *args: str) -> tuple[int, str]:
    """Run ``script`` against a target with a 1 s shutdown timeout, then SIGTERM: (exit code, log)."""
    with running_target("--shutdown-timeout", "1", *args) as target:
        run(script(target))
        return target.stop(timeout=40), target.logs()


async def one_job_to_its_end(target: Target) -> None:
    client = await Client.ready(target)
    job = (await client.request(wire.start_op(2, 1, msg_id=1)))["job"]
    if (await client.request(wire.subscribe_op(job, msg_id=2)))["state"] != "halted":
        while (await client.recv())["state"] != "halted":
            pass
    await client.close()


async def connect_and_close(target: Target) -> None:
    client = await Client.ready(target)
    assert (await client.request(wire.echo_op(0, msg_id=1)))["type"] == "echo"
    await client.close()


def test_stuck_shutdown_journal_hangs_the_worker_at_sigterm() -> None:
    code, _ = stop_after(one_job_to_its_end)
    assert code == 0
    code, logs = stop_after(one_job_to_its_end, "--fault", "stuck-shutdown-journal")
    assert code != 0 and "killed it" in logs and "event journal: draining" in logs


def test_stuck_shutdown_keepalive_hangs_the_worker_at_sigterm() -> None:
    code, _ = stop_after(connect_and_close)
    assert code == 0
    code, logs = stop_after(connect_and_close, "--fault", "stuck-shutdown-keepalive")
    assert code != 0 and "killed it" in logs
