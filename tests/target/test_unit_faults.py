"""The fault registry and wiring, with no sockets: names, derived compatibility, composition.

The expected compatibility of every pair is not typed in: a pair is expected to combine exactly when
putting both faults' classes through the MRO (and choosing one sweeper) leaves every member each of
them defines in effect.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Iterator

import pytest

from loadgen.protocol.faults import FAULTS
from target_app import faults
from target_app.config import Config
from target_app.connection import Connection
from target_app.context import WorkerContext
from target_app.jobs import JobService, sweep_expired_jobs
from target_app.outbox import Outbox
from target_app.wiring import CLASS_PARTS, Parts, Wiring, clash, compose, replaced

PAIRS = list(itertools.combinations(FAULTS, 2))
PYTHON_OWN = frozenset(vars(type("Blank", (), {"__slots__": (), "__annotations__": {}})))


def own_members(cls: type) -> Iterator[tuple[str, object]]:
    """(name, static value) of everything a fault class body defines, constructors aside."""
    for name, value in vars(cls).items():
        if name not in PYTHON_OWN and name != "__init__":
            yield name, value


def in_effect(composed: type, fault_class: type) -> list[str]:
    """The members of ``fault_class`` that ``composed`` does not resolve to ``fault_class``'s."""
    return [name for name, value in own_members(fault_class)
            if inspect.getattr_static(composed, name) is not value]


def hidden_when_combined(first: str, second: str) -> list[str]:
    """Put both faults' parts together naively (MRO, one sweeper): what of theirs is hidden."""
    a, b = faults.parts(first), faults.parts(second)
    hidden: list[str] = []
    for field, base in CLASS_PARTS.items():
        classes = [cls for cls in (getattr(a, field), getattr(b, field)) if cls is not None]
        if len(classes) == 2:
            naive = type("Naive", tuple(classes), {"__slots__": ()} if "__slots__" in vars(base) else {})
            hidden += [f"{field}.{name}" for cls in classes for name in in_effect(naive, cls)]
    if a.sweeper is not None and b.sweeper is not None:
        hidden.append("sweeper")
    return hidden


def test_check_refuses_unknown_names_and_accepts_none_or_one() -> None:
    assert faults.check([]) is None
    assert all(faults.check([name]) is None for name in FAULTS)
    assert faults.check([next(iter(FAULTS))] * 2) is None  # a repeat is the same fault
    problem = faults.check(["lost-snapshot", "nope"])
    assert problem is not None and "nope" in problem and "stuck-shutdown" in problem
    assert faults.describe().count("\n") >= len(FAULTS)


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_a_pair_is_refused_exactly_when_one_would_hide_the_other(first: str, second: str) -> None:
    """The derived answer matches what composing the two would really do, and says why."""
    hidden = hidden_when_combined(first, second)
    problem = faults.check([first, second])
    assert (problem is not None) == bool(hidden), (problem, hidden)
    assert faults.check([second, first]) == problem  # order does not matter
    if problem is not None:
        common = clash(faults.parts(first), faults.parts(second))
        assert common and all(member in problem for member in common)
        assert f"--fault {first}" in problem and f"--fault {second}" in problem


def test_global_lock_and_unsafe_close_are_refused_for_dispatch() -> None:
    """Both override Connection.dispatch (the hand list of old had missed this pair)."""
    problem = faults.check(["unsafe-close", "global-lock"])
    assert problem == ("--fault global-lock and --fault unsafe-close cannot be combined: both "
                       "replace Connection.dispatch, and one would hide the other")


def test_cross_talk_and_unsafe_close_are_refused_for_publish() -> None:
    problem = faults.check(["cross-talk", "unsafe-close"])
    assert problem is not None and "JobService.publish" in problem


@pytest.mark.parametrize(("first", "second"),
                         [pair for pair in PAIRS if faults.check(pair) is None])
def test_every_pair_allowed_composes_with_both_in_effect(first: str, second: str) -> None:
    """Built together, each fault's overrides (and its constructor's state) are all in effect."""
    both = faults.build((first, second))
    for name in (first, second):
        parts = faults.parts(name)
        for field in CLASS_PARTS:
            cls = getattr(parts, field)
            if cls is not None:
                composed = getattr(both, f"{field}_class")
                assert issubclass(composed, cls)
                assert in_effect(composed, cls) == []
        if parts.sweeper is not None:
            assert both.sweeper is parts.sweeper
        alone = jobs_state(faults.build((name,)))
        assert alone <= jobs_state(both)


def jobs_state(wiring: Wiring) -> set[str]:
    """The attributes a worker's job service has once constructed."""
    return set(vars(wiring.jobs_class(WorkerContext.for_worker(Config(), 0))))


def test_only_job_service_faults_have_constructors() -> None:
    """So checking the job service's state (above) covers every fault's constructor."""
    for name in FAULTS:
        parts = faults.parts(name)
        for cls in (parts.connection, parts.outbox):
            assert cls is None or "__init__" not in vars(cls)


def test_all_faults_that_combine_pairwise_compose_together() -> None:
    """The largest set without a clash builds, with every fault's parts in the classes."""
    names = [n for n in FAULTS if all(faults.check([n, m]) is None for m in FAULTS if m != n)]
    assert len(names) >= 2
    wiring = faults.build(names)
    for name in names:
        parts = faults.parts(name)
        for field in CLASS_PARTS:
            cls = getattr(parts, field)
            assert cls is None or issubclass(getattr(wiring, f"{field}_class"), cls)


def test_compose_refuses_a_clash_itself() -> None:
    """Even unchecked, two parts that replace the same member are never silently merged."""
    with pytest.raises(ValueError, match=r"Connection\.dispatch"):
        compose([faults.parts("global-lock"), faults.parts("unsafe-close")])


def test_no_fault_means_the_correct_parts() -> None:
    assert faults.build(()) == Wiring() == compose([])
    assert Wiring() == Wiring(Connection, JobService, Outbox, sweep_expired_jobs)
    assert replaced(Parts()) == frozenset()


@pytest.mark.parametrize("name", list(FAULTS))
def test_each_fault_replaces_only_its_own_part(name: str) -> None:
    """A fault touches the parts it declares, and nothing else: the others stay the correct ones."""
    parts = faults.parts(name)
    built = faults.build((name,))
    for field, correct in CLASS_PARTS.items():
        changed = getattr(built, f"{field}_class") is not correct
        assert changed == (getattr(parts, field) is not None)
    assert (built.sweeper is not sweep_expired_jobs) == (parts.sweeper is not None)
    assert replaced(parts)  # a fault that replaces nothing would be no fault
    expected = {
        "lost-snapshot": {"jobs"}, "lossy-queue": {"outbox"}, "early-drop": {"connection"},
        "cross-talk": {"jobs"}, "unsafe-close": {"jobs", "connection"},
        "global-lock": {"connection"}, "stuck-shutdown": {"sweeper"},
        "lossy-queue-ring": {"outbox"}, "lossy-queue-stamped": {"connection"},
        "lossy-queue-buffered": {"connection"}, "lost-snapshot-await": {"connection"},
        "lost-snapshot-wrong-key": {"jobs"}, "cross-talk-global": {"connection"},
        "cross-talk-buffer": {"jobs"}, "global-lock-steps": {"jobs"},
        "global-lock-echo": {"connection"}, "unsafe-close-handler": {"connection"},
        "unsafe-close-ticker": {"jobs", "connection"}, "early-drop-anonymous": {"connection"},
        "early-drop-ready-late": {"connection"}, "stuck-shutdown-journal": {"jobs"},
        "stuck-shutdown-keepalive": {"connection"}, "volatile-state": {"connection"},
        "bus-write-behind": {"bus"}, "bus-check-then-subscribe": {"bus"},
    }[name]
    assert {f for f in ("connection", "jobs", "outbox", "sweeper", "bus") if getattr(parts, f)} == expected


def test_the_catalogue_names_the_broker_faults_the_target_derives() -> None:
    """loadgen's BROKER_FAULTS (for the load side, which cannot import the target) is exactly the
    set of faults whose parts replace the bus."""
    from loadgen.protocol.faults import BROKER_FAULTS
    from target_app.wiring import needs_broker

    assert {name for name in FAULTS if needs_broker(faults.parts(name))} == BROKER_FAULTS


def test_overrides_compose_through_the_mro() -> None:
    wiring = faults.build(("early-drop", "global-lock", "lost-snapshot", "cross-talk"))
    connection = [k.__name__ for k in wiring.connection_class.__mro__]
    assert connection.index("EarlyDropConnection") < connection.index("Connection")
    assert connection.index("GlobalLockConnection") < connection.index("Connection")
    jobs = [k.__name__ for k in wiring.jobs_class.__mro__]
    assert jobs.index("LostSnapshotJobs") < jobs.index("JobService")
    assert jobs.index("CrossTalkJobs") < jobs.index("JobService")
