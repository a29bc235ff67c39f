"""Pure helpers: stall detection, ids, handshake tokens, the fault registry and wiring."""

from __future__ import annotations

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
    assert StallWatch(0.0).interval > 0


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


def test_no_fault_means_the_correct_parts() -> None:
    wiring = build(())
    assert wiring == Wiring()
    assert wiring.connection_class() is Connection
    assert (wiring.outbox_class, wiring.jobs_class, wiring.sweeper) == (
        Outbox, JobService, sweep_expired_jobs)


@pytest.mark.parametrize("name", list(faults.FAULTS))
def test_each_fault_replaces_exactly_one_kind_of_part(name: str) -> None:
    """A fault touches the wiring, and nothing else: the correct parts stay the defaults."""
    wiring = build((name,))
    changed = [
        part for part, default in (
            ("connection", Connection), ("outbox", Outbox), ("jobs", JobService),
            ("sweeper", sweep_expired_jobs),
        )
        if {
            "connection": wiring.connection_class(), "outbox": wiring.outbox_class,
            "jobs": wiring.jobs_class, "sweeper": wiring.sweeper,
        }[part] is not default
    ]
    expected = {"unsafe-close": 2}.get(name, 1)  # unsafe-close: the notifier and the handler
    assert len(changed) == expected, changed


def test_connection_overrides_compose() -> None:
    cls = build(("early-drop", "global-lock")).connection_class()
    assert issubclass(cls, Connection)
    names = [klass.__name__ for klass in cls.__mro__]
    assert names.index("EarlyDropConnection") < names.index("Connection")
    assert names.index("GlobalLockConnection") < names.index("Connection")
