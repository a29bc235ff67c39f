"""Hosts of a test's own on one machine: Linux network namespaces joined by one bridge.

    with hosts(["target", "master", "workers"]) as net:
        net.address("target")            # 10.237.N.1, on the bridge (lives in the first host)
        net.command("master", [...])     # ["ip", "netns", "exec", NAME, ...]

Each host is a namespace with its loopback up and one veth into a bridge in the first host, so
every host reaches every other at its address of a private subnet made for the test only (a /24
of 10.237.0.0/16 chosen from the test's pid, so two test runs at once do not share one; and the
namespaces are isolated from the machine's own network anyway). Leaving the ``with`` block deletes
every namespace it made — their links with them — even when the test failed; processes started in
them must be stopped first (the caller's ``Child`` context managers do). :func:`unavailable` says
why namespaces cannot be made here (not root, no ``ip``), for a skip with its reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Net", "hosts", "leftovers", "unavailable"]

IP = shutil.which("ip") or "/usr/sbin/ip"
PREFIX = "wsrace-t"
"""Every namespace this module makes is named ``wsrace-t<pid>-<host>``."""
IP_TIMEOUT_S = 10.0


def _ip(*args: str) -> str:
    done = subprocess.run([IP, *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def unavailable() -> str | None:
    """Why this machine cannot make network namespaces for a test, or None if it can."""
    if not Path(IP).exists():
        return f"no {IP} (Debian's iproute2): cannot make network namespaces"
    probe = f"{PREFIX}{os.getpid()}-probe"
    try:
        _ip("netns", "add", probe)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot make a network namespace here ({exc}); it needs root or CAP_SYS_ADMIN"
    _ip("netns", "del", probe)
    return None


def leftovers() -> list[str]:
    """Namespaces of this process's tests still present (there should be none after a test)."""
    mine = f"{PREFIX}{os.getpid()}-"
    return [line.split()[0] for line in _ip("netns", "list").splitlines() if line.startswith(mine)]


@dataclass
class Net:
    subnet: str
    """E.g. ``10.237.42`` (a /24)."""
    names: dict[str, str] = field(default_factory=dict)
    """Host → namespace name."""
    addresses: dict[str, str] = field(default_factory=dict)

    def address(self, host: str) -> str:
        return self.addresses[host]

    def command(self, host: str, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside ``host``'s namespace (``ip netns exec`` execs it: same pid)."""
        return [IP, "netns", "exec", self.names[host], *argv]


@contextlib.contextmanager
def hosts(names: Sequence[str]) -> Iterator[Net]:
    """Namespaces for ``names`` (the first holds the bridge), joined on one /24; deleted on exit."""
    pid = os.getpid()
    net = Net(subnet=f"10.237.{pid % 250 + 1}")
    made: list[str] = []
    try:
        for index, host in enumerate(names):
            ns = f"{PREFIX}{pid}-{host}"
            _ip("netns", "add", ns)
            made.append(ns)
            net.names[host] = ns
            _ip("-n", ns, "link", "set", "lo", "up")
            net.addresses[host] = f"{net.subnet}.{index + 1}"
        hub = net.names[names[0]]
        _ip("-n", hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", hub, "link", "set", "br0", "up")
        _ip("-n", hub, "addr", "add", f"{net.addresses[names[0]]}/24", "dev", "br0")
        for index, host in enumerate(names[1:], start=1):
            here, port = f"wt{index}", f"wt{index}br"  # veth names are made inside the namespaces
            _ip("link", "add", here, "netns", net.names[host], "type", "veth", "peer", "name", port,
                "netns", hub)
            _ip("-n", hub, "link", "set", port, "master", "br0", "up")
            _ip("-n", net.names[host], "addr", "add", f"{net.addresses[host]}/24", "dev", here)
            _ip("-n", net.names[host], "link", "set", here, "up")
        yield net
    finally:
        errors = []
        for ns in reversed(made):
            try:
                _ip("netns", "del", ns)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                errors.append(str(exc))
        if errors:
            raise RuntimeError("could not delete the test's namespaces: " + "; ".join(errors))
