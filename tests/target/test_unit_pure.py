"""Pure helpers: stall detection, ids, handshake tokens, the fault registry and wiring."""

from __future__ import annotations

import itertools

import pytest
from websockets.datastructures import Headers

from target_app import faults
from target_app.connection import Connection
from target_app.ids import Ids, worker_of
from target_app.jobs import JobService, sweep_expired_jobs
from target_app.outbox import Outbox
from target_app.routes import handshake_token
from target_app.stall import StallWatch
from target_app.wiring import Wiring, build


def test_stall_watch_needs_a_full_timeout_without_any_progress() -> None:
    watch = StallWatch(timeout=1.0)
    watch.start(now=0.0, sent=5, buffered=1000)
    assert not watch.stalled(0.5, 5, 1000)
    assert not watch.stalled(0.9, 5, 1000)
    assert not watch.stalled(0.95, 5, 900)  # the client read something: progress
    assert not watch.stalled(1.9, 5, 900)
    assert watch.stalled(1.95, 5, 900)


def test_stall_watch_counts_a_message_sent_as_progress() -> None:
    watch = StallWatch(timeout=1.0)
    watch.start(0.0, 0, 0)
    assert not watch.stalled(0.99, 1, 5000)  # a message went out even though the buffer grew
    assert not watch.stalled(1.5, 1, 5000)
    assert watch.stalled(2.0, 1, 5000)
    assert StallWatch(0.0).interval > 0  # (a timeout of 0 turns the watch off in Connection)


def test_ids_name_their_worker_and_never_repeat() -> None:
    ids = Ids(3, boot="abc")
    made = {ids.session(), ids.job(), ids.session(), ids.job()}
    assert len(made) == 4
    assert all(worker_of(i) == 3 for i in made)
    assert Ids(3).prefix != Ids(3).prefix  # a restarted worker gets a new boot tag
    assert worker_of("job-1") is None


@pytest.mark.parametrize(
    ("headers", "query", "token"),
    [
        ({}, "", None),
        ({"Authorization": "Bearer abc"}, "", "abc"),
        ({"Authorization": "bearer  abc "}, "", "abc"),
        ({"Authorization": "Basic dXNlcg=="}, "", ""),  # meant to authenticate: a bad token
        ({}, "token=xyz&other=1", "xyz"),
        ({}, "token=", ""),
        ({"Authorization": "Bearer h"}, "token=q", "h"),
    ],
)
def test_handshake_token_sources(headers: dict[str, str], query: str, token: str | None) -> None:
    assert handshake_token(Headers(headers), query) == token


def test_fault_registry_checks_names_and_combinations() -> None:
    assert faults.check([]) is None
    assert faults.check(list(faults.FAULTS)[:1]) is None
    problem = faults.check(["lost-snapshot", "nope"])
    assert problem is not None and "nope" in problem and "stuck-shutdown" in problem
    assert faults.check(["cross-talk", "unsafe-close"]) is not None
    assert faults.describe().count("\n") >= len(faults.FAULTS)


def parts(wiring: Wiring) -> dict[str, object]:
    return {"connection": wiring.connection_class(), "jobs": wiring.jobs_class(),
            "outbox": wiring.outbox_class, "sweeper": wiring.sweeper}


CORRECT = {"connection": Connection, "jobs": JobService, "outbox": Outbox,
           "sweeper": sweep_expired_jobs}


def test_no_fault_means_the_correct_parts() -> None:
    wiring = build(())
    assert wiring == Wiring()
    assert parts(wiring) == CORRECT


@pytest.mark.parametrize("name", list(faults.FAULTS))
def test_each_fault_replaces_only_its_own_part(name: str) -> None:
    """A fault touches the wiring, and nothing else: the other parts stay the correct ones."""
    changed = {part for part, value in parts(build((name,))).items() if value is not CORRECT[part]}
    expected = {
        "lost-snapshot": {"jobs"}, "lossy-queue": {"outbox"}, "early-drop": {"connection"},
        "cross-talk": {"jobs"}, "unsafe-close": {"jobs", "connection"},
        "global-lock": {"connection"}, "stuck-shutdown": {"sweeper"},
    }[name]
    assert changed == expected


@pytest.mark.parametrize(("first", "second"), list(itertools.combinations(faults.FAULTS, 2)))
def test_faults_that_may_be_combined_all_apply(first: str, second: str) -> None:
    """Combining two faults keeps both (no silent overwrite), or is refused up front."""
    if faults.check([first, second]) is not None:
        return
    both = build((first, second))
    for name in (first, second):
        alone = build((name,))
        assert set(alone.connection_classes) <= set(both.connection_classes)
        assert set(alone.jobs_classes) <= set(both.jobs_classes)
        for part in ("outbox_class", "sweeper"):
            if getattr(alone, part) is not getattr(Wiring(), part):
                assert getattr(both, part) is getattr(alone, part)
    for cls in (both.connection_class(), both.jobs_class()):
        assert cls.__mro__  # the composed classes can be built


def test_overrides_compose_through_the_mro() -> None:
    wiring = build(("early-drop", "global-lock", "lost-snapshot", "cross-talk"))
    connection = [k.__name__ for k in wiring.connection_class().__mro__]
    assert connection.index("EarlyDropConnection") < connection.index("Connection")
    assert connection.index("GlobalLockConnection") < connection.index("Connection")
    jobs = [k.__name__ for k in wiring.jobs_class().__mro__]
    assert jobs.index("LostSnapshotJobs") < jobs.index("JobService")
    assert jobs.index("CrossTalkJobs") < jobs.index("JobService")
