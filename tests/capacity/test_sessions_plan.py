"""loadgen.sessions_plan: processes and source addresses for N sessions, from the machine's limits.
Pure: limits are handed in, nothing is opened or read."""

from __future__ import annotations

import math

import pytest

from loadgen.sessions_plan import (
    FD_SHARE,
    PORT_SHARE,
    MachineLimits,
    PlanError,
    address_loads,
    address_share,
    format_addresses,
    loopback_addresses,
    parse_addresses,
    plan_sessions,
    process_share,
    sessions_per_process,
    split_sessions,
)

HERE = MachineLimits(nofile=20_000, port_range=(32768, 60999), cores=2, memory_bytes=24 * 2**30)
"""The reference machine of the issue."""
PORTS = int(HERE.ports * PORT_SHARE)
PER_PROCESS = sessions_per_process(HERE.nofile)


def test_sessions_per_process_stays_well_under_the_fd_limit() -> None:
    """One process holds at most FD_SHARE of its fd limit, minus its own files, and at least 1."""
    assert HERE.nofile * FD_SHARE >= PER_PROCESS
    assert HERE.nofile / 2 < PER_PROCESS
    assert sessions_per_process(10) == 1


@pytest.mark.parametrize("sessions", [1, 300, PER_PROCESS, PER_PROCESS + 1, 20_000, 100_000])
def test_processes_cover_the_sessions_each_under_its_limit(sessions: int) -> None:
    """Load processes and target workers: the fewest with every process at most PER_PROCESS sessions."""
    plan = plan_sessions(sessions, HERE)
    assert plan.load_processes == plan.target_workers == math.ceil(sessions / PER_PROCESS)
    assert max(split_sessions(sessions, plan.load_processes)) <= PER_PROCESS


def test_a_small_hold_binds_nothing() -> None:
    """Under one address pair's ports, no source address is bound: the kernel's default path."""
    plan = plan_sessions(PORTS, HERE)
    assert plan.source_addresses == ()
    assert plan.max_per_address == PORTS


def test_past_one_pair_the_plan_spreads_over_loopback_addresses() -> None:
    """Past PORT_SHARE of the ephemeral range, 127.0.0.2... are used, none over its ports."""
    plan = plan_sessions(100_000, HERE)
    assert plan.source_addresses[0] == "127.0.0.2"
    assert "127.0.0.1" not in plan.source_addresses
    loads = address_loads(100_000, plan.load_processes, plan.source_addresses)
    assert sum(loads.values()) == 100_000
    assert max(loads.values()) == plan.max_per_address <= PORTS


def test_asked_addresses_are_used_as_given() -> None:
    """--source-addresses is used even where one address would do, and the loads are over it."""
    asked = parse_addresses("127.0.0.2-127.0.0.3")
    plan = plan_sessions(300, HERE, asked)
    assert plan.source_addresses == asked
    assert address_loads(300, 1, asked) == {"127.0.0.2": 150, "127.0.0.3": 150}


def test_too_few_addresses_for_the_ports_are_refused_with_what_to_give() -> None:
    """N beyond the addresses x ports is refused before any load, naming how many addresses to give."""
    with pytest.raises(PlanError, match=r"give at least 3 addresses, e\.g\. --source-addresses 127\.0\.0\.2-"):
        plan_sessions(60_000, HERE, parse_addresses("127.0.0.2-127.0.0.3"))


def test_a_remote_target_past_one_pair_needs_addresses() -> None:
    """Not on loopback, wsrace cannot pick local addresses: it asks for --source-addresses."""
    with pytest.raises(PlanError, match="give --source-addresses"):
        plan_sessions(PORTS + 1, HERE, loopback=False, bundled_target=False)


def test_too_many_processes_are_refused_naming_the_fd_limit() -> None:
    """A plan past MAX_PROCESSES per side is a limit to raise, said in words."""
    tiny = MachineLimits(nofile=256, port_range=HERE.port_range, cores=2, memory_bytes=HERE.memory_bytes)
    with pytest.raises(PlanError, match=r"ulimit -n 256"):
        plan_sessions(100_000, tiny)


def test_more_memory_than_the_machine_has_is_refused() -> None:
    """A plan whose estimate exceeds the machine's memory is refused, with the estimate."""
    small = MachineLimits(nofile=HERE.nofile, port_range=HERE.port_range, cores=2, memory_bytes=2**30)
    with pytest.raises(PlanError, match=r"GiB of memory"):
        plan_sessions(100_000, small)


def test_without_a_bundled_target_only_the_load_side_is_planned() -> None:
    """--host: target workers are not ours (0), and the memory estimate is the load side's."""
    ours, theirs = plan_sessions(20_000, HERE), plan_sessions(20_000, HERE, bundled_target=False)
    assert theirs.target_workers == 0 and ours.target_workers > 0
    assert theirs.memory_estimate_bytes < ours.memory_estimate_bytes


@pytest.mark.parametrize("bad", [0, -5])
def test_no_sessions_is_refused(bad: int) -> None:
    with pytest.raises(PlanError, match="at least 1"):
        plan_sessions(bad, HERE)


def test_each_process_gets_its_share_of_the_addresses() -> None:
    """addresses[i::P] per process; fewer addresses than processes: one each, in turn; an unknown
    index (a process that does not know its place) gets them all."""
    addresses = loopback_addresses(8)
    shares = [address_share(addresses, index, 3) for index in range(3)]
    assert sorted(a for share in shares for a in share) == sorted(addresses)
    assert shares[0] == addresses[0::3]
    assert [address_share(addresses[:2], index, 4) for index in range(4)] == [
        (addresses[0],), (addresses[1],), (addresses[0],), (addresses[1],)]
    assert address_share(addresses, -1, 3) == addresses


def test_a_locust_process_finds_its_share_from_its_index_and_the_processes_option() -> None:
    """A --processes worker takes its share by the index its master gave it; a standalone process,
    a worker of a master elsewhere (no --processes) or one not yet acknowledged takes them all."""
    addresses = loopback_addresses(4)
    assert process_share(addresses, 1, 2, cores=8) == addresses[1::2]
    assert process_share(addresses, 3, -1, cores=8) == (addresses[3],)  # --processes -1: one per core
    assert process_share(addresses, 0, None, cores=2) == addresses
    assert process_share(addresses, 0, 0, cores=2) == addresses
    assert process_share(addresses, -1, 4, cores=2) == addresses


@pytest.mark.parametrize(("sessions", "processes", "count"), [(100_000, 9, 5), (300, 1, 2), (7, 3, 8), (1000, 4, 3)])
def test_address_loads_add_up_and_stay_even_within_a_share(sessions: int, processes: int, count: int) -> None:
    """Every session lands on exactly one address of its process's share."""
    addresses = loopback_addresses(count)
    loads = address_loads(sessions, processes, addresses)
    assert sum(loads.values()) == sessions
    assert set(loads) == set(addresses)


def test_split_sessions_is_even() -> None:
    assert split_sessions(10, 3) == [4, 3, 3]
    assert sum(split_sessions(100_001, 9)) == 100_001


def test_addresses_parse_ranges_and_lists_and_format_back() -> None:
    """Ranges include both ends; lists keep their order; format_addresses writes the shortest text."""
    parsed = parse_addresses("127.0.0.2-127.0.0.4,127.0.1.9")
    assert parsed == ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.1.9")
    assert format_addresses(parsed) == "127.0.0.2-127.0.0.4,127.0.1.9"
    assert parse_addresses(format_addresses(loopback_addresses(300))) == loopback_addresses(300)


@pytest.mark.parametrize(("text", "problem"), [
    ("127.0.0.9-127.0.0.2", "runs backwards"),
    ("127.0.0.2,,127.0.0.3", "empty item"),
    ("localhost", "not an IPv4 address"),
    ("127.0.0.2,127.0.0.2", "listed twice"),
    ("10.0.0.0-10.1.0.0", "more than"),
])
def test_bad_addresses_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(PlanError, match=problem):
        parse_addresses(text)


def test_the_plan_says_itself_in_one_line() -> None:
    line = plan_sessions(100_000, HERE).describe()
    assert "100,000 sessions" in line and "Locust worker processes" in line and "127.0.0.2-" in line
