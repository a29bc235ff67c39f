"""Fuzzed input never hurts the real target (issue 10): many connections at once send random and
mutated JSON, fragmented, oversized, binary and invalid frames, protocol violations, bad handshakes
and drops mid-frame, while bystanders keep using the server.

The seed is chosen per run and printed; ``WSRACE_FUZZ_SEED=N`` replays a run (each session draws from
its own ``Random(f"{seed}/{index}")``, so its inputs do not depend on scheduling), and
``WSRACE_FUZZ_CONNECTIONS`` changes how many sessions run (default 120). A failure names the seed,
the session and the inputs it sent.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

import pytest
from prometheus_client.parser import text_string_to_metric_families

from loadgen.protocol import metrics as names
from tests.fuzz import sessions
from tests.fuzz.sessions import Outcome
from tests.support.target import Target, running_target
from tests.target.client import Client, metrics_text, run

pytestmark = pytest.mark.e2e

CONNECTIONS: Final = int(os.environ.get("WSRACE_FUZZ_CONNECTIONS", "120"))
HEAVY: Final = 2  # max_size-edge sessions (2 MiB each) per run
FUZZ_DEADLINE_S: Final = 35.0
DRAIN_DEADLINE_S: Final = 15.0


def run_seed() -> int:
    chosen = os.environ.get("WSRACE_FUZZ_SEED")
    return int(chosen) if chosen else secrets.randbelow(2**32)


def plan(seed: int) -> list[str]:
    """The kind of each session, drawn from the seed (a few heavy ones at fixed places)."""
    rng = random.Random(f"{seed}/plan")
    kinds = [name for name, (_, weight) in sessions.KINDS.items() for _ in range(weight)]
    chosen = [rng.choice(kinds) for _ in range(CONNECTIONS)]
    for i in range(min(HEAVY, CONNECTIONS)):
        chosen[i * (CONNECTIONS // HEAVY)] = "max_size edge"
    return chosen


def samples(target: Target, name: str) -> Counter[str]:
    """The values of one metric on ``/metrics``, by its ``code`` label ("" when it has none)."""
    values: Counter[str] = Counter()
    for family in text_string_to_metric_families(metrics_text(target)):
        for sample in family.samples:
            if sample.name == name:
                values[sample.labels.get("code", "")] += int(sample.value)
    return values


def closes(target: Target) -> Counter[int]:
    return Counter({int(code): n for code, n in samples(target, names.CLOSES).items()})


def counter(target: Target, name: str) -> int:
    return samples(target, name)[""]


async def one_session(target: Target, seed: int, out: Outcome) -> None:
    session, _ = sessions.KINDS[out.kind]
    try:
        await session(target, random.Random(f"{seed}/{out.index}"), out)
    except Exception as exc:  # anything this side did not expect is a finding of this session
        out.problems.append(f"{type(exc).__name__}: {exc}")
    if out.server_code == sessions.SERVER_ERROR:
        out.problems.append("the server closed with 1011")
    out.finished = True


@dataclass
class Bystanders:
    """Fresh clients one after another, and one long-lived client echoing, while the fuzz runs."""

    served: int = 0
    echoes: int = 0
    problems: list[str] = field(default_factory=list)

    async def fresh(self, target: Target, stop: asyncio.Event) -> None:
        while not stop.is_set():
            client = await Client.ready(target, "bystander", open_timeout=20)
            reply = await client.request({"op": "echo", "id": self.served, "data": "fresh"}, timeout=20)
            await client.close()
            if (reply["type"], reply["id"]) != ("echo", self.served):
                self.problems.append(f"fresh bystander {self.served} got {reply}")
            self.served += 1

    async def steady(self, client: Client, stop: asyncio.Event) -> None:
        while not stop.is_set():
            reply = await client.request({"op": "echo", "id": self.echoes, "data": "steady"}, timeout=20)
            if (reply["type"], reply["id"]) != ("echo", self.echoes):
                self.problems.append(f"steady bystander echo {self.echoes} got {reply}")
            self.echoes += 1
            await asyncio.sleep(0.01)

    async def guard(self, what: str, work: asyncio.Future[None]) -> None:
        try:
            await work
        except Exception as exc:
            self.problems.append(f"{what} bystander: {exc!r}")


async def fuzz(target: Target, seed: int, outcomes: list[Outcome], by: Bystanders) -> None:
    stop = asyncio.Event()
    steady = await Client.ready(target, "steady", open_timeout=20)
    watchers = [asyncio.ensure_future(by.guard("fresh", by.fresh(target, stop))),
                asyncio.ensure_future(by.guard("steady", by.steady(steady, stop)))]
    try:
        async with asyncio.timeout(FUZZ_DEADLINE_S):
            await asyncio.gather(*(one_session(target, seed, out) for out in outcomes))
    finally:
        stop.set()
        await asyncio.gather(*watchers)
        await steady.close()


@dataclass
class Report:
    seed: int
    outcomes: list[Outcome]
    by: Bystanders
    unhandled: int
    opened: int
    counted: Counter[int]
    timed_out: bool

    @property
    def replay(self) -> str:
        return f"seed {self.seed}: replay with WSRACE_FUZZ_SEED={self.seed} pytest tests/fuzz"

    def problems(self) -> list[str]:
        found = [o.describe() for o in self.outcomes if o.problems] + self.by.problems
        if self.timed_out:
            found += [f"unfinished after {FUZZ_DEADLINE_S} s: {o.describe()}"
                      for o in self.outcomes if not o.finished][:5]
        return found


def fuzz_run(seed: int, *target_args: str) -> Report:
    """Run the fuzz sessions against a fresh target; gather what the clients and /metrics saw."""
    outcomes = [Outcome(i, kind) for i, kind in enumerate(plan(seed))]
    by = Bystanders()
    with running_target(*target_args, workers=1) as target:
        closes_before, total_before = closes(target), counter(target, names.CONNECTIONS_TOTAL)
        errors_before = counter(target, names.UNHANDLED_ERRORS)
        timed_out = False
        try:
            run(fuzz(target, seed, outcomes, by), timeout=FUZZ_DEADLINE_S + 10)
        except TimeoutError:
            timed_out = True
        run(after_check(target), timeout=20)

        async def drained() -> None:
            async with asyncio.timeout(DRAIN_DEADLINE_S):
                while counter(target, names.CONNECTIONS_OPEN) != 0:
                    await asyncio.sleep(0.05)

        try:
            run(drained(), timeout=DRAIN_DEADLINE_S + 5)
        except TimeoutError:
            by.problems.append(f"{names.CONNECTIONS_OPEN} still "
                               f"{counter(target, names.CONNECTIONS_OPEN)} after {DRAIN_DEADLINE_S} s")
        report = Report(seed, outcomes, by, counter(target, names.UNHANDLED_ERRORS) - errors_before,
                        counter(target, names.CONNECTIONS_TOTAL) - total_before,
                        closes(target) - closes_before, timed_out)
        assert target.stop(timeout=15) == 0, report.replay
    return report


async def after_check(target: Target) -> None:
    """A fresh, well-behaved client after the fuzz: connects, authenticates, echoes."""
    client = await Client.ready(target, "after", open_timeout=10)
    reply = await client.request({"op": "echo", "id": 1, "data": "after the fuzz"})
    assert (reply["type"], reply["id"], reply["data"]) == ("echo", 1, "after the fuzz"), reply
    await client.close()


@pytest.mark.timeout(120)
def test_fuzzed_connections_never_hurt_the_target() -> None:
    """No 1011, every input answered as PROTOCOL.md says, bystanders served throughout, and
    /metrics consistent: no unhandled error, open connections back to 0, one close per connection
    counted under the code each session saw."""
    seed = run_seed()
    print(f"fuzz seed {seed} (replay: WSRACE_FUZZ_SEED={seed}), {CONNECTIONS} sessions")
    report = fuzz_run(seed)
    found = report.problems()
    assert not found, f"{report.replay}\n{len(found)} problems:\n" + "\n".join(found[:8])
    by, outcomes = report.by, report.outcomes
    assert by.served > 0 and by.echoes > 0, f"{report.replay}: bystanders {by}"
    assert report.unhandled == 0, f"{report.replay}: {report.unhandled} unhandled errors"
    # Every 101 any client saw: the sessions', the bystanders', the steady one and the last check.
    upgraded = sum(o.upgraded for o in outcomes) + by.served + 2
    assert report.opened == upgraded, f"{report.replay}: server accepted {report.opened}, clients saw {upgraded}"
    expected = Counter(o.server_code for o in outcomes if o.upgraded)
    expected[1000] += by.served + 2
    assert report.counted == expected, (
        f"{report.replay}: wsrace_closes_total grew by {dict(sorted(report.counted.items()))}, the "
        f"sessions saw {dict(sorted(expected.items()))}")
    print(f"{len(outcomes)} sessions ({sum(o.upgraded for o in outcomes)} upgraded), "
          f"{sum(len(o.inputs) for o in outcomes)} inputs; bystanders: {by.served} fresh, "
          f"{by.echoes} steady echoes; closes counted {dict(sorted(report.counted.items()))}")


@pytest.mark.timeout(120)
def test_the_fuzz_run_catches_a_target_that_crashes() -> None:
    """The same run against ``--fault unsafe-close`` (sends racing a close crash the handler) sees the
    crash on /metrics and in the sessions' replies: the fuzz test above can fail."""
    seed = run_seed()
    report = fuzz_run(seed, "--fault", "unsafe-close")
    assert report.unhandled > 0, f"{report.replay}: the crashes went uncounted"
    assert report.problems(), f"{report.replay}: no session noticed the crashing target"


@pytest.mark.timeout(60)
def test_a_binary_frame_before_auth_closes_with_1003() -> None:
    """PROTOCOL.md 1.1, "Binary frames: close 1003 at any time, before or after authentication"."""
    async def body(target: Target) -> int | None:
        client = await Client.open(target, auth="none")
        await client.send_raw(b"\x00binary")
        return await client.closed()

    with running_target(workers=1) as target:
        assert run(body(target)) == 1003
