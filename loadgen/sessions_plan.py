"""How many processes, and which source addresses, N concurrent sessions need on one machine: pure.

Three limits decide it, each read from the machine by the caller (:mod:`loadgen.capacity.machine`)
and handed in as a :class:`MachineLimits`:

- **file descriptors**: one per session on each side, and ``ulimit -n`` is per process (here
  20,000, a hard limit). So the load side runs ``ceil(N / per_process)`` Locust worker processes
  and the target as many ``--target-workers``, each at most :data:`FD_SHARE` of its limit (room
  for the process's own files and for SO_REUSEPORT's uneven spread over target workers);
- **ephemeral ports**: a TCP connection from one source address to one destination address and
  port takes one port of ``net.ipv4.ip_local_port_range`` (here 32768-60999: 28,232 ports). Past
  :data:`PORT_SHARE` of that, the load side binds its sessions to several source addresses
  (any address of 127.0.0.0/8 is local on Linux), each Locust process to its share of them;
- **memory**: a rough estimate per session and per process; a plan that cannot fit in the
  machine's memory is refused.

:func:`plan_sessions` returns a :class:`SessionsPlan` or raises :class:`PlanError`, whose message
says what to fix. Nothing here opens a socket or reads a file.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "FD_SHARE",
    "PORT_SHARE",
    "MachineLimits",
    "PlanError",
    "SessionsPlan",
    "address_loads",
    "address_share",
    "format_addresses",
    "loopback_addresses",
    "parse_addresses",
    "plan_sessions",
    "process_share",
    "sessions_per_process",
    "split_sessions",
]

FD_SHARE: Final = 0.6
"""Sessions per process at most this share of its fd limit: the rest is for its own files, and for
target workers that SO_REUSEPORT's hash gives more than an even share."""
PROCESS_FDS: Final = 100
"""Files a process holds besides its sessions (libraries, logs, Locust's sockets, pipes)."""
PORT_SHARE: Final = 0.9
"""Ports of the ephemeral range one source address may use: the rest for reconnects still in
TIME_WAIT and anything else on the machine."""
MAX_PROCESSES: Final = 64
"""More processes per side than this on one machine is a mistake in the limits, not a plan."""
MAX_ADDRESSES: Final = 4096
TARGET_KIB_PER_SESSION: Final = 30
"""Estimated target RSS per held session (measured 25 KiB on the bundled target; websockets' floor ~13)."""
LOAD_KIB_PER_SESSION: Final = 30
"""Estimated Locust RSS per held session (measured 29 KiB with Locust's own stats)."""
PROCESS_MIB: Final = 60
"""Estimated RSS of one idle process (a Locust worker or a target worker)."""


class PlanError(ValueError):
    """The sessions asked for cannot be held on this machine; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class MachineLimits:
    nofile: int
    """Soft ``RLIMIT_NOFILE`` of a process (what a child inherits)."""
    port_range: tuple[int, int]
    """``net.ipv4.ip_local_port_range``, both ends included."""
    cores: int
    memory_bytes: int | None = None
    """Total memory; None: unknown, not checked."""

    @property
    def ports(self) -> int:
        low, high = self.port_range
        return high - low + 1


@dataclass(frozen=True, slots=True)
class SessionsPlan:
    sessions: int
    load_processes: int
    """Locust worker processes (1: one standalone process, no ``--processes``)."""
    target_workers: int
    """Bundled target worker processes (0: not ours, ``--host``)."""
    per_process: int
    """Most sessions one process may hold under its fd limit."""
    source_addresses: tuple[str, ...]
    """Addresses the load side binds to (empty: the kernel's choice, no bind)."""
    ports_per_address: int
    """Ports one source address may use (:data:`PORT_SHARE` of the range)."""
    max_per_address: int
    """Most sessions that land on one source address (or on the unbound one)."""
    memory_estimate_bytes: int

    def describe(self) -> str:
        """One plain line: the plan and why."""
        load = (f"{self.load_processes} Locust worker processes" if self.load_processes > 1
                else "1 Locust process")
        plural = "s" if self.target_workers != 1 else ""
        target = f", target {self.target_workers} worker{plural}" if self.target_workers else ""
        if self.source_addresses:
            where = (f", source addresses {format_addresses(self.source_addresses)} "
                     f"(at most {self.max_per_address:,} sessions each of {self.ports_per_address:,} ports)")
        else:
            where = f", one source address ({self.max_per_address:,} of {self.ports_per_address:,} ports)"
        return (f"{self.sessions:,} sessions: {load}{target} (at most {self.per_process:,} sessions each "
                f"under the fd limit){where}; about {self.memory_estimate_bytes / 2**30:.1f} GiB of memory")


def sessions_per_process(nofile: int) -> int:
    """Most sessions one process holds with ``nofile`` file descriptors (at least 1)."""
    return max(1, int(nofile * FD_SHARE) - PROCESS_FDS)


def split_sessions(sessions: int, processes: int) -> list[int]:
    """``sessions`` over ``processes`` as Locust spreads users: as evenly as whole numbers go."""
    base, extra = divmod(sessions, processes)
    return [base + (1 if index < extra else 0) for index in range(processes)]


def address_share(addresses: Sequence[str], index: int, processes: int) -> tuple[str, ...]:
    """The source addresses of load process ``index`` of ``processes``: every ``processes``-th
    address from its own (``addresses[index::processes]``), or, with fewer addresses than
    processes, one address shared in turn. An index out of range (a process that does not know
    its place) gets every address."""
    if not addresses:
        return ()
    if not 0 <= index < processes:
        return tuple(addresses)
    if len(addresses) >= processes:
        return tuple(addresses[index::processes])
    return (addresses[index % len(addresses)],)


def process_share(addresses: Sequence[str], worker_index: int, processes_option: int | None,
                  cores: int) -> tuple[str, ...]:
    """The source addresses of one Locust process, from what it knows of its place: its
    ``worker_index`` (from its master; -1 before), and Locust's ``--processes`` option (None or 0:
    not a ``--processes`` worker, so it may not be alone in using the addresses: all of them; -1:
    one per core)."""
    processes = cores if processes_option == -1 else (processes_option or 0)
    return address_share(addresses, worker_index if processes > 0 else -1, max(processes, 1))


def address_loads(sessions: int, processes: int, addresses: Sequence[str]) -> dict[str, int]:
    """Sessions per source address when each process spreads its sessions over its share in turn."""
    loads = dict.fromkeys(addresses, 0)
    for index, count in enumerate(split_sessions(sessions, processes)):
        share = address_share(addresses, index, processes)
        for position, extra in enumerate(split_sessions(count, len(share))):
            loads[share[position]] += extra
    return loads


def parse_addresses(text: str) -> tuple[str, ...]:
    """``127.0.0.2-127.0.0.9`` (a range, both ends included), ``127.0.0.2,127.0.0.5`` or both
    mixed: IPv4 addresses, in order, each once. Raises :class:`PlanError` saying what is wrong."""
    found: list[str] = []
    for part in (item.strip() for item in text.split(",")):
        if not part:
            raise PlanError(f"--source-addresses {text!r}: an empty item; expected e.g. 127.0.0.2-127.0.0.9")
        first, _, last = part.partition("-")
        try:
            low = ipaddress.IPv4Address(first.strip())
            high = ipaddress.IPv4Address(last.strip()) if last else low
        except ValueError:
            raise PlanError(f"--source-addresses {text!r}: {part!r} is not an IPv4 address or range "
                            "(e.g. 127.0.0.2-127.0.0.9)") from None
        if high < low:
            raise PlanError(f"--source-addresses {text!r}: the range {part!r} runs backwards")
        if int(high) - int(low) + 1 + len(found) > MAX_ADDRESSES:
            raise PlanError(f"--source-addresses {text!r}: more than {MAX_ADDRESSES} addresses")
        found += [str(ipaddress.IPv4Address(n)) for n in range(int(low), int(high) + 1)]
    if len(set(found)) != len(found):
        raise PlanError(f"--source-addresses {text!r}: an address is listed twice")
    return tuple(found)


def loopback_addresses(count: int) -> tuple[str, ...]:
    """``count`` loopback addresses from 127.0.0.2 on (127.0.0.1 stays the destination's)."""
    start = int(ipaddress.IPv4Address("127.0.0.2"))
    return tuple(str(ipaddress.IPv4Address(start + n)) for n in range(count))


def format_addresses(addresses: Sequence[str]) -> str:
    """The shortest ``--source-addresses`` text for ``addresses`` (consecutive runs as ranges)."""
    runs: list[tuple[int, int]] = []
    for number in (int(ipaddress.IPv4Address(a)) for a in addresses):
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return ",".join(str(ipaddress.IPv4Address(a)) if a == b
                    else f"{ipaddress.IPv4Address(a)}-{ipaddress.IPv4Address(b)}" for a, b in runs)


def plan_sessions(
    sessions: int,
    limits: MachineLimits,
    addresses: Sequence[str] = (),
    *,
    loopback: bool = True,
    bundled_target: bool = True,
) -> SessionsPlan:
    """The processes and source addresses that hold ``sessions`` under ``limits``.

    ``addresses``: the source addresses asked for (empty: none, or for a ``loopback`` target as
    many of 127.0.0.2... as the ports need). ``bundled_target``: the target's workers are ours to
    plan (False for ``--host``: only the load side is)."""
    if sessions < 1:
        raise PlanError(f"--sessions {sessions}: expected a whole number of at least 1")
    per_process = sessions_per_process(limits.nofile)
    processes = math.ceil(sessions / per_process)
    if processes > MAX_PROCESSES:
        raise PlanError(
            f"{sessions:,} sessions need {processes} processes per side of at most {per_process:,} sessions "
            f"each (ulimit -n {limits.nofile:,}), more than {MAX_PROCESSES}: raise the fd limit "
            f"(ulimit -n) or ask for fewer sessions")
    ports = int(limits.ports * PORT_SHARE)
    chosen = tuple(addresses)
    if not chosen and sessions > ports:
        if not loopback:
            raise PlanError(
                f"{sessions:,} sessions from one source address to one target need more than the "
                f"{ports:,} ephemeral ports it may use (net.ipv4.ip_local_port_range "
                f"{limits.port_range[0]}-{limits.port_range[1]}): give --source-addresses, local addresses "
                f"of this machine, at least {math.ceil(sessions / ports)} of them")
        count = math.ceil(sessions / ports)
        while max(address_loads(sessions, processes, loopback_addresses(count)).values()) > ports:
            count += 1
        chosen = loopback_addresses(count)
    loads = address_loads(sessions, processes, chosen) if chosen else {"": sessions}
    busiest = max(loads.values())
    if busiest > ports:
        need = math.ceil(sessions / ports)
        raise PlanError(
            f"{sessions:,} sessions over {len(chosen)} source addresses put {busiest:,} on one, more than the "
            f"{ports:,} ephemeral ports one address may use (net.ipv4.ip_local_port_range "
            f"{limits.port_range[0]}-{limits.port_range[1]}): give at least {need} addresses, "
            f"e.g. --source-addresses {format_addresses(loopback_addresses(max(need, processes)))}")
    target_workers = processes if bundled_target else 0
    estimate = (sessions * LOAD_KIB_PER_SESSION * 1024 + processes * PROCESS_MIB * 2**20
                + (sessions * TARGET_KIB_PER_SESSION * 1024 + target_workers * PROCESS_MIB * 2**20
                   if bundled_target else 0))
    if limits.memory_bytes is not None and estimate > limits.memory_bytes:
        raise PlanError(
            f"{sessions:,} sessions need about {estimate / 2**30:.1f} GiB of memory "
            f"({LOAD_KIB_PER_SESSION} KiB per session on the load side"
            + (f", {TARGET_KIB_PER_SESSION} on the target" if bundled_target else "")
            + f"), more than this machine's {limits.memory_bytes / 2**30:.1f} GiB: ask for fewer sessions")
    return SessionsPlan(sessions=sessions, load_processes=processes, target_workers=target_workers,
                        per_process=per_process, source_addresses=chosen, ports_per_address=ports,
                        max_per_address=busiest, memory_estimate_bytes=estimate)
